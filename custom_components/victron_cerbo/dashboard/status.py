"""The status card: Jinja lines for what a tile cannot say (verdicts, units, source, age).

Pure string building, no Home Assistant here; the templates run in the markdown card.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from .cards import NO_VALUES, SOLARK, TO, DashboardSettings, fmt

SOURCES: Final = (("local", "Cerbo GX on your network"), ("vrm", "VRM cloud"))
# What a reachable source without fresh battery values is doing.
NOT_FRESH: Final = {
    "local": "the Cerbo GX has no battery values",
    "vrm": "VRM answers, but its data is old",
}


def status_card(entities: Mapping[str, str], settings: DashboardSettings) -> dict[str, Any] | None:
    """Markdown with what a tile cannot say: verdicts, both temperature units, source, age."""
    lines = [
        line
        for line in (
            _voltage_line(entities, settings),
            _current_line(entities),
            _temperature_line(entities, settings),
            _source_line(entities),
            _age_line(entities),
            _verdict_line(entities),
        )
        if line
    ]
    if not lines:
        return None
    # "{%-" eats the line break before a statement, so the list stays one list.
    return {"type": "markdown", "content": "\n".join(lines)}


def _limits_verdict(
    sensor: str | None,
    value: str,
    unit: str,
    band: tuple[float, float],
    band_unit: str,
    *,
    lead: str = " ",
) -> str:
    """The problem sensor's verdict with its own limits; without it, the optimal band's.

    `elif` branches after an `if` on a missing value, written after `lead`; lines stay short,
    so the YAML fits the copy page.
    """
    if sensor:
        # `sensor` is the name of a template variable that holds the problem sensor's id.
        return (
            f"\n  {{%- elif is_state({sensor}, 'on') %}}{lead}⚠️ out of range, limits"
            f"\n    {{{{- ' ' ~ state_attr({sensor}, 'minimum') }}}}{TO}"
            f"{{{{ state_attr({sensor}, 'maximum') }}}} {unit}"
            f"\n  {{%- elif is_state({sensor}, 'off') %}}{lead}✅ within limits"
            f"\n  {{%- else %}}{lead}not judged"
        )
    low, high = band
    return (
        f"\n  {{%- elif not ({low} <= {value} <= {high}) %}}"
        f"{lead}outside the optimal {fmt(low)}{TO}{fmt(high)} {band_unit}"
        f"\n  {{%- else %}}{lead}✅ optimal"
    )


def _voltage_line(entities: Mapping[str, str], settings: DashboardSettings) -> str | None:
    if "voltage" not in entities:
        return None
    sensor = entities.get("voltage_out_of_range")
    return (
        f"{{%- set v = states('{entities['voltage']}') | float(none) %}}\n"
        + (f"{{%- set vp = '{sensor}' %}}\n" if sensor else "")
        + "- **Voltage:**\n  {%- if v is none %} unknown"
        + _limits_verdict(sensor and "vp", "v", "V", settings.voltage_range, "V")
        + "\n  {%- endif %}"
    )


def _current_line(entities: Mapping[str, str]) -> str | None:
    if "current" not in entities:
        return None
    return (
        f"{{%- set a = states('{entities['current']}') | float(none) %}}\n"
        "- **Current:**\n  {%- if a is none %} unknown\n  {%- elif a > 0 %} charging"
        "\n  {%- elif a < 0 %} discharging\n  {%- else %} idle\n  {%- endif %}"
    )


def _temperature_line(entities: Mapping[str, str], settings: DashboardSettings) -> str | None:
    """Both units, then the verdict: the sensor's own limits are in °C."""
    if "temperature" not in entities:
        return None
    temp = entities["temperature"]
    sensor = entities.get("temperature_out_of_range")
    return (
        f"{{%- set t = states('{temp}') | float(none) %}}\n"
        f"{{%- set u = state_attr('{temp}', 'unit_of_measurement') %}}\n"
        + (f"{{%- set tp = '{sensor}' %}}\n" if sensor else "")
        + "- **Temperature:**{% if t is none %} unknown\n"
        "  {%- elif u == '°F' %} {{ ((t - 32) * 5 / 9) | round(1) }} °C · {{ t | round(1) }} °F\n"
        "  {%- else %} {{ t | round(1) }} °C · {{ (t * 9 / 5 + 32) | round(1) }} °F\n"
        "  {%- endif %}\n"
        "  {%- if t is none %}"
        + _limits_verdict(
            sensor and "tp",
            "t",
            "°C",
            settings.temperature_range,
            settings.temperature_unit,
            lead=", ",
        )
        + "\n  {%- endif %}"
    )


def _reading(entities: Mapping[str, str]) -> str | None:
    """The battery sensor whose `source` and `data_age` attributes describe the values shown."""
    return entities.get("voltage") or entities.get("soc")


def _reachable(entities: Mapping[str, str]) -> tuple[str, list[tuple[str, str]]]:
    """Template lines setting one variable per source's reachability; (variable, key) pairs."""
    found = [
        (f"{key}_up", key, entities[f"{key}_reachable"])
        for key, _ in SOURCES
        if f"{key}_reachable" in entities
    ]
    lines = "".join(
        f"{{%- set {name} = is_state('{entity}', 'on') %}}\n" for name, _, entity in found
    )
    return lines, [(name, key) for name, key, _ in found]


def _source_line(entities: Mapping[str, str]) -> str | None:
    """The reading's own source; without one, no source has fresh data, whatever answers."""
    preamble, reachable = _reachable(entities)
    reading = _reading(entities)
    labels = dict(SOURCES)
    if not reading:
        if not reachable:
            return None
        tests = [(name, f"{labels[key]} reachable") for name, key in reachable]
        last = " none reachable"
    else:
        preamble += f"{{%- set src = state_attr('{reading}', 'source') %}}\n"
        tests = [(f"src == '{key}'", label) for key, label in SOURCES]
        tests += [
            (name, f"⚠️ no source has fresh data ({NOT_FRESH[key]})") for name, key in reachable
        ]
        last = " ⚠️ no source has fresh data, none reachable"
    text = preamble + "- **Data source:**"
    for index, (test, label) in enumerate(tests):
        keyword = "if" if index == 0 else "elif"
        text += f"\n  {{%- {keyword} {test} %}} {label}"
    return text + f"\n  {{%- else %}}{last}\n  {{%- endif %}}"


def _age_line(entities: Mapping[str, str]) -> str | None:
    """How old the values shown are: the reading's `data_age`, never when a request was made.

    VRM answers a request with a sample that may be hours old; its `data_age` grows between
    polls (the entities rewrite it every 30 s), so the line does not need a clock of its own.
    """
    reading = _reading(entities)
    if not reading:
        return None
    return (
        f"{{%- set age = state_attr('{reading}', 'data_age') %}}\n"
        "- **Measured:**"
        "\n  {%- if age is number and age < 90 %} {{ age | int }} seconds ago"
        "\n  {%- elif age is number and age < 5400 %} {{ (age / 60) | round | int }} minutes ago"
        "\n  {%- elif age is number %} {{ (age / 3600) | round(1) }} hours ago"
        "\n  {%- else %} ⚠️ no fresh values\n  {%- endif %}"
    )


# Every problem sensor, most urgent first, in the verdict's words. The keys are those of
# `keys.PROBLEM_KEYS` (read from the descriptions); a test holds the two equal.
PROBLEMS: Final = (
    ("battery_alarm", "battery alarm"),
    ("voltage_out_of_range", "voltage out of range"),
    ("temperature_out_of_range", "temperature out of range"),
    ("low_soc", "low state of charge"),
    ("cell_imbalance", "cell imbalance"),
    ("soh_degraded", "state of health degraded"),
    ("full_charge_overdue", "full charge overdue"),
    ("grid_lost", "grid lost"),
    ("soc_disagreement", "Victron and Sol-Ark disagree"),
    ("data_stale", "data is stale"),
    ("vrm_budget", "VRM request budget nearly used"),
)


def _verdict_line(entities: Mapping[str, str]) -> str | None:
    """Healthy only when every problem sensor is off, values are there and a source answers.

    A problem sensor that is unavailable has judged nothing: the verdict says so rather than
    calling it healthy.
    """
    checks = [
        f"\n    ['{entities[key]}', '{text}'],"
        for key, text in PROBLEMS
        if key in entities and (key != "soc_disagreement" or SOLARK in entities)
    ]
    preamble, reachable = _reachable(entities)
    reading = _reading(entities)
    if not checks and not reachable and not reading:
        return None
    text = preamble + "{%- set ns = namespace(raised=[], unjudged=[]) %}\n"
    if reachable:
        up = " or ".join(name for name, _ in reachable)
        text += (
            f"{{%- if not ({up}) %}}{{% set ns.raised = ['no source reachable'] %}}{{% endif %}}\n"
        )
    if checks:
        text += (
            "{%- for id, text in [" + "".join(checks) + "\n  ] %}\n"
            "  {%- if is_state(id, 'on') %}{% set ns.raised = ns.raised + [text] %}\n"
            "  {%- elif is_state(id, 'unavailable') %}"
            "{% set ns.unjudged = ns.unjudged + [text] %}\n"
            "  {%- endif %}\n"
            "{%- endfor %}\n"
        )
    if reading:
        text += (
            f"{{%- if states('{reading}') in {list(NO_VALUES)} %}}\n"
            "  {%- set ns.raised = ns.raised + ['no battery values'] %}\n"
            "{%- endif %}\n"
        )
    return text + (
        "- **Status:**"
        "\n  {%- if ns.raised %} ⚠️ {{ ns.raised | join(', ') }}"
        "\n  {%- elif ns.unjudged %} ❔ not judged: {{ ns.unjudged | join(', ') }}"
        "\n  {%- else %} ✅ healthy\n  {%- endif %}"
    )


def _alarms_line(entities: Mapping[str, str]) -> str | None:
    """The alarms the battery monitor raises, by name, from the "Battery alarm" sensor."""
    sensor = entities.get("battery_alarm")
    if not sensor:
        return None
    return (
        f"{{%- set al = state_attr('{sensor}', 'alarms') %}}\n"
        "- **Alarms:**"
        "\n  {%- if al %} ⚠️ {{ al.keys() | map('replace', '_', ' ') | join(', ') }}"
        f"\n  {{%- elif states('{sensor}') in {list(NO_VALUES)} %}} unknown"
        "\n  {%- else %} none\n  {%- endif %}"
    )


def installation_status_card(entities: Mapping[str, str]) -> dict[str, Any] | None:
    """One installation in the fleet dashboard: data age, health verdict and alarms."""
    lines = [
        line
        for line in (_age_line(entities), _verdict_line(entities), _alarms_line(entities))
        if line
    ]
    if not lines:
        return None
    return {"type": "markdown", "content": "\n".join(lines)}
