"""Config flow for the Victron Cerbo GX integration.

Setup asks which sources to use (VRM cloud, the Cerbo's local DBus HTTP API, or both), validates
each one, and identifies the installation by its VRM portal ID so it cannot be added twice.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlparse, urlsplit

from homeassistant.config_entries import (
    SOURCE_RECONFIGURE,
    ConfigFlow,
    ConfigFlowResult,
    OptionsFlowWithReload,
)
from homeassistant.const import UnitOfTemperature
from homeassistant.core import HomeAssistant, callback
from homeassistant.data_entry_flow import section
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.selector import (
    BooleanSelector,
    EntitySelector,
    EntitySelectorConfig,
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)
from homeassistant.helpers.service_info.ssdp import SsdpServiceInfo
from homeassistant.util.unit_conversion import TemperatureConverter

from .api.cerbo import CerboClient, CerboConnectionError, CerboDiscovery, CerboError
from .api.vrm import (
    VrmAuthenticationError,
    VrmClient,
    VrmConnectionError,
    VrmError,
    VrmForbiddenError,
    VrmSite,
    VrmSystemOverview,
)
from .const import (
    CONF_BATTERY_INSTANCE,
    CONF_BUDGET_LIMIT,
    CONF_BUDGET_WARNING,
    CONF_FOLLOW_SYSTEM_BATTERY,
    CONF_HOST,
    CONF_LOCAL_FAST_INTERVAL,
    CONF_LOW_SOC,
    CONF_NOMINAL_VOLTAGE,
    CONF_PORT,
    CONF_PORTAL_ID,
    CONF_SHOW_DASHBOARD,
    CONF_SITE_ID,
    CONF_SOLARK_DWELL,
    CONF_SOLARK_ENTITY,
    CONF_SOLARK_THRESHOLD,
    CONF_TEMPERATURE_MAX,
    CONF_TEMPERATURE_MIN,
    CONF_VOLTAGE_MAX,
    CONF_VOLTAGE_MIN,
    CONF_VRM_API_URL,
    CONF_VRM_POLL_INTERVAL,
    CONF_VRM_TOKEN,
    CONF_VRM_USER_ID,
    DEFAULT_BUDGET_LIMIT,
    DEFAULT_BUDGET_WARNING,
    DEFAULT_LOCAL_FAST_INTERVAL,
    DEFAULT_LOCAL_PORT,
    DEFAULT_LOW_SOC,
    DEFAULT_NOMINAL_VOLTAGE,
    DEFAULT_SHOW_DASHBOARD,
    DEFAULT_SOLARK_DWELL,
    DEFAULT_SOLARK_THRESHOLD,
    DEFAULT_TEMPERATURE_MAX,
    DEFAULT_TEMPERATURE_MIN,
    DEFAULT_VRM_API_URL,
    DEFAULT_VRM_POLL_INTERVAL,
    DOMAIN,
    ENV_DEV_VRM_API_URL,
    LOGGER,
    MIN_VRM_POLL_INTERVAL,
    SAFE_TEMPERATURE_MAX,
    SAFE_TEMPERATURE_MIN,
)
from .limits import safe_voltage_range
from .runtime import VictronConfigEntry
from .schema import vol
from .solark import async_suggest_solark_entity

CONF_SOURCES = "sources"
SOURCE_VRM = "vrm"
SOURCE_LOCAL = "local"
SOURCE_BOTH = "both"
VRM_TOKEN_URL = "https://vrm.victronenergy.com/access-tokens"

TOKEN_SELECTOR = TextSelector(TextSelectorConfig(type=TextSelectorType.PASSWORD))
PORT_SELECTOR = NumberSelector(
    NumberSelectorConfig(min=1, max=65535, step=1, mode=NumberSelectorMode.BOX)
)


def _portal(portal_id: str) -> str:
    """VRM portal IDs are hex; compare and store them in one spelling."""
    return portal_id.strip().lower()


# What a failed connection to the Cerbo is called in the form; others are "cannot_connect".
CONNECTION_ERRORS = {"refused": "refused", "timeout": "timeout", "unknown_host": "unknown_host"}


def split_host(text: str, port: int) -> tuple[str, int] | None:
    """The host and port in what was typed, e.g. `http://192.168.1.5:8088/`; None if unusable.

    A port typed with the host wins over the port field. Only plain http is served by the
    DBus HTTP API, so another scheme, a path or a user name is explained instead of guessed.
    """
    text = text.strip()
    if "://" not in text and text.count(":") > 1 and not text.startswith("["):
        return text, port  # a bare IPv6 address such as fe80::1
    parts = urlsplit(text if "://" in text else f"//{text}")
    try:
        typed_port = parts.port
    except ValueError:
        return None
    if (
        parts.scheme.lower() not in ("", "http")
        or parts.path not in ("", "/")
        or parts.query
        or parts.username is not None
        or not parts.hostname
    ):
        return None
    return parts.hostname, typed_port or port


def _local_schema(host: str | None, port: int) -> vol.Schema:
    """Host and port of the Cerbo's DBus HTTP API."""
    return vol.Schema(
        {
            vol.Required(CONF_HOST, default=host or vol.UNDEFINED): TextSelector(),
            vol.Required(CONF_PORT, default=port): PORT_SELECTOR,
        }
    )


def _picker(options: list[SelectOptionDict]) -> SelectSelector:
    """A drop-down list of the given choices."""
    return SelectSelector(SelectSelectorConfig(options=options, mode=SelectSelectorMode.DROPDOWN))


class VictronCerboConfigFlow(ConfigFlow, domain=DOMAIN):
    """Set up one Victron installation from the UI."""

    VERSION = 1
    # 1.2: temperature limits are stored only when the user sets them (limits.py migrates)
    MINOR_VERSION = 2

    def __init__(self) -> None:
        """Start with nothing known."""
        self._use_vrm = False
        self._use_local = False
        self._host: str | None = None
        self._port = DEFAULT_LOCAL_PORT
        self._local: CerboDiscovery | None = None
        self._token: str | None = None
        self._user_id: int | None = None
        self._sites: dict[int, VrmSite] = {}
        self._site: VrmSite | None = None
        self._overview: VrmSystemOverview | None = None

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: VictronConfigEntry) -> VictronCerboOptionsFlow:
        """Options that change behaviour, not the connection."""
        return VictronCerboOptionsFlow()

    # --- first setup ---------------------------------------------------------------------

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask which sources to use."""
        if user_input is not None:
            sources = user_input[CONF_SOURCES]
            self._use_vrm = sources in (SOURCE_VRM, SOURCE_BOTH)
            self._use_local = sources in (SOURCE_LOCAL, SOURCE_BOTH)
            if self._use_local:
                return await self.async_step_local()
            return await self.async_step_vrm()

        default = SOURCE_BOTH if self._host else vol.UNDEFINED
        return self.async_show_form(
            step_id="user",
            data_schema=vol.Schema(
                {
                    vol.Required(CONF_SOURCES, default=default): SelectSelector(
                        SelectSelectorConfig(
                            options=[SOURCE_BOTH, SOURCE_LOCAL, SOURCE_VRM],
                            translation_key=CONF_SOURCES,
                            mode=SelectSelectorMode.LIST,
                        )
                    )
                }
            ),
            last_step=False,
        )

    async def async_step_local(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Connect to the Cerbo's DBus HTTP API and discover the installation."""
        errors: dict[str, str] = {}
        if user_input is not None:
            self._host = user_input[CONF_HOST].strip()
            self._port = int(user_input[CONF_PORT])
            discovery, error = await self._async_probe_typed_address()
            if error:
                errors["base"] = error
            else:
                assert discovery is not None
                self._local = discovery
                # Not raise_on_progress: a flow left open in a closed browser tab must not
                # block this one until Home Assistant restarts.
                await self.async_set_unique_id(
                    _portal(discovery.portal_id), raise_on_progress=False
                )
                self._abort_if_unique_id_configured()
                if self._use_vrm:
                    return await self.async_step_vrm()
                return self._create_entry()

        return self.async_show_form(
            step_id="local",
            data_schema=_local_schema(self._host, self._port),
            errors=errors,
            last_step=not self._use_vrm,
        )

    async def _async_probe_typed_address(self) -> tuple[CerboDiscovery | None, str | None]:
        """Take the typed host apart, keep the parts and probe the Cerbo there."""
        assert self._host is not None
        if (address := split_host(self._host, self._port)) is None:
            return None, "invalid_host"
        self._host, self._port = address
        return await _probe_local(self.hass, self._host, self._port)

    async def async_step_vrm(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Validate a VRM personal access token and list its installations."""
        errors: dict[str, str] = {}
        if user_input is not None:
            token = user_input[CONF_VRM_TOKEN].strip()
            user_id, sites, error = await _list_sites(self.hass, token, _flow_vrm_url())
            # A site without a portal ID cannot be told apart from another one.
            sites = [site for site in sites if site.identifier]
            if error:
                errors["base"] = error
            elif not sites:
                errors["base"] = "no_sites"
            else:
                self._token = token
                self._user_id = user_id
                self._sites = {site.id: site for site in sites}
                return await self.async_step_site()

        return self._token_form(user_input, errors)

    # After the Cerbo step the token form says what was found there; same handler.
    async_step_vrm_local = async_step_vrm

    def _token_form(
        self, user_input: dict[str, Any] | None, errors: dict[str, str]
    ) -> ConfigFlowResult:
        """Ask for the token, keeping what was typed after an error."""
        placeholders = {"token_url": VRM_TOKEN_URL}
        step_id = "vrm"
        if self._local is not None:
            step_id = "vrm_local"
            placeholders |= {
                "model": self._local.model or "GX device",
                "firmware": self._local.firmware or "?",
                "portal_id": self._local.portal_id,
            }
        return self.async_show_form(
            step_id=step_id,
            data_schema=self.add_suggested_values_to_schema(
                vol.Schema({vol.Required(CONF_VRM_TOKEN): TOKEN_SELECTOR}), user_input
            ),
            description_placeholders=placeholders,
            errors=errors,
        )

    async def async_step_site(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Pick the VRM installation; skipped when the choice is obvious."""
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {}
        if user_input is None:
            site = self._obvious_site()
        else:
            site = self._sites[int(user_input[CONF_SITE_ID])]
        if site is not None:
            if self._local is not None and _portal(site.identifier) != _portal(
                self._local.portal_id
            ):
                errors["base"] = "portal_id_mismatch"
                placeholders = {
                    "site": site.name,
                    "vrm_portal_id": site.identifier,
                    "local_portal_id": self._local.portal_id,
                }
                if len(self._sites) == 1:
                    # Nothing else to pick: the host is what the user must fix.
                    return self.async_show_form(
                        step_id="local",
                        data_schema=_local_schema(self._host, self._port),
                        errors=errors,
                        description_placeholders=placeholders,
                    )
            else:
                return await self._async_select_site(site)
        return self._site_form(errors, placeholders)

    def _site_form(self, errors: dict[str, str], placeholders: dict[str, str]) -> ConfigFlowResult:
        """The site picker."""
        options = [
            SelectOptionDict(value=str(site.id), label=f"{site.name} ({site.identifier})")
            for site in self._sites.values()
        ]
        return self.async_show_form(
            step_id="site",
            data_schema=vol.Schema({vol.Required(CONF_SITE_ID): _picker(options)}),
            errors=errors,
            description_placeholders=placeholders,
        )

    def _obvious_site(self) -> VrmSite | None:
        """The only site, or the one whose portal ID matches the Cerbo on the LAN."""
        if self._local is not None:
            for site in self._sites.values():
                if _portal(site.identifier) == _portal(self._local.portal_id):
                    return site
        if len(self._sites) == 1:
            return next(iter(self._sites.values()))
        return None

    async def _async_select_site(self, site: VrmSite) -> ConfigFlowResult:
        """Remember the site, learn its battery monitors and continue."""
        assert self._token is not None
        overview, error = await _fetch_overview(self.hass, self._token, site.id, _flow_vrm_url())
        if error:
            return self._site_form({"base": error}, {"site": site.name})
        assert overview is not None
        await self.async_set_unique_id(_portal(site.identifier), raise_on_progress=False)
        self._abort_if_unique_id_configured()
        self._site = site
        self._overview = overview
        if len(overview.battery_monitors) <= 1:
            return self._create_entry(_only_monitor(overview))
        return await self.async_step_battery()

    async def async_step_battery(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Pick the battery monitor when the site has several."""
        assert self._overview is not None
        if user_input is not None:
            instance = int(user_input[CONF_BATTERY_INSTANCE])
            if self.source == SOURCE_RECONFIGURE:
                return self._finish_reconfigure(battery_instance=instance)
            return self._create_entry(instance)
        return self.async_show_form(
            step_id="battery",
            data_schema=vol.Schema(
                {vol.Required(CONF_BATTERY_INSTANCE): _picker(_monitor_options(self._overview))}
            ),
        )

    def _create_entry(self, battery_instance: int | None = None) -> ConfigFlowResult:
        """Create the entry from what the steps collected."""
        data: dict[str, Any] = {}
        title = "Cerbo GX"
        if self._local is not None:
            data |= {
                CONF_HOST: self._host,
                CONF_PORT: self._port,
                CONF_PORTAL_ID: _portal(self._local.portal_id),
            }
            title = self._local.model or title
        if self._site is not None:
            data |= {
                CONF_VRM_TOKEN: self._token,
                CONF_SITE_ID: self._site.id,
                CONF_VRM_USER_ID: self._user_id,
                CONF_BATTERY_INSTANCE: battery_instance,
                CONF_PORTAL_ID: _portal(self._site.identifier),
            }
            if (vrm_api_url := _flow_vrm_url()) != DEFAULT_VRM_API_URL:
                data[CONF_VRM_API_URL] = vrm_api_url
            title = self._site.name
        return self.async_create_entry(title=title, data=data)

    # --- discovery -----------------------------------------------------------------------

    async def async_step_ssdp(self, discovery_info: SsdpServiceInfo) -> ConfigFlowResult:
        """A GX device announced itself on the LAN."""
        host = urlparse(discovery_info.ssdp_location or "").hostname
        portal_id = discovery_info.upnp.get("X_VrmPortalId")
        if not host or not portal_id:
            return self.async_abort(reason="not_victron_gx")
        unique_id = _portal(str(portal_id))
        await self.async_set_unique_id(unique_id)
        existing = self.hass.config_entries.async_entry_for_domain_unique_id(DOMAIN, unique_id)
        if existing is not None and CONF_HOST in existing.data:
            # The Cerbo moved to a new address: follow it.
            self._abort_if_unique_id_configured(updates={CONF_HOST: host})
        self._abort_if_unique_id_configured()

        # Only offer setup when the DBus HTTP API answers; plenty of GX devices lack it.
        try:
            await CerboClient(async_get_clientsession(self.hass), host).health()
        except CerboError:
            return self.async_abort(reason="no_local_api")
        self._host = host
        name = discovery_info.upnp.get("friendlyName") or host
        self.context["title_placeholders"] = {"name": str(name)}
        return await self.async_step_user()

    # --- reauthentication and reconfiguration -------------------------------------------

    async def async_step_reauth(self, entry_data: Mapping[str, Any]) -> ConfigFlowResult:
        """VRM refused the token: ask for a new one."""
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Validate the new token against the configured site."""
        entry = self._get_reauth_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            token = user_input[CONF_VRM_TOKEN].strip()
            user_id, error = await _check_token_for_site(
                self.hass, token, entry.data[CONF_SITE_ID], _vrm_url(entry)
            )
            if error:
                errors["base"] = error
            else:
                return self.async_update_reload_and_abort(
                    entry, data_updates={CONF_VRM_TOKEN: token, CONF_VRM_USER_ID: user_id}
                )
        return self.async_show_form(
            step_id="reauth_confirm",
            data_schema=vol.Schema({vol.Required(CONF_VRM_TOKEN): TOKEN_SELECTOR}),
            description_placeholders={"token_url": VRM_TOKEN_URL, "name": entry.title},
            errors=errors,
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change the host, the token or the battery monitor of an existing entry."""
        entry = self._get_reconfigure_entry()
        has_local = CONF_HOST in entry.data
        has_vrm = CONF_VRM_TOKEN in entry.data
        errors: dict[str, str] = {}
        if user_input is not None:
            updates: dict[str, Any] = {}
            if has_local:
                probed = await async_probe_address(
                    self.hass, user_input[CONF_HOST], int(user_input[CONF_PORT])
                )
                if isinstance(probed, str):
                    errors["base"] = probed
                else:
                    host, port, discovery = probed
                    await self.async_set_unique_id(_portal(discovery.portal_id))
                    self._abort_if_unique_id_mismatch(reason="wrong_device")
                    updates |= {CONF_HOST: host, CONF_PORT: port}
            if has_vrm and not errors:
                # VRM shows a token only once: an empty field keeps the current one.
                token = (user_input.get(CONF_VRM_TOKEN) or "").strip() or entry.data[CONF_VRM_TOKEN]
                site_id = entry.data[CONF_SITE_ID]
                user_id, error = await _check_token_for_site(
                    self.hass, token, site_id, _vrm_url(entry)
                )
                overview: VrmSystemOverview | None = None
                if not error:
                    overview, error = await _fetch_overview(
                        self.hass, token, site_id, _vrm_url(entry)
                    )
                if error:
                    errors["base"] = error
                else:
                    assert overview is not None
                    updates |= {CONF_VRM_TOKEN: token, CONF_VRM_USER_ID: user_id}
                    self._reconfigure_updates = updates
                    if len(overview.battery_monitors) > 1:
                        self._overview = overview
                        return await self.async_step_battery()
                    return self._finish_reconfigure(battery_instance=_only_monitor(overview))
            if not errors:
                return self.async_update_reload_and_abort(entry, data_updates=updates)

        fields: dict[vol.Marker, Any] = {}
        if has_local:
            fields[vol.Required(CONF_HOST, default=entry.data[CONF_HOST])] = TextSelector()
            fields[vol.Required(CONF_PORT, default=entry.data[CONF_PORT])] = PORT_SELECTOR
        if has_vrm:
            fields[vol.Optional(CONF_VRM_TOKEN)] = TOKEN_SELECTOR
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=self.add_suggested_values_to_schema(vol.Schema(fields), user_input),
            description_placeholders={"token_url": VRM_TOKEN_URL, "site": entry.title},
            errors=errors,
        )

    _reconfigure_updates: dict[str, Any]

    def _finish_reconfigure(self, *, battery_instance: int | None) -> ConfigFlowResult:
        """Save the reconfigured connection and reload the entry."""
        updates = self._reconfigure_updates | {CONF_BATTERY_INSTANCE: battery_instance}
        return self.async_update_reload_and_abort(
            self._get_reconfigure_entry(), data_updates=updates
        )


def _vrm_client(hass: HomeAssistant, token: str, base_url: str = DEFAULT_VRM_API_URL) -> VrmClient:
    """A client for validating input: someone is waiting, so fail at once instead of retrying."""
    return VrmClient(async_get_clientsession(hass), token, base_url=base_url, max_retries=0)


async def async_probe_address(
    hass: HomeAssistant, text: str, port: int
) -> tuple[str, int, CerboDiscovery] | str:
    """Host, port and installation at a typed address; else the error key."""
    if (address := split_host(text, port)) is None:
        return "invalid_host"
    host, port = address
    discovery, error = await _probe_local(hass, host, port)
    if error:
        return error
    assert discovery is not None
    return host, port, discovery


async def _probe_local(
    hass: HomeAssistant, host: str, port: int
) -> tuple[CerboDiscovery | None, str | None]:
    """Check the DBus HTTP API answers and find the installation; return (discovery, error)."""
    client = CerboClient(async_get_clientsession(hass), host, port)
    try:
        await client.health()
        return await client.discover(), None
    except CerboConnectionError as err:
        return None, CONNECTION_ERRORS.get(err.kind, "cannot_connect")
    except CerboError:
        return None, "invalid_local_response"
    except Exception:  # noqa: BLE001 - a flow must show "unknown", not crash
        LOGGER.exception("Unexpected error while probing the Cerbo at %s", host)
        return None, "unknown"


async def _list_sites(
    hass: HomeAssistant, token: str, base_url: str
) -> tuple[int | None, list[VrmSite], str | None]:
    """Validate the token and list the sites it can see; return (user id, sites, error key)."""
    client = _vrm_client(hass, token, base_url)
    try:
        user = await client.get_user()
        return user.id, await client.get_installations(user.id), None
    except VrmAuthenticationError:
        return None, [], "invalid_auth"
    except VrmForbiddenError:
        return None, [], "forbidden"
    except VrmError as err:
        return None, [], _vrm_error(err)
    except Exception:  # noqa: BLE001 - a flow must show "unknown", not crash
        LOGGER.exception("Unexpected error while validating the VRM token")
        return None, [], "unknown"


async def _check_token_for_site(
    hass: HomeAssistant, token: str, site_id: int, base_url: str
) -> tuple[int | None, str | None]:
    """The user id, or an error key unless the token is valid and can see the site."""
    user_id, sites, error = await _list_sites(hass, token, base_url)
    if error:
        return None, error
    if all(site.id != site_id for site in sites):
        return None, "site_not_accessible"
    return user_id, None


async def _fetch_overview(
    hass: HomeAssistant, token: str, site_id: int, base_url: str
) -> tuple[VrmSystemOverview | None, str | None]:
    """Fetch the site's devices; return (overview, error)."""
    client = _vrm_client(hass, token, base_url)
    try:
        overview = await client.get_system_overview(site_id)
    except VrmForbiddenError:
        return None, "forbidden_site"
    except VrmError as err:
        return None, _vrm_error(err)
    return overview, None


def _only_monitor(overview: VrmSystemOverview) -> int | None:
    """The instance of the site's one battery monitor; None for a site without one.

    Such a site's battery is measured by its inverter or MPPT: the GX's system battery values
    are read from VRM's installations list instead of the BatterySummary widget.
    """
    monitors = overview.battery_monitors
    return monitors[0].instance if monitors else None


def _vrm_error(err: VrmError) -> str:
    """Unreachable VRM is Home Assistant's internet connection; the rest is VRM's trouble."""
    if isinstance(err, VrmConnectionError) and err.kind != "server_error":
        return "vrm_cannot_connect"
    return "vrm_error"


def _flow_vrm_url() -> str:
    """The VRM API a new entry uses: the real one, unless scripts/develop points elsewhere."""
    return os.environ.get(ENV_DEV_VRM_API_URL) or DEFAULT_VRM_API_URL


def _vrm_url(entry: VictronConfigEntry) -> str:
    """The VRM API an existing entry talks to (the simulator's, under scripts/develop)."""
    return str(entry.data.get(CONF_VRM_API_URL, DEFAULT_VRM_API_URL))


def _monitor_options(overview: VrmSystemOverview) -> list[SelectOptionDict]:
    """Name each battery monitor so nobody has to know instance numbers."""
    return [
        SelectOptionDict(
            value=str(monitor.instance),
            label=" · ".join(part for part in (monitor.name, monitor.product_name) if part)
            or f"#{monitor.instance}",
        )
        for monitor in overview.battery_monitors
    ]


# The options form groups its fields; the entry stores them flat, as before sections.
SECTION_VRM = "vrm"
SECTION_CERBO = "cerbo"
SECTION_LIMITS = "limits"
SECTION_SOLARK = "solark"
TEMPERATURE_KEYS = (CONF_TEMPERATURE_MIN, CONF_TEMPERATURE_MAX)


class VictronCerboOptionsFlow(OptionsFlowWithReload):
    """Thresholds, cadences and the Sol-Ark comparison; applied by reloading the entry."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Show and validate the options."""
        errors: dict[str, str] = {}
        unit = self.hass.config.units.temperature_unit
        if user_input is not None:
            options = _flatten(user_input, unit)
            # An empty end is automatic; judge a lone end against the widest automatic one.
            low, high = safe_voltage_range(options)
            if options.get(CONF_VOLTAGE_MIN, low) >= options.get(CONF_VOLTAGE_MAX, high):
                errors["base"] = "voltage_range"
            elif options.get(CONF_TEMPERATURE_MIN, SAFE_TEMPERATURE_MIN) >= options.get(
                CONF_TEMPERATURE_MAX, SAFE_TEMPERATURE_MAX
            ):
                errors["base"] = "temperature_range"
            elif options.get(CONF_BUDGET_WARNING, 0) >= options.get(CONF_BUDGET_LIMIT, 1):
                errors["base"] = "budget_range"
            elif (entity_id := options.get(CONF_SOLARK_ENTITY)) and is_own_entity(
                self.hass, entity_id
            ):
                # Comparing the battery with itself always agrees and hides a real disagreement.
                errors["base"] = "solark_own_entity"
            else:
                return self.async_create_entry(data=options)

        suggested = dict(self.config_entry.options)
        # Offer the inverter's SOC sensor when a known Sol-Ark/Sunsynk setup is present.
        if (
            user_input is None
            and CONF_SOLARK_ENTITY not in suggested
            and (found := async_suggest_solark_entity(self.hass))
        ):
            suggested[CONF_SOLARK_ENTITY] = found
        schema = _options_schema(self.hass, self.config_entry, unit)
        values = user_input if user_input is not None else _nest(schema, suggested, unit)
        return self.async_show_form(
            step_id="init",
            data_schema=self.add_suggested_values_to_schema(schema, values),
            errors=errors,
            description_placeholders={
                "safe_min": _temperature_text(SAFE_TEMPERATURE_MIN, unit),
                "safe_max": _temperature_text(SAFE_TEMPERATURE_MAX, unit),
                "band_min": _temperature_text(DEFAULT_TEMPERATURE_MIN, unit),
                "band_max": _temperature_text(DEFAULT_TEMPERATURE_MAX, unit),
            },
        )


def _to_celsius(value: float, unit: str) -> float:
    """A temperature typed in the user's unit, in °C as stored."""
    celsius = TemperatureConverter.convert(value, unit, UnitOfTemperature.CELSIUS)
    return round(celsius, 2)


def _from_celsius(value: float, unit: str) -> float:
    """A stored °C temperature in the user's unit, as shown."""
    return round(TemperatureConverter.convert(value, UnitOfTemperature.CELSIUS, unit), 1)


def _temperature_text(celsius: float, unit: str) -> str:
    return f"{_from_celsius(celsius, unit):g} {unit}"


def _flatten(user_input: Mapping[str, Any], unit: str) -> dict[str, Any]:
    """The form's sections as the flat options the entry stores, temperatures in °C."""
    options: dict[str, Any] = {}
    for key, value in user_input.items():
        options |= value if isinstance(value, Mapping) else {key: value}
    for key in TEMPERATURE_KEYS:
        if key in options:
            options[key] = _to_celsius(float(options[key]), unit)
    return options


def _nest(schema: vol.Schema, options: Mapping[str, Any], unit: str) -> dict[str, Any]:
    """Stored options placed in the form's sections, temperatures in the user's unit."""
    shown = dict(options)
    for key in TEMPERATURE_KEYS:
        if key in shown:
            shown[key] = _from_celsius(float(shown[key]), unit)
    nested: dict[str, Any] = {}
    for marker, value in schema.schema.items():
        name = str(marker)
        if isinstance(value, section):
            fields = {str(inner) for inner in value.schema.schema}
            nested[name] = {key: val for key, val in shown.items() if key in fields}
        elif name in shown:
            nested[name] = shown[name]
    return nested


def _own_entity_ids(hass: HomeAssistant) -> list[str]:
    """Every entity of this integration, of any entry."""
    registry = er.async_get(hass)
    return [entry.entity_id for entry in registry.entities.values() if entry.platform == DOMAIN]


def is_own_entity(hass: HomeAssistant, entity_id: str) -> bool:
    """Whether this integration provides the entity."""
    registry_entry = er.async_get(hass).async_get(entity_id)
    return registry_entry is not None and registry_entry.platform == DOMAIN


def solark_selector(hass: HomeAssistant) -> EntitySelector:
    """Battery SOC sensors of other integrations: ours would compare the battery with itself."""
    return EntitySelector(
        EntitySelectorConfig(
            domain="sensor", device_class="battery", exclude_entities=_own_entity_ids(hass)
        )
    )


def _number(minimum: float, maximum: float, step: float, unit: str) -> NumberSelector:
    return NumberSelector(
        NumberSelectorConfig(
            min=minimum,
            max=maximum,
            step=step,
            unit_of_measurement=unit,
            mode=NumberSelectorMode.BOX,
        )
    )


def _options_schema(hass: HomeAssistant, entry: VictronConfigEntry, unit: str) -> vol.Schema:
    """Only the options that apply to the sources this entry uses, in sections."""
    fields: dict[vol.Marker, Any] = {}
    if CONF_VRM_TOKEN in entry.data:
        fields[vol.Required(SECTION_VRM)] = section(
            vol.Schema(
                {
                    vol.Required(
                        CONF_VRM_POLL_INTERVAL, default=DEFAULT_VRM_POLL_INTERVAL
                    ): _number(MIN_VRM_POLL_INTERVAL, 3600, 1, "s"),
                    vol.Required(CONF_BUDGET_WARNING, default=DEFAULT_BUDGET_WARNING): _number(
                        1, 199, 1, "requests/h"
                    ),
                    vol.Required(CONF_BUDGET_LIMIT, default=DEFAULT_BUDGET_LIMIT): _number(
                        2, 200, 1, "requests/h"
                    ),
                }
            )
        )
    if CONF_HOST in entry.data:
        fields[vol.Required(SECTION_CERBO)] = section(
            vol.Schema(
                {
                    vol.Required(
                        CONF_LOCAL_FAST_INTERVAL, default=DEFAULT_LOCAL_FAST_INTERVAL
                    ): _number(5, 300, 1, "s"),
                    vol.Required(CONF_FOLLOW_SYSTEM_BATTERY, default=False): BooleanSelector(),
                }
            )
        )
    low, high = (_from_celsius(value, unit) for value in (-40, 80))
    temperature = _number(low, high, 0.5, unit)
    fields[vol.Required(SECTION_LIMITS)] = section(
        vol.Schema(
            {
                vol.Required(
                    CONF_NOMINAL_VOLTAGE, default=str(DEFAULT_NOMINAL_VOLTAGE)
                ): SelectSelector(
                    SelectSelectorConfig(
                        options=["12", "24", "48"],
                        translation_key=CONF_NOMINAL_VOLTAGE,
                        mode=SelectSelectorMode.LIST,
                    )
                ),
                # Empty: automatic (the battery's own limits, else safe presets); a value always
                # wins. No defaults, so saving the form never turns a preset into a user's limit.
                vol.Optional(CONF_VOLTAGE_MIN): _number(5, 70, 0.1, "V"),
                vol.Optional(CONF_VOLTAGE_MAX): _number(5, 70, 0.1, "V"),
                vol.Optional(CONF_TEMPERATURE_MIN): temperature,
                vol.Optional(CONF_TEMPERATURE_MAX): temperature,
                vol.Required(CONF_LOW_SOC, default=DEFAULT_LOW_SOC): _number(0, 100, 1, "%"),
            }
        )
    )
    fields[vol.Required(SECTION_SOLARK)] = section(
        vol.Schema(
            {
                vol.Optional(CONF_SOLARK_ENTITY): solark_selector(hass),
                vol.Required(CONF_SOLARK_THRESHOLD, default=DEFAULT_SOLARK_THRESHOLD): _number(
                    0.5, 50, 0.5, "%"
                ),
                vol.Required(CONF_SOLARK_DWELL, default=DEFAULT_SOLARK_DWELL): _number(
                    0, 3600, 1, "s"
                ),
            }
        )
    )
    fields[vol.Required(CONF_SHOW_DASHBOARD, default=DEFAULT_SHOW_DASHBOARD)] = BooleanSelector()
    return vol.Schema(fields)
