"""Write dashboards/victron_cerbo.yaml from the integration's dashboard builder.

    .venv/3.13/bin/python scripts/dashboard_yaml.py           # rewrite the file
    .venv/3.13/bin/python scripts/dashboard_yaml.py --check   # exit 1 when it is out of date

The file uses example entity ids; the dashboard in Home Assistant's sidebar has a
"Copy this dashboard as YAML" page with the user's own ids.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from custom_components.victron_cerbo.dashboard import example_yaml  # noqa: E402

TARGET = ROOT / "dashboards" / "victron_cerbo.yaml"


def main() -> int:
    """Write or check the file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check that it is current")
    args = parser.parse_args()
    text = example_yaml()
    if args.check:
        current = TARGET.read_text(encoding="utf-8") if TARGET.exists() else ""
        if current != text:
            print(f"{TARGET.relative_to(ROOT)} is out of date: run scripts/dashboard_yaml.py")
            return 1
        print(f"{TARGET.relative_to(ROOT)} is current")
        return 0
    TARGET.write_text(text, encoding="utf-8")
    print(f"wrote {TARGET.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
