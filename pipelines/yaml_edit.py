"""Edit a YAML file so that only the lines whose data changed change: every other byte stays as it was.

ruamel.yaml's round trip keeps comments and key order, but it re-renders the whole file: line endings,
indentation, document markers and comment placement can all move. `minimal_edit` uses the round trip only to
learn where each key and list item starts in the original text, compares the original data with the wanted
data, and rewrites just the blocks that differ:

- a changed scalar, or a value whose type or flow style changes, rewrites that key's block;
- a key that is gone deletes its block, a new key is added after its map's last block;
- list items are matched by content (difflib): removed items delete their lines, new items are inserted
  where they belong, changed items are edited key by key.

New lines take the file's line ending and the indentation of their siblings. The result is parsed again and
must hold exactly the wanted data; otherwise `EditError` (a bug here, never a silently wrong file).
"""

from __future__ import annotations

import difflib
import io
import json
import re
from dataclasses import dataclass
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

# The line breaks ruamel counts lines by (YAML 1.1's), so its line numbers index this split.
_LINE_BREAK = re.compile(r"\r\n|\r|\n|\x85|\u2028|\u2029")
_OUTSIDE = re.compile(r"\s*(#.*)?|---.*|\.\.\.\s*")  # lines that belong to no block: blank, comments, markers
_ITEM = object()  # `_Editor._edit_value` edits a list item, not a key's value


class EditError(RuntimeError):
    """The edit could not be made without changing other lines (a bug in this module)."""


@dataclass
class _Edit:
    start: int  # replace lines[start:end] with `lines`
    end: int
    lines: list[str]


def plain(value: Any) -> Any:
    """A round-trip value (CommentedMap, ScalarFloat, HexInt, ...) as plain dicts, lists and scalars (booleans,
    None and dates stay as they are)."""
    if isinstance(value, dict):
        return {plain(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    for kind in (int, float, str):
        if isinstance(value, kind):
            return kind(value)
    return value


def minimal_edit(text: str, wanted: Any) -> str:
    """`text` (one YAML document holding a block-style map) changed only where its data differs from `wanted`."""
    document = YAML().load(text)
    if not isinstance(document, CommentedMap) or not isinstance(wanted, dict):
        raise EditError("minimal_edit edits a document that is a map")
    editor = _Editor(text)
    try:
        editor.edit_map(document, plain(wanted), len(editor.lines))
    except _Replace:
        raise EditError("the document is not a block-style map with its own lines per key") from None
    result = editor.apply()
    if YAML(typ="safe").load(result) != plain(wanted):
        raise EditError("the edited text does not hold the wanted data")
    return result


class _Replace(Exception):
    """This container cannot be edited piece by piece (flow style, empty, merge keys, a dash on its first
    key's line): its parent rewrites it whole."""


class _Editor:
    def __init__(self, text: str):
        breaks = _LINE_BREAK.findall(text)
        self.newline = breaks[0] if breaks else "\n"
        # Edit as if the text ended with a line break (it changes no line number); `apply` takes it off again.
        self.added_break = not _LINE_BREAK.fullmatch(text[-2:]) and not _LINE_BREAK.fullmatch(text[-1:])
        text = text + self.newline if self.added_break else text
        self.lines = _LINE_BREAK.split(text)  # without the breaks; ruamel's line numbers index this list
        self.breaks = _LINE_BREAK.findall(text)  # breaks[i] ends lines[i]; the last line is "" and has none
        self.edits: list[_Edit] = []

    # --- where blocks are ---------------------------------------------------------------------------------------

    def _trimmed_end(self, start: int, end: int, column: int) -> int:
        """The end of a block starting at `start`: trailing blank, comment and marker lines at or left of the
        block's column belong to what follows."""
        while end > start + 1 and self._outside(self.lines[end - 1], column):
            end -= 1
        return end

    def _outside(self, line: str, column: int) -> bool:
        indent = len(line) - len(line.lstrip(" "))
        return bool(_OUTSIDE.fullmatch(line)) and (not line.strip() or indent <= column)

    def _key_blocks(self, node: CommentedMap, end: int) -> dict[Any, tuple[int, int, int]]:
        """Each key's (first line, end line, column); a block runs to the next key, or to `end`."""
        starts = [(key, *node.lc.key(key)) for key in node]
        blocks = {}
        for index, (key, line, column) in enumerate(starts):
            stop = starts[index + 1][1] if index + 1 < len(starts) else end
            blocks[key] = (line, self._trimmed_end(line, stop, column), column)
        return blocks

    def _item_blocks(self, node: CommentedSeq, end: int) -> list[tuple[int, int]]:
        """Each item's (first line, end line)."""
        starts = [node.lc.item(i) for i in range(len(node))]
        blocks = []
        for index, (line, column) in enumerate(starts):
            stop = starts[index + 1][0] if index + 1 < len(starts) else end
            blocks.append((line, self._trimmed_end(line, stop, self._dash_column(line, column))))
        return blocks

    def _dash_column(self, line: int, column: int) -> int:
        dash = self.lines[line].rfind("-", 0, column)
        if dash < 0:
            raise _Replace
        return dash

    # --- what changes -------------------------------------------------------------------------------------------

    def edit_map(self, node: CommentedMap, wanted: dict, end: int) -> None:
        if not node or not wanted or node.fa.flow_style() or node.merge:
            raise _Replace
        blocks = self._key_blocks(node, end)
        for key, (first, stop, column) in blocks.items():
            if key not in wanted:
                if self._prefix(first, column).strip():
                    raise _Replace  # the first key of a list item: its line carries the item's dash
                self.edits.append(_Edit(first, stop, []))
            elif plain(node[key]) != wanted[key]:
                self._edit_value(node[key], wanted[key], first, stop, column, key)
        added = {key: value for key, value in wanted.items() if key not in node}
        if added:
            column = next(iter(blocks.values()))[2]
            last = max(stop for _, stop, _ in blocks.values())
            self.edits.append(_Edit(last, last, self._render(added, column)))

    def _edit_value(self, value: Any, wanted: Any, first: int, stop: int, column: int, key: Any = _ITEM) -> None:
        """Edit a map or list in place when both sides are one; else rewrite its block: `key: wanted` at
        `column`, or for a list item (`key` left out) `- wanted` with the dash at `column`."""
        mark = len(self.edits)
        try:
            if isinstance(value, CommentedMap) and isinstance(wanted, dict):
                return self.edit_map(value, wanted, stop)
            if isinstance(value, CommentedSeq) and isinstance(wanted, list):
                return self.edit_seq(value, wanted, stop)
        except _Replace:
            del self.edits[mark:]
        lines = self._render_items([wanted], column) if key is _ITEM else self._render({key: wanted}, column)
        lines[0] = self._prefix(first, column) + lines[0][column:]
        self.edits.append(_Edit(first, stop, lines))

    def edit_seq(self, node: CommentedSeq, wanted: list, end: int) -> None:
        if not node or not wanted or node.fa.flow_style():
            raise _Replace
        blocks = self._item_blocks(node, end)
        dash = self._dash_column(blocks[0][0], node.lc.item(0)[1])
        shared_first_line = bool(self._prefix(blocks[0][0], dash).strip())  # `- - x`: the parent's dash
        old = [_canonical(item) for item in node]
        new = [_canonical(item) for item in wanted]
        for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
            if op == "equal":
                continue
            if shared_first_line and i1 == 0 and not (op == "replace" and i2 - i1 == j2 - j1):
                raise _Replace  # removing or inserting before the first item would take the parent's dash along
            if op == "replace" and i2 - i1 == j2 - j1:
                for i, j in zip(range(i1, i2), range(j1, j2)):
                    first, stop = blocks[i]
                    self._edit_value(node[i], wanted[j], first, stop, self._dash_column(first, node.lc.item(i)[1]))
                continue
            if op in ("delete", "replace"):
                self.edits.append(_Edit(blocks[i1][0], blocks[i2 - 1][1], []))
            if op in ("insert", "replace"):
                at = blocks[i1][0] if i1 < len(blocks) else blocks[-1][1]
                self.edits.append(_Edit(at, at, self._render_items(wanted[j1:j2], dash)))

    # --- new text -----------------------------------------------------------------------------------------------

    def _prefix(self, line: int, column: int) -> str:
        return self.lines[line][:column]

    def _render(self, data: dict, column: int) -> list[str]:
        return [" " * column + line if line else line for line in _dump(data)]

    def _render_items(self, items: list, dash: int) -> list[str]:
        """Items as `- ...` lines with the dash at `dash` (the project's list layout, dumped under a key and
        dedented by its offset)."""
        return [" " * dash + line[2:] if line else line for line in _dump({"_": items})[1:]]

    def apply(self) -> str:
        """The text with every edit made; new lines end with the file's line break. Edits are applied from the
        bottom up; of two at the same place the later one (an outer map's new key) ends up below."""
        lines = [line + brk for line, brk in zip(self.lines, [*self.breaks, ""])]
        order = sorted(range(len(self.edits)), key=lambda i: (self.edits[i].start, self.edits[i].end, i), reverse=True)
        for edit in (self.edits[i] for i in order):
            lines[edit.start : edit.end] = [line + self.newline for line in edit.lines]
        text = "".join(lines)
        return text.removesuffix(self.newline) if self.added_break else text


def _canonical(value: Any) -> str:
    return json.dumps(plain(value), sort_keys=True, default=str)


def _dump(data: Any) -> list[str]:
    """Block-style YAML lines of `data`, in the project's layout (2-space maps, lists indented 4 with offset 2)."""
    yaml = YAML()
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 4096
    yaml.default_flow_style = False
    stream = io.StringIO()
    yaml.dump(data, stream)
    return stream.getvalue().splitlines()
