"""JSON from the network, parsed with limits checked first: size, nesting depth, number range, valid strings.

`json.loads` recurses once per nesting level (thousands of `[` raise RecursionError, which is no ValueError),
turns `1e400` into infinity, accepts `NaN` and lone UTF-16 surrogates (`"\\ud800"`, which no UTF-8 encoder can
write back). `loads_bounded` checks the size and the nesting depth on the raw bytes before parsing (strings are
skipped with one regular expression; the depth is a running sum over the brackets left), then parses with
NaN/Infinity and out-of-range numbers refused, then rejects strings that are not valid Unicode. Every refusal
is a `JsonLimitError` carrying an HTTP status (413 for size, 400 otherwise), a one-line reason and a short
`code` naming the kind of refusal (`too_large`, `too_deep`, `bad_number`, `malformed_json`), which the edge module
counts by.

Standard library only: the scoring image and the retrain function both ship this file.
"""

from __future__ import annotations

import json
import math
import re
from itertools import accumulate
from typing import Any

MAX_INTEGER = 2**63  # larger integers are not int64 and lose precision as doubles
_STRINGS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"?')  # a JSON string (or an unterminated one, to the end)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


TOO_LARGE = "too_large"
TOO_DEEP = "too_deep"
BAD_NUMBER = "bad_number"  # NaN, Infinity, or a number no double / int64 holds
MALFORMED_JSON = "malformed_json"


class JsonLimitError(ValueError):
    """A body refused before or while parsing: the HTTP status to answer, the reason and the kind of refusal."""

    def __init__(self, status: int, reason: str, code: str = MALFORMED_JSON):
        super().__init__(reason)
        self.status, self.reason, self.code = status, reason, code


class _NumberError(ValueError):
    """A number literal refused while parsing (json.loads passes it through unchanged)."""


def nesting_depth(body: bytes) -> int:
    """How deep arrays and objects nest in a JSON text (brackets inside strings do not count)."""
    brackets = _STRINGS.sub(b"", body).translate(None, _NOT_BRACKETS)
    return max(accumulate(_STEP[b] for b in brackets), default=0)


def _constant(name: str) -> float:
    raise _NumberError(f"{name} is not a valid JSON number")


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NumberError(f"number {text[:40]} is out of range")
    return value


def _integer(text: str) -> int:
    value = int(text)
    if not -MAX_INTEGER <= value < MAX_INTEGER:
        raise _NumberError(f"integer {text[:40]}{'...' if len(text) > 40 else ''} is out of range (64 bits)")
    return value


def loads_bounded(body: bytes, max_bytes: int, max_depth: int) -> Any:
    """The parsed JSON value of `body`, or JsonLimitError with the status and reason."""
    if len(body) > max_bytes:
        raise JsonLimitError(413, f"body is {len(body)} bytes; at most {max_bytes}", TOO_LARGE)
    depth = nesting_depth(body)
    if depth > max_depth:
        raise JsonLimitError(400, f"JSON nested {depth} levels deep; at most {max_depth}", TOO_DEEP)
    try:
        value = json.loads(body, parse_constant=_constant, parse_float=_float, parse_int=_integer)
    except _NumberError as exc:
        raise JsonLimitError(400, f"malformed JSON: {exc}", BAD_NUMBER) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise JsonLimitError(400, f"malformed JSON: {exc}") from None
    _check_strings(value)
    return value


def _check_strings(value: Any) -> None:
    """Every string and key must be valid Unicode (json accepts lone surrogates, which cannot be encoded)."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            pending.extend(item)
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise JsonLimitError(400, f"malformed JSON: a string holds a lone surrogate {exc.object[exc.start]!a}") from None
