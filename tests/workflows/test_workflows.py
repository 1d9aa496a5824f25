"""The delivery workflows (.github/): linted by actionlint and zizmor, and checked on the parsed YAML.

What GitHub cannot be told in YAML (required reviewers on an environment) is checked in the README's
Delivery section, where adopters read it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from core.outputs import StackOutputs

ROOT = Path(__file__).resolve().parents[2]
GITHUB = ROOT / ".github"
STACKS = ["dev", "staging", "prod"]
PREVIEW_COMMAND = "python -m mlops preview --stack all"  # the README's main command (`make preview`)
PULUMI_WORKFLOW = "$/.github/workflows/pulumi.yml"  # the one place pulumi preview/up runs
RUNNER_WORKFLOW = "$/.github/workflows/runner.yml"  # where a stack's data-plane jobs run
FUNCTION_WORKFLOW = "$/.github/workflows/function.yml"
TRAIN_WORKFLOW = "$/.github/workflows/train.yml"
RUNS_ON_STACK_RUNNER = "${{ fromJSON(needs.runner.outputs.runner) }}"
IDENTITY_LOGIN = 'az login --identity --client-id "$AZURE_CLIENT_ID" --output none'
SETUP_ACTION = "$/.github/actions/setup"
FULL_SHA_PIN = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
PYTHON_RUN = re.compile(r"\bpython\b|\.ci/run|\bmake\b")


def load(path: Path) -> dict:
    return YAML(typ="safe").load(path.read_text())  # YAML 1.2: the key `on` stays a string


WORKFLOW_FILES = sorted((GITHUB / "workflows").glob("*.y*ml"))
ACTION_FILES = sorted(GITHUB.glob("actions/*/action.y*ml"))
WORKFLOWS = {path.stem: load(path) for path in WORKFLOW_FILES}


def jobs() -> Iterator[tuple[str, str, dict]]:
    for name, workflow in WORKFLOWS.items():
        for job_id, job in workflow["jobs"].items():
            yield name, job_id, job


def steps() -> Iterator[tuple[str, dict]]:
    """Every step of every workflow job and composite action, with a label for messages."""
    for name, job_id, job in jobs():
        for step in job.get("steps", []):
            yield f"{name}.{job_id}", step
    for path in ACTION_FILES:
        for step in load(path)["runs"]["steps"]:
            yield path.parent.name, step


def uses(step_or_job: dict) -> str:
    """The action or workflow without its ref: `actions/checkout`, `$/.github/actions/setup`."""
    return step_or_job.get("uses", "").split("@")[0]


def step_using(job: dict, action: str) -> list[dict]:
    return [step for step in job.get("steps", []) if uses(step) == action]


def run_scripts(job: dict) -> str:
    return "\n".join(step.get("run", "") for step in job.get("steps", []))


def tool(name: str) -> str:
    """A linter installed from requirements.txt: the venv's bin directory first, then PATH."""
    found = shutil.which(name, path=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    if found is None:
        pytest.fail(f"{name} not found: install requirements.txt into the venv")
    return found


# --- linters -------------------------------------------------------------------------------------


def test_there_are_the_delivery_workflows_and_the_setup_action():
    assert {"pr-preview", "deploy", "train", "pulumi", "function", "bootstrap", "runner"} <= set(WORKFLOWS)
    assert GITHUB / "actions" / "setup" / "action.yml" in ACTION_FILES


def test_actionlint_passes_on_every_workflow():
    result = subprocess.run(
        [tool("actionlint"), "-color=false", *map(str, WORKFLOW_FILES)], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_zizmor_offline_finds_nothing():
    result = subprocess.run(
        [tool("zizmor"), "--offline", "--no-progress", str(GITHUB)], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_zizmor_ignore_gives_a_reason():
    for path in [*WORKFLOW_FILES, *ACTION_FILES]:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if match := re.search(r"zizmor: ignore\[[\w,-]+\](.*)", line):
                assert match.group(1).strip(), f"{path.name}:{number}: say why the finding is ignored"


# --- supply chain and credentials ----------------------------------------------------------------


def test_every_action_is_pinned_to_a_full_commit_sha_with_its_version():
    pins: dict[str, set[str]] = {}
    for path in [*WORKFLOW_FILES, *ACTION_FILES]:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if not (match := re.match(r"^\s*(?:- )?uses:\s*(\S+)(.*)$", line)):
                continue
            ref, comment = match.groups()
            if ref.startswith("$/"):
                continue  # this repository, at the workflow's own commit
            assert FULL_SHA_PIN.match(ref), f"{path.name}:{number}: {ref} is not pinned to a 40-hex commit SHA"
            assert re.match(r"^\s*# v\d+\.\d+\.\d+\b", comment), f"{path.name}:{number}: add '# vX.Y.Z' after the SHA"
            pins.setdefault(ref.split("@")[0], set()).add(ref.split("@")[1])
    assert pins, "no pinned actions found"
    assert {action: shas for action, shas in pins.items() if len(shas) > 1} == {}, "one version per action"


def test_local_actions_and_workflows_use_the_self_repository_syntax():
    for label, step in steps():
        assert not step.get("uses", "").startswith("./"), f"{label}: use $/ instead of ./"
    for name, job_id, job in jobs():
        assert not job.get("uses", "").startswith("./"), f"{name}.{job_id}: use $/ instead of ./"


def test_checkout_never_persists_credentials():
    checkouts = [(label, step) for label, step in steps() if uses(step) == "actions/checkout"]
    assert checkouts
    for label, step in checkouts:
        assert step.get("with", {}).get("persist-credentials") is False, label


def test_no_expression_inside_a_run_script():
    """Untrusted values (event payload, inputs, outputs) reach scripts only through `env:`."""
    for label, step in steps():
        assert "${{" not in step.get("run", ""), f"{label}: pass the value through env: instead"


def test_dispatch_payload_is_read_only_in_env():
    for name, path in zip(WORKFLOWS, WORKFLOW_FILES):
        text = path.read_text()
        for number, line in enumerate(text.splitlines(), 1):
            if "client_payload" in line and "${{" in line:
                assert re.match(r"^\s+[A-Z_]+: \$\{\{", line), f"{name}:{number}: client_payload outside env:"


def test_no_secret_in_plain_text():
    for path in [*WORKFLOW_FILES, *ACTION_FILES]:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            key = re.match(r"^\s*(?:- )?([\w-]+):\s*[^\s#]", line)
            if key and key[1] != "id-token" and re.search(r"token|secret|password|passphrase|creds", key[1], re.I):
                assert "${{ secrets." in line or "${{ github.token }}" in line, f"{path.name}:{number}: use secrets"


# --- permissions ---------------------------------------------------------------------------------


def test_top_level_permissions_are_empty():
    for name, workflow in WORKFLOWS.items():
        assert workflow.get("permissions") == {}, f"{name}: top-level permissions must be {{}}"


def test_every_job_declares_its_permissions():
    for name, job_id, job in jobs():
        assert "permissions" in job, f"{name}.{job_id}"


def called(job: dict) -> dict | None:
    """The local reusable workflow a job calls (`$/.github/workflows/<name>.yml`), parsed."""
    match = re.fullmatch(r"\$/\.github/workflows/([\w-]+)\.yml", job.get("uses", ""))
    return WORKFLOWS[match.group(1)] if match else None


def logs_in_to_azure(job: dict) -> bool:
    """The job has an azure/login step, or calls a workflow in which some job has one."""
    if step_using(job, "azure/login"):
        return True
    workflow = called(job)
    return workflow is not None and any(logs_in_to_azure(inner) for inner in workflow["jobs"].values())


def test_id_token_only_where_azure_login_happens_and_always_there():
    for name, job_id, job in jobs():
        has_id_token = job["permissions"].get("id-token") == "write"
        assert has_id_token == logs_in_to_azure(job), f"{name}.{job_id}: id-token: write iff azure/login"
        if step_using(job, "azure/login"):
            login = step_using(job, "azure/login")[0]["with"]
            assert set(login) == {"client-id", "tenant-id", "subscription-id"}, "OIDC: ids only, no creds"


def test_write_permissions_only_for_the_comment_and_the_promotion_pr():
    writers = {
        (name, job_id): {scope for scope, level in job["permissions"].items() if level == "write" and scope != "id-token"}
        for name, job_id, job in jobs()
    }
    assert {key: scopes for key, scopes in writers.items() if scopes} == {
        ("pr-preview", "comment"): {"pull-requests"},
        ("train", "promotion-pr"): {"contents", "pull-requests"},
        ("bootstrap", "train"): {"contents", "pull-requests"},  # calls train.yml, whose promotion-pr needs them
    }


def test_the_comment_job_runs_no_code_from_the_pull_request():
    comment = WORKFLOWS["pr-preview"]["jobs"]["comment"]
    assert not step_using(comment, "actions/checkout") and not any("run" in step for step in comment["steps"])
    assert WORKFLOWS["pr-preview"]["jobs"]["preview"]["permissions"] == {"contents": "read"}


# --- setup written once --------------------------------------------------------------------------


def test_setup_action_builds_the_venv_with_the_makefile_stamp():
    action = load(GITHUB / "actions" / "setup" / "action.yml")
    [python] = [step for step in action["runs"]["steps"] if uses(step) == "actions/setup-python"]
    assert python["with"] == {"python-version": "3.11", "cache": "pip", "cache-dependency-path": "requirements.txt"}
    assert any("make .venv/.installed" in step.get("run", "") for step in action["runs"]["steps"])
    dry_run = subprocess.run(["make", "-n", "-C", str(ROOT), ".venv/.installed"], capture_output=True, text=True)
    assert dry_run.returncode == 0, "the Makefile has no .venv/.installed stamp target: " + dry_run.stderr


def test_python_is_set_up_only_through_the_setup_action():
    for name, job_id, job in jobs():
        assert not step_using(job, "actions/setup-python"), f"{name}.{job_id}: use {SETUP_ACTION}"
        needs_python = [i for i, step in enumerate(job.get("steps", [])) if PYTHON_RUN.search(step.get("run", ""))]
        if needs_python:
            setup = [i for i, step in enumerate(job["steps"]) if uses(step) == SETUP_ACTION]
            assert setup and setup[0] < needs_python[0], f"{name}.{job_id}: {SETUP_ACTION} before running Python"


# --- pulumi: policy pack on every preview and up -------------------------------------------------


def pulumi_steps() -> list[tuple[str, dict]]:
    return [(label, step) for label, step in steps() if uses(step) == "pulumi/actions"]


def test_policy_pack_and_its_environment_config_on_every_pulumi_command():
    commands = [(label, step["with"]) for label, step in pulumi_steps() if "command" in step.get("with", {})]
    assert commands
    for label, options in commands:
        assert options["policyPacks"] == "policies", label
        assert options["policyPackConfigs"] == f"policies/config/{options['stack-name']}.json", label


def test_pulumi_preview_and_up_run_nowhere_else():
    for label, step in steps():
        assert not re.search(r"\bpulumi\s+(up|preview|update|destroy)\b", step.get("run", "")), label


def test_every_caller_of_the_pulumi_workflow_passes_a_known_command_and_stack():
    callers = [(name, job_id, job) for name, job_id, job in jobs() if job.get("uses") == PULUMI_WORKFLOW]
    assert {(name, job_id) for name, job_id, _ in callers} == {
        ("pr-preview", "pulumi-preview"),
        ("deploy", "dev"),
        ("deploy", "staging"),
        ("deploy", "prod"),
        ("bootstrap", "shared"),
        ("bootstrap", "stack"),
    }
    for name, job_id, job in callers:
        expected = "preview" if name == "pr-preview" else "up"
        assert job["with"]["command"] == expected, f"{name}.{job_id}"
        assert job["with"]["stack"] in [*STACKS, "shared", "${{ matrix.stack }}", "${{ inputs.stack }}"], f"{name}.{job_id}"
    assert WORKFLOWS["pr-preview"]["jobs"]["pulumi-preview"]["strategy"]["matrix"]["stack"] == STACKS
    assert "up/shared)" in run_scripts(WORKFLOWS["pulumi"]["jobs"]["pulumi"])  # the shared stack: up only
    assert (ROOT / "policies" / "config" / "shared.json").read_text().strip() == "{}"  # the pack's defaults


def test_local_reusable_workflows_are_only_the_known_ones():
    for name, job_id, job in jobs():
        if "uses" in job:
            assert job["uses"] in {PULUMI_WORKFLOW, RUNNER_WORKFLOW, FUNCTION_WORKFLOW, TRAIN_WORKFLOW}, f"{name}.{job_id}"
            assert "workflow_call" in called(job)["on"], f"{name}.{job_id}"


def test_pulumi_up_refreshes_and_runs_in_the_stack_environment_while_previews_use_none():
    [job] = WORKFLOWS["pulumi"]["jobs"].values()
    assert job["environment"] == "${{ inputs.command == 'up' && inputs.stack || '' }}"
    [(_, step)] = [(label, step) for label, step in pulumi_steps() if label.startswith("pulumi.")]
    assert step["with"]["refresh"] == "${{ inputs.command == 'up' }}"
    assert "GITHUB_STEP_SUMMARY" in run_scripts(job) and "pulumi stack output" in run_scripts(job)


def test_policy_config_files_exist_for_every_stack():
    for stack in STACKS:
        assert (ROOT / "policies" / "config" / f"{stack}.json").is_file(), f"policies/config/{stack}.json"


# --- deploy ---------------------------------------------------------------------------------------


def test_deploy_runs_on_main_in_order_dev_staging_prod_each_up_followed_by_its_function_code():
    deploy = WORKFLOWS["deploy"]
    assert deploy["on"] == {"push": {"branches": ["main"]}}
    assert list(deploy["jobs"]) == ["dev", "dev-function", "staging", "staging-function", "prod", "prod-function"]
    needs = {job_id: job.get("needs") for job_id, job in deploy["jobs"].items()}
    assert needs == {
        "dev": None, "dev-function": "dev",
        "staging": "dev-function", "staging-function": "staging",
        "prod": "staging-function", "prod-function": "prod",
    }  # fmt: skip
    for stack in STACKS:
        up, code = deploy["jobs"][stack], deploy["jobs"][f"{stack}-function"]
        assert (up["uses"], up["with"]) == (PULUMI_WORKFLOW, {"command": "up", "stack": stack})
        assert (code["uses"], code["with"]) == (FUNCTION_WORKFLOW, {"stack": stack})


def test_one_deploy_per_stack_at_a_time_never_cancelled():
    for stack in STACKS:
        job = WORKFLOWS["deploy"]["jobs"][stack]
        assert job["concurrency"] == {"group": f"deploy-{stack}", "cancel-in-progress": False}
        # The code deploy's group is inside function.yml (a caller holding the same group would deadlock).
        assert "concurrency" not in WORKFLOWS["deploy"]["jobs"][f"{stack}-function"]
    deploy = WORKFLOWS["function"]["jobs"]["deploy"]
    assert deploy["concurrency"] == {"group": "function-${{ inputs.stack }}", "cancel-in-progress": False}


def test_readme_documents_required_reviewers_for_staging_and_prod():
    readme = (ROOT / "README.md").read_text()
    assert "## Delivery" in readme, "paste .readme-parts/delivery.md into the README"
    delivery = readme.split("## Delivery", 1)[1].split("\n## ", 1)[0]
    assert re.search(r"required reviewers", delivery, re.IGNORECASE)
    assert "`staging`" in delivery and "`prod`" in delivery


# --- pull request preview ------------------------------------------------------------------------


def preview_step() -> dict:
    [step] = [s for s in WORKFLOWS["pr-preview"]["jobs"]["preview"]["steps"] if s.get("id") == "preview"]
    return step


def test_preview_job_runs_the_readmes_main_command_against_the_base():
    assert PREVIEW_COMMAND in (ROOT / "README.md").read_text()
    command = next(line for line in preview_step()["run"].splitlines() if PREVIEW_COMMAND in line)
    for option in ('--base "origin/$BASE_REF"', "--format markdown", "--out preview.md"):
        assert option in command
    assert preview_step()["env"]["BASE_REF"] == "${{ github.base_ref }}"
    [checkout] = step_using(WORKFLOWS["pr-preview"]["jobs"]["preview"], "actions/checkout")
    assert checkout["with"]["fetch-depth"] == 0


def test_preview_failure_fails_the_check_after_the_comment_is_posted():
    assert "set +e" in preview_step()["run"] and "exit-code=" in preview_step()["run"]
    last = WORKFLOWS["pr-preview"]["jobs"]["preview"]["steps"][-1]
    assert last["if"] == "steps.preview.outputs.exit-code != '0'" and 'exit "$EXIT_CODE"' in last["run"]
    comment = WORKFLOWS["pr-preview"]["jobs"]["comment"]
    assert comment["needs"] == "preview" and comment["if"].startswith("!cancelled()")


def test_one_sticky_comment():
    comments = [(label, s) for label, s in steps() if uses(s) == "marocchino/sticky-pull-request-comment"]
    assert len(comments) == 1
    [(label, step)] = comments
    assert label == "pr-preview.comment" and step["with"]["header"] and step["with"]["path"] == "comment.md"


def test_pull_requests_run_the_test_suite():
    assert ".ci/run" in run_scripts(WORKFLOWS["pr-preview"]["jobs"]["test"])


def test_real_preview_only_when_azure_and_pulumi_are_configured():
    job = WORKFLOWS["pr-preview"]["jobs"]["pulumi-preview"]
    assert job["needs"] == "settings" and job["if"] == "needs.settings.outputs.pulumi == 'true'"
    check = WORKFLOWS["pr-preview"]["jobs"]["settings"]["steps"][0]["env"]
    assert "vars.AZURE_CLIENT_ID" in check["HAS_AZURE"] and "secrets.PULUMI_ACCESS_TOKEN" in check["HAS_BACKEND"]


# --- train and retrain ---------------------------------------------------------------------------


def test_train_runs_on_demand_and_on_the_retrain_dispatch():
    on = WORKFLOWS["train"]["on"]
    assert on["workflow_dispatch"]["inputs"]["stack"]["options"] == STACKS
    assert on["repository_dispatch"] == {"types": ["retrain"]}


def test_requested_stack_is_checked_against_the_allow_list():
    [validate] = WORKFLOWS["train"]["jobs"]["request"]["steps"]
    assert "client_payload.stack" in validate["env"]["REQUESTED_STACK"]
    assert "|".join(STACKS) + ")" in validate["run"] and "exit 1" in validate["run"]
    assert "dev|staging|none)" in validate["run"] and validate["env"]["PROMOTE_TO"] == "${{ inputs.promote-to || 'staging' }}"
    train = WORKFLOWS["train"]["jobs"]["train"]
    assert train["needs"] == ["request", "runner"] and train["env"]["STACK"] == "${{ needs.request.outputs.stack }}"
    assert WORKFLOWS["train"]["jobs"]["runner"]["with"] == {"stack": "${{ needs.request.outputs.stack }}"}


def validate_request(tmp_path: Path, **env: str) -> tuple[int, dict[str, str]]:
    """Run train.yml's request check as Actions would: the inputs in the environment, outputs to $GITHUB_OUTPUT."""
    [step] = WORKFLOWS["train"]["jobs"]["request"]["steps"]
    output, summary = tmp_path / "output", tmp_path / "summary"
    output.write_text(""), summary.write_text("")
    values = {"REQUESTED_STACK": "prod", "ALERT_ID": "", "JOB": "", "PROMOTE_TO": "staging"} | env
    done = subprocess.run(["bash", "-e", "-c", step["run"]], capture_output=True, text=True,
                          env={"PATH": os.environ["PATH"], "GITHUB_OUTPUT": str(output), "GITHUB_STEP_SUMMARY": str(summary), **values})  # fmt: skip
    return done.returncode, dict(line.split("=", 1) for line in output.read_text().splitlines())


def test_the_retrain_function_dispatches_train_yml_with_the_job_it_submitted(tmp_path):
    inputs = WORKFLOWS["train"]["on"]["workflow_dispatch"]["inputs"]
    assert inputs["job"]["type"] == "string" and inputs["alert_id"]["type"] == "string"
    # dispatch.py sends exactly these inputs; GitHub refuses a dispatch with an input the workflow does not declare
    from pipelines.retrain_trigger.dispatch import PromotionDispatch

    sent = PromotionDispatch("o/r", "train.yml", "main", "https://v/secrets/t").body("prod", "job-1", "alert")["inputs"]
    assert set(sent) == set(inputs)
    assert validate_request(tmp_path, JOB="calm_apple_7x2k9") == (0, {"stack": "prod", "promote-to": "staging", "job": "calm_apple_7x2k9"})
    assert validate_request(tmp_path)[1]["job"] == ""  # no job: this run submits one
    for bad in ("job; curl evil", "$(id)", "-rf", "x" * 256):
        assert validate_request(tmp_path, JOB=bad)[0] == 1, bad
    [step] = [s for s in WORKFLOWS["train"]["jobs"]["train"]["steps"] if "--adopt" in s.get("run", "")]
    assert step["env"] == {"JOB": "${{ needs.request.outputs.job }}"}
    assert 'python -m mlops pipeline run --stack "$STACK" --adopt "$JOB" --format json --out run.json' in step["run"]


def test_training_submits_waits_and_checks_the_final_status():
    train = WORKFLOWS["train"]["jobs"]["train"]
    scripts = run_scripts(train)
    assert 'python -m mlops pipeline run --stack "$STACK" --submit' in scripts
    assert '[ "$status" != "Completed" ]' in scripts  # Failed, Canceled, anything else stops here
    assert train["concurrency"] == {"group": "train-${{ needs.request.outputs.stack }}", "cancel-in-progress": False}


def test_a_passing_model_opens_a_promotion_pull_request_for_staging_or_the_callers_stack():
    train = WORKFLOWS["train"]["jobs"]["train"]
    assert train["env"]["PROMOTE_TO"] == "${{ needs.request.outputs.promote-to }}"
    assert 'python -m mlops promote --stack "$PROMOTE_TO" --model "$MODEL" --traffic 10 --registry shared' in run_scripts(train)
    [promote] = [s for s in train["steps"] if "mlops promote" in s.get("run", "")]
    assert promote["if"] == "github.ref == 'refs/heads/main' && env.PROMOTE_TO != 'none'"
    [upload] = [s for s in step_using(train, "actions/upload-artifact") if s["with"]["name"] == "promotion"]
    assert upload["with"]["path"] == "stacks/Pulumi.${{ needs.request.outputs.promote-to }}.yaml"
    pr = WORKFLOWS["train"]["jobs"]["promotion-pr"]
    assert pr["needs"] == ["request", "train"] and "needs.train.outputs.model != ''" in pr["if"]
    assert "needs.request.outputs.promote-to != 'none'" in pr["if"]
    [create] = step_using(pr, "peter-evans/create-pull-request")
    assert create["with"]["add-paths"] == "stacks/Pulumi.${{ needs.request.outputs.promote-to }}.yaml"
    assert create["with"]["base"] == "main"
    call = WORKFLOWS["train"]["on"]["workflow_call"]
    assert call["inputs"]["stack"]["required"] is True and call["inputs"]["promote-to"]["default"] == "staging"
    assert set(call["secrets"]) == {"PULUMI_ACCESS_TOKEN", "PROMOTION_TOKEN"}


def test_a_trained_model_is_shared_into_the_registry_deployments_read_and_never_overwritten():
    train = WORKFLOWS["train"]["jobs"]["train"]
    [share] = [s for s in train["steps"] if "az ml model share" in s.get("run", "")]
    names = [s.get("name") or s.get("uses") for s in train["steps"]]
    assert names.index("Check the final status") < names.index(share["name"]) < names.index("python -m mlops promote --traffic 10")
    script = share["run"]
    assert "registry=$(jq -r '.mlRegistryName // \"\"' outputs.json)" in script
    assert '--registry-name "$registry" --share-with-name "$name" --share-with-version "$version"' in script
    show = script.index('az ml model show --registry-name "$registry" --name "$name" --version "$version"')
    assert show < script.index("az ml model share") and "exit 1" in script[show : script.index("az ml model share")]


def test_a_promoted_model_gets_its_edge_model_image_in_devs_registry_and_the_promoted_stacks():
    """The ONNX file travels like the module: an image per version, built in dev's registry (buildx, both arches),
    imported by resource id where the promotion goes (bootstrap.yml's images pattern), checked against its digest."""
    jobs_ = WORKFLOWS["train"]["jobs"]
    train = jobs_["train"]
    names = [s.get("name") or s.get("uses") for s in train["steps"]]
    [download] = [s for s in train["steps"] if "az ml model download" in s.get("run", "")]
    assert names.index("Share the model into the shared Azure ML registry") < names.index(download["name"]) < names.index("python -m mlops promote --traffic 10")
    script = download["run"]
    assert download["if"] == "env.PROMOTE_TO != 'none'"
    assert 'az ml model show --registry-name "$registry" --name "$name" --version "$version" --query tags.onnx_sha256 --output tsv' in script
    assert 'az ml model download --registry-name "$registry" --name "$name" --version "$version" --download-path edge-download' in script
    checked = script.index('"$(sha256sum "$onnx" | cut -d \' \' -f 1)" != "$expected"')
    assert script.index("^[0-9a-f]{64}$") < script.index("az ml model download") < checked < script.index("cp \"$onnx\" edge-model/model.onnx")
    [artifact] = [s for s in step_using(train, "actions/upload-artifact") if s["with"]["name"] == "edge-model"]
    assert artifact["with"]["path"] == "edge-model/" and artifact["if"] == "env.PROMOTE_TO != 'none'"

    build = jobs_["edge-model-image"]
    assert build["needs"] == ["request", "train"] and build["runs-on"] == "ubuntu-latest" and build["environment"] == "dev"
    assert build["if"] == "needs.train.outputs.model != '' && needs.request.outputs.promote-to != 'none'"
    [fetched] = step_using(build, "actions/download-artifact")
    assert fetched["with"] == {"name": "edge-model", "path": "edge-model"}
    script = " ".join(run_scripts(build).replace("\\\n", " ").split())
    assert "registry=$(pulumi stack output registryLoginServer --stack dev)" in script
    assert 'echo "$digest edge-model/model.onnx" | sha256sum --check --status' in script  # the file the train job checked
    assert "cp pipelines/edge/deliver-model.sh edge-model/" in script and 'image="$registry/mlops/edge-model/$name:$version"' in script
    assert ('docker buildx build --platform linux/amd64,linux/arm64 --file pipelines/edge/model.Dockerfile '
            '--build-arg MODEL_SHA256="$digest" --tag "$image" --push edge-model') in script  # fmt: skip
    assert script.index("sha256sum --check") < script.index("docker buildx build")

    imported = jobs_["edge-model-import"]
    assert imported["needs"] == ["request", "train", "edge-model-image"] and imported["runs-on"] == "ubuntu-latest"
    assert imported["environment"] == "${{ needs.request.outputs.promote-to }}"
    assert imported["if"] == "needs.request.outputs.promote-to != 'dev' && needs.request.outputs.promote-to != 'none'"
    script = run_scripts(imported)
    assert 'source_id=$(az acr show --name "$dev_registry" --query id --output tsv)' in script
    assert 'az acr import --name "$registry" --source "$image" --registry "$source_id" --force --output none' in script
    assert 'image="mlops/edge-model/$name:$version"' in script
    # The repository the manifests name (components/edge_manifest.py) is the one the workflow fills.
    from components.edge_manifest import MODEL_IMAGE_REPOSITORY

    assert MODEL_IMAGE_REPOSITORY == "mlops/edge-model"


# --- runners: data planes from the stack's runner, pulumi from GitHub-hosted ones ---------------------------------

# Every job that touches a data plane (workspace, registries, the function's deployment endpoint), by workflow.
DATA_PLANE_JOBS = {("train", "train"), ("function", "deploy"), ("bootstrap", "scoring-environment")}


def choose_runner(stack: str, tmp_path: Path) -> tuple[int, dict[str, str]]:
    """Run runner.yml's script as Actions would: STACK in the environment, outputs appended to $GITHUB_OUTPUT."""
    [step] = WORKFLOWS["runner"]["jobs"]["choose"]["steps"]
    output = tmp_path / f"output-{stack or 'empty'}"
    output.touch()
    done = subprocess.run(["bash", "-e", "-c", step["run"]], env={"PATH": os.environ["PATH"], "STACK": stack,
                          "GITHUB_OUTPUT": str(output)}, capture_output=True, text=True)  # fmt: skip
    return done.returncode, dict(line.split("=", 1) for line in output.read_text().splitlines())


def test_runner_table_matches_every_stacks_runner_label(stacks, tmp_path):
    """dev (public, runnerLabel null) -> ubuntu-latest with OIDC; private stacks -> their own labelled runners."""
    for stack in STACKS:
        code, outputs = choose_runner(stack, tmp_path)
        label = stacks[stack].outputs["runnerLabel"]
        expected = "ubuntu-latest" if label is None else ["self-hosted", label]
        assert (code, json.loads(outputs["runner"]), outputs["login"]) == (0, expected, "oidc" if label is None else "identity")
    assert stacks["dev"].outputs["runnerLabel"] is None and stacks["prod"].outputs["runnerLabel"] == "mlops-prod"
    assert choose_runner("qa", tmp_path)[0] == 1 and choose_runner("", tmp_path)[0] == 1
    outputs = WORKFLOWS["runner"]["on"]["workflow_call"]["outputs"]
    assert {key: value["value"] for key, value in outputs.items()} == {
        "runner": "${{ jobs.choose.outputs.runner }}", "login": "${{ jobs.choose.outputs.login }}"}


def test_data_plane_jobs_run_on_the_stacks_runner_and_sign_in_as_it():
    found = set()
    for name, job_id, job in jobs():
        if job.get("runs-on") != RUNS_ON_STACK_RUNNER:
            continue
        found.add((name, job_id))
        assert "runner" in job["needs"], f"{name}.{job_id}"
        runner = WORKFLOWS[name]["jobs"]["runner"]
        assert runner["uses"] == RUNNER_WORKFLOW and runner["permissions"] == {}
        assert job["environment"] == runner["with"]["stack"], f"{name}.{job_id}: the runner of the job's own stack"
        [oidc] = step_using(job, "azure/login")
        assert oidc["if"] == "needs.runner.outputs.login == 'oidc'"
        [identity] = [s for s in job["steps"] if "az login --identity" in s.get("run", "")]
        assert identity["if"] == "needs.runner.outputs.login == 'identity'"
        assert identity["run"].splitlines()[0] == IDENTITY_LOGIN  # AZURE_CLIENT_ID: the runner container's variable
        assert "AZURE_CLIENT_ID" not in {**job.get("env", {}), **identity.get("env", {})}, "never overridden by a job"
    assert found == DATA_PLANE_JOBS


def test_pulumi_and_arm_only_jobs_stay_on_github_hosted_runners():
    assert WORKFLOWS["pulumi"]["jobs"]["pulumi"]["runs-on"] == "ubuntu-latest"
    for name, job_id, job in jobs():
        if (name, job_id) not in DATA_PLANE_JOBS and "runs-on" in job:
            assert job["runs-on"] == "ubuntu-latest", f"{name}.{job_id}"
        assert "self-hosted" not in json.dumps(job.get("runs-on", "")), f"{name}.{job_id}: pick runners via runner.yml"


# --- the retrain function's code deploy --------------------------------------------------------------------------


def test_function_deploy_builds_the_package_once_and_deploys_it_with_config_zip():
    function = WORKFLOWS["function"]
    assert function["on"]["workflow_call"]["inputs"]["stack"]["required"] is True
    assert function["on"]["workflow_dispatch"]["inputs"]["stack"]["options"] == STACKS
    package = function["jobs"]["package"]
    assert package["runs-on"] == "ubuntu-latest" and package["permissions"] == {"contents": "read"}
    assert "python -m pipelines.retrain_trigger.package --out dist/retrain.zip" in run_scripts(package)
    [upload] = step_using(package, "actions/upload-artifact")
    deploy = function["jobs"]["deploy"]
    assert deploy["needs"] == ["runner", "package"] and deploy["environment"] == "${{ inputs.stack }}"
    assert deploy["permissions"] == {"contents": "read", "id-token": "write"}
    [download] = step_using(deploy, "actions/download-artifact")
    assert (download["with"]["name"], download["with"]["path"]) == (upload["with"]["name"], "dist")
    assert upload["with"]["path"] == "dist/retrain.zip"
    [zip_deploy] = [s for s in deploy["steps"] if "config-zip" in s.get("run", "")]
    command = " ".join(zip_deploy["run"].replace("\\\n", " ").split())
    assert ('az functionapp deployment source config-zip --resource-group "$GROUP" --name "$APP" '
            "--src dist/retrain.zip --build-remote true --output none") in command  # fmt: skip
    assert zip_deploy["env"] == {"APP": "${{ steps.app.outputs.name }}", "GROUP": "${{ steps.app.outputs.group }}"}
    app = next(s for s in deploy["steps"] if s.get("id") == "app")["run"]
    assert "jq -r '.retrainFunctionName // \"\"' outputs.json" in app and "jq -r '.resourceGroupName // \"\"'" in app


def test_function_deploy_uses_entra_id_never_publishing_credentials():
    """Basic-auth publishing is off on the app: no publish profile, no SCM credentials, no deploy action with them."""
    text = (GITHUB / "workflows" / "function.yml").read_text().lower()
    for forbidden in ("publish-profile", "publishing-credentials", "azure/functions-action", "scm-basic", "--password"):
        assert forbidden not in text, forbidden
    deploy = WORKFLOWS["function"]["jobs"]["deploy"]
    names = [s.get("name") or s.get("uses", "").split("@")[0] for s in deploy["steps"]]
    assert names.index("azure/login") < names.index("az functionapp deployment source config-zip (OneDeploy, Entra ID)")
    assert names.index("Sign in as the runners' managed identity") < names.index("The app named by the stack outputs")


def test_workflows_read_only_outputs_of_the_contract():
    keys = set(StackOutputs.output_keys())
    read = set()
    for _label, step in steps():
        script = step.get("run", "")
        read |= set(re.findall(r"jq -r '\.(\w+) //", script)) - {"status", "model"}  # run.json of the pipeline
        read |= set(re.findall(r"pulumi stack output (\w+) --stack", script))
    assert read == {"retrainFunctionName", "resourceGroupName", "mlRegistryName", "workspaceName", "registryLoginServer"}
    assert read <= keys


def test_no_secret_reaches_a_log():
    for label, step in steps():
        script = step.get("run", "")
        assert not re.search(r"^[^#]*--show-secrets", script, re.M) and "set -x" not in script, label
        for line in script.splitlines():
            if re.search(r"\baz login\b", line):
                assert "--output none" in line, f"{label}: az login prints the account"
            assert not re.search(r"echo .*\$\{?\w*(TOKEN|PAT|SECRET|PASSWORD)\b", line), f"{label}: {line}"
    runner_entrypoint = (ROOT / "pipelines" / "images" / "runner" / "entrypoint.sh").read_text()
    assert "set -x" not in runner_entrypoint and "unset GITHUB_PAT" in runner_entrypoint


# --- bootstrap -------------------------------------------------------------------------------------------------


def needs_of(job: dict) -> list[str]:
    needs = job.get("needs", [])
    return [needs] if isinstance(needs, str) else needs


def test_bootstrap_deploys_a_new_environment_in_order():
    bootstrap = WORKFLOWS["bootstrap"]
    inputs = bootstrap["on"]["workflow_dispatch"]["inputs"]
    assert list(bootstrap["on"]) == ["workflow_dispatch"] and inputs["stack"]["options"] == STACKS
    assert inputs["environment-version"]["required"] is True
    assert bootstrap["concurrency"] == {"group": "bootstrap-${{ inputs.stack }}", "cancel-in-progress": False}
    graph = {job_id: needs_of(job) for job_id, job in bootstrap["jobs"].items()}
    assert graph == {
        "plan": [], "shared": ["plan"], "stack": ["shared"], "runner": [], "images": ["plan", "stack"],
        "function": ["images"], "scoring-environment": ["plan", "runner", "images"], "train": ["plan", "scoring-environment"],
    }  # fmt: skip
    jobs_ = bootstrap["jobs"]
    assert (jobs_["shared"]["uses"], jobs_["shared"]["with"]) == (PULUMI_WORKFLOW, {"command": "up", "stack": "shared"})
    assert (jobs_["stack"]["uses"], jobs_["stack"]["with"]) == (PULUMI_WORKFLOW, {"command": "up", "stack": "${{ inputs.stack }}"})
    assert jobs_["shared"]["concurrency"]["group"] == "deploy-shared"
    assert jobs_["stack"]["concurrency"]["group"] == "deploy-${{ inputs.stack }}"  # never beside deploy.yml's up
    assert (jobs_["function"]["uses"], jobs_["function"]["with"]) == (FUNCTION_WORKFLOW, {"stack": "${{ inputs.stack }}"})
    assert jobs_["train"]["uses"] == TRAIN_WORKFLOW
    assert jobs_["train"]["with"] == {"stack": "${{ inputs.stack }}", "promote-to": "${{ needs.plan.outputs.promote-to }}"}
    plan = run_scripts(jobs_["plan"]).strip()
    assert plan == 'python -m pipelines.bootstrap --stack "$STACK" --environment-version "$VERSION" >> "$GITHUB_OUTPUT"'
    assert jobs_["plan"]["steps"][-1]["env"]["VERSION"] == "${{ inputs.environment-version }}"


def test_bootstrap_images_come_from_dev_by_resource_id_on_a_hosted_runner():
    images = WORKFLOWS["bootstrap"]["jobs"]["images"]
    assert images["runs-on"] == "ubuntu-latest"  # a private stack's runners need this image before they exist
    script = run_scripts(images)
    assert 'source_id=$(az acr show --name "$dev_registry" --query id --output tsv)' in script
    assert 'az acr import --name "$registry" --source "$image" --registry "$source_id" --force --output none' in script
    assert 'for image in "$RUNNER_IMAGE" "$TRAINING_IMAGE"; do' in script
    assert 'az acr build --registry "$registry" --image "$RUNNER_IMAGE" --output none pipelines/images/runner/' in script
    assert script.index('if [ "$PRIVATE" = true ]') < script.index("az acr import") < script.index("else") < script.index("az acr build")
    assert images["env"]["PRIVATE"] == "${{ needs.plan.outputs.private }}"


def test_bootstrap_builds_the_training_image_under_the_tag_the_stack_file_names():
    bootstrap = WORKFLOWS["bootstrap"]
    images = bootstrap["jobs"]["images"]
    # the tag comes from the stack file (training.image, printed by python -m pipelines.bootstrap), never from here
    assert images["env"]["TRAINING_IMAGE"] == "${{ needs.plan.outputs.training-image }}"
    assert bootstrap["jobs"]["plan"]["outputs"]["training-image"] == "${{ steps.plan.outputs.training_image }}"
    assert "mlops/training:" not in (ROOT / ".github" / "workflows" / "bootstrap.yml").read_text()
    script = " ".join(run_scripts(images).replace("\\\n", " ").split())
    build = 'az acr build --registry "$registry" --image "$TRAINING_IMAGE" --file pipelines/images/training/Dockerfile --output none .'
    assert build in script
    assert (ROOT / "pipelines" / "images" / "training" / "Dockerfile").is_file()


def test_bootstrap_creates_the_scoring_environment_in_the_shared_registry_from_its_spec():
    job = WORKFLOWS["bootstrap"]["jobs"]["scoring-environment"]
    script = run_scripts(job)
    assert script.index("python -m pipelines.serving_context") < script.index("az ml environment create")
    assert "registry=$(pulumi stack output mlRegistryName --stack \"$STACK\")" in script
    assert ('az ml environment create --registry-name "$registry" --file pipelines/images/serving-environment.yml '
            '--version "$version"') in " ".join(script.replace("\\\n", " ").split())  # fmt: skip
    assert job["env"]["SERVING_ENVIRONMENT"] == "${{ needs.plan.outputs.serving-environment }}"
    spec = load(ROOT / "pipelines" / "images" / "serving-environment.yml")
    ignored = [line for line in (ROOT / "pipelines" / "images" / "serving" / ".gitignore").read_text().splitlines() if line and not line.startswith("#")]
    assert spec["build"]["path"] == "serving" and ignored == ["score.py", "pipelines/", "core/"]  # what serving_context copies in


def test_readme_delivery_describes_every_workflow_and_runner():
    readme = (ROOT / "README.md").read_text()
    delivery = readme.split("## Delivery", 1)[1].split("\n## ", 1)[0]
    for path in ("workflows/function.yml", "workflows/bootstrap.yml", "workflows/runner.yml", "pipelines/images/runner/"):
        assert path in delivery, path
    assert "Nothing here has run on Azure" in delivery
