"""The VRM source against the simulator's VRM API on loopback when VRM fails for real.

One rule: the last VRM values stay served (with a growing `data_age`) through two failed polls
in a row, however long each took; at the third the values, the "VRM connection" sensor and one
log line change together, and the first good poll brings everything back with one line. The
hang is real: the simulator holds the request and the client gives up after 0.3 s of real time.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from freezegun import freeze_time
from freezegun.api import TickingDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant, State
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.victron_cerbo.api.vrm import VrmClient
from custom_components.victron_cerbo.const import (
    CONF_BATTERY_INSTANCE,
    CONF_PORTAL_ID,
    CONF_SITE_ID,
    CONF_VRM_API_URL,
    CONF_VRM_TOKEN,
    DOMAIN,
)
from custom_components.victron_cerbo.vrm_coordinator import VrmCoordinator
from dev.simulator import (
    BATTERY,
    BATTERY_INSTANCE,
    SimConfig,
    SimulatedInstallation,
)
from tests.helpers import account_budget, advance, frozen_clock, make_entry, simulator

pytestmark = pytest.mark.usefixtures("socket_enabled")

START = datetime(2026, 4, 15, 10, 0, tzinfo=UTC)  # a VRM log instant
# A GX uploading every minute: VRM has something new at every 180 s poll, so polls do not
# wait for uploads and each `poll()` below is one poll.
SIM = SimConfig(logging_interval=60)
POLL = 180
SUMMARY = f"GET /v2/installations/{SIM.site_id}/widgets/BatterySummary?instance=512"
TIMEOUT = 0.3  # seconds of real time; the simulator holds a hung request far longer
FAILED_LINE = "Error fetching victron_cerbo VRM data"
RECOVERED_LINE = "Fetching victron_cerbo VRM data recovered"


@dataclass
class VrmSite:
    hass: HomeAssistant
    clock: TickingDateTimeFactory
    model: SimulatedInstallation
    server: TestServer
    entry: MockConfigEntry
    session: aiohttp.ClientSession

    @property
    def coordinator(self) -> VrmCoordinator:
        coordinator = self.entry.runtime_data.vrm
        assert coordinator is not None
        return coordinator

    async def poll(self) -> None:
        """One poll interval: the simulator and Home Assistant move on together."""
        # the poll talks to a real socket (and may wait out the real timeout)
        await advance(self.hass, self.clock, POLL, step=POLL, model=self.model, background=True)

    async def fault(self, **spec: Any) -> None:
        url = self.server.make_url("/sim/fault")
        async with self.session.post(url, json={"target": "vrm", **spec}) as response:
            assert response.status == 201, await response.text()

    async def clear_faults(self) -> None:
        url = self.server.make_url("/sim/fault?target=vrm")
        async with self.session.delete(url) as response:
            assert response.status < 300

    def state(self, key: str, platform: str = "sensor") -> State:
        entity_id = er.async_get(self.hass).async_get_entity_id(
            platform, DOMAIN, f"{SIM.portal_id}_{key}"
        )
        assert entity_id is not None, key
        state = self.hass.states.get(entity_id)
        assert state is not None, entity_id
        return state

    def summaries(self) -> int:
        counts: dict[str, int] = self.model.request_counts()["vrm"]["requests"]
        return counts.get(SUMMARY, 0)


@pytest.fixture
async def clock() -> AsyncIterator[TickingDateTimeFactory]:
    """Time that jumps a poll interval when told and otherwise runs at real speed.

    The event loop's clock is this one too, so a timeout of 0.3 s takes 0.3 s of real time.
    """
    with freeze_time(START, tick=True) as factory:
        assert isinstance(factory, TickingDateTimeFactory)
        yield factory


@pytest.fixture
async def site(hass: HomeAssistant, clock: TickingDateTimeFactory) -> AsyncIterator[VrmSite]:
    model = SimulatedInstallation(START, speed=0, seed=1, config=SIM, monotonic=frozen_clock)
    async with simulator(model) as (_, server), aiohttp.ClientSession() as session:
        data = {
            CONF_PORTAL_ID: SIM.portal_id,
            CONF_VRM_TOKEN: SIM.token,
            CONF_SITE_ID: SIM.site_id,
            CONF_BATTERY_INSTANCE: BATTERY_INSTANCE,
            CONF_VRM_API_URL: str(server.make_url("/v2")),
        }
        # the budget's rolling hour follows simulated time
        entry = make_entry(
            hass, data, title=SIM.site_name, unique_id=SIM.portal_id, minor_version=1
        )
        budget = account_budget(hass, SIM.token)
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        assert entry.state is ConfigEntryState.LOADED
        vrm = entry.runtime_data.vrm
        assert vrm is not None
        # The same kind of client Home Assistant built, with a timeout short enough to wait
        # out for real.
        vrm.client = VrmClient(
            session,
            SIM.token,
            budget=budget,
            base_url=str(server.make_url("/v2")),
            timeout=TIMEOUT,
        )
        yield VrmSite(hass, clock, model, server, entry, session)
        model.faults.clear()  # releases a request a hang still holds
        assert await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()


def lines(caplog: pytest.LogCaptureFixture, text: str) -> list[str]:
    return [record.getMessage() for record in caplog.records if text in record.getMessage()]


@pytest.mark.parametrize(
    ("spec", "cause"),
    [
        ({"kind": "hang", "seconds": 3600}, "timeout"),  # held until cleared
        ({"kind": "5xx", "status": 503}, "HTTP 503"),
        ({"kind": "malformed"}, "unparsable answer"),
    ],
    ids=["hang", "http_503", "malformed"],
)
async def test_values_connection_and_log_change_together_at_the_third_failure(
    site: VrmSite, caplog: pytest.LogCaptureFixture, spec: dict[str, Any], cause: str
) -> None:
    caplog.set_level(logging.INFO, logger="custom_components.victron_cerbo")
    soc = site.state("soc").state
    age = site.state("soc").attributes["data_age"]
    await site.fault(**spec)

    for failures in (1, 2):
        await site.poll()
        assert site.summaries() == 1 + failures  # one request per poll, no retry
        assert site.coordinator.health.consecutive_failures == failures
        assert site.coordinator.health.last_error_cause == cause
        # Still the last values, older by each poll, and still "connected"; nothing logged.
        state = site.state("soc")
        assert state.state == soc
        assert state.attributes["source"] == "vrm"
        assert state.attributes["data_age"] == pytest.approx(age + failures * POLL, abs=2)
        assert site.state("vrm_reachable", "binary_sensor").state == STATE_ON
        assert site.state("vrm_consecutive_failures").state == str(failures)
        assert lines(caplog, FAILED_LINE) == []

    await site.poll()

    assert site.summaries() == 4
    assert site.state("soc").state == STATE_UNAVAILABLE
    assert site.state("voltage").state == STATE_UNAVAILABLE
    reachable = site.state("vrm_reachable", "binary_sensor")
    assert reachable.state == STATE_OFF
    assert reachable.attributes["error"] == cause
    [line] = lines(caplog, FAILED_LINE)
    assert "3 updates in a row" in line
    assert f"({cause})" in line

    await site.poll()  # a fourth failure changes nothing and logs nothing more
    assert site.state("soc").state == STATE_UNAVAILABLE
    assert len(lines(caplog, FAILED_LINE)) == 1

    await site.clear_faults()
    await site.poll()

    assert site.coordinator.health.consecutive_failures == 0
    state = site.state("soc")
    assert state.state != STATE_UNAVAILABLE
    truth = site.model.latest_log().services[BATTERY]["Soc"]
    assert float(state.state) == pytest.approx(truth, abs=0.1)
    assert site.state("vrm_reachable", "binary_sensor").state == STATE_ON
    assert "error" not in site.state("vrm_reachable", "binary_sensor").attributes
    assert len(lines(caplog, RECOVERED_LINE)) == 1
    assert len(lines(caplog, FAILED_LINE)) == 1


async def test_a_slow_failure_still_counts_as_one(
    site: VrmSite, caplog: pytest.LogCaptureFixture
) -> None:
    """Two hung polls and a good one: never unavailable, never logged."""
    await site.fault(kind="hang", seconds=3600, count=2)

    await site.poll()
    await site.poll()
    assert site.coordinator.health.consecutive_failures == 2
    assert site.state("soc").state != STATE_UNAVAILABLE
    await site.poll()

    assert site.coordinator.health.consecutive_failures == 0
    assert site.summaries() == 4
    # a new sample: as old as VRM's newest upload, not as old as the one before the hangs
    log_age = site.model.timestamp() - site.model.latest_log().t
    assert site.state("soc").attributes["data_age"] == pytest.approx(log_age, abs=2)
    assert site.state("vrm_reachable", "binary_sensor").state == STATE_ON
    assert lines(caplog, FAILED_LINE) == []
    assert lines(caplog, RECOVERED_LINE) == []
