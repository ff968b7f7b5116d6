"""Benchmark of the VRM history import: requests, seconds and recorder rows for 14 and 30 days.

A VRM-only entry is set up in a test Home Assistant with the real recorder (SQLite in memory,
compiling every 5 minutes as it does live); VRM's `stats` is answered in-process from a
deterministic past (the tests' FakeStats) and freezegun moves the clock a minute at a time, so
the import's waits (a request every 5 minutes, 10 an hour) cost nothing. `seconds` is the CPU
time of the process (the recorder's thread included) from setup until the import is complete;
`rows` is what the importer wrote: hourly rows of the five sensors and of the energy statistics.

Run from the repository root:  scripts/bench history
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(
        pytest.main(
            [
                str(ROOT / "tests" / "bench_history.py"),
                "-q",
                "-s",
                "-p",
                "no:cacheprovider",
                "--rootdir",
                str(ROOT),
                "--no-header",
                "-W",
                "ignore::DeprecationWarning",
            ]
        )
    )
