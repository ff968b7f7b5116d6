"""The fleet of a VRM account: its summary, its entities and its dashboard.

Real Home Assistant, VRM faked at the HTTP transport (FakeVrm): each installation is a VRM site
of its own (`FakeVrm.add_site`), so one can fail or raise an alarm while the others do not.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from freezegun.api import FrozenDateTimeFactory
from homeassistant.components import frontend
from homeassistant.components.lovelace.const import EVENT_LOVELACE_UPDATED, LOVELACE_DATA
from homeassistant.config_entries import ConfigEntryDisabler, ConfigEntryState
from homeassistant.const import STATE_OFF, STATE_ON
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.json import json_bytes
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_capture_events
from syrupy.assertion import SnapshotAssertion

from custom_components.victron_cerbo import dashboard as dash
from custom_components.victron_cerbo.battery import BatteryView, Shown, VrmStatus
from custom_components.victron_cerbo.const import (
    CONF_BATTERY_INSTANCE,
    CONF_PORTAL_ID,
    CONF_SHOW_DASHBOARD,
    CONF_SITE_ID,
    CONF_VRM_TOKEN,
    CONF_VRM_USER_ID,
    DOMAIN,
)
from custom_components.victron_cerbo.fleet import (
    Fleet,
    active_alarms,
    fleet_id,
    fleets,
    summarize,
    summarize_installation,
)
from custom_components.victron_cerbo.limits import Thresholds
from custom_components.victron_cerbo.problems import Verdict
from custom_components.victron_cerbo.sources import Source
from custom_components.victron_cerbo.vrm_account import account_key
from tests.helpers import (
    INSTANCE,
    TOKEN,
    USER_ID,
    FakeVrm,
    Tick,
    account_listing,
    make_entry,
    setup_entry,
    vrm_json,
)

OTHER_TOKEN = "b" * 64
SITES = {"Boat": 111111, "Cabin": 222222, "Raft": 333333, "Van": 444444}
FLEET = fleet_id(account_key(TOKEN))
FLEET_KEYS = {
    "binary_sensor": ("installation_alarm",),
    "sensor": ("installations_online", "installations_offline", "installations_with_alarm"),
}
DOWN = {"status": 503, "text": "<html>down</html>"}
NOW = datetime(2026, 1, 15, 10, 0, tzinfo=UTC)


# --- the summary, without Home Assistant ----------------------------------------------------


def _view(
    *,
    soc: float | None = 80.0,
    alarms: dict[str, int] | None = None,
    problems: dict[str, Verdict | None] | None = None,
    stale: bool = False,
    connected: bool = True,
) -> BatteryView:
    values: dict[str, Shown | None] = {
        "soc": Shown(soc, Source.VRM, 42) if soc is not None else None,
        "state": Shown("charging", Source.VRM, 40),
        "alarms": Shown(alarms, Source.VRM, 50),
    }
    return BatteryView(
        now=NOW,
        values=values,
        limits=Thresholds.from_options({}).limits(None),
        problems=problems or {},
        comparison=None,
        stale=stale,
        local=None,
        vrm=VrmStatus(
            connected=connected,
            error=None,
            last_success=NOW,
            failures=0 if connected else 3,
            requests_last_hour=4,
            budget_warning=40,
            budget_limit=50,
            near_limit=False,
            account_entries=2,
        ),
        readings_24h={},
    )


def test_active_alarms_are_those_at_warning_or_alarm_level() -> None:
    assert active_alarms(None) == ()
    assert active_alarms({"low_voltage": 0}) == ()
    assert active_alarms({"low_voltage": 2, "high_temperature": 1, "low_soc": 0}) == (
        "high_temperature",
        "low_voltage",
    )


def test_an_installation_summed_up() -> None:
    item = summarize_installation(
        "Boat",
        _view(
            alarms={"low_voltage": 2, "high_voltage": 0},
            problems={"low_soc": Verdict(True, {}), "grid_lost": Verdict(False, {}), "x": None},
        ),
    )
    assert (item.title, item.soc, item.state, item.data_age) == ("Boat", 80.0, "charging", 40)
    assert item.online
    assert item.alarms == ("low_voltage",)
    assert item.problems == ("low_soc",)
    assert not item.healthy
    assert summarize_installation("Boat", _view()).healthy


@pytest.mark.parametrize(
    "view",
    [_view(stale=True), _view(connected=False), None],
    ids=["stale", "sources failing", "no view yet"],
)
def test_offline_when_the_battery_data_is_not_fresh(view: BatteryView | None) -> None:
    item = summarize_installation("Boat", view)
    assert not item.online
    assert not item.healthy


def test_totals() -> None:
    summary = summarize(
        [
            ("Boat", _view()),
            ("Cabin", _view(alarms={"low_voltage": 1})),
            ("Raft", _view(connected=False)),
        ]
    )
    assert summary.total == 3
    assert summary.online == ("Boat", "Cabin")
    assert summary.offline == ("Raft",)
    assert summary.with_alarm == ("Cabin",)
    assert summary.alarms() == {"Cabin": ["low_voltage"]}


# --- in Home Assistant -------------------------------------------------------------------------


async def add(
    hass: HomeAssistant,
    vrm: FakeVrm,
    freezer: FrozenDateTimeFactory,
    title: str,
    token: str = TOKEN,
    *,
    options: dict[str, Any] | None = None,
    **kwargs: Any,
) -> MockConfigEntry:
    """A VRM-only entry for the site named `title`, created a second after the previous one."""
    site_id = SITES[title]
    vrm.add_site(site_id)
    freezer.tick(timedelta(seconds=1))  # entries are ordered by their creation time
    entry = make_entry(
        hass,
        {
            CONF_VRM_TOKEN: token,
            CONF_SITE_ID: site_id,
            CONF_BATTERY_INSTANCE: INSTANCE,
            CONF_PORTAL_ID: title.lower(),
            CONF_VRM_USER_ID: USER_ID,
        },
        options,
        title=title,
        unique_id=title.lower(),
        **kwargs,
    )
    if not entry.disabled_by:
        await setup_entry(hass, entry)
    return entry


def fleet_entity(hass: HomeAssistant, platform: str, key: str, base: str = FLEET) -> str | None:
    return er.async_get(hass).async_get_entity_id(platform, DOMAIN, f"{base}_{key}")


def fleet_device(hass: HomeAssistant) -> dr.DeviceEntry | None:
    """The VRM account's device, found through the entries (lookups differ between versions)."""
    registry = dr.async_get(hass)
    found = {
        device.id: device
        for entry in hass.config_entries.async_entries(DOMAIN)
        for device in dr.async_entries_for_config_entry(registry, entry.entry_id)
        if (DOMAIN, FLEET) in device.identifiers
    }
    assert len(found) <= 1
    return next(iter(found.values()), None)


def fleet_device_entries(hass: HomeAssistant) -> set[str]:
    """The config entries the VRM account's device belongs to (one, on newer versions)."""
    registry = dr.async_get(hass)
    return {
        entry.entry_id
        for entry in hass.config_entries.async_entries(DOMAIN)
        for device in dr.async_entries_for_config_entry(registry, entry.entry_id)
        if (DOMAIN, FLEET) in device.identifiers
    }


def fleet_state(hass: HomeAssistant, platform: str, key: str) -> tuple[str, dict[str, Any]]:
    entity_id = fleet_entity(hass, platform, key)
    assert entity_id is not None, key
    state = hass.states.get(entity_id)
    assert state is not None, key
    return state.state, dict(state.attributes)


def counts(hass: HomeAssistant) -> tuple[str, str, str, str]:
    """Online, offline, with an alarm, and the alarm binary sensor."""
    return (
        fleet_state(hass, "sensor", "installations_online")[0],
        fleet_state(hass, "sensor", "installations_offline")[0],
        fleet_state(hass, "sensor", "installations_with_alarm")[0],
        fleet_state(hass, "binary_sensor", "installation_alarm")[0],
    )


def fleet_registry_entries(hass: HomeAssistant) -> list[er.RegistryEntry]:
    return [
        item
        for item in er.async_get(hass).entities.values()
        if item.platform == DOMAIN and item.unique_id.startswith("vrm_account_")
    ]


async def test_two_installations_on_one_token_make_a_fleet(
    hass: HomeAssistant, vrm: FakeVrm, freezer: FrozenDateTimeFactory, tick: Tick
) -> None:
    boat = await add(hass, vrm, freezer, "Boat")
    assert fleet_registry_entries(hass) == []  # one installation is no fleet
    await add(hass, vrm, freezer, "Cabin")
    await add(hass, vrm, freezer, "Van", OTHER_TOKEN)  # another account, alone on it
    await hass.async_block_till_done()

    found = fleet_registry_entries(hass)
    assert sorted(item.unique_id for item in found) == sorted(
        f"{FLEET}_{key}" for keys in FLEET_KEYS.values() for key in keys
    )
    # held by the account's earliest-created entry; no token, site id or serial in the ids
    assert {item.config_entry_id for item in found} == {boat.entry_id}
    for item in found:
        assert TOKEN not in item.unique_id
        assert not any(str(site) in item.unique_id for site in SITES.values())
        assert "boat" not in item.unique_id
        assert "cabin" not in item.unique_id
    device = fleet_device(hass)
    assert device is not None
    assert device.entry_type is dr.DeviceEntryType.SERVICE
    assert device.name == "VRM account"
    assert {item.device_id for item in found} == {device.id}
    assert fleet_entity(hass, "sensor", "installations_online") == (
        "sensor.vrm_account_installations_online"
    )
    assert fleet_entity(hass, "binary_sensor", "installation_alarm") == (
        "binary_sensor.vrm_account_active_alarm_at_an_installation"
    )

    assert counts(hass) == ("2", "0", "0", STATE_OFF)
    assert fleet_state(hass, "sensor", "installations_online")[1]["installations"] == [
        "Boat",
        "Cabin",
    ]
    _, attributes = fleet_state(hass, "binary_sensor", "installation_alarm")
    assert attributes["installations"] == []
    assert attributes["alarms"] == {}
    # The other token's single installation has no fleet entities.
    assert (
        fleet_entity(hass, "sensor", "installations_online", fleet_id(account_key(OTHER_TOKEN)))
        is None
    )


async def test_an_alarm_at_one_installation(
    hass: HomeAssistant, vrm: FakeVrm, freezer: FrozenDateTimeFactory, tick: Tick
) -> None:
    await add(hass, vrm, freezer, "Boat")
    await add(hass, vrm, freezer, "Cabin")
    await add(hass, vrm, freezer, "Raft")
    assert counts(hass) == ("3", "0", "0", STATE_OFF)

    _, cabin_summary = vrm.add_site(SITES["Cabin"])  # serves its battery anew
    vrm.serve(cabin_summary, [{"json": vrm_json("battery_summary_numeric")}])
    await tick(15 * 60)
    assert counts(hass) == ("3", "0", "1", STATE_ON)
    _, attributes = fleet_state(hass, "binary_sensor", "installation_alarm")
    assert attributes["installations"] == ["Cabin"]
    assert attributes["alarms"] == {"Cabin": ["high_voltage", "low_starter_voltage"]}
    assert fleet_state(hass, "sensor", "installations_with_alarm")[1]["installations"] == ["Cabin"]


async def test_an_alarm_vrm_lists_for_one_installation(
    hass: HomeAssistant, vrm: FakeVrm, freezer: FrozenDateTimeFactory, tick: Tick
) -> None:
    """VRM's alarm monitoring, from the account's shared listing: fresh at every round.

    The recorded Workshop's alarms given to the Cabin: the solar charger "Roof" raising
    "Voltage" (active) and a battery monitor's warning that has cleared (not counted).
    """
    vrm.one_monitor()  # the listing serves every site
    recorded = vrm_json("installations_account_live")["records"]
    alarms = next(r for r in recorded if r.get("idSite") == 200001)["current_alarms"]
    raised = False

    def listing(url: Any) -> dict[str, Any] | None:
        if url.name != "installations" or "idSite" in url.query:
            return None
        body = account_listing(vrm.listed)
        if raised:
            cabin = next(r for r in body["records"] if r["idSite"] == SITES["Cabin"])
            cabin.update(current_alarms=alarms, alarm=True, num_alarms=1)
        return {"json": body}

    vrm.plan = listing
    await add(hass, vrm, freezer, "Boat")
    await add(hass, vrm, freezer, "Cabin")
    await add(hass, vrm, freezer, "Raft")
    await tick(10 * 60)
    assert counts(hass) == ("3", "0", "0", STATE_OFF)

    raised = True
    await tick(200)
    assert counts(hass) == ("3", "0", "1", STATE_ON)
    _, attributes = fleet_state(hass, "binary_sensor", "installation_alarm")
    assert attributes["alarms"] == {"Cabin": ["Roof: Voltage"]}

    raised = False
    await tick(200)
    assert counts(hass) == ("3", "0", "0", STATE_OFF)


async def test_an_installation_going_offline(
    hass: HomeAssistant, vrm: FakeVrm, freezer: FrozenDateTimeFactory, tick: Tick
) -> None:
    await add(hass, vrm, freezer, "Boat")
    cabin = await add(hass, vrm, freezer, "Cabin")
    overview, summary = vrm.add_site(SITES["Cabin"])
    vrm.serve(overview, [DOWN])
    vrm.serve(summary, [DOWN])
    vrm.listed.remove(SITES["Cabin"])  # gone from the account's listing too
    assert cabin.runtime_data.vrm is not None
    while cabin.runtime_data.vrm.health.consecutive_failures < 2:
        await tick(30)
    await tick(30)
    assert counts(hass) == ("2", "0", "0", STATE_OFF)  # served until the third failure
    while cabin.runtime_data.vrm.health.consecutive_failures < 3:
        await tick(30)
    await tick(30)
    assert counts(hass) == ("1", "1", "0", STATE_OFF)
    assert fleet_state(hass, "sensor", "installations_offline")[1]["installations"] == ["Cabin"]
    assert fleet_state(hass, "sensor", "installations_online")[1]["installations"] == ["Boat"]

    vrm.add_site(SITES["Cabin"])  # back
    while cabin.runtime_data.vrm.health.consecutive_failures:
        await tick(30)
    await tick(30)
    assert counts(hass) == ("2", "0", "0", STATE_OFF)


async def test_removing_the_owner_hands_the_entities_on(
    hass: HomeAssistant, vrm: FakeVrm, freezer: FrozenDateTimeFactory, tick: Tick
) -> None:
    boat = await add(hass, vrm, freezer, "Boat")
    cabin = await add(hass, vrm, freezer, "Cabin")
    raft = await add(hass, vrm, freezer, "Raft")
    entity_ids = {item.unique_id: item.entity_id for item in fleet_registry_entries(hass)}
    assert len(entity_ids) == 4

    assert await hass.config_entries.async_remove(boat.entry_id)
    await hass.async_block_till_done()
    found = fleet_registry_entries(hass)
    assert {item.unique_id: item.entity_id for item in found} == entity_ids  # same ids
    assert {item.config_entry_id for item in found} == {cabin.entry_id}
    assert counts(hass) == ("2", "0", "0", STATE_OFF)
    assert fleet_state(hass, "sensor", "installations_online")[1]["installations"] == [
        "Cabin",
        "Raft",
    ]
    assert fleet_device_entries(hass) == {cabin.entry_id}

    # One installation left: no fleet; its entities and device go, though Raft held none.
    assert await hass.config_entries.async_remove(raft.entry_id)
    await hass.async_block_till_done()
    assert fleet_registry_entries(hass) == []
    assert fleet_device(hass) is None
    assert not [state for state in hass.states.async_all() if "vrm_account" in state.entity_id]


async def test_an_earlier_entry_loading_later_takes_over(
    hass: HomeAssistant, vrm: FakeVrm, freezer: FrozenDateTimeFactory, tick: Tick
) -> None:
    boat = await add(hass, vrm, freezer, "Boat", disabled_by=ConfigEntryDisabler.USER)
    cabin = await add(hass, vrm, freezer, "Cabin")
    await add(hass, vrm, freezer, "Raft")
    entity_ids = {item.unique_id: item.entity_id for item in fleet_registry_entries(hass)}
    assert {item.config_entry_id for item in fleet_registry_entries(hass)} == {cabin.entry_id}
    device = fleet_device(hass)
    assert device is not None
    device_id = device.id

    assert await hass.config_entries.async_set_disabled_by(boat.entry_id, None)
    await hass.async_block_till_done()
    assert boat.state is ConfigEntryState.LOADED
    found = fleet_registry_entries(hass)
    assert {item.unique_id: item.entity_id for item in found} == entity_ids
    assert {item.config_entry_id for item in found} == {boat.entry_id}
    device = fleet_device(hass)
    assert device is not None
    assert device.id == device_id  # moved, not made anew: its area and name stay
    assert fleet_device_entries(hass) == {boat.entry_id}
    assert {item.device_id for item in found} == {device_id}
    assert counts(hass) == ("3", "0", "0", STATE_OFF)

    # Unloading one of three keeps the fleet; unloading another leaves it unprovided.
    assert await hass.config_entries.async_unload(cabin.entry_id)
    await hass.async_block_till_done()
    assert counts(hass) == ("2", "0", "0", STATE_OFF)
    assert await hass.config_entries.async_unload(boat.entry_id)
    await hass.async_block_till_done()
    # kept in the registry, so a restart loses no renamed entity id
    assert {item.unique_id: item.entity_id for item in fleet_registry_entries(hass)} == entity_ids
    for entity_id in entity_ids.values():
        state = hass.states.get(entity_id)
        assert state is None or state.state == "unavailable"
    assert boat.state is ConfigEntryState.NOT_LOADED


async def test_the_fleet_polls_nothing(
    hass: HomeAssistant, vrm: FakeVrm, freezer: FrozenDateTimeFactory, tick: Tick
) -> None:
    await add(hass, vrm, freezer, "Boat")
    await add(hass, vrm, freezer, "Cabin")
    # Boat alone: overview + BatterySummary; Cabin shares the account's listing and gets its
    # overview as the first extra request: as without the fleet, which sends nothing itself
    assert vrm.count() == 4
    fleet = fleets(hass)[account_key(TOKEN)]
    assert isinstance(fleet, Fleet)
    assert len(fleet.members) == 2


# --- the dashboard -------------------------------------------------------------------------------


async def test_fleet_dashboard(
    hass: HomeAssistant,
    vrm: FakeVrm,
    freezer: FrozenDateTimeFactory,
    tick: Tick,
    snapshot: SnapshotAssertion,
) -> None:
    assert await async_setup_component(hass, "lovelace", {})
    await add(hass, vrm, freezer, "Boat")
    lovelace = hass.data[LOVELACE_DATA]
    fleet = fleets(hass)[account_key(TOKEN)]
    url = dash.fleet_url_path(fleet)
    assert url not in lovelace.dashboards  # one installation: no fleet dashboard

    cabin = await add(hass, vrm, freezer, "Cabin", options={CONF_SHOW_DASHBOARD: False})
    await add(hass, vrm, freezer, "Van", OTHER_TOKEN)
    dashboard = lovelace.dashboards[url]
    assert isinstance(dashboard, dash.VictronFleetDashboard)
    assert TOKEN not in url
    assert (
        len(
            [
                item
                for item in lovelace.dashboards.values()
                if isinstance(item, dash.VictronFleetDashboard)
            ]
        )
        == 1
    )
    config = await dashboard.async_load(force=False)
    assert config == snapshot
    view = config["views"][0]
    assert [section["cards"][0]["heading"] for section in view["sections"]] == [
        "All installations",
        "Boat",
        "Cabin",
    ]
    cards = {card["type"] for section in view["sections"] for card in section["cards"]}
    assert cards <= {"heading", "tile", "markdown", "entities", "button"}
    # Three columns at desktop width: a half-width tile shows about ten characters of its name
    # (the browser check showed "State of ch…"), so longer names take the whole width.
    cut = [
        card["name"]
        for section in view["sections"]
        for card in section["cards"]
        if card["type"] == "tile"
        and card["grid_options"]["columns"] != 12  # a section's full width
        and len(card["name"]) > 10
    ]
    assert not cut

    assert await hass.config_entries.async_unload(cabin.entry_id)
    await hass.async_block_till_done()
    assert url not in lovelace.dashboards


async def test_fleet_dashboard_follows_the_owner_option(
    hass: HomeAssistant, vrm: FakeVrm, freezer: FrozenDateTimeFactory, tick: Tick
) -> None:
    assert await async_setup_component(hass, "lovelace", {})
    await add(hass, vrm, freezer, "Boat", options={CONF_SHOW_DASHBOARD: False})
    await add(hass, vrm, freezer, "Cabin")
    fleet = fleets(hass)[account_key(TOKEN)]
    assert dash.fleet_url_path(fleet) not in hass.data[LOVELACE_DATA].dashboards
    assert fleet_registry_entries(hass)  # the entities do not depend on the option


def test_repository_fleet_yaml_is_current() -> None:
    """dashboards/victron_fleet.yaml is what the builder makes (scripts/dashboard_yaml.py)."""
    path = Path(__file__).resolve().parent.parent / "dashboards" / "victron_fleet.yaml"
    text = path.read_text(encoding="utf-8")
    assert text == dash.example_fleet_yaml()
    loaded = yaml.safe_load(text)
    headings = [section["cards"][0]["heading"] for section in loaded["views"][0]["sections"]]
    assert headings == ["All installations", "Boat", "Cabin"]
    entities = {
        card["entity"]
        for section in loaded["views"][0]["sections"]
        for card in section["cards"]
        if "entity" in card
    }
    assert {f"{platform}.vrm_account_{key}" for platform, key in dash.FLEET_KEYS} <= entities


async def test_fleet_dashboard_served_and_refreshed(
    hass: HomeAssistant,
    vrm: FakeVrm,
    freezer: FrozenDateTimeFactory,
    tick: Tick,
) -> None:
    """Served as JSON; open browsers refresh when an entity is renamed."""
    assert await async_setup_component(hass, "lovelace", {})
    await add(hass, vrm, freezer, "Boat")
    cabin = await add(hass, vrm, freezer, "Cabin")
    url = dash.fleet_url_path(fleets(hass)[account_key(TOKEN)])
    panel = hass.data[frontend.DATA_PANELS][url]
    assert (panel.sidebar_title, panel.sidebar_icon) == ("Victron fleet", "mdi:map-marker-multiple")
    dashboard = hass.data[LOVELACE_DATA].dashboards[url]
    assert await dashboard.async_get_info() == {"mode": "yaml", "views": 1}

    # what the websocket API sends (its client cannot log in under the frozen clock)
    served = json.loads(json_bytes({"config": await dashboard.async_json(force=False)}))["config"]
    assert served == await dashboard.async_load(force=False)
    assert served["title"] == "Victron fleet"

    events = async_capture_events(hass, EVENT_LOVELACE_UPDATED)
    registry = er.async_get(hass)
    soc = registry.async_get_entity_id("sensor", DOMAIN, f"{cabin.unique_id}_soc")
    assert soc is not None
    registry.async_update_entity(soc, new_entity_id="sensor.cabin_charge")
    await hass.async_block_till_done()
    # the fleet's and Cabin's own dashboard
    assert sorted(event.data["url_path"] for event in events) == sorted(
        [url, "victron-cerbo-cabin"]
    )
    config = await dashboard.async_load(force=False)
    tiles = [
        card.get("entity")
        for section in config["views"][0]["sections"]
        for card in section["cards"]
    ]
    assert "sensor.cabin_charge" in tiles


async def test_fleet_dashboard_never_replaces_an_existing_one(
    hass: HomeAssistant,
    vrm: FakeVrm,
    freezer: FrozenDateTimeFactory,
    tick: Tick,
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert await async_setup_component(hass, "lovelace", {})
    url = f"victron-cerbo-fleet-{account_key(TOKEN)[:8]}"
    frontend.async_register_built_in_panel(
        hass, "lovelace", "Mine", "mdi:star", frontend_url_path=url, config={"mode": "storage"}
    )
    await add(hass, vrm, freezer, "Boat")
    cabin = await add(hass, vrm, freezer, "Cabin")
    assert "already uses" in caplog.text
    assert hass.data[frontend.DATA_PANELS][url].sidebar_title == "Mine"
    assert await hass.config_entries.async_unload(cabin.entry_id)
    await hass.async_block_till_done()
    assert hass.data[frontend.DATA_PANELS][url].sidebar_title == "Mine"


async def test_reloading_the_owner_keeps_the_fleet(
    hass: HomeAssistant, vrm: FakeVrm, freezer: FrozenDateTimeFactory, tick: Tick
) -> None:
    """A reload moves the entities to the next entry and back, under the same ids."""
    boat = await add(hass, vrm, freezer, "Boat")
    await add(hass, vrm, freezer, "Cabin")
    entity_ids = {item.unique_id: item.entity_id for item in fleet_registry_entries(hass)}
    device = fleet_device(hass)
    assert device is not None
    assert await hass.config_entries.async_reload(boat.entry_id)
    await hass.async_block_till_done()
    found = fleet_registry_entries(hass)
    assert {item.unique_id: item.entity_id for item in found} == entity_ids
    assert {item.config_entry_id for item in found} == {boat.entry_id}
    assert fleet_device_entries(hass) == {boat.entry_id}
    assert {item.device_id for item in found} == {device.id}
    assert counts(hass) == ("2", "0", "0", STATE_OFF)
    assert len(fleets(hass)[account_key(TOKEN)].members) == 2
