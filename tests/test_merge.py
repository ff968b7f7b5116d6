"""Which source serves each value: freshness rules, per-value fallback, counters.

The sources are real coordinators set up through Home Assistant with HTTP faked at the
transport; `BatterySources.pick` is asked at chosen moments so the freshness edges are exact.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant

from custom_components.victron_cerbo.models import RollingCount
from custom_components.victron_cerbo.sources import (
    STALE_AFTER,
    VALUES,
    VRM_MAX_AGE,
    BatterySources,
    GridStatus,
    Reading,
    Source,
    alarm_name,
)
from tests.helpers import (
    LOCAL_DATA,
    PYLONTECH,
    START,
    SYSTEM,
    VIRTUAL,
    VRM_DATA,
    FakeCerbo,
    FakeVrm,
    Reply,
    break_cerbo,
    make_entry,
    make_tick,
    root_of,
    setup_entry,
)

VRM_SAMPLE = START - timedelta(seconds=42)  # the fixture's secondsAgo
# While the Cerbo answers VRM is only a backup; the first failed local tick (START + 10 s)
# polls it at once, so when local goes at the third VRM holds this younger sample.
VRM_COVER_SAMPLE = VRM_SAMPLE + timedelta(seconds=10)


async def both(hass: HomeAssistant, freezer: FrozenDateTimeFactory) -> BatterySources:
    freezer.move_to(START)
    entry = make_entry(hass, LOCAL_DATA | VRM_DATA)
    await setup_entry(hass, entry)
    return BatterySources(entry.runtime_data)


async def lose_local(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, cerbo: FakeCerbo, failures: int = 3
) -> datetime:
    """Refuse every Cerbo request for `failures` ticks (10 s each); return the time after."""
    break_cerbo(cerbo)
    await make_tick(hass, freezer)(10 * failures)
    return START + timedelta(seconds=10 * failures)


@pytest.mark.usefixtures("vrm")
async def test_local_then_vrm_then_nothing(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, cerbo: FakeCerbo
) -> None:
    sources = await both(hass, freezer)
    assert sources.configured() == (Source.LOCAL, Source.VRM)
    assert sources.value("soc", START) == Reading(81.0, Source.LOCAL, START)

    # Local through two failed ticks in a row, however old its last success has grown.
    now = await lose_local(hass, freezer, cerbo, failures=2)
    assert sources.value("soc", now) == Reading(81.0, Source.LOCAL, START)
    assert sources.value("soc", now + timedelta(minutes=5)) == Reading(81.0, Source.LOCAL, START)
    assert sources.is_fresh(Source.LOCAL, now)
    # The third failure in a row ends it.
    await make_tick(hass, freezer)(10)
    later = now + timedelta(seconds=10)
    # Then VRM, fetched at the first failed tick; its sample time is its own (42 s before).
    assert sources.value("soc", later) == Reading(78.5, Source.VRM, VRM_COVER_SAMPLE)
    assert sources.is_fresh(Source.LOCAL, later) is False
    assert sources.is_fresh(Source.VRM, later) is True

    # VRM while its sample is younger than ten minutes; then nothing.
    last = VRM_COVER_SAMPLE + VRM_MAX_AGE - timedelta(milliseconds=1)
    assert sources.value("voltage", last) == Reading(53.12, Source.VRM, VRM_COVER_SAMPLE)
    assert sources.value("voltage", VRM_COVER_SAMPLE + VRM_MAX_AGE) is None
    assert sources.is_fresh(Source.VRM, VRM_COVER_SAMPLE + VRM_MAX_AGE) is False
    # Values only the Cerbo has never come from VRM.
    assert sources.value("grid_power", later) is None
    assert sources.value("soh", later) is None


@pytest.mark.usefixtures("cerbo", "vrm")
async def test_missing_local_value_comes_from_vrm_except_time_to_go(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    sources = await both(hass, freezer)
    # The virtual battery has no consumed Ah: VRM fills it while fresh.
    assert sources.value("consumed_ah", START) == Reading(-61.3, Source.VRM, VRM_SAMPLE)
    # Time to go is empty while not discharging by the GX's reckoning: that is the answer.
    assert sources.value("time_to_go", START) == Reading(None, Source.LOCAL, START)
    # Neither has the history counters: the fresh local source says "unknown".
    assert sources.value("charged_energy", START) == Reading(None, Source.LOCAL, START)


async def test_vrm_flags_old_data(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, vrm: FakeVrm, cerbo: FakeCerbo
) -> None:
    # VRM marks the SOC attribute as old: SOC is not served by VRM, voltage still is.
    vrm.summary["records"]["data"]["51"]["hasOldData"] = True
    sources = await both(hass, freezer)
    # While the Cerbo is fresh it serves SOC regardless.
    assert sources.value("soc", START) == Reading(81.0, Source.LOCAL, START)
    later = await lose_local(hass, freezer, cerbo)
    assert sources.value("soc", later) is None
    assert sources.value("voltage", later) == Reading(53.12, Source.VRM, VRM_COVER_SAMPLE)


async def test_vrm_reading_flagged_old_is_not_served(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, vrm: FakeVrm, cerbo: FakeCerbo
) -> None:
    vrm.summary["records"]["data"]["hasOldData"] = True
    sources = await both(hass, freezer)
    assert sources.value("voltage", await lose_local(hass, freezer, cerbo)) is None
    # It still counts as the newest sample VRM has.
    assert sources.vrm_sample_time() == VRM_COVER_SAMPLE


@pytest.mark.usefixtures("vrm")
async def test_fresh_source_without_a_value_is_unknown_not_unavailable(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, cerbo: FakeCerbo
) -> None:
    bms = root_of("battery_pylontech.json")
    del bms["Soh"], bms["System/MinCellVoltage"]
    cerbo.set_root(PYLONTECH, bms)
    sources = await both(hass, freezer)
    assert sources.value("soh", START) == Reading(None, Source.LOCAL, START)
    # The spread needs both cells from one root; VRM has both.
    assert sources.value("cell_voltage_spread", START) == Reading(0.009, Source.VRM, VRM_SAMPLE)
    assert sources.value("min_cell_voltage", START) == Reading(3.318, Source.VRM, VRM_SAMPLE)
    assert sources.value("max_cell_voltage", START) == Reading(3.323, Source.LOCAL, START)


async def test_vrm_without_sample_age_uses_the_fetch_time(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, vrm: FakeVrm
) -> None:
    del vrm.summary["records"]["data"]["secondsAgo"]
    freezer.move_to(START)
    entry = make_entry(hass, VRM_DATA)
    await setup_entry(hass, entry)
    sources = BatterySources(entry.runtime_data)
    assert sources.configured() == (Source.VRM,)
    assert sources.vrm_sample_time() == START
    assert sources.value("soc", START + timedelta(minutes=9)) == Reading(78.5, Source.VRM, START)


async def test_vrm_without_battery_data(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, vrm: FakeVrm
) -> None:
    vrm.summary["records"]["data"] = {"hasOldData": False, "secondsAgo": {"value": 0}}
    freezer.move_to(START)
    entry = make_entry(hass, VRM_DATA)
    await setup_entry(hass, entry)
    sources = BatterySources(entry.runtime_data)
    assert sources.value("soc", START) is None
    assert sources.vrm_sample_time() is None
    assert sources.newest_battery_sample() is None
    assert sources.is_stale(START)
    # A poll without a battery reading is not a reading.
    assert sources.readings_24h(START) == {Source.VRM: 0}


@pytest.mark.usefixtures("vrm")
async def test_local_that_never_answered(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, cerbo: FakeCerbo
) -> None:
    break_cerbo(cerbo)
    sources = await both(hass, freezer)
    assert sources.local is not None
    assert sources.local.data is None
    assert sources.local_sample_time() is None
    assert sources.value("soc", START) == Reading(78.5, Source.VRM, VRM_SAMPLE)
    assert sources.value("grid_power", START) is None
    assert sources.newest_battery_sample() == VRM_SAMPLE
    assert sources.readings_24h(START) == {Source.LOCAL: 0, Source.VRM: 1}


@pytest.mark.usefixtures("cerbo", "vrm")
async def test_stale_after_ten_minutes_without_a_sample(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    sources = await both(hass, freezer)
    assert sources.newest_battery_sample() == START
    assert not sources.is_stale(START + STALE_AFTER - timedelta(milliseconds=1))
    assert sources.is_stale(START + STALE_AFTER)


@pytest.mark.usefixtures("vrm")
async def test_values_read_from_every_root(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, cerbo: FakeCerbo
) -> None:
    system = root_of("system.json")
    system["Dc/Battery/Temperature"] = []  # invalid on the GX: the battery's own is used
    system["Dc/Pv/Power"] = 250
    cerbo.set_root(SYSTEM, system)
    battery = root_of("battery_pylontech.json")
    battery |= {
        "History/ChargeCycles": 152,
        "History/ChargedEnergy": 9432.39,
        "Alarms/HighVoltage": 1,
    }
    cerbo.set_root(PYLONTECH, battery)
    virtual = root_of("battery_virtual.json")
    virtual |= {"Alarms/LowSoc": 2, "Alarms/HighVoltage": 0}
    cerbo.set_root(VIRTUAL, virtual)
    sources = await both(hass, freezer)

    def value(key: str) -> object:
        reading = sources.value(key, START)
        assert reading is not None
        assert reading.source is Source.LOCAL
        return reading.value

    assert value("temperature") == 30.7  # from the battery root
    assert value("pv_power") == 250.0
    assert value("charge_cycles") == 152
    assert value("charged_energy") == 9432.39
    assert value("state") == "discharging"
    assert value("inverter_mode") == "on"
    assert value("inverter_state") == "bulk"
    assert value("gx_firmware") == "v3.70~33"
    # Alarms of both roots, worst level per alarm, in VRM's names.
    alarms = value("alarms")
    assert isinstance(alarms, dict)
    assert alarms["high_voltage"] == 1
    assert alarms["low_soc"] == 2
    assert alarms["cell_imbalance"] == 0
    assert value("grid") == GridStatus(alarm=0, ac_input_connected=True, active_input="grid")


@pytest.mark.usefixtures("vrm")
@pytest.mark.parametrize(
    ("battery_state", "served"),
    [
        (1, Reading(100, Source.LOCAL, START)),  # charging
        (2, Reading(0, Source.LOCAL, START)),  # discharging
        (0, Reading(0, Source.LOCAL, START)),  # idle
        ([], Reading(0, Source.VRM, VRM_SAMPLE)),  # invalid on the GX: VRM's state serves
    ],
)
async def test_charging_share_follows_the_battery_state(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    cerbo: FakeCerbo,
    battery_state: object,
    served: Reading,
) -> None:
    """100 while charging, else 0: its mean over a period is the share spent charging."""
    system = root_of("system.json")
    system["Dc/Battery/State"] = battery_state
    cerbo.set_root(SYSTEM, system)
    sources = await both(hass, freezer)
    assert sources.value("charging_share", START) == served


@pytest.mark.usefixtures("vrm")
async def test_values_when_slower_roots_are_missing(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, cerbo: FakeCerbo
) -> None:
    # No inverter, no platform, no separate BMS: the values they feed are unknown.
    system = root_of("system.json")
    for key in ("VebusService", "ActiveBmsService"):
        del system[key]
    system["Ac/ActiveIn/Source"] = 240
    cerbo.set_root(SYSTEM, system)
    services = {
        "services": [VIRTUAL, SYSTEM],
        "count": 2,
        "success": True,
    }
    cerbo.services = Reply(text=json.dumps(services))
    sources = await both(hass, freezer)
    local = sources.local
    assert local is not None
    assert local.data is not None
    assert local.data.vebus is None
    assert local.data.platform is None

    def value(key: str) -> object:
        reading = sources.value(key, START)
        assert reading is not None
        return reading.value

    assert value("inverter_mode") is None
    assert value("inverter_state") is None
    assert value("gx_firmware") == "v3.70~33"  # read once at discovery, not polled
    assert value("grid") == GridStatus(
        alarm=None, ac_input_connected=None, active_input="inverting"
    )
    assert value("min_cell_voltage") == 3.318  # VRM has it, the virtual battery does not
    assert value("alarms") == {
        "cell_imbalance": 0,
        "high_voltage": 0,
        "internal_failure": 0,
        "low_cell_voltage": 0,
        "low_soc": 0,
        "low_temperature": 0,
        "high_temperature": 0,
        "low_voltage": 0,
    }


async def test_counters_of_the_coordinators(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    cerbo: FakeCerbo,
    vrm: FakeVrm,
) -> None:
    sources = await both(hass, freezer)
    tick = make_tick(hass, freezer)
    assert sources.readings_24h(START) == {Source.LOCAL: 1, Source.VRM: 1}
    assert sources.local is not None
    assert sources.vrm is not None
    assert sources.local.last_duration is not None
    assert sources.vrm.last_duration is not None

    # 90 local ticks and one VRM poll: while the Cerbo answers VRM is polled every 15 min
    await tick(900)
    now = START + timedelta(seconds=900)
    assert sources.readings_24h(now) == {Source.LOCAL: 91, Source.VRM: 2}

    # Failed polls are not readings (the first failed tick polls VRM at once, in vain).
    break_cerbo(cerbo)
    vrm.html = "<html><body>Maintenance</body></html>"
    await tick(180)
    now += timedelta(seconds=180)
    assert sources.readings_24h(now) == {Source.LOCAL: 91, Source.VRM: 2}
    assert sources.local.last_duration is not None


def test_rolling_count() -> None:
    count = RollingCount(timedelta(hours=24))
    start = datetime(2026, 1, 15, 10, 0, tzinfo=UTC)
    assert count.count(start) == 0
    for second in range(0, 24 * 3600, 5):  # a day of 5 s ticks
        count.add(start + timedelta(seconds=second))
    end = start + timedelta(hours=24)
    assert len(count._buckets) <= 24 * 60 + 1  # memory stays bounded
    assert count.count(end - timedelta(seconds=5)) == 17280
    # Once the day has passed, the first minute's events leave the window together.
    assert count.count(end + timedelta(seconds=30)) == 17280 - 12
    assert count.count(end + timedelta(hours=24)) == 0


def test_rolling_count_same_minute_and_window() -> None:
    count = RollingCount(timedelta(minutes=2))
    start = datetime(2026, 1, 15, 10, 0, tzinfo=UTC)
    count.add(start)
    count.add(start + timedelta(seconds=59))
    count.add(start + timedelta(seconds=61))
    assert count.count(start + timedelta(seconds=61)) == 3
    assert count.count(start + timedelta(minutes=2)) == 1
    assert count.count(start + timedelta(minutes=3)) == 0
    tiny = RollingCount(timedelta(seconds=1))  # less than a minute still counts one minute
    tiny.add(start)
    assert tiny.count(start) == 1


@pytest.mark.parametrize(
    ("status", "lost"),
    [
        (GridStatus(alarm=2, ac_input_connected=True, active_input="grid"), True),
        (GridStatus(alarm=0, ac_input_connected=False, active_input="grid"), True),
        (GridStatus(alarm=0, ac_input_connected=True, active_input="inverting"), False),
        (GridStatus(alarm=None, ac_input_connected=True, active_input=None), False),
        (GridStatus(alarm=0, ac_input_connected=None, active_input=None), False),
        (GridStatus(alarm=None, ac_input_connected=None, active_input="inverting"), True),
        (GridStatus(alarm=None, ac_input_connected=None, active_input="grid"), False),
        (GridStatus(alarm=None, ac_input_connected=None, active_input=None), None),
    ],
)
def test_grid_lost(status: GridStatus, lost: bool | None) -> None:
    assert status.lost is lost


def test_alarm_names_follow_vrm() -> None:
    assert alarm_name("LowVoltage") == "low_voltage"
    assert alarm_name("HighChargeTemperature") == "high_charge_temperature"
    assert alarm_name("L1/Overload") == "l1_overload"
    assert alarm_name("Alarm") == "alarm"


def test_reading_age_is_never_negative() -> None:
    reading = Reading(1.0, Source.VRM, START)
    assert reading.age(START - timedelta(seconds=5)) == 0.0
    assert reading.age(START + timedelta(seconds=5)) == 5.0


def test_every_value_has_a_reader() -> None:
    for key, spec in VALUES.items():
        assert spec.local is not None or spec.vrm is not None, key
    # Values VRM serves name the attributes they come from, so VRM's flags apply.
    for key, spec in VALUES.items():
        if spec.vrm is not None and key != "alarms":
            assert spec.vrm_fields, key


async def test_neither_fresh_source_has_the_value(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, vrm: FakeVrm, cerbo: FakeCerbo
) -> None:
    del vrm.summary["records"]["data"]["50"]  # VRM without consumed Ah, like the GX
    sources = await both(hass, freezer)
    assert sources.value("consumed_ah", START) == Reading(None, Source.LOCAL, START)
    later = await lose_local(hass, freezer, cerbo)
    assert sources.value("consumed_ah", later) == Reading(None, Source.VRM, VRM_COVER_SAMPLE)
