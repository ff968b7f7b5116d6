"""What the VRM client hands out: the user, sites, devices and battery readings."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class VrmBatteryState(StrEnum):
    """Battery direction, derived from power (or current) with a dead band."""

    CHARGING = "charging"
    DISCHARGING = "discharging"
    IDLE = "idle"


@dataclass(frozen=True, kw_only=True)
class VrmUser:
    """The account behind the token (`/users/me`)."""

    id: int
    name: str | None = None
    access_token_id: int | None = None


@dataclass(frozen=True, kw_only=True)
class VrmSite:
    """One installation. `identifier` is the VRM portal ID, equal to the Cerbo's /Serial."""

    id: int
    name: str
    identifier: str
    timezone: str | None = None


@dataclass(frozen=True, kw_only=True)
class VrmBatteryMonitor:
    """A battery monitor or BMS on the site; `instance` is what BatterySummary needs."""

    instance: int
    name: str
    product_name: str | None = None
    product_code: str | None = None
    firmware: str | None = None
    last_connection: int | None = None


@dataclass(frozen=True, kw_only=True)
class VrmDevice:
    """Any device of the site, named as the user named it where possible."""

    kind: str  # VRM's device name: "Solar Charger", "VE.Bus System", ...
    instance: int | None = None
    name: str | None = None  # the user's custom name
    product_name: str | None = None

    @property
    def label(self) -> str:
        """Custom name and product, e.g. "Roof · SmartSolar MPPT 150/35", or what is known."""
        parts = [part for part in (self.name, self.product_name) if part]
        return " · ".join(dict.fromkeys(parts)) or self.kind


@dataclass(frozen=True, kw_only=True)
class VrmSystemOverview:
    """The site's devices as far as this integration cares (`/system-overview`).

    `battery_measured_by` is the device that measures the battery when the site has no
    battery monitor (the GX then uses the inverter's or the MPPTs' own measurement).
    """

    battery_monitors: tuple[VrmBatteryMonitor, ...] = ()
    battery_measured_by: VrmDevice | None = None
    gateway_model: str | None = None
    firmware: str | None = None
    logging_interval: int | None = None  # seconds between GX uploads
    gateway_last_connection: int | None = None  # unix seconds
    device_count: int = 0


@dataclass(frozen=True, kw_only=True)
class VrmBatteryReading:
    """One BatterySummary, in SI units; a value VRM did not report (or marked invalid) is None.

    `current` and `power` are positive while charging. `power` is voltage x current (the
    widget has no power attribute). `time_to_go` is in seconds (VRM sends hours; D-Bus uses
    seconds). `alarms` maps an alarm name such as "low_voltage" to 0 ok, 1 warning, 2 alarm.
    `seconds_ago` is VRM's age of the sample; `stale_fields` names values VRM flags as old.
    """

    instance: int
    soc: float | None = None
    voltage: float | None = None
    current: float | None = None
    power: float | None = None
    temperature: float | None = None
    state: VrmBatteryState | None = None
    consumed_ah: float | None = None
    time_to_go: float | None = None
    starter_voltage: float | None = None
    midpoint_voltage: float | None = None
    midpoint_deviation: float | None = None
    min_cell_voltage: float | None = None
    max_cell_voltage: float | None = None
    charge_voltage_limit: float | None = None
    charge_current_limit: float | None = None
    discharge_current_limit: float | None = None
    alarms: dict[str, int] = field(default_factory=dict, hash=False)
    seconds_ago: float | None = None
    has_old_data: bool = False
    stale_fields: frozenset[str] = frozenset()
    system: bool = False  # the GX's system battery (no monitor), not a monitor's own values

    @property
    def highest_alarm(self) -> int:
        """The worst alarm level (0 when there are none)."""
        return max(self.alarms.values(), default=0)
