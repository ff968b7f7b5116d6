"""Battery health insight from hourly statistics: ageing, cycles, balance, heat, risk, scores.

Plain Python, no Home Assistant imports: the caller reads the recorder's hourly statistics
(`statistics_during_period`, period "hour") and hands them in as `HourStat` (mean, min, max) or
`HourSum` (sum) rows with the hour's start in unix seconds (`hour_stats` and `hour_sums` convert
the recorder's rows; a value that is not a finite number becomes None). Every figure says what
it is based on (the first hour used, the end of the last hour used, the hourly rows used) and,
when a value is None, why (`reason`, a key for a translated text).

Rules shared by all figures:
- Only complete hours count (start + 1 h <= now); rows with a None value are skipped.
- A "day" is a 24-hour block counted back from `now` (the last 24 complete hours are day 0), not
  a calendar day: no time zone is needed and the newest day is never empty just after midnight.
- Windows are counted back from `now` the same way (7 days = the last 168 hours).

Figures:
- Ageing: the mean SOH of each day, a least-squares line through them (at least 30 days with a
  mean), its slope per month (a month is 365.25 / 12 days), and the months until the line reaches
  the end-of-life SOH (default 70 %), counted from the line's value on day 0. A flat or rising
  line has no end of life (`not_declining`); a line already at or below it gives 0 months.
- Cycles: installed capacity kWh = Ah x nominal V / 1000. Equivalent full cycles = (charged +
  discharged kWh) / 2 / capacity. The total uses the statistics' running sums (the energy since
  the statistics began), unless the caller passes a lifetime count of equivalent full cycles
  (such as a monitor's total Ah drawn / capacity Ah; a monitor's "charge cycles" count differently),
  which is known before any history.
  Cycles per day use the sums' difference over the last 30 days (at least 7 days of them);
  remaining = rated cycle life (default 6000) - total; end of life = the last hour used +
  remaining / cycles per day.
- Balance: the cell spread of an hour is the max-cell mean minus the min-cell mean (the hourly
  max of one and min of the other may be moments apart, under load, and would overstate it), or
  the hourly mean of a spread statistic (a moment's peak under load or at the top of a charge is
  not an imbalance). Spreads are rounded to 0.1 mV. The day's spread is the
  largest of the last 24 hours; its trend is the least-squares slope (V per day) of the largest
  spread of each of the last 7 days (at least 3 days). Level: healthy up to 0.10 V, moderate
  above 0.10 V, severe above 0.15 V.
- Heat: over the last 7 days, the hours whose mean is above 35 °C and above 45 °C. An hour counts
  whole when its mean is above the limit and not at all otherwise (a short peak inside a cooler
  hour does not count). The mean temperature is the mean of the hourly means (at least 24 of
  them); the extra degradation is 0.4 % of capacity per °C of that mean above 25 °C (the original
  design's "about 4 % per 10 °C", linear, none at or below 25 °C).
- Full charge: the battery was last full at the end of the newest hour whose max SOC (its mean
  when the row has no max) is 99 % or more, or at the newest moment the BMS said full, whichever
  is later. Overdue: more than 14 days (option) ago, or never full in an observed period longer
  than that.
- Deepest discharge: the lowest hourly min SOC (the mean when a row has no min) of the last 7 days.
- Risk score: the sum of the points of each factor present: SOH < 70 % 10, else SOH < 85 % 5;
  cell imbalance alarm 7; a battery module offline 9; weekly mean battery temperature > 45 °C 4;
  more than 5 VE.Bus alarms or errors in a week 6; inverter temperature alarm 5; more than 3 VRM
  connection failures in a day 3; CAN bus errors growing by more than 100 in a day 4. Level: LOW
  below 5, MEDIUM from 5, HIGH from 12, CRITICAL from 20.
- Health scores (0-100, whole numbers; an unknown input takes nothing off and is listed; a score
  none of whose inputs is known is None):
  battery = 100 - 2 x (100 - SOH) [0 to 60] - balance (moderate 10, severe 25)
            - (weekly mean temperature - 25 °C) [0 to 15] - 10 if a full charge is overdue
            - 30 if a module is offline;
  inverter = 100 - 5 x VE.Bus alarms and errors of the week [at most 50]
             - 30 if there is an inverter temperature alarm;
  connectivity = 100 - 10 x VRM connection failures of the day [at most 50]
                 - 20 if CAN bus errors grew by more than 100 in the day;
  overall = 0.5 x battery + 0.3 x inverter + 0.2 x connectivity (of the known scores, their
            weights scaled to 1), each clamped to 0-100 and rounded.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, Final, TypedDict

HOUR: Final = 3600
DAY: Final = 24 * HOUR
MONTH_DAYS: Final = 365.25 / 12

# reasons (translation keys) for a None value
NO_DATA: Final = "no_data"  # no usable row in the window
TOO_SHORT: Final = "too_short"  # rows, but fewer days or hours than the figure needs
NOT_DECLINING: Final = "not_declining"  # SOH flat or rising: no end of life in sight
NO_CAPACITY: Final = "no_capacity"  # the installed capacity or nominal voltage is unknown
NOT_CYCLING: Final = "not_cycling"  # no energy through the battery: no end-of-life date
NEVER_FULL: Final = "never_full"  # not full in the hours given: no date of the last full charge

AGEING_MIN_DAYS: Final = 30
END_OF_LIFE_SOH: Final = 70.0  # %
CYCLE_WINDOW_DAYS: Final = 30
CYCLE_MIN_DAYS: Final = 7
RATED_CYCLES: Final = 6000
WEEK_DAYS: Final = 7
BALANCE_MIN_DAYS: Final = 3
SPREAD_MODERATE: Final = 0.10  # V
SPREAD_SEVERE: Final = 0.15  # V
HOT: Final = 35.0  # °C
VERY_HOT: Final = 45.0  # °C
REFERENCE_TEMPERATURE: Final = 25.0  # °C
DEGRADATION_PER_DEGREE: Final = 0.4  # % capacity per °C above the reference
HEAT_MIN_HOURS: Final = 24
FULL_SOC: Final = 99.0  # %
FULL_CHARGE_MAX_DAYS: Final = 14


@dataclass(frozen=True, kw_only=True)
class HourStat:
    """One hour of a measurement statistic (the recorder's mean, min and max)."""

    start: int  # unix seconds
    mean: float | None = None
    min: float | None = None
    max: float | None = None


@dataclass(frozen=True, kw_only=True)
class HourSum:
    """One hour of a sum statistic: the running total at the end of the hour."""

    start: int
    sum: float | None = None


def _number(raw: object) -> float | None:
    """A finite number, or None (a missing column, a bool, NaN or infinity)."""
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
        return None
    return float(raw)


def hour_stats(rows: Iterable[Mapping[str, Any]]) -> list[HourStat]:
    """`HourStat` rows from the recorder's statistics rows (start in unix seconds)."""
    return [
        HourStat(
            start=int(row["start"]),
            mean=_number(row.get("mean")),
            min=_number(row.get("min")),
            max=_number(row.get("max")),
        )
        for row in rows
    ]


def hour_sums(rows: Iterable[Mapping[str, Any]]) -> list[HourSum]:
    """`HourSum` rows from the recorder's statistics rows (start in unix seconds)."""
    return [HourSum(start=int(row["start"]), sum=_number(row.get("sum"))) for row in rows]


@dataclass(frozen=True, kw_only=True)
class Figure:
    """What a figure is based on: first hour used, end of the last hour used, rows used."""

    start: int | None = None
    end: int | None = None
    samples: int = 0
    reason: str | None = None  # why a value is None


@dataclass(frozen=True, kw_only=True)
class Ageing(Figure):
    """SOH change per month and the months left until the end-of-life SOH."""

    per_month: float | None = None  # percentage points per month (negative: losing)
    soh: float | None = None  # the fitted line's value on day 0
    months_left: float | None = None
    days: int = 0  # days with a mean


@dataclass(frozen=True, kw_only=True)
class Cycles(Figure):
    """Equivalent full cycles, their rate and the cycles left."""

    capacity_kwh: float | None = None
    total: float | None = None
    throughput_kwh: float | None = None  # charged + discharged within the period
    per_day: float | None = None
    remaining: float | None = None
    end_of_life: int | None = None  # unix seconds


class BalanceLevel(StrEnum):
    """Cell balance levels of the original design."""

    HEALTHY = "healthy"
    MODERATE = "moderate"
    SEVERE = "severe"


@dataclass(frozen=True, kw_only=True)
class Balance(Figure):
    """The day's largest cell spread, its level and its trend."""

    spread: float | None = None  # V
    level: BalanceLevel | None = None
    trend: float | None = None  # V per day
    days: int = 0  # days with a spread, for the trend


@dataclass(frozen=True, kw_only=True)
class Heat(Figure):
    """The week's hot hours, mean temperature and the extra degradation it implies."""

    hours_above_35: int | None = None
    hours_above_45: int | None = None
    mean: float | None = None  # °C
    extra_degradation: float | None = None  # % of capacity


@dataclass(frozen=True, kw_only=True)
class FullCharge(Figure):
    """When the battery was last full and whether that is too long ago."""

    last_full: int | None = None  # unix seconds
    days_since: float | None = None
    overdue: bool | None = None


@dataclass(frozen=True, kw_only=True)
class DeepestDischarge(Figure):
    """The lowest SOC of the last 7 days and the hour it was seen."""

    soc: float | None = None
    at: int | None = None  # the hour's start


class RiskLevel(StrEnum):
    """Risk levels from the score."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


@dataclass(frozen=True, kw_only=True)
class Condition:
    """The installation's current condition, the input of the risk score and health scores.

    None means unknown (the source does not provide it or is down).
    """

    soh: float | None = None  # %
    imbalance_alarm: bool | None = None
    balance_level: BalanceLevel | None = None
    modules_offline: int | None = None
    weekly_mean_temperature: float | None = None  # °C
    full_charge_overdue: bool | None = None
    vebus_alarms_week: int | None = None  # VE.Bus alarms and errors in the last 7 days
    inverter_temperature_alarm: bool | None = None
    vrm_failures_day: int | None = None  # VRM connection failures in the last 24 h
    can_errors_growth_day: int | None = None  # growth of the CAN bus error count in 24 h


@dataclass(frozen=True, kw_only=True)
class Factor:
    """One risk factor present: its key (for a translated action), points and value."""

    key: str
    points: int
    value: float | int | bool


@dataclass(frozen=True, kw_only=True)
class Risk:
    """The risk score, its level, the factors present and the inputs that were unknown."""

    score: int
    level: RiskLevel
    factors: tuple[Factor, ...]
    unknown: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class Score:
    """One health score (0-100) and what took points off."""

    value: int | None
    deductions: dict[str, float] = field(default_factory=dict)
    unknown: tuple[str, ...] = ()
    reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class HealthScores:
    """The four health scores."""

    battery: Score
    inverter: Score
    connectivity: Score
    overall: Score


RISK_MEDIUM: Final = 5
RISK_HIGH: Final = 12
RISK_CRITICAL: Final = 20
SOH_CRITICAL: Final = 70.0
SOH_LOW: Final = 85.0
VEBUS_ALARMS_MAX: Final = 5
VRM_FAILURES_MAX: Final = 3
CAN_GROWTH_MAX: Final = 100
HOT_WEEK: Final = 45.0

RISK_POINTS: Final = {
    "soh_critical": 10,
    "soh_low": 5,
    "cell_imbalance": 7,
    "module_offline": 9,
    "battery_hot": 4,
    "vebus_alarms": 6,
    "inverter_temperature": 5,
    "vrm_connection": 3,
    "can_errors": 4,
}


def _complete(rows: Iterable[HourStat], now: int, days: int | None = None) -> list[HourStat]:
    """The complete hours, oldest first, within the last `days` days (None: all)."""
    since = None if days is None else now - days * DAY
    return sorted(
        (row for row in rows if row.start + HOUR <= now and (since is None or row.start >= since)),
        key=lambda row: row.start,
    )


def _day(start: int, now: int) -> int:
    """The day back from now that the hour starting at `start` belongs to (0: newest)."""
    return (now - start - HOUR) // DAY


def _fit(points: Sequence[tuple[float, float]]) -> tuple[float, float]:
    """Least-squares slope and intercept of y over x (the callers give distinct days)."""
    count = len(points)
    mean_x = math.fsum(x for x, _ in points) / count
    mean_y = math.fsum(y for _, y in points) / count
    sxx = math.fsum((x - mean_x) ** 2 for x, _ in points)
    slope = math.fsum((x - mean_x) * (y - mean_y) for x, y in points) / sxx
    return slope, mean_y - slope * mean_x


class _Basis(TypedDict):
    start: int | None
    end: int | None
    samples: int


def _basis(rows: Sequence[HourStat]) -> _Basis:
    """First hour used, end of the last one and the rows used (rows oldest first)."""
    if not rows:
        return {"start": None, "end": None, "samples": 0}
    return {"start": rows[0].start, "end": rows[-1].start + HOUR, "samples": len(rows)}


def ageing(soh: Iterable[HourStat], now: int, *, end_of_life: float = END_OF_LIFE_SOH) -> Ageing:
    """SOH change per month over all days given (at least 30 with a mean)."""
    rows = [row for row in _complete(soh, now) if row.mean is not None]
    by_day: dict[int, list[float]] = {}
    for row in rows:
        assert row.mean is not None
        by_day.setdefault(_day(row.start, now), []).append(row.mean)
    basis = _basis(rows)
    if not rows:
        return Ageing(**basis, reason=NO_DATA)
    if len(by_day) < AGEING_MIN_DAYS:
        return Ageing(**basis, days=len(by_day), reason=TOO_SHORT)
    points = [(-float(day), math.fsum(values) / len(values)) for day, values in by_day.items()]
    slope, today = _fit(points)
    per_month = slope * MONTH_DAYS
    months_left: float | None
    reason = None
    if today <= end_of_life:
        months_left = 0.0
    elif per_month < 0:
        months_left = (today - end_of_life) / -per_month
    else:
        months_left, reason = None, NOT_DECLINING
    return Ageing(
        **basis,
        days=len(by_day),
        per_month=per_month,
        soh=today,
        months_left=months_left,
        reason=reason,
    )


def capacity_kwh(capacity_ah: float | None, nominal_voltage: float | None) -> float | None:
    """Installed capacity in kWh (None: unknown or not positive)."""
    if capacity_ah is None or nominal_voltage is None or capacity_ah <= 0 or nominal_voltage <= 0:
        return None
    return capacity_ah * nominal_voltage / 1000


def cycles(
    charged: Iterable[HourSum],
    discharged: Iterable[HourSum],
    now: int,
    *,
    capacity_ah: float | None,
    nominal_voltage: float | None,
    rated: float = RATED_CYCLES,
    lifetime_cycles: float | None = None,
) -> Cycles:
    """Equivalent full cycles from charged and discharged kWh (running sums)."""
    capacity = capacity_kwh(capacity_ah, nominal_voltage)
    if capacity is None:
        return Cycles(reason=NO_CAPACITY)
    ins = {row.start: row.sum for row in charged if row.sum is not None}
    outs = {row.start: row.sum for row in discharged if row.sum is not None}
    hours = sorted(hour for hour in ins.keys() & outs.keys() if hour + HOUR <= now)
    if len(hours) < 2:  # noqa: PLR2004 - a difference needs two sums
        # a lifetime count needs no history: the total is known from the first poll
        if lifetime_cycles is None:
            return Cycles(capacity_kwh=capacity, reason=NO_DATA)
        return Cycles(
            capacity_kwh=capacity,
            total=lifetime_cycles,
            remaining=max(rated - lifetime_cycles, 0.0),
            reason=NO_DATA,
        )
    last = hours[-1]
    total = (
        lifetime_cycles if lifetime_cycles is not None else (ins[last] + outs[last]) / 2 / capacity
    )
    remaining = max(rated - total, 0.0)
    # the sum of the newest hour ending at or before the window's start counts from there
    window_start = now - CYCLE_WINDOW_DAYS * DAY
    before = [hour for hour in hours if hour + HOUR <= window_start]
    base = before[-1] if before else hours[0]
    used = [hour for hour in hours if hour > base]
    start, end = base + HOUR, last + HOUR
    throughput = ins[last] - ins[base] + outs[last] - outs[base]
    figure = Cycles(
        start=start,
        end=end,
        samples=len(used),
        capacity_kwh=capacity,
        total=total,
        remaining=remaining,
        throughput_kwh=throughput,
    )
    if end - start < CYCLE_MIN_DAYS * DAY:
        return replace(figure, reason=TOO_SHORT)
    per_day = throughput / 2 / capacity / ((end - start) / DAY)
    if per_day <= 0:
        return replace(figure, per_day=0.0, reason=NOT_CYCLING)
    return replace(figure, per_day=per_day, end_of_life=end + round(remaining / per_day * DAY))


def cell_spread(max_cell: Iterable[HourStat], min_cell: Iterable[HourStat]) -> list[HourStat]:
    """Hourly spread rows (max-cell mean minus min-cell mean) for the hours both have."""
    lows = {row.start: row.mean for row in min_cell if row.mean is not None}
    spreads: list[HourStat] = []
    for row in max_cell:
        low = lows.get(row.start)
        if row.mean is None or low is None:
            continue
        spread = row.mean - low
        spreads.append(HourStat(start=row.start, mean=spread, min=spread, max=spread))
    return spreads


def balance_level(spread: float) -> BalanceLevel:
    """Healthy up to 0.10 V, moderate above, severe above 0.15 V."""
    if spread > SPREAD_SEVERE:
        return BalanceLevel.SEVERE
    if spread > SPREAD_MODERATE:
        return BalanceLevel.MODERATE
    return BalanceLevel.HEALTHY


def balance(spread: Iterable[HourStat], now: int) -> Balance:
    """The last 24 hours' largest cell spread and the trend of the last 7 days' maxima."""
    rows: list[HourStat] = []
    values: list[float] = []
    for row in _complete(spread, now, WEEK_DAYS):
        value = row.mean if row.mean is not None else row.max
        if value is not None:
            rows.append(row)
            values.append(round(value, 4))
    by_day: dict[int, float] = {}
    for row, value in zip(rows, values, strict=True):
        day = _day(row.start, now)
        by_day[day] = max(value, by_day.get(day, value))
    basis = _basis(rows)
    today = by_day.get(0)
    fitted = (
        _fit([(-float(day), value) for day, value in by_day.items()])
        if len(by_day) >= BALANCE_MIN_DAYS
        else None
    )
    reason = NO_DATA if today is None else TOO_SHORT if fitted is None else None
    return Balance(
        **basis,
        days=len(by_day),
        spread=today,
        level=None if today is None else balance_level(today),
        trend=None if fitted is None else fitted[0],
        reason=reason if rows else NO_DATA,
    )


def heat(temperature: Iterable[HourStat], now: int) -> Heat:
    """Hot hours of the last 7 days, their mean temperature and the extra degradation."""
    rows = [row for row in _complete(temperature, now, WEEK_DAYS) if row.mean is not None]
    means = [row.mean for row in rows if row.mean is not None]
    basis = _basis(rows)
    if not rows:
        return Heat(**basis, reason=NO_DATA)
    hot = sum(1 for mean in means if mean > HOT)
    very_hot = sum(1 for mean in means if mean > VERY_HOT)
    if len(rows) < HEAT_MIN_HOURS:
        return Heat(**basis, hours_above_35=hot, hours_above_45=very_hot, reason=TOO_SHORT)
    mean = math.fsum(means) / len(means)
    return Heat(
        **basis,
        hours_above_35=hot,
        hours_above_45=very_hot,
        mean=mean,
        extra_degradation=max(mean - REFERENCE_TEMPERATURE, 0.0) * DEGRADATION_PER_DEGREE,
    )


def _peak(row: HourStat) -> float:
    """The hour's max, or its mean when the row has no max (one of them is set)."""
    value = row.max if row.max is not None else row.mean
    assert value is not None
    return value


def full_charge(
    soc: Iterable[HourStat],
    now: int,
    *,
    full_at: Iterable[int] = (),
    max_days: float = FULL_CHARGE_MAX_DAYS,
) -> FullCharge:
    """When the battery was last full (SOC max >= 99 % or the BMS said so) and if overdue."""
    rows = [row for row in _complete(soc, now) if row.max is not None or row.mean is not None]
    flags = [moment for moment in full_at if moment <= now]
    basis = _basis(rows)
    if not rows and not flags:
        return FullCharge(**basis, reason=NO_DATA)
    full_hours = [row.start + HOUR for row in rows if _peak(row) >= FULL_SOC]
    moments = full_hours + flags
    if moments:
        last = max(moments)
        days = (now - last) / DAY
        return FullCharge(**basis, last_full=last, days_since=days, overdue=days > max_days)
    # never full in what we saw: overdue once that stretch is longer than allowed
    observed = (now - rows[0].start) / DAY
    if observed > max_days:
        return FullCharge(**basis, overdue=True, reason=NEVER_FULL)
    return FullCharge(**basis, reason=NEVER_FULL)


def deepest_discharge(soc: Iterable[HourStat], now: int) -> DeepestDischarge:
    """The lowest SOC of the last 7 days (hourly min, or mean when a row has no min)."""
    rows: list[HourStat] = []
    lowest: tuple[float, int] | None = None
    for row in _complete(soc, now, WEEK_DAYS):
        value = row.min if row.min is not None else row.mean
        if value is None:
            continue
        rows.append(row)
        if lowest is None or value < lowest[0]:
            lowest = (value, row.start)
    basis = _basis(rows)
    if lowest is None:
        return DeepestDischarge(**basis, reason=NO_DATA)
    return DeepestDischarge(**basis, soc=lowest[0], at=lowest[1])


def risk_level(score: int) -> RiskLevel:
    """LOW below 5, MEDIUM from 5, HIGH from 12, CRITICAL from 20."""
    if score >= RISK_CRITICAL:
        return RiskLevel.CRITICAL
    if score >= RISK_HIGH:
        return RiskLevel.HIGH
    if score >= RISK_MEDIUM:
        return RiskLevel.MEDIUM
    return RiskLevel.LOW


RISK_INPUTS: Final = (
    "soh",
    "imbalance_alarm",
    "modules_offline",
    "weekly_mean_temperature",
    "vebus_alarms_week",
    "inverter_temperature_alarm",
    "vrm_failures_day",
    "can_errors_growth_day",
)


def risk(condition: Condition) -> Risk:
    """The risk score with the original design's weights."""
    present: list[tuple[str, float | int | bool]] = []
    c = condition
    if c.soh is not None and c.soh < SOH_CRITICAL:
        present.append(("soh_critical", c.soh))
    elif c.soh is not None and c.soh < SOH_LOW:
        present.append(("soh_low", c.soh))
    if c.imbalance_alarm:
        present.append(("cell_imbalance", True))
    if c.modules_offline is not None and c.modules_offline > 0:
        present.append(("module_offline", c.modules_offline))
    if c.weekly_mean_temperature is not None and c.weekly_mean_temperature > HOT_WEEK:
        present.append(("battery_hot", c.weekly_mean_temperature))
    if c.vebus_alarms_week is not None and c.vebus_alarms_week > VEBUS_ALARMS_MAX:
        present.append(("vebus_alarms", c.vebus_alarms_week))
    if c.inverter_temperature_alarm:
        present.append(("inverter_temperature", True))
    if c.vrm_failures_day is not None and c.vrm_failures_day > VRM_FAILURES_MAX:
        present.append(("vrm_connection", c.vrm_failures_day))
    if c.can_errors_growth_day is not None and c.can_errors_growth_day > CAN_GROWTH_MAX:
        present.append(("can_errors", c.can_errors_growth_day))
    factors = tuple(Factor(key=key, points=RISK_POINTS[key], value=value) for key, value in present)
    score = sum(factor.points for factor in factors)
    unknown = tuple(name for name in RISK_INPUTS if getattr(c, name) is None)
    return Risk(score=score, level=risk_level(score), factors=factors, unknown=unknown)


def _score(known: dict[str, float], unknown: tuple[str, ...]) -> Score:
    """100 minus the deductions, clamped and rounded; None when no input is known."""
    inputs = [name for name in known if name not in unknown]
    if not inputs:
        return Score(value=None, unknown=unknown, reason=NO_DATA)
    deductions = {name: value for name, value in known.items() if value}
    value = round(min(max(100 - math.fsum(deductions.values()), 0.0), 100.0))
    return Score(value=value, deductions=deductions, unknown=unknown)


BALANCE_DEDUCTION: Final = {
    BalanceLevel.HEALTHY: 0.0,
    BalanceLevel.MODERATE: 10.0,
    BalanceLevel.SEVERE: 25.0,
}
OVERALL_WEIGHTS: Final = {"battery": 0.5, "inverter": 0.3, "connectivity": 0.2}


def health_scores(condition: Condition) -> HealthScores:
    """Battery, inverter, connectivity and overall scores (formulas in the module docstring)."""
    c = condition

    def off(name: str, value: float) -> tuple[str, float]:
        return name, (0.0 if getattr(c, name) is None else value)

    def unknown(*names: str) -> tuple[str, ...]:
        return tuple(name for name in names if getattr(c, name) is None)

    temperature = c.weekly_mean_temperature
    battery = _score(
        dict(
            [
                off("soh", min(max(2 * (100 - (c.soh or 0)), 0.0), 60.0)),
                off("balance_level", BALANCE_DEDUCTION[c.balance_level or BalanceLevel.HEALTHY]),
                off(
                    "weekly_mean_temperature",
                    min(max((temperature or 0) - REFERENCE_TEMPERATURE, 0.0), 15.0),
                ),
                off("full_charge_overdue", 10.0 if c.full_charge_overdue else 0.0),
                off("modules_offline", 30.0 if (c.modules_offline or 0) > 0 else 0.0),
            ]
        ),
        unknown(
            "soh",
            "balance_level",
            "weekly_mean_temperature",
            "full_charge_overdue",
            "modules_offline",
        ),
    )
    inverter = _score(
        dict(
            [
                off("vebus_alarms_week", min(5.0 * (c.vebus_alarms_week or 0), 50.0)),
                off("inverter_temperature_alarm", 30.0 if c.inverter_temperature_alarm else 0.0),
            ]
        ),
        unknown("vebus_alarms_week", "inverter_temperature_alarm"),
    )
    connectivity = _score(
        dict(
            [
                off("vrm_failures_day", min(10.0 * (c.vrm_failures_day or 0), 50.0)),
                off(
                    "can_errors_growth_day",
                    20.0 if (c.can_errors_growth_day or 0) > CAN_GROWTH_MAX else 0.0,
                ),
            ]
        ),
        unknown("vrm_failures_day", "can_errors_growth_day"),
    )
    parts = {"battery": battery, "inverter": inverter, "connectivity": connectivity}
    known = {name: score.value for name, score in parts.items() if score.value is not None}
    if not known:
        overall = Score(value=None, unknown=tuple(parts), reason=NO_DATA)
    else:
        weight = math.fsum(OVERALL_WEIGHTS[name] for name in known)
        value = math.fsum(OVERALL_WEIGHTS[name] * known[name] for name in known) / weight
        overall = Score(
            value=round(value), unknown=tuple(name for name in parts if name not in known)
        )
    return HealthScores(
        battery=battery, inverter=inverter, connectivity=connectivity, overall=overall
    )


# Grid quality (the read-only part of the original design's phase 3)
FREQUENCY_DEVIATION: Final = 0.2  # Hz
SAG_RATIO: Final = 215 / 230  # 215 V on a 230 V grid, 112 V on a 120 V grid
HIGH_VOLTAGE_GRID_FROM: Final = 160.0  # V: at or above, a 230 V class grid, else 120 V class


class GridStress(StrEnum):
    """How stressed the AC input is: no reason, one reason, two or more."""

    NORMAL = "normal"
    ELEVATED = "elevated"
    HIGH = "high"


@dataclass(frozen=True, kw_only=True)
class GridQuality:
    """The AC input's stress level, its reasons and the nominal values judged against."""

    level: GridStress
    reasons: tuple[str, ...]  # "frequency", "voltage_sag", "over_current_limit"
    nominal_voltage: float
    nominal_frequency: float


def grid_quality(
    voltage: float | None,
    frequency: float | None,
    current: float | None = None,
    current_limit: float | None = None,
) -> GridQuality | None:
    """The grid's stress from one reading of the AC input; None without a grid on the input.

    The nominal voltage is 230 V from 160 V up (a 230 V grid that sags below 160 V has tripped
    the inverter off it long before), else 120 V; the nominal frequency is 50 Hz below 55 Hz,
    else 60 Hz. A missing current or limit leaves that reason out.
    """
    if voltage is None or frequency is None or voltage <= 0 or frequency <= 0:
        return None
    nominal_voltage = 230.0 if voltage >= HIGH_VOLTAGE_GRID_FROM else 120.0
    nominal_frequency = 50.0 if frequency < 55 else 60.0  # noqa: PLR2004 - between 50 and 60
    reasons: list[str] = []
    # rounded so that 50.2 Hz is at the limit, not 0.20000000000000284 Hz beyond it
    if round(abs(frequency - nominal_frequency), 3) > FREQUENCY_DEVIATION:
        reasons.append("frequency")
    if voltage < round(nominal_voltage * SAG_RATIO, 1):  # 215.0 V, 112.2 V
        reasons.append("voltage_sag")
    if current is not None and current_limit is not None and 0 < current_limit < current:
        reasons.append("over_current_limit")
    level = (
        GridStress.NORMAL
        if not reasons
        else GridStress.ELEVATED
        if len(reasons) == 1
        else GridStress.HIGH
    )
    return GridQuality(
        level=level,
        reasons=tuple(reasons),
        nominal_voltage=nominal_voltage,
        nominal_frequency=nominal_frequency,
    )


def nominal_battery_voltage(voltage: float | None) -> float | None:
    """The nominal voltage of a 12, 24 or 48 V class battery bank from its present voltage.

    LiFePO4 nominals (12.8, 25.6, 51.2 V) since the rated cycle life default is LiFePO4's;
    a lead-acid bank's 12/24/48 V differ by 7 %.
    """
    if voltage is None or voltage <= 0:
        return None
    if voltage < 18:  # noqa: PLR2004
        return 12.8
    if voltage < 36:  # noqa: PLR2004
        return 25.6
    return 51.2
