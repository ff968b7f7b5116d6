"""Run the simulator: python -m dev.simulator --local-port 8088 --vrm-port 8089 [--speed 60].

`--installations N` serves one VRM account with N sites, each with its own Cerbo on
local-port, local-port + 1, ... (all on free ports when local-port is 0).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Sequence
from datetime import UTC, datetime

from aiohttp import web

from .account import SimulatedAccount
from .config import PROFILES, ConfigError, with_profile
from .faults import FaultError, parse_time
from .local_api import create_local_app
from .model import SimulatedInstallation
from .scenario import Scenario, build_installation, load_scenario
from .vrm_api import create_account_vrm_app, create_vrm_app


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m dev.simulator",
        description="Simulated Cerbo GX DBus HTTP API and VRM API v2 on loopback.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback)")
    parser.add_argument("--local-port", type=int, default=8088, help="Cerbo API port (0 = any)")
    parser.add_argument("--vrm-port", type=int, default=8089, help="VRM API port (0 = any)")
    parser.add_argument(
        "--speed", type=float, help="simulated seconds per real second (0 = frozen)"
    )
    parser.add_argument("--seed", type=int, help="noise seed (same seed, same run)")
    parser.add_argument("--start", help="simulated start time, ISO 8601 with zone (default now)")
    parser.add_argument("--scenario", help="JSON scenario file")
    parser.add_argument(
        "--profile",
        choices=sorted(PROFILES),
        help="battery profile; overrides the scenario's battery fields (default bms16)",
    )
    parser.add_argument(
        "--installations",
        type=int,
        default=1,
        help="sites in the VRM account, each with its own Cerbo (default 1)",
    )
    return parser


def make_model(args: argparse.Namespace) -> SimulatedInstallation:
    scenario = load_scenario(args.scenario) if args.scenario else Scenario()
    try:
        start = parse_time(args.start, "--start") if args.start else None
    except FaultError as err:
        raise ConfigError(str(err)) from err
    if start is None and scenario.start is None:
        start = datetime.now(UTC)
    if args.profile:
        scenario.config = with_profile(scenario.config, args.profile)
    return build_installation(scenario, start=start, speed=args.speed, seed=args.seed)


async def run(
    model: SimulatedInstallation,
    host: str,
    local_port: int,
    vrm_port: int,
    stop: asyncio.Event,
) -> None:
    """Serve both apps until stop is set."""
    runners = [web.AppRunner(create_local_app(model)), web.AppRunner(create_vrm_app(model))]
    try:
        for runner, port in zip(runners, (local_port, vrm_port), strict=True):
            await runner.setup()
            await web.TCPSite(runner, host, port).start()
        local = runners[0].addresses[0]
        vrm = runners[1].addresses[0]
        cfg = model.config
        print(f"Cerbo DBus API  http://{local[0]}:{local[1]}/health", flush=True)
        print(f"VRM API         http://{vrm[0]}:{vrm[1]}/v2  (X-Authorization: Token {cfg.token})")
        print(f"portal id {cfg.portal_id}, site {cfg.site_id}, user {cfg.user_id}")
        print(f"simulated time {model.now().isoformat()} at speed {model.clock.speed:g}")
        print("control: GET /sim/state, POST/DELETE /sim/fault, POST /sim/time ...", flush=True)
        await stop.wait()
    finally:
        for runner in runners:
            await runner.cleanup()


async def run_account(
    account: SimulatedAccount,
    host: str,
    local_port: int,
    vrm_port: int,
    stop: asyncio.Event,
) -> None:
    """Serve the account's VRM app and one Cerbo per installation until stop is set."""
    vrm_runner = web.AppRunner(create_account_vrm_app(account))
    local_runners = [web.AppRunner(create_local_app(model)) for model in account]
    try:
        await vrm_runner.setup()
        await web.TCPSite(vrm_runner, host, vrm_port).start()
        for index, runner in enumerate(local_runners):
            await runner.setup()
            await web.TCPSite(runner, host, local_port + index if local_port else 0).start()
        vrm = vrm_runner.addresses[0]
        cfg = account.config
        print(f"VRM API  http://{vrm[0]}:{vrm[1]}/v2  (X-Authorization: Token {cfg.token})")
        print(f"user {cfg.user_id}, {len(account)} installations:")
        for model, runner in zip(account, local_runners, strict=True):
            site = model.config
            address = runner.addresses[0]
            print(
                f"  site {site.site_id}  portal {site.portal_id}  "
                f"logs every {site.logging_interval:>3} s  {site.monitor:<10}  "
                f"Cerbo http://{address[0]}:{address[1]}"
            )
        print(f"simulated time {account.primary.now().isoformat()}")
        print("control: GET /sim/account, /sim/state ... on the VRM port", flush=True)
        await stop.wait()
    finally:
        for runner in (vrm_runner, *local_runners):
            await runner.cleanup()


async def _main_async(args: argparse.Namespace, model: SimulatedInstallation) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # not on every platform
            loop.add_signal_handler(signum, stop.set)
    if args.installations > 1:
        account = SimulatedAccount.around(model, args.installations)
        await run_account(account, args.host, args.local_port, args.vrm_port, stop)
    else:
        await run(model, args.host, args.local_port, args.vrm_port, stop)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.installations < 1:
        print("error: --installations must be at least 1", file=sys.stderr)
        return 2
    try:
        model = make_model(args)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    asyncio.run(_main_async(args, model))
    return 0


if __name__ == "__main__":
    sys.exit(main())
