"""The shared test harness: one fake per source, one way to make an entry, one clock helper.

Plain classes and functions only; tests/conftest.py exposes them as fixtures, and the benches
(scripts/bench_*.py) build on them too. The Cerbo and VRM are faked at Home Assistant's HTTP
transport (`aioclient_mock`), never by patching our own code. The library tests in tests/api have
their own loopback servers (tests/api/fakes.py), whose fixtures and constants these share.
"""

from __future__ import annotations

import asyncio
import copy
import math
import re
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any, Protocol

import aiohttp
from aiohttp.test_utils import TestServer
from homeassistant.components.recorder.models import (
    StatisticData,
    StatisticMeanType,
    StatisticMetaData,
)
from homeassistant.components.recorder.statistics import (
    STATISTIC_UNIT_TO_UNIT_CONVERTER,
    async_import_statistics,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
    do_adhoc_statistics,
)
from pytest_homeassistant_custom_component.test_util.aiohttp import (
    AiohttpClientMocker,
    AiohttpClientMockResponse,
)
from yarl import URL

from custom_components.victron_cerbo.api.vrm import DEFAULT_BASE_URL, RequestBudget
from custom_components.victron_cerbo.const import (
    CONF_BATTERY_INSTANCE,
    CONF_HOST,
    CONF_PORT,
    CONF_PORTAL_ID,
    CONF_SITE_ID,
    CONF_VRM_TOKEN,
    DOMAIN,
)
from custom_components.victron_cerbo.vrm_account import VrmAccount, account_key, vrm_accounts
from dev.simulator import SimulatedInstallation, create_local_app, create_vrm_app
from tests.api import fakes
from tests.api.fakes import (
    BATTERY,
    INSTALLATIONS,
    INSTANCE,
    LYNX,
    OVERVIEW,
    PLATFORM,
    PORTAL_ID,
    PYLONTECH,
    ROOT_FIXTURES,
    SITE_ID,
    SYSTEM,
    TEMP_5,
    TEMP_6,
    TOKEN,
    USER_ID,
    USERS_ME,
    VEBUS,
    VIRTUAL,
    FakeClock,
    envelope,
    fixture_json,
    fixture_text,
    root_of,
    vrm_json,
    vrm_text,
)

__all__ = [
    "BASE",
    "BATTERY_URL",
    "HOST",
    "INSTALLATIONS_URL",
    "INSTANCE",
    "LEGACY_500",
    "LOCAL_DATA",
    "LYNX",
    "NOT_FOUND_404",
    "OVERVIEW_URL",
    "PLATFORM",
    "PORT",
    "PORTAL_ID",
    "PYLONTECH",
    "ROOT_FIXTURES",
    "SITE_ID",
    "SOURCE_DATA",
    "START",
    "SYSTEM",
    "TEMP_5",
    "TEMP_6",
    "TOKEN",
    "USERS_ME_URL",
    "USER_ID",
    "VEBUS",
    "VIRTUAL",
    "VRM_DATA",
    "FakeCerbo",
    "FakeClock",
    "FakeVrm",
    "Reply",
    "Tick",
    "account_budget",
    "advance",
    "attributes",
    "break_cerbo",
    "devices",
    "entity_ids",
    "envelope",
    "fixture_json",
    "fixture_text",
    "frozen_clock",
    "make_entry",
    "make_tick",
    "move_clock",
    "project",
    "request_count",
    "root_of",
    "setup_entry",
    "simulator",
    "state_of",
    "states",
    "update_all",
    "update_entity",
    "vrm_json",
    "vrm_text",
]

# --- the Cerbo GX DBus HTTP API on the transport ------------------------------------------------

HOST = "192.168.1.20"
PORT = 8088
BASE = f"http://{HOST}:{PORT}"


@dataclass
class Reply(fakes.Reply):
    """One canned answer; on this mocked transport also an exception the session raises."""

    exc: BaseException | None = None


NOT_FOUND_404 = Reply.fixture("error_404.json", 404)
LEGACY_500 = Reply.fixture("error_500_legacy.json", 500)


class FakeCerbo:
    """Routes the client's GETs to canned replies and counts them per path and service."""

    def __init__(self, aioclient_mock: AiohttpClientMocker, host: str = HOST) -> None:
        """Register one catch-all GET matcher for the host; every other method stays unmocked."""
        self.mock = aioclient_mock
        self.health = Reply.fixture("health_v32.json")
        self.services = Reply.fixture("services.json")
        self.roots: dict[str, Reply] = {
            service: Reply.fixture(name) for service, name in ROOT_FIXTURES.items()
        }
        self.missing = NOT_FOUND_404
        self.log: list[tuple[str, str | None]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.gate: asyncio.Event | None = None  # when set, every answer waits for it
        aioclient_mock.get(
            re.compile(rf"^http://{re.escape(host)}:{PORT}/"), side_effect=self._answer
        )

    def set_root(self, service: str, value: Any) -> None:
        """Serve `value` as the service's root dict."""
        self.roots[service] = Reply(text=envelope(service, value))

    async def _answer(self, method: str, url: URL, data: Any) -> AiohttpClientMockResponse:
        service = url.query.get("service") if url.path == "/value" else None
        self.log.append((url.path, service))
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.gate is not None:
                await self.gate.wait()
            reply = self._route(url, service)
            if reply.hang:
                await asyncio.Event().wait()
        finally:
            self.in_flight -= 1
        response = AiohttpClientMockResponse(method, url, status=reply.status, text=reply.text)
        response.exc = reply.exc
        return response

    def _route(self, url: URL, service: str | None) -> Reply:
        if url.path == "/health":
            return self.health
        if url.path == "/services":
            return self.services
        if url.path == "/value" and service is not None and url.query.get("path") == "/":
            return self.roots.get(service, self.missing)
        if url.path == "/value":
            return Reply.fixture("error_400.json", 400)
        return Reply.fixture("error_route_404.json", 404)

    def counts(self) -> Counter[str]:
        """Requests per `/health`, `/services` or service name."""
        return Counter(service or path for path, service in self.log)

    def reset(self) -> None:
        """Forget the request log."""
        self.log.clear()


REFUSED = Reply(exc=aiohttp.ClientConnectionError("refused"))


def break_cerbo(cerbo: FakeCerbo) -> None:
    """Every request to the Cerbo is refused from now on."""
    cerbo.health = REFUSED
    cerbo.services = REFUSED
    for service in list(cerbo.roots):
        cerbo.roots[service] = REFUSED


# --- the VRM API on the transport ---------------------------------------------------------------

USERS_ME_URL = f"{DEFAULT_BASE_URL}{USERS_ME}"
INSTALLATIONS_URL = f"{DEFAULT_BASE_URL}{INSTALLATIONS}"
OVERVIEW_URL = f"{DEFAULT_BASE_URL}{OVERVIEW}"
BATTERY_URL = f"{DEFAULT_BASE_URL}{BATTERY}"


def request_count(mocker: Any, fragment: str = "") -> int:
    """Requests the AiohttpClientMocker saw whose URL contains `fragment`."""
    return sum(1 for call in mocker.mock_calls if fragment in str(call[1]))


class FakeVrm:
    """The VRM endpoints the integration asks for, answering what the test sets.

    By default the system overview and BatterySummary answer with the reference fixtures (edit
    `overview` and `summary` in place); `installations` and `users_me` answer once given a body.
    `serve` scripts one endpoint: its answers are played in order and the last one repeats.
    `plan`, when set, is asked first for every request (the benches answer by simulated time);
    it returns an answer like `serve`'s or None for the usual one.
    An endpoint with nothing to answer fails the test, as an unmocked URL does.
    """

    def __init__(self, mocker: AiohttpClientMocker, overview: str = "system_overview") -> None:
        """Answer with the reference fixtures until told otherwise."""
        self.mocker = mocker
        self.overview: dict[str, Any] = vrm_json(overview)
        self.summary: dict[str, Any] = vrm_json("battery_summary")
        self.installations: dict[str, Any] | None = None
        self.users_me: dict[str, Any] | None = None
        self.html: str | None = None  # answer every request with this HTML page
        self.error: tuple[int, Any] | None = None  # answer every request with (status, json)
        self.scripts: dict[str, list[dict[str, Any]]] = {}
        self.plan: Callable[[URL], dict[str, Any] | None] | None = None
        self.calls: list[str] = []
        # the sites the account's listing (installations?extended=1) shows, once added
        self.listed: list[int] = []
        for url in (OVERVIEW_URL, BATTERY_URL, INSTALLATIONS_URL, USERS_ME_URL):
            mocker.get(url, side_effect=self._answer)

    def set_seconds_ago(self, seconds: float) -> None:
        """VRM's age of the sample it serves."""
        self.summary["records"]["data"]["secondsAgo"]["value"] = seconds

    def serve(self, url: str, answers: list[dict[str, Any]]) -> None:
        """Answer `url` with these responses in order, repeating the last one.

        Each answer holds AiohttpClientMockResponse's arguments (`json`, `status`, `text`,
        `headers`), or `exc`, an exception the session raises.
        """
        self.scripts[URL(url).path] = list(answers)

    def count(self, fragment: str = "") -> int:
        """Requests whose URL contains `fragment`."""
        return request_count(self.mocker, fragment)

    def one_monitor(self) -> None:
        """Every site lists only the entries' battery monitor (the recorded overview has two),
        so the account's shared listing can serve it. Call before `add_site`, which copies."""
        devices = self.overview["records"]["devices"]
        devices[:] = [
            device
            for device in devices
            if device.get("name") != "Battery Monitor"
            or str(device.get("instance")) == str(INSTANCE)
        ]

    def add_site(self, site_id: int) -> tuple[str, str]:
        """Serve another site of the account: a copy of the overview and the BatterySummary.

        Returns its (overview, BatterySummary) URLs; `serve` them to change what it answers.
        """
        urls = (
            OVERVIEW_URL.replace(f"/{SITE_ID}/", f"/{site_id}/"),
            BATTERY_URL.replace(f"/{SITE_ID}/", f"/{site_id}/"),
        )
        for url, body in zip(urls, (self.overview, self.summary), strict=True):
            self.mocker.get(url, side_effect=self._answer)
            self.serve(url, [{"json": copy.deepcopy(body)}])
        if site_id not in self.listed:
            self.listed.append(site_id)
        return urls

    async def _answer(self, method: str, url: URL, data: Any) -> AiohttpClientMockResponse:
        self.calls.append(url.path.rsplit("/", 1)[-1])
        spec: dict[str, Any] | None = None if self.plan is None else self.plan(url)
        if spec is None and (script := self.scripts.get(url.path)) is not None:
            spec = dict(script.pop(0) if len(script) > 1 else script[0])
        if spec is not None:
            if "exc" in spec:
                raise spec["exc"]
            return AiohttpClientMockResponse(method, url, **spec)
        if self.html is not None:
            # A maintenance page: no retry, no sleep, a clean VrmResponseError.
            return AiohttpClientMockResponse(method, url, status=200, text=self.html)
        if self.error is not None:
            status, error = self.error
            return AiohttpClientMockResponse(method, url, status=status, json=error)
        if self.listed and url.name == "installations" and "idSite" not in url.query:
            return AiohttpClientMockResponse(method, url, json=account_listing(self.listed))
        # by the path's last part, so that every site of the account answers alike
        body = {
            URL(OVERVIEW_URL).name: self.overview,
            URL(BATTERY_URL).name: self.summary,
            URL(INSTALLATIONS_URL).name: self.installations,
            "me": self.users_me,
        }[url.name]
        if body is None:
            raise AssertionError(f"No mock registered for {method.upper()} {url}")
        return AiohttpClientMockResponse(method, url, json=body)


def account_listing(sites: Iterable[int], seconds_ago: float = 60.0) -> dict[str, Any]:
    """The account's `installations?extended=1` for `sites`, each like the recorded Cabin.

    Every sample taken `seconds_ago` before Home Assistant's now.
    """
    recorded = vrm_json("installations_account_live")["records"][0]
    stamp = dt_util.utcnow().timestamp() - seconds_ago
    records = []
    for site in sites:
        record = copy.deepcopy(recorded)
        record.update(idSite=site, name=f"Site {site}", last_timestamp=stamp)
        for item in record["extended"]:
            item["timestamp"] = stamp
        records.append(record)
    return {"success": True, "records": records}


# --- config entries -------------------------------------------------------------------------------

START = datetime(2026, 1, 15, 10, 0, tzinfo=dt_util.UTC)
LOCAL_DATA = {CONF_HOST: HOST, CONF_PORT: PORT, CONF_PORTAL_ID: PORTAL_ID}
VRM_DATA = {
    CONF_VRM_TOKEN: TOKEN,
    CONF_SITE_ID: SITE_ID,
    CONF_BATTERY_INSTANCE: INSTANCE,
    CONF_PORTAL_ID: PORTAL_ID,
}
# What the config flow stores per source the user chose.
SOURCE_DATA = {"local": LOCAL_DATA, "vrm": VRM_DATA, "both": LOCAL_DATA | VRM_DATA}


def frozen_clock() -> float:
    """Home Assistant's time: frozen in tests, so `freezer.tick` moves whatever reads it."""
    return dt_util.utcnow().timestamp()


def make_entry(
    hass: HomeAssistant,
    data: Mapping[str, Any],
    options: Mapping[str, Any] | None = None,
    *,
    title: str = "Cabin",
    unique_id: str | None = PORTAL_ID,
    minor_version: int = 2,  # as the config flow creates it today
    frozen_budget: bool = True,
    **kwargs: Any,
) -> MockConfigEntry:
    """An entry like the config flow creates, added to `hass`.

    The request budget of its VRM account (unless another entry's already made it) follows Home
    Assistant's (frozen) clock, handed over through `hass.data` where the integration keeps it,
    so the rolling hour moves with `freezer.tick`; without `frozen_budget` the integration
    makes its own.
    """
    entry = MockConfigEntry(
        domain=DOMAIN,
        title=title,
        unique_id=unique_id,
        data=dict(data),
        options=dict(options or {}),
        minor_version=minor_version,
        **kwargs,
    )
    entry.add_to_hass(hass)
    token = data.get(CONF_VRM_TOKEN)
    if frozen_budget and isinstance(token, str):
        vrm_accounts(hass).accounts.setdefault(
            account_key(token), VrmAccount(budget=RequestBudget(clock=frozen_clock))
        )
    return entry


def account_budget(hass: HomeAssistant, token: str = TOKEN) -> RequestBudget:
    """The request budget of the VRM account of `token`, as the integration keeps it."""
    return vrm_accounts(hass).accounts[account_key(token)].budget


async def setup_entry(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Set the entry up the way Home Assistant does."""
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()


# --- the clock ------------------------------------------------------------------------------------


class Freezer(Protocol):
    """What moves time: freezegun's frozen or ticking factory."""

    def tick(self, delta: timedelta) -> Any:
        """Move time on by `delta`."""


class Model(Protocol):
    """Something else that keeps time and must move with Home Assistant (the simulator)."""

    def advance(self, seconds: float) -> Any:
        """Move on by `seconds`."""


type Tick = Callable[[float], Awaitable[None]]


def move_clock(
    hass: HomeAssistant, freezer: Freezer, seconds: float, model: Model | None = None
) -> None:
    """Move time (and the simulator with it) and fire the timers that became due."""
    if model is not None:
        model.advance(seconds)
    freezer.tick(timedelta(seconds=seconds))
    async_fire_time_changed(hass)


async def advance(
    hass: HomeAssistant,
    freezer: Freezer,
    seconds: float,
    *,
    step: float = 10.0,
    model: Model | None = None,
    background: bool = False,
) -> None:
    """Move time in steps no longer than `step`, letting each step's work finish.

    `background` also waits for background tasks: refreshes against real sockets run there.
    """
    left = seconds
    while left > 0:
        move = min(step, left)
        move_clock(hass, freezer, move, model)
        await hass.async_block_till_done(wait_background_tasks=background)
        left -= move


def make_tick(hass: HomeAssistant, freezer: Freezer) -> Tick:
    """`advance` bound to this Home Assistant and clock (what the `tick` fixture gives)."""

    async def tick(seconds: float, step: float = 10.0) -> None:
        await advance(hass, freezer, seconds, step=step)

    return tick


# --- VRM's history (stats) and the recorder -------------------------------------------------

STATS_URL = f"{DEFAULT_BASE_URL}/installations/{SITE_ID}/stats"
HOUR = 3600


def value(code: str, hour: int) -> float:
    """VRM's deterministic hourly mean of one code."""
    phase = hour / HOUR
    base = {"bs": 60.0, "bv": 52.0, "bc": 0.0, "bp": 0.0, "bT": 20.0}[code]
    swing = {"bs": 30.0, "bv": 1.5, "bc": 20.0, "bp": 1000.0, "bT": 3.0}[code]
    return round(base + swing * math.sin(phase / 24 * 2 * math.pi), 3)


def flow(code: str, hour: int) -> float:
    """VRM's deterministic kWh of one energy flow in one hour (no grid export on this site)."""
    sun = math.sin(hour / HOUR / 24 * 2 * math.pi)
    kwh = {
        "Pc": 0.4 * max(sun, 0.0),
        "Pb": 1.2 * max(sun, 0.0),
        "Bc": 0.8 * max(-sun, 0.0),
        "Gc": 0.05,
        "Gb": 0.25 if sun < -0.9 else 0.0,
    }
    return round(kwh[code], 3)


ENERGY_FLOWS = ("Pc", "Pb", "Bc", "Gc", "Gb")


class FakeStats:
    """VRM's `stats`: every hour up to `until` (unix s), 429s when scripted; logs each call."""

    def __init__(self, hass: HomeAssistant, vrm: FakeVrm) -> None:
        self.hass = hass
        self.until: float | None = None  # None: up to the request's end
        self.replies: list[tuple[int, dict[str, str]]] = []  # (status, headers) to play first
        self.calls: list[tuple[int, int, list[str]]] = []  # type=custom
        self.energy_calls: list[tuple[int, int]] = []  # type=kwh
        self.all_calls = 0
        self.budget_used: list[int] = []  # the account's count at each request (this one too)
        self.down = False  # answer 503 (VRM's own outage page)
        self.no_energy = False  # a site without energy data (every flow false)
        vrm.mocker.get(STATS_URL, side_effect=self._answer)

    async def _answer(self, method: str, url: URL, data: Any) -> AiohttpClientMockResponse:
        start, end = int(url.query["start"]), int(url.query["end"])
        energy = url.query["type"] == "kwh"
        codes = [] if energy else url.query.getall("attributeCodes[]")
        if energy:
            self.energy_calls.append((start, end))
        else:
            self.calls.append((start, end, codes))
        self.all_calls += 1
        self.budget_used.append(account_budget(self.hass).used)
        if self.down:
            return AiohttpClientMockResponse(method, url, status=503, text="<html>503</html>")
        if self.replies:
            status, headers = self.replies.pop(0)
            body = {"success": False, "errors": "Too many requests", "error_code": "rate_limited"}
            return AiohttpClientMockResponse(method, url, status=status, json=body, headers=headers)
        last = end if self.until is None else min(end, int(self.until))
        records: dict[str, Any] = {}
        if energy:
            for code in (*ENERGY_FLOWS, "Pg", "Bg", "gc", "gb"):
                rows = [
                    [hour * 1000, flow(code, hour)]
                    for hour in range(start, last - HOUR + 1, HOUR)
                    if code in ENERGY_FLOWS and not self.no_energy
                ]
                records[code] = rows or False
            return AiohttpClientMockResponse(
                method, url, json={"success": True, "records": records, "totals": {}}
            )
        for code in codes:
            rows = [
                [hour * 1000, value(code, hour), value(code, hour) - 1, value(code, hour) + 1]
                for hour in range(start, last - HOUR + 1, HOUR)
            ]
            records[code] = rows or False
        return AiohttpClientMockResponse(method, url, json={"success": True, "records": records})


def import_sensor_statistics(
    hass: HomeAssistant, entity_id: str, unit: str, rows: list[StatisticData], *, has_sum: bool
) -> None:
    """Hourly statistics on a sensor's own statistic id, as the sensor platform records them.

    Running sums for a meter (`has_sum`), means otherwise; the unit class is the unit's
    converter's, as the sensor platform and the history import give it.
    """
    converter = STATISTIC_UNIT_TO_UNIT_CONVERTER.get(unit)
    metadata = StatisticMetaData(
        has_sum=has_sum,
        mean_type=StatisticMeanType.NONE if has_sum else StatisticMeanType.ARITHMETIC,
        name=None,
        source="recorder",
        statistic_id=entity_id,
        unit_class=None if converter is None else converter.UNIT_CLASS,
        unit_of_measurement=unit,
    )
    async_import_statistics(hass, metadata, rows)


async def run_compiling(hass: HomeAssistant, freezer: Freezer, seconds: float) -> None:
    """Move time a minute at a time; the recorder compiles each 5 minutes as it does live.

    (The test recorder does not run its own 5-minute timer, so each period that ends is
    compiled here, 10 s after its end as the recorder would.)
    """
    left = seconds
    while left > 0:
        before = dt_util.utcnow()
        await advance(hass, freezer, min(60, left), step=60, background=True)
        left -= 60
        now = dt_util.utcnow()
        period = timedelta(minutes=5)
        end = datetime.fromtimestamp(now.timestamp() // 300 * 300, dt_util.UTC)
        if end + timedelta(seconds=10) <= now and end > before - timedelta(seconds=10):
            do_adhoc_statistics(hass, start=end - period)
            await async_wait_recording_done(hass)
    await async_wait_recording_done(hass)


# --- the simulator over loopback ----------------------------------------------------------------


@asynccontextmanager
async def simulator(
    model: SimulatedInstallation,
) -> AsyncIterator[tuple[TestServer, TestServer]]:
    """The simulator's Cerbo and VRM APIs on free 127.0.0.1 ports: (local, vrm)."""
    local = TestServer(create_local_app(model), host="127.0.0.1")
    vrm = TestServer(create_vrm_app(model), host="127.0.0.1")
    await local.start_server()
    await vrm.start_server()
    try:
        yield local, vrm
    finally:
        await local.close()
        await vrm.close()


# --- what the entities show -----------------------------------------------------------------------


def entity_ids(hass: HomeAssistant, entry: MockConfigEntry) -> dict[str, str]:
    """unique_id -> entity_id of every registry entry of the config entry."""
    registry = er.async_get(hass)
    return {
        item.unique_id: item.entity_id
        for item in er.async_entries_for_config_entry(registry, entry.entry_id)
    }


def project(hass: HomeAssistant, entry: MockConfigEntry) -> dict[str, Any]:
    """Registry entry and state of every entity, in fields both Home Assistant versions share."""
    registry = er.async_get(hass)
    result: dict[str, Any] = {}
    for item in sorted(
        er.async_entries_for_config_entry(registry, entry.entry_id), key=lambda e: e.entity_id
    ):
        state = hass.states.get(item.entity_id)
        result[item.entity_id] = {
            "unique_id": item.unique_id,
            "translation_key": item.translation_key,
            "original_name": item.original_name,
            "device_class": _text(item.original_device_class),
            "unit": _text(item.unit_of_measurement),
            "entity_category": _text(item.entity_category),
            "disabled_by": _text(item.disabled_by),
            "capabilities": _plain(item.capabilities),
            "options": _plain(item.options),
            "device": _device_kind(item.device_id, hass, entry),
            "state": None if state is None else state.state,
            "attributes": None if state is None else _plain(state.attributes),
        }
    return result


def _plain(value: Any) -> Any:
    """Attributes with enum keys and values as plain strings (2026.10 uses StrEnum keys)."""
    if isinstance(value, Mapping):
        return {_plain(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, Enum):
        return value.value
    return value


def _text(value: object) -> str | None:
    """Enum members as their plain values: their repr differs between versions."""
    return None if value is None else str(value)


def devices(hass: HomeAssistant, entry: MockConfigEntry) -> list[dict[str, Any]]:
    """The entry's devices; the battery names its installation by identifier, not by id."""
    registry = dr.async_get(hass)
    found = dr.async_entries_for_config_entry(registry, entry.entry_id)
    by_id = {device.id: device for device in found}
    return sorted(
        (
            {
                "identifiers": sorted(device.identifiers),
                "name": device.name,
                "manufacturer": device.manufacturer,
                "model": device.model,
                "sw_version": device.sw_version,
                "configuration_url": device.configuration_url,
                "via": sorted(by_id[device.via_device_id].identifiers)
                if device.via_device_id
                else None,
            }
            for device in found
        ),
        key=lambda device: device["identifiers"],
    )


def _device_kind(device_id: str | None, hass: HomeAssistant, entry: MockConfigEntry) -> str:
    device = dr.async_get(hass).async_get(device_id) if device_id else None
    if device is None:
        return "none"
    return "battery" if (DOMAIN, f"{entry.unique_id}_battery") in device.identifiers else "gx"


def states(hass: HomeAssistant, entry: MockConfigEntry) -> dict[str, str]:
    """key -> state of every entity that has a state."""
    prefix = f"{entry.unique_id}_"
    found: dict[str, str] = {}
    for unique_id, entity_id in entity_ids(hass, entry).items():
        if (state := hass.states.get(entity_id)) is not None:
            found[unique_id.removeprefix(prefix)] = state.state
    return found


def attributes(hass: HomeAssistant, platform: str, key: str) -> Any:
    """The state attributes of one entity by key."""
    entity_id = er.async_get(hass).async_get_entity_id(platform, DOMAIN, f"{PORTAL_ID}_{key}")
    assert entity_id is not None, key
    state = hass.states.get(entity_id)
    assert state is not None, key
    return state.attributes


async def update_entity(hass: HomeAssistant, platform: str, key: str) -> None:
    """Ask Home Assistant to re-check one entity now (the `update_entity` action)."""
    entity_id = er.async_get(hass).async_get_entity_id(platform, DOMAIN, f"{PORTAL_ID}_{key}")
    assert entity_id is not None, key
    await async_setup_component(hass, "homeassistant", {})
    await hass.services.async_call(
        "homeassistant", "update_entity", {"entity_id": entity_id}, blocking=True
    )


async def update_all(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Re-check every entity of the entry now, so no 30 s timer phase shows in a snapshot."""
    await async_setup_component(hass, "homeassistant", {})
    enabled = [item for item in entity_ids(hass, entry).values() if hass.states.get(item)]
    await hass.services.async_call(
        "homeassistant", "update_entity", {"entity_id": enabled}, blocking=True
    )


def state_of(hass: HomeAssistant, platform: str, key: str) -> str:
    """The state of one entity by key."""
    entity_id = er.async_get(hass).async_get_entity_id(platform, DOMAIN, f"{PORTAL_ID}_{key}")
    assert entity_id is not None, key
    state = hass.states.get(entity_id)
    assert state is not None, key
    return state.state
