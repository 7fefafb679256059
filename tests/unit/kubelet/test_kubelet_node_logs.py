"""Node registration objects, CRI log selection, static pod manifests (pure)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tinykube.kubelet import logs, nodestatus, staticpods

pytestmark = pytest.mark.unit

FACTS = nodestatus.HostFacts(
    cpus=2,
    memory_kib=1000,
    memory_available_bytes=10**9,
    disk_kib=5000,
    disk_free_fraction=0.5,
    pids_used=100,
    pid_max=1000,
    machine_id="m",
    system_uuid="u",
    boot_id="b",
    kernel="6.1",
    os_image="Debian",
    arch="amd64",
)


def test_registered_node_shape() -> None:
    config = nodestatus.NodeConfig(name="n1", pod_cidr="10.244.1.0/24", control_plane=True)
    node = nodestatus.build_node(config, FACTS, 0)
    labels = node["metadata"]["labels"]
    assert labels["node-role.kubernetes.io/control-plane"] == ""
    assert labels["beta.kubernetes.io/arch"] == "amd64"
    assert node["spec"]["podCIDRs"] == ["10.244.1.0/24"]
    status = node["status"]
    assert status["capacity"]["pods"] == "110"
    assert status["daemonEndpoints"] == {"kubeletEndpoint": {"Port": 10250}}
    assert len(status["nodeInfo"]) == 10
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert (ready["reason"], ready["message"]) == (
        "KubeletReady",
        "kubelet is posting ready status",
    )


def test_memory_pressure_condition() -> None:
    facts = nodestatus.HostFacts(**{**FACTS.__dict__, "memory_available_bytes": 1})
    conds = {c["type"]: c for c in nodestatus.conditions(facts, [], 0)}
    assert conds["MemoryPressure"]["status"] == "True"
    assert conds["DiskPressure"]["reason"] == "KubeletHasNoDiskPressure"


def test_heartbeat_alone_is_not_a_change() -> None:
    config = nodestatus.NodeConfig(name="n1")
    first = nodestatus.node_status(config, FACTS, {}, 0)
    later = nodestatus.node_status(config, FACTS, first, 100)
    assert not nodestatus.status_changed(first, later)


def test_taints_and_labels_flags() -> None:
    assert nodestatus.parse_taint("a=b:NoSchedule") == {
        "key": "a",
        "value": "b",
        "effect": "NoSchedule",
    }
    with pytest.raises(ValueError):
        nodestatus.parse_taint("a=b")
    assert nodestatus.parse_labels("x=1, y=") == {"x": "1", "y": ""}


DATA = (
    b"2026-01-01T00:00:01.100000000Z stdout F one\n"
    b"2026-01-01T00:00:02.000000000Z stderr F two\n"
    b"2026-01-01T00:00:03.000000000Z stdout P thr\n"
    b"2026-01-01T00:00:03.500000000Z stdout F ee\n"
    b"2026-01-01T00:00:04.0000"
)


def test_log_records_tail_and_timestamps() -> None:
    records, used = logs.parse_records(DATA)
    assert used == DATA.rindex(b"\n") + 1
    out = logs.render(logs.select(records, logs.LogOptions(tail_lines=2)), logs.LogOptions())
    assert out == b"two\nthree\n"
    stamped = logs.render(records[:1], logs.LogOptions(timestamps=True))
    assert stamped == b"2026-01-01T00:00:01.1Z one\n"


def test_log_since_and_stream() -> None:
    records, _ = logs.parse_records(DATA)
    since = logs.parse_time("2026-01-01T00:00:02Z")
    selected = logs.select(records, logs.LogOptions(since=since, stream="Stderr"))
    assert [r.text for r in selected] == [b"two"]


def test_static_pod_names_uid_and_edits(tmp_path: Path) -> None:
    manifest = tmp_path / "web.yaml"
    manifest.write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec: {containers: []}\n"
    )
    (tmp_path / "notes.txt").write_text("ignored")
    pods = staticpods.load_manifests(tmp_path, "cp")
    (pod,) = pods.values()
    assert pod["metadata"]["name"] == "web-cp"
    assert pod["spec"]["nodeName"] == "cp"
    assert staticpods.load_manifests(tmp_path, "cp").keys() == pods.keys()
    manifest.write_text(manifest.read_text().replace("containers: []", "containers: [] "))
    assert staticpods.load_manifests(tmp_path, "cp").keys() != pods.keys()
    mirror = staticpods.mirror_of(pod, {"metadata": {"name": "cp", "uid": "n"}})
    assert mirror["metadata"]["annotations"][staticpods.MIRROR] == pod["metadata"]["uid"]
    assert mirror["metadata"]["ownerReferences"][0]["kind"] == "Node"
