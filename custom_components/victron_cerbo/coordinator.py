"""Runtime data shared by the platforms of one Victron Cerbo GX config entry.

The two sources have their own coordinators (`local_coordinator.py`, `vrm_coordinator.py`) so
that one failing never marks the other's entities unavailable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from homeassistant.config_entries import ConfigEntry

if TYPE_CHECKING:
    from .local_coordinator import LocalCoordinator
    from .solark import SolarkComparison
    from .vrm_coordinator import VrmCoordinator


@dataclass(kw_only=True)
class VictronRuntimeData:
    """What one config entry keeps while it is loaded; a source not configured is None."""

    local: LocalCoordinator | None = None
    vrm: VrmCoordinator | None = None
    comparison: SolarkComparison | None = None  # only when an inverter SOC entity is chosen


type VictronConfigEntry = ConfigEntry[VictronRuntimeData]
