"""The battery health insight's entities: each reads one figure of the insight view.

A figure without a value is unknown, never 0, and says why in its `reason` attribute; every
figure says what it is based on (`start`, `end`, `samples`). Those attributes move with every
recompute, so the recorder keeps none of them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Final

from homeassistant.components.binary_sensor import (
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import (
    PERCENTAGE,
    UnitOfElectricPotential,
    UnitOfTemperature,
    UnitOfTime,
)
from homeassistant.helpers.update_coordinator import CoordinatorEntity
from homeassistant.util import dt as dt_util

from .entity import entry_key
from .insight import BalanceLevel, Figure, RiskLevel, Score
from .insight_coordinator import InsightCoordinator, InsightView

if TYPE_CHECKING:
    from homeassistant.helpers.device_registry import DeviceInfo
    from homeassistant.helpers.typing import StateType

    from .runtime import VictronConfigEntry

# what a figure is based on and why it has no value: new with every recompute
BASIS: Final = frozenset({"start", "end", "samples", "reason"})

# the recommended action for each risk factor (translated: entity state attributes)
ACTIONS: Final = {
    "soh_critical": "replace_battery",
    "soh_low": "plan_replacement",
    "cell_imbalance": "balance_cells",
    "module_offline": "check_module",
    "battery_hot": "cool_battery",
    "vebus_alarms": "check_inverter_alarms",
    "inverter_temperature": "cool_inverter",
    "vrm_connection": "check_internet",
    "can_errors": "check_can_bus",
}


def _time(seconds: int | None) -> str | None:
    return None if seconds is None else dt_util.utc_from_timestamp(seconds).isoformat()


def _date(seconds: int | None) -> date | None:
    if seconds is None:
        return None
    return dt_util.as_local(dt_util.utc_from_timestamp(seconds)).date()


def basis(figure: Figure) -> dict[str, Any]:
    """What a figure is based on: first hour, end of the last hour, hourly rows, reason."""
    return {
        "start": _time(figure.start),
        "end": _time(figure.end),
        "samples": figure.samples,
        "reason": figure.reason,
    }


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def _score_attributes(score: Score) -> dict[str, Any]:
    return {
        "deductions": {name: round(value, 1) for name, value in score.deductions.items()},
        "unknown": list(score.unknown),
    }


def _risk_attributes(view: InsightView) -> dict[str, Any]:
    factors = view.risk.factors
    return {
        "score": view.risk.score,
        "factors": [factor.key for factor in factors],
        "actions": [ACTIONS[factor.key] for factor in factors],
        "points": {factor.key: factor.points for factor in factors},
        "unknown": list(view.risk.unknown),
    }


@dataclass(frozen=True, kw_only=True)
class InsightSensorEntityDescription(SensorEntityDescription):
    """One figure of the insight view and its attributes."""

    value_fn: Callable[[InsightView], StateType | date | datetime]
    attributes_fn: Callable[[InsightView], dict[str, Any]]
    unrecorded: frozenset[str] = frozenset()


def _figure_sensor(
    key: str,
    figure: str,
    value_fn: Callable[[InsightView], StateType | date | datetime],
    extra: Callable[[InsightView], dict[str, Any]] | None = None,
    unrecorded: frozenset[str] = frozenset(),
    **kwargs: Any,
) -> InsightSensorEntityDescription:
    """A sensor of one figure (`figure` names it in the view): its basis, then its companions.

    The sensors of the ageing and of the cycles share their companions (`COMPANIONS`).
    """
    if extra is None and figure in COMPANIONS:
        extra, unrecorded = COMPANIONS[figure]

    def attributes(view: InsightView) -> dict[str, Any]:
        found: Figure = getattr(view, figure)
        return basis(found) | (extra(view) if extra else {})

    return InsightSensorEntityDescription(
        key=key,
        translation_key=key,
        value_fn=value_fn,
        attributes_fn=attributes,
        unrecorded=unrecorded,
        **kwargs,
    )


def _ageing_extra(view: InsightView) -> dict[str, Any]:
    return {
        "days": view.ageing.days,
        "soh_fitted": _round(view.ageing.soh, 1),
        "months_to_end_of_life": _round(view.ageing.months_left, 1),
        "end_of_life_soh": view.options.end_of_life_soh,
    }


def _cycles_extra(view: InsightView) -> dict[str, Any]:
    return {
        "capacity_kwh": _round(view.cycles.capacity_kwh, 2),
        "throughput_kwh": _round(view.cycles.throughput_kwh, 2),
        "rated_cycles": view.options.rated_cycles,
    }


def _ageing_end(view: InsightView) -> date | None:
    ageing, computed = view.ageing, int(view.computed_at.timestamp())
    if ageing.months_left is None:
        return None
    return _date(computed + round(ageing.months_left * 365.25 / 12 * 86400))


COMPANIONS: Final[dict[str, tuple[Callable[[InsightView], dict[str, Any]], frozenset[str]]]] = {
    "ageing": (_ageing_extra, frozenset({"soh_fitted", "months_to_end_of_life"})),
    "cycles": (_cycles_extra, frozenset({"throughput_kwh"})),
}


def _score_sensor(key: str, part: str) -> InsightSensorEntityDescription:
    """One of the health scores (`part` names it in `HealthScores`)."""

    def score(view: InsightView) -> Score:
        found: Score = getattr(view.scores, part)
        return found

    return InsightSensorEntityDescription(
        key=key,
        translation_key=key,
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=lambda v: score(v).value,
        attributes_fn=lambda v: _score_attributes(score(v)),
    )


MEASUREMENT = SensorStateClass.MEASUREMENT

INSIGHT_SENSORS: Final[tuple[InsightSensorEntityDescription, ...]] = (
    _figure_sensor(
        "soh_change",
        "ageing",
        lambda v: _round(v.ageing.per_month, 3),
        native_unit_of_measurement=PERCENTAGE,
        state_class=MEASUREMENT,
        suggested_display_precision=2,
    ),
    _figure_sensor(
        "soh_end_of_life",
        "ageing",
        _ageing_end,
        device_class=SensorDeviceClass.DATE,
    ),
    _figure_sensor(
        "equivalent_full_cycles",
        "cycles",
        lambda v: _round(v.cycles.total, 1),
        state_class=MEASUREMENT,
        suggested_display_precision=1,
    ),
    _figure_sensor(
        "cycles_per_day",
        "cycles",
        lambda v: _round(v.cycles.per_day, 3),
        state_class=MEASUREMENT,
        suggested_display_precision=2,
    ),
    _figure_sensor(
        "remaining_cycles",
        "cycles",
        lambda v: None if v.cycles.remaining is None else round(v.cycles.remaining),
        state_class=MEASUREMENT,
        entity_registry_enabled_default=False,
    ),
    _figure_sensor(
        "cycles_end_of_life",
        "cycles",
        lambda v: _date(v.cycles.end_of_life),
        device_class=SensorDeviceClass.DATE,
    ),
    _figure_sensor(
        "cell_spread_day",
        "balance",
        lambda v: v.balance.spread,
        lambda v: {
            "level": v.balance.level,
            "trend_per_day": _round(v.balance.trend, 4),
            "days": v.balance.days,
        },
        device_class=SensorDeviceClass.VOLTAGE,
        native_unit_of_measurement=UnitOfElectricPotential.VOLT,
        state_class=MEASUREMENT,
        suggested_display_precision=3,
        unrecorded=frozenset({"trend_per_day"}),
    ),
    _figure_sensor(
        "balance_level",
        "balance",
        lambda v: v.balance.level,
        lambda v: {"spread": v.balance.spread, "trend_per_day": _round(v.balance.trend, 4)},
        device_class=SensorDeviceClass.ENUM,
        options=[level.value for level in BalanceLevel],
        unrecorded=frozenset({"spread", "trend_per_day"}),
    ),
    _figure_sensor(
        "hours_above_35",
        "heat",
        lambda v: v.heat.hours_above_35,
        device_class=SensorDeviceClass.DURATION,
        native_unit_of_measurement=UnitOfTime.HOURS,
        state_class=MEASUREMENT,
        suggested_display_precision=0,
    ),
    _figure_sensor(
        "hours_above_45",
        "heat",
        lambda v: v.heat.hours_above_45,
        device_class=SensorDeviceClass.DURATION,
        native_unit_of_measurement=UnitOfTime.HOURS,
        state_class=MEASUREMENT,
        suggested_display_precision=0,
        entity_registry_enabled_default=False,
    ),
    _figure_sensor(
        "weekly_mean_temperature",
        "heat",
        lambda v: _round(v.heat.mean, 2),
        lambda v: {"extra_degradation": _round(v.heat.extra_degradation, 2)},
        device_class=SensorDeviceClass.TEMPERATURE,
        native_unit_of_measurement=UnitOfTemperature.CELSIUS,
        state_class=MEASUREMENT,
        suggested_display_precision=1,
    ),
    _figure_sensor(
        "heat_degradation",
        "heat",
        lambda v: _round(v.heat.extra_degradation, 2),
        lambda v: {"mean_temperature": _round(v.heat.mean, 2)},
        native_unit_of_measurement=PERCENTAGE,
        state_class=MEASUREMENT,
        suggested_display_precision=1,
        entity_registry_enabled_default=False,
    ),
    _figure_sensor(
        "days_since_full_charge",
        "full_charge",
        lambda v: _round(v.full_charge.days_since, 2),
        lambda v: {
            "last_full": _time(v.full_charge.last_full),
            "overdue_after_days": v.options.full_charge_days,
        },
        device_class=SensorDeviceClass.DURATION,
        native_unit_of_measurement=UnitOfTime.DAYS,
        state_class=MEASUREMENT,
        suggested_display_precision=1,
    ),
    _figure_sensor(
        "deepest_discharge",
        "deepest_discharge",
        lambda v: v.deepest_discharge.soc,
        lambda v: {"at": _time(v.deepest_discharge.at)},
        native_unit_of_measurement=PERCENTAGE,
        state_class=MEASUREMENT,
        suggested_display_precision=0,
    ),
    InsightSensorEntityDescription(
        key="risk_score",
        translation_key="risk_score",
        state_class=MEASUREMENT,
        value_fn=lambda v: v.risk.score,
        attributes_fn=_risk_attributes,
    ),
    InsightSensorEntityDescription(
        key="risk_level",
        translation_key="risk_level",
        device_class=SensorDeviceClass.ENUM,
        options=[level.value for level in RiskLevel],
        value_fn=lambda v: v.risk.level,
        attributes_fn=_risk_attributes,
    ),
    *(
        _score_sensor(key, part)
        for key, part in (
            ("health_score", "overall"),
            ("battery_health_score", "battery"),
            ("inverter_health_score", "inverter"),
            ("connectivity_health_score", "connectivity"),
        )
    ),
)


class InsightEntity(CoordinatorEntity[InsightCoordinator]):
    """An entity that shows one figure of its entry's battery health insight."""

    _attr_has_entity_name = True

    def __init__(
        self,
        entry: VictronConfigEntry,
        insight: InsightCoordinator,
        description: InsightSensorEntityDescription | BinarySensorEntityDescription,
        device_info: DeviceInfo,
    ) -> None:
        """Follow the entry's insight."""
        super().__init__(insight)
        self.entity_description = description
        self._attr_unique_id = f"{entry_key(entry)}_{description.key}"
        self._attr_device_info = device_info

    @property
    def view(self) -> InsightView:
        """The insight as of the last recompute."""
        return self.coordinator.data


class InsightSensor(InsightEntity, SensorEntity):
    """A figure of the insight."""

    entity_description: InsightSensorEntityDescription

    def __init__(
        self,
        entry: VictronConfigEntry,
        insight: InsightCoordinator,
        description: InsightSensorEntityDescription,
        device_info: DeviceInfo,
    ) -> None:
        """Follow the entry's insight; the figure's basis is not recorded."""
        super().__init__(entry, insight, description, device_info)
        self._unrecorded_attributes = BASIS | description.unrecorded

    @property
    def native_value(self) -> StateType | date | datetime:
        """The figure; None (unknown) when the statistics cannot give it yet."""
        return self.entity_description.value_fn(self.view)

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """What it is based on, why it has no value, and its companions."""
        return self.entity_description.attributes_fn(self.view)


class FullChargeOverdueSensor(InsightEntity, BinarySensorEntity):
    """On when the battery was not full for longer than the option allows."""

    _unrecorded_attributes = BASIS | {"days_since"}

    @property
    def is_on(self) -> bool | None:
        """Overdue; None until the statistics say when the battery was last full."""
        return self.view.full_charge.overdue

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """When it was last full, and the limit."""
        full = self.view.full_charge
        return basis(full) | {
            "last_full": _time(full.last_full),
            "days_since": _round(full.days_since, 2),
            "overdue_after_days": self.view.options.full_charge_days,
        }
