"""Sensors in a real Home Assistant: every entity per source situation, switching, health.

Snapshots hold a projection of each entity (registry fields and state) that both supported
Home Assistant versions produce alike; `project` in tests/helpers.py builds it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.recorder import Recorder
from homeassistant.components.recorder.history import state_changes_during_period
from homeassistant.components.recorder.statistics import statistic_during_period
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import Event, EventStateChangedData, HomeAssistant
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
    do_adhoc_statistics,
)
from syrupy.assertion import SnapshotAssertion

from custom_components.victron_cerbo.const import CONF_HOST, CONF_SITE_ID, DOMAIN
from custom_components.victron_cerbo.entity import _configuration_url
from custom_components.victron_cerbo.options import CONF_HISTORY_DAYS
from custom_components.victron_cerbo.sensor import HEALTH_SENSORS, SENSORS
from tests.helpers import (
    LOCAL_DATA,
    PORTAL_ID,
    PYLONTECH,
    ROOT_FIXTURES,
    SOURCE_DATA,
    START,
    SYSTEM,
    VIRTUAL,
    VRM_DATA,
    FakeCerbo,
    FakeStats,
    FakeVrm,
    Tick,
    advance,
    attributes,
    break_cerbo,
    devices,
    entity_ids,
    make_entry,
    project,
    root_of,
    setup_entry,
    state_of,
    states,
    update_all,
    update_entity,
)

MAINTENANCE = "<!DOCTYPE html><html><body><h1>VRM is under maintenance</h1></body></html>"
SCENARIOS = ("local_only", "vrm_only", "both", "local_failing_vrm_fallback", "both_failing")


async def arrange(
    scenario: str, hass: HomeAssistant, cerbo: FakeCerbo, vrm: FakeVrm, tick: Tick
) -> MockConfigEntry:
    """Set the entry up for a scenario and let time run until it holds."""
    source = {"local_only": "local", "vrm_only": "vrm"}.get(scenario, "both")
    entry = make_entry(hass, SOURCE_DATA[source])
    await setup_entry(hass, entry)
    if scenario == "local_failing_vrm_fallback":
        break_cerbo(cerbo)
        await tick(40)  # four failed ticks: the last local success is older than two cycles
    elif scenario == "both_failing":
        break_cerbo(cerbo)
        vrm.html = MAINTENANCE
        await tick(600)  # VRM's sample is now 42 s + 10 min old
    await update_all(hass, entry)
    return entry


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
@pytest.mark.parametrize("scenario", SCENARIOS)
async def test_entities(
    hass: HomeAssistant,
    cerbo: FakeCerbo,
    vrm: FakeVrm,
    tick: Tick,
    *,
    snapshot: SnapshotAssertion,
    scenario: str,
) -> None:
    entry = await arrange(scenario, hass, cerbo, vrm, tick)
    assert entry.state is ConfigEntryState.LOADED
    assert project(hass, entry) == snapshot(name="entities")
    assert devices(hass, entry) == snapshot(name="devices")


@pytest.mark.parametrize("scenario", SCENARIOS)
async def test_what_is_served(
    hass: HomeAssistant, cerbo: FakeCerbo, vrm: FakeVrm, tick: Tick, scenario: str
) -> None:
    """The gist of each snapshot, spelled out: the snapshots cannot drift from it silently."""
    entry = await arrange(scenario, hass, cerbo, vrm, tick)
    served = {
        key: (state_of(hass, "sensor", key), attributes(hass, "sensor", key).get("source"))
        for key in ("soc", "voltage", "grid_power")
        if f"{PORTAL_ID}_{key}" in entity_ids(hass, entry)
    }
    expected = {
        "local_only": {
            "soc": ("81.0", "local"),
            "voltage": ("49.8", "local"),
            "grid_power": ("167.0", "local"),
        },
        "vrm_only": {"soc": ("78.5", "vrm"), "voltage": ("53.12", "vrm")},
        "both": {
            "soc": ("81.0", "local"),
            "voltage": ("49.8", "local"),
            "grid_power": ("167.0", "local"),
        },
        "local_failing_vrm_fallback": {
            "soc": ("78.5", "vrm"),
            "voltage": ("53.12", "vrm"),
            "grid_power": (STATE_UNAVAILABLE, None),
        },
        "both_failing": {
            "soc": (STATE_UNAVAILABLE, None),
            "voltage": (STATE_UNAVAILABLE, None),
            "grid_power": (STATE_UNAVAILABLE, None),
        },
    }
    assert served == expected[scenario]


async def test_disabled_by_default(
    hass: HomeAssistant, cerbo: FakeCerbo, vrm: FakeVrm, tick: Tick
) -> None:
    entry = await arrange("both", hass, cerbo, vrm, tick)
    registry = er.async_get(hass)
    disabled = {
        item.unique_id.removeprefix(f"{PORTAL_ID}_")
        for item in er.async_entries_for_config_entry(registry, entry.entry_id)
        if item.disabled_by is er.RegistryEntryDisabler.INTEGRATION
    }
    assert disabled == {
        "consumed_ah",
        "min_cell_voltage",
        "max_cell_voltage",
        "charge_cycles",
        "inverter_mode",
        "gx_firmware",
        "local_last_success",
        "readings_24h",
    }
    assert not disabled & set(states(hass, entry))
    # Every description is either enabled or disabled on purpose, and every key is unique.
    keys = [d.key for d in (*SENSORS, *HEALTH_SENSORS)]
    assert len(keys) == len(set(keys))


async def test_measurements_keep_statistics(
    hass: HomeAssistant, cerbo: FakeCerbo, vrm: FakeVrm, tick: Tick
) -> None:
    """Every numeric sensor has a state class, so Home Assistant keeps long-term statistics."""
    await arrange("both", hass, cerbo, vrm, tick)
    for description in (*SENSORS, *HEALTH_SENSORS):
        numeric = description.device_class not in {"enum", "timestamp"} and description.key != (
            "gx_firmware"
        )
        assert (description.state_class is not None) == numeric, description.key
        if description.device_class == "energy":
            assert description.state_class == "total_increasing"


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_entity_ids_survive_restarts_and_source_switches(
    hass: HomeAssistant,
    cerbo: FakeCerbo,
    tick: Tick,
    snapshot: SnapshotAssertion,
    init_integration: MockConfigEntry,
) -> None:
    first = entity_ids(hass, init_integration)
    assert first == snapshot(name="entity_ids")
    units = {
        key: attributes(hass, "sensor", key).get("unit_of_measurement")
        for key in ("soc", "voltage", "temperature")
    }
    assert attributes(hass, "sensor", "soc")["source"] == "local"

    # The Cerbo goes away: VRM serves; nothing about the entities' identity changes.
    healthy = dict(cerbo.roots), cerbo.health, cerbo.services
    break_cerbo(cerbo)
    await tick(40)
    assert attributes(hass, "sensor", "soc")["source"] == "vrm"
    assert entity_ids(hass, init_integration) == first
    assert {
        key: attributes(hass, "sensor", key).get("unit_of_measurement") for key in units
    } == units

    # A restart while only VRM answers: same IDs.
    assert await hass.config_entries.async_reload(init_integration.entry_id)
    await hass.async_block_till_done()
    assert init_integration.state is ConfigEntryState.LOADED
    assert entity_ids(hass, init_integration) == first
    assert attributes(hass, "sensor", "soc")["source"] == "vrm"

    # The Cerbo is back: local serves again, still the same IDs; restart again.
    cerbo.roots, cerbo.health, cerbo.services = healthy
    await tick(60)
    assert attributes(hass, "sensor", "soc")["source"] == "local"
    assert await hass.config_entries.async_reload(init_integration.entry_id)
    await hass.async_block_till_done()
    assert entity_ids(hass, init_integration) == first
    registry = er.async_get(hass)
    assert registry.async_get_entity_id("sensor", DOMAIN, f"{PORTAL_ID}_soc") == (
        "sensor.cabin_battery_state_of_charge"
    )


async def test_local_fresh_for_two_cycles_then_vrm_then_back(
    hass: HomeAssistant,
    cerbo: FakeCerbo,
    tick: Tick,
    init_integration: MockConfigEntry,
) -> None:
    healthy = dict(cerbo.roots), cerbo.health, cerbo.services
    break_cerbo(cerbo)

    await tick(20)  # two failed ticks: the last success is exactly two cycles old
    assert state_of(hass, "sensor", "soc") == "81.0"
    assert attributes(hass, "sensor", "soc")["source"] == "local"
    await tick(10)
    assert state_of(hass, "sensor", "soc") == "78.5"
    soc = attributes(hass, "sensor", "soc")
    assert soc["source"] == "vrm"
    # VRM's own age plus the time since we fetched it: at the first failed tick, which polls
    # VRM (only a backup while the Cerbo answered) at once
    assert soc["data_age"] == 42 + 20
    assert state_of(hass, "sensor", "grid_power") == STATE_UNAVAILABLE
    assert state_of(hass, "sensor", "inverter_state") == STATE_UNAVAILABLE
    # Health entities report the failure instead of going unavailable.
    assert state_of(hass, "sensor", "local_consecutive_failures") == "3"
    assert state_of(hass, "binary_sensor", "local_reachable") == "off"

    cerbo.roots, cerbo.health, cerbo.services = healthy
    await tick(30)
    assert state_of(hass, "sensor", "soc") == "81.0"
    assert attributes(hass, "sensor", "soc")["source"] == "local"
    assert state_of(hass, "sensor", "grid_power") == "167.0"
    assert state_of(hass, "sensor", "local_consecutive_failures") == "0"


async def test_vrm_sample_ages_out_between_polls(
    hass: HomeAssistant, vrm: FakeVrm, tick: Tick
) -> None:
    """No coordinator update is needed for a value to go stale: a timer re-checks."""
    vrm.set_seconds_ago(540)
    entry = make_entry(hass, VRM_DATA)
    await setup_entry(hass, entry)
    assert state_of(hass, "sensor", "soc") == "78.5"
    assert attributes(hass, "sensor", "soc")["data_age"] == 540

    await tick(60)  # the sample is ten minutes old; VRM has not been polled again
    assert vrm.calls == ["system-overview", "BatterySummary"]
    assert state_of(hass, "sensor", "soc") == STATE_UNAVAILABLE
    assert state_of(hass, "binary_sensor", "data_stale") == "on"

    vrm.set_seconds_ago(30)
    await tick(120)  # the next poll brings a fresh sample
    assert vrm.calls[-1] == "BatterySummary"
    assert state_of(hass, "sensor", "soc") == "78.5"
    assert attributes(hass, "sensor", "soc")["data_age"] == 30
    assert state_of(hass, "binary_sensor", "data_stale") == "off"


async def test_vrm_data_age_grows_between_polls(
    hass: HomeAssistant, vrm: FakeVrm, tick: Tick
) -> None:
    """A VRM sample gets older while no new one comes: `data_age` says so, on the 30 s recheck."""
    vrm.set_seconds_ago(120)
    entry = make_entry(hass, VRM_DATA)
    await setup_entry(hass, entry)
    assert attributes(hass, "sensor", "soc")["data_age"] == 120
    assert attributes(hass, "binary_sensor", "voltage_out_of_range")["data_age"] == 120

    await tick(60)  # two rechecks, no poll
    assert vrm.calls == ["system-overview", "BatterySummary"]
    assert state_of(hass, "sensor", "soc") == "78.5"
    assert attributes(hass, "sensor", "soc")["data_age"] == 180
    assert attributes(hass, "binary_sensor", "voltage_out_of_range")["data_age"] == 180


@pytest.mark.parametrize("source", ["vrm"])
async def test_time_to_go_in_hours_and_unknown_while_not_discharging(
    hass: HomeAssistant, vrm: FakeVrm, tick: Tick, init_integration: MockConfigEntry
) -> None:
    assert state_of(hass, "sensor", "time_to_go") == "17.64"
    assert attributes(hass, "sensor", "time_to_go")["unit_of_measurement"] == "h"

    del vrm.summary["records"]["data"]["52"]  # VRM drops time to go while charging
    vrm.summary["records"]["data"]["49"]["rawValue"] = "3.1"
    await tick(180)
    assert state_of(hass, "sensor", "time_to_go") == STATE_UNKNOWN
    assert state_of(hass, "sensor", "state") == "charging"
    assert state_of(hass, "sensor", "charging_share") == "100"


async def test_unchanged_values_do_not_write_new_states(
    hass: HomeAssistant,
    cerbo: FakeCerbo,
    vrm: FakeVrm,
    tick: Tick,
    init_integration: MockConfigEntry,
) -> None:
    """Polls that change nothing an entity shows cause no state change (no recorder rows)."""
    soc_id = entity_ids(hass, init_integration)[f"{PORTAL_ID}_soc"]
    voltage_id = entity_ids(hass, init_integration)[f"{PORTAL_ID}_voltage"]
    changes: dict[str, int] = {}

    def count(event: Event[EventStateChangedData]) -> None:
        changes[event.data["entity_id"]] = changes.get(event.data["entity_id"], 0) + 1

    hass.bus.async_listen("state_changed", count)
    system = root_of("system.json")
    for step in range(1, 19):  # three minutes: the voltage moves, the SOC does not
        system["Dc/Battery/Voltage"] = 49.8 + step / 100
        cerbo.set_root(SYSTEM, system)
        await tick(10)
    vrm.summary["records"]["data"]["51"]["rawValue"] = "79.5"  # VRM has news: SOC is local
    await tick(180)
    assert changes.get(voltage_id) == 18
    assert soc_id not in changes
    assert state_of(hass, "sensor", "soc") == "81.0"


@pytest.mark.parametrize("source", ["vrm"])
async def test_data_age_is_not_recorded(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    vrm: FakeVrm,
    tick: Tick,
    init_integration: MockConfigEntry,
) -> None:
    soc_id = entity_ids(hass, init_integration)[f"{PORTAL_ID}_soc"]
    budget_id = entity_ids(hass, init_integration)[f"{PORTAL_ID}_vrm_budget"]
    await tick(150)  # before the next poll: the sample ages, written on each recheck
    await async_wait_recording_done(hass)
    assert vrm.calls == ["system-overview", "BatterySummary"]
    assert hass.states.get(soc_id).attributes["data_age"] == 42 + 150  # type: ignore[union-attr]
    history = await hass.async_add_executor_job(
        state_changes_during_period, hass, START - timedelta(minutes=1), None, soc_id
    )
    recorded = history[soc_id]
    assert recorded
    for state in recorded:
        assert "data_age" not in state.attributes
        assert state.attributes["source"] == "vrm"
    history = await hass.async_add_executor_job(
        state_changes_during_period, hass, START - timedelta(minutes=1), None, budget_id
    )
    assert history[budget_id]
    for state in history[budget_id]:
        assert state.attributes["limit"] == 45


async def test_mean_of_the_charging_share_is_the_time_spent_charging(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    cerbo: FakeCerbo,
    tick: Tick,
) -> None:
    """What the dashboard's "Time charging" card reads: 5 of 20 minutes charging is 25 %."""
    system = root_of("system.json")
    cerbo.set_root(SYSTEM, system | {"Dc/Battery/State": 1})  # charging
    entry = make_entry(hass, LOCAL_DATA)
    await setup_entry(hass, entry)
    share_id = entity_ids(hass, entry)[f"{PORTAL_ID}_charging_share"]
    assert hass.states.get(share_id).state == "100"  # type: ignore[union-attr]
    await tick(290)
    cerbo.set_root(SYSTEM, system | {"Dc/Battery/State": 2})  # discharging from 10:05
    await tick(910)
    assert hass.states.get(share_id).state == "0"  # type: ignore[union-attr]
    await async_wait_recording_done(hass)
    for minutes in range(0, 20, 5):  # the 5-minute statistics the statistic card reads
        do_adhoc_statistics(hass, start=START + timedelta(minutes=minutes))
    await async_wait_recording_done(hass)
    share = await recorder_mock.async_add_executor_job(
        statistic_during_period,
        hass,
        START,
        START + timedelta(minutes=20),
        share_id,
        {"mean", "min", "max"},
        None,
    )
    assert share["mean"] == pytest.approx(25, abs=0.5)
    assert (share["min"], share["max"]) == (0, 100)


async def test_health_sensors(
    hass: HomeAssistant,
    cerbo: FakeCerbo,
    vrm: FakeVrm,
    tick: Tick,
    init_integration: MockConfigEntry,
) -> None:
    assert state_of(hass, "sensor", "vrm_last_success") == START.isoformat()
    assert state_of(hass, "sensor", "vrm_requests_last_hour") == "2"
    assert state_of(hass, "sensor", "vrm_consecutive_failures") == "0"

    vrm.html = MAINTENANCE
    break_cerbo(cerbo)
    # Two failed VRM polls (at the first failed local tick, 10 s, then 180 s later) and 36
    # failed local ticks. Failing coordinators stop notifying, so the health sensors catch up
    # on their 30 s timer (or when asked, as here).
    await tick(360)
    await update_entity(hass, "sensor", "local_consecutive_failures")
    assert state_of(hass, "sensor", "vrm_last_success") == START.isoformat()
    assert state_of(hass, "sensor", "vrm_consecutive_failures") == "2"
    assert state_of(hass, "sensor", "local_consecutive_failures") == "36"
    assert state_of(hass, "sensor", "vrm_requests_last_hour") == "4"
    # Connected until the third failure in a row (at 370 s), like the values VRM serves.
    assert state_of(hass, "binary_sensor", "vrm_reachable") == "on"
    await tick(10)
    assert state_of(hass, "binary_sensor", "vrm_reachable") == "off"
    assert attributes(hass, "binary_sensor", "vrm_reachable") == {
        "device_class": "connectivity",
        "friendly_name": "Cabin VRM connection",
        "error": "unparsable answer",
    }


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_readings_in_the_last_day(
    hass: HomeAssistant, tick: Tick, init_integration: MockConfigEntry
) -> None:
    assert state_of(hass, "sensor", "readings_24h") == "2"
    # Unchanged data does not wake the listeners; the 30 s timer (or a request, as here) brings
    # the count up to date.
    # 90 more local ticks and one VRM poll: VRM is a backup (every 15 min) while the Cerbo answers
    await tick(900)
    await update_entity(hass, "sensor", "readings_24h")
    await update_entity(hass, "sensor", "local_last_success")
    assert state_of(hass, "sensor", "readings_24h") == "93"
    assert attributes(hass, "sensor", "readings_24h")["local_readings"] == 91
    assert attributes(hass, "sensor", "readings_24h")["vrm_readings"] == 2
    assert state_of(hass, "sensor", "local_last_success") == (
        (START + timedelta(seconds=900)).isoformat()
    )


async def test_local_only_entry_has_no_vrm_entities(
    hass: HomeAssistant, cerbo: FakeCerbo, vrm: FakeVrm, tick: Tick
) -> None:
    entry = await arrange("local_only", hass, cerbo, vrm, tick)
    keys = set(states(hass, entry))
    assert not {key for key in keys if key.startswith("vrm_")}
    assert {"soh", "grid_power", "local_reachable"} <= keys


async def test_vrm_only_entry_has_no_local_only_values(
    hass: HomeAssistant, cerbo: FakeCerbo, vrm: FakeVrm, tick: Tick
) -> None:
    entry = await arrange("vrm_only", hass, cerbo, vrm, tick)
    keys = set(entity_ids(hass, entry))
    for key in ("soh", "grid_power", "inverter_state", "charged_energy", "local_reachable"):
        assert f"{PORTAL_ID}_{key}" not in keys


async def test_entry_without_sources_adds_nothing(hass: HomeAssistant) -> None:
    entry = make_entry(hass, {})
    await setup_entry(hass, entry)
    assert entity_ids(hass, entry) == {}
    assert devices(hass, entry) == []


async def test_installation_device_points_at_the_gx_without_vrm(
    hass: HomeAssistant, cerbo: FakeCerbo, vrm: FakeVrm, tick: Tick
) -> None:
    entry = await arrange("local_only", hass, cerbo, vrm, tick)
    gx, battery = devices(hass, entry)
    assert gx["identifiers"] == [(DOMAIN, PORTAL_ID)]
    assert gx["configuration_url"] == "http://192.168.1.20"
    assert gx["sw_version"] == "v3.70~33"
    assert battery["identifiers"] == [(DOMAIN, f"{PORTAL_ID}_battery")]
    assert battery["via"] == [(DOMAIN, PORTAL_ID)]
    assert battery["model"] == "Virtual battery"


@pytest.mark.usefixtures("vrm")
async def test_battery_model_from_vrm_when_the_cerbo_never_answered(
    hass: HomeAssistant, cerbo: FakeCerbo, tick: Tick
) -> None:
    break_cerbo(cerbo)
    entry = make_entry(hass, LOCAL_DATA | VRM_DATA)
    await setup_entry(hass, entry)
    found = {d["name"]: d for d in devices(hass, entry)}
    assert found["Cabin"]["model"] == "Cerbo GX"
    assert found["Cabin"]["sw_version"] == "v3.72"
    assert found["Cabin battery"]["model"] == "Pylontech battery"
    assert state_of(hass, "sensor", "soc") == "78.5"


@pytest.mark.parametrize("source", ["local"])
async def test_cerbo_values_change_with_the_cerbo(
    hass: HomeAssistant, cerbo: FakeCerbo, tick: Tick, init_integration: MockConfigEntry
) -> None:
    battery: dict[str, Any] = root_of("battery_pylontech.json")
    battery["Soh"] = 84.0
    battery["History/ChargedEnergy"] = 9432.39
    cerbo.set_root(PYLONTECH, battery)
    await tick(60)  # the separate BMS is read once a minute
    assert state_of(hass, "sensor", "soh") == "84.0"
    assert state_of(hass, "sensor", "charged_energy") == "9432.39"
    assert attributes(hass, "sensor", "charged_energy")["state_class"] == "total_increasing"


def test_configuration_url_and_fingerprints() -> None:
    def url(data: dict[str, Any]) -> str | None:
        return _configuration_url(MockConfigEntry(domain=DOMAIN, data=data))

    assert url({CONF_SITE_ID: 7, CONF_HOST: "gx.local"}) == (
        "https://vrm.victronenergy.com/installation/7/dashboard"
    )
    assert url({CONF_HOST: "[fe80::1]"}) == "http://[fe80::1]"
    assert url({CONF_HOST: "not a host"}) is None
    assert url({}) is None


async def test_battery_model_when_neither_source_names_it(
    hass: HomeAssistant, cerbo: FakeCerbo, vrm: FakeVrm, tick: Tick
) -> None:
    for service in (VIRTUAL, PYLONTECH):
        root = root_of(ROOT_FIXTURES[service])
        del root["ProductName"]
        cerbo.set_root(service, root)
    devices_list = vrm.overview["records"]["devices"]
    vrm.overview["records"]["devices"] = [d for d in devices_list if d.get("instance") != 512]
    entry = make_entry(hass, LOCAL_DATA | VRM_DATA)
    await setup_entry(hass, entry)
    battery = next(d for d in devices(hass, entry) if d["name"] == "Cabin battery")
    assert battery["model"] is None


def _history_import(hass: HomeAssistant, entry: MockConfigEntry) -> dict[str, Any]:
    """The projection of the entry's History import sensor, if it has one."""
    return {
        entity_id: item
        for entity_id, item in project(hass, entry).items()
        if item["unique_id"] == f"{PORTAL_ID}_history_import"
    }


@pytest.mark.parametrize(
    ("source", "entry_options", "created"),
    [
        ("vrm", {}, True),
        ("both", {CONF_HISTORY_DAYS: 0}, False),  # turned off
        ("local", {}, False),  # nothing to import without VRM
    ],
)
@pytest.mark.usefixtures("tick")  # setup at START
async def test_history_import_sensor(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    snapshot: SnapshotAssertion,
    init_integration: MockConfigEntry,
    *,
    created: bool,
) -> None:
    """A diagnostic entity on the installation device for entries that import VRM's past."""
    found = _history_import(hass, init_integration)
    if not created:
        assert found == {}
        return
    assert found == snapshot(name="history_import")
    (item,) = found.values()
    assert (item["device"], item["entity_category"], item["state"]) == ("gx", "diagnostic", "0.0")


async def test_history_import_sensor_follows_the_import(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    vrm: FakeVrm,
    freezer: FrozenDateTimeFactory,
    snapshot: SnapshotAssertion,
) -> None:
    """After the first request: days imported, requests and rows used."""
    freezer.move_to(START)
    stats = FakeStats(hass, vrm)
    entry = make_entry(hass, VRM_DATA, {CONF_HISTORY_DAYS: 3})
    await setup_entry(hass, entry)
    # the importer's steps run in the background
    await advance(hass, freezer, 5 * 60, background=True)
    assert len(stats.calls) == 1  # the 71 settled hours in one request
    assert _history_import(hass, entry) == snapshot(name="history_import_after_a_request")
