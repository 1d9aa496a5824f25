"""`python -m mlops promote`: move a registered model through a stack by editing its serving config."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from functools import cache
from typing import Annotated, Any

import typer

from core.errors import BadInput, first_line
from core.paths import ROOT_DIR
from mlops.options import StackOption, one_stack

HELP = (
    "Promote a model: canary (--traffic N), --complete or --rollback, by editing stacks/Pulumi.<env>.yaml; "
    "with --target edge: --canary, --complete or --rollback of the IoT Edge rollout."
)
EXAMPLES = (
    "Examples: python -m mlops promote --stack staging --model predictive-maintenance:3 --traffic 10 | "
    "python -m mlops promote --stack staging --complete | python -m mlops promote --stack staging --rollback --dry-run | "
    "python -m mlops promote --stack dev --model predictive-maintenance:1 --traffic 10 --environment mlops-serving:1 | "
    "python -m mlops promote --stack dev --target edge --model predictive-maintenance:2 --canary"
)

def registry_client():
    """The MLflow registry: MLFLOW_TRACKING_URI (e.g. the workspace's), else the local store."""
    from mlflow import MlflowClient

    from pipelines.runner import tracking_uri

    uri = tracking_uri()
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def registry_errors():
    """MLflow failures of the registry (unreachable, broken) as one line naming the store, exit 2."""
    from pipelines.registry import store_errors
    from pipelines.runner import tracking_uri

    return store_errors(tracking_uri())


class Target(StrEnum):
    serving = "serving"
    edge = "edge"


class Registry(StrEnum):
    local = "local"
    workspace = "workspace"
    shared = "shared"


def model_exists(name: str, version: str) -> bool:
    """Whether the registry has the version; a registry that fails is not a missing version (exit 2, not 1)."""
    return local_model_tags(name, version) is not None


def _found(get: Callable[[], object], where: str) -> bool:
    """Whether an Azure ML asset exists (see `_asset`)."""
    return _asset(get, where) is not None


def workspace_model_exists(stack: str):
    """The stack's Azure ML workspace registry (azure-ai-ml, DefaultAzureCredential), where submitted runs register."""

    def exists(name: str, version: str) -> bool:
        from mlops.outputs import load_outputs
        from pipelines.runner import workspace_client

        get = lambda: workspace_client(load_outputs(stack)).models.get(name=name, version=version)  # noqa: E731
        return _found(get, f"the {stack} workspace's registry")

    return exists


def shared_registry(stack: str):
    """(model exists, environment exists) in the shared Azure ML registry that the stack's deployments take both
    from (`azureml://registries/<mlRegistryName>/...`), asked with azure-ai-ml as `DefaultAzureCredential`."""

    @cache
    def registry() -> tuple[str, Any]:
        """The registry's name and client, made on first use (the client asks Azure ML's registry discovery where
        the registry is)."""
        from azure.core.exceptions import AzureError

        from mlops.outputs import load_outputs
        from pipelines.runner import shared_registry_client

        outputs = load_outputs(stack)
        try:
            return outputs.ml_registry_name, shared_registry_client(outputs)
        except AzureError as exc:
            raise BadInput(f"cannot reach the shared registry {outputs.ml_registry_name}: {first_line(exc)}") from None

    def asset(kind: str):
        def exists(name: str, version: str) -> bool:
            registry_name, client = registry()
            return _found(lambda: getattr(client, kind).get(name=name, version=version), f"the shared registry {registry_name}")

        return exists

    return asset("models"), asset("environments")


def _tags(asset: object | None) -> dict[str, str] | None:
    return None if asset is None else dict(getattr(asset, "tags", None) or {})


def local_model_tags(name: str, version: str) -> dict[str, str] | None:
    """A version's MLflow tags in the local (or MLFLOW_TRACKING_URI) registry; None when it has no such version."""
    from mlflow.exceptions import MlflowException

    from pipelines.registry import is_missing

    with registry_errors():
        try:
            return _tags(registry_client().get_model_version(name, version))
        except MlflowException as exc:
            if is_missing(exc):
                return None
            raise


def _asset(get: Callable[[], object], where: str) -> object | None:
    """An Azure ML asset, or None when it does not exist (other Azure failures: bad input naming `where`)."""
    from azure.core.exceptions import AzureError, ResourceNotFoundError

    try:
        return get()
    except ResourceNotFoundError:
        return None
    except AzureError as exc:
        raise BadInput(f"cannot ask {where}: {first_line(exc)}") from None


def azure_model_tags(stack: str, registry: Registry):
    """A version's tags in the stack's workspace or the shared registry (azure-ai-ml `Model.tags`)."""

    def tags(name: str, version: str) -> dict[str, str] | None:
        from mlops.outputs import load_outputs
        from pipelines.runner import shared_registry_client, workspace_client

        outputs = load_outputs(stack)
        if registry is Registry.shared:
            where, client = f"the shared registry {outputs.ml_registry_name}", lambda: shared_registry_client(outputs)
        else:
            where, client = f"the {stack} workspace's registry", lambda: workspace_client(outputs)
        return _tags(_asset(lambda: client().models.get(name=name, version=version), where))

    return tags


def mark_production(model: str) -> None:
    """Completing a rollout in prod moves the registry's `production` alias: the gate compares against it."""
    from pipelines.registry import PRODUCTION_ALIAS

    name, version = model.split(":")
    with registry_errors():
        registry_client().set_registered_model_alias(name, PRODUCTION_ALIAS, version)


def promote(
    stack: StackOption,
    model: Annotated[str | None, typer.Option(help="NAME:VERSION of a registered model.")] = None,
    environment: Annotated[
        str | None,
        typer.Option(help="NAME:VERSION of the scoring environment in the shared registry, for the canary (required for a stack's first model)."),
    ] = None,
    traffic: Annotated[int | None, typer.Option(help="Canary share in percent, 1-99.")] = None,
    complete: Annotated[bool, typer.Option("--complete", help="Move all traffic to the canary; retire the old slot.")] = False,
    rollback: Annotated[bool, typer.Option("--rollback", help="Retire the canary; the live slot serves 100%.")] = False,
    canary: Annotated[bool, typer.Option("--canary", help="With --target edge: run --model on the canary ring.")] = False,
    target: Annotated[Target, typer.Option(help="What to roll out to: the online endpoint, or the IoT Edge devices.")] = Target.serving,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the stack-file diff; write nothing.")] = False,
    registry: Annotated[
        Registry,
        typer.Option(
            help="Where the model must be registered: the local MLflow store, the stack's workspace, or the shared "
            "Azure ML registry its deployments take models from (also checks --environment there)."
        ),
    ] = Registry.local,
) -> None:
    from pipelines.promotion import promote as plan_promotion

    stack = one_stack(stack)
    if target is Target.edge:
        return promote_edge(stack, model, environment, traffic, canary, complete, rollback, dry_run, registry)
    if canary:
        raise BadInput("--canary goes with --target edge; an endpoint canary is --traffic N")
    chosen = [flag for flag, on in (("--traffic", traffic is not None), ("--complete", complete), ("--rollback", rollback)) if on]
    if len(chosen) != 1:
        raise BadInput("give exactly one of --traffic N, --complete, --rollback")
    action = {"--traffic": "canary", "--complete": "complete", "--rollback": "rollback"}[chosen[0]]
    environment_exists = None
    if registry is Registry.shared:
        exists, environment_exists = shared_registry(stack)
    else:
        exists = workspace_model_exists(stack) if registry is Registry.workspace else model_exists
    moves_alias = stack == "prod" and action == "complete" and registry is Registry.local
    result = plan_promotion(
        stack, model, traffic, action, exists, ROOT_DIR, serving_environment=environment, dry_run=dry_run,
        environment_exists=environment_exists,
        before_write=(lambda done: mark_production(done.model)) if moves_alias else None,
    )  # fmt: skip
    typer.echo(result.diff(), nl=False)
    typer.echo(f"{'would promote' if dry_run else 'promoted'}: {result.summary}", err=True)


def promote_edge(stack: str, model, environment, traffic, canary: bool, complete: bool, rollback: bool, dry_run: bool,
                 registry: Registry) -> None:  # fmt: skip
    from pipelines.edge_promotion import promote_edge as plan_edge

    if traffic is not None or environment is not None:
        raise BadInput("--traffic and --environment are for the endpoint; the edge takes --canary, --complete or --rollback")
    chosen = [flag for flag, on in (("--canary", canary), ("--complete", complete), ("--rollback", rollback)) if on]
    if len(chosen) != 1:
        raise BadInput("with --target edge give exactly one of --canary, --complete, --rollback")
    action = chosen[0].removeprefix("--")
    tags = local_model_tags if registry is Registry.local else azure_model_tags(stack, registry)
    result = plan_edge(stack, model, action, tags, dry_run=dry_run)
    typer.echo(result.diff(), nl=False)
    typer.echo(f"{'would promote' if dry_run else 'promoted'}: {result.summary}", err=True)
