"""The local coordinator in a real Home Assistant: cadence, availability, errors, options."""

from __future__ import annotations

import itertools
import json
import logging
import re
from collections.abc import AsyncGenerator
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryNotReady
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.update_coordinator import UpdateFailed
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
)
from pytest_homeassistant_custom_component.test_util.aiohttp import AiohttpClientMocker

from custom_components.victron_cerbo.api.cerbo import CerboClient, CerboSnapshot
from custom_components.victron_cerbo.const import (
    CONF_HOST,
    CONF_LOCAL_FAST_INTERVAL,
    CONF_PORT,
    CONF_PORTAL_ID,
    DOMAIN,
    FAILURES_BEFORE_UNAVAILABLE,
)
from custom_components.victron_cerbo.local_coordinator import LocalCoordinator
from custom_components.victron_cerbo.options import fast_interval
from tests.helpers import (
    HOST,
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
    Reply,
    advance,
    make_entry,
    root_of,
    setup_entry,
)

TRANSLATIONS = (
    Path(__file__).parent.parent / "custom_components" / DOMAIN / "translations" / "en.json"
)
LOST = "Error fetching victron_cerbo local data"
BACK = "Fetching victron_cerbo local data recovered"


def refreshing_entry(
    hass: HomeAssistant,
    *,
    options: dict[str, Any] | None = None,
    data: dict[str, Any] | None = None,
) -> MockConfigEntry:
    """A local entry in the state in which its coordinators are first refreshed."""
    entry = make_entry(hass, {CONF_HOST: HOST, CONF_PORT: PORT, **(data or {})}, options)
    entry.mock_state(hass, ConfigEntryState.SETUP_IN_PROGRESS)
    return entry


def make_coordinator(hass: HomeAssistant, entry: MockConfigEntry) -> LocalCoordinator:
    client = CerboClient(
        async_get_clientsession(hass), entry.data[CONF_HOST], entry.data[CONF_PORT]
    )
    return LocalCoordinator(hass, entry, client)


def ours(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """Log records of this integration (asyncio's debug-mode notes about frozen time aside)."""
    return [
        record for record in caplog.records if record.name.startswith(f"custom_components.{DOMAIN}")
    ]


class Listener:
    """Records what the coordinator pushes to its entities."""

    def __init__(self, coordinator: LocalCoordinator) -> None:
        self.coordinator = coordinator
        self.updates: list[CerboSnapshot] = []
        self.unsubscribe = coordinator.async_add_listener(self._update)

    def _update(self) -> None:
        self.updates.append(self.coordinator.data)


@pytest.fixture
async def running(
    hass: HomeAssistant, cerbo: FakeCerbo, freezer: FrozenDateTimeFactory
) -> AsyncGenerator[Listener]:
    """A refreshed coordinator with a listener, so the interval timer runs."""
    coordinator = make_coordinator(hass, refreshing_entry(hass))
    await coordinator.async_config_entry_first_refresh()
    listener = Listener(coordinator)
    yield listener
    listener.unsubscribe()
    await coordinator.async_shutdown()


async def test_first_refresh_reads_every_root_once(
    hass: HomeAssistant, cerbo: FakeCerbo, freezer: FrozenDateTimeFactory
) -> None:
    entry = refreshing_entry(hass, data={CONF_PORTAL_ID: PORTAL_ID})
    coordinator = make_coordinator(hass, entry)
    await coordinator.async_config_entry_first_refresh()
    assert cerbo.counts() == {
        "/health": 1,
        SYSTEM: 1,
        PLATFORM: 1,
        "/services": 1,
        VIRTUAL: 1,
        PYLONTECH: 1,
        VEBUS: 1,
        TEMP_5: 1,
        TEMP_6: 1,
    }
    assert coordinator.config_entry is entry
    assert coordinator.always_update is False
    assert coordinator.update_interval == timedelta(seconds=10)
    assert coordinator.server is not None
    assert coordinator.server.version == "3.2.0"
    assert coordinator.discovery is not None
    assert coordinator.discovery.portal_id == PORTAL_ID
    data = coordinator.data
    assert data.discovery is coordinator.discovery
    assert data.system.voltage == 49.8
    assert data.battery is not None
    assert data.battery.name == "Virtual"
    assert data.bms is not None
    assert data.bms.max_cell_voltage == 3.323
    assert data.vebus is not None
    assert data.vebus.state_name == "bulk"
    assert data.platform is not None
    assert data.platform.firmware_version == "v3.70~33"
    assert len(data.temperatures) == 2
    assert data.health == coordinator.health
    assert data.health.reachable is True
    await coordinator.async_shutdown()


async def test_one_minute_of_ticks(
    hass: HomeAssistant, cerbo: FakeCerbo, freezer: FrozenDateTimeFactory, running: Listener
) -> None:
    cerbo.reset()
    for _ in range(6):
        await advance(hass, freezer, 10)
    assert cerbo.counts() == {
        SYSTEM: 6,
        VIRTUAL: 6,
        VEBUS: 2,
        PYLONTECH: 1,
        PLATFORM: 1,
        TEMP_5: 1,
        TEMP_6: 1,
    }
    assert cerbo.max_in_flight == 1
    cerbo.reset()
    for _ in range(24):
        await advance(hass, freezer, 10)
    assert cerbo.counts()["/services"] == 1  # re-discovery every 5 minutes
    assert cerbo.counts()["/health"] == 1


async def test_listeners_hear_only_changes(
    hass: HomeAssistant, cerbo: FakeCerbo, freezer: FrozenDateTimeFactory, running: Listener
) -> None:
    for _ in range(6):
        await advance(hass, freezer, 10)
    assert running.updates == []  # same readings; only the success timestamp moved
    cerbo.set_root(SYSTEM, root_of("system.json") | {"Dc/Battery/Soc": 80.6})
    await advance(hass, freezer, 10)
    assert len(running.updates) == 1
    assert running.updates[0].system.soc == 80.6


async def test_a_failed_tick_keeps_the_last_good_data(
    hass: HomeAssistant,
    cerbo: FakeCerbo,
    freezer: FrozenDateTimeFactory,
    running: Listener,
    caplog: pytest.LogCaptureFixture,
) -> None:
    coordinator = running.coordinator
    good = coordinator.data
    cerbo.roots[SYSTEM] = Reply.fixture("router_login.html")
    for expected in range(1, FAILURES_BEFORE_UNAVAILABLE):
        await advance(hass, freezer, 10)
        assert coordinator.last_update_success is True
        assert coordinator.data.system == good.system
        assert coordinator.data.battery == good.battery
        assert coordinator.data.health.consecutive_failures == expected
        assert coordinator.data.health.reachable is False
        assert coordinator.data.health.last_error_kind == "response"
    assert len(running.updates) == FAILURES_BEFORE_UNAVAILABLE - 1  # health changed each time
    cerbo.roots[SYSTEM] = Reply.fixture("system.json")
    await advance(hass, freezer, 10)
    assert coordinator.data.health.reachable is True
    assert coordinator.data.health.consecutive_failures == 0
    assert not [record for record in ours(caplog) if record.levelno >= logging.WARNING]


async def test_unavailable_after_three_failures_logged_once_each_way(
    hass: HomeAssistant,
    cerbo: FakeCerbo,
    freezer: FrozenDateTimeFactory,
    running: Listener,
    caplog: pytest.LogCaptureFixture,
) -> None:
    coordinator = running.coordinator
    good = coordinator.data
    cerbo.roots[SYSTEM] = Reply(exc=aiohttp.ClientConnectionError())
    cerbo.reset()
    for _ in range(6):
        await advance(hass, freezer, 10)
    assert coordinator.last_update_success is False
    assert coordinator.data.system == good.system  # never replaced by garbage
    assert coordinator.health.consecutive_failures == 6
    assert coordinator.health.reachable is False
    assert coordinator.health.last_error_kind == "connection"
    error = coordinator.last_exception
    assert isinstance(error, UpdateFailed)
    assert error.translation_domain == DOMAIN
    assert error.translation_key == "local_unavailable"
    assert error.translation_placeholders is not None
    assert error.translation_placeholders["failures"] == "6"
    assert error.translation_placeholders["host"] == HOST
    cerbo.roots[SYSTEM] = Reply.fixture("system.json")
    await advance(hass, freezer, 10)
    assert coordinator.last_update_success is True
    assert coordinator.health.consecutive_failures == 0
    messages = [record.getMessage() for record in ours(caplog)]
    assert sum(message.startswith(LOST) for message in messages) == 1
    assert sum(message.startswith(BACK) for message in messages) == 1
    warnings = [record for record in ours(caplog) if record.levelno >= logging.WARNING]
    assert len(warnings) == 1  # the "lost" line is the only one above INFO
    # the battery is not asked while the system fails, only on the tick that recovered
    assert cerbo.counts() == {SYSTEM: 7, VIRTUAL: 1, VEBUS: 1}


async def test_vanished_battery_becomes_none_but_entities_stay(
    hass: HomeAssistant, cerbo: FakeCerbo, freezer: FrozenDateTimeFactory, running: Listener
) -> None:
    coordinator = running.coordinator
    cerbo.roots[VIRTUAL] = NOT_FOUND_404
    for _ in range(3):
        await advance(hass, freezer, 10)
    assert coordinator.last_update_success is True
    assert coordinator.data.battery is None
    assert coordinator.data.system.soc == 81.0
    assert coordinator.data.health.last_error_reason == "HTTP 404"
    assert coordinator.data.monitor.present is False


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"health": Reply(exc=aiohttp.ClientConnectionError())}, "local_cannot_connect"),
        ({"health": Reply(exc=TimeoutError())}, "local_cannot_connect"),
        ({"health": Reply.fixture("router_login.html")}, "local_invalid_response"),
        ({"services": Reply.fixture("services_empty.json")}, "local_invalid_response"),
        ({"system": NOT_FOUND_404}, "local_invalid_response"),
        ({"battery": Reply(exc=TimeoutError())}, "local_cannot_connect"),
        ({"portal_id": "0123456789ab"}, "local_wrong_device"),
    ],
    ids=["refused", "timeout", "html", "no-services", "no-system", "first-poll", "wrong-gx"],
)
async def test_setup_failures_are_not_ready(
    hass: HomeAssistant, cerbo: FakeCerbo, change: dict[str, Any], key: str
) -> None:
    if "health" in change:
        cerbo.health = change["health"]
    if "services" in change:
        cerbo.services = change["services"]
    if "system" in change:
        cerbo.roots[SYSTEM] = change["system"]
    if "battery" in change:
        cerbo.roots[VIRTUAL] = change["battery"]
    entry = refreshing_entry(hass, data={CONF_PORTAL_ID: change.get("portal_id", PORTAL_ID)})
    coordinator = make_coordinator(hass, entry)
    with pytest.raises(ConfigEntryNotReady) as err:
        await coordinator.async_config_entry_first_refresh()
    cause = err.value.__cause__
    assert isinstance(cause, UpdateFailed)
    assert cause.translation_domain == DOMAIN
    assert cause.translation_key == key
    assert cause.translation_placeholders is not None
    assert cause.translation_placeholders["host"] == HOST
    assert coordinator.last_update_success is False


async def test_another_gx_at_the_address_says_so_at_once(
    hass: HomeAssistant, cerbo: FakeCerbo
) -> None:
    """A DHCP change that puts another GX at the host: never its data, and a clear reason."""
    entry = refreshing_entry(hass, data={CONF_PORTAL_ID: PORTAL_ID})
    coordinator = make_coordinator(hass, entry)
    await coordinator.async_config_entry_first_refresh()
    good = coordinator.data
    cerbo.set_root(SYSTEM, root_of("system.json") | {"Serial": "0123456789ab"})
    await coordinator.async_refresh()
    assert coordinator.last_update_success is False
    assert coordinator.data is good
    error = coordinator.last_exception
    assert isinstance(error, UpdateFailed)
    assert error.translation_key == "local_wrong_device"


@pytest.mark.parametrize(
    ("options", "seconds"),
    [
        ({}, 10),
        ({CONF_LOCAL_FAST_INTERVAL: 30}, 30),
        ({CONF_LOCAL_FAST_INTERVAL: "15"}, 15),
        ({CONF_LOCAL_FAST_INTERVAL: 1}, 5),
        ({CONF_LOCAL_FAST_INTERVAL: 10**6}, 3600),
        ({CONF_LOCAL_FAST_INTERVAL: "often"}, 10),
        ({CONF_LOCAL_FAST_INTERVAL: None}, 10),
    ],
)
def test_fast_interval_option(options: dict[str, Any], seconds: int) -> None:
    assert fast_interval(options) == seconds


async def test_slower_fast_interval_from_options(
    hass: HomeAssistant, cerbo: FakeCerbo, freezer: FrozenDateTimeFactory
) -> None:
    entry = refreshing_entry(hass, options={CONF_LOCAL_FAST_INTERVAL: 30})
    coordinator = make_coordinator(hass, entry)
    await coordinator.async_config_entry_first_refresh()
    listener = Listener(coordinator)
    assert coordinator.update_interval == timedelta(seconds=30)
    cerbo.reset()
    await advance(hass, freezer, 10)
    await advance(hass, freezer, 10)
    assert cerbo.counts() == {}
    await advance(hass, freezer, 10)
    assert cerbo.counts() == {SYSTEM: 1, VIRTUAL: 1, VEBUS: 1}
    listener.unsubscribe()
    await coordinator.async_shutdown()


def test_translations_match_the_code() -> None:
    """Every key the coordinator raises exists, with exactly the placeholders it passes."""
    messages = json.loads(TRANSLATIONS.read_text(encoding="utf-8"))["exceptions"]
    expected = {
        "local_cannot_connect": {"host", "error"},
        "local_invalid_response": {"host", "error"},
        "local_wrong_device": {"host"},
        "local_unavailable": {"host", "failures", "error"},
    }
    for key, placeholders in expected.items():
        assert set(re.findall(r"{(\w+)}", messages[key]["message"])) <= placeholders, key
    assert {key for key in messages if key.startswith("local_")} == set(expected)


async def test_several_cerbos_never_tick_at_once(
    hass: HomeAssistant, aioclient_mock: AiohttpClientMocker, freezer: FrozenDateTimeFactory
) -> None:
    """Three entries with a Cerbo each: their first ticks spread over the 10 s interval.

    Home Assistant schedules coordinators of one interval within the same second; the rest of
    the ticks keep the spacing (the harness's clock drifts by up to a second per tick, so only
    the first is measured here).
    """
    hosts = ("192.168.1.20", "192.168.1.21", "192.168.1.22")
    cerbos = {host: FakeCerbo(aioclient_mock, host=host) for host in hosts}
    for number, host in enumerate(hosts):
        data = {CONF_HOST: host, CONF_PORT: PORT, CONF_PORTAL_ID: PORTAL_ID}  # as the fakes answer
        make_entry(hass, data, title=f"Site {number}", unique_id=f"c0619ab1234{number}")
    entries = hass.config_entries.async_entries(DOMAIN)
    await setup_entry(hass, entries[0])  # the integration sets up all three
    assert all(entry.state is ConfigEntryState.LOADED for entry in entries)
    for cerbo in cerbos.values():
        cerbo.reset()

    first_tick: dict[str, int] = {}
    for second in range(1, 21):
        await advance(hass, freezer, 1)
        for host, cerbo in cerbos.items():
            if cerbo.counts()[SYSTEM] and host not in first_tick:
                first_tick[host] = second
    # 10 s, then 0.618 and 0.236 of the interval later; the harness may fire a timer up to a
    # second early, so only the spread is asserted: all at once before the stagger
    assert set(first_tick) == set(hosts)
    starts = sorted(first_tick.values())
    assert all(later > earlier for earlier, later in itertools.pairwise(starts))
    assert starts[-1] - starts[0] >= 4  # 6.18 s between the first and the last
