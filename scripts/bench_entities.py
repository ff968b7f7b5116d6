"""Benchmark of the entities: recorder load and CPU per simulated hour, merge and diagnostics speed.

The whole integration runs inside a test Home Assistant from pytest-homeassistant-custom-component,
set up through `hass.config_entries.async_setup` with both sources. The Cerbo and VRM are the
tests' fakes (tests/helpers.py) on its AiohttpClientMocker, and the entry and the clock helper are
the tests' too; freezegun moves the clock, so nothing waits for real. The
Cerbo's battery values move like a real battery (voltage, current and power every tick, SOC every
few minutes), so the figures show what the state machine and the recorder would see.

Run from the repository root:  .venv/3.13/bin/python scripts/bench_entities.py [--hours 6]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import random
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Makes dt_util.utcnow visible to freezegun; must come before any other Home Assistant import.
import pytest_homeassistant_custom_component.patch_time  # noqa: E402, F401
from freezegun import freeze_time  # noqa: E402
from freezegun.api import FrozenDateTimeFactory  # noqa: E402
from homeassistant import loader  # noqa: E402
from homeassistant.core import Event, EventStateChangedData  # noqa: E402
from homeassistant.helpers.entity import Entity  # noqa: E402
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator  # noqa: E402
from homeassistant.util import dt as dt_util  # noqa: E402
from pytest_homeassistant_custom_component.common import (  # noqa: E402
    async_test_home_assistant,
)
from pytest_homeassistant_custom_component.test_util.aiohttp import (  # noqa: E402
    mock_aiohttp_client,
)

from custom_components.victron_cerbo.battery import BatteryCoordinator  # noqa: E402
from custom_components.victron_cerbo.const import (  # noqa: E402
    DOMAIN,
)
from custom_components.victron_cerbo.diagnostics import (  # noqa: E402
    async_get_config_entry_diagnostics,
)
from custom_components.victron_cerbo.entity import UNRECORDED  # noqa: E402
from tests.helpers import (  # noqa: E402
    ROOT_FIXTURES,
    SOURCE_DATA,
    SYSTEM,
    FakeCerbo,
    FakeVrm,
    advance,
    make_entry,
    root_of,
    setup_entry,
)

START = datetime(2026, 1, 15, 0, 0, 0, tzinfo=UTC)
STEP = 10  # seconds per clock step: one local tick
# The real clock, kept in a container: freezegun replaces module-level references to it.
REAL = {"perf_counter": time.perf_counter}


class Battery:
    """The Cerbo's system root drifting like a battery in use, served by the tests' FakeCerbo."""

    def __init__(self, cerbo: FakeCerbo) -> None:
        """Start from the fixture's system root."""
        self.cerbo = cerbo
        self.system = root_of(ROOT_FIXTURES[SYSTEM])
        self.random = random.Random(1)
        self.step = 0

    def drift(self) -> None:
        """One tick of a battery discharging with a noisy load."""
        self.step += 1
        system = self.system
        current = round(-8.0 + self.random.uniform(-3, 3), 1)
        voltage = round(51.0 + self.random.uniform(-0.2, 0.2), 2)
        system["Dc/Battery/Current"] = current
        system["Dc/Battery/Voltage"] = voltage
        system["Dc/Battery/Power"] = round(current * voltage)
        system["Ac/Grid/L1/Power"] = round(150 + self.random.uniform(-40, 40))
        system["Ac/Consumption/L1/Power"] = round(140 + self.random.uniform(-40, 40))
        if self.step % 12 == 0:  # about 0.1 % SOC every two minutes
            system["Dc/Battery/Soc"] = round(system["Dc/Battery/Soc"] - 0.1, 1)
        if self.step % 30 == 0:
            system["Dc/Battery/Temperature"] = round(25 + self.random.uniform(-1, 1), 1)
        self.cerbo.set_root(SYSTEM, system)


async def run(hours: float) -> dict[str, Any]:
    """Simulate `hours` with both sources; count what the state machine and recorder see."""
    changes: Counter[str] = Counter()
    unrecorded_only: Counter[str] = Counter()
    writes = Counter[str]()
    write_state = Entity.async_write_ha_state

    def counted_write(entity: Entity) -> None:
        # Every state write of our entities, whether or not it changes anything.
        if entity.platform is not None and entity.platform.platform_name == DOMAIN:
            writes["all"] += 1
        write_state(entity)

    Entity.async_write_ha_state = counted_write  # type: ignore[method-assign]

    def count(event: Event[EventStateChangedData]) -> None:
        old, new = event.data["old_state"], event.data["new_state"]
        if old is None or new is None:
            return
        changes[new.entity_id] += 1
        kept_old = {k: v for k, v in old.attributes.items() if k not in UNRECORDED}
        kept_new = {k: v for k, v in new.attributes.items() if k not in UNRECORDED}
        if old.state == new.state and kept_old == kept_new:
            unrecorded_only[new.entity_id] += 1

    with freeze_time(START) as frozen, mock_aiohttp_client() as mocker:
        assert isinstance(frozen, FrozenDateTimeFactory)
        # the tests' fakes of both sources and the entry the config flow creates
        battery = Battery(FakeCerbo(mocker))
        FakeVrm(mocker)
        async with async_test_home_assistant() as hass:
            hass.data.pop(loader.DATA_CUSTOM_COMPONENTS)
            entry = make_entry(hass, SOURCE_DATA["both"])
            timers_before = live_timers(hass)
            await setup_entry(hass, entry)
            # Timer handles the entry keeps: coordinator refreshes and every recheck timer.
            timers = live_timers(hass) - timers_before
            # Besides each source's poll: what re-checks freshness and repairs.
            rechecks = timers - len(entry.runtime_data.battery.sources.configured())
            writes.clear()
            entities = len(hass.states.async_entity_ids())
            stop_counting = hass.bus.async_listen("state_changed", count)

            ticks = int(hours * 3600 / STEP)
            cpu = time.process_time()
            for _ in range(ticks):
                battery.drift()
                await advance(hass, frozen, STEP, step=STEP)
            cpu = time.process_time() - cpu

            stop_counting()
            Entity.async_write_ha_state = write_state  # type: ignore[method-assign]
            merge = merge_speed(entry.runtime_data.battery)
            started = REAL["perf_counter"]()
            diagnostics = await async_get_config_entry_diagnostics(hass, entry)
            diagnostics_ms = (REAL["perf_counter"]() - started) * 1000
            await hass.config_entries.async_unload(entry.entry_id)
            await hass.async_block_till_done()
            await hass.async_stop(force=True)

    per_hour = {entity: n / hours for entity, n in changes.items()}
    ticks = hours * 3600 / STEP
    return {
        "tick": {
            "writes": round(writes["all"] / ticks, 1),
            "changes": round(sum(changes.values()) / ticks, 1),
            "timers_per_entry": timers,
            "recheck_timers": rechecks,
            "cpu_ms": round(cpu / ticks * 1000, 2),
        },
        "hours": hours,
        "entities with a state": entities,
        "state changes per hour (all entities)": round(sum(per_hour.values())),
        "state changes per hour (the 5 busiest)": {
            entity: round(n) for entity, n in Counter(per_hour).most_common(5)
        },
        "state changes per hour of the SOC sensor": round(
            per_hour.get("sensor.cabin_battery_state_of_charge", 0), 1
        ),
        "entities that never changed": entities - len(changes),
        "changes that only touched unrecorded attributes": sum(unrecorded_only.values()),
        "CPU per simulated hour (ms, whole HA incl. HTTP fakes)": round(cpu / hours * 1000),
        "merge: one battery view (µs)": merge,
        "diagnostics: build (ms)": round(diagnostics_ms, 1),
        "diagnostics: size (bytes)": len(json.dumps(diagnostics)),
    }


def live_timers(hass: Any) -> int:
    """Our timer handles waiting in the event loop (cancelled ones, kept until cleanup, left out).

    Home Assistant's own (registry saves, the daily registry cleanup) are not the entry's.
    """
    scheduled = hass.loop._scheduled  # noqa: SLF001 - a benchmark may look inside
    return sum(1 for handle in scheduled if not handle.cancelled() and _is_ours(handle))


def _is_ours(handle: Any) -> bool:
    callback = handle._callback  # noqa: SLF001
    owner = getattr(callback, "__self__", None)
    if isinstance(owner, DataUpdateCoordinator):
        return owner.name.startswith(DOMAIN)
    action = getattr(owner, "action", None)  # a time-interval listener's action
    return getattr(action or callback, "__module__", "").startswith("custom_components")


def merge_speed(battery: BatteryCoordinator, rounds: int = 2000) -> float:
    """Microseconds to compute one battery view: every value, verdict and what changed."""
    now = dt_util.utcnow()
    started = REAL["perf_counter"]()
    for _ in range(rounds):
        battery.compute(now)
    return round((REAL["perf_counter"]() - started) / rounds * 1e6, 1)


def main() -> None:
    """Print the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=6.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.CRITICAL)
    result = asyncio.run(run(args.hours))
    print(json.dumps(result, indent=2, ensure_ascii=False))
    # The same figures as name=value lines, to compare run over run.
    print("tick " + " ".join(f"{name}={value}" for name, value in result["tick"].items()))


if __name__ == "__main__":
    main()
