"""The cards the builder is made of: views, sections, tiles, gauges, graphs and statistics.

Pure functions of `entities` (key -> entity id) and `DashboardSettings`: no Home Assistant here.
A helper for a key that has no entity id returns nothing, so no card says "entity not available".
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

SOLARK: Final = "solark_soc"  # pseudo key for the other integration's SOC sensor

# Theme colours, so the dashboard follows light and dark themes.
GOOD: Final = "var(--success-color)"
BAD: Final = "var(--error-color)"
TO: Final = "\N{EN DASH}"
MINUS: Final = "\N{MINUS SIGN}"
NO_VALUES: Final = ("unavailable", "unknown")


@dataclass(frozen=True, kw_only=True)
class DashboardSettings:
    """What the dashboard shows besides entity ids; temperatures are in `temperature_unit`."""

    title: str
    voltage_range: tuple[float, float]
    temperature_range: tuple[float, float]
    temperature_unit: str = "°C"
    # Set when a Sol-Ark sensor is configured but missing: a note replaces the comparison.
    missing_solark: str | None = None


def sections_view(
    title: str, path: str, columns: int, sections: Iterable[dict[str, Any] | None]
) -> dict[str, Any]:
    """A sections view; sections without cards (None) are left out."""
    view: dict[str, Any] = {"title": title, "path": path, "type": "sections"}
    view["max_columns"] = columns  # a phone always gets one column
    view["sections"] = [section for section in sections if section]
    return view


def grid_section(heading: str, cards: Iterable[dict[str, Any] | None]) -> dict[str, Any] | None:
    """Return a section with a heading, or None when none of its cards has an entity."""
    present = [card for card in cards if card]
    if not present:
        return None
    return {"type": "grid", "cards": [{"type": "heading", "heading": heading}, *present]}


def half_width(card: dict[str, Any]) -> dict[str, Any]:
    """Half a section's width: two cards side by side, on a phone too."""
    return {**card, "grid_options": {"columns": 6}}


def tile(
    entities: Mapping[str, str], key: str, name: str, *, half: bool = True
) -> dict[str, Any] | None:
    """A tile, half a section wide unless `half` is False."""
    if key not in entities:
        return None
    card = {"type": "tile", "entity": entities[key], "name": name}
    # Full width where a section is one narrow column on a desktop, so names are not cut.
    return half_width(card) if half else {**card, "grid_options": {"columns": 12}}


def fmt(value: float) -> str:
    """Format a limit for titles: 52.0 -> "52", 14.5 -> "14.5"."""
    return f"{value:g}"


def gauges(
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
    fallback = {"type": "tile", "entity": entity, "name": name, "visibility": [missing]}
    return [
        {**_gauge_card(entity, name, low, high, span), "visibility": [present]},
        half_width(fallback),
    ]


def _gauge_card(entity: str, name: str, low: float, high: float, span: float) -> dict[str, Any]:
    return half_width(
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


def entities_card(
    entities: Mapping[str, str], title: str, rows: Iterable[tuple[str, str]]
) -> dict[str, Any] | None:
    """An entities card with the rows whose keys have an entity."""
    present = [{"entity": entities[key], "name": name} for key, name in rows if key in entities]
    if not present:
        return None
    return {"type": "entities", "title": title, "state_color": True, "entities": present}


def attributes_card(
    entities: Mapping[str, str], key: str, title: str, rows: Iterable[tuple[str, str]]
) -> dict[str, Any] | None:
    """An entities card of one entity's attributes; the frontend translates their values."""
    if key not in entities:
        return None
    return {
        "type": "entities",
        "title": title,
        "entities": [
            {"type": "attribute", "entity": entities[key], "attribute": attribute, "name": name}
            for attribute, name in rows
        ],
    }


def statistics_graph(
    entities: Mapping[str, str],
    title: str,
    rows: Iterable[tuple[str, str]],
    days: int,
    stat_types: Iterable[str],
) -> dict[str, Any] | None:
    """Daily long-term statistics over `days`; None when none of the rows has an entity."""
    present = [{"entity": entities[key], "name": name} for key, name in rows if key in entities]
    if not present:
        return None
    return {
        "type": "statistics-graph",
        "title": title,
        "entities": present,
        "days_to_show": days,
        "period": "day",
        "stat_types": list(stat_types),
        "chart_type": "line",
    }


def history_graph(
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


def statistic(
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


def subtitle(text: str, *cards: dict[str, Any] | None) -> list[dict[str, Any] | None]:
    """A small heading over a row of statistics; nothing when the row is empty."""
    if not any(cards):
        return []
    return [{"type": "heading", "heading": text, "heading_style": "subtitle"}, *cards]


def note(entities: Mapping[str, str], text: str, *keys: str) -> dict[str, Any] | None:
    """A line of text over cards for any of `keys`; nothing when none of them exists."""
    if not any(key in entities for key in keys):
        return None
    return {"type": "markdown", "content": text, "text_only": True}
