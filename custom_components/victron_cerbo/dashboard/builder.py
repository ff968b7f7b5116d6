"""The dashboard config: views, and the sections they are made of.

`build_dashboard` turns "which entity ids exist" (key -> entity id) plus `DashboardSettings`
into a dashboard made of core cards only, with no Home Assistant state. Time ranges are views
(tabs), because core cards cannot switch a range without a helper entity.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from .cards import (
    MINUS,
    SOLARK,
    TO,
    DashboardSettings,
    attributes_card,
    entities_card,
    fmt,
    gauges,
    grid_section,
    history_graph,
    note,
    sections_view,
    statistic,
    statistics_graph,
    subtitle,
    tile,
)
from .dump import dashboard_yaml
from .status import status_card

RANGES: Final = (6, 12, 24, 48, 72)  # hours the trend views offer
TREND_DAYS: Final = 30  # days the health view's daily charts show (the insight's window)
SOH_DAYS: Final = 365  # the state of health's chart: the year its trend line is fitted over
COPY_VIEW_PATH: Final = "copy"


def build_dashboard(
    entities: Mapping[str, str], settings: DashboardSettings, *, copy_view: bool = True
) -> dict[str, Any]:
    """Return the dashboard config for the given entity ids (key -> entity_id).

    Keys without an entity id get no card, so a source that is not configured (or a disabled
    entity) never shows "entity not available".
    """
    views: list[dict[str, Any]] = [
        _now_view(entities, settings, copy_view=copy_view),
        _health_view(entities),
    ]
    views.extend(_range_view(entities, settings, hours) for hours in RANGES)
    config: dict[str, Any] = {"title": settings.title, "views": views}
    if copy_view:
        views.append(_copy_view(build_dashboard(entities, settings, copy_view=False)))
    return config


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
    return sections_view("Now", "now", 2, sections)


def _health_view(entities: Mapping[str, str]) -> dict[str, Any]:
    """The battery health insight: risk, scores and the slow trends, from the statistics."""
    sections = [
        _risk_section(entities),
        _scores_section(entities),
        _soh_section(entities),
        _balance_section(entities),
        _heat_section(entities),
        _full_charge_section(entities),
        _cycles_section(entities),
    ]
    return sections_view("Health", "health", 2, sections)


def _risk_section(entities: Mapping[str, str]) -> dict[str, Any] | None:
    return grid_section(
        "Risk",
        [
            note(
                entities,
                "From Home Assistant's statistics of this battery's sensors. Trends need days "
                "of them (the state of health 30, cycles per day 7, the balance trend 3); until "
                "then a figure is unknown and its details say why.",
                "risk_level",
                "health_score",
            ),
            tile(entities, "risk_level", "Risk level"),
            tile(entities, "risk_score", "Risk score"),
            # The frontend shows these lists in the user's language, as the entity translates them.
            _while_at_risk(
                entities,
                attributes_card(
                    entities,
                    "risk_level",
                    "Why",
                    (
                        ("factors", "Factors"),
                        ("actions", "What to do"),
                        ("points", "Points"),
                    ),
                ),
            ),
        ],
    )


def _while_at_risk(
    entities: Mapping[str, str], card: dict[str, Any] | None
) -> dict[str, Any] | None:
    """The card only while a factor adds points: with none, its rows would be empty."""
    if card is None or "risk_score" not in entities:
        return card
    at_risk = {"condition": "numeric_state", "entity": entities["risk_score"], "above": 0}
    return {**card, "visibility": [at_risk]}


def _scores_section(entities: Mapping[str, str]) -> dict[str, Any] | None:
    return grid_section(
        "Health scores",
        [
            tile(entities, "health_score", "Overall"),
            tile(entities, "battery_health_score", "Battery"),
            tile(entities, "inverter_health_score", "Inverter"),
            tile(entities, "connectivity_health_score", "Connectivity"),
        ],
    )


def _soh_section(entities: Mapping[str, str]) -> dict[str, Any] | None:
    return grid_section(
        "State of health",
        [
            tile(entities, "soh", "Now"),
            tile(entities, "soh_change", "Per month"),
            tile(entities, "soh_end_of_life", "End of life", half=False),
            statistics_graph(
                entities, "State of health", (("soh", "Daily mean"),), SOH_DAYS, ("mean",)
            ),
        ],
    )


def _balance_section(entities: Mapping[str, str]) -> dict[str, Any] | None:
    return grid_section(
        "Cell balance",
        [
            tile(entities, "cell_spread_day", "Spread, 24 h"),
            tile(entities, "balance_level", "Balance"),
            tile(entities, "cell_imbalance", "Imbalance", half=False),
            # The figure is the largest hourly mean of a day: its daily max is that series.
            statistics_graph(
                entities,
                "Cell spread",
                (("cell_spread_day", "Largest of the day"),),
                TREND_DAYS,
                ("max",),
            ),
        ],
    )


def _heat_section(entities: Mapping[str, str]) -> dict[str, Any] | None:
    return grid_section(
        "Heat",
        [
            tile(entities, "hours_above_35", "Above 35 °C"),
            tile(entities, "hours_above_45", "Above 45 °C"),
            tile(entities, "weekly_mean_temperature", "Mean, 7 days"),
            tile(entities, "heat_degradation", "Extra ageing"),
            statistics_graph(
                entities,
                "Temperature",
                (("temperature", "Temperature"),),
                TREND_DAYS,
                ("mean", "max"),
            ),
        ],
    )


def _full_charge_section(entities: Mapping[str, str]) -> dict[str, Any] | None:
    return grid_section(
        "Charge and discharge",
        [
            tile(entities, "days_since_full_charge", "Since full"),
            tile(entities, "full_charge_overdue", "Full charge"),
            tile(entities, "deepest_discharge", "Deepest, 7 days", half=False),
        ],
    )


def _cycles_section(entities: Mapping[str, str]) -> dict[str, Any] | None:
    return grid_section(
        "Cycles",
        [
            tile(entities, "equivalent_full_cycles", "Full cycles"),
            tile(entities, "cycles_per_day", "Per day"),
            tile(entities, "remaining_cycles", "Left"),
            tile(entities, "cycles_end_of_life", "End of life"),
        ],
    )


def _range_view(
    entities: Mapping[str, str], settings: DashboardSettings, hours: int
) -> dict[str, Any]:
    sections = [
        _trends_section(entities, settings, hours),
        _summary_section(entities, hours),
        _comparison_trend_section(entities, settings, hours),
    ]
    # Two wide columns: time series need width more than anything else.
    return sections_view(f"{hours} h", f"{hours}h", 2, sections)


def _details_section(
    entities: Mapping[str, str], settings: DashboardSettings, *, copy_view: bool
) -> dict[str, Any] | None:
    v_lo, v_hi = settings.voltage_range
    t_lo, t_hi = settings.temperature_range
    cards: list[dict[str, Any] | None] = [
        *gauges(entities, "voltage", "Voltage", v_lo, v_hi),
        *gauges(entities, "temperature", "Temperature", t_lo, t_hi),
        tile(entities, "soc", "State of charge"),
        tile(entities, "state", "Battery state"),
        tile(entities, "current", "Current"),
        tile(entities, "power", "Power"),
        status_card(entities, settings),
    ]
    section = grid_section("Battery details", cards)
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


def _comparison_now_section(
    entities: Mapping[str, str], settings: DashboardSettings
) -> dict[str, Any] | None:
    if settings.missing_solark:
        return grid_section(
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
    return grid_section(
        "Sol-Ark comparison",
        [
            tile(entities, "soc", "Victron (shunt)", half=False),
            tile(entities, SOLARK, "Sol-Ark (inverter)", half=False),
            tile(entities, "soc_difference", "Difference", half=False),
            tile(entities, "soc_disagreement", "Agreement", half=False),
        ],
    )


def _health_section(entities: Mapping[str, str]) -> dict[str, Any] | None:
    sources = entities_card(
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
    alarms = entities_card(
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
    return grid_section("Health", [sources, alarms])


def _more_section(entities: Mapping[str, str]) -> dict[str, Any] | None:
    battery = entities_card(
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
    system = entities_card(
        entities,
        "System",
        (
            ("pv_power", "Solar"),
            ("grid_power", "Grid"),
            ("ac_consumption", "AC loads"),
            ("inverter_mode", "Inverter mode"),
            ("inverter_state", "Inverter state"),
            ("ac_input_voltage", "Grid voltage"),
            ("ac_input_frequency", "Grid frequency"),
            ("grid_stress", "Grid stress"),
            ("gx_firmware", "GX firmware"),
        ),
    )
    return grid_section("More", [battery, system])


def _trends_section(
    entities: Mapping[str, str], settings: DashboardSettings, hours: int
) -> dict[str, Any] | None:
    v_lo, v_hi = settings.voltage_range
    t_lo, t_hi = settings.temperature_range
    unit = settings.temperature_unit
    return grid_section(
        f"Trends, last {hours} hours",
        [
            # Short titles that fit a phone on one line; the legend says the rest.
            history_graph(
                entities,
                "Voltage",
                (
                    ("voltage", f"Voltage, optimal {fmt(v_lo)}{TO}{fmt(v_hi)} V"),
                    ("voltage_out_of_range", "Out of range"),
                ),
                hours,
                settings.voltage_range,
            ),
            history_graph(
                entities,
                "Current",
                (
                    ("current", f"Current (+ charging, {MINUS} discharging)"),
                    ("state", "Battery state"),
                ),
                hours,
            ),
            history_graph(
                entities,
                "Temperature",
                (
                    (
                        "temperature",
                        f"Temperature, optimal {fmt(t_lo)}{TO}{fmt(t_hi)} {unit}",
                    ),
                    ("temperature_out_of_range", "Out of range"),
                ),
                hours,
                settings.temperature_range,
            ),
        ],
    )


def _summary_section(entities: Mapping[str, str], hours: int) -> dict[str, Any] | None:
    def stat(key: str, name: str, stat_type: str) -> dict[str, Any] | None:
        return statistic(entities, key, name, stat_type, hours)

    return grid_section(
        f"Summary, last {hours} hours",
        [
            # Until the recorder's first 5-minute statistics exist the cards show a bare unit.
            note(
                entities,
                "From Home Assistant's statistics, compiled every 5 minutes: a card shows only "
                "its unit until about 5 minutes after the first readings.",
                "voltage",
                "temperature",
                "current",
                "soc",
            ),
            *subtitle(
                "Voltage",
                stat("voltage", "Mean", "mean"),
                stat("voltage", "Lowest", "min"),
                stat("voltage", "Highest", "max"),
            ),
            *subtitle(
                "Temperature",
                stat("temperature", "Mean", "mean"),
                stat("temperature", "Lowest", "min"),
                stat("temperature", "Highest", "max"),
            ),
            *subtitle(
                "Current",
                stat("current", "Mean", "mean"),
                # The sensor is 100 % while charging and 0 % otherwise: its mean is the share.
                stat("charging_share", "Time charging", "mean"),
            ),
            *subtitle(
                "Energy",
                stat("charged_energy", "Charged", "change"),
                stat("discharged_energy", "Discharged", "change"),
            ),
            *subtitle("State of charge", stat("soc", "Mean", "mean")),
        ],
    )


def _comparison_trend_section(
    entities: Mapping[str, str], settings: DashboardSettings, hours: int
) -> dict[str, Any] | None:
    if SOLARK not in entities or settings.missing_solark:
        return None
    return grid_section(
        f"Sol-Ark comparison, last {hours} hours",
        [
            history_graph(
                entities,
                "State of charge",
                (("soc", "Victron (shunt)"), (SOLARK, "Sol-Ark (inverter)")),
                hours,
            ),
            history_graph(
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
