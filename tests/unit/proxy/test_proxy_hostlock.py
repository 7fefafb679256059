"""The host lock that lets one kube-proxy of a cluster serve a host while the others wait."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tinykube.proxy.hostlock import HostLock, lock_name

pytestmark = pytest.mark.unit


def test_one_holder_at_a_time_and_the_next_after_release(tmp_path: Path) -> None:
    path = tmp_path / "locks" / lock_name("tk-svc", "10.96.0.1")
    first, second = HostLock(path), HostLock(path)
    assert first.try_acquire("controlplane")
    assert not second.try_acquire("node01")  # a second open file: flock refuses it
    assert second.holder() == "controlplane"
    first.release()
    assert second.try_acquire("node01")
    assert first.holder() == "node01"
    second.release()


async def test_a_standby_takes_over_when_the_holder_releases(tmp_path: Path) -> None:
    path = tmp_path / lock_name("tk-svc", "10.96.0.1")
    holder, standby = HostLock(path), HostLock(path)
    assert holder.try_acquire("controlplane")
    waiting = asyncio.create_task(standby.acquire("node02", poll=0.01))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    holder.release()
    await asyncio.wait_for(waiting, 2)
    assert standby.held
    standby.release()


@pytest.mark.parametrize(
    ("interface", "key", "name"),
    [
        ("tk-svc", "10.96.0.1", "kube-proxy-tk-svc-10.96.0.1.lock"),
        ("tk-svc", "fd00::1", "kube-proxy-tk-svc-fd00__1.lock"),
    ],
)
def test_lock_names_are_file_names(interface: str, key: str, name: str) -> None:
    assert lock_name(interface, key) == name
