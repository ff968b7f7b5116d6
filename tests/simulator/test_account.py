"""The simulator's account mode: one VRM user with N installations, each with its own Cerbo.

VRM's installation list and per-site routes follow shared/reference vrm_api.md §2 and §5: every
site of the account is listed (and filtered by `idSite`), a site the token cannot see is a 403.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import math
import os
import signal
import socket
import threading
import time
import urllib.request
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from dev.simulator import (
    SYSTEM,
    SimConfig,
    SimulatedAccount,
    SimulatedInstallation,
    create_account_vrm_app,
    create_local_app,
    monitor,
    site_config,
)
from dev.simulator import __main__ as cli
from dev.simulator.account import LOGGING_INTERVALS

START = datetime(2026, 4, 15, 10, 0, tzinfo=UTC)
AUTH = {"X-Authorization": "Token simulated-token"}
USER = 22451
FIRST_SITE = 123456
SITES = 6  # enough for every logging interval and battery profile to appear

Client = TestClient[Any, Any]


@pytest.fixture
def account() -> SimulatedAccount:
    return SimulatedAccount.build(SITES, START, speed=0, seed=1)


@pytest.fixture
async def vrm(account: SimulatedAccount) -> AsyncIterator[Client]:
    app = create_account_vrm_app(account)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        yield client


async def get_json(client: Client, url: str, status: int = 200) -> Any:
    response = await client.get(url, headers=AUTH)
    assert response.status == status, await response.text()
    return await response.json()


async def listing(client: Client, query: str = "") -> list[dict[str, Any]]:
    body = await get_json(client, f"/v2/users/{USER}/installations{query}")
    assert body["success"] is True
    records: list[dict[str, Any]] = body["records"]
    return records


def site_ids(account: SimulatedAccount) -> list[int]:
    return [model.config.site_id for model in account]


# --- the account ---------------------------------------------------------------------------


def test_sites_differ_and_are_repeatable(account: SimulatedAccount) -> None:
    configs = [model.config for model in account]
    assert configs[0] == SimConfig()  # the first site is today's single site
    assert site_ids(account) == list(range(FIRST_SITE, FIRST_SITE + SITES))
    assert len({config.portal_id for config in configs}) == SITES
    assert all(len(config.portal_id) == 12 for config in configs)
    assert len({config.initial_soc for config in configs}) > 1
    assert {config.monitor for config in configs} == {"can_bms", "smartshunt"}
    assert {config.logging_interval for config in configs} <= set(LOGGING_INTERVALS)
    assert len({config.logging_interval for config in configs}) > 2
    again = SimulatedAccount.build(SITES, START, speed=0, seed=1)
    assert [model.config for model in again] == configs
    assert site_config(SimConfig(), 3, seed=2) != site_config(SimConfig(), 3, seed=1)


def test_one_clock_for_every_site(account: SimulatedAccount) -> None:
    account.advance(600)
    assert {model.timestamp() for model in account} == {START.timestamp() + 600}
    assert account.timestamp() == START.timestamp() + 600


def test_bad_accounts() -> None:
    one = SimulatedInstallation(START, speed=0)
    with pytest.raises(ValueError, match="at least one"):
        SimulatedAccount([])
    with pytest.raises(ValueError, match="must differ"):
        SimulatedAccount([one, SimulatedInstallation(START, speed=0)])
    stranger = dataclasses.replace(site_config(SimConfig(), 1), user_id=1)
    with pytest.raises(ValueError, match="user"):
        SimulatedAccount([one, SimulatedInstallation(START, speed=0, config=stranger)])
    with pytest.raises(ValueError, match="count"):
        SimulatedAccount.around(one, 0)


# --- VRM: the account's listing and each site's routes --------------------------------------


async def test_listing_has_every_site(vrm: Client, account: SimulatedAccount) -> None:
    plain = await listing(vrm)
    assert [record["idSite"] for record in plain] == site_ids(account)
    assert [record["identifier"] for record in plain] == [m.config.portal_id for m in account]
    assert all("extended" not in record for record in plain)

    extended = await listing(vrm, "?extended=1")
    assert [record["idSite"] for record in extended] == site_ids(account)
    for record, model in zip(extended, account, strict=True):
        soc = next(item for item in record["extended"] if item["code"] == "bs")
        assert soc["rawValue"] == round(model.latest_log().services[SYSTEM]["Dc/Battery/Soc"], 1)
    assert len({record["extended"][0]["rawValue"] for record in extended}) > 1

    third = FIRST_SITE + 2
    [one] = await listing(vrm, f"?extended=1&idSite={third}")
    assert one["idSite"] == third
    assert one["name"] == "Simulated Cabin 3"
    assert await listing(vrm, f"?idSite={FIRST_SITE + SITES}") == []


async def test_each_site_answers_for_itself(vrm: Client, account: SimulatedAccount) -> None:
    for model in account:
        site = model.config.site_id
        overview = await get_json(vrm, f"/v2/installations/{site}/system-overview")
        devices = overview["records"]["devices"]
        assert {device["idSite"] for device in devices} == {site}
        assert devices[0]["loggingInterval"] == model.config.logging_interval
        battery = monitor(model.config)
        assert [d["instance"] for d in devices if d["name"] == "Battery Monitor"] == [
            battery.instance
        ]

        url = f"/v2/installations/{site}/widgets/BatterySummary?instance={battery.instance}"
        data = (await get_json(vrm, url))["records"]["data"]
        logged = model.latest_log().services[battery.service]
        assert float(data["51"]["rawValue"]) == round(logged["Soc"], 1)

        diagnostics = await get_json(vrm, f"/v2/installations/{site}/diagnostics?count=1000")
        assert {record["idSite"] for record in diagnostics["records"]} == {site}


async def test_sites_outside_the_account(vrm: Client) -> None:
    outside = FIRST_SITE + SITES
    for path in ("system-overview", "widgets/BatterySummary?instance=512", "diagnostics"):
        body = await get_json(vrm, f"/v2/installations/{outside}/{path}", status=403)
        assert body["error_code"] == "forbidden"
    body = await get_json(vrm, "/v2/users/1/installations", status=403)
    assert body["error_code"] == "forbidden"
    await get_json(vrm, f"/v2/installations/{FIRST_SITE}/nothing", status=404)
    response = await vrm.get(f"/v2/users/{USER}/installations")
    assert response.status == 401


async def test_each_site_logs_at_its_own_interval(vrm: Client, account: SimulatedAccount) -> None:
    intervals = {model.config.site_id: model.config.logging_interval for model in account}
    seen: dict[int, set[int]] = {site: set() for site in intervals}
    for _ in range(31):  # 15 minutes in 30 s steps
        account.advance(30)
        now = account.timestamp()
        for record in await listing(vrm, "?extended=1"):
            site = record["idSite"]
            last = math.floor(now / intervals[site]) * intervals[site]
            assert record["last_timestamp"] == last, (site, intervals[site])
            assert {item["timestamp"] for item in record["extended"]} == {last}
            seen[site].add(last)
    for site, interval in intervals.items():
        assert len(seen[site]) == 15 * 60 // interval + 1, (site, interval)


async def test_requests_counted_for_the_account(vrm: Client, account: SimulatedAccount) -> None:
    await listing(vrm, "?extended=1")
    await listing(vrm, "?extended=1")
    await get_json(vrm, f"/v2/installations/{FIRST_SITE + 1}/system-overview")
    await get_json(vrm, "/v2/installations/1/system-overview", status=403)
    assert account.vrm_requests() == {
        f"GET /v2/users/{USER}/installations?extended=1": 2,
        f"GET /v2/installations/{FIRST_SITE + 1}/system-overview": 1,
        "GET /v2/installations/1/system-overview": 1,
    }
    described = await (await vrm.get("/sim/account")).json()
    assert described["vrm_requests"]["total"] == 4
    assert [site["site_id"] for site in described["installations"]] == site_ids(account)
    assert [site["logging_interval"] for site in described["installations"]] == [
        model.config.logging_interval for model in account
    ]
    account.forget_requests()
    assert account.vrm_requests() == {}


# --- each site's Cerbo ---------------------------------------------------------------------


async def test_each_cerbo_is_its_own_site(account: SimulatedAccount) -> None:
    for index, model in enumerate(account):
        async with TestClient(TestServer(create_local_app(model), host="127.0.0.1")) as local:
            for _ in range(index + 1):
                response = await local.get("/value", params={"service": SYSTEM, "path": "/Serial"})
                assert (await response.json())["value"] == model.config.portal_id
    assert account.local_requests() == list(range(1, SITES + 1))
    assert account.vrm_requests() == {}


# --- the command line ----------------------------------------------------------------------


async def test_cli_serves_an_account(capsys: pytest.CaptureFixture[str]) -> None:
    account = SimulatedAccount.build(3, START, speed=0, seed=1)
    stop = asyncio.Event()
    server = asyncio.create_task(cli.run_account(account, "127.0.0.1", 0, 0, stop))
    output = ""
    for _ in range(10_000):
        output += capsys.readouterr().out
        if "control:" in output:
            break
        await asyncio.sleep(0)
    assert "3 installations" in output
    cerbos = [line.split("Cerbo ")[1] for line in output.splitlines() if "Cerbo http" in line]
    assert len(set(cerbos)) == 3
    for model in account:
        assert f"site {model.config.site_id}  portal {model.config.portal_id}" in output
    stop.set()
    await server


def test_cli_installations_flag(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.build_parser().parse_args([]).installations == 1
    assert cli.main(["--installations", "0"]) == 2
    assert "--installations" in capsys.readouterr().err


def test_cli_main_serves_the_account_until_sigterm(capsys: pytest.CaptureFixture[str]) -> None:
    vrm_port = free_port()
    sites: list[int] = []

    def stop_when_serving() -> None:
        # main() installs its signal handlers before listening: once /sim/account answers,
        # SIGTERM reaches the handler
        for _ in range(5000):
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{vrm_port}/sim/account", timeout=5
                ) as response:
                    described = json.loads(response.read())
            except OSError:
                time.sleep(0.001)
                continue
            sites.extend(site["site_id"] for site in described["installations"])
            os.kill(os.getpid(), signal.SIGTERM)
            return

    stopper = threading.Thread(target=stop_when_serving)
    stopper.start()
    argv = ["--installations", "3", "--local-port", "0", "--vrm-port", str(vrm_port)]
    try:
        assert cli.main([*argv, "--speed", "0", "--seed", "1"]) == 0
    finally:
        stopper.join()
    assert sites == [FIRST_SITE, FIRST_SITE + 1, FIRST_SITE + 2]
    assert "3 installations" in capsys.readouterr().out


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port
