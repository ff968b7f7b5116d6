"""scripts/browser_check: open the bundled dashboard in a real headless Chromium and check it.

    scripts/browser_check [--out DIR] [--docs] [--keep-running] [--wait-statistics]
    scripts/browser_check --runner scripts/py314 --out .dev/browser_check-newest
    scripts/browser_check --no-flow --installations 2 --out .dev/browser_check-fleet
    scripts/browser_check --no-flow --past --out .dev/browser_check-past

1. Starts the simulator and a real Home Assistant with its frontend (`scripts/develop
   --background`, in a fresh config directory and on free ports), or uses one that
   `scripts/develop` already runs. `--runner CMD` starts it through CMD: with
   `scripts/py314` that is the newest Home Assistant, while Chromium stays on this machine.
2. Signs in through Home Assistant's login flow (as the login page does) and hands the tokens
   to the browser the way the frontend stores them.
3. Finds every Victron dashboard in the sidebar and opens each of its views in Debian's
   `chromium` (headless, driven over the DevTools protocol; never a downloaded browser) at a
   desktop and a phone width, and saves a screenshot of each.
4. Fails when any card shows an error (unknown card type, configuration error, entity not
   available, a card's own error alert) or a trend chart is empty.

`--installations 2 --no-flow` starts one VRM account with two sites (one entry each): then it
checks the first site's dashboard and the "Victron fleet" panel (`fleet.png`), whose totals must
count both sites online.

`--past` waits for the VRM history import after setup (the simulator has days of past) and
then requires the 24 h and 72 h views' trend lines to reach back to the start of their range:
charts of a fresh installation that show its past, not a few minutes.

Before step 3, on a Home Assistant it started itself (`scripts/develop --onboarding`), it walks
onboarding, the config flow, options and reconfigure in the browser, and Delete after the
dashboards (dev/browser_flow.py); `--no-flow` skips that walk.

Exit code 0 when every page passed. `--docs` also copies the main screenshots to docs/.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import aiohttp

REPO: Final = Path(__file__).resolve().parents[1]
DEFAULT_OUT: Final = REPO / ".dev" / "browser_check"
DOCS: Final = REPO / "docs"
CHROMIUM: Final = "/usr/bin/chromium"
CHROMIUM_FLAGS: Final = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--remote-debugging-port=0",
    "--remote-debugging-address=127.0.0.1",
)
DASHBOARD_PREFIX: Final = "victron-cerbo-"
# The fleet dashboard's (dashboard/fleet_panel.py): one per VRM account of two or more entries.
FLEET_PREFIX: Final = f"{DASHBOARD_PREFIX}fleet-"
FLEET_SHOT: Final = "fleet.png"
FLEET_TIMEOUT: Final = 90.0  # seconds for the panel to appear and its totals to count every site
# The fleet's totals tiles (fleet_builder._totals_section) and what each must show.
FLEET_ONLINE: Final = "Online"
FLEET_COUNTS: Final = ("Online", "Offline", "With an active alarm")
FIRST_ENTRY_ID: Final = "victroncerbosimulator00000"  # scripts/develop's entry of the first site


@dataclass(frozen=True)
class Screen:
    """A window size; the phone one makes the frontend use its narrow layout."""

    name: str
    width: int
    height: int
    scale: float
    mobile: bool


SCREENS: Final = (
    Screen("desktop", 1280, 900, 1, mobile=False),
    Screen("phone", 390, 844, 2, mobile=True),
)
# Screenshots kept in docs/ (view path, screen): the overview and one range, both widths.
DOCS_SHOTS: Final = (
    ("now", "desktop"),
    ("24h", "desktop"),
    ("72h", "desktop"),
    ("now", "phone"),
    ("24h", "phone"),
)
RENDER_TIMEOUT: Final = 60.0  # seconds a view gets to draw its cards and charts
MAX_SHOT_HEIGHT: Final = 7000  # CSS pixels
NOTHING_DRAWN: Final = "no dashboard view was drawn"
GIVE_UP_AFTER: Final = 2  # views in a row on which the frontend drew nothing at all
PAST_SETTLE: Final = 20.0  # seconds a chart gets to add the statistics to its states
HISTORY_TIMEOUT: Final = 600.0  # seconds for the VRM history import's first span (--past)
PAST_VIEWS: Final = {"24h": 24, "72h": 72}  # views whose lines must span their range (--past)
# Charts of live-only values: the SOC difference needs the inverter's SOC, which VRM has not.
LIVE_ONLY_CHARTS: Final = frozenset({"SOC difference"})
# The frontend's own noise when views switch quickly; not about the dashboard.
BENIGN_CONSOLE: Final = ("Transition was skipped", "Failure writing unhandled promise rejection")


class CheckError(Exception):
    """The check could not run (not: the dashboard failed it)."""


class PageScriptError(CheckError):
    """Our script threw in the page, e.g. while the frontend was still replacing it."""


# --- JavaScript run in the page -----------------------------------------------------------------

# Walks every shadow root: Home Assistant's cards live several shadow roots deep.
INSPECT_JS: Final = r"""
(() => {
  const all = (root, out = []) => {
    for (const el of root.querySelectorAll("*")) {
      out.push(el);
      if (el.shadowRoot) all(el.shadowRoot, out);
    }
    return out;
  };
  const text = (el) => {
    const parts = [];
    const walk = (node) => {
      if (node.nodeType === 3) parts.push(node.textContent);
      if (node.shadowRoot) walk(node.shadowRoot);
      for (const child of node.childNodes || []) walk(child);
    };
    walk(el);
    return parts.join(" ").replace(/\s+/g, " ").trim();
  };
  const els = all(document);
  const view = els.find((el) =>
    ["HUI-SECTIONS-VIEW", "HUI-MASONRY-VIEW", "HUI-PANEL-VIEW"].includes(el.tagName));
  const errors = [];
  for (const el of els) {
    const tag = el.tagName;
    if (tag === "HUI-ERROR-CARD" || tag === "HUI-WARNING" || tag === "HUI-WARNING-ELEMENT") {
      errors.push(`${tag.toLowerCase()}: ${text(el).slice(0, 300)}`);
    }
    if (tag.startsWith("HUI-") && tag.endsWith("-CARD")) {
      for (const alert of el.shadowRoot ? el.shadowRoot.querySelectorAll("ha-alert") : []) {
        if (alert.getAttribute("alert-type") === "error") {
          errors.push(`${tag.toLowerCase()} error: ${text(alert).slice(0, 300)}`);
        }
      }
    }
  }
  const cards = els.filter((el) => el.tagName.startsWith("HUI-") && el.tagName.endsWith("-CARD"))
    .map((el) => el.tagName.toLowerCase());
  const graphs = els.filter((el) => el.tagName === "HUI-HISTORY-GRAPH-CARD").map((card) => {
    const inner = all(card.shadowRoot || card);
    const root = card.shadowRoot || card;
    const header = root.querySelector(".card-header, h1");
    const haCard = root.querySelector("ha-card");
    // The header's first run of text: its link to the history panel comes after a gap.
    const title = ((header && header.textContent.trim().split(/\s{2,}/)[0])
      || (haCard && haCard.header) || text(card)).slice(0, 80);
    const charts = inner.filter((el) => el.tagName === "HA-CHART-BASE");
    let points = 0;
    let lines = 0;
    let first = null;  // the earliest point drawn (ms), to tell how far back a line reaches
    for (const chart of charts) {
      const option = chart.chart && chart.chart.getOption ? chart.chart.getOption() : null;
      for (const series of (option && option.series) || []) {
        if (series.type === "line") lines += 1;
        points += (series.data || []).length;
        for (const point of series.data || []) {
          const x = Array.isArray(point) ? point[0] : point && point.value && point.value[0];
          const t = typeof x === "number" ? x : Date.parse(x);
          if (Number.isFinite(t) && (first === null || t < first)) first = t;
        }
      }
    }
    const noHistory = text(card).includes("No state history found");
    const disabled = text(card).includes("History integration disabled");
    const loading = inner.some((el) => ["HA-SPINNER", "HA-CIRCULAR-PROGRESS"].includes(el.tagName));
    return { title, charts: charts.length, lines, points, first, noHistory, disabled, loading };
  });
  const unavailable = els.filter((el) => el.tagName === "HUI-TILE-CARD")
    .map((el) => text(el)).filter((t) => /\bUnavailable\b/.test(t));
  const statistics = els.filter((el) => el.tagName === "HUI-STATISTIC-CARD").map((el) => {
    const value = el.shadowRoot && el.shadowRoot.querySelector(".value");
    return value ? value.textContent.trim() : null;
  });
  // A dialog Home Assistant opened by itself (e.g. to confirm changed HTTP settings) covers the
  // cards; it is reported, never dismissed.
  const dialogs = els
    .filter((el) => /^HA-(MD-|WA-)?DIALOG$/.test(el.tagName) && el.hasAttribute("open"))
    .map((el) => text(el).slice(0, 120));
  let bottom = document.documentElement.scrollHeight;
  if (view) bottom = Math.max(bottom, view.getBoundingClientRect().bottom + window.scrollY);
  return {
    url: location.pathname,
    view: view ? view.tagName.toLowerCase() : null,
    title: document.title,
    cards,
    errors,
    graphs,
    statistics,
    unavailable,
    dialogs,
    bottom: Math.ceil(bottom),
    login: !!els.find((el) => el.tagName === "HA-AUTHORIZE"),
  };
})()
"""


# Each tile card's text as drawn, through its shadow roots: its name, then its state.
TILES_JS: Final = r"""
(() => {
  const all = (root, out = []) => {
    for (const el of root.querySelectorAll("*")) {
      out.push(el);
      if (el.shadowRoot) all(el.shadowRoot, out);
    }
    return out;
  };
  const text = (el) => {
    const parts = [];
    const walk = (node) => {
      if (node.nodeType === 3) parts.push(node.textContent);
      if (node.nodeName === "STYLE" || node.nodeName === "SCRIPT") return;
      if (node.shadowRoot) walk(node.shadowRoot);
      for (const child of node.childNodes || []) walk(child);
    };
    walk(el);
    return parts.join(" ").replace(/\s+/g, " ").trim();
  };
  return all(document).filter((el) => el.tagName === "HUI-TILE-CARD").map(text);
})()
"""


# The text a person reads on the view, through every shadow root.
VIEW_TEXT_JS: Final = r"""
(() => {
  const parts = [];
  const walk = (node) => {
    if (node.nodeType === 3) parts.push(node.textContent);
    if (node.nodeName === "STYLE" || node.nodeName === "SCRIPT") return;
    if (node.shadowRoot) walk(node.shadowRoot);
    for (const child of node.childNodes || []) walk(child);
  };
  walk(document.body);
  return parts.join(" ").replace(/\s+/g, " ");
})()
"""


def healthy_but_problem(view_text: str, problems_on: list[str]) -> str | None:
    """A "healthy" verdict on the page while a problem sensor of the entry is on."""
    if problems_on and re.search(r"\bhealthy\b", view_text, re.IGNORECASE):
        return f"the page says healthy while problem sensors are on: {', '.join(problems_on)}"
    return None


async def problem_sensors_on(session: aiohttp.ClientSession, ha: HomeAssistant) -> list[str]:
    """The entry's problem binary sensors that are on now."""
    registry = await websocket(session, ha, {"type": "config/entity_registry/list"})
    ours = {e["entity_id"] for e in registry if e.get("platform") == "victron_cerbo"}
    states = await websocket(session, ha, {"type": "get_states"})
    return sorted(
        s["entity_id"]
        for s in states
        if s["entity_id"] in ours
        and s["entity_id"].startswith("binary_sensor.")
        and s["attributes"].get("device_class") == "problem"
        and s["state"] == "on"
    )


# --- the config flow walk (dev/browser_flow.py) ------------------------------------------------


async def _entry_id(session: aiohttp.ClientSession, ha: HomeAssistant) -> str | None:
    entries = await websocket(
        session, ha, {"type": "config_entries/get", "domain": "victron_cerbo"}
    )
    return str(entries[0]["entry_id"]) if entries else None


def _targets(ha: HomeAssistant) -> Any:
    from dev import browser_flow  # noqa: PLC0415 - imports this module
    from dev.simulator import SimConfig  # noqa: PLC0415

    return browser_flow.Targets(
        username=ha.username,
        password=ha.password,
        host="127.0.0.1",
        port=int(ha.local.rsplit(":", 1)[1]),
        closed_port=free_port(),  # bound a moment ago and let go: nobody listens there
        token=SimConfig().token,  # the simulator's VRM token
    )


async def walk_flow(
    session: aiohttp.ClientSession, ha: HomeAssistant, out: Path, say: Callable[[str], None]
) -> bool:
    """Onboarding to reconfigure in the browser; signs the check in once the user exists."""
    from dev import browser_flow  # noqa: PLC0415 - imports this module

    for old in await asyncio.to_thread(lambda: list(out.glob("flow-*.png"))):
        old.unlink()  # an earlier run's steps would mislead
    browser = await asyncio.to_thread(Browser.start, out / "chromium-flow.log")
    try:
        page = await browser_flow.open_page(browser, session, None)
        walker = browser_flow.Walker(page, ha.url, out, SCREENS[0], say)
        await walker.size(SCREENS[0])
        ok = await browser_flow.walk_setup(
            walker,
            _targets(ha),
            lambda: sign_in(session, ha),
            lambda: _entry_id(session, ha),
            SCREENS[1],
        )
        _note_console(page, say)
        await page.close()
    finally:
        await asyncio.to_thread(browser.stop)
    return ok and not any(r.problems for r in walker.results)


async def walk_flow_removal(
    session: aiohttp.ClientSession, ha: HomeAssistant, out: Path, say: Callable[[str], None]
) -> bool:
    """The end of the walk, after the dashboards: delete the entry in the browser."""
    from dev import browser_flow  # noqa: PLC0415 - imports this module

    browser = await asyncio.to_thread(Browser.start, out / "chromium-flow.log")
    try:
        page = await browser_flow.open_page(browser, session, ha.tokens)
        walker = browser_flow.Walker(page, ha.url, out, SCREENS[0], say)
        walker.count_from(100)
        await walker.size(SCREENS[0])
        ok = await browser_flow.walk_removal(walker, lambda: _entry_id(session, ha))
        await page.close()
    finally:
        await asyncio.to_thread(browser.stop)
    return ok and not any(r.problems for r in walker.results)


def _note_console(page: DevTools, say: Callable[[str], None]) -> None:
    lines = [line for line in page.console if not any(b in line for b in BENIGN_CONSOLE)]
    for line in dict.fromkeys(lines):
        say(f"       note (console): {line[:200]}")


# --- a small DevTools protocol client ------------------------------------------------------------


class DevTools:
    """One page target of Chromium, over its WebSocket."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._ws = ws
        self._next = 0
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.console: list[str] = []
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self._ws:
            if message.type is not aiohttp.WSMsgType.TEXT:
                continue
            data = json.loads(message.data)
            if "id" in data and (future := self._pending.pop(data["id"], None)):
                if not future.done():
                    future.set_result(data)
            elif data.get("method") == "Runtime.exceptionThrown":
                details = data["params"]["exceptionDetails"]
                description = details.get("exception", {}).get("description") or details["text"]
                self.console.append(f"exception: {description.splitlines()[0]}")
            elif data.get("method") == "Runtime.consoleAPICalled":
                params = data["params"]
                if params["type"] in {"error", "assert"}:
                    args = [str(a.get("value", a.get("description", ""))) for a in params["args"]]
                    self.console.append(f"console.{params['type']}: {' '.join(args)[:300]}")
        for future in self._pending.values():
            future.set_exception(CheckError("Chromium closed the DevTools connection"))

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        self._next += 1
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[self._next] = future
        try:
            await self._ws.send_json({"id": self._next, "method": method, "params": params})
        except (aiohttp.ClientError, ConnectionError) as err:
            raise CheckError(f"Chromium closed the DevTools connection ({err})") from err
        try:
            reply = await asyncio.wait_for(future, 60)
        except TimeoutError as err:
            raise CheckError(f"Chromium did not answer {method} in 60 s") from err
        if "error" in reply:
            raise CheckError(f"{method}: {reply['error']}")
        result: dict[str, Any] = reply.get("result", {})
        return result

    async def evaluate(self, expression: str) -> Any:
        reply = await self.call(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in reply:
            raise PageScriptError(f"page script failed: {reply['exceptionDetails'].get('text')}")
        return reply["result"].get("value")

    async def close(self) -> None:
        self._reader.cancel()
        await self._ws.close()


@dataclass
class Browser:
    """A headless Chromium with a fresh profile, started and stopped by us."""

    process: subprocess.Popen[bytes]
    profile: Path
    port: int

    @classmethod
    def start(cls, log: Path) -> Browser:
        """Start Chromium and wait for its DevTools port (blocking; run in a thread)."""
        if not Path(CHROMIUM).exists():
            raise CheckError(f"{CHROMIUM} not found; apt-get install -y chromium")
        profile = Path(tempfile.mkdtemp(prefix="victron-chromium-"))
        with log.open("wb") as out:
            process = subprocess.Popen(  # noqa: S603 - Debian's chromium, fixed flags
                [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "about:blank"],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not port_file.exists() or not port_file.read_text().strip():
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise CheckError(f"Chromium did not start; see {log}")
            time.sleep(0.1)
        return cls(process, profile, int(port_file.read_text().split()[0]))

    async def page(self, session: aiohttp.ClientSession) -> DevTools:
        async with session.put(f"http://127.0.0.1:{self.port}/json/new?about:blank") as response:
            target = await response.json(content_type=None)
        ws = await session.ws_connect(target["webSocketDebuggerUrl"], max_msg_size=0)
        page = DevTools(ws)
        await page.call("Page.enable")
        await page.call("Runtime.enable")
        return page

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        shutil.rmtree(self.profile, ignore_errors=True)


# --- Home Assistant -------------------------------------------------------------------------------


@dataclass
class HomeAssistant:
    """Where Home Assistant runs, the login, and whether we started it."""

    url: str
    username: str
    password: str
    started: bool
    tokens: dict[str, Any] = field(default_factory=dict)
    onboarding: bool = False  # onboarding is open: the flow walk runs first
    local: str = ""  # the simulated Cerbo's URL


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# What scripts/develop is started through (--runner), e.g. ["scripts/py314"].
RUNNER: list[str] = []


def develop(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own script, through the runner the user named
        [*RUNNER, str(REPO / "scripts" / "develop"), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def free_ports(count: int) -> int:
    """The first of `count` free loopback ports in a row (a Cerbo a site: local port + i)."""
    while True:
        first = free_port()
        probes = [socket.socket() for _ in range(count - 1)]
        try:
            for offset, probe in enumerate(probes, start=1):
                probe.bind(("127.0.0.1", first + offset))
        except OSError:
            continue
        finally:
            for probe in probes:
                probe.close()
        return first


def start_home_assistant(
    out: Path, say: Callable[[str], None], *, flow: bool, installations: int = 1
) -> HomeAssistant:
    """Use a running scripts/develop, or start one in a fresh config directory on free ports.

    With `flow`, the new one leaves onboarding open and has no entry (`--onboarding`): the
    walk in dev/browser_flow.py makes both in the browser. `installations` sites make one
    entry each on one VRM account, and the fleet panel.
    """
    state_file = REPO / ".dev" / "develop.json"
    status = develop("--status", timeout=60)
    if status.returncode == 0 and state_file.exists():
        state = json.loads(state_file.read_text(encoding="utf-8"))
        if state.get("ready"):
            say(f"using the running scripts/develop at {state['url']} (no flow walk)")
            return HomeAssistant(state["url"], state["username"], state["password"], started=False)
    config_dir = out / "config"
    shutil.rmtree(config_dir, ignore_errors=True)
    ready = out / "ready.json"
    args = ["--background", "--config-dir", str(config_dir), "--ready-file", str(ready)]
    args += ["--port", str(free_port()), "--local-port", str(free_ports(installations))]
    args += ["--vrm-port", str(free_port()), "--speed", "10"]
    if flow:
        args.append("--onboarding")
    if installations > 1:
        args += ["--installations", str(installations)]
    say("starting the simulator and Home Assistant (scripts/develop --background) ...")
    result = develop(*args, timeout=900)
    if result.returncode != 0:
        raise CheckError(f"scripts/develop failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
    state = json.loads(ready.read_text(encoding="utf-8"))
    return HomeAssistant(
        state["url"],
        state["username"],
        state["password"],
        started=True,
        onboarding=bool(state.get("onboarding")),
        local=state["simulator"]["local"],
    )


async def sign_in(session: aiohttp.ClientSession, ha: HomeAssistant) -> None:
    """The login page's two requests: the login flow, then the code for tokens."""
    client_id = f"{ha.url}/"
    async with session.post(
        f"{ha.url}/auth/login_flow",
        json={
            "client_id": client_id,
            "handler": ["homeassistant", None],
            "redirect_uri": f"{ha.url}/?auth_callback=1",
        },
    ) as response:
        flow = await response.json()
    async with session.post(
        f"{ha.url}/auth/login_flow/{flow['flow_id']}",
        json={"client_id": client_id, "username": ha.username, "password": ha.password},
    ) as response:
        step = await response.json()
    if step.get("type") != "create_entry":
        raise CheckError(f"Home Assistant refused the login: {step.get('errors')}")
    async with session.post(
        f"{ha.url}/auth/token",
        data={"grant_type": "authorization_code", "code": step["result"], "client_id": client_id},
    ) as response:
        tokens = await response.json()
    ha.tokens = {
        **tokens,
        "hassUrl": ha.url,
        "clientId": client_id,
        "expires": int(time.time() * 1000) + int(tokens["expires_in"]) * 1000,
    }


async def sign_out(session: aiohttp.ClientSession, ha: HomeAssistant) -> None:
    if refresh := ha.tokens.get("refresh_token"):
        with contextlib.suppress(aiohttp.ClientError, TimeoutError):
            async with session.post(f"{ha.url}/auth/revoke", data={"token": refresh}):
                pass


async def websocket(
    session: aiohttp.ClientSession, ha: HomeAssistant, message: dict[str, Any]
) -> Any:
    """One command over Home Assistant's websocket API."""
    async with session.ws_connect(f"{ha.url.replace('http', 'ws', 1)}/api/websocket") as ws:
        await ws.receive_json()
        await ws.send_json({"type": "auth", "access_token": ha.tokens["access_token"]})
        if (await ws.receive_json())["type"] != "auth_ok":
            raise CheckError("the websocket API refused the token")
        await ws.send_json({"id": 1, **message})
        reply = await ws.receive_json()
    if not reply.get("success"):
        raise CheckError(f"{message['type']}: {reply.get('error')}")
    return reply["result"]


async def victron_dashboards(
    session: aiohttp.ClientSession, ha: HomeAssistant
) -> dict[str, list[str]]:
    """url_path -> view paths of every Victron dashboard in the sidebar."""
    panels = await websocket(session, ha, {"type": "get_panels"})
    found = {}
    for url_path in sorted(panels):
        if url_path.startswith(DASHBOARD_PREFIX):
            config = await websocket(session, ha, {"type": "lovelace/config", "url_path": url_path})
            found[url_path] = [view["path"] for view in config["views"]]
    return found


async def first_installation_dashboard(
    session: aiohttp.ClientSession, ha: HomeAssistant
) -> str | None:
    """The url path of scripts/develop's first site's own dashboard: the panel of its title."""
    entries = await websocket(
        session, ha, {"type": "config_entries/get", "domain": "victron_cerbo"}
    )
    title = next((e["title"] for e in entries if e["entry_id"] == FIRST_ENTRY_ID), None)
    panels = await websocket(session, ha, {"type": "get_panels"})
    return next(
        (
            url_path
            for url_path, panel in sorted(panels.items())
            if url_path.startswith(DASHBOARD_PREFIX)
            and not url_path.startswith(FLEET_PREFIX)
            and panel.get("title") == title
        ),
        None,
    )


async def wait_for_fleet(
    session: aiohttp.ClientSession, ha: HomeAssistant, installations: int
) -> tuple[str, dict[str, Any]]:
    """The fleet panel's url path and config, once its Online total counts every site."""
    deadline = time.monotonic() + FLEET_TIMEOUT
    seen = "no fleet panel in the sidebar"
    while time.monotonic() < deadline:
        panels = await websocket(session, ha, {"type": "get_panels"})
        fleet = next((p for p in sorted(panels) if p.startswith(FLEET_PREFIX)), None)
        if fleet is not None:
            config = await websocket(session, ha, {"type": "lovelace/config", "url_path": fleet})
            online = fleet_tile_entity(config, FLEET_ONLINE)
            states = await websocket(session, ha, {"type": "get_states"})
            value = next((s["state"] for s in states if s["entity_id"] == online), None)
            if value == str(installations):
                return fleet, config
            seen = f"the fleet panel's {FLEET_ONLINE} total ({online}) is {value!r}"
        await asyncio.sleep(2)
    raise CheckError(
        f"{seen} after {FLEET_TIMEOUT:.0f} s (expected {installations} installations online)"
    )


def fleet_tile_entity(config: dict[str, Any], name: str) -> str | None:
    """The entity of the fleet's totals tile called `name`."""
    for section in config["views"][0].get("sections", []):
        for card in section.get("cards", []):
            if card.get("type") == "tile" and card.get("name") == name:
                return str(card["entity"])
    return None


def judge_fleet(
    config: dict[str, Any], tiles: list[str], view_text: str, installations: int
) -> list[str]:
    """What the fleet page must show beyond any dashboard: a section a site, counted totals."""
    problems = []
    sections = config["views"][0].get("sections", [])
    if len(sections) != installations + 1:
        problems.append(
            f"{len(sections)} sections: expected the totals and {installations} installations"
        )
    for name in FLEET_COUNTS:
        found = next((t for t in tiles if t.startswith(f"{name} ")), None)
        number = found and re.fullmatch(rf"{re.escape(name)} (\d+)\b.*", found)
        if not number:
            problems.append(f"the {name!r} total shows no number: {found!r}")
        elif name == FLEET_ONLINE and int(number.group(1)) != installations:
            problems.append(f"{found!r}: expected {installations} installations online")
    problems.extend(f"unavailable: {t[:100]}" for t in tiles if re.search(r"\bUnavailable\b", t))
    if "Configuration error" in view_text:
        problems.append("the page shows 'Configuration error'")
    return problems


async def check_fleet(
    page: DevTools,
    ha: HomeAssistant,
    fleet: tuple[str, dict[str, Any]],
    out: Path,
    installations: int,
) -> list[PageResult]:
    """The fleet panel at every screen size: as any dashboard, plus its own promises."""
    url_path, config = fleet
    results = []
    for screen in SCREENS:
        shot = out / (FLEET_SHOT if screen is SCREENS[0] else f"fleet-{screen.name}.png")
        result = await check_view(page, f"{ha.url}/{url_path}/fleet", screen, shot)
        if result.problems != [NOTHING_DRAWN]:
            tiles = await page.evaluate(TILES_JS)
            text = await page.evaluate(VIEW_TEXT_JS)
            result.problems.extend(judge_fleet(config, tiles, text, installations))
        results.append(result)
    return results


async def wait_for_statistics(say: Callable[[str], None]) -> None:
    """Short-term statistics are compiled every 5 minutes; wait for the next round."""
    now = time.time()
    wait = 300 - now % 300 + 20
    say(f"waiting {wait:.0f} s for Home Assistant to compile statistics ...")
    await asyncio.sleep(wait)


async def wait_for_history(
    session: aiohttp.ClientSession, ha: HomeAssistant, say: Callable[[str], None]
) -> None:
    """Wait until every entry's VRM history import has brought in its first span (72 h)."""
    say("waiting for the VRM history import (its first request comes a minute after setup) ...")
    deadline = time.monotonic() + HISTORY_TIMEOUT
    headers = {"Authorization": f"Bearer {ha.tokens['access_token']}"}
    while time.monotonic() < deadline:
        async with session.get(f"{ha.url}/api/states", headers=headers) as response:
            states = await response.json() if response.ok else []
        imports = [state for state in states if state["entity_id"].endswith("_history_import")]
        if imports and all((state["attributes"].get("rows") or 0) > 0 for state in imports):
            for state in imports:
                say(
                    f"history imported: {state['entity_id']} {state['state']} days, "
                    f"{state['attributes']['rows']} rows"
                )
            return
        await asyncio.sleep(5)
    raise CheckError(f"no VRM history imported within {HISTORY_TIMEOUT} s")


def short_history(report: dict[str, Any], hours: int, now_ms: float) -> list[str]:
    """Trend charts whose lines start later than the view's range (more than 90 minutes)."""
    start = now_ms - hours * 3_600_000
    return [
        f"the trend chart {graph['title']!r} starts "
        f"{(graph['first'] - start) / 3_600_000:.1f} h after the start of its {hours} h range"
        for graph in report["graphs"]
        if graph["title"] not in LIVE_ONLY_CHARTS
        and graph.get("first") is not None
        and graph["first"] - start > 90 * 60_000
    ]


# --- checking one page ----------------------------------------------------------------------------


@dataclass
class PageResult:
    """What one view at one width showed."""

    url: str
    screen: str
    shot: Path
    problems: list[str]
    notes: list[str]


async def open_view(page: DevTools, url: str) -> dict[str, Any]:
    """Navigate and wait until every history graph has drawn or said it has no history."""
    await page.call("Page.navigate", url=url)
    deadline = time.monotonic() + RENDER_TIMEOUT
    await asyncio.sleep(2)
    report: dict[str, Any] = {}
    while time.monotonic() < deadline:
        with contextlib.suppress(PageScriptError):
            report = await page.evaluate(INSPECT_JS)
            graphs = report["graphs"]
            settled = all(
                g["noHistory"] or g.get("disabled") or (g["points"] and not g["loading"])
                for g in graphs
            )
            if report["view"] and report["cards"] and settled:
                await asyncio.sleep(1.5)  # let the last charts finish their animation
                return dict(await page.evaluate(INSPECT_JS))
        await asyncio.sleep(0.5)
    return report


def judge(report: dict[str, Any]) -> tuple[list[str], list[str]]:
    """Problems fail the check; notes are reported only. Repeated lines are counted once."""
    problems: list[str] = []
    notes: list[str] = []
    if report.get("login"):
        return ["the login page is shown: signing in failed"], notes
    if not report.get("view"):
        return [NOTHING_DRAWN], notes
    problems.extend(report["errors"])
    if any("Unknown command" in error for error in report["errors"]):
        notes.append("'Unknown command' from statistic cards: Home Assistant runs without recorder")
    for graph in report["graphs"]:
        if graph.get("disabled"):
            problems.append(
                f"empty trend chart (Home Assistant has no history): {graph['title']!r}"
            )
        elif graph["noHistory"] or not graph["points"] or not graph["lines"]:
            problems.append(f"empty trend chart: {graph['title']!r}")
    if not report["cards"]:
        problems.append("the view has no cards")
    notes.extend(f"unavailable: {text[:100]}" for text in report["unavailable"])
    notes.extend(f"a dialog covers the page: {text}" for text in report.get("dialogs", []))
    missing = sum(1 for value in report["statistics"] if value in {None, "", "?"})
    if missing:
        notes.append(f"{missing} statistic card(s) without long-term statistics yet")
    return _counted(problems), notes


def _counted(lines: list[str]) -> list[str]:
    """Each distinct line once, in order, with "(N times)" when it came more than once."""
    counts = Counter(lines)
    return [line if counts[line] == 1 else f"{line} ({counts[line]} times)" for line in counts]


async def check_view(
    page: DevTools, url: str, screen: Screen, shot: Path, *, past_hours: int | None = None
) -> PageResult:
    """Open one view at one size, judge it and save its screenshot.

    `past_hours`: the view's range, whose lines must reach back to its start (VRM's past).
    """
    await page.call(
        "Emulation.setDeviceMetricsOverride",
        width=screen.width,
        height=screen.height,
        deviceScaleFactor=screen.scale,
        mobile=screen.mobile,
    )
    console_before = len(page.console)
    report = await open_view(page, url)
    problems, notes = judge(report)
    if past_hours is not None:
        # The card asks for the long-term statistics after the states, so a chart can be drawn
        # from the states alone for a moment: look again for a while before calling it short.
        short = short_history(report, past_hours, time.time() * 1000)
        deadline = time.monotonic() + PAST_SETTLE
        while short and time.monotonic() < deadline:
            await asyncio.sleep(2)
            with contextlib.suppress(PageScriptError):
                report = await page.evaluate(INSPECT_JS)
                short = short_history(report, past_hours, time.time() * 1000)
        problems.extend(short)
    if report.get("bottom"):
        # A tall window so that one screenshot holds the whole view.
        height = min(max(report["bottom"] + 24, screen.height), MAX_SHOT_HEIGHT)
        await page.call(
            "Emulation.setDeviceMetricsOverride",
            width=screen.width,
            height=height,
            deviceScaleFactor=screen.scale,
            mobile=screen.mobile,
        )
        await asyncio.sleep(1.5)
    data = await page.call("Page.captureScreenshot", format="png")
    await asyncio.to_thread(shot.write_bytes, base64.b64decode(data["data"]))
    notes.extend(
        line
        for line in page.console[console_before:]
        if not any(benign in line for benign in BENIGN_CONSOLE)
    )
    return PageResult(url, screen.name, shot, problems, notes)


async def check_dashboards(
    session: aiohttp.ClientSession,
    ha: HomeAssistant,
    out: Path,
    say: Callable[[str], None],
    problems_on: list[str] | None = None,
    *,
    installations: int = 1,
    past: bool = False,
) -> list[PageResult]:
    """Every view of every Victron dashboard at every screen size.

    `past`: VRM's history was imported, so the 24 h and 72 h views' lines span their range.

    With several installations (`scripts/develop --installations`): the fleet panel and the
    first site's own dashboard; the other sites' dashboards are built the same way.
    """
    fleet = None
    if installations > 1:
        fleet = await wait_for_fleet(session, ha, installations)
    dashboards = await victron_dashboards(session, ha)
    if fleet is not None:
        first = await first_installation_dashboard(session, ha)
        dashboards = {first: dashboards[first]} if first in dashboards else {}
    if not dashboards:
        raise CheckError(
            "no Victron dashboard in the sidebar: is async_register_dashboard called "
            "from async_setup_entry, and the show_dashboard option on?"
        )
    browser = await asyncio.to_thread(Browser.start, out / "chromium.log")
    results: list[PageResult] = []
    try:
        page = await browser.page(session)
        # The frontend keeps its tokens here after "keep me logged in".
        tokens = json.dumps(json.dumps(ha.tokens))
        await page.call(
            "Page.addScriptToEvaluateOnNewDocument",
            source=f"localStorage.setItem('hassTokens', {tokens});",
        )
        for url_path, views in dashboards.items():
            prefix = "" if len(dashboards) == 1 else f"{url_path}-"
            for screen in SCREENS:
                for view in views:
                    shot = out / f"{prefix}{view}-{screen.name}.png"
                    past_hours = PAST_VIEWS.get(view) if past else None
                    result = await check_view(
                        page, f"{ha.url}/{url_path}/{view}", screen, shot, past_hours=past_hours
                    )
                    if view == "now" and (
                        contradiction := healthy_but_problem(
                            await page.evaluate(VIEW_TEXT_JS), problems_on or []
                        )
                    ):
                        result.problems.append(contradiction)
                    results.append(result)
                    blank = results[-GIVE_UP_AFTER:]
                    if len(blank) == GIVE_UP_AFTER and all(
                        NOTHING_DRAWN in r.problems for r in blank
                    ):
                        say(f"the frontend draws nothing; stopping (see {shot})")
                        return results
                    _report(say, f"/{url_path}/{view}", result)
        if fleet is not None:
            for result in await check_fleet(page, ha, fleet, out, installations):
                results.append(result)
                _report(say, f"/{fleet[0]}/fleet", result)
        await page.close()
    finally:
        await asyncio.to_thread(browser.stop)
    return results


def _report(say: Callable[[str], None], path: str, result: PageResult) -> None:
    verdict = "FAIL" if result.problems else "ok"
    say(f"{verdict:4} {path} ({result.screen})  {result.shot.name}")
    for line in result.problems:
        say(f"       problem: {line}")
    for line in result.notes:
        say(f"       note: {line}")


def copy_to_docs(out: Path) -> int:
    shots = DOCS / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    copied = 0
    pairs = [(out / f"{v}-{s}.png", shots / f"dashboard-{v}-{s}.png") for v, s in DOCS_SHOTS]
    pairs.append((out / FLEET_SHOT, shots / "dashboard-fleet-desktop.png"))  # --installations
    for source, target in pairs:
        if source.exists():
            shutil.copyfile(source, target)
            copied += 1
    return copied


async def _checks(
    session: aiohttp.ClientSession,
    ha: HomeAssistant,
    args: argparse.Namespace,
    say: Callable[[str], None],
    demo: Any,
) -> tuple[list[PageResult], bool]:
    """The flow walk (on a Home Assistant still to onboard), then the dashboards, then removal."""
    out: Path = args.out
    results: list[PageResult] = []
    flow_ok = True
    if ha.onboarding:
        flow_started = time.monotonic()
        flow_ok = await walk_flow(session, ha, out, say)
        say(f"flow walk: {time.monotonic() - flow_started:.0f} s")
    else:
        await sign_in(session, ha)
    try:
        if demo is not None:
            from dev import browser_demo  # noqa: PLC0415 - imports Home Assistant, only for --demo

            await browser_demo.seed(
                session, ha.url, ha.tokens["access_token"], lambda m: websocket(session, ha, m)
            )
        if args.past and flow_ok:
            await wait_for_history(session, ha, say)
        if args.wait_statistics:
            await wait_for_statistics(say)
        if flow_ok:
            problems_on = await problem_sensors_on(session, ha)
            results = await check_dashboards(
                session,
                ha,
                out,
                say,
                problems_on,
                installations=args.installations,
                past=args.past,
            )
        if ha.onboarding and flow_ok:
            removal_started = time.monotonic()
            flow_ok = await walk_flow_removal(session, ha, out, say)
            say(f"removal walk: {time.monotonic() - removal_started:.0f} s")
    finally:
        await sign_out(session, ha)
    return results, flow_ok


async def run(args: argparse.Namespace) -> int:
    out: Path = args.out

    def say(text: str) -> None:
        print(text, flush=True)

    started = time.monotonic()
    # SIGTERM (a timeout, CI) cancels the run, so Chromium and Home Assistant are still stopped.
    task = asyncio.current_task()
    assert task is not None
    for signum in (signal.SIGTERM, signal.SIGHUP):
        asyncio.get_running_loop().add_signal_handler(signum, task.cancel)
    demo = None
    if args.demo:
        from dev import browser_demo  # noqa: PLC0415 - imports Home Assistant, only for --demo

        say("--demo: a private Home Assistant with made-up states (not the integration's)")
        demo = await browser_demo.start(out)
        ha = HomeAssistant(demo.url, demo.username, demo.password, started=False)
    else:
        ha = await asyncio.to_thread(
            start_home_assistant,
            out,
            say,
            flow=not args.no_flow,
            installations=args.installations,
        )
    results: list[PageResult] = []
    flow_ok = True
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
            results, flow_ok = await _checks(session, ha, args, say, demo)
    finally:
        if ha.started and not args.keep_running:
            await asyncio.to_thread(develop, "--stop", timeout=120)
        if demo is not None and not args.keep_running:
            await asyncio.to_thread(demo.stop)
    failed = [r for r in results if r.problems]
    if not flow_ok:
        say("the flow walk failed (see the flow-*.png screenshots)")
    if args.docs and not failed:
        copied = await asyncio.to_thread(copy_to_docs, out)
        say(f"copied {copied} screenshots to docs/screenshots")
    say(
        f"browser check: {len(results) - len(failed)} passed, {len(failed)} failed "
        f"({time.monotonic() - started:.0f} s); screenshots in {out}"
    )
    return 1 if failed or not results or not flow_ok else 0


def main() -> int:
    """Parse the command line and run the check."""
    parser = argparse.ArgumentParser(
        prog="scripts/browser_check", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="screenshots and logs")
    parser.add_argument("--docs", action="store_true", help="copy the main screenshots to docs/")
    parser.add_argument("--keep-running", action="store_true", help="leave Home Assistant running")
    parser.add_argument(
        "--wait-statistics", action="store_true", help="wait for 5-minute statistics first"
    )
    parser.add_argument(
        "--demo", action="store_true", help="made-up states in a private Home Assistant"
    )
    parser.add_argument(
        "--past",
        action="store_true",
        help="wait for the VRM history import, then require the 24 h and 72 h charts to reach"
        " back to the start of their range",
    )
    parser.add_argument(
        "--no-flow",
        action="store_true",
        help="skip onboarding and the config flow walk: dashboards of a pre-made entry only",
    )
    parser.add_argument(
        "--runner",
        default="",
        help="start scripts/develop through this command (scripts/py314: newest HA)",
    )
    parser.add_argument(
        "--installations",
        type=int,
        default=1,
        help="sites on one VRM account (scripts/develop --installations): from 2 on, also the"
        " fleet panel (fleet.png); needs --no-flow",
    )
    args = parser.parse_args()
    if args.installations < 1 or (args.installations > 1 and not args.no_flow):
        parser.error("--installations: at least 1, and more than 1 only with --no-flow")
    RUNNER[:] = shlex.split(args.runner)
    args.out = args.out.resolve()
    args.out.mkdir(parents=True, exist_ok=True)
    try:
        return asyncio.run(run(args))
    except asyncio.CancelledError:
        print("browser check: stopped", file=sys.stderr)
        return 1
    except CheckError as err:
        print(f"browser check: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    # Run the imported copy: dev/browser_flow.py must share its classes (PageScriptError ...).
    from dev import browser_check  # noqa: PLW0406

    sys.exit(browser_check.main())
