"""The local DBus HTTP API client on plain aiohttp: requests, fault handling and discovery."""

from __future__ import annotations

import asyncio
import json
import socket
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
import pytest_socket
from aiohttp.test_utils import TestServer

from custom_components.victron_cerbo.api.cerbo import (
    DEFAULT_PORT,
    MAX_BODY_BYTES,
    MAX_TEMPERATURE_SERVICES,
    PAYLOAD_KEEP_CHARS,
    CerboBattery,
    CerboClient,
    CerboConnectionError,
    CerboDiscovery,
    CerboError,
    CerboPoller,
    CerboResponseError,
    CerboServerInfo,
    CerboTimeoutError,
)
from dev.simulator import SimulatedInstallation, create_local_app

from .conftest import TIMEOUT
from .fakes import (
    LEGACY_500,
    NOT_FOUND_404,
    PLATFORM,
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
    url = cerbo.requests[0].url
    assert url.path == "/value"
    assert sorted(url.raw_query_string.split("&")) == ["path=/", f"service={SYSTEM}"]


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
        Reply(text='{"service": "x", "path": "/", "value": NaN, "success": true}'),
        Reply(text='{"service": "x", "path": "/", "value": {"Soc": 1}, "success": false}'),
    ],
    ids=[
        "404-v3.2",
        "500-legacy",
        "400",
        "502-html",
        "value-invalid",
        "success-false",
        "null",
        "nan",
        "tree-but-success-false",
    ],
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
    ("reply", "error", "kind"),
    [
        (Reply(drop="reset"), CerboConnectionError, "connection"),
        (Reply(hang=True), CerboTimeoutError, "timeout"),
    ],
    ids=["connection-reset", "hang"],
)
async def test_transport_errors(
    client: CerboClient,
    cerbo: FakeCerbo,
    reply: Reply,
    error: type[CerboError],
    kind: str,
) -> None:
    cerbo.roots[SYSTEM] = reply
    with pytest.raises(error) as err:
        await client.service_root(SYSTEM)
    assert err.value.kind == kind
    assert isinstance(err.value, CerboConnectionError)


async def test_hung_request_times_out_and_frees_the_lock(
    client: CerboClient, cerbo: FakeCerbo
) -> None:
    cerbo.roots[SYSTEM] = Reply(hang=True)
    with pytest.raises(CerboTimeoutError, match=rf"within {TIMEOUT:g} s"):
        await client.service_root(SYSTEM)
    assert await client.service_root(VEBUS) is not None


async def test_one_request_in_flight(client: CerboClient, cerbo: FakeCerbo) -> None:
    cerbo.gate = asyncio.Event()
    tasks = [
        asyncio.create_task(client.service_root(service)) for service in (SYSTEM, VEBUS, TEMP_5)
    ]
    await cerbo.arrived.wait()
    for _ in range(20):  # room for a second request, were one sent
        await asyncio.sleep(0)
    assert cerbo.in_flight == 1
    cerbo.gate.set()
    results = await asyncio.gather(*tasks)
    assert all(result is not None for result in results)
    assert cerbo.max_in_flight == 1
    assert client.request_count == 3


@pytest.mark.parametrize("host", ["", "   ", "bad host", "cerbo/api", "http://cerbo.local", "[]"])
async def test_invalid_host_never_sends(
    session: aiohttp.ClientSession, cerbo: FakeCerbo, host: str
) -> None:
    client = CerboClient(session, host)
    with pytest.raises(CerboConnectionError, match="not a valid host"):
        await client.health()
    assert cerbo.log == []


async def test_bracketed_ipv6_host(session: aiohttp.ClientSession) -> None:
    # the test plugin allows 127.0.0.1 only, for every test anew; this one needs ::1 too
    pytest_socket.socket_allow_hosts(["127.0.0.1", "::1"])
    async with FakeCerbo(host="::1") as cerbo:
        client = CerboClient(session, " [::1] ", cerbo.port)
        assert client.host == "::1"
        assert (await client.health()).version == "3.2.0"
    assert cerbo.counts() == {"/health": 1}


async def test_only_get_requests_to_port_8088(
    session: aiohttp.ClientSession, client: CerboClient, cerbo: FakeCerbo
) -> None:
    assert CerboClient(session, "cerbo.local").port == DEFAULT_PORT == 8088
    await client.health()
    await client.discover()
    assert {request.method for request in cerbo.requests} == {"GET"}
    assert {request.url.path for request in cerbo.requests} == {"/health", "/services", "/value"}
    assert {request.body for request in cerbo.requests} == {b""}  # no body, ever


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


async def test_real_server_that_hangs() -> None:
    async with RawCerboServer() as server, aiohttp.ClientSession() as session:
        server.hang = True
        client = CerboClient(session, "127.0.0.1", server.port, timeout=0.05)
        with pytest.raises(CerboTimeoutError):
            await client.health()


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
            # short, yet long enough for a loaded CI machine to answer the recovery tick
            client = CerboClient(session, "127.0.0.1", server.port, timeout=1.0)
            poller = CerboPoller(client, fast_interval=10)
            await poller.poll()
            model.faults.add({"target": "local", "kind": "hang", "seconds": 60}, model.timestamp())
            for failure in (1, 2, 3):
                with pytest.raises(CerboTimeoutError, match=r"No answer to /value within 1 s"):
                    await poller.poll()
                assert poller.health.consecutive_failures == failure
                assert poller.health.last_error_reason == "timeout"
            model.faults.clear()  # the server answers again (and lets the held calls go)
            snapshot = await poller.poll()
            assert snapshot.health.consecutive_failures == 0
            assert snapshot.system.soc == model.observe().services[SYSTEM]["Dc/Battery/Soc"]
    finally:
        await server.close()


async def test_unknown_host_name() -> None:
    # ".invalid" never resolves (RFC 2606); the resolver answers at once, offline too.
    async with aiohttp.ClientSession() as session:
        client = CerboClient(session, "cerbo.invalid", 8088)
        with pytest.raises(CerboConnectionError, match=r"Cannot resolve cerbo\.invalid") as err:
            await client.health()
    assert err.value.kind == "unknown_host"
    assert err.value.reason == "unknown host name"


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
