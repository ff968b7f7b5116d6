"""Benchmark of a fleet: N installations on one VRM account, one config entry each.

The simulator serves one VRM account with N installations and N Cerbos on loopback ports
(dev/simulator account mode), each site with its own logging interval. A test Home Assistant from
pytest-homeassistant-custom-component sets the integration up with one entry per installation,
as users do today (VRM token, site and battery instance, plus the site's Cerbo host and port),
then runs a simulated hour: freezegun moves Home Assistant's clock and the simulator's in 10 s
steps, so nothing waits for real, while the HTTP requests are real ones over loopback.

The simulator runs in its own thread and event loop, so its work neither counts as Home
Assistant's CPU time nor delays Home Assistant's loop. Figures per N, one line each:

- vrm_requests_per_hour: every VRM request of the account in the simulated hour after setup;
- local_requests_per_minute: requests (or connection attempts) per Cerbo per simulated minute;
- cpu_ms_per_minute: CPU time of the process, less the simulator thread's, per simulated minute;
- loop_lag_p99_ms: 99th percentile of how long a callback waits for Home Assistant's event
  loop: a probe thread posts one every 20 ms of real time and the loop notes the delay. The hour
  is run as fast as the machine allows, so the loop is busy throughout: this is the longest
  stretch the loop is held, not an idle home's lag;
- setup_s: real seconds from starting the integration until every entry is loaded;
- site_samples_per_hour: the new VRM samples the account's sites upload in an hour (one per
  site per logging interval), what VRM polls can at most usefully fetch.

The `vrm_only` lines run the same with every Cerbo down (its port accepts the connection and
closes it without an answer, counted as one attempt), as when the LAN or the Cerbos are gone.

Run from the repository root:
  .venv/3.13/bin/python scripts/bench_fleet.py [--installations 1,10,50] [--hours 0.5]
      [--settle 0] [--variant both|local|vrm-only]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self
from unittest.mock import patch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Makes dt_util.utcnow visible to freezegun; must come before any other Home Assistant import.
import pytest_homeassistant_custom_component.patch_time  # noqa: E402, F401
from aiohttp import web  # noqa: E402
from aiohttp.resolver import ThreadedResolver  # noqa: E402
from freezegun import freeze_time  # noqa: E402
from freezegun.api import FrozenDateTimeFactory  # noqa: E402
from homeassistant import loader  # noqa: E402
from homeassistant.config_entries import ConfigEntryState  # noqa: E402
from homeassistant.core import HomeAssistant  # noqa: E402
from homeassistant.setup import async_setup_component  # noqa: E402
from pytest_homeassistant_custom_component.common import (  # noqa: E402
    async_test_home_assistant,
)

from custom_components.victron_cerbo.const import DOMAIN  # noqa: E402
from dev import develop  # noqa: E402
from dev.simulator import (  # noqa: E402
    SimulatedAccount,
    SimulatedInstallation,
    create_account_vrm_app,
    create_local_app,
)
from tests.helpers import advance, frozen_clock, make_entry  # noqa: E402

START = datetime(2026, 4, 15, 10, 0, tzinfo=UTC)  # noon in Amsterdam
STEP = 10  # simulated seconds per clock step: the local poll interval
PROBE_SECONDS = 0.02  # real seconds between two loop-lag probes
DEFAULT_SIZES = (1, 10, 50)
# Half an hour: ten VRM polls per entry at today's 180 s and two samples of the slowest site
# (15 min logging), in about four minutes for every size and both variants on two cores.
DEFAULT_HOURS = 0.5
# The real clocks, kept in a container: freezegun replaces module-level references to them.
REAL: dict[str, Callable[[], float]] = {"perf_counter": time.perf_counter}


@dataclass
class Figures:
    """One line of the report."""

    name: str
    installations: int
    vrm_requests_per_hour: float
    local_requests_per_minute: float
    cpu_ms_per_minute: float
    loop_lag_p99_ms: float
    setup_s: float
    extra: dict[str, Any] = field(default_factory=dict)

    def line(self) -> str:
        """The figures as `name key=value ...`, to compare run over run."""
        values = {
            "installations": self.installations,
            "vrm_requests_per_hour": round(self.vrm_requests_per_hour, 1),
            "local_requests_per_minute": round(self.local_requests_per_minute, 1),
            "cpu_ms_per_minute": round(self.cpu_ms_per_minute, 1),
            "loop_lag_p99_ms": round(self.loop_lag_p99_ms, 1),
            "setup_s": round(self.setup_s, 2),
            **self.extra,
        }
        return f"{self.name} " + " ".join(f"{key}={value}" for key, value in values.items())


class SimulatorThread:
    """The account's VRM and its Cerbos served from a thread with its own event loop.

    With `cerbos_up` false each Cerbo's port accepts a connection and closes it unanswered.
    """

    def __init__(self, account: SimulatedAccount, *, cerbos_up: bool) -> None:
        """Prepare; the servers start on entering."""
        self.account = account
        self.cerbos_up = cerbos_up
        self.vrm_port = 0
        self.local_ports: list[int] = []
        self.attempts = [0] * len(account)  # connections to a Cerbo that is down
        self._ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="simulator", daemon=True)

    def __enter__(self) -> Self:
        """Start serving; return once every port listens."""
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            raise self._error
        return self

    def __exit__(self, *_: object) -> None:
        """Stop serving and wait for the thread."""
        stop = self._stop
        if stop is not None:
            self._loop.call_soon_threadsafe(stop.set)
        self._thread.join()

    def cpu_seconds(self) -> float:
        """CPU time the simulator's thread has used so far."""
        return self.call(_thread_time())

    def call[T](self, coro: Coroutine[Any, Any, T]) -> T:
        """Run `coro` on the simulator's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def _run(self) -> None:
        try:
            self._loop.run_until_complete(self._serve())
        except BaseException as err:  # noqa: BLE001 - handed to the main thread
            self._error = err
            self._ready.set()
        finally:
            self._loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        runners = [web.AppRunner(create_account_vrm_app(self.account), access_log=None)]
        servers: list[asyncio.Server] = []
        try:
            await runners[0].setup()
            await web.TCPSite(runners[0], "127.0.0.1", 0).start()
            self.vrm_port = runners[0].addresses[0][1]
            for index, model in enumerate(self.account):
                if self.cerbos_up:
                    self.local_ports.append(await self._cerbo(model, runners))
                else:
                    servers.append(await self._dead_cerbo(index))
                    self.local_ports.append(servers[-1].sockets[0].getsockname()[1])
            self._ready.set()
            await self._stop.wait()
        finally:
            for server in servers:
                server.close()
            for runner in runners:
                await runner.cleanup()

    @staticmethod
    async def _cerbo(model: SimulatedInstallation, runners: list[web.AppRunner]) -> int:
        runner = web.AppRunner(create_local_app(model), access_log=None)
        runners.append(runner)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        port: int = runner.addresses[0][1]
        return port

    async def _dead_cerbo(self, index: int) -> asyncio.Server:
        def refuse(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.attempts[index] += 1
            writer.close()

        return await asyncio.start_server(refuse, "127.0.0.1", 0)


async def _thread_time() -> float:
    return time.thread_time()


class LagProbe:
    """Posts a callback to the loop every PROBE_SECONDS of real time; notes how late it runs."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        """Probe `loop` (Home Assistant's)."""
        self.loop = loop
        self.samples: list[float] = []
        self._running = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lag probe", daemon=True)

    def __enter__(self) -> Self:
        """Start probing."""
        self._running.set()
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        """Stop probing."""
        self._running.clear()
        self._thread.join()

    def _run(self) -> None:
        clock = REAL["perf_counter"]
        while self._running.is_set():
            self.loop.call_soon_threadsafe(self._note, clock())
            time.sleep(PROBE_SECONDS)

    def _note(self, posted: float) -> None:
        self.samples.append(REAL["perf_counter"]() - posted)

    def p99_ms(self) -> float:
        """The 99th percentile of the delays, in milliseconds."""
        if not self.samples:
            return 0.0
        ordered = sorted(self.samples)
        return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000


async def run(count: int, hours: float, *, cerbos_up: bool, settle: float = 0.0) -> Figures:
    """Set up `count` entries against one simulated account and run `hours` of simulated time.

    `settle`: simulated hours run first and not measured (sites set up together fetch their
    device lists in the first hours).
    """
    # Home Assistant's shared HTTP session resolves through zeroconf, which a test Home
    # Assistant has not set up; the tests' plugin swaps in a plain resolver the same way.
    resolver = ThreadedResolver()
    resolver.real_close = resolver.close  # type: ignore[attr-defined] # what the plugin closes
    plain = patch(
        "homeassistant.helpers.aiohttp_client._async_make_resolver", return_value=resolver
    )
    with freeze_time(START) as frozen, plain:
        assert isinstance(frozen, FrozenDateTimeFactory)
        # The simulator's clock starts with Home Assistant's and moves with it; its VRM rate
        # window follows the frozen clock too, so a simulated hour is an hour to it.
        account = SimulatedAccount.build(count, START, speed=0, seed=1, monotonic=frozen_clock)
        async with async_test_home_assistant() as hass:
            hass.data.pop(loader.DATA_CUSTOM_COMPONENTS)
            with SimulatorThread(account, cerbos_up=cerbos_up) as sim:
                figures = await _measure(hass, frozen, account, sim, hours, settle=settle)
            await hass.async_stop(force=True)
    figures.name = "fleet" if cerbos_up else "fleet_vrm_only"
    return figures


async def _measure(
    hass: HomeAssistant,
    frozen: FrozenDateTimeFactory,
    account: SimulatedAccount,
    sim: SimulatorThread,
    hours: float,
    *,
    settle: float,
) -> Figures:
    entries = []
    for model, port in zip(account, sim.local_ports, strict=True):
        ports = develop.Settings(
            local_port=port, vrm_port=sim.vrm_port, config_dir=Path(), sim=model.config
        )
        # exactly what the config flow stores for a site with both sources (as scripts/develop)
        entries.append(
            make_entry(
                hass,
                develop.entry_data(ports),
                title=model.config.site_name,
                unique_id=model.config.portal_id,
                minor_version=1,
            )
        )

    started = REAL["perf_counter"]()
    # what Home Assistant does at start: the integration, then every entry of it at once
    assert await async_setup_component(hass, DOMAIN, {})
    await hass.async_block_till_done(wait_background_tasks=True)
    setup_s = REAL["perf_counter"]() - started
    loaded = sum(entry.state is ConfigEntryState.LOADED for entry in entries)
    setup_vrm = sum(account.vrm_requests().values())
    if settle:
        await advance(hass, frozen, settle * 3600, step=STEP, model=account, background=True)

    account.forget_requests()
    sim.attempts = [0] * len(account)
    sim_cpu = sim.cpu_seconds()
    cpu = time.process_time()
    with LagProbe(hass.loop) as probe:
        await advance(hass, frozen, hours * 3600, step=STEP, model=account, background=True)
    cpu = time.process_time() - cpu - (sim.cpu_seconds() - sim_cpu)

    minutes = hours * 60
    local = sum(account.local_requests()) if sim.cerbos_up else sum(sim.attempts)
    for entry in entries:
        await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    return Figures(
        name="fleet",
        installations=len(account),
        vrm_requests_per_hour=sum(account.vrm_requests().values()) / hours,
        local_requests_per_minute=local / len(account) / minutes,
        cpu_ms_per_minute=cpu * 1000 / minutes,
        loop_lag_p99_ms=probe.p99_ms(),
        setup_s=setup_s,
        extra={
            "settled_hours": settle,
            "entries_loaded": loaded,
            "setup_vrm_requests": setup_vrm,
            # what VRM can have new for the account: one sample per site per logging interval
            "site_samples_per_hour": round(
                sum(3600 / model.config.logging_interval for model in account)
            ),
        },
    )


def main() -> None:
    """Print one line per fleet size and variant."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--installations",
        default=",".join(map(str, DEFAULT_SIZES)),
        help="comma-separated fleet sizes (default 1,10,50)",
    )
    parser.add_argument(
        "--hours",
        type=float,
        default=DEFAULT_HOURS,
        help=f"simulated hours per run (default {DEFAULT_HOURS:g})",
    )
    parser.add_argument(
        "--variant",
        choices=("both", "local", "vrm-only"),
        default="both",
        help="Cerbos up (local), down (vrm-only), or both runs (default)",
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=0.0,
        help="simulated hours run after setup before measuring (default 0)",
    )
    args = parser.parse_args()
    sizes = [int(size) for size in args.installations.split(",") if size.strip()]
    logging.basicConfig(level=logging.ERROR)
    for count in sizes:
        for cerbos_up in (True, False):
            if args.variant == ("vrm-only" if cerbos_up else "local"):
                continue
            figures = asyncio.run(run(count, args.hours, cerbos_up=cerbos_up, settle=args.settle))
            print(figures.line(), flush=True)


if __name__ == "__main__":
    main()
