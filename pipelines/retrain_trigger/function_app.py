"""Azure Function (Python v2 programming model): POST /api/retrain receives the action group's webhook.

Function-key auth (the action group's webhook URL carries the key); everything else is in `trigger.py`.
"""

from __future__ import annotations

import json
from functools import cache

import azure.functions as func

from pipelines.retrain_trigger.trigger import ClaimStore, TriggerSettings, handle_alert, submit_training, workspace_client

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)


@cache
def _runtime() -> tuple[TriggerSettings, ClaimStore]:
    settings = TriggerSettings.from_env()
    return settings, settings.store()


@app.route(route="retrain", methods=["POST"])
def retrain(req: func.HttpRequest) -> func.HttpResponse:
    settings, store = _runtime()
    outcome = handle_alert(
        req.get_body(), settings, store, submit=lambda stack: submit_training(workspace_client(settings), stack)
    )
    return func.HttpResponse(json.dumps(outcome.body), status_code=outcome.status, mimetype="application/json")
