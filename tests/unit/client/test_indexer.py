"""The informer cache: keys, the namespace index, custom indexes kept in step with writes."""

from __future__ import annotations

import pytest

from tinykube.client.informers.indexer import NAMESPACE_INDEX, Indexer, key_of, split_key

pytestmark = pytest.mark.unit


def pod(name: str, namespace: str = "default", node: str = "") -> dict:
    obj: dict = {"metadata": {"name": name, "namespace": namespace}, "spec": {}}
    if node:
        obj["spec"]["nodeName"] = node
    return obj


def by_node(obj: dict) -> list[str]:
    node = obj["spec"].get("nodeName")
    return [node] if node else []


@pytest.mark.parametrize(
    ("obj", "key"),
    [
        ({"metadata": {"name": "a", "namespace": "ns"}}, "ns/a"),
        ({"metadata": {"name": "node1"}}, "node1"),
        ({"metadata": {"name": "x", "namespace": ""}}, "x"),
    ],
    ids=["namespaced", "cluster-scoped", "empty-namespace"],
)
def test_key_of(obj: dict, key: str) -> None:
    assert key_of(obj) == key


@pytest.mark.parametrize(
    ("key", "parts"), [("ns/a", ("ns", "a")), ("a", ("", "a"))], ids=["namespaced", "cluster"]
)
def test_split_key(key: str, parts: tuple[str, str]) -> None:
    assert split_key(key) == parts


def test_add_get_delete() -> None:
    idx = Indexer()
    assert idx.add(pod("a")) is None
    first = idx.get("default/a")
    assert first is not None
    replacement = pod("a", node="n1")
    assert idx.add(replacement) is first
    assert idx.get_by_name("default", "a") is replacement
    assert idx.delete(pod("a")) is replacement
    assert idx.get("default/a") is None
    assert idx.delete(pod("a")) is None
    assert len(idx) == 0


def test_objects_are_shared_not_copied() -> None:
    idx = Indexer()
    obj = pod("a")
    idx.add(obj)
    assert idx.get("default/a") is obj
    assert idx.list()[0] is obj


def test_namespace_index() -> None:
    idx = Indexer()
    for p in (pod("a", "x"), pod("b", "x"), pod("c", "y")):
        idx.add(p)
    assert [p["metadata"]["name"] for p in idx.by_index(NAMESPACE_INDEX, "x")] == ["a", "b"]
    assert [p["metadata"]["name"] for p in idx.list_namespace("y")] == ["c"]
    idx.delete(pod("c", "y"))
    assert idx.list_namespace("y") == []
    assert "y" not in idx.index_values(NAMESPACE_INDEX)


def test_custom_index_follows_updates() -> None:
    idx = Indexer({"node": by_node})
    idx.add(pod("a", node="n1"))
    idx.add(pod("b", node="n1"))
    idx.add(pod("c"))
    assert idx.index_keys("node", "n1") == {"default/a", "default/b"}
    idx.update(pod("a", node="n2"))  # moved
    assert idx.index_keys("node", "n1") == {"default/b"}
    assert idx.index_keys("node", "n2") == {"default/a"}
    idx.delete(pod("b"))
    assert idx.index_keys("node", "n1") == set()


def test_index_added_later_covers_existing_objects() -> None:
    idx = Indexer()
    idx.add(pod("a", node="n1"))
    idx.add_indexer("node", by_node)
    assert idx.index_keys("node", "n1") == {"default/a"}


def test_replace_rebuilds_items_and_indexes() -> None:
    idx = Indexer({"node": by_node})
    idx.add(pod("a", node="n1"))
    idx.replace([pod("b", node="n2"), pod("c", "other")])
    assert sorted(idx.keys()) == ["default/b", "other/c"]
    assert idx.index_keys("node", "n1") == set()
    assert idx.index_keys("node", "n2") == {"default/b"}
    assert idx.list_namespace("other")[0]["metadata"]["name"] == "c"


def test_unknown_index_is_an_error() -> None:
    with pytest.raises(KeyError):
        Indexer().by_index("nope", "x")


def test_multi_value_index() -> None:
    def labels(obj: dict) -> list[str]:
        return [f"{k}={v}" for k, v in (obj["metadata"].get("labels") or {}).items()]

    idx = Indexer({"labels": labels})
    obj = pod("a")
    obj["metadata"]["labels"] = {"app": "web", "tier": "fe"}
    idx.add(obj)
    assert idx.index_keys("labels", "app=web") == {"default/a"}
    assert idx.index_keys("labels", "tier=fe") == {"default/a"}
