"""Persistent volumes with real pods: data written through a claim outlives the pod.

A pod writes a file into a volume from the default class; once it is gone,
a second pod mounting the same claim reads the file back, and the data sits
in the provisioned directory under the cluster's ``<data-dir>/volumes``. A
StatefulSet's volumeClaimTemplates get provisioned, bound volumes. Deleting
the claim (reclaim policy Delete) removes the directory. Pods run as real
processes, which needs root.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cluster import ApiServer, run_kubectl

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(os.geteuid() != 0, reason="pods run as real processes only as root"),
]

NS = "e2e-storage-py"

CLAIM = """
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: notes}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 100Mi}}
"""

POD = """
apiVersion: v1
kind: Pod
metadata: {name: %(name)s}
spec:
  restartPolicy: Never
  containers:
  - name: main
    image: busybox
    command: [sh, -c, %(script)s]
    volumeMounts: [{name: notes, mountPath: /e2e-notes}]
  volumes:
  - name: notes
    persistentVolumeClaim: {claimName: notes}
"""

STATEFULSET = """
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: kv}
spec:
  serviceName: kv
  replicas: 1
  selector: {matchLabels: {app: kv}}
  template:
    metadata: {labels: {app: kv}}
    spec:
      containers:
      - name: main
        image: busybox
        command: [sh, -c, "echo ready > /e2e-kv/state && sleep 3600"]
        volumeMounts: [{name: state, mountPath: /e2e-kv}]
  volumeClaimTemplates:
  - metadata: {name: state}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 50Mi}}
"""


def kubectl(server: ApiServer, *args: str, input: str | None = None) -> str:
    result = run_kubectl(server, "-n", NS, *args, input=input)
    assert result.returncode == 0, result.stderr
    return result.stdout


def eventually(check: Callable[[], Any], within: float = 60.0) -> Any:
    deadline = time.monotonic() + within
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.3)
    raise AssertionError(f"condition not met in {within}s; last value: {last!r}")


def get(server: ApiServer, *what: str) -> dict[str, Any]:
    result = run_kubectl(server, "-n", NS, "get", *what, "-o", "json")
    return json.loads(result.stdout) if result.returncode == 0 else {}


def phase(server: ApiServer, *what: str) -> str:
    return str((get(server, *what).get("status") or {}).get("phase") or "")


def run_to_completion(server: ApiServer, name: str, script: str) -> None:
    kubectl(server, "apply", "-f", "-", input=POD % {"name": name, "script": json.dumps(script)})
    eventually(lambda: phase(server, "pod", name) in ("Succeeded", "Failed"))
    assert phase(server, "pod", name) == "Succeeded", kubectl(server, "describe", "pod", name)


def test_data_written_through_a_claim_outlives_the_pod(apiserver: ApiServer) -> None:
    run_kubectl(apiserver, "create", "namespace", NS)
    kubectl(apiserver, "apply", "-f", "-", input=CLAIM)
    claim = eventually(
        lambda: phase(apiserver, "pvc", "notes") == "Bound" and get(apiserver, "pvc", "notes")
    )
    assert claim["spec"]["storageClassName"] == "standard"
    volume_name = claim["spec"]["volumeName"]
    volume = get(apiserver, "pv", volume_name)
    directory = Path(volume["spec"]["hostPath"]["path"])
    assert directory.parent == (apiserver.data_dir / "volumes").resolve()

    run_to_completion(apiserver, "writer", "echo persisted > /e2e-notes/file")
    kubectl(apiserver, "delete", "pod", "writer")
    run_to_completion(apiserver, "reader", "cat /e2e-notes/file")
    assert kubectl(apiserver, "logs", "reader") == "persisted\n"
    assert (directory / "file").read_text() == "persisted\n"

    kubectl(apiserver, "delete", "pod", "reader")
    kubectl(apiserver, "delete", "pvc", "notes")
    eventually(lambda: run_kubectl(apiserver, "get", "pv", volume_name).returncode != 0)
    assert not directory.exists()


def test_statefulset_claims_get_provisioned_volumes(apiserver: ApiServer) -> None:
    run_kubectl(apiserver, "create", "namespace", NS)
    kubectl(apiserver, "apply", "-f", "-", input=STATEFULSET)
    claim = eventually(
        lambda: (
            phase(apiserver, "pvc", "state-kv-0") == "Bound" and get(apiserver, "pvc", "state-kv-0")
        )
    )
    assert claim["spec"]["storageClassName"] == "standard"
    eventually(lambda: phase(apiserver, "pod", "kv-0") == "Running")
    volume = get(apiserver, "pv", claim["spec"]["volumeName"])
    state = Path(volume["spec"]["hostPath"]["path"]) / "state"
    eventually(state.exists)
    assert state.read_text() == "ready\n"
    kubectl(apiserver, "delete", "statefulset", "kv")
