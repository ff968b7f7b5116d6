"""The form-schema library of the running Home Assistant, under the usual name `vol`.

Home Assistant 2026.10 validates with `probatio` (and aliases `voluptuous` to it at run time);
2026.2 ships `voluptuous`. Importing the one that HA itself uses keeps the types right for both.
"""

from __future__ import annotations

try:
    import probatio as vol  # type: ignore[import-not-found, unused-ignore]
except ImportError:  # Home Assistant before probatio
    import voluptuous as vol  # type: ignore[no-redef, unused-ignore]

__all__ = ["vol"]
