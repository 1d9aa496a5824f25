"""Function Apps (the retrain trigger): HTTPS and TLS 1.2 only, no FTP or basic-auth publishing, an identity, no remote
debugging or open CORS, public inbound denied by default and authenticated where an HTTP path is open, a supported
runtime and, where required, a zone-redundant Flex plan."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import PolicyResource, Severity

from .base import (
    NOT_APPLICABLE,
    RELIABILITY,
    REQUIRED_SETTING,
    SECURITY,
    ResourceRule,
    Settings,
    StackRule,
    conditional,
    expect,
    if_setting,
    only_if,
    string_list,
    unless_present,
)
from .facts import facts
from .graph import references, text
from .references import References
from .resource_types import APP_SERVICE_PLAN, AUTH_SETTINGS_V2, FTP_PUBLISHING, SCM_PUBLISHING, WEB_APP
from .values import MISSING, UNKNOWN, WRONG_TYPE, as_bool, as_text, get, items, peek, same, shown

SITES = (WEB_APP,)

function_https_only = ResourceRule(
    name="function-https-only",
    description="Function Apps answer HTTPS only; plain HTTP is refused.",
    types=SITES,
    check=expect("httpsOnly", True, default=False),
    severity=Severity.HIGH,
    pillar=SECURITY,
    remediation="set https_only=True",
    why="Plain HTTP exposes requests and credentials on the wire.",
    references=References(
        psrule="Azure.AppService.UseHTTPS",
        checkov="CKV_AZURE_70",
        docs="https://learn.microsoft.com/azure/app-service/configure-ssl-bindings#enforce-https",
    ),
)

function_min_tls = ResourceRule(
    name="function-min-tls-1-2",
    description="Function Apps reject TLS versions older than 1.2.",
    types=SITES,
    check=expect("siteConfig.minTlsVersion", "1.2", "1.3", default="1.2"),
    severity=Severity.HIGH,
    pillar=SECURITY,
    remediation='set site_config.min_tls_version="1.2"',
    why="TLS 1.0 and 1.1 have known weaknesses.",
    references=References(
        psrule="Azure.AppService.MinTLS",
        checkov="CKV_AZURE_145",
        docs="https://learn.microsoft.com/azure/app-service/configure-ssl-bindings#enforce-tls-versions",
    ),
)

function_ftps_disabled = ResourceRule(
    name="function-ftp-disabled",
    description="Function Apps accept no FTP or FTPS deployments.",
    types=SITES,
    # Flex Consumption has no FTP and rejects siteConfig.ftpsState (deploy-flex-site-config): not applicable there.
    check=unless_present("functionAppConfig", then=expect("siteConfig.ftpsState", "Disabled", default="AllAllowed")),
    severity=Severity.MEDIUM,
    pillar=SECURITY,
    remediation='set site_config.ftps_state="Disabled" and deploy from the package container by identity',
    why="FTP sends deployment credentials and code in clear text.",
    references=References(checkov="CKV_AZURE_78", docs="https://learn.microsoft.com/azure/app-service/deploy-ftp"),
)

function_managed_identity = ResourceRule(
    name="function-managed-identity",
    description="Function Apps reach Azure services with a managed identity, not secrets.",
    types=SITES,
    check=expect("identity.type", "SystemAssigned", "UserAssigned", "SystemAssigned, UserAssigned"),
    severity=Severity.MEDIUM,
    pillar=SECURITY,
    remediation='set identity=ManagedServiceIdentityArgs(type="SystemAssigned") and grant it data roles',
    why="Without an identity the app needs secrets to reach storage and Azure ML.",
    references=References(
        psrule="Azure.AppService.ManagedIdentity",
        checkov="CKV_AZURE_71",
        docs="https://learn.microsoft.com/azure/app-service/overview-managed-identity",
    ),
)

publishing_basic_auth_disabled = ResourceRule(
    name="publishing-basic-auth-disabled",
    description="FTP and SCM publishing with basic-auth credentials is switched off.",
    types=(FTP_PUBLISHING, SCM_PUBLISHING),
    check=expect("allow", False, default=True),
    severity=Severity.MEDIUM,
    pillar=SECURITY,
    remediation="declare WebAppFtpAllowed and WebAppScmAllowed with allow=False for the app",
    why="Basic publishing credentials are a username and password that deploy code without Entra ID.",
    references=References(docs="https://learn.microsoft.com/azure/app-service/configure-basic-auth-disable"),
)


# --- remote debugging, CORS, inbound access and authentication ---------------------------------------------------

FLEX = facts("flex_consumption")
INBOUND_SOURCE = "https://learn.microsoft.com/azure/azure-functions/functions-networking-options#inbound-access-restrictions"
INBOUND_ALLOWED = {
    "allowedServiceTags": string_list("Service tags an access rule may allow (e.g. ActionGroup for a webhook receiver); none by default."),
    "allowedSubnets": string_list("Subnet names (the last segment of vnetSubnetResourceId) an access rule may allow; none by default."),
}


def _public(props: Mapping[str, Any]) -> bool | None:
    """Whether the app takes traffic from public networks: True, False (private endpoints only), None (cannot say)."""
    access = as_text(get(props, "publicNetworkAccess"))
    if access is WRONG_TYPE:
        return None
    return access is MISSING or access.lower() != "disabled"  # Azure's default is Enabled


def _allowed_by_config(rule: Mapping[str, Any], settings: Settings) -> bool:
    tags = {t.lower() for t in items(settings["allowedServiceTags"]) if isinstance(t, str)}
    subnets = {s.lower() for s in items(settings["allowedSubnets"]) if isinstance(s, str)}
    address, subnet = as_text(get(rule, "ipAddress")), as_text(get(rule, "vnetSubnetResourceId"))
    if same(get(rule, "tag"), "ServiceTag") and isinstance(address, str) and address.lower() in tags:
        return True
    return isinstance(subnet, str) and subnet.rstrip("/").rsplit("/", 1)[-1].lower() in subnets


def _site_restricted(props: Mapping[str, Any], settings: Settings, prefix: str) -> list[str]:
    """Default deny on one site (`prefix` "" is the app, "scm" its deployment site), and allow rules only for the
    service tags and subnets the rule config names."""
    name = f"{prefix}IpSecurityRestrictions" if prefix else "ipSecurityRestrictions"
    default = as_text(get(props, f"siteConfig.{name}DefaultAction"))
    problems = []
    if default is MISSING:
        problems.append(f"siteConfig.{name}DefaultAction is not set, so Azure uses 'Allow'; it must be 'Deny'")
    elif isinstance(default, str) and default.lower() != "deny":
        problems.append(f"siteConfig.{name}DefaultAction is {shown(default)}; it must be 'Deny'")
    for rule in (r for r in items(get(props, f"siteConfig.{name}")) if isinstance(r, Mapping)):
        if same(get(rule, "action"), "Deny") or _allowed_by_config(rule, settings):
            continue
        what = get(rule, "vnetSubnetResourceId") if isinstance(get(rule, "vnetSubnetResourceId"), str) else get(rule, "ipAddress")
        problems.append(f"siteConfig.{name} allows {shown(get(rule, 'name'))} ({shown(what)}), which is not a service tag "
                        "or subnet the policy config names (allowedServiceTags, allowedSubnets)")
    return problems


@conditional
def _inbound_restricted(props: Mapping[str, Any], settings: Settings) -> list[str]:
    public = _public(props)
    if public is None:
        return []
    return _site_restricted(props, settings, "") if public else NOT_APPLICABLE  # private endpoints only


@conditional
def _scm_inbound_restricted(props: Mapping[str, Any], settings: Settings) -> list[str]:
    public = _public(props)
    if public is None:
        return []
    if not public:
        return NOT_APPLICABLE
    if as_bool(get(props, "siteConfig.scmIpSecurityRestrictionsUseMain")) is True:
        return []  # the app's own rules apply (function-inbound-restricted judges them)
    return _site_restricted(props, settings, "scm")


@conditional
def _cors_restricted(props: Mapping[str, Any], _settings: Settings) -> list[str]:
    cors = get(props, "siteConfig.cors")
    if cors is MISSING:
        return NOT_APPLICABLE  # no CORS: browsers on other origins cannot read the app's answers
    if not isinstance(cors, Mapping):
        return []
    origins = [o for o in items(get(cors, "allowedOrigins")) if isinstance(o, str)]
    if "*" in origins:
        return ["siteConfig.cors.allowedOrigins contains '*'; it must name the origins that call the app"]
    wildcards = [o for o in origins if "*" in o]
    if wildcards and as_bool(get(cors, "supportCredentials")) is True:
        return [f"siteConfig.cors.supportCredentials is true with wildcard origins {', '.join(map(repr, wildcards))}; "
                "credentials need exact origins"]
    return []


@conditional
def _python_runtime(props: Mapping[str, Any], _settings: Settings) -> list[str]:
    runtime = get(props, "functionAppConfig.runtime")
    if not isinstance(runtime, Mapping) or not same(get(runtime, "name"), "python"):
        return NOT_APPLICABLE  # not a Flex app, or not Python
    version = as_text(get(runtime, "version"))
    supported = FLEX["runtimes"]["python"]
    if isinstance(version, str) and version not in supported:
        return [f"functionAppConfig.runtime.version is {shown(version)}; Flex Consumption runs Python {', '.join(supported)}"]
    return []


function_remote_debugging = ResourceRule(
    name="function-remote-debugging-disabled",
    description="Function Apps have remote debugging off (it opens debugger ports to the app).",
    types=SITES,
    check=expect("siteConfig.remoteDebuggingEnabled", False, default=False),
    severity=Severity.HIGH,
    pillar=SECURITY,
    remediation="set site_config remote_debugging_enabled=False (or leave it unset)",
    why="Remote debugging opens debugger ports into the running app.",
    references=References(
        psrule="Azure.AppService.RemoteDebug",
        docs="https://learn.microsoft.com/dotnet/api/azure.resourcemanager.appservice.siteconfigdata.isremotedebuggingenabled",
    ),
)

function_cors_restricted = ResourceRule(
    name="function-cors-restricted",
    description="A Function App's CORS never allows every origin, nor wildcard origins with credentials.",
    types=SITES,
    check=_cors_restricted,
    severity=Severity.HIGH,
    pillar=SECURITY,
    remediation="list the exact origins that call the app in site_config cors allowed_origins, or send no cors at all",
    why="A wildcard CORS origin lets any website call the app from its visitors' browsers.",
    references=References(docs="https://learn.microsoft.com/azure/app-service/app-service-web-tutorial-rest-api#enable-cors"),
)

function_inbound_restricted = ResourceRule(
    name="function-inbound-restricted",
    description="A Function App reachable from public networks denies by default and allows only the service tags and subnets the policy config names.",
    types=SITES,
    check=_inbound_restricted,
    config=INBOUND_ALLOWED,
    severity=Severity.HIGH,
    pillar=SECURITY,
    remediation='set site_config ip_security_restrictions_default_action="Deny" with allow rules only for the configured '
    'service tags and subnets, or public_network_access="Disabled" (stack config network.mode: private)',
    why="An app open to every network can be probed and flooded by anyone; deny by default and allow what calls it.",
    references=References(docs=INBOUND_SOURCE),
)

function_scm_inbound_restricted = ResourceRule(
    name="function-scm-inbound-restricted",
    description="A Function App's deployment (SCM) site reachable from public networks is restricted like the app itself.",
    types=SITES,
    check=_scm_inbound_restricted,
    config=INBOUND_ALLOWED,
    severity=Severity.MEDIUM,
    pillar=SECURITY,
    remediation='set site_config scm_ip_security_restrictions_default_action="Deny" (or scm_ip_security_restrictions_use_main=True) '
    "and deploy code from runners inside the network (stack config network.mode: private)",
    why="The SCM site deploys code; left open it is a second, unrestricted door into the app.",
    references=References(docs="https://learn.microsoft.com/azure/app-service/app-service-ip-restrictions#restrict-access-to-an-scm-site"),
)

function_python_runtime = ResourceRule(
    name="function-python-runtime-supported",
    description="A Flex Consumption Python app runs a Python version Flex supports.",
    types=SITES,
    check=_python_runtime,
    severity=Severity.MEDIUM,
    pillar=RELIABILITY,
    remediation="set stack config retrainTrigger.pythonVersion to a version of policies/rules/azure/flex_consumption.json",
    why="Flex Consumption runs only the language versions it lists; another version fails to start or loses support.",
    references=References(docs=FLEX["runtimes"]["source"]),
)

function_flex_zone_redundant = ResourceRule(
    name="function-flex-zone-redundant",
    description="Where the environment requires it, a Flex Consumption plan is zone-redundant.",
    types=(APP_SERVICE_PLAN,),
    check=if_setting("required", only_if("sku.tier", "FlexConsumption", then=expect("zoneRedundant", True, default=False))),
    config=REQUIRED_SETTING,
    severity=Severity.LOW,
    pillar=RELIABILITY,
    remediation="set zone_redundant=True on the Flex plan (Azure then keeps at least two always-ready instances, billed) "
    "with zone-redundant host storage",
    why="A plan in one zone stops with that zone; prod's retrain trigger should survive a zone failure.",
    references=References(docs=FLEX["zoneRedundancy"]["source"]),
)


# --- Entra ID authentication on any public HTTP path (a stack rule: the settings are a resource of their own) ----

REJECTING = ("Return401", "Return403")


def _takes_public_http(props: Mapping[str, Any]) -> bool:
    """Public access on, and the app's access rules let something in (default Allow, or an allow rule)."""
    access = peek(props, "publicNetworkAccess")
    if not (access is MISSING or isinstance(access, str)) or same(access, "Disabled"):
        return False  # private endpoints only, or not known yet
    default = peek(props, "siteConfig.ipSecurityRestrictionsDefaultAction")
    if default is UNKNOWN:
        return False
    rules = peek(props, "siteConfig.ipSecurityRestrictions")
    allows = rules is not UNKNOWN and any(isinstance(r, Mapping) and not same(peek(r, "action"), "Deny") for r in items(rules))
    return not same(default, "Deny") or allows


def _entra_enforced(settings: PolicyResource) -> bool:
    props = settings.props
    return (
        as_bool(peek(props, "platform.enabled")) is True
        and as_bool(peek(props, "globalValidation.requireAuthentication")) is True
        and any(same(peek(props, "globalValidation.unauthenticatedClientAction"), a) for a in REJECTING)
        and as_bool(peek(props, "identityProviders.azureActiveDirectory.enabled")) is True
    )


@conditional
def _unauthenticated_http(resources: list[PolicyResource], _settings: Settings) -> Iterator[tuple[str, str]]:
    auth = [r for r in resources if r.resource_type == AUTH_SETTINGS_V2]
    for app in (r for r in resources if r.resource_type == WEB_APP):
        if not _takes_public_http(app.props):
            continue  # not applicable: no public HTTP path (the retrain function: Event Hubs-triggered, deny all)
        names = {text(app.props, "name")} - {None}
        own = [a for a in auth if text(a.props, "name") in names or app in references(a, "name")]
        if not any(_entra_enforced(a) for a in own):
            yield app.urn, (
                f"WebApp '{app.name}' takes HTTP requests from public networks and no WebAppAuthSettingsV2 makes Entra ID "
                "sign-in required for them (requireAuthentication with Return401 or Return403)"
            )


function_entra_auth = StackRule(
    name="function-entra-auth",
    description="A Function App that takes HTTP requests from public networks requires Entra ID authentication on them.",
    check=_unauthenticated_http,
    severity=Severity.HIGH,
    pillar=SECURITY,
    remediation="declare a WebAppAuthSettingsV2 for the app with the Entra ID provider, require_authentication=True and "
    'unauthenticated_client_action="Return401", or deny public HTTP (function-inbound-restricted)',
    why="An HTTP path open to public networks without required sign-in lets anyone call it.",
    references=References(docs="https://learn.microsoft.com/azure/app-service/configure-authentication-provider-aad"),
)
