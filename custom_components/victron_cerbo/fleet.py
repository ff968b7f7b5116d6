"""The fleet: every loaded installation of one VRM account, summed up for a glance.

One config entry stays one installation (its devices, its sources, its own dashboard); the fleet
only reads their merged battery views (`battery.BatteryView`) and adds what no single entry can
say: how many installations are online, offline or raising an alarm, and which.

Why these definitions:

* **Online** means the battery data is fresh: a source is still connected (it has not failed
  three times in a row, the rule every entity follows) and the newest battery sample is younger
  than ten minutes (the view is not stale). Either failing is what a user means by "offline".
* **Active alarm** means an alarm the battery monitor or its BMS raises itself (the view's
  `alarms` value, any name at warning or alarm level), as the entry's "Battery alarm" sensor
  shows it, or one VRM's alarm monitoring lists for the site and has not cleared (in the
  account's shared listing, e.g. "Roof: Voltage" of a solar charger), fresh at every round.
  Our own judgements (voltage or temperature outside limits, low charge, ...) are
  `problems`, counted in an installation's health, not as alarms: a fleet alarm must never be
  raised by a threshold of ours alone.
* An installation's **data age** is that of its youngest value shown, in seconds.

Accounts are keyed like the request budget (`vrm_account.account_key`: the token's SHA-256);
ids derived from it are shortened and never hold the token, a site id or a serial.

Who provides the fleet's entities: the account's earliest-created loaded entry (its "owner"),
while at least two of the account's entries are loaded; one holder, so there is one device and
one set of entities per account whatever the number of entries. The platforms of every member
offer their `async_add_entities` (`async_offer_entities`); the owner's are used. When the owner
unloads (removed, disabled or reloaded), its platforms take the entities down and the next
earliest member adds them again under the same unique ids, with the same device, so entity ids
and automations keep working; nothing reloads and no request is sent. An earlier-created entry
that loads later takes them back the same way (a reload of the owner moves them away and back).
With fewer than two loaded members the entities are not provided (unavailable, kept in the
registry, so a restart that loads the entries one by one loses no renamed entity id); they and
the account's device are removed only when the account has fewer than two entries left at all
(`async_remove_entry`).

Why not one entry holding the account (config subentries per installation) or a separate "fleet"
config entry: each installation already is an entry of its own (its Cerbo, options, repairs and
diagnostics), and an extra entry would have to be added, kept and removed by hand.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from homeassistant.const import Platform
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from homeassistant.util.hass_dict import HassKey

from .battery import BatteryView
from .const import CONF_VRM_TOKEN, DOMAIN
from .vrm_account import account_key

if TYPE_CHECKING:
    from homeassistant.config_entries import ConfigEntry
    from homeassistant.helpers.entity import Entity

    from .runtime import VictronConfigEntry

MIN_INSTALLATIONS: Final = 2  # a fleet of one is the entry itself
FLEET_PLATFORMS: Final = (Platform.BINARY_SENSOR, Platform.SENSOR)
DATA_FLEETS: HassKey[dict[str, Fleet]] = HassKey(f"{DOMAIN}_fleets")
_ID_LENGTH: Final = 16  # hex digits of the account key in ids: unique enough, not the whole hash
# Home Assistant 2026.10 gives a device one config entry and moves it with `new_config_entry_id`;
# 2026.2 lists several and moves one by adding the new entry and removing the old.
_MOVE_DEVICE_BY_NEW_ENTRY: Final = (
    "new_config_entry_id" in inspect.signature(dr.DeviceRegistry.async_update_device).parameters
)


# --- the summary: pure functions of the members' views ----------------------------------------


@dataclass(frozen=True, kw_only=True)
class InstallationSummary:
    """One installation as the fleet shows it."""

    title: str
    soc: float | None
    state: str | None  # the battery state ("charging", ...), None when unknown
    data_age: int | None  # seconds; None while nothing is shown
    online: bool
    problems: tuple[str, ...]  # the problem verdicts that are on, by key
    alarms: tuple[str, ...]  # alarm names at warning or alarm level

    @property
    def healthy(self) -> bool:
        """Online, with no alarm and no problem."""
        return self.online and not self.problems and not self.alarms


@dataclass(frozen=True, kw_only=True)
class FleetSummary:
    """The installations of one account, in entry creation order, and their totals."""

    installations: tuple[InstallationSummary, ...]

    @property
    def total(self) -> int:
        """Installations loaded."""
        return len(self.installations)

    @property
    def online(self) -> tuple[str, ...]:
        """Titles of the installations whose battery data is fresh."""
        return tuple(item.title for item in self.installations if item.online)

    @property
    def offline(self) -> tuple[str, ...]:
        """Titles of the installations whose battery data is not fresh."""
        return tuple(item.title for item in self.installations if not item.online)

    @property
    def with_alarm(self) -> tuple[str, ...]:
        """Titles of the installations with an active alarm."""
        return tuple(item.title for item in self.installations if item.alarms)

    def alarms(self) -> dict[str, list[str]]:
        """Alarm names by installation title, for those with an active alarm."""
        return {item.title: list(item.alarms) for item in self.installations if item.alarms}


def active_alarms(alarms: Mapping[str, int] | None) -> tuple[str, ...]:
    """The names of the alarms at warning (1) or alarm (2) level, sorted."""
    return tuple(sorted(name for name, level in (alarms or {}).items() if level >= 1))


def summarize_installation(title: str, view: BatteryView | None) -> InstallationSummary:
    """What the fleet shows of one installation's view (None: no view yet, so offline)."""
    if view is None:
        return InstallationSummary(
            title=title, soc=None, state=None, data_age=None, online=False, problems=(), alarms=()
        )
    connected = any(status is not None and status.connected for status in (view.local, view.vrm))
    ages = [shown.data_age for shown in view.values.values() if shown is not None]
    return InstallationSummary(
        title=title,
        soc=view.value("soc"),
        state=view.value("state"),
        data_age=min(ages) if ages else None,
        online=connected and not view.stale,
        problems=tuple(
            sorted(key for key, verdict in view.problems.items() if verdict and verdict.on)
        ),
        alarms=active_alarms(view.value("alarms")) + (view.vrm.site_alarms if view.vrm else ()),
    )


def summarize(views: Iterable[tuple[str, BatteryView | None]]) -> FleetSummary:
    """The fleet of these (title, view) pairs."""
    return FleetSummary(
        installations=tuple(summarize_installation(title, view) for title, view in views)
    )


# --- the members of one account -----------------------------------------------------------------


def entry_account(entry: ConfigEntry) -> str | None:
    """The entry's account key; None without a VRM token (a LAN-only entry is in no fleet)."""
    token = entry.data.get(CONF_VRM_TOKEN)
    return account_key(token) if isinstance(token, str) else None


def fleet_id(key: str) -> str:
    """The stable base of the fleet's unique ids and device identifier."""
    return f"vrm_account_{key[:_ID_LENGTH]}"


def _created(entry: ConfigEntry) -> tuple[Any, str]:
    return (entry.created_at, entry.entry_id)


type EntityFactory = Callable[[Fleet], Sequence[Entity]]
type AddEntities = Callable[[Iterable[Entity]], None]


class Fleet:
    """The loaded entries of one VRM account, their summary and who provides its entities.

    Polls nothing: it listens to its members' battery coordinators while an entity listens to
    it, and tells its entities when the summary changed.
    """

    def __init__(self, hass: HomeAssistant, key: str) -> None:
        """An empty fleet for the account `key`."""
        self.hass = hass
        self.key = key
        self.members: dict[str, VictronConfigEntry] = {}
        self.summary = summarize(())
        self.owner: str | None = None  # the entry whose platforms hold the entities
        self._offers: dict[str, dict[Platform, tuple[EntityFactory, AddEntities]]] = {}
        self._entities: list[Entity] = []
        self._listeners: list[CALLBACK_TYPE] = []
        self._change_listeners: list[CALLBACK_TYPE] = []
        self._unsub_members: list[CALLBACK_TYPE] = []
        self._lock = asyncio.Lock()

    @property
    def unique_base(self) -> str:
        """The base of the entities' unique ids; free of the token and of site ids."""
        return fleet_id(self.key)

    def ordered(self) -> list[VictronConfigEntry]:
        """The loaded members, earliest created first."""
        return sorted(self.members.values(), key=_created)

    def wanted_owner(self) -> str | None:
        """The earliest-created member while at least two are loaded, else nobody."""
        members = self.ordered()
        return members[0].entry_id if len(members) >= MIN_INSTALLATIONS else None

    # membership

    @callback
    def join(self, entry: VictronConfigEntry) -> None:
        """A loaded entry joins; it leaves when it unloads."""
        self.members[entry.entry_id] = entry
        entry.async_on_unload(lambda: self._leave(entry.entry_id))
        self._members_changed()

    @callback
    def _leave(self, entry_id: str) -> None:
        self.members.pop(entry_id, None)
        self._offers.pop(entry_id, None)
        if self.owner == entry_id:
            # its platforms have already taken the entities down
            self.owner = None
            self._entities = []
        self._members_changed()

    @callback
    def offer(
        self,
        entry: VictronConfigEntry,
        platform: Platform,
        factory: EntityFactory,
        add: AddEntities,
    ) -> None:
        """A member's platform offers to hold the fleet's entities of that platform."""
        self._offers.setdefault(entry.entry_id, {})[platform] = (factory, add)
        self._schedule_sync()

    @callback
    def _members_changed(self) -> None:
        if self._listeners:
            self._unsubscribe_members()
            self._subscribe_members()
        self._member_updated()
        self._schedule_sync()

    @callback
    def _schedule_sync(self) -> None:
        self.hass.async_create_task(self._async_sync(), f"{DOMAIN} fleet", eager_start=True)

    @callback
    def async_add_change_listener(self, changed: CALLBACK_TYPE) -> CALLBACK_TYPE:
        """Call `changed` after members or the owner may have changed (the fleet dashboard)."""
        self._change_listeners.append(changed)
        return lambda: self._change_listeners.remove(changed)

    @property
    def owner_entry(self) -> VictronConfigEntry | None:
        """The entry whose platforms hold the fleet's entities, None while nobody's do."""
        return self.members.get(self.owner) if self.owner else None

    async def _async_sync(self) -> None:
        """Move the entities to the wanted owner, then tell who follows the fleet."""
        async with self._lock:
            await self._async_move()
        for changed in list(self._change_listeners):
            changed()

    async def _async_move(self) -> None:
        """Move the entities to the wanted owner once both its platforms have offered."""
        wanted = self.wanted_owner()
        if wanted == self.owner:
            return
        old, self._entities, self.owner = self._entities, [], None
        for entity in old:
            await entity.async_remove()  # same unique ids next: let go of them first
        offers = self._offers.get(wanted) if wanted else None
        if wanted is None or offers is None or set(offers) != set(FLEET_PLATFORMS):
            return  # synced again when its platforms offer
        self.owner = wanted
        self._move_device(wanted)
        for factory, add in offers.values():
            entities = factory(self)
            self._entities.extend(entities)
            add(entities)

    def _move_device(self, owner: str) -> None:
        """Hand the account's device to the new owner, so it keeps its id, area and name.

        On 2026.10 it moves before the entities do. On 2026.2 the entities add the owner to
        the device, and `async_release_device` takes the others off once their entities left:
        taking an entry off a device removes that entry's entities of the device.
        """
        if not _MOVE_DEVICE_BY_NEW_ENTRY:
            return
        registry = dr.async_get(self.hass)
        move: dict[str, Any] = {"new_config_entry_id": owner}  # unknown to 2026.2's types
        for _, device in self._devices_of_others(owner):
            registry.async_update_device(device.id, **move)

    @callback
    def async_release_device(self) -> None:
        """Take the entries that hold none of the fleet's entities off its device (2026.2)."""
        if _MOVE_DEVICE_BY_NEW_ENTRY or self.owner is None:
            return
        entities, devices = er.async_get(self.hass), dr.async_get(self.hass)
        prefix = f"{self.unique_base}_"
        for entry_id, device in self._devices_of_others(self.owner):
            held = er.async_entries_for_config_entry(entities, entry_id)
            if not any(item.unique_id.startswith(prefix) for item in held):
                devices.async_update_device(device.id, remove_config_entry_id=entry_id)

    def _devices_of_others(self, owner: str) -> list[tuple[str, dr.DeviceEntry]]:
        """The account's device as listed under each entry other than `owner`."""
        registry = dr.async_get(self.hass)
        identifier = (DOMAIN, self.unique_base)
        return [
            (entry.entry_id, device)
            for entry in self.hass.config_entries.async_entries(DOMAIN)
            if entry.entry_id != owner
            for device in dr.async_entries_for_config_entry(registry, entry.entry_id)
            if identifier in device.identifiers
        ]

    # updates

    @callback
    def async_add_listener(self, update: CALLBACK_TYPE) -> CALLBACK_TYPE:
        """Call `update` when the summary changes; listens to the members while anyone does."""
        if not self._listeners:
            self._subscribe_members()
            self._recompute()
        self._listeners.append(update)

        @callback
        def remove() -> None:
            self._listeners.remove(update)
            if not self._listeners:
                self._unsubscribe_members()

        return remove

    def _subscribe_members(self) -> None:
        self._unsub_members = [
            entry.runtime_data.battery.async_add_listener(self._member_updated)
            for entry in self.members.values()
        ]

    def _unsubscribe_members(self) -> None:
        for unsub in self._unsub_members:
            unsub()
        self._unsub_members = []

    @callback
    def _member_updated(self) -> None:
        if self._recompute():
            for update in list(self._listeners):
                update()

    def _recompute(self) -> bool:
        """Sum the members up again; whether the summary changed."""
        summary = summarize(
            (entry.title, entry.runtime_data.battery.data) for entry in self.ordered()
        )
        changed = summary != self.summary
        self.summary = summary
        return changed


def fleets(hass: HomeAssistant) -> dict[str, Fleet]:
    """The fleets by account key, kept in `hass.data`."""
    return hass.data.setdefault(DATA_FLEETS, {})


def fleet_of(hass: HomeAssistant, entry: ConfigEntry) -> Fleet | None:
    """The fleet of the entry's account, None for an entry without a VRM token."""
    key = entry_account(entry)
    if key is None:
        return None
    found = fleets(hass)
    if key not in found:
        found[key] = Fleet(hass, key)
    return found[key]


@callback
def async_join_fleet(hass: HomeAssistant, entry: VictronConfigEntry) -> Fleet | None:
    """The entry is loaded: count it in its account's fleet until it unloads."""
    if (fleet := fleet_of(hass, entry)) is not None:
        fleet.join(entry)
    return fleet


@callback
def async_offer_entities(
    hass: HomeAssistant,
    entry: VictronConfigEntry,
    platform: Platform,
    factory: EntityFactory,
    add: AddEntities,
) -> None:
    """From a platform's setup: hold the fleet's entities if this entry is the owner."""
    if (fleet := fleet_of(hass, entry)) is not None:
        fleet.offer(entry, platform, factory, add)


@callback
def async_remove_fleet_leftovers(hass: HomeAssistant, entry: ConfigEntry) -> None:
    """The entry is removed: with fewer than two entries left, remove the fleet's entities.

    Removing them while entries are merely unloaded would lose the user's entity ids on every
    restart, which loads the entries one by one.
    """
    key = entry_account(entry)
    if key is None:
        return
    left = [
        other
        for other in hass.config_entries.async_entries(DOMAIN)
        if other.entry_id != entry.entry_id and entry_account(other) == key
    ]
    if len(left) >= MIN_INSTALLATIONS:
        return
    base = fleet_id(key)
    # Through the account's entries (the removed one is still listed): the registries' own
    # lookups by identifier changed between the Home Assistant versions supported.
    entities, devices = er.async_get(hass), dr.async_get(hass)
    for entry_id in {entry.entry_id, *(other.entry_id for other in left)}:
        for item in er.async_entries_for_config_entry(entities, entry_id):
            if item.unique_id.startswith(f"{base}_"):
                entities.async_remove(item.entity_id)
        for device in dr.async_entries_for_config_entry(devices, entry_id):
            if (DOMAIN, base) in device.identifiers:
                devices.async_remove_device(device.id)
    fleet = fleets(hass).get(key)
    if fleet is not None and not fleet.members:
        del fleets(hass)[key]
