"""The built-in load-balancer controller: which address a LoadBalancer Service gets,
and the status writes a reconcile makes."""

from __future__ import annotations

from typing import Any

import pytest

from tinykube.client.informers import InformerFactory
from tinykube.controllers import servicelb
from tinykube.controllers.runtime import ControllerContext, Requeue

pytestmark = pytest.mark.unit

Obj = dict[str, Any]


class StatusClient:
    """Records status patches; nothing else is expected."""

    def __init__(self) -> None:
        self.patches: list[tuple[str, str, Obj]] = []

    async def patch_status(
        self, api_version: str, resource: str, name: str, patch: Obj, namespace: str = ""
    ) -> Obj:
        self.patches.append((namespace, name, patch))
        return {}

    async def create(self, *args: Any, **kw: Any) -> Obj:  # the event recorder
        return {}


def lb(name: str, ip: str | None = None, **spec: Any) -> Obj:
    status = {"loadBalancer": {"ingress": [{"ip": ip}]}} if ip else {}
    return {
        "metadata": {"name": name, "namespace": "ns", "resourceVersion": "1"},
        "spec": {"type": "LoadBalancer", "clusterIP": "10.96.0.5", **spec},
        "status": status,
    }


def controller(*services: Obj, pool: str = "127.240.0.0/29"):
    client = StatusClient()
    ctx = ControllerContext(client, InformerFactory(client), options={servicelb.FLAG: pool})  # type: ignore[arg-type]
    ctl = servicelb.new(ctx)
    ctl.services.replace(list(services), "1")
    return ctl, client


def ingress(patch: Obj) -> Any:
    return patch["status"]["loadBalancer"]["ingress"]


@pytest.mark.parametrize(
    ("spec", "first", "count"),
    [
        ("127.240.0.0/29", "127.240.0.1", 6),
        ("198.18.0.10-198.18.0.12", "198.18.0.10", 3),
        ("127.240.0.7/32", "127.240.0.7", 1),
    ],
    ids=["cidr-hosts", "range", "single"],
)
def test_parse_pool(spec, first, count):
    pool = servicelb.parse_pool(spec)
    assert pool[0] == first and len(pool) == count


def test_parse_pool_rejects_a_backwards_range():
    with pytest.raises(ValueError, match="invalid"):
        servicelb.parse_pool("10.0.0.9-10.0.0.1")


def test_choose_keeps_the_current_address_then_the_requested_then_the_first_free():
    pool = ["127.240.0.1", "127.240.0.2", "127.240.0.3"]
    assert servicelb.choose_address(lb("a", "127.240.0.3"), pool, set()) == "127.240.0.3"
    asked = lb("a", loadBalancerIP="127.240.0.2")
    assert servicelb.choose_address(asked, pool, set()) == "127.240.0.2"
    assert servicelb.choose_address(asked, pool, {"127.240.0.2"}) is None
    assert servicelb.choose_address(lb("a"), pool, {"127.240.0.1"}) == "127.240.0.2"
    assert servicelb.choose_address(lb("a", "10.0.0.1"), pool, set()) == "127.240.0.1"


async def test_reconcile_assigns_the_first_free_address():
    ctl, client = controller(lb("a", "127.240.0.1"), lb("b"))
    assert await ctl.reconcile("ns/b") is None
    assert client.patches == [
        (
            "ns",
            "b",
            {"status": {"loadBalancer": {"ingress": [{"ip": "127.240.0.2", "ipMode": "VIP"}]}}},
        )
    ]


async def test_reconcile_does_not_hand_out_an_address_it_just_wrote():
    ctl, client = controller(lb("a"), lb("b"))
    await ctl.reconcile("ns/a")
    await ctl.reconcile("ns/b")  # the cache does not show a's address yet
    assert [ingress(p)[0]["ip"] for _, _, p in client.patches] == ["127.240.0.1", "127.240.0.2"]


async def test_reconcile_is_a_no_op_when_the_address_is_already_there():
    ctl, client = controller(lb("a", "127.240.0.1"))
    await ctl.reconcile("ns/a")
    assert client.patches == []


async def test_a_full_pool_retries_later():
    ctl, client = controller(lb("a", "127.240.0.7"), lb("b"), pool="127.240.0.7/32")
    assert await ctl.reconcile("ns/b") == Requeue(servicelb.RETRY_FULL)
    assert client.patches == []


async def test_a_service_that_is_no_longer_a_load_balancer_loses_its_address():
    svc = lb("a", "127.240.0.1")
    svc["spec"]["type"] = "ClusterIP"
    ctl, client = controller(svc)
    await ctl.reconcile("ns/a")
    assert client.patches == [("ns", "a", {"status": {"loadBalancer": {"ingress": None}}})]


async def test_a_service_with_a_load_balancer_class_belongs_to_another_implementation():
    ctl, client = controller(lb("a", loadBalancerClass="example.com/lb"))
    await ctl.reconcile("ns/a")
    assert client.patches == []
