"""The rule catalogue, the flow table and one page per rule: Markdown generated from the rules' metadata and from
`FLOWS` (each the one source of truth for what the README and policies/docs/ say about it).

    python -m policies.catalogue                    # print both blocks
    python -m policies.catalogue --write README.md  # rewrite the blocks between their markers, and policies/docs/

A page's passing and failing examples are the cases the tests run (tests/policies), so a page shows nothing a test
does not check; a rule without a case has no example and its own test fails.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from policies.rules import RULES
from policies.rules.base import ResourceRule, Rule
from policies.rules.flows import FLOWS
from policies.rules.references import psrule_url
from policies.rules.values import MISSING, get

START, END = "<!-- rule-catalogue:start -->", "<!-- rule-catalogue:end -->"
FLOW_START, FLOW_END = "<!-- flow-table:start -->", "<!-- flow-table:end -->"
CONFIG_DIR = Path(__file__).resolve().parent / "config"
DOCS_DIR = Path(__file__).resolve().parent / "docs"
ENVIRONMENTS = ("dev", "staging", "prod")


def _document(environment: str) -> dict[str, Any]:
    return json.loads((CONFIG_DIR / f"{environment}.json").read_text())


def _levels(environment: str) -> dict[str, str]:
    """Each rule's enforcement level in an environment's policy config (pack default: mandatory)."""
    document = _document(environment)
    default = document.get("all", "mandatory")
    levels = {}
    for rule in RULES:
        entry = document.get(rule.name, default)
        levels[rule.name] = entry if isinstance(entry, str) else entry.get("enforcementLevel", default)
    return levels


def _settings(environment: str, rule: Rule) -> dict[str, Any]:
    """The rule settings an environment's policy config sets (the rest keep their defaults)."""
    entry = _document(environment).get(rule.name)
    return {k: v for k, v in entry.items() if k != "enforcementLevel"} if isinstance(entry, Mapping) else {}


def _references(rule: Rule) -> str:
    refs = rule.references
    cells = [f"[{name}]({psrule_url(name)})" for name in refs.psrule]
    cells += [f"`{id_}`" for id_ in refs.checkov]
    cells += [f"[doc]({url})" for url in refs.docs] + [f"[evidence]({url})" for url in refs.evidence]
    return "<br>".join(cells) or "-"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


HEADER = (
    "| rule | kind | what it requires | severity | WAF pillar | dev / staging / prod | references | remediation |",
    "|---|---|---|---|---|---|---|---|",
)


def _rows(rules: list[Rule], levels: dict[str, dict[str, str]]) -> list[str]:
    rows = []
    for rule in rules:
        enforcement = " / ".join(levels[env][rule.name][0].upper() for env in ENVIRONMENTS)
        rows.append(
            f"| [`{rule.name}`]({page_path(rule)}) | {rule.kind} | {_cell(rule.description)} | {rule.severity.value} | {rule.pillar} "
            f"| {enforcement} | {_references(rule)} | {_cell(rule.remediation)} |"
        )
    return rows


def table() -> str:
    """The catalogue: the `deploy-*` family (what Azure would reject at deploy time), then the guard rails."""
    levels = {environment: _levels(environment) for environment in ENVIRONMENTS}
    deploy = [rule for rule in RULES if rule.deploy_check]
    guards = [rule for rule in RULES if not rule.deploy_check]
    lines = [
        f"{len(RULES)} rules ({sum(r.kind == 'resource' for r in RULES)} resource, "
        f"{sum(r.kind == 'stack' for r in RULES)} stack). Enforcement per environment from "
        "`policies/config/<env>.json`: M mandatory, A advisory.",
        "",
        f"**Would fail at deploy** ({len(deploy)} `deploy-*` rules, mandatory everywhere; each cites the Microsoft "
        "document its fact comes from):",
        "",
        *HEADER,
        *_rows(deploy, levels),
        "",
        f"**Guard rails** ({len(guards)} rules: security, reliability, operations, and the flow check):",
        "",
        *HEADER,
        *_rows(guards, levels),
    ]
    return "\n".join(lines) + "\n"


def flow_table() -> str:
    """The platform's flows: who reaches what, over which private-link sub-resource, needing which permission."""
    lines = [
        f"{len(FLOWS)} flows, checked by `platform-flows-open` on every stack (a flow that does not apply to a stack, "
        "such as the self-hosted runners' flows in a public one, is reported as not applicable):",
        "",
        "| flow | from | to | private-link sub-resource | needs | fix when broken |",
        "|---|---|---|---|---|---|",
    ]
    for flow in FLOWS:
        groups = (flow.group,) if isinstance(flow.group, str) else tuple(flow.group or ())
        network = ", ".join(f"`{g}`" for g in groups) or ("trusted service" if flow.network == "trusted" else "public")
        needs = "<br>".join(f"`{action}`" for action in flow.needs) or "per-device credentials"
        lines.append(f"| `{flow.name}` | {_cell(flow.source)} | {_cell(flow.target)} | {network} | {needs} | {_cell(flow.fix)} |")
    return "\n".join(lines) + "\n"


# --- one page per rule ----------------------------------------------------------------------------------------------

NOT_SET = MISSING  # an input key the case leaves out
PAGE_NOTE = "<!-- generated by `python -m policies.catalogue --write README.md` from the rule's metadata; do not edit -->"


@dataclass(frozen=True)
class Example:
    """One tested case: what passes, what fails (dotted input paths to values; NOT_SET: key absent) and the problem
    the failing case reports (stack rules: against which resource)."""

    passing: Mapping[str, Any]
    failing: Mapping[str, Any]
    problem: str
    resource: str = ""
    type_: str = ""


def page_path(rule: Rule) -> str:
    return f"policies/docs/{rule.name}.md"


def _flat(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, Mapping) and value:
        return {k: v for key, item in value.items() for k, v in _flat(item, f"{prefix}{key}.").items()}
    return {prefix.rstrip("."): value}


def _difference(good: Mapping[str, Any], bad: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    flat_good, flat_bad = _flat(good), _flat(bad)
    keys = sorted(k for k in flat_good.keys() | flat_bad.keys() if flat_good.get(k, NOT_SET) != flat_bad.get(k, NOT_SET))
    return {k: flat_good.get(k, NOT_SET) for k in keys}, {k: flat_bad.get(k, NOT_SET) for k in keys}


def examples() -> dict[str, list[Example]]:
    """Per rule, the cases tests/policies runs over the Analyzer protocol (imported here, so the pages cannot drift)."""
    from tests.policies import test_deploy_rules, test_flows, test_resource_rules, test_stack_rules
    from tests.policies.policy_fixtures import COMPLIANT, DELETE

    found: dict[str, list[Example]] = {}
    for rule, type_, path, value, problem in test_resource_rules.CASES:
        failing = NOT_SET if value is DELETE else value
        found.setdefault(rule, []).append(Example({path: get(COMPLIANT[type_], path)}, {path: failing}, problem, type_=type_))
    for rule, type_, good, bad, problem, _not_applicable in test_deploy_rules.RESOURCE_CASES:
        found.setdefault(rule, []).append(Example(*_difference(good, bad), problem, type_=type_))
    for rule, _good, _bad, (resource, problem), _not_applicable in test_deploy_rules.STACK_CASES:
        found.setdefault(rule, []).append(Example({}, {}, problem, resource))
    for _change, expected in (*test_stack_rules.CASES, *test_stack_rules.EVENTHUB_CASES, *test_stack_rules.LOCK_CASES,
                              *test_stack_rules.REGISTRY_CASES):
        for rule, resource, problem in expected:
            if Example({}, {}, problem, resource) not in found.get(rule, []):
                found.setdefault(rule, []).append(Example({}, {}, problem, resource))
    for flow, (_remove, fragment) in sorted(test_flows.REMOVALS.items()):
        found.setdefault("platform-flows-open", []).append(Example({}, {}, f"flow {flow} (...) is broken: ...{fragment}... (staging)"))
    return found


def _shown(path: str, value: Any) -> str:
    return f"`{path}` not set" if value is NOT_SET else f"`{path}: {json.dumps(value)}`"


def _example_lines(rule: Rule, cases: list[Example]) -> list[str]:
    if not cases:
        return ["No test case yet (the tests that require one fail until it is added)."]
    if isinstance(rule, ResourceRule):
        lines = ["Inputs as the engine records them (camelCase; the Python argument is the snake_case name), from the "
                 "cases in `tests/policies/`:", ""]
        for case in cases[:3]:
            passing = ", ".join(_shown(k, v) for k, v in case.passing.items())
            failing = ", ".join(_shown(k, v) for k, v in case.failing.items())
            lines += [f"- `{case.type_}`: passes with {passing}; fails with {failing}:", f"  \"{case.problem}\""]
        return lines
    lines = ["A compliant stack (`tests/policies/`) passes; the tests' changes to it fail with (resource: problem):", ""]
    lines += [f"- `{case.resource}`: \"{case.problem}\"" if case.resource else f"- \"{case.problem}\"" for case in cases[:3]]
    return lines


def _level_rows(rule: Rule) -> list[str]:
    rows = ["| environment | level | settings |", "|---|---|---|"]
    for environment in ENVIRONMENTS:
        settings = rule.settings(_settings(environment, rule))
        shown = ", ".join(f"`{key}: {json.dumps(value)}`" for key, value in settings.items()) or "-"
        rows.append(f"| {environment} | {_levels(environment)[rule.name]} | {shown} |")
    return rows


def _reference_lines(rule: Rule) -> list[str]:
    refs = rule.references
    lines = [f"- PSRule for Azure: [{name}]({psrule_url(name)})" for name in refs.psrule]
    lines += [f"- Checkov (ARM): `{id_}`" for id_ in refs.checkov]
    lines += [f"- Document: <{url}>" for url in refs.docs]
    lines += [f"- Evidence: <{url}>" for url in refs.evidence]
    lines += [f"- Note: {refs.note}"] if refs.note else []
    return lines


def page(rule: Rule, cases: list[Example]) -> str:
    applies = ", ".join(f"`{t}`" for t in rule.types) if isinstance(rule, ResourceRule) else "the whole stack"
    lines = [
        PAGE_NOTE,
        f"# `{rule.name}`",
        "",
        rule.description,
        "",
        "| kind | severity | WAF pillar | applies to |",
        "|---|---|---|---|",
        f"| {rule.kind} | {rule.severity.value} | {rule.pillar} | {applies} |",
        "",
        "## Why",
        "",
        rule.why or "-",
        "",
        "## What passes and what fails",
        "",
        *_example_lines(rule, cases),
        "",
        "## How to fix it here",
        "",
        f"{rule.remediation[:1].upper()}{rule.remediation[1:]}. A violation's message says what is wrong, then this.",
        "",
        "## Per environment",
        "",
        "From `policies/config/<env>.json` (the pack's default is mandatory with the settings' defaults):",
        "",
        *_level_rows(rule),
        "",
        "## References",
        "",
        *(_reference_lines(rule) or ["-"]),
        "",
        "[All rules](../../README.md#rule-catalogue)",
        "",
    ]
    return "\n".join(lines)


def pages() -> dict[str, str]:
    """Every rule's page by file name (policies/docs/<rule>.md)."""
    cases = examples()
    return {f"{rule.name}.md": page(rule, cases.get(rule.name, [])) for rule in RULES}


def write_pages(directory: Path = DOCS_DIR) -> None:
    """Write every page and remove pages of rules that no longer exist."""
    directory.mkdir(parents=True, exist_ok=True)
    wanted = pages()
    for stale in {path.name for path in directory.glob("*.md")} - wanted.keys():
        (directory / stale).unlink()
    for name, text in wanted.items():
        if not (directory / name).exists() or (directory / name).read_text() != text:
            (directory / name).write_text(text)


BLOCKS = {(START, END): table, (FLOW_START, FLOW_END): flow_table}


def block(markers: tuple[str, str] = (START, END)) -> str:
    return f"{markers[0]}\n{BLOCKS[markers]()}{markers[1]}"


def replace_block(text: str) -> str:
    """`text` with every generated block replaced; ValueError when a block's markers are missing."""
    for markers in BLOCKS:
        pattern = re.compile(re.escape(markers[0]) + ".*?" + re.escape(markers[1]), re.DOTALL)
        if not pattern.search(text):
            raise ValueError(f"no {markers[0]} ... {markers[1]} block")
        text = pattern.sub(lambda _match, m=markers: block(m), text, count=1)
    return text


def current_block(text: str, markers: tuple[str, str] = (START, END)) -> str | None:
    """A generated block as it stands in `text`, or None."""
    match = re.search(re.escape(markers[0]) + ".*?" + re.escape(markers[1]), text, re.DOTALL)
    return match.group(0) if match else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m policies.catalogue", description=__doc__.splitlines()[0])
    parser.add_argument("--write", type=Path, metavar="FILE", help="rewrite the generated blocks in FILE and policies/docs/")
    args = parser.parse_args(argv)
    if args.write is None:
        sys.stdout.write("\n\n".join(block(markers) for markers in BLOCKS) + "\n")
        return 0
    try:
        args.write.write_text(replace_block(args.write.read_text()))
        write_pages(args.write.parent / DOCS_DIR.relative_to(DOCS_DIR.parent.parent))  # policies/docs beside the README
    except (OSError, ValueError) as exc:
        print(f"error: {args.write}: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
