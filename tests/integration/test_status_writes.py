"""A write to ``/status`` answers with the object as stored, its new resourceVersion included.

The status strategies rebuild the object from the stored one; the answer once
carried the version from before the write, so a client that reused it (as
controllers do for their next update) got a needless 409 Conflict.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from cluster import ApiServer
from test_bad_input import call

pytestmark = pytest.mark.integration

DEPLOYS = "/apis/apps/v1/namespaces/default/deployments"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    srv = ApiServer(tmp_path_factory.mktemp("statuswrites"))
    srv.start()
    yield srv
    srv.stop()


def deployment(name: str) -> bytes:
    labels = {"app": name}
    return json.dumps(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name},
            "spec": {
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {"containers": [{"name": "c", "image": "busybox"}]},
                },
            },
        }
    ).encode()


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_the_answer_carries_the_new_resource_version(server: ApiServer, method: str) -> None:
    name = f"status-{method.lower()}"
    code, created = call(server, "POST", DEPLOYS, deployment(name))
    assert code == 201, created
    path = f"{DEPLOYS}/{name}/status"
    if method == "PUT":
        body = {**created, "status": {"observedGeneration": 1, "replicas": 0}}
        code, answer = call(server, "PUT", path, json.dumps(body).encode())
    else:
        patch = {"status": {"observedGeneration": 1}}
        code, answer = call(
            server, "PATCH", path, json.dumps(patch).encode(), "application/merge-patch+json"
        )
    assert code == 200, answer
    _, stored = call(server, "GET", f"{DEPLOYS}/{name}")
    assert answer["metadata"]["resourceVersion"] == stored["metadata"]["resourceVersion"]
    assert answer["metadata"]["resourceVersion"] != created["metadata"]["resourceVersion"]
    # The version answered is good for the next write.
    again = {**answer, "status": {**answer["status"], "observedGeneration": 2}}
    code, _ = call(server, "PUT", path, json.dumps(again).encode())
    assert code == 200
