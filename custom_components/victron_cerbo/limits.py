"""The limits the problem sensors judge against, and the optimal bands the dashboard draws.

One reader for both, so a binary sensor and the gauge beside it never disagree about where a
limit came from.

The problem sensors use fault limits, not the optimal band: a 15-cell LiFePO4 bank resting at
49.8 V is fine although it sits below the 52-58 V band of a 16-cell one. Per end, the first of
these that exists applies:

- voltage: the user's own limit; the battery's own (a BMS publishes `Info/BatteryLowVoltage`
  and its charge voltage limit `Info/MaxChargeVoltage`); the GX's DVCC charge voltage; the cell
  count the BMS reports; the nominal voltage's safe preset;
- temperature: the user's own limit; a lithium-safe default (5-45 °C). Venus OS publishes no
  temperature limits of a battery; a BMS's own verdict is its temperature alarm (Battery alarm).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final

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
    SAFE_TEMPERATURE_MAX,
    SAFE_TEMPERATURE_MIN,
    SAFE_VOLTAGE_RANGES,
    VOLTAGE_RANGES,
)
from .sources import ValueSpec

if TYPE_CHECKING:
    from .models import LocalData

# A BMS's MaxChargeVoltage is a charge target, not a fault: with ESS feeding in excess DC solar,
# the GX sets the solar chargers 0.4 V above it on a 48 V bank (0.1 V on 12 V; Victron GX manual,
# "DVCC for systems with the ESS Assistant":
# https://www.victronenergy.com/media/pg/Venus_GX/en/dvcc---distributed-voltage-and-current-control.html),
# and the charger measures at its terminals, not at the cells. 2 % (1.05 V at 52.5 V, still below
# 3.65 V a cell on 15 cells) covers both.
CHARGE_VOLTAGE_MARGIN: Final = 0.02
# LiFePO4, the chemistry of the BMSes that report a cell count: empty near 2.8 V, 3.65 V maximum.
CELL_MIN_VOLTAGE: Final = 2.8
CELL_MAX_VOLTAGE: Final = 3.65


class LimitSource(StrEnum):
    """Where a limit came from (the `limits_source` attribute)."""

    BATTERY = "battery"  # the battery's own BMS
    DVCC = "dvcc"  # the GX's DVCC charge voltage
    CELLS = "cells"  # the cell count the BMS reports
    OPTIONS = "options"  # the user's own limit
    PRESET = "preset"  # the nominal voltage's safe range
    DEFAULT = "default"  # the lithium-safe temperatures


def option_number(raw: Any, default: float) -> float:
    """A finite number from an option (selectors store strings or floats), else the default."""
    if isinstance(raw, bool):
        return default
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return default
    return value if math.isfinite(value) else default


def _own(options: Mapping[str, Any], key: str) -> float | None:
    """The user's own limit, None when the option is empty or unusable."""
    value = option_number(options.get(key), math.nan)
    return None if math.isnan(value) else value


def _nominal(options: Mapping[str, Any]) -> int:
    nominal = int(option_number(options.get(CONF_NOMINAL_VOLTAGE), DEFAULT_NOMINAL_VOLTAGE))
    return nominal if nominal in VOLTAGE_RANGES else DEFAULT_NOMINAL_VOLTAGE


# --- the dashboard's optimal bands ----------------------------------------------------------


def nominal_voltage_range(options: Mapping[str, Any]) -> tuple[float, float]:
    """The optimal band that goes with the nominal voltage option."""
    return VOLTAGE_RANGES[_nominal(options)]


def safe_voltage_range(options: Mapping[str, Any]) -> tuple[float, float]:
    """The fault limits that go with the nominal voltage option when nothing else says more."""
    return SAFE_VOLTAGE_RANGES[_nominal(options)]


def voltage_range(options: Mapping[str, Any]) -> tuple[float, float]:
    """The dashboard's voltage band: the nominal voltage's, either end replaced by the user's.

    An unusable pair keeps the preset.
    """
    low, high = nominal_voltage_range(options)
    own_low = option_number(options.get(CONF_VOLTAGE_MIN), low)
    own_high = option_number(options.get(CONF_VOLTAGE_MAX), high)
    return (own_low, own_high) if own_low < own_high else (low, high)


def temperature_range(options: Mapping[str, Any]) -> tuple[float, float]:
    """The dashboard's temperature band in °C; an unusable pair keeps the defaults."""
    low = option_number(options.get(CONF_TEMPERATURE_MIN), DEFAULT_TEMPERATURE_MIN)
    high = option_number(options.get(CONF_TEMPERATURE_MAX), DEFAULT_TEMPERATURE_MAX)
    return (low, high) if low < high else (DEFAULT_TEMPERATURE_MIN, DEFAULT_TEMPERATURE_MAX)


# --- what the battery says ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BatteryLimits:
    """The limits the battery and the GX publish; None where they publish none."""

    low_voltage: float | None = None  # V, the BMS's BatteryLowVoltage
    max_charge_voltage: float | None = None  # V, the BMS's charge voltage limit (CVL)
    dvcc_charge_voltage: float | None = None  # V, what DVCC tells the chargers
    cells: int | None = None  # in series


def _positive(value: float | None) -> float | None:
    """Some BMSes send 0 for a limit they do not have."""
    return value if value is not None and value > 0 else None


def _local_battery_limits(data: LocalData) -> BatteryLimits | None:
    """The battery monitor's limits, else a separate BMS's; DVCC from the system service."""
    roots = [root for root in (data.battery, data.bms) if root is not None]

    def first(name: str) -> Any:
        return next((v for root in roots if (v := getattr(root, name)) is not None), None)

    cells = first("cells_per_battery")
    series = first("batteries_series") or 1
    dvcc = data.system.charge_voltage if data.system.dvcc is not False else None
    limits = BatteryLimits(
        low_voltage=_positive(first("low_voltage")),
        max_charge_voltage=_positive(first("max_charge_voltage")),
        dvcc_charge_voltage=_positive(dvcc),
        cells=cells * series if cells and cells > 0 and series > 0 else None,
    )
    return None if limits == BatteryLimits() else limits


# Only the Cerbo publishes limits; VRM-served values are judged against the options and presets.
BATTERY_LIMITS: Final = ValueSpec(local=_local_battery_limits)


# --- the limits in force --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Limit:
    """One end of a range and where it came from."""

    value: float
    source: LimitSource


@dataclass(frozen=True, slots=True)
class Range:
    """The limits a value is judged against."""

    minimum: Limit
    maximum: Limit

    def outside(self, value: float) -> bool:
        """Whether the value is below the minimum or above the maximum."""
        return value < self.minimum.value or value > self.maximum.value

    def attributes(self) -> dict[str, Any]:
        """The limits and their source; each end's source too when the two differ."""
        low, high = self.minimum, self.maximum
        found: dict[str, Any] = {"minimum": low.value, "maximum": high.value}
        if low.source is high.source:
            return found | {"limits_source": low.source.value}
        return found | {
            "limits_source": "mixed",
            "minimum_source": low.source.value,
            "maximum_source": high.source.value,
        }


def _range(*ends: tuple[Limit | None, Limit | None], fallback: Range) -> Range:
    """The first end of each kind that exists; an unusable pair tries the next level."""
    low = next((pair[0] for pair in ends if pair[0] is not None), fallback.minimum)
    high = next((pair[1] for pair in ends if pair[1] is not None), fallback.maximum)
    if low.value < high.value:
        return Range(low, high)
    if len(ends) > 1:
        return _range(*ends[1:], fallback=fallback)
    return fallback


def _above(charge_voltage: float | None) -> float | None:
    return charge_voltage * (1 + CHARGE_VOLTAGE_MARGIN) if charge_voltage else None


def _limit(value: float | None, source: LimitSource) -> Limit | None:
    return None if value is None else Limit(round(value, 2), source)


@dataclass(frozen=True, slots=True)
class Limits:
    """The limits in force at one moment: the options together with what the battery says."""

    voltage: Range
    temperature: Range
    low_soc: float


@dataclass(frozen=True, slots=True)
class Thresholds:
    """What the entry options say; the user's own limits are None where the user set none."""

    safe_voltage: tuple[float, float]
    voltage_min: float | None
    voltage_max: float | None
    temperature_min: float | None
    temperature_max: float | None
    low_soc: float

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> Thresholds:
        """Read the options; anything unusable counts as not set."""
        return cls(
            safe_voltage=safe_voltage_range(options),
            voltage_min=_own(options, CONF_VOLTAGE_MIN),
            voltage_max=_own(options, CONF_VOLTAGE_MAX),
            temperature_min=_own(options, CONF_TEMPERATURE_MIN),
            temperature_max=_own(options, CONF_TEMPERATURE_MAX),
            low_soc=option_number(options.get(CONF_LOW_SOC), DEFAULT_LOW_SOC),
        )

    def voltage(self, battery: BatteryLimits | None) -> Range:
        """The voltage limits in force, per end: options, battery, DVCC, cells, preset."""
        battery = battery or BatteryLimits()
        preset = Range(
            Limit(self.safe_voltage[0], LimitSource.PRESET),
            Limit(self.safe_voltage[1], LimitSource.PRESET),
        )
        # a charge target plus the margin
        charge = _above(battery.max_charge_voltage)
        dvcc = _above(battery.dvcc_charge_voltage)
        cells = battery.cells
        return _range(
            (
                _limit(self.voltage_min, LimitSource.OPTIONS),
                _limit(self.voltage_max, LimitSource.OPTIONS),
            ),
            (
                _limit(battery.low_voltage, LimitSource.BATTERY),
                _limit(charge, LimitSource.BATTERY),
            ),
            (None, _limit(dvcc, LimitSource.DVCC)),
            (
                _limit(cells * CELL_MIN_VOLTAGE if cells else None, LimitSource.CELLS),
                _limit(cells * CELL_MAX_VOLTAGE if cells else None, LimitSource.CELLS),
            ),
            fallback=preset,
        )

    def temperature(self) -> Range:
        """The temperature limits in force, per end: options, else lithium-safe defaults."""
        return _range(
            (
                _limit(self.temperature_min, LimitSource.OPTIONS),
                _limit(self.temperature_max, LimitSource.OPTIONS),
            ),
            fallback=Range(
                Limit(SAFE_TEMPERATURE_MIN, LimitSource.DEFAULT),
                Limit(SAFE_TEMPERATURE_MAX, LimitSource.DEFAULT),
            ),
        )

    def limits(self, battery: BatteryLimits | None) -> Limits:
        """The limits in force with what the battery publishes now."""
        return Limits(
            voltage=self.voltage(battery),
            temperature=self.temperature(),
            low_soc=self.low_soc,
        )


# --- options 1.1 -> 1.2 ---------------------------------------------------------------------


def migrate_limit_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """Options 1.2: a limit is stored only when the user chose it.

    Until 1.2 the form pre-filled 15-30 °C and saved it with any other change, so a stored
    15-30 °C pair is dropped: it was the form's, not a limit anyone set (a user who did set
    exactly that can set it again). Any other stored pair becomes explicit as it was judged
    before, the nominal voltage's old band filling an end the user left empty, so entries with
    their own limits behave exactly as before.
    """
    migrated = dict(options)
    if _own(options, CONF_VOLTAGE_MIN) is not None or _own(options, CONF_VOLTAGE_MAX) is not None:
        migrated[CONF_VOLTAGE_MIN], migrated[CONF_VOLTAGE_MAX] = voltage_range(options)
    migrated.pop(CONF_TEMPERATURE_MIN, None)
    migrated.pop(CONF_TEMPERATURE_MAX, None)
    if CONF_TEMPERATURE_MIN in options or CONF_TEMPERATURE_MAX in options:
        pair = temperature_range(options)
        if pair != (DEFAULT_TEMPERATURE_MIN, DEFAULT_TEMPERATURE_MAX):
            migrated[CONF_TEMPERATURE_MIN], migrated[CONF_TEMPERATURE_MAX] = pair
    return migrated
