"""Azure's documented facts the `deploy-*` rules and the flow check judge by: the pack's data files in `azure/`,
each entry with its Microsoft source. The program's components read the same files (core/azure_facts.py),
so what they build and what the pack accepts come from one table."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

FACTS_DIR = Path(__file__).resolve().parent / "azure"


@cache
def facts(name: str) -> dict[str, Any]:
    return json.loads((FACTS_DIR / f"{name}.json").read_text())


def source(name: str) -> str:
    """The Microsoft page a data file comes from (rules cite it in their metadata)."""
    return facts(name)["source"]


ROLE_IDS: dict[str, str] = {role["id"]: name for name, role in facts("roles")["roles"].items()}
