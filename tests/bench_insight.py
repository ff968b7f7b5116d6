"""The battery health insight measured with the real recorder (run by scripts/bench_recorder.py).

Not a test: its name keeps it out of the suite; scripts/bench insight runs it through pytest so
that it gets the recorder and the fakes of the tests. The recorder (SQLite in memory) is seeded
with a year of hourly state-of-health statistics and 35 days of the other five sensors'
(imported on the sensors' own entity ids, as the recorder keeps them), then:

- the CPU time of one recompute (`InsightCoordinator.compute`, what runs every 5 minutes) over
  the rows the coordinator holds, against one recorder read of the same rows;
- 24 simulated hours of 5-minute refreshes (the recorder compiling as it does live), counting the
  coordinator's recorder queries: one read of the recent rows per compiled hour and one of the
  state of health's year every 6 hours, so 28 a day. That count is asserted.
"""

from __future__ import annotations

import logging
import math
import statistics
import time
from collections.abc import Callable
from typing import Any

import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.recorder import Recorder
from homeassistant.components.recorder.models import (
    StatisticData,
)
from homeassistant.components.recorder.statistics import (
    statistics_during_period,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers.recorder import get_instance
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)

from custom_components.victron_cerbo.insight_coordinator import (
    AGEING_DAYS,
    RECENT_DAYS,
    RECENT_KEYS,
    UNITS,
    InsightCoordinator,
)
from custom_components.victron_cerbo.options import CONF_HISTORY_DAYS
from tests.helpers import (
    SOURCE_DATA,
    START,
    FakeCerbo,
    FakeVrm,
    import_sensor_statistics,
    make_entry,
    run_compiling,
    setup_entry,
)

HOUR = 3600
DAY = 24 * HOUR
SEEDED_SOH_DAYS = 366  # a day more than the year the coordinator reads
SEEDED_RECENT_DAYS = 35  # more than the 31 the coordinator reads
RECOMPUTES = 200
READS = 20
WARM_UP = HOUR  # past setup's reads, so the day measured is a steady one
SIMULATED = 24 * HOUR
# a day's queries: one recent read per compiled hour, one SOH read every 6 hours
QUERIES_PER_DAY = 24 + 4

# key -> unit of the statistics, and whether they are a running sum (energy) or a measurement
SEEDED: dict[str, tuple[str, bool]] = {
    "soh": ("%", False),
    "soc": ("%", False),
    "temperature": ("°C", False),
    "cell_voltage_spread": ("V", False),
    "charged_energy": ("kWh", True),
    "discharged_energy": ("kWh", True),
}

# The tests' harness logs every SQL statement and more (INFO); a user's Home Assistant does not,
# and the logging would count as the reads' CPU and drown the figures.
logging.getLogger().setLevel(logging.WARNING)
logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)
# asyncio's debug mode takes each jump of the frozen clock for a callback that ran a minute
logging.getLogger("asyncio").setLevel(logging.ERROR)


@pytest.fixture
def enable_statistics() -> bool:
    """The recorder compiles the live sensors' statistics, as it does for users."""
    return True


def _daily(hour: int) -> float:
    """-1 to 1 over each day (sunny noon at the top)."""
    return math.sin(hour / DAY * 2 * math.pi)


def _measurement(key: str, hour: int, first: int) -> tuple[float, float, float]:
    """A deterministic hourly mean, min and max of a measurement sensor."""
    swing = _daily(hour)
    if key == "soh":  # 4 points lost over the year, slowly
        mean = 99.0 - 4.0 * (hour - first) / (365 * DAY)
        return round(mean, 3), round(mean, 3), round(mean, 3)
    if key == "soc":  # full at the top of every day
        mean = 60.0 + 38.0 * swing
        return round(mean, 2), round(mean - 1.5, 2), round(min(mean + 1.5, 100.0), 2)
    if key == "temperature":
        mean = 24.0 + 4.0 * swing
        return round(mean, 2), round(mean - 0.5, 2), round(mean + 0.5, 2)
    mean = 0.02 + 0.01 * swing  # cell_voltage_spread, V
    return round(mean, 4), round(mean - 0.005, 4), round(mean + 0.01, 4)


def _energy(key: str, hour: int) -> float:
    """kWh charged (sunny hours) or discharged (the night) in one hour."""
    swing = _daily(hour)
    return round(0.8 * max(swing, 0.0) if key == "charged_energy" else 0.6 * max(-swing, 0.0), 3)


def _seed(hass: HomeAssistant, ids: dict[str, str], end: int) -> int:
    """Import the hours before `end`: 366 days of SOH, 35 of the rest; the rows written."""
    written = 0
    for key, (unit, has_sum) in SEEDED.items():
        days = SEEDED_SOH_DAYS if key == "soh" else SEEDED_RECENT_DAYS
        first = end - days * DAY
        rows: list[StatisticData] = []
        total = 0.0
        for hour in range(first, end, HOUR):
            start = dt_util.utc_from_timestamp(hour)
            if has_sum:
                total = round(total + _energy(key, hour), 6)
                rows.append(StatisticData(start=start, state=total, sum=total))
            else:
                mean, low, high = _measurement(key, hour, first)
                rows.append(StatisticData(start=start, mean=mean, min=low, max=high))
        import_sensor_statistics(hass, ids[key], unit, rows, has_sum=has_sum)
        written += len(rows)
    return written


def _cpu_ms(run: Callable[[], Any], times: int) -> list[float]:
    """The process's CPU time of each of `times` runs, in ms."""
    spent: list[float] = []
    for _ in range(times):
        before = time.process_time()
        run()
        spent.append((time.process_time() - before) * 1000)
    return spent


async def _read_cpu_ms(
    hass: HomeAssistant, ids: set[str], start: float, end: float, types: set[str]
) -> tuple[list[float], int]:
    """CPU ms of each of READS reads like the coordinator's, and the rows one returns.

    process_time counts every thread, so the recorder's executor thread doing the query too.
    """
    spent: list[float] = []
    rows = 0
    for _ in range(READS):
        before = time.process_time()
        result = await get_instance(hass).async_add_executor_job(
            statistics_during_period,
            hass,
            dt_util.utc_from_timestamp(start),
            dt_util.utc_from_timestamp(end),
            ids,
            "hour",
            dict(UNITS),
            types,
        )
        spent.append((time.process_time() - before) * 1000)
        rows = sum(len(found) for found in result.values())
    return spent, rows


def _figure(name: str, value: float) -> None:
    shown = str(value) if isinstance(value, int) else f"{value:.3f}"
    print(f"{name}={shown}")  # noqa: T201 (the figures are the point)


async def _seeded_insight(
    hass: HomeAssistant, entry: MockConfigEntry
) -> tuple[InsightCoordinator, dict[str, str], int]:
    """Set the entry up, seed its sensors' statistics, reload it: the coordinator, ids, rows."""
    await setup_entry(hass, entry)
    first = entry.runtime_data.insight
    assert first is not None
    ids = first.statistic_ids(("soh", *RECENT_KEYS))
    assert set(ids) == set(SEEDED), ids
    seeded_rows = _seed(hass, ids, int(START.timestamp()))
    await async_wait_recording_done(hass)
    # a fresh coordinator reads the seeded rows at its start
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    insight = entry.runtime_data.insight
    assert insight is not None
    assert insight.queries == 2  # the recent rows and the SOH's year
    # the year read ends at the newest compiled hour, an hour before now: its first hour is in
    # a 366th day counted back from now
    assert insight.data.ageing.days == AGEING_DAYS + 1
    return insight, ids, seeded_rows


async def _cpu_figures(
    hass: HomeAssistant, insight: InsightCoordinator, ids: dict[str, str]
) -> dict[str, float]:
    """One recompute against one recorder read of what it computes from (CPU ms, medians).

    The recorder first writes what it was handed (the states of the entry's reload): its
    thread's work would count as the recompute's. Nothing new comes while the loop computes.
    """
    await async_wait_recording_done(hass)
    now = dt_util.utcnow()
    recompute = _cpu_ms(lambda: insight.compute(now), RECOMPUTES)
    newest = int(START.timestamp()) - HOUR  # the hour after the newest compiled one
    recent_ids = {ids[key] for key in RECENT_KEYS}
    recent_read, recent_rows = await _read_cpu_ms(
        hass, recent_ids, newest - RECENT_DAYS * DAY, newest, {"mean", "min", "max", "sum"}
    )
    soh_read, soh_rows = await _read_cpu_ms(
        hass, {ids["soh"]}, newest - AGEING_DAYS * DAY, newest, {"mean"}
    )
    assert recent_rows == len(RECENT_KEYS) * RECENT_DAYS * 24
    assert soh_rows == AGEING_DAYS * 24
    recompute_ms = statistics.median(recompute)
    recent_read_ms = statistics.median(recent_read)
    soh_read_ms = statistics.median(soh_read)
    return {
        "insight_recompute_ms": recompute_ms,
        "insight_recompute_mean_ms": statistics.fmean(recompute),
        "insight_recent_read_ms": recent_read_ms,
        "insight_soh_read_ms": soh_read_ms,
        "insight_rows_recent_read": recent_rows,
        "insight_rows_soh_read": soh_rows,
        # the mean rows per query over a day: 24 recent reads and 4 of the SOH's year
        "insight_rows_per_read": (24 * recent_rows + 4 * soh_rows) / QUERIES_PER_DAY,
        # ratios of one run: a read against a recompute, and reading both every 5 minutes
        "insight_recent_read_over_recompute": recent_read_ms / recompute_ms,
        "insight_reading_every_refresh_over_recompute": (
            (recent_read_ms + soh_read_ms + recompute_ms) / recompute_ms
        ),
    }


async def _day_figures(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, insight: InsightCoordinator
) -> dict[str, float]:
    """A day of 5-minute refreshes after the first hour: refreshes and recorder queries."""
    refreshes = 0

    def count_refresh() -> None:
        nonlocal refreshes
        refreshes += 1

    await run_compiling(hass, freezer, WARM_UP)
    queries_before = insight.queries
    stop = insight.async_add_listener(count_refresh)
    cpu = time.process_time()
    await run_compiling(hass, freezer, SIMULATED)
    day_cpu = time.process_time() - cpu
    stop()
    queries = insight.queries - queries_before
    assert refreshes == SIMULATED // 300, refreshes
    assert queries == QUERIES_PER_DAY, queries
    hours = SIMULATED / HOUR
    return {
        "insight_refreshes_per_hour": refreshes / hours,
        "insight_queries_per_day": queries,
        "insight_queries_per_hour": queries / hours,
        # the whole process: the integration's every poll, the recorder compiling, the insight
        "insight_simulated_day_cpu_s": day_cpu,
    }


async def test_insight(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    cerbo: FakeCerbo,
    vrm: FakeVrm,
) -> None:
    """Print the insight's CPU per recompute and recorder queries per hour as name=value."""
    freezer.move_to(START)
    # no VRM history import: the seeded statistics are the past
    entry = make_entry(hass, SOURCE_DATA["both"], {CONF_HISTORY_DAYS: 0})
    insight, ids, seeded_rows = await _seeded_insight(hass, entry)
    figures: dict[str, float] = {"insight_seeded_rows": seeded_rows}
    figures |= await _cpu_figures(hass, insight, ids)
    figures |= await _day_figures(hass, freezer, insight)
    for name, value in figures.items():
        _figure(name, value)
