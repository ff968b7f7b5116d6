"""What the client and poller hand out: server info, discovery, health and the snapshot."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..victron import BATTERY_FLOW_STATES
from .devices import CerboPlatform, CerboTemperature, CerboVebus
from .readings import CerboBattery, CerboSystem


@dataclass(frozen=True)
class CerboServerInfo:
    """What `/health` says; v1/v2 servers send no version."""

    version: str | None
    service: str | None = None
    status: str | None = None
    started_at: str | None = None
    uptime_seconds: int | None = None


@dataclass(frozen=True)
class CerboDiscovery:
    """The services that make up one installation, found from the `system` root."""

    portal_id: str  # system /Serial == the VRM portal ID
    name: str | None  # the active battery monitor's name as the GX lists it
    model: str | None  # platform /Device/Model, e.g. "Cerbo GX"
    firmware: str | None  # platform /Firmware/Installed/Version, e.g. "v3.70~33"
    battery_service: str | None
    battery_instance: int | None  # DeviceInstance, also VRM's battery monitor instance
    vebus_service: str | None
    bms_service: str | None  # only when it differs from battery_service
    temperature_services: tuple[str, ...]
    platform_service: str | None = None
    services: tuple[str, ...] = ()


@dataclass(frozen=True)
class CerboHealth:
    """How the local source is doing; `last_success` is left out of comparisons."""

    reachable: bool = False
    consecutive_failures: int = 0
    server_version: str | None = None
    last_error_kind: str | None = None  # "timeout", "refused", "http_status", "no_value", ...
    last_error: str | None = None
    last_error_reason: str | None = None  # the cause in plain words: "timeout", "HTTP 500", ...
    last_success: datetime | None = field(default=None, compare=False)


@dataclass(frozen=True)
class CerboMonitor:
    """The battery monitor whose values the poller serves, and whether it still answers.

    The monitor is the battery service the GX used when the poller was set up. When it drops
    off the bus the GX falls back to another device (often the inverter's own estimate); its
    values must not pass for the monitor's, so the poller keeps asking the monitor itself.
    `following_system` means the values follow whatever the GX uses as its battery instead:
    chosen by the user, or because the installation had no battery monitor at setup.
    """

    service: str | None
    product_name: str | None = None
    custom_name: str | None = None
    present: bool = False  # its last good reading is within the last three ticks
    following_system: bool = False
    missing_since: datetime | None = field(default=None, compare=False)
    read_at: datetime | None = field(default=None, compare=False)

    @property
    def name(self) -> str | None:
        """How the user knows it: its custom name and product name, never a serial."""
        if self.custom_name and self.product_name and self.custom_name != self.product_name:
            return f"{self.custom_name} ({self.product_name})"
        return self.custom_name or self.product_name

    @property
    def label(self) -> str:
        """Its name for logs and repairs; never the D-Bus service (VE.Can ones carry a serial)."""
        return self.name or "(no name)"


@dataclass(frozen=True)
class CerboSnapshot:
    """Everything one poll cycle knows; slower tiers carry their last good reading."""

    discovery: CerboDiscovery
    system: CerboSystem
    battery: CerboBattery | None
    bms: CerboBattery | None
    vebus: CerboVebus | None
    platform: CerboPlatform | None
    temperatures: tuple[CerboTemperature, ...]
    health: CerboHealth
    monitor: CerboMonitor = field(default_factory=lambda: CerboMonitor(service=None))

    @property
    def system_serves_monitor(self) -> bool:
        """Whether the GX's system battery values are the monitor's (else another device's)."""
        return self.monitor.following_system or (
            self.monitor.service is not None and self.system.battery_service == self.monitor.service
        )

    def battery_value(self, name: str) -> Any:
        """A value of the monitor's own root, else of the separate BMS root."""
        for root in (self.battery, self.bms):
            if root is not None and (value := getattr(root, name)) is not None:
                return value
        return None

    def monitor_value(self, name: str) -> Any:
        """The GX's system value while it follows the monitor, else the monitor's own value."""
        if self.system_serves_monitor and (value := getattr(self.system, name)) is not None:
            return value
        return self.battery_value(name)

    @property
    def monitor_state_name(self) -> str | None:
        """Idle, charging or discharging: the GX's verdict while it follows the monitor.

        Otherwise the sign of the monitor's own current, as the GX derives its state.
        """
        if self.system_serves_monitor:
            return self.system.battery_state_name
        current = self.battery_value("current")
        if current is None:
            return None
        return BATTERY_FLOW_STATES[1 if current > 0 else 2 if current < 0 else 0]


@dataclass(frozen=True)
class CerboRawPayload:
    """The last answer to one request, trimmed, for diagnostics."""

    status: int
    size: int
    text: str
