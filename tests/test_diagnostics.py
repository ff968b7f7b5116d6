"""Diagnostics: what they hold, and that no secret survives anywhere in them."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.recorder import Recorder
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
    get_diagnostics_for_device,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
from syrupy.assertion import SnapshotAssertion

from custom_components.victron_cerbo.api.cerbo import CerboRawPayload
from custom_components.victron_cerbo.const import CONF_LOW_SOC, DOMAIN
from custom_components.victron_cerbo.diagnostics import _local_payload, plain
from custom_components.victron_cerbo.options import CONF_HISTORY_DAYS
from custom_components.victron_cerbo.redact import REDACTED, Scrubber, redact_entry, redact_keys
from custom_components.victron_cerbo.sources import Source
from tests.api.fakes import FIXTURES
from tests.helpers import (
    HOST,
    LOCAL_DATA,
    LYNX,
    PLATFORM,
    PORTAL_ID,
    SITE_ID,
    START,
    SYSTEM,
    TEMP_5,
    TOKEN,
    VEBUS,
    VIRTUAL,
    VRM_DATA,
    FakeCerbo,
    FakeStats,
    FakeVrm,
    Reply,
    advance,
    break_cerbo,
    make_entry,
    make_tick,
    root_of,
    setup_entry,
    vrm_json,
)

# Keys whose values identify a device, an account or a network, chosen here apart from the
# redaction module's own list, so that a key it forgets shows up.
IDENTIFIER_KEY = re.compile(
    r"serial|uniqueid|identifier|portal|^id(site|user|accesstoken)?$|^(ip)?address$"
    r"|^mac(address)?$|^ssid$|^gateway$|^nameservers?$",
    re.IGNORECASE,
)
SERVICE_SERIAL = re.compile(r"(?:\.cg_|_uc)([A-Za-z0-9]{4,})")


def _identifiers(value: Any, key: str = "") -> Iterator[str]:
    """The identifier values in a payload, JSON held in strings included."""
    if isinstance(value, dict):
        for item_key, item in value.items():
            yield from _identifiers(item, item_key.rsplit("/", 1)[-1])
    elif isinstance(value, list):
        for item in value:
            yield from _identifiers(item, key)
    elif isinstance(value, str) and value.lstrip()[:1] in {"{", "["}:
        with contextlib.suppress(ValueError):
            yield from _identifiers(json.loads(value), key)
    elif isinstance(value, str | int) and IDENTIFIER_KEY.search(key) and not _service(value):
        yield str(value)


def _service(value: object) -> bool:
    """A service name ("id" in the GX's battery list) is public but for the serials in it."""
    return str(value).startswith("com.victronenergy.")


def fixture_identifiers() -> set[str]:
    """Every serial, ID and address in the JSON fixtures, and the serials in service names."""
    found: set[str] = set()
    for path in sorted(FIXTURES.glob("*/*.json")):
        text = path.read_text(encoding="utf-8")
        found.update(SERVICE_SERIAL.findall(text))
        found.update(_identifiers(json.loads(text)))
    return {value for value in found if len(value) >= 3}  # shorter ones: as the scrubber


SERIALS = tuple(sorted(fixture_identifiers()))
NAMES = ("8kWh", "House bank", "MULTI_II", "Cabin", root_of("temperature_5.json")["CustomName"])


@pytest.fixture
def frozen(freezer: FrozenDateTimeFactory) -> FrozenDateTimeFactory:
    """Freeze before `hass_client` makes its token, so the token is not from the future."""
    freezer.move_to(START)
    return freezer


def assert_no_secrets(diagnostics: dict[str, Any]) -> None:
    text = json.dumps(diagnostics, ensure_ascii=False)
    lowered = text.lower()
    for secret in (TOKEN, HOST, PORTAL_ID, str(SITE_ID), *SERIALS):  # case-insensitively
        assert secret.lower() not in lowered, secret
    for name in NAMES:
        assert name not in text, name


async def test_entry_diagnostics(
    frozen: FrozenDateTimeFactory,
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    snapshot: SnapshotAssertion,
    init_integration: MockConfigEntry,
) -> None:
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, init_integration)
    assert diagnostics == snapshot
    assert_no_secrets(diagnostics)
    assert diagnostics["values"]["soc"] == {"source": "local", "data_age": 0.0, "value": 81.0}
    assert diagnostics["values"]["consumed_ah"]["source"] == "vrm"
    assert diagnostics["local"]["requests"] == 9  # setup reads every root once
    assert diagnostics["vrm"]["budget"]["used"] == 2


async def test_device_diagnostics(
    frozen: FrozenDateTimeFactory,
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    snapshot: SnapshotAssertion,
    init_integration: MockConfigEntry,
) -> None:
    registry = dr.async_get(hass)
    found = {
        next(iter(device.identifiers))[1]: device
        for device in dr.async_entries_for_config_entry(registry, init_integration.entry_id)
    }
    battery = await get_diagnostics_for_device(
        hass, hass_client, init_integration, found[f"{PORTAL_ID}_battery"]
    )
    assert battery["device"] == snapshot(name="battery")
    assert "soc" in battery["device"]["entities"]
    assert (
        battery["values"]
        == (await get_diagnostics_for_config_entry(hass, hass_client, init_integration))["values"]
    )
    gx = await get_diagnostics_for_device(hass, hass_client, init_integration, found[PORTAL_ID])
    assert gx["device"] == snapshot(name="installation")
    assert gx["device"]["kind"] == "installation"
    assert "grid_power" in gx["device"]["entities"]
    assert_no_secrets(battery)
    assert_no_secrets(gx)


async def test_no_secret_survives_failures(
    frozen: FrozenDateTimeFactory,
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    *,
    cerbo: FakeCerbo,
    vrm: FakeVrm,
    init_integration: MockConfigEntry,
) -> None:
    """Error messages name the host and the site; payloads carry serials and names."""
    tick = make_tick(hass, frozen)
    break_cerbo(cerbo)
    vrm.error = (403, vrm_json("error_403"))
    await tick(180)
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, init_integration)
    local_error = diagnostics["local"]["health"]["last_error"]
    assert local_error.startswith(f"Cannot reach {REDACTED}")
    vrm_error = diagnostics["vrm"]["health"]["last_error"]
    assert vrm_error == f"The VRM access token has no access to site {REDACTED}"
    assert diagnostics["vrm"]["last_payloads"]["last_error"]["status"] == 403
    assert diagnostics["fresh"] == {"local": False, "vrm": True}
    assert_no_secrets(diagnostics)


@pytest.mark.parametrize("source", ["local"])
async def test_local_only(
    frozen: FrozenDateTimeFactory,
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    init_integration: MockConfigEntry,
) -> None:
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, init_integration)
    assert diagnostics["vrm"] is None
    assert diagnostics["history"] is None  # nothing to import without VRM
    assert diagnostics["fresh"] == {"local": True}
    assert "consumed_ah" in diagnostics["values"]
    assert_no_secrets(diagnostics)


@pytest.mark.parametrize("source", ["vrm"])
async def test_vrm_only(
    frozen: FrozenDateTimeFactory,
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    init_integration: MockConfigEntry,
) -> None:
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, init_integration)
    assert diagnostics["local"] is None
    assert diagnostics["fresh"] == {"vrm": True}
    assert "grid_power" not in diagnostics["values"]
    assert diagnostics["vrm"]["battery"]["stale_fields"] == []
    assert diagnostics["vrm"]["sample_age"] == 42.0
    assert_no_secrets(diagnostics)


async def test_history_progress(
    recorder_mock: Recorder,
    frozen: FrozenDateTimeFactory,
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    *,
    vrm: FakeVrm,
    snapshot: SnapshotAssertion,
) -> None:
    """The VRM history import's progress, through the same redaction as the rest."""
    stats = FakeStats(hass, vrm)
    entry = make_entry(hass, VRM_DATA, {CONF_HISTORY_DAYS: 3})
    await setup_entry(hass, entry)
    # the importer's steps run in the background
    await advance(hass, frozen, 5 * 60, background=True)
    assert len(stats.calls) == 1
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    assert diagnostics["history"] == snapshot(name="history")
    assert diagnostics["history"]["rows"] == 5 * 71  # five sensors, the 71 settled hours
    assert_no_secrets(diagnostics)


async def test_nothing_fresh(
    frozen: FrozenDateTimeFactory,
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    vrm: FakeVrm,
) -> None:
    vrm.summary["records"]["data"]["hasOldData"] = True
    entry = make_entry(hass, VRM_DATA)
    await setup_entry(hass, entry)
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    assert diagnostics["values"]["soc"] == {"source": None}
    assert diagnostics["fresh"] == {"vrm": False}


async def test_payloads_cut_off_or_not_json(
    frozen: FrozenDateTimeFactory,
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    cerbo: FakeCerbo,
) -> None:
    """A real system root is ~50 kB; only 4 kB are kept, which no longer parse as JSON."""
    system = root_of("system.json")
    system |= {f"Padding/{n}": "x" * 40 for n in range(200)}
    cerbo.set_root(SYSTEM, system)
    virtual = root_of("battery_virtual.json") | {"Dc/0/Temperature": float("nan")}
    cerbo.set_root(VIRTUAL, virtual)
    cerbo.roots[TEMP_5] = Reply(status=500, text="<html><body>Internal error</body></html>")
    entry = make_entry(hass, LOCAL_DATA)
    await setup_entry(hass, entry)
    payloads = (await get_diagnostics_for_config_entry(hass, hass_client, entry))["local"][
        "last_payloads"
    ]
    cut = payloads[SYSTEM]
    assert "body" not in cut
    assert cut["size"] > 4096
    assert f'"Serial": "{REDACTED}"' in cut["text"]
    assert cut["text"].endswith(",")  # the half line at the cut was dropped
    assert PORTAL_ID not in cut["text"]
    assert payloads[VIRTUAL]["body"]["value"]["Dc/0/Temperature"] is None  # NaN
    assert payloads[TEMP_5] == {
        "status": 500,
        "size": 40,
        "text": "<html><body>Internal error</body></html>",
    }
    assert payloads[VEBUS]["body"]["value"]["Devices/0/SerialNumber"] == REDACTED


def test_entry_part_redacted_by_key() -> None:
    """On its own, as the scrubber of known values would hide a key missing from TO_REDACT."""
    data = LOCAL_DATA | VRM_DATA
    entry = MockConfigEntry(domain=DOMAIN, title="Cabin", data=data, options={CONF_LOW_SOC: 20})
    secret = {"host", "portal_id", "vrm_token", "site_id"}
    assert redact_entry(entry) == {
        "title": REDACTED,
        "data": {key: REDACTED if key in secret else value for key, value in data.items()},
        "options": {CONF_LOW_SOC: 20},
    }
    assert secret < data.keys()


def test_redaction_helpers() -> None:
    assert redact_keys({"Serial": None, "name": "x", "list": [{"identifier": "c0"}]}) == {
        "Serial": None,
        "name": REDACTED,
        "list": [{"identifier": REDACTED}],
    }
    scrub = Scrubber(["secret-host", None, "ab"], ["Bob"])
    assert scrub({"SECRET-HOST:8088": ["Bob's", "Bobby", "bob", "ab"]}) == {
        f"{REDACTED}:8088": [f"{REDACTED}'s", "Bobby", "bob", "ab"]
    }
    assert Scrubber([]).text("nothing to do") == "nothing to do"
    assert plain({Source.LOCAL: frozenset({2, 1}), "t": (1.0, float("inf"))}) == {
        "local": [1, 2],
        "t": [1.0, None],
    }
    text = '{"Serial": "c0619ab4e53f", "Other": 1,\n"CustomName": "Bo'
    payload = CerboRawPayload(status=200, size=len(text) + 100, text=text)
    assert _local_payload(payload)["text"] == f'{{"Serial": "{REDACTED}", "Other": 1,'
    # JSON held in a string (the GX's Network/Services) and serials in VE.Can service names.
    network = {"ethernet": {"Address": "192.168.1.20", "Mac": "c0:61:9a:b4:e5:3f"}}
    network["wifi"] = {"Ssid": "SmithHome", "State": "connected"}
    redacted = redact_keys({"Network/Services": json.dumps(network), "Note": "{not json"})
    assert json.loads(redacted["Network/Services"]) == {
        "ethernet": {"Address": REDACTED, "Mac": REDACTED},
        "wifi": {"Ssid": REDACTED, "State": "connected"},
    }
    assert redacted["Note"] == "{not json"
    can = "com.victronenergy.battery.socketcan_can0_vi6_uc317637"
    assert Scrubber([]).text(can) == f"com.victronenergy.battery.socketcan_can0_vi6_uc{REDACTED}"


async def test_sources_that_never_answered_fully(
    frozen: FrozenDateTimeFactory,
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    cerbo: FakeCerbo,
    vrm: FakeVrm,
) -> None:
    """The Cerbo never answered and VRM's device list was unusable: still no secret leaks."""
    break_cerbo(cerbo)
    vrm.overview = {"success": True, "records": {"devices": "junk"}}
    entry = make_entry(hass, LOCAL_DATA | VRM_DATA)
    await setup_entry(hass, entry)
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    assert diagnostics["local"]["discovery"] is None
    assert diagnostics["vrm"]["overview"] is None
    assert diagnostics["values"]["soc"]["source"] == "vrm"
    assert_no_secrets(diagnostics)


async def test_cerbo_without_platform_service(
    frozen: FrozenDateTimeFactory,
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    cerbo: FakeCerbo,
) -> None:
    del cerbo.roots[PLATFORM]
    services = json.loads(cerbo.services.text)
    services["services"] = [name for name in services["services"] if name != PLATFORM]
    cerbo.services = Reply(text=json.dumps(services))
    entry = make_entry(hass, LOCAL_DATA)
    await setup_entry(hass, entry)
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    assert diagnostics["local"]["discovery"]["platform_service"] is None
    assert diagnostics["values"]["gx_firmware"] == {
        "source": "local",
        "data_age": 0.0,
        "value": None,
    }
    assert_no_secrets(diagnostics)


def test_fixture_identifiers() -> None:
    """The search below finds what the fixtures hold, so it cannot pass by finding nothing."""
    assert {
        PORTAL_ID,
        "151734",
        "HQ2308C9WMH",
        "HQ2252UPUGD",
        "HQ0000XXXXX",
        "BX18600620015",
        "317637",
    } <= set(SERIALS)


@pytest.mark.usefixtures("vrm")
async def test_no_identifier_anywhere(
    frozen: FrozenDateTimeFactory,
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    cerbo: FakeCerbo,
) -> None:
    """Token, site, portal, host and every fixture serial: nowhere in the text of the dump.

    With every root the fixtures have served, a VE.Can battery among them, and both devices.
    """
    services = json.loads(cerbo.services.text)
    services["services"].append(LYNX)
    cerbo.services = Reply(text=json.dumps(services))
    cerbo.roots[LYNX] = Reply.fixture("battery_lynx.json")
    entry = make_entry(hass, LOCAL_DATA | VRM_DATA)
    await setup_entry(hass, entry)
    dumps = [await get_diagnostics_for_config_entry(hass, hass_client, entry)]
    devices = dr.async_entries_for_config_entry(dr.async_get(hass), entry.entry_id)
    dumps += [await get_diagnostics_for_device(hass, hass_client, entry, d) for d in devices]
    assert LYNX.rsplit("_uc", 1)[0] in json.dumps(dumps[0]["local"])  # the Lynx was read
    text = json.dumps(dumps, ensure_ascii=False).lower()
    for secret in (TOKEN, HOST, PORTAL_ID, str(SITE_ID), *SERIALS):
        assert secret.lower() not in text, secret
