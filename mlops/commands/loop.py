"""`python -m mlops loop`: the monitoring loop, offline and end to end, on generated data, with the platform's own code
at every link (README, "The monitoring loop"):

train (the pipeline, locally) -> serve (the scoring script) -> traffic that drifts -> collect (Capture's Avro layout)
-> monitor (compact to Parquet, drift against the model's own profile, quality on late labels) -> alert (the stack's
drift and quality rules on the published values) -> retrain trigger (its handler, with the payload an action group
sends; claims in a file) -> the training pipeline again (gated against the live model) -> the promote command.

Everything lands under one folder (`--home`, default `.mlops/loop/<time>`): its own MLflow store, the lake's zones and
the trigger's claims, so nothing else is touched. What differs from Azure: the pipeline runs in this process, the
metrics are read from the monitor's result instead of Application Insights, and the alert payload is built here from
the rule (the same schema and rule names the action group sends).
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from core.errors import Refused
from core.paths import mlops_home
from mlops.options import StackOption, one_stack

HELP = (
    "Play the monitoring loop offline on generated data: train, serve, drifting traffic, collect, monitor, alert, "
    "retrain trigger, pipeline, promote command. One line per step. Exit 0 when the loop closed (or, with --no-drift, "
    "rightly stayed open), 1 when a link did not do its part."
)
EXAMPLES = "Examples: python -m mlops loop --stack dev | python -m mlops loop -s dev --no-drift | python -m mlops loop -s dev --concept-drift"

DEPLOYMENT = "blue"
HISTORY_ROWS = 4000
ROWS_PER_REQUEST = 40


@dataclass
class LoopResult:
    """What each link did, for the command's lines and for tests."""

    model: str = ""
    collected: int = 0
    drift_share: float | None = None
    auc: float | None = None
    fired: list[str] = field(default_factory=list)  # the rules whose condition the published values met
    answers: list[tuple[int, str]] = field(default_factory=list)  # the trigger's (status, action or reason) per alert
    retrained: str | None = None  # NAME:VERSION the retraining pipeline registered
    promote: str | None = None  # the command that opens the canary


def _set_environment(values: dict[str, str | None]) -> None:
    """Set each variable, or remove it where the value is None."""
    for name, value in values.items():
        os.environ.pop(name, None) if value is None else os.environ.__setitem__(name, value)


@contextmanager
def _environment(values: dict[str, str | None]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    try:
        _set_environment(values)
        yield
    finally:
        _set_environment(saved)


def alert_payload(rule: str, value: float, threshold: float, operator: str, subscription: str, fired: datetime) -> bytes:
    """A fired log alert as an action group delivers it with the common alert schema (the fields the trigger reads,
    and the log-alert condition it carries)."""
    import json

    essentials = {
        "alertId": f"/subscriptions/{subscription}/providers/Microsoft.AlertsManagement/alerts/{uuid.uuid4()}",
        "alertRule": rule, "severity": "Sev3", "signalType": "Log", "monitorCondition": "Fired",
        "monitoringService": "Log Alerts V2", "firedDateTime": fired.isoformat(), "description": "offline loop",
    }  # fmt: skip
    condition = {"windowSize": "PT1H", "allOf": [{"metricMeasureColumn": "value", "operator": operator,
                                                 "threshold": str(threshold), "metricValue": value}]}  # fmt: skip
    body = {"schemaId": "azureMonitorCommonAlertSchema", "data": {"essentials": essentials, "alertContext": {"condition": condition}}}
    return json.dumps(body).encode()


def _score(score, rows: list[dict], request_id: str) -> int:
    """One request through the scoring script as the inference server hands it over."""
    import json

    from flask import Flask, g
    from werkzeug.test import EnvironBuilder
    from werkzeug.wrappers import Request

    environ = EnvironBuilder(method="POST", data=json.dumps({"input_data": rows}), content_type="application/json").get_environ()
    with Flask("loop").app_context():
        g.request_id = request_id
        return score.run(Request(environ)).status_code


def play(stack: str, home: Path, drifted: bool = True, concept_drift: bool = False, requests: int = 50,
         echo: Callable[[str], None] = print, history_rows: int = HISTORY_ROWS) -> LoopResult:  # fmt: skip
    """Run every link once; returns what each did. Raises BadInput/Refused as the commands it drives do."""
    from rich.console import Console

    home = home.resolve()
    with _environment({"MLOPS_HOME": str(home), "MLFLOW_TRACKING_URI": None, "APPLICATIONINSIGHTS_CONNECTION_STRING": None}):
        return _play(stack, home, drifted, concept_drift, requests, echo, Console(stderr=True, quiet=True), history_rows)


def _play(stack, home, drifted, concept_drift, requests, echo, console, history_rows) -> LoopResult:
    import mlflow
    import pandas as pd
    from mlflow import MlflowClient

    from components.alerts import alert_rule_name
    from components.serving import endpoint_name
    from core import contracts
    from core.config import load_stack_config
    from core.metrics import DRIFT_METRIC
    from pipelines import monitor, score
    from pipelines.registry import MODEL_NAME, PRODUCTION_ALIAS
    from pipelines.retrain_trigger import trigger
    from pipelines.runner import RecentWindow, run_local
    from pipelines.sample_data import FEATURES, LABEL, generate_telemetry
    from stacks.platform import retraining_rules

    result = LoopResult()
    config = load_stack_config(stack)
    lake = {zone: home / "lake" / zone for zone in ("raw", "labels", "predictions", "monitoring")}
    history = generate_telemetry(history_rows, seed=7)
    history_file = home / "history.parquet"
    home.mkdir(parents=True, exist_ok=True)
    history.to_parquet(history_file, index=False)

    # 1. train: the pipeline on the history; its model goes live (what a completed rollout does to the alias).
    trained = run_local(stack, history_file, console)["register"]
    result.model = f"{trained.name}:{trained.version}"
    MlflowClient().set_registered_model_alias(trained.name, PRODUCTION_ALIAS, trained.version)
    echo(f"train     {result.model} registered (AUC {float(trained.tags['auc']):.3f}) and live")

    # 2. serve: the scoring script with the live model, collecting as a deployment does (into Capture's layout).
    model_dir = Path(mlflow.artifacts.download_artifacts(f"models:/{MODEL_NAME}/{trained.version}", dst_path=str(home / "live-model")))
    endpoint = endpoint_name(config.naming)
    serving = {score.MODEL_URI_ENV: str(model_dir), **contracts.collection_env(endpoint, DEPLOYMENT, result.model, folder=lake["raw"])}
    now = datetime.now(UTC)
    traffic = generate_telemetry(requests * ROWS_PER_REQUEST, seed=23, drifted=drifted)
    if concept_drift:  # the world changed under the model: the same inputs now fail the other way round
        traffic[LABEL] = 1 - traffic[LABEL]
    with _environment(serving):
        score._state.clear()
        score.init()
        logging.getLogger("mlops.scoring").setLevel(logging.WARNING)  # one line per step here, not one per request
        collector = score._state["collector"]
        try:
            labels = []
            for index in range(requests):
                chunk = traffic.iloc[index * ROWS_PER_REQUEST:(index + 1) * ROWS_PER_REQUEST]
                request_id = f"loop-{index:04d}"
                if _score(score, chunk[list(FEATURES)].to_dict(orient="records"), request_id) == 200:
                    labels += [{"request_id": request_id, "row": row, "label": int(label)} for row, label in enumerate(chunk[LABEL])]
            collector.flush(30)
            result.collected = collector.counts.collected
        finally:
            collector.close()
            score._state.clear()
    echo(f"serve     {requests} requests ({len(traffic)} rows{', drifted' if drifted else ''}) scored by {endpoint}/{DEPLOYMENT}; "
         f"{result.collected} collected into {lake['raw'].relative_to(home)}")  # fmt: skip

    # 3. labels arrive later, keyed by request id and row (here: at once).
    day = lake["labels"] / f"{now:%Y}" / f"{now:%m}" / f"{now:%d}"
    day.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(labels).to_parquet(day / "loop.parquet", index=False)
    echo(f"labels    {len(labels)} labels under {day.relative_to(home)}")

    # 4. monitor: the scheduled job's own code and command line, against the lake folders.
    args = monitor.parse_args([
        "--captures", str(lake["raw"]), "--predictions", str(lake["predictions"]), "--labels", str(lake["labels"]),
        "--reports", str(lake["monitoring"]), "--model", f"{DEPLOYMENT}={model_dir}", "--model-ref", f"{DEPLOYMENT}={result.model}",
        "--endpoint", endpoint, "--stack", stack, "--window", config.monitoring.window,
        "--label-window", config.monitoring.label_window, "--now", (datetime.now(UTC) + timedelta(seconds=1)).isoformat(),
    ])  # fmt: skip
    checked = monitor.run(args, env={monitor.DRIFT_CONFIG_ENV: config.drift.model_dump_json(by_alias=True)})
    [check] = checked.checks
    result.drift_share, result.auc = check.drift_share, check.quality.auc
    echo(f"monitor   {monitor.summary(checked)}; reports in {Path(check.reports[0]).parent.relative_to(home)}")

    # 5. alert: the stack's retraining rules on the values the job published.
    published = {metric: value for metric, value, _ in check.metrics()} | {DRIFT_METRIC: check.drift_share}
    rules = retraining_rules(config)

    payloads = []
    for rule in rules:
        value = published.get(rule.metric)
        if value is not None and rule.fires(value):
            result.fired.append(rule.label)
            payloads.append(alert_payload(alert_rule_name(config.naming, rule.label), value, rule.threshold, rule.operator,
                                          "00000000-0000-0000-0000-000000000000", datetime.now(UTC)))  # fmt: skip
    shown = ", ".join(f"{r.label} ({r.metric} {published.get(r.metric, float('nan')):.3f} {r.operator} {r.threshold})" for r in rules)
    echo(f"alert     {'fired: ' + ', '.join(result.fired) if result.fired else 'nothing fired'}; rules: {shown}")

    # 6. retrain trigger: the Function's handler with those payloads (and one re-notification), claims in a file.
    # The pipeline's gather step adds the window's labelled predictions (what the monitor compacted into the lake) to
    # history the live model never saw (its own training rows would flatter it in the gate's comparison).
    retrain_data = home / "retrain.parquet"
    generate_telemetry(history_rows // 2, seed=8).to_parquet(retrain_data, index=False)
    recent = RecentWindow(lake["predictions"], lake["labels"], "1d")
    registered: list[str] = []
    verdicts: list[str] = []

    def submit(stack_name: str) -> str:  # the training pipeline, on the history plus the window that drifted
        results = run_local(stack_name, retrain_data, console, recent)
        done = results["register"]
        registered.append(f"{done.name}:{done.version}")
        gathered = results["gather"]
        verdicts.append(f"trained on {gathered.history_rows} history + {gathered.recent_rows} recent labelled rows; gate: "
                        + "; ".join(results["gate"].reasons))  # fmt: skip
        return f"local-{done.name}-{done.version}"



    settings = trigger.TriggerSettings(
        stack=stack, subscription_id="local", resource_group="local", workspace_name="local",
        cooldown=timedelta(minutes=config.retrain_trigger.cooldown_minutes),
        retrain_rules=frozenset(alert_rule_name(config.naming, rule.label) for rule in rules),
    )  # fmt: skip
    store = trigger.FileStore(home / "claims.json")
    for body in payloads + payloads[:1]:  # the first alert notified twice, as an action group may
        outcome = trigger.handle_alert(body, settings, store, submit)
        result.answers.append((outcome.status, outcome.body.get("reason") or outcome.body.get("action") or outcome.body.get("error", "")))
    result.retrained = registered[0] if registered else None
    echo(f"trigger   {'; '.join(f'{status} {what}' for status, what in result.answers) or 'no alert to handle'}")

    # 7. the pipeline's verdict, and the promotion that follows.
    if result.retrained:
        echo(f"pipeline  {result.retrained} registered, {verdicts[0]}")
        result.promote = f"python -m mlops promote --stack staging --model {result.retrained} --traffic 10 --registry shared"
        echo(f"promote   {result.promote}")
    return result


def loop(
    stack: StackOption = "dev",
    home: Annotated[Path | None, typer.Option(help="Folder for the loop's store, lake and claims (default .mlops/loop/<time>).")] = None,
    no_drift: Annotated[bool, typer.Option("--no-drift", help="Send traffic like the training data: nothing should fire.")] = False,
    concept_drift: Annotated[bool, typer.Option("--concept-drift", help="Labels stop following the model: the quality alert fires.")] = False,
    requests: Annotated[int, typer.Option(min=5, max=500, help="Requests of 40 rows to send.")] = 50,
) -> None:
    stack = one_stack(stack)
    folder = home or mlops_home() / "loop" / f"{stack}-{datetime.now(UTC):%Y%m%dT%H%M%S}"
    result = play(stack, folder, drifted=not no_drift, concept_drift=concept_drift, requests=requests, echo=typer.echo)
    closed = bool(result.fired) and result.retrained is not None
    if no_drift and not concept_drift:
        if result.fired:
            raise Refused(f"traffic like the training data fired {', '.join(result.fired)}")
        return
    if not closed:
        raise Refused("the loop did not close: " + ("no alert fired" if not result.fired else "no retrain was registered"))
