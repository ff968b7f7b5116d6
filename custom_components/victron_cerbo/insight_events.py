"""Counts of events that no source keeps a history of, kept across restarts.

VE.Bus alarms and errors in the last week, VRM connection failures in the last day and the
growth of the GX's CAN bus error counters in the last day: the Cerbo publishes each only as
its present state, so the insight notes each change as it sees it. Plain Python; the caller
persists `as_dict()` and restores with `from_dict()`, and every list stays bounded.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

DAY: Final = 86400
WEEK: Final = 7 * DAY
MAX_EVENTS: Final = 1000  # per log: far beyond any threshold, and a bound on the store's size
CAN_SAMPLE_EVERY: Final = 300  # seconds between kept CAN counter samples
MAX_SAMPLES: Final = DAY // CAN_SAMPLE_EVERY + 1


@dataclass
class EventLog:
    """Moments of one kind of event within a window, oldest first."""

    window: int
    moments: list[float] = field(default_factory=list)

    def add(self, moment: float) -> None:
        """Note one event."""
        self.moments.append(moment)
        self.prune(moment)

    def count(self, now: float) -> int:
        """Events in the window that ends at `now`."""
        return sum(1 for moment in self.moments if now - self.window < moment <= now)

    def prune(self, now: float) -> None:
        """Forget what left the window, and the oldest beyond MAX_EVENTS."""
        self.moments = [moment for moment in self.moments if moment > now - self.window]
        del self.moments[:-MAX_EVENTS]


@dataclass
class CounterGrowth:
    """How much an ever-growing counter grew in the last day; a reset (reboot) restarts it.

    Samples are (moment, value), at most one per CAN_SAMPLE_EVERY, oldest first, kept a day.
    """

    samples: list[tuple[float, int]] = field(default_factory=list)

    def add(self, moment: float, value: int) -> bool:
        """Note the counter's value at `moment`; True when a sample was kept or changed."""
        if self.samples and moment - self.samples[-1][0] < CAN_SAMPLE_EVERY:
            if value < self.samples[-1][1]:  # a reset between samples: keep the lower base
                self.samples[-1] = (self.samples[-1][0], value)
                return True
            return False
        self.samples.append((moment, value))
        self.samples = [sample for sample in self.samples if sample[0] >= moment - DAY]
        return True

    def growth(self, now: float) -> int | None:
        """Growth over the samples of the last day; None before two samples."""
        recent = [value for moment, value in self.samples if now - DAY <= moment <= now]
        if len(recent) < 2:  # noqa: PLR2004 - growth needs two samples
            return None
        grown = 0
        for before, after in itertools.pairwise(recent):
            grown += after - before if after >= before else after
        return grown

    def since(self) -> float | None:
        """The first sample kept."""
        return self.samples[0][0] if self.samples else None


@dataclass
class InstallationEvents:
    """The three counts the risk score needs, and the last states that tell a change."""

    vebus_alarms: EventLog = field(default_factory=lambda: EventLog(WEEK))
    vrm_failures: EventLog = field(default_factory=lambda: EventLog(DAY))
    can_errors: CounterGrowth = field(default_factory=CounterGrowth)
    # the VE.Bus alarms (name -> level) and error code last seen, to tell a new one
    last_vebus: dict[str, int] = field(default_factory=dict)

    def note_vebus(self, moment: float, alarms: Mapping[str, int], error: int | None) -> bool:
        """Count each alarm that rose to alarm level (2) and a new VE.Bus error; True if any."""
        current = {name: level for name, level in alarms.items() if isinstance(level, int)}
        if error is not None:
            current["VebusError"] = 2 if error else 0
        risen = [
            name
            for name, level in current.items()
            if level >= 2 and self.last_vebus.get(name, 0) < 2  # noqa: PLR2004 - alarm level
        ]
        self.last_vebus = current
        for _ in risen:
            self.vebus_alarms.add(moment)
        return bool(risen)

    def as_dict(self) -> dict[str, Any]:
        """What the store keeps."""
        return {
            "vebus_alarms": list(self.vebus_alarms.moments),
            "vrm_failures": list(self.vrm_failures.moments),
            "can_errors": [list(sample) for sample in self.can_errors.samples],
            "last_vebus": dict(self.last_vebus),
        }

    @classmethod
    def from_dict(cls, stored: Mapping[str, Any] | None) -> InstallationEvents:
        """Restore what the store kept; anything unusable is dropped."""
        events = cls()
        if not isinstance(stored, Mapping):
            return events
        events.vebus_alarms.moments = _moments(stored.get("vebus_alarms"))[-MAX_EVENTS:]
        events.vrm_failures.moments = _moments(stored.get("vrm_failures"))[-MAX_EVENTS:]
        samples = stored.get("can_errors")
        if isinstance(samples, list):
            events.can_errors.samples = [
                (float(sample[0]), int(sample[1]))
                for sample in samples
                if isinstance(sample, list)
                and len(sample) == 2  # noqa: PLR2004 - moment and value
                and all(_is_number(part) for part in sample)
            ][-MAX_SAMPLES:]
        last = stored.get("last_vebus")
        if isinstance(last, Mapping):
            events.last_vebus = {
                str(name): level for name, level in last.items() if type(level) is int
            }
        return events


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _moments(raw: object) -> list[float]:
    if not isinstance(raw, list):
        return []
    return sorted(float(moment) for moment in raw if _is_number(moment))
