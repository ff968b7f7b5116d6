"""The bundled dashboard: registration in a real Home Assistant, the config it builds, the YAML."""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from homeassistant.components import frontend
from homeassistant.components.lovelace.const import EVENT_LOVELACE_UPDATED, LOVELACE_DATA
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.template import Template
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from homeassistant.util.unit_system import US_CUSTOMARY_SYSTEM
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_capture_events
from pytest_homeassistant_custom_component.typing import WebSocketGenerator
from syrupy.assertion import SnapshotAssertion

from custom_components.victron_cerbo import dashboard as dash
from custom_components.victron_cerbo.const import (
    CONF_NOMINAL_VOLTAGE,
    CONF_SHOW_DASHBOARD,
    CONF_SOLARK_ENTITY,
    CONF_TEMPERATURE_MAX,
    CONF_TEMPERATURE_MIN,
    CONF_VOLTAGE_MAX,
    CONF_VOLTAGE_MIN,
    DOMAIN,
)
from custom_components.victron_cerbo.insight_entities import INSIGHT_SENSORS
from tests.helpers import PORTAL_ID, make_entry

URL = f"victron-cerbo-{PORTAL_ID}"
ROOT = Path(__file__).resolve().parent.parent
CORE_CARDS = {
    "button",
    "entities",
    "gauge",
    "heading",
    "history-graph",
    "markdown",
    "statistic",
    "statistics-graph",
    "tile",
}
# the views in order: the range views follow "now" and "health"
VIEW_PATHS = ["now", "health", "6h", "12h", "24h", "48h", "72h"]
RANGE_VIEWS = slice(2, 7)


def _entry(hass: HomeAssistant, **options: Any) -> MockConfigEntry:
    """An entry without sources: the dashboard needs none."""
    return make_entry(hass, {}, options, title="Cabin battery")


def _register_entities(
    hass: HomeAssistant, entry: MockConfigEntry, keys: dict[str, tuple[str, ...]] | None = None
) -> dict[str, str]:
    """Register the contract's entities as the platforms will; return key -> entity id."""
    registry = er.async_get(hass)
    keys = keys or {"sensor": dash.SENSOR_KEYS, "binary_sensor": dash.BINARY_SENSOR_KEYS}
    found = {}
    for platform, platform_keys in keys.items():
        for key in platform_keys:
            registry_entry = registry.async_get_or_create(
                platform,
                DOMAIN,
                f"{PORTAL_ID}_{key}",
                config_entry=entry,
                suggested_object_id=f"cabin_{key}",
            )
            found[key] = registry_entry.entity_id
    return found


async def _set_up(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Load lovelace and the entry; setting up the entry registers the dashboard."""
    assert await async_setup_component(hass, "lovelace", {})
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert URL in hass.data[LOVELACE_DATA].dashboards  # async_setup_entry registered it


def _cards(config: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for view in config["views"]:
        for section in view.get("sections", []):
            yield from section["cards"]
        yield from view.get("cards", [])


def _entity_ids(config: dict[str, Any]) -> set[str]:
    found: set[str] = set()
    for card in _cards(config):
        if "entity" in card:
            found.add(card["entity"])
        for row in card.get("entities", []):
            found.add(row["entity"])
    return found


def _markdown(config: dict[str, Any], view: str = "now") -> str:
    (card,) = [
        card
        for card in _cards({"views": [v for v in config["views"] if v["path"] == view]})
        if card["type"] == "markdown"
    ]
    return str(card["content"])


async def _ws_config(hass_ws_client: WebSocketGenerator, hass: HomeAssistant) -> dict[str, Any]:
    client = await hass_ws_client(hass)
    await client.send_json_auto_id({"type": "lovelace/config", "url_path": URL})
    response = await client.receive_json()
    assert response["success"], response
    result: dict[str, Any] = response["result"]
    return result


async def test_registered_in_sidebar_and_removed_on_unload(
    hass: HomeAssistant, hass_ws_client: WebSocketGenerator
) -> None:
    """The dashboard is a sidebar panel served over the websocket API until the entry unloads."""
    entry = _entry(hass)
    ids = _register_entities(hass, entry)
    await _set_up(hass, entry)

    panel = hass.data[frontend.DATA_PANELS][URL]
    assert panel.component_name == "lovelace"
    assert panel.sidebar_title == "Cabin battery"
    assert panel.sidebar_icon == dash.ICON
    assert panel.config == {"mode": "yaml"}
    assert isinstance(hass.data[LOVELACE_DATA].dashboards[URL], dash.VictronDashboard)

    config = await _ws_config(hass_ws_client, hass)
    assert config["title"] == "Cabin battery"
    assert [view["path"] for view in config["views"]] == [*VIEW_PATHS, "copy"]
    # No Sol-Ark sensor configured: the comparison entities are not shown.
    assert _entity_ids(config) == set(ids.values()) - {
        ids["soc_difference"],
        ids["soc_disagreement"],
    }

    client = await hass_ws_client(hass)
    await client.send_json_auto_id({"type": "lovelace/dashboards/list"})
    listed = (await client.receive_json())["result"]
    assert {"url_path": URL, "mode": "yaml", "title": "Cabin battery"}.items() <= next(
        item for item in listed if item.get("url_path") == URL
    ).items()

    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.NOT_LOADED
    assert URL not in hass.data[frontend.DATA_PANELS]
    assert URL not in hass.data[LOVELACE_DATA].dashboards

    client = await hass_ws_client(hass)
    await client.send_json_auto_id({"type": "lovelace/config", "url_path": URL})
    assert (await client.receive_json())["error"]["code"] == "config_not_found"


async def test_removed_entry_leaves_no_dashboard(hass: HomeAssistant) -> None:
    """Deleting the entry unloads it; no panel or dashboard is left behind."""
    entry = _entry(hass)
    await _set_up(hass, entry)
    assert await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done()
    assert URL not in hass.data[frontend.DATA_PANELS]
    assert URL not in hass.data[LOVELACE_DATA].dashboards


async def test_reload_registers_again(hass: HomeAssistant) -> None:
    """An options change reloads the entry: the old panel goes before the new one comes."""
    entry = _entry(hass)
    await _set_up(hass, entry)
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert await hass.config_entries.async_setup(entry.entry_id)
    assert URL in hass.data[LOVELACE_DATA].dashboards
    assert URL in hass.data[frontend.DATA_PANELS]


async def test_option_turns_it_off(hass: HomeAssistant) -> None:
    """With the option off, nothing is registered and unloading is still clean."""
    entry = _entry(hass, **{CONF_SHOW_DASHBOARD: False})
    assert await async_setup_component(hass, "lovelace", {})
    assert await hass.config_entries.async_setup(entry.entry_id)
    assert not dash.async_register_dashboard(hass, entry)
    assert URL not in hass.data[frontend.DATA_PANELS]
    assert URL not in hass.data[LOVELACE_DATA].dashboards
    dash.async_unregister_dashboard(hass, entry)  # nothing to remove: no error
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_never_replaces_an_existing_dashboard(
    hass: HomeAssistant, caplog: pytest.LogCaptureFixture
) -> None:
    """A panel of the user's at the same URL stays, also after our entry unloads."""
    entry = _entry(hass)
    assert await async_setup_component(hass, "lovelace", {})
    frontend.async_register_built_in_panel(
        hass, "lovelace", "Mine", "mdi:star", frontend_url_path=URL, config={"mode": "storage"}
    )
    assert await hass.config_entries.async_setup(entry.entry_id)
    assert not dash.async_register_dashboard(hass, entry)
    assert "already uses" in caplog.text
    assert hass.data[frontend.DATA_PANELS][URL].sidebar_title == "Mine"

    dash.async_unregister_dashboard(hass, entry)
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert hass.data[frontend.DATA_PANELS][URL].sidebar_title == "Mine"


async def test_without_lovelace(hass: HomeAssistant, caplog: pytest.LogCaptureFixture) -> None:
    """Without the dashboards component the entry still works; the log says why."""
    entry = _entry(hass)
    caplog.set_level(logging.DEBUG, logger="custom_components.victron_cerbo")
    assert await hass.config_entries.async_setup(entry.entry_id)
    assert not dash.async_register_dashboard(hass, entry)
    assert "Dashboards are not set up" in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING and "Dashboards" in r.msg]
    dash.async_unregister_dashboard(hass, entry)
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_lovelace_in_yaml_mode(
    hass: HomeAssistant, hass_ws_client: WebSocketGenerator
) -> None:
    """A user whose own dashboards are in YAML mode still gets this one."""
    entry = _entry(hass)
    _register_entities(hass, entry)
    assert await async_setup_component(hass, "lovelace", {"lovelace": {"mode": "yaml"}})
    assert await hass.config_entries.async_setup(entry.entry_id)
    assert URL in hass.data[LOVELACE_DATA].dashboards
    config = await _ws_config(hass_ws_client, hass)
    assert len(config["views"]) == 8
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert URL not in hass.data[LOVELACE_DATA].dashboards


async def test_renamed_entities_keep_working(
    hass: HomeAssistant, hass_ws_client: WebSocketGenerator
) -> None:
    """The config follows the registry; open browsers are told to reload it."""
    entry = _entry(hass)
    ids = _register_entities(hass, entry)
    await _set_up(hass, entry)
    updated = async_capture_events(hass, EVENT_LOVELACE_UPDATED)

    registry = er.async_get(hass)
    registry.async_update_entity(ids["voltage"], new_entity_id="sensor.shed_bank_volts")
    registry.async_update_entity(ids["data_stale"], new_entity_id="binary_sensor.shed_stale")
    await hass.async_block_till_done()

    config = await _ws_config(hass_ws_client, hass)
    found = _entity_ids(config)
    assert {"sensor.shed_bank_volts", "binary_sensor.shed_stale"} <= found
    assert ids["voltage"] not in found
    assert ids["data_stale"] not in found
    assert "states('sensor.shed_bank_volts')" in _markdown(config)
    assert [event.data for event in updated] == [{"url_path": URL}] * 2

    # Someone else's entity changing does not make the dashboard reload.
    registry.async_get_or_create("sensor", "demo", "other", suggested_object_id="other")
    registry.async_update_entity("sensor.other", new_entity_id="sensor.other_renamed")
    await hass.async_block_till_done()
    assert len(updated) == 2


async def test_disabled_and_missing_entities_get_no_card(hass: HomeAssistant) -> None:
    """A VRM-only entry has no local health entities; disabled ones are left out too."""
    entry = _entry(hass)
    only = {
        "sensor": ("soc", "voltage", "vrm_last_success"),
        "binary_sensor": ("vrm_reachable", "battery_alarm"),
    }
    ids = _register_entities(hass, entry, only)
    er.async_get(hass).async_update_entity(
        ids["battery_alarm"], disabled_by=er.RegistryEntryDisabler.USER
    )
    await _set_up(hass, entry)

    config = await hass.data[LOVELACE_DATA].dashboards[URL].async_load(force=False)
    assert _entity_ids(config) == {
        ids["soc"],
        ids["voltage"],
        ids["vrm_last_success"],
        ids["vrm_reachable"],
    }
    markdown = _markdown(config)
    assert "local_reachable" not in markdown
    assert "battery_alarm" not in markdown
    trends = config["views"][4]["sections"][0]["cards"]  # 24 h
    assert [card["type"] for card in trends] == ["heading", "history-graph"]  # voltage only
    assert trends[1]["entities"] == [
        {"entity": ids["voltage"], "name": f"Voltage, optimal 52{dash.TO}58 V"}
    ]


async def test_nothing_registered_gives_empty_views(hass: HomeAssistant) -> None:
    """Before the platforms have added anything the dashboard is empty, not broken."""
    entry = _entry(hass)
    await _set_up(hass, entry)
    dashboard = hass.data[LOVELACE_DATA].dashboards[URL]
    config = await dashboard.async_load(force=True)
    assert all(view.get("sections", []) == [] for view in config["views"][:-1])
    assert await dashboard.async_get_info() == {"mode": "yaml", "views": 8}
    assert (await dashboard.async_json(force=False)) is not None


async def test_comparison_hidden_without_solark(hass: HomeAssistant) -> None:
    """No Sol-Ark sensor in the options: no comparison section, no comparison graphs."""
    entry = _entry(hass)
    _register_entities(hass, entry)
    config = dash.async_build_dashboard(hass, entry)
    text = yaml.safe_dump(config)
    assert "Sol-Ark" not in text
    assert "soc_difference" not in text


async def test_comparison_shown_with_solark(hass: HomeAssistant) -> None:
    """With a Sol-Ark sensor both SOCs are graphed together, with difference and agreement."""
    hass.states.async_set("sensor.inverter_battery_soc", "87", {"unit_of_measurement": "%"})
    entry = _entry(hass, **{CONF_SOLARK_ENTITY: "sensor.inverter_battery_soc"})
    ids = _register_entities(hass, entry)
    config = dash.async_build_dashboard(hass, entry)

    headings = [s["cards"][0]["heading"] for s in config["views"][0]["sections"]]
    assert "Sol-Ark comparison" in headings
    for hours, view in zip(dash.RANGES, config["views"][RANGE_VIEWS], strict=True):
        comparison = view["sections"][-1]
        assert comparison["cards"][0]["heading"] == f"Sol-Ark comparison, last {hours} hours"
        soc_graph, difference_graph = comparison["cards"][1:]
        assert [row["entity"] for row in soc_graph["entities"]] == [
            ids["soc"],
            "sensor.inverter_battery_soc",
        ]
        assert [row["entity"] for row in difference_graph["entities"]] == [
            ids["soc_difference"],
            ids["soc_disagreement"],
        ]
        assert soc_graph["hours_to_show"] == hours


async def test_missing_solark_entity_explained(hass: HomeAssistant) -> None:
    """A Sol-Ark sensor that vanished: a note instead of cards for an unknown entity."""
    entry = _entry(hass, **{CONF_SOLARK_ENTITY: "sensor.gone"})
    _register_entities(hass, entry)
    config = dash.async_build_dashboard(hass, entry)
    assert "sensor.gone" not in _entity_ids(config)
    notes = [c["content"] for c in _cards(config) if c["type"] == "markdown"]
    assert any("`sensor.gone`" in note and "does not exist" in note for note in notes)
    assert all(
        "Sol-Ark comparison, last" not in yaml.safe_dump(v) for v in config["views"][RANGE_VIEWS]
    )


async def test_disabled_solark_entity_counts_as_missing(hass: HomeAssistant) -> None:
    """A disabled Sol-Ark entity has no state; the comparison is hidden with a note."""
    registry = er.async_get(hass)
    other = registry.async_get_or_create(
        "sensor", "solark", "soc", disabled_by=er.RegistryEntryDisabler.USER
    )
    entry = _entry(hass, **{CONF_SOLARK_ENTITY: other.entity_id})
    assert dash.dashboard_settings(hass, entry).missing_solark == other.entity_id
    assert dash.SOLARK not in dash.dashboard_entities(hass, entry)


async def test_trends_and_statistics_per_range(hass: HomeAssistant) -> None:
    """Each range view graphs and summarises exactly its own number of hours."""
    entry = _entry(hass)
    ids = _register_entities(hass, entry)
    config = dash.async_build_dashboard(hass, entry)
    for hours, view in zip(dash.RANGES, config["views"][RANGE_VIEWS], strict=True):
        assert view["title"] == f"{hours} h"
        trends, summary = view["sections"]
        voltage, current, temperature = trends["cards"][1:]
        assert {c["hours_to_show"] for c in trends["cards"][1:]} == {hours}
        # One round step beyond the optimal band: its ends are gridlines, not the axis ends.
        assert (voltage["min_y_axis"], voltage["max_y_axis"]) == (50.0, 60.0)
        assert voltage["fit_y_data"] is True
        assert [row["entity"] for row in voltage["entities"]] == [
            ids["voltage"],
            ids["voltage_out_of_range"],
        ]
        assert [row["entity"] for row in current["entities"]] == [ids["current"], ids["state"]]
        assert "min_y_axis" not in current
        assert (temperature["min_y_axis"], temperature["max_y_axis"]) == (10.0, 35.0)
        assert [c["title"] for c in trends["cards"][1:]] == ["Voltage", "Current", "Temperature"]
        statistic_cards = [c for c in summary["cards"] if c["type"] == "statistic"]
        stats = {(c["entity"], c["stat_type"]) for c in statistic_cards}
        assert {
            (ids["voltage"], "mean"),
            (ids["voltage"], "min"),
            (ids["voltage"], "max"),
            (ids["current"], "mean"),
            (ids["charging_share"], "mean"),  # the share of time charging
            (ids["temperature"], "mean"),
            (ids["temperature"], "min"),
            (ids["temperature"], "max"),
        } <= stats
        assert len(statistic_cards) == 11
        assert {yaml.safe_dump(c["period"]) for c in statistic_cards} == {
            yaml.safe_dump({"rolling_window": {"duration": {"hours": hours}}})
        }


async def test_layout_reads_well_on_a_phone(hass: HomeAssistant) -> None:
    """Short chart titles, no heading promising a card that is not there, a word on statistics.

    The long explanations live in the legends, which wrap; the summary says when the
    statistics cards fill in, instead of showing bare units without a word.
    """
    hass.states.async_set("sensor.inverter_battery_soc", "87")
    entry = _entry(hass, **{CONF_SOLARK_ENTITY: "sensor.inverter_battery_soc"})
    _register_entities(hass, entry)
    config = dash.async_build_dashboard(hass, entry)
    for view in config["views"][RANGE_VIEWS]:
        titles = [c["title"] for c in _cards({"views": [view]}) if "title" in c]
        assert titles
        assert all(len(title) <= 16 for title in titles), titles
        headings = [c["heading"] for c in _cards({"views": [view]}) if c["type"] == "heading"]
        assert not [h for h in headings if "spread" in h]
        summary = view["sections"][1]["cards"]
        assert summary[1]["type"] == "markdown"
        assert "5 minutes" in summary[1]["content"]


@pytest.mark.parametrize("key", ["voltage", "temperature"])
async def test_unavailable_gauge_becomes_a_plain_tile(hass: HomeAssistant, key: str) -> None:
    """A gauge without a number is an error box: it shows only with a value, a tile otherwise."""
    entry = _entry(hass)
    ids = _register_entities(hass, entry)
    now = dash.async_build_dashboard(hass, entry)["views"][0]
    cards = [c for c in _cards({"views": [now]}) if c.get("entity") == ids[key]]
    assert [c["type"] for c in cards] == ["gauge", "tile"]
    gauge, tile = cards
    assert gauge["visibility"] == [
        {"condition": "state", "entity": ids[key], "state_not": ["unavailable", "unknown"]}
    ]
    assert tile["visibility"] == [
        {"condition": "state", "entity": ids[key], "state": ["unavailable", "unknown"]}
    ]


# The insight's sensors that the platform adds disabled.
DISABLED_BY_DEFAULT = tuple(
    description.key
    for description in INSIGHT_SENSORS
    if description.entity_registry_enabled_default is False
)
HEALTH_HEADINGS = [
    "Risk",
    "Health scores",
    "State of health",
    "Cell balance",
    "Heat",
    "Charge and discharge",
    "Cycles",
]


def _headings(view: dict[str, Any]) -> list[str]:
    return [section["cards"][0]["heading"] for section in view["sections"]]


async def test_health_view(hass: HomeAssistant, snapshot: SnapshotAssertion) -> None:
    """The Health tab: the risk and why, the scores, the slow trends with their daily charts.

    The sensors the platform adds disabled get no card until the user enables them.
    """
    entry = _entry(hass)
    ids = _register_entities(hass, entry)
    registry = er.async_get(hass)
    for key in DISABLED_BY_DEFAULT:
        registry.async_update_entity(ids[key], disabled_by=er.RegistryEntryDisabler.INTEGRATION)
    health = dash.async_build_dashboard(hass, entry)["views"][1]
    assert health == snapshot
    assert (health["title"], health["path"], health["max_columns"]) == ("Health", "health", 2)
    assert _headings(health) == HEALTH_HEADINGS
    shown = _entity_ids({"views": [health]})
    assert not shown & {ids[key] for key in DISABLED_BY_DEFAULT}
    cycles = health["sections"][-1]["cards"]
    assert [(card["entity"], card["name"]) for card in cycles[1:]] == [
        (ids["equivalent_full_cycles"], "Full cycles"),
        (ids["cycles_per_day"], "Per day"),
        (ids["cycles_end_of_life"], "End of life"),
    ]
    charts = [c for c in _cards({"views": [health]}) if c["type"] == "statistics-graph"]
    assert [
        ([row["entity"] for row in c["entities"]], c["stat_types"], c["days_to_show"])
        for c in charts
    ] == [
        ([ids["soh"]], ["mean"], 365),
        ([ids["cell_spread_day"]], ["max"], 30),
        ([ids["temperature"]], ["mean", "max"], 30),
    ]

    # Enabled by the user, they are shown.
    for key in DISABLED_BY_DEFAULT:
        registry.async_update_entity(ids[key], disabled_by=None)
    health = dash.async_build_dashboard(hass, entry)["views"][1]
    assert {ids[key] for key in DISABLED_BY_DEFAULT} <= _entity_ids({"views": [health]})


async def test_health_view_without_the_insight(hass: HomeAssistant) -> None:
    """Without the recorder there is no insight: the battery's own values, no empty sections."""
    entry = _entry(hass)
    insight = {description.key for description in INSIGHT_SENSORS} | {"full_charge_overdue"}
    keys = {
        "sensor": tuple(key for key in dash.SENSOR_KEYS if key not in insight),
        "binary_sensor": tuple(key for key in dash.BINARY_SENSOR_KEYS if key not in insight),
    }
    ids = _register_entities(hass, entry, keys)
    health = dash.async_build_dashboard(hass, entry)["views"][1]
    assert _headings(health) == ["State of health", "Cell balance", "Heat"]
    assert _entity_ids({"views": [health]}) == {
        ids["soh"],
        ids["cell_imbalance"],
        ids["temperature"],
    }
    assert not [c for c in _cards({"views": [health]}) if c["type"] == "markdown"]


async def test_grid_values_in_the_system_card(hass: HomeAssistant) -> None:
    """The AC input's voltage, frequency and stress sit with the installation's values."""
    entry = _entry(hass)
    ids = _register_entities(hass, entry)
    now = dash.async_build_dashboard(hass, entry)["views"][0]
    system = next(c for c in _cards({"views": [now]}) if c.get("title") == "System")
    rows = [(row["entity"], row["name"]) for row in system["entities"]]
    assert [
        (ids["ac_input_voltage"], "Grid voltage"),
        (ids["ac_input_frequency"], "Grid frequency"),
        (ids["grid_stress"], "Grid stress"),
    ] == rows[5:8]


def test_yaml_lines_fit_the_copy_page() -> None:
    """The copy page's code block cannot wrap: the YAML's lines stay short."""
    longest = max(dash.example_yaml().splitlines(), key=len)
    assert len(longest) <= 100, longest


async def test_only_core_cards(hass: HomeAssistant) -> None:
    """No custom cards: the dashboard must work on a bare Home Assistant."""
    hass.states.async_set("sensor.inverter_battery_soc", "87")
    entry = _entry(hass, **{CONF_SOLARK_ENTITY: "sensor.inverter_battery_soc"})
    _register_entities(hass, entry)
    config = dash.async_build_dashboard(hass, entry)
    assert {card["type"] for card in _cards(config)} == CORE_CARDS
    now, *ranges, copy = config["views"]
    assert now["max_columns"] == 2  # at three, names are cut off at desktop width
    assert now["sections"][0]["column_span"] == 2  # the details get the whole width
    assert {view["max_columns"] for view in ranges} == {2}
    assert copy["subview"] is True
    assert copy["type"] == "panel"


async def test_ranges_follow_the_options(hass: HomeAssistant) -> None:
    """Nominal voltage and own limits from the options set the optimal bands."""
    entry = _entry(
        hass,
        **{CONF_NOMINAL_VOLTAGE: "24", CONF_TEMPERATURE_MIN: 5, CONF_TEMPERATURE_MAX: 35},
    )
    settings = dash.dashboard_settings(hass, entry)
    assert settings.voltage_range == (26.0, 29.0)
    assert settings.temperature_range == (5.0, 35.0)
    assert settings.temperature_unit == "°C"

    for junk in ("abc", None, float("nan"), 36):
        odd = _entry(hass, **{CONF_NOMINAL_VOLTAGE: junk, CONF_TEMPERATURE_MIN: "x"})
        odd_settings = dash.dashboard_settings(hass, odd)
        assert odd_settings.voltage_range == (52.0, 58.0)
        assert odd_settings.temperature_range == (15.0, 30.0)


async def test_own_voltage_limits_set_the_gauge_and_the_chart(hass: HomeAssistant) -> None:
    """The same limits as the voltage sensor: a 15-cell bank's own range, not the preset's."""
    entry = _entry(hass, **{CONF_VOLTAGE_MIN: 45.0, CONF_VOLTAGE_MAX: 53.5})
    ids = _register_entities(hass, entry)
    config = dash.async_build_dashboard(hass, entry)
    gauge = next(
        c for c in _cards(config) if c["type"] == "gauge" and c["entity"] == ids["voltage"]
    )
    assert [segment["from"] for segment in gauge["segments"]] == [36, 45.0, 53.5]
    six_hours = {"views": [config["views"][2]]}
    chart = next(c for c in _cards(six_hours) if c.get("title", "").startswith("Voltage"))
    assert (chart["min_y_axis"], chart["max_y_axis"]) == (42.5, 55.0)
    assert chart["entities"][0]["name"] == "Voltage, optimal 45\N{EN DASH}53.5 V"


async def test_fahrenheit_users(hass: HomeAssistant) -> None:
    """With US units the temperature limits are converted to what the sensor shows."""
    hass.config.units = US_CUSTOMARY_SYSTEM
    entry = _entry(hass)
    ids = _register_entities(hass, entry, {"sensor": ("temperature",)})
    settings = dash.dashboard_settings(hass, entry)
    assert settings.temperature_unit == "°F"
    assert settings.temperature_range == (59.0, 86.0)

    # The sensor's own unit wins over the unit system (a per-entity unit choice).
    hass.states.async_set(ids["temperature"], "21", {"unit_of_measurement": "°C"})
    assert dash.dashboard_settings(hass, entry).temperature_range == (15.0, 30.0)

    config = dash.build_dashboard({"temperature": "sensor.t"}, settings)
    gauge = next(c for c in _cards(config) if c["type"] == "gauge")
    graph = next(c for c in _cards(config) if c["type"] == "history-graph")
    assert graph["entities"][0]["name"] == f"Temperature, optimal 59{dash.TO}86 °F"
    assert (graph["min_y_axis"], graph["max_y_axis"]) == (50.0, 90.0)
    assert [s["from"] for s in gauge["segments"]] == [32, 59.0, 86.0]


def _render(hass: HomeAssistant, content: str) -> str:
    return str(Template(content, hass).async_render(parse_result=False))


HEALTHY: dict[str, str] = {
    "voltage": "54.09",
    "current": "-1.1",
    "voltage_out_of_range": "off",
    "temperature_out_of_range": "off",
    "local_reachable": "on",
    "vrm_reachable": "on",
    "battery_alarm": "off",
    "low_soc": "off",
    "cell_imbalance": "off",
    "soh_degraded": "off",
    "grid_lost": "off",
    "data_stale": "off",
    "vrm_budget": "off",
}


def _healthy(hass: HomeAssistant, ids: dict[str, str], **changes: str) -> None:
    for key, value in (HEALTHY | changes).items():
        attributes = {"source": "local", "data_age": 5} if key == "voltage" else {}
        hass.states.async_set(ids[key], value, attributes)


@pytest.mark.parametrize(
    ("temperature", "unit", "expected"),
    [("25.9", "°C", "25.9 °C · 78.6 °F"), ("77", "°F", "25.0 °C · 77.0 °F")],
)
async def test_status_markdown_renders(
    hass: HomeAssistant, temperature: str, unit: str, expected: str
) -> None:
    """The status card's template renders both temperature units, verdicts, source and age."""
    entry = _entry(hass)
    ids = _register_entities(hass, entry)
    _healthy(hass, ids)
    hass.states.async_set(ids["temperature"], temperature, {"unit_of_measurement": unit})
    content = _markdown(dash.async_build_dashboard(hass, entry))

    text = _render(hass, content)
    assert text.splitlines() == [
        "- **Voltage:** ✅ within limits",
        "- **Current:** discharging",
        f"- **Temperature:** {expected}, ✅ within limits",
        "- **Data source:** Cerbo GX on your network",
        "- **Measured:** 5 seconds ago",
        "- **Status:** ✅ healthy",
    ]

    _healthy(hass, ids, voltage="59.2", current="3", local_reachable="off", data_stale="on")
    # the sensor's own limits, here the BMS's, not the dashboard's optimal band
    limits = {"minimum": 45.0, "maximum": 53.55, "limits_source": "battery"}
    hass.states.async_set(ids["voltage_out_of_range"], "on", limits)
    text = _render(hass, content)
    assert f"- **Voltage:** ⚠️ out of range, limits 45.0{dash.TO}53.55 V" in text
    assert "- **Current:** charging" in text
    assert "- **Status:** ⚠️ voltage out of range, data is stale" in text

    hass.states.async_set(ids["battery_alarm"], "on")
    assert "- **Status:** ⚠️ battery alarm, voltage out of range, data is stale" in _render(
        hass, content
    )


async def test_status_is_never_healthy_beside_a_problem(hass: HomeAssistant) -> None:
    """Every problem sensor of the entry counts, and the temperature line has its verdict."""
    hass.states.async_set("sensor.inverter_battery_soc", "87")
    entry = _entry(hass, **{CONF_SOLARK_ENTITY: "sensor.inverter_battery_soc"})
    ids = _register_entities(hass, entry)
    content = _markdown(dash.async_build_dashboard(hass, entry))
    _healthy(hass, ids, soc_disagreement="off")
    hass.states.async_set(ids["temperature"], "2.5", {"unit_of_measurement": "°C"})
    hass.states.async_set(ids["temperature_out_of_range"], "on", {"minimum": 5.0, "maximum": 45.0})
    lines = _render(hass, content).splitlines()
    assert f"- **Temperature:** 2.5 °C · 36.5 °F, ⚠️ out of range, limits 5.0{dash.TO}45.0 °C" in (
        lines
    )
    assert "- **Status:** ⚠️ temperature out of range" in lines

    hass.states.async_set(ids["temperature_out_of_range"], "off")
    for key, text in [
        ("low_soc", "low state of charge"),
        ("cell_imbalance", "cell imbalance"),
        ("soh_degraded", "state of health degraded"),
        ("full_charge_overdue", "full charge overdue"),
        ("grid_lost", "grid lost"),
        ("soc_disagreement", "Victron and Sol-Ark disagree"),
        ("vrm_budget", "VRM request budget nearly used"),
    ]:
        hass.states.async_set(ids[key], "on")
        assert f"- **Status:** ⚠️ {text}" in _render(hass, content).splitlines(), key
        hass.states.async_set(ids[key], "off")
    assert "- **Status:** ✅ healthy" in _render(hass, content).splitlines()

    # A problem sensor that judged nothing is no proof of health.
    hass.states.async_set(ids["grid_lost"], "unavailable")
    assert "- **Status:** ❔ not judged: grid lost" in _render(hass, content).splitlines()


async def test_no_fresh_values_is_never_healthy(hass: HomeAssistant) -> None:
    """Every battery value unavailable while VRM answers with old data: say so, everywhere.

    Not "VRM cloud", not the time of the last VRM request as if it were the data's.
    """
    entry = _entry(hass)
    ids = _register_entities(hass, entry)
    content = _markdown(dash.async_build_dashboard(hass, entry))
    _healthy(hass, ids, local_reachable="off", data_stale="on")
    for key in ("voltage", "current", "temperature", "voltage_out_of_range", "battery_alarm"):
        hass.states.async_set(ids[key], "unavailable")
    hass.states.async_set(ids["temperature_out_of_range"], "unavailable")
    now = dt_util.utcnow()
    hass.states.async_set(ids["vrm_last_success"], (now - timedelta(minutes=1)).isoformat())
    lines = _render(hass, content).splitlines()
    assert lines == [
        "- **Voltage:** unknown",
        "- **Current:** unknown",
        "- **Temperature:** unknown",
        "- **Data source:** ⚠️ no source has fresh data (VRM answers, but its data is old)",
        "- **Measured:** ⚠️ no fresh values",
        "- **Status:** ⚠️ data is stale, no battery values",
    ]
    hass.states.async_set(ids["vrm_reachable"], "off")
    hass.states.async_set(ids["local_reachable"], "on")
    lines = _render(hass, content).splitlines()
    assert lines[3] == (
        "- **Data source:** ⚠️ no source has fresh data (the Cerbo GX has no battery values)"
    )
    hass.states.async_set(ids["data_stale"], "off")  # e.g. just after a restart
    assert _render(hass, content).splitlines()[-1] == "- **Status:** ⚠️ no battery values"


@pytest.mark.parametrize(
    ("source", "age", "source_text", "age_text"),
    [
        ("local", 4, "Cerbo GX on your network", "4 seconds ago"),
        ("vrm", 260, "VRM cloud", "4 minutes ago"),
        ("vrm", 7200, "VRM cloud", "2.0 hours ago"),
    ],
)
async def test_status_uses_the_readings_source_and_age(
    hass: HomeAssistant, source: str, age: int, source_text: str, age_text: str
) -> None:
    """The battery reading's own source and data age win over reachability and last success."""
    entry = _entry(hass)
    ids = _register_entities(hass, entry)
    hass.states.async_set(ids["voltage"], "53.2", {"source": source, "data_age": age})
    hass.states.async_set(ids["local_reachable"], "on")  # reachable, yet VRM may serve
    hass.states.async_set(ids["local_last_success"], dt_util.utcnow().isoformat())
    text = _render(hass, _markdown(dash.async_build_dashboard(hass, entry)))
    assert f"- **Data source:** {source_text}" in text.splitlines()
    assert f"- **Measured:** {age_text}" in text.splitlines()


async def test_status_markdown_when_nothing_is_known(hass: HomeAssistant) -> None:
    """Unknown values read "unknown", never a template error."""
    hass.states.async_set("sensor.v", "unavailable")
    hass.states.async_set("sensor.a", "0")
    entities = {
        "voltage": "sensor.v",
        "current": "sensor.a",
        "temperature": "sensor.t",
        "vrm_reachable": "binary_sensor.r",
        "vrm_last_success": "sensor.last",
    }
    settings = dash.DashboardSettings(
        title="x", voltage_range=(52.0, 58.0), temperature_range=(15.0, 30.0)
    )
    config = dash.build_dashboard(entities, settings)
    text = _render(hass, _markdown(config))
    assert text.splitlines() == [
        "- **Voltage:** unknown",
        "- **Current:** idle",
        "- **Temperature:** unknown",
        "- **Data source:** ⚠️ no source has fresh data, none reachable",
        "- **Measured:** ⚠️ no fresh values",
        "- **Status:** ⚠️ no source reachable, no battery values",
    ]
    # Without the out-of-range sensors the card compares with the optimal band, no warning.
    hass.states.async_set("sensor.v", "51.2")
    hass.states.async_set("sensor.t", "31")
    text = _render(hass, _markdown(config))
    assert f"- **Voltage:** outside the optimal 52{dash.TO}58 V" in text.splitlines()
    assert f"outside the optimal 15{dash.TO}30 °C" in text
    hass.states.async_set("sensor.v", "53")
    hass.states.async_set("sensor.t", "20")
    assert "✅ optimal" in _render(hass, _markdown(config))
    assert "- **Temperature:** 20.0 °C · 68.0 °F, ✅ optimal" in _render(hass, _markdown(config))

    # Without any battery value the source line says which source answers.
    only = dash.build_dashboard({"vrm_reachable": "binary_sensor.r"}, settings)
    hass.states.async_set("binary_sensor.r", "on")
    assert "- **Data source:** VRM cloud reachable" in _render(hass, _markdown(only))


async def test_copy_view_shows_the_yaml_with_own_entity_ids(hass: HomeAssistant) -> None:
    """The copy subview renders to YAML that loads back to this dashboard, templates intact."""
    entry = _entry(hass)
    ids = _register_entities(hass, entry)
    config = dash.async_build_dashboard(hass, entry)
    copy_view = config["views"][-1]
    assert copy_view["subview"] is True
    button = next(c for c in _cards(config) if c["type"] == "button")
    assert button["tap_action"]["navigation_path"] == copy_view["path"]

    rendered = _render(hass, copy_view["cards"][0]["content"])
    text = rendered.split("```yaml\n", 1)[1].rsplit("```", 1)[0]
    loaded = yaml.safe_load(text)
    without_copy = {**config, "views": config["views"][:-1]}
    without_copy["views"][0] = dash.build_dashboard(
        dash.dashboard_entities(hass, entry),
        dash.dashboard_settings(hass, entry),
        copy_view=False,
    )["views"][0]
    assert loaded == without_copy
    assert ids["voltage"] in text
    assert "{%- set v = states(" in text  # not rendered on the way


def test_repository_yaml_is_current() -> None:
    """dashboards/victron_cerbo.yaml is what the builder makes (scripts/dashboard_yaml.py)."""
    path = ROOT / "dashboards" / "victron_cerbo.yaml"
    assert path.read_text(encoding="utf-8") == dash.example_yaml()
    loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert [view["path"] for view in loaded["views"]] == VIEW_PATHS
    markdown = next(c for c in _cards(loaded) if c["type"] == "markdown")
    assert markdown["content"].startswith("{%- set v = states('sensor.victron_voltage')")


def test_the_script_that_writes_the_yaml_runs() -> None:
    """`scripts/dashboard_yaml.py --check` is what a contributor runs; it must import and agree."""
    result = subprocess.run(  # noqa: S603 - our own script, with this interpreter
        [sys.executable, str(ROOT / "scripts" / "dashboard_yaml.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is current" in result.stdout


def test_url_path_is_a_valid_slug() -> None:
    """Lovelace needs a hyphen; odd unique ids still give a slug."""
    entry = MockConfigEntry(domain=DOMAIN, unique_id="AB:CD", title="x")
    assert dash.dashboard_url_path(entry) == "victron-cerbo-ab-cd"
    entry = MockConfigEntry(domain=DOMAIN, unique_id=None, title="x", entry_id="01JXYZ")
    assert dash.dashboard_url_path(entry) == "victron-cerbo-01jxyz"


def _report(**changes: Any) -> dict[str, Any]:
    """What dev/browser_check.py's page script returns for a healthy view."""
    report: dict[str, Any] = {
        "login": False,
        "view": "hui-sections-view",
        "cards": ["hui-history-graph-card", "hui-statistic-card"],
        "errors": [],
        "graphs": [{"title": "Voltage", "lines": 1, "points": 40, "noHistory": False}],
        "statistics": ["53.1"],
        "unavailable": [],
    }
    return report | changes


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({}, None),
        ({"errors": ["hui-error-card: Unknown type encountered: custom:x"]}, "Unknown type"),
        ({"errors": ["hui-warning: Entity not available: sensor.x"]}, "Entity not available"),
        ({"graphs": [{"title": "V", "lines": 1, "points": 0, "noHistory": False}]}, "empty"),
        ({"graphs": [{"title": "V", "lines": 0, "points": 9, "noHistory": False}]}, "empty"),
        ({"graphs": [{"title": "V", "lines": 1, "points": 9, "noHistory": True}]}, "empty"),
        ({"cards": []}, "no cards"),
        ({"view": None}, "no dashboard view"),
        ({"login": True}, "login page"),
    ],
)
def test_browser_check_verdicts(changes: dict[str, Any], problem: str | None) -> None:
    """The browser check fails on card errors and empty charts, and only notes the rest."""
    from dev.browser_check import judge  # noqa: PLC0415

    problems, _ = judge(_report(**changes))
    if problem is None:
        assert problems == []
    else:
        assert len(problems) == 1
        assert problem in problems[0]


def test_browser_check_names_the_missing_component() -> None:
    """Without recorder and history the failures say so, once each with a count."""
    from dev.browser_check import judge  # noqa: PLC0415

    graph = {"title": "V", "lines": 0, "points": 0, "noHistory": False, "disabled": True}
    problems, notes = judge(
        _report(graphs=[graph], errors=["hui-statistic-card error: Unknown command."] * 3)
    )
    assert problems == [
        "hui-statistic-card error: Unknown command. (3 times)",
        "empty trend chart (Home Assistant has no history): 'V'",
    ]
    assert "Home Assistant runs without recorder" in notes[0]


def test_browser_check_notes() -> None:
    """Missing statistics (a fresh install) and unavailable tiles are reported, not failed."""
    from dev.browser_check import judge  # noqa: PLC0415

    problems, notes = judge(
        _report(
            statistics=["?", None, "1"],
            unavailable=["Power Unavailable"],
            dialogs=["Confirm new HTTP server configuration"],
        )
    )
    assert problems == []
    assert notes == [
        "unavailable: Power Unavailable",
        "a dialog covers the page: Confirm new HTTP server configuration",
        "2 statistic card(s) without long-term statistics yet",
    ]


def test_browser_check_status_must_not_contradict_problem_sensors() -> None:
    """A "healthy" verdict beside a problem sensor that is on fails the check."""
    from dev.browser_check import healthy_but_problem  # noqa: PLC0415

    page = "Status: ✅ healthy Temperature out of range Problem"
    problem = healthy_but_problem(page, ["binary_sensor.cabin_temperature_out_of_range"])
    assert problem is not None
    assert "temperature_out_of_range" in problem
    assert healthy_but_problem(page, []) is None
    assert healthy_but_problem("Status: ⚠️ 1 problem", ["binary_sensor.x"]) is None


FLEET_TILES = ["Online 2", "Offline 0", "With an active alarm 0", "Any alarm OK"]


@pytest.mark.parametrize(
    ("tiles", "text", "installations", "problem"),
    [
        (FLEET_TILES, "Fleet All installations", 2, None),
        (FLEET_TILES, "Configuration error", 2, "Configuration error"),
        (["Online 1", *FLEET_TILES[1:]], "", 2, "expected 2 installations online"),
        (["Online Unknown", *FLEET_TILES[1:]], "", 2, "'Online' total shows no number"),
        (FLEET_TILES[1:], "", 2, "'Online' total shows no number"),
        ([*FLEET_TILES[:2], "With an active alarm Unavailable"], "", 2, "no number"),
        (FLEET_TILES, "", 3, "sections"),
    ],
)
def test_browser_check_fleet_verdicts(
    tiles: list[str], text: str, installations: int, problem: str | None
) -> None:
    """The fleet page fails unless each site has a section and the totals count them."""
    from dev.browser_check import fleet_tile_entity, judge_fleet  # noqa: PLC0415

    totals = {key: f"sensor.fleet_{key}" for _, key in dash.keys.FLEET_KEYS}
    sites = [
        dash.fleet_builder.FleetInstallation(title=title, entities={"soc": f"sensor.{title}_soc"})
        for title in ("cabin", "boat")
    ]
    config = dash.fleet_builder.build_fleet_dashboard(totals, sites)
    assert fleet_tile_entity(config, "Online") == "sensor.fleet_installations_online"
    problems = judge_fleet(config, tiles, text, installations)
    if problem is None:
        assert problems == []
    else:
        assert any(problem in line for line in problems), problems


TOKEN_TEXT = ["Paste a VRM personal access token"]


@pytest.mark.parametrize(
    ("state", "expect_error", "problem"),
    [
        ({"kind": "form", "stepId": "local", "description": ["Reads the Cerbo"]}, False, None),
        ({"kind": "form", "stepId": "local", "description": []}, False, "no description"),
        ({"kind": "form", "stepId": "vrm", "description": []}, False, "no description"),
        (
            {"kind": "form", "stepId": "vrm", "description": TOKEN_TEXT, "alerts": ["Rejected"]},
            True,
            None,
        ),
        (
            {"kind": "form", "stepId": "vrm", "description": TOKEN_TEXT, "alerts": []},
            True,
            "accepted",
        ),
        (
            {"kind": "form", "stepId": "vrm", "description": TOKEN_TEXT, "alerts": ["x"]},
            False,
            "unexpected",
        ),
        ({"kind": "form", "stepId": "vrm", "description": TOKEN_TEXT, "alerts": ["x"]}, None, None),
        ({"kind": "abort", "rawKeys": ["component.victron_cerbo.config.abort.x"]}, False, "raw"),
        ({"kind": "create-entry", "alerts": ["Failed"]}, False, "error shown"),
    ],
)
def test_browser_flow_verdicts(
    state: dict[str, Any], expect_error: bool | None, problem: str | None
) -> None:
    """The flow walk fails on a missing description, a raw key and errors out of place."""
    from dev.browser_flow import judge_step  # noqa: PLC0415

    problems = judge_step(state, kind="config", expect_error=expect_error)
    if problem is None:
        assert problems == []
    else:
        assert len(problems) == 1
        assert problem in problems[0]
