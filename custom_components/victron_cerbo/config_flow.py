"""Config flow for the Victron Cerbo GX integration.

Setup asks which sources to use (VRM cloud, the Cerbo's local DBus HTTP API, or both), validates
each one, and identifies the installation by its VRM portal ID so it cannot be added twice.
The options flow is in options_flow.py; the probes all flows share are in flow_helpers.py.

A token that sees several installations can offer the others as discovered flows, one entry
each, rather than as config subentries of one entry: each installation keeps its own options,
Cerbo, reauth, reload and diagnostics, and existing entries stay as they are.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlparse

from homeassistant.config_entries import (
    SOURCE_INTEGRATION_DISCOVERY,
    SOURCE_RECONFIGURE,
    ConfigFlow,
    ConfigFlowResult,
)
from homeassistant.core import callback
from homeassistant.helpers import discovery_flow
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.selector import (
    BooleanSelector,
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)
from homeassistant.helpers.service_info.ssdp import SsdpServiceInfo
from homeassistant.helpers.typing import DiscoveryInfoType

from .api.cerbo import CerboClient, CerboDiscovery, CerboError
from .api.vrm import VrmSite, VrmSystemOverview
from .const import (
    CONF_BATTERY_INSTANCE,
    CONF_HOST,
    CONF_PORT,
    CONF_PORTAL_ID,
    CONF_SITE_ID,
    CONF_VRM_API_URL,
    CONF_VRM_TOKEN,
    CONF_VRM_USER_ID,
    DEFAULT_LOCAL_PORT,
    DEFAULT_VRM_API_URL,
    DOMAIN,
)
from .flow_helpers import (
    PORT_SELECTOR,
    async_probe_address,
    check_token_for_site,
    fetch_overview,
    flow_vrm_url,
    list_sites,
    probe_local,
    split_host,
    vrm_url,
)
from .options_flow import VictronCerboOptionsFlow
from .runtime import VictronConfigEntry
from .schema import vol

CONF_SOURCES = "sources"
# Offer the token's other installations for setup, each as its own discovered entry.
CONF_ADD_OTHERS = "add_others"
DISCOVERED_SITE = "site"
SOURCE_VRM = "vrm"
SOURCE_LOCAL = "local"
SOURCE_BOTH = "both"
VRM_TOKEN_URL = "https://vrm.victronenergy.com/access-tokens"

TOKEN_SELECTOR = TextSelector(TextSelectorConfig(type=TextSelectorType.PASSWORD))


def _portal(portal_id: str) -> str:
    """VRM portal IDs are hex; compare and store them in one spelling."""
    return portal_id.strip().lower()


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
        self._add_others: bool | None = None  # None until the site picker asked
        self._discovered: VrmSite | None = None

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
        return await probe_local(self.hass, self._host, self._port)

    async def async_step_vrm(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Validate a VRM personal access token and list its installations."""
        errors: dict[str, str] = {}
        if user_input is not None:
            token = user_input[CONF_VRM_TOKEN].strip()
            user_id, sites, error = await list_sites(self.hass, token, flow_vrm_url())
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
            self._add_others = bool(user_input.get(CONF_ADD_OTHERS, False))
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
        fields: dict[vol.Marker, Any] = {vol.Required(CONF_SITE_ID): _picker(options)}
        if len(self._unconfigured_sites()) > 1:
            # Beside the one picked here, at least one more could be set up.
            default = self._add_others is not False
            fields[vol.Optional(CONF_ADD_OTHERS, default=default)] = BooleanSelector()
        return self.async_show_form(
            step_id="site",
            data_schema=vol.Schema(fields),
            errors=errors,
            description_placeholders=placeholders,
        )

    def _unconfigured_sites(self) -> list[VrmSite]:
        """The token's sites that have no entry yet (an ignored one counts as having one)."""
        configured = self._async_current_ids()
        return [site for site in self._sites.values() if _portal(site.identifier) not in configured]

    def _offer_other_sites(self) -> None:
        """Start a discovery flow for each other site; the user confirms each one.

        The flows reuse the token and the list already fetched: offering costs no request.
        """
        assert self._site is not None
        for site in self._unconfigured_sites():
            if site.id == self._site.id:
                continue
            discovery_flow.async_create_flow(
                self.hass,
                DOMAIN,
                context={"source": SOURCE_INTEGRATION_DISCOVERY},
                data={
                    CONF_VRM_TOKEN: self._token,
                    CONF_VRM_USER_ID: self._user_id,
                    DISCOVERED_SITE: site,
                },
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
        overview, error = await fetch_overview(self.hass, self._token, site.id, flow_vrm_url())
        if error:
            if self._discovered is not None:
                return self._discovery_form({"base": error}, {})
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
            if (vrm_api_url := flow_vrm_url()) != DEFAULT_VRM_API_URL:
                data[CONF_VRM_API_URL] = vrm_api_url
            title = self._site.name
            if self._add_others:
                self._offer_other_sites()
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

    async def async_step_integration_discovery(
        self, discovery_info: DiscoveryInfoType
    ) -> ConfigFlowResult:
        """Another installation the token of a new entry sees; started by `_offer_other_sites`."""
        site: VrmSite = discovery_info[DISCOVERED_SITE]
        await self.async_set_unique_id(_portal(site.identifier))
        self._abort_if_unique_id_configured()
        self._token = discovery_info[CONF_VRM_TOKEN]
        self._user_id = discovery_info[CONF_VRM_USER_ID]
        self._sites = {site.id: site}
        self._discovered = site
        # The card under "Discovered" names the site, never anything of the token.
        self.context["title_placeholders"] = {"name": site.name}
        return await self.async_step_discovery_confirm()

    async def async_step_discovery_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Set up the discovered site, optionally with the Cerbo on the LAN."""
        site = self._discovered
        assert site is not None
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {}
        if user_input is not None:
            self._abort_if_unique_id_configured()  # set up meanwhile: ask nothing of VRM
            self._local = None
            self._host = (user_input.get(CONF_HOST) or "").strip() or None
            self._port = int(user_input.get(CONF_PORT, DEFAULT_LOCAL_PORT))
            if self._host is not None:
                discovery, error = await self._async_probe_typed_address()
                if error:
                    errors["base"] = error
                else:
                    assert discovery is not None
                    if _portal(discovery.portal_id) != _portal(site.identifier):
                        errors["base"] = "cerbo_of_another_site"
                        placeholders["local_portal_id"] = discovery.portal_id
                    else:
                        self._local = discovery
            if not errors:
                return await self._async_select_site(site)
        return self._discovery_form(errors, placeholders)

    def _discovery_form(
        self, errors: dict[str, str], placeholders: dict[str, str]
    ) -> ConfigFlowResult:
        """Confirm the discovered site; the Cerbo's address is optional, kept after an error."""
        assert self._discovered is not None
        schema = vol.Schema(
            {
                vol.Optional(CONF_HOST): TextSelector(),
                vol.Optional(CONF_PORT, default=DEFAULT_LOCAL_PORT): PORT_SELECTOR,
            }
        )
        typed = {CONF_HOST: self._host, CONF_PORT: self._port} if self._host else None
        return self.async_show_form(
            step_id="discovery_confirm",
            data_schema=self.add_suggested_values_to_schema(schema, typed),
            errors=errors,
            description_placeholders={
                "site": self._discovered.name,
                "portal_id": self._discovered.identifier,
            }
            | placeholders,
        )

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
            user_id, error = await check_token_for_site(
                self.hass, token, entry.data[CONF_SITE_ID], vrm_url(entry)
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
                user_id, error = await check_token_for_site(
                    self.hass, token, site_id, vrm_url(entry)
                )
                overview: VrmSystemOverview | None = None
                if not error:
                    overview, error = await fetch_overview(
                        self.hass, token, site_id, vrm_url(entry)
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


def _only_monitor(overview: VrmSystemOverview) -> int | None:
    """The instance of the site's one battery monitor; None for a site without one.

    Such a site's battery is measured by its inverter or MPPT: the GX's system battery values
    are read from VRM's installations list instead of the BatterySummary widget.
    """
    monitors = overview.battery_monitors
    return monitors[0].instance if monitors else None


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
