"""Runtime data shared by the platforms of one Victron Cerbo GX config entry."""

from __future__ import annotations

from dataclasses import dataclass

from homeassistant.config_entries import ConfigEntry


@dataclass(kw_only=True)
class VictronRuntimeData:
    """What one config entry keeps while it is loaded."""


type VictronConfigEntry = ConfigEntry[VictronRuntimeData]
