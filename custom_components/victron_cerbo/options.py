"""The entry options, read once per setup with one rule.

Number selectors store floats (older entries may hold strings); anything unusable (empty, not
a number, NaN, a bool) falls back to the default, and intervals and budgets are clamped to what
the sources can bear. The setup reads the options here once and hands the result to the
coordinators and the comparison; a change in the options form reloads the entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Final

from .const import (
    CONF_BUDGET_LIMIT,
    CONF_BUDGET_WARNING,
    CONF_FOLLOW_SYSTEM_BATTERY,
    CONF_LOCAL_FAST_INTERVAL,
    CONF_SHOW_DASHBOARD,
    CONF_SOLARK_DWELL,
    CONF_SOLARK_ENTITY,
    CONF_SOLARK_THRESHOLD,
    CONF_VRM_POLL_INTERVAL,
    DEFAULT_BUDGET_LIMIT,
    DEFAULT_BUDGET_WARNING,
    DEFAULT_LOCAL_FAST_INTERVAL,
    DEFAULT_SHOW_DASHBOARD,
    DEFAULT_SOLARK_DWELL,
    DEFAULT_SOLARK_THRESHOLD,
    DEFAULT_VRM_POLL_INTERVAL,
    MIN_VRM_POLL_INTERVAL,
)
from .limits import Thresholds, option_number, temperature_range, voltage_range

if TYPE_CHECKING:
    from collections.abc import Mapping

    from homeassistant.config_entries import ConfigEntry

CONF_HISTORY_DAYS: Final = "history_days"
DEFAULT_HISTORY_DAYS: Final = 14
MAX_HISTORY_DAYS: Final = 30  # VRM answers at most 31 days of hours per request
# the health insight's judgement: the original design's LiFePO4 figures
CONF_END_OF_LIFE_SOH: Final = "end_of_life_soh"
DEFAULT_END_OF_LIFE_SOH: Final = 70  # %
CONF_RATED_CYCLES: Final = "rated_cycles"
DEFAULT_RATED_CYCLES: Final = 6000
CONF_FULL_CHARGE_DAYS: Final = "full_charge_days"
DEFAULT_FULL_CHARGE_DAYS: Final = 14
MIN_FAST_INTERVAL: Final = 5  # seconds; the Cerbo's API server is single-threaded
MAX_FAST_INTERVAL: Final = 3600


def _option_int(options: Mapping[str, Any], key: str, default: int) -> int:
    return int(option_number(options.get(key), default))


def fast_interval(options: Mapping[str, Any]) -> int:
    """The local fast-tier interval in seconds, clamped to a sane range."""
    seconds = _option_int(options, CONF_LOCAL_FAST_INTERVAL, DEFAULT_LOCAL_FAST_INTERVAL)
    return min(max(seconds, MIN_FAST_INTERVAL), MAX_FAST_INTERVAL)


def vrm_poll_interval(options: Mapping[str, Any]) -> int:
    """The VRM poll interval in seconds, never below what keeps within VRM's rate limit."""
    seconds = _option_int(options, CONF_VRM_POLL_INTERVAL, DEFAULT_VRM_POLL_INTERVAL)
    return max(MIN_VRM_POLL_INTERVAL, seconds)


def budget_thresholds(options: Mapping[str, Any]) -> tuple[int, int]:
    """(warning, limit) of the VRM request budget, made consistent."""
    limit = max(1, _option_int(options, CONF_BUDGET_LIMIT, DEFAULT_BUDGET_LIMIT))
    warning = min(limit, max(0, _option_int(options, CONF_BUDGET_WARNING, DEFAULT_BUDGET_WARNING)))
    return warning, limit


def history_days(options: Mapping[str, Any]) -> int:
    """Days of VRM history to import, 0 (off) to MAX_HISTORY_DAYS."""
    days = _option_int(options, CONF_HISTORY_DAYS, DEFAULT_HISTORY_DAYS)
    return min(max(days, 0), MAX_HISTORY_DAYS)


def _clamped(options: Mapping[str, Any], key: str, default: int, low: int, high: int) -> int:
    return min(max(_option_int(options, key, default), low), high)


@dataclass(frozen=True, kw_only=True)
class ComparisonSettings:
    """The Sol-Ark comparison options of an entry."""

    entity_id: str
    threshold: float
    dwell: timedelta

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> ComparisonSettings | None:
        """None when no inverter entity is configured."""
        entity_id = options.get(CONF_SOLARK_ENTITY)
        if not isinstance(entity_id, str) or not entity_id:
            return None
        threshold = option_number(options.get(CONF_SOLARK_THRESHOLD), DEFAULT_SOLARK_THRESHOLD)
        dwell = option_number(options.get(CONF_SOLARK_DWELL), DEFAULT_SOLARK_DWELL)
        return cls(entity_id=entity_id, threshold=float(threshold), dwell=timedelta(seconds=dwell))


@dataclass(frozen=True, kw_only=True)
class EntryOptions:
    """Everything the entry options decide while the entry is loaded."""

    local_fast_interval: int
    vrm_poll_interval: int
    budget_warning: int
    budget_limit: int
    follow_system_battery: bool
    thresholds: Thresholds
    comparison: ComparisonSettings | None
    show_dashboard: bool
    # the dashboard's bands: the nominal voltage's, else the user's own ends (°C)
    voltage_band: tuple[float, float]
    temperature_band: tuple[float, float]
    history_days: int = DEFAULT_HISTORY_DAYS
    end_of_life_soh: int = DEFAULT_END_OF_LIFE_SOH
    rated_cycles: int = DEFAULT_RATED_CYCLES
    full_charge_days: int = DEFAULT_FULL_CHARGE_DAYS

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> EntryOptions:
        """Read every option; see the module docstring for the rule."""
        warning, limit = budget_thresholds(options)
        follow = options.get(CONF_FOLLOW_SYSTEM_BATTERY)
        show_dashboard = options.get(CONF_SHOW_DASHBOARD)
        return cls(
            local_fast_interval=fast_interval(options),
            vrm_poll_interval=vrm_poll_interval(options),
            budget_warning=warning,
            budget_limit=limit,
            follow_system_battery=follow if isinstance(follow, bool) else False,
            thresholds=Thresholds.from_options(options),
            comparison=ComparisonSettings.from_options(options),
            show_dashboard=(
                show_dashboard if isinstance(show_dashboard, bool) else DEFAULT_SHOW_DASHBOARD
            ),
            voltage_band=voltage_range(options),
            temperature_band=temperature_range(options),
            history_days=history_days(options),
            end_of_life_soh=_clamped(options, CONF_END_OF_LIFE_SOH, DEFAULT_END_OF_LIFE_SOH, 1, 99),
            rated_cycles=_clamped(options, CONF_RATED_CYCLES, DEFAULT_RATED_CYCLES, 1, 100_000),
            full_charge_days=_clamped(
                options, CONF_FULL_CHARGE_DAYS, DEFAULT_FULL_CHARGE_DAYS, 1, 365
            ),
        )

    @classmethod
    def from_entry(cls, entry: ConfigEntry) -> EntryOptions:
        """Read the options of a config entry."""
        return cls.from_options(entry.options)
