"""Choosing the endpoint of a new connection: round robin, ClientIP affinity and expiry."""

from __future__ import annotations

import pytest

from tinykube.proxy.balancer import Balancer
from tinykube.proxy.table import Endpoint, Route

pytestmark = pytest.mark.unit

A, B, C = (Endpoint(f"10.244.0.{n}", 8080) for n in (2, 3, 4))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_round_robin_visits_every_endpoint_in_turn():
    lb = Balancer()
    route = Route("ns/web", (A, B, C))
    assert [lb.pick(route, "1.1.1.1") for _ in range(6)] == [A, B, C, A, B, C]


def test_round_robin_is_shared_by_every_frontend_of_a_service_port():
    lb = Balancer()
    cluster_ip, node_port = Route("ns/web", (A, B)), Route("ns/web", (A, B))
    assert [lb.pick(cluster_ip, "x"), lb.pick(node_port, "x")] == [A, B]


def test_no_endpoints_means_no_pick():
    assert Balancer().pick(Route("ns/web", ()), "1.1.1.1") is None


def test_a_refusing_endpoint_is_skipped():
    lb = Balancer()
    route = Route("ns/web", (A, B))
    assert lb.pick(route, "c", skip=[A]) == B
    assert lb.pick(route, "c", skip=[A, B]) is None


def test_client_ip_affinity_sticks_to_one_endpoint_until_the_timeout():
    clock = Clock()
    lb = Balancer(clock)
    route = Route("ns/web", (A, B, C), affinity=10.0)
    first = lb.pick(route, "192.0.2.1")
    assert first == A
    assert all(lb.pick(route, "192.0.2.1") == first for _ in range(5))
    assert lb.pick(route, "192.0.2.2") == B  # another client takes the next turn
    clock.now += 9.0
    assert lb.pick(route, "192.0.2.1") == first  # use refreshes the timeout
    clock.now += 10.5
    assert lb.pick(route, "192.0.2.1") == C  # expired: round robin again


def test_affinity_never_returns_an_endpoint_that_left_the_route():
    lb = Balancer()
    first = lb.pick(Route("ns/web", (A, B), affinity=100.0), "c")
    rest = tuple(e for e in (A, B) if e != first)
    assert lb.pick(Route("ns/web", rest, affinity=100.0), "c") == rest[0]


def test_forget_drops_state_of_removed_ports_and_expired_affinity():
    clock = Clock()
    lb = Balancer(clock)
    route = Route("ns/web", (A, B), affinity=5.0)
    lb.pick(route, "c")
    lb.pick(Route("ns/old", (A,)), "c")
    clock.now += 6
    lb.forget(["ns/web"])
    assert set(lb._ports) == {"ns/web"}
    assert lb._ports["ns/web"].sticky == {}
