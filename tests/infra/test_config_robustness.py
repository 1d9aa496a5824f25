"""The config loader on hostile input: every file or engine value gives a PlatformConfig or one ConfigError.

Regressions first (the exact inputs that once broke it), then property-based tests over random bytes, random
YAML documents under the real keys, and random engine values.
"""

from __future__ import annotations

import io
import itertools
import json
import subprocess
import sys

import pulumi
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from core.config import (
    MAX_STACK_FILE_BYTES,
    PROJECT,
    ConfigError,
    PlatformConfig,
    load_stack_config,
    parse_config,
    read_stack_values,
)
from mlops.mockrun import run_stack
from tests.infra.test_config import BASE

PROPERTY = settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])


def load(tmp_path, data: bytes, environment: str = "staging") -> PlatformConfig:
    path = tmp_path / f"Pulumi.{environment}.yaml"
    path.write_bytes(data)
    return load_stack_config(environment, path)


def alias_bomb(levels: int = 9) -> str:
    """About 380 bytes that expand to 9**9 values."""
    names = [chr(ord("a") + i) for i in range(levels)]
    lines = [f"    {names[0]}: &{names[0]} [x, x, x, x, x, x, x, x, x]"]
    lines += [f"    {n}: &{n} [{', '.join([f'*{p}'] * 9)}]" for p, n in itertools.pairwise(names)]
    return BASE + "  mlops-platform:extraTags:\n" + "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ((BASE + "  mlops-platform:owner: caf\xe9\n").encode("latin-1"), "config: not UTF-8: byte 0xe9 at offset"),
        ((BASE + "  mlops-platform:extraTags: " + "[" * 5000 + "]" * 5000 + "\n").encode(), "config: nested more than 64 levels deep"),
        (alias_bomb().encode(), "config: more than 100000 values once aliases are expanded"),
        ((BASE + "  mlops-platform:extraTags: &loop [1, *loop]\n").encode(), "alias *loop refers to a collection containing it"),
        ((BASE + "---\nconfig: {}\n").encode(), "more than one YAML document"),
        (b"config:\n  1: x\n", "config keys must be strings; got 1"),
        ((BASE + "  mlops-platform:extraTags: {since: 2001-02-30}\n").encode(), "not valid YAML"),
        (b"#" * (MAX_STACK_FILE_BYTES + 1), f"at most {MAX_STACK_FILE_BYTES}"),
    ],
    ids=["non-utf8", "nesting-5000", "alias-bomb", "recursive-alias", "two-documents", "int-key", "bad-date", "too-big"],
)
def test_hostile_stack_files_are_one_config_error(tmp_path, data, message):
    with pytest.raises(ConfigError) as info:
        load(tmp_path, data)
    assert message in str(info.value) and str(info.value).startswith(str(tmp_path / "Pulumi.staging.yaml"))


def test_the_alias_bomb_stops_the_preview_at_once_with_exit_2(project_copy):
    (project_copy / "stacks" / "Pulumi.dev.yaml").write_text(alias_bomb())
    result = subprocess.run(
        [sys.executable, "-m", "mlops", "preview", "--stack", "dev"],
        cwd=project_copy, capture_output=True, text=True, timeout=60, env={"MLOPS_SKIP_POLICIES": "1", "PATH": ""},
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert result.stderr == (
        "error: stacks/Pulumi.dev.yaml: config: more than 100000 values once aliases are expanded\n"
    )


SECRET_URL = "http://hooks.example.com/api/retrain?code=FUNCTION-KEY-0123456789"


def test_a_decrypted_secret_that_fails_validation_is_masked_in_the_error():
    """`pulumi up` hands the program decrypted values and the secret keys; the message shows neither."""
    values, _ = read_stack_values("dev")
    values[f"{PROJECT}:alerts"] = json.dumps({"webhookUrl": SECRET_URL, "severity": 3})
    with pytest.raises(ConfigError) as info:
        run_stack("dev", values, {f"{PROJECT}:alerts"})
    assert isinstance(info.value, pulumi.RunError)  # inside the program: the engine prints its one line, no traceback
    assert str(info.value) == (
        "stacks/Pulumi.dev.yaml: mlops-platform:alerts.webhookUrl: "
        r"String should match pattern '^(https://\S+|\[secret\])$' (got [secret])"
    )


def test_a_secret_inside_a_validator_message_is_masked():
    values, _ = read_stack_values("dev")
    values[f"{PROJECT}:location"] = "notaregion-secretive"
    with pytest.raises(ConfigError) as info:
        parse_config("dev", values, "stacks/Pulumi.dev.yaml", secrets={f"{PROJECT}:location"})
    assert "notaregion-secretive" not in str(info.value) and "'[secret]' is not a supported Azure region" in str(info.value)


# --- properties --------------------------------------------------------------------------------------------------

KEYS = [f"{PROJECT}:{field.alias}" for name, field in PlatformConfig.model_fields.items() if name != "environment"]
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=True), st.text(max_size=12),
    st.sampled_from(["westeurope", "Standard_LRS", "blue", "predictive-maintenance:1", "AADToken", "true", "1e400"]),
)  # fmt: skip
values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.sampled_from([*"ab", "name", "model", "sku", "traffic", "deployments"]) | st.text(max_size=6), children, max_size=4),
    max_leaves=12,
)  # fmt: skip


def dump(document) -> bytes:
    stream = io.StringIO()
    YAML(typ="safe", pure=True).dump(document, stream)
    return stream.getvalue().encode()


@PROPERTY
@given(st.binary(max_size=400))
def test_any_bytes_give_a_config_or_a_config_error(tmp_path_factory, data):
    tmp_path = tmp_path_factory.mktemp("bytes")
    try:
        load(tmp_path, data)
    except ConfigError as exc:
        assert str(exc).startswith(str(tmp_path / "Pulumi.staging.yaml"))


@PROPERTY
@given(st.dictionaries(st.sampled_from(KEYS), values, max_size=6))
def test_any_yaml_under_the_real_keys_gives_a_config_or_a_config_error(tmp_path_factory, config):
    tmp_path = tmp_path_factory.mktemp("yaml")
    base = YAML(typ="safe").load(BASE)
    try:
        load(tmp_path, dump({"config": {**base["config"], **config}}))
    except ConfigError as exc:
        assert exc.key and exc.message and "\n" not in str(exc)


@PROPERTY
@given(st.dictionaries(st.sampled_from(KEYS), st.text(max_size=40) | values.map(json.dumps), max_size=6))
def test_any_engine_values_give_a_config_or_a_config_error(config):
    """`pulumi up`: values arrive as strings (objects as JSON), straight from the engine."""
    base, _ = read_stack_values("dev")
    try:
        parse_config("dev", {**base, **config}, "stacks/Pulumi.dev.yaml")
    except ConfigError as exc:
        assert exc.key and exc.message
