"""Start Home Assistant's own command line (`hass`) for scripts/develop.

Run by path (`python dev/hass_runner.py --config DIR ...`), never with the repository on the
import path: Home Assistant must find `custom_components` in its config directory only.

The native 3.13 test venv may hold a Python older than the 3.13.2 that Home Assistant demands;
`scripts/setup` installed it anyway (`--ignore-requires-python`), and the tests run on it. The
same check is skipped here, with a note, so that the development instance runs on it too.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """Run `hass` with these arguments and return its exit code."""
    from homeassistant import __main__ as hass_main  # noqa: PLC0415 - heavy, only when run
    from homeassistant.const import REQUIRED_PYTHON_VER  # noqa: PLC0415

    if sys.version_info[:3] < REQUIRED_PYTHON_VER:
        wanted = ".".join(map(str, REQUIRED_PYTHON_VER))
        print(
            f"note: Python {sys.version.split()[0]} is older than the {wanted} Home Assistant "
            "asks for; running anyway for development, as the test venv does",
            file=sys.stderr,
        )
        hass_main.validate_python = lambda: None
    sys.argv = ["hass", *(sys.argv[1:] if argv is None else argv)]
    code: int = hass_main.main()
    return code


if __name__ == "__main__":
    sys.exit(main())
