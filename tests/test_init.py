"""Setting up, reloading and unloading the integration, and the repair issues it raises."""

from __future__ import annotations

from collections import Counter

import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.repairs import repairs_flow_manager
from homeassistant.config_entries import SOURCE_REAUTH, ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.test_util.aiohttp import AiohttpClientMocker
from yarl import URL

from custom_components.victron_cerbo.const import (
    CONF_BATTERY_INSTANCE,
    CONF_HOST,
    CONF_PORT,
    CONF_SITE_ID,
    CONF_VRM_TOKEN,
    DOMAIN,
)
from tests.helpers import (
    BATTERY_URL,
    HOST,
    INSTANCE,
    LOCAL_DATA,
    OVERVIEW_URL,
    PORT,
    SITE_ID,
    SYSTEM,
    TOKEN,
    FakeCerbo,
    FakeVrm,
    Tick,
    account_budget,
    advance,
    break_cerbo,
    make_entry,
    root_of,
    vrm_json,
)

# Without the portal ID, as the flow stores a VRM-only entry (helpers' VRM_DATA has one).
VRM_DATA = {CONF_VRM_TOKEN: TOKEN, CONF_SITE_ID: SITE_ID, CONF_BATTERY_INSTANCE: INSTANCE}

VRM_HOST = URL(OVERVIEW_URL).host
NEW_HOST = "192.168.1.30"
OTHER_GX_HOST = "192.168.1.31"


async def test_local_only_setup_reload_unload(
    hass: HomeAssistant, aioclient_mock: AiohttpClientMocker, cerbo: FakeCerbo, tick: Tick
) -> None:
    entry = make_entry(hass, LOCAL_DATA)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert entry.runtime_data.local is not None
    assert entry.runtime_data.vrm is None
    assert entry.runtime_data.local.data.system.soc is not None

    for _ in range(3):
        assert await hass.config_entries.async_reload(entry.entry_id)
        await hass.async_block_till_done()
        assert entry.state is ConfigEntryState.LOADED

    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.NOT_LOADED
    # unloaded means silent: no more polling
    cerbo.reset()
    await tick(600, step=600)
    assert cerbo.log == []
    # read-only: nothing but GET ever went out
    assert {method for method, *_ in aioclient_mock.mock_calls} == {"GET"}


@pytest.mark.usefixtures("vrm")
async def test_vrm_only_setup(hass: HomeAssistant, aioclient_mock: AiohttpClientMocker) -> None:
    entry = make_entry(hass, VRM_DATA)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert entry.runtime_data.vrm is not None
    assert entry.runtime_data.local is None
    assert aioclient_mock.call_count == 2  # system overview + one BatterySummary

    await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done()
    # forgotten once its hour is over (tests/test_vrm_account.py); until then it still counts
    assert account_budget(hass).used == 2


async def test_one_failing_source_does_not_block_setup(
    hass: HomeAssistant,
    cerbo: FakeCerbo,
    vrm: FakeVrm,
    caplog: pytest.LogCaptureFixture,
) -> None:
    break_cerbo(cerbo)
    entry = make_entry(hass, LOCAL_DATA | VRM_DATA)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert entry.runtime_data.vrm is not None
    assert entry.runtime_data.vrm.last_update_success
    assert entry.runtime_data.local is not None
    assert not entry.runtime_data.local.last_update_success
    assert "Starting with one source unavailable" in caplog.text


async def test_both_sources_failing_retries_setup(
    hass: HomeAssistant, cerbo: FakeCerbo, vrm: FakeVrm
) -> None:
    break_cerbo(cerbo)
    vrm.serve(OVERVIEW_URL, [{"status": 403, "json": vrm_json("error_403")}])
    entry = make_entry(hass, LOCAL_DATA | VRM_DATA)
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.SETUP_RETRY


async def test_rejected_token_starts_reauth(
    hass: HomeAssistant, cerbo: FakeCerbo, vrm: FakeVrm
) -> None:
    vrm.serve(OVERVIEW_URL, [{"status": 401, "json": vrm_json("error_401")}])
    entry = make_entry(hass, LOCAL_DATA | VRM_DATA)
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.SETUP_ERROR
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == [SOURCE_REAUTH]


async def test_local_unreachable_repair(
    hass: HomeAssistant,
    cerbo: FakeCerbo,
    freezer: FrozenDateTimeFactory,
    issue_registry: ir.IssueRegistry,
) -> None:
    entry = make_entry(hass, LOCAL_DATA)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    issue_id = f"local_unreachable_{entry.entry_id}"

    healthy = dict(cerbo.roots)
    good = (cerbo.health, cerbo.services)
    break_cerbo(cerbo)
    await advance(hass, freezer, 29 * 60, step=60)  # 29 minutes of failures: not yet
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None

    await advance(hass, freezer, 2 * 60, step=60)
    issue = issue_registry.async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.translation_key == "local_unreachable"
    assert issue.translation_placeholders == {"name": "Cabin", "host": HOST, "port": str(PORT)}

    cerbo.roots.update(healthy)
    cerbo.health, cerbo.services = good
    await advance(hass, freezer, 2 * 60, step=60)
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None


async def test_local_unreachable_fix_flow_changes_the_address(
    hass: HomeAssistant,
    aioclient_mock: AiohttpClientMocker,
    cerbo: FakeCerbo,
    freezer: FrozenDateTimeFactory,
    issue_registry: ir.IssueRegistry,
) -> None:
    """The Cerbo moved: the repair takes the new address, checked like the Cerbo step."""
    entry = make_entry(hass, LOCAL_DATA)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    issue_id = f"local_unreachable_{entry.entry_id}"
    break_cerbo(cerbo)
    await advance(hass, freezer, 31 * 60, step=60)
    issue = issue_registry.async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.is_fixable

    moved = FakeCerbo(aioclient_mock, host=NEW_HOST)
    other = FakeCerbo(aioclient_mock, host=OTHER_GX_HOST)
    other.set_root(SYSTEM, root_of("system.json") | {"Serial": "bbbbbbbbbbbb"})
    assert await async_setup_component(hass, "repairs", {})
    # the flow manager the repairs panel uses (its HTTP token would have expired by now)
    manager = repairs_flow_manager(hass)
    assert manager is not None
    flow = await manager.async_init(DOMAIN, data={"issue_id": issue_id})
    assert flow["step_id"] == "address"
    assert flow["description_placeholders"] == {"name": "Cabin", "host": HOST, "port": str(PORT)}

    for typed, error in (
        (f"https://{NEW_HOST}", "invalid_host"),
        (HOST, "cannot_connect"),
        (f"{OTHER_GX_HOST}:{PORT}", "wrong_device"),  # another installation answers there
    ):
        flow = await manager.async_configure(flow["flow_id"], {"host": typed, "port": PORT})
        assert flow["errors"] == {"base": error}, typed
    assert entry.data[CONF_HOST] == HOST

    new_address = {"host": f"http://{NEW_HOST}:{PORT}/", "port": 80}
    flow = await manager.async_configure(flow["flow_id"], new_address)
    assert flow["type"] == "create_entry"
    await hass.async_block_till_done()
    assert (entry.data[CONF_HOST], entry.data[CONF_PORT]) == (NEW_HOST, PORT)
    assert entry.state is ConfigEntryState.LOADED
    assert moved.counts()["/health"] >= 2  # the check, then the reloaded entry
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None


async def test_local_unreachable_fix_flow_of_a_removed_entry(hass: HomeAssistant) -> None:
    from custom_components.victron_cerbo.repairs import async_create_fix_flow  # noqa: PLC0415

    fix = await async_create_fix_flow(hass, "local_unreachable_gone", {"entry_id": "gone"})
    fix.hass = hass
    result = await fix.async_step_init()
    assert result["type"] == "abort"
    assert result["reason"] == "entry_removed"


async def test_vrm_not_reporting_repair(
    hass: HomeAssistant,
    vrm: FakeVrm,
    freezer: FrozenDateTimeFactory,
    issue_registry: ir.IssueRegistry,
) -> None:
    vrm.set_seconds_ago(2 * 3600)
    entry = make_entry(hass, VRM_DATA)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    issue_id = f"vrm_not_reporting_{entry.entry_id}"
    issue = issue_registry.async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.translation_placeholders == {"name": "Cabin", "hours": "2.0"}

    # Disabled (unloaded), the entry has nothing to repair; loaded again, the check returns.
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is not None

    # VRM itself failing says nothing about the site: the issue stays as it was
    vrm.serve(BATTERY_URL, [{"json": vrm_json("error_success_false")}])
    await advance(hass, freezer, 181, step=181, background=True)
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is not None

    vrm.scripts.clear()
    vrm.set_seconds_ago(30)
    await advance(hass, freezer, 600, step=600, background=True)
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None

    await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done()


# What setting an entry up asks each source: every Cerbo root once (after /health and
# /services), VRM's system overview and one BatterySummary.
SETUP_REQUESTS = {
    "local": {HOST: 9},
    "vrm": {VRM_HOST: 2},
    "both": {HOST: 9, VRM_HOST: 2},
}


@pytest.mark.parametrize("source", ["local", "vrm", "both"])
async def test_each_source_alone_or_both(
    hass: HomeAssistant,
    aioclient_mock: AiohttpClientMocker,
    tick: Tick,
    source: str,
    init_integration: MockConfigEntry,
) -> None:
    """Setup asks only the configured sources, once each; unloaded, the entry asks nothing."""
    assert init_integration.state is ConfigEntryState.LOADED
    runtime = init_integration.runtime_data
    assert (runtime.local is not None, runtime.vrm is not None) == (
        source != "vrm",
        source != "local",
    )
    hosts = Counter(URL(str(call[1])).host for call in aioclient_mock.mock_calls)
    assert hosts == SETUP_REQUESTS[source]

    assert await hass.config_entries.async_unload(init_integration.entry_id)
    await hass.async_block_till_done()
    asked = aioclient_mock.call_count
    await tick(600)
    assert aioclient_mock.call_count == asked
