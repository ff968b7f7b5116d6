"""Battery health insight over hand-made hourly statistics (plain functions, no hass)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from custom_components.victron_cerbo.insight import (
    DAY,
    HOUR,
    MONTH_DAYS,
    NEVER_FULL,
    NO_CAPACITY,
    NO_DATA,
    NOT_CYCLING,
    NOT_DECLINING,
    TOO_SHORT,
    BalanceLevel,
    Condition,
    GridStress,
    HourStat,
    HourSum,
    RiskLevel,
    ageing,
    balance,
    balance_level,
    capacity_kwh,
    cell_spread,
    cycles,
    deepest_discharge,
    full_charge,
    grid_quality,
    health_scores,
    heat,
    hour_stats,
    hour_sums,
    nominal_battery_voltage,
    risk,
    risk_level,
)

NOW = int(datetime(2026, 12, 1, tzinfo=UTC).timestamp())


def series(hours: int, mean: Callable[[int], float | None], *, until: int = NOW) -> list[HourStat]:
    """`hours` hourly rows ending at `until`; mean(k) gets the hour's start; min = max = mean."""
    rows = []
    for index in range(hours):
        start = until - (hours - index) * HOUR
        value = mean(start)
        rows.append(HourStat(start=start, mean=value, min=value, max=value))
    return rows


def day_back(start: int) -> int:
    return (NOW - start - HOUR) // DAY


def test_recorder_rows_are_converted() -> None:
    """The shape `statistics_during_period` gives: start as float seconds, columns optional."""
    rows = [
        {"start": 1764547200.0, "end": 1764550800.0, "mean": 3.3, "min": 3, "max": 3.4},
        {"start": 1764550800.0, "mean": None, "min": float("nan"), "max": float("inf")},
        {"start": 1764554400.0, "mean": True, "max": "3.5"},
    ]
    assert hour_stats(rows) == [
        HourStat(start=1764547200, mean=3.3, min=3.0, max=3.4),
        HourStat(start=1764550800),
        HourStat(start=1764554400),
    ]
    assert hour_sums([{"start": 1764547200.0, "sum": 12.5}, {"start": 1764550800.0}]) == [
        HourSum(start=1764547200, sum=12.5),
        HourSum(start=1764550800),
    ]
    assert isinstance(hour_stats(rows)[0].min, float)
    assert [type(row.start) for row in hour_stats(rows[:1]) + hour_sums(rows[:1])] == [int, int]


# --- ageing -------------------------------------------------------------------------------


def soh_line(start: int) -> float:
    """90 % today, 0.1 point more for each day back; +-1 alternating within a day (mean: line)."""
    return 90 + 0.1 * day_back(start) + (1 if (start // HOUR) % 2 else -1)


def test_ageing_of_two_months_of_decline() -> None:
    result = ageing(series(60 * 24, soh_line), NOW)
    per_month = -0.1 * MONTH_DAYS
    assert result.per_month == pytest.approx(per_month, abs=1e-9)
    assert per_month == pytest.approx(-3.04375)
    assert result.soh == pytest.approx(90, abs=1e-9)
    assert result.months_left == pytest.approx(20 / 3.04375, abs=1e-9)
    assert result.reason is None
    assert (result.start, result.end, result.samples, result.days) == (
        NOW - 60 * DAY,
        NOW,
        60 * 24,
        60,
    )


def test_ageing_end_of_life_is_an_option() -> None:
    result = ageing(series(60 * 24, soh_line), NOW, end_of_life=80)
    assert result.months_left == pytest.approx(10 / 3.04375, abs=1e-9)


def test_ageing_needs_thirty_days() -> None:
    short = ageing(series(29 * 24, soh_line), NOW)
    assert (short.per_month, short.months_left, short.reason) == (None, None, TOO_SHORT)
    assert (short.days, short.samples, short.start) == (29, 29 * 24, NOW - 29 * DAY)
    enough = ageing(series(30 * 24, soh_line), NOW)
    assert enough.reason is None
    assert enough.days == 30
    assert enough.per_month == pytest.approx(-3.04375, abs=1e-9)


def test_ageing_counts_days_not_hours() -> None:
    """One hour a day for 30 days is 30 days; an unfinished hour is not used."""
    rows = [HourStat(start=NOW - (day * 24 + 1) * HOUR, mean=95.0 - 0.0 * day) for day in range(30)]
    rows.append(HourStat(start=NOW, mean=0.0))  # the hour now running
    result = ageing(rows, NOW)
    assert (result.days, result.samples, result.per_month) == (30, 30, 0.0)
    assert (result.months_left, result.reason) == (None, NOT_DECLINING)


def test_ageing_without_data() -> None:
    assert ageing([], NOW).reason == NO_DATA
    empty = ageing(series(40 * 24, lambda _: None), NOW)
    assert (empty.reason, empty.samples, empty.per_month) == (NO_DATA, 0, None)


def test_ageing_rising_soh_has_no_end_of_life() -> None:
    result = ageing(series(40 * 24, lambda start: 90 - 0.05 * day_back(start)), NOW)
    assert result.per_month == pytest.approx(0.05 * MONTH_DAYS, abs=1e-9)
    assert (result.months_left, result.reason) == (None, NOT_DECLINING)


def test_ageing_at_or_below_end_of_life_has_no_months_left() -> None:
    result = ageing(series(40 * 24, lambda start: 70 + 0.1 * day_back(start)), NOW)
    assert result.soh == pytest.approx(70, abs=1e-9)
    assert (result.months_left, result.reason) == (0.0, None)
    flat = ageing(series(40 * 24, lambda _: 70.0), NOW)
    assert (flat.per_month, flat.months_left, flat.reason) == (0.0, 0.0, None)


# --- cycles -------------------------------------------------------------------------------

CAPACITY = {"capacity_ah": 200.0, "nominal_voltage": 51.2}  # 10.24 kWh
PER_HOUR = 10.24 / 24  # one full cycle a day: 10.24 kWh in and out


def sums(hours: int, per_hour: float = PER_HOUR, *, until: int = NOW) -> list[HourSum]:
    return [
        HourSum(start=until - (hours - index) * HOUR, sum=index * per_hour)
        for index in range(hours)
    ]


def test_capacity() -> None:
    assert capacity_kwh(200, 51.2) == pytest.approx(10.24)
    assert capacity_kwh(None, 51.2) is None
    assert capacity_kwh(200, None) is None
    assert capacity_kwh(0, 51.2) is None
    assert capacity_kwh(200, -1) is None


def test_cycles_of_two_months_at_one_a_day() -> None:
    result = cycles(sums(60 * 24), sums(60 * 24), NOW, **CAPACITY)
    total = (60 * 24 - 1) / 24  # the sums count from the first hour's end
    assert result.capacity_kwh == pytest.approx(10.24)
    assert result.total == pytest.approx(total, abs=1e-9)
    assert result.per_day == pytest.approx(1.0, abs=1e-9)
    assert result.throughput_kwh == pytest.approx(2 * 30 * 10.24, abs=1e-9)
    assert result.remaining == pytest.approx(6000 - total, abs=1e-9)
    assert result.end_of_life == NOW + round((6000 - total) * DAY)
    assert (result.start, result.end, result.samples, result.reason) == (
        NOW - 30 * DAY,
        NOW,
        30 * 24,
        None,
    )


def test_cycles_window_when_now_is_within_an_hour() -> None:
    result = cycles(sums(60 * 24), sums(60 * 24), NOW + HOUR // 2, **CAPACITY)
    assert (result.start, result.end, result.samples) == (NOW - 30 * DAY, NOW, 30 * 24)
    assert result.per_day == pytest.approx(1.0, abs=1e-9)


def test_cycles_rated_life_and_lifetime_count_are_options() -> None:
    result = cycles(sums(60 * 24), sums(60 * 24), NOW, **CAPACITY, rated=3000, lifetime_cycles=1000)
    assert (result.total, result.remaining) == (1000, 2000)
    assert result.end_of_life == NOW + 2000 * DAY
    worn = cycles(sums(60 * 24), sums(60 * 24), NOW, **CAPACITY, lifetime_cycles=7000)
    assert (worn.remaining, worn.end_of_life) == (0.0, NOW)


def test_cycles_per_day_counts_only_the_energy_of_the_period() -> None:
    """Half a cycle a day discharged, one charged: 0.75 cycles a day."""
    result = cycles(sums(60 * 24), sums(60 * 24, PER_HOUR / 2), NOW, **CAPACITY)
    assert result.per_day == pytest.approx(0.75, abs=1e-9)


def test_cycles_need_seven_days() -> None:
    """The period runs from the end of the first hour: 7 days need 7 days and an hour of rows."""
    enough = cycles(sums(7 * 24 + 1), sums(7 * 24 + 1), NOW, **CAPACITY)
    assert (enough.start, enough.end, enough.samples) == (NOW - 7 * DAY, NOW, 7 * 24)
    assert enough.per_day == pytest.approx(1.0, abs=1e-9)
    assert enough.reason is None
    short = cycles(sums(7 * 24), sums(7 * 24), NOW, **CAPACITY)
    assert (short.per_day, short.end_of_life, short.reason) == (None, None, TOO_SHORT)
    assert short.total == pytest.approx((7 * 24 - 1) / 24, abs=1e-9)
    assert short.start == NOW - 7 * DAY + HOUR


def test_cycles_use_only_hours_both_sums_have() -> None:
    charged = sums(60 * 24)
    discharged = sums(60 * 24)[:-24]  # discharged a day behind
    result = cycles(charged, discharged, NOW, **CAPACITY)
    assert result.end == NOW - DAY
    assert result.per_day == pytest.approx(1.0, abs=1e-9)
    # an unfinished hour is not used
    running = [*charged, HourSum(start=NOW, sum=1e6)]
    assert cycles(running, [*sums(60 * 24), HourSum(start=NOW, sum=1e6)], NOW, **CAPACITY) == (
        cycles(charged, sums(60 * 24), NOW, **CAPACITY)
    )


def test_cycles_without_capacity() -> None:
    for capacity in (
        {"capacity_ah": None, "nominal_voltage": 51.2},
        {"capacity_ah": 200.0, "nominal_voltage": None},
        {"capacity_ah": 0.0, "nominal_voltage": 51.2},
    ):
        result = cycles(sums(60 * 24), sums(60 * 24), NOW, **capacity)
        assert (result.total, result.per_day, result.reason) == (None, None, NO_CAPACITY)


def test_cycles_without_data() -> None:
    one = cycles(sums(1), sums(1), NOW, **CAPACITY)
    assert (one.total, one.capacity_kwh, one.reason) == (None, pytest.approx(10.24), NO_DATA)
    assert cycles([], [], NOW, **CAPACITY).reason == NO_DATA
    nones = [HourSum(start=row.start) for row in sums(48)]
    assert cycles(nones, nones, NOW, **CAPACITY).reason == NO_DATA


def test_cycles_lifetime_count_before_any_history() -> None:
    """The monitor's lifetime counters give the total and the remaining from the first poll."""
    result = cycles([], [], NOW, **CAPACITY, rated=3000, lifetime_cycles=1000)
    assert (result.total, result.remaining, result.per_day, result.end_of_life) == (
        1000,
        2000,
        None,
        None,
    )
    assert (result.reason, result.samples, result.start) == (NO_DATA, 0, None)
    worn = cycles(sums(1), sums(1), NOW, **CAPACITY, rated=3000, lifetime_cycles=3500)
    assert (worn.total, worn.remaining) == (3500, 0.0)


def test_cycles_of_an_idle_battery() -> None:
    result = cycles(sums(60 * 24, 0.0), sums(60 * 24, 0.0), NOW, **CAPACITY)
    assert (result.total, result.per_day, result.remaining) == (0.0, 0.0, 6000)
    assert (result.end_of_life, result.reason) == (None, NOT_CYCLING)


# --- balance ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spread", "level"),
    [
        (0.0, BalanceLevel.HEALTHY),
        (0.10, BalanceLevel.HEALTHY),
        (0.1001, BalanceLevel.MODERATE),
        (0.15, BalanceLevel.MODERATE),
        (0.1501, BalanceLevel.SEVERE),
    ],
)
def test_balance_levels(spread: float, level: BalanceLevel) -> None:
    assert balance_level(spread) is level


@pytest.mark.parametrize(
    ("high", "low", "spread", "level"),
    [
        (3.40, 3.30, 0.10, BalanceLevel.HEALTHY),  # 3.40 - 3.30 is 0.10000000000000009
        (3.4001, 3.30, 0.1001, BalanceLevel.MODERATE),
        (3.45, 3.30, 0.15, BalanceLevel.MODERATE),
        (3.4501, 3.30, 0.1501, BalanceLevel.SEVERE),
    ],
)
def test_balance_from_cell_voltages(
    high: float, low: float, spread: float, level: BalanceLevel
) -> None:
    result = balance(cell_spread(series(24, lambda _: high), series(24, lambda _: low)), NOW)
    assert (result.spread, result.level) == (spread, level)


def test_cell_spread_uses_the_means_of_hours_both_have() -> None:
    high = [HourStat(start=NOW - 2 * HOUR, mean=3.35, min=3.30, max=3.60)]
    high.append(HourStat(start=NOW - HOUR, mean=3.36))
    low = [HourStat(start=NOW - 2 * HOUR, mean=3.31, min=3.0, max=3.32)]
    low.append(HourStat(start=NOW - 3 * HOUR, mean=3.0))
    (row,) = cell_spread(high, low)
    assert row.start == NOW - 2 * HOUR
    assert (row.mean, row.max) == (pytest.approx(0.04), pytest.approx(0.04))
    assert cell_spread([HourStat(start=NOW - HOUR)], [HourStat(start=NOW - HOUR, mean=3.3)]) == []


def test_balance_trend_of_a_week() -> None:
    """Each day's largest spread grows 10 mV a day; other hours are lower."""

    def spread(start: int) -> float:
        top = 0.02 + 0.01 * (6 - day_back(start))
        return top if (start // HOUR) % 24 == 12 else 0.01

    result = balance(series(10 * 24, spread), NOW)
    assert result.spread == pytest.approx(0.08)
    assert result.level is BalanceLevel.HEALTHY
    assert result.trend == pytest.approx(0.01, abs=1e-9)
    assert (result.days, result.samples, result.start, result.end) == (
        7,
        7 * 24,
        NOW - 7 * DAY,
        NOW,
    )
    assert result.reason is None


def test_balance_uses_a_spread_statistics_mean() -> None:
    """A peak of 0.12 V inside an hour whose mean is 0.05 V is no imbalance."""
    rows = [HourStat(start=NOW - HOUR, mean=0.05, min=0.01, max=0.12)]
    rows.append(HourStat(start=NOW - 2 * HOUR, mean=0.09))
    rows.append(HourStat(start=NOW - 3 * HOUR, max=0.07))  # a row with a max only
    result = balance(rows, NOW)
    assert (result.spread, result.level, result.samples) == (0.09, BalanceLevel.HEALTHY, 3)


def test_balance_trend_needs_three_days() -> None:
    two = balance(series(2 * 24, lambda start: 0.01 * day_back(start)), NOW)
    assert (two.spread, two.trend, two.days, two.reason) == (0.0, None, 2, TOO_SHORT)
    three = balance(series(3 * 24, lambda start: 0.01 * day_back(start)), NOW)
    assert three.trend == pytest.approx(-0.01, abs=1e-9)
    assert three.reason is None


def test_balance_without_data() -> None:
    assert balance([], NOW).reason == NO_DATA
    assert balance([HourStat(start=NOW - HOUR)], NOW).reason == NO_DATA
    # older days only: no spread of today, the trend of the days there are
    old = balance(series(4 * 24, lambda start: 0.01 * day_back(start), until=NOW - DAY), NOW)
    assert (old.spread, old.level, old.reason) == (None, None, NO_DATA)
    assert old.trend == pytest.approx(-0.01, abs=1e-9)


# --- heat ---------------------------------------------------------------------------------


def test_heat_of_a_week() -> None:
    """Hour k of the week: 10 at 40 °C, 5 at 46, 3 at exactly 35, 2 at exactly 45, rest 25."""
    temperatures = [40.0] * 10 + [46.0] * 5 + [35.0] * 3 + [45.0] * 2 + [25.0] * 148
    rows = [
        HourStat(start=NOW - (168 - index) * HOUR, mean=value, min=value, max=value)
        for index, value in enumerate(temperatures)
    ]
    rows[-1] = HourStat(start=NOW - HOUR, mean=30.0, min=20.0, max=50.0)  # a short peak
    rows.append(HourStat(start=NOW - 200 * HOUR, mean=60.0))  # older than a week
    result = heat(rows, NOW)
    mean = (400 + 230 + 105 + 90 + 25 * 147 + 30) / 168
    assert (result.hours_above_35, result.hours_above_45) == (17, 5)
    assert result.mean == pytest.approx(mean, abs=1e-9)
    assert result.extra_degradation == pytest.approx((mean - 25) * 0.4, abs=1e-9)
    assert (result.start, result.end, result.samples, result.reason) == (
        NOW - 7 * DAY,
        NOW,
        168,
        None,
    )


@pytest.mark.parametrize(
    ("temperature", "degradation"), [(35.0, 4.0), (25.0, 0.0), (20.0, 0.0), (25.5, 0.2)]
)
def test_heat_degradation(temperature: float, degradation: float) -> None:
    result = heat(series(24, lambda _: temperature), NOW)
    assert result.extra_degradation == pytest.approx(degradation, abs=1e-9)


def test_heat_needs_a_day_of_hours() -> None:
    short = heat(series(23, lambda _: 50.0), NOW)
    assert (short.hours_above_35, short.hours_above_45, short.samples) == (23, 23, 23)
    assert (short.mean, short.extra_degradation, short.reason) == (None, None, TOO_SHORT)
    assert heat(series(24, lambda _: 50.0), NOW).mean == 50.0
    none = heat([HourStat(start=NOW - HOUR)], NOW)
    assert (none.hours_above_35, none.mean, none.reason) == (None, None, NO_DATA)


# --- full charges -------------------------------------------------------------------------


def soc_full_at(full_start: int, peak: float = 100.0) -> Callable[[int], float]:
    return lambda start: peak if start == full_start else 60.0


def test_days_since_full() -> None:
    full = NOW - 10 * DAY - 5 * HOUR
    result = full_charge(series(30 * 24, soc_full_at(full)), NOW)
    assert result.last_full == full + HOUR
    assert result.days_since == pytest.approx(10 + 4 / 24, abs=1e-9)
    assert (result.overdue, result.reason, result.samples) == (False, None, 30 * 24)


@pytest.mark.parametrize(("peak", "full"), [(99.0, True), (98.9, False)])
def test_full_means_ninety_nine_percent(peak: float, full: bool) -> None:
    result = full_charge(series(5 * 24, soc_full_at(NOW - DAY, peak)), NOW)
    assert (result.last_full is not None) is full


@pytest.mark.parametrize(("hours_ago", "overdue"), [(14 * 24, False), (14 * 24 + 1, True)])
def test_full_charge_overdue_after_fourteen_days(hours_ago: int, overdue: bool) -> None:
    rows = series(30 * 24, soc_full_at(NOW - (hours_ago + 1) * HOUR))
    result = full_charge(rows, NOW)
    assert result.days_since == pytest.approx(hours_ago / 24, abs=1e-9)
    assert result.overdue is overdue
    assert full_charge(rows, NOW, max_days=30).overdue is False


def test_the_bms_saying_full_counts() -> None:
    rows = series(30 * 24, soc_full_at(NOW - 20 * DAY))
    result = full_charge(rows, NOW, full_at=[NOW - 3 * DAY, NOW - 25 * DAY, NOW + HOUR])
    assert (result.last_full, result.overdue) == (NOW - 3 * DAY, False)
    only_flag = full_charge([], NOW, full_at=[NOW - 2 * DAY])
    assert (only_flag.last_full, only_flag.days_since, only_flag.samples) == (NOW - 2 * DAY, 2, 0)


def test_a_mean_of_full_counts_when_a_row_has_no_max() -> None:
    result = full_charge([HourStat(start=NOW - 2 * HOUR, mean=99.5)], NOW)
    assert result.last_full == NOW - HOUR


@pytest.mark.parametrize(("hours", "overdue"), [(14 * 24, None), (14 * 24 + 1, True)])
def test_never_full(hours: int, overdue: bool | None) -> None:
    result = full_charge(series(hours, lambda _: 80.0), NOW)
    assert (result.last_full, result.days_since, result.reason) == (None, None, NEVER_FULL)
    assert result.overdue is overdue


def test_full_charge_without_data() -> None:
    assert full_charge([], NOW).reason == NO_DATA
    result = full_charge([HourStat(start=NOW - HOUR)], NOW, full_at=[NOW + 1])
    assert (result.overdue, result.reason) == (None, NO_DATA)


# --- deepest discharge --------------------------------------------------------------------


def test_deepest_discharge_of_the_week() -> None:
    rows = series(10 * 24, lambda _: 50.0)
    rows[-30] = HourStat(start=rows[-30].start, mean=40.0, min=12.5, max=50.0)
    rows[-3] = HourStat(start=rows[-3].start, mean=11.0)  # no min: its mean
    rows[0] = HourStat(start=rows[0].start, mean=5.0, min=5.0)  # older than a week
    result = deepest_discharge(rows, NOW)
    assert (result.soc, result.at) == (11.0, NOW - 3 * HOUR)
    assert (result.start, result.samples, result.reason) == (NOW - 7 * DAY, 168, None)
    rows[-3] = HourStat(start=rows[-3].start, mean=30.0)
    assert deepest_discharge(rows, NOW).soc == 12.5


def test_deepest_discharge_without_data() -> None:
    result = deepest_discharge([HourStat(start=NOW - HOUR), HourStat(start=NOW, min=1.0)], NOW)
    assert (result.soc, result.at, result.reason, result.samples) == (None, None, NO_DATA, 0)


# --- risk ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("score", "level"),
    [
        (0, RiskLevel.LOW),
        (4, RiskLevel.LOW),
        (5, RiskLevel.MEDIUM),
        (11, RiskLevel.MEDIUM),
        (12, RiskLevel.HIGH),
        (19, RiskLevel.HIGH),
        (20, RiskLevel.CRITICAL),
        (48, RiskLevel.CRITICAL),
    ],
)
def test_risk_levels(score: int, level: RiskLevel) -> None:
    assert risk_level(score) is level


@pytest.mark.parametrize(
    ("condition", "factors"),
    [
        (Condition(soh=69.9), [("soh_critical", 10)]),
        (Condition(soh=70.0), [("soh_low", 5)]),
        (Condition(soh=84.9), [("soh_low", 5)]),
        (Condition(soh=85.0), []),
        (Condition(imbalance_alarm=True), [("cell_imbalance", 7)]),
        (Condition(imbalance_alarm=False), []),
        (Condition(modules_offline=1), [("module_offline", 9)]),
        (Condition(modules_offline=0), []),
        (Condition(weekly_mean_temperature=45.1), [("battery_hot", 4)]),
        (Condition(weekly_mean_temperature=45.0), []),
        (Condition(vebus_alarms_week=6), [("vebus_alarms", 6)]),
        (Condition(vebus_alarms_week=5), []),
        (Condition(inverter_temperature_alarm=True), [("inverter_temperature", 5)]),
        (Condition(inverter_temperature_alarm=False), []),
        (Condition(vrm_failures_day=4), [("vrm_connection", 3)]),
        (Condition(vrm_failures_day=3), []),
        (Condition(can_errors_growth_day=101), [("can_errors", 4)]),
        (Condition(can_errors_growth_day=100), []),
    ],
)
def test_risk_factors(condition: Condition, factors: list[tuple[str, int]]) -> None:
    result = risk(condition)
    assert [(factor.key, factor.points) for factor in result.factors] == factors
    assert result.score == sum(points for _, points in factors)


def test_risk_adds_up_and_says_what_was_unknown() -> None:
    nothing = risk(Condition())
    assert (nothing.score, nothing.level, nothing.factors) == (0, RiskLevel.LOW, ())
    assert len(nothing.unknown) == 8
    high = risk(Condition(soh=69.0, imbalance_alarm=True))
    assert (high.score, high.level) == (17, RiskLevel.HIGH)
    assert [factor.value for factor in high.factors] == [69.0, True]
    assert "soh" not in high.unknown
    assert "imbalance_alarm" not in high.unknown
    assert "modules_offline" in high.unknown
    everything = risk(
        Condition(
            soh=60.0,
            imbalance_alarm=True,
            modules_offline=2,
            weekly_mean_temperature=50.0,
            vebus_alarms_week=9,
            inverter_temperature_alarm=True,
            vrm_failures_day=5,
            can_errors_growth_day=500,
        )
    )
    assert (everything.score, everything.level, everything.unknown) == (
        48,
        RiskLevel.CRITICAL,
        (),
    )
    assert [factor.key for factor in everything.factors] == [
        "soh_critical",
        "cell_imbalance",
        "module_offline",
        "battery_hot",
        "vebus_alarms",
        "inverter_temperature",
        "vrm_connection",
        "can_errors",
    ]


# --- health scores ------------------------------------------------------------------------


def test_health_scores_by_the_formulas() -> None:
    scores = health_scores(
        Condition(
            soh=90.0,
            balance_level=BalanceLevel.MODERATE,
            weekly_mean_temperature=30.0,
            full_charge_overdue=True,
            modules_offline=1,
            vebus_alarms_week=3,
            inverter_temperature_alarm=False,
            vrm_failures_day=2,
            can_errors_growth_day=150,
        )
    )
    assert scores.battery.value == 25  # 100 - 20 - 10 - 5 - 10 - 30
    assert scores.battery.deductions == {
        "soh": 20.0,
        "balance_level": 10.0,
        "weekly_mean_temperature": 5.0,
        "full_charge_overdue": 10.0,
        "modules_offline": 30.0,
    }
    assert scores.inverter.value == 85
    assert scores.connectivity.value == 60
    assert scores.overall.value == 50  # 0.5 x 25 + 0.3 x 85 + 0.2 x 60
    assert scores.battery.unknown == scores.overall.unknown == ()


def test_health_score_deductions_are_capped() -> None:
    scores = health_scores(
        Condition(
            soh=50.0,
            balance_level=BalanceLevel.SEVERE,
            weekly_mean_temperature=50.0,
            vebus_alarms_week=20,
            inverter_temperature_alarm=True,
            vrm_failures_day=9,
            can_errors_growth_day=100,
        )
    )
    assert scores.battery.deductions == {
        "soh": 60.0,
        "balance_level": 25.0,
        "weekly_mean_temperature": 15.0,
    }
    assert scores.battery.value == 0
    assert scores.inverter.value == 20  # 100 - 50 - 30
    assert scores.connectivity.value == 50  # CAN growth of exactly 100 takes nothing
    assert scores.overall.value == 16  # 0 + 6 + 10
    above = health_scores(Condition(soh=101.0)).battery
    assert (above.value, above.deductions) == (100, {})


def test_health_scores_of_what_is_known() -> None:
    scores = health_scores(Condition(soh=90.0, vebus_alarms_week=6))
    assert (scores.battery.value, scores.inverter.value) == (80, 70)
    assert scores.battery.unknown == (
        "balance_level",
        "weekly_mean_temperature",
        "full_charge_overdue",
        "modules_offline",
    )
    assert scores.inverter.unknown == ("inverter_temperature_alarm",)
    assert (scores.connectivity.value, scores.connectivity.reason) == (None, NO_DATA)
    assert scores.overall.value == 76  # (0.5 x 80 + 0.3 x 70) / 0.8
    assert scores.overall.unknown == ("connectivity",)
    nothing = health_scores(Condition())
    assert [
        (score.value, score.reason)
        for score in (nothing.battery, nothing.inverter, nothing.connectivity, nothing.overall)
    ] == [(None, NO_DATA)] * 4


@pytest.mark.parametrize(
    ("reading", "level", "reasons", "nominal"),
    [
        ((230.0, 50.0), GridStress.NORMAL, (), (230.0, 50.0)),
        ((215.0, 50.2), GridStress.NORMAL, (), (230.0, 50.0)),  # both at their limits
        ((214.9, 50.0), GridStress.ELEVATED, ("voltage_sag",), (230.0, 50.0)),
        ((230.0, 50.21), GridStress.ELEVATED, ("frequency",), (230.0, 50.0)),
        ((230.0, 49.79), GridStress.ELEVATED, ("frequency",), (230.0, 50.0)),
        ((200.0, 49.5), GridStress.HIGH, ("frequency", "voltage_sag"), (230.0, 50.0)),
        ((120.0, 60.0), GridStress.NORMAL, (), (120.0, 60.0)),
        ((112.0, 60.0), GridStress.ELEVATED, ("voltage_sag",), (120.0, 60.0)),
        ((113.0, 59.7), GridStress.ELEVATED, ("frequency",), (120.0, 60.0)),
        ((160.0, 50.0), GridStress.ELEVATED, ("voltage_sag",), (230.0, 50.0)),
        ((159.9, 50.0), GridStress.NORMAL, (), (120.0, 50.0)),
    ],
)
def test_grid_quality(
    reading: tuple[float, float],
    level: GridStress,
    reasons: tuple[str, ...],
    nominal: tuple[float, float],
) -> None:
    quality = grid_quality(*reading)
    assert quality is not None
    assert (quality.level, quality.reasons) == (level, reasons)
    assert (quality.nominal_voltage, quality.nominal_frequency) == nominal


def test_grid_quality_input_current_above_its_limit() -> None:
    over = grid_quality(230.0, 50.0, 16.1, 16.0)
    assert over is not None
    assert (over.level, over.reasons) == (GridStress.ELEVATED, ("over_current_limit",))
    at_limit = grid_quality(230.0, 50.0, 16.0, 16.0)
    assert at_limit is not None
    assert at_limit.reasons == ()
    # no limit known, or none set (0): that reason is left out
    for limit in (None, 0.0):
        quality = grid_quality(200.0, 51.0, 30.0, limit)
        assert quality is not None
        assert quality.level is GridStress.HIGH
        assert quality.reasons == ("frequency", "voltage_sag")


@pytest.mark.parametrize(
    "reading", [(None, 50.0), (230.0, None), (0.0, 50.0), (230.0, 0.0), (-1.0, 50.0)]
)
def test_no_grid_quality_without_a_grid(reading: tuple[float | None, float | None]) -> None:
    assert grid_quality(*reading) is None


@pytest.mark.parametrize(
    ("voltage", "nominal"),
    [
        (None, None),
        (0.0, None),
        (13.3, 12.8),
        (17.9, 12.8),
        (18.0, 25.6),
        (35.9, 25.6),
        (36.0, 51.2),
        (53.2, 51.2),
    ],
)
def test_nominal_battery_voltage(voltage: float | None, nominal: float | None) -> None:
    assert nominal_battery_voltage(voltage) == nominal
