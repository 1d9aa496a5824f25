"""minimal_edit: the edited text holds exactly the wanted data, and what did not change keeps its bytes."""

from __future__ import annotations

import io

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from pipelines.yaml_edit import EditError, minimal_edit

PROPERTY = settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])

keys = st.sampled_from(["a", "b", "name", "model", "traffic", "x y", "1", "mlops-platform:serving"])
scalars = st.one_of(
    st.integers(-5, 200), st.booleans(), st.none(), st.text(alphabet="ab :#-'\"", max_size=6),
    st.sampled_from(["predictive-maintenance:1", "yes", "1.5", "~", ""]),
)  # fmt: skip
values = st.recursive(scalars, lambda c: st.lists(c, max_size=3) | st.dictionaries(keys, c, max_size=3), max_leaves=10)
documents = st.dictionaries(st.sampled_from(["config", "other", "z"]), values, min_size=1, max_size=3)


def mutate(data, value):
    """A small change somewhere inside `value`: delete, change or add one key or item, or replace it."""
    choice = data.draw(st.integers(0, 4))
    if isinstance(value, dict) and value and choice < 3:
        key, new = data.draw(st.sampled_from(sorted(value))), dict(value)
        if choice == 0:
            del new[key]
        elif choice == 1:
            new[key] = mutate(data, value[key])
        else:
            new[data.draw(keys)] = data.draw(values)
        return new
    if isinstance(value, list) and value and choice < 3:
        index, new = data.draw(st.integers(0, len(value) - 1)), list(value)
        if choice == 0:
            del new[index]
        elif choice == 1:
            new[index] = mutate(data, value[index])
        else:
            new.insert(data.draw(st.integers(0, len(value))), data.draw(values))
        return new
    return data.draw(values) if choice == 3 else value


def dump(document, mapping: int, offset: int, newline: str, markers: bool) -> str:
    yaml = YAML()
    yaml.indent(mapping=mapping, sequence=offset + 2, offset=offset)
    stream = io.StringIO()
    yaml.dump(document, stream)
    text = stream.getvalue()
    text = f"---\n# a header\n{text}...\n" if markers else text
    return text.replace("\n", newline)


def top_blocks(text: str) -> dict[str, str]:
    """Each top-level key's lines (up to the next key), as text."""
    document = YAML().load(text)
    lines = text.splitlines(True)
    starts = [(key, document.lc.key(key)[0]) for key in document]
    ends = [line for _, line in starts[1:]] + [len(lines)]
    return {key: "".join(lines[start:end]).rstrip(".\r\n") for (key, start), end in zip(starts, ends)}


@PROPERTY
@given(
    documents, st.data(), st.sampled_from([2, 4]), st.sampled_from([0, 2]), st.sampled_from(["\n", "\r\n"]), st.booleans()
)
def test_the_edit_holds_the_wanted_data_and_leaves_unchanged_keys_byte_for_byte(document, data, mapping, offset, newline, markers):
    wanted = {key: mutate(data, value) for key, value in document.items()}
    text = dump(document, mapping, offset, newline, markers)
    result = minimal_edit(text, wanted)  # raises EditError unless it holds exactly `wanted`
    assert YAML(typ="safe").load(result) == wanted
    if markers:
        assert result.startswith(f"---{newline}# a header{newline}") and result.endswith(f"...{newline}")
    before, after = top_blocks(text), top_blocks(result)
    for key in document:
        if wanted[key] == document[key]:
            assert after[key] == before[key]
    assert result.count("\n") == result.count(newline)  # one line ending style


def test_without_a_final_line_break_none_is_added():
    text = "a: 1\nb:\n  c: 2"
    assert minimal_edit(text, {"a": 1, "b": {"c": 3}}) == "a: 1\nb:\n  c: 3"
    assert minimal_edit(text, {"a": 1, "b": {"c": 2, "d": 4}}) == "a: 1\nb:\n  c: 2\n  d: 4"


def test_a_flow_style_document_cannot_be_edited_line_by_line():
    with pytest.raises(EditError):
        minimal_edit("{a: 1}\n", {"a": 2})
