"""Inference data collection: every scored request, as one JSON event, to the Event Hubs `predictions` hub; Event
Hubs Capture writes the events to the lake as Avro, and `compact` turns them into dated Parquet that the monitor
job reads (`read_window`).

The scoring script (`pipelines/score.py`) hands each good prediction to a `Collector`, which never blocks the
request and never raises: a bounded queue (full: the record is dropped and counted) and a daemon thread that
encodes, batches (by size and time) and sends. A failed send is counted and logged as one rate-limited JSON line
on the `mlops.scoring` logger; the response the client got is already written. The collector is configured from
the environment (`collector_from_env`, names below, set on the online deployments by the stack):

- `MLOPS_EVENTHUB_NAMESPACE` (the namespace's FQDN) + `MLOPS_PREDICTIONS_HUB`: the Event Hubs sender;
- `MLOPS_COLLECT_DIR`: the local sink, which writes exactly what Capture writes (for `mlops serve --collect`, the
  offline loop and the tests);
- neither: collection is off (logged once).
Metadata: `MLOPS_ENDPOINT`, `MLOPS_DEPLOYMENT`, `MLOPS_MODEL` (`name:version`).

One event per request (rows split over several events, `part`/`parts` and `first_row`, the index of the part's first
row in the request, when one would pass the size limit):
    {"request_id", "time" (ISO 8601 UTC), "endpoint", "deployment", "model_name", "model_version",
     "rows": [{feature: value}], "predictions": [...], "scores": [p(positive class)] | null}
The rows are the frame the model scored (the signature's column types), so a JSON `71` of a double column is
collected as 71.0 and every Parquet file of an endpoint has the same types.

Why the REST send over azure-core and not AMQP (azure-eventhub): AMQP cannot be tested at the HTTP wire
(DESIGN.md, "Fakes only at the wire") and keeps a long-lived connection per forked gunicorn worker; the REST send
is plain HTTPS with the same managed identity (Entra ID token, "Azure Event Hubs Data Sender" role) and goes
through the namespace's private endpoint on 443.

Verified facts (the sources):
- Send batch: `POST https://{namespace}.servicebus.windows.net/{eventHubPath}/messages`, `Content-Type:
  application/vnd.microsoft.servicebus.json`, a JSON array of `{"Body": "...", "UserProperties": {...}}` (user
  properties go in the body for a batch, headers are ignored), `201` on success, `401` on an authorization failure.
  https://learn.microsoft.com/rest/api/eventhub/send-batch-events
- Common parameters: `api-version=2014-01` (the examples add `timeout=60`); `Authorization: Bearer <Microsoft Entra
  ID token>` or a SAS token. https://learn.microsoft.com/rest/api/eventhub/event-hubs-runtime-rest
- The Entra ID resource for Event Hubs is `https://eventhubs.azure.net/`, the same in every cloud and tenant (so the
  scope `https://eventhubs.azure.net/.default`).
  https://learn.microsoft.com/azure/event-hubs/authorize-access-azure-active-directory
- Size: the maximum size of one Event Hubs publication (an event or a batch) is 256 KB on Basic and 1 MB on
  Standard, Premium and Dedicated; Capture needs Standard or higher (core/config.py refuses Basic with capture).
  https://learn.microsoft.com/azure/event-hubs/event-hubs-quotas
- Capture writes Avro with the record schema `Microsoft.ServiceBus.Messaging.EventData` (SequenceNumber long,
  Offset string, EnqueuedTimeUtc string, SystemProperties and Properties maps of long|double|string|bytes, Body
  null|bytes), at the archive name format plus `.avro` (e.g. `.../1/2017/08/31/19/11/45.avro`, two-digit fields).
  https://learn.microsoft.com/azure/event-hubs/event-hubs-capture-overview,
  https://learn.microsoft.com/azure/event-grid/event-schema-event-hubs (the `fileUrl` of CaptureFileCreated)
"""

from __future__ import annotations

import atexit
import contextlib
import datetime as dt
import json
import logging
import os
import queue
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.contracts import (
    COLLECT_DIR_ENV,
    DEPLOYMENT_ENV,
    ENDPOINT_ENV,
    HUB_ENV,
    LOCAL_ENDPOINT,
    MODEL_ENV,
    NAMESPACE_ENV,
    PREDICTIONS_HUB,
)

EVENTHUBS_SCOPE = "https://eventhubs.azure.net/.default"
BATCH_CONTENT_TYPE = "application/vnd.microsoft.servicebus.json"
API_VERSION = "2014-01"
SEND_TIMEOUT_SECONDS = 60
MAX_PUBLICATION_BYTES = 1024 * 1024  # Standard and above; Basic (256 KB) cannot capture
# A batch is measured as the JSON we POST (escaped bodies, so never less than what Event Hubs counts), kept a
# margin under the limit for what the service adds per event.
BATCH_BUDGET_BYTES = MAX_PUBLICATION_BYTES - 64 * 1024

QUEUE_SIZE = 1000  # requests waiting to be sent; beyond that they are dropped
BATCH_MAX_EVENTS = 500
BATCH_MAX_WAIT_SECONDS = 1.0
LOG_EVERY_SECONDS = 60.0  # at most one failure line (with the counts) per minute
CLOSE_TIMEOUT_SECONDS = 5.0

# Event Hubs Capture's archive layout (components/eventhubs.py sets the same format on the hub; a test compares).
CAPTURE_NAME_FORMAT = "{Namespace}/{EventHub}/{PartitionId}/{Year}/{Month}/{Day}/{Hour}/{Minute}/{Second}"
CAPTURE_SUFFIX = ".avro"
CAPTURE_SCHEMA = {
    "type": "record",
    "name": "EventData",
    "namespace": "Microsoft.ServiceBus.Messaging",
    "fields": [
        {"name": "SequenceNumber", "type": "long"},
        {"name": "Offset", "type": "string"},
        {"name": "EnqueuedTimeUtc", "type": "string"},
        {"name": "SystemProperties", "type": {"type": "map", "values": ["long", "double", "string", "bytes"]}},
        {"name": "Properties", "type": {"type": "map", "values": ["long", "double", "string", "bytes"]}},
        {"name": "Body", "type": ["null", "bytes"]},
    ],
}
_TOKEN_PATTERNS = {"Namespace": r"[^/]+", "EventHub": r"[^/]+", "PartitionId": r"[^/]+", "Year": r"\d{4}"}
_CAPTURE_PATH = re.compile(
    re.sub(r"\{(\w+)\}", lambda m: f"(?P<{m[1]}>{_TOKEN_PATTERNS.get(m[1], r'[0-9]{2}')})", CAPTURE_NAME_FORMAT)
    + re.escape(CAPTURE_SUFFIX)
)

PREDICTION_COLUMNS = ("prediction", "score")
# `row`: the row's index in its request, so late labels join on (request_id, row) even for a request of many rows.
METADATA_COLUMNS = ("request_id", "row", "time", "endpoint", "deployment", "model_name", "model_version")
EVENT_METADATA = tuple(name for name in METADATA_COLUMNS if name != "row")
EVENT_KEYS = ("request_id", "time", "endpoint", "deployment", "model_name", "model_version", "rows", "predictions")
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,254}")  # an endpoint becomes a folder name

log = logging.getLogger("mlops.scoring")


# --- what is collected ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Metadata:
    endpoint: str = LOCAL_ENDPOINT
    deployment: str = ""
    model_name: str = ""
    model_version: str = ""

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Metadata:
        env = os.environ if env is None else env
        name, sep, version = env.get(MODEL_ENV, "").rpartition(":")
        if not sep:
            name, version = version, ""
        return cls(env.get(ENDPOINT_ENV) or LOCAL_ENDPOINT, env.get(DEPLOYMENT_ENV, ""), name, version)


@dataclass(frozen=True)
class Prediction:
    """One scored request as the scoring script hands it over: `inputs` is the frame the model scored (a pandas
    DataFrame with the signature's columns and types), `predictions` the answer's values."""

    request_id: str
    time: dt.datetime
    inputs: Any
    predictions: list


Scorer = Callable[[Any], list | None]  # the frame -> the positive class's probability per row, or None


def positive_class_scorer(model: Any) -> Scorer | None:
    """The probability of the positive class, when the MLflow pyfunc's raw model is a binary classifier with
    `predict_proba` (e.g. a scikit-learn pipeline); None otherwise."""
    try:
        raw = model.get_raw_model()
    except (AttributeError, NotImplementedError):
        return None
    classes = list(getattr(raw, "classes_", []))
    if not hasattr(raw, "predict_proba") or len(classes) != 2:
        return None
    column = classes.index(1) if 1 in classes else 1
    return lambda frame: [float(p) for p in raw.predict_proba(frame)[:, column]]


class EventTooLarge(ValueError):
    """One row of a request does not fit in an Event Hubs event."""


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=str)  # dates: ISO text


def _entry_size(text: str) -> int:
    """What an event adds to the POSTed batch: `{"Body":"<escaped text>"}` plus a comma (properties are small)."""
    return len(json.dumps(text).encode()) + 64


def event_bodies(
    prediction: Prediction, metadata: Metadata, scorer: Scorer | None = None, budget: int = BATCH_BUDGET_BYTES
) -> list[str]:
    """The request's event bodies: one, or its rows split over several (same request_id, `part` of `parts`) so that
    each fits the budget. EventTooLarge when a single row cannot. A scorer that fails leaves `scores` null."""
    rows = prediction.inputs.to_dict(orient="records") if hasattr(prediction.inputs, "to_dict") else list(prediction.inputs)
    try:
        scores = scorer(prediction.inputs) if scorer is not None else None
    except Exception:
        scores = None
    base = {
        "request_id": prediction.request_id,
        "time": prediction.time.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
        "endpoint": metadata.endpoint,
        "deployment": metadata.deployment,
        "model_name": metadata.model_name,
        "model_version": metadata.model_version,
    }
    whole = _dumps({**base, "rows": rows, "predictions": prediction.predictions, "scores": scores})
    if _entry_size(whole) <= budget:
        return [whole]
    overhead = _entry_size(_dumps({**base, "part": 99999, "parts": 99999, "first_row": 99999, "rows": [], "predictions": [], "scores": []}))
    chunks: list[tuple[int, int]] = []
    start, size = 0, overhead
    for index, row in enumerate(rows):
        score = scores[index] if scores is not None else None
        cost = _entry_size(_dumps([row, prediction.predictions[index], score])) - 64
        if overhead + cost > budget:
            raise EventTooLarge(f"row {index} of request {prediction.request_id} is {cost} bytes; an event holds {budget}")
        if size + cost > budget:
            chunks.append((start, index))
            start, size = index, overhead
        size += cost
    chunks.append((start, len(rows)))
    return [
        _dumps({
            **base, "part": part, "parts": len(chunks), "first_row": a, "rows": rows[a:b], "predictions": prediction.predictions[a:b],
            "scores": scores[a:b] if scores is not None else None,
        })
        for part, (a, b) in enumerate(chunks)
    ]  # fmt: skip


# --- sinks: where batches of event bodies go ------------------------------------------------------------------


class SendError(RuntimeError):
    """Event Hubs did not accept a batch."""


class EventHubsSender:
    """The Event Hubs REST "send batch" over azure-core: bearer token (DefaultAzureCredential unless given) for
    the Event Hubs audience, azure-core's RetryPolicy (429, 5xx, timeouts; Retry-After honoured), `transport`
    injectable (the tests pass tests/azure/wire.py's WireTransport)."""

    def __init__(self, namespace: str, hub: str = PREDICTIONS_HUB, credential: Any = None, transport: Any = None,
                 retry_total: int = 3, timeout: float = SEND_TIMEOUT_SECONDS) -> None:  # fmt: skip
        from azure.core import PipelineClient
        from azure.core.pipeline.policies import (
            BearerTokenCredentialPolicy,
            ContentDecodePolicy,
            HeadersPolicy,
            NetworkTraceLoggingPolicy,
            RetryPolicy,
            UserAgentPolicy,
        )

        if credential is None:
            from azure.identity import DefaultAzureCredential

            credential = DefaultAzureCredential()
        self.namespace, self.hub, self.timeout = namespace.removeprefix("https://").rstrip("/"), hub, timeout
        policies = [
            HeadersPolicy(),
            UserAgentPolicy(sdk_moniker="mlops-collect"),
            RetryPolicy(retry_total=retry_total, timeout=timeout * (retry_total + 1)),
            BearerTokenCredentialPolicy(credential, EVENTHUBS_SCOPE),
            ContentDecodePolicy(),
            NetworkTraceLoggingPolicy(),
        ]
        self._client = PipelineClient(f"https://{self.namespace}", policies=policies, transport=transport)

    def send(self, bodies: list[str], properties: list[dict[str, str]]) -> None:
        from azure.core.rest import HttpRequest

        batch = [{"Body": body, "UserProperties": props} for body, props in zip(bodies, properties)]
        request = HttpRequest(
            "POST",
            f"https://{self.namespace}/{self.hub}/messages",
            params={"timeout": str(int(self.timeout)), "api-version": API_VERSION},
            headers={"Content-Type": BATCH_CONTENT_TYPE},
            content=json.dumps(batch, ensure_ascii=False).encode(),
        )
        response = self._client.send_request(request, connection_timeout=10, read_timeout=self.timeout)
        if response.status_code != 201:
            detail = (response.text() or "").strip().replace("\n", " ")[:200]
            raise SendError(f"Event Hubs answered {response.status_code} {response.reason or ''}: {detail}".rstrip(": "))


class CaptureDirSink:
    """What Event Hubs Capture writes, on a local folder: Avro files of Capture's schema at
    `<root>/<CAPTURE_NAME_FORMAT>.avro`, namespace `local`, the writing process's id as the partition (several
    server workers never write one file), one file per second of writing (a second batch in the same second is
    added to it). Each file appears whole (written aside, then renamed). `clock` is the enqueue time (tests replay
    a past hour with it)."""

    def __init__(self, root: Path, hub: str = PREDICTIONS_HUB, namespace: str = "local",
                 clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)) -> None:  # fmt: skip
        self.root, self.hub, self.namespace, self.clock = Path(root), hub, namespace, clock
        self._sequence, self._offset = 0, 0

    def send(self, bodies: list[str], properties: list[dict[str, str]]) -> None:
        import fastavro

        now = self.clock()
        path = self.root / capture_path(self.namespace, self.hub, str(os.getpid()), now)
        records = list(read_capture_file(path)) if path.exists() else []
        enqueued = now.strftime("%Y-%m-%dT%H:%M:%S.%f0Z")  # .NET's round-trip format, as Event Hubs reports times
        for body, props in zip(bodies, properties):
            data = body.encode()
            records.append({
                "SequenceNumber": self._sequence, "Offset": str(self._offset), "EnqueuedTimeUtc": enqueued,
                "SystemProperties": {}, "Properties": dict(props), "Body": data,
            })  # fmt: skip
            self._sequence, self._offset = self._sequence + 1, self._offset + len(data)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
        with partial.open("wb") as handle:
            fastavro.writer(handle, fastavro.parse_schema(CAPTURE_SCHEMA), records, codec="deflate")
        os.replace(partial, path)


def capture_path(namespace: str, hub: str, partition: str, when: dt.datetime) -> str:
    """The blob path Capture gives a file of a window starting at `when` (relative to the container)."""
    return CAPTURE_NAME_FORMAT.format(
        Namespace=namespace, EventHub=hub, PartitionId=partition, Year=f"{when.year:04d}", Month=f"{when.month:02d}",
        Day=f"{when.day:02d}", Hour=f"{when.hour:02d}", Minute=f"{when.minute:02d}", Second=f"{when.second:02d}",
    ) + CAPTURE_SUFFIX  # fmt: skip


@dataclass(frozen=True)
class CaptureFile:
    path: Path
    namespace: str
    hub: str
    partition: str
    window: dt.datetime  # the start of the Capture window the file holds (UTC)

    @property
    def stem(self) -> str:
        """A name unique per Capture file: the output Parquet files of a file are named after it."""
        return f"{self.namespace}-{self.hub}-{self.partition}-{self.window:%Y%m%dT%H%M%S}"


def parse_capture_path(relative: str) -> CaptureFile | None:
    """A Capture file's fields from its path relative to the capture root (`/`-separated); None for other files."""
    found = _CAPTURE_PATH.fullmatch(relative)
    if not found:
        return None
    try:
        window = dt.datetime(*(int(found[k]) for k in ("Year", "Month", "Day", "Hour", "Minute", "Second")), tzinfo=dt.UTC)
    except ValueError:
        return None
    return CaptureFile(Path(relative), found["Namespace"], found["EventHub"], found["PartitionId"], window)


def capture_files(root: Path, hub: str, since: dt.datetime, until: dt.datetime) -> list[CaptureFile]:
    """The Capture files of `hub` under `root` whose window starts in [since, until), oldest first. Plain paths, so
    a mounted Azure ML datastore folder works like a local one."""
    root = Path(root)
    since, until = _utc(since), _utc(until)
    found = []
    tokens = re.findall(r"\{(\w+)\}", CAPTURE_NAME_FORMAT)
    pattern = CAPTURE_NAME_FORMAT.format(**dict.fromkeys(tokens, "*") | {"EventHub": hub}) + CAPTURE_SUFFIX
    for path in sorted(root.glob(pattern)):
        parsed = parse_capture_path(path.relative_to(root).as_posix())
        if parsed is not None and parsed.hub == hub and since <= parsed.window < until:
            found.append(CaptureFile(path, parsed.namespace, parsed.hub, parsed.partition, parsed.window))
    return sorted(found, key=lambda f: (f.window, f.stem))


def read_capture_file(path: Path) -> Iterator[dict[str, Any]]:
    import fastavro

    with Path(path).open("rb") as handle:
        yield from fastavro.reader(handle)


# --- the collector --------------------------------------------------------------------------------------------


_FLUSH = object()  # queued by flush(): send the batch now


class _Pending:
    """One accepted request: finished when all its events were sent (collected) or one failed (failed)."""

    __slots__ = ("failed", "parts")

    def __init__(self, parts: int) -> None:
        self.parts, self.failed = parts, False


@dataclass
class Counts:
    collected: int = 0  # requests whose events all reached the sink
    dropped: int = 0  # requests refused: the queue was full, or the collector closed
    failed: int = 0  # requests not collected: a send failed, or the event could not be built


@dataclass
class Collector:
    """Hands scored requests to `sink` (`send(bodies, properties)`, raising on failure) from a daemon thread.

    `collect()` never blocks and never raises. Batches hold at most `max_events` events and BATCH_BUDGET_BYTES,
    and wait at most `max_wait` seconds for more."""

    sink: Any
    metadata: Metadata = field(default_factory=Metadata)
    scorer: Scorer | None = None
    queue_size: int = QUEUE_SIZE
    max_events: int = BATCH_MAX_EVENTS
    max_wait: float = BATCH_MAX_WAIT_SECONDS
    budget: int = BATCH_BUDGET_BYTES
    log_every: float = LOG_EVERY_SECONDS

    def __post_init__(self) -> None:
        self.counts = Counts()
        self._queue: queue.Queue[Any] = queue.Queue(self.queue_size)
        self._lock = threading.Condition()
        self._unfinished = 0  # accepted requests not yet collected or failed
        self._closed = False
        self._last_log = -float("inf")
        self._thread = threading.Thread(target=self._run, name="mlops-collect", daemon=True)
        self._thread.start()

    # the request side
    def collect(self, prediction: Prediction) -> bool:
        """Queue the request for sending; False (counted as dropped) when the queue is full or closed."""
        try:
            with self._lock:
                if self._closed:
                    raise queue.Full
                self._queue.put_nowait(prediction)
                self._unfinished += 1
            return True
        except queue.Full:
            with self._lock:
                self.counts.dropped += 1
            self._report("collect_dropped", "the collection queue is full" if not self._closed else "the collector is closed")
            return False
        except Exception as exc:
            self._report("collect_failed", f"{type(exc).__name__}: {exc}")
            return False

    def flush(self, timeout: float = CLOSE_TIMEOUT_SECONDS) -> bool:
        """Send what is batched now and wait until every accepted request is collected or failed; False when
        `timeout` passed first."""
        with contextlib.suppress(queue.Full):  # a full queue fills the batch anyway
            self._queue.put_nowait(_FLUSH)
        with self._lock:
            return self._lock.wait_for(lambda: self._unfinished == 0, timeout)

    def close(self, timeout: float = CLOSE_TIMEOUT_SECONDS) -> bool:
        """Flush, then stop the thread; later `collect()` calls are dropped. True when everything was sent."""
        flushed = self.flush(timeout)
        with self._lock:
            self._closed = True
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait(None)
        self._thread.join(timeout=max(timeout, 0.1))
        return flushed

    # the sender thread
    def _run(self) -> None:
        batch: list[tuple[str, dict[str, str], _Pending]] = []
        size, deadline = 2, 0.0
        while True:
            try:
                item = self._queue.get(timeout=max(deadline - time.monotonic(), 0) if batch else None)
            except queue.Empty:  # the first event of the batch waited max_wait
                item = _FLUSH
            if item is None or item is _FLUSH:
                if batch:
                    self._send(batch)
                    batch, size = [], 2
                if item is None:
                    return
                continue
            for event in self._events(item):
                cost = _entry_size(event[0])
                if batch and (size + cost > self.budget or len(batch) >= self.max_events):
                    self._send(batch)
                    batch, size = [], 2
                if not batch:
                    deadline = time.monotonic() + self.max_wait
                batch.append(event)
                size += cost

    def _events(self, prediction: Prediction) -> list[tuple[str, dict[str, str], _Pending]]:
        try:
            bodies = event_bodies(prediction, self.metadata, self.scorer, self.budget)
        except Exception as exc:
            self._finish(_Pending(1), ok=False, reason=f"{type(exc).__name__}: {exc}")
            return []
        pending = _Pending(len(bodies))
        return [(body, {"request_id": prediction.request_id, "part": str(part)}, pending) for part, body in enumerate(bodies)]

    def _send(self, batch: list[tuple[str, dict[str, str], _Pending]]) -> None:
        reason = None
        try:
            self.sink.send([body for body, _, _ in batch], [props for _, props, _ in batch])
        except Exception as exc:
            reason = f"{type(exc).__name__}: {str(exc)[:300]}"
        for _, _, pending in batch:
            self._finish(pending, ok=reason is None, reason=reason)

    def _finish(self, pending: _Pending, ok: bool, reason: str | None = None) -> None:
        with self._lock:
            pending.failed |= not ok
            pending.parts -= 1
            done = pending.parts == 0
            if done and pending.failed:
                self.counts.failed += 1
            elif done:
                self.counts.collected += 1
        if not ok:
            self._report("collect_failed", reason or "")
        if done:  # after the report: a flush() that returns has seen the failure logged
            with self._lock:
                self._unfinished -= 1
                self._lock.notify_all()

    def _report(self, event: str, reason: str) -> None:
        """One JSON line with the counts, at most every `log_every` seconds."""
        now = time.monotonic()
        with self._lock:
            if now - self._last_log < self.log_every:
                return
            self._last_log = now
            counts = vars(self.counts).copy()
        log.warning(json.dumps({"event": event, "reason": reason, "endpoint": self.metadata.endpoint, **counts}))


def collector_from_env(scorer: Scorer | None = None, env: dict[str, str] | None = None, transport: Any = None) -> Collector | None:
    """The collector the environment asks for (Event Hubs, else the local Capture folder), or None (logged)."""
    env = os.environ if env is None else env
    metadata = Metadata.from_env(env)
    hub = env.get(HUB_ENV) or PREDICTIONS_HUB
    if env.get(NAMESPACE_ENV):
        sink: Any = EventHubsSender(env[NAMESPACE_ENV], hub, transport=transport)
        where = f"https://{sink.namespace}/{hub}"
    elif env.get(COLLECT_DIR_ENV):
        sink = CaptureDirSink(Path(env[COLLECT_DIR_ENV]), hub)
        where = str(sink.root)
    else:
        log.info(json.dumps({"event": "collection_off", "reason": f"neither {NAMESPACE_ENV} nor {COLLECT_DIR_ENV} is set"}))
        return None
    collector = Collector(sink, metadata, scorer)
    atexit.register(collector.close)
    log.info(json.dumps({"event": "collection_on", "to": where, **vars(metadata)}))
    return collector


# --- the event body, read back --------------------------------------------------------------------------------


class BadEvent(ValueError):
    """An event body compaction skips (counted by reason)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def parse_event(body: bytes | str | None) -> dict[str, Any]:
    """A collected event body, checked: the keys, their types, one prediction (and score) per row, a UTC time, an
    endpoint usable as a folder name, no feature named like a prediction or metadata column. BadEvent otherwise."""
    if body is None:
        raise BadEvent("no body")
    try:
        event = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise BadEvent("not JSON") from None
    if not isinstance(event, dict):
        raise BadEvent("not a JSON object")
    missing = [key for key in EVENT_KEYS if key not in event]
    if missing:
        raise BadEvent("missing " + ", ".join(missing))
    for key in EVENT_METADATA:
        if not isinstance(event[key], str):
            raise BadEvent(f"{key} is not a string")
    first_row = event.get("first_row", 0)
    if not isinstance(first_row, int) or isinstance(first_row, bool) or first_row < 0:
        raise BadEvent("first_row is not a row index")
    if not _SAFE_NAME.fullmatch(event["endpoint"]):
        raise BadEvent("endpoint is not a valid name")
    try:
        when = dt.datetime.fromisoformat(event["time"])
    except ValueError:
        raise BadEvent("time is not ISO 8601") from None
    if when.utcoffset() is None:
        raise BadEvent("time has no time zone")
    rows, predictions, scores = event["rows"], event["predictions"], event.get("scores")
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        raise BadEvent("rows is not a list of objects")
    if not isinstance(predictions, list) or len(predictions) != len(rows):
        raise BadEvent("predictions do not match the rows")
    if scores is not None and (not isinstance(scores, list) or len(scores) != len(rows)):
        raise BadEvent("scores do not match the rows")
    if scores is not None and not all(isinstance(s, (int, float)) and not isinstance(s, bool) for s in scores):
        raise BadEvent("scores are not numbers")
    reserved = set(PREDICTION_COLUMNS) | set(METADATA_COLUMNS)
    if any(not isinstance(key, str) or key in reserved for row in rows for key in row):
        raise BadEvent("a feature is named like a prediction or metadata column")
    if any(isinstance(value, (dict, list)) for row in rows for value in row.values()):
        raise BadEvent("a feature value is not a scalar")
    return {**event, "time": when.astimezone(dt.UTC), "scores": scores, "first_row": first_row}


def event_rows(event: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The parsed event as table rows: the features, prediction, score, then the metadata columns."""
    scores = event["scores"] or [None] * len(event["rows"])
    metadata = {key: event[key] for key in EVENT_METADATA}
    for index, (row, prediction, score) in enumerate(zip(event["rows"], event["predictions"], scores)):
        yield {**row, "prediction": prediction, "score": None if score is None else float(score), **metadata,
               "row": event["first_row"] + index}


# --- compaction: Capture's Avro -> dated Parquet ---------------------------------------------------------------


@dataclass
class CompactSummary:
    files: int = 0
    events: int = 0
    rows: int = 0
    bad: dict[str, int] = field(default_factory=dict)  # reason -> events skipped
    written: list[Path] = field(default_factory=list)

    @property
    def skipped(self) -> int:
        return sum(self.bad.values())


def _utc(when: dt.datetime) -> dt.datetime:
    return when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when.astimezone(dt.UTC)


def day_folder(predictions_root: Path, endpoint: str, day: dt.date) -> Path:
    return Path(predictions_root) / endpoint / f"{day:%Y}" / f"{day:%m}" / f"{day:%d}"


def compact(capture_root: Path, predictions_root: Path, since: dt.datetime, until: dt.datetime,
            hub: str = PREDICTIONS_HUB) -> CompactSummary:  # fmt: skip
    """The Capture files of `hub` whose window starts in [since, until), as Parquet under
    `predictions_root/<endpoint>/<yyyy>/<mm>/<dd>/<capture file>.parquet` (the day of each row's request time).

    One output per source file and day, so a re-run overwrites instead of duplicating; each is written aside and
    renamed. Events that are not what the collector sends are skipped and counted by reason, never fatal."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    summary = CompactSummary()
    for source in capture_files(Path(capture_root), hub, since, until):
        summary.files += 1
        groups: dict[tuple[str, dt.date], list[dict[str, Any]]] = {}
        for record in _records(source.path, summary):
            summary.events += 1
            try:
                event = parse_event(record.get("Body"))
            except BadEvent as bad:
                summary.bad[bad.reason] = summary.bad.get(bad.reason, 0) + 1
                continue
            groups.setdefault((event["endpoint"], event["time"].date()), []).extend(event_rows(event))
        for (endpoint, day), rows in sorted(groups.items()):
            folder = day_folder(Path(predictions_root), endpoint, day)
            folder.mkdir(parents=True, exist_ok=True)
            target = folder / f"{source.stem}.parquet"
            partial = folder / f".{target.name}.{os.getpid()}.partial"
            pq.write_table(_table(rows, pa), partial)
            os.replace(partial, target)
            summary.rows += len(rows)
            summary.written.append(target)
    return summary


def _records(path: Path, summary: CompactSummary) -> Iterable[dict[str, Any]]:
    """A Capture file's records; a file that is not Avro counts as one bad event."""
    try:
        yield from read_capture_file(path)
    except (ValueError, EOFError, OSError, StopIteration) as exc:
        reason = f"unreadable Avro file ({type(exc).__name__})"
        summary.bad[reason] = summary.bad.get(reason, 0) + 1


def _table(rows: list[dict[str, Any]], pa: Any):
    """Rows as a table: features in the order the rows give them (typed from their values), then prediction, score
    and the metadata columns; `time` a UTC timestamp."""
    features = list(dict.fromkeys(key for row in rows for key in row if key not in PREDICTION_COLUMNS + METADATA_COLUMNS))
    columns = [*features, *PREDICTION_COLUMNS, *METADATA_COLUMNS]
    arrays = {name: [row.get(name) for row in rows] for name in columns}
    types = {"score": pa.float64(), "row": pa.int64(), "time": pa.timestamp("us", tz="UTC")} | {
        name: pa.string() for name in EVENT_METADATA if name != "time"
    }
    return pa.table({name: pa.array(values, type=types.get(name)) for name, values in arrays.items()})


class NoPredictions(ValueError):
    """No collected predictions for the endpoint in the window."""


def read_window(predictions_root: Path, endpoint: str, since: dt.datetime, until: dt.datetime):
    """The collected rows of `endpoint` whose request time is in [since, until), from the dated folders of the
    window, as one pyarrow Table (column types promoted across files). NoPredictions when there are none."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    since, until = _utc(since), _utc(until)
    files = []
    day = since.date()
    while dt.datetime.combine(day, dt.time(), dt.UTC) < until:
        folder = day_folder(Path(predictions_root), endpoint, day)
        files.extend(sorted(folder.glob("*.parquet")) if folder.is_dir() else [])
        day += dt.timedelta(days=1)
    tables = [pq.read_table(path) for path in files]
    if tables:
        table = pa.concat_tables(tables, promote_options="permissive")
        table = table.filter(pc.and_(pc.greater_equal(table["time"], pa.scalar(since)), pc.less(table["time"], pa.scalar(until))))
        if table.num_rows:
            return table
    raise NoPredictions(
        f"no collected predictions of endpoint '{endpoint}' from {since:%Y-%m-%d %H:%M} to {until:%Y-%m-%d %H:%M} UTC "
        f"under {predictions_root} ({len(files)} files in the window's folders)"
    )
