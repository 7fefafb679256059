"""``up --nodes``: worker names, their pod ranges, the control-plane taint; the ``up`` pid file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tinykube.cluster import daemon, nodes

pytestmark = pytest.mark.unit

TAINT = {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}


def test_workers_are_named_as_in_cka_clusters() -> None:
    assert nodes.worker_names(3) == ["node01", "node02", "node03"]
    assert nodes.worker_names(0) == []


@pytest.mark.parametrize(
    ("control_plane", "index", "worker"),
    [
        ("10.244.0.0/24", 1, "10.244.1.0/24"),
        ("10.244.0.0/24", 2, "10.244.2.0/24"),
        ("10.244.255.0/24", 1, "10.245.0.0/24"),
        ("10.247.40.0/23", 1, "10.247.42.0/23"),
    ],
)
def test_worker_pod_cidrs_follow_the_control_planes(
    control_plane: str, index: int, worker: str
) -> None:
    assert nodes.worker_pod_cidr(control_plane, index) == worker


@pytest.mark.parametrize(
    ("taints", "wanted", "result"),
    [
        ([], True, [TAINT]),
        ([TAINT], True, None),
        ([TAINT], False, []),
        ([], False, None),
        (
            [{"key": "x", "effect": "NoExecute"}, TAINT],
            False,
            [{"key": "x", "effect": "NoExecute"}],
        ),
    ],
    ids=["add", "keep", "remove", "absent", "others-stay"],
)
def test_control_plane_taint_only_with_workers(
    taints: list[dict[str, str]], wanted: bool, result: list[dict[str, str]] | None
) -> None:
    assert nodes.with_control_plane_taint(taints, wanted) == result


def test_taint_flag_text() -> None:
    assert nodes.taint_text(TAINT) == "node-role.kubernetes.io/control-plane:NoSchedule"
    assert nodes.taint_text({"key": "k", "value": "v", "effect": "NoExecute"}) == "k=v:NoExecute"


def test_a_stale_pid_file_is_removed(tmp_path: Path) -> None:
    (tmp_path / daemon.PID_FILE).write_text(f"{os.getpid()}\n")  # not a running `up`
    assert daemon.running_pid(tmp_path) is None
    assert not (tmp_path / daemon.PID_FILE).exists()


def test_the_pid_file_is_this_ups_while_it_runs(tmp_path: Path) -> None:
    daemon.claim(tmp_path)
    assert (tmp_path / daemon.PID_FILE).read_text().strip() == str(os.getpid())
    daemon.unclaim(tmp_path)
    assert not (tmp_path / daemon.PID_FILE).exists()


def test_down_with_nothing_running_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert daemon.down(tmp_path) == 0
    assert "no cluster is running" in capsys.readouterr().err
