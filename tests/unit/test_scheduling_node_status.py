"""A node's allocatable is its capacity less upstream's default hard eviction reservation.

A kubeadm node shows, in `kubectl describe node`, memory 100Mi below its
capacity and ephemeral-storage 10% below it (in plain bytes), and the
scheduler and the percentages in "Allocated resources" use those figures.
"""

from __future__ import annotations

import pytest

from tinykube.kubelet import nodestatus

pytestmark = pytest.mark.unit


def facts(memory_kib: int, disk_kib: int) -> nodestatus.HostFacts:
    return nodestatus.HostFacts(
        cpus=2,
        memory_kib=memory_kib,
        memory_available_bytes=2 * 1024**3,
        disk_kib=disk_kib,
        disk_free_fraction=0.5,
        pids_used=100,
        pid_max=32768,
        machine_id="m",
        system_uuid="u",
        boot_id="b",
        kernel="6.1.0",
        os_image="Debian GNU/Linux 12 (bookworm)",
        arch="amd64",
    )


@pytest.mark.parametrize(
    ("memory_kib", "disk_kib", "memory", "storage"),
    [
        # 20134592Ki is 20617822208 bytes; 10% truncated is 2061782220.
        (4005036, 20134592, "3902636Ki", "18556039988"),
        # Whole numbers of Mi and Gi print with their suffix.
        (8 * 1024 * 1024, 100 * 1024 * 1024, "8092Mi", "90Gi"),
        (50 * 1024, 10 * 1024 * 1024, "0", "9Gi"),
    ],
    ids=["kubeadm-vm", "round-figures", "less-memory-than-the-reservation"],
)
def test_allocatable_keeps_back_the_eviction_thresholds(
    memory_kib: int, disk_kib: int, memory: str, storage: str
) -> None:
    host = facts(memory_kib, disk_kib)
    status = nodestatus.node_status(nodestatus.NodeConfig(name="node01"), host, {}, 0.0)
    assert status["capacity"]["memory"] == f"{memory_kib}Ki"
    assert status["capacity"]["ephemeral-storage"] == f"{disk_kib}Ki"
    allocatable = status["allocatable"]
    assert (allocatable["memory"], allocatable["ephemeral-storage"]) == (memory, storage)
    assert {k: v for k, v in allocatable.items() if k not in ("memory", "ephemeral-storage")} == {
        "cpu": "2",
        "pods": "110",
        "hugepages-1Gi": "0",
        "hugepages-2Mi": "0",
    }
