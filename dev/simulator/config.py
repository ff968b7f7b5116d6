"""Static description of the simulated installation (everything a scenario file may change)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

STEP_SECONDS = 30  # simulated seconds per physics step; logging intervals must be multiples


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
    # battery: 16s LiFePO4, 280 Ah
    cells: int = 16
    capacity_ah: float = 280.0
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
    rate_limit_leak_seconds: float = 0.33

    def __post_init__(self) -> None:
        if self.logging_interval <= 0 or self.logging_interval % STEP_SECONDS:
            raise ConfigError(f"logging_interval must be a positive multiple of {STEP_SECONDS}")
        if not 0 <= self.initial_soc <= 100:  # noqa: PLR2004
            raise ConfigError("initial_soc must be within 0..100")
        if not 0 <= self.min_soc < 100:  # noqa: PLR2004
            raise ConfigError("min_soc must be within 0..100")
        if self.cells <= 0 or self.capacity_ah <= 0:
            raise ConfigError("cells and capacity_ah must be positive")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> SimConfig:
        """Build from JSON-ish data, rejecting unknown keys and wrong types."""
        known = {field.name: field for field in dataclasses.fields(cls)}
        values: dict[str, Any] = {}
        for key, value in data.items():
            if key not in known:
                raise ConfigError(f"unknown config key {key!r}")
            default = getattr(cls(), key)
            values[key] = _coerce(key, value, type(default))
        return cls(**values)


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
