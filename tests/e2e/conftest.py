"""The e2e tier drives a whole cluster, started exactly as ``make run`` starts it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cluster import ApiServer, Cluster


@pytest.fixture(scope="module")
def apiserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    """``tinykube up``: control plane as static pods, kube-proxy, DNS; reached through its API."""
    server = Cluster(tmp_path_factory.mktemp("cluster"))
    server.start()
    try:
        yield server
    finally:
        server.stop()
