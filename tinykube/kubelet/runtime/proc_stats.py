"""CPU and memory a container has used, read from its cgroup or, without one, from /proc.

What the CRI's ``ContainerStats`` reports and ``kubectl top`` shows: cumulative
CPU time (nanoseconds) and the memory working set (bytes in use minus
reclaimable page cache). With a cgroup (as root) the kernel's own accounting
is read: ``cpu.stat``/``memory.current``/``memory.stat`` on cgroup v2,
``cpuacct.usage``/``memory.usage_in_bytes``/``memory.stat`` on v1. Without
one, the container's processes are its process group, and their ``utime +
stime`` and resident set sizes are summed from ``/proc``.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

from tinykube.kubelet.runtime.proc_cgroups import Cgroup

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
SCAN_REUSE = 1.0  # seconds one /proc pass is good for


def _read_int(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _stat_value(path: Path, key: str) -> int:
    with contextlib.suppress(OSError):
        for line in path.read_text().splitlines():
            name, _, value = line.partition(" ")
            if name == key:
                return int(value)
    return 0


def cgroup_usage(group: Cgroup) -> tuple[int, int] | None:
    """(CPU nanoseconds, working-set bytes) from the cgroup's accounting files."""
    cpu = memory = None
    inactive = 0
    for d in group.dirs:
        if group.v2:
            if (d / "cpu.stat").exists():
                cpu = _stat_value(d / "cpu.stat", "usage_usec") * 1000
            memory = _read_int(d / "memory.current")
            inactive = _stat_value(d / "memory.stat", "inactive_file")
            continue
        if cpu is None and (d / "cpuacct.usage").exists():
            cpu = _read_int(d / "cpuacct.usage")
        if memory is None and (d / "memory.usage_in_bytes").exists():
            memory = _read_int(d / "memory.usage_in_bytes")
            inactive = _stat_value(d / "memory.stat", "total_inactive_file")
    if cpu is None or memory is None:
        return None
    return cpu, max(0, memory - inactive)


def _proc_fields(pid: str) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rfind(")") + 2 :].split()


def _scan() -> dict[int, tuple[int, int]]:
    """(CPU ticks, resident pages) of every process group on the host, from one pass."""
    groups: dict[int, tuple[int, int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        fields = _proc_fields(entry)
        # After the command: state ppid pgrp session ... utime(11) stime(12) ... rss(21)
        if fields is None or len(fields) < 22:
            continue
        ticks, pages = groups.get(int(fields[2]), (0, 0))
        groups[int(fields[2])] = (
            ticks + int(fields[11]) + int(fields[12]),
            pages + int(fields[21]),
        )
    return groups


_last_scan: tuple[float, dict[int, tuple[int, int]]] = (float("-inf"), {})


def process_group_usage(pgid: int) -> tuple[int, int]:
    """(CPU nanoseconds, resident bytes) of every live process in process group ``pgid``.

    One /proc pass serves every container measured within the same second (the
    kubelet's sampler asks for each in turn), not one pass per container."""
    global _last_scan
    now = time.monotonic()
    if now - _last_scan[0] > SCAN_REUSE:
        _last_scan = (now, _scan())
    ticks, pages = _last_scan[1].get(pgid, (0, 0))
    return ticks * 1_000_000_000 // CLOCK_TICKS, pages * PAGE_SIZE


def usage(group: Cgroup | None, pgid: int) -> tuple[int, int] | None:
    if group is not None:
        found = cgroup_usage(group)
        if found is not None:
            return found
    return process_group_usage(pgid) if pgid else None
