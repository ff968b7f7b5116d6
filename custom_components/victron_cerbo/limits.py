"""The normal ranges the problem sensors and the dashboard judge against, from the options.

One reader for both, so a binary sensor and the gauge that shows its range never disagree.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .const import (
    CONF_LOW_SOC,
    CONF_NOMINAL_VOLTAGE,
    CONF_TEMPERATURE_MAX,
    CONF_TEMPERATURE_MIN,
    CONF_VOLTAGE_MAX,
    CONF_VOLTAGE_MIN,
    DEFAULT_LOW_SOC,
    DEFAULT_NOMINAL_VOLTAGE,
    DEFAULT_TEMPERATURE_MAX,
    DEFAULT_TEMPERATURE_MIN,
    VOLTAGE_RANGES,
)


def option_number(raw: Any, default: float) -> float:
    """A finite number from an option (selectors store strings or floats), else the default."""
    if isinstance(raw, bool):
        return default
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return default
    return value if math.isfinite(value) else default


def nominal_voltage_range(options: Mapping[str, Any]) -> tuple[float, float]:
    """The normal range that goes with the nominal voltage option."""
    nominal = int(option_number(options.get(CONF_NOMINAL_VOLTAGE), DEFAULT_NOMINAL_VOLTAGE))
    return VOLTAGE_RANGES.get(nominal, VOLTAGE_RANGES[DEFAULT_NOMINAL_VOLTAGE])


def voltage_range(options: Mapping[str, Any]) -> tuple[float, float]:
    """The nominal voltage's range, with either end replaced by the user's own limit.

    A 15-cell LiFePO4 bank (a common 48 V Pylontech) rests near 45-53.5 V, below the 16-cell
    range of the 48 V preset; its owner sets both limits. An unusable pair keeps the preset.
    """
    low, high = nominal_voltage_range(options)
    own_low = option_number(options.get(CONF_VOLTAGE_MIN), low)
    own_high = option_number(options.get(CONF_VOLTAGE_MAX), high)
    return (own_low, own_high) if own_low < own_high else (low, high)


def temperature_range(options: Mapping[str, Any]) -> tuple[float, float]:
    """The normal battery temperature in °C; an unusable pair keeps the defaults."""
    low = option_number(options.get(CONF_TEMPERATURE_MIN), DEFAULT_TEMPERATURE_MIN)
    high = option_number(options.get(CONF_TEMPERATURE_MAX), DEFAULT_TEMPERATURE_MAX)
    return (low, high) if low < high else (DEFAULT_TEMPERATURE_MIN, DEFAULT_TEMPERATURE_MAX)


@dataclass(frozen=True, slots=True)
class Thresholds:
    """The limits the battery problem sensors use, from the entry options."""

    voltage_min: float
    voltage_max: float
    temperature_min: float
    temperature_max: float
    low_soc: float

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> Thresholds:
        """Read the options; anything unusable falls back to its default."""
        voltage = voltage_range(options)
        temperature = temperature_range(options)
        return cls(
            voltage_min=voltage[0],
            voltage_max=voltage[1],
            temperature_min=temperature[0],
            temperature_max=temperature[1],
            low_soc=option_number(options.get(CONF_LOW_SOC), DEFAULT_LOW_SOC),
        )
