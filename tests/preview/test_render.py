"""What a reader sees: the terminal preview in `pulumi preview`'s shape and the PR comment, from real stack diffs."""

from __future__ import annotations

import json
import re

import pytest
from markdown_it import MarkdownIt

from mlops.commands.preview import Color, use_color
from mlops.preview.diff import diff_states
from mlops.preview.render import render_markdown, render_text
from mlops.preview.report import ResourceEntry, StackReport, Violation
from mlops.preview.state import from_recorded
from policies.rules.flows import FLOWS

BLUE = {"name": "blue", "model": "predictive-maintenance:1", "instanceCount": 1}
LIVE = {"environment": "mlops-serving:1", "deployments": [BLUE], "traffic": {"blue": 100}}
CANARY = {**LIVE, "deployments": [BLUE, {**BLUE, "name": "green", "model": "predictive-maintenance:2"}], "traffic": {"blue": 90, "green": 10}}
RELAX = "This rule is relaxed in dev on purpose."


def report_of(record, base=None, violations=(), guard=True) -> StackReport:
    current = from_recorded(record.resources)
    changes = diff_states(from_recorded(base.resources) if base else [], current, guard_data=guard)
    return StackReport(record.environment, [ResourceEntry.of(r) for r in sorted(record.resources, key=lambda r: r.urn)], list(violations), changes)


def violation(record, name: str, policy: str, level: str) -> Violation:
    return Violation(policy, record.named(name).urn, level, f"{policy} description\n{policy} message")


@pytest.fixture(scope="module")
def three_stacks(stacks, run_stack_with):
    """dev unchanged with deliberate advisories, staging a canary that a mandatory violation blocks, prod unchanged."""
    live, canary = run_stack_with("staging", serving=json.dumps(LIVE)), run_stack_with("staging", serving=json.dumps(CANARY))
    dev = report_of(stacks["dev"], stacks["dev"], [violation(stacks["dev"], "lake-st", f"rule-{i}", "advisory") for i in range(3)])
    staging = report_of(canary, live, [
        violation(canary, "retrain-st", "storage-public-network-disabled", "mandatory"),
        violation(canary, "online-green", "ml-deployment-app-insights", "advisory"),
        violation(canary, "lake-st", "old-advisory", "advisory"),
    ])
    prod = report_of(stacks["prod"], stacks["prod"])
    return [dev, staging, prod]


def test_text_is_a_tree_of_changes_under_components_with_pulumi_markers(three_stacks):
    text = render_text(three_stacks)
    staging = text[text.index("Previewing staging"):text.index("Previewing prod")]
    resources = len(three_stacks[1].resources)
    lines = staging.splitlines()
    # The canary's slot also becomes an input of the monitor schedule (its model's reference profile).
    monitor, lines = lines[6:12], lines[:6] + lines[12:]
    assert monitor[:2] == ["   ├─ monitor (mlops:monitoring:MonitorJob)",
                           "~  │  └─ monitor-schedule (azure-native:machinelearningservices:Schedule)"]
    assert "--model-ref blue=predictive-maintenance:1 --model green=${{inputs.model_green}}" in monitor[2]
    assert monitor[3:] == [
        "   │         properties.action.jobDefinition.inputs.model_green.jobInputType: null -> mlflow_model",
        "   │         properties.action.jobDefinition.inputs.model_green.mode: null -> ReadOnlyMount",
        "   │         properties.action.jobDefinition.inputs.model_green.uri: null -> azureml://registries/"
        "mlr-mlops-shared-weu-7843/models/predictive-maintenance/versions/2",
    ]
    assert lines[:14] == [
        f"Previewing staging ({resources} resources)",
        "",
        "   mlops-platform-staging (pulumi:pulumi:Stack)",
        "   ├─ alerts (mlops:monitoring:Alerts)",
        "+  │  ├─ alerts-green-cpu (azure-native:monitor:MetricAlert)",
        "+  │  └─ alerts-green-memory (azure-native:monitor:MetricAlert)",
        "   └─ online (mlops:serving:OnlineServing)",
        "+     ├─ online-green (azure-native:machinelearningservices:OnlineDeployment)",
        "~     └─ online-traffic (pulumi-python:dynamic:Resource)",
        '             deployments: ["blue"] -> ["blue", "green"]',
        "             traffic.blue: 100 -> 90",  # integers print as integers
        "             traffic.green: null -> 10",
        "",
        "Policies:",
    ]
    assert f"    + 3 to create\n    ~ 2 to update\n    {resources - 5} unchanged\n" in staging  # they add up
    assert "    mandatory (1)\n" in staging and "    advisory (1 new)\n" in staging
    assert "1 advisories on unchanged resources (--show-all lists them)" in staging
    assert "old-advisory" not in staging and "old-advisory" in render_text(three_stacks, show_all=True)
    assert "urn:pulumi:" not in text


def test_text_ends_with_one_summary_across_stacks(three_stacks):
    lines = render_text(three_stacks).splitlines()
    assert lines[-5:] == [
        "Summary:",
        "    dev      ok       no changes; 0 mandatory, 3 advisory",
        "    staging  BLOCKED  + 3 to create, ~ 2 to update; 1 mandatory, 2 advisory; blocked by storage-public-network-disabled (retrain-st)",
        "    prod     ok       no changes; 0 mandatory, 0 advisory",
        "exit 1: a mandatory policy violation or a blocked destructive change in staging",
    ]


def test_without_a_base_everything_is_to_create(stacks):
    text = render_text([report_of(stacks["dev"])])
    assert text.splitlines()[2] == "+  mlops-platform-dev (pulumi:pulumi:Stack)"
    assert f"    + {len(stacks['dev'].resources)} to create\n" in text and "unchanged" not in text
    assert "+  │  ├─ lake-st (azure-native:storage:StorageAccount)" in text or "+  │  └─ lake-st (azure-native:storage:StorageAccount)" in text


def test_text_fits_the_terminal_width_and_colour_follows_the_choice(three_stacks):
    narrow = render_text(three_stacks, width=80)
    assert max(len(line) for line in narrow.splitlines()) <= 80
    assert "\x1b[" not in narrow
    assert "\x1b[" in render_text(three_stacks, color=True, width=80)


def test_no_color_and_color_choices(monkeypatch):
    monkeypatch.setattr("sys.stdout.isatty", lambda: True)
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert use_color(Color.auto, None) and not use_color(Color.never, None)
    assert not use_color(Color.auto, out=__import__("pathlib").Path("x.txt"))
    monkeypatch.setenv("NO_COLOR", "1")
    assert not use_color(Color.auto, None) and use_color(Color.always, None)


def sections_of(html: str) -> list[str]:
    """Headings and collapsed-section titles, in document order."""
    return [heading or summary for heading, summary in re.findall(r"<h[23]>(.*?)</h[23]>|<summary>(.*?)</summary>", html)]


def test_the_pr_comment_leads_with_verdicts_then_blocks_then_changes(three_stacks):
    dev, staging, prod = (len(report.resources) for report in three_stacks)
    html = MarkdownIt("commonmark", {"html": True}).enable("table").render(render_markdown(three_stacks))
    assert sections_of(html) == [
        "Infrastructure preview",
        ":x: <code>staging</code>: what blocks",
        "<code>staging</code>: changes",
        "<code>staging</code>: new advisories",
        "<code>dev</code>: 3 advisories on unchanged resources",
        "<code>staging</code>: 1 advisories on unchanged resources",
        f"<code>dev</code>: {dev} resources",
        f"<code>staging</code>: {staging} resources",
        f"<code>prod</code>: {prod} resources",
    ]
    first_table = html[: html.index("</table>")]
    assert "<td><code>staging</code></td>\n<td>:x: blocked</td>" in first_table
    changes = html[html.index("staging</code>: changes"):]
    diff = changes[changes.index('<pre><code class="language-diff">') + 33:changes.index("</pre>")].splitlines()
    ops = [line for line in diff if line[:1] in "+~-"]
    assert ops == [
        "+ create alerts-green-cpu (azure-native:monitor:MetricAlert)",
        "+ create alerts-green-memory (azure-native:monitor:MetricAlert)",
        "~ update monitor-schedule (azure-native:machinelearningservices:Schedule)",
        "+ create online-green (azure-native:machinelearningservices:OnlineDeployment)",
        "~ update online-traffic (pulumi-python:dynamic:Resource)",
    ]
    assert "    traffic.blue: 100 -&gt; 90" in diff
    blocks = html[html.index("what blocks"):html.index("staging</code>: changes")]
    assert "storage-public-network-disabled" in blocks and "old-advisory" not in blocks


def test_a_long_comment_drops_whole_sections_from_the_end_and_says_which(three_stacks):
    full = render_markdown(three_stacks)
    cut = render_markdown(three_stacks, max_chars=6000)
    assert len(cut) <= 6000 < len(full)
    assert cut.count("```") % 2 == 0 and cut.count("<details>") == cut.count("</details>")
    assert cut.rstrip().endswith("resources of dev, resources of staging, resources of prod._")
    assert "what blocks" in cut and "storage-public-network-disabled" in cut


def test_every_flow_is_reported_and_a_broken_one_says_why(stacks):
    """The preview runs the pack's flow check on the record: all open in staging; without the workspace's
    private endpoint callers, CI, the retrain function and operators cannot reach it: text, JSON and Markdown say so."""
    import dataclasses

    from mlops.preview.flows import flow_results
    from mlops.preview.render import render_json
    from mlops.preview.report import FlowEntry

    def report(record):
        return dataclasses.replace(report_of(record), flows=[FlowEntry.of(r) for r in flow_results(record)])

    applicable = len(FLOWS) - 1  # function-reads-promotion-token: no stack file configures the promotion hand-over
    whole = report(stacks["staging"])
    assert (whole.summary["flows_open"], whole.summary["flows_broken"]) == (applicable, 0)
    assert [f.name for f in whole.flows_of("not-applicable")] == ["function-reads-promotion-token"]
    assert f"Flows: {applicable} of {applicable} open\n" in render_text([whole])
    cut = dataclasses.replace(stacks["staging"], resources=[r for r in stacks["staging"].resources if r.name != "workspace-pep-amlworkspace"])
    broken = report(cut)
    names = [f.name for f in broken.flows_of("broken")]
    assert names == ["callers-score", "ci-submits-jobs", "function-submits-training", "operators-use-workspace"]
    text = render_text([broken])
    assert f"Flows: {applicable - len(names)} of {applicable} open, {len(names)} broken\n" in text
    assert "✗ callers-score (" in text and "no private endpoint (amlworkspace) to mlw-" in text
    [stack] = json.loads(render_json([broken]))["stacks"]
    assert {f["name"] for f in stack["flows"] if f["status"] == "broken"} == set(names)
    assert stack["summary"]["flows_broken"] == len(names)
    markdown = render_markdown([broken])
    assert f"| {applicable - len(names)} of {applicable} open, {len(names)} broken |" in markdown.splitlines()[4]
    assert f"<code>staging</code>: flows, {applicable - len(names)} of {applicable} open, {len(names)} broken" in markdown
