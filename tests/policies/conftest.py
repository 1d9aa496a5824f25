"""One policy pack process per test session (per xdist worker), started as the engine starts it."""

from __future__ import annotations

import pytest

from mlops.analyzer import PolicyAnalyzer


@pytest.fixture(scope="session")
def pack():
    with PolicyAnalyzer() as analyzer:
        yield analyzer


@pytest.fixture
def analyzer(pack):
    """The pack with its default (strict) levels and rule settings; tests may configure an environment."""
    pack.configure(None)
    return pack
