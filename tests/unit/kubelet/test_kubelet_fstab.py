"""The fstab(5) lines a process-runtime container's mounts are made from, and ip's error report."""

from __future__ import annotations

from pathlib import Path

import pytest

from tinykube.kubelet.runtime.interface import Mount
from tinykube.kubelet.runtime.proc_host import _failed_lines
from tinykube.kubelet.runtime.proc_setup import fstab_line

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("mount", "root", "line"),
    [
        pytest.param(
            Mount(Path("/var/lib/k/etc/hosts"), "/etc/hosts"),
            Path("/"),
            "/var/lib/k/etc/hosts /etc/hosts none bind 0 0",
            id="bind",
        ),
        pytest.param(
            Mount(Path("/v/token"), "/var/run/secrets", read_only=True),
            Path("/c/merged"),
            "/v/token /c/merged/var/run/secrets none bind,ro 0 0",
            id="read-only-in-an-image-root",
        ),
        pytest.param(
            Mount(Path("/my data\\x"), "/mnt/a\tb"),
            Path("/"),
            "/my\\040data\\134x /mnt/a\\011b none bind 0 0",
            id="blanks-and-backslashes-in-octal",
        ),
    ],
)
def test_fstab_line(mount: Mount, root: Path, line: str) -> None:
    assert fstab_line(mount, root) == line


def test_ip_batch_failures_by_line() -> None:
    stderr = (
        'Device "tk-x" does not exist.\n'
        "Command failed -:2\n"
        "RTNETLINK answers: File exists\n"
        "Command failed -:5\n"
    )
    assert _failed_lines(stderr) == {
        2: 'Device "tk-x" does not exist.',
        5: "RTNETLINK answers: File exists",
    }
