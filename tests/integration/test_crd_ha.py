"""Two API servers on one etcd both serve a CRD's kind, each from its own watch cache.

A CRD created through one server must be served by the other as soon as that
server's cache has it (nothing in the request path of the first server can
tell the second), and deleting the CRD through the second must withdraw the
kind from both, with its objects.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cluster import ApiServer, run_kubectl
from test_store_etcd import EtcdCluster

pytestmark = pytest.mark.integration

WAIT_SECONDS = 30.0
CRD = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: tasks.ha.example.com
spec:
  group: ha.example.com
  scope: Namespaced
  names: {plural: tasks, kind: Task}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              owner: {type: string}
"""
TASK = """
apiVersion: ha.example.com/v1
kind: Task
metadata: {name: %s, namespace: default}
spec: {owner: %s}
"""


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[tuple[ApiServer, ApiServer]]:
    etcd = EtcdCluster.start(tmp_path, 1)
    storage = ["--storage", f"etcd://{etcd.endpoints[0]}"]
    first = ApiServer(tmp_path / "a", extra_args=storage)
    second = ApiServer(tmp_path / "b", extra_args=storage)
    try:
        first.start()
        second.start()
        yield first, second
    finally:
        second.stop()
        first.stop()
        etcd.stop()


def kubectl_ok(server: ApiServer, *args: str, stdin: str | None = None) -> str:
    result = run_kubectl(server, *args, input=stdin)
    assert result.returncode == 0, result.stderr + server.logs()[-2000:]
    return result.stdout


def eventually(server: ApiServer, *args: str) -> str:
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        result = run_kubectl(server, *args)
        if result.returncode == 0:
            return result.stdout
        assert time.monotonic() < deadline, result.stderr
        time.sleep(0.2)


def test_every_server_serves_the_kind(servers: tuple[ApiServer, ApiServer]) -> None:
    first, second = servers
    kubectl_ok(first, "apply", "-f", "-", stdin=CRD)
    kubectl_ok(first, "wait", "--for=condition=established", "crd/tasks.ha.example.com")
    kubectl_ok(second, "apply", "-f", "-", stdin=TASK % ("t1", "second"))
    eventually(first, "get", "--raw", "/apis/ha.example.com/v1/namespaces/default/tasks/t1")
    kubectl_ok(first, "apply", "-f", "-", stdin=TASK % ("t2", "first"))
    listed = json.loads(eventually(second, "get", "tasks", "-n", "default", "-o", "json"))
    assert sorted(i["spec"]["owner"] for i in listed["items"]) == ["first", "second"]

    kubectl_ok(second, "delete", "crd", "tasks.ha.example.com")
    for server in (first, second):
        deadline = time.monotonic() + WAIT_SECONDS
        while run_kubectl(server, "get", "--raw", "/apis/ha.example.com/v1").returncode == 0:
            assert time.monotonic() < deadline, "the kind is still served"
            time.sleep(0.2)
    kubectl_ok(first, "apply", "-f", "-", stdin=CRD)
    kubectl_ok(second, "wait", "--for=condition=established", "crd/tasks.ha.example.com")
    empty = eventually(first, "get", "--raw", "/apis/ha.example.com/v1/tasks")
    assert json.loads(empty)["items"] == []
