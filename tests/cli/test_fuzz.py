"""A bounded fuzz run of the command line (in-process, a few seconds): random commands, options and files from a
grammar of the real ones. Every run must end with 0, 1 or 2 and one-line errors: never exit 3 (an internal
error) and never a traceback.

Nothing is written outside tmp_path: promote always runs with --dry-run, commands run from tmp_path with their own
MLOPS_HOME, `serve` never gets a model it could start, and slow paths (a full pipeline run, a preview) only get
arguments that fail before their work."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlops.cli import main
from pipelines.drift import build_profile
from pipelines.sample_data import generate_telemetry

FUZZ = settings(max_examples=120, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("fuzz-files")
    tiny = generate_telemetry(60, seed=1)
    tiny.to_parquet(folder / "tiny.parquet", index=False)
    tiny.to_csv(folder / "tiny.csv", index=False)
    (folder / "empty.csv").write_bytes(b"")
    (folder / "latin1.csv").write_bytes("machine_type,temperature\ncaf\xe9,1\n".encode("latin-1"))
    (folder / "junk.parquet").write_bytes(b"PAR1 not really")
    (folder / "junk.npz").write_bytes(b"PK\x03\x04 truncated")
    build_profile(folder / "tiny.parquet").save(folder / "profile.npz")
    (folder / "folder").mkdir()
    paths = {name: str(folder / name) for name in ("tiny.parquet", "tiny.csv", "empty.csv", "latin1.csv", "junk.parquet", "junk.npz", "profile.npz", "folder")}
    return paths | {"missing": str(folder / "missing.parquet")}


@pytest.fixture(scope="module")
def registry(tmp_path_factory) -> str:
    """An empty MLflow store, created once (its schema migrations take seconds)."""
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path_factory.mktemp('fuzz-registry') / 'mlflow.db'}"
    MlflowClient(tracking_uri=uri, registry_uri=uri).search_registered_models()
    return uri


stacks = st.sampled_from(["dev", "staging", "prod", "all", "qa", "", "DEV", "../dev", "dev\n", "x" * 40])
real_stacks = st.sampled_from(["dev", "staging", "prod"])
models = st.sampled_from(["predictive-maintenance:2", "predictive-maintenance", "x:", ":1", "a:-1", "a:99999999999999999999", "é:1"])
numbers = st.integers(-5, 200).map(str) | st.sampled_from(["x", "1e3", "", "nan", "99999999999999999999"])


def mostly(low: int, high: int):
    """A value the option accepts three times in four, else any number-ish text."""
    valid = st.integers(low, high).map(str)
    return st.one_of(valid, valid, valid, numbers)


texts = st.text(max_size=6)


def options(*pairs):
    """Any subset of optional `--flag value` pairs, in the order given."""
    return st.tuples(*(st.one_of(st.just([]), value.map(lambda v, f=flag: [f, v])) for flag, value in pairs)).map(
        lambda chosen: [token for pair in chosen for token in pair]
    )


def commands(files: dict[str, str]):
    paths = st.sampled_from(sorted(files.values()))
    steps = st.sampled_from([["--complete"], ["--rollback"], ["--complete", "--rollback"], []])
    canary = st.tuples(models, numbers).map(lambda mt: ["--model", mt[0], "--traffic", mt[1]])
    promote = st.tuples(
        st.just(["promote", "--dry-run", "--stack"]), real_stacks | stacks, canary | steps,
        st.sampled_from([[], ["--registry", "local"], ["--registry", "nowhere"], ["--model", "predictive-maintenance:1"]]),
    ).map(lambda parts: [parts[0], [parts[1]], parts[2], parts[3]])
    readable = st.sampled_from([files["tiny.parquet"], files["tiny.csv"]])
    pair = st.one_of(st.tuples(paths, paths), st.tuples(readable | st.just(files["profile.npz"]), readable))
    drift = st.tuples(
        pair.map(lambda rc: ["drift", "-r", rc[0], "-c", rc[1]]),
        options(("--features", texts | st.just("temperature,machine_type")), ("--exclude", texts | st.just("failure")),
                ("--bins", mostly(2, 100)), ("--chunk-rows", mostly(1, 100)), ("--sample-size", mostly(100, 1000)),
                ("--stack", real_stacks | real_stacks | stacks),
                ("--save-profile", st.just("saved.npz") | paths), ("--out", st.just("out") | paths)),
    )  # fmt: skip
    pipeline = st.tuples(
        st.just(["pipeline"]), st.sampled_from([["run"], ["show"], ["nope"], []]),
        options(("--stack", stacks.filter(lambda s: s not in ("dev", "staging", "prod"))), ("--data", paths), ("--format", texts)),
    )  # fmt: skip
    # --data is always a file that cannot be read as telemetry: the pipeline stops before validating
    unreadable = st.sampled_from([path for name, path in files.items() if not name.startswith("tiny")])
    runs = st.tuples(st.just(["pipeline", "run", "--stack"]), real_stacks.map(lambda s: [s]), unreadable.map(lambda p: ["--data", p]),
                     options(("--format", st.sampled_from(["text", "json", "markdown"])), ("--out", st.just("run.json") | paths)))
    serve = st.tuples(
        st.just(["serve", "--stack"]), (real_stacks | stacks).map(lambda s: [s]),
        options(("--port", numbers), ("--workers", numbers), ("--model-uri", paths | texts)),
    )  # fmt: skip
    preview = st.tuples(st.just(["preview", "--stack"]), stacks.filter(lambda s: s not in ("dev", "staging", "prod", "all")).map(lambda s: [s]), options(("--format", texts)))
    data = st.tuples(
        st.just(["data"]), st.sampled_from([["show"], ["nope"], []]),
        options(("--stack", real_stacks | stacks), ("--model", models | texts), ("--registry", st.sampled_from(["local", "nowhere"])),
                ("--format", st.sampled_from(["text", "json"]) | texts)),
    )  # fmt: skip
    noise = st.lists(st.sampled_from(["--help", "-h", "promote", "drift", "data", "--stack", "--", "-", "—"]) | texts, max_size=5).map(lambda tokens: (tokens,))
    return st.one_of(promote, drift, drift, pipeline, runs, serve, preview, data, noise).map(lambda parts: [t for part in parts for t in part])


@pytest.fixture
def sandbox(tmp_path, monkeypatch, registry):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLOPS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", registry)
    monkeypatch.delenv("APPLICATIONINSIGHTS_CONNECTION_STRING", raising=False)
    monkeypatch.setenv("MLOPS_SKIP_POLICIES", "1")


def test_fuzzed_command_lines_exit_0_1_or_2_with_one_line_errors(files, sandbox, capsys):
    @FUZZ
    @given(commands(files))
    def one(argv):
        capsys.readouterr()
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        code, err = exit_info.value.code, capsys.readouterr().err
        assert code in (0, 1, 2), (argv, code, err)
        assert "Traceback" not in err and "internal error" not in err, (argv, err)
        if code == 2:
            assert err.strip(), argv

    one()
