"""The local coordinator of a config entry: the Cerbo GX's DBus HTTP API.

On a tiered cadence: every fast interval (10 s by default) one tick reads the `system` root and
the active battery root; at most one slower root rides along (inverter about every 30 s;
platform, temperature sensors and a separate BMS about every 60 s), and every 5 minutes the
services are discovered again. The tiers live in `CerboPoller`; this module adds Home
Assistant's side: typed data, translated errors and availability. A failed tick keeps the last
good data; only the third failure in a row makes the entities unavailable, which Home Assistant
logs once, and once again when data is back.

VRM has its own coordinator (vrm_coordinator.py), so one source failing never marks the other's
entities unavailable.
"""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Final

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import CALLBACK_TYPE, callback
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed
from homeassistant.util import dt as dt_util

from .api.cerbo import (
    CerboClient,
    CerboConnectionError,
    CerboDiscovery,
    CerboError,
    CerboHealth,
    CerboMonitor,
    CerboPoller,
    CerboServerInfo,
)
from .const import CONF_HOST, CONF_PORTAL_ID, DOMAIN, FAILURES_BEFORE_UNAVAILABLE, LOGGER
from .models import LocalData, RollingCount
from .options import EntryOptions

if TYPE_CHECKING:
    from collections.abc import Callable

    from homeassistant.core import HomeAssistant


# Spreads the entries' ticks over the interval whatever their number: the k-th entry starts
# frac(k * 0.618...) of an interval later (the golden ratio's low-discrepancy sequence).
GOLDEN_FRACTION: Final = 0.6180339887498949


def stagger_fraction(hass: HomeAssistant, entry: ConfigEntry) -> float:
    """How far into the interval this entry's ticks fall, so several Cerbos never tick at once.

    Home Assistant schedules every coordinator with the same interval within the same second;
    with several entries (several Cerbos, or several installations) all ticks would bunch up.
    """
    local_entries = [
        other.entry_id
        for other in hass.config_entries.async_entries(DOMAIN)
        if CONF_HOST in other.data
    ]
    index = local_entries.index(entry.entry_id) if entry.entry_id in local_entries else 0
    return (index * GOLDEN_FRACTION) % 1.0


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

    config_entry: ConfigEntry

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry,
        client: CerboClient,
        *,
        clock: Callable[[], float] | None = None,
        options: EntryOptions | None = None,
    ) -> None:
        """Set the cadence from the options read at setup; nothing is read before a refresh."""
        options = options or EntryOptions.from_entry(entry)
        interval = options.local_fast_interval
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
            follow_system_battery=options.follow_system_battery,
        )
        # For the health entities and diagnostics.
        self.readings = RollingCount()
        self.last_duration: float | None = None  # seconds the last tick took
        # When the latest tick ended, good or not: a local value's age is counted to it.
        self.ticked_at: datetime | None = None
        # True while the latest tick succeeded and read the battery monitor (or the GX's own
        # battery the values follow): then local serves every battery value.
        self.serves_battery = False
        self._tick_listeners: list[CALLBACK_TYPE] = []
        self._interval = timedelta(seconds=interval)
        self._stagger = self._interval * stagger_fraction(hass, entry)

    async def async_config_entry_first_refresh(self) -> None:
        """The first tick now; the next one later by this entry's share of the interval."""
        await super().async_config_entry_first_refresh()
        # Scheduling starts with the first listener; `_async_update_data` sets it back.
        self.update_interval = self._interval + self._stagger

    @callback
    def async_add_tick_listener(self, listener: CALLBACK_TYPE) -> CALLBACK_TYPE:
        """Call `listener` after every tick, good or failed, even when no value changed.

        Coordinator listeners only hear of changed data; a first miss of the battery monitor
        can leave the data equal. Returns the function that removes the listener.
        """
        self._tick_listeners.append(listener)
        return lambda: self._tick_listeners.remove(listener)

    def _tick_ended(self, serves_battery: bool) -> None:
        self.serves_battery = serves_battery
        for listener in list(self._tick_listeners):
            listener()

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
            self._tick_ended(serves_battery=False)
            # Another GX at the address is not a passing failure: say so at once.
            if self.data is None or err.kind == "wrong_device":
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
            self.ticked_at = dt_util.utcnow()
            self.update_interval = self._interval
        self.readings.add(dt_util.utcnow())
        self._log_monitor(snapshot.monitor)
        monitor = snapshot.monitor
        # a monitor's first miss already counts: VRM then has two ticks to become fresh
        self._tick_ended(serves_battery=monitor.following_system or monitor.missing_since is None)
        return snapshot

    def _log_monitor(self, monitor: CerboMonitor) -> None:
        """One warning when the battery monitor drops off the bus, one line when it is back."""
        if monitor.following_system:
            return
        was_present = self.data.monitor.present if self.data is not None else True
        if was_present and not monitor.present:
            LOGGER.warning(
                "The battery monitor %s stopped answering on the Cerbo GX at %s; until it is "
                "back its values come from VRM while fresh, never from the GX's stand-in",
                monitor.label,
                self.client.host,
            )
        elif monitor.present and not was_present:
            LOGGER.info("The battery monitor %s is back", monitor.label)
