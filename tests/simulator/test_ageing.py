"""The ageing scenario (dev/scenarios/ageing.json), and the insight's figures of it.

What `scripts/develop --scenario dev/scenarios/ageing.json` shows: the insight reads VRM's hourly
stats (imported into the recorder) and the live values. Here the same VRM answers and Cerbo
values go into the insight's pure figures (`insight.py`), for seed 1 and a fixed start.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from custom_components.victron_cerbo.insight import (
    BalanceLevel,
    Condition,
    HourStat,
    RiskLevel,
    balance_level,
    deepest_discharge,
    full_charge,
    heat,
    risk,
)
from dev.simulator import (
    BATTERY,
    SimConfig,
    SimulatedInstallation,
    build_installation,
    load_scenario,
)

SCENARIO = Path(__file__).resolve().parents[2] / "dev" / "scenarios" / "ageing.json"
START = datetime(2026, 4, 15, 10, 0, tzinfo=UTC)
S = int(START.timestamp())
HOUR = 3600
DAY = 24 * HOUR
AUTH = {"X-Authorization": "Token simulated-token"}
STATS = "/v2/installations/123456/stats"
Client = TestClient[Any, Any]


@pytest.fixture
def model() -> SimulatedInstallation:
    return build_installation(load_scenario(SCENARIO), start=START, speed=0, seed=1)


async def _battery(local: Client, path: str) -> Any:
    response = await local.get("/value", params={"service": BATTERY, "path": path})
    assert response.status == 200, await response.text()
    return (await response.json())["value"]


async def _hours(vrm: Client, code: str) -> list[HourStat]:
    """VRM's hourly rows of the 14 days before the start, as the history import reads them."""
    query = [
        ("type", "custom"),
        ("interval", "hours"),
        ("attributeCodes[]", code),
        ("start", str(S - 14 * DAY)),
        ("end", str(S)),
    ]
    response = await vrm.get(STATS, params=query, headers=AUTH)
    assert response.status == 200, await response.text()
    rows = (await response.json())["records"][code]
    return [HourStat(start=row[0] // 1000, mean=row[1], min=row[2], max=row[3]) for row in rows]


def test_the_scenario_file() -> None:
    """Only the ageing's keys; the rest of the site is the default one."""
    scenario = load_scenario(SCENARIO)
    assert (scenario.start, scenario.speed, scenario.seed) == (None, None, None)
    assert scenario.config == SimConfig(
        soh=84.5,
        soh_loss_per_month=0.6,
        max_charge_soc=90.0,
        days_since_full=21.0,
        heat_wave_c=37.0,
        heat_wave_start_day=-6.0,
        heat_wave_days=7.0,
        imbalance_v=0.24,
        imbalance_start_hours=-1.0,
        imbalance_rise_hours=3.0,
    )


async def test_a_hot_week_before_the_start(vrm: Client) -> None:
    """Six hot days and a normal one in VRM's last week: most hours above 35 °C, none above 45."""
    found = heat(await _hours(vrm, "bT"), S)
    # VRM has the last two hours only later (back-logged): 166 of 168
    assert (found.start, found.end, found.samples) == (S - 168 * HOUR, S - 2 * HOUR, 166)
    assert (found.hours_above_35, found.hours_above_45) == (140, 0)
    assert found.mean is not None
    assert found.extra_degradation is not None
    assert (round(found.mean, 2), round(found.extra_degradation, 2)) == (34.44, 3.77)


async def test_not_full_for_three_weeks(local: Client, vrm: Client) -> None:
    """The ESS stops at 90 %: VRM's SOC never reaches full, the BMS was last full 21 days ago."""
    soc = await _hours(vrm, "bs")
    assert len(soc) == 334
    assert max(row.max for row in soc if row.max is not None) == 90.339
    since = await _battery(local, "/History/TimeSinceLastFullCharge")
    assert since == 21 * DAY
    found = full_charge(soc, S, full_at=(S - since,), max_days=14)
    assert (found.last_full, found.days_since, found.overdue) == (S - 21 * DAY, 21.0, True)
    lowest = deepest_discharge(soc, S)
    assert (lowest.soc, lowest.at) == (31.523, S - 149 * HOUR)


async def test_charging_stops_at_the_ceiling(local: Client, model: SimulatedInstallation) -> None:
    """At 90 % the battery idles while the sun shines; the BMS still allows charging."""
    model.set_time(START + timedelta(hours=3))
    assert await _battery(local, "/Soc") == 90.1
    assert await _battery(local, "/Io/AllowToCharge") == 1
    assert await _battery(local, "/Alarms/ChargeBlocked") == 0
    assert await _battery(local, "/Dc/0/Current") == pytest.approx(0.0, abs=0.5)


async def test_an_imbalance_episode(local: Client, model: SimulatedInstallation) -> None:
    """One cell sinks: the spread passes 0.10 and 0.15 V, then the BMS raises its alarm."""
    found = []
    for minutes in (0, 30, 60, 90, 120, 300):
        model.set_time(START + timedelta(minutes=minutes))
        low = await _battery(local, "/System/MinCellVoltage")
        high = await _battery(local, "/System/MaxCellVoltage")
        assert await _battery(local, "/System/MinVoltageCellId") == "0101"  # the weak cell
        alarm = await _battery(local, "/Alarms/CellImbalance")
        spread = round(high - low, 3)
        found.append((minutes, spread, balance_level(spread), alarm))
    assert found == [
        (0, 0.079, BalanceLevel.HEALTHY, 0),
        (30, 0.12, BalanceLevel.MODERATE, 1),
        (60, 0.16, BalanceLevel.SEVERE, 1),
        (90, 0.201, BalanceLevel.SEVERE, 2),  # 2: the alarm the risk counts
        (120, 0.24, BalanceLevel.SEVERE, 2),
        (300, 0.239, BalanceLevel.SEVERE, 2),  # it stays: never full, never balanced
    ]


async def test_soh_declines_slowly(local: Client, model: SimulatedInstallation) -> None:
    """84.5 % at the start, 0.6 points a month less: below the 85 % of a degraded battery."""
    assert await _battery(local, "/Soh") == 84.5
    model.set_time(START + timedelta(days=5))
    assert await _battery(local, "/Soh") == 84.4


async def test_the_risk_once_the_alarm_is_up(local: Client, model: SimulatedInstallation) -> None:
    """SOH below 85 % and the imbalance alarm: a high risk, with its two factors."""
    model.set_time(START + timedelta(hours=2))
    alarm = await _battery(local, "/Alarms/CellImbalance")
    condition = Condition(
        soh=await _battery(local, "/Soh"),
        imbalance_alarm=alarm >= 2,
        balance_level=BalanceLevel.SEVERE,
        modules_offline=await _battery(local, "/System/NrOfModulesOffline"),
        weekly_mean_temperature=34.44,
        full_charge_overdue=True,
    )
    found = risk(condition)
    assert (found.score, found.level) == (12, RiskLevel.HIGH)
    assert [(factor.key, factor.points) for factor in found.factors] == [
        ("soh_low", 5),
        ("cell_imbalance", 7),
    ]


def test_the_defaults_age_nothing() -> None:
    """Without the scenario: SOH 99 %, full a day before the start, no sinking cell."""
    model = SimulatedInstallation(START, speed=0, seed=1)
    physics = model.physics
    assert (physics.soh(S + 365 * DAY), physics.cell_sink(S + DAY)) == (99.0, 0.0)
    assert not physics.heat_wave(S - DAY)
    battery = model.observe().services[BATTERY]
    assert battery["History/TimeSinceLastFullCharge"] == DAY
