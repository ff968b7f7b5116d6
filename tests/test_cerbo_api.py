"""The local DBus HTTP API client: requests, fault handling, parsing and discovery."""

from __future__ import annotations

import asyncio
import json
import socket
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from homeassistant.core import HomeAssistant
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pytest_homeassistant_custom_component.test_util.aiohttp import AiohttpClientMocker

from custom_components.victron_cerbo.api.cerbo import (
    MAX_BACKOFF,
    MAX_BODY_BYTES,
    MAX_TEMPERATURE_SERVICES,
    PAYLOAD_KEEP_CHARS,
    CerboBattery,
    CerboCanStats,
    CerboClient,
    CerboConnectionError,
    CerboDiscovery,
    CerboError,
    CerboPlatform,
    CerboPoller,
    CerboResponseError,
    CerboServerInfo,
    CerboSnapshot,
    CerboSystem,
    CerboTemperature,
    CerboTimeoutError,
    CerboVebus,
    backoff_delay,
)
from dev.simulator import SimulatedInstallation, create_local_app
from tests.cerbo_helpers import (
    HOST,
    LEGACY_500,
    LYNX,
    NOT_FOUND_404,
    PLATFORM,
    PORT,
    PORTAL_ID,
    PYLONTECH,
    SYSTEM,
    TEMP_5,
    TEMP_6,
    VEBUS,
    VIRTUAL,
    FakeCerbo,
    RawCerboServer,
    Reply,
    envelope,
    fixture_text,
    root_of,
)


@pytest.fixture
def client(hass: HomeAssistant, cerbo: FakeCerbo) -> CerboClient:
    """A client on HA's (mocked) shared session."""
    return CerboClient(async_get_clientsession(hass), HOST, PORT)


# --- /health -------------------------------------------------------------------------------


async def test_health_v32(client: CerboClient) -> None:
    info = await client.health()
    assert info == CerboServerInfo(
        version="3.2.0",
        service="dbus-api-server",
        status="healthy",
        started_at="2025-12-01T15:50:12.431906",
        uptime_seconds=86400,
    )


async def test_health_v2_has_no_version(client: CerboClient, cerbo: FakeCerbo) -> None:
    cerbo.health = Reply.fixture("health_v2.json")
    info = await client.health()
    assert info.version is None
    assert info.status == "healthy"
    assert info.uptime_seconds is None


async def test_health_negative_uptime_is_dropped(client: CerboClient, cerbo: FakeCerbo) -> None:
    cerbo.health = Reply(text='{"status": "healthy", "uptime_seconds": -5, "success": true}')
    assert (await client.health()).uptime_seconds is None


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (Reply.fixture("router_login.html"), "HTML page"),
        (Reply.fixture("error_501.html", 501), "HTTP 501"),
        (Reply.fixture("error_route_404.json", 404), "HTTP 404"),
        (Reply(text="[]"), "healthy"),
        (Reply(text='{"success": false, "status": "starting"}'), "healthy"),
        (Reply(text=""), "empty body"),
        (Reply(text='{"status": "heal'), "malformed JSON"),
    ],
)
async def test_health_rejects_what_is_not_the_api(
    client: CerboClient, cerbo: FakeCerbo, reply: Reply, message: str
) -> None:
    cerbo.health = reply
    with pytest.raises(CerboResponseError, match=message) as err:
        await client.health()
    assert err.value.kind == "response"


# --- /services -----------------------------------------------------------------------------


async def test_services_sorted_and_filtered(client: CerboClient, cerbo: FakeCerbo) -> None:
    assert len(await client.services()) == 16
    cerbo.services = Reply(
        text=json.dumps(
            {
                "services": [
                    "com.victronenergy.system",
                    "org.freedesktop.DBus",
                    42,
                    None,
                    "com.victronenergy.platform",
                    "com.victronenergy.bad name",
                    "com.victronenergy.system",
                ],
                "count": 7,
                "success": True,
            }
        )
    )
    assert await client.services() == [PLATFORM, SYSTEM]


@pytest.mark.parametrize(
    "reply",
    [
        Reply.fixture("services_empty.json"),
        Reply(text='{"services": ["org.freedesktop.DBus"], "count": 1, "success": true}'),
        Reply(text='{"success": true}'),
        Reply(text="[]"),
    ],
)
async def test_services_empty_is_a_failure(
    client: CerboClient, cerbo: FakeCerbo, reply: Reply
) -> None:
    cerbo.services = reply
    with pytest.raises(CerboResponseError, match="no Victron services") as err:
        await client.services()
    assert err.value.kind == "no_services"


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (LEGACY_500, "HTTP 500"),
        (Reply(text='{"services": "com.victronenergy.system", "success": true}'), "a list"),
        (Reply.fixture("error_501.html", 200), "HTML page"),
    ],
)
async def test_services_errors(
    client: CerboClient, cerbo: FakeCerbo, reply: Reply, message: str
) -> None:
    cerbo.services = reply
    with pytest.raises(CerboResponseError, match=message):
        await client.services()


# --- /value?path=/ -------------------------------------------------------------------------


async def test_service_root_is_flat_and_cleaned(client: CerboClient, cerbo: FakeCerbo) -> None:
    root = await client.service_root(SYSTEM)
    assert root is not None
    assert root["Serial"] == PORTAL_ID
    assert root["ProductId"] is None  # [] is Victron's "invalid"
    assert root["Dc/Battery/TimeToGo"] is None
    assert root["Dc/Battery/Voltage"] == 49.79999923706055  # rounding is the parser's job
    assert root["Batteries"][0]["instance"] == 100
    assert cerbo.log == [("/value", SYSTEM)]
    path, query = str(cerbo.mock.mock_calls[0][1]).split("?")
    assert path == f"http://{HOST}:{PORT}/value"
    assert sorted(query.split("&")) == ["path=/", f"service={SYSTEM}"]


@pytest.mark.parametrize(
    "reply",
    [
        NOT_FOUND_404,
        LEGACY_500,
        Reply.fixture("error_400.json", 400),
        Reply.fixture("error_501.html", 502),
        Reply.fixture("value_invalid.json"),
        Reply.fixture("value_success_false.json"),
        Reply(text='{"service": "x", "path": "/", "value": null, "success": true}'),
    ],
    ids=["404-v3.2", "500-legacy", "400", "502-html", "value-invalid", "success-false", "null"],
)
async def test_service_root_no_value(client: CerboClient, cerbo: FakeCerbo, reply: Reply) -> None:
    cerbo.roots[PYLONTECH] = reply
    assert await client.service_root(PYLONTECH) is None


async def test_unknown_service_is_no_value(client: CerboClient) -> None:
    assert await client.service_root("com.victronenergy.nope") is None


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (Reply.fixture("router_login.html"), "HTML page"),
        (Reply.fixture("truncated.txt"), "malformed JSON"),
        (Reply.fixture("value_leaf.json"), "service tree"),
        (Reply(text="[1, 2]"), "an object"),
        (Reply(text="\udcff".encode("utf-8", "surrogatepass").decode("latin-1")), "malformed"),
        (Reply(text="[" * 100_000), "malformed JSON"),
    ],
    ids=["html", "truncated", "leaf", "list", "not-utf8", "deep"],
)
async def test_service_root_unusable_body(
    client: CerboClient, cerbo: FakeCerbo, reply: Reply, message: str
) -> None:
    cerbo.roots[SYSTEM] = reply
    with pytest.raises(CerboResponseError, match=message):
        await client.service_root(SYSTEM)


async def test_nan_and_infinity_become_none(client: CerboClient, cerbo: FakeCerbo) -> None:
    cerbo.roots[PYLONTECH] = Reply.fixture("battery_nan.txt")
    root = await client.service_root(PYLONTECH)
    assert root is not None
    assert root["Soc"] is None
    assert root["Dc/0/Voltage"] is None
    assert root["Dc/0/Current"] is None
    assert root["History/ChargedEnergy"] is None  # 1e999 overflows to inf
    battery = CerboBattery.from_root(PYLONTECH, root)
    assert battery.soc is None
    assert battery.soh == 99.0
    assert battery.power == -44.0
    assert battery.min_cell_voltage == 3.318
    assert battery.max_cell_voltage is None
    assert battery.cell_voltage_spread is None
    assert battery.alarms == {"HighVoltage": 2}
    assert battery.highest_alarm == 2


async def test_body_size_is_limited(client: CerboClient, cerbo: FakeCerbo) -> None:
    cerbo.roots[SYSTEM] = Reply(text=" " * (MAX_BODY_BYTES + 1))
    with pytest.raises(CerboResponseError, match="more than"):
        await client.service_root(SYSTEM)


# --- transport failures ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exc", "error", "kind"),
    [
        (aiohttp.ClientConnectionError(), CerboConnectionError, "connection"),
        (aiohttp.ServerDisconnectedError(), CerboConnectionError, "connection"),
        (ConnectionResetError(), CerboConnectionError, "connection"),
        (TimeoutError(), CerboTimeoutError, "timeout"),
    ],
)
async def test_transport_errors(
    client: CerboClient,
    cerbo: FakeCerbo,
    exc: BaseException,
    error: type[CerboError],
    kind: str,
) -> None:
    cerbo.roots[SYSTEM] = Reply(exc=exc)
    with pytest.raises(error) as err:
        await client.service_root(SYSTEM)
    assert err.value.kind == kind
    assert isinstance(err.value, CerboConnectionError)


async def test_hung_request_times_out_and_frees_the_lock(
    hass: HomeAssistant, cerbo: FakeCerbo
) -> None:
    client = CerboClient(async_get_clientsession(hass), HOST, timeout=0.01)
    cerbo.roots[SYSTEM] = Reply(hang=True)
    with pytest.raises(CerboTimeoutError, match=r"within 0\.01 s"):
        await client.service_root(SYSTEM)
    assert await client.service_root(VEBUS) is not None


async def test_one_request_in_flight(client: CerboClient, cerbo: FakeCerbo) -> None:
    cerbo.gate = asyncio.Event()
    tasks = [
        asyncio.create_task(client.service_root(service)) for service in (SYSTEM, VEBUS, TEMP_5)
    ]
    for _ in range(5):
        await asyncio.sleep(0)
    assert cerbo.in_flight == 1
    cerbo.gate.set()
    results = await asyncio.gather(*tasks)
    assert all(result is not None for result in results)
    assert cerbo.max_in_flight == 1
    assert client.request_count == 3


@pytest.mark.parametrize("host", ["", "   ", "bad host", "cerbo/api", "http://cerbo.local", "[]"])
async def test_invalid_host_never_sends(hass: HomeAssistant, cerbo: FakeCerbo, host: str) -> None:
    client = CerboClient(async_get_clientsession(hass), host)
    with pytest.raises(CerboConnectionError, match="not a valid host"):
        await client.health()
    assert cerbo.log == []


async def test_bracketed_ipv6_host(
    hass: HomeAssistant, aioclient_mock: AiohttpClientMocker
) -> None:
    cerbo = FakeCerbo(aioclient_mock, host="[fe80::1]")
    client = CerboClient(async_get_clientsession(hass), " [fe80::1] ")
    assert client.host == "fe80::1"
    assert (await client.health()).version == "3.2.0"
    assert cerbo.counts() == {"/health": 1}


async def test_only_get_requests_to_port_8088(client: CerboClient, cerbo: FakeCerbo) -> None:
    await client.health()
    await client.discover()
    assert {call[0] for call in cerbo.mock.mock_calls} == {"GET"}
    assert {call[1].port for call in cerbo.mock.mock_calls} == {8088}
    assert {call[1].path for call in cerbo.mock.mock_calls} == {"/health", "/services", "/value"}
    assert {call[2] for call in cerbo.mock.mock_calls} == {None}  # no body, ever


async def test_last_payloads_are_kept_trimmed(client: CerboClient, cerbo: FakeCerbo) -> None:
    big = {f"Key/{index}": index for index in range(400)}
    cerbo.set_root(TEMP_5, big)
    await client.health()
    await client.service_root(TEMP_5)
    await client.service_root("com.victronenergy.gone")
    payloads = client.last_payloads
    assert set(payloads) == {"/health", TEMP_5, "com.victronenergy.gone"}
    assert payloads["/health"].text == fixture_text("health_v32.json")
    assert payloads[TEMP_5].size == len(envelope(TEMP_5, big))
    assert payloads[TEMP_5].size > PAYLOAD_KEEP_CHARS
    assert len(payloads[TEMP_5].text) == PAYLOAD_KEEP_CHARS
    assert payloads["com.victronenergy.gone"].status == 404
    assert client.request_count == 3
    assert client.bytes_received == sum(payload.size for payload in payloads.values())
    payloads.clear()  # a copy: the client's record is untouched
    assert len(client.last_payloads) == 3


# --- a real HTTP/1.0 server on 127.0.0.1 --------------------------------------------------------


@pytest.mark.usefixtures("socket_enabled")
async def test_real_http10_server() -> None:
    async with RawCerboServer() as server, aiohttp.ClientSession() as session:
        server.bodies["/value"] = (200, fixture_text("system.json").encode())
        server.bodies["/services"] = (500, fixture_text("error_500_legacy.json").encode())
        client = CerboClient(session, "127.0.0.1", server.port)
        assert (await client.health()).version == "3.2.0"
        root = await client.service_root(SYSTEM)
        assert root is not None
        assert root["Serial"] == PORTAL_ID
        with pytest.raises(CerboResponseError, match="HTTP 500"):
            await client.services()
        server.bodies["/value"] = (404, fixture_text("error_404.json").encode())
        assert await client.service_root(PYLONTECH) is None
        server.bodies["/health"] = (200, fixture_text("router_login.html").encode())
        with pytest.raises(CerboResponseError, match="HTML page"):
            await client.health()
    assert server.requests[0] == "GET /health"
    assert server.requests[1] == "GET /value?service=com.victronenergy.system&path=/"


@pytest.mark.usefixtures("socket_enabled")
async def test_real_server_that_hangs() -> None:
    async with RawCerboServer() as server, aiohttp.ClientSession() as session:
        server.hang = True
        client = CerboClient(session, "127.0.0.1", server.port, timeout=0.05)
        with pytest.raises(CerboTimeoutError):
            await client.health()


@pytest.mark.usefixtures("socket_enabled")
async def test_connection_refused() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with aiohttp.ClientSession() as session:
        client = CerboClient(session, "127.0.0.1", port)
        with pytest.raises(CerboConnectionError, match="refused the connection") as err:
            await client.health()
    assert err.value.kind == "refused"
    assert err.value.reason == "connection refused"


@pytest.mark.usefixtures("socket_enabled")
async def test_a_really_hung_server_fails_each_tick_in_real_time() -> None:
    """The simulator's Cerbo holds every D-Bus call on loopback; nothing is mocked or frozen.

    Each tick gives up after the client's timeout (short here) and counts one failure; the
    first tick after the server answers again succeeds with the published values.
    """
    model = SimulatedInstallation(datetime(2026, 4, 15, 10, tzinfo=UTC), speed=0, seed=1)
    server = TestServer(create_local_app(model), host="127.0.0.1")
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as session:
            client = CerboClient(session, "127.0.0.1", server.port, timeout=0.2)
            poller = CerboPoller(client, fast_interval=10)
            await poller.poll()
            model.faults.add({"target": "local", "kind": "hang", "seconds": 60}, model.timestamp())
            for failure in (1, 2, 3):
                with pytest.raises(CerboTimeoutError, match=r"No answer to /value within 0.2 s"):
                    await poller.poll()
                assert poller.health.consecutive_failures == failure
                assert poller.health.last_error_reason == "timeout"
            model.faults.clear()  # the server answers again (and lets the held calls go)
            snapshot = await poller.poll()
            assert snapshot.health.consecutive_failures == 0
            assert snapshot.system.soc == model.observe().services[SYSTEM]["Dc/Battery/Soc"]
    finally:
        await server.close()


@pytest.mark.usefixtures("socket_enabled")
async def test_unknown_host_name() -> None:
    # ".invalid" never resolves (RFC 2606); the resolver answers at once, offline too.
    async with aiohttp.ClientSession() as session:
        client = CerboClient(session, "cerbo.invalid", 8088)
        with pytest.raises(CerboConnectionError, match=r"Cannot resolve cerbo\.invalid") as err:
            await client.health()
    assert err.value.kind == "unknown_host"
    assert err.value.reason == "unknown host name"


# --- parsing -------------------------------------------------------------------------------


def test_system_reading() -> None:
    system = CerboSystem.from_root(root_of("system.json"))
    assert system.portal_id == PORTAL_ID
    assert system.system_type == "ESS"
    assert system.state == 256
    assert system.state_name == "discharging"  # not "Idle", as the repo's docs claim
    assert system.soc == 81.0
    assert system.voltage == 49.8
    assert system.current == -0.9
    assert system.power == -44.0
    assert system.temperature == 30.7
    assert system.battery_state_name == "discharging"
    assert system.consumed_ah is None
    assert system.time_to_go is None
    assert system.battery_service == VIRTUAL
    assert system.grid_power == 167.0
    assert (system.grid_l1_power, system.grid_l2_power, system.grid_l3_power) == (167.0, None, None)
    assert system.consumption_power == 148.0
    assert system.dc_pv_power is None
    assert system.ac_pv_power is None
    assert system.pv_power is None
    assert system.genset_power is None
    assert system.vebus_dc_power == 31.0
    assert system.active_input_name == "grid"
    assert system.active_soc_limit == 40.0
    assert system.ess_state == 10
    assert system.dvcc is True
    assert system.low_soc is False
    assert system.dynamic_ess_active == 1
    assert system.dynamic_ess_target_soc == 82.0


def test_system_pv_and_phases_add_up() -> None:
    root = root_of("system.json") | {
        "Dc/Pv/Power": 812.4000244140625,
        "Ac/PvOnGrid/L1/Power": 1200,
        "Ac/PvOnOutput/L2/Power": 300.5,
        "Ac/Grid/L2/Power": -50.0,
        "Ac/Grid/L3/Power": 10.2,
        "Dc/Battery/TimeToGo": 184800.0,
        "Dc/Battery/ConsumedAmphours": -0.04,
        "SystemState/State": 9999,
    }
    system = CerboSystem.from_root(root)
    assert system.dc_pv_power == 812.0
    assert system.ac_pv_power == 1500.0
    assert system.pv_power == 2312.0
    assert system.grid_power == 127.0
    assert system.time_to_go == 184800
    assert system.consumed_ah == 0.0  # no "-0.0"
    assert system.state_name is None  # unknown codes stay unnamed


def test_out_of_range_numbers_become_none() -> None:
    system = CerboSystem.from_root(
        {
            "Dc/Battery/Soc": 10**400,
            "Dc/Battery/Voltage": float("nan"),
            "Dc/Battery/State": 1e300,
            "Dc/Battery/TimeToGo": 2**65,
            "SystemState/State": 2**64,
        }
    )
    assert (system.soc, system.voltage, system.battery_state) == (None, None, None)
    assert (system.time_to_go, system.state) == (None, 2**64)


def test_system_wrong_types_become_none() -> None:
    system = CerboSystem.from_root(root_of("system_wrong_types.json"))
    assert system.portal_id == PORTAL_ID
    assert system.active_input_source == 1  # 1.0 is a whole number
    for name in (
        "system_type",
        "state",
        "soc",
        "voltage",
        "current",
        "power",
        "battery_state",
        "time_to_go",
        "battery_service",
        "grid_power",
        "dvcc",
        "low_soc",
        "ess_state",
    ):
        assert getattr(system, name) is None, name


def test_pylontech_reading() -> None:
    battery = CerboBattery.from_root(PYLONTECH, root_of("battery_pylontech.json"))
    assert battery.instance == 512
    assert battery.name == "8kWh"
    assert battery.product_name == "Pylontech battery"
    assert battery.connected is True
    assert (battery.soc, battery.soh) == (81.0, 99.0)
    assert (battery.voltage, battery.current, battery.power) == (49.8, -0.9, -44.0)
    assert battery.temperature == 30.7
    assert battery.installed_capacity == 174.0
    assert (battery.min_cell_voltage, battery.max_cell_voltage) == (3.318, 3.323)
    assert battery.cell_voltage_spread == 0.005
    assert (battery.min_cell_voltage_id, battery.max_cell_voltage_id) == ("0101", "0101")
    assert (battery.min_cell_temperature, battery.max_cell_temperature) == (30.0, 31.0)
    assert (battery.modules_online, battery.modules_offline) == (2, 0)
    assert (battery.modules_blocking_charge, battery.modules_blocking_discharge) == (0, 0)
    assert (battery.allow_to_charge, battery.allow_to_discharge) == (True, True)
    assert (battery.max_charge_voltage, battery.max_charge_current) == (52.5, 117.0)
    assert (battery.max_discharge_current, battery.low_voltage) == (117.0, 45.0)
    assert len(battery.alarms) == 12
    assert set(battery.alarms.values()) == {0}
    assert list(battery.alarms)[:2] == ["CellImbalance", "ChargeBlocked"]  # sorted
    assert battery.highest_alarm == 0
    assert battery.state_name is None
    assert battery.charge_cycles is None


def test_lynx_reading() -> None:
    battery = CerboBattery.from_root(LYNX, root_of("battery_lynx.json"))
    assert battery.name == "Lynx Smart BMS 500"
    assert battery.state_name == "running"
    assert battery.error_code == 0
    assert battery.soc == 66.4
    assert battery.temperature is None
    assert battery.consumed_ah == -399.8
    assert battery.time_to_go == 184800
    assert battery.capacity == 1180.0
    assert battery.charge_cycles == 152
    assert battery.full_discharges == 0
    assert (battery.charged_energy, battery.discharged_energy) == (9432.39, 9179.88)
    assert (battery.history_min_voltage, battery.history_max_voltage) == (50.6, 64.06)
    assert battery.time_since_last_full_charge == 1181666
    assert battery.alarms == {"HighTemperature": 0, "LowCellVoltage": 0, "LowSoc": 0}


def test_battery_without_alarms() -> None:
    battery = CerboBattery.from_root(VIRTUAL, root_of("battery_virtual.json"))
    assert battery.alarms == {}
    assert battery.highest_alarm is None
    assert battery.name == "Virtual"


def test_vebus_reading() -> None:
    vebus = CerboVebus.from_root(VEBUS, root_of("vebus.json"))
    assert vebus.name == "MULTI_II"
    assert vebus.instance == 276
    assert (vebus.mode, vebus.mode_name) == (3, "on")  # not "Passthrough"
    assert (vebus.state, vebus.state_name) == (3, "bulk")
    assert vebus.charge_state_name == "bulk"
    assert vebus.error is None
    assert vebus.soc == 81.0
    assert (vebus.ac_in_voltage, vebus.ac_in_current, vebus.ac_in_frequency) == (225.0, 1.0, 50.1)
    assert vebus.ac_in_power == 159.0
    assert vebus.ac_in_connected is True
    assert vebus.active_input == 0
    assert vebus.ac_in_current_limit == 16.0
    assert (vebus.ac_out_voltage, vebus.ac_out_current, vebus.ac_out_frequency) == (
        225.0,
        2.2,
        49.95,
    )
    assert vebus.ac_out_power == 149.0  # no Ac/Out/P: the phases are added up
    assert vebus.nominal_inverter_power == 2500.0
    assert (vebus.dc_voltage, vebus.dc_current, vebus.dc_temperature) == (49.66, -0.7, None)
    assert vebus.alarms["GridLost"] == 0
    assert "BmsPreAlarm" not in vebus.alarms
    assert vebus.energy == {"AcIn1ToAcOut": 152.4, "AcIn1ToInverter": 64.6, "InverterToAcOut": 13.9}


def test_vebus_grid_lost_and_total_power() -> None:
    root = root_of("vebus.json") | {"Alarms/GridLost": 2, "Ac/Out/P": 1490.0, "State": 9}
    vebus = CerboVebus.from_root(VEBUS, root)
    assert vebus.alarms["GridLost"] == 2  # sources.GridStatus judges it
    assert vebus.ac_out_power == 1490.0
    assert vebus.state_name == "inverting"
    assert "GridLost" not in CerboVebus.from_root(VEBUS, {}).alarms


def test_platform_reading() -> None:
    platform = CerboPlatform.from_root(root_of("platform.json"))
    assert platform.model == "Cerbo GX"
    assert platform.hq_serial == "HQ2308C9WMH"
    assert platform.unique_id == PORTAL_ID
    assert (platform.firmware_version, platform.firmware_available) == ("v3.70~33", "v3.70~50")
    assert platform.firmware_build == "20250909064940"
    assert platform.wifi_signal == 70
    assert platform.data_partition_free == 4243677184
    assert (platform.active_alarms, platform.active_warnings) == (0, 0)
    assert (platform.notifications_active, platform.unacknowledged_alarms) == (0, 0)
    assert platform.alarm is False
    assert platform.can_interfaces == (
        CerboCanStats(
            interface="can0",
            state="ERROR-ACTIVE",
            bitrate=500000,
            tx_error_counter=0,
            rx_error_counter=0,
            bus_off=0,
            error_passive=0,
            error_warning=0,
            rx_packets=26137134,
            tx_packets=7467428,
            rx_errors=0,
            tx_errors=649,
            rx_dropped=0,
            tx_dropped=0,
            rx_over_errors=0,
        ),
    )  # can1 is [] (invalid) and is skipped


@pytest.mark.parametrize(
    "raw",
    ["{not json", "42", "[]", "[42]", 17, None, '{"linkinfo": "x"}'],
)
def test_can_statistics_garbage(raw: Any) -> None:
    stats = CerboCanStats.from_statistics("can0", raw)
    assert stats is None or stats == CerboCanStats(interface="can0")


def test_can_statistics_as_a_decoded_object() -> None:
    stats = CerboCanStats.from_statistics("can1", {"linkinfo": {"info_data": {"state": "BUS-OFF"}}})
    assert stats == CerboCanStats(interface="can1", state="BUS-OFF")


def test_temperature_readings() -> None:
    first = CerboTemperature.from_root(TEMP_5, root_of("temperature_5.json"))
    assert first.name == "Вхід теплоносія"  # the server escapes non-ASCII as \uXXXX
    assert first.instance == 27
    assert first.temperature == 35.9
    assert first.status_name == "ok"
    assert first.type_name == "generic"
    assert first.connected is True
    assert first.humidity is None
    second = CerboTemperature.from_root(TEMP_6, root_of("temperature_6.json"))
    assert second.name == "Generic Temperature Input"
    assert second.temperature == 64.8
    assert second.type_name == "battery"


_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**400), max_value=10**400)
    | st.floats()
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
_KEYS = sorted(
    {
        *root_of("system.json"),
        *root_of("battery_pylontech.json"),
        *root_of("battery_lynx.json"),
        *root_of("vebus.json"),
        *root_of("platform.json"),
        *root_of("temperature_5.json"),
        "Ac/Out/P",
        "Dc/Pv/Power",
        "Alarms/L1/Overload",
    }
)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.dictionaries(st.sampled_from(_KEYS), _JSON, max_size=30))
def test_any_untrusted_root_parses(root: dict[str, Any]) -> None:
    readings = [
        CerboSystem.from_root(root),
        CerboBattery.from_root(PYLONTECH, root),
        CerboVebus.from_root(VEBUS, root),
        CerboPlatform.from_root(root),
        CerboTemperature.from_root(TEMP_5, root),
    ]
    for reading in readings:
        for name, value in vars(reading).items():
            if isinstance(value, float):
                assert value == value, name  # noqa: PLR0124 - NaN never gets through
                assert abs(value) != float("inf"), name
            assert not isinstance(value, list), name


# --- discovery -----------------------------------------------------------------------------


async def test_discover_reference_installation(client: CerboClient, cerbo: FakeCerbo) -> None:
    discovery = await client.discover()
    assert discovery == CerboDiscovery(
        portal_id=PORTAL_ID,
        name="Virtual",
        model="Cerbo GX",
        firmware="v3.70~33",
        battery_service=VIRTUAL,
        battery_instance=100,
        vebus_service=VEBUS,
        bms_service=PYLONTECH,
        temperature_services=(TEMP_5, TEMP_6),
        platform_service=PLATFORM,
        services=tuple(json.loads(fixture_text("services.json"))["services"]),
    )
    assert cerbo.counts() == {"/services": 1, SYSTEM: 1, PLATFORM: 1}


async def test_discover_reuses_roots_it_is_given(client: CerboClient, cerbo: FakeCerbo) -> None:
    discovery = await client.discover(system_root=root_of("system.json"), platform_root={})
    assert discovery.model is None
    assert discovery.firmware is None
    assert cerbo.counts() == {"/services": 1}


async def test_discover_pylontech_as_monitor_and_bms(client: CerboClient, cerbo: FakeCerbo) -> None:
    cerbo.set_root(
        SYSTEM,
        root_of("system.json")
        | {
            "Dc/Battery/BatteryService": PYLONTECH,
            "ActiveBatteryService": "com.victronenergy.battery/512",
            "Batteries": [],
        },
    )
    discovery = await client.discover()
    assert (discovery.battery_service, discovery.battery_instance) == (PYLONTECH, 512)
    assert discovery.bms_service is None  # same service: read once, on the fast tier
    assert discovery.name == "8kWh"  # from AvailableBatteryServices


async def test_discover_battery_from_the_batteries_list(
    client: CerboClient, cerbo: FakeCerbo
) -> None:
    batteries = [
        {"id": PYLONTECH, "instance": 512},
        {"id": "com.victronenergy.vebus.ttyS4", "instance": 100},
        {"id": "com.victronenergy.battery.gone", "instance": 100},
        *root_of("system.json")["Batteries"],
    ]
    cerbo.set_root(
        SYSTEM,
        root_of("system.json") | {"Dc/Battery/BatteryService": [], "Batteries": batteries},
    )
    discovery = await client.discover()
    assert (discovery.battery_service, discovery.battery_instance) == (VIRTUAL, 100)
    assert cerbo.counts() == {"/services": 1, SYSTEM: 1, PLATFORM: 1}


async def test_discover_battery_by_device_instance(client: CerboClient, cerbo: FakeCerbo) -> None:
    cerbo.set_root(
        SYSTEM,
        root_of("system.json")
        | {"Dc/Battery/BatteryService": [], "Batteries": [], "AvailableBatteryServices": []},
    )
    discovery = await client.discover()
    assert (discovery.battery_service, discovery.battery_instance) == (VIRTUAL, 100)
    assert discovery.name is None
    # socketcan_can0 (512) is read and rejected, then the virtual battery (100) matches
    assert cerbo.counts() == {"/services": 1, SYSTEM: 1, PLATFORM: 1, PYLONTECH: 1, VIRTUAL: 1}


async def test_discover_instance_without_matching_service(
    client: CerboClient, cerbo: FakeCerbo
) -> None:
    cerbo.set_root(
        SYSTEM,
        root_of("system.json")
        | {
            "Dc/Battery/BatteryService": [],
            "Batteries": [],
            "ActiveBatteryService": "com.victronenergy.battery/7",
        },
    )
    cerbo.roots[PYLONTECH] = NOT_FOUND_404
    discovery = await client.discover()
    assert (discovery.battery_service, discovery.battery_instance) == (None, 7)


@pytest.mark.parametrize(
    "active",
    [
        "nobattery",
        "default",
        [],
        512,
        "com.victronenergy.battery/x",
        "com.victronenergy.battery/\N{SUPERSCRIPT TWO}",  # a digit to str.isdigit, not to int()
        "com.victronenergy.battery/" + "9" * 5000,  # beyond int()'s digit limit
    ],
)
async def test_discover_without_a_battery_monitor(
    client: CerboClient, cerbo: FakeCerbo, active: Any
) -> None:
    cerbo.set_root(
        SYSTEM,
        root_of("system.json")
        | {"Dc/Battery/BatteryService": [], "Batteries": [], "ActiveBatteryService": active},
    )
    discovery = await client.discover()
    assert (discovery.battery_service, discovery.battery_instance) == (None, None)
    assert cerbo.counts() == {"/services": 1, SYSTEM: 1, PLATFORM: 1}


async def test_discover_battery_instance_from_active_service(
    client: CerboClient, cerbo: FakeCerbo
) -> None:
    cerbo.set_root(SYSTEM, root_of("system.json") | {"Batteries": "garbage"})
    discovery = await client.discover()
    assert (discovery.battery_service, discovery.battery_instance) == (VIRTUAL, 100)
    assert discovery.name == "Virtual"  # from AvailableBatteryServices


async def test_discover_wrong_types_fall_back(client: CerboClient, cerbo: FakeCerbo) -> None:
    cerbo.roots[SYSTEM] = Reply.fixture("system_wrong_types.json")
    discovery = await client.discover()
    assert discovery.portal_id == PORTAL_ID
    assert discovery.battery_service is None
    assert discovery.vebus_service == VEBUS  # the first vebus in /services
    assert discovery.bms_service is None
    assert discovery.name is None


async def test_discover_portal_id_from_platform(client: CerboClient, cerbo: FakeCerbo) -> None:
    cerbo.set_root(SYSTEM, root_of("system.json") | {"Serial": []})
    assert (await client.discover()).portal_id == PORTAL_ID


@pytest.mark.parametrize("serial", [[], "", "c0619ab4e53f; rm -rf /", 42])
async def test_discover_needs_a_portal_id(
    client: CerboClient, cerbo: FakeCerbo, serial: Any
) -> None:
    cerbo.set_root(SYSTEM, root_of("system.json") | {"Serial": serial})
    cerbo.roots[PLATFORM] = NOT_FOUND_404
    with pytest.raises(CerboResponseError, match="portal ID"):
        await client.discover()


async def test_discover_without_platform_or_vebus(client: CerboClient, cerbo: FakeCerbo) -> None:
    cerbo.services = Reply(text=json.dumps({"services": [SYSTEM, VIRTUAL], "count": 2}))
    cerbo.set_root(SYSTEM, root_of("system.json") | {"VebusService": []})
    discovery = await client.discover()
    assert discovery.platform_service is None
    assert discovery.vebus_service is None
    assert discovery.temperature_services == ()
    assert cerbo.counts() == {"/services": 1, SYSTEM: 1}


async def test_discover_caps_temperature_services(client: CerboClient, cerbo: FakeCerbo) -> None:
    names = [f"com.victronenergy.temperature.ruuvi_{index:02}" for index in range(12)]
    cerbo.services = Reply(text=json.dumps({"services": [SYSTEM, *names], "count": 13}))
    discovery = await client.discover()
    assert discovery.temperature_services == tuple(names[:MAX_TEMPERATURE_SERVICES])


async def test_discover_fails_without_services_or_system(
    client: CerboClient, cerbo: FakeCerbo
) -> None:
    cerbo.services = Reply.fixture("services_empty.json")
    with pytest.raises(CerboResponseError, match="no Victron services"):
        await client.discover()
    cerbo.services = Reply.fixture("services.json")
    cerbo.roots[SYSTEM] = NOT_FOUND_404
    with pytest.raises(CerboResponseError, match="The system service answered HTTP 404") as err:
        await client.discover()
    assert (err.value.kind, err.value.reason) == ("http_status", "HTTP 404")
    cerbo.roots[SYSTEM] = Reply.fixture("value_success_false.json", status=200)
    with pytest.raises(CerboResponseError, match="The system service gave no value") as err:
        await client.discover()
    assert (err.value.kind, err.value.reason) == ("no_value", "no value")


# --- tiered polling ------------------------------------------------------------------------


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def poller(client: CerboClient, clock: FakeClock) -> CerboPoller:
    return CerboPoller(client, fast_interval=10, clock=clock)


async def ticks(poller: CerboPoller, clock: FakeClock, count: int) -> list[CerboSnapshot]:
    """Run `count` fast ticks, 10 s apart."""
    snapshots = []
    for _ in range(count):
        clock.now += 10
        snapshots.append(await poller.poll())
    return snapshots


def per_tick(cerbo: FakeCerbo) -> list[list[str]]:
    """The request log split at each system read (one tick each)."""
    split: list[list[str]] = []
    for path, service in cerbo.log:
        if service == SYSTEM:
            split.append([])
        split[-1].append(service or path)
    return split


async def test_setup_then_one_full_cycle(poller: CerboPoller, cerbo: FakeCerbo) -> None:
    discovery = await poller.setup()
    assert poller.discovery is discovery
    assert poller.server is not None
    assert poller.server.version == "3.2.0"
    assert cerbo.counts() == {"/health": 1, SYSTEM: 1, PLATFORM: 1, "/services": 1}
    cerbo.reset()
    snapshot = await poller.poll()
    # system and platform were read by setup and are not read again
    assert cerbo.counts() == {VIRTUAL: 1, PYLONTECH: 1, VEBUS: 1, TEMP_5: 1, TEMP_6: 1}
    assert snapshot.discovery is discovery
    assert snapshot.system.soc == 81.0
    assert snapshot.battery is not None
    assert snapshot.battery.service == VIRTUAL
    assert snapshot.bms is not None
    assert snapshot.bms.cell_voltage_spread == 0.005
    assert snapshot.vebus is not None
    assert snapshot.vebus.mode_name == "on"
    assert snapshot.platform is not None
    assert snapshot.platform.model == "Cerbo GX"
    assert [temp.service for temp in snapshot.temperatures] == [TEMP_5, TEMP_6]
    assert snapshot.health.reachable is True
    assert snapshot.health.consecutive_failures == 0
    assert snapshot.health.server_version == "3.2.0"
    assert snapshot.health.last_success is not None


async def test_poll_sets_up_on_its_own(poller: CerboPoller, cerbo: FakeCerbo) -> None:
    snapshot = await poller.poll()
    assert snapshot.battery is not None
    assert cerbo.counts()[SYSTEM] == 1


async def test_tiers_per_minute(poller: CerboPoller, clock: FakeClock, cerbo: FakeCerbo) -> None:
    await poller.poll()
    for _minute in range(3):
        cerbo.reset()
        await ticks(poller, clock, 6)
        assert cerbo.counts() == {
            SYSTEM: 6,
            VIRTUAL: 6,
            VEBUS: 2,
            PYLONTECH: 1,
            PLATFORM: 1,
            TEMP_5: 1,
            TEMP_6: 1,
        }
        # every tick: the two fast roots first, then at most one slower root
        assert all(tick[:2] == [SYSTEM, VIRTUAL] and len(tick) == 3 for tick in per_tick(cerbo))
    assert cerbo.max_in_flight == 1


async def test_slow_tiers_wait_their_turn_at_a_long_interval(
    client: CerboClient, clock: FakeClock, cerbo: FakeCerbo
) -> None:
    poller = CerboPoller(client, fast_interval=60, clock=clock)
    await poller.poll()
    cerbo.reset()
    for _ in range(12):
        clock.now += 60
        await poller.poll()
    ticks_seen = per_tick(cerbo)
    # still one slower root per tick: the most overdue one, so none starves for long
    assert [tick[2:] for tick in ticks_seen] == [
        [VEBUS],
        [VEBUS],
        [PYLONTECH],
        [VEBUS],
        ["/services", "/health"],
        [PLATFORM],
        [PYLONTECH],
        [TEMP_5],
        [VEBUS],
        ["/services", "/health"],
        [TEMP_6],
        [PLATFORM],
    ]


async def test_rediscovery_every_five_minutes(
    poller: CerboPoller, clock: FakeClock, cerbo: FakeCerbo
) -> None:
    await poller.poll()
    cerbo.reset()
    await ticks(poller, clock, 29)
    assert "/services" not in cerbo.counts()
    cerbo.reset()
    await ticks(poller, clock, 1)
    assert per_tick(cerbo) == [[SYSTEM, VIRTUAL, "/services", "/health"]]
    cerbo.reset()
    await ticks(poller, clock, 30)
    assert cerbo.counts()["/services"] == 1


async def test_vanished_battery_keeps_data_then_drops_it(
    poller: CerboPoller, clock: FakeClock, cerbo: FakeCerbo
) -> None:
    first = await poller.poll()
    cerbo.roots[VIRTUAL] = NOT_FOUND_404
    cerbo.reset()
    second, third, fourth = await ticks(poller, clock, 3)
    assert second.battery == first.battery
    assert third.battery == first.battery
    assert fourth.battery is None
    assert fourth.health.last_error_kind == "http_status"
    assert fourth.health.last_error == f"{VIRTUAL} answered HTTP 404"
    assert fourth.health.last_error_reason == "HTTP 404"
    assert (second.monitor.present, fourth.monitor.present) == (True, False)
    assert fourth.health.consecutive_failures == 0  # the system root still answers
    assert "/services" not in cerbo.counts()  # discovery waits a minute after the last one
    cerbo.reset()
    await ticks(poller, clock, 3)
    assert per_tick(cerbo)[-1] == [SYSTEM, VIRTUAL, "/services", "/health"]


async def test_battery_change_is_not_adopted_for_the_monitor(
    poller: CerboPoller, clock: FakeClock, cerbo: FakeCerbo
) -> None:
    """The GX moving its system battery elsewhere does not make that device the monitor."""
    first = await poller.poll()
    assert first.monitor.service == VIRTUAL
    assert first.system_serves_monitor
    cerbo.roots[VIRTUAL] = NOT_FOUND_404
    cerbo.set_root(
        SYSTEM,
        root_of("system.json")
        | {
            "Dc/Battery/BatteryService": PYLONTECH,
            "ActiveBatteryService": "com.victronenergy.battery/512",
        },
    )
    await ticks(poller, clock, 5)
    cerbo.reset()
    (snapshot,) = await ticks(poller, clock, 1)
    assert per_tick(cerbo) == [[SYSTEM, VIRTUAL, "/services", "/health"]]
    assert snapshot.discovery.battery_service == PYLONTECH
    assert snapshot.battery is None
    assert snapshot.monitor.service == VIRTUAL
    assert snapshot.monitor.present is False
    assert snapshot.monitor.name == "Virtual (Virtual battery)"
    assert not snapshot.system_serves_monitor
    # The GX's values are another device's now: none pass for the monitor's.
    assert snapshot.monitor_value("soc") is None
    assert snapshot.monitor_state_name is None
    # It comes back: its own values at the next tick.
    cerbo.roots[VIRTUAL] = Reply.fixture("battery_virtual.json")
    cerbo.reset()
    (back,) = await ticks(poller, clock, 1)
    assert per_tick(cerbo)[0][:2] == [SYSTEM, VIRTUAL]  # a slower root may ride along
    assert back.monitor.present is True
    assert back.battery == first.battery
    assert back.monitor_value("soc") == first.battery.soc


async def test_battery_change_is_adopted_when_following(
    client: CerboClient, clock: FakeClock, cerbo: FakeCerbo
) -> None:
    poller = CerboPoller(client, fast_interval=10, clock=clock, follow_system_battery=True)
    await poller.poll()
    cerbo.roots[VIRTUAL] = NOT_FOUND_404
    cerbo.set_root(
        SYSTEM,
        root_of("system.json")
        | {
            "Dc/Battery/BatteryService": PYLONTECH,
            "ActiveBatteryService": "com.victronenergy.battery/512",
        },
    )
    await ticks(poller, clock, 5)
    cerbo.reset()
    (snapshot,) = await ticks(poller, clock, 1)
    assert per_tick(cerbo) == [[SYSTEM, VIRTUAL, "/services", "/health", PYLONTECH]]
    assert snapshot.discovery.battery_service == PYLONTECH
    assert snapshot.battery is not None
    assert snapshot.battery.instance == 512
    assert snapshot.bms is None
    cerbo.reset()
    await ticks(poller, clock, 1)
    assert per_tick(cerbo)[0][:2] == [SYSTEM, PYLONTECH]


async def test_new_battery_that_fails_at_once_does_not_fail_the_tick(
    client: CerboClient, clock: FakeClock, cerbo: FakeCerbo
) -> None:
    poller = CerboPoller(client, fast_interval=10, clock=clock, follow_system_battery=True)
    await poller.poll()
    cerbo.set_root(SYSTEM, root_of("system.json") | {"Dc/Battery/BatteryService": PYLONTECH})
    await ticks(poller, clock, 29)
    cerbo.roots[PYLONTECH] = Reply(exc=TimeoutError())
    (snapshot,) = await ticks(poller, clock, 1)  # the rediscovery tick adopts it
    assert snapshot.discovery.battery_service == PYLONTECH
    assert snapshot.battery is None
    assert snapshot.health.last_error_kind == "timeout"
    assert snapshot.health.reachable is True
    clock.now += 10
    with pytest.raises(CerboTimeoutError):  # from now on it is a fast root
        await poller.poll()


async def test_fast_failure_raises_and_counts(
    poller: CerboPoller, clock: FakeClock, cerbo: FakeCerbo
) -> None:
    await poller.poll()
    cerbo.roots[SYSTEM] = Reply(exc=TimeoutError())
    cerbo.reset()
    for expected in (1, 2):
        clock.now += 10
        with pytest.raises(CerboTimeoutError):
            await poller.poll()
        assert poller.health.consecutive_failures == expected
    assert poller.health.reachable is False
    assert poller.health.last_error_kind == "timeout"
    assert cerbo.counts() == {SYSTEM: 2}  # a hung server is not asked for the battery too
    cerbo.roots[SYSTEM] = Reply.fixture("system.json")
    (snapshot,) = await ticks(poller, clock, 1)
    assert snapshot.health.reachable is True
    assert snapshot.health.consecutive_failures == 0
    assert snapshot.health.last_error_kind == "timeout"  # the last error is remembered


@pytest.mark.parametrize(
    "case",
    [
        (SYSTEM, NOT_FOUND_404, "http_status"),
        (SYSTEM, Reply.fixture("router_login.html"), "response"),
        (VIRTUAL, Reply.fixture("truncated.txt"), "response"),
        (VIRTUAL, Reply(exc=aiohttp.ClientConnectionError()), "connection"),
    ],
)
async def test_fast_tier_errors(
    poller: CerboPoller, clock: FakeClock, cerbo: FakeCerbo, case: tuple[str, Reply, str]
) -> None:
    service, reply, kind = case
    await poller.poll()
    cerbo.roots[service] = reply
    clock.now += 10
    with pytest.raises(CerboError) as err:
        await poller.poll()
    assert err.value.kind == kind
    assert poller.health.last_error_kind == kind


def test_back_off_is_capped_however_long_a_root_hangs() -> None:
    assert backoff_delay(30, 1) == 60
    assert backoff_delay(30, 2) == 120
    assert backoff_delay(30, 5000) == MAX_BACKOFF  # a week of misses; no OverflowError


async def test_hung_slow_root_backs_off(
    poller: CerboPoller, clock: FakeClock, cerbo: FakeCerbo
) -> None:
    first = await poller.poll()
    cerbo.roots[VEBUS] = Reply(exc=TimeoutError())
    cerbo.reset()
    snapshots = await ticks(poller, clock, 18)  # three minutes
    attempts = [index for index, tick in enumerate(per_tick(cerbo)) if VEBUS in tick]
    # due at +10 s, then backed off by 60 s and 120 s instead of every 30 s
    assert attempts == [0, 6]
    assert snapshots[-1].vebus == first.vebus  # two misses keep the last good reading
    assert snapshots[-1].health.last_error_kind == "timeout"
    await ticks(poller, clock, 6)
    assert [index for index, tick in enumerate(per_tick(cerbo)) if VEBUS in tick] == [0, 6, 18]
    assert poller.health.consecutive_failures == 0
    snapshot = (await ticks(poller, clock, 1))[0]
    assert snapshot.vebus is None  # third miss: dropped


async def test_first_cycle_stops_at_a_hung_root(
    poller: CerboPoller, clock: FakeClock, cerbo: FakeCerbo
) -> None:
    cerbo.roots[PYLONTECH] = Reply(exc=TimeoutError())
    snapshot = await poller.poll()
    # vebus answered, the BMS hung: nothing more is asked of a server that is still stuck
    assert cerbo.counts() == {
        "/health": 1,
        SYSTEM: 1,
        PLATFORM: 1,
        "/services": 1,
        VIRTUAL: 1,
        VEBUS: 1,
        PYLONTECH: 1,
    }
    assert snapshot.vebus is not None
    assert snapshot.bms is None
    assert snapshot.temperatures == ()
    assert snapshot.health.last_error_kind == "timeout"
    cerbo.roots[PYLONTECH] = Reply.fixture("battery_pylontech.json")
    cerbo.reset()
    await ticks(poller, clock, 6)
    # the hung BMS waits out its back-off (2 x 60 s); the rest comes in the staggered order
    assert [tick[2:] for tick in per_tick(cerbo)] == [
        [VEBUS],
        [PLATFORM],
        [TEMP_5],
        [VEBUS],
        [TEMP_6],
        ["/services", "/health"],
    ]


async def test_slow_root_no_value_or_garbage(
    poller: CerboPoller, clock: FakeClock, cerbo: FakeCerbo
) -> None:
    first = await poller.poll()
    cerbo.roots[VEBUS] = Reply.fixture("router_login.html")
    cerbo.roots[TEMP_6] = NOT_FOUND_404
    cerbo.reset()
    snapshots = await ticks(poller, clock, 12)
    assert snapshots[0].vebus == first.vebus  # one miss: kept
    assert snapshots[-1].vebus is None  # three misses: dropped
    assert [temp.service for temp in snapshots[-1].temperatures] == [TEMP_5, TEMP_6]
    assert snapshots[6].health.last_error_reason == "HTTP 404"  # +70 s: the sensor's 404
    assert snapshots[-1].health.last_error_kind == "response"  # +110 s: the HTML page
    # garbage is not a hang, so no back-off; the misses asked for rediscoveries a minute apart
    assert cerbo.counts() == {
        SYSTEM: 12,
        VIRTUAL: 12,
        VEBUS: 4,
        PYLONTECH: 2,
        PLATFORM: 2,
        TEMP_5: 1,
        TEMP_6: 1,
        "/services": 2,
        "/health": 2,
    }


async def test_vanished_sensor_is_dropped_by_rediscovery(
    poller: CerboPoller, clock: FakeClock, cerbo: FakeCerbo
) -> None:
    await poller.poll()
    services = list(json.loads(fixture_text("services.json"))["services"])
    services.remove(TEMP_6)
    services.append("com.victronenergy.temperature.ruuvi_c0ffee")
    cerbo.services = Reply(text=json.dumps({"services": services, "count": len(services)}))
    cerbo.set_root("com.victronenergy.temperature.ruuvi_c0ffee", {"Temperature": 21.04})
    snapshots = await ticks(poller, clock, 31)
    assert [temp.service for temp in snapshots[-1].temperatures] == [
        TEMP_5,
        "com.victronenergy.temperature.ruuvi_c0ffee",
    ]
    assert snapshots[-1].temperatures[1].temperature == 21.0


async def test_failed_rediscovery_is_retried_a_minute_later(
    poller: CerboPoller, clock: FakeClock, cerbo: FakeCerbo
) -> None:
    first = await poller.poll()
    cerbo.services = Reply.fixture("services_empty.json")
    await ticks(poller, clock, 30)
    assert poller.health.last_error_kind == "no_services"
    cerbo.reset()
    snapshots = await ticks(poller, clock, 6)
    assert cerbo.counts()["/services"] == 1
    assert snapshots[-1].discovery == first.discovery


async def test_wrong_device_is_refused(
    poller: CerboPoller, clock: FakeClock, cerbo: FakeCerbo
) -> None:
    await poller.poll()
    cerbo.set_root(SYSTEM, root_of("system.json") | {"Serial": "0123456789ab"})
    clock.now += 10
    with pytest.raises(CerboResponseError, match="different GX") as err:
        await poller.poll()
    assert err.value.kind == "wrong_device"


async def test_expected_portal_id_at_setup(client: CerboClient, cerbo: FakeCerbo) -> None:
    poller = CerboPoller(client, expected_portal_id="0123456789ab")
    with pytest.raises(CerboResponseError) as err:
        await poller.setup()
    assert err.value.kind == "wrong_device"
    assert poller.health.last_error_kind == "wrong_device"
    assert poller.discovery is None


async def test_setup_needs_the_system_service(poller: CerboPoller, cerbo: FakeCerbo) -> None:
    cerbo.roots[SYSTEM] = LEGACY_500
    with pytest.raises(CerboResponseError, match="The system service answered HTTP 500"):
        await poller.setup()


async def test_no_battery_monitor_means_one_fast_request(
    poller: CerboPoller, clock: FakeClock, cerbo: FakeCerbo
) -> None:
    cerbo.set_root(
        SYSTEM,
        root_of("system.json")
        | {
            "Dc/Battery/BatteryService": [],
            "ActiveBatteryService": "nobattery",
            "ActiveBmsService": [],
        },
    )
    snapshot = await poller.poll()
    assert snapshot.battery is None
    assert snapshot.bms is None
    cerbo.reset()
    await ticks(poller, clock, 6)
    assert cerbo.counts() == {SYSTEM: 6, VEBUS: 2, PLATFORM: 1, TEMP_5: 1, TEMP_6: 1}


async def test_platform_missing_at_setup_is_read_in_the_first_cycle(
    poller: CerboPoller, cerbo: FakeCerbo
) -> None:
    cerbo.roots[PLATFORM] = NOT_FOUND_404
    await poller.setup()
    cerbo.roots[PLATFORM] = Reply.fixture("platform.json")
    snapshot = await poller.poll()
    assert snapshot.platform is not None
    assert snapshot.discovery.model is None  # discovery had no platform root
    assert cerbo.counts()[PLATFORM] == 2


async def test_installation_without_platform_or_inverter(
    poller: CerboPoller, clock: FakeClock, cerbo: FakeCerbo
) -> None:
    cerbo.services = Reply(text=json.dumps({"services": [SYSTEM, VIRTUAL], "count": 2}))
    cerbo.set_root(
        SYSTEM,
        root_of("system.json") | {"Serial": [], "VebusService": [], "ActiveBmsService": []},
    )
    cerbo.roots[PLATFORM] = Reply.fixture("platform.json")  # not listed, but answers
    snapshot = await poller.poll()
    assert snapshot.discovery.portal_id == PORTAL_ID  # from the platform's UniqueId
    assert snapshot.discovery.platform_service is None
    assert (snapshot.vebus, snapshot.platform, snapshot.bms) == (None, None, None)
    cerbo.reset()
    await ticks(poller, clock, 6)
    assert cerbo.counts() == {SYSTEM: 6, VIRTUAL: 6}


async def test_snapshots_compare_without_the_timestamp(
    poller: CerboPoller, clock: FakeClock
) -> None:
    await poller.poll()
    first, second = await ticks(poller, clock, 2)
    assert first.health.last_success is not None
    assert first == second
