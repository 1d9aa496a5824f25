"""The edge scoring module's logic, testable without a device: telemetry in, predictions out, the model from the
module twin, counters out.

Messages: each message on the input `telemetry` is one request of the online endpoint's form,
`{"input_data": ROWS}` (records or the split form), checked by the same signature rules as `pipelines/score.py`
(`pipelines/signature_rules.py`) against the signature the ONNX file carries, at most `MAX_MESSAGE_BYTES` (IoT
Hub's device-to-cloud limit) and `max_rows` rows. A good one is scored and answered on the output `predictions`
with `{"requestId", "model": {"name", "version"}, "scoredAt", "predictions": [label], "probabilities":
[P(label 1)]}`. A bad one is never raised: it is counted under its reason (`REASONS`) and logged as one JSON line.

Module twin, desired properties: `modelName`, `modelVersion`, `modelUri` (`https://...` or `file:///...`: where
the device fetches the ONNX file) and `modelSha256` (its hex SHA-256); `imageTag` (the module image tag the
deployment runs, reported back beside the running one). A change of the model properties fetches the file,
checks its hash, loads it, and only then swaps it in for the next message; any failure keeps the model that
was running and reports the reason in `modelError`; `retry` tries again (the file the model module delivers into the
shared volume may not be there yet when the twin arrives). Reported: the active `model`, `modelError`, `imageTag`,
`desiredImageTag`, `desiredVersion` and `counters`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import http.client
import json
import logging
import re
import threading
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipelines.edge.model import ModelFileError, OnnxModel
from pipelines.signature_rules import DEFAULT_MAX_ROWS, REASONS, RequestError, parse_rows

INPUT_NAME = "telemetry"
OUTPUT_NAME = "predictions"
# IoT Hub's device-to-cloud message limit (learn.microsoft.com/azure/iot-hub/iot-hub-devguide-messages-construct).
MAX_MESSAGE_BYTES = 256 * 1024
MAX_MODEL_BYTES = 64 * 1024 * 1024
FETCH_TIMEOUT_SECONDS = 60.0
# Reasons of the module's own, beside the signature rules' (REASONS).
NO_MODEL = "no_model"  # a message before any model was loaded
MODEL_ERROR = "model_error"  # valid rows ONNX Runtime could not score
SEND_FAILED = "send_failed"  # the prediction could not be handed to the edge hub
EDGE_REASONS = (*REASONS, NO_MODEL, MODEL_ERROR, SEND_FAILED)
# Desired properties of the module twin.
MODEL_NAME, MODEL_VERSION, MODEL_URI, MODEL_SHA256, IMAGE_TAG = "modelName", "modelVersion", "modelUri", "modelSha256", "imageTag"
MODEL_PROPERTIES = (MODEL_NAME, MODEL_VERSION, MODEL_URI, MODEL_SHA256)
_SHA256 = re.compile(r"[0-9a-f]{64}")

log = logging.getLogger("mlops.edge")


class ModelFetchError(Exception):
    """The model file could not be fetched (unsupported scheme, unreachable, too large)."""


def fetch_model(uri: str, max_bytes: int = MAX_MODEL_BYTES, timeout: float = FETCH_TIMEOUT_SECONDS) -> bytes:
    """The bytes at `uri`: `https://` (e.g. a blob URL the platform publishes) or `file://` (a volume mounted into
    the module), at most `max_bytes`."""
    scheme = urllib.parse.urlsplit(uri).scheme
    try:
        if scheme == "file":
            path = Path(urllib.request.url2pathname(urllib.parse.urlsplit(uri).path))
            with path.open("rb") as file:
                content = file.read(max_bytes + 1)
        elif scheme == "https":
            with urllib.request.urlopen(uri, timeout=timeout) as response:
                content = response.read(max_bytes + 1)
        else:
            raise ModelFetchError(f"modelUri scheme '{scheme}' is not supported; use https:// or file://")
    except (OSError, http.client.HTTPException) as exc:  # URLError and timeouts are OSErrors; a cut response is not
        raise ModelFetchError(f"cannot fetch modelUri: {type(exc).__name__}: {str(exc)[:200]}") from None
    if len(content) > max_bytes:
        raise ModelFetchError(f"the model at modelUri is larger than {max_bytes} bytes")
    return content


@dataclass(frozen=True)
class ActiveModel:
    name: str
    version: str
    sha256: str
    uri: str
    model: OnnxModel

    def same_as(self, desired: dict[str, Any]) -> bool:
        return (self.name, self.version, self.sha256, self.uri) == tuple(desired.get(key) for key in MODEL_PROPERTIES)


class EdgeModule:
    """The module's state: the active model, the desired properties seen, the counters."""

    def __init__(
        self,
        image_tag: str,
        fetch: Callable[[str], bytes] = fetch_model,
        max_rows: int = DEFAULT_MAX_ROWS,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ):
        self.image_tag, self.fetch, self.max_rows, self.clock = image_tag, fetch, max_rows, clock
        self.active: ActiveModel | None = None
        self.model_error: str | None = None
        self.desired: dict[str, Any] = {}
        self.desired_version: int | None = None
        self.received = self.scored = self.rows = 0
        self.rejected = dict.fromkeys(EDGE_REASONS, 0)
        self._lock = threading.Lock()  # counters (the SDK runs handlers on its own threads)
        self._twin_lock = threading.Lock()  # one twin document applied at a time (get_twin and patches)

    # --- messages ---------------------------------------------------------------------------------------------

    def on_message(self, body: bytes | str | None, request_id: str) -> bytes | None:
        """The prediction message's body for one telemetry message, or None when it was rejected (counted, logged)."""
        with self._lock:
            self.received += 1
        active = self.active  # one model for the whole message, even if a twin patch swaps it meanwhile
        if active is None:
            return self._reject(request_id, NO_MODEL, "no model loaded yet (module twin desired properties)")
        data = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else (body or b"")
        try:
            rows = parse_rows(data, active.model.columns, self.max_rows, active.model.categories, MAX_MESSAGE_BYTES)
        except RequestError as exc:
            return self._reject(request_id, exc.code, exc.reason)
        try:
            scores = active.model.score(rows)
        except Exception as exc:
            return self._reject(request_id, MODEL_ERROR, f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0][:200]}")
        with self._lock:
            self.scored += 1
            self.rows += len(rows)
        return json.dumps({
            "requestId": request_id,
            "model": {"name": active.name, "version": active.version},
            "scoredAt": self.clock().isoformat(),
            "predictions": [int(label) for label in scores.labels],
            "probabilities": [round(float(p), 6) for p in scores.probabilities[:, -1]],
        }).encode()  # fmt: skip

    def send_failed(self, request_id: str, exc: BaseException) -> None:
        self._reject(request_id, SEND_FAILED, f"{type(exc).__name__}: {str(exc)[:200]}")

    def _reject(self, request_id: str, reason: str, detail: str) -> None:
        with self._lock:
            self.rejected[reason] = self.rejected.get(reason, 0) + 1
        log.warning(json.dumps({"event": "rejected", "request_id": request_id, "reason": reason, "detail": detail}))
        return None

    # --- module twin -----------------------------------------------------------------------------------------

    def on_desired(self, properties: dict[str, Any], complete: bool = False) -> None:
        """Apply the twin's desired properties: the whole document (`complete`, from get_twin) or a patch (only the
        changed keys; null removes one). An older `$version` than the one applied is ignored."""
        with self._twin_lock:
            self._apply_desired(properties, complete)

    def _apply_desired(self, properties: dict[str, Any], complete: bool) -> None:
        version = properties.get("$version")
        if isinstance(version, int) and self.desired_version is not None and version < self.desired_version:
            return
        values = {key: value for key, value in properties.items() if not key.startswith("$")}
        merged = dict(values) if complete else {**self.desired, **values}
        self.desired = {key: value for key, value in merged.items() if value is not None}
        self.desired_version = version if isinstance(version, int) else self.desired_version
        if not any(key in values for key in MODEL_PROPERTIES) and not complete:
            return
        if self.active is not None and self.active.same_as(self.desired):
            self.model_error = None
            return
        self._load_desired()

    def retry(self) -> bool:
        """Try the desired model again after a failed load: the file at a `file://` modelUri appears only once the
        model module has delivered it into the shared volume (and a blob may be briefly unreachable). True when the
        model was loaded now; the module's caller calls this every few seconds and reports a change."""
        with self._twin_lock:
            if self.model_error is None or (self.active is not None and self.active.same_as(self.desired)):
                return False
            return self._load_desired()

    def _load_desired(self) -> bool:
        try:
            self.active = self._load(self.desired)
            self.model_error = None
            log.info(json.dumps({"event": "model_loaded", "model": self.active.name, "version": self.active.version}))
            return True
        except (ModelFetchError, ModelFileError, ValueError) as exc:
            self.model_error = str(exc)
            log.error(json.dumps({"event": "model_not_loaded", "reason": self.model_error}))
            return False

    def _load(self, desired: dict[str, Any]) -> ActiveModel:
        missing = [key for key in MODEL_PROPERTIES if not isinstance(desired.get(key), str) or not desired[key]]
        if missing:
            raise ValueError(f"desired properties missing or not strings: {', '.join(missing)}")
        expected = desired[MODEL_SHA256].lower()
        if not _SHA256.fullmatch(expected):
            raise ValueError(f"{MODEL_SHA256} must be 64 hex digits")
        content = self.fetch(desired[MODEL_URI])
        actual = hashlib.sha256(content).hexdigest()
        if actual != expected:
            raise ValueError(f"the model at {MODEL_URI} has SHA-256 {actual}, not the desired {expected}; the running model stays")
        return ActiveModel(desired[MODEL_NAME], desired[MODEL_VERSION], actual, desired[MODEL_URI], OnnxModel(content))

    def reported(self) -> dict[str, Any]:
        """The module twin's reported properties."""
        active = self.active
        with self._lock:
            counters = {"received": self.received, "scored": self.scored, "rows": self.rows, "rejected": dict(self.rejected)}
        return {
            "model": {"name": active.name, "version": active.version, "sha256": active.sha256} if active else None,
            "modelError": self.model_error,
            "imageTag": self.image_tag,
            "desiredImageTag": self.desired.get(IMAGE_TAG),
            "desiredVersion": self.desired_version,
            "counters": counters,
        }
