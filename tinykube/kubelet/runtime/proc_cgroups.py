"""The process runtime's cgroups: one per pod, one per container inside it.

Laid out as the kubelet's cgroupfs driver lays them out (``cgroupsPerQOS``),
under this kubelet's own root ``tinykube/<node>-<instance>`` (``instance``
comes from the kubelet's root directory, so two kubelets that share a node
name on one host, as test clusters do, never remove each other's cgroups and
the processes in them)::

    tinykube/<node>-<instance>/kubepods/pod<uid>/                Guaranteed pods
    tinykube/<node>-<instance>/kubepods/burstable/pod<uid>/      Burstable pods
    tinykube/<node>-<instance>/kubepods/besteffort/pod<uid>/     BestEffort pods
        <sandbox id>/   the pause process        <container id>/   each container

The pod cgroup carries the pod's limits (``PodSandboxConfig.resources``: the
sum of its containers' limits, see ``tinykube.kubelet.podresources``), each
container's cgroup its own ``resources.limits``. The pause process has a leaf
of its own as upstream's sandbox container does (cgroup v2 allows processes
only in leaves once controllers are delegated below a cgroup).

cgroup v1 (separate ``memory`` and ``cpu`` hierarchies, as on the project's
machines) or v2 (one unified tree, when ``/sys/fs/cgroup/cgroup.controllers``
exists): ``memory.limit_in_bytes``/``memory.max`` and the CFS quota
(``cpu.cfs_quota_us``/``cpu.max``). A container's OOM-kill counter tells an
OOM kill from any other SIGKILL.

Every call here blocks (a cgroup mkdir waits for the kernel's cgroup locks,
removal for killed processes to leave): callers run them in a thread.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from tinykube.kubelet.runtime.interface import PodSandboxConfig, Resources

log = logging.getLogger(__name__)

CGROUP_ROOT = Path("/sys/fs/cgroup")
CFS_PERIOD_US = 100_000
KUBEPODS = "kubepods"
# QoS class -> the pod cgroup's parent below kubepods (Guaranteed pods sit right in it).
QOS_PARENTS = {"Guaranteed": "", "Burstable": "burstable", "BestEffort": "besteffort"}


def cgroup_v2() -> bool:
    return (CGROUP_ROOT / "cgroup.controllers").exists()


@dataclass
class Cgroup:
    """One cgroup: a directory per hierarchy (v1) or one directory (v2)."""

    rel: Path
    dirs: list[Path] = field(default_factory=list)
    v2: bool = False

    @property
    def procs_files(self) -> list[Path]:
        return [d / "cgroup.procs" for d in self.dirs]

    def join(self, pid: int) -> None:
        """Move ``pid`` (not children it already has) into this cgroup."""
        for path in self.procs_files:
            with contextlib.suppress(OSError):
                path.write_text(str(pid))

    def oom_kills(self) -> int:
        """How many processes the kernel OOM-killed in this cgroup."""
        for d in self.dirs:
            name = "memory.events" if self.v2 else "memory.oom_control"
            path = d / name
            if not path.exists():
                continue
            for line in path.read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
        return 0

    def pids(self) -> list[int]:
        found: set[int] = set()
        for path in self.procs_files:
            with contextlib.suppress(OSError):
                found.update(int(p) for p in path.read_text().split())
        return sorted(found)


def pod_cgroup_rel(qos_class: str, pod_uid: str) -> Path:
    """Where a pod's cgroup sits below the node's root, by QoS class."""
    parent = QOS_PARENTS.get(qos_class, QOS_PARENTS["BestEffort"])
    return Path(KUBEPODS) / parent / f"pod{pod_uid}" if parent else Path(KUBEPODS) / f"pod{pod_uid}"


class CgroupManager:
    """Creates and removes the pod and container cgroups of one kubelet."""

    def __init__(self, node_name: str, instance: str = "") -> None:
        self.v2 = cgroup_v2()
        self.base = Path("tinykube") / (f"{node_name}-{instance}" if instance else node_name)
        # Directories known to exist (with v2 controllers delegated below them).
        self._made: set[Path] = set()

    def _roots(self) -> list[Path]:
        if self.v2:
            return [CGROUP_ROOT]
        return [CGROUP_ROOT / "memory", CGROUP_ROOT / "cpu"]

    def create_sandbox(self, config: PodSandboxConfig, sandbox_id: str) -> tuple[Cgroup, Cgroup]:
        """The pod's cgroup and the pause process's leaf in it, in one go."""
        pod = self.create_pod(config.uid, config.qos_class, config.resources)
        return pod, self.create(pod, sandbox_id, Resources())

    def create_pod(self, pod_uid: str, qos_class: str, resources: Resources) -> Cgroup:
        """The pod-level cgroup, capped at the pod's limits."""
        qos = qos_class if qos_class in QOS_PARENTS else _implied_qos(resources)
        return self._create(self.base / pod_cgroup_rel(qos, pod_uid), resources)

    def create(self, parent: Cgroup, name: str, resources: Resources) -> Cgroup:
        """A container's (or the pause's) cgroup inside its pod's."""
        return self._create(parent.rel / name[:12], resources)

    def _create(self, rel: Path, resources: Resources) -> Cgroup:
        group = Cgroup(rel, v2=self.v2)
        for root in self._roots():
            path = root / rel
            self._make(root, rel)
            group.dirs.append(path)
        self._write_limits(group, resources)
        return group

    def _make(self, root: Path, rel: Path) -> None:
        current = root
        for part in rel.parts:
            parent, current = current, current / part
            if current in self._made:
                continue
            if self.v2:
                with contextlib.suppress(OSError):
                    (parent / "cgroup.subtree_control").write_text("+memory +cpu")
            current.mkdir(exist_ok=True)
            if current != root / rel:
                self._made.add(current)  # a shared parent; the leaf is removed again

    def _write_limits(self, group: Cgroup, resources: Resources) -> None:
        for d in group.dirs:
            if resources.memory_bytes is not None:
                name = "memory.max" if self.v2 else "memory.limit_in_bytes"
                if (d / name).exists():
                    (d / name).write_text(str(resources.memory_bytes))
                    _disable_swap(d, self.v2)
            if resources.cpu_millis is not None:
                quota = max(1000, resources.cpu_millis * CFS_PERIOD_US // 1000)
                if self.v2 and (d / "cpu.max").exists():
                    (d / "cpu.max").write_text(f"{quota} {CFS_PERIOD_US}")
                elif (d / "cpu.cfs_quota_us").exists():
                    (d / "cpu.cfs_period_us").write_text(str(CFS_PERIOD_US))
                    (d / "cpu.cfs_quota_us").write_text(str(quota))

    def remove(self, group: Cgroup) -> None:
        """Kill what is left in the cgroup and remove it (blocking: call in a thread)."""
        for pid in group.pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, 9)
        for d in group.dirs:
            _rmdir_retry(d)
            self._made.discard(d)

    def remove_all(self) -> None:
        """Remove this kubelet's whole subtree (bottom-up), then empty parents."""
        self._made.clear()
        for root in self._roots():
            top = root / self.base
            if not top.exists():
                continue
            for d in sorted(top.rglob("*"), key=lambda p: len(p.parts), reverse=True):
                if d.is_dir():
                    _kill_procs(d)
                    _rmdir_retry(d)
            _rmdir_retry(top)
            with contextlib.suppress(OSError):
                top.parent.rmdir()


def _implied_qos(resources: Resources) -> str:
    """A caller that named no QoS class: capped pods are Burstable, others BestEffort."""
    if resources.memory_bytes is None and resources.cpu_millis is None:
        return "BestEffort"
    return "Burstable"


def _disable_swap(d: Path, v2: bool) -> None:
    name = "memory.swap.max" if v2 else "memory.memsw.limit_in_bytes"
    with contextlib.suppress(OSError):
        if (d / name).exists() and v2:
            (d / name).write_text("0")
    if not v2:
        with contextlib.suppress(OSError):
            (d / "memory.swappiness").write_text("0")


def _kill_procs(d: Path) -> None:
    with contextlib.suppress(OSError):
        for pid in (d / "cgroup.procs").read_text().split():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), 9)


def _rmdir_retry(d: Path) -> None:
    for _ in range(50):
        try:
            d.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            # Killed processes take a moment to leave the cgroup.
            time.sleep(0.02)
    log.warning("cgroup=%s could not be removed", d)
