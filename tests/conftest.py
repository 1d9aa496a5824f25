"""The mock harness every test builds on: each stack's recorded resource graph, run once per session."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from core.config import read_stack_values
from core.paths import ROOT_DIR as ROOT
from mlops.mockrun import StackRecord, run_stack

ENVIRONMENTS = ("dev", "staging", "prod")


@pytest.fixture(scope="session")
def stacks() -> dict[str, StackRecord]:
    return {environment: run_stack(environment) for environment in ENVIRONMENTS}


def run_with(environment: str, **overrides: str) -> StackRecord:
    """Run a stack with some config values replaced (keys without the `mlops-platform:` prefix)."""
    values, secrets = read_stack_values(environment)
    values.update({f"mlops-platform:{key}": value for key, value in overrides.items()})
    return run_stack(environment, values, secrets)


@pytest.fixture(scope="session")
def run_stack_with():
    return run_with


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    """A throw-away copy of the project's sources (no venv, no git) to break or edit in a test."""
    target = tmp_path / "project"
    shutil.copytree(
        ROOT,
        target,
        ignore=shutil.ignore_patterns(".venv", ".git", ".mlops", "__pycache__", ".pytest_cache", "bench", "tests", ".readme-parts"),
    )
    return target


def run_cli(args: list[str], cwd: Path = ROOT, **env: str) -> subprocess.CompletedProcess:
    """`python -m mlops ...` in a subprocess, as users run it."""
    return subprocess.run(
        [sys.executable, "-m", "mlops", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=300,
    )


@pytest.fixture
def cli():
    return run_cli


def git(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *args], cwd=cwd, check=True, capture_output=True, text=True
    )


@pytest.fixture
def project_repo(project_copy: Path) -> Path:
    """The project copy as a git repository with one commit, for `--base` and promotion history."""
    git(project_copy, "init", "-q", "-b", "main")
    git(project_copy, "add", "-A")
    git(project_copy, "commit", "-qm", "base")
    return project_copy


@pytest.fixture
def commit():
    return lambda cwd, message: git(cwd, "commit", "-qam", message)


@pytest.fixture
def azure(monkeypatch):
    """Azure at the wire (tests/azure/wire.py): the real SDKs down to `requests`, answered from recordings."""
    from tests.azure.wire import AzureWire, sign_in

    with AzureWire() as wire:
        sign_in(wire, monkeypatch)
        yield wire
