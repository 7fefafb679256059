"""ControllerRevision history: a name taken by another template is a hash collision, and the
owner's collisionCount goes up so the next hash differs."""

from __future__ import annotations

from typing import Any

import pytest

from tinykube.api import errors
from tinykube.controllers import history

pytestmark = pytest.mark.unit


def owner(collisions: int | None = None) -> dict:
    status = {} if collisions is None else {"collisionCount": collisions}
    return {
        "metadata": {"name": "agent", "namespace": "ns", "uid": "uid-agent"},
        "spec": {"template": {"metadata": {"labels": {"app": "a"}}, "spec": {"containers": []}}},
        "status": status,
    }


class TakenName:
    """Every create finds the name taken by a revision of another template."""

    def __init__(self) -> None:
        self.statuses: list[dict] = []

    async def create(self, *args: Any, **kw: Any) -> dict:
        raise errors.AlreadyExists("exists")

    async def get(self, api_version: str, resource: str, name: str, namespace: str = "") -> dict:
        return {"metadata": {"name": name, "ownerReferences": []}, "data": {"other": True}}

    async def update_status(self, api_version: str, resource: str, obj: dict, **kw: Any) -> dict:
        self.statuses.append(obj["status"])
        return obj


async def test_a_taken_name_is_a_collision_that_bumps_the_count() -> None:
    client = TakenName()
    with pytest.raises(history.HashCollision):
        await history.construct_history(client, owner(), "DaemonSet", [])  # type: ignore[arg-type]
    await history.bump_collision_count(client, "apps/v1", "daemonsets", owner())  # type: ignore[arg-type]
    assert client.statuses == [{"collisionCount": 1}]
    assert history.revision_hash(owner(1)) != history.revision_hash(owner())
