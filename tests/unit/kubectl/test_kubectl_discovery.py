"""REST mapping from what users type to resources, and the kubectl-compatible disk cache."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from tinykube.kubectl.discovery import Discovery, _from_aggregated, _match, cache_root
from tinykube.kubectl.errors import CommandError

pytestmark = pytest.mark.unit


def _res(
    name: str, kind: str, namespaced: bool = True, short: list[str] | None = None, **kw: Any
) -> dict[str, Any]:
    out = {
        "resource": name,
        "responseKind": {"group": kw.pop("group", ""), "version": "v1", "kind": kind},
        "scope": "Namespaced" if namespaced else "Cluster",
        "singularResource": kind.lower(),
        "verbs": ["get", "list"],
        "shortNames": short or [],
        **kw,
    }
    return out


AGGREGATED = [
    {
        "metadata": {"name": ""},
        "versions": [
            {
                "version": "v1",
                "resources": [
                    _res(
                        "pods",
                        "Pod",
                        short=["po"],
                        categories=["all"],
                        subresources=[
                            {
                                "subresource": "log",
                                "responseKind": {"kind": "Pod"},
                                "verbs": ["get"],
                            }
                        ],
                    ),
                    _res("events", "Event", short=["ev"]),
                    _res("nodes", "Node", namespaced=False, short=["no"]),
                ],
            }
        ],
    },
    {
        "metadata": {"name": "apps"},
        "versions": [
            {
                "version": "v1",
                "resources": [
                    _res(
                        "deployments",
                        "Deployment",
                        short=["deploy"],
                        group="apps",
                        categories=["all"],
                    )
                ],
            }
        ],
    },
    {
        "metadata": {"name": "events.k8s.io"},
        "versions": [
            {
                "version": "v1",
                "resources": [_res("events", "Event", short=["ev"], group="events.k8s.io")],
            }
        ],
    },
]


class FakeClient:
    def __init__(self) -> None:
        self.calls: list[str] = []

    async def call(self, method: str, path: str, **kw: Any) -> dict[str, Any]:
        self.calls.append(path)
        items = AGGREGATED[:1] if path == "/api" else AGGREGATED[1:]
        return {"kind": "APIGroupDiscoveryList", "items": items}


@pytest.fixture
def discovery(tmp_path: Path) -> Discovery:
    return Discovery(FakeClient(), tmp_path / "cache")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("typed", "resource", "group"),
    [
        ("pods", "pods", ""),
        ("pod", "pods", ""),
        ("po", "pods", ""),
        ("Pod", "pods", ""),
        ("PODS", "pods", ""),
        ("deploy", "deployments", "apps"),
        ("deployments.apps", "deployments", "apps"),
        ("deploy.apps", "deployments", "apps"),
        ("deployments.v1.apps", "deployments", "apps"),
        ("ev", "events", ""),
        ("events.events.k8s.io", "events", "events.k8s.io"),
        ("no", "nodes", ""),
    ],
)
def test_mapping(discovery: Discovery, typed: str, resource: str, group: str) -> None:
    m = asyncio.run(discovery.find(typed))
    assert (m.resource, m.group) == (resource, group)


def test_subresources_are_attached_to_their_parent(discovery: Discovery) -> None:
    assert asyncio.run(discovery.find("pods")).subresources == ("log",)


def test_unknown_type_fails_like_kubectl(discovery: Discovery) -> None:
    with pytest.raises(CommandError, match='the server doesn\'t have a resource type "foo"'):
        asyncio.run(discovery.find("foo"))


def test_category_all(discovery: Discovery) -> None:
    assert [m.resource for m in asyncio.run(discovery.category("all"))] == ["pods", "deployments"]


def test_cache_is_written_in_kubectls_layout_and_reused(tmp_path: Path) -> None:
    root = tmp_path / "cache"
    first = Discovery(FakeClient(), root)  # type: ignore[arg-type]
    asyncio.run(first.find("po"))
    groups = json.loads((root / "servergroups.json").read_text())
    assert [g["name"] for g in groups["groups"]] == ["", "apps", "events.k8s.io"]
    resources = json.loads((root / "apps" / "v1" / "serverresources.json").read_text())
    assert resources["resources"][0]["name"] == "deployments"
    client = FakeClient()
    again = Discovery(client, root)  # type: ignore[arg-type]
    assert asyncio.run(again.find("deploy")).group == "apps"
    assert client.calls == []


def test_cache_root_names_host_and_port() -> None:
    assert cache_root("/c", "https://127.0.0.1:6443").as_posix() == "/c/discovery/127.0.0.1_6443"


def test_aggregated_entries_without_response_kind_are_dropped() -> None:
    gvs, preferred = _from_aggregated(
        [
            {
                "metadata": {"name": ""},
                "versions": [{"version": "v1", "resources": [{"resource": "x"}]}],
            }
        ]
    )
    assert gvs[0].resources == [] and preferred == {"": "v1"}


def test_match_returns_none_for_unknown_group() -> None:
    assert _match([], "deploy.nope") is None
