"""Ask the battery: the LLM tool and the Assist intents, through Home Assistant's own helpers."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from homeassistant.components import conversation
from homeassistant.core import Context, HomeAssistant
from homeassistant.helpers import intent, llm
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.test_util.aiohttp import AiohttpClientMocker

from custom_components.victron_cerbo.assist import (
    API_ID,
    INTENT_CHARGE,
    INTENT_CHARGING,
    INTENT_DATA_AGE,
    INTENT_STATUS,
    TOOL_NAME,
    describe_charging,
    describe_status,
)
from custom_components.victron_cerbo.const import DOMAIN

from .helpers import (
    LOCAL_DATA,
    VRM_DATA,
    FakeCerbo,
    FakeVrm,
    Tick,
    break_cerbo,
    make_entry,
    setup_entry,
)

SENTENCES = Path(__file__).parent.parent / "custom_components" / DOMAIN / "sentences" / "en.yaml"


def _context() -> llm.LLMContext:
    fields: dict[str, Any] = {
        "platform": "test",
        "context": Context(),
        "language": "en",
        "assistant": "conversation",
        "device_id": None,
    }
    if "user_prompt" in llm.LLMContext.__dataclass_fields__:  # 2026.2 still has it
        fields["user_prompt"] = "how is the battery"
    return llm.LLMContext(**fields)


async def call_tool(hass: HomeAssistant) -> dict[str, Any]:
    """The tool's answer, called as a conversation agent calls it."""
    api = await llm.async_get_api(hass, API_ID, _context())
    assert [tool.name for tool in api.tools] == [TOOL_NAME]
    result = await api.async_call_tool(llm.ToolInput(tool_name=TOOL_NAME, tool_args={}))
    data: dict[str, Any] = getattr(result, "data", result)  # 2026.10 wraps it in a ToolResult
    return data


async def ask(hass: HomeAssistant, intent_type: str) -> str:
    response = await intent.async_handle(hass, "test", intent_type, {}, language="en")
    speech: str = response.speech["plain"]["speech"]
    return speech


@pytest.fixture
async def cabin(hass: HomeAssistant, cerbo: FakeCerbo, tick: Tick) -> None:
    """A local-only installation, set up and fresh."""
    await setup_entry(hass, make_entry(hass, LOCAL_DATA))


@pytest.mark.usefixtures("cabin")
async def test_the_tool_gives_every_value_with_its_source_and_age(
    hass: HomeAssistant, aioclient_mock: AiohttpClientMocker
) -> None:
    requests = aioclient_mock.call_count
    data = await call_tool(hass)
    assert aioclient_mock.call_count == requests  # read-only: it asks no source
    (cabin,) = data["installations"]
    assert cabin["installation"] == "Cabin"
    assert cabin["soc"] == {"value": 81.0, "unit": "%", "source": "local", "age_seconds": 0}
    assert cabin["voltage"]["value"] == 49.8
    assert cabin["temperature"] == {
        "value": 30.7,
        "unit": "°C",
        "source": "local",
        "age_seconds": 0,
    }
    assert cabin["state"]["value"] == "discharging"
    assert cabin["time_to_go"] == {"value": None, "available": False}
    assert cabin["stale"] is False
    assert cabin["problems"] == []
    assert cabin["risk"] is None  # no recorder here: no insight
    assert cabin["solark_comparison"] is None
    assert cabin["speech"] == (
        "Cabin battery is at 81 percent, discharging, 49.8 volts, 30.7 degrees Celsius. "
        "Cabin battery data is 0 seconds old, from the Cerbo GX on the network."
    )


@pytest.mark.usefixtures("cabin")
async def test_intents_answer_from_the_same_values(hass: HomeAssistant) -> None:
    assert await ask(hass, INTENT_CHARGE) == "Cabin battery is at 81 percent."
    assert await ask(hass, INTENT_CHARGING) == "Cabin battery is discharging at 44 watts."
    assert await ask(hass, INTENT_DATA_AGE) == (
        "Cabin battery data is 0 seconds old, from the Cerbo GX on the network."
    )
    assert await ask(hass, INTENT_STATUS) == (
        "Cabin battery is at 81 percent, discharging, 49.8 volts, 30.7 degrees Celsius. "
        "Cabin battery data is 0 seconds old, from the Cerbo GX on the network."
    )


@pytest.mark.usefixtures("cabin")
async def test_old_data_says_its_age(hass: HomeAssistant, cerbo: FakeCerbo, tick: Tick) -> None:
    """Two failed ticks: still served (until the third), and the answer says how old."""
    break_cerbo(cerbo)
    await tick(120, step=60)
    assert await ask(hass, INTENT_CHARGE) == "Cabin battery is at 81 percent (data 2 minutes old)."
    (cabin,) = (await call_tool(hass))["installations"]
    # not yet past the staleness limit, so not called stale; its age says enough
    assert (cabin["soc"]["age_seconds"], cabin["stale"]) == (120, False)
    assert cabin["speech"].endswith(
        "Cabin battery data is 2 minutes old, from the Cerbo GX on the network."
    )


@pytest.mark.usefixtures("cabin")
async def test_unavailable_is_said_never_guessed(
    hass: HomeAssistant, cerbo: FakeCerbo, tick: Tick
) -> None:
    break_cerbo(cerbo)
    await tick(60)
    assert await ask(hass, INTENT_CHARGE) == "Cabin battery charge is unavailable."
    assert await ask(hass, INTENT_CHARGING) == "Cabin battery state is unavailable."
    assert await ask(hass, INTENT_DATA_AGE) == "Cabin has no current battery data."
    (cabin,) = (await call_tool(hass))["installations"]
    assert cabin["soc"] == {"value": None, "available": False}
    assert cabin["speech"] == "Cabin battery data is unavailable."


async def test_two_installations_are_named(
    hass: HomeAssistant, cerbo: FakeCerbo, vrm: FakeVrm, tick: Tick
) -> None:
    await setup_entry(hass, make_entry(hass, LOCAL_DATA))
    await setup_entry(hass, make_entry(hass, VRM_DATA, title="Boat", unique_id="boat"))
    answer = await ask(hass, INTENT_CHARGE)
    assert answer.startswith("Boat battery is at ")
    assert answer.endswith(" Cabin battery is at 81 percent.")
    names = [item["installation"] for item in (await call_tool(hass))["installations"]]
    assert names == ["Boat", "Cabin"]


async def test_nothing_loaded(hass: HomeAssistant) -> None:
    assert await async_setup_component(hass, DOMAIN, {})
    assert await ask(hass, INTENT_CHARGE) == "No Victron installation is loaded."
    assert (await call_tool(hass))["installations"] == []


@pytest.mark.usefixtures("cabin")
async def test_the_shipped_sentences_reach_the_intents(hass: HomeAssistant) -> None:
    """Copied into custom_sentences as the README says, Assist answers without an LLM."""
    folder = Path(hass.config.path("custom_sentences", "en"))

    def copy_sentences() -> None:
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(SENTENCES, folder / "victron_cerbo.yaml")

    await hass.async_add_executor_job(copy_sentences)
    try:
        assert await async_setup_component(hass, "homeassistant", {})
        assert await async_setup_component(hass, "conversation", {})
        for question, answer in (
            ("what is the battery charge", "Cabin battery is at 81 percent."),
            ("is the battery charging", "Cabin battery is discharging at 44 watts."),
            ("how old is the battery data", "Cabin battery data is 0 seconds old"),
            ("how is the battery", "Cabin battery is at 81 percent, discharging"),
        ):
            result = await conversation.async_converse(
                hass, question, None, Context(), language="en"
            )
            assert result.response.speech["plain"]["speech"].startswith(answer), question
    finally:
        await hass.async_add_executor_job(shutil.rmtree, folder.parent)


def test_sentences_for_what_the_fixtures_do_not_show() -> None:
    """Idle, hours-old data, missing companions and stale data, in plain words."""
    values: dict[str, dict[str, Any]] = {
        "soc": {"value": 55.0, "unit": "%", "source": "vrm", "age_seconds": 7200},
        "state": {"value": "idle", "unit": None, "source": "vrm", "age_seconds": 7200},
        "power": {"value": 3.0, "unit": "W", "source": "vrm", "age_seconds": 7200},
        "voltage": {"value": None, "available": False},
        "temperature": {"value": None, "available": False},
    }
    assert describe_charging("Boat", values) == "Boat battery is idle (data 2 hours old)."
    assert describe_status("Boat", values, stale=True) == (
        "Boat battery is at 55 percent, idle. Boat battery data is 2 hours old, from the VRM "
        "cloud. The data is stale."
    )


@pytest.mark.usefixtures("recorder_mock")
async def test_the_risk_comes_with_the_insight(
    hass: HomeAssistant, cerbo: FakeCerbo, tick: Tick
) -> None:
    await setup_entry(hass, make_entry(hass, LOCAL_DATA))
    (cabin,) = (await call_tool(hass))["installations"]
    assert cabin["risk"] == {"level": "low", "score": 0, "factors": []}
