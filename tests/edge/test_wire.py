"""The module's wire to the edge hub, with a fake `IoTHubModuleClient`: the device side has no HTTP transport to
answer, so the fake stands at the SDK's client surface (the same attribute and method names as
azure.iot.device.IoTHubModuleClient, checked below against the real class) and the messages are the SDK's real
`Message` objects."""

from __future__ import annotations

import json

from azure.iot.device import IoTHubModuleClient, Message

from pipelines.edge.main import attach
from pipelines.edge.module import INPUT_NAME, OUTPUT_NAME, SEND_FAILED, EdgeModule
from pipelines.sample_data import FEATURES
from tests.edge.conftest import published


class FakeModuleClient:
    def __init__(self, desired: dict, fail_sends: bool = False):
        self.twin = {"desired": desired, "reported": {}}
        self.fail_sends = fail_sends
        self.sent: list[tuple[Message, str]] = []
        self.reported: list[dict] = []
        self.on_message_received = None
        self.on_twin_desired_properties_patch_received = None

    def get_twin(self) -> dict:
        return self.twin

    def send_message_to_output(self, message: Message, output_name: str) -> None:
        if self.fail_sends:
            raise ConnectionError("edge hub unreachable")
        self.sent.append((message, output_name))

    def patch_twin_reported_properties(self, patch: dict) -> None:
        self.reported.append(json.loads(json.dumps(patch)))


def incoming(body: bytes, input_name: str = INPUT_NAME, message_id: str | None = "m-1") -> Message:
    message = Message(body, message_id=message_id)
    message.input_name = input_name
    return message


def test_the_fake_has_the_sdk_clients_names():
    for name in ("get_twin", "send_message_to_output", "patch_twin_reported_properties", "on_message_received",
                 "on_twin_desired_properties_patch_received", "create_from_edge_environment", "connect", "shutdown"):  # fmt: skip
        assert hasattr(IoTHubModuleClient, name), name


def test_telemetry_in_predictions_out_and_the_twin_reported(trained, retrained, tmp_path):
    client = FakeModuleClient({**published(trained.onnx, tmp_path / "blobs"), "$version": 1})
    module = EdgeModule(image_tag="1.0.0")
    attach(client, module)
    assert client.reported[-1]["model"]["version"] == "1"

    rows = trained.test[list(FEATURES)].head(3).to_dict("records")
    client.on_message_received(incoming(json.dumps({"input_data": rows}).encode()))
    client.on_message_received(incoming(b"{bad", message_id="m-2"))
    client.on_message_received(incoming(b"{}", input_name="other"))  # not the telemetry input: ignored
    [(sent, output)] = client.sent
    assert output == OUTPUT_NAME and sent.correlation_id == "m-1"
    assert sent.content_type == "application/json" and sent.content_encoding == "utf-8"
    assert sent.custom_properties == {"modelName": "predictive-maintenance", "modelVersion": "1"}
    assert json.loads(sent.data)["predictions"] == trained.model.predict(trained.test[list(FEATURES)].head(3)).tolist()

    client.on_twin_desired_properties_patch_received({**published(retrained.onnx, tmp_path / "blobs", version="2"), "$version": 2})
    assert client.reported[-1]["model"]["version"] == "2"
    assert client.reported[-1]["counters"]["received"] == 2 and client.reported[-1]["counters"]["rejected"]["malformed_json"] == 1


def test_a_failed_send_is_counted_and_never_raised(trained, tmp_path):
    client = FakeModuleClient({**published(trained.onnx, tmp_path / "blobs"), "$version": 1}, fail_sends=True)
    module = EdgeModule(image_tag="1.0.0")
    attach(client, module)
    rows = trained.test[list(FEATURES)].head(1).to_dict("records")
    client.on_message_received(incoming(json.dumps({"input_data": rows}).encode(), message_id=None))
    assert module.reported()["counters"]["rejected"][SEND_FAILED] == 1 and module.reported()["counters"]["scored"] == 1
