"""What one config entry keeps while it is loaded."""

from __future__ import annotations

from dataclasses import dataclass

from homeassistant.config_entries import ConfigEntry

from .battery import BatteryCoordinator
from .history import Backfill
from .insight_coordinator import InsightCoordinator
from .local_coordinator import LocalCoordinator
from .options import EntryOptions
from .solark import SolarkComparison
from .vrm_coordinator import VrmCoordinator


@dataclass(kw_only=True)
class VictronRuntimeData:
    """The options as read at setup, the sources (None when not configured), the merged view."""

    options: EntryOptions
    local: LocalCoordinator | None = None
    vrm: VrmCoordinator | None = None
    battery: BatteryCoordinator
    comparison: SolarkComparison | None = None  # only when an inverter SOC entity is chosen
    history: Backfill | None = None  # VRM's past into statistics; None without VRM or recorder
    insight: InsightCoordinator | None = None  # battery health from statistics; needs the recorder


type VictronConfigEntry = ConfigEntry[VictronRuntimeData]
