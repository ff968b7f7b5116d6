"""Battery problems: each judged from one value against the limits in force.

The battery view (`battery.py`) judges every problem once per update, so a problem sensor
writes its state only when its verdict or what it is judged against changes, not each time
the value it watches moves.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from .api.victron import ALARM_LEVELS
from .limits import Limits
from .sources import GridStatus

# Seconds: as long as a VRM sample is served live. Older values (a fleet's BatterySummary, read
# in turns) are shown with their age, not judged.
JUDGED_WITHIN: Final = 600
CELL_IMBALANCE_SPREAD: Final = 0.10  # V between the highest and the lowest cell
CELL_IMBALANCE_CRITICAL: Final = 0.15  # V
SOH_DEGRADED_BELOW: Final = 85.0  # %


@dataclass(frozen=True, kw_only=True)
class Problem:
    """How to judge one value of `sources.VALUES`."""

    value: str
    is_on_fn: Callable[[Any, Limits], bool]
    attributes_fn: Callable[[Any, Limits], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Verdict:
    """A judged problem: on or off (None while the value is unknown) and what explains it."""

    on: bool | None
    attributes: Mapping[str, Any]


def _severity(spread: float) -> str:
    if spread > CELL_IMBALANCE_CRITICAL:
        return "critical"
    if spread > CELL_IMBALANCE_SPREAD:
        return "warning"
    return "ok"


def _alarm_attributes(alarms: Mapping[str, int] | None, _: Limits) -> dict[str, Any]:
    raised = {name: ALARM_LEVELS[level] for name, level in (alarms or {}).items() if level}
    highest = max((alarms or {}).values(), default=0)
    return {"alarms": raised, "level": ALARM_LEVELS[highest]}


def _grid_attributes(grid: GridStatus, _: Limits) -> dict[str, Any]:
    return {
        "alarm": ALARM_LEVELS.get(grid.alarm) if grid.alarm is not None else None,
        "ac_input_connected": grid.ac_input_connected,
        "active_input": grid.active_input,
    }


# By the key of the binary sensor that shows each.
PROBLEMS: Final[Mapping[str, Problem]] = {
    "voltage_out_of_range": Problem(
        value="voltage",
        is_on_fn=lambda v, limits: limits.voltage.outside(v),
        attributes_fn=lambda _, limits: limits.voltage.attributes(),
    ),
    "temperature_out_of_range": Problem(
        value="temperature",
        is_on_fn=lambda v, limits: limits.temperature.outside(v),
        attributes_fn=lambda _, limits: limits.temperature.attributes(),
    ),
    "low_soc": Problem(
        value="soc",
        is_on_fn=lambda v, limits: v <= limits.low_soc,
        attributes_fn=lambda _, limits: {"threshold": limits.low_soc},
    ),
    "grid_lost": Problem(
        value="grid",
        is_on_fn=lambda grid, _: grid.lost,
        attributes_fn=_grid_attributes,
    ),
    "cell_imbalance": Problem(
        value="cell_voltage_spread",
        is_on_fn=lambda spread, _: spread > CELL_IMBALANCE_SPREAD,
        attributes_fn=lambda spread, _: {"severity": _severity(spread)},
    ),
    "soh_degraded": Problem(
        value="soh",
        is_on_fn=lambda soh, _: soh < SOH_DEGRADED_BELOW,
        attributes_fn=lambda _, __: {"threshold": SOH_DEGRADED_BELOW},
    ),
    "battery_alarm": Problem(
        value="alarms",
        is_on_fn=lambda alarms, _: any(alarms.values()),
        attributes_fn=_alarm_attributes,
    ),
}


def judge(
    problem: Problem, value: Any, shown_attributes: Mapping[str, Any], limits: Limits
) -> Verdict:
    """The verdict on a served value; its source and age come along as attributes.

    No verdict (None) on a value older than JUDGED_WITHIN: it is shown with its age, but a
    problem sensor must not stay on, or off, for hours on it.
    """
    age = shown_attributes.get("data_age")
    if value is None or (age is not None and age > JUDGED_WITHIN):
        return Verdict(None, dict(shown_attributes))
    return Verdict(
        problem.is_on_fn(value, limits),
        {**shown_attributes, **problem.attributes_fn(value, limits)},
    )
