"""Benchmark of the battery health insight: CPU per recompute, recorder queries per hour.

An entry with both sources is set up in a test Home Assistant with the real recorder (SQLite in
memory, compiling every 5 minutes as it does live), its sensors' statistics seeded with a year of
state of health and 35 days of the rest; then the CPU time of one recompute against one recorder
read, and a simulated day of 5-minute refreshes on freezegun's clock, counting the recorder
queries (28 a day, asserted). Prints `name=value` lines (tests/bench_insight.py says what each is).

Run from the repository root:  scripts/bench insight
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
                str(ROOT / "tests" / "bench_insight.py"),
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
