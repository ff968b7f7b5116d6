"""The fleet dashboard: every installation of a VRM account on one page, core cards only.

Pure, like `builder`: entity ids in, a dashboard config out. Per installation its state of
charge, battery state, data age, health verdict and alarms (the entry's own entities, so every
card agrees with that installation's dashboard); above them the account's totals (the fleet's
entities).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from .cards import entities_card, grid_section, sections_view, tile
from .status import installation_status_card

FLEET_TITLE: Final = "Victron fleet"


@dataclass(frozen=True, kw_only=True)
class FleetInstallation:
    """One installation: its title, key -> entity id, and its own dashboard's URL path."""

    title: str
    entities: Mapping[str, str]
    dashboard: str | None = None  # None when that entry shows no dashboard of its own


def build_fleet_dashboard(
    totals: Mapping[str, str], installations: Sequence[FleetInstallation]
) -> dict[str, Any]:
    """Return the fleet dashboard: totals first, then one section per installation."""
    sections = [_totals_section(totals)]
    sections.extend(_installation_section(item) for item in installations)
    # Three columns on a wide screen: each installation is a short section.
    view = sections_view("Fleet", "fleet", 3, sections)
    return {"title": FLEET_TITLE, "views": [view]}


def _totals_section(totals: Mapping[str, str]) -> dict[str, Any] | None:
    # In three columns at 1280 px a half-width tile cuts its name after about ten characters
    # ("Battery sta…"): longer names get the section's whole width.
    return grid_section(
        "All installations",
        [
            tile(totals, "installations_online", "Online"),
            tile(totals, "installations_offline", "Offline"),
            tile(totals, "installations_with_alarm", "With an active alarm", half=False),
            tile(totals, "installation_alarm", "Any alarm", half=False),
        ],
    )


def _installation_section(item: FleetInstallation) -> dict[str, Any] | None:
    entities = item.entities
    sources = entities_card(
        entities,
        "Sources",
        (("local_reachable", "Cerbo GX reachable"), ("vrm_reachable", "VRM reachable")),
    )
    cards: list[dict[str, Any] | None] = [
        tile(entities, "soc", "State of charge", half=False),
        tile(entities, "state", "Battery state", half=False),
        installation_status_card(entities),
        sources,
    ]
    if item.dashboard is not None and any(cards):
        cards.append(
            {
                "type": "button",
                "name": "Open its dashboard",
                "icon": "mdi:view-dashboard",
                "icon_height": "24px",
                "show_state": False,
                "tap_action": {"action": "navigate", "navigation_path": f"/{item.dashboard}"},
            }
        )
    return grid_section(item.title, cards)
