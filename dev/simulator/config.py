"""Static description of the simulated installation (everything a scenario file may change)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

STEP_SECONDS = 30  # simulated seconds per physics step; logging intervals must be multiples
MONITORS = ("can_bms", "smartshunt")


class ConfigError(ValueError):
    """A configuration or scenario value is not acceptable."""


@dataclass(frozen=True, slots=True)
class SimConfig:
    # identity, shared by both APIs
    portal_id: str = "c0619ab4e53f"  # system /Serial == VRM installation identifier
    site_id: int = 123456  # VRM idSite
    site_name: str = "Simulated Cabin"
    user_id: int = 22451
    user_name: str = "Sim User"
    user_email: str = "sim@example.com"
    token: str = "simulated-token"  # VRM personal access token the server accepts
    timezone: str = "Europe/Amsterdam"  # where the people (loads) live
    longitude: float = 4.9  # where the sun is: solar noon = 12:00 UTC - longitude / 15 h
    # VRM logger
    logging_interval: int = 300  # seconds between VRM log records
    # battery: 16s LiFePO4, 280 Ah, behind a CAN-bus BMS (the "bms16" profile)
    monitor: str = "can_bms"  # or "smartshunt": a VE.Direct shunt, no BMS, no Info/* limits
    battery_name: str = "280Ah LFP"  # the monitor's CustomName
    cells: int = 16
    capacity_ah: float = 280.0
    charge_voltage_per_cell: float = 3.55  # the BMS's charge voltage limit (CVL) per cell
    low_voltage_per_cell: float = 3.0  # the BMS's BatteryLowVoltage per cell
    ambient_c: float = 17.0  # mean temperature around the battery
    shunt_temperature: bool = False  # a SmartShunt publishes a temperature only when fitted
    initial_soc: float = 65.0
    min_soc: float = 20.0  # ESS minimum SOC while the grid is up
    extended_bms: bool = True  # BMS publishes ConsumedAmphours, TimeToGo and History
    # energy flows
    pv_peak_w: float = 6000.0
    base_load_w: float = 350.0
    inverter_w: float = 2500.0
    # API behaviour
    hang_seconds: float = 25.0  # libdbus default call timeout on the Cerbo
    vrm_hang_seconds: float = 30.0
    vrm_numeric: bool = False  # True: BatterySummary values as numbers instead of strings
    # False: VRM lists no battery monitor (an MPPT or inverter measures the battery); the
    # system battery values are in installations?extended=1 only
    vrm_battery_monitor: bool = True
    rate_limit_capacity: int = 200  # VRM rolling window
    # VRM history (stats): days of past before the start, the last hours before the start that
    # the GX uploads only that many hours after it (back-logged), and every n-th stats request
    # answered 429 (0: never)
    history_days: int = 14
    history_late_hours: int = 2
    stats_429_every: int = 0
    rate_limit_leak_seconds: float = 0.33
    # an ageing battery (dev/scenarios/ageing.json); days count from the simulation's start
    soh: float = 99.0  # the BMS's state of health at the start, %
    soh_loss_per_month: float = 0.0  # points of SOH lost per month (365.25 / 12 days)
    max_charge_soc: float = 100.0  # the ESS stops charging here: below 100, never full
    days_since_full: float = 1.0  # the BMS's last full charge, days before the start
    heat_wave_c: float = 0.0  # mean ambient temperature of a heat wave (0: none), °C
    heat_wave_start_day: float = -6.0
    heat_wave_days: float = 7.0
    imbalance_v: float = 0.0  # how far one cell sinks below the others, V (0: none)
    imbalance_start_hours: float = 0.0  # hours after the start (negative: before)
    imbalance_rise_hours: float = 24.0  # from 0 to imbalance_v; then it stays (never full)

    def __post_init__(self) -> None:
        if self.logging_interval <= 0 or self.logging_interval % STEP_SECONDS:
            raise ConfigError(f"logging_interval must be a positive multiple of {STEP_SECONDS}")
        if not 0 <= self.initial_soc <= 100:  # noqa: PLR2004
            raise ConfigError("initial_soc must be within 0..100")
        if not 0 <= self.min_soc < 100:  # noqa: PLR2004
            raise ConfigError("min_soc must be within 0..100")
        if self.cells <= 0 or self.capacity_ah <= 0:
            raise ConfigError("cells and capacity_ah must be positive")
        if self.monitor not in MONITORS:
            raise ConfigError(f"monitor must be one of {', '.join(MONITORS)}")
        if not 0 < self.low_voltage_per_cell < self.charge_voltage_per_cell:
            raise ConfigError("need 0 < low_voltage_per_cell < charge_voltage_per_cell")
        if not 0 < self.max_charge_soc <= 100:  # noqa: PLR2004
            raise ConfigError("max_charge_soc must be within 0 (excluded)..100")
        if self.heat_wave_days < 0 or self.imbalance_rise_hours <= 0:
            raise ConfigError("need heat_wave_days >= 0 and imbalance_rise_hours > 0")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> SimConfig:
        """Build from JSON-ish data, rejecting unknown keys and wrong types.

        `"profile": name` starts from a battery profile (PROFILES); other keys override it.
        """
        known = {field.name: field for field in dataclasses.fields(cls)}
        data = dict(data)
        values: dict[str, Any] = dict(profile_values(data.pop("profile", DEFAULT_PROFILE)))
        for key, value in data.items():
            if key not in known:
                raise ConfigError(f"unknown config key {key!r}")
            default = getattr(cls(), key)
            values[key] = _coerce(key, value, type(default))
        return cls(**values)


DEFAULT_PROFILE = "bms16"
# Battery profiles: the fields each one sets. At rest, no problem sensor may be on in any of them.
PROFILES: dict[str, dict[str, Any]] = {
    # today's site: 16s 280 Ah LiFePO4 behind a CAN-bus BMS that publishes its limits
    "bms16": {},
    # the 15-cell Pylontech bank of the reference samples: 49.8 V at rest (80 %), about 30.7 °C,
    # Info/BatteryLowVoltage 45.0 V, Info/MaxChargeVoltage 52.5 V
    "pylontech15": {
        "battery_name": "8kWh",
        "cells": 15,
        "capacity_ah": 174.0,
        "charge_voltage_per_cell": 3.5,
        "low_voltage_per_cell": 3.0,
        "ambient_c": 26.7,
        "initial_soc": 80.0,
    },
    # a SmartShunt on a 16s bank: no BMS, so no Info/* limits, no cells, no temperature
    "smartshunt": {
        "monitor": "smartshunt",
        "battery_name": "House bank",
        "capacity_ah": 200.0,
    },
}


def profile_values(name: Any) -> dict[str, Any]:
    """The fields a battery profile sets."""
    if not isinstance(name, str) or name not in PROFILES:
        raise ConfigError(f"profile must be one of {', '.join(PROFILES)}")
    return PROFILES[name]


def with_profile(config: SimConfig, name: str) -> SimConfig:
    """The config with a battery profile's fields (the profile wins)."""
    return dataclasses.replace(config, **profile_values(name))


def _coerce(key: str, value: Any, kind: type) -> Any:
    if kind is bool:
        if isinstance(value, bool):
            return value
    elif kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif kind is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    elif isinstance(value, str):
        return value
    raise ConfigError(f"config key {key!r} must be of type {kind.__name__}")
