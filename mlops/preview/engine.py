"""The real-engine path: `pulumi preview --json` with the policy pack, rendered as the same report.

Thin on purpose: it needs the Pulumi CLI, a backend login and Azure credentials, which CI workflows have.
`report_from_preview_json` is the tested part (on a fixture in Pulumi's documented `--json` shape).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

from core.errors import BadInput
from core.paths import ROOT_DIR
from mlops.analyzer import CONFIG_DIR
from mlops.preview.report import Change, ResourceEntry, StackReport, Violation

_OPS = {"create": "create", "update": "update", "same": "same", "delete": "delete", "replace": "replace",
        "create-replacement": "replace", "delete-replaced": None, "read": None, "refresh": None, "import": "create"}


def report_from_preview_json(stack: str, document: dict[str, Any]) -> StackReport:
    """Steps become changes (replaceReasons and detailedDiff keys kept); policy diagnostics become violations."""
    changes, resources = [], []
    for step in document.get("steps") or []:
        op = _OPS.get(step.get("op", ""))
        state = step.get("newState") or step.get("oldState") or {}
        urn = step.get("urn", state.get("urn", ""))
        name, type_ = urn.rsplit("::", 1)[-1], state.get("type", urn.split("::")[-2].split("$")[-1] if "::" in urn else "")
        if state and op not in (None, "delete"):
            resources.append(ResourceEntry(urn, type_, name, state.get("inputs") or {}, bool(state.get("protect"))))
        if op is None:
            continue
        changes.append(
            Change(op, urn, type_, name, changed=sorted((step.get("detailedDiff") or {}).keys() or step.get("diffReasons") or []),
                   replace_reasons=[f"'{key}' forces a new resource" for key in step.get("replaceReasons") or []])
        )
    violations = []
    for item in document.get("policies") or document.get("diagnostics") or []:
        policy = item.get("policyName")
        if not policy:
            continue
        violations.append(Violation(policy, item.get("urn", ""), str(item.get("enforcementLevel", "advisory")).lower(), item.get("message", "")))
    return StackReport(stack=stack, resources=resources, violations=violations, changes=changes)


def reports_from_pulumi(stacks: list[str]) -> list[StackReport]:
    """Run `pulumi preview --json` per stack with the pack and its per-environment config."""
    if shutil.which("pulumi") is None:
        raise BadInput("--engine pulumi: the Pulumi CLI is not on PATH; use the offline preview (--engine mocks)")
    reports = []
    for stack in stacks:
        command = ["pulumi", "preview", "--json", "--non-interactive", "--stack", stack, "--policy-pack", "policies"]
        config = CONFIG_DIR / f"{stack}.json"
        if config.exists():
            command += ["--policy-pack-config", str(config)]
        result = subprocess.run(command, cwd=ROOT_DIR, capture_output=True, text=True)
        try:
            document = json.loads(result.stdout)
        except json.JSONDecodeError:
            last = (result.stderr.strip().splitlines() or ["no output"])[-1]
            raise BadInput(f"pulumi preview --stack {stack} failed: {last}") from None
        reports.append(report_from_preview_json(stack, document))
    return reports
