"""Health binary sensors: each source's connection, stale data, the VRM budget, battery problems.

Battery problems judge the value the freshest source serves, against the limits in force
(`limits.py`: the user's own, else the battery's, else safe presets); source health stays
available while a source is down, because that is what it reports.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

# HA 2026.10 moved the class to binary_sensor.const and re-exports it implicitly; 2026.2 has no
# const module, so import it where both versions have it.
from homeassistant.components.binary_sensor import (  # type: ignore[attr-defined, unused-ignore]
    BinarySensorDeviceClass,
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.const import EntityCategory

from .api.victron import ALARM_LEVELS
from .battery import BatteryView
from .entity import ComparisonEntity, DeviceKind, EntryDevices, VictronEntity
from .limits import Limits
from .sources import VALUES, BatterySources, GridStatus, Source

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant
    from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

    from .runtime import VictronConfigEntry

PARALLEL_UPDATES = 0

CELL_IMBALANCE_SPREAD: Final = 0.10  # V between the highest and the lowest cell
CELL_IMBALANCE_CRITICAL: Final = 0.15  # V
SOH_DEGRADED_BELOW: Final = 85.0  # %
SOC_DISAGREEMENT: Final = "soc_disagreement"  # the Sol-Ark comparison's problem sensor


@dataclass(frozen=True, kw_only=True)
class VictronBatteryBinarySensorEntityDescription(BinarySensorEntityDescription):
    """A problem judged from one value of `sources.VALUES` (None input: state unknown)."""

    value: str
    is_on_fn: Callable[[Any, Limits], bool | None]
    attributes_fn: Callable[[Any, Limits], dict[str, Any]]
    device: DeviceKind = DeviceKind.BATTERY


@dataclass(frozen=True, kw_only=True)
class VictronHealthBinarySensorEntityDescription(BinarySensorEntityDescription):
    """The state of a source; `source` None means it is about both."""

    is_on_fn: Callable[[BatteryView], bool | None]
    attributes_fn: Callable[[BatteryView], dict[str, Any]] | None = None
    parts: frozenset[str]  # the parts of the view it shows
    source: Source | None = None


def _severity(spread: float) -> str:
    if spread > CELL_IMBALANCE_CRITICAL:
        return "critical"
    if spread > CELL_IMBALANCE_SPREAD:
        return "warning"
    return "ok"


def _alarm_attributes(alarms: Mapping[str, int] | None, _: Limits) -> dict[str, Any]:
    raised = {name: ALARM_LEVELS[level] for name, level in (alarms or {}).items() if level}
    highest = max((alarms or {}).values(), default=0)
    return {"alarms": raised, "level": ALARM_LEVELS[highest]}


def _grid_attributes(grid: GridStatus, _: Limits) -> dict[str, Any]:
    return {
        "alarm": ALARM_LEVELS.get(grid.alarm) if grid.alarm is not None else None,
        "ac_input_connected": grid.ac_input_connected,
        "active_input": grid.active_input,
    }


BATTERY_BINARY_SENSORS: tuple[VictronBatteryBinarySensorEntityDescription, ...] = (
    VictronBatteryBinarySensorEntityDescription(
        key="voltage_out_of_range",
        translation_key="voltage_out_of_range",
        value="voltage",
        device_class=BinarySensorDeviceClass.PROBLEM,
        is_on_fn=lambda v, limits: limits.voltage.outside(v),
        attributes_fn=lambda _, limits: limits.voltage.attributes(),
    ),
    VictronBatteryBinarySensorEntityDescription(
        key="temperature_out_of_range",
        translation_key="temperature_out_of_range",
        value="temperature",
        device_class=BinarySensorDeviceClass.PROBLEM,
        is_on_fn=lambda v, limits: limits.temperature.outside(v),
        attributes_fn=lambda _, limits: limits.temperature.attributes(),
    ),
    VictronBatteryBinarySensorEntityDescription(
        key="low_soc",
        translation_key="low_soc",
        value="soc",
        device_class=BinarySensorDeviceClass.BATTERY,
        is_on_fn=lambda v, limits: v <= limits.low_soc,
        attributes_fn=lambda _, limits: {"threshold": limits.low_soc},
    ),
    VictronBatteryBinarySensorEntityDescription(
        key="grid_lost",
        translation_key="grid_lost",
        value="grid",
        device=DeviceKind.INSTALLATION,
        device_class=BinarySensorDeviceClass.PROBLEM,
        is_on_fn=lambda grid, _: grid.lost,
        attributes_fn=_grid_attributes,
    ),
    VictronBatteryBinarySensorEntityDescription(
        key="cell_imbalance",
        translation_key="cell_imbalance",
        value="cell_voltage_spread",
        device_class=BinarySensorDeviceClass.PROBLEM,
        is_on_fn=lambda spread, _: spread > CELL_IMBALANCE_SPREAD,
        attributes_fn=lambda spread, _: {"severity": _severity(spread)},
    ),
    VictronBatteryBinarySensorEntityDescription(
        key="soh_degraded",
        translation_key="soh_degraded",
        value="soh",
        device_class=BinarySensorDeviceClass.PROBLEM,
        is_on_fn=lambda soh, _: soh < SOH_DEGRADED_BELOW,
        attributes_fn=lambda _, __: {"threshold": SOH_DEGRADED_BELOW},
    ),
    VictronBatteryBinarySensorEntityDescription(
        key="battery_alarm",
        translation_key="battery_alarm",
        value="alarms",
        device_class=BinarySensorDeviceClass.PROBLEM,
        is_on_fn=lambda alarms, _: any(alarms.values()),
        attributes_fn=_alarm_attributes,
    ),
)


def _error(cause: str | None) -> dict[str, Any]:
    return {"error": cause} if cause else {}


def _budget_attributes(view: BatteryView) -> dict[str, Any]:
    # The count itself is the "VRM requests in the last hour" sensor; repeating it here would
    # write a state on every poll.
    vrm = view.vrm
    return {"warning": vrm.budget_warning, "limit": vrm.budget_limit} if vrm else {}


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
        parts=frozenset({"vrm.near_limit", "vrm.budget_warning", "vrm.budget_limit"}),
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: VictronConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the binary sensors that the entry's configured sources can feed."""
    sources = BatterySources(entry.runtime_data)
    configured = sources.configured()
    if not configured:
        return
    devices = EntryDevices(hass, entry)
    entities: list[BinarySensorEntity] = [
        VictronHealthBinarySensor(entry, description, devices.installation, description.parts)
        for description in HEALTH_BINARY_SENSORS
        if description.source is None or description.source in configured
    ]
    entities.extend(
        VictronBatteryBinarySensor(
            entry,
            description,
            devices.info(description.device),
            frozenset({description.value, "limits"}),
        )
        for description in BATTERY_BINARY_SENSORS
        if sources.can_serve(VALUES[description.value])
    )
    if (comparison := entry.runtime_data.comparison) is not None:
        entities.append(SocDisagreementBinarySensor(comparison, SOC_DISAGREEMENT, devices.battery))
    async_add_entities(entities)


class VictronBatteryBinarySensor(VictronEntity, BinarySensorEntity):
    """A battery or installation problem, judged from the freshest source's value."""

    entity_description: VictronBatteryBinarySensorEntityDescription

    @property
    def available(self) -> bool:
        """Available while a fresh source serves the value it judges."""
        return self.view.values.get(self.entity_description.value) is not None

    @property
    def is_on(self) -> bool | None:
        """The verdict; None while the serving source has no such value."""
        value = self.view.value(self.entity_description.value)
        if value is None:
            return None
        return self.entity_description.is_on_fn(value, self.view.limits)

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """The value's source and age, and what it is judged against."""
        description = self.entity_description
        shown = self.view.values.get(description.value)
        if shown is None:
            return {}
        attributes = shown.attributes()
        if shown.value is not None:
            attributes |= description.attributes_fn(shown.value, self.view.limits)
        return attributes


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

    _attr_device_class = BinarySensorDeviceClass.PROBLEM

    @property
    def is_on(self) -> bool | None:
        """The verdict."""
        result = self.comparison.result
        return result.disagree if result else None

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """Both values, the threshold and since when they have disagreed."""
        result = self.comparison.result
        since = result.disagreeing_since if result else None
        return self.comparison.attributes() | {
            # No running "for how long": it would write a new state every few seconds.
            "disagreeing_since": since.isoformat() if since else None,
        }
