"""``tinykube up --etcd``: the CKA etcd backup and restore, on a stacked etcd.

The cluster keeps its objects in an etcd static pod with kubeadm's PKI; the
test does what the exam asks with the real ``etcdctl``: a snapshot with the
server certificate, a restore into a new directory, the static pod's data
directory pointed at it, and the deleted ConfigMap back through kubectl once
the kubelet has restarted etcd, with the API server alive through it all.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from cluster import Cluster, free_port, run_kubectl

pytestmark = pytest.mark.integration

if os.geteuid() != 0:
    pytest.skip("the stacked etcd runs as a root static pod", allow_module_level=True)
if shutil.which("etcd") is None or shutil.which("etcdctl") is None:
    pytest.skip(
        "etcd and etcdctl are not installed (apt-get install etcd-server etcd-client)",
        allow_module_level=True,
    )

KEY = "/registry/configmaps/default/backup-me"


def eventually(check, timeout: float = 90.0, interval: float = 1.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(interval)


def system_pods(cluster: Cluster) -> dict[str, dict]:
    out = run_kubectl(cluster, "get", "pods", "-n", "kube-system", "-o", "json")
    if out.returncode != 0:
        return {}
    return {p["metadata"]["name"]: p for p in json.loads(out.stdout)["items"]}


def running(pod: dict | None) -> bool:
    status = (pod or {}).get("status") or {}
    return status.get("phase") == "Running" and all(
        c.get("ready") for c in status.get("containerStatuses") or [{}]
    )


def etcdctl(cluster: Cluster, port: int, *args: str) -> subprocess.CompletedProcess[str]:
    """etcdctl exactly as the CKA task runs it, with tinykube's paths."""
    pki = cluster.data_dir / "pki" / "etcd"
    return subprocess.run(
        [
            "etcdctl",
            f"--endpoints=https://127.0.0.1:{port}",
            f"--cacert={pki / 'ca.crt'}",
            f"--cert={pki / 'server.crt'}",
            f"--key={pki / 'server.key'}",
            *args,
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "ETCDCTL_API": "3"},
        timeout=60,
    )


def restarts(pod: dict) -> int:
    return sum(c.get("restartCount", 0) for c in pod["status"].get("containerStatuses") or [])


@pytest.fixture(scope="module")
def etcd_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, etcd_port: int):  # type: ignore[no-untyped-def]
    ports = ["--etcd-peer-port", str(free_port()), "--etcd-metrics-port", str(free_port())]
    c = Cluster(
        tmp_path_factory.mktemp("up-etcd"),
        extra_args=["--etcd", "--etcd-port", str(etcd_port), *ports],
    )
    c.start(timeout=180)
    yield c
    c.stop()


def test_etcd_runs_as_a_static_pod(cluster: Cluster) -> None:
    pods = eventually(
        lambda: (p := system_pods(cluster)) and running(p.get("etcd-controlplane")) and p
    )
    pod = pods["etcd-controlplane"]
    assert pod["metadata"]["labels"]["component"] == "etcd"
    assert pod["metadata"]["annotations"]["kubernetes.io/config.mirror"]
    assert running(pods["kube-apiserver-controlplane"])
    out = run_kubectl(cluster, "get", "pods", "-n", "kube-system")
    assert "etcd-controlplane" in out.stdout


def test_the_api_server_keeps_its_objects_in_etcd(cluster: Cluster, etcd_port: int) -> None:
    out = run_kubectl(cluster, "create", "configmap", "in-etcd", "--from-literal=a=b")
    assert out.returncode == 0, out.stderr
    got = etcdctl(
        cluster, etcd_port, "get", "/registry/configmaps/default/in-etcd", "--print-value-only"
    )
    assert got.returncode == 0, got.stderr
    assert json.loads(got.stdout)["data"] == {"a": "b"}
    assert not (cluster.data_dir / "state.db").exists()


def test_snapshot_restore_brings_a_deleted_configmap_back(
    cluster: Cluster, etcd_port: int, tmp_path: Path
) -> None:
    out = run_kubectl(cluster, "create", "configmap", "backup-me", "--from-literal=k=v")
    assert out.returncode == 0, out.stderr
    snapshot = tmp_path / "snap.db"
    saved = etcdctl(cluster, etcd_port, "snapshot", "save", str(snapshot))
    assert saved.returncode == 0, saved.stderr
    keys = etcdctl(cluster, etcd_port, "get", "/registry/configmaps/", "--prefix", "--keys-only")
    assert KEY in keys.stdout.split()
    apiserver_restarts = restarts(system_pods(cluster)["kube-apiserver-controlplane"])

    out = run_kubectl(cluster, "delete", "configmap", "backup-me")
    assert out.returncode == 0, out.stderr
    assert run_kubectl(cluster, "get", "configmap", "backup-me").returncode != 0

    restored = tmp_path / "etcd-from-backup"
    done = subprocess.run(
        ["etcdctl", "snapshot", "restore", str(snapshot), "--data-dir", str(restored)],
        capture_output=True,
        text=True,
        env={**os.environ, "ETCDCTL_API": "3"},
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    # Point the static pod's data volume at the restored directory, as the exam's
    # solution does; the kubelet sees the manifest change and restarts etcd.
    manifest = cluster.data_dir / "manifests" / "etcd.yaml"
    old = f"path: {(cluster.data_dir / 'etcd').resolve()}\n"
    text = manifest.read_text()
    assert old in text
    manifest.write_text(text.replace(old, f"path: {restored}\n"))

    def restored_configmap() -> bool:
        got = run_kubectl(cluster, "get", "configmap", "backup-me", "-o", "json")
        return got.returncode == 0 and json.loads(got.stdout)["data"] == {"k": "v"}

    eventually(restored_configmap, timeout=120)
    keys = etcdctl(cluster, etcd_port, "get", "/registry/configmaps/", "--prefix", "--keys-only")
    assert KEY in keys.stdout.split()
    pods = system_pods(cluster)
    assert restarts(pods["kube-apiserver-controlplane"]) == apiserver_restarts
    eventually(lambda: running(system_pods(cluster).get("etcd-controlplane")))


def test_watches_resume_after_the_restore(cluster: Cluster) -> None:
    """A watch opened after etcd came back sees a new object: the API server's
    own watch on etcd follows the restored member."""
    import threading

    from cluster import kubectl_binary

    env = {**os.environ, "KUBECONFIG": str(cluster.kubeconfig)}
    watch = subprocess.Popen(
        [kubectl_binary(), "get", "configmaps", "--watch-only", "-o", "name"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    seen: list[str] = []
    reader = threading.Thread(target=lambda: seen.extend(watch.stdout or []), daemon=True)
    reader.start()
    try:
        time.sleep(2)  # let the watch open before the write
        out = run_kubectl(cluster, "create", "configmap", "after-restore", "--from-literal=x=y")
        assert out.returncode == 0, out.stderr
        eventually(lambda: "configmap/after-restore\n" in seen, timeout=30, interval=0.5)
    finally:
        watch.terminate()
        watch.wait(10)


def test_a_second_up_brings_the_restored_cluster_back(cluster: Cluster) -> None:
    cluster.stop()
    cluster.start(timeout=180)
    for name in ("backup-me", "after-restore", "in-etcd"):
        got = eventually(lambda n=name: run_kubectl(cluster, "get", "configmap", n).returncode == 0)
        assert got
    text = (cluster.data_dir / "manifests" / "etcd.yaml").read_text()
    assert "etcd-from-backup" in text  # up left the user's manifest alone
