"""Pod-level cgroups of the process runtime, laid out and capped as the kubelet does it.

The sandbox config comes from the pod through ``podresources`` (as the pod
worker builds it), the runtime makes the cgroups, and the tests read them
back from /sys/fs/cgroup (v1 or v2, whichever this host has).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tinykube.kubelet import podresources
from tinykube.kubelet.containers import resources_of
from tinykube.kubelet.runtime import new_runtime
from tinykube.kubelet.runtime.interface import (
    ContainerConfig,
    ImageInfo,
    PodSandboxConfig,
    Runtime,
    RuntimeOptions,
)
from tinykube.kubelet.runtime.proc_cgroups import CGROUP_ROOT, cgroup_v2

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (cgroups); CI runs as root"),
]

MI = 1024 * 1024
NODE = f"podcg-{os.getpid()}"
V2 = cgroup_v2()
# The controllers of /proc/<pid>/cgroup lines that name our cgroups ("" for v2's one line).
WATCHED = {""} if V2 else {"memory", "cpu", "cpu,cpuacct"}


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[Runtime]:
    rt = new_runtime(
        "process",
        RuntimeOptions(
            node_name=NODE,
            root_dir=tmp_path / "kubelet",
            pod_cidr=f"10.247.{os.getpid() % 250}.0/24",
        ),
    )
    await rt.start()
    try:
        yield rt
    finally:
        await rt.close()


def pod(uid: str, *containers: dict[str, Any]) -> dict[str, Any]:
    return {
        "metadata": {"name": uid, "namespace": "default", "uid": uid},
        "spec": {"containers": list(containers)},
    }


def ctr(name: str, **limits: str) -> dict[str, Any]:
    resources = {"limits": limits, "requests": dict(limits)} if limits else {}
    return {"name": name, "image": "busybox", "resources": resources}


async def start_pod(rt: Runtime, tmp_path: Path, spec: dict[str, Any]) -> tuple[str, list[str]]:
    """Run the pod's sandbox and a ``sleep`` per container, as the pod worker would."""
    meta = spec["metadata"]
    sid = await rt.run_pod_sandbox(
        PodSandboxConfig(
            uid=meta["uid"],
            namespace=meta["namespace"],
            name=meta["name"],
            hostname=meta["name"],
            qos_class=podresources.qos_class(spec),
            resources=podresources.pod_limits(spec),
        )
    )
    cids = []
    for c in spec["spec"]["containers"]:
        config = ContainerConfig(
            name=c["name"],
            image="busybox",
            command=["sleep", "60"],
            log_path=tmp_path / "logs" / f"{meta['uid']}-{c['name']}.log",
            resources=resources_of(c),
        )
        image = ImageInfo(ref="busybox", image_id="host")
        cid = await rt.create_container(sid, config, image)
        await rt.start_container(cid)
        cids.append(cid)
    return sid, cids


def pod_dirs(uid: str) -> list[Path]:
    """The pod's cgroup directories (one per hierarchy with v1)."""
    roots = [CGROUP_ROOT] if V2 else [CGROUP_ROOT / "memory", CGROUP_ROOT / "cpu"]
    found: list[Path] = []
    for root in roots:
        found += root.glob(f"tinykube/{NODE}-*/kubepods/**/pod{uid}")
    return found


async def in_cgroup(pid: int, path: str, timeout: float = 10) -> None:  # noqa: ASYNC109
    """Wait until every hierarchy puts ``pid`` in ``path``."""
    lines: list[str] = []
    async with asyncio.timeout(timeout):
        while True:
            text = await asyncio.to_thread(Path(f"/proc/{pid}/cgroup").read_text)
            lines = [line for line in text.splitlines() if line.split(":")[1] in WATCHED]
            if lines and all(line.endswith(path) for line in lines):
                return
            await asyncio.sleep(0.05)


def memory_limit(d: Path) -> int | None:
    """The memory cap of a cgroup directory; None when unlimited."""
    if V2:
        text = (d / "memory.max").read_text().strip()
        return None if text == "max" else int(text)
    value = int((d / "memory.limit_in_bytes").read_text())
    return None if value >= 2**62 else value


def cpu_quota_us(d: Path) -> int | None:
    if V2:
        quota = (d / "cpu.max").read_text().split()[0]
        return None if quota == "max" else int(quota)
    value = int((d / "cpu.cfs_quota_us").read_text())
    return None if value < 0 else value


def memory_dir(uid: str) -> Path:
    (found,) = [d for d in pod_dirs(uid) if V2 or "/memory/" in str(d)]
    return found


def cpu_dir(uid: str) -> Path:
    (found,) = [d for d in pod_dirs(uid) if V2 or "/cpu/" in str(d)]
    return found


async def test_two_memory_limits_add_up_in_the_pod_cgroup(runtime: Runtime, tmp_path: Path) -> None:
    spec = pod("mem2", ctr("a", memory="50Mi"), ctr("b", memory="30Mi"))
    _, cids = await start_pod(runtime, tmp_path, spec)
    pod_dir = memory_dir("mem2")
    assert pod_dir.parent.name == "burstable"
    assert memory_limit(pod_dir) == 80 * MI
    assert cpu_quota_us(cpu_dir("mem2")) is None  # no container has a cpu limit
    # Each container's cgroup sits inside the pod's, with its own limit, and holds it.
    limits = sorted(memory_limit(pod_dir / cid[:12]) for cid in cids)
    assert limits == [30 * MI, 50 * MI]
    for cid in cids:
        # The container's init joins its cgroup first thing, before it starts the workload.
        pid = (await runtime.container_status(cid)).pid
        await in_cgroup(pid, f"/kubepods/burstable/podmem2/{cid[:12]}")


async def test_a_guaranteed_pod_is_capped_in_cpu_and_memory(
    runtime: Runtime, tmp_path: Path
) -> None:
    spec = pod("guar", ctr("a", memory="40Mi", cpu="200m"), ctr("b", memory="20Mi", cpu="300m"))
    await start_pod(runtime, tmp_path, spec)
    assert memory_dir("guar").parent.name == "kubepods"
    assert memory_limit(memory_dir("guar")) == 60 * MI
    assert cpu_quota_us(cpu_dir("guar")) == 50_000  # 500m of a 100 ms period


async def test_a_best_effort_pod_has_no_limit(runtime: Runtime, tmp_path: Path) -> None:
    await start_pod(runtime, tmp_path, pod("be", ctr("a"), ctr("b")))
    assert memory_dir("be").parent.name == "besteffort"
    assert memory_limit(memory_dir("be")) is None
    assert cpu_quota_us(cpu_dir("be")) is None


async def test_removing_the_sandbox_removes_the_pod_cgroup(
    runtime: Runtime, tmp_path: Path
) -> None:
    sid, _ = await start_pod(runtime, tmp_path, pod("gone", ctr("a", memory="20Mi")))
    assert pod_dirs("gone")
    await runtime.stop_pod_sandbox(sid)
    await runtime.remove_pod_sandbox(sid)
    assert pod_dirs("gone") == []
