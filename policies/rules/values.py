"""Reading resource properties defensively: missing keys, wrong types and preview-time unknowns.

Rules never index properties directly. `get` walks a dotted path and answers one of:
- the value;
- MISSING when a key is absent (the rule then applies Azure's documented default);
- WRONG_TYPE when a step is not an object, or the value has a type the rule cannot judge (the provider's
  schema check rejects such input; a rule reports nothing rather than guess). A number that is not finite
  (NaN, infinity, also spelled as strings) is WRONG_TYPE too: every comparison with NaN is false, so reading it
  as a number would let it pass any minimum.
An unknown value (a preview-time output) raises pulumi-policy's UnknownValueError from its proxy; in a
resource rule we let it propagate, so pulumi-policy reports the rule as not evaluated instead of a verdict.
Stack rules use `peek`, which turns the unknown into UNKNOWN so one unknown resource cannot hide the rest.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from pulumi_policy.proxy import UnknownValueError


class _Marker:
    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return self.name


MISSING = _Marker("MISSING")
WRONG_TYPE = _Marker("WRONG_TYPE")
UNKNOWN = _Marker("UNKNOWN")
MARKERS = (MISSING, WRONG_TYPE, UNKNOWN)


def is_marker(value: Any) -> bool:
    return any(value is marker for marker in MARKERS)


def get(props: Any, path: str) -> Any:
    """The value at a dotted path, MISSING or WRONG_TYPE; an unknown value raises UnknownValueError."""
    value = props
    for key in path.split("."):
        if not isinstance(value, Mapping):
            return WRONG_TYPE
        if key not in value:
            return MISSING
        value = value[key]
    return MISSING if value is None else value


def peek(props: Any, path: str) -> Any:
    """Like `get`, but an unknown value gives UNKNOWN instead of raising (for stack rules)."""
    try:
        return get(props, path)
    except UnknownValueError:
        return UNKNOWN


def as_bool(value: Any) -> Any:
    """A boolean, with the JSON spellings 'true'/'false' that ARM also accepts; markers pass through."""
    if isinstance(value, bool) or is_marker(value):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return WRONG_TYPE


def as_number(value: Any) -> Any:
    """A finite number (inputs arrive as floats), numeric strings included; markers pass through."""
    if is_marker(value):
        return value
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return WRONG_TYPE
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return value
    return WRONG_TYPE


def as_text(value: Any) -> Any:
    """A string; markers pass through."""
    return value if isinstance(value, str) or is_marker(value) else WRONG_TYPE


def as_list(value: Any) -> Any:
    """A list (not a string); markers pass through."""
    if is_marker(value) or (isinstance(value, Sequence) and not isinstance(value, str)):
        return value
    return WRONG_TYPE


def items(value: Any) -> list[Any]:
    """The elements of a list value; nothing for a marker or a wrong type."""
    value = as_list(value)
    return [] if is_marker(value) else [value[i] for i in range(len(value))]


def same(value: Any, expected: Any) -> bool:
    """Equality as ARM compares: enum strings case-insensitively, everything else exactly."""
    if isinstance(value, str) and isinstance(expected, str):
        return value.lower() == expected.lower()
    return value == expected


def shown(value: Any) -> str:
    """A value as a message shows it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return repr(value) if isinstance(value, str) else str(value)
