"""The battery health insight with the real recorder, seeded with months of hourly statistics.

The entry's own sensors get 90 days of SOH and 31 days of SOC, temperature, cell spread and
energy sums (`async_import_statistics`, as the recorder keeps them); the insight reads them
back when the next hour has compiled. The Cerbo and VRM are the fakes at the HTTP transport.
The seeded history ends where the clock starts (START, 10:00 UTC): its newest hour is 09:00.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.recorder.models import (
    StatisticData,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)

from custom_components.victron_cerbo.const import DOMAIN
from custom_components.victron_cerbo.insight_coordinator import InsightCoordinator
from custom_components.victron_cerbo.options import CONF_HISTORY_DAYS
from tests.helpers import (
    PLATFORM,
    PORTAL_ID,
    PYLONTECH,
    START,
    VEBUS,
    FakeCerbo,
    FakeVrm,
    advance,
    import_sensor_statistics,
    root_of,
    setup_entry,
)

HOUR = 3600
DAY = 24 * HOUR
END = int(START.timestamp())  # the seeded hours end here
# the first refresh after the entities exist, 5 minutes after the setup
FIRST = END + 5 * 60

pytestmark = pytest.mark.usefixtures("recorder_mock")

type Run = Callable[..., Awaitable[None]]


@pytest.fixture
def run(hass: HomeAssistant, freezer: FrozenDateTimeFactory) -> Run:
    """From START, move the clock in 10 s steps; each step's refreshes and reads finish.

    The coordinators refresh on their timers in background tasks, and the insight's reads run
    in the recorder's executor, so each step waits for both.
    """
    freezer.move_to(START)

    async def run(seconds: float, step: float = 10) -> None:
        await advance(hass, freezer, seconds, step=step, background=True)
        await async_wait_recording_done(hass)

    return run


@pytest.fixture
def source() -> str:
    """The Cerbo alone unless a test says otherwise: it has every input of the insight."""
    return "local"


@pytest.fixture
def entry_options(request: pytest.FixtureRequest) -> dict[str, Any]:
    """No VRM history import (the recorder holds only what the tests seed), and the options a
    test gives (parametrize indirectly)."""
    return {CONF_HISTORY_DAYS: 0, **getattr(request, "param", {})}


def _day(start: int) -> int:
    """The day back from END of the hour starting at `start` (0: the last 24 hours)."""
    return (END - start - HOUR) // DAY


def _hour(start: int) -> int:
    """The hour within its day (each day starts at 10:00 UTC, as END does)."""
    return (start - END) % DAY // HOUR


def soh(start: int) -> float:
    """95 % now, 0.01 % more each day back; the BMS's hourly wobble cancels within a day."""
    return 95.0 + 0.01 * _day(start) + (0.2 if _hour(start) % 2 else -0.2)


# 24 °C but for ten hours at 40 °C, three at 47 °C and one at exactly 35 °C (not above) in
# the last week, and five at 50 °C eight days back (outside the week)
HOT = (
    dict.fromkeys((END - (30 + i) * HOUR for i in range(5)), 40.0)
    | dict.fromkeys((END - (78 + i) * HOUR for i in range(5)), 40.0)
    | dict.fromkeys((END - (52 + i) * HOUR for i in range(3)), 47.0)
    | {END - 100 * HOUR: 35.0}
    | dict.fromkeys((END - 8 * DAY - (10 + i) * HOUR for i in range(5)), 50.0)
)


def temperature(start: int) -> float:
    return HOT.get(start, 24.0)


# each day's largest cell spread, newest first: one hour a day (at 22:00 UTC) reaches it
PEAKS = (0.12, 0.10, 0.08, 0.07, 0.05, 0.03, 0.02)


def spread(start: int) -> float:
    if _hour(start) != 12:
        return 0.01
    return PEAKS[_day(start)] if _day(start) < len(PEAKS) else 0.02


# a day's SOC from 10:00 UTC: down overnight to 35 %, up to 95 % in the afternoon
PROFILE = (60, 55, 50, 45, 40, 35, 40, 50, 60, 70, 80, 85, 90, 92, 94, 95, 93, 90, 85, 80, 75)
PROFILE += (70, 65, 62)
SOC_SPECIAL = {  # (day back, hour of the day): mean; min and max 2 % either side
    (5, 15): 97.5,  # max 99.5 %: full at the end of the hour from Jan 10 01:00 UTC
    (20, 15): 98.0,  # full three weeks ago
    (2, 5): 20.0,  # min 18 %: the week's deepest, the hour from Jan 12 15:00 UTC
    (9, 5): 12.0,  # deeper, but nine days ago
}


def soc(start: int) -> float:
    return SOC_SPECIAL.get((_day(start), _hour(start)), float(PROFILE[_hour(start)]))


def _energy(start: int, base: float, per_hour: float, hours: range) -> float:
    """A running kWh sum at the end of the hour: `per_hour` in the `hours` of each day."""
    seeded = (start - (END - 31 * DAY)) // HOUR + 1
    days, rest = divmod(seeded, 24)
    return base + days * per_hour * len(hours) + sum(per_hour for hour in hours if hour < rest)


def charged(start: int) -> float:
    """4.8 kWh a day in, from 10:00 to 22:00 UTC."""
    return _energy(start, 1000.0, 0.4, range(12))


def discharged(start: int) -> float:
    """4.2 kWh a day out, from 22:00 to 10:00 UTC."""
    return _energy(start, 950.0, 0.35, range(12, 24))


def _hours(days: int) -> range:
    return range(END - days * DAY, END, HOUR)


def _at(seconds: int) -> datetime:
    return dt_util.utc_from_timestamp(seconds)


def _measurements(
    value: Callable[[int], float], days: int, swing: float, hours: int = 0
) -> list[StatisticData]:
    """Hourly mean, min and max of the last `days` days (and `hours` hours)."""
    return [
        StatisticData(
            start=_at(start),
            mean=value(start),
            min=value(start) - swing,
            max=value(start) + swing,
        )
        for start in range(END - days * DAY - hours * HOUR, END, HOUR)
    ]


def _sums(value: Callable[[int], float], days: int) -> list[StatisticData]:
    """Hourly running sums (and the meter's state) of the last `days` days."""
    return [
        StatisticData(start=_at(start), state=value(start), sum=value(start))
        for start in _hours(days)
    ]


# key -> unit of each sensor's statistics
UNITS: dict[str, str] = {
    "soh": "%",
    "soc": "%",
    "temperature": "°C",
    "cell_voltage_spread": "V",
    "charged_energy": "kWh",
    "discharged_energy": "kWh",
}
# the months of history: 90 days of SOH, 31 days of the others
SEEDS: dict[str, Callable[[], list[StatisticData]]] = {
    "soh": lambda: _measurements(soh, 90, 0.0),
    "soc": lambda: _measurements(soc, 31, 2.0),
    "temperature": lambda: _measurements(temperature, 31, 0.5),
    "cell_voltage_spread": lambda: _measurements(spread, 31, 0.0),
    "charged_energy": lambda: _sums(charged, 31),
    "discharged_energy": lambda: _sums(discharged, 31),
}


def entity_id(hass: HomeAssistant, key: str, platform: str = "sensor") -> str | None:
    return er.async_get(hass).async_get_entity_id(platform, DOMAIN, f"{PORTAL_ID}_{key}")


async def seed(
    hass: HomeAssistant, rows: dict[str, Callable[[], list[StatisticData]]] = SEEDS
) -> list[str]:
    """Import the statistics of each of the entry's sensors there are; returns their keys."""
    seeded = []
    for key, make_rows in rows.items():
        found = entity_id(hass, key)
        if found is None:
            continue
        unit = UNITS[key]
        import_sensor_statistics(hass, found, unit, make_rows(), has_sum=unit == "kWh")
        seeded.append(key)
    await async_wait_recording_done(hass)
    return seeded


def insight_of(entry: MockConfigEntry) -> InsightCoordinator:
    insight = entry.runtime_data.insight
    assert insight is not None
    return insight


def shown(hass: HomeAssistant, key: str, platform: str = "sensor") -> tuple[str, dict[str, Any]]:
    """State and attributes of one entity by key."""
    found = entity_id(hass, key, platform)
    assert found is not None, key
    state = hass.states.get(found)
    assert state is not None, key
    return state.state, dict(state.attributes)


def basis_of(attributes: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(attributes[name] for name in ("start", "end", "samples", "reason"))


def iso(seconds: int) -> str:
    return _at(seconds).isoformat()


@pytest.fixture(autouse=True)
def quiet_database(caplog: pytest.LogCaptureFixture) -> None:
    """No log line per SQL statement: seeding the months would take over twice as long."""
    caplog.set_level(logging.WARNING, logger="sqlalchemy.engine")


# what each figure shows with the seeded months (local and both: every sensor has statistics)
WEEK = (iso(END - 167 * HOUR), iso(END), 167, None)  # the last 7 days from 10:05: 167 hours
AGEING = {
    "days": 90,
    "soh_fitted": 95.0,
    "months_to_end_of_life": 82.1,  # 25 points at 0.01 a day: 2500 days
    "end_of_life_soh": 70,
}
CYCLES = {"capacity_kwh": 8.91, "throughput_kwh": 270.0, "rated_cycles": 6000}
CYCLES_BASIS = (iso(END - 30 * DAY), iso(END), 720, None)
FULL_CHARGE = {"last_full": "2026-01-10T02:00:00+00:00", "overdue_after_days": 14}
FULL_BASIS = (iso(END - 31 * DAY), iso(END), 744, None)
BALANCE = {"level": "moderate", "trend_per_day": 0.0168, "days": 7}
LOCAL_FIGURES: dict[str, tuple[str, tuple[Any, ...], dict[str, Any]]] = {
    # each sensor's state, its basis (start, end, samples, reason) and its companions
    "soh_change": ("-0.304", (iso(END - 90 * DAY), iso(END), 2160, None), AGEING),
    # 2500 days after 10:05 (the tests' time zone is US/Pacific)
    "soh_end_of_life": ("2032-11-19", (iso(END - 90 * DAY), iso(END), 2160, None), AGEING),
    # (1148.8 + 1080.2 kWh) / 2 / (174 Ah x 51.2 V)
    "equivalent_full_cycles": ("125.1", CYCLES_BASIS, CYCLES),
    "cycles_per_day": ("0.505", CYCLES_BASIS, CYCLES),  # 9 kWh a day / 2 / 8.9088 kWh
    "remaining_cycles": ("5875", CYCLES_BASIS, CYCLES),
    # 5874.9 cycles left at 0.505 a day after Jan 15 10:00 UTC: 2057-11-19 03:36 UTC
    "cycles_end_of_life": ("2057-11-18", CYCLES_BASIS, CYCLES),
    "cell_spread_day": ("0.12", WEEK, BALANCE),
    "balance_level": ("moderate", WEEK, {"spread": 0.12, "trend_per_day": 0.0168}),
    "hours_above_35": ("13", WEEK, {}),
    "hours_above_45": ("3", WEEK, {}),
    # (153 x 24 + 35 + 10 x 40 + 3 x 47) / 167 hours; 0.4 % per degree above 25
    "weekly_mean_temperature": ("25.44", WEEK, {"extra_degradation": 0.17}),
    "heat_degradation": ("0.17", WEEK, {"mean_temperature": 25.44}),
    "days_since_full_charge": ("5.34", FULL_BASIS, FULL_CHARGE),  # 5 days and 8:05 hours
    "deepest_discharge": ("18.0", WEEK, {"at": "2026-01-12T15:00:00+00:00"}),
}
NO_SOH = (None, None, 0, "no_data")
NO_AGEING = AGEING | {"days": 0, "soh_fitted": None, "months_to_end_of_life": None}
NO_CYCLES = {"capacity_kwh": None, "throughput_kwh": None, "rated_cycles": 6000}
NO_CAPACITY = (None, None, 0, "no_capacity")
# VRM has no SOH, energy counters or installed capacity of the battery
VRM_FIGURES = LOCAL_FIGURES | {
    "soh_change": ("unknown", NO_SOH, NO_AGEING),
    "soh_end_of_life": ("unknown", NO_SOH, NO_AGEING),
    "equivalent_full_cycles": ("unknown", NO_CAPACITY, NO_CYCLES),
    "cycles_per_day": ("unknown", NO_CAPACITY, NO_CYCLES),
    "remaining_cycles": ("unknown", NO_CAPACITY, NO_CYCLES),
    "cycles_end_of_life": ("unknown", NO_CAPACITY, NO_CYCLES),
}
FIGURES = {"local": LOCAL_FIGURES, "vrm": VRM_FIGURES, "both": LOCAL_FIGURES}
SEEDED = {
    "local": list(SEEDS),
    "vrm": ["soc", "temperature", "cell_voltage_spread"],
    "both": list(SEEDS),
}

# the risk inputs no source of the entry tells (the CAN growth needs a second sample 5 min on)
UNKNOWN = {
    "local": ["vrm_failures_day", "can_errors_growth_day"],
    "vrm": [
        "soh",
        "modules_offline",
        "vebus_alarms_week",
        "inverter_temperature_alarm",
        "can_errors_growth_day",
    ],
    "both": ["can_errors_growth_day"],
}
# SOH 99 % takes 2, the moderate balance 10, the weekly mean 0.44 °C above 25 °C takes 0.44
BATTERY = {"soh": 2.0, "balance_level": 10.0, "weekly_mean_temperature": 0.4}
SCORES = {
    "local": {
        # (0.5 x 88 + 0.3 x 100) / 0.8 = 92.5, rounded half to even
        "health_score": ("92", {"deductions": {}, "unknown": ["connectivity"]}),
        "battery_health_score": ("88", {"deductions": BATTERY, "unknown": []}),
        "inverter_health_score": ("100", {"deductions": {}, "unknown": []}),
        "connectivity_health_score": (
            "unknown",
            {"deductions": {}, "unknown": ["vrm_failures_day", "can_errors_growth_day"]},
        ),
    },
    "vrm": {
        "health_score": ("93", {"deductions": {}, "unknown": ["inverter"]}),
        "battery_health_score": (
            "90",
            {
                "deductions": {"balance_level": 10.0, "weekly_mean_temperature": 0.4},
                "unknown": ["soh", "modules_offline"],
            },
        ),
        "inverter_health_score": (
            "unknown",
            {"deductions": {}, "unknown": ["vebus_alarms_week", "inverter_temperature_alarm"]},
        ),
        "connectivity_health_score": (
            "100",
            {"deductions": {}, "unknown": ["can_errors_growth_day"]},
        ),
    },
    "both": {
        "health_score": ("94", {"deductions": {}, "unknown": []}),
        "battery_health_score": ("88", {"deductions": BATTERY, "unknown": []}),
        "inverter_health_score": ("100", {"deductions": {}, "unknown": []}),
        "connectivity_health_score": (
            "100",
            {"deductions": {}, "unknown": ["can_errors_growth_day"]},
        ),
    },
}


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
@pytest.mark.parametrize("source", ["local", "vrm", "both"])
async def test_figures_of_months_of_statistics(
    hass: HomeAssistant, run: Run, init_integration: MockConfigEntry, source: str
) -> None:
    insight = insight_of(init_integration)
    assert insight.queries == 0  # the setup's refresh ran before the sensors existed
    assert await seed(hass) == SEEDED[source]
    assert shown(hass, "soh_change" if source != "vrm" else "hours_above_35")[0] == "unknown"

    await run(5 * 60)  # the next refresh finds the sensors and reads their statistics

    assert insight.data.computed_at == _at(FIRST)
    figures = {}
    for key in FIGURES[source]:
        state, attributes = shown(hass, key)
        figures[key] = (state, basis_of(attributes), _without_basis(attributes))
    assert figures == FIGURES[source]
    state, attributes = shown(hass, "full_charge_overdue", "binary_sensor")
    assert (state, basis_of(attributes)) == ("off", FULL_BASIS)
    assert (attributes["days_since"], attributes["last_full"]) == (5.34, FULL_CHARGE["last_full"])
    risk = {"score": 0, "factors": [], "actions": [], "points": {}, "unknown": UNKNOWN[source]}
    for key, level in (("risk_score", "0"), ("risk_level", "low")):
        state, attributes = shown(hass, key)
        assert (state, _without_basis(attributes)) == (level, risk)
    scores = {key: shown(hass, key) for key in SCORES[source]}
    assert {
        key: (state, _without_basis(attributes)) for key, (state, attributes) in scores.items()
    } == SCORES[source]


def _without_basis(attributes: dict[str, Any]) -> dict[str, Any]:
    skip = {"start", "end", "samples", "reason", "unit_of_measurement", "device_class"}
    skip |= {"friendly_name", "state_class", "icon", "options"}
    return {name: value for name, value in attributes.items() if name not in skip}


def _figures(hass: HomeAssistant, keys: tuple[str, ...]) -> dict[str, tuple[str, tuple[Any, ...]]]:
    """State and basis (start, end, samples, reason) of insight sensors by key."""
    found = {}
    for key in keys:
        state, attributes = shown(hass, key)
        found[key] = (state, basis_of(attributes))
    return found


FIGURE_KEYS = (
    "soh_change",
    "soh_end_of_life",
    "equivalent_full_cycles",
    "cycles_per_day",
    "cycles_end_of_life",
    "cell_spread_day",
    "balance_level",
    "hours_above_35",
    "weekly_mean_temperature",
    "days_since_full_charge",
    "deepest_discharge",
)


async def test_without_statistics_every_figure_says_no_data(
    hass: HomeAssistant, run: Run, init_integration: MockConfigEntry
) -> None:
    await run(5 * 60)

    no_data = ("unknown", (None, None, 0, "no_data"))
    assert _figures(hass, FIGURE_KEYS) == dict.fromkeys(FIGURE_KEYS, no_data)
    assert shown(hass, "equivalent_full_cycles")[1]["capacity_kwh"] == 8.91  # 174 Ah, 51.2 V
    assert shown(hass, "full_charge_overdue", "binary_sensor")[0] == "unknown"
    assert insight_of(init_integration).queries == 2  # both reads ran, and found nothing


def _flat(value: float) -> Callable[[int], float]:
    """The same value every hour."""
    return lambda _start: value


def _line(first: float, per_day: float) -> Callable[[int], float]:
    """`first` today, `per_day` less each day back."""
    return lambda start: first - per_day * _day(start)


TEN_DAYS = (iso(END - 10 * DAY), iso(END))
THREE_DAYS = (iso(END - 3 * DAY), iso(END))
TWO_DAYS = (iso(END - 2 * DAY), iso(END))


async def test_short_statistics_are_too_short(
    hass: HomeAssistant, run: Run, init_integration: MockConfigEntry
) -> None:
    await seed(
        hass,
        {
            "soh": lambda: _measurements(_line(95.0, 0.01), 10, 0.0),  # 30 days needed
            # 20 hours, the last four at 40 °C
            "temperature": lambda: _measurements(
                lambda start: 40.0 if _hour(start) > 19 else 20.0, 0, 0.5, 20
            ),
            "cell_voltage_spread": lambda: _measurements(spread, 2, 0.0),  # 3 days for a trend
            "charged_energy": lambda: _sums(charged, 3),  # 7 days for a rate
            "discharged_energy": lambda: _sums(discharged, 3),
            "soc": lambda: _measurements(
                lambda start: float(PROFILE[_hour(start)]), 3, 2.0
            ),  # never full
        },
    )
    await run(5 * 60)

    cycles_basis = (iso(END - 3 * DAY + HOUR), iso(END), 71, "too_short")
    assert _figures(hass, FIGURE_KEYS) == {
        "soh_change": ("unknown", (*TEN_DAYS, 240, "too_short")),
        "soh_end_of_life": ("unknown", (*TEN_DAYS, 240, "too_short")),
        # the total and the cycles left need no period: the newest sums, as with the months
        "equivalent_full_cycles": ("125.1", cycles_basis),
        "cycles_per_day": ("unknown", cycles_basis),
        "cycles_end_of_life": ("unknown", cycles_basis),
        # the day's spread and its level need a day, the trend three
        "cell_spread_day": ("0.12", (*TWO_DAYS, 48, "too_short")),
        "balance_level": ("moderate", (*TWO_DAYS, 48, "too_short")),
        # 20 hours (24 needed for a mean): the hot hours are counted all the same
        "hours_above_35": ("4", (iso(END - 20 * HOUR), iso(END), 20, "too_short")),
        "weekly_mean_temperature": ("unknown", (iso(END - 20 * HOUR), iso(END), 20, "too_short")),
        # never above 97 % in three days: not full, and not yet overdue
        "days_since_full_charge": ("unknown", (*THREE_DAYS, 72, "never_full")),
        "deepest_discharge": ("33.0", (*THREE_DAYS, 72, None)),
    }
    assert shown(hass, "cell_spread_day")[1]["trend_per_day"] is None
    assert shown(hass, "full_charge_overdue", "binary_sensor")[0] == "unknown"


async def test_a_steady_battery_has_no_end_of_life_and_an_overdue_full_charge(
    hass: HomeAssistant, run: Run, init_integration: MockConfigEntry
) -> None:
    await seed(
        hass,
        {
            "soh": lambda: _measurements(_flat(97.0), 40, 0.0),  # flat for 40 days
            "charged_energy": lambda: _sums(_flat(500.0), 10),  # no energy in 10 days
            "discharged_energy": lambda: _sums(_flat(480.0), 10),
            "soc": lambda: _measurements(_flat(80.0), 20, 2.0),  # at most 82 % in 20 days
        },
    )
    await run(5 * 60)

    cycles_basis = (iso(END - 10 * DAY + HOUR), iso(END), 239, "not_cycling")
    assert _figures(hass, (*FIGURE_KEYS[:5], "days_since_full_charge")) == {
        "soh_change": ("0.0", (iso(END - 40 * DAY), iso(END), 960, "not_declining")),
        "soh_end_of_life": ("unknown", (iso(END - 40 * DAY), iso(END), 960, "not_declining")),
        "equivalent_full_cycles": ("55.0", cycles_basis),  # 980 kWh / 2 / 8.9088 kWh
        "cycles_per_day": ("0.0", cycles_basis),
        "cycles_end_of_life": ("unknown", cycles_basis),
        "days_since_full_charge": (
            "unknown",
            (iso(END - 20 * DAY), iso(END), 480, "never_full"),
        ),
    }
    state, attributes = shown(hass, "full_charge_overdue", "binary_sensor")
    assert (state, attributes["reason"], attributes["last_full"]) == ("on", "never_full", None)


@pytest.mark.parametrize(("source", "soh_reads"), [("local", 1), ("vrm", 0)])
async def test_statistics_are_read_once_an_hour_and_the_soh_every_six_hours(
    hass: HomeAssistant, run: Run, init_integration: MockConfigEntry, soh_reads: int
) -> None:
    """The recorder compiles an hour 10 s after it ends: one read of the recent rows per hour.

    The VRM-only entry has no SOH sensor, so it never reads the SOH's year.
    """
    insight = insight_of(init_integration)
    await run(5 * 60)  # 10:05: the sensors exist now
    assert insight.queries == 1 + soh_reads

    await run(59 * 60 + 50, step=60)  # 11:04:50: eleven more refreshes, the same hour
    assert insight.data.computed_at == _at(END + 3600)  # the 11:00 refresh still had 10:00
    assert insight.queries == 1 + soh_reads
    await run(10)  # 11:05: the first refresh after 11:00 was compiled
    assert insight.queries == 2 + soh_reads

    await run(2 * 3600, step=60)  # 13:05
    assert insight.queries == 4 + soh_reads
    await run(3 * 3600 - 10, step=60)  # 16:04:50: the SOH's year is not six hours old
    assert insight.queries == 6 + soh_reads
    await run(10)  # 16:05: seven hourly reads, and the SOH's year again
    assert insight.queries == 7 + 2 * soh_reads


def set_root(cerbo: FakeCerbo, service: str, fixture: str, **changes: Any) -> None:
    """A service's root as its fixture has it, with these paths changed (`__` for `/`)."""
    root = root_of(fixture)
    root.update({path.replace("__", "/"): value for path, value in changes.items()})
    cerbo.set_root(service, root)


def set_battery(cerbo: FakeCerbo, **changes: Any) -> None:
    set_root(cerbo, PYLONTECH, "battery_pylontech.json", **changes)


def stored_events_key(entry: MockConfigEntry) -> str:
    """The storage key of the entry's counted events."""
    return f"{DOMAIN}.insight.{entry.entry_id}"


def risk_issue(hass: HomeAssistant, entry: MockConfigEntry) -> ir.IssueEntry | None:
    return ir.async_get(hass).async_get_issue(DOMAIN, f"battery_risk_{entry.entry_id}")


HOT_WEEK = {"temperature": lambda: _measurements(_flat(46.0), 7, 0.5)}


@pytest.mark.parametrize(
    ("battery", "hot", "score", "level", "factors"),
    [
        # a warning (1) is no alarm, and 85 % is not below 85 %
        ({"Alarms__CellImbalance": 1, "Soh": 85.0}, True, 4, "low", ["battery_hot"]),
        ({"Soh": 70.0}, False, 5, "medium", ["soh_low"]),
        ({"Alarms__CellImbalance": 2}, True, 11, "medium", ["cell_imbalance", "battery_hot"]),
        (
            {"Soh": 84.0, "Alarms__CellImbalance": 2},
            False,
            12,
            "high",
            ["soh_low", "cell_imbalance"],
        ),
        (
            {"Soh": 69.0, "System__NrOfModulesOffline": 1},
            False,
            19,
            "high",
            ["soh_critical", "module_offline"],
        ),
        (
            {"Alarms__CellImbalance": 2, "System__NrOfModulesOffline": 1},
            True,
            20,
            "critical",
            ["cell_imbalance", "module_offline", "battery_hot"],
        ),
    ],
)
async def test_risk_levels_and_the_repair_issue(
    hass: HomeAssistant,
    run: Run,
    cerbo: FakeCerbo,
    mock_config_entry: MockConfigEntry,
    *,
    battery: dict[str, Any],
    hot: bool,
    score: int,
    level: str,
    factors: list[str],
) -> None:
    """Low below 5 points, medium from 5, high from 12, critical from 20; an issue from high."""
    set_battery(cerbo, **battery)
    await setup_entry(hass, mock_config_entry)
    if hot:
        await seed(hass, HOT_WEEK)  # a weekly mean of 46 °C
    await run(5 * 60)

    state, attributes = shown(hass, "risk_level")
    assert (state, attributes["score"], attributes["factors"]) == (level, score, factors)
    assert shown(hass, "risk_score")[0] == str(score)
    assert (risk_issue(hass, mock_config_entry) is not None) is (level in ("high", "critical"))


async def test_the_risk_issue_comes_and_goes_with_the_level(
    hass: HomeAssistant, run: Run, cerbo: FakeCerbo, mock_config_entry: MockConfigEntry
) -> None:
    set_battery(cerbo, Soh=84.0, Alarms__CellImbalance=2)
    await setup_entry(hass, mock_config_entry)
    await run(10)  # the issue's texts load in the background

    issue = risk_issue(hass, mock_config_entry)
    assert issue is not None
    assert (issue.translation_key, issue.severity, issue.is_fixable) == (
        "battery_risk",
        ir.IssueSeverity.WARNING,
        False,
    )
    assert issue.translation_placeholders == {
        "name": "Cabin",
        "level": "High",
        "score": "12",
        "actions": "- Watch the state of health trend and plan for the battery's replacement.\n"
        "- Charge the battery fully so it can balance; if the alarm stays, check the BMS and "
        "the cell connections.",
    }

    set_battery(cerbo, Soh=84.0)  # balanced: 5 points, medium
    await run(5 * 60)
    assert shown(hass, "risk_level")[0] == "medium"
    assert risk_issue(hass, mock_config_entry) is None

    set_battery(cerbo, Soh=84.0, Alarms__CellImbalance=2, System__NrOfModulesOffline=1)
    await run(5 * 60)
    issue = risk_issue(hass, mock_config_entry)
    assert issue is not None
    assert issue.translation_placeholders is not None
    placeholders = issue.translation_placeholders
    assert (placeholders["level"], placeholders["score"]) == ("Critical", "21")
    assert placeholders["actions"].count("\n- ") == 2  # three actions, one a line
    assert placeholders["actions"].endswith(
        "- Check the offline battery module: its cabling, its breaker and the BMS."
    )

    await hass.config_entries.async_remove(mock_config_entry.entry_id)
    assert risk_issue(hass, mock_config_entry) is None


def set_vebus(cerbo: FakeCerbo, **changes: Any) -> None:
    set_root(cerbo, VEBUS, "vebus.json", **changes)


def set_can_errors(cerbo: FakeCerbo, tx_errors: int) -> None:
    """The GX's can0 with this count of transmit errors (the fixture has 649, rx 0)."""
    root = root_of("platform.json")
    path = "CanBus/Interface/can0/Statistics"
    statistics = json.loads(root[path])
    statistics[0]["stats64"]["tx"]["errors"] = tx_errors
    root[path] = json.dumps(statistics)
    cerbo.set_root(PLATFORM, root)


async def test_counted_events_and_figures_survive_a_restart(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    run: Run,
    init_integration: MockConfigEntry,
    cerbo: FakeCerbo,
) -> None:
    """VE.Bus alarms and CAN error growth have no history anywhere: the store keeps them."""
    entry = init_integration
    await seed(hass, {"soh": SEEDS["soh"]})
    # 10:00-10:09: the inverter's overload alarm rises four times, then its temperature alarm
    # and a VE.Bus error: six in the week (more than five); the inverter is read every 30 s
    for _ in range(4):
        set_vebus(cerbo, Alarms__Overload=2)
        await run(60)
        set_vebus(cerbo, Alarms__Overload=0)
        await run(60)
    set_vebus(cerbo, Alarms__HighTemperature=2, VebusError=5)
    await run(90)  # 10:09:30
    # the CAN counter is sampled every 5 minutes (10:10, 10:15, ...); each change comes 30 s
    # after a sample: 649 until 10:10, then 700 (+51), 760 (+60), a reboot's 5, then 50.
    # A reset before the next sample lowers the sample before it (760 becomes 5, +5): its
    # growth is lost rather than the growth after the reset; 51 + 5 + 45 errors in all.
    for tx_errors in (700, 760, 5, 50):
        set_can_errors(cerbo, tx_errors)
        await run(300)
    await run(5 * 60)  # 10:34:30: the 10:35 refresh
    insight = insight_of(entry)
    now = dt_util.utcnow()
    assert insight.events.can_errors.growth(now.timestamp()) == 101
    assert insight.as_dict(now)["vebus_alarms_week"] == 6
    factors = ["vebus_alarms", "inverter_temperature", "can_errors"]
    state, attributes = shown(hass, "risk_level")
    assert (state, attributes["score"], attributes["factors"]) == ("high", 15, factors)
    assert shown(hass, "soh_change")[0] == "-0.304"

    await run(60)  # the store writes a minute after the last change
    stored = hass_storage[stored_events_key(entry)]["data"]
    assert len(stored["vebus_alarms"]) == 6
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    # the alarms are still raised: not new after the restart
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()

    insight = insight_of(entry)
    assert insight.queries == 2  # the sensors are known: the setup's refresh read the recorder
    assert shown(hass, "soh_change")[0] == "-0.304"
    await run(10)
    now = dt_util.utcnow()
    assert insight.as_dict(now)["vebus_alarms_week"] == 6
    assert insight.events.can_errors.growth(now.timestamp()) == 101
    state, attributes = shown(hass, "risk_level")
    assert (state, attributes["score"], attributes["factors"]) == ("high", 15, factors)


@pytest.mark.parametrize("source", ["vrm"])
async def test_vrm_failures_of_the_day_survive_a_restart(
    hass: HomeAssistant, run: Run, init_integration: MockConfigEntry, vrm: FakeVrm
) -> None:
    entry = init_integration
    insight = insight_of(entry)
    vrm.error = (503, {"success": False})
    await run(10 * 60 + 10)  # the 10:10 refresh: three failed polls (10:03, 10:06, 10:09)
    assert shown(hass, "risk_level")[1]["factors"] == []  # not more than three
    assert shown(hass, "connectivity_health_score")[0] == "70"
    # 10:14: the fourth failed poll (the view notes it, made while VRM is down, with its 30 s
    # recheck)
    await run(3 * 60 + 50)
    assert vrm.calls.count("BatterySummary") == 5
    assert insight.as_dict(dt_util.utcnow())["vrm_failures_day"] == 4
    vrm.error = None
    await run(60)  # 10:15: a good poll, and the refresh

    state, attributes = shown(hass, "risk_level")
    assert (state, attributes["score"], attributes["factors"]) == ("low", 3, ["vrm_connection"])
    assert shown(hass, "connectivity_health_score")[0] == "60"  # 10 a failure
    await run(10 * 60, step=60)  # good polls: no more failures
    assert insight.as_dict(dt_util.utcnow())["vrm_failures_day"] == 4
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()

    insight = insight_of(entry)
    assert insight.as_dict(dt_util.utcnow())["vrm_failures_day"] == 4
    assert shown(hass, "risk_level")[1]["factors"] == ["vrm_connection"]
    await run(24 * 3600, step=600)  # a day later they are past
    assert insight.as_dict(dt_util.utcnow())["vrm_failures_day"] == 0
    assert shown(hass, "risk_level")[1]["factors"] == []


async def test_an_alarm_just_before_a_reload_is_kept(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    run: Run,
    init_integration: MockConfigEntry,
    cerbo: FakeCerbo,
) -> None:
    """The store writes a minute after a change, or at once when the entry unloads."""
    entry = init_integration
    key = stored_events_key(entry)
    events = insight_of(entry).events
    set_vebus(cerbo, Alarms__Overload=2)
    await run(40)  # the inverter is read every 30 s
    assert len(events.vebus_alarms.moments) == 1
    noted = events.vebus_alarms.moments[0]
    set_vebus(cerbo, Alarms__Overload=0)
    await run(10)
    assert key not in hass_storage  # the delayed write is still pending

    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert hass_storage[key]["data"]["vebus_alarms"] == [noted]
    assert insight_of(entry).as_dict(dt_util.utcnow())["vebus_alarms_week"] == 1


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
@pytest.mark.parametrize("source", ["both"])
@pytest.mark.parametrize(
    ("entry_options", "expected"),
    [
        (
            {"end_of_life_soh": 80, "rated_cycles": 3000, "full_charge_days": 3},
            {
                "end_of_life_soh": 80,
                "months_to_end_of_life": 49.3,  # 15 points at 0.01 a day: 1500 days
                "soh_end_of_life": "2030-02-23",
                "rated_cycles": 3000,
                "remaining_cycles": "2875",
                "cycles_end_of_life": "2041-08-15",
                "overdue_after_days": 3,
                "full_charge_overdue": "on",  # full 5.34 days ago
            },
        ),
        (  # beyond the form's bounds: 1-99 %, 1-100000 cycles, 1-365 days
            {"end_of_life_soh": 150, "rated_cycles": 0, "full_charge_days": 1000},
            {
                "end_of_life_soh": 99,
                "months_to_end_of_life": 0.0,  # 95 % is below 99 % already
                "soh_end_of_life": "2026-01-15",
                "rated_cycles": 1,
                "remaining_cycles": "0",
                "cycles_end_of_life": "2026-01-15",
                "overdue_after_days": 365,
                "full_charge_overdue": "off",
            },
        ),
    ],
    indirect=["entry_options"],
)
async def test_the_options_the_figures_are_judged_against(
    hass: HomeAssistant, run: Run, init_integration: MockConfigEntry, expected: dict[str, Any]
) -> None:
    await seed(hass)
    await run(5 * 60)

    soh_state, ageing = shown(hass, "soh_end_of_life")
    remaining, cycles = shown(hass, "remaining_cycles")
    cycles_end = shown(hass, "cycles_end_of_life")[0]
    overdue, full = shown(hass, "full_charge_overdue", "binary_sensor")
    assert {
        "end_of_life_soh": ageing["end_of_life_soh"],
        "months_to_end_of_life": ageing["months_to_end_of_life"],
        "soh_end_of_life": soh_state,
        "rated_cycles": cycles["rated_cycles"],
        "remaining_cycles": remaining,
        "cycles_end_of_life": cycles_end,
        "overdue_after_days": full["overdue_after_days"],
        "full_charge_overdue": overdue,
    } == expected


@pytest.mark.parametrize(
    ("largest", "level", "deduction"),
    [
        (0.10, "healthy", None),
        (0.1001, "moderate", 10.0),
        (0.15, "moderate", 10.0),
        (0.1501, "severe", 25.0),
    ],
)
async def test_balance_level_boundaries(
    hass: HomeAssistant,
    run: Run,
    init_integration: MockConfigEntry,
    *,
    largest: float,
    level: str,
    deduction: float | None,
) -> None:
    """Healthy up to 0.10 V, moderate above, severe above 0.15 V (to 0.1 mV)."""
    await seed(
        hass,
        {
            "cell_voltage_spread": lambda: _measurements(
                lambda start: largest if _hour(start) == 12 else 0.01, 1, 0.0
            )
        },
    )
    await run(5 * 60)

    assert shown(hass, "balance_level")[0] == level
    assert shown(hass, "cell_spread_day")[0] == str(largest)
    deductions = shown(hass, "battery_health_score")[1]["deductions"]
    assert deductions.get("balance_level") == deduction
