"""The model delivered as the deployment delivers it: the model module's script (pipelines/edge/deliver-model.sh, the
model image's command) copies the version's file into a folder standing for the shared volume, and the scorer,
given the twin the manifest writes (file:// URI and digest, rebased onto that folder), waits for it: modelError and
no crash while the file is missing, then it loads on retry and scores. Docker and IoT Edge are not run here; the
model.Dockerfile's content is checked as text."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from components.edge_manifest import MODEL_TARGET_ENV, ScoringRelease, layered_manifest
from core.paths import ROOT_DIR
from pipelines.edge.module import NO_MODEL, EdgeModule
from pipelines.sample_data import FEATURES

EDGE = ROOT_DIR / "pipelines" / "edge"
SCRIPT = EDGE / "deliver-model.sh"
DOCKERFILE = (EDGE / "model.Dockerfile").read_text()
LOGIN = "crmlopsdevweu2c39.azurecr.io"


def deliver(source: Path, target: Path, **env: str) -> subprocess.CompletedProcess:
    """Run the model module's command once (MODEL_DELIVER_ONCE: deliver, then stop instead of waiting)."""
    return subprocess.run(
        [shutil.which("sh") or "/bin/sh", str(SCRIPT)],
        env={"PATH": os.environ["PATH"], "MODEL_SOURCE": str(source), MODEL_TARGET_ENV: str(target), "MODEL_DELIVER_ONCE": "1", **env},
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip


def twin_on(volume: Path, release: ScoringRelease) -> tuple[dict, Path]:
    """The scorer's desired properties as the manifest writes them, with /models rebased onto `volume`; and where the
    model module's env puts the file there."""
    manifest = layered_manifest(release)
    desired = dict(manifest["scorer"]["properties.desired"])
    target = manifest["$edgeAgent"]["properties.desired.modules.model"]["env"][MODEL_TARGET_ENV]["value"]
    local = volume / target.removeprefix("/models/")
    assert desired["modelUri"] == f"file://{target}"
    desired["modelUri"] = local.as_uri()
    return desired, local


def test_the_scorer_waits_for_the_delivered_file_then_scores_from_it(trained, tmp_path):
    image_file = tmp_path / "image" / "model.onnx"  # /model/model.onnx in the model image
    image_file.parent.mkdir()
    image_file.write_bytes(trained.onnx)
    release = ScoringRelease(LOGIN, "0.1.0", "predictive-maintenance", "7", hashlib.sha256(trained.onnx).hexdigest())
    desired, target = twin_on(tmp_path / "volume", release)

    rows = trained.test[list(FEATURES)].head(5)
    message = json.dumps({"input_data": rows.to_dict("records")}).encode()
    module = EdgeModule(image_tag="0.1.0")
    module.on_desired(desired, complete=True)  # the twin arrives before the model module has copied the file
    assert module.active is None and module.model_error.startswith("cannot fetch modelUri: FileNotFoundError")
    assert module.on_message(message, "r0") is None
    assert module.rejected[NO_MODEL] == 1
    assert module.retry() is False  # still nothing there: no crash, the error stays

    result = deliver(image_file, target)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1]) == {"event": "model_delivered", "target": str(target)}
    assert target.read_bytes() == trained.onnx and oct(target.stat().st_mode & 0o777) == "0o644"
    assert [p.name for p in target.parent.iterdir()] == ["model.onnx"]  # no partial file left behind

    assert module.retry() is True
    assert module.model_error is None and module.reported()["model"] == {"name": "predictive-maintenance", "version": "7", "sha256": release.model_sha256}
    body = json.loads(module.on_message(message, "r1"))
    assert body["model"] == {"name": "predictive-maintenance", "version": "7"}
    assert body["predictions"] == [int(label) for label in trained.model.predict(rows)]  # as scikit-learn scores them
    assert body["probabilities"] == pytest.approx(list(trained.model.predict_proba(rows)[:, 1]), abs=1e-5)
    assert module.retry() is False  # loaded: nothing to retry


def test_a_delivered_file_with_another_digest_is_never_loaded(trained, retrained, tmp_path):
    image_file = tmp_path / "model.onnx"
    image_file.write_bytes(retrained.onnx)  # the image holds another version's file than the twin's digest names
    release = ScoringRelease(LOGIN, "0.1.0", "predictive-maintenance", "7", hashlib.sha256(trained.onnx).hexdigest())
    desired, target = twin_on(tmp_path / "volume", release)
    assert deliver(image_file, target).returncode == 0
    module = EdgeModule(image_tag="0.1.0")
    module.on_desired(desired, complete=True)
    assert module.active is None and "not the desired" in module.model_error
    assert module.retry() is False and module.active is None


def test_delivery_is_idempotent_and_refuses_a_target_outside_a_file_path(trained, tmp_path):
    image_file = tmp_path / "model.onnx"
    image_file.write_bytes(trained.onnx)
    target = tmp_path / "volume" / "predictive-maintenance" / "7" / "model.onnx"
    assert deliver(image_file, target).returncode == 0
    before = target.stat().st_mtime_ns
    assert deliver(image_file, target).returncode == 0  # a restart of the module: the same file is left alone
    assert target.stat().st_mtime_ns == before
    refused = deliver(image_file, Path("relative/model.onnx"))
    assert refused.returncode == 2 and "absolute path" in refused.stdout
    unset = subprocess.run(["sh", str(SCRIPT)], env={"PATH": os.environ["PATH"]}, capture_output=True, text=True, check=False)
    assert unset.returncode != 0 and "MODEL_TARGET is not set" in unset.stderr


def test_the_model_image_is_the_file_and_the_script_on_a_pinned_multi_arch_base():
    assert re.search(r"^FROM busybox:\d+\.\d+\.\d+$", DOCKERFILE, re.M)  # pinned; busybox is published for amd64 and arm64
    assert not re.search(r"^RUN ", DOCKERFILE, re.M)  # nothing runs at build time: no emulation for the other arch
    assert "COPY model.onnx /model/model.onnx" in DOCKERFILE and "COPY deliver-model.sh /deliver-model.sh" in DOCKERFILE
    assert 'CMD ["/bin/sh", "/deliver-model.sh"]' in DOCKERFILE
    assert "docker buildx build --platform linux/amd64,linux/arm64 --file pipelines/edge/model.Dockerfile" in DOCKERFILE
