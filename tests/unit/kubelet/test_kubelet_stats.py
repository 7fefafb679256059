"""Rates from two readings, and the summary's shape, as kubectl top needs them."""

from __future__ import annotations

from tinykube.apiserver.metrics import node_metrics, pod_metrics
from tinykube.kubelet.stats import Reading, _usage, node_usage


def test_usage_is_the_cpu_spent_between_two_readings_over_the_time_between() -> None:
    got = _usage([Reading(100.0, 5_000_000_000, 1), Reading(110.0, 7_500_000_000, 2048)])
    assert got["cpu"]["usageNanoCores"] == 250_000_000  # a quarter of a core
    assert got["cpu"]["usageCoreNanoSeconds"] == 7_500_000_000
    assert got["memory"]["workingSetBytes"] == 2048
    assert got["cpu"]["time"] == "1970-01-01T00:01:50Z"


def test_node_usage_reads_this_host() -> None:
    cpu, memory = node_usage()
    assert cpu > 0 and memory > 0


def test_metrics_objects_use_nanocores_and_kibibytes() -> None:
    stats = {"cpu": {"time": "T", "usageNanoCores": 1234}, "memory": {"workingSetBytes": 4096}}
    node = node_metrics({"metadata": {"name": "n1", "labels": {"a": "b"}}}, {"node": stats})
    assert node is not None
    assert node["usage"] == {"cpu": "1234n", "memory": "4Ki"}
    assert node["metadata"]["labels"] == {"a": "b"} and node["timestamp"] == "T"
    assert node_metrics({"metadata": {"name": "n2"}}, {"node": {}}) is None
    pod = pod_metrics(
        {
            "podRef": {"name": "p", "namespace": "ns"},
            **stats,
            "containers": [{"name": "c", **stats}],
        }
    )
    assert pod["metadata"] == {"name": "p", "namespace": "ns", "creationTimestamp": "T"}
    assert pod["containers"] == [{"name": "c", "usage": {"cpu": "1234n", "memory": "4Ki"}}]


def test_process_group_usage_reads_proc_once_for_every_group() -> None:
    import subprocess
    import sys
    import time

    from tinykube.kubelet.runtime import proc_stats

    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"], start_new_session=True)
    idle = subprocess.Popen(["sleep", "30"], start_new_session=True)
    try:
        time.sleep(0.6)
        proc_stats._last_scan = (float("-inf"), {})
        cpu, rss = proc_stats.process_group_usage(busy.pid)
        scanned = proc_stats._last_scan
        assert cpu > 100_000_000 and rss > 1024 * 1024  # 0.1 s of CPU, a MiB resident
        assert proc_stats.process_group_usage(idle.pid)[1] > 0
        assert proc_stats._last_scan is scanned  # the second group came from the same pass
        assert proc_stats.process_group_usage(2**22 + 7) == (0, 0)  # no such group
    finally:
        busy.kill()
        idle.kill()
