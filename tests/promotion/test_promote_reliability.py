"""Promotion cannot be bypassed, loses no edit, touches no other byte, and fails whole or not at all.

Regressions: the prod rule matched a substring (staging's version 21 let version 2 in; a comment counted);
`--complete` in prod wrote the file before moving the registry alias; concurrent promotes lost an edit and a
reader could see an empty file; a third deployment was silently deleted; CRLF, indentation, `---` and inline
comments changed; a broken stack file was a traceback.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from mlflow import MlflowClient
from ruamel.yaml import YAML

from core.errors import Refused
from pipelines import promotion
from tests.promotion.test_promote import registry, serving  # noqa: F401  (fixture)

STAGING = Path("stacks") / "Pulumi.staging.yaml"
PROD = Path("stacks") / "Pulumi.prod.yaml"


def promote(cli, repo, *args, registry_uri):
    return cli(["promote", *args], cwd=repo, MLFLOW_TRACKING_URI=registry_uri)


def refused_port() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


# --- staging before prod ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "edit",
    [
        lambda text: text.replace("model: predictive-maintenance:1\n", "model: predictive-maintenance:21\n", 1),
        lambda text: text.replace("config:\n", "config:\n  # next: model: predictive-maintenance:2\n", 1),
        lambda text: text.replace("config:\n", "config:\n  mlops-platform:batch:\n    model: predictive-maintenance:2\n", 1),
    ],
    ids=["version-21-in-staging", "a-comment", "the-batch-model"],
)
def test_prod_needs_the_exact_model_version_in_stagings_serving_config(project_repo, cli, registry, commit, edit):
    stack_file = project_repo / STAGING
    stack_file.write_text(edit(stack_file.read_text()))
    commit(project_repo, "staging declares something that is not version 2 serving")
    result = promote(cli, project_repo, "--stack", "prod", "--model", "predictive-maintenance:2", "--traffic", "10", registry_uri=registry)
    assert (result.returncode, result.stderr) == (1, "refused: predictive-maintenance:2 never served in staging; promote it there first\n")


def test_prod_takes_a_new_scoring_environment_only_after_staging_served_it(project_repo, cli, registry, commit):
    staging = promote(cli, project_repo, "--stack", "staging", "--model", "predictive-maintenance:2", "--traffic", "10",
                      "--environment", "mlops-serving:2", registry_uri=registry)  # fmt: skip
    assert staging.returncode == 0, staging.stderr
    commit(project_repo, "staging canary v2 on mlops-serving:2")
    args = ["--stack", "prod", "--model", "predictive-maintenance:2", "--traffic", "10", "--environment"]
    unseen = promote(cli, project_repo, *args, "mlops-serving:21", registry_uri=registry)  # 21 is not 2
    assert (unseen.returncode, unseen.stderr) == (
        1, "refused: the scoring environment mlops-serving:21 never served in staging; promote it there first\n"
    )
    served = promote(cli, project_repo, *args, "mlops-serving:2", registry_uri=registry)
    assert served.returncode == 0, served.stderr
    assert serving(project_repo, "prod")["deployments"][1]["environment"] == "mlops-serving:2"


def test_history_counts_parsed_versions_and_skips_broken_ones(project_repo, cli, registry, commit):
    stack_file = project_repo / STAGING
    original = stack_file.read_text()
    assert promote(cli, project_repo, "--stack", "staging", "--model", "predictive-maintenance:2", "--traffic", "10", registry_uri=registry).returncode == 0
    commit(project_repo, "staging canary v2")
    stack_file.write_text("config: [unclosed\n")
    commit(project_repo, "a broken version")
    stack_file.write_text(original)
    commit(project_repo, "back to v1 only")
    result = promote(cli, project_repo, "--stack", "prod", "--model", "predictive-maintenance:2", "--traffic", "10", registry_uri=registry)
    assert result.returncode == 0, result.stderr
    assert promote(cli, project_repo, "--stack", "prod", "--rollback", registry_uri=registry).returncode == 0
    result = promote(cli, project_repo, "--stack", "prod", "--model", "predictive-maintenance:3", "--traffic", "10", registry_uri=registry)
    assert result.returncode == 1 and "never served in staging" in result.stderr


# --- side effects in order ----------------------------------------------------------------------------------------


def test_a_registry_failure_while_completing_in_prod_leaves_the_file_and_a_rerun_completes(
    project_repo, cli, registry, commit, monkeypatch
):
    assert promote(cli, project_repo, "--stack", "staging", "--model", "predictive-maintenance:2", "--traffic", "10", registry_uri=registry).returncode == 0
    commit(project_repo, "staging canary")
    assert promote(cli, project_repo, "--stack", "prod", "--model", "predictive-maintenance:2", "--traffic", "10", registry_uri=registry).returncode == 0
    before = (project_repo / PROD).read_bytes()
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    unreachable = refused_port()
    failed = promote(cli, project_repo, "--stack", "prod", "--complete", registry_uri=unreachable)
    assert failed.returncode == 2 and "Traceback" not in failed.stderr
    assert failed.stderr.startswith(f"error: cannot use the MLflow store {unreachable} (MLFLOW_TRACKING_URI): ")
    assert (project_repo / PROD).read_bytes() == before  # the alias did not move, so the file did not change
    rerun = promote(cli, project_repo, "--stack", "prod", "--complete", registry_uri=registry)
    assert rerun.returncode == 0, rerun.stderr
    assert [d["model"] for d in serving(project_repo, "prod")["deployments"]] == ["predictive-maintenance:2"]
    client = MlflowClient(tracking_uri=registry, registry_uri=registry)
    assert str(client.get_model_version_by_alias("predictive-maintenance", "production").version) == "2"


def test_an_unreachable_registry_is_not_a_missing_version(project_repo, cli, monkeypatch):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    result = promote(cli, project_repo, "--stack", "staging", "--model", "predictive-maintenance:2", "--traffic", "10", registry_uri=refused_port())
    assert result.returncode == 2 and "cannot use the MLflow store" in result.stderr


# --- concurrency --------------------------------------------------------------------------------------------------


def test_parallel_promotes_never_lose_an_edit_and_readers_never_see_a_partial_file(project_repo):
    """Eight promotes of eight different models start together (a barrier in the registry lookup, the last step
    before the file is read): without the lock several read the same file and all succeed, each writing its own
    canary. With it, exactly one wins and the others see its rollout in progress. A reader meanwhile parses the
    file continuously: it must always hold a complete stack file."""
    path = project_repo / STAGING
    count = 8
    barrier = threading.Barrier(count)

    def exists(name: str, version: str) -> bool:
        barrier.wait(timeout=30)
        return True

    stop, torn = threading.Event(), []

    def read_continuously() -> None:
        while not stop.is_set():
            text = path.read_text()
            document = YAML(typ="safe").load(text)
            if not isinstance(document, dict) or "mlops-platform:serving" not in document.get("config", {}):
                torn.append(text)

    reader = threading.Thread(target=read_continuously)
    reader.start()
    from core import config as stack_config

    stacks_dir = stack_config.STACKS_DIR
    try:
        stack_config.STACKS_DIR = project_repo / "stacks"

        def attempt(version: int):
            try:
                return promotion.promote(
                    "staging", f"predictive-maintenance:{version}", 10, "canary", exists, project_repo, dry_run=False
                )
            except Refused as refusal:
                return refusal

        with ThreadPoolExecutor(count) as pool:
            outcomes = list(pool.map(attempt, range(2, 2 + count)))
    finally:
        stack_config.STACKS_DIR = stacks_dir
        stop.set()
        reader.join()
    winners = [o for o in outcomes if isinstance(o, promotion.Promotion)]
    assert len(winners) == 1, [getattr(o, "summary", o) for o in outcomes]
    [winner] = winners
    assert all("is in progress as 'green'" in str(o) for o in outcomes if o is not winner)
    assert path.read_text() == winner.after and torn == []
    document = YAML(typ="safe").load(path.read_text())["config"]["mlops-platform:serving"]
    assert [d["model"] for d in document["deployments"]] == ["predictive-maintenance:1", winner.after.split("model: ")[2].split("\n")[0]]


def test_parallel_cli_promotes_one_wins(project_repo, registry):
    """The same through the command line: four processes, four models; one canary, three refusals, no loss."""
    commands = [
        [sys.executable, "-m", "mlops", "promote", "--stack", "staging", "--model", f"predictive-maintenance:{v}", "--traffic", "10"]
        for v in (2, 3, 2, 3)
    ]
    env = {"MLFLOW_TRACKING_URI": registry, "PATH": "/usr/bin:/bin"}
    processes = [subprocess.Popen(c, cwd=project_repo, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for c in commands]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in processes]
    codes = sorted(code for code, _ in results)
    assert codes in ([0, 0, 1, 1], [0, 1, 1, 1]), results  # a repeat of the winning model just sets 10% again
    models = [d["model"] for d in serving(project_repo, "staging")["deployments"]]
    assert len(models) == 2 and models[0] == "predictive-maintenance:1"
    winners = {stderr.split("promoted: ")[1].split(" canary")[0] for code, stderr in results if code == 0}
    assert winners == {models[1]}


# --- what promote touches -----------------------------------------------------------------------------------------

THREE = """config:
  mlops-platform:location: westeurope
  mlops-platform:owner: team
  mlops-platform:costCenter: cc-1
  mlops-platform:alerts: {emailReceivers: [{name: team, address: team@example.com}]}
  mlops-platform:network: {mode: public}
  mlops-platform:serving:
    environment: mlops-serving:1
    deployments:
      - {name: blue, model: "predictive-maintenance:1"}
      - {name: green, model: "predictive-maintenance:2"}
      - {name: red, model: "predictive-maintenance:3"}
    traffic: {blue: 80, green: 10, red: 10}
"""


@pytest.mark.parametrize("args", [["--complete"], ["--rollback"], ["--model", "predictive-maintenance:2", "--traffic", "20"]])
def test_three_deployments_are_refused_and_left_alone(project_repo, cli, registry, args):
    (project_repo / STAGING).write_text(THREE)
    result = promote(cli, project_repo, "--stack", "staging", *args, registry_uri=registry)
    assert result.returncode == 1 and result.stderr == (
        "refused: stacks/Pulumi.staging.yaml declares 3 deployments (blue, green, red); promote moves traffic "
        "between two (the live one and a canary) and never removes others: retire the extra ones by hand\n"
    )
    assert (project_repo / STAGING).read_text() == THREE


ODD = (
    "---\r\n"
    "# staging, edited by hand: CRLF, 4-space maps, unindented lists, inline comments\r\n"
    "config:\r\n"
    "    mlops-platform:location: westeurope   # region\r\n"
    "    mlops-platform:owner: team\r\n"
    "    mlops-platform:costCenter: cc-1\r\n"
    "    mlops-platform:alerts: {emailReceivers: [{name: team, address: team@example.com}]}\r\n"
    "    mlops-platform:network: {mode: public}\r\n"
    "    mlops-platform:workspace: {isolationMode: AllowInternetOutbound}\r\n"
    "    mlops-platform:serving:\r\n"
    "        environment: mlops-serving:1   # in the shared registry\r\n"
    "        deployments:\r\n"
    "        - name: blue      # the live slot\r\n"
    "          model: predictive-maintenance:1   # name:version\r\n"
    "          livenessProbe: {initialDelaySeconds: 20}\r\n"
    "        traffic:\r\n"
    "            blue: 100   # all of it\r\n"
    "    mlops-platform:batch:\r\n"
    "        model: predictive-maintenance:1\r\n"
    "...\r\n"
)


def test_promote_changes_only_the_lines_it_must(project_repo, cli, registry):
    path = project_repo / STAGING
    path.write_bytes(ODD.encode())
    assert promote(cli, project_repo, "--stack", "staging", "--model", "predictive-maintenance:2", "--traffic", "10", registry_uri=registry).returncode == 0
    canary = path.read_bytes().decode()
    assert canary == ODD.replace(
        "        traffic:\r\n            blue: 100   # all of it\r\n",
        "        - name: green\r\n          model: predictive-maintenance:2\r\n"
        "          livenessProbe:\r\n            initialDelaySeconds: 20\r\n"
        "        traffic:\r\n            blue: 90\r\n            green: 10\r\n",
    )
    assert promote(cli, project_repo, "--stack", "staging", "--complete", registry_uri=registry).returncode == 0
    assert path.read_bytes().decode() == ODD.replace(
        "        - name: blue      # the live slot\r\n          model: predictive-maintenance:1   # name:version\r\n"
        "          livenessProbe: {initialDelaySeconds: 20}\r\n",
        "",
    ).replace(
        "        traffic:\r\n            blue: 100   # all of it\r\n",
        "        - name: green\r\n          model: predictive-maintenance:2\r\n"
        "          livenessProbe:\r\n            initialDelaySeconds: 20\r\n"
        "        traffic:\r\n            green: 100\r\n",
    )


def test_the_file_keeps_its_mode(project_repo, cli, registry):
    path = project_repo / STAGING
    path.chmod(0o640)
    assert promote(cli, project_repo, "--stack", "staging", "--model", "predictive-maintenance:2", "--traffic", "10", registry_uri=registry).returncode == 0
    assert path.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")] == []


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("config: [unclosed\n", "error: stacks/Pulumi.staging.yaml: config: not valid YAML at line 2, column 1: "),
        ("config:\n  mlops-platform:serving: {deployments: [{name: blue}], traffic: {blue: 100}}\n", "error: stacks/Pulumi.staging.yaml: mlops-platform:"),
        ("\xff", "error: stacks/Pulumi.staging.yaml: config: not UTF-8"),
    ],
    ids=["not-yaml", "invalid-config", "not-utf8"],
)
def test_a_broken_stack_file_is_bad_input(project_repo, cli, registry, content, message):
    (project_repo / STAGING).write_bytes(content.encode("latin-1"))
    for args in (["--complete"], ["--model", "predictive-maintenance:2", "--traffic", "10"]):
        result = promote(cli, project_repo, "--stack", "staging", *args, registry_uri=registry)
        assert result.returncode == 2 and result.stderr.startswith(message) and "Traceback" not in result.stderr
