"""The dashboard's keys against the platforms' descriptions: a misspelt key is a missing card."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path

from custom_components.victron_cerbo.binary_sensor import (
    BATTERY_BINARY_SENSORS,
    FULL_CHARGE_OVERDUE,
    HEALTH_BINARY_SENSORS,
    SOC_DISAGREEMENT,
)
from custom_components.victron_cerbo.dashboard import (
    PROBLEM_KEYS,
    PROBLEMS,
    SOLARK,
    DashboardSettings,
    build_dashboard,
)
from custom_components.victron_cerbo.insight_entities import INSIGHT_SENSORS
from custom_components.victron_cerbo.sensor import HEALTH_SENSORS, SENSORS, SOC_DIFFERENCE

TRANSLATIONS = (
    Path(__file__).resolve().parent.parent
    / "custom_components"
    / "victron_cerbo"
    / "translations"
    / "en.json"
)

SETTINGS = DashboardSettings(
    title="Keys", voltage_range=(52.0, 58.0), temperature_range=(15.0, 30.0)
)


class _Recorder(Mapping[str, str]):
    """Has an entity id for every key, and remembers which keys the builder asked for."""

    def __init__(self) -> None:
        self.asked: set[str] = set()

    def __getitem__(self, key: str) -> str:
        self.asked.add(key)
        return f"sensor.x_{key}"

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def test_every_key_the_builder_uses_is_described() -> None:
    """Each key a card or a template line looks up is an entity the platforms describe."""
    entities = _Recorder()
    build_dashboard(entities, SETTINGS)
    described = {
        description.key
        for description in (
            *SENSORS,
            *HEALTH_SENSORS,
            *INSIGHT_SENSORS,
            *BATTERY_BINARY_SENSORS,
            *HEALTH_BINARY_SENSORS,
            FULL_CHARGE_OVERDUE,
        )
    } | {SOC_DIFFERENCE, SOC_DISAGREEMENT}  # the Sol-Ark comparison's, built apart
    assert len(entities.asked) > 60  # every section was built
    assert entities.asked - {SOLARK} <= described


def test_the_verdict_counts_every_problem_sensor() -> None:
    """A problem sensor added to a platform without words in the verdict fails here."""
    keys = [key for key, _ in PROBLEMS]
    assert len(keys) == len(set(keys))
    assert set(keys) == PROBLEM_KEYS
    assert {"vrm_reachable", "local_reachable"}.isdisjoint(PROBLEM_KEYS)  # on means all is well


def test_attribute_rows_name_translated_attributes() -> None:
    """An attribute row shows an attribute the entity translates: a misspelt one stays empty."""
    entities = _Recorder()
    config = build_dashboard(entities, SETTINGS)
    rows = [
        row
        for view in config["views"]
        for section in view.get("sections", [])
        for card in section["cards"]
        for row in card.get("entities", [])
        if row.get("type") == "attribute"
    ]
    assert {(row["entity"], row["attribute"]) for row in rows} == {
        ("sensor.x_risk_level", "factors"),
        ("sensor.x_risk_level", "actions"),
        ("sensor.x_risk_level", "points"),
    }
    sensors = json.loads(TRANSLATIONS.read_text(encoding="utf-8"))["entity"]["sensor"]
    translated = sensors["risk_level"]["state_attributes"]
    assert {row["attribute"] for row in rows} <= set(translated)
