"""Run a benchmark that needs a test Home Assistant with the real recorder.

Such a benchmark is a pytest module, tests/bench_<name>.py (the test plugin gives it `hass`, the
recorder and the fakes; its name keeps it out of the test suite), and prints `name=value` lines:
- history: the VRM history import (requests, CPU seconds and recorder rows for 14 and 30 days);
- insight: the battery health insight (CPU per recompute, recorder queries per hour).

Run from the repository root:  scripts/bench history   or   scripts/bench insight
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCHES = ("history", "insight")


def main(name: str) -> int:
    """Run tests/bench_<name>.py quietly, its prints shown."""
    if name not in BENCHES:
        print(f"bench_recorder: one of {', '.join(BENCHES)}, not {name!r}", file=sys.stderr)
        return 2
    sys.path.insert(0, str(ROOT))
    return int(
        pytest.main(
            [
                str(ROOT / "tests" / f"bench_{name}.py"),
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


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else ""))
