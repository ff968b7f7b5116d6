"""The local coordinator: the Cerbo GX's DBus HTTP API on a tiered cadence.

Every fast interval (10 s by default) one tick reads the `system` root and the active battery
root; at most one slower root rides along (inverter every 30 s; platform, temperature sensors and
a separate BMS every 60 s), and every 5 minutes the services are discovered again. The tiers
live in `CerboPoller`; this module adds Home Assistant's side: typed data, translated errors and
availability. A failed tick keeps the last good data; only the third failure in a row makes the
entities unavailable, which Home Assistant logs once, and once again when data is back.
"""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Final

from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed
from homeassistant.util import dt as dt_util

from .cerbo_api import (
    CerboClient,
    CerboConnectionError,
    CerboDiscovery,
    CerboError,
    CerboHealth,
    CerboPoller,
    CerboServerInfo,
    CerboSnapshot,
)
from .const import (
    CONF_LOCAL_FAST_INTERVAL,
    CONF_PORTAL_ID,
    DEFAULT_LOCAL_FAST_INTERVAL,
    DOMAIN,
    LOGGER,
)
from .sources import RollingCount

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from homeassistant.core import HomeAssistant

    from .coordinator import VictronConfigEntry

FAILURES_BEFORE_UNAVAILABLE: Final = 3
MIN_FAST_INTERVAL: Final = 5  # seconds; the server is single-threaded
MAX_FAST_INTERVAL: Final = 3600

type LocalData = CerboSnapshot


def fast_interval(options: Mapping[str, Any]) -> int:
    """The fast-tier interval from the entry options, clamped to a sane range."""
    raw = options.get(CONF_LOCAL_FAST_INTERVAL, DEFAULT_LOCAL_FAST_INTERVAL)
    try:
        seconds = int(raw)
    except (TypeError, ValueError):
        return DEFAULT_LOCAL_FAST_INTERVAL
    return min(max(seconds, MIN_FAST_INTERVAL), MAX_FAST_INTERVAL)


def _setup_error(err: CerboError, host: str) -> UpdateFailed:
    """A translated error for a failed discovery or first refresh."""
    if isinstance(err, CerboConnectionError):
        key = "local_cannot_connect"
    elif err.kind == "wrong_device":
        key = "local_wrong_device"
    else:
        key = "local_invalid_response"
    return UpdateFailed(
        translation_domain=DOMAIN,
        translation_key=key,
        translation_placeholders={"host": host, "error": str(err)},
    )


class LocalCoordinator(DataUpdateCoordinator[LocalData]):
    """Polls one Cerbo GX over its local DBus HTTP API."""

    config_entry: VictronConfigEntry

    def __init__(
        self,
        hass: HomeAssistant,
        entry: VictronConfigEntry,
        client: CerboClient,
        *,
        clock: Callable[[], float] | None = None,
    ) -> None:
        """Set the cadence from the entry options; nothing is read before the first refresh."""
        interval = fast_interval(entry.options)
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name=f"{DOMAIN} local",
            update_interval=timedelta(seconds=interval),
            always_update=False,
        )
        self.client = client
        portal_id = entry.data.get(CONF_PORTAL_ID)
        self.poller = CerboPoller(
            client,
            fast_interval=interval,
            clock=clock,
            expected_portal_id=portal_id if isinstance(portal_id, str) else None,
        )
        # For the health entities and diagnostics.
        self.readings = RollingCount()
        self.last_duration: float | None = None  # seconds the last tick took

    @property
    def health(self) -> CerboHealth:
        """Live health of the local source, also while the entities are unavailable."""
        return self.poller.health

    @property
    def discovery(self) -> CerboDiscovery | None:
        """The services found on the Cerbo, None before the first refresh."""
        return self.poller.discovery

    @property
    def server(self) -> CerboServerInfo | None:
        """The DBus HTTP API's own `/health` answer (version for diagnostics)."""
        return self.poller.server

    async def _async_setup(self) -> None:
        """Discover the installation's services once, before the first refresh."""
        try:
            await self.poller.setup()
        except CerboError as err:
            raise _setup_error(err, self.client.host) from err

    async def _async_update_data(self) -> LocalData:
        """Run one tick; tolerate up to two failed ticks in a row with the last good data."""
        started = time.monotonic()
        try:
            snapshot = await self.poller.poll()
        except CerboError as err:
            if self.data is None:
                raise _setup_error(err, self.client.host) from err
            failures = self.poller.health.consecutive_failures
            if failures >= FAILURES_BEFORE_UNAVAILABLE:
                raise UpdateFailed(
                    translation_domain=DOMAIN,
                    translation_key="local_unavailable",
                    translation_placeholders={
                        "host": self.client.host,
                        "failures": str(failures),
                        "error": str(err),
                    },
                ) from err
            LOGGER.debug(
                "Local tick failed (%s in a row), keeping the last data: %s", failures, err
            )
            return replace(self.data, health=self.poller.health)
        finally:
            self.last_duration = time.monotonic() - started
        self.readings.add(dt_util.utcnow())
        return snapshot
