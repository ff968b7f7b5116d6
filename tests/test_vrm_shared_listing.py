"""Entries of several sites on one VRM account share one installations list per round.

Real Home Assistant, VRM faked at the HTTP transport (FakeVrm) with the recorded account listing
(`installations_account_live.json`: Cabin 123456, 35ft Yacht 151734 without a monitor, Workshop
200001 ...), its sample times moved along with the clock.
"""

from __future__ import annotations

import asyncio
import copy
import json
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
from yarl import URL

from custom_components.victron_cerbo.api.vrm import (
    VrmAccountLive,
    VrmConnectionError,
    VrmError,
)
from custom_components.victron_cerbo.const import (
    CONF_BATTERY_INSTANCE,
    CONF_BUDGET_LIMIT,
    CONF_BUDGET_WARNING,
    CONF_SITE_ID,
    CONF_VRM_TOKEN,
    CONF_VRM_USER_ID,
)
from custom_components.victron_cerbo.vrm_account import AccountListing
from tests.helpers import (
    BATTERY_URL,
    INSTANCE,
    SITE_ID,
    TOKEN,
    USER_ID,
    FakeVrm,
    account_budget,
    account_listing,
    advance,
    make_entry,
    setup_entry,
    vrm_json,
)

WORKSHOP = 200001  # a second site with its own battery monitor
YACHT = 151734  # a site without a battery monitor: the GX's system battery only
LISTING = vrm_json("installations_account_live")
DAY = 24 * 3600


def listing_now(seconds_ago: float = 60.0, drop: int | None = None) -> dict[str, Any]:
    """The recorded listing, every sample taken `seconds_ago` before now; `drop` a site."""
    stamp = dt_util.utcnow().timestamp() - seconds_ago
    body = copy.deepcopy(LISTING)
    records = [
        record
        for record in body["records"]
        if not (isinstance(record, dict) and record.get("idSite") == drop)
    ]
    for record in records:
        if not isinstance(record, dict):
            continue
        record["last_timestamp"] = stamp
        for item in record.get("extended") or []:
            if isinstance(item, dict):
                item["timestamp"] = stamp
    body["records"] = records
    return body


def serve_listing(vrm: FakeVrm, **kwargs: Any) -> None:
    """The account listing, fresh at every request."""

    def plan(url: URL) -> dict[str, Any] | None:
        if url.name == "installations" and "idSite" not in url.query:
            return {"json": listing_now(**kwargs)}
        return None

    vrm.plan = plan


def site_entry(
    hass: HomeAssistant,
    site_id: int,
    *,
    instance: int | None = INSTANCE,
    user_id: int | None = USER_ID,
    options: dict[str, Any] | None = None,
) -> MockConfigEntry:
    """A VRM-only entry of one site of the account, as the flow stores it.

    Without `user_id` as flows before the account listing stored it.
    """
    data: dict[str, Any] = {
        CONF_VRM_TOKEN: TOKEN,
        CONF_SITE_ID: site_id,
        CONF_BATTERY_INSTANCE: instance,
    }
    if user_id is not None:
        data[CONF_VRM_USER_ID] = user_id
    return make_entry(hass, data, options, title=f"Site {site_id}", unique_id=f"site-{site_id}")


async def cabin_and_workshop(
    hass: HomeAssistant, vrm: FakeVrm, **kwargs: Any
) -> tuple[MockConfigEntry, MockConfigEntry]:
    """Two sites of one account with a monitor each, sharing the listing; set up in turn.

    `kwargs` go to both entries (`site_entry`).
    """
    vrm.one_monitor()
    vrm.add_site(WORKSHOP)
    serve_listing(vrm)
    cabin = site_entry(hass, SITE_ID, **kwargs)
    await setup_entry(hass, cabin)
    workshop = site_entry(hass, WORKSHOP, **kwargs)
    await setup_entry(hass, workshop)
    return cabin, workshop


def calls(vrm: FakeVrm) -> Counter[str]:
    """Requests by what they asked for."""
    return Counter(vrm.calls)


async def test_three_sites_cost_one_listing_a_round_and_five_extras_an_hour(
    hass: HomeAssistant, vrm: FakeVrm, freezer: FrozenDateTimeFactory
) -> None:
    """A day of three VRM-only sites on one account: one listing a round, one extra in four.

    Each entry alone would read its BatterySummary every 180 s (3 x 480 a day, 60 an hour).
    Setup: the Cabin, alone, reads its overview and summary; the Workshop shares the account,
    so its first poll is a listing and its overview the first extra; the Yacht reads that
    same listing. The day: the clock moves in 10 s steps, so the round due 182 s after the
    last listing runs at 190 s: 454 listings. Extras: the Yacht's missing overview two rounds
    later, then every fourth round a BatterySummary of the Cabin or the Workshop in turn
    (113); the overviews are next due after 24 hours.
    """
    vrm.one_monitor()
    for site in (WORKSHOP, YACHT):
        vrm.add_site(site)
    serve_listing(vrm)
    for site, instance in ((SITE_ID, INSTANCE), (WORKSHOP, INSTANCE), (YACHT, None)):
        await setup_entry(hass, site_entry(hass, site, instance=instance))
    assert calls(vrm) == {"system-overview": 2, "BatterySummary": 1, "installations": 1}

    await advance(hass, freezer, DAY, step=10)

    counted = calls(vrm)
    assert counted == {"installations": 1 + 454, "BatterySummary": 1 + 113, "system-overview": 3}
    assert sum(counted.values()) / 24 <= 25
    assert account_budget(hass).used <= 25


async def test_shared_values_come_from_the_listing_and_the_summary_with_its_own_age(
    hass: HomeAssistant, vrm: FakeVrm, freezer: FrozenDateTimeFactory
) -> None:
    """SOC from the listing (the Cabin's 87.2 %), temperature from the rotating summary."""
    cabin, _ = await cabin_and_workshop(hass, vrm)
    await advance(hass, freezer, 400, step=10)  # both read the listing now

    view = cabin.runtime_data.battery.data
    assert cabin.runtime_data.vrm is not None
    assert cabin.runtime_data.vrm.shared
    assert view.value("soc") == 87.2  # the listing's, not the summary's
    assert view.values["soc"] is not None
    assert view.values["soc"].data_age <= 180 + 60
    temperature = view.values["temperature"]
    assert temperature is not None
    assert temperature.value is not None
    # from the summary the entry read before the second site came, now over 400 s old
    assert temperature.data_age >= 400


async def test_a_site_the_listing_lacks_reads_its_summary_and_the_others_go_on(
    hass: HomeAssistant, vrm: FakeVrm, freezer: FrozenDateTimeFactory
) -> None:
    """Workshop left out of the listing: its entry reads its own summary, Cabin's stays shared.

    The Yacht (no monitor) left out: an error for it alone, unavailable at the third.
    """
    vrm.one_monitor()
    for site in (WORKSHOP, YACHT):
        vrm.add_site(site)
    serve_listing(vrm)
    cabin = site_entry(hass, SITE_ID)
    await setup_entry(hass, cabin)
    workshop = site_entry(hass, WORKSHOP)
    await setup_entry(hass, workshop)
    yacht = site_entry(hass, YACHT, instance=None)
    await setup_entry(hass, yacht)
    await advance(hass, freezer, 400, step=10)
    serve_listing(vrm, drop=WORKSHOP)
    vrm.calls.clear()

    await advance(hass, freezer, 182, step=1)

    assert cabin.runtime_data.vrm is not None
    assert workshop.runtime_data.vrm is not None
    assert cabin.runtime_data.vrm.shared
    assert not workshop.runtime_data.vrm.shared
    assert calls(vrm)["installations"] == 1
    assert calls(vrm)["BatterySummary"] >= 1
    assert workshop.runtime_data.battery.data.value("soc") is not None

    serve_listing(vrm, drop=YACHT)
    await advance(hass, freezer, 3 * 182, step=1)
    yacht_vrm = yacht.runtime_data.vrm
    assert yacht_vrm is not None
    assert yacht_vrm.health.consecutive_failures == 3
    assert not yacht_vrm.last_update_success
    assert cabin.runtime_data.vrm.health.consecutive_failures == 0
    assert cabin.runtime_data.battery.data.value("soc") == 87.2
    assert yacht.runtime_data.battery.data.value("voltage") is None
    assert STATE_UNAVAILABLE  # the Yacht's entities follow its coordinator


async def test_a_site_with_two_monitors_never_takes_the_system_battery(
    hass: HomeAssistant, vrm: FakeVrm, freezer: FrozenDateTimeFactory
) -> None:
    """The system battery is one monitor's: an entry of another monitor reads its own.

    The recorded overview lists two monitors.
    """
    vrm.add_site(WORKSHOP)
    serve_listing(vrm)
    cabin = site_entry(hass, SITE_ID)
    await setup_entry(hass, cabin)  # alone: its overview comes at setup
    await setup_entry(hass, site_entry(hass, WORKSHOP))
    vrm.calls.clear()

    await advance(hass, freezer, 3600, step=30)

    assert cabin.runtime_data.vrm is not None
    assert not cabin.runtime_data.vrm.shared
    assert cabin.runtime_data.battery.data.value("soc") != 87.2


async def test_back_to_its_own_summary_when_the_other_site_leaves(
    hass: HomeAssistant, vrm: FakeVrm, freezer: FrozenDateTimeFactory
) -> None:
    """One site left on the account: its entry reads its BatterySummary every poll again."""
    cabin, workshop = await cabin_and_workshop(hass, vrm)
    await advance(hass, freezer, 400, step=10)
    assert await hass.config_entries.async_unload(workshop.entry_id)
    vrm.calls.clear()

    await advance(hass, freezer, timedelta(hours=1).total_seconds(), step=30)

    assert cabin.runtime_data.vrm is not None
    assert not cabin.runtime_data.vrm.shared
    assert calls(vrm)["installations"] == 0
    assert calls(vrm)["BatterySummary"] == 20


async def test_entries_without_a_user_id_learn_it_once_for_the_account(
    hass: HomeAssistant, vrm: FakeVrm, freezer: FrozenDateTimeFactory
) -> None:
    """Entries from older flows: one `/users/me` serves every entry of the account."""
    vrm.users_me = vrm_json("users_me")
    cabin, _ = await cabin_and_workshop(hass, vrm, user_id=None)
    await advance(hass, freezer, 3600, step=10)

    assert calls(vrm)["me"] == 1
    assert cabin.runtime_data.vrm is not None
    assert cabin.runtime_data.vrm.shared


async def test_failing_summaries_keep_the_last_until_a_day_old(
    hass: HomeAssistant, vrm: FakeVrm, freezer: FrozenDateTimeFactory
) -> None:
    """BatterySummary failing from now on: the listing still serves SOC, the temperature
    stays the last summary's until that is a day old, then it is unavailable."""
    cabin, _ = await cabin_and_workshop(hass, vrm)
    vrm.serve(BATTERY_URL, [{"status": 503, "json": vrm_json("error_500")}])
    vrm.serve(
        BATTERY_URL.replace(str(SITE_ID), str(WORKSHOP)),
        [{"status": 503, "json": vrm_json("error_500")}],
    )

    await advance(hass, freezer, 23 * 3600, step=30)
    view = cabin.runtime_data.battery.data
    assert view.value("temperature") is not None
    assert view.value("soc") == 87.2
    # shown with its age, but too old to judge: no verdict either way
    verdict = view.problems["temperature_out_of_range"]
    assert verdict is not None
    assert verdict.on is None
    assert view.problems["low_soc"] is not None
    assert view.problems["low_soc"].on is False

    await advance(hass, freezer, 3600, step=30)
    view = cabin.runtime_data.battery.data
    assert view.value("temperature") is None
    assert view.value("soc") == 87.2
    assert cabin.runtime_data.vrm is not None
    assert cabin.runtime_data.vrm.health.consecutive_failures == 0


async def test_no_extra_request_while_the_budget_is_near_its_limit(
    hass: HomeAssistant, vrm: FakeVrm, freezer: FrozenDateTimeFactory
) -> None:
    """A warning at 10 requests an hour: once the listings reach it, only listings go out."""
    options = {CONF_BUDGET_WARNING: 10, CONF_BUDGET_LIMIT: 45}
    await cabin_and_workshop(hass, vrm, options=options)
    await advance(hass, freezer, 3600, step=10)
    vrm.calls.clear()

    await advance(hass, freezer, 3600, step=10)

    assert calls(vrm) == {"installations": 18}  # one a round of 190 s (10 s steps)


class CountingClient:
    """Just the listing call of VrmClient: counts, waits for `release`, answers or fails."""

    def __init__(self, answer: VrmAccountLive | VrmError) -> None:
        self.answer = answer
        self.asked = 0
        self.release = asyncio.Event()

    async def get_account_live(self, user_id: int) -> VrmAccountLive:
        self.asked += 1
        await self.release.wait()
        if isinstance(self.answer, VrmError):
            raise self.answer
        return self.answer


async def test_callers_in_one_round_share_one_fetch_and_its_error() -> None:
    """Three entries asking while the listing is in flight get its one answer; an error too."""
    now = dt_util.utcnow()
    client = CountingClient(VrmAccountLive())
    listing = AccountListing()
    age = timedelta(seconds=90)
    waiting = [
        asyncio.ensure_future(listing.async_get(client, USER_ID, now, age))  # type: ignore[arg-type]
        for _ in range(3)
    ]
    await asyncio.sleep(0)
    client.release.set()
    results = await asyncio.gather(*waiting)
    assert client.asked == 1
    assert all(result is results[0] for result in results)
    assert listing.rounds == 1

    # younger than the caller's age: handed out again; older: fetched
    assert await listing.async_get(client, USER_ID, now + age / 2, age) is results[0]  # type: ignore[arg-type]
    client.answer = VrmConnectionError("timeout", kind="timeout")
    with pytest.raises(VrmConnectionError):
        await listing.async_get(client, USER_ID, now + age, age)  # type: ignore[arg-type]
    assert client.asked == 2
    # the error is the round's answer for everyone else in it
    with pytest.raises(VrmConnectionError):
        await listing.async_get(client, USER_ID, now + age * 1.5, age)  # type: ignore[arg-type]
    assert client.asked == 2
    assert listing.rounds == 2


async def test_fifty_sites_cost_twenty_five_requests_an_hour(
    hass: HomeAssistant, vrm: FakeVrm, freezer: FrozenDateTimeFactory
) -> None:
    """Fifty VRM-only sites on one account, each alone costing 21 requests an hour.

    Setup: the first site reads its overview and summary, the second the listing that all later
    ones share, and its overview as the first extra. The other overviews come two rounds apart
    (30 requests an hour) until every site has one; then one extra per four listings: 19
    listings (rounds of 190 s in 10 s steps) and 5 summaries an hour.
    """
    vrm.one_monitor()
    sites = [SITE_ID] + [300000 + index for index in range(49)]
    for site in sites[1:]:
        vrm.add_site(site)
    vrm.plan = lambda url: {"json": account_listing(sites)} if url.name == "installations" else None
    for site in sites:
        await setup_entry(hass, site_entry(hass, site))
    assert calls(vrm) == {"system-overview": 2, "BatterySummary": 1, "installations": 1}

    await advance(hass, freezer, 6 * 3600, step=10)
    assert calls(vrm)["system-overview"] == 50
    vrm.calls.clear()
    await advance(hass, freezer, 3600, step=10)

    assert calls(vrm) == {"installations": 19, "BatterySummary": 5}
    assert all(
        entry.runtime_data.vrm is not None and entry.runtime_data.vrm.shared
        for entry in hass.config_entries.async_loaded_entries("victron_cerbo")
    )


async def test_diagnostics_of_a_shared_entry_say_so_and_hide_the_account(
    hass: HomeAssistant,
    vrm: FakeVrm,
    freezer: FrozenDateTimeFactory,
    hass_client: ClientSessionGenerator,
) -> None:
    """The live source and the summary's age; no site id, portal id or name of any site."""
    cabin, _ = await cabin_and_workshop(hass, vrm)
    await advance(hass, freezer, 400, step=10)

    found = await get_diagnostics_for_config_entry(hass, hass_client, cabin)
    section = found["vrm"]
    assert section["live_source"] == "account_listing"
    assert section["summary_age"] >= 400
    text = json.dumps(found)
    assert "account_live" in section["last_payloads"]  # kept, scrubbed
    for record in LISTING["records"]:
        if isinstance(record, dict):
            for key in ("idSite", "identifier", "name"):
                value = record.get(key)
                if value is not None:
                    assert f'"{value}"' not in text, (key, value)
                    assert f": {value}," not in text, (key, value)


async def test_bad_records_of_one_site_leave_the_others_alone(
    hass: HomeAssistant, vrm: FakeVrm, freezer: FrozenDateTimeFactory
) -> None:
    """In one listing: the Workshop's live values `false`, the Yacht's voltage in Portuguese
    words and its current a numeric string, a record that is a string, one without a site id.

    The Workshop reads its own summary, the Yacht shows what it could read, the Cabin is as
    before; nobody fails.
    """
    vrm.one_monitor()
    for site in (WORKSHOP, YACHT):
        vrm.add_site(site)

    def plan(url: URL) -> dict[str, Any] | None:
        if url.name != "installations" or "idSite" in url.query:
            return None
        body = listing_now()
        for record in body["records"]:
            if not isinstance(record, dict):
                continue
            if record.get("idSite") == WORKSHOP:
                record["extended"] = False
            if record.get("idSite") == YACHT:
                for item in record["extended"]:
                    if item["code"] == "bv":
                        item["rawValue"] = "vinte e quatro"
                    if item["code"] == "bc":
                        item["rawValue"] = "-4.2"
        body["records"] += ["not a site", {"name": "no id"}]
        return {"json": body}

    vrm.plan = plan
    cabin = site_entry(hass, SITE_ID)
    await setup_entry(hass, cabin)
    workshop = site_entry(hass, WORKSHOP)
    await setup_entry(hass, workshop)
    yacht = site_entry(hass, YACHT, instance=None)
    await setup_entry(hass, yacht)
    await advance(hass, freezer, 600, step=10)

    for entry in (cabin, workshop, yacht):
        assert entry.runtime_data.vrm is not None
        assert entry.runtime_data.vrm.health.consecutive_failures == 0
    assert cabin.runtime_data.vrm.shared
    assert cabin.runtime_data.battery.data.value("soc") == 87.2
    assert not workshop.runtime_data.vrm.shared  # its own summary instead
    assert workshop.runtime_data.battery.data.value("soc") == 78.5
    view = yacht.runtime_data.battery.data
    assert view.value("voltage") is None
    assert view.value("current") == -4.2


async def test_devices_get_their_model_when_the_device_list_comes(
    hass: HomeAssistant, vrm: FakeVrm, freezer: FrozenDateTimeFactory
) -> None:
    """A third site reads its device list two rounds after setup, in the extra requests:
    then its devices learn the GX's model and firmware and the battery's product."""
    beach = 200003
    vrm.one_monitor()
    for site in (WORKSHOP, beach):
        vrm.add_site(site)
    serve_listing(vrm)
    await setup_entry(hass, site_entry(hass, SITE_ID))
    await setup_entry(hass, site_entry(hass, WORKSHOP))  # its overview: the first extra
    entry = site_entry(hass, beach)
    await setup_entry(hass, entry)
    registry = dr.async_get(hass)

    def models() -> set[tuple[str | None, str | None]]:
        # The site's own devices: the entry may also hold the fleet's (a service device),
        # which one does is decided by creation time, equal under the frozen clock.
        return {
            (device.model, device.sw_version)
            for device in dr.async_entries_for_config_entry(registry, entry.entry_id)
            if device.entry_type is None
        }

    assert models() == {(None, None)}
    await advance(hass, freezer, 600, step=10)
    assert models() == {("Cerbo GX", "v3.72"), ("Pylontech battery", None)}


async def test_sites_logging_every_quarter_hour_cost_no_more_listings_than_uploads(
    hass: HomeAssistant, vrm: FakeVrm, freezer: FrozenDateTimeFactory
) -> None:
    """Two sites uploading every 15 minutes (at :00, :15, ...): one listing just after each
    upload instead of one every 180 s, and the extras one per four listings."""
    vrm.one_monitor()
    vrm.overview["records"]["devices"][0]["loggingInterval"] = 900
    vrm.add_site(WORKSHOP)
    start = dt_util.utcnow().timestamp()

    def plan(url: URL) -> dict[str, Any] | None:
        if url.name != "installations" or "idSite" in url.query:
            return None
        now = dt_util.utcnow().timestamp()
        uploaded = start + (now - start) // 900 * 900  # the last quarter-hour upload
        return {"json": listing_now(seconds_ago=now - uploaded)}

    vrm.plan = plan
    await setup_entry(hass, site_entry(hass, SITE_ID))
    await setup_entry(hass, site_entry(hass, WORKSHOP))
    await advance(hass, freezer, 3600, step=10)
    vrm.calls.clear()

    await advance(hass, freezer, 3 * 3600, step=10)

    counted = calls(vrm)
    assert counted["installations"] == 3 * 4  # one per upload
    assert counted["BatterySummary"] == 3
