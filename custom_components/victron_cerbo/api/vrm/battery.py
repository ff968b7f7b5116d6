"""The battery readings: a monitor's BatterySummary widget and the GX's system battery."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from ..victron import ALARM_LEVELS, BATTERY_FLOW_STATES
from .errors import VrmResponseError
from .models import VrmBatteryReading, VrmBatteryState
from .parsing import _as_bool, _as_float, _as_int, _as_str, _is_valid

# Battery state is derived the way Venus systemcalc derives /Dc/Battery/State (+-30 W), so
# VRM and the local API agree; the current band is used only when the voltage is missing.
IDLE_POWER_DEADBAND: Final = 30.0  # W
IDLE_CURRENT_DEADBAND: Final = 0.5  # A

_CONTROL_KEYS: Final = frozenset({"hasOldData", "secondsAgo"})


# BatterySummary attributes: code -> (idDataAttribute, field name). Matched on code and id.
_BATTERY_FIELDS: Final[Mapping[str, tuple[int, str]]] = {
    "V": (47, "voltage"),
    "VS": (48, "starter_voltage"),
    "I": (49, "current"),
    "CE": (50, "consumed_ah"),
    "SOC": (51, "soc"),
    "TTG": (52, "time_to_go"),
    "BT": (115, "temperature"),
    "VM": (116, "midpoint_voltage"),
    "VMD": (117, "midpoint_deviation"),
    "mcV": (173, "min_cell_voltage"),
    "McV": (174, "max_cell_voltage"),
    "mvc": (274, "charge_voltage_limit"),
    "mcc": (276, "charge_current_limit"),
    "mdc": (277, "discharge_current_limit"),
}

# Alarm attributes: code -> (idDataAttribute, alarm name). Names follow the D-Bus /Alarms paths.
_BATTERY_ALARMS: Final[Mapping[str, tuple[int, str]]] = {
    "AL": (119, "low_voltage"),
    "AH": (120, "high_voltage"),
    "ALS": (121, "low_starter_voltage"),
    "AHS": (122, "high_starter_voltage"),
    "ASoc": (123, "low_soc"),
    "ALT": (124, "low_temperature"),
    "AHT": (125, "high_temperature"),
    "AM": (126, "mid_voltage"),
    "ALF": (155, "low_fused_voltage"),
    "AHF": (156, "high_fused_voltage"),
    "AFB": (157, "fuse_blown"),
    "AHIT": (158, "high_internal_temperature"),
    "ACI": (286, "cell_imbalance"),
    "AHC": (287, "high_charge_current"),
    "AHD": (288, "high_discharge_current"),
    "AIE": (289, "internal_failure"),
    "AHCT": (459, "high_charge_temperature"),
    "ALCT": (460, "low_charge_temperature"),
    "ALCV": (522, "low_cell_voltage"),
    "Abc": (739, "charge_blocked"),
    "Abd": (740, "discharge_blocked"),
}

# The GX's system battery in `installations?extended=1` (codes bv/bs/bc/bst, ids checked too):
# what VRM shows for a site whose battery is measured by an inverter or MPPT, not a monitor.
_SYSTEM_FIELDS: Final[Mapping[str, tuple[int | None, str]]] = {
    "bv": (143, "voltage"),
    "bs": (144, "soc"),
    "bc": (147, "current"),
    "bp": (None, "power"),  # id not documented; matched on code and the system service
    "bst": (215, "state"),
}


SYSTEM_BATTERY_INSTANCE: Final = 0


_SNAKE = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def _alarm_name(code: str | None, attribute: Mapping[str, Any]) -> str | None:
    """The alarm name for an attribute, from the known codes or its /Alarms/ D-Bus path."""
    if code is not None and code in _BATTERY_ALARMS:
        return _BATTERY_ALARMS[code][1]
    path = _as_str(attribute.get("dbusPath"))
    if path and path.startswith("/Alarms/") and path.count("/") == 2:  # noqa: PLR2004
        return _SNAKE.sub("_", path.removeprefix("/Alarms/")).lower()
    return None


def _attribute_number(attribute: Mapping[str, Any]) -> float | None:
    """The number: rawValue has full precision; fall back to valueFloat, then value."""
    for key in ("rawValue", "valueFloat", "value"):
        number = _as_float(attribute.get(key))
        if number is not None:
            return number
    return None


def _alarm_level(attribute: Mapping[str, Any]) -> int | None:
    """An alarm enum value 0/1/2, or None."""
    for key in ("rawValue", "valueEnum", "value"):
        level = _as_int(attribute.get(key))
        if level is not None:
            return level if level in ALARM_LEVELS else None
    return None


def _seconds_ago(value: Any) -> float | None:
    """`secondsAgo` is {"value": 42, ...} in the spec, a bare number in some payloads."""
    if isinstance(value, Mapping):
        value = value.get("value")
    seconds = _as_float(value)
    return seconds if seconds is not None and seconds >= 0 else None


def _derive_state(power: float | None, current: float | None) -> VrmBatteryState | None:
    """Charging/discharging/idle from the sign of power (or current) outside a dead band."""
    if power is not None:
        value, band = power, IDLE_POWER_DEADBAND
    elif current is not None:
        value, band = current, IDLE_CURRENT_DEADBAND
    else:
        return None
    if abs(value) < band:
        return VrmBatteryState.IDLE
    return VrmBatteryState.CHARGING if value > 0 else VrmBatteryState.DISCHARGING


@dataclass
class _Collected:
    """What one pass over a widget's attributes found."""

    values: dict[str, float | None] = field(default_factory=dict)
    alarms: dict[str, int] = field(default_factory=dict)
    stale: set[str] = field(default_factory=set)
    attributes: int = 0


def _collect(data: Mapping[str, Any], meta: Mapping[str, Any]) -> _Collected:
    """Sort the widget's attribute objects into values and alarms, by code checked against id."""
    found = _Collected()
    for key, attribute in data.items():
        if key in _CONTROL_KEYS or not isinstance(attribute, Mapping):
            continue
        found.attributes += 1
        attribute_id = _as_int(key)
        if attribute_id is None:
            attribute_id = _as_int(attribute.get("idDataAttribute"))
        code = _as_str(attribute.get("code"))
        if code is None and isinstance(meta.get(key), Mapping):
            code = _as_str(meta[key].get("code"))
        known = _BATTERY_FIELDS.get(code or "")
        if known is not None:
            if attribute_id is not None and attribute_id != known[0]:
                continue  # same code, different attribute: not ours
            found.values[known[1]] = _attribute_number(attribute) if _is_valid(attribute) else None
            if _as_bool(attribute.get("hasOldData")):
                found.stale.add(known[1])
            continue
        alarm_id = _BATTERY_ALARMS.get(code or "", (attribute_id, ""))[0]
        if attribute_id is not None and attribute_id != alarm_id:
            continue
        alarm = _alarm_name(code, attribute)
        level = _alarm_level(attribute) if _is_valid(attribute) else None
        if alarm is not None and level is not None:
            found.alarms[alarm] = level
    return found


def parse_battery_summary(payload: Mapping[str, Any], instance: int) -> VrmBatteryReading | None:
    """Turn a BatterySummary payload into a reading; None when the widget holds no data."""
    records = payload.get("records")
    if not isinstance(records, Mapping) or "data" not in records:
        raise VrmResponseError("BatterySummary without records.data")
    data = records["data"]
    if data is None or (isinstance(data, list) and not data):
        return None  # PHP serialises an empty object as []
    if not isinstance(data, Mapping):
        raise VrmResponseError("BatterySummary records.data is not an object")
    meta = records.get("meta")
    found = _collect(data, meta if isinstance(meta, Mapping) else {})
    if not found.attributes:
        return None
    values = found.values

    soc = values.get("soc")
    if soc is not None and not 0 <= soc <= 100:  # noqa: PLR2004
        soc = None
    voltage = values.get("voltage")
    current = values.get("current")
    power = round(voltage * current, 2) if voltage is not None and current is not None else None
    time_to_go = values.get("time_to_go")
    if time_to_go is not None:
        time_to_go = time_to_go * 3600 if time_to_go >= 0 else None
    return VrmBatteryReading(
        instance=instance,
        soc=soc,
        voltage=voltage,
        current=current,
        power=power,
        temperature=values.get("temperature"),
        state=_derive_state(power, current),
        consumed_ah=values.get("consumed_ah"),
        time_to_go=time_to_go,
        starter_voltage=values.get("starter_voltage"),
        midpoint_voltage=values.get("midpoint_voltage"),
        midpoint_deviation=values.get("midpoint_deviation"),
        min_cell_voltage=values.get("min_cell_voltage"),
        max_cell_voltage=values.get("max_cell_voltage"),
        charge_voltage_limit=values.get("charge_voltage_limit"),
        charge_current_limit=values.get("charge_current_limit"),
        discharge_current_limit=values.get("discharge_current_limit"),
        alarms=found.alarms,
        seconds_ago=_seconds_ago(data.get("secondsAgo")),
        has_old_data=_as_bool(data.get("hasOldData")),
        stale_fields=frozenset(found.stale),
    )


def _system_value(entry: Mapping[str, Any]) -> tuple[str, float | None] | None:
    """(field, number) for one `extended` entry of the system battery; None when not one."""
    code = _as_str(entry.get("code"))
    known = _SYSTEM_FIELDS.get(code or "")
    if known is None:
        return None
    attribute_id = _as_int(entry.get("idDataAttribute"))
    if known[0] is not None and attribute_id is not None and attribute_id != known[0]:
        return None
    service = _as_str(entry.get("dbusServiceType"))
    if service is not None and service != "system":
        return None
    # rawValue only: formattedValue is localised ("Inativo", "A descarregar")
    return known[1], _as_float(entry.get("rawValue")) if _is_valid(entry) else None


def system_battery_of(record: Mapping[str, Any], now: float) -> VrmBatteryReading | None:
    """The GX's system battery of one `installations?extended=1` record.

    None when the record lists none of its values. `now` (unix seconds) dates the sample: its
    age is that of the oldest value used. Never raises, whatever the record holds.
    """
    extended = record.get("extended")
    values: dict[str, float | None] = {}
    stamps: list[float] = []
    for entry in extended if isinstance(extended, list) else []:
        if not isinstance(entry, Mapping) or (found := _system_value(entry)) is None:
            continue
        name, number = found
        if name in values:
            continue  # the first of a code wins
        values[name] = number
        if number is not None and (stamp := _as_float(entry.get("timestamp"))) is not None:
            stamps.append(stamp)
    if not values:
        return None
    soc = values.get("soc")
    if soc is not None and not 0 <= soc <= 100:  # noqa: PLR2004
        soc = None
    voltage, current = values.get("voltage"), values.get("current")
    power = values.get("power")
    if power is None and voltage is not None and current is not None:
        power = round(voltage * current, 2)
    level = _as_int(values.get("state"))
    state_name = BATTERY_FLOW_STATES.get(level) if level is not None else None
    state = VrmBatteryState(state_name) if state_name else _derive_state(power, current)
    return VrmBatteryReading(
        instance=SYSTEM_BATTERY_INSTANCE,
        soc=soc,
        voltage=voltage,
        current=current,
        power=power,
        state=state,
        seconds_ago=max(0.0, now - min(stamps)) if stamps else None,
        system=True,
    )


def parse_system_battery(
    payload: Mapping[str, Any], site_id: int, now: float
) -> VrmBatteryReading | None:
    """The GX's system battery of one site from `installations?idSite=&extended=1`.

    None when VRM lists none of its values; VrmResponseError when the site is not listed.
    """
    records = payload.get("records")
    if not isinstance(records, list):
        raise VrmResponseError("installations without a records list")
    record = next(
        (
            row
            for row in records
            if isinstance(row, Mapping) and _as_int(row.get("idSite")) == site_id
        ),
        None,
    )
    if record is None:
        raise VrmResponseError(f"installations without site {site_id}")
    return system_battery_of(record, now)
