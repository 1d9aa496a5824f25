"""Function Apps (the retrain trigger): HTTPS and TLS 1.2 only, no FTP or basic-auth publishing, an identity."""

from pulumi_policy import Severity

from .base import SECURITY, ResourceRule, expect, unless_present
from .references import References
from .resource_types import FTP_PUBLISHING, SCM_PUBLISHING, WEB_APP

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
