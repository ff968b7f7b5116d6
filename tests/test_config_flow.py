"""The config flow: sources, validation, pickers, SSDP, reauth, reconfigure and options."""

from __future__ import annotations

import json
import re
from ipaddress import ip_address
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest
from homeassistant.config_entries import (
    SOURCE_IGNORE,
    SOURCE_INTEGRATION_DISCOVERY,
    SOURCE_SSDP,
    SOURCE_USER,
)
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType, section
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.service_info.ssdp import SsdpServiceInfo
from homeassistant.util.unit_system import US_CUSTOMARY_SYSTEM
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.test_util.aiohttp import AiohttpClientMocker
from voluptuous import UNDEFINED

from custom_components.victron_cerbo.api.vrm import VrmSite
from custom_components.victron_cerbo.config_flow import CONF_ADD_OTHERS, DISCOVERED_SITE
from custom_components.victron_cerbo.const import (
    CONF_BATTERY_INSTANCE,
    CONF_BUDGET_LIMIT,
    CONF_BUDGET_WARNING,
    CONF_FOLLOW_SYSTEM_BATTERY,
    CONF_HOST,
    CONF_LOCAL_FAST_INTERVAL,
    CONF_LOW_SOC,
    CONF_NOMINAL_VOLTAGE,
    CONF_PORT,
    CONF_PORTAL_ID,
    CONF_SHOW_DASHBOARD,
    CONF_SITE_ID,
    CONF_SOLARK_DWELL,
    CONF_SOLARK_ENTITY,
    CONF_SOLARK_THRESHOLD,
    CONF_TEMPERATURE_MAX,
    CONF_TEMPERATURE_MIN,
    CONF_VOLTAGE_MAX,
    CONF_VOLTAGE_MIN,
    CONF_VRM_API_URL,
    CONF_VRM_POLL_INTERVAL,
    CONF_VRM_TOKEN,
    CONF_VRM_USER_ID,
    DEFAULT_VRM_API_URL,
    DOMAIN,
    ENV_DEV_VRM_API_URL,
)
from custom_components.victron_cerbo.options import (
    CONF_END_OF_LIFE_SOH,
    CONF_FULL_CHARGE_DAYS,
    CONF_HISTORY_DAYS,
    CONF_RATED_CYCLES,
)
from custom_components.victron_cerbo.schema import vol
from tests.helpers import (
    HOST,
    INSTALLATIONS_URL,
    OVERVIEW_URL,
    PORT,
    PORTAL_ID,
    SITE_ID,
    SYSTEM,
    TOKEN,
    USER_ID,
    USERS_ME_URL,
    FakeCerbo,
    FakeVrm,
    Reply,
    make_entry,
    root_of,
    vrm_json,
    vrm_text,
)

VRM_PORTAL_ID = "c0619ab1e2f3"  # the "Cabin" site of the VRM fixtures
OTHER_HOST = "192.168.1.21"

pytestmark = pytest.mark.usefixtures("mock_setup_entry")


@pytest.fixture
def mock_setup_entry() -> Any:
    """Keep created entries from loading: these tests are about the flow alone.

    Patching HA's setup hook (not our code) is the standard way core flow tests do this.
    """
    from unittest.mock import AsyncMock, patch  # noqa: PLC0415

    with patch(
        "custom_components.victron_cerbo.async_setup_entry", new=AsyncMock(return_value=True)
    ) as mock:
        yield mock


def flow_vrm(
    vrm: FakeVrm,
    *,
    installations: str = "installations_one",
    single_monitor: bool = False,
    overview: str = "system_overview",
) -> None:
    """Answer the VRM calls the flow makes."""
    vrm.scripts.clear()
    vrm.users_me = vrm_json("users_me")
    vrm.installations = vrm_json(installations)
    vrm.overview = vrm_json(overview)
    if single_monitor:
        devices = vrm.overview["records"]["devices"]
        vrm.overview["records"]["devices"] = [
            d for d in devices if d.get("name") != "Battery Monitor" or d.get("instance") == 512
        ]


def cerbo_with_portal(aioclient_mock: AiohttpClientMocker, portal_id: str, host: str = HOST) -> Any:
    """A fake Cerbo whose system /Serial is the given portal ID."""
    cerbo = FakeCerbo(aioclient_mock, host=host)
    root = root_of("system.json")
    root["Serial"] = portal_id
    cerbo.set_root(SYSTEM, root)
    return cerbo


async def start(hass: HomeAssistant, sources: str) -> dict[str, Any]:
    """Open the flow and choose the sources."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    return await hass.config_entries.flow.async_configure(result["flow_id"], {"sources": sources})


async def submit(hass: HomeAssistant, result: dict[str, Any], data: dict[str, Any]) -> Any:
    return await hass.config_entries.flow.async_configure(result["flow_id"], data)


# --- first setup ----------------------------------------------------------------------------


async def test_local_only(hass: HomeAssistant, aioclient_mock: AiohttpClientMocker) -> None:
    cerbo = FakeCerbo(aioclient_mock)
    result = await start(hass, "local")
    assert result["step_id"] == "local"

    result = await submit(hass, result, {CONF_HOST: f" {HOST} ", CONF_PORT: PORT})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Cerbo GX"
    assert result["data"] == {CONF_HOST: HOST, CONF_PORT: PORT, CONF_PORTAL_ID: PORTAL_ID}
    assert result["result"].unique_id == PORTAL_ID
    assert cerbo.counts()["/health"] == 1
    assert all(method == "GET" for method, *_ in aioclient_mock.mock_calls)


async def test_vrm_only_one_site_two_monitors(
    hass: HomeAssistant, aioclient_mock: AiohttpClientMocker, vrm: FakeVrm
) -> None:
    flow_vrm(vrm)
    result = await start(hass, "vrm")
    assert result["step_id"] == "vrm"
    assert "vrm.victronenergy.com/access-tokens" in result["description_placeholders"]["token_url"]

    result = await submit(hass, result, {CONF_VRM_TOKEN: f"{TOKEN}\n"})
    # one site: no site picker; two battery monitors: a picker with names, not numbers
    assert result["step_id"] == "battery"
    options = result["data_schema"].schema[CONF_BATTERY_INSTANCE].config["options"]
    assert [o["value"] for o in options] == ["512", "288"]
    assert all(o["label"] != o["value"] for o in options)

    result = await submit(hass, result, {CONF_BATTERY_INSTANCE: "288"})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Cabin"
    assert result["data"] == {
        CONF_VRM_TOKEN: TOKEN,
        CONF_SITE_ID: SITE_ID,
        CONF_VRM_USER_ID: USER_ID,
        CONF_BATTERY_INSTANCE: 288,
        CONF_PORTAL_ID: VRM_PORTAL_ID,
    }
    assert result["result"].unique_id == VRM_PORTAL_ID
    sent = {str(call[1]) for call in aioclient_mock.mock_calls}
    assert sent == {USERS_ME_URL, INSTALLATIONS_URL, OVERVIEW_URL}
    headers = aioclient_mock.mock_calls[0][3]
    assert headers["X-Authorization"] == f"Token {TOKEN}"


@pytest.mark.parametrize("dev_url", [None, "http://127.0.0.1:18089/v2"])
async def test_development_vrm_address(
    hass: HomeAssistant,
    aioclient_mock: AiohttpClientMocker,
    monkeypatch: pytest.MonkeyPatch,
    dev_url: str | None,
) -> None:
    """scripts/develop points the flow at the simulator's VRM; without it, the real VRM."""
    if dev_url is None:
        monkeypatch.delenv(ENV_DEV_VRM_API_URL, raising=False)
    else:
        monkeypatch.setenv(ENV_DEV_VRM_API_URL, dev_url)
    base = dev_url or DEFAULT_VRM_API_URL
    aioclient_mock.get(f"{base}/users/me", json=vrm_json("users_me"))
    aioclient_mock.get(f"{base}/users/22222/installations", json=vrm_json("installations_one"))
    overview = vrm_json("system_overview")
    aioclient_mock.get(f"{base}/installations/{SITE_ID}/system-overview", json=overview)
    result = await start(hass, "vrm")
    result = await submit(hass, result, {CONF_VRM_TOKEN: TOKEN})
    result = await submit(hass, result, {CONF_BATTERY_INSTANCE: "288"})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert aioclient_mock.call_count == 3
    assert all(str(call[1]).startswith(f"{base}/") for call in aioclient_mock.mock_calls)
    # the entry then polls the same VRM; an entry for the real one stores no address
    assert result["data"].get(CONF_VRM_API_URL) == dev_url


async def test_vrm_only_site_picker(hass: HomeAssistant, vrm: FakeVrm) -> None:
    flow_vrm(vrm, installations="installations_many", single_monitor=True)
    result = await start(hass, "vrm")
    result = await submit(hass, result, {CONF_VRM_TOKEN: TOKEN})
    assert result["step_id"] == "site"
    options = result["data_schema"].schema[CONF_SITE_ID].config["options"]
    assert {o["value"] for o in options} == {str(SITE_ID), "151734"}

    result = await submit(hass, result, {CONF_SITE_ID: str(SITE_ID)})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_BATTERY_INSTANCE] == 512


async def test_both_sources_pick_the_matching_site(
    hass: HomeAssistant, aioclient_mock: AiohttpClientMocker, vrm: FakeVrm
) -> None:
    cerbo_with_portal(aioclient_mock, "D41243CD7C66")  # the yacht, in capitals
    flow_vrm(vrm, installations="installations_many", single_monitor=True)
    aioclient_mock.get(
        OVERVIEW_URL.replace(str(SITE_ID), "151734"), json=aioclient_mock_overview_single()
    )
    result = await start(hass, "both")
    result = await submit(hass, result, {CONF_HOST: HOST, CONF_PORT: PORT})
    assert result["step_id"] == "vrm_local"
    result = await submit(hass, result, {CONF_VRM_TOKEN: TOKEN})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "35ft Yacht"
    assert result["data"][CONF_SITE_ID] == 151734
    assert result["data"][CONF_HOST] == HOST
    assert result["data"][CONF_PORTAL_ID] == "d41243cd7c66"
    assert result["result"].unique_id == "d41243cd7c66"


def aioclient_mock_overview_single() -> Any:
    overview = vrm_json("system_overview")
    devices = overview["records"]["devices"]
    overview["records"]["devices"] = [d for d in devices if d.get("instance") != 512]
    return overview


async def test_both_mismatch_with_one_site_asks_for_another_host(
    hass: HomeAssistant, aioclient_mock: AiohttpClientMocker, vrm: FakeVrm
) -> None:
    FakeCerbo(aioclient_mock)  # portal c0619ab4e53f, not the Cabin's
    cerbo_with_portal(aioclient_mock, VRM_PORTAL_ID, host=OTHER_HOST)
    flow_vrm(vrm, single_monitor=True)
    result = await start(hass, "both")
    result = await submit(hass, result, {CONF_HOST: HOST, CONF_PORT: PORT})
    result = await submit(hass, result, {CONF_VRM_TOKEN: TOKEN})
    assert result["step_id"] == "local"
    assert result["errors"] == {"base": "portal_id_mismatch"}
    assert result["description_placeholders"] == {
        "site": "Cabin",
        "vrm_portal_id": VRM_PORTAL_ID,
        "local_portal_id": PORTAL_ID,
    }

    result = await submit(hass, result, {CONF_HOST: OTHER_HOST, CONF_PORT: PORT})
    assert result["step_id"] == "vrm_local"
    result = await submit(hass, result, {CONF_VRM_TOKEN: TOKEN})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_HOST] == OTHER_HOST


async def test_both_mismatch_with_several_sites_shows_the_picker(
    hass: HomeAssistant, aioclient_mock: AiohttpClientMocker, vrm: FakeVrm
) -> None:
    cerbo_with_portal(aioclient_mock, VRM_PORTAL_ID)
    flow_vrm(vrm, installations="installations_many", single_monitor=True)
    result = await start(hass, "both")
    result = await submit(hass, result, {CONF_HOST: HOST, CONF_PORT: PORT})
    result = await submit(hass, result, {CONF_VRM_TOKEN: TOKEN})
    # the Cabin matches and is taken without asking
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_SITE_ID] == SITE_ID

    cerbo_other = cerbo_with_portal(aioclient_mock, "aaaaaaaaaaaa", host=OTHER_HOST)
    result = await start(hass, "both")
    result = await submit(hass, result, {CONF_HOST: OTHER_HOST, CONF_PORT: PORT})
    result = await submit(hass, result, {CONF_VRM_TOKEN: TOKEN})
    assert result["step_id"] == "site"
    assert result["errors"] == {}
    result = await submit(hass, result, {CONF_SITE_ID: "151734"})
    assert result["step_id"] == "site"
    assert result["errors"] == {"base": "portal_id_mismatch"}
    assert result["description_placeholders"]["local_portal_id"] == "aaaaaaaaaaaa"
    assert cerbo_other.counts()["/health"] == 1


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        ({"status": 401, "text": vrm_text("error_401.json")}, "invalid_auth"),
        ({"exc": aiohttp.ClientConnectionError("refused")}, "vrm_cannot_connect"),
        ({"exc": TimeoutError()}, "vrm_cannot_connect"),
        ({"status": 503, "text": vrm_text("error_500.json")}, "vrm_error"),
        ({"exc": ValueError("library bug")}, "unknown"),
    ],
)
async def test_vrm_token_errors_then_recovery(
    hass: HomeAssistant,
    aioclient_mock: AiohttpClientMocker,
    vrm: FakeVrm,
    answer: dict[str, Any],
    error: str,
) -> None:
    vrm.serve(USERS_ME_URL, [answer])
    result = await start(hass, "vrm")
    result = await submit(hass, result, {CONF_VRM_TOKEN: TOKEN})
    assert result["step_id"] == "vrm"
    assert result["errors"] == {"base": error}
    assert aioclient_mock.call_count == 1  # no retries while the user waits

    vrm.scripts.clear()
    aioclient_mock.mock_calls.clear()
    flow_vrm(vrm, single_monitor=True)
    result = await submit(hass, result, {CONF_VRM_TOKEN: TOKEN})
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_vrm_forbidden_and_no_sites(
    hass: HomeAssistant, aioclient_mock: AiohttpClientMocker, vrm: FakeVrm
) -> None:
    vrm.users_me = vrm_json("users_me")
    vrm.serve(INSTALLATIONS_URL, [{"status": 403, "text": vrm_text("error_403.json")}])
    result = await start(hass, "vrm")
    result = await submit(hass, result, {CONF_VRM_TOKEN: TOKEN})
    assert result["errors"] == {"base": "forbidden"}

    vrm.scripts.clear()
    aioclient_mock.mock_calls.clear()
    vrm.users_me = vrm_json("users_me")
    vrm.serve(INSTALLATIONS_URL, [{"json": {"success": True, "records": []}}])
    result = await submit(hass, result, {CONF_VRM_TOKEN: TOKEN})
    assert result["errors"] == {"base": "no_sites"}


@pytest.mark.parametrize(
    ("overview", "error"),
    [
        ({"status": 403, "text": vrm_text("error_403.json")}, "forbidden_site"),
        ({"status": 500, "text": vrm_text("error_500.json")}, "vrm_error"),
    ],
)
async def test_site_errors(
    hass: HomeAssistant, vrm: FakeVrm, overview: dict[str, Any], error: str
) -> None:
    vrm.users_me = vrm_json("users_me")
    vrm.installations = vrm_json("installations_many")
    vrm.serve(OVERVIEW_URL, [overview])
    result = await start(hass, "vrm")
    result = await submit(hass, result, {CONF_VRM_TOKEN: TOKEN})
    result = await submit(hass, result, {CONF_SITE_ID: str(SITE_ID)})
    assert result["step_id"] == "site"
    assert result["errors"] == {"base": error}
    assert result["description_placeholders"] == {"site": "Cabin"}


async def test_site_without_a_battery_monitor_is_offered(
    hass: HomeAssistant, aioclient_mock: AiohttpClientMocker, vrm: FakeVrm
) -> None:
    """An MPPT or inverter measures the battery: the GX's system battery is read instead."""
    flow_vrm(vrm, overview="system_overview_no_battery")
    result = await start(hass, "vrm")
    result = await submit(hass, result, {CONF_VRM_TOKEN: TOKEN})

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"] == {
        CONF_VRM_TOKEN: TOKEN,
        CONF_SITE_ID: SITE_ID,
        CONF_VRM_USER_ID: USER_ID,
        CONF_BATTERY_INSTANCE: None,
        CONF_PORTAL_ID: VRM_PORTAL_ID,
    }
    assert aioclient_mock.call_count == 3


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (Reply(exc=aiohttp.ClientConnectionError("refused")), "cannot_connect"),
        (Reply.fixture("router_login.html"), "invalid_local_response"),
        (Reply(exc=ValueError("library bug")), "unknown"),
    ],
)
async def test_local_errors_then_recovery(
    hass: HomeAssistant, aioclient_mock: AiohttpClientMocker, reply: Reply, error: str
) -> None:
    cerbo = FakeCerbo(aioclient_mock)
    good_health = cerbo.health
    cerbo.health = reply
    result = await start(hass, "local")
    result = await submit(hass, result, {CONF_HOST: HOST, CONF_PORT: PORT})
    assert result["step_id"] == "local"
    assert result["errors"] == {"base": error}

    cerbo.health = good_health
    result = await submit(hass, result, {CONF_HOST: HOST, CONF_PORT: PORT})
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_already_configured(
    hass: HomeAssistant, aioclient_mock: AiohttpClientMocker, vrm: FakeVrm
) -> None:
    make_entry(hass, {})
    make_entry(hass, {}, unique_id=VRM_PORTAL_ID)
    FakeCerbo(aioclient_mock)
    result = await start(hass, "local")
    result = await submit(hass, result, {CONF_HOST: HOST, CONF_PORT: PORT})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"

    flow_vrm(vrm, single_monitor=True)
    result = await start(hass, "vrm")
    result = await submit(hass, result, {CONF_VRM_TOKEN: TOKEN})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


# --- guidance (issue 14) --------------------------------------------------------------------

TRANSLATIONS = json.loads(
    (Path(__file__).parents[1] / "custom_components/victron_cerbo/translations/en.json").read_text(
        encoding="utf-8"
    )
)


def suggested_token(result: dict[str, Any]) -> Any:
    key = next(key for key in result["data_schema"].schema if str(key) == CONF_VRM_TOKEN)
    return (key.description or {}).get("suggested_value")


async def test_next_until_the_last_step(
    hass: HomeAssistant, aioclient_mock: AiohttpClientMocker
) -> None:
    """The frontend shows "Next" for last_step False and "Submit" otherwise."""
    FakeCerbo(aioclient_mock)
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["last_step"] is False
    result = await submit(hass, result, {"sources": "both"})
    assert result["step_id"] == "local"
    assert result["last_step"] is False  # the token follows

    result = await start(hass, "local")
    assert result["step_id"] == "local"
    assert result["last_step"] is True  # the entry is created from this one


async def test_token_step_says_what_the_cerbo_step_found(
    hass: HomeAssistant, aioclient_mock: AiohttpClientMocker
) -> None:
    FakeCerbo(aioclient_mock)
    result = await start(hass, "both")
    result = await submit(hass, result, {CONF_HOST: HOST, CONF_PORT: PORT})
    assert result["step_id"] == "vrm_local"
    placeholders = result["description_placeholders"]
    assert placeholders["portal_id"] == PORTAL_ID
    assert placeholders["model"] == "Cerbo GX"
    assert placeholders["firmware"].startswith("v3.")
    description = TRANSLATIONS["config"]["step"]["vrm_local"]["description"]
    assert {"{model}", "{firmware}", "{portal_id}"} <= set(re.findall(r"\{\w+\}", description))
    # VRM alone: nothing was found, and the step still explains itself
    assert TRANSLATIONS["config"]["step"]["vrm"]["description"]


@pytest.mark.parametrize(
    ("typed", "port_field"),
    [
        (f"http://{HOST}:{PORT}", 80),  # the typed port wins over the field
        (f"{HOST}:{PORT}", 80),
        (f"HTTP://{HOST}:{PORT}/", 80),
        (f"http://{HOST}", PORT),
    ],
)
async def test_host_typed_as_a_url(
    hass: HomeAssistant, aioclient_mock: AiohttpClientMocker, typed: str, port_field: int
) -> None:
    cerbo = FakeCerbo(aioclient_mock)
    result = await start(hass, "local")
    result = await submit(hass, result, {CONF_HOST: typed, CONF_PORT: port_field})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert (result["data"][CONF_HOST], result["data"][CONF_PORT]) == (HOST, PORT)
    assert cerbo.counts()["/health"] == 1


@pytest.mark.parametrize(
    "typed", [f"https://{HOST}", f"{HOST}/health", f"{HOST}:http", "http://", "admin@" + HOST]
)
async def test_host_that_is_no_address_is_explained(
    hass: HomeAssistant, aioclient_mock: AiohttpClientMocker, typed: str
) -> None:
    result = await start(hass, "local")
    result = await submit(hass, result, {CONF_HOST: typed, CONF_PORT: PORT})
    assert result["errors"] == {"base": "invalid_host"}
    assert aioclient_mock.call_count == 0
    assert "http://" in TRANSLATIONS["config"]["error"]["invalid_host"]


def test_split_host() -> None:
    from custom_components.victron_cerbo.flow_helpers import split_host  # noqa: PLC0415

    assert split_host(" fe80::1 ", PORT) == ("fe80::1", PORT)  # bare IPv6: no port in it
    assert split_host("[fe80::1]:8099", PORT) == ("fe80::1", 8099)
    assert split_host("Einstein.local", PORT) == ("einstein.local", PORT)
    assert split_host("192.168.1.5:99999", PORT) is None


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (Reply(exc=ConnectionRefusedError(111, "Connection refused")), "refused"),
        (Reply(exc=TimeoutError()), "timeout"),
        (
            Reply(
                exc=aiohttp.ClientConnectorDNSError(
                    SimpleNamespace(host="cerbo.invalid", port=PORT, ssl=False),
                    OSError(-2, "Name or service not known"),
                )
            ),
            "unknown_host",
        ),
    ],
)
async def test_refused_timeout_and_unknown_name_differ(
    hass: HomeAssistant, aioclient_mock: AiohttpClientMocker, reply: Reply, error: str
) -> None:
    cerbo = FakeCerbo(aioclient_mock)
    cerbo.health = reply
    result = await start(hass, "local")
    result = await submit(hass, result, {CONF_HOST: HOST, CONF_PORT: PORT})
    assert result["errors"] == {"base": error}
    assert error in TRANSLATIONS["config"]["error"]


async def test_vrm_unreachable_is_home_assistants_connection(
    hass: HomeAssistant, vrm: FakeVrm
) -> None:
    vrm.serve(USERS_ME_URL, [{"exc": aiohttp.ClientConnectionError("no route")}])
    result = await start(hass, "vrm")
    result = await submit(hass, result, {CONF_VRM_TOKEN: TOKEN})
    assert result["errors"] == {"base": "vrm_cannot_connect"}
    message = TRANSLATIONS["config"]["error"]["vrm_cannot_connect"]
    assert "check Home Assistant's internet connection" in message
    assert "Cerbo" not in message


async def test_token_is_kept_after_an_error(hass: HomeAssistant, vrm: FakeVrm) -> None:
    vrm.serve(USERS_ME_URL, [{"status": 401, "text": vrm_text("error_401.json")}])
    result = await start(hass, "vrm")
    assert suggested_token(result) is None
    result = await submit(hass, result, {CONF_VRM_TOKEN: "typed-token"})
    assert result["errors"] == {"base": "invalid_auth"}
    assert suggested_token(result) == "typed-token"


async def test_abandoned_flow_does_not_block_the_next(
    hass: HomeAssistant, aioclient_mock: AiohttpClientMocker, vrm: FakeVrm
) -> None:
    """A flow left at the token step (browser tab closed) stays in memory until a restart."""
    FakeCerbo(aioclient_mock)
    flow_vrm(vrm)
    abandoned = await start(hass, "both")
    abandoned = await submit(hass, abandoned, {CONF_HOST: HOST, CONF_PORT: PORT})
    assert abandoned["step_id"] == "vrm_local"

    result = await start(hass, "both")
    result = await submit(hass, result, {CONF_HOST: HOST, CONF_PORT: PORT})
    assert result["step_id"] == "vrm_local"

    # VRM alone: abandoned at the battery picker, after the site was chosen
    abandoned = await start(hass, "vrm")
    abandoned = await submit(hass, abandoned, {CONF_VRM_TOKEN: TOKEN})
    assert abandoned["step_id"] == "battery"
    result = await start(hass, "vrm")
    result = await submit(hass, result, {CONF_VRM_TOKEN: TOKEN})
    assert result["step_id"] == "battery"
    result = await submit(hass, result, {CONF_BATTERY_INSTANCE: "512"})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    # the finished flow takes the unfinished ones of the same installation with it
    progress = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert {flow["context"]["unique_id"] for flow in progress} == {PORTAL_ID}


# --- several installations behind one token (issue 17) ---------------------------------------

YACHT_ID, YACHT_PORTAL_ID = 151734, "d41243cd7c66"
WORKSHOP_PORTAL_ID = "a1b2c3d4e5f6"
YACHT_OVERVIEW_URL = OVERVIEW_URL.replace(str(SITE_ID), str(YACHT_ID))


def three_sites() -> dict[str, Any]:
    """The Cabin, the yacht and the workshop, as VRM lists one account's installations."""
    listing = vrm_json("installations_account_live")
    listing["records"] = listing["records"][:3]
    return listing


def vrm_sent(aioclient_mock: AiohttpClientMocker) -> list[str]:
    """The last part of the path of each VRM request, in order."""
    return [
        str(call[1]).rsplit("/", 1)[-1]
        for call in aioclient_mock.mock_calls
        if str(call[1]).startswith(DEFAULT_VRM_API_URL)
    ]


def offered(hass: HomeAssistant) -> dict[str, dict[str, Any]]:
    """The sites waiting under "Discovered", by portal ID."""
    return {
        flow["context"]["unique_id"]: flow
        for flow in hass.config_entries.flow.async_progress_by_handler(DOMAIN)
        if flow["context"]["source"] == SOURCE_INTEGRATION_DISCOVERY
    }


async def add_cabin_of_three(
    hass: HomeAssistant, vrm: FakeVrm, choice: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Set up the Cabin with a token that sees three sites; return the site picker's form."""
    flow_vrm(vrm, single_monitor=True)
    vrm.installations = three_sites()
    result = await start(hass, "vrm")
    picker = await submit(hass, result, {CONF_VRM_TOKEN: TOKEN})
    assert picker["step_id"] == "site"
    result = await submit(hass, picker, {CONF_SITE_ID: str(SITE_ID)} | (choice or {}))
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Cabin"
    await hass.async_block_till_done()
    return picker


async def test_one_site_offers_nothing(
    hass: HomeAssistant, aioclient_mock: AiohttpClientMocker, vrm: FakeVrm
) -> None:
    flow_vrm(vrm, single_monitor=True)
    result = await start(hass, "vrm")
    result = await submit(hass, result, {CONF_VRM_TOKEN: TOKEN})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert offered(hass) == {}
    assert aioclient_mock.call_count == 3


async def test_site_the_cerbo_picked_offers_nothing(
    hass: HomeAssistant, aioclient_mock: AiohttpClientMocker, vrm: FakeVrm
) -> None:
    """The Cerbo's portal ID picks the site, so the picker with its box is never shown."""
    FakeCerbo(aioclient_mock)
    flow_vrm(vrm, single_monitor=True)
    listing = three_sites()
    listing["records"][0]["identifier"] = PORTAL_ID  # the Cabin is the Cerbo on the LAN
    vrm.installations = listing
    result = await start(hass, "both")
    result = await submit(hass, result, {CONF_HOST: HOST, CONF_PORT: PORT})
    result = await submit(hass, result, {CONF_VRM_TOKEN: TOKEN})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert offered(hass) == {}


async def test_three_sites_offer_the_other_two(
    hass: HomeAssistant, aioclient_mock: AiohttpClientMocker, vrm: FakeVrm
) -> None:
    picker = await add_cabin_of_three(hass, vrm)
    fields = {str(key): key for key in picker["data_schema"].schema}
    assert fields[CONF_ADD_OTHERS].default() is True  # ticked: they are only offered

    flows = offered(hass)
    assert set(flows) == {YACHT_PORTAL_ID, WORKSHOP_PORTAL_ID}
    assert {flow["step_id"] for flow in flows.values()} == {"discovery_confirm"}
    assert flows[YACHT_PORTAL_ID]["context"]["title_placeholders"] == {"name": "35ft Yacht"}
    assert TOKEN not in repr(hass.config_entries.flow.async_progress())
    # the listing the flow had is reused: only the Cabin's own three requests so far
    assert vrm_sent(aioclient_mock) == ["me", "installations", "system-overview"]
    assert len(hass.config_entries.async_entries(DOMAIN)) == 1  # nothing added unconfirmed

    # dismissing the workshop leaves the yacht waiting
    hass.config_entries.flow.async_abort(flows[WORKSHOP_PORTAL_ID]["flow_id"])
    assert set(offered(hass)) == {YACHT_PORTAL_ID}

    aioclient_mock.get(YACHT_OVERVIEW_URL, json=aioclient_mock_overview_single())
    result = await hass.config_entries.flow.async_configure(flows[YACHT_PORTAL_ID]["flow_id"])
    assert result["step_id"] == "discovery_confirm"
    assert result["description_placeholders"] == {
        "site": "35ft Yacht",
        "portal_id": YACHT_PORTAL_ID,
    }
    result = await submit(hass, result, {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "35ft Yacht"
    assert result["data"] == {
        CONF_VRM_TOKEN: TOKEN,  # the same token, not asked again
        CONF_SITE_ID: YACHT_ID,
        CONF_VRM_USER_ID: USER_ID,
        CONF_BATTERY_INSTANCE: 288,
        CONF_PORTAL_ID: YACHT_PORTAL_ID,
    }
    assert result["result"].unique_id == YACHT_PORTAL_ID
    # confirming cost the yacht's device list, nothing else
    assert aioclient_mock.call_count == 4
    assert str(aioclient_mock.mock_calls[-1][1]) == YACHT_OVERVIEW_URL
    assert offered(hass) == {}
    assert len(hass.config_entries.async_entries(DOMAIN)) == 2


async def test_unticked_offers_nothing(hass: HomeAssistant, vrm: FakeVrm) -> None:
    await add_cabin_of_three(hass, vrm, {CONF_ADD_OTHERS: False})
    assert offered(hass) == {}


async def test_configured_and_ignored_sites_are_not_offered(
    hass: HomeAssistant, vrm: FakeVrm
) -> None:
    make_entry(hass, {}, unique_id=WORKSHOP_PORTAL_ID, title="Workshop")
    await add_cabin_of_three(hass, vrm)
    assert set(offered(hass)) == {YACHT_PORTAL_ID}

    # with the yacht ignored too, there is nothing to offer and no box to tick
    for flow in hass.config_entries.flow.async_progress_by_handler(DOMAIN):
        hass.config_entries.flow.async_abort(flow["flow_id"])
    MockConfigEntry(domain=DOMAIN, unique_id=YACHT_PORTAL_ID, source=SOURCE_IGNORE).add_to_hass(
        hass
    )
    result = await start(hass, "vrm")
    result = await submit(hass, result, {CONF_VRM_TOKEN: TOKEN})
    assert result["step_id"] == "site"
    assert [str(key) for key in result["data_schema"].schema] == [CONF_SITE_ID]


async def test_same_token_again_offers_each_site_once(
    hass: HomeAssistant, aioclient_mock: AiohttpClientMocker, vrm: FakeVrm
) -> None:
    """Adding a site by hand while it waits as discovered takes its place; none is doubled."""
    await add_cabin_of_three(hass, vrm)
    before = {unique_id: flow["flow_id"] for unique_id, flow in offered(hass).items()}

    aioclient_mock.get(YACHT_OVERVIEW_URL, json=aioclient_mock_overview_single())
    result = await start(hass, "vrm")
    result = await submit(hass, result, {CONF_VRM_TOKEN: TOKEN})
    result = await submit(hass, result, {CONF_SITE_ID: str(YACHT_ID)})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_VRM_TOKEN] == TOKEN
    await hass.async_block_till_done()

    # the yacht's card went with its new entry; the workshop is still the first offer
    assert {unique_id: flow["flow_id"] for unique_id, flow in offered(hass).items()} == {
        WORKSHOP_PORTAL_ID: before[WORKSHOP_PORTAL_ID]
    }
    assert vrm_sent(aioclient_mock) == ["me", "installations", "system-overview"] * 2


async def test_discovered_site_with_its_cerbo(
    hass: HomeAssistant, aioclient_mock: AiohttpClientMocker, vrm: FakeVrm
) -> None:
    await add_cabin_of_three(hass, vrm)
    cerbo = cerbo_with_portal(aioclient_mock, YACHT_PORTAL_ID.upper(), host=OTHER_HOST)
    aioclient_mock.get(YACHT_OVERVIEW_URL, json=vrm_json("system_overview"))
    result = await hass.config_entries.flow.async_configure(
        offered(hass)[YACHT_PORTAL_ID]["flow_id"]
    )
    result = await submit(hass, result, {CONF_HOST: f"http://{OTHER_HOST}:{PORT}", CONF_PORT: 1})
    assert result["step_id"] == "battery"  # two monitors on the yacht: pick one
    result = await submit(hass, result, {CONF_BATTERY_INSTANCE: "512"})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"] == {
        CONF_HOST: OTHER_HOST,
        CONF_PORT: PORT,
        CONF_VRM_TOKEN: TOKEN,
        CONF_SITE_ID: YACHT_ID,
        CONF_VRM_USER_ID: USER_ID,
        CONF_BATTERY_INSTANCE: 512,
        CONF_PORTAL_ID: YACHT_PORTAL_ID,
    }
    assert cerbo.counts()["/health"] == 1
    assert vrm_sent(aioclient_mock) == ["me", "installations", "system-overview", "system-overview"]


@pytest.mark.parametrize(
    ("cerbo_portal_id", "health", "error", "extra"),
    [
        (PORTAL_ID, None, "cerbo_of_another_site", {"local_portal_id": PORTAL_ID}),
        (
            YACHT_PORTAL_ID,
            Reply(exc=aiohttp.ClientConnectionError("refused")),
            "cannot_connect",
            {},
        ),
    ],
)
async def test_discovered_site_cerbo_errors_then_vrm_only(
    hass: HomeAssistant,
    aioclient_mock: AiohttpClientMocker,
    vrm: FakeVrm,
    *,
    cerbo_portal_id: str,
    health: Reply | None,
    error: str,
    extra: dict[str, str],
) -> None:
    """A Cerbo of another site, or none answering: said so; without an address, VRM only."""
    await add_cabin_of_three(hass, vrm)
    cerbo = cerbo_with_portal(aioclient_mock, cerbo_portal_id, host=OTHER_HOST)
    if health is not None:
        cerbo.health = health
    result = await hass.config_entries.flow.async_configure(
        offered(hass)[YACHT_PORTAL_ID]["flow_id"]
    )
    result = await submit(hass, result, {CONF_HOST: OTHER_HOST, CONF_PORT: PORT})
    assert result["step_id"] == "discovery_confirm"
    assert result["errors"] == {"base": error}
    expected = {"site": "35ft Yacht", "portal_id": YACHT_PORTAL_ID} | extra
    assert result["description_placeholders"] == expected
    host = next(key for key in result["data_schema"].schema if str(key) == CONF_HOST)
    assert host.description == {"suggested_value": OTHER_HOST}  # kept to correct
    assert vrm_sent(aioclient_mock) == ["me", "installations", "system-overview"]  # not yet

    aioclient_mock.get(YACHT_OVERVIEW_URL, json=aioclient_mock_overview_single())
    result = await submit(hass, result, {CONF_PORT: PORT})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert CONF_HOST not in result["data"]
    assert result["data"][CONF_PORTAL_ID] == YACHT_PORTAL_ID


async def test_discovered_site_vrm_error(
    hass: HomeAssistant, aioclient_mock: AiohttpClientMocker, vrm: FakeVrm
) -> None:
    await add_cabin_of_three(hass, vrm)
    aioclient_mock.get(YACHT_OVERVIEW_URL, status=403, text=vrm_text("error_403.json"))
    result = await hass.config_entries.flow.async_configure(
        offered(hass)[YACHT_PORTAL_ID]["flow_id"]
    )
    result = await submit(hass, result, {})
    assert result["step_id"] == "discovery_confirm"
    assert result["errors"] == {"base": "forbidden_site"}
    assert result["description_placeholders"]["site"] == "35ft Yacht"


async def test_discovered_site_set_up_meanwhile(
    hass: HomeAssistant, aioclient_mock: AiohttpClientMocker, vrm: FakeVrm
) -> None:
    """Offered twice (by two accounts), or added meanwhile: one setup, no duplicate."""
    await add_cabin_of_three(hass, vrm)
    yacht = VrmSite(id=YACHT_ID, name="35ft Yacht", identifier=YACHT_PORTAL_ID)
    data = {CONF_VRM_TOKEN: "another-token", CONF_VRM_USER_ID: 1, DISCOVERED_SITE: yacht}
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_INTEGRATION_DISCOVERY}, data=data
    )
    assert result["reason"] == "already_in_progress"

    make_entry(hass, {}, unique_id=YACHT_PORTAL_ID)
    result = await hass.config_entries.flow.async_configure(
        offered(hass)[YACHT_PORTAL_ID]["flow_id"], {}
    )
    assert result["reason"] == "already_configured"
    assert aioclient_mock.call_count == 3  # the Cabin's; none for the yacht


# --- SSDP discovery -------------------------------------------------------------------------


def ssdp_info(host: str = HOST, portal_id: str | None = PORTAL_ID) -> SsdpServiceInfo:
    upnp: dict[str, Any] = {
        "manufacturer": "Victron Energy",
        "friendlyName": "Cerbo GX",
        "modelName": "Cerbo GX",
        "serialNumber": "HQ2207AAAAA",
    }
    if portal_id is not None:
        upnp["X_VrmPortalId"] = portal_id
    return SsdpServiceInfo(
        ssdp_usn="uuid:com.victronenergy.ccgx_c0619ab4e53f",
        ssdp_st="upnp:rootdevice",
        ssdp_location=f"http://{ip_address(host)}:80/description.xml",
        upnp=upnp,
    )


async def test_ssdp_offers_setup_with_the_host(
    hass: HomeAssistant, aioclient_mock: AiohttpClientMocker
) -> None:
    FakeCerbo(aioclient_mock)
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_SSDP}, data=ssdp_info()
    )
    assert result["step_id"] == "user"
    result = await submit(hass, result, {"sources": "local"})
    assert result["step_id"] == "local"
    schema = result["data_schema"]({CONF_PORT: PORT})
    assert schema[CONF_HOST] == HOST  # prefilled
    result = await submit(hass, result, {CONF_HOST: HOST, CONF_PORT: PORT})
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_ssdp_rejects(hass: HomeAssistant, aioclient_mock: AiohttpClientMocker) -> None:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_SSDP}, data=ssdp_info(portal_id=None)
    )
    assert result["reason"] == "not_victron_gx"

    cerbo = FakeCerbo(aioclient_mock)
    cerbo.health = Reply(exc=aiohttp.ClientConnectionError("refused"))
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_SSDP}, data=ssdp_info()
    )
    assert result["reason"] == "no_local_api"


async def test_ssdp_updates_the_host_of_a_known_cerbo(hass: HomeAssistant) -> None:
    local = make_entry(hass, {CONF_HOST: OTHER_HOST, CONF_PORT: PORT})
    vrm_only = make_entry(hass, {CONF_SITE_ID: 1}, unique_id=VRM_PORTAL_ID)

    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_SSDP}, data=ssdp_info(HOST, PORTAL_ID.upper())
    )
    assert result["reason"] == "already_configured"
    assert local.data[CONF_HOST] == HOST

    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_SSDP}, data=ssdp_info(HOST, VRM_PORTAL_ID)
    )
    assert result["reason"] == "already_configured"
    assert CONF_HOST not in vrm_only.data  # a VRM-only entry does not grow a local source


# --- reauthentication -----------------------------------------------------------------------


def vrm_entry(hass: HomeAssistant, **extra: Any) -> MockConfigEntry:
    data = {
        CONF_VRM_TOKEN: "old-token",
        CONF_SITE_ID: SITE_ID,
        CONF_BATTERY_INSTANCE: 512,
        CONF_PORTAL_ID: VRM_PORTAL_ID,
        **extra,
    }
    return make_entry(hass, data, unique_id=VRM_PORTAL_ID)


async def test_reauth(
    hass: HomeAssistant, aioclient_mock: AiohttpClientMocker, vrm: FakeVrm
) -> None:
    entry = vrm_entry(hass)
    result = await entry.start_reauth_flow(hass)
    assert result["step_id"] == "reauth_confirm"
    assert result["description_placeholders"]["name"] == "Cabin"

    vrm.serve(USERS_ME_URL, [{"status": 401, "text": vrm_text("error_401.json")}])
    result = await submit(hass, result, {CONF_VRM_TOKEN: "bad"})
    assert result["errors"] == {"base": "invalid_auth"}

    vrm.scripts.clear()
    aioclient_mock.mock_calls.clear()
    vrm.users_me = vrm_json("users_me")
    vrm.serve(INSTALLATIONS_URL, [{"json": {"success": True, "records": []}}])
    result = await submit(hass, result, {CONF_VRM_TOKEN: TOKEN})
    assert result["errors"] == {"base": "site_not_accessible"}

    vrm.scripts.clear()
    aioclient_mock.mock_calls.clear()
    flow_vrm(vrm)
    result = await submit(hass, result, {CONF_VRM_TOKEN: f" {TOKEN} "})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    assert entry.data[CONF_VRM_TOKEN] == TOKEN
    assert entry.data[CONF_VRM_USER_ID] == USER_ID  # kept for a site without a monitor


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        ({"status": 403, "text": vrm_text("error_403.json")}, "forbidden"),
        ({"exc": aiohttp.ClientConnectionError("refused")}, "vrm_cannot_connect"),
        ({"exc": ValueError("library bug")}, "unknown"),
    ],
)
async def test_reauth_errors(
    hass: HomeAssistant, vrm: FakeVrm, answer: dict[str, Any], error: str
) -> None:
    entry = vrm_entry(hass)
    result = await entry.start_reauth_flow(hass)
    vrm.serve(USERS_ME_URL, [answer])
    result = await submit(hass, result, {CONF_VRM_TOKEN: TOKEN})
    assert result["errors"] == {"base": error}


# --- reconfiguration ------------------------------------------------------------------------


async def test_reconfigure_local_host(
    hass: HomeAssistant, aioclient_mock: AiohttpClientMocker
) -> None:
    entry = make_entry(hass, {CONF_HOST: OTHER_HOST, CONF_PORT: PORT, CONF_PORTAL_ID: PORTAL_ID})
    cerbo = FakeCerbo(aioclient_mock)
    cerbo_with_portal(aioclient_mock, "bbbbbbbbbbbb", host="192.168.1.99")

    result = await entry.start_reconfigure_flow(hass)
    assert result["step_id"] == "reconfigure"
    assert set(result["data_schema"].schema) == {CONF_HOST, CONF_PORT}

    cerbo.health = Reply(exc=aiohttp.ClientConnectionError("refused"))
    result = await submit(hass, result, {CONF_HOST: HOST, CONF_PORT: PORT})
    assert result["errors"] == {"base": "cannot_connect"}

    result = await submit(hass, result, {CONF_HOST: "192.168.1.99", CONF_PORT: PORT})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "wrong_device"


async def test_reconfigure_local_host_success(
    hass: HomeAssistant, aioclient_mock: AiohttpClientMocker
) -> None:
    entry = make_entry(hass, {CONF_HOST: OTHER_HOST, CONF_PORT: PORT, CONF_PORTAL_ID: PORTAL_ID})
    FakeCerbo(aioclient_mock)
    result = await entry.start_reconfigure_flow(hass)
    result = await submit(hass, result, {CONF_HOST: HOST, CONF_PORT: PORT})
    assert result["reason"] == "reconfigure_successful"
    assert entry.data[CONF_HOST] == HOST


async def test_reconfigure_token_and_battery(hass: HomeAssistant, vrm: FakeVrm) -> None:
    entry = vrm_entry(hass)
    flow_vrm(vrm)
    result = await entry.start_reconfigure_flow(hass)
    assert set(result["data_schema"].schema) == {CONF_VRM_TOKEN}
    result = await submit(hass, result, {CONF_VRM_TOKEN: TOKEN})
    assert result["step_id"] == "battery"
    result = await submit(hass, result, {CONF_BATTERY_INSTANCE: "288"})
    assert result["reason"] == "reconfigure_successful"
    assert entry.data[CONF_VRM_TOKEN] == TOKEN
    assert entry.data[CONF_BATTERY_INSTANCE] == 288


async def test_reconfigure_both_single_monitor(
    hass: HomeAssistant, aioclient_mock: AiohttpClientMocker, vrm: FakeVrm
) -> None:
    entry = vrm_entry(hass, **{CONF_HOST: OTHER_HOST, CONF_PORT: PORT})
    cerbo_with_portal(aioclient_mock, VRM_PORTAL_ID)
    flow_vrm(vrm, single_monitor=True)
    result = await entry.start_reconfigure_flow(hass)
    assert set(result["data_schema"].schema) == {CONF_HOST, CONF_PORT, CONF_VRM_TOKEN}
    result = await submit(hass, result, {CONF_HOST: HOST, CONF_PORT: PORT, CONF_VRM_TOKEN: TOKEN})
    assert result["reason"] == "reconfigure_successful"
    assert entry.data[CONF_HOST] == HOST
    assert entry.data[CONF_BATTERY_INSTANCE] == 512


@pytest.mark.parametrize(
    ("overview", "error"),
    [
        ({"status": 403, "text": vrm_text("error_403.json")}, "forbidden_site"),
        ({"status": 500, "text": vrm_text("error_500.json")}, "vrm_error"),
    ],
)
async def test_reconfigure_overview_errors(
    hass: HomeAssistant, vrm: FakeVrm, overview: dict[str, Any], error: str
) -> None:
    entry = vrm_entry(hass)
    vrm.users_me = vrm_json("users_me")
    vrm.installations = vrm_json("installations_one")
    vrm.serve(OVERVIEW_URL, [overview])
    result = await entry.start_reconfigure_flow(hass)
    result = await submit(hass, result, {CONF_VRM_TOKEN: TOKEN})
    assert result["step_id"] == "reconfigure"
    assert result["errors"] == {"base": error}
    assert result["description_placeholders"]["site"] == "Cabin"


async def test_reconfigure_to_a_site_without_a_monitor(hass: HomeAssistant, vrm: FakeVrm) -> None:
    entry = vrm_entry(hass)
    flow_vrm(vrm, overview="system_overview_no_battery")
    result = await entry.start_reconfigure_flow(hass)
    result = await submit(hass, result, {CONF_VRM_TOKEN: TOKEN})
    assert result["reason"] == "reconfigure_successful"
    assert entry.data[CONF_BATTERY_INSTANCE] is None
    assert entry.data[CONF_VRM_USER_ID] == USER_ID
    assert entry.data[CONF_VRM_TOKEN] == TOKEN


async def test_reconfigure_token_rejected(hass: HomeAssistant, vrm: FakeVrm) -> None:
    entry = vrm_entry(hass)
    vrm.serve(USERS_ME_URL, [{"status": 401, "text": vrm_text("error_401.json")}])
    result = await entry.start_reconfigure_flow(hass)
    result = await submit(hass, result, {CONF_VRM_TOKEN: TOKEN})
    assert result["errors"] == {"base": "invalid_auth"}
    assert entry.data[CONF_VRM_TOKEN] == "old-token"


async def test_reconfigure_empty_token_keeps_the_current_one(
    hass: HomeAssistant, aioclient_mock: AiohttpClientMocker, vrm: FakeVrm
) -> None:
    """VRM shows a token only once: changing the address must not need a new one."""
    entry = vrm_entry(hass, **{CONF_HOST: OTHER_HOST, CONF_PORT: PORT})
    cerbo_with_portal(aioclient_mock, VRM_PORTAL_ID)
    flow_vrm(vrm, single_monitor=True)
    result = await entry.start_reconfigure_flow(hass)
    token_key = next(key for key in result["data_schema"].schema if str(key) == CONF_VRM_TOKEN)
    assert isinstance(token_key, vol.Optional)

    result = await submit(hass, result, {CONF_HOST: f"http://{HOST}:{PORT}", CONF_PORT: PORT})
    assert result["reason"] == "reconfigure_successful"
    assert entry.data[CONF_HOST] == HOST
    assert entry.data[CONF_VRM_TOKEN] == "old-token"
    vrm_calls = [call for call in aioclient_mock.mock_calls if "vrmapi" in str(call[1])]
    assert vrm_calls  # the current token was still checked against the site
    assert all(call[3]["X-Authorization"] == "Token old-token" for call in vrm_calls)


async def test_reconfigure_keeps_what_was_typed_after_an_error(
    hass: HomeAssistant, aioclient_mock: AiohttpClientMocker
) -> None:
    entry = vrm_entry(hass, **{CONF_HOST: OTHER_HOST, CONF_PORT: PORT})
    result = await entry.start_reconfigure_flow(hass)
    result = await submit(
        hass, result, {CONF_HOST: "https://cerbo", CONF_PORT: PORT, CONF_VRM_TOKEN: "new"}
    )
    assert result["errors"] == {"base": "invalid_host"}
    assert suggested_token(result) == "new"
    assert aioclient_mock.call_count == 0


# --- options --------------------------------------------------------------------------------

BASE_OPTIONS = {
    CONF_NOMINAL_VOLTAGE: "24",
    CONF_TEMPERATURE_MIN: 10.0,
    CONF_TEMPERATURE_MAX: 35.0,
    CONF_LOW_SOC: 20.0,
    CONF_SOLARK_THRESHOLD: 3.0,
    CONF_SOLARK_DWELL: 120.0,
}


def sections_of(result: dict[str, Any]) -> dict[str, set[str]]:
    """The fields of each section of the form; top-level fields under ""."""
    found: dict[str, set[str]] = {"": set()}
    for key, value in result["data_schema"].schema.items():
        if isinstance(value, section):
            found[str(key)] = {str(inner) for inner in value.schema.schema}
        else:
            found[""].add(str(key))
    return found


def sectioned(result: dict[str, Any], flat: dict[str, Any]) -> dict[str, Any]:
    """Flat options as the frontend submits them: grouped by the form's sections."""
    nested: dict[str, Any] = {}
    for name, fields in sections_of(result).items():
        values = {key: value for key, value in flat.items() if key in fields}
        if name:
            nested[name] = values
        else:
            nested |= values
    return nested


def suggestions(result: dict[str, Any]) -> dict[str, Any]:
    """The suggested values the form shows, flat."""
    found: dict[str, Any] = {}
    for key, value in result["data_schema"].schema.items():
        markers = value.schema.schema if isinstance(value, section) else {key: value}
        for marker in markers:
            if marker.description and "suggested_value" in marker.description:
                found[str(marker)] = marker.description["suggested_value"]
    return found


async def configure_options(
    hass: HomeAssistant, result: dict[str, Any], flat: dict[str, Any]
) -> Any:
    return await hass.config_entries.options.async_configure(
        result["flow_id"], sectioned(result, flat)
    )


async def test_options_round_trip(hass: HomeAssistant) -> None:
    entry = vrm_entry(hass, **{CONF_HOST: HOST, CONF_PORT: PORT})
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["step_id"] == "init"
    assert sections_of(result) == {
        "": {CONF_SHOW_DASHBOARD},
        "vrm": {CONF_VRM_POLL_INTERVAL, CONF_BUDGET_WARNING, CONF_BUDGET_LIMIT, CONF_HISTORY_DAYS},
        "cerbo": {CONF_LOCAL_FAST_INTERVAL, CONF_FOLLOW_SYSTEM_BATTERY},
        "limits": {
            CONF_NOMINAL_VOLTAGE,
            CONF_VOLTAGE_MIN,
            CONF_VOLTAGE_MAX,
            CONF_TEMPERATURE_MIN,
            CONF_TEMPERATURE_MAX,
            CONF_LOW_SOC,
        },
        "health": {CONF_END_OF_LIFE_SOH, CONF_RATED_CYCLES, CONF_FULL_CHARGE_DAYS},
        "solark": {CONF_SOLARK_ENTITY, CONF_SOLARK_THRESHOLD, CONF_SOLARK_DWELL},
    }

    options = BASE_OPTIONS | {
        CONF_VRM_POLL_INTERVAL: 300.0,
        CONF_BUDGET_WARNING: 30.0,
        CONF_BUDGET_LIMIT: 40.0,
        CONF_LOCAL_FAST_INTERVAL: 15.0,
        CONF_FOLLOW_SYSTEM_BATTERY: True,
        CONF_SOLARK_ENTITY: "sensor.ss_battery_soc",
        CONF_SHOW_DASHBOARD: False,
        CONF_HISTORY_DAYS: 3.0,
        CONF_END_OF_LIFE_SOH: 80.0,
        CONF_RATED_CYCLES: 4000.0,
        CONF_FULL_CHARGE_DAYS: 10.0,
    }
    result = await configure_options(hass, result, options)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options == options  # stored flat, as before sections

    # the stored values come back as the form's suggestions, each in its section
    result = await hass.config_entries.options.async_init(entry.entry_id)
    suggested = suggestions(result)
    assert suggested[CONF_SOLARK_ENTITY] == "sensor.ss_battery_soc"
    assert suggested[CONF_VRM_POLL_INTERVAL] == 300.0
    assert suggested[CONF_TEMPERATURE_MIN] == 10.0
    assert suggested[CONF_SHOW_DASHBOARD] is False
    assert suggested[CONF_RATED_CYCLES] == 4000.0


async def test_options_history_days(hass: HomeAssistant) -> None:
    """History from VRM: whole days in a box, 0 (off) to 30, 14 unless set."""
    entry = vrm_entry(hass)
    result = await hass.config_entries.options.async_init(entry.entry_id)
    fields = result["data_schema"].schema["vrm"].schema.schema
    marker = next((key for key in fields if key == CONF_HISTORY_DAYS), None)
    assert marker is not None  # shown for an entry with VRM
    assert marker.default() == 14
    config = fields[marker].config
    assert (config["min"], config["max"], config["step"]) == (0, 30, 1)
    assert (config["unit_of_measurement"], config["mode"]) == ("d", "box")
    vrm_options = BASE_OPTIONS | {
        CONF_VRM_POLL_INTERVAL: 180.0,
        CONF_BUDGET_WARNING: 40.0,
        CONF_BUDGET_LIMIT: 45.0,
    }
    with pytest.raises(vol.Invalid):  # the selector refuses more than VRM gives in a request
        await configure_options(hass, result, vrm_options | {CONF_HISTORY_DAYS: 31})
    result = await configure_options(hass, result, vrm_options | {CONF_HISTORY_DAYS: 0})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options[CONF_HISTORY_DAYS] == 0  # turned off, not dropped for the default
    await hass.async_block_till_done()


async def test_options_validation(hass: HomeAssistant) -> None:
    entry = vrm_entry(hass)
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert "cerbo" not in sections_of(result)
    vrm_options = {CONF_VRM_POLL_INTERVAL: 180.0, CONF_BUDGET_WARNING: 40.0}

    bad_range = BASE_OPTIONS | vrm_options | {CONF_BUDGET_LIMIT: 45.0, CONF_TEMPERATURE_MIN: 40.0}
    result = await configure_options(hass, result, bad_range)
    assert result["errors"] == {"base": "temperature_range"}
    assert result["description_placeholders"]["safe_min"] == "5 °C"
    # what was typed stays in the form
    assert suggestions(result)[CONF_TEMPERATURE_MIN] == 40.0

    bad_budget = BASE_OPTIONS | vrm_options | {CONF_BUDGET_LIMIT: 40.0}
    result = await configure_options(hass, result, bad_budget)
    assert result["errors"] == {"base": "budget_range"}

    # A lone temperature end is checked against the automatic other end (5-45 °C).
    no_band = {k: v for k, v in BASE_OPTIONS.items() if not k.startswith("temperature")}
    lone_min = no_band | vrm_options | {CONF_BUDGET_LIMIT: 45.0, CONF_TEMPERATURE_MIN: 45.0}
    result = await configure_options(hass, result, lone_min)
    assert result["errors"] == {"base": "temperature_range"}

    # Own voltage limits: checked against each other, or against the nominal voltage's safe
    # range when only one is set (48 V: 44-59.2 V).
    good = BASE_OPTIONS | vrm_options | {CONF_BUDGET_LIMIT: 45.0, CONF_NOMINAL_VOLTAGE: "48"}
    for voltages in (
        {CONF_VOLTAGE_MIN: 53.5, CONF_VOLTAGE_MAX: 45.0},
        {CONF_VOLTAGE_MIN: 59.2},
        {CONF_VOLTAGE_MAX: 44.0},
    ):
        result = await configure_options(hass, result, good | voltages)
        assert result["errors"] == {"base": "voltage_range"}, voltages

    fifteen_cells = good | {CONF_VOLTAGE_MIN: 45.0, CONF_VOLTAGE_MAX: 53.5}
    result = await configure_options(hass, result, fifteen_cells)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert (entry.options[CONF_VOLTAGE_MIN], entry.options[CONF_VOLTAGE_MAX]) == (45.0, 53.5)
    await hass.async_block_till_done()  # the reload that applies the options


async def test_options_store_only_the_limits_the_user_sets(hass: HomeAssistant) -> None:
    """Saving the form never turns a preset into a limit: empty limit fields stay absent."""
    entry = vrm_entry(hass)
    result = await hass.config_entries.options.async_init(entry.entry_id)
    limits = (CONF_VOLTAGE_MIN, CONF_VOLTAGE_MAX, CONF_TEMPERATURE_MIN, CONF_TEMPERATURE_MAX)
    # no defaults that the form would fill in and save
    for key in result["data_schema"].schema["limits"].schema.schema:
        if str(key) in limits:
            assert key.default is UNDEFINED, key
    # what the frontend submits for an untouched form: the defaults of the other fields
    untouched = result["data_schema"]({name: {} for name in sections_of(result) if name})
    assert not set(limits) & set(untouched["limits"])
    result = await hass.config_entries.options.async_configure(result["flow_id"], untouched)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert not set(limits) & set(entry.options)
    await hass.async_block_till_done()


async def test_options_local_only(hass: HomeAssistant) -> None:
    entry = make_entry(hass, {CONF_HOST: HOST})
    hass.states.async_set(
        "sensor.ss_battery_soc", "61", {"device_class": "battery", "unit_of_measurement": "%"}
    )
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert set(sections_of(result)) == {"", "cerbo", "limits", "health", "solark"}
    assert suggestions(result)[CONF_SOLARK_ENTITY] == "sensor.ss_battery_soc"  # offered
    result = await configure_options(hass, result, BASE_OPTIONS | {CONF_LOCAL_FAST_INTERVAL: 10.0})
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_options_temperatures_in_the_users_unit(hass: HomeAssistant) -> None:
    """Fahrenheit users see and type °F; the entry keeps °C."""
    hass.config.units = US_CUSTOMARY_SYSTEM
    entry = make_entry(
        hass, {CONF_HOST: HOST}, {CONF_TEMPERATURE_MIN: 5.0, CONF_TEMPERATURE_MAX: 40.0}
    )
    result = await hass.config_entries.options.async_init(entry.entry_id)
    suggested = suggestions(result)
    assert (suggested[CONF_TEMPERATURE_MIN], suggested[CONF_TEMPERATURE_MAX]) == (41.0, 104.0)
    limits = result["data_schema"].schema["limits"].schema.schema
    field = next(key for key in limits if str(key) == CONF_TEMPERATURE_MIN)
    config = limits[field].config
    assert (config["unit_of_measurement"], config["min"], config["max"]) == ("°F", -40.0, 176.0)
    assert result["description_placeholders"] == {
        "safe_min": "41 °F",
        "safe_max": "113 °F",
        "band_min": "59 °F",
        "band_max": "86 °F",
    }

    # 120 °F is above the automatic 45 °C only when converted
    result = await configure_options(hass, result, BASE_OPTIONS | {CONF_TEMPERATURE_MIN: 120.0})
    assert result["errors"] == {"base": "temperature_range"}
    assert suggestions(result)[CONF_TEMPERATURE_MIN] == 120.0  # as typed, in °F

    result = await configure_options(
        hass, result, BASE_OPTIONS | {CONF_TEMPERATURE_MIN: 50.0, CONF_TEMPERATURE_MAX: 100.0}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options[CONF_TEMPERATURE_MIN] == 10.0
    assert entry.options[CONF_TEMPERATURE_MAX] == 37.78
    await hass.async_block_till_done()


async def test_options_refuse_our_own_soc_sensor(
    hass: HomeAssistant, entity_registry: er.EntityRegistry
) -> None:
    """The battery compared with itself always agrees: our sensors are not offered nor taken."""
    entry = make_entry(hass, {CONF_HOST: HOST})
    ours = entity_registry.async_get_or_create(
        "sensor", DOMAIN, f"{PORTAL_ID}_soc", suggested_object_id="cabin_state_of_charge"
    )
    theirs = entity_registry.async_get_or_create(
        "sensor", "solark_modbus", "soc", suggested_object_id="inverter_soc"
    )
    result = await hass.config_entries.options.async_init(entry.entry_id)
    solark = result["data_schema"].schema["solark"].schema.schema
    field = next(key for key in solark if str(key) == CONF_SOLARK_ENTITY)
    assert solark[field].config["exclude_entities"] == [ours.entity_id]

    # one of ours that appeared after the form was shown is refused on save
    later = entity_registry.async_get_or_create(
        "sensor", DOMAIN, f"{PORTAL_ID}_soc_2", suggested_object_id="cabin_state_of_charge_2"
    )
    result = await configure_options(
        hass, result, BASE_OPTIONS | {CONF_SOLARK_ENTITY: later.entity_id}
    )
    assert result["errors"] == {"base": "solark_own_entity"}
    assert CONF_SOLARK_ENTITY not in entry.options

    result = await configure_options(
        hass, result, BASE_OPTIONS | {CONF_SOLARK_ENTITY: theirs.entity_id}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options[CONF_SOLARK_ENTITY] == theirs.entity_id
    await hass.async_block_till_done()


async def test_reauth_uses_the_entry_vrm_api(
    hass: HomeAssistant, aioclient_mock: AiohttpClientMocker
) -> None:
    """An entry pointed at another VRM API (the simulator) is reauthenticated there."""
    base = "http://127.0.0.1:18089/v2"
    entry = vrm_entry(hass, vrm_api_url=base)
    aioclient_mock.get(f"{base}/users/me", json=vrm_json("users_me"))
    aioclient_mock.get(f"{base}/users/22222/installations", json=vrm_json("installations_one"))
    result = await entry.start_reauth_flow(hass)
    result = await submit(hass, result, {CONF_VRM_TOKEN: TOKEN})
    assert result["reason"] == "reauth_successful"
    assert aioclient_mock.call_count == 2
    assert all(str(call[1]).startswith(base) for call in aioclient_mock.mock_calls)
