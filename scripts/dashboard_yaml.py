"""Write dashboards/victron_cerbo.yaml and victron_fleet.yaml from the dashboard builders.

    .venv/3.13/bin/python scripts/dashboard_yaml.py           # rewrite the file
    .venv/3.13/bin/python scripts/dashboard_yaml.py --check   # exit 1 when it is out of date
    .venv/3.13/bin/python scripts/dashboard_yaml.py --bench   # build time and size per load

The file uses example entity ids; the dashboard in Home Assistant's sidebar has a
"Copy this dashboard as YAML" page with the user's own ids.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from custom_components.victron_cerbo.const import VOLTAGE_RANGES  # noqa: E402
from custom_components.victron_cerbo.dashboard import (  # noqa: E402
    DashboardSettings,
    build_dashboard,
    example_entities,
    example_fleet_yaml,
    example_yaml,
)

TARGETS = {
    ROOT / "dashboards" / "victron_cerbo.yaml": example_yaml,
    ROOT / "dashboards" / "victron_fleet.yaml": example_fleet_yaml,
}


def main() -> int:
    """Write or check the file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check that it is current")
    parser.add_argument("--bench", action="store_true", help="time one dashboard load")
    args = parser.parse_args()
    if args.bench:
        return bench()
    outdated = 0
    for target, render in TARGETS.items():
        text = render()
        if args.check:
            current = target.read_text(encoding="utf-8") if target.exists() else ""
            if current != text:
                print(f"{target.relative_to(ROOT)} is out of date: run scripts/dashboard_yaml.py")
                outdated = 1
            else:
                print(f"{target.relative_to(ROOT)} is current")
            continue
        target.write_text(text, encoding="utf-8")
        print(f"wrote {target.relative_to(ROOT)}")
    return outdated


def bench(rounds: int = 200) -> int:
    """Time what every opening of the sidebar dashboard costs.

    That is building the config (with its copy view) and serialising it for the websocket API.
    """
    settings = DashboardSettings(
        title="bench", voltage_range=VOLTAGE_RANGES[48], temperature_range=(15.0, 30.0)
    )
    entities = example_entities()
    started = time.perf_counter()
    for _ in range(rounds):
        body = json.dumps(build_dashboard(entities, settings))
    elapsed = (time.perf_counter() - started) / rounds
    print(f"one load: {elapsed * 1000:.2f} ms, {len(body) / 1024:.1f} KiB of JSON")
    return 0


if __name__ == "__main__":
    sys.exit(main())
