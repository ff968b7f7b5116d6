"""VRM's hourly energy flows as external statistics the Energy dashboard accepts.

VRM's `stats?type=kwh` gives the kWh of each hour by flow (PV, grid, genset and battery to
consumers, battery and grid). They are summed into six statistics of our own, with ids like
`victron_cerbo:<installation>_battery_charged`, never into a sensor's statistics: the sums of
our `total_increasing` sensors belong to the recorder, and importing into a live sensor's sums
is how other integrations lost users' Energy history. A statistic appears once VRM reports one
of its flows (a boat without a grid gets no grid statistics).

Each import starts at an hour whose sum is already known (the row before it, or zero for the
first hour of the window) and rewrites the hours after it, so importing the last hours again
when a GX uploads its back-log late keeps every later sum consistent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from homeassistant.components.recorder.models import (
    StatisticData,
    StatisticMeanType,
    StatisticMetaData,
)
from homeassistant.components.recorder.statistics import (
    async_add_external_statistics,
    statistics_during_period,
)
from homeassistant.const import UnitOfEnergy
from homeassistant.core import HomeAssistant
from homeassistant.helpers.recorder import get_instance
from homeassistant.util import dt as dt_util

from .api.vrm import VrmStats
from .const import DOMAIN

HOUR: Final = 3600

# our statistic -> (its name after the installation's, the VRM flows it adds up)
ENERGY_STATISTICS: Final[Mapping[str, tuple[str, tuple[str, ...]]]] = {
    "battery_charged": ("battery charged", ("Pb", "Gb", "gb")),
    "battery_discharged": ("battery discharged", ("Bc", "Bg")),
    "solar": ("solar production", ("Pc", "Pb", "Pg")),
    "grid_import": ("energy from the grid", ("Gc", "Gb")),
    "grid_export": ("energy to the grid", ("Pg", "Bg")),
    "consumption": ("consumption", ("Pc", "Bc", "Gc", "gc")),
}


def energy_statistic_id(base: str, key: str) -> str:
    """`victron_cerbo:<base>_<key>`; statistic ids allow lowercase letters, digits and _."""
    safe = "".join(char if char.isalnum() else "_" for char in base.lower())
    return f"{DOMAIN}:{safe}_{key}"


@dataclass(frozen=True, kw_only=True)
class EnergyImport:
    """What one import wrote: the statistics, rows and the end of the hours VRM had."""

    keys: tuple[str, ...]
    rows: int
    until: int | None  # None: VRM had no hour of energy in the span


def hourly_flows(energy: VrmStats, start: int, end: int) -> dict[int, dict[str, float]]:
    """KWh by hour and flow within [start, end); negative or missing values are no energy."""
    hours: dict[int, dict[str, float]] = {}
    for flows in ENERGY_STATISTICS.values():
        for flow in flows[1]:
            for point in energy.points(flow):
                if start <= point.start < end and point.start % HOUR == 0:
                    hours.setdefault(point.start, {})[flow] = max(point.mean, 0.0)
    return hours


async def _async_sums_before(
    hass: HomeAssistant, statistic_ids: Iterable[str], start: int
) -> dict[str, float]:
    """The sum of each statistic at the hour before `start` (absent: not imported yet)."""
    ids = set(statistic_ids)
    rows = await get_instance(hass).async_add_executor_job(
        statistics_during_period,
        hass,
        dt_util.utc_from_timestamp(start - HOUR),
        dt_util.utc_from_timestamp(start),
        ids,
        "hour",
        None,
        {"sum"},
    )
    return {
        statistic_id: float(found[0].get("sum") or 0.0)
        for statistic_id in ids
        if (found := rows.get(statistic_id))
    }


async def async_import_energy(
    hass: HomeAssistant,
    *,
    base: str,
    title: str,
    energy: VrmStats,
    start: int,
    end: int,
    known: Iterable[str],
) -> EnergyImport:
    """Import VRM's energy of [start, end) up to its newest hour; `known` keys continue."""
    hours = hourly_flows(energy, start, end)
    if not hours:
        return EnergyImport(keys=tuple(known), rows=0, until=None)
    reported = {flow for flows in hours.values() for flow in flows}
    keys = tuple(
        key
        for key, (_, flows) in ENERGY_STATISTICS.items()
        if key in known or reported.intersection(flows)
    )
    ids = {key: energy_statistic_id(base, key) for key in keys}
    sums = await _async_sums_before(hass, ids.values(), start)
    until = max(hours) + HOUR
    rows = 0
    for key in keys:
        name, flows = ENERGY_STATISTICS[key]
        total = sums.get(ids[key], 0.0)
        data: list[StatisticData] = []
        for hour in range(start, until, HOUR):
            flow = hours.get(hour, {})
            total += sum(flow.get(code, 0.0) for code in flows)
            data.append(StatisticData(start=dt_util.utc_from_timestamp(hour), sum=round(total, 6)))
        async_add_external_statistics(
            hass,
            StatisticMetaData(
                has_sum=True,
                mean_type=StatisticMeanType.NONE,
                name=f"{title} {name}",
                source=DOMAIN,
                statistic_id=ids[key],
                unit_class="energy",
                unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
            ),
            data,
        )
        rows += len(data)
    return EnergyImport(keys=keys, rows=rows, until=until)
