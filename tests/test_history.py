"""VRM's past into our sensors' long-term statistics, with the real recorder.

VRM answers `stats` from a deterministic past (FakeStats) at HA's HTTP transport; the recorder
is the real one (`recorder_mock`), read back with `statistics_during_period`.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.recorder import Recorder
from homeassistant.components.recorder.models import StatisticMeanType
from homeassistant.components.recorder.statistics import (
    get_metadata,
    statistics_during_period,
)
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)
from pytest_homeassistant_custom_component.test_util.aiohttp import AiohttpClientMockResponse
from yarl import URL

from custom_components.victron_cerbo.api.vrm import DEFAULT_BASE_URL
from custom_components.victron_cerbo.history import BACKFILL_PER_HOUR, LIVE_RESERVE, Backfill
from custom_components.victron_cerbo.options import CONF_HISTORY_DAYS
from tests.helpers import (
    PORTAL_ID,
    SITE_ID,
    VRM_DATA,
    FakeVrm,
    account_budget,
    advance,
    entity_ids,
    make_entry,
    setup_entry,
)

STATS_URL = f"{DEFAULT_BASE_URL}/installations/{SITE_ID}/stats"
HOUR = 3600
START = datetime(2026, 1, 15, 10, 0, tzinfo=dt_util.UTC)
KEYS = ("soc", "voltage", "current", "power", "temperature")


def value(code: str, hour: int) -> float:
    """VRM's deterministic hourly mean of one code."""
    phase = hour / HOUR
    base = {"bs": 60.0, "bv": 52.0, "bc": 0.0, "bp": 0.0, "bT": 20.0}[code]
    swing = {"bs": 30.0, "bv": 1.5, "bc": 20.0, "bp": 1000.0, "bT": 3.0}[code]
    return round(base + swing * math.sin(phase / 24 * 2 * math.pi), 3)


class FakeStats:
    """VRM's `stats`: every hour up to `until` (unix s), 429s when scripted; logs each call."""

    def __init__(self, hass: HomeAssistant, vrm: FakeVrm) -> None:
        self.hass = hass
        self.until: float | None = None  # None: up to the request's end
        self.replies: list[tuple[int, dict[str, str]]] = []  # (status, headers) to play first
        self.calls: list[tuple[int, int, list[str]]] = []
        self.budget_used: list[int] = []  # the account's count at each request (this one too)
        vrm.mocker.get(STATS_URL, side_effect=self._answer)

    async def _answer(self, method: str, url: URL, data: Any) -> AiohttpClientMockResponse:
        start, end = int(url.query["start"]), int(url.query["end"])
        codes = url.query.getall("attributeCodes[]")
        self.calls.append((start, end, codes))
        self.budget_used.append(account_budget(self.hass).used)
        if self.replies:
            status, headers = self.replies.pop(0)
            body = {"success": False, "errors": "Too many requests", "error_code": "rate_limited"}
            return AiohttpClientMockResponse(method, url, status=status, json=body, headers=headers)
        last = end if self.until is None else min(end, int(self.until))
        records: dict[str, Any] = {}
        for code in codes:
            rows = [
                [hour * 1000, value(code, hour), value(code, hour) - 1, value(code, hour) + 1]
                for hour in range(start, last - HOUR + 1, HOUR)
            ]
            records[code] = rows or False
        return AiohttpClientMockResponse(method, url, json={"success": True, "records": records})


@pytest.fixture
def stats(hass: HomeAssistant, vrm: FakeVrm) -> FakeStats:
    """VRM's history at the transport."""
    return FakeStats(hass, vrm)


async def _set_up(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, days: int = 14, **options: Any
) -> MockConfigEntry:
    freezer.move_to(START)
    entry = make_entry(hass, VRM_DATA, {CONF_HISTORY_DAYS: days, **options})
    await setup_entry(hass, entry)
    return entry


async def _run(hass: HomeAssistant, freezer: FrozenDateTimeFactory, seconds: float) -> None:
    await advance(hass, freezer, seconds, step=60)
    await async_wait_recording_done(hass)


async def _rows(hass: HomeAssistant, entity_id: str, start: datetime, end: datetime) -> list[Any]:
    result = await hass.async_add_executor_job(
        statistics_during_period,
        hass,
        start,
        end,
        {entity_id},
        "hour",
        None,
        {"mean", "min", "max"},
    )
    return list(result.get(entity_id, []))


def entry_backfill(entry: MockConfigEntry) -> Backfill | None:
    """The importer of a loaded entry."""
    return entry.runtime_data.history


def _ids(hass: HomeAssistant, entry: MockConfigEntry) -> dict[str, str]:
    ids = entity_ids(hass, entry)
    return {key: ids[f"{PORTAL_ID}_{key}"] for key in KEYS}


async def test_first_import_and_metadata(
    recorder_mock: Recorder, hass: HomeAssistant, freezer: FrozenDateTimeFactory, stats: FakeStats
) -> None:
    entry = await _set_up(hass, freezer)
    ids = _ids(hass, entry)
    await _run(hass, freezer, 4 * 60)
    assert stats.calls == []  # the live polls go first

    await _run(hass, freezer, 30 * 60)

    # 335 settled hours at 10:05 (Jan 1 10:00 to Jan 15 09:00), newest first, 72 h a request;
    # then the hour that settled at 10:15
    first = int(START.timestamp()) - 14 * 24 * HOUR
    newest = int(START.timestamp()) - HOUR
    assert [(start, end) for start, end, _ in stats.calls] == [
        (newest - 72 * HOUR, newest),
        (newest - 144 * HOUR, newest - 72 * HOUR),
        (newest - 216 * HOUR, newest - 144 * HOUR),
        (newest - 288 * HOUR, newest - 216 * HOUR),
        (first, newest - 288 * HOUR),
        (newest, newest + HOUR),
    ]
    assert all(codes == ["bs", "bv", "bc", "bp", "bT"] for _, _, codes in stats.calls)
    rows = await _rows(hass, ids["soc"], START - timedelta(days=15), START)
    assert len(rows) == 14 * 24
    assert [row["start"] for row in rows] == [first + h * HOUR for h in range(14 * 24)]
    assert rows[0]["mean"] == pytest.approx(value("bs", first))
    assert rows[0]["min"] == pytest.approx(value("bs", first) - 1)
    assert rows[0]["max"] == pytest.approx(value("bs", first) + 1)
    for key, code in zip(KEYS, ("bs", "bv", "bc", "bp", "bT"), strict=True):
        rows = await _rows(hass, ids[key], START - timedelta(days=15), START)
        assert len(rows) == 14 * 24, key
        assert rows[-1]["mean"] == pytest.approx(value(code, newest)), key

    metadata = await hass.async_add_executor_job(
        lambda: get_metadata(hass, statistic_ids=set(ids.values()))
    )
    expected = {
        "soc": ("%", None),
        "voltage": ("V", "voltage"),
        "current": ("A", "current"),
        "power": ("W", "power"),
        "temperature": ("°C", "temperature"),
    }
    for key, (unit, unit_class) in expected.items():
        _, meta = metadata[ids[key]]
        assert meta["source"] == "recorder"
        assert meta["has_sum"] is False
        assert meta["mean_type"] is StatisticMeanType.ARITHMETIC
        assert meta["unit_of_measurement"] == unit
        assert meta["unit_class"] == unit_class
        assert meta["name"] is None
    backfill = entry_backfill(entry)
    assert backfill is not None
    assert backfill.progress.requests == 6
    assert backfill.progress.rows == 5 * 14 * 24
    assert backfill.days_imported == 14.0


async def test_import_again_changes_nothing(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    freezer: FrozenDateTimeFactory,
    stats: FakeStats,
) -> None:
    entry = await _set_up(hass, freezer, days=2)
    ids = _ids(hass, entry)
    await _run(hass, freezer, 20 * 60)
    before = await _rows(hass, ids["voltage"], START - timedelta(days=3), START)
    assert len(before) == 48
    assert len(stats.calls) == 2

    # the progress lost (a new install of the same entry): everything is imported again
    assert await hass.config_entries.async_unload(entry.entry_id)
    hass_storage.pop(f"victron_cerbo.history.{entry.entry_id}")
    await setup_entry(hass, entry)
    await _run(hass, freezer, 10 * 60)

    assert len(stats.calls) == 3  # the 48 hours in one request
    after = await _rows(hass, ids["voltage"], START - timedelta(days=3), START)
    assert after == before


async def test_gap_after_a_stop_is_filled(
    recorder_mock: Recorder, hass: HomeAssistant, freezer: FrozenDateTimeFactory, stats: FakeStats
) -> None:
    entry = await _set_up(hass, freezer, days=2)
    ids = _ids(hass, entry)
    await _run(hass, freezer, 20 * 60)
    assert len(stats.calls) == 2
    live = await _rows(hass, ids["soc"], START, START + timedelta(hours=1))

    # Home Assistant stops for ten hours
    assert await hass.config_entries.async_unload(entry.entry_id)
    await _run(hass, freezer, 10 * HOUR)
    calls = len(stats.calls)
    await setup_entry(hass, entry)
    await _run(hass, freezer, 6 * 60)

    assert len(stats.calls) == calls + 1
    start, end, _ = stats.calls[-1]
    # from the first hour without a row to the last settled one (20:00, settled at 20:15)
    assert dt_util.utc_from_timestamp(end) == START + timedelta(hours=10)
    rows = await _rows(hass, ids["soc"], START - timedelta(days=2), START + timedelta(hours=10))
    hours = [row["start"] for row in rows]
    assert hours == sorted(set(hours))
    assert len(hours) == 48 + 10
    # the hour recorded live is the recorder's own, untouched
    assert await _rows(hass, ids["soc"], START, START + timedelta(hours=1)) == live
    assert dt_util.utc_from_timestamp(start) == START + timedelta(hours=1) or not live


async def test_dst_day_has_23_hours(
    recorder_mock: Recorder, hass: HomeAssistant, freezer: FrozenDateTimeFactory, stats: FakeStats
) -> None:
    await hass.config.async_set_time_zone("Europe/Amsterdam")
    freezer.move_to(datetime(2026, 3, 30, 10, 0, tzinfo=dt_util.UTC))
    entry = make_entry(hass, VRM_DATA, {CONF_HISTORY_DAYS: 3})
    await setup_entry(hass, entry)
    ids = _ids(hass, entry)
    await _run(hass, freezer, 20 * 60)

    zone = dt_util.get_time_zone("Europe/Amsterdam")
    day = datetime(2026, 3, 29, tzinfo=zone)  # clocks go from 02:00 to 03:00
    rows = await _rows(hass, ids["soc"], day, datetime(2026, 3, 30, tzinfo=zone))
    starts = [row["start"] for row in rows]
    assert len(starts) == 23
    assert starts == [starts[0] + h * HOUR for h in range(23)]
    assert dt_util.utc_from_timestamp(starts[0]) == datetime(2026, 3, 28, 23, tzinfo=dt_util.UTC)


async def test_429_pauses_until_retry_after(
    recorder_mock: Recorder, hass: HomeAssistant, freezer: FrozenDateTimeFactory, stats: FakeStats
) -> None:
    entry = await _set_up(hass, freezer, days=9)
    ids = _ids(hass, entry)
    await _run(hass, freezer, 5 * 60)
    assert len(stats.calls) == 1
    stats.replies = [(429, {"Retry-After": "1200"})]
    await _run(hass, freezer, 5 * 60)
    assert len(stats.calls) == 2
    backfill = entry_backfill(entry)
    assert backfill is not None
    assert backfill.waiting == "retry_after"

    await _run(hass, freezer, 19 * 60)  # nothing before the Retry-After is over
    assert len(stats.calls) == 2
    await _run(hass, freezer, 15 * 60)

    # the refused span again, then the rest: 9 days in 3 + the 429 + the settled hour
    assert len(stats.calls) == 5
    assert stats.calls[2][:2] == stats.calls[1][:2]
    rows = await _rows(hass, ids["soc"], START - timedelta(days=10), START)
    assert len(rows) == 9 * 24


async def test_budget_share_is_never_exceeded(
    recorder_mock: Recorder, hass: HomeAssistant, freezer: FrozenDateTimeFactory, stats: FakeStats
) -> None:
    entry = await _set_up(hass, freezer, days=30)
    await _run(hass, freezer, 5 * 60 + HOUR)

    # 11 spans of up to 72 h; only BACKFILL_PER_HOUR in the first hour of steps
    assert len(stats.calls) == BACKFILL_PER_HOUR
    budget = account_budget(hass)
    assert all(used <= budget.warning - LIVE_RESERVE for used in stats.budget_used)
    await _run(hass, freezer, 30 * 60)
    assert len(stats.calls) == 12  # the last span and the hour that settled meanwhile
    backfill = entry_backfill(entry)
    assert backfill is not None
    assert backfill.days_imported == 30.0


async def test_no_request_while_the_account_is_busy(
    recorder_mock: Recorder, hass: HomeAssistant, freezer: FrozenDateTimeFactory, stats: FakeStats
) -> None:
    # warning 12: live polls use 10 of the hour's room, the backfill none
    entry = await _set_up(hass, freezer, days=2, vrm_budget_warning=12)
    await _run(hass, freezer, 30 * 60)

    assert stats.calls == []
    backfill = entry_backfill(entry)
    assert backfill is not None
    assert backfill.waiting == "budget"
    assert backfill.next is not None


async def test_local_only_entry_imports_nothing(
    recorder_mock: Recorder, hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    from tests.helpers import LOCAL_DATA  # noqa: PLC0415

    freezer.move_to(START)
    entry = make_entry(hass, LOCAL_DATA)
    assert entry_backfill(entry) is None
