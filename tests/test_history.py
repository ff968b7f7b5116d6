"""VRM's past into our sensors' long-term statistics, with the real recorder.

VRM answers `stats` from a deterministic past (FakeStats) at HA's HTTP transport; the recorder
is the real one (`recorder_mock`), read back with `statistics_during_period`.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.energy.data import async_get_manager
from homeassistant.components.energy.validate import async_validate
from homeassistant.components.recorder import Recorder
from homeassistant.components.recorder.models import StatisticMeanType
from homeassistant.components.recorder.statistics import (
    get_metadata,
    statistics_during_period,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from homeassistant.util.unit_system import US_CUSTOMARY_SYSTEM
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.test_util.aiohttp import (
    AiohttpClientMocker,
)

from custom_components.victron_cerbo.diagnostics import async_get_config_entry_diagnostics
from custom_components.victron_cerbo.history import BACKFILL_PER_HOUR, LIVE_RESERVE, Backfill
from custom_components.victron_cerbo.options import CONF_HISTORY_DAYS
from tests.helpers import (
    HOUR,
    LOCAL_DATA,
    PORTAL_ID,
    SITE_ID,
    START,
    VRM_DATA,
    FakeCerbo,
    FakeStats,
    FakeVrm,
    account_budget,
    entity_ids,
    flow,
    make_entry,
    run_compiling,
    setup_entry,
    value,
)

KEYS = ("soc", "voltage", "current", "power", "temperature")


@pytest.fixture
def enable_statistics() -> bool:
    """The recorder compiles the sensors' statistics every 5 minutes, as it does for users."""
    return True


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
    await run_compiling(hass, freezer, 50)
    assert stats.calls == []  # the setup's live polls go first

    await run_compiling(hass, freezer, 30 * 60)

    # 10:01: 335 settled hours (Jan 1 10:00 to Jan 15 09:00), newest first, 72 h a request,
    # one request every 5 minutes; the hour that settled at 10:15 comes first at 10:16
    first = int(START.timestamp()) - 14 * 24 * HOUR
    newest = int(START.timestamp()) - HOUR
    assert [(start, end) for start, end, _ in stats.calls] == [
        (newest - 72 * HOUR, newest),
        (newest - 144 * HOUR, newest - 72 * HOUR),
        (newest - 216 * HOUR, newest - 144 * HOUR),
        (newest, newest + HOUR),
        (newest - 288 * HOUR, newest - 216 * HOUR),
        (first, newest - 288 * HOUR),
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
        "soc": ("%", "unitless"),
        "voltage": ("V", "voltage"),
        "current": ("A", "electric_current"),
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
    await run_compiling(hass, freezer, 20 * 60)
    # 10:01 the 47 settled hours, 10:16 the hour that settled at 10:15
    assert len(stats.calls) == 2
    before = await _rows(hass, ids["voltage"], START - timedelta(days=3), START)
    assert len(before) == 48

    # three hours later the back-logged last hours of each are fetched and imported again
    await run_compiling(hass, freezer, 3 * HOUR)
    assert [(end - start) // HOUR for start, end, _ in stats.calls[2:]] == [6, 1]
    assert await _rows(hass, ids["voltage"], START - timedelta(days=3), START) == before

    # the progress lost (a new install of the same entry): the recorder has every hour
    calls = len(stats.calls)
    assert await hass.config_entries.async_unload(entry.entry_id)
    hass_storage.pop(f"victron_cerbo.history.{entry.entry_id}")
    await setup_entry(hass, entry)
    await run_compiling(hass, freezer, 10 * 60)

    assert len(stats.calls) == calls
    assert await _rows(hass, ids["voltage"], START - timedelta(days=3), START) == before


async def test_gap_after_a_stop_is_filled(
    recorder_mock: Recorder, hass: HomeAssistant, freezer: FrozenDateTimeFactory, stats: FakeStats
) -> None:
    entry = await _set_up(hass, freezer, days=2)
    ids = _ids(hass, entry)
    await run_compiling(hass, freezer, 20 * 60)
    assert len(stats.calls) == 2

    # Home Assistant stops at 10:20 for ten hours: no states, nothing compiled
    assert await hass.config_entries.async_unload(entry.entry_id)
    for entity_id in ids.values():
        hass.states.async_remove(entity_id)
    await run_compiling(hass, freezer, 10 * HOUR)
    calls = len(stats.calls)
    assert calls == 2
    await setup_entry(hass, entry)
    await run_compiling(hass, freezer, 5 * 60)

    # 20:21: the hours without a row, 11:00 to 20:00 (10:00 was live until 10:20)
    hour = int(START.timestamp())
    assert [(start, end) for start, end, _ in stats.calls[calls:]] == [
        (hour + HOUR, hour + 10 * HOUR)
    ]
    rows = await _rows(hass, ids["soc"], START - timedelta(hours=1), START + timedelta(hours=10))
    means = {int(row["start"]): row["mean"] for row in rows}
    assert sorted(means) == [hour + h * HOUR for h in range(-1, 10)]
    assert means[hour] == pytest.approx(78.5)  # the recorder's own live hour, untouched
    for h in [-1, *range(1, 10)]:
        assert means[hour + h * HOUR] == pytest.approx(value("bs", hour + h * HOUR))

    # then the energy, and the refetches that fell due while it was stopped
    await run_compiling(hass, freezer, 15 * 60)
    assert [(end - start) // HOUR for start, end, _ in stats.calls[calls + 1 :]] == [6, 1]


async def test_dst_day_has_23_hours(
    recorder_mock: Recorder, hass: HomeAssistant, freezer: FrozenDateTimeFactory, stats: FakeStats
) -> None:
    await hass.config.async_set_time_zone("Europe/Amsterdam")
    freezer.move_to(datetime(2026, 3, 30, 10, 0, tzinfo=dt_util.UTC))
    entry = make_entry(hass, VRM_DATA, {CONF_HISTORY_DAYS: 3})
    await setup_entry(hass, entry)
    ids = _ids(hass, entry)
    await run_compiling(hass, freezer, 20 * 60)

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
    await run_compiling(hass, freezer, 5 * 60)
    assert len(stats.calls) == 1
    stats.replies = [(429, {"Retry-After": "1200"})]
    await run_compiling(hass, freezer, 5 * 60)  # 10:06: refused, come back at 10:26
    assert len(stats.calls) == 2
    backfill = entry_backfill(entry)
    assert backfill is not None
    assert backfill.waiting == "retry_after"
    assert backfill.data["retry_at"] == "2026-01-15T10:26:00+00:00"

    await run_compiling(hass, freezer, 15 * 60)  # nothing before the Retry-After is over
    assert len(stats.calls) == 2
    await run_compiling(hass, freezer, 15 * 60)

    # 10:26 the hour settled meanwhile, 10:31 the refused span again, 10:36 the rest
    assert len(stats.calls) == 5
    assert stats.calls[3][:2] == stats.calls[1][:2]
    rows = await _rows(hass, ids["soc"], START - timedelta(days=10), START)
    assert len(rows) == 9 * 24
    assert backfill.waiting is None
    assert backfill.data["last_error"] is None


async def test_budget_share_is_never_exceeded(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    stats: FakeStats,
    caplog: pytest.LogCaptureFixture,
) -> None:
    entry = await _set_up(hass, freezer, days=30)
    await run_compiling(hass, freezer, 5 * 60 + HOUR)

    # 11 requests in all; only BACKFILL_PER_HOUR in the first hour of steps
    assert len(stats.calls) == BACKFILL_PER_HOUR
    budget = account_budget(hass)
    assert all(used <= budget.warning - LIVE_RESERVE for used in stats.budget_used)
    await run_compiling(hass, freezer, 30 * 60)
    # 719 settled hours at 10:01 in 10 spans, and the hour that settled at 10:15; the hours
    # after 10:00 are the recorder's own
    assert len(stats.calls) == 11
    backfill = entry_backfill(entry)
    assert backfill is not None
    assert backfill.days_imported == 30.0
    # the share's pace is normal, not a warning about the account's budget
    assert not [
        record.getMessage()
        for record in caplog.records
        if record.name.startswith("custom_components.victron_cerbo")
        and record.levelno >= logging.WARNING
    ]


async def test_no_request_while_the_account_is_busy(
    recorder_mock: Recorder, hass: HomeAssistant, freezer: FrozenDateTimeFactory, stats: FakeStats
) -> None:
    # warning 12: live polls use 10 of the hour's room, the backfill none
    entry = await _set_up(hass, freezer, days=2, vrm_budget_warning=12)
    await run_compiling(hass, freezer, 30 * 60)

    assert stats.calls == []
    backfill = entry_backfill(entry)
    assert backfill is not None
    assert backfill.waiting == "budget"
    assert backfill.next is not None


async def test_local_only_entry_imports_nothing(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    cerbo: FakeCerbo,
    aioclient_mock: AiohttpClientMocker,
) -> None:
    freezer.move_to(START)
    entry = make_entry(hass, LOCAL_DATA, {CONF_HISTORY_DAYS: 14})
    await setup_entry(hass, entry)
    await run_compiling(hass, freezer, 30 * 60)

    assert entry_backfill(entry) is None
    assert not [call for call in aioclient_mock.mock_calls if "vrmapi" in str(call[1])]


async def test_zero_days_turns_it_off(
    recorder_mock: Recorder, hass: HomeAssistant, freezer: FrozenDateTimeFactory, stats: FakeStats
) -> None:
    entry = await _set_up(hass, freezer, days=0)
    await run_compiling(hass, freezer, 30 * 60)

    assert entry_backfill(entry) is None
    assert stats.calls == []


async def test_energy_statistics_for_the_energy_dashboard(
    recorder_mock: Recorder, hass: HomeAssistant, freezer: FrozenDateTimeFactory, stats: FakeStats
) -> None:
    entry = await _set_up(hass, freezer, days=2)
    await run_compiling(hass, freezer, 35 * 60)

    first = int(START.timestamp()) - 2 * 24 * HOUR
    newest = int(START.timestamp()) - HOUR
    # 10:06, after the 47 hours of measurements: the energy of the same hours in one request
    assert stats.energy_calls == [(first, newest)]
    metadata = await hass.async_add_executor_job(lambda: get_metadata(hass))
    ours = {
        statistic_id: meta for statistic_id, (_, meta) in metadata.items() if ":" in statistic_id
    }
    keys = ("battery_charged", "battery_discharged", "solar", "grid_import", "consumption")
    ids = {key: f"victron_cerbo:{PORTAL_ID.lower()}_{key}" for key in keys}
    assert set(ours) == set(ids.values())  # no grid export on this site: no statistic for it
    for meta in ours.values():
        assert meta["source"] == "victron_cerbo"
        assert meta["has_sum"] is True
        assert meta["mean_type"] is StatisticMeanType.NONE
        assert meta["unit_of_measurement"] == "kWh"
        assert meta["unit_class"] == "energy"
    assert ours[ids["battery_charged"]]["name"] == "Cabin battery charged"

    async def sums(key: str) -> dict[int, float]:
        result = await hass.async_add_executor_job(
            statistics_during_period,
            hass,
            START - timedelta(days=3),
            START + timedelta(days=1),
            {ids[key]},
            "hour",
            None,
            {"sum"},
        )
        return {int(row["start"]): row["sum"] for row in result.get(ids[key], [])}

    charged = await sums("battery_charged")
    hours = range(first, newest, HOUR)
    assert sorted(charged) == list(hours)
    total = 0.0
    for hour in hours:
        total += flow("Pb", hour) + flow("Gb", hour)
        assert charged[hour] == pytest.approx(total)
    consumption = await sums("consumption")
    assert consumption[newest - HOUR] == pytest.approx(
        sum(flow("Pc", h) + flow("Bc", h) + flow("Gc", h) for h in hours)
    )

    # an hour later: the last six hours again (a late back-log) and the new hour; every
    # earlier sum unchanged
    await run_compiling(hass, freezer, HOUR)
    assert stats.energy_calls[1] == (newest - 6 * HOUR, newest + HOUR)
    again = await sums("battery_charged")
    assert {hour: again[hour] for hour in charged} == pytest.approx(charged)
    assert sorted(again) == [*hours, newest]

    # the Energy dashboard takes them as they are
    assert await async_setup_component(hass, "energy", {})
    manager = await async_get_manager(hass)
    await manager.async_update(
        {
            "energy_sources": [
                {
                    "type": "battery",
                    "stat_energy_from": ids["battery_discharged"],
                    "stat_energy_to": ids["battery_charged"],
                },
                {
                    "type": "solar",
                    "stat_energy_from": ids["solar"],
                    "config_entry_solar_forecast": None,
                },
            ]
        }
    )
    validation = await async_validate(hass)
    assert validation.as_dict()["energy_sources"] == [[], []]

    # nothing was written into a sensor's sums (those are the recorder's own)
    assert not [
        statistic_id
        for statistic_id, (_, meta) in metadata.items()
        if statistic_id.startswith("sensor.") and meta["has_sum"]
    ]
    assert entry_backfill(entry).data["energy_statistics"] == list(keys)


async def test_progress_survives_a_restart(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    freezer: FrozenDateTimeFactory,
    stats: FakeStats,
) -> None:
    entry = await _set_up(hass, freezer, days=14)
    await run_compiling(hass, freezer, 8 * 60)  # 10:01 and 10:06: two of the five spans
    assert len(stats.calls) == 2
    kept = hass_storage[f"victron_cerbo.history.{entry.entry_id}"]["data"]
    assert kept["requests"] == 2
    assert len(kept["done"]) == 1
    assert await hass.config_entries.async_unload(entry.entry_id)

    await setup_entry(hass, entry)
    await run_compiling(hass, freezer, 20 * 60)

    # on from where it stopped: the three older spans, nothing fetched twice
    spans = [(start, end) for start, end, _ in stats.calls]
    assert len(spans) == len(set(spans))
    backfill = entry_backfill(entry)
    assert backfill is not None
    assert backfill.days_imported == 14.0
    assert backfill.data["requests"] == 6  # counted on from the two before the restart
    assert len(backfill.data["refetch_due"]) == 2  # the back-log refetches were kept


async def test_unreadable_progress_starts_afresh(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    freezer: FrozenDateTimeFactory,
    stats: FakeStats,
) -> None:
    freezer.move_to(START)
    entry = make_entry(hass, VRM_DATA, {CONF_HISTORY_DAYS: 2})
    hass_storage[f"victron_cerbo.history.{entry.entry_id}"] = {
        "version": 1,
        "key": f"victron_cerbo.history.{entry.entry_id}",
        "data": {"done": [["yesterday", None]], "requests": "many"},
    }
    await setup_entry(hass, entry)
    await run_compiling(hass, freezer, 5 * 60)

    assert len(stats.calls) == 1
    backfill = entry_backfill(entry)
    assert backfill is not None
    assert backfill.data["requests"] == 1


async def test_a_failed_request_pauses_half_an_hour(
    recorder_mock: Recorder, hass: HomeAssistant, freezer: FrozenDateTimeFactory, stats: FakeStats
) -> None:
    entry = await _set_up(hass, freezer, days=2)
    stats.replies = [(500, {})]
    await run_compiling(hass, freezer, 5 * 60)

    backfill = entry_backfill(entry)
    assert backfill is not None
    assert backfill.data["last_error"] == "HTTP 500"
    assert backfill.data["retry_at"] == "2026-01-15T10:31:00+00:00"
    await run_compiling(hass, freezer, 25 * 60)
    assert len(stats.calls) == 1
    await run_compiling(hass, freezer, 5 * 60)
    assert len(stats.calls) == 2
    assert backfill.data["last_error"] is None


async def test_waits_while_vrm_holds_the_account(
    recorder_mock: Recorder, hass: HomeAssistant, freezer: FrozenDateTimeFactory, stats: FakeStats
) -> None:
    entry = await _set_up(hass, freezer, days=2)
    account_budget(hass).hold(15 * 60)  # a live poll's 429 with Retry-After: 900
    await run_compiling(hass, freezer, 10 * 60)

    assert stats.all_calls == 0
    backfill = entry_backfill(entry)
    assert backfill is not None
    assert backfill.waiting == "retry_after"
    await run_compiling(hass, freezer, 10 * 60)
    assert len(stats.calls) == 1


async def test_fahrenheit_temperature_is_imported_in_fahrenheit(
    recorder_mock: Recorder, hass: HomeAssistant, freezer: FrozenDateTimeFactory, stats: FakeStats
) -> None:
    hass.config.units = US_CUSTOMARY_SYSTEM
    entry = await _set_up(hass, freezer, days=1)
    ids = _ids(hass, entry)
    assert hass.states.get(ids["temperature"]).attributes["unit_of_measurement"] == "°F"
    await run_compiling(hass, freezer, 5 * 60)

    rows = await _rows(hass, ids["temperature"], START - timedelta(days=2), START)
    first = int(START.timestamp()) - 24 * HOUR
    assert rows[0]["start"] == first
    assert rows[0]["mean"] == pytest.approx(value("bT", first) * 9 / 5 + 32)
    assert rows[0]["min"] == pytest.approx((value("bT", first) - 1) * 9 / 5 + 32)
    metadata = await hass.async_add_executor_job(
        lambda: get_metadata(hass, statistic_ids={ids["temperature"]})
    )
    assert metadata[ids["temperature"]][1]["unit_of_measurement"] == "°F"


async def test_without_the_battery_sensors_nothing_is_fetched(
    recorder_mock: Recorder, hass: HomeAssistant, freezer: FrozenDateTimeFactory, stats: FakeStats
) -> None:
    entry = await _set_up(hass, freezer, days=2)
    er.async_get(hass).async_remove(_ids(hass, entry)["soc"])
    await run_compiling(hass, freezer, 10 * 60)

    assert stats.all_calls == 0
    backfill = entry_backfill(entry)
    assert backfill is not None
    assert backfill.waiting == "no_entities"


async def test_no_energy_from_vrm_writes_no_statistic(
    recorder_mock: Recorder, hass: HomeAssistant, freezer: FrozenDateTimeFactory, stats: FakeStats
) -> None:
    stats.no_energy = True
    entry = await _set_up(hass, freezer, days=2)
    await run_compiling(hass, freezer, 10 * 60)

    assert len(stats.energy_calls) == 1
    metadata = await hass.async_add_executor_job(lambda: get_metadata(hass))
    assert not [statistic_id for statistic_id in metadata if ":" in statistic_id]
    backfill = entry_backfill(entry)
    assert backfill is not None
    assert backfill.data["energy_until"] is None
    assert backfill.data["energy_statistics"] == []
    await run_compiling(hass, freezer, 30 * 60)
    assert len(stats.energy_calls) == 1  # asked again only an hour later


async def test_progress_sensor_and_diagnostics(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    stats: FakeStats,
) -> None:
    entry = await _set_up(hass, freezer, days=3)
    state = hass.states.get("sensor.cabin_history_import")
    assert state is not None
    assert state.state == "0.0"
    assert state.attributes["unit_of_measurement"] == "d"
    assert state.attributes["days"] == 3
    assert state.attributes["requests"] == 0

    await run_compiling(hass, freezer, 5 * 60)  # 10:01: the 71 settled hours in one request
    state = hass.states.get("sensor.cabin_history_import")
    assert float(state.state) == pytest.approx(71 / 24, abs=0.01)
    assert state.attributes["requests"] == 1
    assert state.attributes["rows"] == 5 * 71
    assert state.attributes["waiting"] is None
    assert state.attributes["last_error"] is None

    # (called directly: the HTTP view's token is not valid at the frozen date)
    diagnostics = await async_get_config_entry_diagnostics(hass, entry)
    history = diagnostics["history"]
    assert history["days"] == 3
    assert history["requests"] == 1
    assert str(SITE_ID) not in str(history)


async def test_removal_forgets_the_progress(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    freezer: FrozenDateTimeFactory,
    stats: FakeStats,
) -> None:
    entry = await _set_up(hass, freezer, days=2)
    await run_compiling(hass, freezer, 5 * 60)
    key = f"victron_cerbo.history.{entry.entry_id}"
    assert key in hass_storage

    assert await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done()

    assert key not in hass_storage
