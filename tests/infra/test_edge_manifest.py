"""IoT Edge manifests (components/edge_manifest.py): the exact modulesContent the stack sends, each manifest rule's
failing case, and the target-condition grammar (core/target_condition.py) with the edge config it validates."""

from __future__ import annotations

import copy
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from components.edge_manifest import (
    ManifestError,
    Registry,
    ScoringRelease,
    base_manifest,
    check_manifest,
    checked,
    configuration_id,
    content_digest,
    layered_manifest,
)
from core.target_condition import Clause, canonical, narrower, parse, render, within
from tests.infra.test_config import BASE, config_error

LOGIN = "crmlopsdevweu2c39.azurecr.io"
URI = "azureml://registries/mlr-shared/models/predictive-maintenance/versions/3"
RELEASE = ScoringRelease(LOGIN, "0.1.0", "predictive-maintenance", "3", URI)
LOG_OPTIONS = '{"HostConfig":{"LogConfig":{"Config":{"max-file":"3","max-size":"10m"},"Type":"json-file"}}}'
HUB_OPTIONS = '{"HostConfig":{"PortBindings":{"443/tcp":[{"HostPort":"443"}],"5671/tcp":[{"HostPort":"5671"}],"8883/tcp":[{"HostPort":"8883"}]}}}'


def test_layered_manifest_is_exactly_the_module_its_routes_and_its_twin():
    assert layered_manifest(RELEASE) == {
        "$edgeAgent": {
            "properties.desired.modules.scorer": {
                "type": "docker",
                "status": "running",
                "restartPolicy": "always",
                "version": "1.0",
                "settings": {"image": f"{LOGIN}/mlops/edge:0.1.0", "createOptions": LOG_OPTIONS},
            }
        },
        "$edgeHub": {
            "properties.desired.routes.scorerTelemetry":
                'FROM /messages/* WHERE NOT IS_DEFINED($connectionModuleId) INTO BrokeredEndpoint("/modules/scorer/inputs/telemetry")',
            "properties.desired.routes.scorerPredictions": "FROM /messages/modules/scorer/outputs/predictions INTO $upstream",
        },
        "scorer": {
            "properties.desired": {
                "modelName": "predictive-maintenance", "modelVersion": "3", "modelUri": URI,
                "imageTag": "0.1.0",
            }
        },
    }  # fmt: skip
    assert isinstance(layered_manifest(RELEASE)["$edgeAgent"]["properties.desired.modules.scorer"]["settings"]["createOptions"], str)
    assert check_manifest(layered_manifest(RELEASE)) == []


def test_base_manifest_is_the_pinned_runtime_with_the_registry_and_no_modules():
    assert base_manifest(Registry(LOGIN, "edge-pull", "s3cret")) == {
        "$edgeAgent": {
            "properties.desired": {
                "schemaVersion": "1.1",
                "runtime": {"type": "docker", "settings": {"registryCredentials": {
                    "crmlopsdevweu2c39": {"address": LOGIN, "username": "edge-pull", "password": "s3cret"}}}},
                "systemModules": {
                    "edgeAgent": {"type": "docker", "settings": {"image": "mcr.microsoft.com/azureiotedge-agent:1.5", "createOptions": "{}"}},
                    "edgeHub": {"type": "docker", "status": "running", "restartPolicy": "always",
                                "settings": {"image": "mcr.microsoft.com/azureiotedge-hub:1.5", "createOptions": HUB_OPTIONS}},
                },
                "modules": {},
            }
        },
        "$edgeHub": {"properties.desired": {"schemaVersion": "1.1", "routes": {}, "storeAndForwardConfiguration": {"timeToLiveSecs": 7200}}},
    }  # fmt: skip
    assert base_manifest(Registry(LOGIN, "edge-pull", None))["$edgeAgent"]["properties.desired"]["runtime"]["settings"] == {"registryCredentials": {}}
    assert check_manifest(base_manifest(Registry(LOGIN, "edge-pull", "s3cret"))) == []


def test_configuration_id_is_lowercase_and_changes_with_the_content():
    content = {"modulesContent": layered_manifest(RELEASE)}
    other = {"modulesContent": layered_manifest(ScoringRelease(LOGIN, "0.1.0", "predictive-maintenance", "4", URI))}
    identifier = configuration_id("mlops-DEV", "fleet", content)
    assert identifier == f"mlops-dev-fleet-{content_digest(content)}" and len(content_digest(content)) == 10
    assert configuration_id("mlops-dev", "fleet", other) != identifier
    assert configuration_id("mlops-dev", "fleet", copy.deepcopy(content)) == identifier  # deterministic
    with pytest.raises(ManifestError, match="configuration id"):
        configuration_id("x" * 120, "fleet", content)
    with pytest.raises(ManifestError, match="configuration id"):
        configuration_id("mlops dev", "fleet", content)


SCORER = ("$edgeAgent", "properties.desired.modules.scorer")


def broken(path: tuple[str, ...], value) -> dict:
    manifest = layered_manifest(RELEASE)
    node = manifest
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return manifest


# (what is broken, the problem check_manifest names first)
BROKEN = [
    (broken(("$edgeAgent", "properties.desired.modules.bad name"), layered_manifest(RELEASE)["$edgeAgent"]["properties.desired.modules.scorer"]),
     "module name 'bad name' is not 1-64 letters"),
    (broken((*SCORER, "settings", "createOptions"), {"HostConfig": {}}), "module 'scorer': createOptions must be a JSON string, not dict"),
    (broken((*SCORER, "settings", "createOptions"), "{not json"), "module 'scorer': createOptions is not JSON"),
    (broken((*SCORER, "settings", "createOptions"), json.dumps({"Env": ["A=" + "a" * 4100]})), "module 'scorer': createOptions is 4115 bytes; a twin string holds at most 4096"),
    (broken((*SCORER, "settings", "createOptions"), '{"HostConfig":{"Privileged":true}}'), "module 'scorer': createOptions sets HostConfig.Privileged=true"),
    (broken((*SCORER, "settings", "createOptions"), '{"HostConfig":{"NetworkMode":"host"}}'), 'module \'scorer\': createOptions sets HostConfig.NetworkMode="host"'),
    (broken((*SCORER, "settings", "createOptions"), '{"HostConfig":{"CapAdd":["NET_ADMIN"]}}'), "module 'scorer': createOptions sets HostConfig.CapAdd"),
    (broken(("$edgeHub", "properties.desired.routes.scorerPredictions"), "FROM /messages/modules/scorer/outputs/predictions TO $upstream"),
     "route 'scorerPredictions' is not FROM /messages/"),
    (broken(("$edgeHub", "properties.desired.routes.scorerPredictions"), "FROM /messages/modules/other/outputs/predictions INTO $upstream"),
     "route 'scorerPredictions' names module 'other', which this deployment does not declare"),
    (broken(("$edgeAgent", "properties.desired.systemModules.edgeHub"), {}), "$edgeAgent sets 'properties.desired.systemModules.edgeHub': a layered deployment cannot configure the system modules"),
    (broken(("scorer", "properties.reported"), {}), "scorer: 'properties.reported' is not a properties.desired path"),
    (broken(("scorer", "properties.desired", "blob"), "x" * 33000), "scorer: desired properties are"),
]  # fmt: skip


@pytest.mark.parametrize(("manifest", "problem"), BROKEN, ids=[problem[:40] for _, problem in BROKEN])
def test_each_manifest_rule_fails_its_case(manifest, problem):
    problems = check_manifest(manifest)
    assert problems and problems[0].startswith(problem), problems
    with pytest.raises(ManifestError):
        checked(manifest)


def test_a_missing_status_is_refused():
    manifest = layered_manifest(RELEASE)
    del manifest["$edgeAgent"]["properties.desired.modules.scorer"]["status"]
    assert check_manifest(manifest) == ["module 'scorer': status is not set"]


# --- target conditions ---------------------------------------------------------------------------------------------

tag = st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,10}", fullmatch=True)
value = st.one_of(
    st.from_regex(r"'[A-Za-z0-9 _.:/-]{0,12}'", fullmatch=True),
    st.integers(-1000, 1000).map(str),
    st.sampled_from(["true", "false"]),
)
clauses = st.lists(
    st.builds(Clause, st.lists(tag, min_size=1, max_size=3).map(lambda parts: "tags." + ".".join(parts)), st.sampled_from(["=", "!="]), value),
    min_size=1, max_size=5, unique_by=lambda c: c.path,
)  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(clauses, st.sampled_from([" AND ", " and ", "  AnD\t"]))
def test_every_condition_in_the_grammar_parses_back_to_its_clauses(written, joiner):
    text = joiner.join(str(c) for c in written)
    assert parse(text) == tuple(written)
    assert canonical(text) == render(tuple(written))
    assert within(text, text) and not narrower(text, text)


@settings(max_examples=200, deadline=None)
@given(clauses, clauses)
def test_a_condition_with_more_clauses_is_narrower(outer, extra):
    more = [c for c in extra if c.path not in {o.path for o in outer}]
    inner = render(tuple(outer + more))
    assert narrower(inner, render(tuple(outer))) == bool(more)
    assert within(inner, render(tuple(outer)))


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_any_text_parses_or_fails_with_a_value_error(text):
    try:
        parse(text)
    except ValueError as exc:
        assert str(exc) and "\n" not in str(exc)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty"),
        ("tags.environment='prod' OR tags.site='a'", "expected AND at character 25"),
        ("NOT tags.environment='prod'", "expected tags.<name> = 'value' at character 1"),
        ("properties.reported.x='1'", "expected tags.<name> = 'value'"),
        ("tags.environment=\"prod\"", "unexpected"),
        ("tags.environment='prod' AND", "expected tags.<name> = 'value' at character 28"),
        ("tags.environment='prod' AND tags.site", "expected tags.<name> = 'value' at character 38"),
        ("tags.site='a' AND tags.site='b'", "tags.site appears more than once"),
        ("tags.environment = prod", "expected tags.<name> = 'value'"),
    ],
)
def test_conditions_outside_the_grammar_say_where(text, fragment):
    with pytest.raises(ValueError, match=fragment.replace("(", r"\(").replace(".", r"\.").replace("*", r"\*")):
        parse(text)


# --- the edge config: one-line errors naming the key ----------------------------------------------------------------

FLEET = "      - {name: fleet, model: pm:1, targetCondition: \"tags.environment='prod'\", priority: 10}\n"
EDGE = "  mlops-platform:edge:\n    imageTag: 0.1.0\n    targetCondition: tags.environment='prod'\n    deployments:\n"


@pytest.mark.parametrize(
    ("extra", "key", "fragment"),
    [
        (EDGE + "      - {name: fleet, model: pm:1, targetCondition: \"tags.environment='prod' OR tags.x='1'\", priority: 10}\n",
         "mlops-platform:edge.deployments.0.targetCondition", "expected AND at character 25"),
        ("  mlops-platform:edge:\n    targetCondition: tags.environment=prod\n", "mlops-platform:edge.targetCondition", "expected tags.<name>"),
        (EDGE + "      - {name: fleet, model: pm:1, targetCondition: \"tags.site='a'\", priority: 10}\n",
         "mlops-platform:edge.deployments.0.targetCondition", "must contain edge.targetCondition"),
        (EDGE + FLEET + "      - {name: canary, model: pm:2, targetCondition: \"tags.environment='prod'\", priority: 20}\n",
         "mlops-platform:edge.deployments.1.targetCondition", "must be the fleet's condition"),
        (EDGE + FLEET + "      - {name: canary, model: pm:2, targetCondition: \"tags.environment='prod' AND tags.ring='canary'\", priority: 5}\n",
         "mlops-platform:edge.deployments.1.priority", "the canary must rank above the fleet (10)"),
        (EDGE + FLEET + FLEET, "mlops-platform:edge.deployments", "more than one 'fleet' entry"),
        (EDGE + "      - {name: blue, model: pm:1, targetCondition: \"tags.environment='prod'\", priority: 10}\n",
         "mlops-platform:edge.deployments.0.name", "'fleet' or 'canary'"),
        (EDGE + "      - {name: fleet, model: pm:1, targetCondition: \"tags.environment='prod'\", priority: 0}\n",
         "mlops-platform:edge.deployments.0.priority", "above the base's (0)"),
        ("  mlops-platform:edge:\n    targetCondition: tags.environment='prod'\n    deployments:\n" + FLEET,
         "mlops-platform:edge.imageTag", "required once deployments are declared"),
        (EDGE + "      - {name: canary, model: pm:1, targetCondition: \"tags.environment='prod' AND tags.ring='c'\", priority: 10, verifiedOnCanary: pm:1}\n",
         "mlops-platform:edge.deployments.0.verifiedOnCanary", "only the fleet entry"),
    ],
)
def test_bad_edge_config_names_the_key(tmp_path, extra, key, fragment):
    error = config_error(tmp_path, "prod", extra, BASE.replace("deviceIpRanges", "deviceIpRanges"))
    assert error.key == key, str(error)
    assert fragment in error.message and "\n" not in str(error)


def test_a_first_canary_without_a_fleet_is_part_of_the_base(tmp_path):
    from core.config import load_stack_config

    path = tmp_path / "Pulumi.staging.yaml"
    path.write_text(BASE + EDGE + "      - {name: canary, model: pm:2, targetCondition: \"tags.environment='prod' AND tags.ring='canary'\", priority: 20}\n")
    assert [d.name for d in load_stack_config("staging", path).edge.deployments] == ["canary"]


def test_the_manifest_speaks_the_scoring_modules_twin_and_route_names():
    from components import edge_manifest
    from pipelines.edge import module

    assert (edge_manifest.MODEL_NAME_PROPERTY, edge_manifest.MODEL_VERSION_PROPERTY, edge_manifest.MODEL_URI_PROPERTY,
            edge_manifest.IMAGE_TAG_PROPERTY) == (module.MODEL_NAME, module.MODEL_VERSION, module.MODEL_URI, module.IMAGE_TAG)  # fmt: skip
    assert (edge_manifest.TELEMETRY_INPUT, edge_manifest.PREDICTIONS_OUTPUT) == (module.INPUT_NAME, module.OUTPUT_NAME)
