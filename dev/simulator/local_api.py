"""The Cerbo GX "DBus HTTP API" (EnergyCitizen/ai_victron_dbus_api v3.2.0) on port 8088."""

from __future__ import annotations

import json
import math
import platform
import re
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from aiohttp import web

from .control import MODEL_KEY, add_control_routes, html_error_page, is_control
from .faults import Fault
from .model import SimulatedInstallation
from .services import settings_items

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

VERSION = "3.2.0"
SERVER = f"BaseHTTP/0.6 Python/{platform.python_version()}"
CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type",
}
DBUS_PATHS = frozenset({"/value", "/text", "/services", "/settings"})
OBJECT_PATH = re.compile(r"^/$|^(/[A-Za-z0-9_]+)+$")
NO_REPLY = (
    "org.freedesktop.DBus.Error.NoReply: Did not receive a reply. Possible causes include: "
    "the remote application did not send a reply, the message bus security policy blocked the "
    "reply, the reply timeout expired, or the network connection was broken."
)
NOT_FOUND = {"error": "Not found", "success": False}
MISSING = {"error": "Missing service or path parameter", "success": False}
UNSUPPORTED = """<!DOCTYPE HTML>
<html lang="en">
    <head>
        <meta charset="utf-8">
        <title>Error response</title>
    </head>
    <body>
        <h1>Error response</h1>
        <p>Error code: 501</p>
        <p>Message: Unsupported method ('{method}').</p>
        <p>Error code explanation: 501 - Server does not support this operation.</p>
    </body>
</html>
"""
# the same formats systemcalc's gettext uses, for /text on a leaf
_TEXT_FORMATS = (
    ("Soc", "{:.0f} %"),
    ("Voltage", "{:.2f} V"),
    ("Current", "{:.1f} A"),
    ("Power", "{:.0f} W"),
    ("Temperature", "{:.1f} °C"),
)


def reply(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """A JSON reply as Python's http.server + json.dumps(indent=2) writes it (NaN included)."""
    response = web.Response(
        status=status,
        body=json.dumps(data, indent=2).encode("ascii"),
        headers={"Content-Type": "application/json", "Server": SERVER, **CORS, **(headers or {})},
    )
    response.force_close()  # HTTP/1.0: one request per connection
    return response


def _envelope_404(service: str, path: str) -> web.Response:
    return reply(
        {
            "service": service,
            "path": path,
            "value": None,
            "error": f"Path {path} not available on {service}",
            "success": False,
        },
        404,
    )


def _lookup(values: dict[str, Any], path: str) -> tuple[bool, Any]:
    """(found, value) for a leaf or a sub-tree (flat dict relative to the node)."""
    if path == "/":
        return True, dict(values)
    key = path[1:]
    if key in values:
        return True, values[key]
    prefix = key + "/"
    sub = {k[len(prefix) :]: v for k, v in values.items() if k.startswith(prefix)}
    return bool(sub), sub


def _text(path: str, value: Any) -> str:
    if value == []:
        return "---"
    if isinstance(value, dict):
        items = ", ".join(f"dbus.String({k!r}): dbus.String({str(v)!r})" for k, v in value.items())
        return f"dbus.Dictionary({{{items}}}, signature=dbus.Signature('ss'), variant_level=1)"
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        leaf = path.rsplit("/", 1)[-1]
        for suffix, fmt in _TEXT_FORMATS:
            if leaf.endswith(suffix):
                return fmt.format(value)
    return str(value)


def _dbus_failure(request: web.Request) -> web.Response:
    """What v3.2 answers when the D-Bus call fails or times out."""
    if request.path == "/services":
        return reply({"services": [], "count": 0, "success": True})
    if request.path == "/settings":
        return reply({"settings": {}, "success": True})
    service, path = request.query.get("service"), request.query.get("path")
    if not service or not path:
        return reply(MISSING, 400)
    return _envelope_404(service, path)


def _fault_response(fault: Fault) -> web.Response:
    kind = fault.kind
    if kind == "5xx":
        return reply({"error": NO_REPLY, "success": False}, fault.status or 500)
    if kind == "429":
        body = {"error": "Too many requests", "success": False}
        return reply(body, 429, {"Retry-After": str(fault.retry_after)})
    if kind == "401":
        return reply({"error": "Unauthorized", "success": False}, 401)
    if kind == "malformed":
        response = web.Response(
            body=b'{\n  "service": "com.victronenergy.system",\n  "path": "/",\n  "value": {\n'
            b'    "Dc/Battery/Soc": 8',
            headers={"Content-Type": "application/json", "Server": SERVER, **CORS},
        )
        response.force_close()
        return response
    return html_error_page(fault.status or 502)  # kind == "html"


@web.middleware
async def _local_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if is_control(request):
        return await handler(request)
    model = request.app[MODEL_KEY]
    model.count_request("local", request.method, request.path_qs)
    async with model.local_lock:  # one request at a time, like http.server.HTTPServer
        dbus = request.path in DBUS_PATHS
        service = request.query.get("service")
        fault = model.faults.take("local", request.path_qs, service, model.timestamp(), dbus=dbus)
        if fault is not None:
            if fault.kind != "hang":
                return _fault_response(fault)
            seconds = model.config.hang_seconds if fault.seconds is None else fault.seconds
            await model.faults.hang(fault, seconds)
            if dbus:
                return _dbus_failure(request)
        return await handler(request)


def _info(model: SimulatedInstallation) -> dict[str, Any]:
    return {
        "name": "Victron DBus API Server",
        "version": VERSION,
        "mode": "read-write",
        "ai_write_enabled": False,
        "ai_write_status": "Venus OS Normal image does not include NodeRED. "
        "AI write requires Venus OS Large with NodeRED enabled.",
        "control_port": 8089,
        "endpoints": {
            "GET /": "API information",
            "GET /health": "Health check",
            "GET /services": "List all Victron D-Bus services",
            "GET /settings": "Get all settings",
            "GET /value?service=<service>&path=<path>": "Get a value",
            "GET /text?service=<service>&path=<path>": "Get a formatted text value",
            "GET /ai-write-status": "AI write status",
            "POST /value": "Set a value (requires AI_write switch)",
        },
        "portal_id": model.config.portal_id,
    }


def _health(model: SimulatedInstallation) -> dict[str, Any]:
    started = datetime.fromtimestamp(model.started, model.physics.tz).replace(tzinfo=None)
    return {
        "service": "dbus-api-server",
        "version": VERSION,
        "status": "healthy",
        "started_at": started.isoformat(),
        "uptime_seconds": max(0, int(model.timestamp() - model.started)),
        "success": True,
    }


def _value(model: SimulatedInstallation, request: web.Request, key: str) -> web.Response:
    service, path = request.query.get("service"), request.query.get("path")
    if not service or not path:
        return reply(MISSING, 400)
    values = model.service_values(service) if OBJECT_PATH.match(path) else None
    if values is None:
        return _envelope_404(service, path)
    found, value = _lookup(values, path)
    if not found:
        return _envelope_404(service, path)
    if key == "text":
        value = _text(path, value)
    return reply({"service": service, "path": path, key: value, "success": True})


def _ai_write_status() -> dict[str, Any]:
    return {
        "enabled": False,
        "message": "AI write is disabled: no AI_write virtual switch found.",
        "switch_service": None,
        "details": _ai_write_disabled()["details"],
        "faq": {"how_to_enable": _ai_write_disabled()["hint"]},
        "success": True,
    }


def _ai_write_disabled() -> dict[str, Any]:
    return {
        "error": "AI write is disabled",
        "message": "Writing requires the AI_write virtual switch in Node-RED to be on.",
        "details": {
            "venus_image_type": "normal",
            "nodered_enabled": False,
            "nodered_running": False,
            "switch_found": False,
            "switch_state": None,
        },
        "hint": "Install Venus OS Large, enable Node-RED and create a virtual switch AI_write.",
        "success": False,
    }


async def _dispatch(request: web.Request) -> web.Response:  # noqa: PLR0911
    model = request.app[MODEL_KEY]
    method, path = request.method, request.path
    if method == "OPTIONS":
        response = web.Response(status=204, headers={"Server": SERVER, **CORS})
        response.force_close()
        return response
    if method == "GET":
        if path in {"/", ""}:
            return reply(_info(model))
        if path == "/health":
            return reply(_health(model))
        if path == "/services":
            names = model.service_names()
            return reply({"services": names, "count": len(names), "success": True})
        if path == "/settings":
            items = {} if model.dbus_down() else settings_items(model.config)
            return reply({"settings": items, "success": True})
        if path in {"/value", "/text"}:
            return _value(model, request, path[1:])
        if path == "/ai-write-status":
            return reply(_ai_write_status())
        return reply(NOT_FOUND, 404)
    if method == "POST":
        if path == "/value":
            return reply(_ai_write_disabled(), 403)
        return reply(NOT_FOUND, 404)
    return web.Response(
        status=501,
        text=UNSUPPORTED.format(method=method),
        content_type="text/html",
        headers={"Server": SERVER},
    )


def create_local_app(model: SimulatedInstallation) -> web.Application:
    """An aiohttp app serving the Cerbo's DBus HTTP API plus the /sim control endpoints."""
    app = web.Application(middlewares=[_local_middleware])
    app[MODEL_KEY] = model
    add_control_routes(app)
    app.router.add_route("*", "/{tail:.*}", _dispatch)
    return app
