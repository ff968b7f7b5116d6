"""The tiered poller of the local API: cadence, misses, back-off and re-discovery."""

from __future__ import annotations

import json

import pytest

from custom_components.victron_cerbo.api.cerbo import (
    MAX_BACKOFF,
    CerboClient,
    CerboError,
    CerboPoller,
    CerboResponseError,
    CerboSnapshot,
    CerboTimeoutError,
    backoff_delay,
)

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
    FakeClock,
    Reply,
    fixture_text,
    root_of,
)

# --- tiered polling ------------------------------------------------------------------------


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
    cerbo.roots[PYLONTECH] = Reply(hang=True)
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
    cerbo.roots[SYSTEM] = Reply(hang=True)
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
        (VIRTUAL, Reply(drop="reset"), "connection"),
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
    cerbo.roots[VEBUS] = Reply(hang=True)
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
    cerbo.roots[PYLONTECH] = Reply(hang=True)
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
