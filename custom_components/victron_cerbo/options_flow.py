"""Options flow for the Victron Cerbo GX integration: thresholds, cadences and the Sol-Ark pick.

The form groups its fields in sections and shows temperatures in the user's unit; the entry
stores the options flat and in °C.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from homeassistant.config_entries import ConfigFlowResult, OptionsFlowWithReload
from homeassistant.const import UnitOfTemperature
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import section
from homeassistant.helpers.selector import (
    BooleanSelector,
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
)
from homeassistant.util.unit_conversion import TemperatureConverter

from .const import (
    CONF_BUDGET_LIMIT,
    CONF_BUDGET_WARNING,
    CONF_FOLLOW_SYSTEM_BATTERY,
    CONF_HOST,
    CONF_LOCAL_FAST_INTERVAL,
    CONF_LOW_SOC,
    CONF_NOMINAL_VOLTAGE,
    CONF_SHOW_DASHBOARD,
    CONF_SOLARK_DWELL,
    CONF_SOLARK_ENTITY,
    CONF_SOLARK_THRESHOLD,
    CONF_TEMPERATURE_MAX,
    CONF_TEMPERATURE_MIN,
    CONF_VOLTAGE_MAX,
    CONF_VOLTAGE_MIN,
    CONF_VRM_POLL_INTERVAL,
    CONF_VRM_TOKEN,
    DEFAULT_BUDGET_LIMIT,
    DEFAULT_BUDGET_WARNING,
    DEFAULT_LOCAL_FAST_INTERVAL,
    DEFAULT_LOW_SOC,
    DEFAULT_NOMINAL_VOLTAGE,
    DEFAULT_SHOW_DASHBOARD,
    DEFAULT_SOLARK_DWELL,
    DEFAULT_SOLARK_THRESHOLD,
    DEFAULT_TEMPERATURE_MAX,
    DEFAULT_TEMPERATURE_MIN,
    DEFAULT_VRM_POLL_INTERVAL,
    MIN_VRM_POLL_INTERVAL,
    SAFE_TEMPERATURE_MAX,
    SAFE_TEMPERATURE_MIN,
)
from .flow_helpers import is_own_entity, solark_selector
from .limits import safe_voltage_range
from .options import (
    CONF_END_OF_LIFE_SOH,
    CONF_FULL_CHARGE_DAYS,
    CONF_HISTORY_DAYS,
    CONF_RATED_CYCLES,
    DEFAULT_END_OF_LIFE_SOH,
    DEFAULT_FULL_CHARGE_DAYS,
    DEFAULT_HISTORY_DAYS,
    DEFAULT_RATED_CYCLES,
    MAX_HISTORY_DAYS,
)
from .runtime import VictronConfigEntry
from .schema import vol
from .solark import async_suggest_solark_entity

# The options form groups its fields; the entry stores them flat, as before sections.
SECTION_VRM = "vrm"
SECTION_CERBO = "cerbo"
SECTION_LIMITS = "limits"
SECTION_SOLARK = "solark"
SECTION_HEALTH = "health"
TEMPERATURE_KEYS = (CONF_TEMPERATURE_MIN, CONF_TEMPERATURE_MAX)


class VictronCerboOptionsFlow(OptionsFlowWithReload):
    """Thresholds, cadences and the Sol-Ark comparison; applied by reloading the entry."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Show and validate the options."""
        errors: dict[str, str] = {}
        unit = self.hass.config.units.temperature_unit
        if user_input is not None:
            options = _flatten(user_input, unit)
            # An empty end is automatic; judge a lone end against the widest automatic one.
            low, high = safe_voltage_range(options)
            if options.get(CONF_VOLTAGE_MIN, low) >= options.get(CONF_VOLTAGE_MAX, high):
                errors["base"] = "voltage_range"
            elif options.get(CONF_TEMPERATURE_MIN, SAFE_TEMPERATURE_MIN) >= options.get(
                CONF_TEMPERATURE_MAX, SAFE_TEMPERATURE_MAX
            ):
                errors["base"] = "temperature_range"
            elif options.get(CONF_BUDGET_WARNING, 0) >= options.get(CONF_BUDGET_LIMIT, 1):
                errors["base"] = "budget_range"
            elif (entity_id := options.get(CONF_SOLARK_ENTITY)) and is_own_entity(
                self.hass, entity_id
            ):
                # Comparing the battery with itself always agrees and hides a real disagreement.
                errors["base"] = "solark_own_entity"
            else:
                return self.async_create_entry(data=options)

        suggested = dict(self.config_entry.options)
        # Offer the inverter's SOC sensor when a known Sol-Ark/Sunsynk setup is present.
        if (
            user_input is None
            and CONF_SOLARK_ENTITY not in suggested
            and (found := async_suggest_solark_entity(self.hass))
        ):
            suggested[CONF_SOLARK_ENTITY] = found
        schema = _options_schema(self.hass, self.config_entry, unit)
        values = user_input if user_input is not None else _nest(schema, suggested, unit)
        return self.async_show_form(
            step_id="init",
            data_schema=self.add_suggested_values_to_schema(schema, values),
            errors=errors,
            description_placeholders={
                "safe_min": _temperature_text(SAFE_TEMPERATURE_MIN, unit),
                "safe_max": _temperature_text(SAFE_TEMPERATURE_MAX, unit),
                "band_min": _temperature_text(DEFAULT_TEMPERATURE_MIN, unit),
                "band_max": _temperature_text(DEFAULT_TEMPERATURE_MAX, unit),
            },
        )


def _to_celsius(value: float, unit: str) -> float:
    """A temperature typed in the user's unit, in °C as stored."""
    celsius = TemperatureConverter.convert(value, unit, UnitOfTemperature.CELSIUS)
    return round(celsius, 2)


def _from_celsius(value: float, unit: str) -> float:
    """A stored °C temperature in the user's unit, as shown."""
    return round(TemperatureConverter.convert(value, UnitOfTemperature.CELSIUS, unit), 1)


def _temperature_text(celsius: float, unit: str) -> str:
    return f"{_from_celsius(celsius, unit):g} {unit}"


def _flatten(user_input: Mapping[str, Any], unit: str) -> dict[str, Any]:
    """The form's sections as the flat options the entry stores, temperatures in °C."""
    options: dict[str, Any] = {}
    for key, value in user_input.items():
        options |= value if isinstance(value, Mapping) else {key: value}
    for key in TEMPERATURE_KEYS:
        if key in options:
            options[key] = _to_celsius(float(options[key]), unit)
    return options


def _nest(schema: vol.Schema, options: Mapping[str, Any], unit: str) -> dict[str, Any]:
    """Stored options placed in the form's sections, temperatures in the user's unit."""
    shown = dict(options)
    for key in TEMPERATURE_KEYS:
        if key in shown:
            shown[key] = _from_celsius(float(shown[key]), unit)
    nested: dict[str, Any] = {}
    for marker, value in schema.schema.items():
        name = str(marker)
        if isinstance(value, section):
            fields = {str(inner) for inner in value.schema.schema}
            nested[name] = {key: val for key, val in shown.items() if key in fields}
        elif name in shown:
            nested[name] = shown[name]
    return nested


def _number(minimum: float, maximum: float, step: float, unit: str) -> NumberSelector:
    return NumberSelector(
        NumberSelectorConfig(
            min=minimum,
            max=maximum,
            step=step,
            unit_of_measurement=unit,
            mode=NumberSelectorMode.BOX,
        )
    )


def _options_schema(hass: HomeAssistant, entry: VictronConfigEntry, unit: str) -> vol.Schema:
    """Only the options that apply to the sources this entry uses, in sections."""
    fields: dict[vol.Marker, Any] = {}
    if CONF_VRM_TOKEN in entry.data:
        fields[vol.Required(SECTION_VRM)] = section(
            vol.Schema(
                {
                    vol.Required(
                        CONF_VRM_POLL_INTERVAL, default=DEFAULT_VRM_POLL_INTERVAL
                    ): _number(MIN_VRM_POLL_INTERVAL, 3600, 1, "s"),
                    vol.Required(CONF_BUDGET_WARNING, default=DEFAULT_BUDGET_WARNING): _number(
                        1, 199, 1, "requests/h"
                    ),
                    vol.Required(CONF_BUDGET_LIMIT, default=DEFAULT_BUDGET_LIMIT): _number(
                        2, 200, 1, "requests/h"
                    ),
                    vol.Required(CONF_HISTORY_DAYS, default=DEFAULT_HISTORY_DAYS): _number(
                        0, MAX_HISTORY_DAYS, 1, "d"
                    ),
                }
            )
        )
    if CONF_HOST in entry.data:
        fields[vol.Required(SECTION_CERBO)] = section(
            vol.Schema(
                {
                    vol.Required(
                        CONF_LOCAL_FAST_INTERVAL, default=DEFAULT_LOCAL_FAST_INTERVAL
                    ): _number(5, 300, 1, "s"),
                    vol.Required(CONF_FOLLOW_SYSTEM_BATTERY, default=False): BooleanSelector(),
                }
            )
        )
    low, high = (_from_celsius(value, unit) for value in (-40, 80))
    temperature = _number(low, high, 0.5, unit)
    fields[vol.Required(SECTION_LIMITS)] = section(
        vol.Schema(
            {
                vol.Required(
                    CONF_NOMINAL_VOLTAGE, default=str(DEFAULT_NOMINAL_VOLTAGE)
                ): SelectSelector(
                    SelectSelectorConfig(
                        options=["12", "24", "48"],
                        translation_key=CONF_NOMINAL_VOLTAGE,
                        mode=SelectSelectorMode.LIST,
                    )
                ),
                # Empty: automatic (the battery's own limits, else safe presets); a value always
                # wins. No defaults, so saving the form never turns a preset into a user's limit.
                vol.Optional(CONF_VOLTAGE_MIN): _number(5, 70, 0.1, "V"),
                vol.Optional(CONF_VOLTAGE_MAX): _number(5, 70, 0.1, "V"),
                vol.Optional(CONF_TEMPERATURE_MIN): temperature,
                vol.Optional(CONF_TEMPERATURE_MAX): temperature,
                vol.Required(CONF_LOW_SOC, default=DEFAULT_LOW_SOC): _number(0, 100, 1, "%"),
            }
        )
    )
    fields[vol.Required(SECTION_HEALTH)] = section(
        vol.Schema(
            {
                vol.Required(CONF_END_OF_LIFE_SOH, default=DEFAULT_END_OF_LIFE_SOH): _number(
                    1, 99, 1, "%"
                ),
                vol.Required(CONF_RATED_CYCLES, default=DEFAULT_RATED_CYCLES): _number(
                    1, 100_000, 1, "cycles"
                ),
                vol.Required(CONF_FULL_CHARGE_DAYS, default=DEFAULT_FULL_CHARGE_DAYS): _number(
                    1, 365, 1, "d"
                ),
            }
        ),
        {"collapsed": True},
    )
    fields[vol.Required(SECTION_SOLARK)] = section(
        vol.Schema(
            {
                vol.Optional(CONF_SOLARK_ENTITY): solark_selector(hass),
                vol.Required(CONF_SOLARK_THRESHOLD, default=DEFAULT_SOLARK_THRESHOLD): _number(
                    0.5, 50, 0.5, "%"
                ),
                vol.Required(CONF_SOLARK_DWELL, default=DEFAULT_SOLARK_DWELL): _number(
                    0, 3600, 1, "s"
                ),
            }
        )
    )
    fields[vol.Required(CONF_SHOW_DASHBOARD, default=DEFAULT_SHOW_DASHBOARD)] = BooleanSelector()
    return vol.Schema(fields)
