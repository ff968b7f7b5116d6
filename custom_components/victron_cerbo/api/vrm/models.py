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


@dataclass(frozen=True, kw_only=True)
class VrmSiteAlarm:
    """One alarm of `current_alarms`: VRM's own words, shown as they are, never parsed."""

    description: str | None = None  # what is wrong, e.g. "Voltage"
    device: str | None = None  # the device kind, e.g. "Solar Charger"
    device_name: str | None = None  # the user's name for the device
    instance: int | None = None
    level: str | None = None  # VRM's `type`: "alarm" or "warning"
    started: float | None = None  # unix seconds
    cleared: float | None = None  # unix seconds; None while the alarm is active

    @property
    def active(self) -> bool:
        """An alarm is active until VRM says when it cleared."""
        return self.cleared is None


@dataclass(frozen=True, kw_only=True)
class VrmSiteLive:
    """One site's live values from the account's `installations?extended=1` listing.

    `battery` is the GX's system battery (None when VRM lists none of its values). `alarms`
    are the listed alarm objects; `alarm` and `num_alarms` are VRM's own summary beside them
    (None when not sent). `last_timestamp` is when VRM last received data from the site (unix
    seconds) and `data_age` how long ago that was. `vebus_state` and `system_state` are raw
    codes (`S`, `ss`). `consumption` and `solar_power` are in W. `problems` says in plain
    words what the record lacks or what could not be read; the rest of it is still used.
    """

    site_id: int
    name: str
    battery: VrmBatteryReading | None = None
    alarms: tuple[VrmSiteAlarm, ...] = ()
    alarm: bool | None = None
    num_alarms: int | None = None
    last_timestamp: float | None = None
    data_age: float | None = None
    vebus_state: int | None = None
    system_state: int | None = None
    consumption: float | None = None
    solar_power: float | None = None
    problems: tuple[str, ...] = ()

    @property
    def active_alarms(self) -> tuple[VrmSiteAlarm, ...]:
        """The alarms not cleared yet."""
        return tuple(alarm for alarm in self.alarms if alarm.active)


@dataclass(frozen=True, kw_only=True)
class VrmSkippedSite:
    """A record of the listing that could not be used: its place, its site id if any, why."""

    index: int
    site_id: int | None
    reason: str


@dataclass(frozen=True, kw_only=True)
class VrmAccountLive:
    """Every site's live values from one request; `skipped` names the records left out."""

    sites: dict[int, VrmSiteLive] = field(default_factory=dict, hash=False)
    skipped: tuple[VrmSkippedSite, ...] = ()
