"""kube-proxy's service link is compared with what is really on it: addresses another
cluster's proxy took away, or the link itself, come back at the next verification."""

from __future__ import annotations

import ipaddress

import pytest

from tinykube.proxy import netif

pytestmark = pytest.mark.unit


class FakeLink:
    """What ``ip`` would do to one dummy link, and the commands it was given."""

    def __init__(self) -> None:
        self.exists = False
        self.addresses: set[str] = set()
        self.calls: list[tuple[str, ...]] = []

    async def ip(self, *args: str, stdin: str | None = None) -> tuple[int, str]:
        self.calls.append(args)
        if args[:2] == ("link", "show"):
            return (0 if self.exists else 1), ""
        if args[:2] == ("link", "add"):
            self.exists = True
            return 0, ""
        if args[:2] == ("link", "set"):
            return 0, ""
        if args[:3] == ("-o", "address", "show"):
            if not self.exists:
                return 1, 'Device "tk-svc" does not exist.'
            lines = [
                f"9: tk-svc    inet {ip}/32 scope global tk-svc" for ip in sorted(self.addresses)
            ]
            return 0, "\n".join(lines)
        if args[:2] == ("-force", "-batch"):
            for line in (stdin or "").splitlines():
                _, verb, cidr, *_ = line.split()
                ip = str(ipaddress.ip_interface(cidr).ip)
                (self.addresses.add if verb == "add" else self.addresses.discard)(ip)
            return 0, ""
        raise AssertionError(f"unexpected ip {args}")


@pytest.fixture
def link(monkeypatch: pytest.MonkeyPatch) -> FakeLink:
    fake = FakeLink()
    monkeypatch.setattr(netif, "_ip", fake.ip)
    return fake


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_an_address_taken_away_is_added_again_after_the_verify_period(link: FakeLink):
    clock = Clock()
    iface = netif.ServiceInterface(clock=clock)
    await iface.ensure({"10.96.0.1", "198.18.0.1"})
    assert link.addresses == {"10.96.0.1", "198.18.0.1"}
    link.addresses.discard("198.18.0.1")  # another cluster's proxy left with "its" address
    await iface.ensure({"10.96.0.1", "198.18.0.1"})
    assert link.addresses == {"10.96.0.1"}  # not yet: the link is not read on every sync
    clock.now += netif.VERIFY_SECONDS
    await iface.ensure({"10.96.0.1", "198.18.0.1"})
    assert link.addresses == {"10.96.0.1", "198.18.0.1"}


async def test_a_deleted_link_is_created_again(link: FakeLink):
    clock = Clock()
    iface = netif.ServiceInterface(clock=clock)
    await iface.ensure({"10.96.0.1"})
    link.exists, link.addresses = False, set()
    clock.now += netif.VERIFY_SECONDS
    await iface.ensure({"10.96.0.1"})
    assert link.exists and link.addresses == {"10.96.0.1"}


async def test_loopback_addresses_never_touch_the_link(link: FakeLink):
    iface = netif.ServiceInterface(clock=Clock())
    await iface.ensure({"127.96.0.1"})
    assert link.calls == []
