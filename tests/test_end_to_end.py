"""End to end: the integration in a real Home Assistant against the simulator over loopback.

Both sources are set up from one config entry, as a user's would be, with the simulator's Cerbo
DBus HTTP API and VRM API on 127.0.0.1. Nothing of ours is patched: faults go through the
simulator's own control API (`/sim/fault`, `/sim/token`), time moves with `freezer` and
`async_fire_time_changed` (the simulator's clock is moved by the same amount; the entry's VRM
request budget is handed Home Assistant's clock through `hass.data`, where the integration keeps
it), and request counts come from the simulator's counter. The entry is the one scripts/develop
writes; the last tests check what that script prepares and waits for.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import bcrypt
import pytest
from aiohttp.test_utils import TestClient, TestServer
from freezegun.api import FrozenDateTimeFactory
from homeassistant.auth.providers.homeassistant import HassAuthProvider
from homeassistant.components import http as http_component
from homeassistant.components import onboarding
from homeassistant.components.onboarding.const import STEPS as ONBOARDING_STEPS
from homeassistant.config_entries import SOURCE_REAUTH, ConfigEntries, ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant, State
from homeassistant.core_config import CORE_CONFIG_SCHEMA
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers import issue_registry as ir
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from homeassistant.util import slugify
from homeassistant.util.yaml import parse_yaml
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.victron_cerbo.const import (
    CONF_BATTERY_INSTANCE,
    CONF_FOLLOW_SYSTEM_BATTERY,
    CONF_HOST,
    CONF_LOCAL_FAST_INTERVAL,
    CONF_PORT,
    CONF_PORTAL_ID,
    CONF_SITE_ID,
    CONF_SOLARK_ENTITY,
    CONF_VRM_API_URL,
    CONF_VRM_POLL_INTERVAL,
    CONF_VRM_TOKEN,
    CONF_VRM_USER_ID,
    DEFAULT_BUDGET_WARNING,
    DOMAIN,
    ENV_DEV_VRM_API_URL,
)
from custom_components.victron_cerbo.local_coordinator import LocalCoordinator
from custom_components.victron_cerbo.vrm_coordinator import BACKUP_INTERVAL, VrmCoordinator
from dev import develop
from dev.simulator import (
    BATTERY,
    BATTERY_INSTANCE,
    SimConfig,
    SimulatedAccount,
    SimulatedInstallation,
    monitor,
)
from tests.helpers import advance, frozen_clock, make_entry, move_clock, simulator

pytestmark = pytest.mark.usefixtures("socket_enabled")

START = datetime(2026, 4, 15, 10, 0, tzinfo=UTC)  # noon in Amsterdam, a VRM log instant
SIM = SimConfig()
PORTAL_ID = SIM.portal_id
SUMMARY = f"GET /v2/installations/{SIM.site_id}/widgets/BatterySummary?instance=512"
OVERVIEW = f"GET /v2/installations/{SIM.site_id}/system-overview"
SYSTEM = "GET /value?service=com.victronenergy.system&path=/"
BATTERY_ROOT = f"GET /value?service={BATTERY}&path=/"
VEBUS = "GET /value?service=com.victronenergy.vebus.ttyS4&path=/"
PLATFORM = "GET /value?service=com.victronenergy.platform&path=/"
TEMP_5 = "GET /value?service=com.victronenergy.temperature.adc_builtin0_5&path=/"
TEMP_6 = "GET /value?service=com.victronenergy.temperature.adc_builtin0_6&path=/"
SYSTEM_SERVICE = "com.victronenergy.system"
DOMAIN_LOGGER = "custom_components.victron_cerbo"
DAY = 24 * 3600
DAY_INTERVAL = 300  # the longest local interval the options allow; VRM logs this often too
SOC_TOLERANCE = 0.1  # the GX publishes float32 values; the simulator rounds its truth
PUBLISHED_VOLTAGE = 0.001  # against what the GX published (float32, 0.01 V resolution)
TRUE_VOLTAGE = 0.05  # against the bank's real voltage: the shunt's noise is 0.01 V (1 sigma)


@dataclass
class Site:
    """One simulated installation, its two servers and the config entry that watches it."""

    hass: HomeAssistant
    freezer: FrozenDateTimeFactory
    model: SimulatedInstallation
    local: TestServer
    vrm: TestServer
    entry: MockConfigEntry
    session: aiohttp.ClientSession

    async def setup(self) -> None:
        assert await self.hass.config_entries.async_setup(self.entry.entry_id)
        await self.hass.async_block_till_done()
        assert self.entry.state is ConfigEntryState.LOADED

    @property
    def local_coordinator(self) -> LocalCoordinator:
        coordinator = self.entry.runtime_data.local
        assert coordinator is not None
        return coordinator

    @property
    def vrm_coordinator(self) -> VrmCoordinator:
        coordinator = self.entry.runtime_data.vrm
        assert coordinator is not None
        return coordinator

    def tick(self, seconds: float) -> None:
        """Move the simulator and Home Assistant on together and fire what became due."""
        move_clock(self.hass, self.freezer, seconds, self.model)

    async def advance(self, seconds: float, step: float = 10) -> None:
        """`tick` in steps, letting each step's refreshes finish.

        Refreshes run as background tasks; they talk to real sockets, so they are waited for.
        """
        await advance(
            self.hass, self.freezer, seconds, step=step, model=self.model, background=True
        )

    def requests(self, target: str) -> dict[str, int]:
        """What the simulator received since the last `forget_requests`, by path and query."""
        counts: dict[str, int] = self.model.request_counts()[target]["requests"]
        return counts

    def forget_requests(self) -> None:
        self.model.requests.clear()

    async def control(
        self, server: TestServer, method: str, path: str, body: dict[str, Any] | None = None
    ) -> Any:
        """Call the simulator's control API (never faulted, never counted)."""
        async with self.session.request(method, server.make_url(path), json=body) as response:
            assert response.status < 300, await response.text()
            return await response.json()

    async def fault(self, target: str, **spec: Any) -> None:
        server = self.local if target == "local" else self.vrm
        await self.control(server, "POST", "/sim/fault", {"target": target, **spec})

    async def clear_faults(self, target: str) -> None:
        server = self.local if target == "local" else self.vrm
        await self.control(server, "DELETE", f"/sim/fault?target={target}")

    def truth(self) -> dict[str, Any]:
        """What the battery really does now (the simulator's own view)."""
        battery: dict[str, Any] = self.model.state()["battery"]
        return battery

    def published(self, service: str = SYSTEM_SERVICE) -> dict[str, Any]:
        """What the Cerbo publishes now on D-Bus for this service."""
        return self.model.observe().services[service]

    def vrm_truth(self) -> dict[str, Any]:
        """What VRM has: the battery values of the GX's latest upload."""
        return self.model.latest_log().services[BATTERY]

    def state(self, key: str, platform: str = "sensor") -> State:
        """The state of one of our entities, found by its unique ID in the registry."""
        entity_id = er.async_get(self.hass).async_get_entity_id(
            platform, DOMAIN, f"{PORTAL_ID}_{key}"
        )
        assert entity_id is not None, key
        state = self.hass.states.get(entity_id)
        assert state is not None, entity_id
        return state


@pytest.fixture
async def site(hass: HomeAssistant, freezer: FrozenDateTimeFactory) -> AsyncIterator[Site]:
    freezer.move_to(START)
    # The simulator's VRM rate window follows the same frozen clock, so runs are repeatable.
    model = SimulatedInstallation(START, speed=0, seed=1, monotonic=frozen_clock)
    async with simulator(model) as (local, vrm), aiohttp.ClientSession() as session:
        # exactly the entry scripts/develop writes (see the develop tests at the end)
        assert local.port is not None
        assert vrm.port is not None
        ports = develop.Settings(local_port=local.port, vrm_port=vrm.port, config_dir=Path())
        # its VRM request budget's rolling hour follows simulated hours, not real ones
        entry = make_entry(
            hass,
            develop.entry_data(ports),
            title=SIM.site_name,
            unique_id=PORTAL_ID,
            entry_id=develop.ENTRY_ID,
            minor_version=1,
        )
        yield Site(hass, freezer, model, local, vrm, entry, session)
        model.faults.clear()  # releases any request a hang fault still holds
        if entry.state is ConfigEntryState.LOADED:
            assert await hass.config_entries.async_unload(entry.entry_id)
            await hass.async_block_till_done()


def logged(caplog: pytest.LogCaptureFixture, level: int = logging.INFO) -> list[str]:
    """What the integration logged at `level` or above."""
    return [
        record.getMessage()
        for record in caplog.records
        if record.levelno >= level and record.name == DOMAIN_LOGGER
    ]


async def wait_for(condition: Any, what: str) -> None:
    """Let the loop run (real I/O, no sleeping) until `condition()` holds."""
    for _ in range(10_000):
        if condition():
            return
        await asyncio.sleep(0)
    pytest.fail(f"never happened: {what}")


def assert_local_matches(site: Site) -> None:
    """The local data is what the Cerbo publishes, and that is close to the real battery."""
    truth, published = site.truth(), site.published()
    system = site.local_coordinator.data.system
    assert system.soc == pytest.approx(published["Dc/Battery/Soc"], abs=SOC_TOLERANCE)
    assert system.soc == pytest.approx(truth["soc"], abs=SOC_TOLERANCE)
    assert system.voltage == pytest.approx(published["Dc/Battery/Voltage"], abs=PUBLISHED_VOLTAGE)
    assert system.voltage == pytest.approx(truth["voltage"], abs=TRUE_VOLTAGE)


# --- setup and steady state ----------------------------------------------------------------


async def test_setup_reads_both_sources_once(site: Site) -> None:
    await site.setup()
    # discovery, then one read of every root; VRM: the device list, then one summary
    assert site.requests("local") == {
        "GET /health": 1,
        "GET /services": 1,
        SYSTEM: 1,
        PLATFORM: 1,
        BATTERY_ROOT: 1,
        VEBUS: 1,
        TEMP_5: 1,
        TEMP_6: 1,
    }
    assert site.requests("vrm") == {OVERVIEW: 1, SUMMARY: 1}

    truth = site.truth()
    local = site.local_coordinator.data
    assert local.discovery.portal_id == PORTAL_ID
    assert_local_matches(site)
    assert local.battery is not None
    assert local.battery.instance == BATTERY_INSTANCE

    uploaded = site.vrm_truth()
    vrm = site.vrm_coordinator.data.battery
    assert vrm is not None
    assert vrm.soc == pytest.approx(uploaded["Soc"], abs=SOC_TOLERANCE)
    assert vrm.voltage == pytest.approx(uploaded["Dc/0/Voltage"], abs=PUBLISHED_VOLTAGE)
    assert site.vrm_coordinator.health.status == "ok"

    soc = site.state("soc")
    assert float(soc.state) == pytest.approx(truth["soc"], abs=SOC_TOLERANCE)
    assert soc.attributes["source"] == "local"


async def test_one_hour_of_polling_has_the_documented_cadence(site: Site) -> None:
    await site.setup()
    site.forget_requests()
    await site.advance(3600)
    # every 10 s system + battery; inverter every 30 s; platform and sensors every 60 s;
    # discovery (/health, /services) again every 5 minutes (README, "How data is refreshed")
    assert site.requests("local") == {
        "GET /health": 12,
        SYSTEM: 360,
        BATTERY_ROOT: 360,
        VEBUS: 120,
        PLATFORM: 60,
        TEMP_5: 60,
        TEMP_6: 60,
        "GET /services": 12,
    }
    # While the Cerbo answers VRM is a backup: one summary every 15 minutes and the device
    # list once an hour, 5 requests an hour (issue: at most 6 with a fresh local source)
    assert site.requests("vrm") == {SUMMARY: 4, OVERVIEW: 1}
    assert site.vrm_coordinator.budget.used == 5


async def test_a_simulated_day_follows_the_battery(site: Site) -> None:
    """A day with both sources read every 5 minutes: the values follow the battery."""
    site.hass.config_entries.async_update_entry(
        site.entry,
        options={CONF_LOCAL_FAST_INTERVAL: DAY_INTERVAL, CONF_VRM_POLL_INTERVAL: DAY_INTERVAL},
    )
    await site.setup()
    site.forget_requests()
    socs: list[float] = []
    vrm_polls = 0
    for _ in range(DAY // DAY_INTERVAL):
        await site.advance(DAY_INTERVAL, step=DAY_INTERVAL)
        truth = site.truth()
        assert_local_matches(site)
        soc = site.state("soc")
        assert soc.attributes["source"] == "local"
        assert float(soc.state) == pytest.approx(truth["soc"], abs=SOC_TOLERANCE)
        vrm = site.vrm_coordinator
        # the Cerbo answers all day: VRM is its backup, read every third step (15 minutes)
        assert dt_util.utcnow() - vrm.data.fetched_at < BACKUP_INTERVAL
        if vrm.data.fetched_at == dt_util.utcnow():
            vrm_polls += 1
            assert vrm.data.battery is not None
            truth_soc = site.vrm_truth()["Soc"]
            assert vrm.data.battery.soc == pytest.approx(truth_soc, abs=SOC_TOLERANCE)
        assert vrm.budget.used <= DEFAULT_BUDGET_WARNING
        socs.append(truth["soc"])
    # a real day: the sun charges the bank, the night drains it
    assert max(socs) - min(socs) > 10
    backups = DAY // int(BACKUP_INTERVAL.total_seconds())
    assert vrm_polls == backups
    assert site.requests("vrm") == {SUMMARY: backups, OVERVIEW: 24}


# --- the local source fails: VRM covers, local wins back ------------------------------------


@pytest.mark.parametrize(
    ("kind", "error_kind", "reason"),
    [
        ("5xx", "http_status", "HTTP 500"),  # the D-Bus error of servers up to v3.1
        ("html", "http_status", "HTTP 502"),  # a proxy's 502 page
        ("malformed", "response", "unparsable answer"),  # truncated JSON with a 200
        ("dbus_down", "http_status", "HTTP 404"),  # v3.2 when D-Bus is gone: 404 for every value
    ],
)
async def test_vrm_covers_while_the_cerbo_fails(
    site: Site, kind: str, error_kind: str, reason: str
) -> None:
    await site.setup()
    await site.advance(60)
    assert site.state("soc").attributes["source"] == "local"
    good = site.local_coordinator.data.system
    await site.fault("local", kind=kind)
    site.forget_requests()

    await site.advance(10)  # one failed tick: the last good data stays, and still serves
    coordinator = site.local_coordinator
    assert coordinator.last_update_success is True
    assert coordinator.data.system == good
    assert coordinator.health.consecutive_failures == 1
    assert coordinator.health.last_error_kind == error_kind
    assert site.state("soc").attributes["source"] == "local"
    reachable = site.state("local_reachable", "binary_sensor")
    assert (reachable.state, reachable.attributes["error"]) == ("on", reason)
    # While the Cerbo answered VRM was a backup (last read at setup); this failed tick polls
    # it at once, so its values are fresh when local goes at the third.
    assert site.requests("vrm") == {SUMMARY: 1}
    assert site.vrm_coordinator.data.fetched_at == dt_util.utcnow()

    await site.advance(20)  # the third failure: local is unavailable, VRM serves
    assert coordinator.last_update_success is False
    assert coordinator.data.system == good  # never replaced by what the fault sent
    soc = site.state("soc")
    assert soc.attributes["source"] == "vrm"
    vrm = site.vrm_coordinator.data.battery
    assert vrm is not None
    assert float(soc.state) == pytest.approx(vrm.soc)
    reachable = site.state("local_reachable", "binary_sensor")
    assert (reachable.state, reachable.attributes["error"]) == ("off", reason)

    await site.advance(630)  # ten minutes on VRM alone; it keeps up with the uploads
    # VRM logs every 300 s: it is read 30 s after each upload (10:05, 10:10), not every 180 s
    upload = START + timedelta(minutes=10)
    assert site.vrm_coordinator.data.fetched_at == upload + timedelta(seconds=30)
    soc = site.state("soc")
    assert soc.attributes["source"] == "vrm"
    assert float(soc.state) == pytest.approx(site.vrm_truth()["Soc"], abs=SOC_TOLERANCE)
    # a failed tick stops at its first request, and VRM keeps its pace: no storm either way
    # (VRM: at the first failed tick, then after the uploads at 10:05 and 10:10)
    assert site.requests("local") == {SYSTEM: 66}
    assert site.requests("vrm") == {SUMMARY: 3}

    await site.clear_faults("local")
    await site.advance(10)  # the next tick succeeds: local wins again
    assert coordinator.last_update_success is True
    assert coordinator.health.consecutive_failures == 0
    assert_local_matches(site)
    soc = site.state("soc")
    assert soc.attributes["source"] == "local"
    assert float(soc.state) == pytest.approx(site.truth()["soc"], abs=SOC_TOLERANCE)


async def test_a_hung_cerbo_times_out_and_vrm_goes_on(site: Site) -> None:
    """The Cerbo holds a request (a stuck D-Bus call): the client gives up after 10 s."""
    await site.setup()
    await site.advance(170)
    good = site.local_coordinator.data.system
    await site.fault("local", kind="hang", count=1, seconds=3600)  # held until cleared
    site.forget_requests()

    site.tick(10)  # the local tick is due
    vrm = site.vrm_coordinator
    await wait_for(lambda: site.model.faults.hanging == 1, "the Cerbo to hold the request")
    site.tick(10)  # the client's timeout runs out (no real waiting: the clock is frozen)
    # the failed tick polls VRM, only a backup so far, at once
    polled = START + timedelta(seconds=190)
    await wait_for(lambda: vrm.data.fetched_at == polled, "VRM to answer meanwhile")
    await site.hass.async_block_till_done(wait_background_tasks=True)

    coordinator = site.local_coordinator
    assert coordinator.health.consecutive_failures == 1
    assert coordinator.health.last_error_kind == "timeout"
    assert coordinator.data.system == good
    assert vrm.last_update_success is True
    assert site.requests("local") == {SYSTEM: 1}
    assert site.requests("vrm") == {SUMMARY: 1}

    await site.clear_faults("local")  # the Cerbo answers again (and lets the held one go)
    await site.advance(10)
    assert coordinator.health.consecutive_failures == 0
    assert_local_matches(site)
    assert site.state("soc").attributes["source"] == "local"


async def test_a_hung_cerbo_serves_until_its_third_timeout(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    """Each failed tick takes the 10 s timeout plus the interval; only the third one counts.

    The simulator's Cerbo really holds every request (a stuck D-Bus call) on loopback; the
    client's timeout runs out on Home Assistant's frozen clock.
    """
    await site.setup()
    await site.advance(60)
    good = site.local_coordinator.data.system
    last_success = site.local_coordinator.health.last_success
    await site.fault("local", kind="hang", seconds=3600)  # every D-Bus call held until cleared
    caplog.clear()
    coordinator = site.local_coordinator
    for failure in (1, 2):
        site.tick(10)  # the tick is due and its first request hangs
        await wait_for(lambda: site.model.faults.hanging == 1, "the Cerbo to hold the request")
        site.tick(10)  # the client's timeout runs out
        await site.hass.async_block_till_done(wait_background_tasks=True)
        assert coordinator.health.consecutive_failures == failure
        assert coordinator.last_update_success is True
        soc = site.state("soc")
        assert soc.attributes["source"] == "local"
        assert float(soc.state) == good.soc
        assert soc.attributes["data_age"] == 20 * failure  # the last good tick's age grows
        reachable = site.state("local_reachable", "binary_sensor")
        assert (reachable.state, reachable.attributes["error"]) == ("on", "timeout")
        assert not logged(caplog, logging.WARNING)
    assert coordinator.health.last_success == last_success

    site.tick(10)
    await wait_for(lambda: site.model.faults.hanging == 1, "the Cerbo to hold the request")
    site.tick(10)  # the third timeout in a row: values, connection and log change together
    await site.hass.async_block_till_done(wait_background_tasks=True)
    assert coordinator.last_update_success is False
    assert site.state("soc").attributes["source"] == "vrm"
    assert site.state("local_reachable", "binary_sensor").state == "off"
    lost = "The Cerbo GX at 127.0.0.1 failed 3 updates in a row: No answer to /value within 10 s"
    assert logged(caplog, logging.WARNING) == [f"Error fetching victron_cerbo local data: {lost}"]

    await site.clear_faults("local")
    caplog.clear()
    await site.advance(10)  # the first good tick brings everything back, with one line
    assert coordinator.last_update_success is True
    assert site.state("soc").attributes["source"] == "local"
    assert site.state("local_reachable", "binary_sensor").state == "on"
    assert logged(caplog) == ["Fetching victron_cerbo local data recovered"]


# --- VRM pushes back ----------------------------------------------------------------------


async def test_vrm_rate_limit_is_honoured(site: Site) -> None:
    await site.setup()
    await site.fault("vrm", kind="429", count=1, retry_after=600)
    site.forget_requests()
    await site.advance(900)  # the Cerbo answers: VRM's backup poll, 15 minutes in
    vrm = site.vrm_coordinator
    assert vrm.last_update_success is True  # one failure: the last data stays
    assert vrm.health.consecutive_failures == 1
    assert vrm.health.last_error_kind == "rate_limited"
    assert vrm.budget.hold_remaining() == 600
    assert site.requests("vrm") == {SUMMARY: 1}

    await site.advance(590)  # silence for the whole Retry-After
    assert site.requests("vrm") == {SUMMARY: 1}
    assert site.state("soc").attributes["source"] == "local"  # the Cerbo never noticed

    await site.advance(10)  # then polling resumes at its own (backup) pace
    assert site.requests("vrm") == {SUMMARY: 2}
    assert vrm.last_update_success is True
    assert vrm.health.status == "ok"
    await site.advance(890)
    assert site.requests("vrm") == {SUMMARY: 2}
    await site.advance(10)
    assert site.requests("vrm") == {SUMMARY: 3}


async def test_revoked_vrm_token_starts_reauth(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    await site.setup()
    await site.control(site.vrm, "POST", "/sim/token", {"token": "rotated-token"})
    site.forget_requests()
    await site.advance(900)  # the Cerbo answers: VRM's backup poll, 15 minutes in

    assert site.entry.state is ConfigEntryState.LOADED  # the local source carries on
    flows = site.hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [(flow["context"]["source"], flow["step_id"]) for flow in flows] == [
        (SOURCE_REAUTH, "reauth_confirm")
    ]
    assert flows[0]["context"]["entry_id"] == site.entry.entry_id
    vrm = site.vrm_coordinator
    assert vrm.last_update_success is False
    assert vrm.health.last_error_kind == "auth"

    await site.advance(3600, step=60)  # a rejected token is not retried before a new one
    assert site.requests("vrm") == {SUMMARY: 1}
    assert site.state("soc").attributes["source"] == "local"
    assert_local_matches(site)
    assert SIM.token not in caplog.text
    assert "rotated-token" not in caplog.text


# --- the installation itself changes ---------------------------------------------------------


MONITOR_VALUES = ("soc", "voltage", "temperature", "soh", "cell_voltage_spread", "charged_energy")


async def test_a_vanished_battery_monitor_and_its_return(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    """The BMS drops off the bus for 15 minutes: the GX falls back to the Multi's estimate.

    That estimate is not passed off as the monitor's: the monitor's values keep the grace of
    any failure, then VRM serves while its sample of the same monitor is fresh, then they are
    unavailable; a repair names the device after 10 minutes; all is back at its return.
    """
    await site.setup()
    await site.advance(60)
    assert site.state("cell_voltage_spread").state != "unknown"
    before = {key: site.state(key).state for key in MONITOR_VALUES}
    await site.fault("local", kind="vanish_battery", duration=900)
    caplog.clear()

    await site.advance(20)  # two ticks without the monitor: its last values stay, local
    coordinator = site.local_coordinator
    assert coordinator.data.system.battery_service == "com.victronenergy.vebus.ttyS4"
    for key in MONITOR_VALUES:
        assert site.state(key).state == before[key], key
        assert site.state(key).attributes["source"] == "local", key
    await site.advance(10)  # the third: gone; VRM's last upload of the BMS is still fresh
    assert coordinator.last_update_success is True  # the Cerbo itself answers
    assert coordinator.data.monitor.present is False
    soc = site.state("soc")
    assert soc.attributes["source"] == "vrm"
    vrm = site.vrm_coordinator.data.battery
    assert vrm is not None
    assert float(soc.state) == vrm.soc  # VRM's sample of the BMS, not the Multi's estimate
    assert site.state("soh").state == STATE_UNAVAILABLE  # only the Cerbo knew it
    warnings = logged(caplog, logging.WARNING)
    assert len(warnings) == 1
    assert warnings[0].startswith("The battery monitor 280Ah LFP (Pylontech battery)")
    assert "stopped answering on the Cerbo GX at 127.0.0.1" in warnings[0]

    await site.advance(600)  # VRM's newest sample has no battery any more: nothing serves
    for key in MONITOR_VALUES:
        assert site.state(key).state == STATE_UNAVAILABLE, key
    assert site.state("grid_power").attributes["source"] == "local"  # the GX's own values stay
    registry = ir.async_get(site.hass)
    issue = registry.async_get_issue(DOMAIN, f"battery_monitor_missing_{site.entry.entry_id}")
    assert issue is not None
    assert issue.translation_placeholders == {
        "name": SIM.site_name,
        "device": "280Ah LFP (Pylontech battery)",
    }

    caplog.clear()
    await site.advance(270)  # the BMS is back: its own values at the next tick
    assert coordinator.data.monitor.present is True
    assert_local_matches(site)
    for key in MONITOR_VALUES:
        assert site.state(key).attributes["source"] == "local", key
    assert site.state("cell_voltage_spread").state != "unknown"
    assert not registry.async_get_issue(DOMAIN, f"battery_monitor_missing_{site.entry.entry_id}")
    assert logged(caplog) == ["The battery monitor 280Ah LFP (Pylontech battery) is back"]


async def test_following_the_system_battery_names_the_device(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    """With the option on, the values follow the GX's battery and say which device it is."""
    site.hass.config_entries.async_update_entry(
        site.entry, options={CONF_FOLLOW_SYSTEM_BATTERY: True}
    )
    await site.setup()
    await site.advance(60)
    assert site.state("soc").attributes["measured_by"] == "280Ah LFP (Pylontech battery)"
    await site.fault("local", kind="vanish_battery", duration=900)
    caplog.clear()
    await site.advance(120)  # the next discovery adopts what the GX uses now
    soc = site.state("soc")
    assert soc.attributes["source"] == "local"
    assert soc.attributes["measured_by"] == "MULTI_II (MultiPlus-II 48/3000/35-32)"
    assert float(soc.state) == site.published()["Dc/Battery/Soc"]  # the Multi's whole percent
    assert not logged(caplog, logging.WARNING)
    await site.advance(900)
    registry = ir.async_get(site.hass)
    assert not registry.async_get_issue(DOMAIN, f"battery_monitor_missing_{site.entry.entry_id}")


async def test_a_grid_outage_is_seen_within_a_minute(site: Site) -> None:
    await site.setup()
    await site.advance(60)
    grid_lost = ("grid_lost", "binary_sensor")
    assert site.state(*grid_lost).state == "off"
    await site.control(site.local, "POST", "/sim/grid", {"available": False})
    await site.advance(60)  # the inverter root is read every 30 s
    assert site.state(*grid_lost).state == "on"
    assert site.state(*grid_lost).attributes["source"] == "local"
    await site.control(site.local, "POST", "/sim/grid", {"available": True})
    await site.advance(60)
    assert site.state(*grid_lost).state == "off"


async def test_slow_roots_are_read_at_the_longest_local_interval(site: Site) -> None:
    """Re-discovery must not take every tick's slow slot when ticks are minutes apart."""
    site.hass.config_entries.async_update_entry(
        site.entry, options={CONF_LOCAL_FAST_INTERVAL: DAY_INTERVAL}
    )
    await site.setup()
    await site.advance(1800, step=DAY_INTERVAL)
    site.forget_requests()
    await site.control(site.local, "POST", "/sim/grid", {"available": False})
    await site.advance(1800, step=DAY_INTERVAL)
    assert site.requests("local").get(VEBUS, 0) == 1  # the inverter tier, read once at 5-min ticks
    assert site.state("grid_lost", "binary_sensor").state == "on"


async def test_both_sources_lost_then_back(site: Site) -> None:
    """The Cerbo fails and the GX stops uploading: values go unavailable, never stale."""
    await site.setup()
    await site.advance(60)
    await site.fault("local", kind="5xx")
    await site.fault("vrm", kind="stale")
    good = site.local_coordinator.data.system

    await site.advance(300)  # VRM's last upload is five minutes old: it still serves
    assert site.state("soc").attributes["source"] == "vrm"
    await site.advance(300)  # now it is ten: nobody serves
    assert site.state("soc").state == STATE_UNAVAILABLE
    assert site.state("data_stale", "binary_sensor").state == "on"
    assert site.local_coordinator.data.system == good
    age = site.vrm_coordinator.health.data_age()
    assert age is not None
    assert age > 600

    await site.clear_faults("local")
    await site.clear_faults("vrm")
    await site.advance(180)
    assert site.state("soc").attributes["source"] == "local"
    assert_local_matches(site)
    assert site.state("data_stale", "binary_sensor").state == "off"


# --- scripts/develop: the entry and config directory it prepares ---------------------------


def develop_settings(tmp_path: Path, **changes: Any) -> develop.Settings:
    ports = {"port": 18123, "local_port": 18088, "vrm_port": 18089} | changes
    return develop.Settings(config_dir=tmp_path / "config", **ports)


def test_develop_entry_uses_both_sources_against_the_simulator(tmp_path: Path) -> None:
    settings = develop_settings(tmp_path)
    assert develop.entry_data(settings) == {
        CONF_HOST: "127.0.0.1",
        CONF_PORT: 18088,
        CONF_PORTAL_ID: PORTAL_ID,
        CONF_VRM_TOKEN: SIM.token,
        CONF_SITE_ID: SIM.site_id,
        CONF_BATTERY_INSTANCE: BATTERY_INSTANCE,
        CONF_VRM_USER_ID: SIM.user_id,
        CONF_VRM_API_URL: "http://127.0.0.1:18089/v2",
    }
    assert settings.url == "http://127.0.0.1:18123"
    # the scenario of a site without a battery monitor: the system battery is read
    no_monitor = develop.Settings(sim=SimConfig(vrm_battery_monitor=False))
    assert develop.entry_data(no_monitor)[CONF_BATTERY_INSTANCE] is None


async def test_home_assistant_reads_the_config_develop_writes(
    hass: HomeAssistant, hass_storage: dict[str, Any], tmp_path: Path
) -> None:
    settings = develop_settings(tmp_path)
    develop.prepare_config(settings, now=START)
    config = settings.config_dir
    link = config / "custom_components" / DOMAIN
    assert link.is_symlink()
    assert (link / "manifest.json").is_file()  # the working tree's integration

    yaml = parse_yaml((config / "configuration.yaml").read_text(encoding="utf-8"))
    assert isinstance(yaml, dict)
    CORE_CONFIG_SCHEMA(yaml["homeassistant"])
    storage = config / ".storage"
    if (storage / "http").exists():
        # A version that keeps HTTP settings in storage: they are the confirmed ones, so no
        # trial that reverts to every interface five minutes later.
        assert "http" not in yaml
        hass_storage["http"] = json.loads((storage / "http").read_text(encoding="utf-8"))
        http = await http_component.config.async_load_config(hass, {})  # type: ignore[attr-defined]
        store = hass.data[http_component.config.DATA_STORE]  # type: ignore[attr-defined]
        assert store.active_config_type == "stable"
        assert store.revert_deadline is None
    else:
        http = http_component.CONFIG_SCHEMA({"http": yaml["http"]})["http"]
    assert http["server_host"] == ["127.0.0.1"]  # loopback only
    assert http["server_port"] == 18123
    # The stand-in Sol-Ark sensor: the entity id new entries compare against, read from the
    # simulator's Cerbo port.
    (solark,) = yaml["sensor"]
    assert solark["platform"] == "rest"
    assert f"sensor.{slugify(solark['name'])}" == develop.SOLARK_ENTITY
    assert solark["resource"] == "http://127.0.0.1:18088/sim/solark"

    for key in ("core.config_entries", "onboarding"):
        hass_storage[key] = json.loads((storage / key).read_text(encoding="utf-8"))
    manager = ConfigEntries(hass, {})
    await manager.async_initialize()
    entry = manager.async_get_entry(develop.ENTRY_ID)
    assert entry is not None
    assert (entry.domain, entry.unique_id, entry.title) == (DOMAIN, PORTAL_ID, SIM.site_name)
    assert entry.data == develop.entry_data(settings)
    assert entry.options == {CONF_SOLARK_ENTITY: develop.SOLARK_ENTITY}
    store = onboarding.OnboardingStorage(
        hass, onboarding.STORAGE_VERSION, onboarding.STORAGE_KEY, private=True
    )
    done = await store.async_load()
    assert done is not None
    assert set(done["done"]) == set(ONBOARDING_STEPS)  # nobody has to click through onboarding


def test_develop_keeps_the_entry_and_follows_new_ports(tmp_path: Path) -> None:
    settings = develop_settings(tmp_path)
    develop.prepare_config(settings, now=START)
    path = settings.config_dir / ".storage" / "core.config_entries"
    saved = json.loads(path.read_text(encoding="utf-8"))
    ours = saved["data"]["entries"][0]
    ours["options"] = {"local_fast_interval": 30}  # as if changed in the UI
    other: dict[str, Any] = {"domain": "sun", "entry_id": "other", "unique_id": None, "data": {}}
    saved["data"]["entries"].append(other)
    path.write_text(json.dumps(saved), encoding="utf-8")

    moved = develop_settings(tmp_path, local_port=28088, vrm_port=28089)
    develop.prepare_config(moved, now=START + timedelta(days=1))
    saved = json.loads(path.read_text(encoding="utf-8"))
    assert saved["minor_version"] == develop.ENTRY_STORAGE_MINOR
    ours, kept = saved["data"]["entries"]
    assert kept == other
    assert ours["entry_id"] == develop.ENTRY_ID
    assert ours["options"] == {"local_fast_interval": 30}
    assert ours["data"] == develop.entry_data(moved)
    assert ours["modified_at"] == (START + timedelta(days=1)).isoformat()
    http_file = settings.config_dir / ".storage" / "http"
    if http_file.exists():  # a version that keeps its HTTP settings in storage
        http = json.loads(http_file.read_text(encoding="utf-8"))["data"]["stable"]
        assert http["server_port"] == 18123
    else:
        assert "server_port: 18123" in (settings.config_dir / "configuration.yaml").read_text()
    assert (
        "http://127.0.0.1:28088/sim/solark"
        in (settings.config_dir / "configuration.yaml").read_text()
    )


def test_develop_without_entry_or_onboarding(tmp_path: Path) -> None:
    """--no-entry and --onboarding leave the flow and onboarding to the person (or browser)."""
    storage = develop_settings(tmp_path).config_dir / ".storage"
    develop.prepare_config(develop_settings(tmp_path, entry=False), now=START)
    assert not (storage / "core.config_entries").exists()
    assert (storage / "onboarding").exists()
    shutil.rmtree(storage.parent)
    develop.prepare_config(develop_settings(tmp_path, onboarding=True), now=START)
    assert not (storage / "core.config_entries").exists()
    assert not (storage / "onboarding").exists()
    (storage / "auth").write_text("{}", encoding="utf-8")  # a login exists: onboarded before
    with pytest.raises(develop.DevelopError, match="--reset"):
        develop.prepare_config(develop_settings(tmp_path, onboarding=True), now=START)


def test_develop_points_the_flow_at_the_simulators_vrm(tmp_path: Path) -> None:
    env = develop.hass_env(None, develop_settings(tmp_path))
    assert env[ENV_DEV_VRM_API_URL] == "http://127.0.0.1:18089/v2"


def test_develop_adds_its_entry_to_a_file_of_another_format(tmp_path: Path) -> None:
    settings = develop_settings(tmp_path)
    old = {"version": 1, "minor_version": 3, "key": "core.config_entries"}
    storage = develop.upsert_entry(old | {"data": {"entries": []}}, settings, START)
    assert storage["minor_version"] == 1  # Home Assistant migrates every entry from 1.1
    assert [entry["entry_id"] for entry in storage["data"]["entries"]] == [develop.ENTRY_ID]


def test_develop_writes_an_entry_per_site_of_the_account(tmp_path: Path) -> None:
    """--installations 3: one entry per site the simulator's account serves, on its own Cerbo."""
    settings = develop_settings(tmp_path, installations=3)
    develop.prepare_config(settings, now=START)
    path = settings.config_dir / ".storage" / "core.config_entries"
    entries = json.loads(path.read_text(encoding="utf-8"))["data"]["entries"]
    # what `python -m dev.simulator --installations 3` serves (any seed: ids do not depend on it)
    account = SimulatedAccount.build(3, START, seed=7)
    assert [e["entry_id"] for e in entries] == [develop.ENTRY_ID, *map(develop.entry_id, (1, 2))]
    assert settings.local_ports == [18088, 18089, 18090]
    for index, (entry, model) in enumerate(zip(entries, account, strict=True)):
        site = model.config
        assert (entry["unique_id"], entry["title"]) == (site.portal_id.lower(), site.site_name)
        assert entry["data"] == {
            CONF_HOST: "127.0.0.1",
            CONF_PORT: 18088 + index,
            CONF_PORTAL_ID: site.portal_id.lower(),
            CONF_VRM_TOKEN: SIM.token,
            CONF_SITE_ID: site.site_id,
            CONF_BATTERY_INSTANCE: monitor(site).instance if site.vrm_battery_monitor else None,
            CONF_VRM_USER_ID: SIM.user_id,
            CONF_VRM_API_URL: "http://127.0.0.1:18089/v2",
        }
    assert len({e["data"][CONF_SITE_ID] for e in entries}) == 3
    # the first site, created first, holds the fleet's entities and compares with the Sol-Ark
    assert [e["created_at"] for e in entries] == sorted(e["created_at"] for e in entries)
    assert [e["options"] for e in entries] == [{CONF_SOLARK_ENTITY: develop.SOLARK_ENTITY}, {}, {}]

    # back to one site: the others' entries go (their Cerbos are gone), anything else stays
    saved = json.loads(path.read_text(encoding="utf-8"))
    other: dict[str, Any] = {"domain": "sun", "entry_id": "other", "unique_id": None, "data": {}}
    saved["data"]["entries"].append(other)
    path.write_text(json.dumps(saved), encoding="utf-8")
    develop.prepare_config(develop_settings(tmp_path), now=START)
    entries = json.loads(path.read_text(encoding="utf-8"))["data"]["entries"]
    assert [e["entry_id"] for e in entries] == [develop.ENTRY_ID, "other"]


def test_develop_serves_the_account_on_free_ports(tmp_path: Path) -> None:
    settings = develop_settings(tmp_path, installations=2, vrm_port=18089)
    with pytest.raises(develop.DevelopError, match="must differ"):
        develop.check_ports(settings)  # the second Cerbo would take the VRM port
    two = develop.Develop(develop_settings(tmp_path, installations=2), None)
    assert two._simulator_command()[-2:] == ["--installations", "2"]
    one = develop_settings(tmp_path)
    assert "--installations" not in develop.Develop(one, None)._simulator_command()
    assert one.local_ports == [18088]
    with pytest.raises(SystemExit):
        develop.build_parser().parse_args(["--installations", "x"])
    args = develop.build_parser().parse_args(["--installations", "0"])
    with pytest.raises(develop.DevelopError, match="at least 1"):
        develop.settings_from(args)


def test_develop_refuses_what_it_must_not_overwrite(tmp_path: Path) -> None:
    settings = develop_settings(tmp_path)
    (settings.config_dir / "custom_components" / DOMAIN).mkdir(parents=True)
    with pytest.raises(develop.DevelopError, match="real folder"):
        develop.prepare_config(settings)
    shutil.rmtree(settings.config_dir)
    (settings.config_dir / ".storage").mkdir(parents=True)
    (settings.config_dir / ".storage" / "core.config_entries").write_text("{", encoding="utf-8")
    with pytest.raises(develop.DevelopError, match="not valid JSON"):
        develop.prepare_config(settings)


def test_develop_creates_a_login_with_home_assistants_script(tmp_path: Path) -> None:
    settings = develop_settings(tmp_path, password="first-password")  # noqa: S106
    settings.config_dir.mkdir()
    develop.ensure_login(settings)
    saved = json.loads(
        (settings.config_dir / ".storage" / "auth_provider.homeassistant").read_text()
    )
    [user] = saved["data"]["users"]
    assert user["username"] == develop.DEFAULT_USERNAME
    assert bcrypt.checkpw(b"first-password", base64.b64decode(user["password"]))


async def test_develop_logs_in_like_a_browser_and_sees_the_entry(
    site: Site,
    local_auth: HassAuthProvider,
    hass_client_no_auth: Callable[[], Awaitable[TestClient[Any, Any]]],
) -> None:
    """What scripts/develop waits for, through Home Assistant's real HTTP API."""
    hass = site.hass
    local_auth.data.add_auth(develop.DEFAULT_USERNAME, develop.DEFAULT_PASSWORD)
    for component in ("http", "auth", "api", "config"):
        assert await async_setup_component(hass, component, {})
    await site.setup()
    client = await hass_client_no_auth()
    api = develop.HomeAssistantApi(client.session, str(client.make_url("")).rstrip("/"))

    assert await api.up()
    with pytest.raises(develop.DevelopError, match="refused"):
        await api.login(develop.DEFAULT_USERNAME, "wrong")
    await api.login(develop.DEFAULT_USERNAME, develop.DEFAULT_PASSWORD)
    entries = await api.entries()
    assert entries is not None
    (entry,) = entries
    assert (entry["entry_id"], entry["state"]) == (site.entry.entry_id, "loaded")
    assert await api.entries(2) is None  # --installations 2: the second site's entry is missing
    states = await api.entities()
    assert states
    assert all(s["entity_id"].split(".")[0] in {"sensor", "binary_sensor"} for s in states)
    soc = next(s for s in states if s["entity_id"] == site.state("soc").entity_id)
    assert soc["attributes"]["source"] == "local"
    lines = develop.describe_entities(states, limit=3)
    assert lines[0].startswith("    sensor.")  # the battery's values come first
    assert lines[-1] == f"    ... and {len(states) - 3} more"
    await api.logout()
    with pytest.raises(develop.DevelopError, match="HTTP 401"):
        await api.entries()


def test_develop_summary_names_the_url_and_the_login() -> None:
    state = {
        "url": "http://127.0.0.1:8123",
        "username": "dev",
        "password": "victron-dev",
        "ha_version": "2026.2.3",
        "entry_state": "loaded",
        "entities": 2,
        "simulator": {"local": "http://127.0.0.1:8088", "vrm": "http://127.0.0.1:8089/v2"},
        "logs": {"simulator": ".dev/logs/simulator.log"},
        "entity_lines": ["    sensor.x = 1 %"],
    }
    lines = develop.summary(state)
    assert "  open      http://127.0.0.1:8123" in lines
    assert "  entry     loaded, 2 victron_cerbo entities" in lines
    fleet = develop.summary(
        state
        | {"installations": 2}
        | {"simulator": state["simulator"] | {"locals": ["http://a:1", "http://a:2"]}}
    )
    assert "  entry     loaded, 2 victron_cerbo entities (2 entries, one VRM account)" in fleet
    assert any(line.startswith("  simulator http://a:1, http://a:2 (Cerbo)") for line in fleet)
    assert "  login     dev / victron-dev" in lines
    assert "  log       .dev/logs/simulator.log  (simulator)" in lines
    assert lines[-1] == "    sensor.x = 1 %"
