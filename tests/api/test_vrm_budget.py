"""The rolling-hour request budget, alone and driven through the client by hypothesis.

The hypothesis test draws hundreds of timeouts per run; a real socket can only time out by
waiting, so that one test (and its check that it can fail) drives the client through the test
plugin's `AiohttpClientMocker`, a stand-in session that needs no `hass`. The rest run against
the fake VRM on loopback.
"""

from __future__ import annotations

import asyncio
import logging
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pytest_homeassistant_custom_component.test_util.aiohttp import (
    AiohttpClientMocker,
    AiohttpClientMockResponse,
)

from custom_components.victron_cerbo.api.vrm import (
    DEFAULT_BASE_URL,
    DEFAULT_RATE_LIMIT_HOLD,
    RequestBudget,
    VrmBudgetExceededError,
    VrmClient,
    VrmError,
    VrmRateLimitError,
)

from .fakes import BATTERY, INSTANCE, SITE_ID, TOKEN, FakeClock, FakeVrm, Reply, vrm_json

BATTERY_URL = f"{DEFAULT_BASE_URL}{BATTERY}"  # for the stand-in session
WINDOW = 3600.0
WALL_OFFSET = 1_768_470_000.0


def test_counts_and_refuses_at_the_cap() -> None:
    clock = FakeClock(0)
    budget = RequestBudget(warning=2, limit=3, clock=clock)
    assert (budget.used, budget.remaining, budget.near_limit) == (0, 3, False)

    budget.acquire()
    clock.advance(100)
    budget.acquire()
    assert budget.near_limit
    clock.advance(100)
    budget.acquire()
    assert (budget.used, budget.remaining) == (3, 0)

    with pytest.raises(VrmBudgetExceededError) as caught:
        budget.acquire()
    assert caught.value.retry_after == pytest.approx(3400)  # the first request leaves at 3600
    assert budget.used == 3  # a refused request is not counted
    assert budget.sent_times() == (0, 100, 200)

    clock.advance(3399.9)
    with pytest.raises(VrmBudgetExceededError):
        budget.acquire()
    clock.advance(0.1)
    budget.acquire()  # exactly one window after the first request: that slot is free
    assert budget.sent_times() == (100, 200, 3600)


def test_window_forgets_old_requests() -> None:
    clock = FakeClock(0)
    budget = RequestBudget(warning=1, limit=2, window=60, clock=clock)
    budget.acquire()
    budget.acquire()
    assert budget.seconds_until_free() == 60
    clock.advance(60)
    assert budget.used == 0
    assert budget.seconds_until_free() == 0
    assert budget.window == 60


def test_lowering_the_limit_keeps_the_history() -> None:
    clock = FakeClock(0)
    budget = RequestBudget(warning=5, limit=5, clock=clock)
    for _ in range(5):
        budget.acquire()
        clock.advance(10)
    budget.configure(warning=2, limit=3)
    assert (budget.warning, budget.limit) == (2, 3)
    # Three of the five (at 0, 10, 20) must leave before a slot frees: at 3620.
    assert budget.seconds_until_free() == pytest.approx(3620 - 50)
    with pytest.raises(VrmBudgetExceededError):
        budget.acquire()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"limit": 0, "warning": 0}, "limit"),
        ({"limit": 5, "warning": 6}, "warning"),
        ({"limit": 5, "warning": -1}, "warning"),
        ({"window": 0}, "window"),
    ],
)
def test_invalid_settings(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        RequestBudget(**kwargs)


def test_warns_once_per_crossing(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock(0)
    budget = RequestBudget(warning=2, limit=10, window=100, clock=clock)
    with caplog.at_level(logging.WARNING):
        budget.acquire()
        budget.acquire()
        budget.acquire()
        assert caplog.text.count("VRM request budget") == 1
        clock.advance(100)
        budget.acquire()  # back under the warning level: re-armed
        budget.acquire()
    assert caplog.text.count("VRM request budget") == 2


def test_hold_extends_but_never_shortens() -> None:
    clock = FakeClock(0)
    budget = RequestBudget(clock=clock)
    assert budget.hold_remaining() == 0
    budget.hold(100)
    budget.hold(10)
    assert budget.hold_remaining() == 100
    budget.hold(-5)
    clock.advance(60)
    budget.hold(50)
    assert budget.hold_remaining() == 50
    clock.advance(50)
    assert budget.hold_remaining() == 0


# --- property: budget + client under random outcomes --------------------------------------

OUTCOMES = st.one_of(
    st.just(("ok", None)),
    st.just(("timeout", None)),
    st.tuples(st.just("5xx"), st.sampled_from([500, 502, 503, 504])),
    st.tuples(st.just("401"), st.none()),
    st.tuples(
        st.just("429"),
        st.one_of(
            st.none(),
            st.tuples(st.just("seconds"), st.integers(0, 7200)),
            st.tuples(st.just("date"), st.integers(0, 7200)),
        ),
    ),
)


@dataclass
class Transport:
    """Serves the drawn outcomes in order and watches what the client does."""

    clock: FakeClock
    outcomes: list[tuple[str, Any]]
    sent: list[float] = field(default_factory=list)
    not_before: list[tuple[float, float]] = field(default_factory=list)  # (429 at, earliest next)
    in_flight: int = 0
    most_in_flight: int = 0

    async def __call__(self, method: str, url: Any, data: Any) -> AiohttpClientMockResponse:
        now = self.clock.now
        self.sent.append(now)
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(0)  # let a concurrent caller try to sneak in
            kind, arg = self.outcomes.pop(0) if self.outcomes else ("ok", None)
            if kind == "timeout":
                raise TimeoutError
            if kind == "ok":
                return AiohttpClientMockResponse(method, url, json=vrm_json("battery_summary"))
            if kind == "5xx":
                return AiohttpClientMockResponse(method, url, status=arg, text="<html>x</html>")
            if kind == "401":
                return AiohttpClientMockResponse(method, url, status=401, json={"success": False})
            return self._rate_limited(method, url, now, arg)
        finally:
            self.in_flight -= 1

    def _rate_limited(
        self, method: str, url: Any, now: float, arg: tuple[str, int] | None
    ) -> AiohttpClientMockResponse:
        headers: dict[str, str] = {}
        if arg is None:
            earliest = now + DEFAULT_RATE_LIMIT_HOLD
        elif arg[0] == "seconds":
            headers["Retry-After"] = str(arg[1])
            earliest = now + arg[1]
        else:
            moment = math.ceil(WALL_OFFSET + now + arg[1])
            headers["Retry-After"] = format_datetime(datetime.fromtimestamp(moment, UTC), True)
            earliest = moment - WALL_OFFSET
        self.not_before.append((now, earliest))
        return AiohttpClientMockResponse(method, url, status=429, headers=headers, text="{}")


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    outcomes=st.lists(OUTCOMES, max_size=80),
    steps=st.lists(
        st.tuples(st.floats(0, 1800, allow_nan=False), st.integers(1, 3)), min_size=1, max_size=40
    ),
    limit=st.integers(1, 12),
)
async def test_budget_and_client_invariants(
    outcomes: list[tuple[str, Any]], steps: list[tuple[float, int]], limit: int
) -> None:
    clock = FakeClock(0)
    transport = Transport(clock, list(outcomes))
    mocker = AiohttpClientMocker()
    mocker.get(BATTERY_URL, side_effect=transport)
    session = mocker.create_session(asyncio.get_running_loop())
    budget = RequestBudget(warning=max(0, limit - 1), limit=limit, window=WINDOW, clock=clock)
    client = VrmClient(
        session,
        TOKEN,
        budget=budget,
        sleep=clock.sleep,
        wall_clock=lambda: WALL_OFFSET + clock.now,
    )
    try:
        for advance, callers in steps:
            clock.advance(advance)
            results = await asyncio.gather(
                *(client.get_battery_summary(SITE_ID, INSTANCE) for _ in range(callers)),
                return_exceptions=True,
            )
            for result in results:
                # Nothing but the client's own errors ever escapes.
                assert not isinstance(result, BaseException) or isinstance(result, VrmError)
                if isinstance(result, VrmRateLimitError | VrmBudgetExceededError):
                    assert result.retry_after is None or result.retry_after >= 0
    finally:
        await session.close()

    sent = transport.sent
    # 1. No rolling window ever holds more requests than the cap.
    for index, moment in enumerate(sent):
        in_window = [t for t in sent[: index + 1] if t > moment - WINDOW]
        assert len(in_window) <= limit
    # 2. After a 429, nothing is sent before its Retry-After has passed.
    for at, earliest in transport.not_before:
        assert all(t >= earliest - 1e-6 for t in sent if t > at)
    # 3. Never two requests at once.
    assert transport.most_in_flight <= 1
    # 4. Every request sent was counted.
    assert budget.used == sum(1 for t in sent if t > clock.now - WINDOW)


async def test_property_harness_can_see_a_violation() -> None:
    """The invariants above are not vacuous: without the client's lock, calls overlap."""
    clock = FakeClock(0)
    transport = Transport(clock, [])
    mocker = AiohttpClientMocker()
    mocker.get(BATTERY_URL, side_effect=transport)
    session = mocker.create_session(asyncio.get_running_loop())
    try:
        await asyncio.gather(*(session.get(BATTERY_URL) for _ in range(3)))
    finally:
        await session.close()
    assert transport.most_in_flight == 3


async def test_no_retry_when_held(session: aiohttp.ClientSession, vrm: FakeVrm) -> None:
    """A 429 during a retry sequence stops it at once."""
    clock = FakeClock(0)
    answers = [
        Reply(drop="cut"),  # the one failure that is retried
        Reply(status=429, text="{}", headers={"Retry-After": "30"}),
    ]

    async def next_answer(_: Any) -> Reply:
        return answers.pop(0)

    vrm.get(BATTERY, next_answer)
    client = VrmClient(session, TOKEN, base_url=vrm.api_url, clock=clock, sleep=clock.sleep)
    with pytest.raises(VrmRateLimitError):
        await client.get_battery_summary(SITE_ID, INSTANCE)
    assert vrm.call_count == 2
    assert client.budget.hold_remaining() == 30


async def test_retry_refused_by_an_outside_hold(
    session: aiohttp.ClientSession, vrm: FakeVrm
) -> None:
    """A hold set by another client sharing the budget stops this client's retries."""
    clock = FakeClock(0)
    budget = RequestBudget(clock=clock)

    async def fail_and_hold(_: Any) -> Reply:
        budget.hold(500)
        return Reply(drop="cut")

    vrm.get(BATTERY, fail_and_hold)
    client = VrmClient(session, TOKEN, base_url=vrm.api_url, budget=budget, sleep=clock.sleep)
    with pytest.raises(VrmRateLimitError) as caught:
        await client.get_battery_summary(SITE_ID, INSTANCE)
    assert vrm.call_count == 1
    assert caught.value.retry_after == pytest.approx(499)
    assert isinstance(caught.value.__cause__, VrmError)
