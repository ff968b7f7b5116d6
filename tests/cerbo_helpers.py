"""A fake Cerbo GX DBus HTTP API for the tests, faked at the transport.

`FakeCerbo` answers through HA's `aioclient_mock` (a regex matcher plus a side effect that
routes by path and `service=`), so the client's real aiohttp code path runs up to the socket.
`RawCerboServer` is a real HTTP/1.0 server on 127.0.0.1 that behaves like the single-threaded
BaseHTTPRequestHandler: no Content-Length, connection closed after each answer, and it can hang.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from pytest_homeassistant_custom_component.test_util.aiohttp import (
    AiohttpClientMocker,
    AiohttpClientMockResponse,
)
from yarl import URL

FIXTURES = Path(__file__).parent / "fixtures" / "cerbo"

HOST = "192.168.1.20"
PORT = 8088
BASE = f"http://{HOST}:{PORT}"
PORTAL_ID = "c0619ab4e53f"

SYSTEM = "com.victronenergy.system"
PLATFORM = "com.victronenergy.platform"
VIRTUAL = "com.victronenergy.battery.virtual_6167fb1a3a50da34"
PYLONTECH = "com.victronenergy.battery.socketcan_can0"
LYNX = "com.victronenergy.battery.socketcan_can0_vi6_uc317637"
VEBUS = "com.victronenergy.vebus.ttyS4"
TEMP_5 = "com.victronenergy.temperature.adc_builtin0_5"
TEMP_6 = "com.victronenergy.temperature.adc_builtin0_6"

ROOT_FIXTURES = {
    SYSTEM: "system.json",
    PLATFORM: "platform.json",
    VIRTUAL: "battery_virtual.json",
    PYLONTECH: "battery_pylontech.json",
    VEBUS: "vebus.json",
    TEMP_5: "temperature_5.json",
    TEMP_6: "temperature_6.json",
}


def fixture_text(name: str) -> str:
    """The raw text of tests/fixtures/cerbo/<name> (some are deliberately not JSON)."""
    return (FIXTURES / name).read_text(encoding="utf-8")


def fixture_json(name: str) -> Any:
    """The parsed fixture (stdlib JSON accepts the server's NaN)."""
    return json.loads(fixture_text(name))


def root_of(name: str) -> dict[str, Any]:
    """The flat service dict inside a `/value` fixture."""
    value = fixture_json(name)["value"]
    assert isinstance(value, dict)
    return value


def envelope(service: str, value: Any) -> str:
    """A `/value?path=/` answer the way the server writes it (indent=2, NaN allowed)."""
    return json.dumps({"service": service, "path": "/", "value": value, "success": True}, indent=2)


@dataclass
class Reply:
    """One canned answer: a status and body, an exception, or a hang until cancelled."""

    status: int = 200
    text: str = ""
    exc: BaseException | None = None
    hang: bool = False

    @classmethod
    def fixture(cls, name: str, status: int = 200) -> Reply:
        """Answer with a fixture file."""
        return cls(status=status, text=fixture_text(name))


NOT_FOUND_404 = Reply.fixture("error_404.json", 404)
LEGACY_500 = Reply.fixture("error_500_legacy.json", 500)


class FakeCerbo:
    """Routes the client's GETs to canned replies and counts them per path and service."""

    def __init__(self, aioclient_mock: AiohttpClientMocker, host: str = HOST) -> None:
        """Register one catch-all GET matcher for the host; every other method stays unmocked."""
        self.mock = aioclient_mock
        self.health = Reply.fixture("health_v32.json")
        self.services = Reply.fixture("services.json")
        self.roots: dict[str, Reply] = {
            service: Reply.fixture(name) for service, name in ROOT_FIXTURES.items()
        }
        self.missing = NOT_FOUND_404
        self.log: list[tuple[str, str | None]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.gate: asyncio.Event | None = None  # when set, every answer waits for it
        aioclient_mock.get(
            re.compile(rf"^http://{re.escape(host)}:{PORT}/"), side_effect=self._answer
        )

    def set_root(self, service: str, value: Any) -> None:
        """Serve `value` as the service's root dict."""
        self.roots[service] = Reply(text=envelope(service, value))

    async def _answer(self, method: str, url: URL, data: Any) -> AiohttpClientMockResponse:
        service = url.query.get("service") if url.path == "/value" else None
        self.log.append((url.path, service))
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.gate is not None:
                await self.gate.wait()
            reply = self._route(url, service)
            if reply.hang:
                await asyncio.Event().wait()
        finally:
            self.in_flight -= 1
        response = AiohttpClientMockResponse(method, url, status=reply.status, text=reply.text)
        response.exc = reply.exc
        return response

    def _route(self, url: URL, service: str | None) -> Reply:
        if url.path == "/health":
            return self.health
        if url.path == "/services":
            return self.services
        if url.path == "/value" and service is not None and url.query.get("path") == "/":
            return self.roots.get(service, self.missing)
        if url.path == "/value":
            return Reply.fixture("error_400.json", 400)
        return Reply.fixture("error_route_404.json", 404)

    def counts(self) -> Counter[str]:
        """Requests per `/health`, `/services` or service name."""
        return Counter(service or path for path, service in self.log)

    def reset(self) -> None:
        """Forget the request log."""
        self.log.clear()


class RawCerboServer:
    """A real single-threaded-style HTTP/1.0 server on 127.0.0.1 (BaseHTTPRequestHandler-like)."""

    def __init__(self) -> None:
        """Serve `/health` until told otherwise."""
        self.bodies: dict[str, tuple[int, bytes]] = {
            "/health": (200, fixture_text("health_v32.json").encode()),
        }
        self.hang = False
        self.requests: list[str] = []
        self._server: asyncio.Server | None = None
        self._release = asyncio.Event()
        self.port = 0

    async def __aenter__(self) -> Self:
        """Listen on an ephemeral port."""
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        """Release hung handlers and stop listening."""
        self._release.set()
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request_line = (await reader.readline()).decode()
            while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                pass
            method, target, _ = request_line.split(" ", 2)
            self.requests.append(f"{method} {target}")
            if self.hang:
                await self._release.wait()
                return
            status, body = self.bodies.get(URL(target).path, (404, b'{"error": "Not found"}'))
            writer.write(
                f"HTTP/1.0 {status} X\r\nServer: BaseHTTP/0.6 Python/3.12\r\n"
                "Content-type: application/json\r\n\r\n".encode()
                + body
            )
            await writer.drain()
        finally:
            writer.close()
