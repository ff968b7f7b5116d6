"""One VRM request budget per account: every entry on one token shares its count and its holds.

Real Home Assistant, VRM faked at the HTTP transport (FakeVrm). The entries here read the same
site, so their requests go to the same addresses; only the count per account matters.
"""

from __future__ import annotations

from typing import Any

import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.test_util.aiohttp import AiohttpClientMocker
from yarl import URL

from custom_components.victron_cerbo.api.vrm import DEFAULT_RATE_LIMIT_HOLD
from custom_components.victron_cerbo.const import (
    CONF_BATTERY_INSTANCE,
    CONF_BUDGET_LIMIT,
    CONF_BUDGET_WARNING,
    CONF_SITE_ID,
    CONF_VRM_TOKEN,
    CONF_VRM_USER_ID,
    DOMAIN,
)
from custom_components.victron_cerbo.vrm_account import account_key, vrm_accounts
from tests.helpers import (
    BATTERY_URL,
    INSTANCE,
    SITE_ID,
    TOKEN,
    USER_ID,
    FakeVrm,
    Tick,
    account_budget,
    advance,
    frozen_clock,
    make_entry,
    setup_entry,
)

OTHER_TOKEN = "b" * 64
WINDOW = 3600.0


def vrm_data(token: str = TOKEN) -> dict[str, Any]:
    """A VRM-only entry as the flow stores it."""
    return {CONF_VRM_TOKEN: token, CONF_SITE_ID: SITE_ID, CONF_BATTERY_INSTANCE: INSTANCE}


def budget_options(warning: int, limit: int) -> dict[str, Any]:
    return {CONF_BUDGET_WARNING: float(warning), CONF_BUDGET_LIMIT: float(limit)}


async def add(
    hass: HomeAssistant,
    name: str,
    token: str = TOKEN,
    options: dict[str, Any] | None = None,
) -> MockConfigEntry:
    """A VRM-only entry named `name`, set up."""
    entry = make_entry(hass, vrm_data(token), options, title=name, unique_id=name)
    await setup_entry(hass, entry)
    return entry


def requests_sensor(hass: HomeAssistant, entry: MockConfigEntry) -> tuple[str, Any]:
    """State and `account_entries` of the entry's "VRM requests in the last hour"."""
    entity_id = er.async_get(hass).async_get_entity_id(
        "sensor", DOMAIN, f"{entry.unique_id}_vrm_requests_last_hour"
    )
    assert entity_id is not None
    state = hass.states.get(entity_id)
    assert state is not None
    return state.state, state.attributes.get("account_entries")


async def test_entries_on_one_token_share_the_budget(
    hass: HomeAssistant, vrm: FakeVrm, tick: Tick
) -> None:
    first = await add(hass, "boat")
    second = await add(hass, "cabin")
    assert vrm.count() == 4  # each: system overview + BatterySummary
    budget = account_budget(hass)
    assert first.runtime_data.vrm is not None
    assert second.runtime_data.vrm is not None
    assert first.runtime_data.vrm.budget is budget
    assert second.runtime_data.vrm.budget is budget
    assert budget.used == 4

    await tick(180)  # one poll each
    assert vrm.count(BATTERY_URL) == 4
    assert budget.used == vrm.count() == 6
    await tick(30)  # each entry's view catches up with the other's poll
    assert requests_sensor(hass, first) == ("6", 2)
    assert requests_sensor(hass, second) == ("6", 2)
    budget_sensor = er.async_get(hass).async_get_entity_id(
        "binary_sensor", DOMAIN, f"{first.unique_id}_vrm_budget"
    )
    assert budget_sensor is not None
    state = hass.states.get(budget_sensor)
    assert state is not None
    assert (state.state, state.attributes["account_entries"]) == ("off", 2)


async def test_two_tokens_two_budgets(hass: HomeAssistant, vrm: FakeVrm, tick: Tick) -> None:
    first = await add(hass, "boat")
    second = await add(hass, "cabin", OTHER_TOKEN)
    await tick(210)
    assert vrm.count() == 6
    assert account_budget(hass) is not account_budget(hass, OTHER_TOKEN)
    assert account_budget(hass).used == 3
    assert account_budget(hass, OTHER_TOKEN).used == 3
    assert requests_sensor(hass, first) == ("3", 1)
    assert requests_sensor(hass, second) == ("3", 1)


async def test_reload_keeps_the_account_count(
    hass: HomeAssistant, vrm: FakeVrm, tick: Tick
) -> None:
    first = await add(hass, "boat")
    await add(hass, "cabin")
    budget = account_budget(hass)
    assert await hass.config_entries.async_reload(first.entry_id)
    await hass.async_block_till_done()
    assert vrm.count() == 6  # the reload's overview + BatterySummary
    assert account_budget(hass) is budget
    assert first.runtime_data.vrm is not None
    assert first.runtime_data.vrm.budget is budget
    assert budget.used == 6


async def test_removing_entries(hass: HomeAssistant, vrm: FakeVrm, tick: Tick) -> None:
    first = await add(hass, "boat")
    second = await add(hass, "cabin")
    budget = account_budget(hass)

    await hass.config_entries.async_remove(first.entry_id)
    await hass.async_block_till_done()
    assert account_budget(hass) is budget  # the other entry still uses it
    assert budget.used == 4
    await tick(180)
    assert vrm.count() == budget.used == 5
    await tick(30)
    assert requests_sensor(hass, second) == ("5", 1)

    # The last entry goes while its hour still counts: kept, so re-adding cannot pass the cap.
    await hass.config_entries.async_remove(second.entry_id)
    await hass.async_block_till_done()
    assert account_budget(hass) is budget
    third = await add(hass, "boat")
    assert third.runtime_data.vrm is not None
    assert third.runtime_data.vrm.budget is budget
    assert vrm.count() == budget.used == 7

    # Unloaded for an hour, nothing counts any more: removing the last entry forgets it.
    assert await hass.config_entries.async_unload(third.entry_id)
    await tick(WINDOW, step=60)
    assert vrm.count() == 7
    await hass.config_entries.async_remove(third.entry_id)
    await hass.async_block_till_done()
    assert vrm_accounts(hass).accounts == {}


async def test_a_removed_account_is_forgotten_once_idle(
    hass: HomeAssistant, vrm: FakeVrm, tick: Tick
) -> None:
    first = await add(hass, "boat")
    await hass.config_entries.async_remove(first.entry_id)
    await hass.async_block_till_done()
    assert account_key(TOKEN) in vrm_accounts(hass).accounts  # its two requests still count
    await tick(WINDOW, step=60)
    await add(hass, "cabin", OTHER_TOKEN)  # any later setup tidies up
    assert set(vrm_accounts(hass).accounts) == {account_key(OTHER_TOKEN)}


async def test_a_rate_limit_holds_every_entry_of_the_account(
    hass: HomeAssistant, vrm: FakeVrm, tick: Tick
) -> None:
    vrm.serve(
        BATTERY_URL,
        [
            {"json": vrm.summary},
            {"json": vrm.summary},
            {"status": 429, "json": {"success": False}, "headers": {"Retry-After": "900"}},
            {"json": vrm.summary},
        ],
    )
    first = await add(hass, "boat")
    second = await add(hass, "cabin")
    assert vrm.count() == 4

    await tick(180)  # one entry's poll meets the 429; the other's is not sent
    assert vrm.count() == 5
    assert account_budget(hass).hold_remaining() == pytest.approx(900 - 0, abs=10)
    await tick(880)  # nothing from either entry before the Retry-After runs out
    assert vrm.count() == 5
    await tick(40)
    assert vrm.count() == 7  # both poll again
    for entry in (first, second):
        assert entry.runtime_data.vrm is not None
        assert entry.runtime_data.vrm.health.consecutive_failures == 0


async def test_the_strictest_options_apply_to_the_account(
    hass: HomeAssistant, vrm: FakeVrm, tick: Tick
) -> None:
    first = await add(hass, "boat", options=budget_options(3, 8))
    second = await add(hass, "cabin", options=budget_options(2, 45))
    budget = account_budget(hass)
    assert (budget.warning, budget.limit) == (2, 8)
    assert vrm.count() == 4

    await tick(360)  # two polls each fit under the lower limit; the third round is refused
    assert vrm.count() == budget.used == 8
    await tick(180)
    assert vrm.count() == 8

    # Unloading the strict entry lifts its limit.
    assert await hass.config_entries.async_unload(first.entry_id)
    assert (budget.warning, budget.limit) == (2, 45)
    # Set up again, the strict entry finds the account over its limit: refused before sending,
    # it waits for a retry and its limit does not apply while it is not loaded.
    assert not await hass.config_entries.async_setup(first.entry_id)
    await hass.async_block_till_done()
    assert first.state is ConfigEntryState.SETUP_RETRY
    assert vrm.count() == 8
    assert (budget.warning, budget.limit) == (2, 45)
    assert second.state is ConfigEntryState.LOADED


async def test_a_new_token_keeps_the_entry_count(
    hass: HomeAssistant, vrm: FakeVrm, tick: Tick
) -> None:
    """Reauthentication gives the entry a new token: most likely the same account."""
    entry = await add(hass, "boat")
    budget = account_budget(hass)
    hass.config_entries.async_update_entry(entry, data=vrm_data(OTHER_TOKEN))
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert set(vrm_accounts(hass).accounts) == {account_key(OTHER_TOKEN)}
    assert account_budget(hass, OTHER_TOKEN) is budget
    assert vrm.count() == budget.used == 4


async def test_a_failed_setup_leaves_the_strictest_rule(
    hass: HomeAssistant, vrm: FakeVrm, tick: Tick
) -> None:
    await add(hass, "cabin")
    vrm.error = (503, {"success": False})
    strict = make_entry(hass, vrm_data(), budget_options(1, 3), title="boat", unique_id="boat")
    assert not await hass.config_entries.async_setup(strict.entry_id)
    assert strict.state is ConfigEntryState.SETUP_RETRY
    budget = account_budget(hass)
    assert (budget.warning, budget.limit) == (40, 45)


# --- property: several entries on one account, whatever happens -----------------------------

OUTCOMES = st.one_of(
    st.just(("ok", 0)),
    st.just(("503", 0)),
    st.just(("timeout", 0)),
    st.tuples(st.just("429"), st.integers(0, 1800)),
    st.just(("429", -1)),  # without Retry-After
)
# the sites an added entry reads: two with a battery monitor, one without (system battery)
PROPERTY_SITES = ((SITE_ID, INSTANCE), (200001, INSTANCE), (151734, None))
STEPS = st.one_of(
    st.tuples(st.just("add"), st.integers(0, len(PROPERTY_SITES) - 1)),
    st.tuples(st.sampled_from(["remove", "reload"]), st.integers(0, 3)),
    st.tuples(st.just("wait"), st.integers(60, 1800)),
)


class Account:
    """Watches what VRM sees of one account and answers from the drawn outcomes."""

    def __init__(self, outcomes: list[tuple[str, int]]) -> None:
        self.outcomes = outcomes
        self.sent: list[float] = []
        self.not_before: list[tuple[int, float]] = []  # (index of the 429, earliest next)

    def answer(self, url: URL) -> dict[str, Any] | None:
        now = frozen_clock()
        self.sent.append(now)
        kind, arg = self.outcomes.pop(0) if self.outcomes else ("ok", 0)
        if kind == "503":
            return {"status": 503, "text": "<html>503</html>"}
        if kind == "timeout":
            return {"exc": TimeoutError()}
        if kind == "429":
            wait = DEFAULT_RATE_LIMIT_HOLD if arg < 0 else arg
            self.not_before.append((len(self.sent), now + wait))
            headers = {} if arg < 0 else {"Retry-After": str(arg)}
            return {"status": 429, "json": {"success": False}, "headers": headers}
        return None  # the reference fixtures


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    outcomes=st.lists(OUTCOMES, max_size=40),
    steps=st.lists(STEPS, min_size=1, max_size=14),
    limit=st.integers(2, 8),
    token=st.uuids(),
)
async def test_account_budget_invariants(  # noqa: PLR0917 (fixtures and drawn values)
    hass: HomeAssistant,
    aioclient_mock: AiohttpClientMocker,
    freezer: FrozenDateTimeFactory,
    vrm: FakeVrm,
    outcomes: list[tuple[str, int]],
    steps: list[tuple[str, int]],
    limit: int,
    token: Any,
) -> None:
    """Entries of one account added, removed, reloaded and failing never pass its limit.

    Each example is its own account (a new token), so what an earlier one left counts nowhere.
    Entries of different sites share the account's listing and its extra requests.
    """
    account = Account(list(outcomes))
    vrm.plan = account.answer
    vrm.one_monitor()  # so that the listing serves the sites with one
    for site, _ in PROPERTY_SITES:
        vrm.add_site(site)
    options = budget_options(limit - 1, limit)
    entries: list[MockConfigEntry] = []
    token = token.hex
    for action, index in steps:
        if action == "add":
            site, instance = PROPERTY_SITES[index]
            data = vrm_data(token) | {
                CONF_SITE_ID: site,
                CONF_BATTERY_INSTANCE: instance,
                CONF_VRM_USER_ID: USER_ID,
            }
            entry = make_entry(
                hass, data, options, title="site", unique_id=f"{token}{len(entries)}"
            )
            await hass.config_entries.async_setup(entry.entry_id)
            await hass.async_block_till_done()
            entries.append(entry)
        elif action == "wait":
            await advance(hass, freezer, index, step=60)
        elif entries:
            entry = entries[index % len(entries)]
            if action == "remove":
                entries.remove(entry)
                await hass.config_entries.async_remove(entry.entry_id)
            elif entry.state is ConfigEntryState.LOADED:
                await hass.config_entries.async_reload(entry.entry_id)
            await hass.async_block_till_done()
    for entry in entries:
        await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done()

    sent = account.sent
    # 1. No rolling hour holds more of the account's requests than its limit.
    for index, moment in enumerate(sent):
        assert sum(1 for t in sent[: index + 1] if t > moment - WINDOW) <= limit
    # 2. After a 429, nothing is sent by any entry before its Retry-After has passed.
    for after, earliest in account.not_before:
        assert all(t >= earliest - 1e-6 for t in sent[after:])
