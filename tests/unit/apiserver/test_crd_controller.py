"""The CRD controller's registration, driven by watch-cache events and resyncs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from tinykube.api import resources
from tinykube.apiserver.crd import definition
from tinykube.apiserver.crd.controller import CRDController
from tinykube.apiserver.watchcache import CachedEvent

SCHEMA = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}


class FakeCache:
    """The three reads the controller makes of the watch cache, and its listener."""

    def __init__(self) -> None:
        self.objects: dict[str, dict[str, Any]] = {}
        self.listeners: list[Callable[[CachedEvent], None]] = []

    def add_listener(self, fn: Callable[[CachedEvent], None]) -> None:
        self.listeners.append(fn)

    def items(self, prefix: str) -> list[dict[str, Any]]:
        return [o for k, o in sorted(self.objects.items()) if k.startswith(prefix)]

    def get(self, key: str) -> dict[str, Any] | None:
        return self.objects.get(key)

    def put(self, crd: dict[str, Any], event: str = "ADDED") -> None:
        key = definition.CRDS.key("", crd["metadata"]["name"])
        if event == "DELETED":
            self.objects.pop(key, None)
        else:
            self.objects[key] = crd
        ev = CachedEvent(1, event, key.split("/")[2], key, crd, None)
        for fn in self.listeners:
            fn(ev)


def crd(plural: str, kind: str, stamp: str = "2026-01-01T00:00:00Z") -> dict[str, Any]:
    return {
        "metadata": {"name": f"{plural}.example.com", "creationTimestamp": stamp},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"plural": plural, "kind": kind},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": SCHEMA},
                }
            ],
        },
    }


@pytest.fixture
def cache() -> Iterator[FakeCache]:
    fake = FakeCache()
    yield fake
    for name in {r.crd for r in resources.dynamic()}:
        definition.unserve(name)


def controller(cache: FakeCache) -> CRDController:
    return CRDController(SimpleNamespace(cache=cache))  # type: ignore[arg-type]


def test_events_serve_and_withdraw_the_kind(cache: FakeCache) -> None:
    controller(cache)
    before = resources.revision()
    cache.put(crd("widgets", "Widget"))
    res = resources.lookup("example.com", "v1", "widgets")
    assert res is not None and res.kind == "Widget"
    assert resources.revision() > before
    assert ("example.com", "v1") in resources.group_versions()
    cache.put(crd("widgets", "Widget"), "DELETED")
    assert resources.lookup("example.com", "v1", "widgets") is None
    assert ("example.com", "v1") not in resources.group_versions()


def test_a_conflicting_crd_is_served_once_the_older_one_goes(cache: FakeCache) -> None:
    controller(cache)
    cache.put(crd("widgets", "Widget"))
    cache.put(crd("gadgets", "Widget", stamp="2026-01-02T00:00:00Z"))
    assert resources.lookup("example.com", "v1", "gadgets") is None
    cache.put(crd("widgets", "Widget"), "DELETED")
    assert resources.lookup("example.com", "v1", "gadgets") is not None


def test_load_and_resync_follow_what_is_stored(cache: FakeCache) -> None:
    stored = crd("widgets", "Widget")
    cache.objects[definition.CRDS.key("", "widgets.example.com")] = stored
    ctl = controller(cache)
    ctl.load()
    assert resources.lookup("example.com", "v1", "widgets") is not None
    # a cache reload swaps the objects without events: the resync catches up
    cache.objects.clear()
    cache.objects[definition.CRDS.key("", "gadgets.example.com")] = crd("gadgets", "Gadget")
    ctl.resync()
    assert resources.lookup("example.com", "v1", "widgets") is None
    assert resources.lookup("example.com", "v1", "gadgets") is not None
