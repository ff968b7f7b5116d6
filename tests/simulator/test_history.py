"""The simulator's VRM history: `stats?type=kwh` (energy flows) and `widgets/Graph`.

Shapes as in vrm_api.md §3.4 (shared/reference): kWh rows `[ts_ms, kWh]` or false, Graph
`records.data.<attribute id>` with `[ts_s, mean(, min, max)]` and `meta` per id.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from dev.simulator import SimConfig, SimulatedInstallation, create_vrm_app

START = datetime(2026, 4, 15, 10, 0, tzinfo=UTC)  # noon in Amsterdam, a VRM log instant
S = int(START.timestamp())
HOUR = 3600
AUTH = {"X-Authorization": "Token simulated-token"}
STATS = "/v2/installations/123456/stats"
GRAPH = "/v2/installations/123456/widgets/Graph"
FLOWS = ("Pc", "Pb", "Pg", "Bc", "Bg", "Gc", "Gb", "gc", "gb")
EPS = 0.0021  # three values rounded to 0.001


def _kwh(start: int, end: int, **extra: str) -> list[tuple[str, str]]:
    query = [("type", "kwh"), ("start", str(start)), ("end", str(end))]
    return query + list(extra.items())


def _custom(start: int, end: int, code: str) -> list[tuple[str, str]]:
    query = [("type", "custom"), ("interval", "hours"), ("attributeCodes[]", code)]
    return [*query, ("start", str(start)), ("end", str(end))]


async def _get(client: TestClient[Any, Any], path: str, query: list[tuple[str, str]]) -> Any:
    response = await client.get(path, params=query, headers=AUTH)
    assert response.status == 200, await response.text()
    return await response.json()


def _by_hour(records: dict[str, Any], code: str) -> dict[int, float]:
    rows = records[code]
    return {} if rows is False else {row[0] // 1000: row[1] for row in rows}


def _physics_hours(model: SimulatedInstallation, first: int) -> dict[int, dict[str, float]]:
    """The past's hourly energies from the physics' own counters (and the load served)."""
    physics = model.physics
    state = physics.initial_state(first)
    hours: dict[int, dict[str, float]] = {}
    mark = state
    load = 0.0
    while state.t < S:
        load += physics.flows(state, model.grid_on(state.t)).load_served_w * 60 / 3_600_000
        state = physics.step(state, 60.0, model.grid_on(state.t))
        if state.t % HOUR == 0:
            hours[int(mark.t)] = {
                "charged": state.charged_kwh - mark.charged_kwh,
                "discharged": state.discharged_kwh - mark.discharged_kwh,
                "pv": state.pv_total_kwh - mark.pv_total_kwh,
                "import": state.grid_import_kwh - mark.grid_import_kwh,
                "export": state.grid_export_kwh - mark.grid_export_kwh,
                "load": load,
            }
            mark, load = state, 0.0
    return hours


def _check_conservation(records: dict[str, Any], truth: dict[int, dict[str, float]]) -> None:
    flows = {code: _by_hour(records, code) for code in FLOWS}
    for hour, real in truth.items():
        kwh = {code: flows[code].get(hour, 0.0) for code in FLOWS}
        consumption = kwh["Pc"] + kwh["Bc"] + kwh["Gc"]
        assert abs(kwh["Pb"] + kwh["Gb"] - real["charged"]) < EPS, hour
        assert abs(kwh["Bc"] + kwh["Bg"] - real["discharged"]) < EPS, hour
        assert abs(kwh["Pg"] + kwh["Bg"] - real["export"]) < EPS, hour
        # conversion losses come off PV and grid; only a battery alone adds its own to the load
        assert kwh["Pc"] + kwh["Pb"] + kwh["Pg"] <= real["pv"] + EPS, hour
        assert kwh["Gc"] + kwh["Gb"] <= real["import"] + EPS, hour
        assert real["load"] - EPS < consumption < real["load"] + 0.07 * kwh["Bc"] + EPS, hour
        total = sum(kwh.values())
        assert abs(_by_hour(records, "kwh")[hour] - total) < 0.005, hour


async def test_kwh_flows_conserve_energy_in_the_past_and_live() -> None:
    model = SimulatedInstallation(START, speed=0, seed=1, config=SimConfig(history_days=2))
    first = S - 2 * 86400
    async with TestClient(TestServer(create_vrm_app(model))) as client:
        body = await _get(client, STATS, _kwh(first, S))
        assert body["success"] is True
        records, totals = body["records"], body["totals"]
        assert set(records) == {*FLOWS, "kwh"}
        assert set(totals) == {*FLOWS, "kwh"}
        # no genset; this sunny site exports PV but never from the battery or into it
        for code in ("gc", "gb", "Bg", "Gb"):
            assert records[code] is False
            assert totals[code] == 0
        for code in ("Pc", "Pb", "Pg", "Bc", "Gc", "kwh"):
            hours = [row[0] for row in records[code]]
            # 48 hours less the 2 of the back-log, in milliseconds
            assert hours == [(first + h * HOUR) * 1000 for h in range(46)]
            assert all(row[1] >= 0 for row in records[code])
            assert abs(totals[code] - sum(row[1] for row in records[code])) < 0.001
        truth = _physics_hours(model, first)
        assert len(truth) == 48
        _check_conservation(records, {h: v for h, v in truth.items() if h < S - 2 * HOUR})
        assert sum(truth[h]["export"] for h in truth) > 1  # the check saw real export

        # battery energy in - out per hour is the mean battery power (W) of the custom stats
        power = _by_hour((await _get(client, STATS, _custom(first, S, "bp")))["records"], "bp")
        flows = {code: _by_hour(records, code) for code in FLOWS}
        for hour, mean_w in power.items():
            net = flows["Pb"][hour] + flows["Gb"].get(hour, 0) - flows["Bc"][hour]
            assert abs(net - mean_w / 1000) < EPS, hour

        # live hours come from the log records: the same identity against their power
        model.advance(6 * HOUR)
        live = (await _get(client, STATS, _kwh(S, S + 6 * HOUR)))["records"]
        power = _by_hour(
            (await _get(client, STATS, _custom(S, S + 6 * HOUR, "bp")))["records"], "bp"
        )
        assert sorted(power) == [S + h * HOUR for h in range(6)]
        flows = {code: _by_hour(live, code) for code in FLOWS}
        for hour, mean_w in power.items():
            charged = flows["Pb"].get(hour, 0) + flows["Gb"].get(hour, 0)
            discharged = flows["Bc"].get(hour, 0) + flows["Bg"].get(hour, 0)
            assert abs(charged - discharged - mean_w / 1000) < EPS, hour
        assert [row[0] // 1000 for row in live["kwh"]] == sorted(power)


async def test_kwh_grid_charging_without_pv() -> None:
    # no PV, an ESS minimum far above the SOC: the grid feeds the loads and charges the battery
    config = SimConfig(history_days=1, pv_peak_w=0, initial_soc=60, min_soc=90)
    model = SimulatedInstallation(START, speed=0, seed=2, config=config)
    first = S - 86400
    async with TestClient(TestServer(create_vrm_app(model))) as client:
        records = (await _get(client, STATS, _kwh(first, S)))["records"]
        for code in ("Pc", "Pb", "Pg", "Bc", "Bg", "gc", "gb"):
            assert records[code] is False, code
        assert sum(row[1] for row in records["Gb"]) > 1
        assert sum(row[1] for row in records["Gc"]) > 5
        truth = _physics_hours(model, first)
        _check_conservation(records, {h: v for h, v in truth.items() if h < S - 2 * HOUR})


async def test_kwh_back_log_arrives_late() -> None:
    model = SimulatedInstallation(START, speed=0, seed=1, config=SimConfig(history_days=1))
    async with TestClient(TestServer(create_vrm_app(model))) as client:
        query = _kwh(S - 4 * HOUR, S)
        before = (await _get(client, STATS, query))["records"]
        assert [row[0] // 1000 for row in before["kwh"]] == [S - 4 * HOUR, S - 3 * HOUR]
        model.advance(2 * HOUR - 60)  # not yet
        assert (await _get(client, STATS, query))["records"] == before
        model.advance(60)
        after = (await _get(client, STATS, query))["records"]
        assert [row[0] // 1000 for row in after["kwh"]] == [S + h * HOUR for h in range(-4, 0)]
        assert after["Pc"][:2] == before["Pc"]  # the hours VRM had do not change
        # an hour that has not ended is not served either
        live = (await _get(client, STATS, _kwh(S, S + 4 * HOUR)))["records"]
        assert [row[0] // 1000 for row in live["kwh"]] == [S, S + HOUR]


async def test_kwh_shares_the_429_counter_and_refuses_bad_queries() -> None:
    model = SimulatedInstallation(START, speed=0, seed=1, config=SimConfig(stats_429_every=3))
    async with TestClient(TestServer(create_vrm_app(model))) as client:
        kwh, custom = _kwh(S - 5 * HOUR, S - 3 * HOUR), _custom(S - 7200, S, "bs")
        statuses = []
        for query in (custom, kwh, kwh, kwh, custom, custom):
            response = await client.get(STATS, params=query, headers=AUTH)
            statuses.append(response.status)
            if response.status == 429:
                assert response.headers["Retry-After"] == "60"
                assert (await response.json())["error_code"] == "rate_limited"
        assert statuses == [200, 200, 429, 200, 200, 429]
        bad = [
            _kwh(S - 7200, S, interval="15mins"),
            _kwh(S - 7200, S, interval="days"),
            _kwh(S - 32 * 86400, S),
            _kwh(S, S),
            _kwh(S, S - 3600),
            [("type", "kwh"), ("start", "yesterday")],
            [("type", "nonsense"), ("start", str(S - 7200)), ("end", str(S))],
        ]
        for query in bad:
            response = await client.get(STATS, params=query, headers=AUTH)
            if response.status == 429:  # every third request
                response = await client.get(STATS, params=query, headers=AUTH)
            assert response.status == 400, query
            assert (await response.json())["error_code"] == "invalid_parameters"
        # VRM ignores attribute codes with type=kwh; hours is the default interval
        with_codes = [*kwh, custom[2]]
        response = await client.get(STATS, params=with_codes, headers=AUTH)
        if response.status == 429:
            response = await client.get(STATS, params=with_codes, headers=AUTH)
        assert response.status == 200
        assert len((await response.json())["records"]["kwh"]) == 2


# --- widgets/Graph -----------------------------------------------------------------------------


async def test_graph_shape_ids_and_default_span() -> None:
    model = SimulatedInstallation(START, speed=0, seed=1, config=SimConfig(history_days=2))
    model.advance(3 * HOUR)
    async with TestClient(TestServer(create_vrm_app(model))) as client:
        query = [("attributeCodes[]", "bs"), ("attributeIds[]", "143"), ("attributeCodes[]", "zz")]
        body = await _get(client, GRAPH, [*query, ("instance", "0")])
        assert body["success"] is True
        records = body["records"]
        assert records["instance"] == 0
        assert set(records["data"]) == {"144", "143"}  # an unknown code is left out
        assert records["meta"] == {
            "144": {
                "code": "bs",
                "description": "Battery SOC",
                "formatValueOnly": "%.1F",
                "formatWithUnit": "%.1F %%",
                "axisGroup": "Percentage",
            },
            "143": {
                "code": "bv",
                "description": "Battery voltage",
                "formatValueOnly": "%.2F",
                "formatWithUnit": "%.2F V",
                "axisGroup": "Battery Voltage",
            },
        }
        now = S + 3 * HOUR
        soc = records["data"]["144"]
        # the last 24 h: 21 h of past every 60 s and 3 h of log records every 300 s, both ends
        assert len(soc) == 21 * 60 + 3 * 12 + 1
        assert soc[0][0] == now - 86400  # seconds, not milliseconds
        assert soc[-1][0] == now
        assert soc[21 * 60 + 1][0] - soc[21 * 60][0] == 300
        assert all(len(point) == 2 and 0 <= point[1] <= 100 for point in soc)
        assert all(40 < point[1] < 60 for point in records["data"]["143"])
        # the same samples as the hourly stats: the means of one hour agree
        hourly = (await _get(client, STATS, _custom(S - 5 * HOUR, S - 4 * HOUR, "bs")))["records"]
        in_hour = [v for t, v in soc if S - 5 * HOUR <= t < S - 4 * HOUR]
        assert len(in_hour) == 60
        assert abs(sum(in_hour) / 60 - hourly["bs"][0][1]) < 0.001

        # another instance has none of the system's attributes
        other = await _get(client, GRAPH, [*query, ("instance", "512")])
        assert other["records"] == {"data": {}, "meta": {}, "instance": 512}


async def test_graph_downsamples_to_width_times_points_per_pixel() -> None:
    model = SimulatedInstallation(START, speed=0, seed=1, config=SimConfig(history_days=2))
    start, end = S - 2 * 86400, S - 2 * HOUR
    span = [("start", str(start)), ("end", str(end)), ("attributeCodes[]", "bv")]
    async with TestClient(TestServer(create_vrm_app(model))) as client:
        full = (await _get(client, GRAPH, [*span, ("width", "3000")]))["records"]["data"]["143"]
        assert len(full) == 46 * 60  # 6000 allowed: every sample (the end is back-logged)
        query = [*span, ("width", "100"), ("pointsPerPixel", "3"), ("useMinMax", "1")]
        small = (await _get(client, GRAPH, query))["records"]["data"]["143"]
        assert 250 <= len(small) <= 300
        assert all(point[2] <= point[1] <= point[3] for point in small)
        stamps = [point[0] for point in small]
        assert stamps == sorted(set(stamps))
        assert stamps[0] == start
        assert stamps[-1] <= end
        assert min(point[2] for point in small) == min(point[1] for point in full)
        assert max(point[3] for point in small) == max(point[1] for point in full)
        # each point is the mean of the samples from its time to the next point's
        for here, after in itertools.pairwise(small[:6]):
            values = [v for t, v in full if here[0] <= t < after[0]]
            assert abs(sum(values) / len(values) - here[1]) < 0.001
        # defaults: width 768, 2 points per pixel
        default = (await _get(client, GRAPH, span))["records"]["data"]["143"]
        assert 1400 <= len(default) <= 768 * 2


async def test_graph_back_log_and_bad_parameters() -> None:
    config = SimConfig(history_days=1, stats_429_every=1)  # Graph is not a stats request
    model = SimulatedInstallation(START, speed=0, seed=1, config=config)
    query = [("attributeCodes[]", "bs"), ("start", str(S - 4 * HOUR)), ("end", str(S))]
    async with TestClient(TestServer(create_vrm_app(model))) as client:
        soc = (await _get(client, GRAPH, query))["records"]["data"]["144"]
        # the back-logged samples are missing; the first log record at the start is there
        assert [t for t, _ in soc] == [*range(S - 4 * HOUR, S - 2 * HOUR, 60), S]
        model.advance(2 * HOUR)
        soc = (await _get(client, GRAPH, query))["records"]["data"]["144"]
        assert [t for t, _ in soc] == [*range(S - 4 * HOUR, S, 60), S]
        bad = [
            [("start", str(S - HOUR))],  # no attribute
            [*query, ("width", "0")],
            [*query, ("pointsPerPixel", "-1")],
            [*query, ("width", "wide")],
            [("attributeCodes[]", "bs"), ("start", str(S)), ("end", str(S))],
            [("attributeCodes[]", "bs"), ("start", str(S - 40 * 86400)), ("end", str(S))],
        ]
        for params in bad:
            response = await client.get(GRAPH, params=params, headers=AUTH)
            assert response.status == 400, params
            assert (await response.json())["error_code"] == "invalid_parameters"
        assert model.history.stats_requests == 0
