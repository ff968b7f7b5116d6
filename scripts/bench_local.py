"""Benchmark the local source: requests per minute at the default cadence and bytes per cycle.

Runs the real client and poller (`api/cerbo/`, loaded without Home Assistant) against the client
package tests' fake Cerbo (tests/api/fakes.py: an aiohttp server on 127.0.0.1 serving the
tests/fixtures/cerbo answers) and their hand-moved clock:
one simulated hour of 10 s ticks takes well under a second and nothing waits for real.

    .venv/3.13/bin/python scripts/bench_local.py [--minutes 60] [--interval 10]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from aiohttp import ClientSession

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
ROOT_COUNT = 7  # the roots of the fixture installation
REAL_SYSTEM_ROOT_BYTES = 50_000  # the API authors' figure for a real `system` root (dbus_api.md §6)


def load_client_module() -> ModuleType:
    """Import the client package without Home Assistant: its parents are stood in for."""
    package = ROOT / "custom_components" / "victron_cerbo"
    for name, path in (
        ("custom_components", package.parent),
        ("custom_components.victron_cerbo", package),
    ):
        stand_in = ModuleType(name)
        stand_in.__path__ = [str(path)]  # a package whose __init__ (and HA) is never run
        sys.modules.setdefault(name, stand_in)
    module = importlib.import_module("custom_components.victron_cerbo.api.cerbo")
    assert not any(name.startswith("homeassistant") for name in sys.modules), "HA was imported"
    return module


def tier(service: str) -> str:
    """Name the tier a request belongs to, for the table."""
    if service in ("/health", "/services"):
        return f"discovery {service}"
    return service.removeprefix("com.victronenergy.")


@dataclass
class Result:
    """What one simulated run measured."""

    minutes: int
    interval: float
    setup_requests: int
    first_cycle_requests: int
    first_cycle_bytes: int
    fast_cycle_bytes: int
    full_cycle_bytes: int
    system_root_bytes: int
    requests: Counter[str]
    sent_bytes: int
    seconds_per_tick: float
    client_requests: int
    client_bytes: int


async def simulate(minutes: int, interval: float) -> Result:
    """Set up, run the full first cycle, then `minutes` of ticks on the simulated clock."""
    api = load_client_module()
    # the client package tests' fake Cerbo (loopback, no Home Assistant) and hand-moved clock
    from tests.api.fakes import ROOT_FIXTURES, FakeCerbo, FakeClock  # noqa: PLC0415

    clock = FakeClock(start=0.0)
    async with FakeCerbo() as cerbo, ClientSession() as session:
        served = {"/health": cerbo.health, "/services": cerbo.services, **cerbo.roots}
        bodies = {key: len(reply.text.encode()) for key, reply in served.items()}
        client = api.CerboClient(session, cerbo.host, cerbo.port)
        poller = api.CerboPoller(client, fast_interval=interval, clock=clock)
        await poller.setup()
        setup_requests = len(cerbo.requests)
        before = client.bytes_received
        await poller.poll()
        first_cycle_requests = len(cerbo.requests) - setup_requests
        first_cycle_bytes = client.bytes_received - before
        cerbo.reset()
        ticks = round(minutes * 60 / interval)
        started = time.perf_counter()
        for _ in range(ticks):
            clock.advance(interval)
            await poller.poll()
        elapsed = time.perf_counter() - started
        requests = cerbo.counts()
    fast_keys = ["com.victronenergy.system", poller.discovery.battery_service]
    return Result(
        minutes=minutes,
        interval=interval,
        setup_requests=setup_requests,
        first_cycle_requests=first_cycle_requests,
        first_cycle_bytes=first_cycle_bytes,
        fast_cycle_bytes=sum(bodies[key] for key in fast_keys if key),
        full_cycle_bytes=sum(bodies[key] for key in ROOT_FIXTURES),
        system_root_bytes=bodies["com.victronenergy.system"],
        requests=requests,
        sent_bytes=sum(bodies.get(key, 0) * count for key, count in requests.items()),
        seconds_per_tick=elapsed / ticks,
        client_requests=client.request_count,
        client_bytes=client.bytes_received,
    )


def report(result: Result) -> None:
    """Print the figures."""
    minutes = result.minutes
    total = sum(result.requests.values())
    print(
        f"Local source benchmark: fast interval {result.interval:g} s, {minutes} simulated minutes"
    )
    print(
        f"  startup: {result.setup_requests} requests (discovery), then"
        f" {result.first_cycle_requests} more for the first full cycle"
        f" ({result.first_cycle_bytes} bytes)"
    )
    print(f"  steady state: {total} requests in {minutes} min = {total / minutes:.2f} requests/min")
    for key, count in sorted(result.requests.items(), key=lambda item: (-item[1], item[0])):
        print(f"    {tier(key):42} {count / minutes:6.2f}/min")
    print(f"  bytes parsed per fast cycle (system + battery root): {result.fast_cycle_bytes}")
    print(
        f"  bytes parsed per full cycle (all {ROOT_COUNT} roots):         {result.full_cycle_bytes}"
    )
    print(f"  bytes parsed per minute: {result.sent_bytes / minutes:.0f}")
    scale = REAL_SYSTEM_ROOT_BYTES / result.system_root_bytes
    print(
        f"  (fixture roots are subsets: a real system root is ~{REAL_SYSTEM_ROOT_BYTES // 1000} kB,"
        f" {scale:.0f}x this one; scale the byte figures accordingly)"
    )
    print(f"  in-process cost: {result.seconds_per_tick * 1000:.2f} ms per tick over loopback")
    print(f"  client counters: {result.client_requests} requests, {result.client_bytes} bytes")
    print(
        f"local requests_per_minute={total / minutes:.2f}"
        f" bytes_per_minute={result.sent_bytes / minutes:.0f}"
        f" tick_ms={result.seconds_per_tick * 1000:.2f}"
    )


def main() -> None:
    """Parse the arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=int, default=60)
    parser.add_argument("--interval", type=float, default=10.0)
    args = parser.parse_args()
    report(asyncio.run(simulate(args.minutes, args.interval)))


if __name__ == "__main__":
    main()
