"""Repair issues raised from the health of the two sources.

The checks follow the battery view, which updates with every source update and every 30 s
(source coordinators stop notifying listeners while they keep failing). Each issue is created
once when its condition has lasted long enough and deleted as soon as it is over.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.translation import async_get_translations
from homeassistant.util import dt as dt_util

from .const import CONF_HOST, CONF_PORT, DEFAULT_LOCAL_PORT, DOMAIN
from .insight import RiskLevel
from .insight_coordinator import InsightCoordinator
from .insight_entities import ACTIONS
from .runtime import VictronConfigEntry

LOCAL_UNREACHABLE_AFTER = timedelta(minutes=30)
VRM_SILENT_AFTER = timedelta(hours=1)
MONITOR_MISSING_AFTER = timedelta(minutes=10)

ISSUE_LOCAL_UNREACHABLE = "local_unreachable"
ISSUE_VRM_NOT_REPORTING = "vrm_not_reporting"
ISSUE_MONITOR_MISSING = "battery_monitor_missing"
ISSUE_BATTERY_RISK = "battery_risk"
RISK_REPAIR_LEVELS = frozenset({RiskLevel.HIGH, RiskLevel.CRITICAL})


def issue_id(entry: VictronConfigEntry, kind: str) -> str:
    """One issue of each kind per config entry."""
    return f"{kind}_{entry.entry_id}"


@callback
def async_setup_issue_checks(hass: HomeAssistant, entry: VictronConfigEntry) -> None:
    """Check now and on every update of the battery view, until the entry unloads."""
    started = dt_util.utcnow()

    @callback
    def check() -> None:
        _check_local(hass, entry, started)
        _check_monitor(hass, entry)
        _check_vrm(hass, entry)

    entry.async_on_unload(entry.runtime_data.battery.async_add_listener(check))
    check()
    if (insight := entry.runtime_data.insight) is not None:
        entry.async_on_unload(insight.async_add_listener(_risk_check(hass, entry, insight)))


def _risk_check(
    hass: HomeAssistant, entry: VictronConfigEntry, insight: InsightCoordinator
) -> CALLBACK_TYPE:
    """The check of the risk issue: raised at high and critical, again when its factors change."""
    raised: tuple[str, ...] | None = None  # the level and factors of the issue raised

    @callback
    def check() -> None:
        nonlocal raised
        risk = insight.data.risk
        if risk.level not in RISK_REPAIR_LEVELS:
            raised = None
            ir.async_delete_issue(hass, DOMAIN, issue_id(entry, ISSUE_BATTERY_RISK))
            return
        wanted = (risk.level.value, *(factor.key for factor in risk.factors))
        if wanted != raised:
            raised = wanted
            entry.async_create_background_task(
                hass, _async_raise_risk_issue(hass, entry, insight), "victron_cerbo risk issue"
            )

    check()
    return check


@callback
def async_delete_issues(hass: HomeAssistant, entry: VictronConfigEntry) -> None:
    """Remove the entry's issues (entry removed)."""
    for kind in (
        ISSUE_LOCAL_UNREACHABLE,
        ISSUE_VRM_NOT_REPORTING,
        ISSUE_MONITOR_MISSING,
        ISSUE_BATTERY_RISK,
    ):
        ir.async_delete_issue(hass, DOMAIN, issue_id(entry, kind))


async def _async_raise_risk_issue(
    hass: HomeAssistant, entry: VictronConfigEntry, insight: InsightCoordinator
) -> None:
    """The risk issue, its actions in the user's language (as the risk level sensor names them)."""
    texts = await async_get_translations(hass, hass.config.language, "entity", {DOMAIN})
    english = await async_get_translations(hass, "en", "entity", {DOMAIN})
    risk = insight.data.risk  # as it is now: it may have eased while the texts loaded
    if risk.level not in RISK_REPAIR_LEVELS:
        return
    prefix = f"component.{DOMAIN}.entity.sensor.risk_level"

    def text(key: str, fallback: str) -> str:
        return texts.get(f"{prefix}.{key}") or english.get(f"{prefix}.{key}", fallback)

    actions = [ACTIONS[factor.key] for factor in risk.factors]
    _set_issue(
        hass,
        entry,
        ISSUE_BATTERY_RISK,
        active=True,
        placeholders={
            "name": entry.title,
            "level": text(f"state.{risk.level.value}", risk.level.value),
            "score": str(risk.score),
            "actions": "\n".join(
                f"- {text(f'state_attributes.actions.state.{action}', action)}"
                for action in actions
            ),
        },
    )


def _check_local(hass: HomeAssistant, entry: VictronConfigEntry, started: datetime) -> None:
    local = entry.runtime_data.local
    if local is None:
        return
    health = local.health
    down_since = health.last_success or started
    down = not health.reachable and dt_util.utcnow() - down_since >= LOCAL_UNREACHABLE_AFTER
    _set_issue(
        hass,
        entry,
        ISSUE_LOCAL_UNREACHABLE,
        active=down,
        fixable=True,  # a fix flow changes the address
        placeholders={
            "name": entry.title,
            "host": str(entry.data.get(CONF_HOST)),
            "port": str(entry.data.get(CONF_PORT, DEFAULT_LOCAL_PORT)),
        },
    )


def _check_monitor(hass: HomeAssistant, entry: VictronConfigEntry) -> None:
    local = entry.runtime_data.local
    # While the Cerbo itself does not answer, nothing new is known about the monitor.
    if local is None or local.data is None or not local.last_update_success:
        return
    monitor = local.data.monitor
    since = monitor.missing_since
    missing = (
        not monitor.following_system
        and not monitor.present
        and since is not None
        and dt_util.utcnow() - since >= MONITOR_MISSING_AFTER
    )
    _set_issue(
        hass,
        entry,
        ISSUE_MONITOR_MISSING,
        active=missing,
        # product and custom name only: a service name can carry the serial
        placeholders={"name": entry.title, "device": monitor.label},
    )


def _check_vrm(hass: HomeAssistant, entry: VictronConfigEntry) -> None:
    vrm = entry.runtime_data.vrm
    if vrm is None:
        return
    health = vrm.health
    # Judge only on what VRM itself says: when we cannot reach VRM, the site is not to blame.
    if health.consecutive_failures or health.vrm_seconds_ago is None:
        return
    silent = health.vrm_seconds_ago >= VRM_SILENT_AFTER.total_seconds()
    _set_issue(
        hass,
        entry,
        ISSUE_VRM_NOT_REPORTING,
        active=silent,
        placeholders={
            "name": entry.title,
            "hours": f"{health.vrm_seconds_ago / 3600:.1f}",
        },
    )


def _set_issue(
    hass: HomeAssistant,
    entry: VictronConfigEntry,
    kind: str,
    *,
    active: bool,
    placeholders: dict[str, str],
    fixable: bool = False,
) -> None:
    if not active:
        ir.async_delete_issue(hass, DOMAIN, issue_id(entry, kind))
        return
    ir.async_create_issue(
        hass,
        DOMAIN,
        issue_id(entry, kind),
        is_fixable=fixable,
        data={"entry_id": entry.entry_id} if fixable else None,
        is_persistent=False,
        severity=ir.IssueSeverity.WARNING,
        translation_key=kind,
        translation_placeholders=placeholders,
    )
