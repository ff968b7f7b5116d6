"""Victron's vocabulary that both sources share: what enum codes and alarm levels mean.

The meanings are Victron's D-Bus codes (as documented for Venus OS), kept as snake_case option
keys; the local API sends the codes and VRM reports several of the same ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

SYSTEM_STATES: Final[Mapping[int, str]] = {
    0: "off",
    1: "low_power",
    2: "vebus_fault",
    3: "bulk",
    4: "absorption",
    5: "float",
    6: "storage",
    7: "equalize",
    8: "passthru",
    9: "inverting",
    10: "assisting",
    244: "battery_sustain",
    252: "external_control",
    256: "discharging",
    257: "sustain",
    258: "recharge",
    259: "scheduled_recharge",
}
BATTERY_FLOW_STATES: Final[Mapping[int, str]] = {0: "idle", 1: "charging", 2: "discharging"}
ACTIVE_INPUT_SOURCES: Final[Mapping[int, str]] = {
    0: "not_available",
    1: "grid",
    2: "generator",
    3: "shore",
    240: "inverting",
}
VEBUS_MODES: Final[Mapping[int, str]] = {
    1: "charger_only",
    2: "inverter_only",
    3: "on",
    4: "off",
}
VEBUS_STATES: Final[Mapping[int, str]] = {
    0: "off",
    1: "low_power",
    2: "fault",
    3: "bulk",
    4: "absorption",
    5: "float",
    6: "storage",
    7: "equalize",
    8: "passthru",
    9: "inverting",
    10: "power_assist",
    11: "power_supply",
    252: "external_control",
}
VEBUS_CHARGE_STATES: Final[Mapping[int, str]] = {
    0: "initialising",
    1: "bulk",
    2: "absorption",
    3: "float",
    4: "storage",
    5: "absorb_repeat",
    6: "forced_absorb",
    7: "equalise",
    8: "bulk_stopped",
    9: "unknown",
}
BMS_STATES: Final[Mapping[int, str]] = {
    **dict.fromkeys(range(9), "initialising"),
    9: "running",
    10: "error",
    12: "shutdown",
    13: "slave_updating",
    14: "standby",
    15: "going_to_run",
    16: "pre_charging",
    17: "contactor_check",
}
TEMPERATURE_STATUSES: Final[Mapping[int, str]] = {
    0: "ok",
    1: "open_circuit",
    2: "short_circuited",
    3: "reverse_polarity",
    4: "unknown",
}
TEMPERATURE_TYPES: Final[Mapping[int, str]] = {
    0: "battery",
    1: "fridge",
    2: "generic",
    3: "room",
    4: "outdoor",
    5: "water_heater",
    6: "freezer",
}
ALARM_LEVELS: Final[Mapping[int, str]] = {0: "ok", 1: "warning", 2: "alarm"}
