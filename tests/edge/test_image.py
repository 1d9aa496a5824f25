"""The edge module's image: what the Dockerfile copies is all the module needs, and that runs with no MLflow,
scikit-learn or pandas (a fresh interpreter where importing them fails scores a message). Docker itself is not
run here: the multi-arch build is documented, not checked."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

from core.paths import ROOT_DIR
from tests.edge.conftest import published

EDGE = ROOT_DIR / "pipelines" / "edge"
DOCKERFILE = (EDGE / "Dockerfile").read_text()
BANNED = ("mlflow", "sklearn", "pandas", "skl2onnx", "scipy")

SCORE_ONE = r"""
import importlib.abc, json, sys
banned = set(sys.argv[1].split(","))

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in banned:
            raise ImportError(f"{name} is not in the edge image")

sys.meta_path.insert(0, Block())
import pipelines.edge.main
from pipelines.edge.module import EdgeModule
module = EdgeModule(image_tag="test")
module.on_desired(json.loads(sys.argv[2]), complete=True)
print(module.on_message(sys.argv[3].encode(), "r").decode())
print(json.dumps(sorted(name for name in sys.modules if name.split(".")[0] in banned)))
"""


def image_tree(root: Path) -> Path:
    """The files the Dockerfile copies into /app, laid out under `root`."""
    for sources, target in re.findall(r"^COPY (.+) (/app/\S*)$", DOCKERFILE, re.M):
        for source in sources.split():
            dest = root / target.removeprefix("/app/")
            if target.endswith("/"):
                dest = dest / Path(source).name
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(ROOT_DIR / source, dest)
    return root


def test_the_image_copies_every_module_file_and_builds_for_both_arches():
    copied = set(re.findall(r"pipelines/edge/\w+\.py", DOCKERFILE))
    assert copied == {f"pipelines/edge/{path.name}" for path in EDGE.glob("*.py")}
    assert "docker buildx build --platform linux/amd64,linux/arm64" in DOCKERFILE
    assert re.search(r"^FROM python:3\.11-slim$", DOCKERFILE, re.M)  # an official image published for amd64 and arm64
    assert 'CMD ["python", "-m", "pipelines.edge.main"]' in DOCKERFILE


def test_the_image_requirements_hold_no_mlflow_scikit_learn_or_pandas_and_match_the_projects_pins():
    lines = [line for line in (EDGE / "requirements.txt").read_text().splitlines() if line.strip() and not line.startswith("#")]
    names = {re.split(r"[=<>]", line)[0] for line in lines}
    assert names == {"onnxruntime", "azure-iot-device", "numpy"}
    root = set((ROOT_DIR / "requirements.txt").read_text().splitlines())
    assert all(line in root for line in lines)


def test_the_copied_files_score_a_message_without_mlflow_scikit_learn_or_pandas(trained, tmp_path):
    tree = image_tree(tmp_path / "app")
    desired = published(trained.onnx, tmp_path / "blobs")
    rows = trained.test.drop(columns=["failure"]).head(2).to_dict("records")
    done = subprocess.run(
        [sys.executable, "-c", SCORE_ONE, ",".join(BANNED), json.dumps(desired), json.dumps({"input_data": rows})],
        cwd=tree, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(tree)}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    answer, loaded = done.stdout.strip().splitlines()
    assert json.loads(answer)["predictions"] == trained.model.predict(trained.test.drop(columns=["failure"]).head(2)).tolist()
    assert json.loads(loaded) == []
