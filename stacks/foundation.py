"""What every stack starts from: its resource group and the context its components share."""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi_azure_native import authorization, resources

from components.context import PlatformContext, standard_tags
from components.serving import Principal
from core.config import ConfigError, PlatformConfig, SharedConfig, display_path, parse_config, stack_file
from core.outputs import SharedOutputs, StackOutputs


class ProgramConfigError(ConfigError, pulumi.RunError):
    """A ConfigError raised inside the program: Pulumi prints a RunError's one line without a traceback."""


def load_program_config() -> PlatformConfig | SharedConfig:
    """Validate the config the engine (or the mock harness) gave this program run."""
    from pulumi.runtime.config import CONFIG, get_config_env, get_config_secret_keys_env, is_config_secret

    environment = pulumi.get_stack()
    values = {**get_config_env(), **CONFIG.get()}
    secrets = {key for key in values if is_config_secret(key)} | set(get_config_secret_keys_env())
    try:
        return parse_config(environment, values, display_path(stack_file(environment)), secrets)
    except ConfigError as exc:
        raise ProgramConfigError(exc.source, exc.key, exc.message) from None


def base_context(cfg: PlatformConfig | SharedConfig) -> tuple[resources.ResourceGroup, PlatformContext]:
    """The stack's resource group (protected outside dev) and the context every component shares.

    The group itself is never locked: a CanNotDelete lock on the group of an Azure ML workspace stops compute
    clusters from scaling down (lock-resources, "Considerations before applying your locks"); the stateful
    resources in it are locked one by one (components/base.py)."""
    tags = standard_tags(cfg.naming, cfg.owner, cfg.cost_center, cfg.extra_tags)
    group = resources.ResourceGroup(
        "platform-rg",
        resource_group_name=cfg.naming.name("rg"),
        location=cfg.location,
        tags=tags,
        opts=pulumi.ResourceOptions(protect=cfg.protect),
    )
    client = authorization.get_client_config_output()
    ctx = PlatformContext(
        naming=cfg.naming,
        tags=tags,
        location=cfg.location,
        resource_group_name=group.name,
        subscription_id=client.subscription_id,
        tenant_id=client.tenant_id,
        deployer_id=client.object_id,
        protect=cfg.protect,
        locks=cfg.locks,
    )
    return group, ctx


def principals(configured) -> list[Principal]:
    """Configured Entra principals (operators, callers) as the components take them."""
    return [Principal(p.object_id, p.type) for p in configured]


def export_outputs(contract: type[StackOutputs] | type[SharedOutputs], values: dict[str, Any]) -> None:
    """Export exactly the contract's keys (given by Python field name); secrets stay secret. Lives on the program's
    side so that core/outputs.py, which the retrain function and the pipelines import, stays free of pulumi."""
    expected = set(contract.model_fields)
    if set(values) != expected:
        missing, extra = sorted(expected - set(values)), sorted(set(values) - expected)
        raise ValueError(f"stack outputs differ from the contract: missing {missing}, unexpected {extra}")
    secret_keys = contract.secret_keys()
    for name, field in contract.model_fields.items():
        value = values[name]
        pulumi.export(field.alias, pulumi.Output.secret(value) if field.alias in secret_keys else value)
