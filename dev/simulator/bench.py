"""Benchmark: python -m dev.simulator.bench [requests [days]]. Prints figures; asserts nothing."""

from __future__ import annotations

import asyncio
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from .config import SimConfig
from .local_api import create_local_app
from .model import SimulatedInstallation
from .services import BATTERY, SYSTEM
from .vrm_api import create_vrm_app

START = datetime(2026, 4, 15, 10, tzinfo=UTC)
VRM_HEADERS = {"X-Authorization": "Token simulated-token"}


async def _rate(
    client: TestClient[Any, Any], url: str, n: int, headers: dict[str, str] | None = None
) -> tuple[float, int]:
    size = 0
    began = time.perf_counter()
    for _ in range(n):
        response = await client.get(url, headers=headers)
        size = len(await response.read())
    return n / (time.perf_counter() - began), size


async def measure(requests: int = 300, days: int = 7) -> dict[str, float]:
    """Throughput figures: simulated days per second, requests per second, payload bytes."""
    results: dict[str, float] = {}
    # no rate limit here: the benchmark is about our speed, not VRM's rolling window
    config = SimConfig(rate_limit_capacity=10**9)
    model = SimulatedInstallation(START, speed=0, seed=1, config=config)
    began = time.perf_counter()
    model.set_time(START + timedelta(days=days))
    model.observe()
    results["sim_days_per_s"] = days / (time.perf_counter() - began)
    # a running clock defeats the observation cache: every request rebuilds every service
    model.set_speed(1.0)
    local = TestClient(TestServer(create_local_app(model)))
    vrm = TestClient(TestServer(create_vrm_app(model)))
    async with local, vrm:
        for name, service in (("system", SYSTEM), ("battery", BATTERY)):
            url = f"/value?service={service}&path=/"
            rate, size = await _rate(local, url, requests)
            results[f"local_{name}_req_per_s"] = rate
            results[f"local_{name}_bytes"] = size
        url = "/v2/installations/123456/widgets/BatterySummary?instance=512"
        rate, size = await _rate(vrm, url, requests, headers=VRM_HEADERS)
        results["vrm_battery_summary_req_per_s"] = rate
        results["vrm_battery_summary_bytes"] = size
    return results


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    requests = int(args[0]) if args else 300
    days = int(args[1]) if len(args) > 1 else 7
    for key, value in asyncio.run(measure(requests, days)).items():
        print(f"{key:32} {value:12.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
