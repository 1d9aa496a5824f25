"""Where things are, defined once: the project root and the local working folder for run artefacts.

No heavy imports: the Pulumi program, the CLI, the pipelines and the retrain function all import this.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT_DIR = Path(__file__).resolve().parent.parent
HOME_ENV = "MLOPS_HOME"


def mlops_home() -> Path:
    """Local runs, the MLflow store and caches live here: `.mlops/`, or wherever MLOPS_HOME points."""
    return Path(os.environ.get(HOME_ENV) or ROOT_DIR / ".mlops")
