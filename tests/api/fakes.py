"""Fakes of the two sources at the transport: small aiohttp servers on loopback.

The clients under test run their real aiohttp code against these servers, which answer from the
JSON fixtures in tests/fixtures and record every request; nothing of Home Assistant is involved.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

from aiohttp import web
from aiohttp.test_utils import TestServer
from yarl import URL

FIXTURES = Path(__file__).parent.parent / "fixtures"
CERBO_FIXTURES = FIXTURES / "cerbo"
VRM_FIXTURES = FIXTURES / "vrm"

PORTAL_ID = "c0619ab4e53f"
SYSTEM = "com.victronenergy.system"
PLATFORM = "com.victronenergy.platform"
VIRTUAL = "com.victronenergy.battery.virtual_6167fb1a3a50da34"
PYLONTECH = "com.victronenergy.battery.socketcan_can0"
LYNX = "com.victronenergy.battery.socketcan_can0_vi6_uc317637"
VEBUS = "com.victronenergy.vebus.ttyS4"
TEMP_5 = "com.victronenergy.temperature.adc_builtin0_5"
TEMP_6 = "com.victronenergy.temperature.adc_builtin0_6"

# The VRM account and site the fixtures describe, and the paths the client asks for.
TOKEN = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
USER_ID = 22222
SITE_ID = 123456
INSTANCE = 512
USERS_ME = "/users/me"
INSTALLATIONS = f"/users/{USER_ID}/installations"
OVERVIEW = f"/installations/{SITE_ID}/system-overview"
BATTERY = f"/installations/{SITE_ID}/widgets/BatterySummary"

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
    return (CERBO_FIXTURES / name).read_text(encoding="utf-8")


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
    """One canned answer: a status, headers and body, a broken connection, or a hang.

    `hang` holds the request until the server closes (the client's timeout gives up first).
    `drop` breaks the connection instead of answering: "reset" (RST), "close" (closed before
    any answer) or "cut" (closed in the middle of a body whose length was announced).
    """

    status: int = 200
    text: str = ""
    content: bytes | None = None  # the body as bytes, when it must not be valid text
    headers: Mapping[str, str] = field(default_factory=dict)
    hang: bool = False
    drop: str | None = None

    @classmethod
    def fixture(cls, name: str, status: int = 200) -> Self:
        """Answer with a fixture file."""
        return cls(status=status, text=fixture_text(name))

    @classmethod
    def json(cls, value: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Self:
        """Answer with a JSON body."""
        return cls(status=status, text=json.dumps(value), headers=headers or {})


class FakeClock:
    """A monotonic clock that only moves when told; `sleep` moves it and records the delay."""

    def __init__(self, start: float = 1000.0) -> None:
        """Start at `start` seconds."""
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        """The time now."""
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock on."""
        self.now += seconds

    async def sleep(self, seconds: float) -> None:
        """Sleep without waiting: the clock moves instead."""
        self.sleeps.append(seconds)
        self.now += seconds


NOT_FOUND_404 = Reply.fixture("error_404.json", 404)
LEGACY_500 = Reply.fixture("error_500_legacy.json", 500)


@dataclass(frozen=True)
class Request:
    """One request as the server saw it."""

    method: str
    url: URL  # relative: path and query
    headers: Mapping[str, str]
    body: bytes


@dataclass(repr=False)
class _Server:
    """An aiohttp application on an ephemeral loopback port that records each request."""

    host: str = "127.0.0.1"
    requests: list[Request] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    gate: asyncio.Event | None = None  # when set, every answer waits for it
    arrived: asyncio.Event = field(default_factory=asyncio.Event)  # set at each request
    _release: asyncio.Event = field(default_factory=asyncio.Event)
    _server: TestServer | None = None

    async def __aenter__(self) -> Self:
        """Listen; the app answers every method on every path (to see what the client sends)."""
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._server = TestServer(app, host=self.host)
        await self._server.start_server()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        """Let hung requests go and stop listening."""
        self._release.set()
        assert self._server is not None
        await self._server.close()

    @property
    def port(self) -> int:
        """The ephemeral port the server listens on."""
        assert self._server is not None
        assert self._server.port is not None
        return self._server.port

    @property
    def base_url(self) -> str:
        """`http://host:port`, brackets around an IPv6 address."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        seen = Request(request.method, request.rel_url, dict(request.headers), await request.read())
        self.requests.append(seen)
        self.arrived.set()
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.gate is not None:
                await self.gate.wait()
            reply = await self.answer(seen)
            if reply.hang:
                await self._release.wait()
            if reply.drop:
                self._break(request, reply.drop)
                raise asyncio.CancelledError  # nothing more is written to a broken connection
            body = reply.content if reply.content is not None else reply.text.encode()
            return web.Response(
                status=reply.status,
                body=body,
                headers={"Content-Type": "application/json", **reply.headers},
            )
        finally:
            self.in_flight -= 1

    @staticmethod
    def _break(request: web.Request, how: str) -> None:
        transport = request.transport
        assert transport is not None
        if how == "reset":
            transport.abort()
        elif how == "close":
            transport.close()
        else:  # "cut"
            transport.write(b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"success"')
            transport.close()

    async def answer(self, request: Request) -> Reply:
        """The reply to one request."""
        raise NotImplementedError

    def reset(self) -> None:
        """Forget the request log."""
        self.requests.clear()


@dataclass(repr=False)
class FakeCerbo(_Server):
    """The Cerbo GX DBus HTTP API: `/health`, `/services` and `/value?service=&path=/`."""

    health: Reply = field(default_factory=lambda: Reply.fixture("health_v32.json"))
    services: Reply = field(default_factory=lambda: Reply.fixture("services.json"))
    roots: dict[str, Reply] = field(
        default_factory=lambda: {
            service: Reply.fixture(name) for service, name in ROOT_FIXTURES.items()
        }
    )
    missing: Reply = field(default_factory=lambda: NOT_FOUND_404)

    def set_root(self, service: str, value: Any) -> None:
        """Serve `value` as the service's root dict."""
        self.roots[service] = Reply(text=envelope(service, value))

    async def answer(self, request: Request) -> Reply:
        """Answer like the v3.2 server, its 404/400 bodies included."""
        path, query = request.url.path, request.url.query
        if path == "/health":
            return self.health
        if path == "/services":
            return self.services
        service = query.get("service")
        if path == "/value" and service is not None and query.get("path") == "/":
            return self.roots.get(service, self.missing)
        if path == "/value":
            return Reply.fixture("error_400.json", 400)
        return Reply.fixture("error_route_404.json", 404)

    @property
    def log(self) -> list[tuple[str, str | None]]:
        """(path, service) of each request; service only for `/value`."""
        return [
            (
                request.url.path,
                request.url.query.get("service") if request.url.path == "/value" else None,
            )
            for request in self.requests
        ]

    def counts(self) -> Counter[str]:
        """Requests per `/health`, `/services` or service name."""
        return Counter(service or path for path, service in self.log)


type Answer = Reply | Callable[[Request], Awaitable[Reply]]


@dataclass(repr=False)
class FakeVrm(_Server):
    """The VRM API v2 under `/v2`: a path answers what `get` set for it, anything else a 404.

    An answer is a `Reply`, or a coroutine function of the request for answers that change.
    """

    routes: dict[str, tuple[Mapping[str, str] | None, Answer]] = field(default_factory=dict)

    @property
    def api_url(self) -> str:
        """The base URL a client is given."""
        return f"{self.base_url}/v2"

    def get(self, path: str, answer: Answer, *, params: Mapping[str, str] | None = None) -> None:
        """Answer GETs of `/v2<path>` (with these query parameters, when given)."""
        self.routes[f"/v2{path}"] = (params, answer)

    def clear(self) -> None:
        """Forget the answers and the requests."""
        self.routes.clear()
        self.reset()

    @property
    def call_count(self) -> int:
        """Requests received."""
        return len(self.requests)

    async def answer(self, request: Request) -> Reply:
        """The registered answer, else VRM's 404."""
        params, answer = self.routes.get(request.url.path, (None, None))
        if (
            answer is None
            or request.method != "GET"
            or (params is not None and dict(request.url.query) != dict(params))
        ):
            return Reply.json({"success": False, "errors": "Not found"}, status=404)
        return answer if isinstance(answer, Reply) else await answer(request)


def vrm_json(name: str) -> Any:
    """tests/fixtures/vrm/<name>.json, parsed afresh (safe to change)."""
    return json.loads((VRM_FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


def vrm_text(name: str) -> str:
    """The raw text of tests/fixtures/vrm/<name>."""
    return (VRM_FIXTURES / name).read_text(encoding="utf-8")


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
