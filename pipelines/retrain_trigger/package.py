"""Build the retrain function's deployment package: `python -m pipelines.retrain_trigger.package --out dist/retrain.zip`.

The zip is what `az functionapp deployment source config-zip --build-remote true` sends to a Flex Consumption app
(OneDeploy): `function_app.py`, `host.json` and `requirements.txt` at the root (Flex installs the requirements in its
remote build) and the project modules that two things import, found by reading their import statements
(`pipelines.closure`: including those inside functions, excluding `if TYPE_CHECKING:` blocks):

- the function itself (`pipelines/retrain_trigger/function_app.py`), which runs in the app;
- the training pipeline's step modules (`python -m pipelines.steps.<step>` on the Azure ML cluster): the function
  stages each step's code snapshot from the project root it runs from (`core.paths.ROOT_DIR`, the app's wwwroot;
  `pipelines.step_code`), so the package carries the step code too. The snapshots hold only each step's closure,
  never the app's installed packages.

The build fails when either closure reaches the Pulumi program's side (`components/`, pulumi, pulumi-azure-native,
pulumi-policy) or the CLI (`mlops.commands`, `mlops.cli`, typer, rich): the app installs only its own requirements.
The zip is reproducible: sorted entries, fixed timestamps and modes.
"""

from __future__ import annotations

import argparse
import sys
import zipfile
from collections.abc import Sequence
from pathlib import Path

from core.paths import ROOT_DIR
from pipelines.closure import closure

FUNCTION_DIR = Path("pipelines", "retrain_trigger")  # in the project root
ROOT_FILES = ("function_app.py", "host.json", "requirements.txt")  # from FUNCTION_DIR, at the zip's root
REQUIREMENTS = (FUNCTION_DIR / "requirements.txt").as_posix()
FUNCTION_MODULE = "pipelines.retrain_trigger.function_app"
ZIP_TIME = (1980, 1, 1, 0, 0, 0)


class PackageError(ValueError):
    """The function's import closure reaches something the app does not install."""


def step_modules() -> list[str]:
    """The modules Azure ML runs on the cluster: one per pipeline step."""
    from pipelines.steps import STEPS

    return [step.module_name for step in STEPS]


def package_files(root: Path = ROOT_DIR) -> dict[str, Path]:
    """Zip entry -> source file: the function's root files, then every project module either closure needs."""
    function, steps = closure([FUNCTION_MODULE], root), closure(step_modules(), root)
    for label, found in (("the function", function), ("the pipeline steps", steps)):
        bad = found.forbidden()
        if bad:
            raise PackageError(f"{label} import {', '.join(bad)}: the app installs only {REQUIREMENTS}")
    entries = {name: root / FUNCTION_DIR / name for name in ROOT_FILES}
    for name, path in {**function.modules, **steps.modules}.items():
        if name != FUNCTION_MODULE:  # it is the root function_app.py
            entries[path.relative_to(root).as_posix()] = path
    return dict(sorted(entries.items()))


def build(out: Path, root: Path = ROOT_DIR) -> list[str]:
    """Write the zip; returns its entries in order."""
    entries = package_files(root)
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, path in entries.items():
            info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    return list(entries)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipelines.retrain_trigger.package", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("dist/retrain.zip"), help="the zip to write (default: %(default)s)")
    args = parser.parse_args(argv)
    try:
        names = build(args.out)
    except PackageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{args.out}: {len(names)} files", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
