"""Shared fixtures: one started API server per test session for the e2e and
integration tiers that do not need their own."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from cluster import ApiServer, Cluster


@pytest.fixture(scope="module")
def apiserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    """A whole cluster started as ``make run`` starts it; tests reach it through its API."""
    server = Cluster(tmp_path_factory.mktemp("cluster"))
    server.start()
    try:
        yield server
    finally:
        server.stop()
