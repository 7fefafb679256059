"""Pod addresses are handed out round the range, as host-local IPAM does."""

from __future__ import annotations

import pytest

from tinykube.kubelet.runtime.interface import RuntimeError_
from tinykube.kubelet.runtime.proc_host import IPAllocator


def test_a_released_address_is_not_handed_out_again_at_once() -> None:
    ips = IPAllocator("10.244.0.0/29")  # hosts .1-.6; .1 is the bridge's
    first, second = ips.allocate(), ips.allocate()
    assert (first, second) == ("10.244.0.2", "10.244.0.3")
    ips.release(first)
    # The replacement of a pod still being torn down gets a fresh address.
    assert ips.allocate() == "10.244.0.4"


def test_the_search_wraps_round_and_the_range_can_fill() -> None:
    ips = IPAllocator("10.244.0.0/29")
    got = [ips.allocate() for _ in range(5)]
    assert got == [f"10.244.0.{n}" for n in range(2, 7)]
    ips.release("10.244.0.3")
    assert ips.allocate() == "10.244.0.3"  # the only one free, after wrapping
    with pytest.raises(RuntimeError_, match="no free address left"):
        ips.allocate()


def test_claimed_addresses_are_skipped() -> None:
    ips = IPAllocator("10.244.0.0/29")
    ips.claim("10.244.0.2")
    assert ips.allocate() == "10.244.0.3"
