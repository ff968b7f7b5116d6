"""scripts/develop: the simulator and a real Home Assistant configured against it, in one command.

    scripts/develop [--speed 60] [--port 8123] [--local-port 8088] [--vrm-port 8089]
    scripts/develop --background [--ready-file PATH]   # returns once the entry is loaded
    scripts/develop --no-entry | --onboarding          # for walking the config flow by hand
    scripts/develop --installations 2                  # one VRM account, two sites: the fleet
    scripts/develop --status | --stop

It prepares a config directory (default `.dev/ha-<HA version>/`, git-ignored): the integration
symlinked from the working tree, a login, onboarding marked done and one config entry that uses
both sources against the simulator (`vrm_api_url` points VRM there). Then it starts
`python -m dev.simulator` and Home Assistant, both on 127.0.0.1 only, logs in through Home
Assistant's auth API as a browser would, waits until the entry is loaded and prints the URL and
the login. Ctrl-C, SIGTERM or `--stop` stops both.

Home Assistant gets VICTRON_CERBO_DEV_VRM_URL, so that the config flow too talks to the
simulator's VRM (token `simulated-token`). `--no-entry` leaves the entry out, for adding it
through the flow; `--onboarding` also leaves onboarding open and creates no login (a fresh
config directory only): the first visit to the URL creates the user, as on a new install.

`--installations N` serves one VRM account with N sites (dev/simulator/account.py), the Cerbo
of site i on local port + i, and writes one entry per site (same token and user, each its own
site, battery, portal ID and Cerbo): from two on, the integration adds the fleet dashboard.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import metadata
from importlib.util import find_spec
from pathlib import Path
from typing import Any, Final

import aiohttp

from custom_components.victron_cerbo.const import (
    CONF_BATTERY_INSTANCE,
    CONF_HOST,
    CONF_PORT,
    CONF_PORTAL_ID,
    CONF_SITE_ID,
    CONF_SOLARK_ENTITY,
    CONF_VRM_API_URL,
    CONF_VRM_TOKEN,
    CONF_VRM_USER_ID,
    DOMAIN,
    ENV_DEV_VRM_API_URL,
)
from dev.simulator import PROFILES, ConfigError, SimConfig, load_scenario, monitor, with_profile
from dev.simulator.account import site_config

REPO: Final = Path(__file__).resolve().parents[1]
DEV_DIR: Final = REPO / ".dev"  # git-ignored
STATE_FILE: Final = DEV_DIR / "develop.json"
LOG_DIR: Final = DEV_DIR / "logs"
DEPS_DIR: Final = DEV_DIR / "deps"
HOST: Final = "127.0.0.1"  # loopback only, for Home Assistant and the simulator

DEFAULT_PORT: Final = 8123
DEFAULT_LOCAL_PORT: Final = 8088
DEFAULT_VRM_PORT: Final = 8089
DEFAULT_USERNAME: Final = "dev"
DEFAULT_PASSWORD: Final = "victron-dev"  # a throwaway login for a loopback-only instance
DEFAULT_TIMEOUT: Final = 300.0  # seconds until the entry must be loaded
STOP_TIMEOUT: Final = 30.0  # seconds Home Assistant gets to stop before it is killed
POLL: Final = 0.5  # seconds between readiness checks
RESTART_EXIT_CODE: Final = 100  # what `hass` exits with when a restart is asked for

ENTRY_ID: Final = "victroncerbosimulator00000"  # fixed, so every start updates the same entry
# The entries of more sites (--installations) end in their index instead of 000.
ENTRY_ID_STEM: Final = ENTRY_ID[:-3]
ENTRY_STORAGE_MINOR: Final = 5  # core.config_entries 1.5 in HA 2026.2 and 2026.10
ONBOARDING_STEPS: Final = ("user", "core_config", "analytics", "integration")
LATITUDE: Final = 52.37  # the simulated site is near Amsterdam (SimConfig.timezone)
# A stand-in for a Sol-Ark inverter's SOC sensor: a `rest` sensor of the simulator's /sim/solark.
SOLARK_ENTITY: Final = "sensor.sol_ark_battery_soc"
# Set up beside the default ones, so their packages are installed too: `rest`, and what finishing
# onboarding sets up (--onboarding; see onboarding/views.py).
DEV_INTEGRATIONS: Final = (
    "rest",
    "google_translate",
    "met",
    "radio_browser",
    "shopping_list",
    "tts",
)


class DevelopError(Exception):
    """Something the user can fix; printed without a traceback."""


# --- Home Assistant facts ---------------------------------------------------------------------


def ha_version() -> str:
    from homeassistant.const import __version__  # noqa: PLC0415 - light, and only when asked

    return __version__


def default_config_dir() -> Path:
    """One directory per HA version: an older HA must not read a newer one's storage."""
    return DEV_DIR / f"ha-{ha_version()}"


def ha_package_dir() -> Path:
    spec = find_spec("homeassistant")
    if spec is None or not spec.submodule_search_locations:
        raise DevelopError("Home Assistant is not installed in this Python; run scripts/setup")
    return Path(next(iter(spec.submodule_search_locations)))


@dataclass(frozen=True, kw_only=True)
class Settings:
    """What one run uses; all of it comes from the command line."""

    port: int = DEFAULT_PORT
    local_port: int = DEFAULT_LOCAL_PORT
    vrm_port: int = DEFAULT_VRM_PORT
    config_dir: Path = field(default_factory=default_config_dir)
    username: str = DEFAULT_USERNAME
    password: str = DEFAULT_PASSWORD
    speed: float | None = None
    seed: int | None = None
    start: str | None = None
    scenario: str | None = None
    profile: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    sim: SimConfig = field(default_factory=SimConfig)
    entry: bool = True  # the pre-made config entry (False: add it through the flow)
    onboarding: bool = False  # leave onboarding open, with no login and no entry
    installations: int = 1  # sites in the simulated VRM account, one entry each

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def vrm_api_url(self) -> str:
        return f"http://{HOST}:{self.vrm_port}/v2"

    @property
    def local_ports(self) -> list[int]:
        """Each site's Cerbo port, as the simulator's account mode serves them."""
        return [self.local_port + index for index in range(self.installations)]


def entry_id(index: int) -> str:
    """The entry id of the account's site number `index` (0: the one entry of a plain run)."""
    return f"{ENTRY_ID_STEM}{index:03d}"


def site_settings(settings: Settings, index: int) -> Settings:
    """The settings as seen by site number `index`: its own config and Cerbo port.

    The simulator derives the site from the same base config (`site_config`); the seed only
    changes what the entry does not store (logging interval, SOC, loads).
    """
    return dataclasses.replace(
        settings,
        sim=site_config(settings.sim, index),
        local_port=settings.local_port + index,
        installations=1,
    )


# --- the config directory ---------------------------------------------------------------------


def entry_data(settings: Settings) -> dict[str, Any]:
    """Both sources against the simulator, as the config flow would store them."""
    sim = settings.sim
    return {
        CONF_HOST: HOST,
        CONF_PORT: settings.local_port,
        CONF_PORTAL_ID: sim.portal_id.lower(),
        CONF_VRM_TOKEN: sim.token,
        CONF_SITE_ID: sim.site_id,
        # a site whose VRM lists no battery monitor reads the GX's system battery instead
        CONF_BATTERY_INSTANCE: monitor(sim).instance if sim.vrm_battery_monitor else None,
        CONF_VRM_USER_ID: sim.user_id,
        CONF_VRM_API_URL: settings.vrm_api_url,
    }


def http_storage(settings: Settings, now: datetime) -> dict[str, Any] | None:
    """`.storage/http` for a Home Assistant that keeps its HTTP settings there (2026.10+).

    Such a version reads `http:` from YAML only once, as an unconfirmed trial that it reverts
    five minutes later (to port 8123 on every interface) unless someone confirms it in the UI.
    Written as the confirmed ("stable") settings instead, loopback and our port hold. None for
    a version that still reads YAML.
    """
    try:
        from homeassistant.components.http import config as http_config  # noqa: PLC0415
    except ImportError:
        return None
    if not hasattr(http_config, "HTTPConfigStore"):
        return None
    stable = dict(
        http_config.HTTP_STORAGE_SCHEMA({"server_host": [HOST], "server_port": settings.port})
    )
    stable |= {"created_at": now.isoformat(), "error": None, "error_message": None}
    data = {"stable": stable, "pending": None, "yaml_migration_done": True}
    return _storage(
        http_config.STORAGE_KEY,
        http_config.STORAGE_VERSION,
        http_config.STORAGE_MINOR_VERSION,
        data,
    )


def configuration_yaml(settings: Settings, *, http_in_yaml: bool = True) -> str:
    sim = settings.sim
    http = (
        f"""
http:
  server_host: {HOST}
  server_port: {settings.port}
"""
        if http_in_yaml
        else f"""
# The HTTP server ({HOST}:{settings.port}) is set in .storage/http: this version reads no http:.
"""
    )
    return f"""\
# Written by scripts/develop on every start; edit dev/develop.py instead.
homeassistant:
  name: Victron Cerbo GX (simulated)
  latitude: {LATITUDE}
  longitude: {sim.longitude}
  elevation: 0
  unit_system: metric
  time_zone: {sim.timezone}
  currency: EUR
  country: NL
  language: en
  internal_url: {settings.url}
{http}
# The dashboard's trend and statistics cards read these; default_config would also start
# network discovery on the machine, so only what the dashboard needs is named.
recorder:
  purge_keep_days: 3
history:

# The simulated Sol-Ark inverter's SOC, which new entries compare against (see the options).
sensor:
  - platform: rest
    unique_id: simulated_solark_battery_soc
    name: Sol-Ark battery SOC
    resource: http://{HOST}:{settings.local_port}/sim/solark
    value_template: "{{{{ value_json.soc }}}}"
    unit_of_measurement: "%"
    device_class: battery
    state_class: measurement
    scan_interval: 30

logger:
  default: warning
  logs:
    custom_components.{DOMAIN}: debug
"""


def _storage(key: str, version: int, minor: int, data: Any) -> dict[str, Any]:
    return {"version": version, "minor_version": minor, "key": key, "data": data}


def upsert_entry(
    storage: dict[str, Any] | None, settings: Settings, now: datetime
) -> dict[str, Any]:
    """`core.config_entries` with our entries created or their data brought up to date.

    One entry per site of the simulated account. An entry that exists keeps everything Home
    Assistant added (options, state); only `data` changes, so new ports reach it. Our entries of
    sites beyond `installations` (an earlier, larger run) are removed: their Cerbo is gone. A new
    entry is written in the 1.5 format; added to a file of another format, the file is marked 1.1
    so that Home Assistant's own migration completes every entry.
    """
    if storage is None:
        storage = _storage("core.config_entries", 1, ENTRY_STORAGE_MINOR, {"entries": []})
    entries: list[dict[str, Any]] = storage["data"]["entries"]
    wanted = {entry_id(index) for index in range(settings.installations)}
    entries[:] = [
        entry
        for entry in entries
        if entry.get("domain") != DOMAIN
        or not str(entry.get("entry_id")).startswith(ENTRY_ID_STEM)
        or entry.get("entry_id") in wanted
    ]
    added = False
    for index in range(settings.installations):
        added |= _upsert_site(entries, site_settings(settings, index), index, now)
    if added and storage.get("minor_version") != ENTRY_STORAGE_MINOR:
        storage["minor_version"] = 1
    return storage


def _upsert_site(
    entries: list[dict[str, Any]], settings: Settings, index: int, now: datetime
) -> bool:
    """Create or update the entry of one site; True when it was created."""
    unique_id = settings.sim.portal_id.lower()
    stamp = now.isoformat()
    data = entry_data(settings)
    for entry in entries:
        if entry.get("domain") == DOMAIN and entry.get("unique_id") == unique_id:
            if entry.get("data") != data:
                entry["data"] = data
                entry["modified_at"] = stamp
            return False
    entries.append(
        {
            # one microsecond apart: the earliest-created entry holds the fleet's entities
            "created_at": (now + timedelta(microseconds=index)).isoformat(),
            "data": data,
            "disabled_by": None,
            "discovery_keys": {},
            "domain": DOMAIN,
            "entry_id": entry_id(index),
            "minor_version": 1,
            "modified_at": stamp,
            # the stand-in Sol-Ark sensor reads the first Cerbo: only that site compares with it
            "options": {CONF_SOLARK_ENTITY: SOLARK_ENTITY} if index == 0 else {},
            "pref_disable_new_entities": False,
            "pref_disable_polling": False,
            "source": "user",
            "subentries": [],
            "title": settings.sim.site_name,
            "unique_id": unique_id,
            "version": 1,
        }
    )
    return True


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except ValueError as err:
        raise DevelopError(f"{path} is not valid JSON ({err}); remove it or use --reset") from err


def _write_json(path: Path, data: Any) -> None:
    """Write atomically, so an interrupted start never leaves half a file."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    temporary.replace(path)


def prepare_config(settings: Settings, now: datetime | None = None) -> None:
    """Create or update the config directory; Home Assistant must not be running on it."""
    config = settings.config_dir
    storage = config / ".storage"
    storage.mkdir(parents=True, exist_ok=True)
    (config / "custom_components").mkdir(exist_ok=True)
    link = config / "custom_components" / DOMAIN
    target = REPO / "custom_components" / DOMAIN
    if link.is_symlink() or link.exists():
        if link.resolve() != target.resolve():
            if link.is_dir() and not link.is_symlink():
                raise DevelopError(f"{link} is a real folder; remove it (or use --reset)")
            link.unlink()
            link.symlink_to(target)
    else:
        link.symlink_to(target)
    now = now or datetime.now(UTC)
    http = http_storage(settings, now)
    if http is not None:
        _write_json(storage / "http", http)
    (config / "configuration.yaml").write_text(
        configuration_yaml(settings, http_in_yaml=http is None), encoding="utf-8"
    )
    onboarding = storage / "onboarding"
    if settings.onboarding:
        if onboarding.exists() or (storage / "auth").exists():
            raise DevelopError(f"--onboarding: {config} was onboarded before; add --reset")
    elif not onboarding.exists():
        _write_json(onboarding, _storage("onboarding", 4, 1, {"done": list(ONBOARDING_STEPS)}))
    if settings.entry and not settings.onboarding:
        entries = storage / "core.config_entries"
        _write_json(entries, upsert_entry(_read_json(entries), settings, now))


def hass_command(settings: Settings, *args: str) -> list[str]:
    """Home Assistant's command line, through the runner that tolerates the test venv.

    `--config` goes last: with `--script`, everything after the script's name is its own.
    """
    runner = REPO / "dev" / "hass_runner.py"
    return [sys.executable, str(runner), *args, "--config", str(settings.config_dir)]


def hass_env(frontend: Path | None, settings: Settings) -> dict[str, str]:
    """Only the frontend on the import path: never the repository (see dev/hass_runner.py).

    The config flow reads the simulator's VRM address from the environment (development only).
    """
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    if frontend is not None:
        env["PYTHONPATH"] = str(frontend)
    env[ENV_DEV_VRM_API_URL] = settings.vrm_api_url
    return env


def ensure_login(settings: Settings) -> None:
    """Create the login with Home Assistant's own `hass --script auth` (or reset its password).

    Home Assistant creates the user, an administrator, at the first login.
    """

    def auth(*args: str) -> str:
        result = subprocess.run(  # noqa: S603 - our interpreter, our arguments
            [*hass_command(settings, "--script", "auth"), *args],
            capture_output=True,
            text=True,
            check=False,
            env=hass_env(None, settings),
            cwd=settings.config_dir,
        )
        if result.returncode != 0:
            raise DevelopError(f"hass --script auth {args[0]} failed:\n{result.stderr[-2000:]}")
        return result.stdout

    if "already exists" in auth("add", settings.username, settings.password):
        auth("change_password", settings.username, settings.password)


def missing_requirements() -> list[str]:
    """What the integrations Home Assistant always sets up need and this venv lacks.

    The test venv has Home Assistant's core, not its integrations' packages: the frontend is
    missing on every version, and newer versions set up more by default (conversation, camera,
    tts ...), which would fail with errors in the log and a notification in the UI.
    """
    from homeassistant import bootstrap  # noqa: PLC0415 - heavy, and only when starting
    from homeassistant.util.package import is_installed  # noqa: PLC0415

    components = ha_package_dir() / "components"
    todo = sorted(
        bootstrap.CORE_INTEGRATIONS
        | bootstrap.DEFAULT_INTEGRATIONS
        | set(DEV_INTEGRATIONS)
        | _service_check_components()
    )
    seen: set[str] = set()
    missing: set[str] = set()
    while todo:
        domain = todo.pop()
        manifest_file = components / domain / "manifest.json"
        if domain in seen or not manifest_file.is_file():
            continue
        seen.add(domain)
        manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
        missing.update(r for r in manifest.get("requirements", []) if not is_installed(r))
        todo.extend(manifest.get("dependencies", []))
    return sorted(missing)


def _service_check_components() -> set[str]:
    """The components Home Assistant imports to check services' supported features.

    Once onboarding has set up its integrations, the frontend's `get_services` imports them
    all (helpers/service.py, _base_components); one missing package and the frontend never loads.
    """
    source = (ha_package_dir() / "helpers" / "service.py").read_text(encoding="utf-8")
    found = re.search(
        r"def _base_components\(.*?from homeassistant\.components import \((.*?)\)",
        source,
        re.DOTALL,
    )
    return set(re.findall(r"\w+", re.sub(r"#.*", "", found.group(1)))) if found else set()


def _pip_install(target: Path, requirements: Sequence[str], constraints: Path) -> str:
    """Install into `target`; return pip's error output ("" when it worked)."""
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    pip += ["--target", str(target), "--constraint", str(constraints)]
    result = subprocess.run(  # noqa: S603 - our interpreter, HA's pinned requirements
        [*pip, *requirements], capture_output=True, text=True, check=False
    )
    return "" if result.returncode == 0 else result.stderr[-2000:]


def ensure_frontend(say: Callable[[str], None]) -> Path:
    """The frontend and the other packages Home Assistant's default integrations need.

    They go to .dev/deps/ha-<version>/ (once per version), never into the shared test venv;
    their own dependencies are held to the versions the venv already has.
    """
    requirements = missing_requirements()
    target = DEPS_DIR / f"ha-{ha_version()}"
    marker = target / ".requirements.json"
    if _read_json(marker) == requirements:
        return target
    partial = target.with_name(f"{target.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    if requirements:
        say(f"installing {len(requirements)} packages Home Assistant needs into {target} (once)")
        constraints = DEPS_DIR / "venv-constraints.txt"
        constraints.write_text(
            "".join(
                f"{name}=={d.version}\n"
                for d in metadata.distributions()
                if (name := d.metadata["Name"])
            ),
            encoding="utf-8",
        )
        if _pip_install(partial, requirements, constraints):
            # one that cannot be built here (no C++ compiler, say) must not cost the others
            failed = {r: e for r in requirements if (e := _pip_install(partial, [r], constraints))}
            for requirement, error in failed.items():
                if requirement.startswith("home-assistant-frontend=="):
                    raise DevelopError(f"could not install {requirement}:\n{error}")
            say(
                f"  not installed: {', '.join(failed)} (the integrations needing them log errors;"
                " packages built from source need a C++ compiler: apt-get install g++)"
            )
    _write_json(partial / ".requirements.json", requirements)
    shutil.rmtree(target, ignore_errors=True)
    partial.replace(target)
    return target


# --- ports and processes ----------------------------------------------------------------------


def check_ports(settings: Settings) -> None:
    ports = {"--port": settings.port, "--local-port": settings.local_port}
    for index, port in enumerate(settings.local_ports[1:], start=1):
        ports[f"--local-port + {index} (--installations)"] = port
    ports["--vrm-port"] = settings.vrm_port
    if len(set(ports.values())) != len(ports):
        raise DevelopError(f"the ports must differ: {ports}")
    for option, port in ports.items():
        with socket.socket() as probe:
            # as the servers will: connections of an earlier run in TIME_WAIT do not count
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((HOST, port))
            except OSError as err:
                raise DevelopError(f"{HOST}:{port} is in use ({err.strerror}); {option}") from err


def pid_alive(pid: int | None) -> bool:
    """True when this pid runs, is not a zombie, and is one of ours (pid reuse)."""
    if not pid:
        return False
    cmdline = Path(f"/proc/{pid}/cmdline")
    try:
        status = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
        words = cmdline.read_bytes().split(b"\0")
    except OSError:
        return False
    if status.rsplit(")", 1)[-1].split()[0] == "Z":
        return False
    return any(b"dev.develop" in w or b"hass_runner" in w or b"dev.simulator" in w for w in words)


def read_state() -> dict[str, Any] | None:
    state = _read_json(STATE_FILE)
    return state if isinstance(state, dict) else None


def tail(path: Path, lines: int = 20) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


# --- talking to Home Assistant ----------------------------------------------------------------


class HomeAssistantApi:
    """The REST calls a browser or a script makes: login flow, token, config entries, states."""

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session = session
        self.url = url
        self.token: str | None = None
        self._refresh: str | None = None

    async def up(self) -> bool:
        """True once the HTTP server answers (a page that needs no login, so no warning)."""
        try:
            async with self.session.get(f"{self.url}/auth/providers") as response:
                return response.status == 200  # noqa: PLR2004
        except (aiohttp.ClientError, TimeoutError):
            return False

    async def login(self, username: str, password: str) -> None:
        """Log in like the frontend: login flow, then exchange the code for a token."""
        client_id = f"{self.url}/"
        flow = await self._post_json(
            "/auth/login_flow",
            {
                "client_id": client_id,
                "handler": ["homeassistant", None],
                "redirect_uri": f"{self.url}/?auth_callback=1",
            },
        )
        step = await self._post_json(
            f"/auth/login_flow/{flow['flow_id']}",
            {"client_id": client_id, "username": username, "password": password},
        )
        if step.get("type") != "create_entry":
            raise DevelopError(f"login as {username!r} refused: {step.get('errors')}")
        form = {"grant_type": "authorization_code", "code": step["result"]}
        async with self.session.post(
            f"{self.url}/auth/token", data=form | {"client_id": client_id}
        ) as response:
            tokens = await response.json()
            if response.status != 200:  # noqa: PLR2004
                raise DevelopError(f"token exchange failed: HTTP {response.status}")
        self.token = tokens["access_token"]
        self._refresh = tokens.get("refresh_token")

    async def logout(self) -> None:
        """Revoke the session the login made, so logins do not pile up in HA's auth store."""
        if self._refresh is None:
            return
        with contextlib.suppress(aiohttp.ClientError, TimeoutError):
            async with self.session.post(f"{self.url}/auth/revoke", data={"token": self._refresh}):
                pass
        self._refresh = self.token = None

    async def onboarding_open(self) -> bool:
        """True once the onboarding API answers (it needs no login) and lists a step to do."""
        try:
            async with self.session.get(f"{self.url}/api/onboarding") as response:
                if response.status != 200:  # noqa: PLR2004
                    return False
                steps = await response.json()
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return False
        return any(not step.get("done") for step in steps)

    async def entries_api_up(self) -> bool:
        """True once the config entries API answers (it is 404 early in the start)."""
        path = f"/api/config/config_entries/entry?domain={DOMAIN}"
        async with self.session.get(f"{self.url}{path}", headers=self._auth()) as response:
            return response.status == 200  # noqa: PLR2004

    async def entries(self, count: int = 1) -> list[dict[str, Any]] | None:
        """Our `count` config entries as `/api/config/config_entries/entry` lists them.

        None while one of them is missing, also while the `config` API is not there yet (404
        early in the start).
        """
        path = f"/api/config/config_entries/entry?domain={DOMAIN}"
        async with self.session.get(f"{self.url}{path}", headers=self._auth()) as response:
            if response.status == 404:  # noqa: PLR2004
                return None
            if response.status != 200:  # noqa: PLR2004
                raise DevelopError(f"GET {path}: HTTP {response.status}")
            listed = {e.get("entry_id"): e for e in await response.json()}
        ours = [listed.get(entry_id(index)) for index in range(count)]
        return None if None in ours else [e for e in ours if e is not None]

    async def entities(self) -> list[dict[str, Any]]:
        """The states of every entity that belongs to the integration."""
        async with self.session.post(
            f"{self.url}/api/template",
            json={"template": f"{{{{ integration_entities('{DOMAIN}') | list | to_json }}}}"},
            headers=self._auth(),
        ) as response:
            ids = set(json.loads(await response.text()))
        states: list[dict[str, Any]] = await self._get_json("/api/states")
        ours = [s for s in states if s["entity_id"] in ids]
        ours.sort(key=_sensors_first)
        return ours

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    async def _get_json(self, path: str) -> Any:
        async with self.session.get(f"{self.url}{path}", headers=self._auth()) as response:
            if response.status != 200:  # noqa: PLR2004
                raise DevelopError(f"GET {path}: HTTP {response.status}")
            return await response.json()

    async def _post_json(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        async with self.session.post(f"{self.url}{path}", json=body) as response:
            if response.status != 200:  # noqa: PLR2004
                raise DevelopError(f"POST {path}: HTTP {response.status}")
            data: dict[str, Any] = await response.json()
            return data


def _sensors_first(state: dict[str, Any]) -> tuple[bool, str]:
    """The battery's values before the health binary sensors."""
    entity_id: str = state["entity_id"]
    return (not entity_id.startswith("sensor."), entity_id)


def describe_entities(states: Sequence[dict[str, Any]], limit: int = 8) -> list[str]:
    lines = []
    for state in states[:limit]:
        unit = state.get("attributes", {}).get("unit_of_measurement") or ""
        source = state.get("attributes", {}).get("source")
        extra = f"  (source: {source})" if source else ""
        lines.append(f"    {state['entity_id']} = {state['state']} {unit}".rstrip() + extra)
    if len(states) > limit:
        lines.append(f"    ... and {len(states) - limit} more")
    return lines


# --- the supervisor ---------------------------------------------------------------------------


@dataclass
class Child:
    name: str
    process: asyncio.subprocess.Process
    log: Path


class Develop:
    """Runs the simulator and Home Assistant until told to stop or one of them ends."""

    def __init__(self, settings: Settings, ready_file: Path | None) -> None:
        self.settings = settings
        self.ready_file = ready_file
        self.children: list[Child] = []
        self.stop = asyncio.Event()
        self.state: dict[str, Any] = {}
        self._respawn: dict[str, tuple[list[str], Path, dict[str, str]]] = {}

    def say(self, text: str) -> None:
        print(text, flush=True)

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.add_signal_handler(signum, self.stop.set)
        try:
            ready = await self._start()
            if not ready:
                return 1 if not self.stop.is_set() else 0
            return await self._supervise()
        except DevelopError as err:
            self.say(f"develop: {err}")
            return 1
        finally:
            await self._stop_children()
            if self.ready_file is not None:
                self.ready_file.unlink(missing_ok=True)
            STATE_FILE.unlink(missing_ok=True)

    async def _start(self) -> bool:
        settings = self.settings
        check_ports(settings)
        frontend = ensure_frontend(self.say)
        prepare_config(settings)
        if not settings.onboarding:
            ensure_login(settings)
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        self.state = {
            "pid": os.getpid(),
            "ready": False,
            "url": settings.url,
            "config_dir": str(settings.config_dir),
        }
        _write_json(STATE_FILE, self.state)
        await self._spawn("simulator", self._simulator_command(), REPO, {"PYTHONPATH": str(REPO)})
        if not await self._wait(self._simulator_up, "the simulator to listen", 30.0):
            return False
        hass_args = hass_command(settings, "--skip-pip", "--log-no-color")
        env = hass_env(frontend, settings)
        await self._spawn("home-assistant", hass_args, settings.config_dir, env)
        self.state["pids"] = {c.name: c.process.pid for c in self.children}
        _write_json(STATE_FILE, self.state)
        self.say(f"Home Assistant {ha_version()} is starting at {settings.url} ...")
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
            api = HomeAssistantApi(session, settings.url)
            # before onboarding, /auth/providers answers 400: ask the onboarding API instead
            up = api.onboarding_open if settings.onboarding else api.up
            if not await self._wait(up, "Home Assistant to answer", settings.timeout):
                return False
            return await self._ready(api)

    async def _ready(self, api: HomeAssistantApi) -> bool:
        """Wait for what this run promises: open onboarding, the API, or the loaded entry."""
        settings = self.settings
        entry: dict[str, Any] | None = None
        states: list[dict[str, Any]] = []
        if settings.onboarding:
            ready = True  # nobody can log in before onboarding creates the user
        else:
            await api.login(settings.username, settings.password)
            try:
                if settings.entry:
                    entry = await self._wait_for_entry(api)
                    ready = entry is not None
                    states = await api.entities() if ready else []
                else:
                    ready = await self._wait(api.entries_api_up, "the API", settings.timeout)
            finally:
                await api.logout()
        if ready:
            self._announce(entry, states)
        return ready

    def _simulator_command(self) -> list[str]:
        settings = self.settings
        command = [sys.executable, "-m", "dev.simulator", "--host", HOST]
        command += ["--local-port", str(settings.local_port)]
        command += ["--vrm-port", str(settings.vrm_port)]
        if settings.installations > 1:
            command += ["--installations", str(settings.installations)]
        for option, value in (
            ("--speed", settings.speed),
            ("--seed", settings.seed),
            ("--start", settings.start),
            ("--scenario", settings.scenario),
            ("--profile", settings.profile),
        ):
            if value is not None:
                command += [option, str(value)]
        return command

    async def _spawn(self, name: str, command: list[str], cwd: Path, env: dict[str, str]) -> None:
        """Start a child (again, after a restart: it replaces the one that ended)."""
        log = LOG_DIR / f"{name}.log"
        with log.open("ab" if name in self._respawn else "wb") as out:
            process = await asyncio.create_subprocess_exec(
                *command,
                cwd=cwd,
                env={**os.environ, **env} if name == "simulator" else env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches us; we stop them in order
            )
        self.children = [c for c in self.children if c.name != name]
        self.children.append(Child(name, process, log))
        self._respawn[name] = (command, cwd, env)

    async def _simulator_up(self) -> bool:
        try:
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session,
                # /sim/ answers are not counted as requests to the Cerbo or VRM
                session.get(f"http://{HOST}:{self.settings.local_port}/sim/state") as local,
                session.get(f"http://{HOST}:{self.settings.vrm_port}/sim/state") as vrm,
            ):
                return local.status == 200 and vrm.status == 200  # noqa: PLR2004
        except (aiohttp.ClientError, TimeoutError):
            return False

    async def _wait(self, check: Callable[[], Any], what: str, seconds: float) -> bool:
        """Poll `check` until true; False when stopped, timed out or a child ended."""
        deadline = time.monotonic() + seconds
        while not self.stop.is_set():
            if await check():
                return True
            if ended := self._ended():
                self.say(f"develop: {ended.name} exited while waiting for {what}:")
                self.say(tail(ended.log))
                return False
            if time.monotonic() > deadline:
                self.say(f"develop: gave up waiting {seconds:.0f} s for {what}")
                self._point_at_logs()
                return False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), POLL)
        return False

    async def _wait_for_entry(self, api: HomeAssistantApi) -> dict[str, Any] | None:
        """Wait until every entry is loaded; return the first one."""
        found: list[dict[str, Any]] | None = None
        last_states: dict[str, str | None] = {}
        count = self.settings.installations

        async def loaded() -> bool:
            nonlocal found
            found = await api.entries(count)
            for entry in found or []:
                state = entry.get("state")
                if state not in {last_states.get(entry["entry_id"]), "loaded"}:
                    name = f"config entry {entry.get('title')!r}" if count > 1 else "config entry"
                    self.say(f"  {name}: {state} {entry.get('reason') or ''}".rstrip())
                last_states[entry["entry_id"]] = state
                if state in {"setup_error", "migration_error", "failed_unload"}:
                    raise DevelopError(f"the config entry failed to load: {entry}")
            return found is not None and all(e.get("state") == "loaded" for e in found)

        what = "the victron_cerbo entry" if count == 1 else f"the {count} victron_cerbo entries"
        if await self._wait(loaded, f"{what} to load", self.settings.timeout) and found:
            return found[0]
        return None

    def _announce(self, entry: dict[str, Any] | None, states: list[dict[str, Any]]) -> None:
        settings = self.settings
        logs = {child.name: str(child.log) for child in self.children}
        logs["home-assistant (file)"] = str(settings.config_dir / "home-assistant.log")
        self.state |= {
            "ready": True,
            "username": settings.username,
            "password": settings.password,
            "ha_version": ha_version(),
            "entry_id": entry and entry["entry_id"],
            "installations": settings.installations,
            "entry_state": entry["state"] if entry else "none yet (Settings > Add integration)",
            "onboarding": settings.onboarding,
            "entities": len(states),
            "entity_lines": describe_entities(states),
            "simulator": {
                "local": f"http://{HOST}:{settings.local_port}",
                "locals": [f"http://{HOST}:{port}" for port in settings.local_ports],
                "vrm": settings.vrm_api_url,
            },
            "logs": logs,
        }
        _write_json(STATE_FILE, self.state)
        if self.ready_file is not None:
            _write_json(self.ready_file, self.state)
        for line in summary(self.state):
            self.say(line)
        self.say("Ctrl-C (or scripts/develop --stop) stops Home Assistant and the simulator.")

    def _point_at_logs(self) -> None:
        for child in self.children:
            self.say(f"  {child.name} log: {child.log}")

    def _ended(self) -> Child | None:
        return next((c for c in self.children if c.process.returncode is not None), None)

    async def _supervise(self) -> int:
        while True:
            waits = {asyncio.ensure_future(c.process.wait()): c for c in self.children}
            stop = asyncio.ensure_future(self.stop.wait())
            done, _ = await asyncio.wait({stop, *waits}, return_when=asyncio.FIRST_COMPLETED)
            for future in (stop, *waits):
                future.cancel()
            if stop in done:
                self.say("stopping ...")
                return 0
            ended = next(waits[f] for f in done if f in waits)
            if ended.name == "home-assistant" and ended.process.returncode == RESTART_EXIT_CODE:
                # Settings > Restart (or homeassistant.restart): as HA's own supervisor does,
                # start it again; it loads the integration from the working tree afresh
                self.say("Home Assistant asked for a restart; starting it again ...")
                await self._spawn(ended.name, *self._respawn[ended.name])
                self.state["pids"] = {c.name: c.process.pid for c in self.children}
                _write_json(STATE_FILE, self.state)
                continue
            self.say(f"develop: {ended.name} exited with code {ended.process.returncode}:")
            self.say(tail(ended.log))
            return 1

    async def _stop_children(self) -> None:
        # Home Assistant first: it may still poll the simulator while it shuts down.
        for child in reversed(self.children):
            process = child.process
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.terminate()
                try:
                    await asyncio.wait_for(process.wait(), STOP_TIMEOUT)
                except TimeoutError:
                    with contextlib.suppress(ProcessLookupError):
                        process.kill()
                    await process.wait()


def summary(state: dict[str, Any]) -> list[str]:
    logs = state.get("logs", {})
    simulator = state["simulator"]
    cerbos = ", ".join(simulator.get("locals") or [simulator["local"]])
    count = state.get("installations") or 1
    return [
        f"Home Assistant {state.get('ha_version')} is ready with the simulated Cerbo GX and VRM:",
        f"  open      {state['url']}",
        f"  login     {state.get('username')} / {state.get('password')}"
        + ("  (create it in onboarding)" if state.get("onboarding") else ""),
        f"  entry     {state.get('entry_state')}, {state.get('entities')} victron_cerbo entities"
        + (f" ({count} entries, one VRM account)" if count > 1 else ""),
        f"  simulator {cerbos} (Cerbo), {simulator['vrm']} (VRM)",
        "            GET /sim/state, POST /sim/fault, POST /sim/time (dev/simulator/README.md)",
        *(f"  log       {path}  ({name})" for name, path in logs.items()),
        *state.get("entity_lines", []),
    ]


# --- commands ---------------------------------------------------------------------------------


def running_state() -> dict[str, Any] | None:
    state = read_state()
    if state is not None and pid_alive(state.get("pid")):
        return state
    return None


def run_foreground(settings: Settings, ready_file: Path | None) -> int:
    if (state := running_state()) is not None:
        raise DevelopError(f"already running (pid {state['pid']}); scripts/develop --stop first")
    return asyncio.run(Develop(settings, ready_file).run())


def run_background(argv: Sequence[str], settings: Settings, ready_file: Path | None) -> int:
    """Start a detached supervisor and return once it is ready (or has failed)."""
    if (state := running_state()) is not None:
        raise DevelopError(f"already running (pid {state['pid']}); scripts/develop --stop first")
    ready = ready_file or DEV_DIR / "ready.json"
    ready.unlink(missing_ok=True)
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    args = [a for a in argv if a != "--background"]
    if ready_file is None:
        args += ["--ready-file", str(ready)]
    log = LOG_DIR / "develop.log"
    with log.open("wb") as out:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "dev.develop", *args],
            cwd=REPO,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + settings.timeout + 120  # + frontend install
    while not ready.exists():
        if process.poll() is not None:
            print(f"develop: the background run ended (code {process.returncode}):")
            print(tail(log))
            return 1
        if time.monotonic() > deadline:
            process.terminate()
            print(f"develop: not ready in time; see {log}")
            return 1
        time.sleep(POLL)
    state = _read_json(ready)
    for line in summary(state):
        print(line)
    print(f"  ready     {ready}\nscripts/develop --stop stops it.")
    return 0


def stop(timeout: float = STOP_TIMEOUT + 15) -> int:
    """Stop a running develop: its supervisor stops the children in order."""
    state = read_state()
    if state is None:
        print("develop: not running")
        return 0
    children = state.get("pids") or {}
    pids = [state.get("pid"), children.get("home-assistant"), children.get("simulator")]
    first = next((p for p in pids if pid_alive(p)), None)
    if first is None:
        STATE_FILE.unlink(missing_ok=True)
        print("develop: not running (stale state file removed)")
        return 0
    targets = [pids[0]] if pid_alive(pids[0]) else [p for p in pids[1:] if pid_alive(p)]
    for pid in targets:
        assert pid is not None
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while any(pid_alive(p) for p in pids):
        if time.monotonic() > deadline:
            print(f"develop: still running after {timeout:.0f} s: {pids}")
            return 1
        time.sleep(0.2)
    STATE_FILE.unlink(missing_ok=True)
    print("develop: stopped")
    return 0


def status() -> int:
    state = running_state()
    if state is None:
        print("develop: not running")
        return 1
    if not state.get("ready"):
        print(f"develop: starting (pid {state['pid']}), {state['url']}")
        return 0
    for line in summary(state):
        print(line)
    return 0


def reset(settings: Settings) -> None:
    """Forget the config directory (login, entry, history); the frontend download stays."""
    if running_state() is not None:
        raise DevelopError("--reset while running; scripts/develop --stop first")
    shutil.rmtree(settings.config_dir, ignore_errors=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="scripts/develop",
        description="Run the simulator and a Home Assistant configured against it (loopback).",
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="Home Assistant's port")
    parser.add_argument("--local-port", type=int, default=DEFAULT_LOCAL_PORT, help="Cerbo API")
    parser.add_argument("--vrm-port", type=int, default=DEFAULT_VRM_PORT, help="VRM API")
    parser.add_argument("--speed", type=float, help="simulated seconds per second (default 1)")
    parser.add_argument("--seed", type=int, help="simulator noise seed")
    parser.add_argument("--start", help="simulated start, ISO 8601 with zone (default now)")
    parser.add_argument("--scenario", help="simulator scenario file (see dev/simulator)")
    parser.add_argument(
        "--profile", choices=sorted(PROFILES), help="simulator battery profile (default bms16)"
    )
    parser.add_argument("--config-dir", type=Path, help="default .dev/ha-<HA version>/")
    parser.add_argument("--username", default=DEFAULT_USERNAME)
    parser.add_argument("--password", default=DEFAULT_PASSWORD)
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds to ready")
    parser.add_argument("--reset", action="store_true", help="start from an empty config dir")
    parser.add_argument("--background", action="store_true", help="return once ready")
    parser.add_argument("--ready-file", type=Path, help="JSON written once ready, removed at stop")
    parser.add_argument(
        "--no-entry", action="store_true", help="no pre-made entry: add it through the flow"
    )
    parser.add_argument(
        "--onboarding",
        action="store_true",
        help="leave onboarding open (no login, no entry; a fresh --config-dir or --reset)",
    )
    parser.add_argument(
        "--installations",
        type=int,
        default=1,
        help="sites in the simulated VRM account, one entry and Cerbo (local port + i) each;"
        " 2 or more make the fleet dashboard (default 1)",
    )
    what = parser.add_mutually_exclusive_group()
    what.add_argument("--stop", action="store_true", help="stop a running develop")
    what.add_argument("--status", action="store_true", help="is it running, and where")
    return parser


def settings_from(args: argparse.Namespace) -> Settings:
    """The run's settings; a scenario may rename the site, and the entry must follow it."""
    try:
        sim = load_scenario(args.scenario).config if args.scenario else SimConfig()
    except ConfigError as err:
        raise DevelopError(f"--scenario: {err}") from err
    if args.profile:
        sim = with_profile(sim, args.profile)
    if args.installations < 1:
        raise DevelopError("--installations must be at least 1")
    return Settings(
        port=args.port,
        local_port=args.local_port,
        vrm_port=args.vrm_port,
        config_dir=(args.config_dir or default_config_dir()).resolve(),
        username=args.username,
        password=args.password,
        speed=args.speed,
        seed=args.seed,
        start=args.start,
        scenario=args.scenario,
        profile=args.profile,
        timeout=args.timeout,
        sim=sim,
        entry=not args.no_entry,
        onboarding=args.onboarding,
        installations=args.installations,
    )


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    try:
        if args.stop:
            return stop()
        if args.status:
            return status()
        settings = settings_from(args)
        if args.reset:
            reset(settings)
        ready_file = args.ready_file.resolve() if args.ready_file else None
        if args.background:
            return run_background(argv, settings, ready_file)
        return run_foreground(settings, ready_file)
    except DevelopError as err:
        print(f"develop: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
