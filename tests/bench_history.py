"""The VRM history import measured with the real recorder (run by scripts/bench_recorder.py).

Not a test: its name keeps it out of the suite; scripts/bench history runs it through pytest so
that it gets the recorder and the fakes of the tests.
"""

from __future__ import annotations

import time

import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.recorder import Recorder
from homeassistant.core import HomeAssistant

from custom_components.victron_cerbo.options import CONF_HISTORY_DAYS
from tests.helpers import (
    START,
    VRM_DATA,
    FakeStats,
    FakeVrm,
    make_entry,
    run_compiling,
    setup_entry,
)

MINUTE = 60


@pytest.fixture
def enable_statistics() -> bool:
    """The recorder compiles the live sensors' statistics, as it does for users."""
    return True


@pytest.mark.parametrize("days", [14, 30])
async def test_backfill(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    vrm: FakeVrm,
    days: int,
) -> None:
    """Import `days` and print `backfill days=… requests=… seconds=… rows=…`."""
    stats = FakeStats(hass, vrm)
    freezer.move_to(START)
    cpu = time.process_time()
    entry = make_entry(hass, VRM_DATA, {CONF_HISTORY_DAYS: days})
    await setup_entry(hass, entry)
    history = entry.runtime_data.history
    assert history is not None
    simulated = 0
    while (
        not (history.days_imported >= days and history.progress.energy_until is not None)
        and simulated < 6 * 3600
    ):
        await run_compiling(hass, freezer, MINUTE)
        simulated += MINUTE
    seconds = time.process_time() - cpu
    assert history.days_imported >= days, "the import did not finish in 6 simulated hours"
    print(  # noqa: T201 (the figures are the point)
        f"backfill days={days} requests={stats.all_calls} "
        f"measurement_requests={len(stats.calls)} energy_requests={len(stats.energy_calls)} "
        f"seconds={seconds:.2f} rows={history.progress.rows} "
        f"simulated_minutes={simulated // MINUTE}"
    )
