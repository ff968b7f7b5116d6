"""Sensors: battery values from the freshest source, installation values, source health."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import (
    PERCENTAGE,
    EntityCategory,
    Platform,
    UnitOfElectricCurrent,
    UnitOfElectricPotential,
    UnitOfEnergy,
    UnitOfFrequency,
    UnitOfPower,
    UnitOfTemperature,
    UnitOfTime,
)
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .api.victron import BATTERY_FLOW_STATES, VEBUS_MODES, VEBUS_STATES
from .battery import BatteryView
from .entity import (
    ComparisonEntity,
    DeviceKind,
    EntryDevices,
    FleetEntity,
    VictronEntity,
    entry_key,
)
from .fleet import Fleet, FleetSummary, async_offer_entities
from .history import Backfill
from .insight import GridQuality, GridStress
from .insight_entities import INSIGHT_SENSORS, InsightSensor
from .sources import VALUES, BatterySources, Source

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant
    from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
    from homeassistant.helpers.typing import StateType

    from .runtime import VictronConfigEntry

PARALLEL_UPDATES = 0

UNIT_AMPERE_HOUR = "Ah"
SOC_DIFFERENCE = "soc_difference"  # the Sol-Ark comparison's sensor


@dataclass(frozen=True, kw_only=True)
class VictronSensorEntityDescription(SensorEntityDescription):
    """A value served by the freshest source; `value` is its key in `sources.VALUES`."""

    value: str
    device: DeviceKind = DeviceKind.BATTERY


@dataclass(frozen=True, kw_only=True)
class VictronHealthSensorEntityDescription(SensorEntityDescription):
    """How one source is doing; `source` None means it is about both."""

    value_fn: Callable[[BatteryView], StateType | datetime]
    attributes_fn: Callable[[BatteryView], dict[str, Any]] | None = None
    parts: frozenset[str]  # the parts of the view it shows
    source: Source | None = None


def _options(names: dict[int, str]) -> list[str]:
    return list(dict.fromkeys(names.values()))


def _measurement(
    key: str,
    *,
    device_class: SensorDeviceClass | None,
    unit: str | None,
    precision: int,
    **kwargs: Any,
) -> VictronSensorEntityDescription:
    return VictronSensorEntityDescription(
        key=key,
        translation_key=key,
        value=key,
        device_class=device_class,
        native_unit_of_measurement=unit,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=precision,
        **kwargs,
    )


SENSORS: tuple[VictronSensorEntityDescription, ...] = (
    _measurement("soc", device_class=SensorDeviceClass.BATTERY, unit=PERCENTAGE, precision=1),
    _measurement(
        "voltage",
        device_class=SensorDeviceClass.VOLTAGE,
        unit=UnitOfElectricPotential.VOLT,
        precision=2,
    ),
    _measurement(
        "current",
        device_class=SensorDeviceClass.CURRENT,
        unit=UnitOfElectricCurrent.AMPERE,
        precision=1,
    ),
    _measurement("power", device_class=SensorDeviceClass.POWER, unit=UnitOfPower.WATT, precision=0),
    _measurement(
        "temperature",
        device_class=SensorDeviceClass.TEMPERATURE,
        unit=UnitOfTemperature.CELSIUS,
        precision=1,
    ),
    VictronSensorEntityDescription(
        key="state",
        translation_key="state",
        value="state",
        device_class=SensorDeviceClass.ENUM,
        options=_options(dict(BATTERY_FLOW_STATES)),
    ),
    # The battery state as a number, so statistics can tell the share of time spent charging.
    _measurement("charging_share", device_class=None, unit=PERCENTAGE, precision=0),
    _measurement(
        "consumed_ah",
        device_class=None,
        unit=UNIT_AMPERE_HOUR,
        precision=1,
        entity_registry_enabled_default=False,
    ),
    _measurement(
        "time_to_go",
        device_class=SensorDeviceClass.DURATION,
        unit=UnitOfTime.SECONDS,
        precision=1,
        suggested_unit_of_measurement=UnitOfTime.HOURS,
    ),
    _measurement(
        "soh",
        device_class=None,
        unit=PERCENTAGE,
        precision=0,
        entity_category=EntityCategory.DIAGNOSTIC,
    ),
    _measurement(
        "min_cell_voltage",
        device_class=SensorDeviceClass.VOLTAGE,
        unit=UnitOfElectricPotential.VOLT,
        precision=3,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
    ),
    _measurement(
        "max_cell_voltage",
        device_class=SensorDeviceClass.VOLTAGE,
        unit=UnitOfElectricPotential.VOLT,
        precision=3,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
    ),
    _measurement(
        "cell_voltage_spread",
        device_class=SensorDeviceClass.VOLTAGE,
        unit=UnitOfElectricPotential.VOLT,
        precision=3,
        entity_category=EntityCategory.DIAGNOSTIC,
    ),
    VictronSensorEntityDescription(
        key="charge_cycles",
        translation_key="charge_cycles",
        value="charge_cycles",
        state_class=SensorStateClass.TOTAL_INCREASING,
        suggested_display_precision=0,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
    ),
    *(
        VictronSensorEntityDescription(
            key=key,
            translation_key=key,
            value=key,
            device_class=SensorDeviceClass.ENERGY,
            native_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
            state_class=SensorStateClass.TOTAL_INCREASING,
            suggested_display_precision=2,
        )
        for key in ("charged_energy", "discharged_energy")
    ),
    *(
        _measurement(
            key,
            device_class=SensorDeviceClass.POWER,
            unit=UnitOfPower.WATT,
            precision=0,
            device=DeviceKind.INSTALLATION,
        )
        for key in ("grid_power", "ac_consumption", "pv_power")
    ),
    VictronSensorEntityDescription(
        key="inverter_mode",
        translation_key="inverter_mode",
        value="inverter_mode",
        device=DeviceKind.INSTALLATION,
        device_class=SensorDeviceClass.ENUM,
        options=_options(dict(VEBUS_MODES)),
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
    ),
    VictronSensorEntityDescription(
        key="inverter_state",
        translation_key="inverter_state",
        value="inverter_state",
        device=DeviceKind.INSTALLATION,
        device_class=SensorDeviceClass.ENUM,
        options=_options(dict(VEBUS_STATES)),
    ),
    *(
        _measurement(
            key,
            device_class=device_class,
            unit=unit,
            precision=precision,
            device=DeviceKind.INSTALLATION,
        )
        for key, device_class, unit, precision in (
            (
                "ac_input_voltage",
                SensorDeviceClass.VOLTAGE,
                UnitOfElectricPotential.VOLT,
                0,
            ),
            ("ac_input_frequency", SensorDeviceClass.FREQUENCY, UnitOfFrequency.HERTZ, 2),
        )
    ),
    VictronSensorEntityDescription(
        key="grid_stress",
        translation_key="grid_stress",
        value="grid_quality",
        device_class=SensorDeviceClass.ENUM,
        options=[level.value for level in GridStress],
        device=DeviceKind.INSTALLATION,
    ),
    VictronSensorEntityDescription(
        key="gx_firmware",
        translation_key="gx_firmware",
        value="gx_firmware",
        device=DeviceKind.INSTALLATION,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
    ),
)


def _readings_total(view: BatteryView) -> int:
    return sum(view.readings_24h.values())


def _readings_by_source(view: BatteryView) -> dict[str, Any]:
    return {f"{source.value}_readings": n for source, n in view.readings_24h.items()}


def _counter(key: str, source: Source | None, **kwargs: Any) -> dict[str, Any]:
    return {
        "key": key,
        "translation_key": key,
        "source": source,
        "state_class": SensorStateClass.MEASUREMENT,
        "suggested_display_precision": 0,
        "entity_category": EntityCategory.DIAGNOSTIC,
        **kwargs,
    }


# The lambdas run only when their source is configured (see `_health_applies`).
HEALTH_SENSORS: tuple[VictronHealthSensorEntityDescription, ...] = (
    VictronHealthSensorEntityDescription(
        key="vrm_last_success",
        translation_key="vrm_last_success",
        source=Source.VRM,
        device_class=SensorDeviceClass.TIMESTAMP,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda v: v.vrm.last_success if v.vrm else None,
        parts=frozenset({"vrm.last_success"}),
    ),
    VictronHealthSensorEntityDescription(
        key="local_last_success",
        translation_key="local_last_success",
        source=Source.LOCAL,
        device_class=SensorDeviceClass.TIMESTAMP,
        entity_category=EntityCategory.DIAGNOSTIC,
        # Changes with every 10 s tick: off unless wanted, to spare the recorder.
        entity_registry_enabled_default=False,
        value_fn=lambda v: v.local.last_success if v.local else None,
        parts=frozenset({"local.last_success"}),
    ),
    VictronHealthSensorEntityDescription(
        **_counter("vrm_consecutive_failures", Source.VRM),
        value_fn=lambda v: v.vrm.failures if v.vrm else None,
        parts=frozenset({"vrm.failures"}),
    ),
    VictronHealthSensorEntityDescription(
        **_counter("local_consecutive_failures", Source.LOCAL),
        value_fn=lambda v: v.local.failures if v.local else None,
        parts=frozenset({"local.failures"}),
    ),
    VictronHealthSensorEntityDescription(
        **_counter("vrm_requests_last_hour", Source.VRM),
        # every entry on the VRM account counts here: they share one budget
        value_fn=lambda v: v.vrm.requests_last_hour if v.vrm else None,
        attributes_fn=lambda v: {"account_entries": v.vrm.account_entries} if v.vrm else {},
        parts=frozenset({"vrm.requests_last_hour", "vrm.account_entries"}),
    ),
    VictronHealthSensorEntityDescription(
        **_counter("readings_24h", None, entity_registry_enabled_default=False),
        value_fn=_readings_total,
        attributes_fn=_readings_by_source,
        parts=frozenset({"readings_24h"}),
    ),
)


@dataclass(frozen=True, kw_only=True)
class HistorySensorEntityDescription(SensorEntityDescription):
    """The VRM history import's progress; reads the importer's progress dict."""

    value_fn: Callable[[dict[str, Any]], StateType]
    attributes_fn: Callable[[dict[str, Any]], dict[str, Any]]


HISTORY_ATTRIBUTES: Final = (
    "days",  # the days wanted, of which the state says how many are imported
    "requests",
    "requests_this_hour",
    "rows",
    "next",
    "waiting",
    "retry_at",
    "last_error",
    "energy_until",
)
HISTORY_SENSOR: Final = HistorySensorEntityDescription(
    key="history_import",
    translation_key="history_import",
    device_class=SensorDeviceClass.DURATION,
    native_unit_of_measurement=UnitOfTime.DAYS,
    suggested_display_precision=1,
    entity_category=EntityCategory.DIAGNOSTIC,
    value_fn=lambda progress: progress["days_imported"],
    attributes_fn=lambda progress: {key: progress[key] for key in HISTORY_ATTRIBUTES},
)


SOC_DIFFERENCE_DESCRIPTION: Final = SensorEntityDescription(
    key=SOC_DIFFERENCE,
    translation_key=SOC_DIFFERENCE,
    native_unit_of_measurement=PERCENTAGE,
    state_class=SensorStateClass.MEASUREMENT,
    suggested_display_precision=1,
)


def _health_applies(
    description: VictronHealthSensorEntityDescription, sources: BatterySources
) -> bool:
    configured = sources.configured()
    return bool(configured) and (description.source is None or description.source in configured)


@dataclass(frozen=True, kw_only=True)
class FleetSensorEntityDescription(SensorEntityDescription):
    """A count of a VRM account's installations; `titles_fn` names those it counts."""

    titles_fn: Callable[[FleetSummary], tuple[str, ...]]


FLEET_SENSORS: tuple[FleetSensorEntityDescription, ...] = (
    FleetSensorEntityDescription(
        key="installations_online",
        translation_key="installations_online",
        state_class=SensorStateClass.MEASUREMENT,
        titles_fn=lambda summary: summary.online,
    ),
    FleetSensorEntityDescription(
        key="installations_offline",
        translation_key="installations_offline",
        state_class=SensorStateClass.MEASUREMENT,
        titles_fn=lambda summary: summary.offline,
    ),
    FleetSensorEntityDescription(
        key="installations_with_alarm",
        translation_key="installations_with_alarm",
        state_class=SensorStateClass.MEASUREMENT,
        titles_fn=lambda summary: summary.with_alarm,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: VictronConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the sensors that the entry's configured sources can feed.

    The fleet's sensors are added here too when this entry holds the fleet's entities.
    """
    async_offer_entities(hass, entry, Platform.SENSOR, _fleet_entities, async_add_entities)
    sources = entry.runtime_data.battery.sources
    if not sources.configured():
        return
    devices = EntryDevices(hass, entry)
    entities: list[SensorEntity] = [
        (GridStressSensor if description.key == "grid_stress" else VictronValueSensor)(
            entry, description, devices.info(description.device), frozenset({description.value})
        )
        for description in SENSORS
        if sources.can_serve(VALUES[description.value])
    ]
    entities.extend(
        VictronHealthSensor(entry, description, devices.installation, description.parts)
        for description in HEALTH_SENSORS
        if _health_applies(description, sources)
    )
    if entry.runtime_data.comparison is not None:
        entities.append(SocDifferenceSensor(entry, SOC_DIFFERENCE_DESCRIPTION, devices.battery))
    if (history := entry.runtime_data.history) is not None:
        entities.append(HistorySensor(entry, history, HISTORY_SENSOR, devices.installation))
    if (insight := entry.runtime_data.insight) is not None:
        entities.extend(
            InsightSensor(entry, insight, description, devices.battery)
            for description in INSIGHT_SENSORS
        )
    async_add_entities(entities)


def _fleet_entities(fleet: Fleet) -> list[FleetSensor]:
    return [FleetSensor(fleet, description) for description in FLEET_SENSORS]


class FleetSensor(FleetEntity, SensorEntity):
    """A count over the installations of a VRM account, naming them by title."""

    entity_description: FleetSensorEntityDescription

    @property
    def native_value(self) -> int:
        """How many installations."""
        return len(self.entity_description.titles_fn(self.summary))

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """Which installations, by title (never a site id or serial)."""
        return {"installations": list(self.entity_description.titles_fn(self.summary))}


class VictronValueSensor(VictronEntity, SensorEntity):
    """A value from the local source while fresh, else from VRM while fresh."""

    entity_description: VictronSensorEntityDescription

    @property
    def available(self) -> bool:
        """Available while a fresh source serves the value."""
        return self.view.values.get(self.entity_description.value) is not None

    @property
    def native_value(self) -> StateType:
        """The value as the freshest source has it (None: that source has no such value)."""
        value: StateType = self.view.value(self.entity_description.value)
        return value

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """Its source and age, and the measuring device of a stand-in."""
        shown = self.view.values.get(self.entity_description.value)
        return shown.attributes() if shown is not None else {}


class GridStressSensor(VictronValueSensor):
    """How stressed the AC input is, with the reasons and the nominal values judged against."""

    @property
    def native_value(self) -> StateType:
        """Normal, elevated or high; unknown while no grid is on the input."""
        quality = self.view.value("grid_quality")
        return quality.level.value if isinstance(quality, GridQuality) else None

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """The reasons, and its source and age."""
        quality = self.view.value("grid_quality")
        if not isinstance(quality, GridQuality):
            return super().extra_state_attributes
        return super().extra_state_attributes | {
            "reasons": list(quality.reasons),
            "nominal_voltage": quality.nominal_voltage,
            "nominal_frequency": quality.nominal_frequency,
        }


class VictronHealthSensor(VictronEntity, SensorEntity):
    """How a source is doing; available while the source is down, which it reports."""

    entity_description: VictronHealthSensorEntityDescription

    @property
    def native_value(self) -> StateType | datetime:
        """What the description reads from the view."""
        return self.entity_description.value_fn(self.view)

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """Its attributes, if the description has any."""
        attributes_fn = self.entity_description.attributes_fn
        return attributes_fn(self.view) if attributes_fn else None


class HistorySensor(CoordinatorEntity[Backfill], SensorEntity):
    """Days of VRM's past imported so far, with what the importer does next."""

    _attr_has_entity_name = True
    # the progress moves with every request: kept in the state, not in every recorded row
    _unrecorded_attributes = frozenset(HISTORY_ATTRIBUTES)
    entity_description: HistorySensorEntityDescription

    def __init__(
        self,
        entry: VictronConfigEntry,
        history: Backfill,
        description: HistorySensorEntityDescription,
        device_info: DeviceInfo,
    ) -> None:
        """Follow the entry's importer."""
        super().__init__(history)
        self.entity_description = description
        self._attr_unique_id = f"{entry_key(entry)}_{description.key}"
        self._attr_device_info = device_info

    @property
    def native_value(self) -> StateType:
        """Days imported."""
        return self.entity_description.value_fn(self.coordinator.data)

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """Requests, rows, what comes next and what it waits for."""
        return self.entity_description.attributes_fn(self.coordinator.data)


class SocDifferenceSensor(ComparisonEntity, SensorEntity):
    """Victron minus Sol-Ark state of charge, in percentage points."""

    @property
    def native_value(self) -> float | None:
        """The signed difference."""
        comparison = self.view.comparison
        result = comparison.result if comparison is not None else None
        return result.difference if result else None
