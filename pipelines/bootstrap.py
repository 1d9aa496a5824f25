"""What the bootstrap workflow (.github/workflows/bootstrap.yml) needs to know about a stack before it deploys
anything, read from the stack file: `python -m pipelines.bootstrap --stack staging --environment-version 1` prints
`key=value` lines for `$GITHUB_OUTPUT`:

- `private`: `true` when the stack's network is private. Then its registry is private too and cannot build images
  (quick ACR builds have no identity to pass the firewall as a trusted service), so the bootstrap imports them from
  dev's registry; dev builds them with `az acr build`;
- `runner_image`: the self-hosted runner image (`runners.image`, from pipelines/images/runner/);
- `training_image`: the image the training pipeline's steps run in (`pipelines.aml.TRAINING_IMAGE`);
- `serving_environment`: `<name>:<version>` of the scoring environment (name from
  pipelines/images/serving-environment.yml), which the stack file's `serving.environment` must already name: the
  promotion validates the stack file, and deployments need it;
- `promote_to`: the stack whose file the promotion PR edits. dev and staging promote in themselves; prod takes only a
  model that served in staging (pipelines/promotion.py), so its bootstrap trains and registers but opens no PR
  (`none`).

Exit 2 with one line naming the stack file and key when the stack disagrees with the request.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from ruamel.yaml import YAML

from core.config import ConfigError, display_path, load_stack_config, stack_file
from core.errors import EXIT_BAD_INPUT, BadInput
from core.paths import ROOT_DIR

SERVING_ENVIRONMENT_SPEC = ROOT_DIR / "pipelines" / "images" / "serving-environment.yml"
STACKS = ("dev", "staging", "prod")
GATE_FREE = ("dev", "staging")  # stacks a freshly trained model may be promoted in directly
VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,29}$")  # an Azure ML asset version


def serving_environment_name() -> str:
    return str(YAML(typ="safe").load(SERVING_ENVIRONMENT_SPEC.read_text())["name"])


def bootstrap_plan(stack: str, environment_version: str, path: Path | None = None) -> dict[str, str]:
    """The bootstrap's inputs for one stack (its file: `path` or stacks/Pulumi.<stack>.yaml); BadInput when the
    request or the stack file cannot be bootstrapped."""
    from pipelines.aml import TRAINING_IMAGE

    if stack not in STACKS:
        raise BadInput(f"--stack: {stack!r} is not one of {', '.join(STACKS)}")
    if not VERSION.match(environment_version):
        raise BadInput(f"--environment-version: {environment_version!r} is not an Azure ML asset version")
    path = path or stack_file(stack)
    cfg = load_stack_config(stack, path)
    wanted = f"{serving_environment_name()}:{environment_version}"
    if cfg.serving.environment != wanted:
        where = f"{display_path(path)}: mlops-platform:serving.environment"
        found = cfg.serving.environment or "not set"
        raise BadInput(f"{where} is {found}; set it to {wanted} on main first (the promotion PR validates against it)")
    return {
        "private": str(cfg.network.private).lower(),
        "runner_image": cfg.runners.image,
        "training_image": TRAINING_IMAGE,
        "serving_environment": wanted,
        "promote_to": stack if stack in GATE_FREE else "none",
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipelines.bootstrap", description=__doc__.splitlines()[0])
    parser.add_argument("--stack", required=True, help="dev, staging or prod")
    parser.add_argument("--environment-version", required=True, help="the scoring environment version to create")
    args = parser.parse_args(argv)
    try:
        plan = bootstrap_plan(args.stack, args.environment_version)
    except (BadInput, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print("\n".join(f"{key}={value}" for key, value in plan.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
