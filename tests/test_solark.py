"""The Sol-Ark comparison in a real Home Assistant: suggestion, live result, repair and its fix."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers import issue_registry as ir
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.victron_cerbo.const import (
    CONF_HOST,
    CONF_SOLARK_DWELL,
    CONF_SOLARK_ENTITY,
    CONF_SOLARK_THRESHOLD,
    DOMAIN,
)
from custom_components.victron_cerbo.solark import (
    ComparisonView,
    OtherStatus,
    async_suggest_solark_entity,
)
from tests.helpers import (
    HOST,
    LOCAL_DATA,
    SYSTEM,
    FakeCerbo,
    advance,
    make_entry,
    root_of,
    setup_entry,
)

SOLARK = "sensor.ss_battery_soc"
DIFFERENCE = "sensor.cabin_battery_state_of_charge_difference"
DISAGREEMENT = "binary_sensor.cabin_battery_state_of_charge_disagreement"
BATTERY_PERCENT = {"device_class": "battery", "unit_of_measurement": "%"}


def set_solark(hass: HomeAssistant, value: str, entity_id: str = SOLARK) -> None:
    hass.states.async_set(entity_id, value, BATTERY_PERCENT)


async def solark_entry(
    hass: HomeAssistant, cerbo: FakeCerbo, soc: float, **options: Any
) -> MockConfigEntry:
    """A local entry comparing with SOLARK, whose Cerbo reports `soc`."""
    root = root_of("system.json")
    root["Dc/Battery/Soc"] = soc
    cerbo.set_root(SYSTEM, root)
    options = {CONF_SOLARK_ENTITY: SOLARK, CONF_SOLARK_THRESHOLD: 2.0} | options
    entry = make_entry(hass, LOCAL_DATA, options)
    await setup_entry(hass, entry)
    return entry


async def test_suggestion_picks_a_known_inverter_sensor(
    hass: HomeAssistant, entity_registry: er.EntityRegistry
) -> None:
    hass.states.async_set("sensor.phone_battery_level", "55", BATTERY_PERCENT)
    assert async_suggest_solark_entity(hass) is None  # a phone is not an inverter

    # one of ours whose id happens to look like an inverter's is never suggested
    ours = entity_registry.async_get_or_create(
        "sensor", DOMAIN, "x", suggested_object_id="solark_soc"
    )
    hass.states.async_set(ours.entity_id, "50", BATTERY_PERCENT)
    assert async_suggest_solark_entity(hass) is None

    hass.states.async_set("sensor.sunsynk_battery_soc", "60", {"unit_of_measurement": "%"})
    assert async_suggest_solark_entity(hass) is None  # not a battery-class sensor

    set_solark(hass, "61")
    hass.states.async_set("sensor.sunsynk_battery_soc", "60", BATTERY_PERCENT)
    assert async_suggest_solark_entity(hass) == SOLARK  # ties break by entity id

    modbus = entity_registry.async_get_or_create(
        "sensor", "solark_modbus", "soc", suggested_object_id="inverter_soc"
    )
    hass.states.async_set(modbus.entity_id, "62", BATTERY_PERCENT)
    assert async_suggest_solark_entity(hass) == modbus.entity_id  # a known platform ranks first


async def test_options_form_prefills_the_suggestion(hass: HomeAssistant) -> None:
    set_solark(hass, "61")
    entry = make_entry(hass, {CONF_HOST: HOST})
    result = await hass.config_entries.options.async_init(entry.entry_id)
    solark = result["data_schema"].schema["solark"].schema.schema  # the Sol-Ark section
    suggested = {str(key): key.description["suggested_value"] for key in solark if key.description}
    assert suggested[CONF_SOLARK_ENTITY] == SOLARK


def shown(entry: MockConfigEntry) -> ComparisonView:
    """The comparison as the entry's battery view holds it."""
    comparison = entry.runtime_data.battery.data.comparison
    assert comparison is not None
    return comparison


async def test_live_comparison_with_dwell(
    hass: HomeAssistant, cerbo: FakeCerbo, freezer: FrozenDateTimeFactory
) -> None:
    set_solark(hass, "70")
    entry = await solark_entry(hass, cerbo, soc=71.0, **{CONF_SOLARK_DWELL: 60})
    comparison = entry.runtime_data.comparison
    assert comparison is not None
    seen: list[None] = []
    unsubscribe = entry.runtime_data.battery.async_add_listener(lambda: seen.append(None))

    result = shown(entry).result
    assert result is not None
    assert result.difference == 1.0
    assert result.other_soc == 70.0
    assert result.disagree is False

    set_solark(hass, "60")  # 11 points apart now
    await hass.async_block_till_done()
    assert seen  # the entities were told
    assert shown(entry).result is not None
    assert shown(entry).result.difference == 11.0
    assert shown(entry).result.disagree is False  # not for a single sample

    await advance(hass, freezer, 7 * 10)  # the local source keeps polling every 10 s meanwhile
    assert shown(entry).result is not None
    assert shown(entry).result.disagree is True
    assert shown(entry).attributes() == {
        "victron_soc": 71.0,
        "solark_soc": 60.0,
        "solark_entity": SOLARK,
        "threshold": 2.0,
    }
    unsubscribe()

    difference = hass.states.get(DIFFERENCE)
    assert difference is not None
    assert difference.state == "11.0"
    assert difference.attributes["unit_of_measurement"] == "%"
    assert difference.attributes["state_class"] == "measurement"
    disagreement = hass.states.get(DISAGREEMENT)
    assert disagreement is not None
    assert disagreement.state == "on"
    assert disagreement.attributes["device_class"] == "problem"
    since = datetime.fromisoformat(disagreement.attributes["disagreeing_since"])
    assert dt_util.utcnow() - since == timedelta(seconds=70)  # from the first 11-point sample
    assert "disagreeing_for" not in disagreement.attributes


async def test_entities_are_unavailable_not_zero(hass: HomeAssistant, cerbo: FakeCerbo) -> None:
    set_solark(hass, "70")
    await solark_entry(hass, cerbo, soc=71.0)
    assert hass.states.get(DIFFERENCE).state == "1.0"  # type: ignore[union-attr]
    assert hass.states.get(DISAGREEMENT).state == "off"  # type: ignore[union-attr]
    set_solark(hass, "unavailable")
    await hass.async_block_till_done()
    assert hass.states.get(DIFFERENCE).state == "unavailable"  # type: ignore[union-attr]
    assert hass.states.get(DISAGREEMENT).state == "unavailable"  # type: ignore[union-attr]


async def test_no_comparison_entities_without_an_inverter_sensor(
    hass: HomeAssistant, cerbo: FakeCerbo
) -> None:
    entry = await solark_entry(hass, cerbo, soc=71.0, **{CONF_SOLARK_ENTITY: ""})
    assert entry.runtime_data.comparison is None
    assert hass.states.get(DIFFERENCE) is None
    assert hass.states.get(DISAGREEMENT) is None


@pytest.mark.parametrize(
    ("state", "status"),
    [
        ("unavailable", OtherStatus.UNAVAILABLE),
        ("unknown", OtherStatus.UNAVAILABLE),
        ("charging", OtherStatus.INVALID),
        ("101", OtherStatus.INVALID),
        ("-3", OtherStatus.INVALID),
    ],
)
async def test_unusable_inverter_value_gives_no_result(
    hass: HomeAssistant, cerbo: FakeCerbo, state: str, status: OtherStatus
) -> None:
    set_solark(hass, "70")
    entry = await solark_entry(hass, cerbo, soc=71.0)
    comparison = entry.runtime_data.comparison
    assert comparison is not None
    set_solark(hass, state)
    await hass.async_block_till_done()
    assert comparison.other_status is status
    assert shown(entry).result is None  # never a made-up 0

    set_solark(hass, "69")
    await hass.async_block_till_done()
    assert shown(entry).result is not None
    assert shown(entry).result.difference == 2.0


async def test_missing_entity_raises_a_fixable_repair(
    hass: HomeAssistant,
    cerbo: FakeCerbo,
    freezer: FrozenDateTimeFactory,
    issue_registry: ir.IssueRegistry,
    hass_client: Any,
) -> None:
    entry = await solark_entry(hass, cerbo, soc=71.0)  # the entity does not exist
    comparison = entry.runtime_data.comparison
    assert comparison is not None
    assert comparison.other_status is OtherStatus.MISSING
    issue_id = f"solark_entity_unusable_{entry.entry_id}"

    await advance(hass, freezer, 9 * 60, step=9 * 60)
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None  # not yet

    await advance(hass, freezer, 2 * 60, step=2 * 60)
    issue = issue_registry.async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.is_fixable
    assert issue.translation_key == "solark_entity_unusable_missing"
    assert issue.translation_placeholders == {"name": "Cabin", "entity_id": SOLARK, "state": "None"}

    # the fix: choose another sensor; the entry reloads with it
    set_solark(hass, "65", "sensor.inverter_soc")
    assert await async_setup_component(hass, "repairs", {})
    client = await hass_client()
    response = await client.post(
        "/api/repairs/issues/fix", json={"handler": DOMAIN, "issue_id": issue_id}
    )
    flow = await response.json()
    assert flow["step_id"] == "choose"
    # the form's text is the issue's own (a fixable issue has no description of its own)
    assert flow["description_placeholders"] == issue.translation_placeholders
    response = await client.post(
        f"/api/repairs/issues/fix/{flow['flow_id']}",
        json={CONF_SOLARK_ENTITY: "sensor.inverter_soc"},
    )
    assert (await response.json())["type"] == "create_entry"
    await hass.async_block_till_done()
    assert entry.options[CONF_SOLARK_ENTITY] == "sensor.inverter_soc"
    assert entry.state is ConfigEntryState.LOADED
    comparison = entry.runtime_data.comparison
    assert comparison is not None
    assert shown(entry).result is not None
    assert shown(entry).result.difference == 6.0
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None


async def test_fix_flow_can_turn_the_comparison_off(
    hass: HomeAssistant,
    cerbo: FakeCerbo,
    freezer: FrozenDateTimeFactory,
    issue_registry: ir.IssueRegistry,
    hass_client: Any,
) -> None:
    set_solark(hass, "70")
    entry = await solark_entry(hass, cerbo, soc=71.0)
    set_solark(hass, "unavailable")
    await advance(hass, freezer, 11 * 60, step=60)
    issue_id = f"solark_entity_unusable_{entry.entry_id}"
    issue = issue_registry.async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.translation_key == "solark_entity_unusable_unavailable"

    assert await async_setup_component(hass, "repairs", {})
    client = await hass_client()
    response = await client.post(
        "/api/repairs/issues/fix", json={"handler": DOMAIN, "issue_id": issue_id}
    )
    flow = await response.json()
    url = f"/api/repairs/issues/fix/{flow['flow_id']}"
    # our own SOC sensor is not offered, and one that appeared since is refused
    registry = er.async_get(hass)
    ours = registry.async_get_or_create("sensor", DOMAIN, "later", suggested_object_id="later")
    response = await client.post(url, json={CONF_SOLARK_ENTITY: ours.entity_id})
    flow = await response.json()
    assert flow["errors"] == {"base": "solark_own_entity"}
    registry.async_remove(ours.entity_id)
    response = await client.post(url, json={CONF_SOLARK_ENTITY: DIFFERENCE})
    assert response.status == 400  # excluded by the selector

    assert registry.async_get(DIFFERENCE) is not None
    response = await client.post(url, json={})
    assert (await response.json())["type"] == "create_entry"
    await hass.async_block_till_done()
    assert CONF_SOLARK_ENTITY not in entry.options
    assert entry.runtime_data.comparison is None
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None
    # the comparison entities go, not stay "unavailable (restored)"
    assert registry.async_get(DIFFERENCE) is None
    assert registry.async_get(DISAGREEMENT) is None
    assert hass.states.get(DIFFERENCE) is None
    assert hass.states.get(DISAGREEMENT) is None


async def test_a_week_of_attribute_updates_keeps_the_history_bounded(
    hass: HomeAssistant, cerbo: FakeCerbo, freezer: FrozenDateTimeFactory
) -> None:
    """An inverter entity whose attributes change every minute while its state mostly does not.

    Each such update is a state-changed event with the same `last_changed`; none may add to the
    history. Three days at 100 % (a full battery), then the state moves once an hour, so the
    20-minute window is exercised too.
    """
    set_solark(hass, "100")
    entry = await solark_entry(hass, cerbo, soc=99.0)
    comparison = entry.runtime_data.comparison
    assert comparison is not None
    sizes: list[int] = []
    for minute in range(7 * 24 * 60):
        freezer.tick(timedelta(minutes=1))
        flat = minute < 3 * 24 * 60
        soc = "100" if flat or (minute // 60) % 2 == 0 else "99"
        hass.states.async_set(SOLARK, soc, BATTERY_PERCENT | {"power": minute % 97})
        await hass.async_block_till_done()
        sizes.append(len(comparison.comparator._times))
    assert max(sizes) == 2  # the reading in effect and, for 20 minutes, the one before it
    assert shown(entry).result is not None
    assert shown(entry).result.other_soc == 99.0  # the last hour's state
