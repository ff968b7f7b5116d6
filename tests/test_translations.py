"""translations/en.json against the rules hassfest applies, and against what the code uses.

hassfest, Home Assistant's validator (script/hassfest/translations.py in home-assistant/core),
checks every custom integration's en.json in its CI and in the HACS default-repository checks.
`problems` states its rules for the sections this file has, so a file hassfest would reject fails
here first; the bad samples below show each rule catches what it is for.
"""

from __future__ import annotations

import json
import re
import string
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import Any

import pytest
from homeassistant.components.recorder import Recorder
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.victron_cerbo.const import CONF_SOLARK_ENTITY
from tests.helpers import VRM_DATA, make_entry, setup_entry

EN_JSON = (
    Path(__file__).parents[1] / "custom_components" / "victron_cerbo" / "translations" / "en.json"
)

# Keys of translated things (entity, state, device, selector option): lowercase letters, digits,
# single '-' or '_' between them. Slugs (platforms, exception keys): the same with '_' only.
TRANSLATION_KEY = re.compile(r"[a-z0-9]+(?:[-_][a-z0-9]+)*")
SLUG = re.compile(r"[a-z0-9]+(?:_[a-z0-9]+)*")
# Texts carry no markup, no address (it goes in a placeholder), and a reference to another
# string ("[%key:...%]") only as the whole text.
HTML_TAG = re.compile(r"<[a-z][\s\S]*>", re.IGNORECASE)
ADDRESS = re.compile(
    r"(?:(?:https?|ftps?|scp|mqtts?|socket|socks5)://|www\.)[a-z0-9]+(?:[-.][a-z0-9]+)*\.[a-z]{2,5}",
    re.IGNORECASE,
)
PARTIAL_REFERENCE = re.compile(r".\[%|%\].")
QUOTED_PLACEHOLDER = re.compile(r"'\{\w+\}'")

Problems = list[str]


def text_problems(where: str, value: Any, *, placeholders: bool = True) -> Problems:
    """One translated text."""
    if not isinstance(value, str):
        return [f"{where}: a text is expected, not {type(value).__name__}"]
    found = []
    if HTML_TAG.search(value):
        found.append(f"{where}: HTML")
    if ADDRESS.search(value):
        found.append(f"{where}: a URL; put it in a placeholder")
    if PARTIAL_REFERENCE.search(value):
        found.append(f"{where}: a reference combined with other text")
    if value != value.strip():
        found.append(f"{where}: leading or trailing spaces")
    if QUOTED_PLACEHOLDER.search(value):
        found.append(f"{where}: a placeholder in single quotes")
    try:
        names = [name for _, name, _, _ in string.Formatter().parse(value) if name]
    except ValueError as err:
        return [*found, f"{where}: unbalanced braces ({err})"]
    if names and not placeholders:
        found.append(f"{where}: placeholders are not allowed here")
    found += [
        f"{where}: placeholder {{{name}}} is no identifier"
        for name in names
        if not name.isidentifier()
    ]
    return found


def mapping_problems(
    where: str,
    value: Any,
    *,
    keys: re.Pattern[str] | None = None,
    item: Callable[[str, Any], Problems],
) -> Problems:
    """A mapping whose keys follow `keys` and whose every value passes `item`."""
    if not isinstance(value, Mapping) or not value:
        return [f"{where}: a non-empty mapping is expected"]
    found = []
    for key, sub in value.items():
        if keys is not None and not keys.fullmatch(key):
            found.append(f"{where}: key '{key}' is not a valid key")
        found += item(f"{where}.{key}", sub)
    return found


def fields_problems(
    where: str,
    value: Any,
    fields: Mapping[str, Callable[[str, Any], Problems]],
    required: Collection[str] = (),
) -> Problems:
    """An object with only the known fields, each checked by its own rule."""
    if not isinstance(value, Mapping):
        return [f"{where}: an object is expected"]
    found = [f"{where}: '{key}' is not allowed here" for key in value if key not in fields]
    found += [f"{where}: '{key}' is required" for key in required if key not in value]
    for key, rule in fields.items():
        if key in value:
            found += rule(f"{where}.{key}", value[key])
    return found


def texts(where: str, value: Any) -> Problems:
    return mapping_problems(where, value, item=text_problems)


def plain_texts(where: str, value: Any) -> Problems:
    """Texts without placeholders under translation keys (entity states and the like)."""
    return mapping_problems(
        where,
        value,
        keys=TRANSLATION_KEY,
        item=lambda w, v: text_problems(w, v, placeholders=False),
    )


def keyed_texts(where: str, value: Any) -> Problems:
    return mapping_problems(where, value, keys=TRANSLATION_KEY, item=text_problems)


def step_problems(where: str, value: Any) -> Problems:
    section = {
        "data": texts,
        "data_description": texts,
        "description": text_problems,
        "name": text_problems,
    }
    found = fields_problems(
        where,
        value,
        {
            "title": text_problems,
            "description": text_problems,
            "data": texts,
            "data_description": texts,
            "menu_options": texts,
            "menu_option_descriptions": texts,
            "submit": text_problems,
            "sections": lambda w, v: mapping_problems(
                w, v, item=lambda w2, v2: fields_problems(w2, v2, section)
            ),
        },
    )
    # a field description belongs to a field the step names
    if isinstance(value, Mapping):
        data = value.get("data") or {}
        found += [
            f"{where}.data_description.{key}: no such field in data"
            for key in value.get("data_description") or {}
            if key not in data
        ]
    return found


def flow_problems(where: str, value: Any) -> Problems:
    """A config, options or repair flow. (A config flow's title comes from the manifest.)"""
    return fields_problems(
        where,
        value,
        {
            "flow_title": text_problems,
            "step": lambda w, v: mapping_problems(w, v, item=step_problems),
            "error": texts,
            "abort": texts,
            "progress": texts,
            "create_entry": texts,
            "initiate_flow": lambda w, v: fields_problems(w, v, {"user": text_problems}, {"user"}),
        },
        {"step"},
    )


def issue_problems(where: str, value: Any) -> Problems:
    """A repair issue explains itself either in its description or in its fix flow: one of two."""
    found = fields_problems(
        where,
        value,
        {"title": text_problems, "description": text_problems, "fix_flow": flow_problems},
        {"title"},
    )
    if isinstance(value, Mapping) and ("description" in value) == ("fix_flow" in value):
        found.append(f"{where}: needs exactly one of 'description' and 'fix_flow'")
    return found


def entity_problems(where: str, value: Any) -> Problems:
    attribute = {"name": lambda w, v: text_problems(w, v, placeholders=False), "state": plain_texts}
    return fields_problems(
        where,
        value,
        {
            "name": text_problems,
            "state": plain_texts,
            "state_attributes": lambda w, v: mapping_problems(
                w, v, keys=TRANSLATION_KEY, item=lambda w2, v2: fields_problems(w2, v2, attribute)
            ),
            "unit_of_measurement": lambda w, v: text_problems(w, v, placeholders=False),
        },
    )


SELECTOR = {"options": keyed_texts, "choices": keyed_texts, "unit_of_measurement": keyed_texts}
SECTIONS: dict[str, Callable[[str, Any], Problems]] = {
    "title": text_problems,
    "config": flow_problems,
    "options": flow_problems,
    "issues": lambda w, v: mapping_problems(w, v, item=issue_problems),
    "exceptions": lambda w, v: mapping_problems(
        w, v, keys=SLUG, item=lambda w2, v2: fields_problems(w2, v2, {"message": text_problems})
    ),
    "selector": lambda w, v: mapping_problems(
        w,
        v,
        keys=SLUG,
        item=lambda w2, v2: fields_problems(w2, v2, SELECTOR),
    ),
    "device": lambda w, v: mapping_problems(
        w,
        v,
        keys=TRANSLATION_KEY,
        item=lambda w2, v2: fields_problems(w2, v2, {"name": text_problems}),
    ),
    "entity": lambda w, v: mapping_problems(
        w,
        v,
        keys=SLUG,
        item=lambda w2, v2: mapping_problems(w2, v2, keys=TRANSLATION_KEY, item=entity_problems),
    ),
}


def problems(strings: Any) -> Problems:
    """Everything hassfest would reject, for the sections above (others: extend SECTIONS first)."""
    return fields_problems("en.json", strings, SECTIONS)


def load() -> dict[str, Any]:
    result: dict[str, Any] = json.loads(EN_JSON.read_text(encoding="utf-8"))
    return result


def test_en_json_passes_hassfest_rules() -> None:
    assert problems(load()) == []


def with_change(path: str, value: Any) -> dict[str, Any]:
    """en.json with one value put at a dotted path (None deletes it)."""
    strings = load()
    *parents, last = path.split(".")
    node = strings
    for key in parents:
        node = node.setdefault(key, {})
    if value is None:
        del node[last]
    else:
        node[last] = value
    return strings


FIX_FLOW = {"step": {"choose": {"description": "Pick one."}}}


@pytest.mark.parametrize(
    ("path", "value", "complaint"),
    [
        ("issues.broken", {"title": "T", "description": "D", "fix_flow": FIX_FLOW}, "exactly one"),
        ("issues.broken", {"title": "T"}, "exactly one"),
        ("issues.broken", {"description": "D"}, "'title' is required"),
        ("issues.broken", {"title": "T", "fix_flow": {"abort": {"x": "y"}}}, "'step' is required"),
        ("config.title", "Victron", "'title' is not allowed"),  # hassfest: moved to the manifest
        ("config.step.user.note", "x", "'note' is not allowed"),
        ("config.step.user.data_description.nothing", "x", "no such field"),
        ("config.error.unknown", " Unknown", "leading or trailing"),
        ("config.error.unknown", "See <b>this</b>", "HTML"),
        ("config.error.unknown", "See https://vrm.victronenergy.com", "URL"),
        ("config.error.unknown", "[%key:common::x%] and more", "reference combined"),
        ("config.error.unknown", "Name '{name}'", "single quotes"),
        ("config.error.unknown", "Value {0}", "no identifier"),
        ("config.error.unknown", "Value {name", "unbalanced"),
        ("exceptions.Bad-Key", {"message": "x"}, "not a valid key"),
        ("exceptions.vrm_timeout.text", "x", "'text' is not allowed"),
        ("entity.sensor.soc.state", {"Full": "Full"}, "not a valid key"),
        ("entity.sensor.soc.state", {"full": "{level}"}, "placeholders are not allowed"),
        ("entity.sensor.bad__key", {"name": "x"}, "not a valid key"),
        ("selector.sources.options.both", 3, "a text is expected"),
        ("device.battery.model", "x", "'model' is not allowed"),
        ("services", {"x": {}}, "'services' is not allowed"),
    ],
)
def test_each_rule_catches_its_mistake(path: str, value: Any, complaint: str) -> None:
    found = problems(with_change(path, value))
    assert any(complaint in problem for problem in found), found


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
@pytest.mark.parametrize("entry_options", [{CONF_SOLARK_ENTITY: "sensor.inverter_soc"}])
async def test_every_entity_has_its_translation(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    entity_registry: er.EntityRegistry,
    init_integration: MockConfigEntry,
) -> None:
    """Both sources, the Sol-Ark comparison, the history import and a fleet: every entity
    there is, from en.json.

    A second installation on the same VRM token makes a fleet, whose entities the first entry
    (created first) holds.
    """
    await setup_entry(hass, make_entry(hass, VRM_DATA, title="Boat", unique_id="boat"))
    entities = er.async_entries_for_config_entry(entity_registry, init_integration.entry_id)
    translated = load()["entity"]
    assert len(entities) > 40
    missing = [
        f"{entity.domain}.{entity.translation_key}"
        for entity in entities
        if entity.translation_key not in translated.get(entity.domain, {})
    ]
    assert missing == []
    # and none of en.json's entity names is left over from an entity that is gone
    used = {(entity.domain, entity.translation_key) for entity in entities}
    unused = [
        f"{platform}.{key}"
        for platform, keys in translated.items()
        for key in keys
        if (platform, key) not in used
    ]
    assert unused == []
