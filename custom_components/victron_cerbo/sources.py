"""One battery truth from two sources: which source serves each value, and how fresh it is.

For every value the local reading wins while the local source is fresh (it has not failed three
ticks in a row, the same rule that makes its entities unavailable and its connection sensor
off); a value of the battery monitor also needs the monitor itself to answer (when it drops off
the bus the GX serves another device's estimate, which must not pass for the monitor's);
otherwise the VRM reading serves while VRM's sample is
younger than ten minutes (VRM's own `secondsAgo` plus the time since we fetched it); otherwise
the value is unavailable. A fresh source that lacks a value (a shunt has no cell voltages) lets
the other source fill it, except for values whose absence is itself the answer (time to go is
empty while the battery is not discharging).

`VALUES` says, per value, how each source reads it; sensors, binary sensors and diagnostics use
the same table, so diagnostics can say which source served which value.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from operator import attrgetter
from typing import Any, Final

from .api.cerbo import CerboBattery
from .api.vrm import VrmBatteryReading
from .insight import GridQuality, grid_quality
from .models import LocalData, LocalSource, Sources, VrmSource

VRM_MAX_AGE: Final = timedelta(minutes=10)
# What the account's shared listing has of a battery. An entry reading it gets the rest of its
# monitor's values from a BatterySummary fetched in turns with the account's other sites (every
# 12 minutes times the number of sites), served with its age for up to a day.
LISTED_FIELDS: Final = frozenset({"soc", "voltage", "current", "power"})
SUMMARY_MAX_AGE: Final = timedelta(hours=24)
STALE_AFTER: Final = timedelta(minutes=10)
GRID_LOST_LEVEL: Final = 2  # vebus /Alarms/GridLost uses only 0 and 2

_SNAKE = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


class Source(StrEnum):
    """Where a value came from."""

    LOCAL = "local"
    VRM = "vrm"


@dataclass(frozen=True, slots=True)
class Reading:
    """A value, the source that served it and when that source sampled it.

    `value` None means the source is fresh but has no such value (the entity shows "unknown").
    """

    value: Any
    source: Source
    sampled_at: datetime
    # The device that measured it, when not the battery monitor set up: the GX's stand-in
    # the values follow, or the inverter or MPPT of a VRM site without a battery monitor.
    measured_by: str | None = None

    def age(self, now: datetime) -> float:
        """Seconds between the sample and `now`, never negative."""
        return max(0.0, (now - self.sampled_at).total_seconds())


@dataclass(frozen=True, kw_only=True)
class ValueSpec:
    """How each source reads one value; a source without a reader never serves it."""

    local: Callable[[LocalData], Any] | None = None
    vrm: Callable[[VrmBatteryReading], Any] | None = None
    # VRM attributes the value is computed from: VRM flags single attributes as old.
    vrm_fields: frozenset[str] = frozenset()
    # True when "no local value" is an answer that VRM must not overrule.
    local_final: bool = False
    # True for the battery monitor's values: the local source serves them only while the
    # monitor answers.
    monitor: bool = False


@dataclass(frozen=True, slots=True)
class GridStatus:
    """What the GX knows about the AC input (for "grid lost")."""

    alarm: int | None  # vebus /Alarms/GridLost: 0 ok, 2 alarm
    ac_input_connected: bool | None  # vebus /Ac/ActiveIn/Connected
    active_input: str | None  # system /Ac/ActiveIn/Source as an option key

    @property
    def lost(self) -> bool | None:
        """Lost when the alarm is raised or the inverter has no AC input; None when unknown."""
        if self.alarm == GRID_LOST_LEVEL or self.ac_input_connected is False:
            return True
        if self.alarm is not None or self.ac_input_connected is not None:
            return False
        if self.active_input is None:
            return None
        return self.active_input == "inverting"


# --- local readers ---------------------------------------------------------------------------


def alarm_name(name: str) -> str:
    """D-Bus alarm names ("LowVoltage", "L1/Overload") in VRM's snake case ("low_voltage")."""
    return _SNAKE.sub("_", name.replace("/", "_")).lower()


def _local_alarms(data: LocalData) -> dict[str, int] | None:
    """Battery and BMS alarms by snake-case name (worst level wins); None when none reported."""
    alarms: dict[str, int] = {}
    for root in (data.battery, data.bms):
        if isinstance(root, CerboBattery):
            for name, level in root.alarms.items():
                key = alarm_name(name)
                alarms[key] = max(level, alarms.get(key, 0))
    return dict(sorted(alarms.items())) or None


def _local_grid_quality(data: LocalData) -> GridQuality | None:
    """The AC input's stress while the inverter has a grid on its input."""
    vebus = data.vebus
    if vebus is None or vebus.ac_in_connected is False:
        return None
    return grid_quality(
        vebus.ac_in_voltage, vebus.ac_in_frequency, vebus.ac_in_current, vebus.ac_in_current_limit
    )


def _local_grid(data: LocalData) -> GridStatus | None:
    vebus = data.vebus
    status = GridStatus(
        alarm=vebus.alarms.get("GridLost") if vebus else None,
        ac_input_connected=vebus.ac_in_connected if vebus else None,
        active_input=data.system.active_input_name,
    )
    if status.alarm is None and status.ac_input_connected is None and status.active_input is None:
        return None
    return status


def _local_firmware(data: LocalData) -> str | None:
    if data.platform is not None and data.platform.firmware_version:
        return data.platform.firmware_version
    return data.discovery.firmware


# --- VRM readers -----------------------------------------------------------------------------


def _vrm_spread(reading: VrmBatteryReading) -> float | None:
    if reading.min_cell_voltage is None or reading.max_cell_voltage is None:
        return None
    return round(reading.max_cell_voltage - reading.min_cell_voltage, 3) + 0.0


def _vrm_state(reading: VrmBatteryReading) -> str | None:
    return reading.state.value if reading.state is not None else None


_VI = frozenset({"voltage", "current"})


def _battery_measurement(name: str, *, local_final: bool = False) -> ValueSpec:
    """A value both sources name alike: the GX's system value (else the battery's) or VRM's."""
    return ValueSpec(
        local=lambda d: d.monitor_value(name),
        vrm=attrgetter(name),
        vrm_fields=frozenset({name}),
        local_final=local_final,
        monitor=True,
    )


def _monitor_value(name: str, **kwargs: Any) -> ValueSpec:
    """A value only the battery monitor (or its BMS) has."""
    return ValueSpec(local=lambda d: d.battery_value(name), monitor=True, **kwargs)


CHARGING_SHARE_ON: Final = 100  # percent while charging, 0 otherwise


def _charging_share(state: str | None) -> int | None:
    """100 while the battery charges, 0 while it idles or discharges.

    Its time-weighted mean over any period, which the recorder's statistics provide, is the
    share of that period spent charging.
    """
    if state is None:
        return None
    return CHARGING_SHARE_ON if state == "charging" else 0


VALUES: Final[Mapping[str, ValueSpec]] = {
    "soc": _battery_measurement("soc"),
    "voltage": _battery_measurement("voltage"),
    "current": _battery_measurement("current"),
    # VRM's power is computed from voltage and current
    "power": ValueSpec(
        local=lambda d: d.monitor_value("power"),
        vrm=attrgetter("power"),
        vrm_fields=_VI,
        monitor=True,
    ),
    "temperature": _battery_measurement("temperature"),
    "state": ValueSpec(
        local=lambda d: d.monitor_state_name, vrm=_vrm_state, vrm_fields=_VI, monitor=True
    ),
    "charging_share": ValueSpec(
        local=lambda d: _charging_share(d.monitor_state_name),
        vrm=lambda r: _charging_share(_vrm_state(r)),
        vrm_fields=_VI,
        monitor=True,
    ),
    "consumed_ah": _battery_measurement("consumed_ah"),
    "time_to_go": _battery_measurement("time_to_go", local_final=True),
    "soh": _monitor_value("soh"),
    "min_cell_voltage": _monitor_value(
        "min_cell_voltage",
        vrm=lambda r: r.min_cell_voltage,
        vrm_fields=frozenset({"min_cell_voltage"}),
    ),
    "max_cell_voltage": _monitor_value(
        "max_cell_voltage",
        vrm=lambda r: r.max_cell_voltage,
        vrm_fields=frozenset({"max_cell_voltage"}),
    ),
    "cell_voltage_spread": _monitor_value(
        "cell_voltage_spread",
        vrm=_vrm_spread,
        vrm_fields=frozenset({"min_cell_voltage", "max_cell_voltage"}),
    ),
    "charge_cycles": _monitor_value("charge_cycles"),
    "charged_energy": _monitor_value("charged_energy"),
    "discharged_energy": _monitor_value("discharged_energy"),
    "alarms": ValueSpec(
        local=_local_alarms,
        vrm=lambda r: dict(sorted(r.alarms.items())) or None,
        monitor=True,
    ),
    "grid_power": ValueSpec(local=lambda d: d.system.grid_power),
    "ac_consumption": ValueSpec(local=lambda d: d.system.consumption_power),
    "pv_power": ValueSpec(local=lambda d: d.system.pv_power),
    "grid": ValueSpec(local=_local_grid),
    "inverter_mode": ValueSpec(local=lambda d: d.vebus.mode_name if d.vebus else None),
    "inverter_state": ValueSpec(local=lambda d: d.vebus.state_name if d.vebus else None),
    "gx_firmware": ValueSpec(local=_local_firmware),
    # for the health insight: what the battery publishes of its make-up and last full charge
    "installed_capacity": _monitor_value("installed_capacity"),
    "modules_offline": _monitor_value("modules_offline"),
    "time_since_full": _monitor_value("time_since_last_full_charge"),
    "ac_input_voltage": ValueSpec(local=lambda d: d.vebus.ac_in_voltage if d.vebus else None),
    "ac_input_frequency": ValueSpec(local=lambda d: d.vebus.ac_in_frequency if d.vebus else None),
    "grid_quality": ValueSpec(local=_local_grid_quality),
}


# --- freshness and merging -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _LocalSample:
    data: LocalData
    sampled_at: datetime


@dataclass(frozen=True, slots=True)
class _VrmSample:
    reading: VrmBatteryReading
    sampled_at: datetime


class BatterySources:
    """Decides, at a given moment, which source serves each value of one config entry."""

    def __init__(self, sources: Sources) -> None:
        """Read the entry's source coordinators; a source that is not configured is None."""
        self.local: LocalSource | None = sources.local
        self.vrm: VrmSource | None = sources.vrm

    def configured(self) -> tuple[Source, ...]:
        """The sources this entry uses, local first."""
        found: list[Source] = []
        if self.local is not None:
            found.append(Source.LOCAL)
        if self.vrm is not None:
            found.append(Source.VRM)
        return tuple(found)

    def can_serve(self, spec: ValueSpec) -> bool:
        """Whether any configured source can ever serve the value."""
        return (self.local is not None and spec.local is not None) or (
            self.vrm is not None and spec.vrm is not None
        )

    def local_sample_time(self) -> datetime | None:
        """When the local source last read the battery, None without data.

        The last good tick, or, while the monitor is off the bus, its own last reading.
        """
        if self.local is None or (data := self.local.data) is None:
            return None
        if data.monitor.present or data.monitor.following_system:
            return self.local.health.last_success
        return data.monitor.read_at

    def vrm_sample_time(self) -> datetime | None:
        """When the battery sample VRM holds was taken (its secondsAgo before our fetch)."""
        if self.vrm is None or self.vrm.data is None or self.vrm.data.battery is None:
            return None
        fetched = self.vrm.data.fetched_at
        seconds_ago = self.vrm.data.battery.seconds_ago
        return fetched - timedelta(seconds=seconds_ago) if seconds_ago is not None else fetched

    def _local(self, now: datetime) -> _LocalSample | None:
        """The local data until the source's third failed tick in a row, however long it took.

        The coordinator turns unavailable at that same failure, so values, the connection
        sensor and the log line change together.
        """
        if self.local is None or self.local.data is None or not self.local.last_update_success:
            return None
        sampled = self.local.health.last_success
        return _LocalSample(self.local.data, sampled) if sampled is not None else None

    def _vrm(self, now: datetime, spec: ValueSpec | None = None) -> _VrmSample | None:
        """The VRM battery reading while its sample is younger than ten minutes.

        Not after VRM's third failed poll in a row, like the connection sensor and the log.
        A value the shared listing lacks comes from the rotating BatterySummary when there is
        one, while it is younger than a day.
        """
        sampled = self.vrm_sample_time()
        if self.vrm is None or self.vrm.data is None or sampled is None:
            return None
        if not self.vrm.health.serving:
            return None
        data = self.vrm.data
        listed = spec is None or (bool(spec.vrm_fields) and spec.vrm_fields <= LISTED_FIELDS)
        if not listed and data.summary is not None and data.summary_fetched_at is not None:
            summary = data.summary
            taken = data.summary_fetched_at - timedelta(seconds=summary.seconds_ago or 0.0)
            if summary.has_old_data or now - taken >= SUMMARY_MAX_AGE:
                return None
            return _VrmSample(summary, taken)
        reading = data.battery
        if reading is None or reading.has_old_data or now - sampled >= VRM_MAX_AGE:
            return None
        return _VrmSample(reading, sampled)

    def vrm_measured_by(self) -> str | None:
        """What measures the battery VRM reports for a site without a battery monitor."""
        if self.vrm is None or self.vrm.battery_instance is not None:
            return None
        device = self.vrm.overview.battery_measured_by if self.vrm.overview else None
        return device.label if device else "the GX's system battery"

    def is_fresh(self, source: Source, now: datetime) -> bool:
        """Whether the source could serve values now."""
        if source is Source.LOCAL:
            return self._local(now) is not None
        return self._vrm(now) is not None

    def pick(self, spec: ValueSpec, now: datetime) -> Reading | None:
        """The value from the best fresh source; None when no fresh source can serve it."""
        local = self._local(now) if spec.local is not None else None
        if local is not None and spec.monitor and not local.data.monitor.present:
            local = None  # the monitor is off the bus: the GX's stand-in is not its reading
        if local is not None and spec.local is not None:
            value = spec.local(local.data)
            if value is not None or spec.local_final:
                return self._local_reading(spec, value, local)
        vrm = self._vrm(now, spec) if spec.vrm is not None else None
        if vrm is not None and spec.vrm_fields & vrm.reading.stale_fields:
            vrm = None  # VRM flags this very value as old
        if vrm is not None:
            assert spec.vrm is not None  # only read when there is a VRM reader
            value = spec.vrm(vrm.reading)
            if value is not None or local is None:
                return Reading(value, Source.VRM, vrm.sampled_at, self.vrm_measured_by())
        if local is not None:
            return self._local_reading(spec, None, local)
        return None

    @staticmethod
    def _local_reading(spec: ValueSpec, value: Any, local: _LocalSample) -> Reading:
        """A local value, dated by the monitor's own last reading when the GX left it."""
        data = local.data
        monitor = data.monitor
        if not spec.monitor:
            return Reading(value, Source.LOCAL, local.sampled_at)
        sampled = local.sampled_at
        if not data.system_serves_monitor and monitor.read_at is not None:
            sampled = min(sampled, monitor.read_at)
        device = monitor.name if monitor.following_system else None
        return Reading(value, Source.LOCAL, sampled, measured_by=device)

    def value(self, key: str, now: datetime) -> Reading | None:
        """`pick` for a value of `VALUES` by key."""
        return self.pick(VALUES[key], now)

    def newest_battery_sample(self) -> datetime | None:
        """The newest battery sample of any source, fresh or not."""
        times = [time for time in (self.local_sample_time(), self.vrm_sample_time()) if time]
        return max(times) if times else None

    def is_stale(self, now: datetime) -> bool:
        """True when no source has had a battery sample for ten minutes."""
        newest = self.newest_battery_sample()
        return newest is None or now - newest >= STALE_AFTER

    def readings_24h(self, now: datetime) -> dict[Source, int]:
        """Successful readings per configured source in the last 24 hours."""
        counts: dict[Source, int] = {}
        if self.local is not None:
            counts[Source.LOCAL] = self.local.readings.count(now)
        if self.vrm is not None:
            counts[Source.VRM] = self.vrm.readings.count(now)
        return counts
