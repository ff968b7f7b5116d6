"""The Victron vs Sol-Ark state-of-charge comparison inside Home Assistant.

`comparison.py` holds the rule; this module feeds it the inverter entity's state changes. The
battery view (`battery.py`) compares on each of its updates, with the Victron state of charge
it serves, so the dwell time passes with its 30 s recheck; both comparison entities read the one
result in the view.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Final

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import (
    CALLBACK_TYPE,
    Event,
    EventStateChangedData,
    HomeAssistant,
    State,
    callback,
)
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.event import async_track_state_change_event
from homeassistant.util import dt as dt_util

from .comparison import ComparisonResult, SocComparator, parse_soc
from .const import DOMAIN
from .options import ComparisonSettings

# How long the inverter entity may be unusable before a repair issue says so. Long enough for
# the inverter's integration to start after ours, or to ride out a short outage.
UNUSABLE_ISSUE_AFTER: Final = timedelta(minutes=10)
ISSUE_SOLARK_UNUSABLE: Final = "solark_entity_unusable"

# Entity ids that Sol-Ark / Sunsynk / Deye integrations and add-ons create (reference anchors §4).
KNOWN_ENTITY_PATTERNS: Final = tuple(
    re.compile(pattern)
    for pattern in (
        r"^sensor\.ss_battery_soc$",
        r"^sensor\..*sunsynk.*battery_soc",
        r"^sensor\..*solark.*(soc|state_of_charge)",
        r"^sensor\..*solarassistant.*state_of_charge",
        r"^sensor\..*instantaneous_battery_soc",
        r"^sensor\..*deye.*battery.*soc",
    )
)
KNOWN_PLATFORMS: Final = frozenset(
    {"solark_modbus", "solark", "solark_cloud", "solar_sunsynk", "sunsynk", "solarman"}
)


class OtherStatus(StrEnum):
    """Whether the inverter entity can be compared with."""

    OK = "ok"
    MISSING = "missing"  # no such entity (deleted or renamed)
    UNAVAILABLE = "unavailable"
    INVALID = "invalid"  # not a number in 0-100


@callback
def async_suggest_solark_entity(hass: HomeAssistant) -> str | None:
    """The inverter SOC sensor a Sol-Ark/Sunsynk/Deye setup most likely has, never one of ours."""
    registry = er.async_get(hass)
    best: tuple[int, str] | None = None
    for state in hass.states.async_all("sensor"):
        if state.attributes.get("device_class") != "battery":
            continue
        if state.attributes.get("unit_of_measurement") != "%":
            continue
        entry = registry.async_get(state.entity_id)
        platform = entry.platform if entry is not None else None
        if platform == DOMAIN:
            continue
        if platform in KNOWN_PLATFORMS:
            rank = 0
        elif any(pattern.search(state.entity_id) for pattern in KNOWN_ENTITY_PATTERNS):
            rank = 1
        else:
            continue
        if best is None or (rank, state.entity_id) < best:
            best = (rank, state.entity_id)
    return best[1] if best else None


@dataclass(frozen=True, kw_only=True)
class ComparisonView:
    """The comparison as the battery view holds it: the result (None: cannot compare now)."""

    result: ComparisonResult | None
    entity_id: str
    threshold: float

    def attributes(self) -> dict[str, Any]:
        """What both comparison entities show besides their state."""
        result = self.result
        return {
            "victron_soc": result.victron_soc if result else None,
            "solark_soc": result.other_soc if result else None,
            "solark_entity": self.entity_id,
            "threshold": self.threshold,
        }


class SolarkComparison:
    """Feeds the inverter's state of charge to the comparison rule of one entry.

    The battery view asks it for the result on every update (`compare`), so both comparison
    entities read the one result in the view; an inverter state change asks for a new view.
    """

    def __init__(
        self, hass: HomeAssistant, entry: ConfigEntry, settings: ComparisonSettings
    ) -> None:
        """Nothing runs until `async_start`."""
        self.hass = hass
        self.entry = entry
        self.settings = settings
        self.comparator = SocComparator(threshold=settings.threshold, dwell=settings.dwell)
        self.other_status = OtherStatus.MISSING
        self.other_state: str | None = None
        self.unusable_since: datetime | None = None

    @property
    def issue_id(self) -> str:
        """The repair issue of this entry's comparison."""
        return f"{ISSUE_SOLARK_UNUSABLE}_{self.entry.entry_id}"

    @callback
    def async_start(self, inverter_changed: CALLBACK_TYPE) -> None:
        """Follow the inverter entity until the entry unloads; call back on each change."""

        @callback
        def _changed(event: Event[EventStateChangedData]) -> None:
            self._take_inverter_state(event.data["new_state"], dt_util.utcnow())
            inverter_changed()

        self.entry.async_on_unload(
            async_track_state_change_event(self.hass, [self.settings.entity_id], _changed)
        )
        self._take_inverter_state(self.hass.states.get(self.settings.entity_id), dt_util.utcnow())

    def _take_inverter_state(self, state: State | None, now: datetime) -> None:
        """Record the inverter's value; anything but a state of charge breaks the history."""
        self.other_state = state.state if state is not None else None
        value = parse_soc(state.state) if state is not None else None
        if state is None:
            status = OtherStatus.MISSING
        elif state.state in (STATE_UNAVAILABLE, STATE_UNKNOWN):
            status = OtherStatus.UNAVAILABLE
        elif value is None:
            status = OtherStatus.INVALID
        else:
            status = OtherStatus.OK
        if status is OtherStatus.OK:
            assert state is not None
            # the value has been in effect since it last changed
            self.comparator.add_other(value, min(state.last_changed, now))
            self.unusable_since = None
        else:
            self.comparator.clear_other()
            if self.other_status is OtherStatus.OK or self.unusable_since is None:
                self.unusable_since = now
        self.other_status = status

    def compare(self, soc: float | None, sampled_at: datetime, now: datetime) -> ComparisonView:
        """Compare the Victron state of charge served now; raise or clear the repair issue."""
        result = None
        if self.other_status is OtherStatus.OK and soc is not None:
            result = self.comparator.compare(soc, sampled_at, now)
        self._update_issue(now)
        return ComparisonView(
            result=result, entity_id=self.settings.entity_id, threshold=self.settings.threshold
        )

    def _update_issue(self, now: datetime) -> None:
        since = self.unusable_since
        if since is None or now - since < UNUSABLE_ISSUE_AFTER:
            ir.async_delete_issue(self.hass, DOMAIN, self.issue_id)
            return
        ir.async_create_issue(
            self.hass,
            DOMAIN,
            self.issue_id,
            is_fixable=True,
            is_persistent=False,
            severity=ir.IssueSeverity.WARNING,
            translation_key=f"{ISSUE_SOLARK_UNUSABLE}_{self.other_status.value}",
            translation_placeholders={
                "name": self.entry.title,
                "entity_id": self.settings.entity_id,
                "state": str(self.other_state),
            },
            data={"entry_id": self.entry.entry_id},
        )


@callback
def async_delete_comparison_issue(hass: HomeAssistant, entry: ConfigEntry) -> None:
    """Remove the comparison's repair issue (entry removed or comparison turned off)."""
    ir.async_delete_issue(hass, DOMAIN, f"{ISSUE_SOLARK_UNUSABLE}_{entry.entry_id}")


# The comparison entities by platform and key; they exist only while a sensor is chosen.
COMPARISON_ENTITIES: Final = (("sensor", "soc_difference"), ("binary_sensor", "soc_disagreement"))


@callback
def async_remove_comparison_entities(hass: HomeAssistant, entry: ConfigEntry) -> None:
    """Forget the comparison entities once it is off, not leave them "unavailable (restored)"."""
    registry = er.async_get(hass)
    for platform, key in COMPARISON_ENTITIES:
        unique_id = f"{entry.unique_id or entry.entry_id}_{key}"  # as entity.entry_key
        if entity_id := registry.async_get_entity_id(platform, DOMAIN, unique_id):
            registry.async_remove(entity_id)
