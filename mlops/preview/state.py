"""A stack's state as the diff compares it: one StateResource per resource, secrets reduced to a digest.

Built from an offline run's records (`from_recorded`), from the JSON of a `--base` evaluation (`from_document`)
or from a `pulumi stack export` (mlops/preview/diff.py). Its own module so that the mock run's `--base` entry
point (`python -m mlops.mockrun`) can write this form without importing the diff.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from mlops.records import RecordedResource, Secret

IGNORED_KEYS = frozenset({"__provider"})
_SECRET_SIG, _SECRET_VALUE = "4dabf18193072939515e22adb298388d", "1b47061264138c4ac30d75fd1eb44270"
ENCRYPTED = "encrypted"  # an export without --show-secrets: the value cannot be compared


@dataclass
class StateResource:
    """One resource of a base or current state: what the diff needs, secrets hashed."""

    urn: str
    type: str
    name: str
    custom: bool
    inputs: dict[str, Any]
    protect: bool = False
    aliases: tuple[str, ...] = ()
    # None: the source does not say (a base evaluated by older code, an export without the field).
    retain_on_delete: bool | None = None
    ignore_changes: tuple[str, ...] | None = None
    replace_on_changes: tuple[str, ...] = ()

    def options(self) -> dict[str, Any]:
        """The resource options a preview compares, as `options.<name>` keys; unknown ones are left out."""
        values = {"protect": self.protect, "retainOnDelete": self.retain_on_delete, "ignoreChanges": self.ignore_changes}
        return {f"options.{k}": list(v) if isinstance(v, tuple) else v for k, v in values.items() if v is not None}


def comparable(value: Any) -> Any:
    """Secrets become a digest: a change is detected, the value never shown."""
    if isinstance(value, Secret):
        plain = json.dumps(value.value, sort_keys=True, default=lambda v: v.value if isinstance(v, Secret) else str(v))
        return {"[secret]": hashlib.sha256(plain.encode()).hexdigest()[:12]}
    if isinstance(value, dict):
        if value.get(_SECRET_SIG) == _SECRET_VALUE:  # a secret in a `pulumi stack export` file
            if "plaintext" in value:  # --show-secrets: the JSON-encoded value
                return comparable(Secret(json.loads(value["plaintext"])))
            return {"[secret]": ENCRYPTED}
        return {k: comparable(v) for k, v in value.items() if k not in IGNORED_KEYS}
    if isinstance(value, list):
        return [comparable(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def from_recorded(resources: list[RecordedResource]) -> list[StateResource]:
    return [
        StateResource(
            r.urn,
            r.type,
            r.name,
            r.custom,
            comparable(r.inputs),
            r.protect,
            tuple(r.aliases),
            r.retain_on_delete,
            tuple(r.ignore_changes),
            tuple(r.replace_on_changes),
        )
        for r in resources
    ]


def from_document(item: dict[str, Any]) -> StateResource:
    """A StateResource from its JSON form (the `--base` evaluation and its cache); lists become tuples."""
    tuples = {k: tuple(item[k]) for k in ("aliases", "ignore_changes", "replace_on_changes") if item.get(k) is not None}
    return StateResource(**{**item, **tuples})
