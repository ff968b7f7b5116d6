"""VRM's hourly battery history into the statistics of our own measurement sensors.

Mean, minimum and maximum of each hour, in the unit the sensor's statistics are kept in (°F on a
US-customary system), with the metadata the sensor platform itself writes, so the recorder's own
compile of later hours finds the same metadata.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from homeassistant.components.recorder.models import (
    StatisticData,
    StatisticMeanType,
    StatisticMetaData,
)
from homeassistant.components.recorder.statistics import (
    STATISTIC_UNIT_TO_UNIT_CONVERTER,
    async_import_statistics,
)
from homeassistant.components.sensor import SensorDeviceClass
from homeassistant.components.sensor.const import UNIT_CONVERTERS
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util

from .api.vrm import VrmStats

HOUR: Final = 3600
# our sensor key -> VRM attribute code of the system battery (device "System overview")
HISTORY_KEYS: Final = {"soc": "bs", "voltage": "bv", "current": "bc", "power": "bp"}
HISTORY_KEYS_ALL: Final = HISTORY_KEYS | {"temperature": "bT"}
NATIVE_UNITS: Final = {
    "soc": "%",
    "voltage": "V",
    "current": "A",
    "power": "W",
    "temperature": "°C",
}
DEVICE_CLASSES: Final = {
    "soc": SensorDeviceClass.BATTERY,
    "voltage": SensorDeviceClass.VOLTAGE,
    "current": SensorDeviceClass.CURRENT,
    "power": SensorDeviceClass.POWER,
    "temperature": SensorDeviceClass.TEMPERATURE,
}


def import_measurements(
    hass: HomeAssistant,
    entities: dict[str, str],
    stats: VrmStats,
    span: tuple[int, int],
    live: set[int],
) -> dict[str, int]:
    """Import VRM's hours of the span that the recorder did not record live."""
    counts: dict[str, int] = {}
    for key, entity_id in entities.items():
        unit, convert = _unit(hass, key, entity_id)
        rows = [
            StatisticData(
                start=dt_util.utc_from_timestamp(point.start),
                mean=convert(point.mean),
                min=convert(point.min),
                max=convert(point.max),
            )
            for point in stats.points(HISTORY_KEYS_ALL[key])
            if span[0] <= point.start < span[1]
            and point.start % HOUR == 0
            and point.start not in live
        ]
        if not rows:
            continue
        async_import_statistics(hass, _metadata(key, entity_id, unit), rows)
        counts[key] = len(rows)
    return counts


def _unit(hass: HomeAssistant, key: str, entity_id: str) -> tuple[str, Callable[[float], float]]:
    """The unit the sensor's statistics are kept in, and VRM's value converted to it."""
    native = NATIVE_UNITS[key]
    state = hass.states.get(entity_id)
    unit = state.attributes.get("unit_of_measurement") if state is not None else None
    converter = UNIT_CONVERTERS.get(DEVICE_CLASSES[key])
    if (
        not isinstance(unit, str)
        or unit == native
        or converter is None
        or unit not in converter.VALID_UNITS
    ):
        return native, lambda value: value
    return unit, converter.converter_factory(native, unit)


def _metadata(key: str, entity_id: str, unit: str) -> StatisticMetaData:
    """What the sensor platform itself records for a measurement sensor.

    The unit class follows the sensor platform's rule (the device class's converter, else
    the unit's), so the recorder's own compile later finds the same metadata.
    """
    converter = UNIT_CONVERTERS.get(DEVICE_CLASSES[key])
    if converter is None or unit not in converter.VALID_UNITS:
        converter = STATISTIC_UNIT_TO_UNIT_CONVERTER.get(unit)
    return StatisticMetaData(
        has_sum=False,
        mean_type=StatisticMeanType.ARITHMETIC,
        name=None,
        source="recorder",
        statistic_id=entity_id,
        unit_class=None if converter is None else converter.UNIT_CLASS,
        unit_of_measurement=unit,
    )
