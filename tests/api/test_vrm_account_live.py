"""One request for the whole account's live values: the client and the listing's parser."""

from __future__ import annotations

import copy
import json
from typing import Any

import aiohttp
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from custom_components.victron_cerbo.api.vrm import (
    VrmBatteryState,
    VrmClient,
    VrmResponseError,
    VrmSiteAlarm,
    VrmSkippedSite,
    parse_account_live,
    parse_system_battery,
)

from .conftest import TIMEOUT
from .fakes import INSTALLATIONS, TOKEN, USER_ID, FakeClock, FakeVrm, Reply, vrm_json

WALL_OFFSET = 1_768_470_000.0  # wall-clock time at FakeClock zero
NOW = 1_768_471_200.0  # 60 s after the listing's newest samples
ACCOUNT_LIVE_URL = f"/v2{INSTALLATIONS}?extended=1"
FIXTURE = "installations_account_live"
SITES = [123456, 151734, 200001, 200002, 200003, 200005, 200004]


@pytest.fixture
def client(session: aiohttp.ClientSession, vrm: FakeVrm, clock: FakeClock) -> VrmClient:
    clock.advance(NOW - WALL_OFFSET - clock.now)
    return VrmClient(
        session,
        TOKEN,
        base_url=vrm.api_url,
        timeout=TIMEOUT,
        clock=clock,
        sleep=clock.sleep,
        wall_clock=lambda: WALL_OFFSET + clock.now,
    )


def _site(payload: dict[str, Any], site_id: int) -> dict[str, Any]:
    record = next(
        row for row in payload["records"] if isinstance(row, dict) and row.get("idSite") == site_id
    )
    assert isinstance(record, dict)
    return record


# --- the request ------------------------------------------------------------------------------


async def test_one_request_serves_every_site(client: VrmClient, vrm: FakeVrm) -> None:
    vrm.get(INSTALLATIONS, Reply.json(vrm_json(FIXTURE)), params={"extended": "1"})

    live = await client.get_account_live(USER_ID)

    assert [str(request.url) for request in vrm.requests] == [ACCOUNT_LIVE_URL]
    assert client.budget.used == 1
    assert list(live.sites) == SITES
    assert live.skipped == (
        VrmSkippedSite(index=7, site_id=None, reason="no site id"),
        VrmSkippedSite(index=8, site_id=None, reason="not an object"),
    )


async def test_the_kept_copy_is_small_and_has_no_secrets(client: VrmClient, vrm: FakeVrm) -> None:
    payload = vrm_json(FIXTURE)
    payload["records"][0]["notes"] = f"token {TOKEN}"
    payload["records"][0]["extended"][0]["rawValue"] = f"token {TOKEN}"
    vrm.get(INSTALLATIONS, Reply.json(payload))

    await client.get_account_live(USER_ID)

    kept = client.last_payloads["account_live"]["records"]
    assert len(kept) == len(payload["records"])
    assert [item["code"] for item in kept[0]["extended"]] == [
        "bv",
        "bs",
        "bc",
        "bst",
        "S",
        "ss",
        "consumption",
        "solar_yield",
    ]
    assert kept[2]["current_alarms"][0] == {
        "type": "alarm",
        "description": "Voltage",
        "device": "Solar Charger",
        "instance": 279,
        "started": 1768460000,
        "cleared": None,
    }
    assert kept[2]["num_alarms"] == 1
    text = json.dumps(client.last_payloads)
    assert TOKEN not in text
    for secret in (
        "identifier",
        "c0619ab1e2f3",
        "mqtt_host",
        "customName",
        "Roof",
        "formattedValue",
    ):
        assert secret not in text


async def test_a_code_of_any_json_does_not_break_the_kept_copy(
    client: VrmClient, vrm: FakeVrm
) -> None:
    payload = vrm_json(FIXTURE)
    payload["records"][0]["extended"].insert(0, {"code": ["bv"], "rawValue": 1})
    payload["records"][1]["current_alarms"] = ["Low battery", 7, {"description": ["x"]}]
    vrm.get(INSTALLATIONS, Reply.json(payload))

    live = await client.get_account_live(USER_ID)

    assert (
        live.sites[123456].battery
        == parse_account_live(vrm_json(FIXTURE), NOW).sites[123456].battery
    )
    kept = client.last_payloads["account_live"]["records"]
    assert kept[1]["current_alarms"] == ["Low battery", {}, {}]


@pytest.mark.parametrize("payload", [{"success": True}, {"records": {}}, {"records": None}])
async def test_no_records_list_is_a_bad_answer(
    client: VrmClient, vrm: FakeVrm, payload: dict[str, Any]
) -> None:
    vrm.get(INSTALLATIONS, Reply.json(payload))
    with pytest.raises(VrmResponseError):
        await client.get_account_live(USER_ID)
    with pytest.raises(VrmResponseError):
        parse_account_live(payload, NOW)


async def test_nan_infinity_and_huge_numbers_are_none(client: VrmClient, vrm: FakeVrm) -> None:
    text = json.dumps(vrm_json(FIXTURE))
    text = text.replace('"rawValue": 52.41', '"rawValue": NaN', 1)
    text = text.replace('"rawValue": 87.2', '"rawValue": Infinity', 1)
    text = text.replace('"rawValue": 12.6', '"rawValue": 1e400', 1)
    text = text.replace('"rawValue": 412', f'"rawValue": {10**400}', 1)
    text = text.replace('"rawValue": 1084', '"rawValue": "-inf"', 1)
    vrm.get(INSTALLATIONS, Reply(text=text))

    cabin = (await client.get_account_live(USER_ID)).sites[123456]

    assert cabin.battery is not None
    assert (cabin.battery.voltage, cabin.battery.soc, cabin.battery.current) == (None, None, None)
    assert (cabin.consumption, cabin.solar_power) == (None, None)
    assert cabin.battery.state is VrmBatteryState.CHARGING  # from bst's raw value


# --- the sites ------------------------------------------------------------------------------


def test_a_site_with_a_shunt() -> None:
    cabin = parse_account_live(vrm_json(FIXTURE), NOW).sites[123456]

    assert cabin.name == "Cabin"
    assert cabin.battery is not None
    assert cabin.battery.system
    assert (cabin.battery.voltage, cabin.battery.soc, cabin.battery.current) == (52.41, 87.2, 12.6)
    assert cabin.battery.state is VrmBatteryState.CHARGING
    assert cabin.battery.seconds_ago == 60
    assert (cabin.vebus_state, cabin.system_state) == (3, 3)
    assert (cabin.consumption, cabin.solar_power) == (412, 1084)
    assert (cabin.alarm, cabin.num_alarms, cabin.alarms) == (False, 0, ())
    assert (cabin.last_timestamp, cabin.data_age) == (1768471140, 60)
    assert cabin.problems == ()


def test_a_site_with_only_an_mppt() -> None:
    yacht = parse_account_live(vrm_json(FIXTURE), NOW).sites[151734]

    assert yacht.battery is not None
    assert (yacht.battery.voltage, yacht.battery.current, yacht.battery.soc) == (24.03, -4.2, None)
    assert yacht.battery.power == pytest.approx(-100.93)
    assert yacht.battery.state is VrmBatteryState.DISCHARGING
    assert (yacht.vebus_state, yacht.system_state) == (None, None)
    assert (yacht.consumption, yacht.solar_power) == (101, 0)
    assert yacht.problems == ()


def test_a_site_with_an_active_alarm() -> None:
    workshop = parse_account_live(vrm_json(FIXTURE), NOW).sites[200001]

    assert (workshop.alarm, workshop.num_alarms) == (True, 1)
    roof = VrmSiteAlarm(
        description="Voltage",
        device="Solar Charger",
        device_name="Roof",
        instance=279,
        level="alarm",
        started=1768460000,
        cleared=None,
    )
    assert workshop.active_alarms == (roof,)
    assert len(workshop.alarms) == 2
    assert workshop.alarms[1].cleared == 1768410000
    assert not workshop.alarms[1].active


def test_a_2020_site_with_numbers_as_text() -> None:
    farm = parse_account_live(vrm_json(FIXTURE), NOW).sites[200002]

    assert farm.battery is not None
    assert (farm.battery.voltage, farm.battery.soc, farm.battery.current) == (25.32, 66.5, -1.5)
    assert farm.battery.state is VrmBatteryState.DISCHARGING
    assert farm.battery.seconds_ago == 1200
    assert (farm.vebus_state, farm.system_state, farm.consumption) == (9, 9, 37)
    assert (farm.alarm, farm.num_alarms) == (False, 0)
    assert (farm.last_timestamp, farm.data_age) == (1768470000, 1200)
    assert farm.problems == ()


def test_a_portuguese_site_is_read_from_raw_values() -> None:
    payload = vrm_json(FIXTURE)
    casa = parse_account_live(payload, NOW).sites[200003]

    # bst's formattedValue is "Inativo", S's "Absorção": only the raw codes are read
    assert casa.battery is not None
    assert casa.battery.state is VrmBatteryState.IDLE
    assert casa.battery.soc == 100
    assert (casa.vebus_state, casa.system_state, casa.solar_power) == (4, 4, 3.5)
    assert [alarm.description for alarm in casa.active_alarms] == ["Tensão"]

    for entry in _site(payload, 200003)["extended"]:
        entry["formattedValue"] = "??"
        entry.pop("textValue", None)
    assert parse_account_live(payload, NOW).sites[200003] == casa


def test_a_site_without_battery_values() -> None:
    shop = parse_account_live(vrm_json(FIXTURE), NOW).sites[200005]

    assert shop.battery is None
    assert shop.consumption == 2300
    assert shop.problems == ("no battery values listed",)


def test_a_broken_record_gets_an_empty_state() -> None:
    broken = parse_account_live(vrm_json(FIXTURE), NOW).sites[200004]

    assert broken.name == "VRM site 200004"
    assert broken.battery is None
    assert (broken.alarms, broken.alarm, broken.num_alarms) == ((), None, None)
    assert (broken.last_timestamp, broken.data_age) == (None, None)
    assert broken.problems == (
        "live values not a list",
        "last data time not readable",
        "alarm list not readable",
    )


def test_a_record_without_live_values() -> None:
    payload = vrm_json(FIXTURE)
    record = _site(payload, 151734)
    for key in ("extended", "current_alarms", "last_timestamp", "alarm", "num_alarms"):
        del record[key]

    yacht = parse_account_live(payload, NOW).sites[151734]

    assert (yacht.battery, yacht.alarms, yacht.alarm, yacht.last_timestamp) == (
        None,
        (),
        None,
        None,
    )
    assert yacht.problems == ("no live values listed",)


def test_the_system_battery_has_one_reading() -> None:
    """The one-site request and the account listing read a record the same way."""
    payload = vrm_json(FIXTURE)
    live = parse_account_live(payload, NOW)
    for site_id, site in live.sites.items():
        assert parse_system_battery(payload, site_id, NOW) == site.battery


@pytest.mark.parametrize(
    ("site_id", "reason"),
    [
        (None, "no site id"),
        ("", "site id not a whole number"),
        ("abc", "site id not a whole number"),
        (1.5, "site id not a whole number"),
        (-3, "site id not a whole number"),
        (True, "site id not a whole number"),
        ([123456], "site id not a whole number"),
    ],
)
def test_records_without_a_usable_site_id_are_skipped(site_id: Any, reason: str) -> None:
    payload = vrm_json(FIXTURE)
    payload["records"][0]["idSite"] = site_id

    live = parse_account_live(payload, NOW)

    assert list(live.sites) == SITES[1:]
    assert live.skipped[0] == VrmSkippedSite(index=0, site_id=None, reason=reason)


def test_a_site_listed_twice_keeps_its_first_record() -> None:
    payload = vrm_json(FIXTURE)
    second = copy.deepcopy(payload["records"][0])
    second["name"] = "Cabin again"
    payload["records"].append(second)

    live = parse_account_live(payload, NOW)

    assert live.sites[123456].name == "Cabin"
    assert live.skipped[-1] == VrmSkippedSite(index=9, site_id=123456, reason="site listed twice")


def test_alarm_shapes() -> None:
    payload = vrm_json(FIXTURE)
    record = _site(payload, 151734)
    record["current_alarms"] = [
        "Low battery",  # the spec's shape: a text
        " ",
        {"description": "High temperature", "cleared": 0, "started": "1768460000"},
        {"description": "Overload", "cleared": "1768461000"},
        42,
        None,
    ]

    yacht = parse_account_live(payload, NOW).sites[151734]

    assert [(alarm.description, alarm.active) for alarm in yacht.alarms] == [
        ("Low battery", True),
        ("High temperature", True),  # 0 is VRM's "never"
        ("Overload", False),
    ]
    assert yacht.alarms[1].started == 1768460000
    assert yacht.problems == ("3 alarm entries not readable",)


def test_live_values_checked_against_their_service_and_validity() -> None:
    payload = vrm_json(FIXTURE)
    extended = _site(payload, 123456)["extended"]
    for entry in extended:
        if entry["code"] == "S":
            entry["dbusServiceType"] = "system"  # not the VE.Bus state then
        if entry["code"] == "ss":
            entry["rawValue"] = 2.5  # not an enum code
        if entry["code"] == "consumption":
            entry["isValid"] = "0"
    extended.append({"code": "consumption", "rawValue": 1, "dbusServiceType": "system"})
    extended.append("junk")

    cabin = parse_account_live(payload, NOW).sites[123456]

    assert (cabin.vebus_state, cabin.system_state, cabin.consumption) == (None, None, None)
    assert cabin.solar_power == 1084


def test_a_last_timestamp_ahead_of_the_clock_is_not_negative_age() -> None:
    payload = vrm_json(FIXTURE)
    _site(payload, 123456)["last_timestamp"] = NOW + 30
    cabin = parse_account_live(payload, NOW).sites[123456]
    assert (cabin.last_timestamp, cabin.data_age) == (NOW + 30, 0)


# --- whatever a record holds, the other sites stay as they are ----------------------------------

_LEAF = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**400), max_value=10**400)
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from(["NaN", "inf", "1e400", "25.32", "0", "-1", "", "Inativo"])
)
_JSON = st.recursive(
    _LEAF,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
_BASE = vrm_json(FIXTURE)
_RECORD_KEYS = sorted(
    {key for row in _BASE["records"] if isinstance(row, dict) for key in row}
    - {"idSite", "extended", "current_alarms"}
)
_ENTRY_KEYS = sorted({*_site(_BASE, 123456)["extended"][0], "isValid", "textValue"} - {"code"})
_ALARM_KEYS = sorted(_site(_BASE, 200001)["current_alarms"][0])
_CODES = st.sampled_from(["bv", "bs", "bc", "bp", "bst", "S", "ss", "consumption", "solar_yield"])
_ENTRY = st.fixed_dictionaries({"code": _CODES | _JSON}, optional=dict.fromkeys(_ENTRY_KEYS, _JSON))
_ALARM = st.fixed_dictionaries({}, optional=dict.fromkeys(_ALARM_KEYS, _JSON))
_RECORD = st.fixed_dictionaries(
    {
        "idSite": st.integers(min_value=0, max_value=999_999) | _JSON,
        "extended": st.lists(_ENTRY, max_size=6) | st.lists(_JSON, max_size=3) | _JSON,
        "current_alarms": st.lists(_ALARM, max_size=3) | st.lists(_JSON, max_size=3) | _JSON,
    },
    optional=dict.fromkeys(_RECORD_KEYS, _JSON),
)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(record=_RECORD | _JSON, position=st.integers(min_value=0, max_value=len(_BASE["records"])))
def test_any_record_never_raises_nor_touches_the_others(record: Any, position: int) -> None:
    # a repeat of a real site's id would take that site's place
    assume(not set(parse_account_live({"records": [record]}, NOW).sites) & set(SITES))
    payload = copy.deepcopy(_BASE)
    payload["records"].insert(position, record)

    live = parse_account_live(payload, NOW)

    others = {site_id: site for site_id, site in live.sites.items() if site_id in SITES}
    assert others == parse_account_live(_BASE, NOW).sites
    assert len(live.sites) + len(live.skipped) == len(payload["records"])
    for site in live.sites.values():
        for value in (site.consumption, site.solar_power, site.data_age, site.last_timestamp):
            assert value is None or abs(value) != float("inf")
            assert value == value  # noqa: PLR0124 - NaN never gets through
