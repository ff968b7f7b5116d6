"""The VRM client on plain aiohttp against a fake VRM on loopback, and its parsers."""

from __future__ import annotations

import asyncio
import json
import socket
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from custom_components.victron_cerbo.api.vrm import (
    DEFAULT_RATE_LIMIT_HOLD,
    MAX_RETRY_AFTER,
    RequestBudget,
    VrmAuthenticationError,
    VrmBatteryMonitor,
    VrmBatteryState,
    VrmBudgetExceededError,
    VrmClient,
    VrmConnectionError,
    VrmDevice,
    VrmError,
    VrmForbiddenError,
    VrmRateLimitError,
    VrmResponseError,
    VrmSite,
    VrmUser,
    connection_cause,
    parse_battery_summary,
    parse_retry_after,
    parse_system_battery,
)

from .conftest import TIMEOUT
from .fakes import (
    BATTERY,
    INSTALLATIONS,
    INSTANCE,
    OVERVIEW,
    SITE_ID,
    TOKEN,
    USER_ID,
    USERS_ME,
    FakeClock,
    FakeVrm,
    Reply,
    vrm_json,
    vrm_text,
)

WALL_OFFSET = 1_768_470_000.0  # wall-clock time at FakeClock zero


@pytest.fixture
def client(session: aiohttp.ClientSession, vrm: FakeVrm, clock: FakeClock) -> VrmClient:
    return VrmClient(
        session,
        TOKEN,
        base_url=vrm.api_url,
        timeout=TIMEOUT,
        clock=clock,
        sleep=clock.sleep,
        wall_clock=lambda: WALL_OFFSET + clock.now,
    )


def _headers(vrm: FakeVrm, index: int = -1) -> dict[str, str]:
    return dict(vrm.requests[index].headers)


# --- happy paths --------------------------------------------------------------------------


async def test_get_user(client: VrmClient, vrm: FakeVrm) -> None:
    vrm.get(USERS_ME, Reply.json(vrm_json("users_me")))

    user = await client.get_user()

    assert user == VrmUser(id=USER_ID, name="Jane Doe", access_token_id=98765)  # no e-mail
    assert vrm.call_count == 1
    assert _headers(vrm)["X-Authorization"] == f"Token {TOKEN}"
    # Diagnostics copy: no e-mail address, no token.
    assert client.last_payloads["users_me"] == {
        "user": {"id": USER_ID, "name": "Jane Doe", "accessLevel": 1, "idAccessToken": 98765}
    }
    assert client.budget.used == 1


async def test_token_is_trimmed(session: aiohttp.ClientSession, vrm: FakeVrm) -> None:
    vrm.get(USERS_ME, Reply.json(vrm_json("users_me")))
    client = VrmClient(session, f"  {TOKEN}\n", base_url=vrm.api_url)

    await client.get_user()

    assert _headers(vrm)["X-Authorization"] == f"Token {TOKEN}"
    assert TOKEN not in repr(client)


@pytest.mark.parametrize("token", ["", "   \n", "abc def", "abc\x00def", "tökén"])
async def test_unusable_token_sends_nothing(
    session: aiohttp.ClientSession, vrm: FakeVrm, token: str
) -> None:
    client = VrmClient(session, token, base_url=vrm.api_url)

    with pytest.raises(VrmAuthenticationError):
        await client.get_user()

    assert vrm.call_count == 0
    assert client.budget.used == 0


async def test_get_installations_one(client: VrmClient, vrm: FakeVrm) -> None:
    vrm.get(INSTALLATIONS, Reply.json(vrm_json("installations_one")))

    sites = await client.get_installations(USER_ID)

    assert sites == [
        VrmSite(id=SITE_ID, name="Cabin", identifier="c0619ab1e2f3", timezone="Europe/Amsterdam")
    ]
    assert client.last_payloads["installations"] == {
        "records": [
            {
                "idSite": SITE_ID,
                "name": "Cabin",
                "identifier": "c0619ab1e2f3",
                "timezone": "Europe/Amsterdam",
            }
        ]
    }


async def test_get_installations_many_lenient(client: VrmClient, vrm: FakeVrm) -> None:
    vrm.get(INSTALLATIONS, Reply.json(vrm_json("installations_many")))

    sites = await client.get_installations(USER_ID)

    assert [(site.id, site.name, site.identifier, site.timezone) for site in sites] == [
        (SITE_ID, "Cabin", "c0619ab1e2f3", "Europe/Amsterdam"),
        (151734, "35ft Yacht", "d41243cd7c66", "Europe/Amsterdam"),  # idSite as a string
        (777, "VRM site 777", "", None),  # empty name, null identifier
    ]


async def test_numeric_identifier_kept_as_text(client: VrmClient, vrm: FakeVrm) -> None:
    vrm.get(
        INSTALLATIONS,
        Reply.json(
            {"success": True, "records": [{"idSite": 1, "name": "A", "identifier": 123456789012}]}
        ),
    )

    (site,) = await client.get_installations(USER_ID)

    assert site.identifier == "123456789012"


async def test_get_system_overview(client: VrmClient, vrm: FakeVrm) -> None:
    vrm.get(OVERVIEW, Reply.json(vrm_json("system_overview")))

    overview = await client.get_system_overview(SITE_ID)

    assert overview.battery_monitors == (
        VrmBatteryMonitor(
            instance=512,
            name="House bank",
            product_name="Pylontech battery",
            product_code="0xB00A",
            firmware="v1.3",
            last_connection=1768471200,
        ),
        VrmBatteryMonitor(
            instance=288,  # instance, type and timestamp as strings
            name="Battery Monitor",
            product_name="SmartShunt 500A/50mV",
            product_code="a389",
            firmware="v4.12",
            last_connection=1768471182,
        ),
    )
    assert overview.gateway_model == "Cerbo GX"
    assert overview.firmware == "v3.72"
    assert overview.logging_interval == 60
    assert overview.gateway_last_connection == 1768471200
    assert overview.device_count == 5
    devices = client.last_payloads["system_overview"]["records"]["devices"]
    assert len(devices) == 5
    assert "settings" not in devices[0]


async def test_system_overview_without_battery(client: VrmClient, vrm: FakeVrm) -> None:
    vrm.get(OVERVIEW, Reply.json(vrm_json("system_overview_no_battery")))

    overview = await client.get_system_overview(SITE_ID)

    assert overview.battery_monitors == ()
    assert overview.logging_interval == 900


async def test_system_overview_lenient_devices(client: VrmClient, vrm: FakeVrm) -> None:
    devices = [
        "junk",
        {"name": "Thing", "class": "device-battery-monitor x", "instance": 3},
        {"name": "Battery Monitor", "instance": None},  # no instance: skipped
        {"name": "Battery Monitor", "instance": 3, "customName": "duplicate"},  # same instance
        {"name": None, "idDeviceType": 2, "instance": 4},
    ]
    vrm.get(OVERVIEW, Reply.json({"success": True, "records": {"devices": devices}}))

    overview = await client.get_system_overview(SITE_ID)

    assert [(m.instance, m.name) for m in overview.battery_monitors] == [
        (3, "Thing"),
        (4, "Battery"),
    ]
    assert overview.gateway_model is None
    assert overview.device_count == 4


async def test_battery_summary_reference(client: VrmClient, vrm: FakeVrm) -> None:
    vrm.get(BATTERY, Reply.json(vrm_json("battery_summary")), params={"instance": "512"})

    reading = await client.get_battery_summary(SITE_ID, INSTANCE)

    assert reading is not None
    assert reading.instance == INSTANCE
    assert reading.soc == 78.5
    assert reading.voltage == 53.12
    assert reading.current == -12.4
    assert reading.power == pytest.approx(-658.69)
    assert reading.state is VrmBatteryState.DISCHARGING
    assert reading.consumed_ah == -61.3
    assert reading.time_to_go == pytest.approx(17.64 * 3600)
    assert reading.temperature == 21.4  # rawValue, not the whole-degree formatted value
    assert reading.min_cell_voltage == 3.318
    assert reading.max_cell_voltage == 3.327
    assert reading.starter_voltage is None
    assert reading.alarms == {
        "low_voltage": 0,
        "high_voltage": 0,
        "low_soc": 0,
        "low_temperature": 0,
        "high_temperature": 0,
        "cell_imbalance": 0,
        "internal_failure": 0,
        "low_cell_voltage": 0,
    }
    assert reading.highest_alarm == 0
    assert reading.seconds_ago == 42
    assert reading.has_old_data is False
    assert reading.stale_fields == frozenset()
    assert vrm.requests[0].url.query["instance"] == "512"
    trimmed = client.last_payloads["battery_summary"]["records"]
    assert "meta" not in trimmed
    assert trimmed["data"]["47"] == {
        "code": "V",
        "rawValue": "53.12",
        "isValid": "1",
        "hasOldData": False,
        "secondsAgo": "42",
    }


async def test_battery_summary_numeric_variant(client: VrmClient, vrm: FakeVrm) -> None:
    vrm.get(BATTERY, Reply.json(vrm_json("battery_summary_numeric")))

    reading = await client.get_battery_summary(SITE_ID, 288)

    assert reading is not None
    assert reading.voltage == 13.52
    assert reading.current == 8.25
    assert reading.power == pytest.approx(111.54)
    assert reading.state is VrmBatteryState.CHARGING
    assert reading.time_to_go is None  # isValid 0 while charging
    assert reading.starter_voltage == 12.71
    assert reading.midpoint_voltage == 6.77
    assert reading.midpoint_deviation == 0.2
    assert reading.alarms == {
        "low_voltage": 0,
        "high_voltage": 1,
        "low_soc": 0,
        "low_starter_voltage": 2,
    }
    assert reading.highest_alarm == 2
    assert reading.seconds_ago == 30  # bare number instead of {"value": ...}


async def test_battery_summary_empty_widget(client: VrmClient, vrm: FakeVrm) -> None:
    vrm.get(BATTERY, Reply.json(vrm_json("battery_summary_empty")))

    assert await client.get_battery_summary(SITE_ID, 0) is None
    assert vrm.call_count == 1


@pytest.mark.parametrize("data", [[], None, {"hasOldData": False, "1": "junk"}])
def test_battery_summary_no_data_shapes(data: Any) -> None:
    assert parse_battery_summary({"records": {"data": data}}, 0) is None


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"records": []},
        {"records": {"meta": {}}},
        {"records": {"data": "nothing"}},
        {"records": {"data": [1, 2]}},
    ],
)
def test_battery_summary_bad_shapes(payload: dict[str, Any]) -> None:
    with pytest.raises(VrmResponseError):
        parse_battery_summary(payload, 0)


def _summary(**attributes: dict[str, Any]) -> dict[str, Any]:
    return {"success": True, "records": {"data": {"hasOldData": False, **attributes}}}


def test_battery_summary_lenient_values() -> None:
    payload = _summary(
        **{
            "47": {"code": "V", "rawValue": None, "valueFloat": None, "value": "52.0"},
            "49": {"code": "I", "rawValue": "abc", "valueFloat": 0.1},
            "51": {"code": "SOC", "rawValue": 150},  # impossible: dropped
            "52": {"code": "TTG", "rawValue": -1},  # negative hours: dropped
            "115": {"code": "BT", "rawValue": True},  # a bool is not a number
            "173": {"rawValue": "3.30"},  # code only in meta
            "174": {"code": "McV", "rawValue": "3.40", "hasOldData": "1"},
            "999": {"code": "V", "rawValue": "99"},  # right code, wrong id: ignored
            "50": {"code": "CE", "rawValue": "-5", "isValid": "0"},
            "119": {"code": "AL", "rawValue": 7},  # not an alarm level
            "120": {"code": "AH", "valueEnum": "2"},
            "121": {"code": "ALS", "rawValue": 2, "isValid": 0},
            "555": {"code": "AL", "rawValue": 2},  # alarm code under a wrong id
            "600": {"code": "XX", "dbusPath": "/Alarms/HighCellVoltage", "rawValue": "1"},
            "601": {"code": "YY", "dbusPath": "/Alarms/A/B", "rawValue": 1},
            "602": {"code": "ZZ", "rawValue": 5},
            "603": {"idDataAttribute": "47", "code": None, "rawValue": 1},
            "116": {"code": "VM", "rawValue": {"nested": 1}, "valueFloat": [1]},
            "122": {"code": "AHS"},  # an alarm without any value
            "abc": {"idDataAttribute": "48", "code": "VS", "rawValue": "12.5"},
        }
    )
    payload["records"]["meta"] = {"173": {"code": "mcV"}, "603": "junk"}

    reading = parse_battery_summary(payload, INSTANCE)

    assert reading is not None
    assert reading.voltage == 52.0
    assert reading.current == 0.1
    assert reading.power == pytest.approx(5.2)
    assert reading.state is VrmBatteryState.IDLE  # 5.2 W is inside the 30 W band
    assert reading.soc is None
    assert reading.time_to_go is None
    assert reading.temperature is None
    assert reading.min_cell_voltage == 3.30
    assert reading.max_cell_voltage == 3.40
    assert reading.consumed_ah is None
    assert reading.midpoint_voltage is None
    assert reading.starter_voltage == 12.5  # id taken from idDataAttribute
    assert reading.stale_fields == frozenset({"max_cell_voltage"})
    assert reading.alarms == {"high_voltage": 2, "high_cell_voltage": 1}
    assert reading.seconds_ago is None


def test_battery_state_from_current_alone() -> None:
    def state(**attributes: dict[str, Any]) -> VrmBatteryState | None:
        reading = parse_battery_summary(_summary(**attributes), 0)
        assert reading is not None
        return reading.state

    assert state(**{"49": {"code": "I", "rawValue": "0.4"}}) is VrmBatteryState.IDLE
    assert state(**{"49": {"code": "I", "rawValue": "-0.6"}}) is VrmBatteryState.DISCHARGING
    assert state(**{"49": {"code": "I", "rawValue": "2"}}) is VrmBatteryState.CHARGING
    assert state(**{"51": {"code": "SOC", "rawValue": "50"}}) is None


async def test_battery_summary_nan_in_body(client: VrmClient, vrm: FakeVrm) -> None:
    body = json.dumps(_summary(**{"47": {"code": "V", "rawValue": 1.0}})).replace("1.0", "NaN")
    vrm.get(BATTERY, Reply(text=body))

    reading = await client.get_battery_summary(SITE_ID, INSTANCE)

    assert reading is not None
    assert reading.voltage is None


async def test_seconds_ago_negative_is_ignored(client: VrmClient, vrm: FakeVrm) -> None:
    payload = vrm_json("battery_summary")
    payload["records"]["data"]["secondsAgo"] = {"value": "-5"}
    vrm.get(BATTERY, Reply.json(payload))

    reading = await client.get_battery_summary(SITE_ID, INSTANCE)

    assert reading is not None
    assert reading.seconds_ago is None


@pytest.mark.parametrize(
    ("call", "payload"),
    [
        ("user", {"success": True}),
        ("user", {"success": True, "user": {"id": "x"}}),
        ("installations", {"success": True, "records": {}}),
        ("overview", {"success": True, "records": []}),
        ("overview", {"success": True, "records": {"devices": {}}}),
    ],
)
async def test_unexpected_shapes(client: VrmClient, vrm: FakeVrm, call: str, payload: Any) -> None:
    vrm.get(USERS_ME, Reply.json(payload))
    vrm.get(INSTALLATIONS, Reply.json(payload))
    vrm.get(OVERVIEW, Reply.json(payload))
    calls = {
        "user": client.get_user,
        "installations": lambda: client.get_installations(USER_ID),
        "overview": lambda: client.get_system_overview(SITE_ID),
    }

    with pytest.raises(VrmResponseError):
        await calls[call]()


@pytest.mark.parametrize("bad", [-1, "123", 1.5, True])
async def test_ids_must_be_ints(client: VrmClient, bad: Any) -> None:
    with pytest.raises(ValueError, match="must be a non-negative int"):
        await client.get_system_overview(bad)
    with pytest.raises(ValueError, match="must be a non-negative int"):
        await client.get_battery_summary(SITE_ID, bad)
    with pytest.raises(ValueError, match="must be a non-negative int"):
        await client.get_installations(bad)
    assert client.budget.used == 0


# --- error statuses -----------------------------------------------------------------------


async def test_401(client: VrmClient, vrm: FakeVrm) -> None:
    vrm.get(USERS_ME, Reply.json(vrm_json("error_401"), status=401))

    with pytest.raises(VrmAuthenticationError) as caught:
        await client.get_user()

    assert caught.value.kind == "auth"
    assert caught.value.status == 401
    assert vrm.call_count == 1  # a static token is not retried
    assert client.last_payloads["last_error"] == {
        "status": 401,
        "error_code": "invalid_credentials",
    }


async def test_403_names_the_site(client: VrmClient, vrm: FakeVrm) -> None:
    vrm.get(BATTERY, Reply.json(vrm_json("error_403"), status=403))

    with pytest.raises(VrmForbiddenError, match=str(SITE_ID)) as caught:
        await client.get_battery_summary(SITE_ID, INSTANCE)

    assert caught.value.site_id == SITE_ID
    assert caught.value.kind == "forbidden"
    assert vrm.call_count == 1


async def test_403_without_site(client: VrmClient, vrm: FakeVrm) -> None:
    vrm.get(INSTALLATIONS, Reply.json(vrm_json("error_403"), status=403))

    with pytest.raises(VrmForbiddenError) as caught:
        await client.get_installations(USER_ID)

    assert caught.value.site_id is None


async def test_429_holds_every_request_until_retry_after(
    client: VrmClient, vrm: FakeVrm, clock: FakeClock
) -> None:
    vrm.get(BATTERY, Reply.json(vrm_json("error_429"), status=429, headers={"Retry-After": "120"}))

    with pytest.raises(VrmRateLimitError) as caught:
        await client.get_battery_summary(SITE_ID, INSTANCE)
    assert caught.value.retry_after == 120
    assert caught.value.kind == "rate_limited"
    assert vrm.call_count == 1  # no retry on 429

    clock.advance(119)
    with pytest.raises(VrmRateLimitError) as caught:
        await client.get_user()  # any endpoint is held
    assert caught.value.retry_after == pytest.approx(1)
    assert vrm.call_count == 1
    assert client.budget.used == 1

    clock.advance(1)
    vrm.clear()
    vrm.get(USERS_ME, Reply.json(vrm_json("users_me")))
    await client.get_user()
    assert vrm.call_count == 1


async def test_429_http_date(client: VrmClient, vrm: FakeVrm, clock: FakeClock) -> None:
    moment = datetime.fromtimestamp(WALL_OFFSET + clock.now + 300, tz=UTC)
    vrm.get(
        USERS_ME, Reply(status=429, text="", headers={"Retry-After": format_datetime(moment, True)})
    )

    with pytest.raises(VrmRateLimitError) as caught:
        await client.get_user()

    assert caught.value.retry_after == pytest.approx(300)
    assert client.budget.hold_remaining() == pytest.approx(300)


@pytest.mark.parametrize("header", [None, "soon"])
async def test_429_without_usable_retry_after(
    client: VrmClient, vrm: FakeVrm, header: str | None
) -> None:
    vrm.get(
        USERS_ME,
        Reply(
            status=429,
            text="<html>slow down</html>",
            headers={"Retry-After": header} if header else {},
        ),
    )

    with pytest.raises(VrmRateLimitError, match="no Retry-After") as caught:
        await client.get_user()

    assert caught.value.retry_after is None
    assert client.budget.hold_remaining() == DEFAULT_RATE_LIMIT_HOLD


async def test_5xx_waits_for_the_next_poll(
    client: VrmClient, vrm: FakeVrm, clock: FakeClock
) -> None:
    """No retry inside the request: an outage costs one request per poll."""
    vrm.get(BATTERY, Reply.json(vrm_json("error_500"), status=500))

    with pytest.raises(VrmConnectionError) as caught:
        await client.get_battery_summary(SITE_ID, INSTANCE)

    assert caught.value.kind == "server_error"
    assert caught.value.status == 500
    assert vrm.call_count == 1
    assert clock.sleeps == []
    assert client.budget.used == 1
    assert client.last_payloads["last_error"] == {"status": 500, "error_code": "server_error"}


async def test_html_502_then_success_on_the_next_call(
    client: VrmClient, vrm: FakeVrm, clock: FakeClock
) -> None:
    answers = [
        Reply(status=502, text=vrm_text("error_502.html")),
        Reply.json(vrm_json("battery_summary")),
    ]

    async def next_answer(_: Any) -> Reply:
        return answers.pop(0)

    vrm.get(BATTERY, next_answer)

    with pytest.raises(VrmConnectionError, match="HTTP 502") as caught:
        await client.get_battery_summary(SITE_ID, INSTANCE)
    assert caught.value.kind == "server_error"
    assert "<html" not in str(caught.value).lower()
    assert client.last_payloads["last_error"] == {"status": 502, "error_code": None}

    reading = await client.get_battery_summary(SITE_ID, INSTANCE)

    assert reading is not None
    assert vrm.call_count == 2
    assert clock.sleeps == []


@pytest.mark.parametrize(
    ("reply", "kind", "requests", "sent", "cause"),
    [
        # A timeout already waited 10 s: the next poll is the retry.
        (Reply(hang=True), "timeout", 1, 1, "timeout"),
        # A failed connection gets one quick retry. aiohttp itself sends a GET again, once, when
        # the server drops the connection before answering: VRM sees twice what is counted.
        (Reply(drop="reset"), "connection", 2, 4, "connection closed"),
        (Reply(drop="close"), "connection", 2, 4, "connection closed"),
        (Reply(drop="cut"), "connection", 2, 2, "answer cut off"),
    ],
    ids=["hang", "reset", "closed", "cut-off"],
)
async def test_transport_failures(
    client: VrmClient,
    vrm: FakeVrm,
    clock: FakeClock,
    *,
    reply: Reply,
    kind: str,
    requests: int,
    sent: int,
    cause: str,
) -> None:
    vrm.get(USERS_ME, reply)

    with pytest.raises(VrmConnectionError) as caught:
        await client.get_user()

    assert caught.value.kind == kind
    assert caught.value.cause == cause
    assert TOKEN not in str(caught.value)
    assert vrm.call_count == sent
    assert clock.sleeps == [1.0] * (requests - 1)
    assert client.budget.used == requests


async def test_connection_error_then_success_in_one_call(client: VrmClient, vrm: FakeVrm) -> None:
    outcomes = [Reply(drop="cut"), Reply.json(vrm_json("users_me"))]

    async def next_outcome(_: Any) -> Reply:
        return outcomes.pop(0)

    vrm.get(USERS_ME, next_outcome)

    user = await client.get_user()

    assert user.id == USER_ID
    assert vrm.call_count == 2


@pytest.mark.parametrize(
    ("status", "body", "match"),
    [
        (200, vrm_text("error_502.html"), "HTTP 200 with a body that is not JSON"),
        (200, b"\xff\xfe\x00garbage", "not JSON"),
        (200, "[1, 2, 3]", "non-object"),
        (200, json.dumps(vrm_json("error_success_false")), "missing_parameters"),
        (200, '{"success": false, "error_code": 42}', "no error_code"),
        (404, '{"success": false, "error_code": "not_found"}', "HTTP 404 \\(not_found\\)"),
        (400, "<html>bad</html>", "HTTP 400$"),
        (302, "", "HTTP 302"),
    ],
)
async def test_bad_responses(
    client: VrmClient,
    vrm: FakeVrm,
    status: int,
    body: str | bytes,
    match: str,
) -> None:
    if isinstance(body, bytes):
        vrm.get(USERS_ME, Reply(status=status, content=body))
    else:
        vrm.get(USERS_ME, Reply(status=status, text=body))

    with pytest.raises(VrmResponseError, match=match) as caught:
        await client.get_user()

    assert caught.value.kind == "bad_response"
    assert caught.value.status == status
    assert "nginx" not in str(caught.value)  # the body is never echoed
    assert "ResetType" not in str(caught.value)  # nor the localised error text
    assert vrm.call_count == 1


async def test_deeply_nested_json(client: VrmClient, vrm: FakeVrm) -> None:
    depth = 100_000
    vrm.get(USERS_ME, Reply(text="[" * depth + "]" * depth))

    with pytest.raises(VrmResponseError, match="not JSON"):
        await client.get_user()


async def test_payload_copies_are_flat(client: VrmClient, vrm: FakeVrm) -> None:
    payload = vrm_json("battery_summary")
    payload["records"]["data"]["47"]["rawValue"] = [[["deep"]]]
    payload["records"]["data"]["hasOldData"] = {"odd": True}
    vrm.get(BATTERY, Reply.json(payload))

    await client.get_battery_summary(SITE_ID, INSTANCE)

    data = client.last_payloads["battery_summary"]["records"]["data"]
    assert "rawValue" not in data["47"]
    assert data["hasOldData"] is None
    assert data["secondsAgo"] == {"value": 42}


async def test_last_good_payload_survives_a_failure(client: VrmClient, vrm: FakeVrm) -> None:
    vrm.get(BATTERY, Reply.json(vrm_json("battery_summary")))
    await client.get_battery_summary(SITE_ID, INSTANCE)
    good = client.last_payloads["battery_summary"]

    vrm.clear()
    vrm.get(BATTERY, Reply(text="<html>oops</html>"))
    with pytest.raises(VrmResponseError):
        await client.get_battery_summary(SITE_ID, INSTANCE)

    assert client.last_payloads["battery_summary"] is good


async def test_payload_copies_never_hold_the_token(client: VrmClient, vrm: FakeVrm) -> None:
    payload = vrm_json("users_me")
    payload["user"]["name"] = f"token {TOKEN}"
    vrm.get(USERS_ME, Reply.json(payload))

    await client.get_user()

    assert TOKEN not in json.dumps(client.last_payloads)
    assert client.last_payloads["users_me"]["user"]["name"] == "token **REDACTED**"


# --- budget and concurrency ---------------------------------------------------------------


async def test_budget_refuses_at_the_cap(
    session: aiohttp.ClientSession, vrm: FakeVrm, clock: FakeClock
) -> None:
    vrm.get(USERS_ME, Reply.json(vrm_json("users_me")))
    client = VrmClient(
        session,
        TOKEN,
        base_url=vrm.api_url,
        budget=RequestBudget(warning=1, limit=2, clock=clock),
        sleep=clock.sleep,
    )
    await client.get_user()
    clock.advance(10)
    await client.get_user()

    with pytest.raises(VrmBudgetExceededError) as caught:
        await client.get_user()

    assert caught.value.retry_after == pytest.approx(3590)
    assert caught.value.kind == "budget"
    assert vrm.call_count == 2


async def test_retries_are_counted_and_capped(
    session: aiohttp.ClientSession, vrm: FakeVrm, clock: FakeClock
) -> None:
    vrm.get(USERS_ME, Reply(drop="cut"))
    client = VrmClient(
        session,
        TOKEN,
        base_url=vrm.api_url,
        budget=RequestBudget(warning=1, limit=1, clock=clock),
        sleep=clock.sleep,
    )

    with pytest.raises(VrmBudgetExceededError) as caught:
        await client.get_user()  # the retry finds the budget spent

    assert vrm.call_count == 1
    assert isinstance(caught.value.__cause__, VrmConnectionError)


async def test_one_request_in_flight(client: VrmClient, vrm: FakeVrm) -> None:
    in_flight = 0
    most = 0

    async def slow(_: Any) -> Reply:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        for _ in range(5):
            await asyncio.sleep(0)
        in_flight -= 1
        return Reply.json(vrm_json("users_me"))

    vrm.get(USERS_ME, slow)

    users = await asyncio.gather(*(client.get_user() for _ in range(4)))

    assert [user.id for user in users] == [USER_ID] * 4
    assert most == 1
    assert vrm.call_count == 4


# --- Retry-After parsing ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("", None),
        ("  ", None),
        ("120", 120.0),
        (" 1.5 ", 1.5),
        ("-5", 0.0),
        ("nan", None),
        ("inf", None),
        ("99999999", MAX_RETRY_AFTER),
        ("tomorrow", None),
        ("Thu, 15 Jan 2026 10:05:00 GMT", 300.0),
        ("Thu, 15 Jan 2026 10:05:00 -0000", 300.0),  # naive date: taken as UTC
        ("Thu, 15 Jan 2026 09:00:00 GMT", 0.0),  # in the past
    ],
)
def test_parse_retry_after(header: str | None, expected: float | None) -> None:
    now = datetime(2026, 1, 15, 10, 0, tzinfo=UTC).timestamp()
    assert parse_retry_after(header, now) == expected


# --- a real HTTP server on loopback -------------------------------------------------------


async def test_loopback_server_round_trip() -> None:
    seen: list[str] = []

    async def summary(request: web.Request) -> web.Response:
        seen.append(request.headers["X-Authorization"])
        assert request.query["instance"] == str(INSTANCE)
        return web.json_response(vrm_json("battery_summary"))

    app = web.Application()
    app.router.add_get(f"/v2/installations/{SITE_ID}/widgets/BatterySummary", summary)
    async with TestServer(app, host="127.0.0.1") as server, aiohttp.ClientSession() as session:
        client = VrmClient(session, TOKEN, base_url=str(server.make_url("/v2")))
        reading = await client.get_battery_summary(SITE_ID, INSTANCE)

    assert reading is not None
    assert reading.soc == 78.5
    assert seen == [f"Token {TOKEN}"]


async def test_loopback_redirect_is_not_followed() -> None:
    """Following it would hand the token (a custom header) to whatever host it names."""
    followed: list[str] = []

    async def moved(request: web.Request) -> web.Response:
        raise web.HTTPFound("/v2/elsewhere")

    async def elsewhere(request: web.Request) -> web.Response:
        followed.append(request.headers.get("X-Authorization", ""))
        return web.json_response(vrm_json("users_me"))

    app = web.Application()
    app.router.add_get("/v2/users/me", moved)
    app.router.add_get("/v2/elsewhere", elsewhere)
    async with TestServer(app, host="127.0.0.1") as server, aiohttp.ClientSession() as session:
        client = VrmClient(session, TOKEN, base_url=str(server.make_url("/v2")))
        with pytest.raises(VrmResponseError, match="HTTP 302"):
            await client.get_user()

    assert followed == []


async def test_loopback_hung_server_times_out() -> None:
    release = asyncio.Event()

    async def hang(request: web.Request) -> web.Response:
        await release.wait()
        return web.json_response({})

    app = web.Application()
    app.router.add_get("/v2/users/me", hang)
    async with TestServer(app, host="127.0.0.1") as server, aiohttp.ClientSession() as session:
        client = VrmClient(
            session, TOKEN, base_url=str(server.make_url("/v2")), timeout=0.05, max_retries=0
        )
        with pytest.raises(VrmConnectionError) as caught:
            await client.get_user()
        release.set()

    assert caught.value.kind == "timeout"
    assert caught.value.cause == "timeout"


async def test_loopback_vanished_service() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Nothing listens on the port any more.
    async with aiohttp.ClientSession() as session:
        client = VrmClient(
            session, TOKEN, base_url=f"http://127.0.0.1:{port}/v2", max_retries=1, backoff=0
        )
        with pytest.raises(VrmConnectionError) as caught:
            await client.get_user()

    assert caught.value.kind == "connection"
    assert caught.value.cause == "connection refused"
    assert "connection refused" in str(caught.value)
    assert client.budget.used == 2


def test_error_hierarchy() -> None:
    for error in (
        VrmConnectionError("x"),
        VrmAuthenticationError("x"),
        VrmForbiddenError("x"),
        VrmRateLimitError("x", retry_after=None),
        VrmBudgetExceededError("x", retry_after=1),
        VrmResponseError("x"),
    ):
        assert isinstance(error, VrmError)
    assert VrmError("x").kind == "error"
    assert VrmError("x").cause == "error"
    assert VrmError("x", status=404).cause == "HTTP 404"
    assert VrmRateLimitError("x", retry_after=1, sent=False).cause == (
        "waiting for VRM's Retry-After"
    )


def test_connection_causes() -> None:
    key = aiohttp.client_reqrep.ConnectionKey("h", 1, False, True, None, None, None)
    dns = aiohttp.ClientConnectorDNSError(key, OSError(-2, "Name or service not known"))
    assert connection_cause(dns) == "name not resolved"
    unreachable = aiohttp.ClientConnectorError(key, OSError(113, "No route to host"))
    assert connection_cause(unreachable) == "cannot connect"


# --- sites whose battery is measured by the system, not by a monitor ----------------------

SYSTEM_BATTERY_URL = f"/v2{INSTALLATIONS}?idSite={SITE_ID}&extended=1"


async def test_system_battery_from_the_extended_installations_list(
    client: VrmClient, vrm: FakeVrm, clock: FakeClock
) -> None:
    vrm.get(INSTALLATIONS, Reply.json(vrm_json("installations_system_battery")))
    clock.advance(200)  # the wall clock reads 2026-01-15 10:00 UTC, 60 s after the sample

    reading = await client.get_system_battery(USER_ID, SITE_ID)

    assert reading is not None
    assert reading.system
    assert reading.instance == 0
    assert (reading.voltage, reading.soc, reading.current) == (24.03, 81.5, -4.2)
    assert reading.power == pytest.approx(-100.93)
    # from the enum's raw value; its formattedValue is localised ("A descarregar")
    assert reading.state is VrmBatteryState.DISCHARGING
    assert reading.seconds_ago == 60
    # what a monitor would add is not there: VRM has none of it for such a site
    assert reading.temperature is None
    assert reading.consumed_ah is None
    assert reading.alarms == {}
    assert [str(request.url) for request in vrm.requests] == [SYSTEM_BATTERY_URL]
    assert client.budget.used == 1
    trimmed = client.last_payloads["system_battery"]["records"][0]
    assert [item["code"] for item in trimmed["extended"]] == ["bv", "bs", "bc", "bst"]
    assert trimmed["num_alarms"] == 1
    assert "email" not in str(client.last_payloads)


def test_system_battery_shapes() -> None:
    payload = vrm_json("installations_system_battery")
    extended = payload["records"][0]["extended"]
    extended[0]["isValid"] = "0"  # voltage marked invalid
    extended[1]["rawValue"] = "181.5"  # an impossible SOC, as a string
    extended[2]["idDataAttribute"] = 999  # same code, another attribute: not ours
    extended[3]["rawValue"] = 7  # an unknown state: derived from the current
    extended.append(
        {"code": "bp", "rawValue": "-98", "dbusServiceType": "system", "timestamp": 1768471100}
    )
    extended.append({"code": "bv", "rawValue": 12.0, "dbusServiceType": "battery"})
    extended.append({"code": "bs", "rawValue": 55.0, "dbusServiceType": "system"})  # a repeat

    reading = parse_system_battery(payload, SITE_ID, 1768471200)

    assert reading is not None
    assert (reading.voltage, reading.soc, reading.current) == (None, None, None)
    assert reading.power == -98
    assert reading.state is VrmBatteryState.DISCHARGING
    assert reading.seconds_ago == 100  # the oldest value used


def test_system_battery_missing() -> None:
    payload = vrm_json("installations_one")
    payload["records"][0]["extended"] = [{"code": "tsT", "rawValue": 18.4}]
    assert parse_system_battery(payload, SITE_ID, 0) is None
    del payload["records"][0]["extended"]
    assert parse_system_battery(payload, SITE_ID, 0) is None
    with pytest.raises(VrmResponseError):
        parse_system_battery(payload, 777, 0)
    with pytest.raises(VrmResponseError):
        parse_system_battery({"records": {}}, SITE_ID, 0)


def test_state_without_a_state_code() -> None:
    payload = vrm_json("installations_system_battery")
    payload["records"][0]["extended"] = [
        item for item in payload["records"][0]["extended"] if item["code"] != "bst"
    ]
    reading = parse_system_battery(payload, SITE_ID, 1768471200)
    assert reading is not None
    assert reading.state is VrmBatteryState.DISCHARGING  # -100.9 W


async def test_overview_names_what_measures_the_battery(client: VrmClient, vrm: FakeVrm) -> None:
    vrm.get(OVERVIEW, Reply.json(vrm_json("system_overview_no_battery")))

    overview = await client.get_system_overview(SITE_ID)

    assert overview.battery_monitors == ()
    assert overview.battery_measured_by == VrmDevice(
        kind="Solar Charger", instance=279, name="Roof", product_name="SmartSolar MPPT 100/20"
    )
    assert overview.battery_measured_by.label == "Roof · SmartSolar MPPT 100/20"
    assert VrmDevice(kind="Inverter").label == "Inverter"


async def test_overview_with_a_monitor_names_no_other_device(
    client: VrmClient, vrm: FakeVrm
) -> None:
    vrm.get(OVERVIEW, Reply.json(vrm_json("system_overview")))
    overview = await client.get_system_overview(SITE_ID)
    assert overview.battery_monitors
    assert overview.battery_measured_by is None


def test_old_data_marked_invalid() -> None:
    """A real capture of old data: isValid "0" on every attribute, strings everywhere."""
    reading = parse_battery_summary(vrm_json("battery_summary_old"), INSTANCE)

    assert reading is not None
    assert reading.has_old_data
    assert reading.seconds_ago == 32203
    assert (reading.soc, reading.voltage, reading.current) == (None, None, None)
    assert reading.alarms == {}
    assert reading.state is None


async def test_installations_with_alarm_objects(client: VrmClient, vrm: FakeVrm) -> None:
    vrm.get(INSTALLATIONS, Reply.json(vrm_json("installations_many")))
    sites = await client.get_installations(USER_ID)
    assert 151734 in [site.id for site in sites]


async def test_errors_as_a_list(client: VrmClient, vrm: FakeVrm) -> None:
    vrm.get(USERS_ME, Reply.json(vrm_json("error_list")))

    with pytest.raises(VrmResponseError) as caught:
        await client.get_user()

    assert "No settings found for this site" in str(caught.value)
    assert caught.value.cause == "VRM reported an error (No settings found for this site)"


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"success": False, "errors": {"username": "Campo obrigatório"}}, "Campo obrigatório"),
        ({"success": False, "errors": "Falhou"}, "Falhou"),
        ({"success": False, "errors": [3]}, None),
        ({"success": False, "errors": " "}, None),
    ],
)
async def test_error_texts(
    client: VrmClient,
    vrm: FakeVrm,
    body: dict[str, Any],
    detail: str | None,
) -> None:
    vrm.get(USERS_ME, Reply.json(body))

    with pytest.raises(VrmResponseError) as caught:
        await client.get_user()

    expected = f"VRM reported an error ({detail})" if detail else "VRM reported an error"
    assert caught.value.cause == expected
