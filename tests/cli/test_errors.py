"""The CLI's one rule for errors: one line on stderr and the documented exit code, never a traceback."""

from __future__ import annotations

import re

import pytest

from core.errors import EXIT_INTERNAL
from mlops.cli import main


def run(capsys, *argv: str) -> tuple[int, str]:
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        main(list(argv))
    return exit_info.value.code, capsys.readouterr().err


def test_an_internal_error_is_exit_3_with_one_line_naming_the_log(monkeypatch, tmp_path, capsys):
    """A bug (here: the drift core raising something it never should) reaches the user as one line."""
    from pipelines import drift

    def broken(*args, **kwargs):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setenv("MLOPS_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(drift, "build_profile", broken)
    code, err = run(capsys, "drift", "--reference", "ref.parquet", "--current", "cur.parquet", "--out", str(tmp_path))
    assert code == EXIT_INTERNAL == 3
    [line] = err.splitlines()
    match = re.fullmatch(r"internal error: ZeroDivisionError: division by zero \(a bug; the traceback is in (\S+)\)", line)
    assert match, line
    log = match.group(1)
    assert log.startswith(str(tmp_path / "home" / "logs" / "error-"))
    text = open(log).read()
    assert text.startswith("command: python -m mlops drift --reference ref.parquet")
    assert "Traceback (most recent call last)" in text and 'raise ZeroDivisionError("division by zero")' in text


def test_the_log_falls_back_to_the_temp_folder(monkeypatch, tmp_path, capsys):
    from pipelines import drift

    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    monkeypatch.setenv("MLOPS_HOME", str(blocked))
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(drift, "build_profile", lambda *a, **k: [][0])  # noqa: PLE0643 (the crash under test)
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # re-read TMPDIR
    code, err = run(capsys, "drift", "-r", "a.parquet", "-c", "b.parquet", "-o", str(tmp_path))
    assert code == 3 and f"the traceback is in {tmp_path / 'tmp'}/error-" in err


@pytest.mark.parametrize(
    ("argv", "code", "start"),
    [
        (["promote", "--stack", "staging", "--traffic", "x"], 2, "Usage: python -m mlops promote"),
        (["nosuchcommand"], 2, "Usage: python -m mlops"),
        (["promote", "--stack", "nosuch", "--complete"], 2, "error: --stack: no stack 'nosuch' (no stacks/Pulumi.nosuch.yaml); available: dev, staging, prod, shared\n"),
        (["drift", "-r", "x", "-c", "y", "--stack", "shared"], 2, "error: --stack: 'shared' holds only the shared Azure ML registry; give an environment: dev, staging, prod\n"),
        (["promote", "--stack", "shared", "--complete"], 2, "error: --stack: 'shared' holds only the shared Azure ML registry"),
    ],
)
def test_usage_and_bad_input_are_exit_2(capsys, argv, code, start):
    got, err = run(capsys, *argv)
    assert got == code and err.startswith(start) and "Traceback" not in err
