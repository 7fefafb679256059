"""Shared fixtures: a started API server per test module for the integration tests
that need no cluster of their own (tests/e2e overrides it with a whole cluster)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from cluster import ApiServer


@pytest.fixture(scope="module")
def apiserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    """A bare API server: nothing else writes to it but the test.

    tests/e2e overrides this with a whole cluster, started as ``make run`` starts it."""
    server = ApiServer(tmp_path_factory.mktemp("apiserver"))
    server.start()
    try:
        yield server
    finally:
        server.stop()
