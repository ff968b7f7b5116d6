"""Tiered polling of one Cerbo GX.

`CerboPoller` reads the system and active battery roots every fast tick, at most one slower
root (inverter, BMS, platform, temperature) per tick, and re-discovers every five minutes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Final

from .client import CerboClient
from .devices import CerboPlatform, CerboTemperature, CerboVebus
from .discovery import BATTERY_PREFIX, PLATFORM_SERVICE, SYSTEM_SERVICE
from .errors import CerboConnectionError, CerboError, CerboResponseError
from .models import CerboDiscovery, CerboHealth, CerboMonitor, CerboServerInfo, CerboSnapshot
from .readings import CerboBattery, CerboSystem

_LOGGER = logging.getLogger(__name__)

# Cadence of the slower tiers, in seconds; the fast tier follows the caller's interval.
VEBUS_INTERVAL: Final = 30.0
SLOW_INTERVAL: Final = 60.0  # platform, temperature services, a BMS other than the battery
REDISCOVERY_INTERVAL: Final = 300.0
REDISCOVERY_MIN_TICKS: Final = 3
REDISCOVERY_MIN_GAP: Final = 60.0  # a vanished service triggers discovery, but not every tick
MISSES_BEFORE_DROPPED: Final = 3  # a root keeps its last good reading through two misses
MAX_BACKOFF: Final = 600.0  # a slow root that times out is retried at most this late


def backoff_delay(period: float, misses: int) -> float:
    """Seconds until a hung root is asked again: its period doubled per miss, at most MAX_BACKOFF.

    The exponent is capped too: a root hung for a week has over 1024 misses, and 2.0**1024
    overflows.
    """
    return min(period * (1 << min(misses, 16)), MAX_BACKOFF)


type _Reading = CerboBattery | CerboVebus | CerboPlatform | CerboTemperature


@dataclass
class _Slot:
    """One service root polled on its own cadence, with its last good reading."""

    role: str  # "battery", "bms", "vebus", "platform" or "temperature"
    service: str
    period: float
    next_due: float = 0.0
    misses: int = 0
    reading: _Reading | None = None
    read_at: datetime | None = None  # wall clock of the last good reading
    missing_since: datetime | None = None  # wall clock of the first miss in a row

    def parse(self, root: Mapping[str, Any]) -> _Reading:
        """Turn the root into the typed reading for this role."""
        if self.role in ("battery", "bms"):
            return CerboBattery.from_root(self.service, root)
        if self.role == "vebus":
            return CerboVebus.from_root(self.service, root)
        if self.role == "platform":
            return CerboPlatform.from_root(root)
        return CerboTemperature.from_root(self.service, root)


def _monotonic() -> float:
    """Read the monotonic clock at call time (so test clocks that patch `time` apply)."""
    return time.monotonic()


def _slow_plan(discovery: CerboDiscovery) -> list[tuple[str, str, float]]:
    """The slower roots in priority order: (role, service, period)."""
    plan: list[tuple[str, str, float]] = []
    if discovery.vebus_service:
        plan.append(("vebus", discovery.vebus_service, VEBUS_INTERVAL))
    if discovery.bms_service:
        plan.append(("bms", discovery.bms_service, SLOW_INTERVAL))
    if discovery.platform_service:
        plan.append(("platform", discovery.platform_service, SLOW_INTERVAL))
    plan.extend(
        ("temperature", service, SLOW_INTERVAL) for service in discovery.temperature_services
    )
    return plan


class CerboPoller:
    """Tiered polling of one Cerbo: fast roots every tick, at most one slow root per tick.

    A tick reads `system` and the active battery (the fast tier), then either one due slower
    root or, every 5 minutes and after a root answered "no value", a re-discovery. The first
    tick after `setup` reads every root once, then the slower roots are staggered over the
    following ticks so they do not pile up. A fast-tier failure raises; a slower root that
    fails keeps its last good reading until it has missed three times.
    """

    def __init__(
        self,
        client: CerboClient,
        *,
        fast_interval: float = 10.0,
        clock: Callable[[], float] | None = None,
        expected_portal_id: str | None = None,
        follow_system_battery: bool = False,
    ) -> None:
        """Nothing is read until `setup` or `poll`."""
        self.client = client
        # The battery monitor found at setup stays the one served, unless the values should
        # follow whatever the GX uses as its battery (chosen, or no monitor at setup).
        self._following = follow_system_battery
        self._monitor_service: str | None = None
        self._monitor_names: tuple[str | None, str | None] = (None, None)  # product, custom
        self._fast_interval = fast_interval
        self._clock = clock or _monotonic
        self._expected_portal_id = expected_portal_id
        self._discovery: CerboDiscovery | None = None
        self._server: CerboServerInfo | None = None
        self._health = CerboHealth()
        self._battery: _Slot | None = None
        self._slots: list[_Slot] = []
        self._prefetched_system: Mapping[str, Any] | None = None
        self._platform_root: Mapping[str, Any] = {}
        self._polled_once = False
        self._next_discovery = 0.0
        self._last_discovery = 0.0

    @property
    def discovery(self) -> CerboDiscovery | None:
        """The current discovery, None before `setup`."""
        return self._discovery

    @property
    def server(self) -> CerboServerInfo | None:
        """What `/health` said at the last discovery."""
        return self._server

    @property
    def health(self) -> CerboHealth:
        """Live health, also updated by failed ticks."""
        return self._health

    async def setup(self) -> CerboDiscovery:
        """Read `/health`, `system`, `platform` and `/services`, then discover."""
        try:
            server = await self.client.health()
            system_root = await self.client.service_root(SYSTEM_SERVICE)
            if system_root is None:
                raise self.client.no_value_error(SYSTEM_SERVICE)
            platform_root = await self.client.service_root(PLATFORM_SERVICE) or {}
            discovery = await self.client.discover(
                system_root=system_root, platform_root=platform_root
            )
            self._check_portal(discovery.portal_id)
        except CerboError as err:
            self._note_error(err)
            raise
        now = self._clock()
        self._server = server
        self._prefetched_system = system_root
        self._platform_root = platform_root
        self._apply_discovery(discovery, now)
        if platform_root and (slot := self._slot("platform")):
            slot.reading = slot.parse(platform_root)
        self._polled_once = False
        self._health = CerboHealth(
            reachable=True,
            server_version=server.version,
            last_error_kind=self._health.last_error_kind,
            last_error=self._health.last_error,
            last_error_reason=self._health.last_error_reason,
            last_success=datetime.now(UTC),
        )
        return discovery

    async def poll(self) -> CerboSnapshot:
        """Run one tick; raise `CerboError` when the fast tier failed."""
        discovery = self._discovery or await self.setup()
        now = self._clock()
        try:
            system_root = self._prefetched_system or await self.client.service_root(SYSTEM_SERVICE)
            self._prefetched_system = None
            if system_root is None:
                raise self.client.no_value_error(SYSTEM_SERVICE)
            system = CerboSystem.from_root(system_root)
            if system.portal_id is not None:
                self._check_portal(system.portal_id)
            if self._battery is not None:
                await self._poll_fast(self._battery, now)
        except CerboError as err:
            self._note_error(err)
            self._health = replace(
                self._health,
                reachable=False,
                consecutive_failures=self._health.consecutive_failures + 1,
            )
            raise
        if not self._polled_once:
            for slot in self._slots:
                # platform came with setup; after a timeout the server is still stuck on it
                if (slot.role != "platform" or slot.reading is None) and not await self._poll_slow(
                    slot, now
                ):
                    break
            self._stagger(now)
            self._polled_once = True
        elif now >= self._next_discovery - self._fast_interval / 2:
            await self._rediscover(system_root, now)
        elif due := self._due_slot(now):
            await self._poll_slow(due, now)
        self._health = CerboHealth(
            reachable=True,
            server_version=self._server.version if self._server else None,
            last_error_kind=self._health.last_error_kind,
            last_error=self._health.last_error,
            last_error_reason=self._health.last_error_reason,
            last_success=datetime.now(UTC),
        )
        return self._snapshot(self._discovery or discovery, system)

    def _check_portal(self, portal_id: str) -> None:
        """Refuse a GX other than the one this entry belongs to (e.g. after a DHCP change)."""
        expected = self._expected_portal_id or (self._discovery and self._discovery.portal_id)
        # Portal IDs are hex; VRM and the GX may not agree on the letter case.
        if expected and portal_id.lower() != expected.lower():
            raise CerboResponseError(
                "The device at this address is a different GX", kind="wrong_device"
            )

    def _note_error(self, err: CerboError) -> None:
        """Remember the most recent error for the health view."""
        _LOGGER.debug("Cerbo %s: %s (%s)", self.client.host, err, err.kind)
        self._health = replace(
            self._health,
            last_error_kind=err.kind,
            last_error=str(err),
            last_error_reason=err.reason,
        )

    def _slot(self, role: str) -> _Slot | None:
        return next((slot for slot in self._slots if slot.role == role), None)

    def _apply_discovery(self, discovery: CerboDiscovery, now: float) -> None:
        """Adopt a discovery, keeping the state of roots that did not change."""
        if self._discovery is None and not self._following:
            battery = discovery.battery_service
            if battery is not None and battery.startswith(BATTERY_PREFIX):
                self._monitor_service = battery
                self._monitor_names = (None, discovery.name)
            else:
                self._following = True  # nothing to pin: the GX measures the battery itself
        self._discovery = discovery
        self._last_discovery = now
        # At long poll intervals a fixed 300 s would make every tick a discovery tick and
        # starve the slower roots of their one slot; keep discovery to one tick in three.
        self._next_discovery = now + max(
            REDISCOVERY_INTERVAL, REDISCOVERY_MIN_TICKS * self._fast_interval
        )
        battery = discovery.battery_service if self._following else self._monitor_service
        if battery is None:
            self._battery = None
        elif self._battery is None or self._battery.service != battery:
            self._battery = _Slot("battery", battery, self._fast_interval)
        kept = {(slot.role, slot.service): slot for slot in self._slots}
        self._slots = [
            kept.get((role, service)) or _Slot(role, service, period, next_due=now)
            for role, service, period in _slow_plan(discovery)
        ]

    def _stagger(self, now: float) -> None:
        """Spread the slower roots over the next ticks instead of all at once."""
        healthy = [slot for slot in self._slots if slot.misses == 0]  # failed ones keep back-off
        for position, slot in enumerate(healthy, start=1):
            slot.next_due = now + position * self._fast_interval

    def _due_slot(self, now: float) -> _Slot | None:
        """The most overdue slower root; ties go to the earlier (higher priority) one."""
        due = [slot for slot in self._slots if slot.next_due <= now + self._fast_interval / 2]
        return min(due, key=lambda slot: slot.next_due) if due else None

    def _missed(self, slot: _Slot, now: float) -> None:
        """Count a miss; a root that vanished asks for a re-discovery, its data goes after 3.

        A root that the last discovery already found missing (a monitor off the bus) asks for
        none: it is read again on its own cadence, which also notices its return.
        """
        slot.misses += 1
        if slot.missing_since is None:
            slot.missing_since = datetime.now(UTC)
        if slot.misses >= MISSES_BEFORE_DROPPED:
            slot.reading = None
        if self._discovery is None or slot.service in self._discovery.services:
            self._next_discovery = min(
                self._next_discovery, max(now, self._last_discovery + REDISCOVERY_MIN_GAP)
            )

    @staticmethod
    def _took(slot: _Slot, root: Mapping[str, Any]) -> None:
        """Keep a good reading of a root."""
        slot.reading = slot.parse(root)
        slot.misses = 0
        slot.read_at = datetime.now(UTC)
        slot.missing_since = None

    async def _poll_fast(self, slot: _Slot, now: float) -> None:
        """Read a fast root; its errors fail the tick, "no value" is a miss."""
        root = await self.client.service_root(slot.service)
        if root is None:
            self._note_error(self.client.no_value_error(slot.service))
            self._missed(slot, now)
            return
        self._took(slot, root)
        if isinstance(slot.reading, CerboBattery):
            self._monitor_names = (slot.reading.product_name, slot.reading.custom_name)

    async def _poll_slow(self, slot: _Slot, now: float) -> bool:
        """Read a slower root; its errors never fail the tick. False after a timeout."""
        slot.next_due = now + slot.period  # a late root queues behind those that waited
        try:
            root = await self.client.service_root(slot.service)
        except CerboError as err:
            self._note_error(err)
            self._missed(slot, now)
            if isinstance(err, CerboConnectionError):
                # a hung service blocks the whole server: back off from it
                slot.next_due = now + backoff_delay(slot.period, slot.misses)
                return False
            return True
        if root is None:
            self._note_error(self.client.no_value_error(slot.service))
            self._missed(slot, now)
            return True
        self._took(slot, root)
        if slot.role == "platform":
            self._platform_root = root
        return True

    async def _rediscover(self, system_root: Mapping[str, Any], now: float) -> None:
        """Re-read `/services` and `/health`; adopt a changed set of services."""
        self._last_discovery = now
        self._next_discovery = now + REDISCOVERY_MIN_GAP  # until it succeeds
        try:
            discovery = await self.client.discover(
                system_root=system_root, platform_root=self._platform_root
            )
            server = await self.client.health()
        except CerboError as err:
            self._note_error(err)
            return
        self._server = server
        old_battery = self._battery
        self._apply_discovery(discovery, now)
        if self._battery is not None and self._battery is not old_battery:
            try:
                await self._poll_fast(self._battery, now)
            except CerboError as err:
                self._note_error(err)

    def _snapshot(self, discovery: CerboDiscovery, system: CerboSystem) -> CerboSnapshot:
        """Assemble the typed readings of this tick and the slower tiers."""

        def reading[T](role: str, kind: type[T]) -> T | None:
            slot = self._slot(role) if role != "battery" else self._battery
            value = slot.reading if slot else None
            return value if isinstance(value, kind) else None

        slot = self._battery
        product, custom = self._monitor_names
        monitor = CerboMonitor(
            service=slot.service if slot else self._monitor_service,
            product_name=product,
            custom_name=custom,
            present=slot is not None and slot.reading is not None,
            following_system=self._following,
            missing_since=slot.missing_since if slot else None,
            read_at=slot.read_at if slot else None,
        )
        return CerboSnapshot(
            monitor=monitor,
            discovery=discovery,
            system=system,
            battery=reading("battery", CerboBattery),
            bms=reading("bms", CerboBattery),
            vebus=reading("vebus", CerboVebus),
            platform=reading("platform", CerboPlatform),
            temperatures=tuple(
                slot.reading for slot in self._slots if isinstance(slot.reading, CerboTemperature)
            ),
            health=self._health,
        )
