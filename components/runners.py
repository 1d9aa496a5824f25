"""Self-hosted GitHub Actions runners inside a private stack's network, for the jobs that reach data planes
(training submit, MLflow, model and environment registration, function code deploy).

Microsoft's documented pattern (Container Apps tutorial "Deploy self-hosted CI/CD runners"): an internal Container
Apps environment on the delegated `runners` subnet and an event-driven job scaled by KEDA's `github-runner`
scaler, one ephemeral runner per queued workflow job. The runner's token is a Key Vault secret read by the
job's identity; the stack writes it through Azure Resource Manager (Key Vault's data plane is private) from the
secret stack config `runners.token`. Without a token the environment, identity and roles exist but no job, so a
new environment can be bootstrapped first and get its runners with the next `up`.

Runners carry the label `mlops-<env>`: workflows pick the environment's runners with it, so a staging job can
never run on prod's network. The image (`runners.image`, built from pipelines/images/runner/ by ACR Tasks in dev's
registry) is imported into the stack's registry by the bootstrap workflow: a private registry cannot run quick
builds and Container Apps runners cannot run Docker.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
from pulumi_azure_native import app

from components.base import PlatformComponent
from components.context import PlatformContext
from components.keyvault import github_token_secret

TOKEN_SECRET_REF = "personal-access-token"
GITHUB_API = "https://api.github.com"


def runner_label(environment: str) -> str:
    return f"mlops-{environment}"


@dataclass(frozen=True)
class CiRunnersArgs:
    registry_login_server: pulumi.Input[str]
    """The stack's container registry, where the runner image is."""
    container_registry_id: pulumi.Input[str]
    """Its id: the scope of the runners' AcrPull."""
    vault_name: pulumi.Input[str]
    """The stack's Key Vault, which holds the runner token."""
    vault_uri: pulumi.Input[str]
    """The vault's URI (the job's secret reference)."""
    vault_id: pulumi.Input[str]
    """The vault's id: the scope of the runners' secrets role."""
    github_owner: str
    """The GitHub owner of the repositories."""
    repositories: Sequence[str]
    """The repositories whose jobs the runners take."""
    image: str
    """The runner image, name:tag in the stack's registry."""
    token_secret_name: str
    """The Key Vault secret for the runner token."""
    token: pulumi.Input[str] | None
    """The GitHub token (a secret); None: no job until one is configured."""
    max_executions: int
    """Runners at most at once."""
    cpu: float
    """vCPUs per runner (memory is twice that in GiB)."""


class CiRunners(PlatformComponent):
    TYPE = "mlops:delivery:CiRunners"
    OUTPUTS = ("resource_id", "resource_name", "runner_principal_id", "runner_client_id", "label")

    def __init__(self, name: str, ctx: PlatformContext, args: CiRunnersArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(name, ctx, opts)
        if ctx.network is None:
            raise ValueError(f"{name}: runners live in a private stack's network")
        identity = self.user_assigned_identity("runners")
        access = [
            self.grant("pull-runner-image", identity.principal_id, "AcrPull", args.container_registry_id),
            self.grant("read-runner-token", identity.principal_id, "Key Vault Secrets User", args.vault_id),
        ]
        environment = app.ManagedEnvironment(
            f"{name}-cae",
            environment_name=ctx.naming.name("cae"),
            resource_group_name=ctx.resource_group_name,
            location=ctx.location,
            # Workload profiles: a /27 subnet delegated to Microsoft.App/environments (a consumption-only
            # environment would need an undelegated /23). Internal: nothing outside the VNet reaches it.
            vnet_configuration=app.VnetConfigurationArgs(infrastructure_subnet_id=ctx.network.subnet_ids["runners"], internal=True),
            workload_profiles=[app.WorkloadProfileArgs(name="Consumption", workload_profile_type="Consumption")],
            app_logs_configuration=app.AppLogsConfigurationArgs(destination="azure-monitor"),
            public_network_access="Disabled",
            tags=ctx.tags,
            opts=self.child(),
        )
        self.diagnostics(environment.id)
        label = runner_label(ctx.naming.environment)
        if args.token is not None:
            secret = github_token_secret(f"{name}-token", ctx, args.vault_name, args.token_secret_name, args.token, self.child())
            repos = ",".join(args.repositories)
            first_repo = args.repositories[0]
            app.Job(
                f"{name}-job",
                job_name=ctx.naming.name("caj", "runners"),
                resource_group_name=ctx.resource_group_name,
                location=ctx.location,
                environment_id=environment.id,
                workload_profile_name="Consumption",
                identity=app.ManagedServiceIdentityArgs(type="UserAssigned", user_assigned_identities=[identity.id]),
                configuration=app.JobConfigurationArgs(
                    trigger_type="Event",
                    replica_timeout=1800,
                    replica_retry_limit=0,
                    event_trigger_config=app.JobConfigurationEventTriggerConfigArgs(
                        parallelism=1,
                        replica_completion_count=1,
                        scale=app.JobScaleArgs(
                            min_executions=0,
                            max_executions=args.max_executions,
                            polling_interval=30,
                            rules=[
                                app.JobScaleRuleArgs(
                                    name="github-runner",
                                    type="github-runner",
                                    metadata={
                                        "githubAPIURL": GITHUB_API,
                                        "owner": args.github_owner,
                                        "runnerScope": "repo",
                                        "repos": repos,
                                        "labels": label,
                                        "targetWorkflowQueueLength": "1",
                                    },
                                    auth=[app.ScaleRuleAuthArgs(secret_ref=TOKEN_SECRET_REF, trigger_parameter="personalAccessToken")],
                                )
                            ],
                        ),
                    ),
                    secrets=[
                        app.SecretArgs(
                            name=TOKEN_SECRET_REF,
                            key_vault_url=pulumi.Output.concat(args.vault_uri, "secrets/", args.token_secret_name),
                            identity=identity.id,
                        )
                    ],
                    registries=[app.RegistryCredentialsArgs(server=args.registry_login_server, identity=identity.id)],
                ),
                template=app.JobTemplateArgs(
                    containers=[
                        app.ContainerArgs(
                            name="runner",
                            image=pulumi.Output.concat(args.registry_login_server, "/", args.image),
                            resources=app.ContainerResourcesArgs(cpu=args.cpu, memory=f"{args.cpu * 2:g}Gi"),
                            env=[
                                app.EnvironmentVarArgs(name="GITHUB_PAT", secret_ref=TOKEN_SECRET_REF),
                                app.EnvironmentVarArgs(name="GH_URL", value=f"https://github.com/{args.github_owner}/{first_repo}"),
                                app.EnvironmentVarArgs(
                                    name="REGISTRATION_TOKEN_API_URL",
                                    value=f"{GITHUB_API}/repos/{args.github_owner}/{first_repo}/actions/runners/registration-token",
                                ),
                                app.EnvironmentVarArgs(name="RUNNER_LABELS", value=label),
                                # The job's identity signs the runner in (`az login --identity --client-id ...`).
                                app.EnvironmentVarArgs(name="AZURE_CLIENT_ID", value=identity.client_id),
                            ],
                        )
                    ]
                ),
                tags=ctx.tags,
                opts=self.child(depends_on=[secret, *access]),
            )
        self.resource_id: pulumi.Output[str] = environment.id
        """The Container Apps environment's id."""
        self.resource_name: pulumi.Output[str] = environment.name
        """The Container Apps environment's name."""
        self.runner_principal_id: pulumi.Output[str] = identity.principal_id
        """The runners' user-assigned identity (what CI jobs run as)."""
        self.runner_client_id: pulumi.Output[str] = identity.client_id
        """That identity's client id (az login --identity)."""
        self.label: str = label
        """The runners' label, mlops-<env>: workflows pick the environment's runners by it."""
        self._register()
