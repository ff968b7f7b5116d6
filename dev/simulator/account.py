"""One VRM account with several installations: each its own Cerbo, one user and token for all.

The first installation is the account's anchor: its clock is everyone's, and the VRM app keeps
the account-wide things on it (request counts, VRM faults, the token, the rate window), so every
`/sim/*` endpoint of the VRM app acts on the whole account. The others are built from it with
their own portal ID, site ID, seed, battery profile, SOC and logging interval.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from .config import PROFILES, SimConfig, with_profile
from .model import SimulatedInstallation

# What a GX offers for "Log interval" (1, 5, 10 and 15 minutes)
LOGGING_INTERVALS = (60, 300, 600, 900)


class SimulatedAccount:
    """N installations behind one VRM user; `installations[0]` keeps the account-wide state."""

    def __init__(self, installations: list[SimulatedInstallation]) -> None:
        if not installations:
            raise ValueError("an account needs at least one installation")
        first = installations[0].config
        sites = [model.config.site_id for model in installations]
        portals = [model.config.portal_id for model in installations]
        if len(set(sites)) != len(sites) or len(set(portals)) != len(portals):
            raise ValueError("site IDs and portal IDs must differ between installations")
        if any(
            (model.config.user_id, model.config.token) != (first.user_id, first.token)
            for model in installations
        ):
            raise ValueError("every installation must belong to the first one's user")
        self.installations = installations
        self.primary = installations[0]
        for model in installations[1:]:
            model.clock = self.primary.clock  # one simulated time for the whole account
        self.sites = {model.config.site_id: model for model in installations}

    @classmethod
    def around(cls, primary: SimulatedInstallation, count: int) -> SimulatedAccount:
        """`primary` and count - 1 more installations derived from it, deterministically."""
        if count < 1:
            raise ValueError("count must be at least 1")
        start = datetime.fromtimestamp(primary.started, UTC)
        others = [
            SimulatedInstallation(
                start,
                speed=primary.clock.speed,
                seed=primary.seed + index,
                config=site_config(primary.config, index, primary.seed),
                monotonic=primary.monotonic,
            )
            for index in range(1, count)
        ]
        return cls([primary, *others])

    @classmethod
    def build(
        cls,
        count: int,
        start: datetime,
        *,
        speed: float = 0.0,
        seed: int = 0,
        config: SimConfig | None = None,
        **kwargs: Any,
    ) -> SimulatedAccount:
        """An account of `count` installations; the first one has `config` unchanged."""
        primary = SimulatedInstallation(start, speed=speed, seed=seed, config=config, **kwargs)
        return cls.around(primary, count)

    def __iter__(self) -> Iterator[SimulatedInstallation]:
        return iter(self.installations)

    def __len__(self) -> int:
        return len(self.installations)

    @property
    def config(self) -> SimConfig:
        """The first installation's config: the account's user and token."""
        return self.primary.config

    def advance(self, seconds: float) -> None:
        """Move every installation on (they share one clock)."""
        self.primary.advance(seconds)

    def timestamp(self) -> float:
        return self.primary.timestamp()

    def vrm_requests(self) -> dict[str, int]:
        """Exact VRM request counts of the whole account, by method, path and query."""
        counts: dict[str, int] = self.primary.request_counts()["vrm"]["requests"]
        return counts

    def local_requests(self) -> list[int]:
        """How many requests each installation's Cerbo received, in installation order."""
        return [model.request_counts()["local"]["total"] for model in self.installations]

    def forget_requests(self) -> None:
        for model in self.installations:
            model.requests.clear()

    def describe(self) -> dict[str, Any]:
        """For GET /sim/account: who is in the account and how often each site logs."""
        return {
            "user_id": self.config.user_id,
            "installations": [
                {
                    "site_id": model.config.site_id,
                    "portal_id": model.config.portal_id,
                    "name": model.config.site_name,
                    "logging_interval": model.config.logging_interval,
                    "monitor": model.config.monitor,
                    "local_requests": model.request_counts()["local"]["total"],
                }
                for model in self.installations
            ],
            "vrm_requests": self.primary.request_counts()["vrm"],
        }


def site_config(base: SimConfig, index: int, seed: int = 0) -> SimConfig:
    """The config of the account's installation number `index` (0 is `base` itself).

    The same (base, index, seed) always gives the same site, so runs are repeatable.
    """
    if index == 0:
        return base
    rng = random.Random(f"{seed}:{index}")
    profile = sorted(PROFILES)[index % len(PROFILES)]
    config = with_profile(base, profile)
    return dataclasses.replace(
        config,
        portal_id=f"{(int(base.portal_id, 16) + index) % 16**12:012x}",
        site_id=base.site_id + index,
        site_name=f"{base.site_name} {index + 1}",
        logging_interval=rng.choice(LOGGING_INTERVALS),
        initial_soc=float(rng.randint(30, 95)),
        pv_peak_w=float(rng.choice((2000, 4000, 6000, 9000))),
        base_load_w=float(rng.randint(150, 600)),
    )


ACCOUNT_KEY = web.AppKey("account", SimulatedAccount)


async def get_account(request: web.Request) -> web.Response:
    return web.json_response(request.app[ACCOUNT_KEY].describe() | {"success": True})
