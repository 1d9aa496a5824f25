"""The edge module's wire to the IoT Edge hub (`azure-iot-device`), kept thin: everything else is `module.py`.

    python -m pipelines.edge.main      # the image's command; IoT Edge sets the module's connection environment

`IoTHubModuleClient.create_from_edge_environment()` connects through the edge hub with the module identity IoT
Edge provisions; `on_message_received` gets every input message (the `telemetry` input is scored, others are
ignored), `send_message_to_output(message, "predictions")` sends upstream, `get_twin()` gives the desired
properties at start and `on_twin_desired_properties_patch_received` every change; `patch_twin_reported_properties`
reports after each twin change and every `REPORT_SECONDS` while the counters change. A model that could not be loaded
(the model module has not delivered its file into the shared volume yet) is tried again every `RETRY_SECONDS`.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
import uuid
from typing import Any

from pipelines.edge.module import INPUT_NAME, OUTPUT_NAME, EdgeModule

IMAGE_TAG_ENV = "MLOPS_EDGE_IMAGE_TAG"  # baked into the image at build time (Dockerfile ARG IMAGE_TAG)
REPORT_SECONDS = 60.0
RETRY_SECONDS = 10.0

log = logging.getLogger("mlops.edge")


def request_id(message: Any) -> str:
    """The incoming message's id (or correlation id), else a new one."""
    return message.message_id or message.correlation_id or str(uuid.uuid4())


def report(client: Any, module: EdgeModule) -> dict[str, Any]:
    """Patch the reported properties; a failure is logged (the next report tries again). Returns what was sent."""
    reported = module.reported()
    try:
        client.patch_twin_reported_properties(reported)
    except Exception as exc:
        log.warning(json.dumps({"event": "report_failed", "reason": f"{type(exc).__name__}: {exc}"}))
    return reported


def attach(client: Any, module: EdgeModule) -> None:
    """Wire the module to a connected `IoTHubModuleClient` (or anything with its method names), apply the twin's
    desired properties and report."""
    from azure.iot.device import Message

    def on_message(message: Any) -> None:
        if message.input_name != INPUT_NAME:
            return
        rid = request_id(message)
        body = module.on_message(message.data, rid)
        if body is None:
            return
        out = Message(body, content_encoding="utf-8", content_type="application/json")
        out.correlation_id = rid
        active = module.active
        if active is not None:
            out.custom_properties.update({"modelName": active.name, "modelVersion": active.version})
        try:
            client.send_message_to_output(out, OUTPUT_NAME)
        except Exception as exc:
            module.send_failed(rid, exc)

    def on_patch(patch: dict[str, Any]) -> None:
        module.on_desired(patch)
        report(client, module)

    client.on_message_received = on_message
    client.on_twin_desired_properties_patch_received = on_patch
    module.on_desired(client.get_twin().get("desired", {}), complete=True)
    report(client, module)


def run(stop: threading.Event | None = None) -> None:
    from azure.iot.device import IoTHubModuleClient

    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    log.handlers[:], log.propagate = [handler], False
    log.setLevel(logging.INFO)
    stop = stop or threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    client = IoTHubModuleClient.create_from_edge_environment()
    try:
        client.connect()
        module = EdgeModule(image_tag=os.environ.get(IMAGE_TAG_ENV, "unknown"))
        attach(client, module)
        last, waited = module.reported(), 0.0
        while not stop.wait(RETRY_SECONDS):
            waited += RETRY_SECONDS
            if module.retry() or (waited >= REPORT_SECONDS and module.reported() != last):
                last, waited = report(client, module), 0.0
    finally:
        client.shutdown()


if __name__ == "__main__":
    run()
