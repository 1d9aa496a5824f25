"""IoT Edge deployment target conditions: the subset of IoT Hub's device-twin condition syntax the platform writes.

A deployment targets the devices whose twin matches its `targetCondition` (IoT Hub query language, "WHERE"
clause over the twin; module-deployment-monitoring, "Target condition"). The platform supports exactly:

    condition := clause ( AND clause )*
    clause    := tags.<name>[.<name>...] ( = | != ) value
    value     := '<text>' | <integer> | true | false
    name      := [A-Za-z][A-Za-z0-9_]*      text := [A-Za-z0-9 _.:/-]*   (no quote inside)

`AND` is case-insensitive, as in IoT Hub. Only AND-ed tag clauses, so that "narrower" is decidable: a condition A
is narrower than B when A's clauses contain all of B's and more (every device A matches, B matches too). OR, NOT,
reported properties and functions are refused with the position of the first thing not understood.

Standard library only: the config model, the promote command and the tests share it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TOKEN = re.compile(
    r"\s*(?:"
    r"(?P<path>tags(?:\.[A-Za-z][A-Za-z0-9_]*)+)"
    r"|(?P<op>!=|=)"
    r"|(?P<string>'[A-Za-z0-9 _.:/-]*')"
    r"|(?P<number>-?[0-9]+)(?![A-Za-z0-9_.])"
    r"|(?P<word>[A-Za-z_][A-Za-z0-9_.]*)"
    r")"
)
MAX_LENGTH = 1024  # the platform's bound; a condition is a few clauses


@dataclass(frozen=True, order=True)
class Clause:
    path: str
    op: str
    value: str  # as written: 'text' with its quotes, an integer, true or false

    def __str__(self) -> str:
        return f"{self.path}{self.op}{self.value}"


def _tokens(text: str) -> list[tuple[str, str, int]]:
    found, position = [], 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise ValueError(f"unexpected {text[position:].strip()[:20]!r} at character {position + 1}")
        kind = match.lastgroup or ""
        found.append((kind, match.group(kind), match.start(kind) + 1))
        position = match.end()
    return found


def parse(text: str) -> tuple[Clause, ...]:
    """The clauses of a condition, in order; ValueError saying what and where when it is outside the grammar."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("empty; e.g. tags.environment='prod'")
    if len(text) > MAX_LENGTH:
        raise ValueError(f"{len(text)} characters; at most {MAX_LENGTH}")
    tokens = _tokens(text)
    clauses: list[Clause] = []
    index = 0
    while True:
        part = tokens[index : index + 3]
        fits = [part[0][0] == "path", part[1][0] == "op", _is_value(part[2])] if len(part) == 3 else []
        if not all(fits) or not fits:
            bad = fits.index(False) if False in fits else len(part)
            at = part[bad][2] if bad < len(part) else len(text) + 1
            raise ValueError(f"expected tags.<name> = 'value' at character {at}; supported: tag clauses joined by AND")
        clauses.append(Clause(part[0][1], part[1][1], part[2][1]))
        index += 3
        if index == len(tokens):
            break
        kind, value, at = tokens[index]
        if kind != "word" or value.upper() != "AND":
            raise ValueError(f"expected AND at character {at}, got {value!r} (only AND-ed tag clauses are supported)")
        index += 1
    paths = [c.path for c in clauses]
    repeated = sorted({p for p in paths if paths.count(p) > 1})
    if repeated:
        raise ValueError(f"{', '.join(repeated)} appears more than once")
    return tuple(clauses)


def _is_value(token: tuple[str, str, int]) -> bool:
    kind, value, _ = token
    return kind in ("string", "number") or (kind == "word" and value in ("true", "false"))


def render(clauses: tuple[Clause, ...]) -> str:
    """The canonical text of a condition: clauses joined by ' AND '."""
    return " AND ".join(str(c) for c in clauses)


def canonical(text: str) -> str:
    return render(parse(text))


def narrower(inner: str, outer: str) -> bool:
    """Whether `inner` targets a strict subset of `outer`: all of outer's clauses and at least one more."""
    a, b = set(parse(inner)), set(parse(outer))
    return b < a


def within(inner: str, outer: str) -> bool:
    """Whether `inner` targets only devices `outer` targets (the same condition or a narrower one)."""
    return set(parse(outer)) <= set(parse(inner))
