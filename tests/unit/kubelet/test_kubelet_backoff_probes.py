"""CrashLoopBackOff delays and probe thresholds/timing (pure, with explicit times)."""

from __future__ import annotations

import pytest

from tinykube.kubelet import probes
from tinykube.kubelet.backoff import CrashLoopBackOff
from tinykube.kubelet.podworkers import _duration, grace_period, should_restart

pytestmark = pytest.mark.unit


def test_first_restart_is_immediate_then_delays_double_to_the_cap() -> None:
    b = CrashLoopBackOff()
    now = 1000.0
    delays = []
    for _ in range(8):
        delays.append(b.remaining("k", finished_at=now, now=now))
        now += delays[-1]
        b.next("k", now)
    assert delays == [0, 10, 20, 40, 80, 160, 300, 300]


def test_backoff_resets_after_ten_minutes_without_a_crash() -> None:
    b = CrashLoopBackOff()
    b.next("k", 0)
    b.next("k", 10)
    assert b.remaining("k", finished_at=20, now=20) == 20
    assert b.remaining("k", finished_at=700, now=700) == 0
    assert b.next("k", 700) == 10


def test_backoff_counts_from_the_exit() -> None:
    b = CrashLoopBackOff()
    b.next("k", 0)
    assert b.remaining("k", finished_at=100, now=104) == 6


@pytest.mark.parametrize(
    ("policy", "code", "restart"),
    [("Always", 0, True), ("OnFailure", 0, False), ("OnFailure", 1, True), ("Never", 1, False)],
)
def test_should_restart(policy: str, code: int, restart: bool) -> None:
    assert should_restart(policy, code) is restart


def test_grace_period_prefers_the_deletion_grace() -> None:
    pod = {"metadata": {"deletionGracePeriodSeconds": 5}, "spec": {}}
    assert grace_period(pod) == 5
    assert grace_period({"metadata": {}, "spec": {}}) == 30


def test_back_off_message_duration_reads_like_go() -> None:
    assert [_duration(s) for s in (10, 80, 300)] == ["10s", "1m20s", "5m0s"]


def test_probe_defaults() -> None:
    t = probes.Timing.of({})
    assert (t.period, t.timeout, t.success_threshold, t.failure_threshold) == (10, 1, 1, 3)


def test_failure_threshold_needs_consecutive_failures() -> None:
    tracker = probes.ThresholdTracker(probes.Timing(failure_threshold=3), initial=True)
    results = [tracker.record(ok) for ok in (False, False, True, False, False, False)]
    assert results == [True, True, True, True, True, False]


def test_failed_out_fires_once_at_the_threshold() -> None:
    tracker = probes.ThresholdTracker(probes.Timing(failure_threshold=2), initial=True)
    fired = []
    for _ in range(4):
        tracker.record(False)
        fired.append(tracker.failed_out)
    assert fired == [False, True, False, False]


def test_success_threshold_for_readiness() -> None:
    tracker = probes.ThresholdTracker(probes.Timing(success_threshold=2), initial=False)
    assert [tracker.record(True) for _ in range(2)] == [False, True]


def test_first_probe_waits_for_the_initial_delay() -> None:
    timing = probes.Timing(initial_delay=5)
    assert probes.first_probe_delay(timing, started_at=100, now=101) == 4
    assert probes.first_probe_delay(timing, started_at=100, now=200) == 0


def test_named_probe_ports_resolve_through_container_ports() -> None:
    c = {"ports": [{"name": "http", "containerPort": 8080}]}
    assert probes.resolve_port("http", c) == 8080
    assert probes.resolve_port(9090, c) == 9090
    with pytest.raises(ValueError, match="not found"):
        probes.resolve_port("nope", c)
