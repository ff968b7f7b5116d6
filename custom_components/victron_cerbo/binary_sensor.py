"""Health binary sensors: each source's connection, stale data, the VRM budget, battery problems.

Battery problems show the verdicts of the battery view (`problems.py`: the value the freshest
source serves, against the limits in force of `limits.py`: the user's own, else the battery's,
else safe presets); source health stays
available while a source is down, because that is what it reports.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

# HA 2026.10 moved the class to binary_sensor.const and re-exports it implicitly; 2026.2 has no
# const module, so import it where both versions have it.
from homeassistant.components.binary_sensor import (  # type: ignore[attr-defined, unused-ignore]
    BinarySensorDeviceClass,
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.const import EntityCategory, Platform

from .battery import BatteryView
from .entity import ComparisonEntity, DeviceKind, EntryDevices, FleetEntity, VictronEntity
from .fleet import Fleet, FleetSummary, async_offer_entities
from .insight_entities import FullChargeOverdueSensor
from .problems import Verdict
from .sources import Source

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant
    from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

    from .runtime import VictronConfigEntry

PARALLEL_UPDATES = 0

SOC_DISAGREEMENT: Final = "soc_disagreement"  # the Sol-Ark comparison's problem sensor


FULL_CHARGE_OVERDUE: Final = BinarySensorEntityDescription(
    key="full_charge_overdue",
    translation_key="full_charge_overdue",
    device_class=BinarySensorDeviceClass.PROBLEM,
)


@dataclass(frozen=True, kw_only=True)
class VictronBatteryBinarySensorEntityDescription(BinarySensorEntityDescription):
    """A battery problem of `problems.PROBLEMS`, by the same key; the view holds its verdict."""

    device: DeviceKind = DeviceKind.BATTERY


@dataclass(frozen=True, kw_only=True)
class VictronHealthBinarySensorEntityDescription(BinarySensorEntityDescription):
    """The state of a source; `source` None means it is about both."""

    is_on_fn: Callable[[BatteryView], bool | None]
    attributes_fn: Callable[[BatteryView], dict[str, Any]] | None = None
    parts: frozenset[str]  # the parts of the view it shows
    source: Source | None = None


BATTERY_BINARY_SENSORS: tuple[VictronBatteryBinarySensorEntityDescription, ...] = (
    VictronBatteryBinarySensorEntityDescription(
        key="voltage_out_of_range",
        translation_key="voltage_out_of_range",
        device_class=BinarySensorDeviceClass.PROBLEM,
    ),
    VictronBatteryBinarySensorEntityDescription(
        key="temperature_out_of_range",
        translation_key="temperature_out_of_range",
        device_class=BinarySensorDeviceClass.PROBLEM,
    ),
    VictronBatteryBinarySensorEntityDescription(
        key="low_soc",
        translation_key="low_soc",
        device_class=BinarySensorDeviceClass.BATTERY,
    ),
    VictronBatteryBinarySensorEntityDescription(
        key="grid_lost",
        translation_key="grid_lost",
        device=DeviceKind.INSTALLATION,
        device_class=BinarySensorDeviceClass.PROBLEM,
    ),
    VictronBatteryBinarySensorEntityDescription(
        key="cell_imbalance",
        translation_key="cell_imbalance",
        device_class=BinarySensorDeviceClass.PROBLEM,
    ),
    VictronBatteryBinarySensorEntityDescription(
        key="soh_degraded",
        translation_key="soh_degraded",
        device_class=BinarySensorDeviceClass.PROBLEM,
    ),
    VictronBatteryBinarySensorEntityDescription(
        key="battery_alarm",
        translation_key="battery_alarm",
        device_class=BinarySensorDeviceClass.PROBLEM,
    ),
)


@dataclass(frozen=True, kw_only=True)
class FleetBinarySensorEntityDescription(BinarySensorEntityDescription):
    """A verdict over every installation of a VRM account."""

    is_on_fn: Callable[[FleetSummary], bool]
    attributes_fn: Callable[[FleetSummary], dict[str, Any]]


# For automations: "any installation with an active alarm", and which, by title only.
FLEET_BINARY_SENSORS: tuple[FleetBinarySensorEntityDescription, ...] = (
    FleetBinarySensorEntityDescription(
        key="installation_alarm",
        translation_key="installation_alarm",
        device_class=BinarySensorDeviceClass.PROBLEM,
        is_on_fn=lambda summary: bool(summary.with_alarm),
        attributes_fn=lambda summary: {
            "installations": list(summary.with_alarm),
            "alarms": summary.alarms(),
        },
    ),
)
SOC_DISAGREEMENT_DESCRIPTION: Final = BinarySensorEntityDescription(
    key=SOC_DISAGREEMENT,
    translation_key=SOC_DISAGREEMENT,
    device_class=BinarySensorDeviceClass.PROBLEM,
)


def _error(cause: str | None) -> dict[str, Any]:
    return {"error": cause} if cause else {}


def _budget_attributes(view: BatteryView) -> dict[str, Any]:
    # The count itself is the "VRM requests in the last hour" sensor; repeating it here would
    # write a state on every poll. The budget is the VRM account's, shared by its entries.
    vrm = view.vrm
    return (
        {
            "warning": vrm.budget_warning,
            "limit": vrm.budget_limit,
            "account_entries": vrm.account_entries,
        }
        if vrm
        else {}
    )


# The lambdas run only when their source is configured.
HEALTH_BINARY_SENSORS: tuple[VictronHealthBinarySensorEntityDescription, ...] = (
    VictronHealthBinarySensorEntityDescription(
        key="vrm_reachable",
        translation_key="vrm_reachable",
        source=Source.VRM,
        device_class=BinarySensorDeviceClass.CONNECTIVITY,
        entity_category=EntityCategory.DIAGNOSTIC,
        # Connected until the third failed poll in a row, like the values VRM serves; the
        # cause in plain words ("timeout", "HTTP 503"), not an internal kind.
        is_on_fn=lambda v: v.vrm.connected if v.vrm else None,
        attributes_fn=lambda v: _error(v.vrm.error if v.vrm else None),
        parts=frozenset({"vrm.connected", "vrm.error"}),
    ),
    VictronHealthBinarySensorEntityDescription(
        key="local_reachable",
        translation_key="local_reachable",
        source=Source.LOCAL,
        device_class=BinarySensorDeviceClass.CONNECTIVITY,
        entity_category=EntityCategory.DIAGNOSTIC,
        # Connected until the third failed tick in a row, like the values it serves; the
        # cause of the latest failure shows as soon as a tick fails.
        is_on_fn=lambda v: v.local.connected if v.local else None,
        attributes_fn=lambda v: _error(v.local.error if v.local else None),
        parts=frozenset({"local.connected", "local.error"}),
    ),
    VictronHealthBinarySensorEntityDescription(
        key="data_stale",
        translation_key="data_stale",
        device_class=BinarySensorDeviceClass.PROBLEM,
        entity_category=EntityCategory.DIAGNOSTIC,
        is_on_fn=lambda v: v.stale,
        parts=frozenset({"stale"}),
    ),
    VictronHealthBinarySensorEntityDescription(
        key="vrm_budget",
        translation_key="vrm_budget",
        source=Source.VRM,
        device_class=BinarySensorDeviceClass.PROBLEM,
        entity_category=EntityCategory.DIAGNOSTIC,
        is_on_fn=lambda v: v.vrm.near_limit if v.vrm else None,
        attributes_fn=_budget_attributes,
        parts=frozenset(
            {"vrm.near_limit", "vrm.budget_warning", "vrm.budget_limit", "vrm.account_entries"}
        ),
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: VictronConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the binary sensors that the entry's configured sources can feed.

    The fleet's binary sensor is added here too when this entry holds the fleet's entities.
    """
    async_offer_entities(hass, entry, Platform.BINARY_SENSOR, _fleet_entities, async_add_entities)
    sources = entry.runtime_data.battery.sources
    configured = sources.configured()
    if not configured:
        return
    devices = EntryDevices(hass, entry)
    entities: list[BinarySensorEntity] = [
        VictronHealthBinarySensor(entry, description, devices.installation, description.parts)
        for description in HEALTH_BINARY_SENSORS
        if description.source is None or description.source in configured
    ]
    problems = entry.runtime_data.battery.data.problems
    entities.extend(
        VictronBatteryBinarySensor(
            entry,
            description,
            devices.info(description.device),
            frozenset({f"problem.{description.key}"}),
        )
        for description in BATTERY_BINARY_SENSORS
        if description.key in problems
    )
    if entry.runtime_data.comparison is not None:
        entities.append(
            SocDisagreementBinarySensor(entry, SOC_DISAGREEMENT_DESCRIPTION, devices.battery)
        )
    if (insight := entry.runtime_data.insight) is not None:
        entities.append(
            FullChargeOverdueSensor(entry, insight, FULL_CHARGE_OVERDUE, devices.battery)
        )
    async_add_entities(entities)


def _fleet_entities(fleet: Fleet) -> list[FleetBinarySensor]:
    return [FleetBinarySensor(fleet, description) for description in FLEET_BINARY_SENSORS]


class FleetBinarySensor(FleetEntity, BinarySensorEntity):
    """A verdict over the installations of a VRM account."""

    entity_description: FleetBinarySensorEntityDescription

    @property
    def is_on(self) -> bool:
        """What the description reads from the fleet."""
        return self.entity_description.is_on_fn(self.summary)

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """Which installations, by title."""
        return self.entity_description.attributes_fn(self.summary)


class VictronBatteryBinarySensor(VictronEntity, BinarySensorEntity):
    """A battery or installation problem, judged in the view from the freshest source's value."""

    entity_description: VictronBatteryBinarySensorEntityDescription

    @property
    def _verdict(self) -> Verdict | None:
        return self.view.problems.get(self.entity_description.key)

    @property
    def available(self) -> bool:
        """Available while a fresh source serves the value it judges."""
        return self._verdict is not None

    @property
    def is_on(self) -> bool | None:
        """The verdict; None while the serving source has no such value."""
        verdict = self._verdict
        return verdict.on if verdict is not None else None

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """The value's source and age, and what it is judged against."""
        verdict = self._verdict
        return dict(verdict.attributes) if verdict is not None else {}


class VictronHealthBinarySensor(VictronEntity, BinarySensorEntity):
    """How a source is doing; available while the source is down, which it reports."""

    entity_description: VictronHealthBinarySensorEntityDescription

    @property
    def is_on(self) -> bool | None:
        """What the description reads from the view."""
        return self.entity_description.is_on_fn(self.view)

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """Its attributes, if the description has any."""
        attributes_fn = self.entity_description.attributes_fn
        return attributes_fn(self.view) if attributes_fn else {}


class SocDisagreementBinarySensor(ComparisonEntity, BinarySensorEntity):
    """On while the two estimates differ by more than the threshold (after the dwell time)."""

    @property
    def is_on(self) -> bool | None:
        """The verdict."""
        comparison = self.view.comparison
        result = comparison.result if comparison is not None else None
        return result.disagree if result else None

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """Both values, the threshold and since when they have disagreed."""
        comparison = self.view.comparison
        result = comparison.result if comparison is not None else None
        since = result.disagreeing_since if result else None
        return super().extra_state_attributes | {
            # No running "for how long": it would write a new state every few seconds.
            "disagreeing_since": since.isoformat() if since else None,
        }
