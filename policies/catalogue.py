"""The rule catalogue and the flow table: Markdown generated from the rules' metadata and from `FLOWS` (each the
one source of truth for what the README says about it).

    python -m policies.catalogue                    # print both blocks
    python -m policies.catalogue --write README.md  # rewrite the blocks between their markers
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from policies.rules import RULES
from policies.rules.base import Rule
from policies.rules.flows import FLOWS
from policies.rules.references import psrule_url

START, END = "<!-- rule-catalogue:start -->", "<!-- rule-catalogue:end -->"
FLOW_START, FLOW_END = "<!-- flow-table:start -->", "<!-- flow-table:end -->"
CONFIG_DIR = Path(__file__).resolve().parent / "config"
ENVIRONMENTS = ("dev", "staging", "prod")


def _levels(environment: str) -> dict[str, str]:
    """Each rule's enforcement level in an environment's policy config (pack default: mandatory)."""
    document = json.loads((CONFIG_DIR / f"{environment}.json").read_text())
    default = document.get("all", "mandatory")
    levels = {}
    for rule in RULES:
        entry = document.get(rule.name, default)
        levels[rule.name] = entry if isinstance(entry, str) else entry.get("enforcementLevel", default)
    return levels


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
            f"| `{rule.name}` | {rule.kind} | {_cell(rule.description)} | {rule.severity.value} | {rule.pillar} "
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
    parser.add_argument("--write", type=Path, metavar="FILE", help="rewrite the catalogue block in FILE")
    args = parser.parse_args(argv)
    if args.write is None:
        sys.stdout.write("\n\n".join(block(markers) for markers in BLOCKS) + "\n")
        return 0
    try:
        args.write.write_text(replace_block(args.write.read_text()))
    except (OSError, ValueError) as exc:
        print(f"error: {args.write}: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
