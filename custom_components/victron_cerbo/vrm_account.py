"""The VRM accounts of the entries: one request budget and one live listing per account.

VRM's rate limit belongs to the account (its documentation does not say whether per token or
per user), so every entry using one token counts against one budget and waits out one
`Retry-After`. The lowest warning and limit among the account's loaded entries apply. A budget
outlives reloads and setup retries, so neither can reset the count.

One `installations?extended=1` request lists every site's system battery values, so entries of
several sites on one account share it (`AccountListing`): whichever entry polls first in a round
fetches it, the others read it. The BatterySummary and system overview of each site, which the
listing lacks, then take turns in a few extra requests an hour (`grant_extra`).
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Final

from homeassistant.config_entries import ConfigEntry
from homeassistant.util.hass_dict import HassKey

from .api.vrm import RequestBudget, VrmAccountLive, VrmClient, VrmError
from .const import CONF_VRM_TOKEN, DOMAIN
from .options import EntryOptions

if TYPE_CHECKING:
    from homeassistant.core import HomeAssistant

# Accounts outlive the coordinators so that reloads and setup retries cannot reset the count.
DATA_VRM_ACCOUNTS: HassKey[VrmAccounts] = HassKey(f"{DOMAIN}_vrm_accounts")

# Beside the shared listing, one BatterySummary or system overview per this many listings for
# the whole account: at the 180 s default 5 an hour, so 50 sites cost 20 + 5 = 25 an hour.
LISTINGS_PER_EXTRA: Final = 4
# While a site's overview is missing (sites added together), one per two listings: with the
# listings 30 an hour, below the default warning of 40.
LISTINGS_PER_MISSING_OVERVIEW: Final = 2


def account_key(token: str) -> str:
    """The key of the VRM account a token belongs to: its SHA-256, never the token itself.

    Why the token and not the user id: every entry holds its token from the start, while the
    user id is stored only by newer flows, and learning it costs a request that counts against
    the very budget it would key (and fails while VRM asks us to wait). VRM does not say whether
    its limit is per token or per user; one token is one user's in any case.
    """
    return hashlib.sha256(token.strip().encode()).hexdigest()


def _entry_account(entry: ConfigEntry) -> str | None:
    token = entry.data.get(CONF_VRM_TOKEN)
    return account_key(token) if isinstance(token, str) else None


@dataclass(eq=False, kw_only=True)
class AccountListing:
    """The account's `installations?extended=1`, fetched once per round for all its entries.

    A result (or the error) younger than the caller's `max_age` is handed out again; a fetch in
    flight is awaited by everyone who asks meanwhile, so a round costs one request however many
    entries poll in it.
    """

    live: VrmAccountLive | None = None
    error: VrmError | None = None
    fetched_at: datetime | None = None
    rounds: int = 0  # listings asked for so far
    _pending: asyncio.Future[VrmAccountLive] | None = None

    async def async_get(
        self, client: VrmClient, user_id: int, now: datetime, max_age: timedelta
    ) -> VrmAccountLive:
        """The listing as of at most `max_age` ago, fetching it when older; raises its error."""
        if self._pending is not None:
            return await asyncio.shield(self._pending)
        if self.fetched_at is not None and now - self.fetched_at < max_age:
            if self.error is not None:
                raise self.error
            assert self.live is not None
            return self.live
        self._pending = asyncio.get_running_loop().create_future()
        pending = self._pending
        self.rounds += 1
        try:
            live = await client.get_account_live(user_id)
        except VrmError as err:
            self.live, self.error, self.fetched_at = None, err, now
            pending.set_exception(err)
            pending.exception()  # retrieved: nobody else may be waiting
            raise
        else:
            self.live, self.error, self.fetched_at = live, None, now
            pending.set_result(live)
            return live
        finally:
            self._pending = None
            if not pending.done():  # cancelled (the entry unloading): so are the waiters
                pending.cancel()

    def next_round(self, interval: timedelta) -> datetime | None:
        """When the listing is next due for an entry polling every `interval`."""
        return None if self.fetched_at is None else self.fetched_at + interval


@dataclass(eq=False, kw_only=True)
class VrmAccount:
    """One VRM account's request budget and live listing, shared by its entries."""

    budget: RequestBudget
    # the loaded entries' own (warning, limit); the strictest of them applies to the account
    loaded: dict[str, tuple[int, int]] = field(default_factory=dict)
    listing: AccountListing = field(default_factory=AccountListing)
    # entry id -> site id of the entries polling VRM (their coordinator set up)
    sites: dict[str, int] = field(default_factory=dict)
    # entry id -> when it was last granted an extra request (absent: never)
    extras: dict[str, datetime] = field(default_factory=dict)
    # the entries that would use an extra request now (each says so at its every poll), and
    # whether for a missing overview
    wanting: dict[str, bool] = field(default_factory=dict)
    last_extra: int | None = None  # the listing round of the last extra request
    user_id: int | None = None  # the account's VRM user, once an entry knows it
    # entry id -> when its site's next upload is due (None: not known), for the entries that
    # need fresh values from the listing (not a backup of a Cerbo)
    next_uploads: dict[str, datetime | None] = field(default_factory=dict)

    def quiet_until(self) -> datetime | None:
        """Before this moment no site waiting for fresh values has anything new for VRM.

        None when any such site's next upload is unknown, or no site waits.
        """
        uploads = list(self.next_uploads.values())
        if not uploads or None in uploads:
            return None
        return min(upload for upload in uploads if upload is not None)

    @property
    def shares_listing(self) -> bool:
        """Whether entries of at least two sites poll: one listing then serves them all."""
        return len(set(self.sites.values())) >= 2  # noqa: PLR2004

    def grant_extra(
        self, entry_id: str, now: datetime, *, wants: bool, missing_overview: bool = False
    ) -> bool:
        """Whether the entry may send one extra request (a BatterySummary or an overview) now.

        `wants`: whether the entry would use one; `missing_overview`: for an overview it has
        never had. Those go first, then the entry served longest ago; one request per
        LISTINGS_PER_EXTRA listings for the whole account (LISTINGS_PER_MISSING_OVERVIEW while
        an overview is missing), none while the budget is near its limit.
        """
        if not wants:
            self.wanting.pop(entry_id, None)
            return False
        self.wanting[entry_id] = missing_overview
        if self.budget.near_limit:
            return False
        spacing = (
            LISTINGS_PER_MISSING_OVERVIEW if any(self.wanting.values()) else LISTINGS_PER_EXTRA
        )
        if self.last_extra is not None and self.listing.rounds - self.last_extra < spacing:
            return False
        never = datetime.min.replace(tzinfo=now.tzinfo)
        first = min(
            sorted(self.wanting),
            key=lambda entry: (not self.wanting[entry], self.extras.get(entry, never)),
        )
        if first != entry_id:
            return False
        self.extras[entry_id] = now
        self.last_extra = self.listing.rounds
        return True

    def apply_strictest(self) -> None:
        """Lowest warning and lowest limit among the loaded entries; unchanged when none."""
        if self.loaded:
            self.budget.configure(
                warning=min(warning for warning, _ in self.loaded.values()),
                limit=min(limit for _, limit in self.loaded.values()),
            )

    @property
    def idle(self) -> bool:
        """Nothing counted in the window and no Retry-After running: nothing to remember."""
        return self.budget.used == 0 and self.budget.hold_remaining() == 0


@dataclass(eq=False)
class VrmAccounts:
    """The VRM accounts of every entry, by `account_key`."""

    accounts: dict[str, VrmAccount] = field(default_factory=dict)
    # each entry's account at its last setup, to follow a token changed by reauthentication
    _keys: dict[str, str] = field(default_factory=dict)

    def attach(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry,
        options: EntryOptions,
        fallback: RequestBudget | None = None,
    ) -> VrmAccount:
        """The account of a VRM entry being set up; its options join the strictest rule.

        The first entry of an account stores `fallback` (or a new budget) as the account's.
        """
        key = account_key(entry.data[CONF_VRM_TOKEN])
        previous = self._keys.get(entry.entry_id)
        if previous is not None and previous != key:
            self._leave(entry.entry_id, previous)
            # A new token for the same entry is most likely the same account: keep counting.
            if key not in self.accounts and not _in_use(hass, previous, entry.entry_id):
                self.accounts[key] = self.accounts.pop(previous)
        self._keys[entry.entry_id] = key
        account = self.accounts.get(key)
        if account is None:
            account = self.accounts[key] = VrmAccount(budget=fallback or RequestBudget())
        account.loaded[entry.entry_id] = (options.budget_warning, options.budget_limit)
        account.apply_strictest()
        self._prune(hass)
        return account

    def detach(self, entry: ConfigEntry) -> None:
        """The entry is unloaded (or failed to set up): its options no longer apply."""
        if (key := self._keys.get(entry.entry_id)) is not None:
            self._leave(entry.entry_id, key)

    def forget(self, hass: HomeAssistant, entry: ConfigEntry) -> None:
        """The entry is removed: forget its account once no other entry uses it.

        An account that still counts requests in its hour or holds a Retry-After is kept until
        both are over, so removing and re-adding an entry cannot send more than the cap or send
        before VRM allows it.
        """
        self.detach(entry)
        self._keys.pop(entry.entry_id, None)
        self._prune(hass, removed=entry.entry_id)

    def _leave(self, entry_id: str, key: str) -> None:
        if (account := self.accounts.get(key)) is not None:
            account.loaded.pop(entry_id, None)
            account.sites.pop(entry_id, None)
            account.extras.pop(entry_id, None)
            account.wanting.pop(entry_id, None)
            account.next_uploads.pop(entry_id, None)
            account.apply_strictest()

    def _prune(self, hass: HomeAssistant, removed: str | None = None) -> None:
        for key, account in list(self.accounts.items()):
            if account.idle and not account.loaded and not _in_use(hass, key, removed):
                del self.accounts[key]


def _in_use(hass: HomeAssistant, key: str, other_than: str | None) -> bool:
    """Whether an entry (loaded or not) other than `other_than` uses the account."""
    return any(
        entry.entry_id != other_than and _entry_account(entry) == key
        for entry in hass.config_entries.async_entries(DOMAIN)
    )


def vrm_accounts(hass: HomeAssistant) -> VrmAccounts:
    """The VRM accounts kept in `hass.data`."""
    accounts = hass.data.get(DATA_VRM_ACCOUNTS)
    if accounts is None:
        accounts = hass.data[DATA_VRM_ACCOUNTS] = VrmAccounts()
    return accounts


def entry_request_budget(
    hass: HomeAssistant,
    entry: ConfigEntry,
    fallback: RequestBudget | None = None,
    options: EntryOptions | None = None,
) -> RequestBudget:
    """The request budget of the entry's VRM account, shared by every entry using its token.

    The account's first entry stores `fallback` (or a new budget); later calls, for any entry
    of the account and across reloads, return that one. The thresholds are the strictest among
    the account's loaded entries.
    """
    options = options or EntryOptions.from_entry(entry)
    return vrm_accounts(hass).attach(hass, entry, options, fallback).budget
