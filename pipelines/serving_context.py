"""The build context of the scoring environment Azure ML builds (pipelines/images/serving-environment.yml): the
folder `pipelines/images/serving/` plus the project files the scoring script needs, copied in. Defined once, used
by the bootstrap workflow (`python -m pipelines.serving_context`) and checked by the tests against the Dockerfile.

    python -m pipelines.serving_context [DEST]   # assemble into DEST (default: pipelines/images/serving)
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from core.paths import ROOT_DIR

CONTEXT_DIR = ROOT_DIR / "pipelines" / "images" / "serving"
# Project files the image copies, as paths relative to the context (the pipelines modules score.py imports; a
# test checks that they are all here and that requirements.txt covers their imports).
PROJECT_FILES = {
    "score.py": "pipelines/score.py",
    "pipelines/__init__.py": "pipelines/__init__.py",
    "pipelines/collect.py": "pipelines/collect.py",
    "pipelines/json_limits.py": "pipelines/json_limits.py",
    "pipelines/model_metadata.py": "pipelines/model_metadata.py",
    "pipelines/signature_rules.py": "pipelines/signature_rules.py",
}


def assemble(dest: Path = CONTEXT_DIR) -> list[Path]:
    """Copy the context folder (when dest is elsewhere) and the project files into `dest`; the files written."""
    dest = Path(dest)
    if dest.resolve() != CONTEXT_DIR.resolve():
        shutil.copytree(CONTEXT_DIR, dest, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".gitignore", *PROJECT_FILES))
    written = []
    for target, source in PROJECT_FILES.items():
        path = dest / target
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT_DIR / source, path)
        written.append(path)
    return written


if __name__ == "__main__":
    for written in assemble(Path(sys.argv[1]) if len(sys.argv) > 1 else CONTEXT_DIR):
        print(written)
