"""A StatefulSet sync against a recording client: the Events ``kubectl describe sts`` shows."""

from __future__ import annotations

from typing import Any

import pytest
from unit.controllers.recording_client import context
from unit.controllers.workload_builders import NOW

from tinykube.api import errors
from tinykube.controllers.statefulset.controller import StatefulSetController

pytestmark = pytest.mark.unit

Obj = dict[str, Any]


class Events:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str]] = []

    def event(self, obj: Obj, kind: str, reason: str, message: str) -> None:
        self.seen.append((kind, reason, message))


def a_stateful_set() -> Obj:
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "db", "namespace": "ns", "uid": "uid-db", "generation": 1},
        "spec": {
            "replicas": 1,
            "serviceName": "db",
            "selector": {"matchLabels": {"app": "db"}},
            "template": {
                "metadata": {"labels": {"app": "db"}},
                "spec": {"containers": [{"name": "c", "image": "pg"}]},
            },
            "volumeClaimTemplates": [
                {"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"]}}
            ],
        },
    }


def setup() -> tuple[StatefulSetController, Any, Events]:
    ctx, client, _ = context()
    controller = StatefulSetController(ctx, now=lambda: NOW)
    events = Events()
    controller.recorder = events  # type: ignore[assignment]
    controller.sets.replace([a_stateful_set()], "1")
    for informer in (controller.pods, controller.revisions, controller.claims):
        informer.replace([], "1")
    return controller, client, events


async def test_the_claim_and_the_pod_are_both_announced() -> None:
    controller, client, events = setup()
    await controller.reconcile("ns/db")
    assert client.verbs("create", "persistentvolumeclaims") == ["data-db-0"]
    assert client.verbs("create", "pods") == ["db-0"]
    assert events.seen == [
        ("Normal", "SuccessfulCreate", "create Claim data-db-0 Pod db-0 in StatefulSet db success"),
        ("Normal", "SuccessfulCreate", "create Pod db-0 in StatefulSet db successful"),
    ]


async def test_a_claim_that_cannot_be_made_is_a_warning_and_no_pod() -> None:
    controller, client, events = setup()
    create = client.create

    async def no_storage(api_version: str, resource: str, obj: Obj, *a: Any, **kw: Any) -> Obj:
        if resource == "persistentvolumeclaims":
            raise errors.Forbidden('exceeded quota: "storage"')
        return await create(api_version, resource, obj, *a, **kw)

    client.create = no_storage
    with pytest.raises(errors.Forbidden):
        await controller.reconcile("ns/db")
    assert client.verbs("create", "pods") == []
    (kind, reason, message), *_ = [e for e in events.seen if "Claim" in e[2]]
    assert (kind, reason) == ("Warning", "FailedCreate")
    assert message.startswith(
        "create Claim data-db-0 for Pod db-0 in StatefulSet db failed error: "
    )
