"""What the source coordinators hold, as the merge reads it; nothing of Home Assistant.

The merge (`sources.py`) reads the source coordinators through the protocols below, so it
imports neither the coordinators nor Home Assistant, and tests can hand it plain objects.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from .api.cerbo import CerboHealth, CerboSnapshot
from .api.vrm import VrmBatteryReading, VrmSiteLive, VrmSystemOverview

type LocalData = CerboSnapshot


@dataclass(frozen=True, kw_only=True)
class VrmData:
    """What one successful poll produced. `battery` is None when VRM has no data.

    `fetched_at` is left out of equality so an unchanged reading does not wake listeners.
    """

    battery: VrmBatteryReading | None
    overview: VrmSystemOverview | None
    fetched_at: datetime = field(compare=False)
    # Failed polls since this data was fetched (0 after a success); a change wakes listeners.
    failures: int = 0
    # Reading the account's shared listing, `battery` is the site's system battery; the
    # monitor's BatterySummary then comes now and then, fetched at `summary_fetched_at`.
    summary: VrmBatteryReading | None = None
    summary_fetched_at: datetime | None = field(default=None, compare=False)
    # the site's record in that listing: VRM's own alarms of the site, among others
    site: VrmSiteLive | None = None


class RollingCount:
    """Counts events in a rolling window, in one-minute buckets so memory stays small.

    A day of 5-second local polls is 17 280 events but at most 1 441 buckets.
    """

    def __init__(self, window: timedelta = timedelta(hours=24)) -> None:
        """Count over `window` (whole minutes)."""
        self._minutes = max(1, int(window.total_seconds() // 60))
        self._buckets: deque[list[int]] = deque()  # [minute number, count], oldest first

    @staticmethod
    def _minute(moment: datetime) -> int:
        return int(moment.timestamp() // 60)

    def add(self, moment: datetime) -> None:
        """Count one event at `moment` (events arrive in time order)."""
        minute = self._minute(moment)
        if self._buckets and self._buckets[-1][0] >= minute:
            self._buckets[-1][1] += 1
        else:
            self._buckets.append([minute, 1])
        self._prune(minute)

    def count(self, now: datetime) -> int:
        """Events in the window that ends at `now`."""
        self._prune(self._minute(now))
        return sum(count for _, count in self._buckets)

    def _prune(self, minute: int) -> None:
        cutoff = minute - self._minutes
        while self._buckets and self._buckets[0][0] <= cutoff:
            self._buckets.popleft()


class LocalSource(Protocol):
    """The local coordinator as the merge reads it."""

    @property
    def data(self) -> LocalData | None:
        """The last good tick's snapshot; None before the first."""

    @property
    def last_update_success(self) -> bool:
        """False from the third failed tick in a row."""

    @property
    def health(self) -> CerboHealth:
        """Live health of the local source."""

    @property
    def readings(self) -> RollingCount:
        """Good ticks in the last 24 hours."""


class VrmSourceHealth(Protocol):
    """What the merge needs of the VRM source's health."""

    @property
    def serving(self) -> bool:
        """True from the first success until the third failure in a row."""


class VrmSource(Protocol):
    """The VRM coordinator as the merge reads it."""

    @property
    def data(self) -> VrmData | None:
        """The last good poll; None before the first."""

    @property
    def health(self) -> VrmSourceHealth:
        """How the VRM source is doing."""

    @property
    def battery_instance(self) -> int | None:
        """The battery monitor's instance; None for a site without one."""

    @property
    def overview(self) -> VrmSystemOverview | None:
        """The site's devices."""

    @property
    def readings(self) -> RollingCount:
        """Polls that brought a battery reading in the last 24 hours."""


class Sources(Protocol):
    """An entry's configured sources; None for one that is not configured."""

    @property
    def local(self) -> LocalSource | None:
        """The Cerbo on the LAN."""

    @property
    def vrm(self) -> VrmSource | None:
        """The VRM cloud."""
