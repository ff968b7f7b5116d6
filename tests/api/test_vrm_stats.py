"""VRM's hourly history (`stats?type=custom`) through the client, against a fake VRM."""

from __future__ import annotations

from typing import Any

import pytest

from custom_components.victron_cerbo.api.vrm import (
    ENERGY_FLOWS,
    VrmClient,
    VrmRateLimitError,
    VrmResponseError,
    VrmStatPoint,
    VrmStats,
    parse_stats,
    stats_params,
)

from .fakes import SITE_ID, FakeVrm, Reply, vrm_json, vrm_text

STATS = f"/installations/{SITE_ID}/stats"
CODES = ("bs", "bv", "bc", "bp", "bT")
T0 = 1_776_470_400  # 2026-04-18 00:00 UTC, the first hour of the fixtures
HOUR = 3600


@pytest.fixture
def client(session: Any, vrm: FakeVrm) -> VrmClient:
    return VrmClient(session, "token", base_url=vrm.api_url, timeout=0.5)


async def test_get_stats_hours(client: VrmClient, vrm: FakeVrm) -> None:
    vrm.get(STATS, Reply.json(vrm_json("stats_hours")))

    stats = await client.get_stats(SITE_ID, CODES, T0, T0 + 6 * HOUR, "hours")

    request = vrm.requests[0]
    assert request.url.query.getall("attributeCodes[]") == list(CODES)
    assert dict(request.url.query) | {"attributeCodes[]": "-"} == {
        "type": "custom",
        "attributeCodes[]": "-",
        "interval": "hours",
        "start": str(T0),
        "end": str(T0 + 6 * HOUR),
    }
    assert stats.interval == "hours"
    assert stats.skipped == 0
    assert [point.start for point in stats.points("bs")] == [T0 + i * HOUR for i in range(6)]
    assert stats.points("bs")[0] == VrmStatPoint(start=T0, mean=78.2, min=77.9, max=78.5)
    assert stats.points("bT")[-1] == VrmStatPoint(
        start=T0 + 5 * HOUR, mean=21.9, min=21.7, max=22.1
    )
    assert stats.points("bp")[0] == VrmStatPoint(start=T0, mean=-219, min=-299, max=-139)
    assert client.budget.used == 1
    # diagnostics keep how many points each code had, not the points
    assert client.last_payloads["stats"] == {"records": dict.fromkeys(CODES, 6)}


async def test_series_without_data(client: VrmClient, vrm: FakeVrm) -> None:
    vrm.get(STATS, Reply.json(vrm_json("stats_false")))

    stats = await client.get_stats(SITE_ID, CODES, T0, T0 + 2 * HOUR)

    assert [len(stats.points(code)) for code in CODES] == [2, 2, 0, 0, 0]
    assert stats.points("nope") == ()
    assert client.last_payloads["stats"]["records"]["bc"] is False


async def test_empty_records_written_as_list(client: VrmClient, vrm: FakeVrm) -> None:
    vrm.get(STATS, Reply.json(vrm_json("stats_empty")))

    stats = await client.get_stats(SITE_ID, ("bs",), T0, T0 + HOUR)

    assert stats == VrmStats(interval="hours", series={"bs": ()})


async def test_lenient_values(client: VrmClient, vrm: FakeVrm) -> None:
    # NaN, null, numeric strings, a decimal comma, seconds instead of ms, min above max, junk
    vrm.get(STATS, Reply(text=vrm_text("stats_lenient.json")))

    stats = await client.get_stats(SITE_ID, ("bs", "bv", "bc", "bp"), T0, T0 + 6 * HOUR)

    assert stats.points("bs") == (
        VrmStatPoint(start=T0, mean=78.2, min=77.9, max=78.6),
        VrmStatPoint(start=T0 + 3 * HOUR, mean=79.4, min=79.1, max=79.8),
        VrmStatPoint(start=T0 + 4 * HOUR, mean=80.2, min=80.0, max=80.4),  # repeated: last
        VrmStatPoint(start=T0 + 5 * HOUR, mean=80.5, min=80.0, max=81.0),
    )
    assert stats.skipped == 4  # NaN, null, "garbage" timestamp, a text
    assert stats.points("bv") == stats.points("bc") == stats.points("bp") == ()


def test_per_instance_series_merge_lowest_first() -> None:
    stats = parse_stats(vrm_json("stats_show_instance"), ("bs",), "hours")

    assert stats.points("bs") == (
        VrmStatPoint(start=T0, mean=78.2, min=77.9, max=78.6),
        VrmStatPoint(start=T0 + HOUR, mean=55.5, min=55.0, max=56.0),
    )


def test_point_as_object_and_mean_only() -> None:
    payload = {"records": {"bs": [{"timestamp": T0 * 1000, "mean": "50"}, [T0 + HOUR, 51]]}}

    stats = parse_stats(payload, ("bs",), "hours")

    assert stats.points("bs") == (
        VrmStatPoint(start=T0, mean=50.0, min=50.0, max=50.0),
        VrmStatPoint(start=T0 + HOUR, mean=51.0, min=51.0, max=51.0),
    )


async def test_html_answer_is_an_error(client: VrmClient, vrm: FakeVrm) -> None:
    vrm.get(STATS, Reply(text=vrm_text("error_502.html"), status=200))

    with pytest.raises(VrmResponseError, match="not JSON"):
        await client.get_stats(SITE_ID, ("bs",), T0, T0 + HOUR)


async def test_localised_failure_is_an_error(client: VrmClient, vrm: FakeVrm) -> None:
    vrm.get(STATS, Reply.json({"success": False, "errors": "Ungültiger Zeitraum"}))

    with pytest.raises(VrmResponseError, match="Ungültiger Zeitraum"):
        await client.get_stats(SITE_ID, ("bs",), T0, T0 + HOUR)


async def test_answer_without_records(client: VrmClient, vrm: FakeVrm) -> None:
    vrm.get(STATS, Reply.json({"success": True, "totals": {}}))

    with pytest.raises(VrmResponseError, match="without records"):
        await client.get_stats(SITE_ID, ("bs",), T0, T0 + HOUR)


async def test_429_holds(client: VrmClient, vrm: FakeVrm) -> None:
    vrm.get(
        STATS, Reply(status=429, text=vrm_text("error_429.json"), headers={"Retry-After": "120"})
    )

    with pytest.raises(VrmRateLimitError) as err:
        await client.get_stats(SITE_ID, ("bs",), T0, T0 + HOUR)

    assert err.value.retry_after == 120
    assert client.budget.hold_remaining() > 100
    with pytest.raises(VrmRateLimitError):
        await client.get_stats(SITE_ID, ("bs",), T0, T0 + HOUR)
    assert vrm.call_count == 1


@pytest.mark.parametrize(
    "query",
    [
        ((), T0, T0 + HOUR, "hours"),
        (("bs&x=1",), T0, T0 + HOUR, "hours"),
        (("bs",), T0, T0 + HOUR, "minutes"),
        (("bs",), T0 + HOUR, T0, "hours"),
        (("bs",), T0, T0 + 32 * 86400, "hours"),
        (("bs",), float(T0), T0 + HOUR, "hours"),
        (("bs",), -1, T0, "hours"),
        (("bs",), True, T0, "hours"),
    ],
)
async def test_refused_before_sending(client: VrmClient, vrm: FakeVrm, query: Any) -> None:
    with pytest.raises(ValueError):  # noqa: PT011
        await client.get_stats(SITE_ID, *query)

    assert vrm.call_count == 0


def test_params_repeat_codes_once() -> None:
    assert stats_params(("bs", "bv", "bs"), T0, T0 + HOUR, "15mins") == [
        ("type", "custom"),
        ("attributeCodes[]", "bs"),
        ("attributeCodes[]", "bv"),
        ("interval", "15mins"),
        ("start", str(T0)),
        ("end", str(T0 + HOUR)),
    ]


async def test_get_energy_hours(client: VrmClient, vrm: FakeVrm) -> None:
    vrm.get(STATS, Reply.json(vrm_json("stats_kwh")))

    energy = await client.get_energy(SITE_ID, T0, T0 + 3 * HOUR)

    assert dict(vrm.requests[0].url.query) == {
        "type": "kwh",
        "interval": "hours",
        "start": str(T0),
        "end": str(T0 + 3 * HOUR),
    }
    assert set(energy.series) == set(ENERGY_FLOWS)
    # one value per interval: mean, min and max are that value
    assert energy.points("Pb")[0] == VrmStatPoint(start=T0, mean=0.731, min=0.731, max=0.731)
    assert [point.mean for point in energy.points("Bc")] == [0.0, 0.394, 0.612]  # "0,612"
    assert energy.points("Gb") == (
        VrmStatPoint(start=T0 + 2 * HOUR, mean=0.25, min=0.25, max=0.25),
    )
    assert energy.points("Pg") == ()
    assert "kwh" not in energy.series  # the total is not a flow


def test_energy_params_take_no_codes() -> None:
    assert stats_params((), T0, T0 + HOUR, "hours", kind="kwh") == [
        ("type", "kwh"),
        ("interval", "hours"),
        ("start", str(T0)),
        ("end", str(T0 + HOUR)),
    ]
    with pytest.raises(ValueError, match="unknown stats type"):
        stats_params((), T0, T0 + HOUR, "hours", kind="venus")
