"""A VRM site without a battery monitor: the inverter's or MPPT's measurement, named as such."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import STATE_UNKNOWN
from homeassistant.core import HomeAssistant
from homeassistant.helpers.aiohttp_client import async_get_clientsession

from custom_components.victron_cerbo.api.vrm import VrmClient
from custom_components.victron_cerbo.const import (
    CONF_BATTERY_INSTANCE,
    CONF_PORTAL_ID,
    CONF_SITE_ID,
    CONF_VRM_API_URL,
    CONF_VRM_TOKEN,
    CONF_VRM_USER_ID,
    DOMAIN,
)
from dev.simulator import SYSTEM, SimConfig, SimulatedInstallation
from tests.helpers import (
    PORTAL_ID,
    SITE_ID,
    TOKEN,
    USER_ID,
    FakeVrm,
    Tick,
    attributes,
    devices,
    make_entry,
    setup_entry,
    simulator,
    state_of,
    states,
    vrm_json,
)

# what only a battery monitor measures (the README lists them)
UNKNOWN = {
    "temperature",
    "time_to_go",
    "cell_voltage_spread",
    "temperature_out_of_range",
    "cell_imbalance",
    "battery_alarm",
}
MEASURED_BY = "Roof · SmartSolar MPPT 100/20"
SYSTEM_DATA = {
    CONF_VRM_TOKEN: TOKEN,
    CONF_SITE_ID: SITE_ID,
    CONF_VRM_USER_ID: USER_ID,
    CONF_BATTERY_INSTANCE: None,
    CONF_PORTAL_ID: PORTAL_ID,
}


async def test_values_vrm_has_and_the_device_that_measured_them(
    hass: HomeAssistant, vrm: FakeVrm, tick: Tick
) -> None:
    vrm.overview = vrm_json("system_overview_no_battery")
    vrm.installations = vrm_json("installations_system_battery")
    await setup_entry(hass, make_entry(hass, SYSTEM_DATA))

    assert state_of(hass, "sensor", "soc") == "81.5"
    assert state_of(hass, "sensor", "voltage") == "24.03"
    assert state_of(hass, "sensor", "current") == "-4.2"
    assert state_of(hass, "sensor", "state") == "discharging"
    found = attributes(hass, "sensor", "soc")
    assert found["source"] == "vrm"
    assert found["measured_by"] == MEASURED_BY
    assert found["data_age"] == 60
    # What only a monitor measures stays unknown, and says so rather than vanishing.
    entry = hass.config_entries.async_entries(DOMAIN)[0]
    unknown = {key for key, state in states(hass, entry).items() if state == STATE_UNKNOWN}
    assert unknown == UNKNOWN
    [battery] = [d for d in devices(hass, entry) if d["name"] == "Cabin battery"]
    assert battery["model"] == f"No battery monitor; measured by {MEASURED_BY}"

    # The GX uploads every 900 s and the sample was 60 s old: the next poll waits for the
    # next upload, 900 - 60 + 30 s (the upload margin) later, rather than 180 s.
    await tick(860)
    assert vrm.count("extended=1") == 1
    await tick(10)
    assert vrm.count("extended=1") == 2
    assert vrm.count("BatterySummary") == 0


# --- played by the simulator ----------------------------------------------------------------


@pytest.mark.usefixtures("socket_enabled")
async def test_a_site_without_a_monitor_from_the_simulator(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """The simulator's `vrm_battery_monitor: false` plays such a site, config flow to values."""
    start = datetime(2026, 4, 15, 10, 0, tzinfo=UTC)  # a VRM log instant
    freezer.move_to(start)
    config = SimConfig(vrm_battery_monitor=False)
    model = SimulatedInstallation(start, speed=0, seed=1, config=config)
    async with simulator(model) as (_, server):
        overview = await VrmClient(
            async_get_clientsession(hass), config.token, base_url=str(server.make_url("/v2"))
        ).get_system_overview(config.site_id)
        assert overview.battery_monitors == ()
        data = {
            CONF_VRM_TOKEN: config.token,
            CONF_SITE_ID: config.site_id,
            CONF_VRM_USER_ID: config.user_id,
            CONF_BATTERY_INSTANCE: None,
            CONF_PORTAL_ID: PORTAL_ID,
            CONF_VRM_API_URL: str(server.make_url("/v2")),
        }
        entry = make_entry(hass, data)
        await setup_entry(hass, entry)

        system = model.latest_log().services[SYSTEM]
        assert float(state_of(hass, "sensor", "soc")) == pytest.approx(system["Dc/Battery/Soc"])
        assert float(state_of(hass, "sensor", "voltage")) == pytest.approx(
            system["Dc/Battery/Voltage"], abs=0.01
        )
        found = attributes(hass, "sensor", "soc")
        assert found["measured_by"] == overview.battery_measured_by.label
        assert state_of(hass, "sensor", "temperature") == STATE_UNKNOWN
        assert await hass.config_entries.async_unload(entry.entry_id)
