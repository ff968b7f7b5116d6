"""The bundled Lovelace dashboard: built from the entity registry, one sidebar panel per entry.

One builder (`build_dashboard`) turns "which entity ids exist" plus the entry's settings into a
dashboard config made of core cards only. It serves three consumers:

* the sidebar dashboard, rebuilt on every load, so renamed entities keep working;
* the "Copy as YAML" subview of that dashboard (the same config with the user's entity ids);
* `dashboards/victron_cerbo.yaml` in the repository, rendered with example entity ids by
  `scripts/dashboard_yaml.py`.

Time ranges are views (tabs), because core cards cannot switch a range without a helper entity.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, override

from homeassistant.components import frontend
from homeassistant.components.lovelace.const import LOVELACE_DATA, MODE_YAML
from homeassistant.components.lovelace.dashboard import LovelaceConfig
from homeassistant.const import Platform, UnitOfTemperature
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.json import json_bytes, json_fragment
from homeassistant.util.unit_conversion import TemperatureConverter
from homeassistant.util.yaml import dump
from homeassistant.util.yaml.dumper import add_representer

from .const import CONF_SHOW_DASHBOARD, CONF_SOLARK_ENTITY, DEFAULT_SHOW_DASHBOARD, DOMAIN, LOGGER
from .coordinator import VictronConfigEntry
from .limits import temperature_range, voltage_range

URL_PREFIX: Final = "victron-cerbo"  # lovelace needs a hyphen in a dashboard's URL path
ICON: Final = "mdi:home-battery"
RANGES: Final = (6, 12, 24, 48, 72)  # hours the trend views offer
COPY_VIEW_PATH: Final = "copy"


SENSOR_KEYS: Final = (
    "soc",
    "voltage",
    "current",
    "power",
    "temperature",
    "state",
    "charging_share",
    "consumed_ah",
    "time_to_go",
    "soh",
    "min_cell_voltage",
    "max_cell_voltage",
    "cell_voltage_spread",
    "charge_cycles",
    "charged_energy",
    "discharged_energy",
    "grid_power",
    "ac_consumption",
    "pv_power",
    "inverter_mode",
    "inverter_state",
    "gx_firmware",
    "vrm_last_success",
    "local_last_success",
    "vrm_consecutive_failures",
    "local_consecutive_failures",
    "vrm_requests_last_hour",
    "readings_24h",
    "soc_difference",
)
BINARY_SENSOR_KEYS: Final = (
    "vrm_reachable",
    "local_reachable",
    "data_stale",
    "vrm_budget",
    "voltage_out_of_range",
    "temperature_out_of_range",
    "low_soc",
    "grid_lost",
    "cell_imbalance",
    "soh_degraded",
    "battery_alarm",
    "soc_disagreement",
)
SOLARK: Final = "solark_soc"  # pseudo key for the other integration's SOC sensor

# Theme colours, so the dashboard follows light and dark themes.
GOOD: Final = "var(--success-color)"
BAD: Final = "var(--error-color)"
TO: Final = "\N{EN DASH}"
MINUS: Final = "\N{MINUS SIGN}"


@dataclass(frozen=True, kw_only=True)
class DashboardSettings:
    """What the dashboard shows besides entity ids; temperatures are in `temperature_unit`."""

    title: str
    voltage_range: tuple[float, float]
    temperature_range: tuple[float, float]
    temperature_unit: str = UnitOfTemperature.CELSIUS
    # Set when a Sol-Ark sensor is configured but missing: a note replaces the comparison.
    missing_solark: str | None = None


def dashboard_url_path(entry: VictronConfigEntry) -> str:
    """Return the dashboard's URL path: one per installation, stable across restarts."""
    ident = (entry.unique_id or entry.entry_id).lower()
    return f"{URL_PREFIX}-{''.join(c if c.isalnum() else '-' for c in ident)}"


# --- Building the config (no Home Assistant state needed) -------------------------------------


def build_dashboard(
    entities: Mapping[str, str], settings: DashboardSettings, *, copy_view: bool = True
) -> dict[str, Any]:
    """Return the dashboard config for the given entity ids (key -> entity_id).

    Keys without an entity id get no card, so a source that is not configured (or a disabled
    entity) never shows "entity not available".
    """
    views: list[dict[str, Any]] = [_now_view(entities, settings, copy_view=copy_view)]
    views.extend(_range_view(entities, settings, hours) for hours in RANGES)
    config: dict[str, Any] = {"title": settings.title, "views": views}
    if copy_view:
        views.append(_copy_view(build_dashboard(entities, settings, copy_view=False)))
    return config


class _Block(str):
    """A multi-line string that YAML writes as a literal block, as a person would."""

    __slots__ = ()


add_representer(
    _Block,
    lambda dumper, value: dumper.represent_scalar("tag:yaml.org,2002:str", str(value), style="|"),
)


def _blocks(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _blocks(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_blocks(item) for item in value]
    if isinstance(value, str) and "\n" in value:
        return _Block(value)
    return value


def dashboard_yaml(config: Mapping[str, Any]) -> str:
    """Return a dashboard config as YAML for the raw configuration editor."""
    return str(dump(_blocks(dict(config))))


def _now_view(
    entities: Mapping[str, str], settings: DashboardSettings, *, copy_view: bool
) -> dict[str, Any]:
    sections = [
        _details_section(entities, settings, copy_view=copy_view),
        _comparison_now_section(entities, settings),
        _health_section(entities),
        _more_section(entities),
    ]
    # Two columns on a desktop: at three, tile and row names are cut off ("State of ch…").
    return _view("Now", "now", 2, sections)


def _range_view(
    entities: Mapping[str, str], settings: DashboardSettings, hours: int
) -> dict[str, Any]:
    sections = [
        _trends_section(entities, settings, hours),
        _summary_section(entities, hours),
        _comparison_trend_section(entities, settings, hours),
    ]
    # Two wide columns: time series need width more than anything else.
    return _view(f"{hours} h", f"{hours}h", 2, sections)


def _view(
    title: str, path: str, columns: int, sections: Iterable[dict[str, Any] | None]
) -> dict[str, Any]:
    view: dict[str, Any] = {"title": title, "path": path, "type": "sections"}
    view["max_columns"] = columns  # a phone always gets one column
    view["sections"] = [section for section in sections if section]
    return view


def _section(heading: str, cards: Iterable[dict[str, Any] | None]) -> dict[str, Any] | None:
    """Return a section with a heading, or None when none of its cards has an entity."""
    present = [card for card in cards if card]
    if not present:
        return None
    return {"type": "grid", "cards": [{"type": "heading", "heading": heading}, *present]}


def _half(card: dict[str, Any]) -> dict[str, Any]:
    """Half a section's width: two cards side by side, on a phone too."""
    return {**card, "grid_options": {"columns": 6}}


def _tile(
    entities: Mapping[str, str], key: str, name: str, *, half: bool = True
) -> dict[str, Any] | None:
    if key not in entities:
        return None
    card = {"type": "tile", "entity": entities[key], "name": name}
    # Full width where a section is one narrow column on a desktop, so names are not cut.
    return _half(card) if half else {**card, "grid_options": {"columns": 12}}


def _fmt(value: float) -> str:
    """Format a limit for titles: 52.0 -> "52", 14.5 -> "14.5"."""
    return f"{value:g}"


def _details_section(
    entities: Mapping[str, str], settings: DashboardSettings, *, copy_view: bool
) -> dict[str, Any] | None:
    v_lo, v_hi = settings.voltage_range
    t_lo, t_hi = settings.temperature_range
    cards: list[dict[str, Any] | None] = [
        *_gauge(entities, "voltage", "Voltage", v_lo, v_hi),
        *_gauge(entities, "temperature", "Temperature", t_lo, t_hi),
        _tile(entities, "soc", "State of charge"),
        _tile(entities, "state", "Battery state"),
        _tile(entities, "current", "Current"),
        _tile(entities, "power", "Power"),
        _status_card(entities, settings),
    ]
    section = _section("Battery details", cards)
    if section:
        section["column_span"] = 2  # two columns on a desktop, room for gauges and tiles
    if section and copy_view:
        section["cards"].append(
            {
                "type": "button",
                "name": "Copy this dashboard as YAML",
                "icon": "mdi:content-copy",
                "icon_height": "32px",
                "show_state": False,
                "tap_action": {"action": "navigate", "navigation_path": COPY_VIEW_PATH},
            }
        )
    return section


def _gauge(
    entities: Mapping[str, str], key: str, name: str, low: float, high: float
) -> list[dict[str, Any]]:
    """A gauge whose green segment is the optimal band; outside it the needle sits on red.

    The band is not a fault limit (a 15-cell bank rests below the 48 V band); the problem sensors
    judge against the limits in force, which the status card shows. A gauge without a number
    shows an error box, so while the value is unavailable a tile takes its place and says so.
    """
    if key not in entities:
        return []
    span = high - low
    entity = entities[key]
    missing = {"condition": "state", "entity": entity, "state": list(NO_VALUES)}
    present = {"condition": "state", "entity": entity, "state_not": list(NO_VALUES)}
    tile = {"type": "tile", "entity": entity, "name": name, "visibility": [missing]}
    return [
        {**_gauge_card(entity, name, low, high, span), "visibility": [present]},
        _half(tile),
    ]


def _gauge_card(entity: str, name: str, low: float, high: float, span: float) -> dict[str, Any]:
    return _half(
        {
            "type": "gauge",
            "entity": entity,
            "name": name,
            "min": math.floor(low - span),
            "max": math.ceil(high + span),
            "needle": True,
            "segments": [
                {"from": math.floor(low - span), "color": BAD},
                {"from": low, "color": GOOD},
                {"from": high, "color": BAD},
            ],
        }
    )


def _status_card(entities: Mapping[str, str], settings: DashboardSettings) -> dict[str, Any] | None:
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
        f"{lead}outside the optimal {_fmt(low)}{TO}{_fmt(high)} {band_unit}"
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


SOURCES: Final = (("local", "Cerbo GX on your network"), ("vrm", "VRM cloud"))
# What a reachable source without fresh battery values is doing.
NOT_FRESH: Final = {
    "local": "the Cerbo GX has no battery values",
    "vrm": "VRM answers, but its data is old",
}
NO_VALUES: Final = ("unavailable", "unknown")


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


# Every problem the entry's binary sensors can report, most urgent first.
PROBLEMS: Final = (
    ("battery_alarm", "battery alarm"),
    ("voltage_out_of_range", "voltage out of range"),
    ("temperature_out_of_range", "temperature out of range"),
    ("low_soc", "low state of charge"),
    ("cell_imbalance", "cell imbalance"),
    ("soh_degraded", "state of health degraded"),
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


def _comparison_now_section(
    entities: Mapping[str, str], settings: DashboardSettings
) -> dict[str, Any] | None:
    if settings.missing_solark:
        return _section(
            "Sol-Ark comparison",
            [
                {
                    "type": "markdown",
                    "content": (
                        f"The Sol-Ark sensor `{settings.missing_solark}` chosen in the options "
                        "does not exist (any more); the comparison is hidden. Choose it again "
                        "in the integration's options."
                    ),
                }
            ],
        )
    if SOLARK not in entities:
        return None
    return _section(
        "Sol-Ark comparison",
        [
            _tile(entities, "soc", "Victron (shunt)", half=False),
            _tile(entities, SOLARK, "Sol-Ark (inverter)", half=False),
            _tile(entities, "soc_difference", "Difference", half=False),
            _tile(entities, "soc_disagreement", "Agreement", half=False),
        ],
    )


def _entities_card(
    entities: Mapping[str, str], title: str, rows: Iterable[tuple[str, str]]
) -> dict[str, Any] | None:
    present = [{"entity": entities[key], "name": name} for key, name in rows if key in entities]
    if not present:
        return None
    return {"type": "entities", "title": title, "state_color": True, "entities": present}


def _health_section(entities: Mapping[str, str]) -> dict[str, Any] | None:
    sources = _entities_card(
        entities,
        "Sources",
        (
            ("local_reachable", "Cerbo GX reachable"),
            ("local_last_success", "Cerbo GX last success"),
            ("local_consecutive_failures", "Cerbo GX failures in a row"),
            ("vrm_reachable", "VRM reachable"),
            ("vrm_last_success", "VRM last success"),
            ("vrm_consecutive_failures", "VRM failures in a row"),
            ("vrm_budget", "VRM request budget"),
            ("vrm_requests_last_hour", "VRM requests in the last hour"),
            ("data_stale", "Data stale"),
            ("readings_24h", "Readings in 24 hours"),
        ),
    )
    alarms = _entities_card(
        entities,
        "Alarms",
        (
            ("battery_alarm", "Battery alarm"),
            ("voltage_out_of_range", "Voltage out of range"),
            ("temperature_out_of_range", "Temperature out of range"),
            ("low_soc", "Low state of charge"),
            ("cell_imbalance", "Cell imbalance"),
            ("soh_degraded", "State of health degraded"),
            ("grid_lost", "Grid lost"),
        ),
    )
    return _section("Health", [sources, alarms])


def _more_section(entities: Mapping[str, str]) -> dict[str, Any] | None:
    battery = _entities_card(
        entities,
        "Battery",
        (
            ("consumed_ah", "Consumed"),
            ("time_to_go", "Time to go"),
            ("soh", "State of health"),
            ("min_cell_voltage", "Lowest cell"),
            ("max_cell_voltage", "Highest cell"),
            ("cell_voltage_spread", "Cell spread"),
            ("charge_cycles", "Charge cycles"),
            ("charged_energy", "Charged energy"),
            ("discharged_energy", "Discharged energy"),
        ),
    )
    system = _entities_card(
        entities,
        "System",
        (
            ("pv_power", "Solar"),
            ("grid_power", "Grid"),
            ("ac_consumption", "AC loads"),
            ("inverter_mode", "Inverter mode"),
            ("inverter_state", "Inverter state"),
            ("gx_firmware", "GX firmware"),
        ),
    )
    return _section("More", [battery, system])


def _history(
    entities: Mapping[str, str],
    title: str,
    rows: Iterable[tuple[str, str]],
    hours: int,
    y_range: tuple[float, float] | None = None,
) -> dict[str, Any] | None:
    """A history graph; the first row must exist, the others are optional companions."""
    rows = list(rows)
    if rows[0][0] not in entities:
        return None
    card: dict[str, Any] = {
        "type": "history-graph",
        "title": title,
        "hours_to_show": hours,
        "entities": [
            {"entity": entities[key], "name": name} for key, name in rows if key in entities
        ],
    }
    if y_range:
        card["min_y_axis"], card["max_y_axis"] = axis_range(*y_range)
        card["fit_y_data"] = True
    return card


def axis_range(low: float, high: float) -> tuple[float, float]:
    """A chart axis one round step beyond the optimal band, so the band's ends are gridlines.

    Pinned to the band itself, a value just past it stretched the axis (fit_y_data rounds to a
    whole unit) and the frontend drew that end's label on top of the band's. One step of room
    keeps usual excursions inside; a larger one still stretches the axis, as it should.
    """
    step = _nice((high - low) / 4)
    return (
        round((math.ceil(low / step) - 1) * step, 6),
        round((math.floor(high / step) + 1) * step, 6),
    )


def _nice(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 times a power of ten that is at least `value`."""
    power = 10.0 ** math.floor(math.log10(value)) if value > 0 else 1.0
    return next(power * m for m in (1, 2, 2.5, 5, 10) if power * m >= value)


def _trends_section(
    entities: Mapping[str, str], settings: DashboardSettings, hours: int
) -> dict[str, Any] | None:
    v_lo, v_hi = settings.voltage_range
    t_lo, t_hi = settings.temperature_range
    unit = settings.temperature_unit
    return _section(
        f"Trends, last {hours} hours",
        [
            # Short titles that fit a phone on one line; the legend says the rest.
            _history(
                entities,
                "Voltage",
                (
                    ("voltage", f"Voltage, optimal {_fmt(v_lo)}{TO}{_fmt(v_hi)} V"),
                    ("voltage_out_of_range", "Out of range"),
                ),
                hours,
                settings.voltage_range,
            ),
            _history(
                entities,
                "Current",
                (
                    ("current", f"Current (+ charging, {MINUS} discharging)"),
                    ("state", "Battery state"),
                ),
                hours,
            ),
            _history(
                entities,
                "Temperature",
                (
                    (
                        "temperature",
                        f"Temperature, optimal {_fmt(t_lo)}{TO}{_fmt(t_hi)} {unit}",
                    ),
                    ("temperature_out_of_range", "Out of range"),
                ),
                hours,
                settings.temperature_range,
            ),
        ],
    )


def _statistic(
    entities: Mapping[str, str], key: str, name: str, stat_type: str, hours: int
) -> dict[str, Any] | None:
    """One number over the rolling range, from the recorder's long-term statistics."""
    if key not in entities:
        return None
    return {
        "type": "statistic",
        "entity": entities[key],
        "name": name,
        "stat_type": stat_type,
        "period": {"rolling_window": {"duration": {"hours": hours}}},
        "grid_options": {"columns": 4},  # three a row, short names: fits a phone too
    }


def _subtitle(text: str, *cards: dict[str, Any] | None) -> list[dict[str, Any] | None]:
    """A small heading over a row of statistics; nothing when the row is empty."""
    if not any(cards):
        return []
    return [{"type": "heading", "heading": text, "heading_style": "subtitle"}, *cards]


def _note(entities: Mapping[str, str], text: str, *keys: str) -> dict[str, Any] | None:
    """A line of text over cards for any of `keys`; nothing when none of them exists."""
    if not any(key in entities for key in keys):
        return None
    return {"type": "markdown", "content": text, "text_only": True}


def _summary_section(entities: Mapping[str, str], hours: int) -> dict[str, Any] | None:
    def stat(key: str, name: str, stat_type: str) -> dict[str, Any] | None:
        return _statistic(entities, key, name, stat_type, hours)

    return _section(
        f"Summary, last {hours} hours",
        [
            # Until the recorder's first 5-minute statistics exist the cards show a bare unit.
            _note(
                entities,
                "From Home Assistant's statistics, compiled every 5 minutes: a card shows only "
                "its unit until about 5 minutes after the first readings.",
                "voltage",
                "temperature",
                "current",
                "soc",
            ),
            *_subtitle(
                "Voltage",
                stat("voltage", "Mean", "mean"),
                stat("voltage", "Lowest", "min"),
                stat("voltage", "Highest", "max"),
            ),
            *_subtitle(
                "Temperature",
                stat("temperature", "Mean", "mean"),
                stat("temperature", "Lowest", "min"),
                stat("temperature", "Highest", "max"),
            ),
            *_subtitle(
                "Current",
                stat("current", "Mean", "mean"),
                # The sensor is 100 % while charging and 0 % otherwise: its mean is the share.
                stat("charging_share", "Time charging", "mean"),
            ),
            *_subtitle(
                "Energy",
                stat("charged_energy", "Charged", "change"),
                stat("discharged_energy", "Discharged", "change"),
            ),
            *_subtitle("State of charge", stat("soc", "Mean", "mean")),
        ],
    )


def _comparison_trend_section(
    entities: Mapping[str, str], settings: DashboardSettings, hours: int
) -> dict[str, Any] | None:
    if SOLARK not in entities or settings.missing_solark:
        return None
    return _section(
        f"Sol-Ark comparison, last {hours} hours",
        [
            _history(
                entities,
                "State of charge",
                (("soc", "Victron (shunt)"), (SOLARK, "Sol-Ark (inverter)")),
                hours,
            ),
            _history(
                entities,
                "SOC difference",
                (
                    ("soc_difference", f"Victron {MINUS} Sol-Ark"),
                    ("soc_disagreement", "Agreement"),
                ),
                hours,
            ),
        ],
    )


def _copy_view(config: Mapping[str, Any]) -> dict[str, Any]:
    """A subview with the dashboard as YAML, with this installation's entity ids."""
    text = dashboard_yaml(config)
    return {
        "title": "Copy as YAML",
        "path": COPY_VIEW_PATH,
        "type": "panel",  # one card, the whole width: long YAML lines stay readable
        "subview": True,
        "cards": [
            {
                "type": "markdown",
                "content": (
                    "Copy the YAML below into a dashboard of your own: open it, ⋮ → *Edit "
                    "dashboard* → ⋮ → *Raw configuration editor*. It uses this installation's "
                    "entity ids.\n\n"
                    # Core cards have no copy button, and a code block does not wrap: the
                    # builder keeps lines short and the box scrolls sideways on a phone.
                    "**To copy:** Home Assistant's cards have no copy button. Select from "
                    "`title:` to the last line (on a computer: click before `title:`, scroll "
                    "down, shift-click after the last line; on a phone: long-press, then drag "
                    "the handles) and copy. Long lines scroll sideways inside the box.\n\n"
                    # raw: the YAML holds templates that must reach the copy unrendered
                    f"{{% raw %}}\n```yaml\n{text}```\n{{% endraw %}}"
                ),
            }
        ],
    }


# --- Reading the registry and the options ---------------------------------------------------


def dashboard_settings(hass: HomeAssistant, entry: VictronConfigEntry) -> DashboardSettings:
    """Return the dashboard settings from the entry's options and the user's units."""
    options = entry.options
    unit = _temperature_unit(hass, entry)
    low, high = (
        round(TemperatureConverter.convert(value, UnitOfTemperature.CELSIUS, unit), 1)
        for value in temperature_range(options)
    )
    solark = options.get(CONF_SOLARK_ENTITY) or None
    missing = None
    if isinstance(solark, str) and _solark_entity(hass, solark) is None:
        missing = solark
    return DashboardSettings(
        title=entry.title,
        voltage_range=voltage_range(options),
        temperature_range=(low, high),
        temperature_unit=unit,
        missing_solark=missing,
    )


def _temperature_unit(hass: HomeAssistant, entry: VictronConfigEntry) -> str:
    """The unit the temperature sensor is shown in: its state's, else the unit system's."""
    entity_id = _entity_id(er.async_get(hass), entry, Platform.SENSOR, "temperature")
    state = hass.states.get(entity_id) if entity_id else None
    unit = state.attributes.get("unit_of_measurement") if state else None
    if unit in (UnitOfTemperature.CELSIUS, UnitOfTemperature.FAHRENHEIT):
        return str(unit)
    return hass.config.units.temperature_unit


def _solark_entity(hass: HomeAssistant, entity_id: str) -> str | None:
    """Return the Sol-Ark entity id when it exists and is enabled."""
    registry_entry = er.async_get(hass).async_get(entity_id)
    if registry_entry is not None:
        return None if registry_entry.disabled_by else entity_id
    return entity_id if hass.states.get(entity_id) is not None else None


def _entity_id(
    registry: er.EntityRegistry, entry: VictronConfigEntry, platform: Platform, key: str
) -> str | None:
    entity_id = registry.async_get_entity_id(platform, DOMAIN, f"{entry.unique_id}_{key}")
    if entity_id is None:
        return None
    registry_entry = registry.async_get(entity_id)
    # A disabled entity has no state: a card for it would say "entity not available".
    return None if registry_entry is None or registry_entry.disabled_by else entity_id


def dashboard_entities(hass: HomeAssistant, entry: VictronConfigEntry) -> dict[str, str]:
    """Return key -> current entity id for this entry's enabled entities (and the Sol-Ark one)."""
    registry = er.async_get(hass)
    found: dict[str, str] = {}
    for platform, keys in (
        (Platform.SENSOR, SENSOR_KEYS),
        (Platform.BINARY_SENSOR, BINARY_SENSOR_KEYS),
    ):
        for key in keys:
            if entity_id := _entity_id(registry, entry, platform, key):
                found[key] = entity_id
    solark = entry.options.get(CONF_SOLARK_ENTITY)
    if isinstance(solark, str) and solark and (entity_id := _solark_entity(hass, solark)):
        found[SOLARK] = entity_id
    return found


def async_build_dashboard(hass: HomeAssistant, entry: VictronConfigEntry) -> dict[str, Any]:
    """Return this entry's dashboard config as of now."""
    return build_dashboard(dashboard_entities(hass, entry), dashboard_settings(hass, entry))


# --- Registration ---------------------------------------------------------------------------


class VictronDashboard(LovelaceConfig):
    """A read-only dashboard whose config is rebuilt from the registry on every load."""

    def __init__(
        self, hass: HomeAssistant, entry: VictronConfigEntry, url_path: str, config: dict[str, Any]
    ) -> None:
        """Initialise for one config entry."""
        super().__init__(hass, url_path, config)
        self._entry = entry

    @property
    @override
    def mode(self) -> str:
        """YAML mode: the frontend offers no editing, which could not be saved anyway."""
        return MODE_YAML

    @override
    async def async_get_info(self) -> dict[str, Any]:
        """Return what system health shows."""
        return {"mode": self.mode, "views": len((await self.async_load(force=False))["views"])}

    @override
    async def async_load(self, force: bool) -> dict[str, Any]:
        """Build the config from the entity registry as it is now."""
        return async_build_dashboard(self.hass, self._entry)

    @override
    async def async_json(self, force: bool) -> json_fragment:
        """Return the config as JSON for the websocket API."""
        return json_fragment(json_bytes(await self.async_load(force)))

    @callback
    def async_config_changed(self) -> None:
        """Tell open browsers to fetch the config again."""
        self._config_updated()


@callback
def async_register_dashboard(hass: HomeAssistant, entry: VictronConfigEntry) -> bool:
    """Add the entry's dashboard to the sidebar unless the options turn it off.

    Removes itself when the entry unloads. Returns whether a dashboard was registered; an
    existing dashboard or panel at the same URL is never replaced.
    """
    if not entry.options.get(CONF_SHOW_DASHBOARD, DEFAULT_SHOW_DASHBOARD):
        return False
    lovelace = hass.data.get(LOVELACE_DATA)
    if lovelace is None:
        # Only without the frontend (tests, minimal setups): nothing the user could act on.
        LOGGER.debug("Dashboards are not set up; the Victron dashboard is not added")
        return False
    url_path = dashboard_url_path(entry)
    if url_path in lovelace.dashboards or url_path in hass.data.get(frontend.DATA_PANELS, {}):
        LOGGER.warning("A dashboard already uses /%s; the Victron dashboard is not added", url_path)
        return False
    config = {
        "mode": MODE_YAML,
        "title": entry.title,
        "icon": ICON,
        "show_in_sidebar": True,
        "require_admin": False,
    }
    dashboard = VictronDashboard(hass, entry, url_path, config)
    lovelace.dashboards[url_path] = dashboard
    frontend.async_register_built_in_panel(
        hass,
        "lovelace",
        sidebar_title=entry.title,
        sidebar_icon=ICON,
        frontend_url_path=url_path,
        config={"mode": MODE_YAML},
        require_admin=False,
    )
    entry.async_on_unload(
        hass.bus.async_listen(
            er.EVENT_ENTITY_REGISTRY_UPDATED, _registry_listener(hass, entry, dashboard)
        )
    )
    entry.async_on_unload(lambda: async_unregister_dashboard(hass, entry))
    return True


def _registry_listener(
    hass: HomeAssistant, entry: VictronConfigEntry, dashboard: VictronDashboard
) -> Callable[[Event[er.EventEntityRegistryUpdatedData]], None]:
    """Refresh open dashboards when one of their entities is renamed, added or removed."""
    shown = set(dashboard_entities(hass, entry).values())

    @callback
    def _changed(event: Event[er.EventEntityRegistryUpdatedData]) -> None:
        nonlocal shown
        data: Mapping[str, Any] = event.data
        ids = {data["entity_id"], data.get("old_entity_id")} - {None}
        registry_entry = er.async_get(hass).async_get(data["entity_id"])
        ours = registry_entry is not None and registry_entry.config_entry_id == entry.entry_id
        if ours or ids & shown or entry.options.get(CONF_SOLARK_ENTITY) in ids:
            shown = set(dashboard_entities(hass, entry).values())
            dashboard.async_config_changed()

    return _changed


@callback
def async_unregister_dashboard(hass: HomeAssistant, entry: VictronConfigEntry) -> None:
    """Remove the entry's dashboard from the sidebar; safe to call when there is none."""
    url_path = dashboard_url_path(entry)
    lovelace = hass.data.get(LOVELACE_DATA)
    if lovelace is None or not isinstance(lovelace.dashboards.get(url_path), VictronDashboard):
        return
    lovelace.dashboards.pop(url_path)
    frontend.async_remove_panel(hass, url_path, warn_if_unknown=False)


# --- The repository's example YAML ----------------------------------------------------------


def example_entities() -> dict[str, str]:
    """Entity ids for the repository's YAML: what a device named "Victron" would get."""
    found = {key: f"sensor.victron_{key}" for key in SENSOR_KEYS}
    found.update({key: f"binary_sensor.victron_{key}" for key in BINARY_SENSOR_KEYS})
    found[SOLARK] = "sensor.solark_battery_soc"
    return found


EXAMPLE_HEADER: Final = """\
# Victron Cerbo GX dashboard, core cards only. Generated by scripts/dashboard_yaml.py from
# custom_components/victron_cerbo/dashboard.py; do not edit by hand.
#
# The entity ids below are examples. The dashboard that the integration adds to the sidebar has a
# "Copy this dashboard as YAML" button whose page shows this YAML with your own entity ids.
# Without a Sol-Ark inverter, delete the "Sol-Ark comparison" sections.
# Optimal bands (gauge arcs, chart axes): voltage 52-58 V (16-cell 48 V), temperature 15-30 °C;
# change them in the gauges and in min_y_axis / max_y_axis if yours differ. The out-of-range
# sensors use the battery's own limits, not these bands.
"""


def example_yaml() -> str:
    """Return the repository's dashboards/victron_cerbo.yaml."""
    settings = DashboardSettings(
        title="Victron battery",
        voltage_range=voltage_range({}),  # the defaults
        temperature_range=temperature_range({}),
    )
    return EXAMPLE_HEADER + dashboard_yaml(
        build_dashboard(example_entities(), settings, copy_view=False)
    )
