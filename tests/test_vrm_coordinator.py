"""The VRM coordinator in a real Home Assistant, with HTTP faked by aioclient_mock."""

from __future__ import annotations

import json
import string
from collections.abc import AsyncGenerator, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryAuthFailed, ConfigEntryNotReady
from homeassistant.helpers.update_coordinator import UpdateFailed
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
)
from pytest_homeassistant_custom_component.test_util.aiohttp import (
    AiohttpClientMocker,
)

from custom_components.victron_cerbo.api.vrm import RequestBudget, VrmClient
from custom_components.victron_cerbo.const import (
    CONF_BATTERY_INSTANCE,
    CONF_BUDGET_LIMIT,
    CONF_BUDGET_WARNING,
    CONF_SITE_ID,
    CONF_VRM_POLL_INTERVAL,
    CONF_VRM_TOKEN,
    CONF_VRM_USER_ID,
    DOMAIN,
)
from custom_components.victron_cerbo.options import budget_thresholds
from custom_components.victron_cerbo.vrm_account import (
    account_key,
    entry_request_budget,
    vrm_accounts,
)
from custom_components.victron_cerbo.vrm_coordinator import VrmCoordinator, VrmData, VrmHealth
from tests.helpers import (
    BATTERY_URL,
    INSTALLATIONS_URL,
    INSTANCE,
    OVERVIEW_URL,
    SITE_ID,
    TOKEN,
    USER_ID,
    FakeVrm,
    Tick,
    frozen_clock,
    make_entry,
    request_count,
    vrm_json,
)

POLL = 180
ENTRY_UNIQUE_ID = "c0619ab1e2f3"
# As the flow stores a VRM-only entry: without the portal ID.
VRM_ONLY = {CONF_VRM_TOKEN: TOKEN, CONF_SITE_ID: SITE_ID, CONF_BATTERY_INSTANCE: INSTANCE}
STRINGS = json.loads(
    (
        Path(__file__).parent.parent / "custom_components" / DOMAIN / "translations" / "en.json"
    ).read_text(encoding="utf-8")
)


@pytest.fixture
def options() -> dict[str, Any]:
    return {}


@pytest.fixture
def entry(hass: HomeAssistant, options: dict[str, Any]) -> MockConfigEntry:
    """A VRM-only entry being set up; the coordinator under test makes its own budget."""
    entry = make_entry(hass, VRM_ONLY, options, unique_id=ENTRY_UNIQUE_ID, frozen_budget=False)
    entry.mock_state(hass, ConfigEntryState.SETUP_IN_PROGRESS)
    return entry


@pytest.fixture
async def session(
    hass: HomeAssistant, aioclient_mock: AiohttpClientMocker
) -> AsyncGenerator[aiohttp.ClientSession]:
    session = aioclient_mock.create_session(hass.loop)
    yield session
    await session.close()


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def client(session: aiohttp.ClientSession, sleeps: list[float]) -> VrmClient:
    async def no_wait(seconds: float) -> None:
        sleeps.append(seconds)

    # The budget follows Home Assistant's (frozen) clock so freezer.tick moves it.
    budget = RequestBudget(clock=frozen_clock)
    return VrmClient(session, TOKEN, budget=budget, sleep=no_wait)


@pytest.fixture
def coordinator(hass: HomeAssistant, entry: MockConfigEntry, client: VrmClient) -> VrmCoordinator:
    return VrmCoordinator(hass, entry, client)


@pytest.fixture
def listen(coordinator: VrmCoordinator) -> Callable[[], list[int]]:
    """Subscribe like an entity would (polling only runs with listeners)."""
    calls: list[int] = []
    unsubscribers: list[Callable[[], None]] = []

    def start() -> list[int]:
        unsubscribers.append(coordinator.async_add_listener(lambda: calls.append(1)))
        return calls

    yield start
    for unsubscribe in unsubscribers:
        unsubscribe()


def assert_translated(err: BaseException | None) -> None:
    """The error's message exists in en.json and gets every placeholder it uses."""
    assert isinstance(err, ConfigEntryAuthFailed | UpdateFailed)
    assert err.translation_domain == DOMAIN
    message = STRINGS["exceptions"][err.translation_key]["message"]
    used = {name for _, name, _, _ in string.Formatter().parse(message) if name}
    assert used <= set(err.translation_placeholders or {})


async def started(coordinator: VrmCoordinator, listen: Callable[[], list[int]]) -> list[int]:
    await coordinator.async_config_entry_first_refresh()
    return listen()


# --- setup and normal polling -------------------------------------------------------------


async def test_setup_and_one_poll(
    tick: Tick,
    aioclient_mock: AiohttpClientMocker,
    vrm: FakeVrm,
    coordinator: VrmCoordinator,
    listen: Callable[[], list[int]],
) -> None:
    setup_at = dt_util.utcnow()

    await started(coordinator, listen)

    # Setup: one system-overview plus one BatterySummary.
    assert request_count(aioclient_mock, "system-overview") == 1
    assert request_count(aioclient_mock, "BatterySummary") == 1
    data = coordinator.data
    assert isinstance(data, VrmData)
    assert data.battery is not None
    assert data.battery.soc == 78.5
    assert data.overview is not None
    assert [m.instance for m in data.overview.battery_monitors] == [512, 288]
    assert data.fetched_at == setup_at
    assert coordinator.update_interval == timedelta(seconds=POLL)
    health = coordinator.health
    assert health.last_success == setup_at
    assert coordinator.budget.used == 2
    assert health.status == "ok"
    assert health.is_healthy()

    await tick(POLL)

    # One poll: exactly one more request, BatterySummary only.
    assert aioclient_mock.call_count == 3
    assert request_count(aioclient_mock, "BatterySummary") == 2
    assert coordinator.budget.used == 3
    assert coordinator.data.fetched_at == setup_at + timedelta(seconds=POLL)


async def test_a_day_of_polls(
    tick: Tick,
    aioclient_mock: AiohttpClientMocker,
    vrm: FakeVrm,
    coordinator: VrmCoordinator,
    listen: Callable[[], list[int]],
) -> None:
    start = dt_util.utcnow()
    await started(coordinator, listen)
    sent_at: list[float] = [start.timestamp()] * 2

    for _ in range(24 * 3600 // POLL):
        before = aioclient_mock.call_count
        await tick(POLL)
        sent_at += [dt_util.utcnow().timestamp()] * (aioclient_mock.call_count - before)

    # 480 polls, one system-overview an hour after the one at setup.
    assert request_count(aioclient_mock, "BatterySummary") == 1 + 480
    assert request_count(aioclient_mock, "system-overview") == 1 + 24
    worst = max(sum(1 for t in sent_at if moment - 3600 < t <= moment) for moment in sent_at)
    assert worst == 21
    assert coordinator.budget.used == 21
    assert not coordinator.budget.near_limit


async def test_unchanged_data_does_not_wake_listeners(
    tick: Tick,
    vrm: FakeVrm,
    coordinator: VrmCoordinator,
    listen: Callable[[], list[int]],
) -> None:
    changed = vrm_json("battery_summary")
    changed["records"]["data"]["51"]["rawValue"] = "80.0"
    vrm.serve(BATTERY_URL, [{"json": vrm_json("battery_summary")}] * 2 + [{"json": changed}])
    calls = await started(coordinator, listen)

    await tick(POLL)
    assert calls == []  # same reading, only fetched_at moved
    await tick(POLL)
    assert calls == [1]
    assert coordinator.data.battery is not None
    assert coordinator.data.battery.soc == 80.0


async def test_empty_widget_is_not_an_error(vrm: FakeVrm, coordinator: VrmCoordinator) -> None:
    vrm.serve(BATTERY_URL, [{"json": vrm_json("battery_summary_empty")}])

    await coordinator.async_config_entry_first_refresh()

    assert coordinator.last_update_success
    assert coordinator.data.battery is None
    assert coordinator.health.status == "ok"
    assert coordinator.health.data_age() is None


@pytest.mark.parametrize(
    ("options", "interval", "warning", "limit"),
    [
        ({CONF_VRM_POLL_INTERVAL: 300.0}, 300, 40, 45),
        ({CONF_VRM_POLL_INTERVAL: 60}, 180, 40, 45),  # never below the floor
        ({CONF_VRM_POLL_INTERVAL: "fast"}, 180, 40, 45),
        ({CONF_BUDGET_WARNING: 10.0, CONF_BUDGET_LIMIT: 12.0}, 180, 10, 12),
        ({CONF_BUDGET_WARNING: 50, CONF_BUDGET_LIMIT: 30}, 180, 30, 30),
        ({CONF_BUDGET_WARNING: True, CONF_BUDGET_LIMIT: 0}, 180, 1, 1),
    ],
)
def test_options(coordinator: VrmCoordinator, interval: int, warning: int, limit: int) -> None:
    assert coordinator.update_interval == timedelta(seconds=interval)
    assert (coordinator.budget.warning, coordinator.budget.limit) == (warning, limit)
    assert coordinator.client.budget is coordinator.budget


def test_budget_thresholds_defaults() -> None:
    assert budget_thresholds({}) == (40, 45)


async def test_budget_survives_a_reload(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    vrm: FakeVrm,
    coordinator: VrmCoordinator,
    session: aiohttp.ClientSession,
) -> None:
    await coordinator.async_config_entry_first_refresh()
    assert coordinator.budget.used == 2

    # A reload builds a new client with a fresh budget: the entry's budget replaces it.
    second = VrmCoordinator(hass, entry, VrmClient(session, TOKEN))
    assert second.budget is coordinator.budget
    assert second.client.budget is coordinator.budget
    assert second.budget.used == 2
    assert vrm_accounts(hass).accounts[account_key(TOKEN)].budget is coordinator.budget


async def test_entry_request_budget_without_fallback(
    hass: HomeAssistant, entry: MockConfigEntry
) -> None:
    budget = entry_request_budget(hass, entry)
    assert entry_request_budget(hass, entry) is budget
    assert (budget.warning, budget.limit) == (40, 45)


# --- setup failures -----------------------------------------------------------------------


async def test_setup_auth_failure(
    aioclient_mock: AiohttpClientMocker, vrm: FakeVrm, coordinator: VrmCoordinator
) -> None:
    vrm.serve(OVERVIEW_URL, [{"status": 401, "json": vrm_json("error_401")}])

    with pytest.raises(ConfigEntryAuthFailed) as caught:
        await coordinator.async_config_entry_first_refresh()

    assert caught.value.translation_key == "vrm_auth_failed"
    assert_translated(caught.value)
    assert aioclient_mock.call_count == 1
    assert coordinator.health.last_error_kind == "auth"
    assert coordinator.health.consecutive_failures == 1


async def test_setup_vrm_down(
    aioclient_mock: AiohttpClientMocker,
    vrm: FakeVrm,
    coordinator: VrmCoordinator,
    sleeps: list[float],
) -> None:
    vrm.serve(OVERVIEW_URL, [{"status": 503, "text": "<html>down</html>"}])

    with pytest.raises(ConfigEntryNotReady):
        await coordinator.async_config_entry_first_refresh()

    assert aioclient_mock.call_count == 1  # no retry, no BatterySummary after a failed discovery
    assert sleeps == []
    assert coordinator.health.last_error_kind == "server_error"
    assert isinstance(coordinator.last_exception, UpdateFailed)
    assert coordinator.last_exception.translation_key == "vrm_server_error"


@pytest.mark.parametrize(
    ("answer", "key", "cause"),
    [
        ({"text": "<html>maintenance</html>"}, "vrm_bad_response", "unparsable answer"),
        ({"status": 403, "json": vrm_json("error_403")}, "vrm_forbidden", "HTTP 403 (no access)"),
    ],
)
async def test_setup_battery_failure_is_reported_at_once(
    vrm: FakeVrm,
    coordinator: VrmCoordinator,
    answer: dict[str, Any],
    key: str,
    cause: str,
) -> None:
    vrm.serve(BATTERY_URL, [answer])

    with pytest.raises(ConfigEntryNotReady):
        await coordinator.async_config_entry_first_refresh()

    assert isinstance(coordinator.last_exception, UpdateFailed)
    assert coordinator.last_exception.translation_key == key
    assert_translated(coordinator.last_exception)
    assert coordinator.health.last_error_cause == cause


async def test_setup_bad_overview_does_not_block_battery_data(
    tick: Tick,
    aioclient_mock: AiohttpClientMocker,
    vrm: FakeVrm,
    coordinator: VrmCoordinator,
    listen: Callable[[], list[int]],
) -> None:
    vrm.serve(
        OVERVIEW_URL,
        [{"json": {"success": True, "records": []}}, {"json": vrm_json("system_overview")}],
    )

    await started(coordinator, listen)

    assert coordinator.data.overview is None
    assert coordinator.data.battery is not None
    assert aioclient_mock.call_count == 2

    # Tried again within the hour, not on every poll.
    for _ in range(19):
        await tick(POLL)
    assert request_count(aioclient_mock, "system-overview") == 1
    await tick(POLL)
    assert request_count(aioclient_mock, "system-overview") == 2
    assert coordinator.data.overview is not None


# --- poll failures ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "case",
    [
        ({"status": 403, "json": vrm_json("error_403")}, "forbidden", "HTTP 403 (no access)", 1),
        ({"status": 500, "json": vrm_json("error_500")}, "server_error", "HTTP 500", 1),
        ({"status": 502, "text": "<html>502 Bad Gateway</html>"}, "server_error", "HTTP 502", 1),
        ({"exc": TimeoutError()}, "timeout", "timeout", 1),
        # Only a failed connection gets its one quick retry.
        ({"exc": aiohttp.ClientConnectionError()}, "connection", "connection failed", 2),
        ({"text": "<html>maintenance</html>"}, "bad_response", "unparsable answer", 1),
        (
            {"json": vrm_json("error_success_false")},
            "bad_response",
            "VRM reported an error (missing_parameters)",
            1,
        ),
        (
            {"json": {"success": True, "records": {"data": 7}}},
            "bad_response",
            "unexpected answer",
            1,
        ),
    ],
)
async def test_poll_failures_keep_the_last_data_until_the_third(
    tick: Tick,
    aioclient_mock: AiohttpClientMocker,
    vrm: FakeVrm,
    coordinator: VrmCoordinator,
    listen: Callable[[], list[int]],
    *,
    case: tuple[dict[str, Any], str, str, int],
) -> None:
    answer, kind, cause, requests = case
    vrm.serve(BATTERY_URL, [{"json": vrm_json("battery_summary")}, answer])
    calls = await started(coordinator, listen)
    good = coordinator.data
    good_success = coordinator.health.last_success
    health = coordinator.health

    for failures in (1, 2):
        await tick(POLL)
        # Still serving: the same reading, no failed update (so nothing logged yet).
        assert aioclient_mock.call_count == 2 + failures * requests
        assert coordinator.last_update_success
        assert coordinator.last_exception is None
        assert coordinator.data.battery is good.battery
        assert coordinator.data.fetched_at == good.fetched_at
        assert coordinator.data.failures == failures
        assert health.serving
        assert health.consecutive_failures == failures
        assert health.last_error_kind == kind
        assert health.last_error_cause == cause
        assert health.status == kind
        assert health.last_success == good_success
        assert health.last_attempt == dt_util.utcnow()
        assert health.last_error_at == dt_util.utcnow()
    assert calls == [1, 1]  # the failure counts changed

    await tick(POLL)

    assert aioclient_mock.call_count == 2 + 3 * requests
    assert not coordinator.last_update_success
    assert not health.serving
    assert coordinator.data.battery is good.battery
    error = coordinator.last_exception
    assert isinstance(error, UpdateFailed)
    assert error.translation_key == "vrm_unavailable"
    assert_translated(error)
    assert error.translation_placeholders["site_id"] == str(SITE_ID)
    assert error.translation_placeholders["failures"] == "3"
    assert error.translation_placeholders["cause"] == cause
    assert TOKEN not in str(error.translation_placeholders)
    assert health.consecutive_failures == 3


async def test_a_good_poll_resets_the_count(
    tick: Tick,
    aioclient_mock: AiohttpClientMocker,
    vrm: FakeVrm,
    coordinator: VrmCoordinator,
    listen: Callable[[], list[int]],
) -> None:
    good, down = {"json": vrm_json("battery_summary")}, {"status": 503, "text": "down"}
    vrm.serve(BATTERY_URL, [good, down, down, good, down, down, good])
    await started(coordinator, listen)

    for _ in range(6):
        await tick(POLL)
        assert coordinator.last_update_success
        assert coordinator.health.serving

    assert coordinator.health.consecutive_failures == 0
    assert coordinator.data.failures == 0
    assert request_count(aioclient_mock, "BatterySummary") == 7


async def test_poll_auth_failure(
    aioclient_mock: AiohttpClientMocker, vrm: FakeVrm, coordinator: VrmCoordinator
) -> None:
    vrm.serve(
        BATTERY_URL,
        [{"json": vrm_json("battery_summary")}, {"status": 401, "json": vrm_json("error_401")}],
    )
    await coordinator.async_config_entry_first_refresh()

    with pytest.raises(ConfigEntryAuthFailed) as caught:
        await coordinator._async_update_data()

    assert_translated(caught.value)
    assert coordinator.health.last_error_kind == "auth"
    assert aioclient_mock.call_count == 3


async def test_unexpected_error_is_recorded(vrm: FakeVrm, coordinator: VrmCoordinator) -> None:
    vrm.serve(BATTERY_URL, [{"json": vrm_json("battery_summary")}, {"exc": RuntimeError("bug")}])
    await coordinator.async_config_entry_first_refresh()

    with pytest.raises(RuntimeError):
        await coordinator._async_update_data()

    assert coordinator.health.last_error_kind == "unexpected"
    assert coordinator.health.last_error == "RuntimeError"


async def test_429_delays_the_next_poll(
    tick: Tick,
    aioclient_mock: AiohttpClientMocker,
    vrm: FakeVrm,
    coordinator: VrmCoordinator,
    listen: Callable[[], list[int]],
) -> None:
    vrm.serve(
        BATTERY_URL,
        [
            {"json": vrm_json("battery_summary")},
            {"status": 429, "json": vrm_json("error_429"), "headers": {"Retry-After": "600"}},
            {"json": vrm_json("battery_summary")},
        ],
    )
    await started(coordinator, listen)
    good = coordinator.data

    await tick(POLL)
    limited_at = dt_util.utcnow()
    assert aioclient_mock.call_count == 3
    # The first failure in a row: the last data stays, no failed update.
    assert coordinator.last_update_success
    assert coordinator.health.last_error_kind == "rate_limited"
    assert coordinator.health.last_error_cause == "HTTP 429 (rate limited)"
    assert coordinator.budget.hold_remaining() == 600
    assert coordinator.data.battery is good.battery

    # The next poll waits for Retry-After, not the usual interval: no attempt at all.
    await tick(POLL)
    await tick(POLL)
    await tick(POLL)
    assert coordinator.health.last_attempt == limited_at
    assert aioclient_mock.call_count == 3

    await tick(600 - 3 * POLL)
    assert aioclient_mock.call_count == 4
    assert coordinator.last_update_success
    assert coordinator.budget.hold_remaining() == 0
    assert coordinator.health.status == "ok"
    assert coordinator.health.last_error_kind == "rate_limited"  # remembered, but not current


async def test_third_429_in_a_row_fails_and_waits(
    tick: Tick,
    aioclient_mock: AiohttpClientMocker,
    vrm: FakeVrm,
    coordinator: VrmCoordinator,
    listen: Callable[[], list[int]],
) -> None:
    vrm.serve(
        BATTERY_URL,
        [
            {"json": vrm_json("battery_summary")},
            {"status": 429, "json": vrm_json("error_429"), "headers": {"Retry-After": "400"}},
            {"status": 429, "text": "slow down"},  # no Retry-After: five minutes
            {"status": 429, "text": "{}", "headers": {"Retry-After": "5"}},
            {"json": vrm_json("battery_summary")},
        ],
    )
    await started(coordinator, listen)

    await tick(POLL)
    await tick(400 - POLL)
    assert request_count(aioclient_mock, "BatterySummary") == 2
    await tick(POLL)
    assert request_count(aioclient_mock, "BatterySummary") == 3
    assert coordinator.last_update_success
    await tick(300 - 10)
    assert request_count(aioclient_mock, "BatterySummary") == 3  # nothing before Retry-After
    await tick(10)
    assert request_count(aioclient_mock, "BatterySummary") == 4

    error = coordinator.last_exception
    assert isinstance(error, UpdateFailed)
    assert error.translation_key == "vrm_unavailable"
    assert_translated(error)
    # a short Retry-After never makes us poll faster than the interval
    assert error.retry_after == POLL
    await tick(POLL - 10)
    assert request_count(aioclient_mock, "BatterySummary") == 4
    await tick(10)
    assert request_count(aioclient_mock, "BatterySummary") == 5
    assert coordinator.last_update_success


async def test_429_at_setup_is_reported_at_once(vrm: FakeVrm, coordinator: VrmCoordinator) -> None:
    vrm.serve(BATTERY_URL, [{"status": 429, "text": "slow down"}])

    await coordinator.async_refresh()

    error = coordinator.last_exception
    assert isinstance(error, UpdateFailed)
    assert error.translation_key == "vrm_rate_limited"
    assert error.retry_after == 300
    assert_translated(error)


@pytest.mark.parametrize("options", [{CONF_BUDGET_WARNING: 2, CONF_BUDGET_LIMIT: 3}])
async def test_budget_exhausted(
    tick: Tick,
    aioclient_mock: AiohttpClientMocker,
    vrm: FakeVrm,
    coordinator: VrmCoordinator,
    listen: Callable[[], list[int]],
) -> None:
    await started(coordinator, listen)
    await tick(POLL)
    assert aioclient_mock.call_count == 3
    assert coordinator.budget.near_limit
    good = coordinator.data

    await tick(POLL)  # the fourth request would break the cap

    assert aioclient_mock.call_count == 3
    assert coordinator.last_update_success  # the first failure in a row
    assert coordinator.health.last_error_kind == "budget"
    assert coordinator.health.last_error_cause == "request budget used up"
    assert coordinator.data.battery is good.battery
    refused_at = coordinator.health.last_attempt

    # The setup requests leave the window 3600 s after setup, 3240 s from now: no attempt
    # before then.
    await tick(3000)
    assert coordinator.health.last_attempt == refused_at
    await tick(3600 - 2 * POLL - 3000)
    assert coordinator.last_update_success
    assert coordinator.health.consecutive_failures == 0
    assert aioclient_mock.call_count == 4


@pytest.mark.parametrize("options", [{CONF_BUDGET_WARNING: 1, CONF_BUDGET_LIMIT: 1}])
async def test_budget_exhausted_at_setup(
    aioclient_mock: AiohttpClientMocker, vrm: FakeVrm, coordinator: VrmCoordinator
) -> None:
    coordinator.budget.acquire()  # someone else took the only slot

    await coordinator.async_refresh()

    error = coordinator.last_exception
    assert isinstance(error, UpdateFailed)
    assert error.translation_key == "vrm_budget_exceeded"
    assert error.translation_placeholders["limit"] == "1"
    assert_translated(error)
    assert aioclient_mock.call_count == 0


@pytest.mark.parametrize("options", [{CONF_BUDGET_WARNING: 1}])
async def test_overview_refresh_skipped_near_the_limit(
    tick: Tick,
    aioclient_mock: AiohttpClientMocker,
    vrm: FakeVrm,
    coordinator: VrmCoordinator,
    listen: Callable[[], list[int]],
) -> None:
    await started(coordinator, listen)

    for _ in range(30):
        await tick(POLL)

    assert request_count(aioclient_mock, "system-overview") == 1
    assert request_count(aioclient_mock, "BatterySummary") == 31


async def test_overview_refresh_failure_keeps_the_old_one(
    tick: Tick,
    aioclient_mock: AiohttpClientMocker,
    vrm: FakeVrm,
    coordinator: VrmCoordinator,
    listen: Callable[[], list[int]],
) -> None:
    vrm.serve(
        OVERVIEW_URL,
        [{"json": vrm_json("system_overview")}, {"status": 403, "json": vrm_json("error_403")}],
    )
    await started(coordinator, listen)
    overview = coordinator.data.overview

    for _ in range(20):
        await tick(POLL)

    assert request_count(aioclient_mock, "system-overview") == 2
    assert coordinator.last_update_success
    assert coordinator.data.overview is overview


# --- health -------------------------------------------------------------------------------


async def test_health_data_age_and_staleness(
    tick: Tick,
    vrm: FakeVrm,
    coordinator: VrmCoordinator,
    listen: Callable[[], list[int]],
) -> None:
    vrm.serve(BATTERY_URL, [{"json": vrm_json("battery_summary")}, {"exc": TimeoutError()}])
    await started(coordinator, listen)
    health = coordinator.health
    fetched = dt_util.utcnow()
    assert health.data_age() == 42  # VRM's secondsAgo at fetch time
    assert health.has_old_data is False

    for _ in range(3):
        await tick(POLL)
    assert health.consecutive_failures == 3
    assert health.data_age() == 42 + 3 * POLL
    assert health.is_healthy()  # 9 minutes since the last success
    await tick(POLL)
    assert not health.is_healthy()
    assert not health.healthy

    report = health.as_dict()
    assert report["status"] == "timeout"
    assert report["healthy"] is False
    assert report["last_success"] == fetched.isoformat()
    assert report["consecutive_failures"] == 4
    assert report["data_age"] == 42 + 4 * POLL
    assert coordinator.budget.used == 2 + 4  # a timeout is not retried inside the poll


def test_health_before_anything() -> None:
    health = VrmHealth()
    assert health.status == "unknown"
    assert not health.is_healthy()
    assert health.data_age() is None
    assert health.as_dict()["last_attempt"] is None


# --- a site without a battery monitor -------------------------------------------------------

SYSTEM_BATTERY_URL = f"{INSTALLATIONS_URL}?idSite={SITE_ID}&extended=1"


@pytest.fixture
def system_entry(hass: HomeAssistant) -> MockConfigEntry:
    """A VRM-only entry of a site without a battery monitor, being set up."""
    data = {**VRM_ONLY, CONF_VRM_USER_ID: USER_ID, CONF_BATTERY_INSTANCE: None}
    entry = make_entry(hass, data, unique_id=ENTRY_UNIQUE_ID, frozen_budget=False)
    entry.mock_state(hass, ConfigEntryState.SETUP_IN_PROGRESS)
    return entry


async def test_system_battery_one_request_per_poll(
    hass: HomeAssistant,
    tick: Tick,
    aioclient_mock: AiohttpClientMocker,
    vrm: FakeVrm,
    *,
    system_entry: MockConfigEntry,
    client: VrmClient,
) -> None:
    vrm.overview = vrm_json("system_overview_no_battery")
    # A GX uploading every minute, so every 180 s poll has something new (the fixture's
    # 900 s would let polls wait for uploads; see test_polls_wait_for_the_next_upload).
    vrm.overview["records"]["devices"][0]["loggingInterval"] = 60
    vrm.installations = vrm_json("installations_system_battery")
    coordinator = VrmCoordinator(hass, system_entry, client)
    unsubscribe = coordinator.async_add_listener(lambda: None)

    await coordinator.async_config_entry_first_refresh()

    assert coordinator.battery_instance is None
    battery = coordinator.data.battery
    assert battery is not None
    assert battery.system
    assert battery.soc == 81.5
    assert coordinator.health.data_age() == 60
    assert coordinator.overview is not None
    assert coordinator.overview.battery_measured_by is not None
    assert [str(call[1]) for call in aioclient_mock.mock_calls] == [
        OVERVIEW_URL,
        SYSTEM_BATTERY_URL,
    ]

    for _ in range(20):
        await tick(POLL)
    # One installations request per poll, and the hourly overview: nothing else.
    assert request_count(aioclient_mock, "extended=1") == 21
    assert request_count(aioclient_mock, "system-overview") == 2
    assert request_count(aioclient_mock, "BatterySummary") == 0
    # the rolling hour: the two setup requests have just left it
    assert coordinator.budget.used == 21
    unsubscribe()


async def test_system_battery_without_a_stored_user_id(
    hass: HomeAssistant,
    aioclient_mock: AiohttpClientMocker,
    vrm: FakeVrm,
    system_entry: MockConfigEntry,
    client: VrmClient,
) -> None:
    hass.config_entries.async_update_entry(
        system_entry, data={**system_entry.data, CONF_VRM_USER_ID: None}
    )
    vrm.users_me = vrm_json("users_me")
    vrm.overview = vrm_json("system_overview_no_battery")
    vrm.installations = vrm_json("installations_system_battery")
    coordinator = VrmCoordinator(hass, system_entry, client)

    await coordinator.async_config_entry_first_refresh()

    assert coordinator.user_id == USER_ID
    assert coordinator.data.battery is not None
    assert aioclient_mock.call_count == 3
