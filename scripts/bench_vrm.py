"""Benchmark of the VRM source: requests per hour over simulated days, and parsing speed.

The real VrmClient and VrmCoordinator run inside a test Home Assistant from
pytest-homeassistant-custom-component. HTTP is answered in-process by its AiohttpClientMocker,
and freezegun moves the clock, so a simulated day takes seconds and nothing waits for real.

Run from the repository root:  .venv/3.13/bin/python scripts/bench_vrm.py
"""

from __future__ import annotations

import asyncio
import logging
import re
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Makes dt_util.utcnow visible to freezegun; must come before any other Home Assistant import.
import pytest_homeassistant_custom_component.patch_time  # noqa: E402, F401
from freezegun import freeze_time  # noqa: E402
from freezegun.api import FrozenDateTimeFactory  # noqa: E402
from homeassistant.config_entries import ConfigEntryState  # noqa: E402
from homeassistant.exceptions import ConfigEntryNotReady  # noqa: E402
from homeassistant.util import dt as dt_util  # noqa: E402
from pytest_homeassistant_custom_component.common import (  # noqa: E402
    async_test_home_assistant,
)
from pytest_homeassistant_custom_component.test_util.aiohttp import (  # noqa: E402
    AiohttpClientMocker,
)
from yarl import URL  # noqa: E402

from custom_components.victron_cerbo.api.vrm import (  # noqa: E402
    RequestBudget,
    VrmClient,
    parse_battery_summary,
)
from custom_components.victron_cerbo.const import (  # noqa: E402
    CONF_BATTERY_INSTANCE,
    CONF_SITE_ID,
    CONF_VRM_POLL_INTERVAL,
    CONF_VRM_TOKEN,
)
from custom_components.victron_cerbo.vrm_coordinator import VrmCoordinator  # noqa: E402
from tests.helpers import (  # noqa: E402
    INSTANCE,
    SITE_ID,
    TOKEN,
    FakeVrm,
    account_budget,
    advance,
    make_entry,
    vrm_json,
)

SUMMARY = vrm_json("battery_summary")
# As the flow stores a VRM-only entry.
VRM_ONLY = {CONF_VRM_TOKEN: TOKEN, CONF_SITE_ID: SITE_ID, CONF_BATTERY_INSTANCE: INSTANCE}
START = datetime(2026, 1, 15, 0, 0, 0, tzinfo=UTC)
STEP = 10  # seconds of simulated time per clock step
HOUR = 3600

# An answer plan maps (seconds since start, url) to what VRM does: "ok", "503", "timeout",
# or ("429", retry_after seconds).
type Plan = Callable[[float, str], Any]


@dataclass
class Result:
    """What one simulated run saw."""

    name: str
    hours: int
    sent: list[tuple[float, str]] = field(default_factory=list)
    refused: Counter[str] = field(default_factory=Counter)

    def per_hour(self) -> list[int]:
        """Requests in each clock hour since the start."""
        counts = [0] * self.hours
        for moment, _ in self.sent:
            counts[min(int(moment // HOUR), self.hours - 1)] += 1
        return counts

    def worst_rolling_hour(self) -> int:
        """Most requests in any window of one hour."""
        times = [moment for moment, _ in self.sent]
        return max(
            (sum(1 for t in times if moment - HOUR < t <= moment) for moment in times), default=0
        )

    def by_endpoint(self) -> Counter[str]:
        """Requests per endpoint."""
        return Counter(endpoint for _, endpoint in self.sent)


class HealthyCerbo:
    """A Cerbo whose every tick reads the battery: VRM is then only its backup."""

    data: object = object()
    serves_battery = True

    def async_add_tick_listener(self, _: Callable[[], None]) -> Callable[[], None]:
        """Its ticks never fail, so nothing needs to hear of them."""
        return lambda: None


async def simulate(
    name: str,
    plan: Plan,
    *,
    hours: int = 24,
    options: dict[str, Any] | None = None,
    entries: int = 1,
    cerbo: HealthyCerbo | None = None,
) -> Result:
    """Run the coordinator for `hours` of simulated time against the answer plan.

    `entries` > 1: that many entries on one VRM token, sharing the account's budget.
    """
    result = Result(name, hours)
    with freeze_time(START) as frozen:
        assert isinstance(frozen, FrozenDateTimeFactory)

        def elapsed() -> float:
            return (dt_util.utcnow() - START).total_seconds()

        async def sleep(seconds: float) -> None:  # backoff moves simulated time only
            frozen.tick(timedelta(seconds=seconds))

        def answer(url: URL) -> dict[str, Any] | None:
            endpoint = "system-overview" if "system-overview" in url.path else "BatterySummary"
            result.sent.append((elapsed(), endpoint))
            answer = plan(elapsed(), endpoint)
            if answer == "timeout":
                frozen.tick(timedelta(seconds=10))
                return {"exc": TimeoutError()}
            if answer == "503":
                return {"status": 503, "text": "<html>503</html>"}
            if isinstance(answer, tuple):
                return {"status": 429, "text": "{}", "headers": {"Retry-After": str(answer[1])}}
            return None  # the reference fixtures

        async with async_test_home_assistant() as hass:
            mocker = AiohttpClientMocker()
            FakeVrm(mocker).plan = answer  # the tests' VRM fake
            session = mocker.create_session(hass.loop)
            coordinators: list[VrmCoordinator] = []
            for _ in range(entries):
                # VRM-only entries being set up, the account's budget on the frozen clock
                entry = make_entry(hass, VRM_ONLY, options, unique_id=None, title="Bench")
                entry.mock_state(hass, ConfigEntryState.SETUP_IN_PROGRESS)
                client = VrmClient(session, TOKEN, budget=account_budget(hass), sleep=sleep)
                coordinator = VrmCoordinator(hass, entry, client)
                try:
                    await coordinator.async_config_entry_first_refresh()
                except ConfigEntryNotReady:
                    result.refused["setup failed"] += 1
                if cerbo is not None:  # as the integration does for an entry with both sources
                    coordinator.async_follow_local(cerbo)
                coordinators.append(coordinator)
            unsubscribes = [c.async_add_listener(lambda: None) for c in coordinators]
            last_attempts = [c.health.last_attempt for c in coordinators]
            while elapsed() + STEP < hours * HOUR:  # the next day would start at hours * HOUR
                await advance(hass, frozen, STEP, step=STEP)
                for index, coordinator in enumerate(coordinators):
                    health = coordinator.health
                    if health.last_attempt != last_attempts[index]:
                        last_attempts[index] = health.last_attempt
                        if not coordinator.last_update_success:
                            result.refused[health.last_error_kind or "?"] += 1
            for unsubscribe in unsubscribes:
                unsubscribe()
            for coordinator in coordinators:
                await coordinator.async_shutdown()
            await session.close()
    return result


def always_ok(_: float, __: str) -> str:
    """VRM answers everything."""
    return "ok"


def outage(start_hour: int, end_hour: int) -> Plan:
    """VRM answers 503 between the two hours."""

    def plan(moment: float, _: str) -> str:
        return "503" if start_hour * HOUR <= moment < end_hour * HOUR else "ok"

    return plan


def flaky(start_hour: int, end_hour: int, every: int) -> Plan:
    """Every `every`-th request between the two hours times out (after 10 s)."""
    count = 0

    def plan(moment: float, _: str) -> str:
        nonlocal count
        count += 1
        if start_hour * HOUR <= moment < end_hour * HOUR and count % every == 0:
            return "timeout"
        return "ok"

    return plan


def rate_limited_once(retry_after: int, at_hour: int) -> Plan:
    """One 429 with the given Retry-After at the given hour."""
    done = False

    def plan(moment: float, endpoint: str) -> Any:
        nonlocal done
        if not done and moment >= at_hour * HOUR and endpoint == "BatterySummary":
            done = True
            return ("429", retry_after)
        return "ok"

    return plan


def report(result: Result) -> None:
    """Print one run."""
    per_hour = result.per_hour()
    endpoints = result.by_endpoint()
    print(f"\n{result.name}")
    print(f"  requests per hour : {' '.join(f'{n:2d}' for n in per_hour)}")
    print(
        f"  total {len(result.sent)} in {result.hours} h = {len(result.sent) / result.hours:.2f}/h"
        f"  (BatterySummary {endpoints['BatterySummary']}, "
        f"system-overview {endpoints['system-overview']})"
    )
    print(f"  worst rolling hour: {result.worst_rolling_hour()} requests")
    if result.refused:
        print(f"  failed polls      : {dict(result.refused)}")


def bench_parsing(rounds: int = 20000) -> None:
    """Time the BatterySummary parser alone."""
    start = time.perf_counter()
    for _ in range(rounds):
        parse_battery_summary(SUMMARY, INSTANCE)
    per_parse = (time.perf_counter() - start) / rounds * 1e6
    print(f"\nparse_battery_summary (reference payload, 28 attributes): {per_parse:.1f} µs each")


async def bench_client(rounds: int = 2000) -> None:
    """Time a whole client call (budget, lock, fake transport, JSON, parsing, trimming)."""
    mocker = AiohttpClientMocker()
    mocker.get(re.compile(".*"), json=SUMMARY)
    session = mocker.create_session(asyncio.get_running_loop())
    budget = RequestBudget(warning=rounds + 1, limit=rounds + 1)
    client = VrmClient(session, TOKEN, budget=budget)
    start = time.perf_counter()
    for _ in range(rounds):
        await client.get_battery_summary(SITE_ID, INSTANCE)
    per_call = (time.perf_counter() - start) / rounds * 1e6
    await session.close()
    print(f"client.get_battery_summary over the in-process fake transport: {per_call:.0f} µs each")


async def main() -> None:
    """Run every scenario and print the figures."""
    # Home Assistant logs every failed poll; the tables below say the same more briefly.
    logging.getLogger().setLevel(logging.CRITICAL)
    started = time.perf_counter()
    normal = await simulate("Normal day at the defaults (poll 180 s, budget 40/45)", always_ok)
    report(normal)
    report(
        await simulate(
            "Poll interval option 300 s", always_ok, options={CONF_VRM_POLL_INTERVAL: 300}
        )
    )
    report(await simulate("VRM answers 503 from 03:00 to 06:00", outage(3, 6)))
    report(await simulate("Every third request times out 10:00-12:00", flaky(10, 12, 3)))
    report(await simulate("One 429 with Retry-After 900 s at 08:00", rate_limited_once(900, 8)))
    two = await simulate("Two entries on one VRM account (one budget)", always_ok, entries=2)
    report(two)
    three = await simulate("Three entries on one VRM account", always_ok, entries=3)
    report(three)
    backup = await simulate("Both sources, Cerbo healthy", always_ok, cerbo=HealthyCerbo())
    report(backup)
    simulated = time.perf_counter() - started
    bench_parsing()
    await bench_client()

    hourly = normal.per_hour()
    print(
        f"\nSummary: normal day {min(hourly)}-{max(hourly)} requests in every clock hour "
        f"(expected 20 BatterySummary + 1 system-overview), worst rolling hour "
        f"{normal.worst_rolling_hour()}; two entries on one account, worst rolling hour "
        f"{two.worst_rolling_hour()}, three {three.worst_rolling_hour()} (the account's limit "
        f"45); 7 simulated days took {simulated:.1f} s of real time."
    )
    print(
        f"vrm requests_per_hour={sum(hourly) / len(hourly):.2f}"
        f" worst_rolling_hour={normal.worst_rolling_hour()}"
    )
    backup_hourly = backup.per_hour()
    print(
        f"vrm both_sources_cerbo_healthy requests_per_hour="
        f"{sum(backup_hourly) / len(backup_hourly):.2f}"
        f" worst_rolling_hour={backup.worst_rolling_hour()}"
    )


if __name__ == "__main__":
    asyncio.run(main())
