"""Fixtures of the client package's tests: plain aiohttp against fake servers on loopback.

No `hass` here: the package must work without Home Assistant. The test plugin still loads (it
serves the integration tests beside these), so its autouse fixture that needs `hass` is
replaced by one that needs nothing, and loopback sockets are allowed.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator

import aiohttp
import pytest

from custom_components.victron_cerbo.api.cerbo import CerboClient, CerboPoller

from .fakes import FakeCerbo, FakeClock, FakeVrm

# The client's timeout in these tests: a hung fake answers never, so a timeout costs this much
# real time; loopback answers take a few milliseconds.
TIMEOUT = 0.5


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations() -> None:
    """Replace the integration tests' autouse fixture, which needs `hass`."""


@pytest.fixture(autouse=True)
def _loopback(socket_enabled: None) -> None:
    """The fakes are real servers on 127.0.0.1."""


@pytest.fixture
async def session() -> AsyncGenerator[aiohttp.ClientSession]:
    """A plain aiohttp session, as an application would inject it."""
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def cerbo() -> AsyncGenerator[FakeCerbo]:
    """The Cerbo GX DBus HTTP API, answering from tests/fixtures/cerbo."""
    async with FakeCerbo() as server:
        yield server


@pytest.fixture
async def vrm() -> AsyncGenerator[FakeVrm]:
    """The VRM API; each test says what its paths answer."""
    async with FakeVrm() as server:
        yield server


@pytest.fixture
def client(session: aiohttp.ClientSession, cerbo: FakeCerbo) -> CerboClient:
    """A client of the fake Cerbo."""
    return CerboClient(session, cerbo.host, cerbo.port, timeout=TIMEOUT)


@pytest.fixture
def clock() -> FakeClock:
    """The poller's clock."""
    return FakeClock()


@pytest.fixture
def poller(client: CerboClient, clock: FakeClock) -> CerboPoller:
    """A poller at the default 10 s fast interval on the hand-moved clock."""
    return CerboPoller(client, fast_interval=10, clock=clock)
