"""`scripts/browser_check --demo`: the dashboard on made-up states, without our entities.

For checking the dashboard's cards before the sensor platforms (or the registration in
`async_setup_entry`) exist. It starts a private Home Assistant (a fresh config directory prepared
by `dev.develop`, a free port, no simulator), posts states for the example entity ids of
`dashboards/victron_cerbo.yaml` through the REST API, and saves the same dashboard config the
integration builds as a storage dashboard at /victron-cerbo-demo.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import aiohttp

from custom_components.victron_cerbo.dashboard import (
    DashboardSettings,
    build_dashboard,
    example_entities,
)
from dev import develop

URL_PATH: Final = "victron-cerbo-demo"
STEPS: Final = 8  # samples per entity, so line charts have a shape

# key: (value, unit, device_class, per-step change)
NUMBERS: Final[dict[str, tuple[float, str | None, str | None, float]]] = {
    "soc": (87.0, "%", "battery", -0.4),
    "voltage": (53.4, "V", "voltage", -0.05),
    "current": (6.0, "A", "current", -3.1),
    "power": (320.0, "W", "power", -165.0),
    "temperature": (24.8, "°C", "temperature", 0.2),
    "charging_share": (0.0, "%", None, 0.0),
    "consumed_ah": (-36.0, "Ah", None, -1.0),
    "time_to_go": (9.5, "h", "duration", -0.1),
    "soh": (98.0, "%", None, 0.0),
    "min_cell_voltage": (3.335, "V", "voltage", 0.0),
    "max_cell_voltage": (3.342, "V", "voltage", 0.0),
    "cell_voltage_spread": (0.007, "V", "voltage", 0.0),
    "charge_cycles": (112.0, None, None, 0.0),
    "charged_energy": (1234.5, "kWh", "energy", 0.0),
    "discharged_energy": (1180.2, "kWh", "energy", 0.1),
    "grid_power": (0.0, "W", "power", 0.0),
    "ac_consumption": (640.0, "W", "power", 5.0),
    "pv_power": (0.0, "W", "power", 0.0),
    "vrm_consecutive_failures": (0.0, None, None, 0.0),
    "local_consecutive_failures": (0.0, None, None, 0.0),
    "vrm_requests_last_hour": (20.0, None, None, 0.0),
    "readings_24h": (8640.0, None, None, 0.0),
    "soc_difference": (2.1, "%", None, 0.1),
    "solark_soc": (85.0, "%", "battery", -0.5),
}
TEXTS: Final = {"inverter_mode": "on", "inverter_state": "inverting", "gx_firmware": "v3.60"}
BINARY_ON: Final = {"vrm_reachable", "local_reachable"}
BINARY_CLASSES: Final = {"vrm_reachable": "connectivity", "local_reachable": "connectivity"}


@dataclass
class PrivateHomeAssistant:
    """A Home Assistant that only the demo uses; stopped by `stop`."""

    url: str
    username: str
    password: str
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def _free_port() -> int:
    import socket  # noqa: PLC0415

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def start(out: Path) -> PrivateHomeAssistant:
    """Start Home Assistant in `out`/demo-config on a free port; return once it answers."""
    config_dir = out / "demo-config"
    shutil.rmtree(config_dir, ignore_errors=True)
    settings = develop.Settings(
        port=_free_port(),
        local_port=_free_port(),
        vrm_port=_free_port(),
        config_dir=config_dir,
    )
    frontend = develop.ensure_frontend(print)
    develop.prepare_config(settings)
    # Trends and statistics need the recorder and history (default_config would also start
    # network discovery, which has no place on a test machine).
    with (config_dir / "configuration.yaml").open("a", encoding="utf-8") as config:
        config.write("\nrecorder:\nhistory:\n")
    develop.ensure_login(settings)
    log = out / "demo-home-assistant.log"
    with log.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603, ASYNC220 - our own runner, once
            develop.hass_command(settings, "--skip-pip", "--log-no-color"),
            cwd=config_dir,
            env=develop.hass_env(frontend, settings),
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    ha = PrivateHomeAssistant(settings.url, settings.username, settings.password, process)
    deadline = time.monotonic() + 300
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                msg = f"the demo Home Assistant exited; see {log}"
                raise RuntimeError(msg)
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with session.get(f"{ha.url}/api/") as response:
                    if response.status in {200, 401}:
                        return ha
            await asyncio.sleep(0.5)
    ha.stop()
    msg = f"the demo Home Assistant did not answer in 300 s; see {log}"
    raise RuntimeError(msg)


def _attributes(name: str, unit: str | None, device_class: str | None) -> dict[str, Any]:
    attributes: dict[str, Any] = {"friendly_name": name}
    if unit:
        # Energy counters only rise: their statistics have a sum, so "change" works.
        state_class = "total_increasing" if device_class == "energy" else "measurement"
        attributes |= {"unit_of_measurement": unit, "state_class": state_class}
    if device_class:
        attributes["device_class"] = device_class
    return attributes


async def seed(session: aiohttp.ClientSession, url: str, token: str, websocket: Any) -> None:
    """Post the made-up states, then save the dashboard config the integration would build."""
    entities = example_entities()
    headers = {"Authorization": f"Bearer {token}"}

    async def post(entity_id: str, state: str, attributes: dict[str, Any]) -> None:
        async with session.post(
            f"{url}/api/states/{entity_id}",
            json={"state": state, "attributes": attributes},
            headers=headers,
        ) as response:
            response.raise_for_status()

    now = datetime.now(UTC)
    stamps = {
        "local_last_success": now - timedelta(seconds=5),
        "vrm_last_success": now - timedelta(minutes=3),
    }
    for key, stamp in stamps.items():
        await post(entities[key], stamp.isoformat(), _attributes(key, None, "timestamp"))
    for key, text in TEXTS.items():
        await post(entities[key], text, _attributes(key, None, None))
    for key in entities:
        if entities[key].startswith("binary_sensor."):
            state = "on" if key in BINARY_ON else "off"
            await post(
                entities[key], state, _attributes(key, None, BINARY_CLASSES.get(key, "problem"))
            )
    for step in range(STEPS):
        for key, (value, unit, device_class, change) in NUMBERS.items():
            number = value + change * step
            attributes = _attributes(key, unit, device_class)
            if key != "solark_soc":  # battery readings say where they came from, and how old
                attributes |= {"source": "local", "data_age": 4}
            await post(entities[key], f"{number:g}", attributes)
        current = NUMBERS["current"][0] + NUMBERS["current"][3] * step
        state = "charging" if current > 0 else "discharging" if current < 0 else "idle"
        await post(entities["state"], state, _attributes("state", None, "enum"))
        await asyncio.sleep(0.5)

    settings = DashboardSettings(
        title="Victron battery (demo)",
        voltage_range=(52.0, 58.0),
        temperature_range=(15.0, 30.0),
    )
    config = build_dashboard(entities, settings)
    await websocket(
        {
            "type": "lovelace/dashboards/create",
            "url_path": URL_PATH,
            "title": settings.title,
            "icon": "mdi:home-battery",
            "show_in_sidebar": True,
            "require_admin": False,
            "mode": "storage",
        }
    )
    await websocket({"type": "lovelace/config/save", "url_path": URL_PATH, "config": config})
