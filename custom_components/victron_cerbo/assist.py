"""Ask the battery: an LLM tool and Assist intents, both answered by `battery_status`.

Read-only: the answers are built from the battery views the entities show; nothing here calls
a source, a service or writes anything. An unavailable value is said to be unavailable, a value
older than a minute says its age, and every answer names the installation it is about.

The intents need sentences: Home Assistant reads a custom integration's sentences only from the
user's `custom_sentences/<language>/` folder, so the English ones ship in `sentences/en.yaml`
for the user to copy there (the README says how).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import intent, llm
from homeassistant.util import dt as dt_util

from .battery import BatteryView, Shown
from .const import DOMAIN
from .sources import Source

if TYPE_CHECKING:
    from .runtime import VictronConfigEntry

TOOL_NAME: Final = "get_victron_battery_status"
API_ID: Final = DOMAIN
INTENT_CHARGE: Final = "VictronBatteryCharge"
INTENT_CHARGING: Final = "VictronBatteryCharging"
INTENT_DATA_AGE: Final = "VictronBatteryDataAge"
INTENT_STATUS: Final = "VictronBatteryStatus"
OLD_AFTER: Final = 60  # seconds: older data says its age

# the values the answer gives, their units as the entities show them
VALUES: Final = {
    "soc": "%",
    "voltage": "V",
    "current": "A",
    "power": "W",
    "temperature": "°C",
    "state": None,
    "time_to_go": "s",
}
type Values = dict[str, dict[str, Any]]
type Describe = Callable[[str, Values], str]

SOURCE_NAMES: Final = {Source.LOCAL: "the Cerbo GX on the network", Source.VRM: "the VRM cloud"}


@dataclass(frozen=True, kw_only=True)
class Installation:
    """One loaded installation as the answers see it."""

    name: str
    view: BatteryView
    risk: dict[str, Any] | None


def installations(hass: HomeAssistant) -> list[Installation]:
    """Every loaded entry, by name (a loaded entry has its first battery view)."""
    found = [
        Installation(name=entry.title, view=entry.runtime_data.battery.data, risk=_risk(entry))
        for entry in hass.config_entries.async_loaded_entries(DOMAIN)
    ]
    return sorted(found, key=lambda installation: installation.name)


def _risk(entry: VictronConfigEntry) -> dict[str, Any] | None:
    insight = entry.runtime_data.insight
    if insight is None or insight.data is None:
        return None
    risk = insight.data.risk
    return {
        "level": risk.level.value,
        "score": risk.score,
        "factors": [factor.key for factor in risk.factors],
    }


def _age(view: BatteryView, shown: Shown) -> int:
    """Seconds since the sample, as of now (the view may be up to 30 s old)."""
    return shown.data_age + max(0, round((dt_util.utcnow() - view.now).total_seconds()))


def _value(view: BatteryView, key: str) -> dict[str, Any]:
    shown = view.values.get(key)
    if shown is None or shown.value is None:
        return {"value": None, "available": False}
    return {
        "value": shown.value,
        "unit": VALUES[key],
        "source": shown.source.value,
        "age_seconds": _age(view, shown),
    }


def battery_status(installation: Installation) -> dict[str, Any]:
    """What the answers say of one installation, structured, with a sentence for speech."""
    view = installation.view
    values = {key: _value(view, key) for key in VALUES}
    comparison = view.comparison
    return {
        "installation": installation.name,
        **values,
        "stale": view.stale,
        "problems": sorted(key for key, verdict in view.problems.items() if verdict and verdict.on),
        "risk": installation.risk,
        "solark_comparison": None if comparison is None else comparison.attributes(),
        "speech": describe_status(installation.name, values, view.stale),
    }


def _duration(seconds: int) -> str:
    if seconds < 90:  # noqa: PLR2004
        return f"{seconds} seconds"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} minutes"
    return f"{round(seconds / 3600)} hours"


def _number(value: float) -> str:
    return f"{value:g}" if isinstance(value, int) else f"{round(value, 1):g}"


def _age_note(value: dict[str, Any]) -> str:
    age = value.get("age_seconds")
    return f" (data {_duration(age)} old)" if age is not None and age >= OLD_AFTER else ""


def describe_charge(name: str, values: Values) -> str:
    """The charge, e.g. "Cabin battery is at 76 percent.", or that it is unavailable."""
    soc = values["soc"]
    if soc["value"] is None:
        return f"{name} battery charge is unavailable."
    return f"{name} battery is at {_number(soc['value'])} percent{_age_note(soc)}."


def describe_charging(name: str, values: Values) -> str:
    """Charging, discharging or idle, e.g. "Cabin battery is charging at 1200 watts."."""
    state, power = values["state"], values["power"]
    if state["value"] is None:
        return f"{name} battery state is unavailable."
    watts = "" if power["value"] is None else f" at {_number(abs(power['value']))} watts"
    if state["value"] == "idle":
        watts = ""
    return f"{name} battery is {state['value']}{watts}{_age_note(state)}."


def describe_age(name: str, values: Values) -> str:
    """How old the data is and where it came from, or that there is none."""
    soc = values["soc"]
    if soc["value"] is None:
        return f"{name} has no current battery data."
    source = SOURCE_NAMES[Source(soc["source"])]
    return f"{name} battery data is {_duration(soc['age_seconds'])} old, from {source}."


def describe_status(name: str, values: Values, stale: bool) -> str:
    """Charge, state, voltage and temperature in one sentence, and the data's age."""
    if values["soc"]["value"] is None:
        return f"{name} battery data is unavailable."
    parts = [f"{name} battery is at {_number(values['soc']['value'])} percent"]
    state = values["state"]["value"]
    if state is not None:
        parts.append(state)
    for key, unit in (("voltage", "volts"), ("temperature", "degrees Celsius")):
        if values[key]["value"] is not None:
            parts.append(f"{_number(values[key]['value'])} {unit}")
    sentence = ", ".join(parts) + "."
    age = describe_age(name, values)
    return f"{sentence} {age}" + (" The data is stale." if stale else "")


def _answer(hass: HomeAssistant, describe: Describe) -> str:
    found = installations(hass)
    if not found:
        return "No Victron installation is loaded."
    return " ".join(
        describe(installation.name, {key: _value(installation.view, key) for key in VALUES})
        for installation in found
    )


class _BatteryIntent(intent.IntentHandler):
    """Answers one question about every loaded installation; changes nothing."""

    @staticmethod
    def describe(name: str, values: Values) -> str:
        """The answer for one installation."""
        raise NotImplementedError

    async def async_handle(self, intent_obj: intent.Intent) -> intent.IntentResponse:
        """Speak the answer."""
        response = intent_obj.create_response()
        response.async_set_speech(_answer(intent_obj.hass, self.describe))
        return response


class ChargeIntent(_BatteryIntent):
    """What is the battery charge."""

    intent_type = INTENT_CHARGE
    description = "Tells the state of charge of each Victron battery"
    describe = staticmethod(describe_charge)


class ChargingIntent(_BatteryIntent):
    """Is the battery charging."""

    intent_type = INTENT_CHARGING
    description = "Tells whether each Victron battery charges, discharges or idles"
    describe = staticmethod(describe_charging)


class DataAgeIntent(_BatteryIntent):
    """How old is the battery data."""

    intent_type = INTENT_DATA_AGE
    description = "Tells how old each Victron battery's data is and where it came from"
    describe = staticmethod(describe_age)


class StatusIntent(_BatteryIntent):
    """How is the battery."""

    intent_type = INTENT_STATUS
    description = "Tells the charge, state, voltage and temperature of each Victron battery"

    @staticmethod
    def describe(name: str, values: Values) -> str:
        """The status sentence (staleness is in the age)."""
        return describe_status(name, values, stale=False)


class BatteryStatusTool(llm.Tool):
    """The LLM tool: every installation's battery, health and risk, read-only."""

    name = TOOL_NAME
    description = (
        "Get the current battery status of each Victron installation: state of charge, "
        "voltage, current, power, temperature, charging state, time to go, where each value "
        "came from and how old it is, problems, the risk level and the Sol-Ark comparison. "
        "Read-only. Say a value is unavailable when it is null; never guess it."
    )
    integration = DOMAIN  # newer Home Assistant asks each tool for its integration

    async def async_call(
        self,
        hass: HomeAssistant,
        tool_input: llm.ToolInput,
        llm_context: llm.LLMContext,
    ) -> Any:
        """Every installation's status; a ToolResult where Home Assistant has one."""
        data = {
            "installations": [battery_status(installation) for installation in installations(hass)],
            "read_at": dt_util.utcnow().isoformat(),
        }
        result_type = getattr(llm, "ToolResult", None)  # 2026.2 returns the plain dict
        return data if result_type is None else result_type(data=data)


if hasattr(llm, "ToolAnnotations"):  # newer Home Assistant: say the tool only reads
    BatteryStatusTool.annotations = llm.ToolAnnotations(
        read_only=True, destructive=False, idempotent=True, open_world=False
    )


@dataclass(slots=True, kw_only=True)
class BatteryAPI(llm.API):
    """An LLM API offering only the battery status tool."""

    async def async_get_api_instance(self, llm_context: llm.LLMContext) -> llm.APIInstance:
        """The tool and a short prompt."""
        return llm.APIInstance(
            api=self,
            api_prompt=(
                "Use the Victron battery tool to answer questions about the battery: charge, "
                "power, temperature, health and risk. Name the installation when there are "
                "several. Say how old the data is when it is older than a minute."
            ),
            llm_context=llm_context,
            tools=[BatteryStatusTool()],
        )


@callback
def async_setup_assist(hass: HomeAssistant) -> None:
    """Register the intents and the LLM API once per Home Assistant run."""
    for handler in (ChargeIntent(), ChargingIntent(), DataAgeIntent(), StatusIntent()):
        intent.async_register(hass, handler)
    llm.async_register_api(hass, BatteryAPI(hass=hass, id=API_ID, name="Victron battery"))
