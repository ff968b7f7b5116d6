"""VRM's cadence: a backup while the Cerbo answers, and polls that wait for the GX's uploads.

Both sources faked at the transport (FakeCerbo, FakeVrm); exact VRM request counts.
"""

from __future__ import annotations

from datetime import timedelta

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant

from custom_components.victron_cerbo.sources import BatterySources, Source
from tests.helpers import (
    LOCAL_DATA,
    START,
    VRM_DATA,
    FakeCerbo,
    FakeVrm,
    Tick,
    break_cerbo,
    make_entry,
    setup_entry,
)

SUMMARY = "BatterySummary"
OVERVIEW = "system-overview"


async def both(hass: HomeAssistant, freezer: FrozenDateTimeFactory) -> BatterySources:
    freezer.move_to(START)
    entry = make_entry(hass, LOCAL_DATA | VRM_DATA)
    await setup_entry(hass, entry)
    return BatterySources(entry.runtime_data)


async def test_a_healthy_cerbo_makes_vrm_a_backup(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, tick: Tick, cerbo: FakeCerbo, vrm: FakeVrm
) -> None:
    """Issue #17: with a fresh local source, at most 6 VRM requests an hour."""
    await both(hass, freezer)
    assert (vrm.count(SUMMARY), vrm.count(OVERVIEW)) == (1, 1)  # setup
    await tick(3600)
    # one summary every 15 minutes, the device list once an hour: 5 requests
    assert (vrm.count(SUMMARY) - 1, vrm.count(OVERVIEW) - 1) == (4, 1)


async def test_the_first_failed_tick_polls_vrm_so_it_is_fresh_at_the_third(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, tick: Tick, cerbo: FakeCerbo, vrm: FakeVrm
) -> None:
    sources = await both(hass, freezer)
    await tick(600)  # ten minutes of a healthy Cerbo: VRM's setup sample is too old to serve
    assert vrm.count(SUMMARY) == 1
    assert sources.is_fresh(Source.VRM, START + timedelta(seconds=600)) is False

    break_cerbo(cerbo)
    await tick(10)  # the first failed tick: one VRM poll at once
    assert vrm.count(SUMMARY) == 2
    await tick(20)  # the third: local goes, VRM serves at once
    now = START + timedelta(seconds=630)
    assert sources.is_fresh(Source.LOCAL, now) is False
    assert sources.is_fresh(Source.VRM, now) is True
    assert sources.value("soc", now).source is Source.VRM  # type: ignore[union-attr]
    assert vrm.count(SUMMARY) == 2
    # then the full cadence: 180 s after the poll at 610 s
    await tick(150)
    assert vrm.count(SUMMARY) == 2
    await tick(10)
    assert vrm.count(SUMMARY) == 3


async def test_vrm_returns_to_the_backup_cadence_after_the_cerbo_recovers(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, tick: Tick, cerbo: FakeCerbo, vrm: FakeVrm
) -> None:
    await both(hass, freezer)
    healthy = dict(cerbo.roots), cerbo.health, cerbo.services
    break_cerbo(cerbo)
    await tick(10)  # polls VRM at 10 s; the next one is due 180 s later
    assert vrm.count(SUMMARY) == 2
    await tick(90)
    cerbo.roots, cerbo.health, cerbo.services = healthy
    await tick(10)  # the Cerbo is back at 110 s
    await tick(70)
    assert vrm.count(SUMMARY) == 2
    await tick(10)  # VRM's next poll (190 s) still comes at the full cadence
    assert vrm.count(SUMMARY) == 3
    # and returns to the backup cadence: the next one 15 minutes later
    await tick(890)
    assert vrm.count(SUMMARY) == 3
    await tick(10)
    assert vrm.count(SUMMARY) == 4


async def test_polls_wait_for_the_next_upload(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, tick: Tick, vrm: FakeVrm
) -> None:
    """A VRM-only site logging every 15 minutes: no more polls than samples."""
    vrm.overview["records"]["devices"][0]["loggingInterval"] = 900
    vrm.set_seconds_ago(60)  # every poll finds a sample uploaded 60 s before
    freezer.move_to(START)
    await setup_entry(hass, make_entry(hass, VRM_DATA))
    # the next upload is 840 s away; polled 30 s after it, not every 180 s
    await tick(860)
    assert vrm.count(SUMMARY) == 1
    await tick(10)
    assert vrm.count(SUMMARY) == 2
    await tick(2600)  # at 3470 s: polls at 870, 1740, 2610 and 3480 -- one per upload
    assert vrm.count(SUMMARY) == 4
    # A late upload: the sample is older than the logging interval; back to every 180 s
    vrm.set_seconds_ago(930)
    await tick(10)
    assert vrm.count(SUMMARY) == 5
    await tick(170)
    assert vrm.count(SUMMARY) == 5
    await tick(10)
    assert vrm.count(SUMMARY) == 6
