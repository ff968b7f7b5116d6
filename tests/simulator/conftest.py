"""Fixtures of the simulator's tests: its servers listen on loopback.

`local` and `vrm` serve the module's `model` (a SimulatedInstallation fixture each module
defines); a module with other servers defines its own `vrm`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from dev.simulator import SimulatedInstallation, create_local_app, create_vrm_app

Client = TestClient[Any, Any]


@pytest.fixture(autouse=True)
def _loopback(socket_enabled: None) -> None:
    """The test plugin blocks sockets unless a test opts in; the servers are on 127.0.0.1."""


@pytest.fixture
async def local(model: SimulatedInstallation) -> AsyncIterator[Client]:
    async with TestClient(TestServer(create_local_app(model), host="127.0.0.1")) as client:
        yield client


@pytest.fixture
async def vrm(model: SimulatedInstallation) -> AsyncIterator[Client]:
    async with TestClient(TestServer(create_vrm_app(model), host="127.0.0.1")) as client:
        yield client
