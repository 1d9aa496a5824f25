"""Promotion works on stacks that already serve: the repository copy's staging and prod files get the state a
first promotion leaves (blue serving predictive-maintenance:1 on mlops-serving:1) before its one commit."""

from __future__ import annotations

import pytest

from tests.conftest import git

EMPTY = "    deployments: []\n    traffic: {}\n"
SERVED = {
    "staging": "    environment: mlops-serving:1\n    deployments:\n      - name: blue\n        model: predictive-maintenance:1\n        instanceCount: 1\n    traffic:\n      blue: 100\n",
    "prod": "    environment: mlops-serving:1\n    deployments:\n      - name: blue\n        model: predictive-maintenance:1\n        instanceCount: 2\n    traffic:\n      blue: 100\n",
}


@pytest.fixture
def project_repo(project_copy):
    for environment, served in SERVED.items():
        path = project_copy / "stacks" / f"Pulumi.{environment}.yaml"
        text = path.read_text()
        assert EMPTY in text, environment
        path.write_text(text.replace(EMPTY, served))
    git(project_copy, "init", "-q", "-b", "main")
    git(project_copy, "add", "-A")
    git(project_copy, "commit", "-qm", "base")
    return project_copy
