"""The ingress controller's routing table: Ingresses in, a backend per (host, path) out."""

from __future__ import annotations

from typing import Any

import pytest

from tinykube.ingress import certs, routes, status
from tinykube.ingress.routes import Backend

Obj = dict[str, Any]
CONTROLLER = "tinykube.io/ingress"


def backend(service: str, port: int | str = 80) -> Obj:
    key = "number" if isinstance(port, int) else "name"
    return {"service": {"name": service, "port": {key: port}}}


def path(p: str, service: str, path_type: str = "Prefix", port: int | str = 80) -> Obj:
    return {"path": p, "pathType": path_type, "backend": backend(service, port)}


def ingress(
    name: str,
    rules: list[Obj] | None = None,
    *,
    default: str | None = None,
    created: str = "2024-01-01T00:00:00Z",
    namespace: str = "default",
    cls: str | None = None,
    annotations: dict[str, str] | None = None,
    tls: list[Obj] | None = None,
) -> Obj:
    spec: Obj = {"rules": rules or []}
    if default:
        spec["defaultBackend"] = backend(default)
    if cls is not None:
        spec["ingressClassName"] = cls
    if tls is not None:
        spec["tls"] = tls
    meta: Obj = {"name": name, "namespace": namespace, "creationTimestamp": created}
    if annotations:
        meta["annotations"] = annotations
    return {"metadata": meta, "spec": spec}


def rule(host: str | None, *paths: Obj) -> Obj:
    out: Obj = {"http": {"paths": list(paths)}}
    if host is not None:
        out["host"] = host
    return out


DEMO = [
    ingress(
        "demo",
        [
            rule(
                "foo.example",
                path("/app", "svc-a"),
                path("/app/admin", "svc-admin"),
                path("/exact", "svc-exact", "Exact"),
                path("/impl", "svc-impl", "ImplementationSpecific"),
            ),
            rule("*.wild.example", path("/", "svc-wild")),
            rule("a.wild.example", path("/only", "svc-a-wild")),
            rule(None, path("/everywhere", "svc-any")),
        ],
        default="svc-default",
    )
]


@pytest.mark.parametrize(
    ("host", "request_path", "want"),
    [
        ("foo.example", "/app", "svc-a"),
        ("foo.example", "/app/", "svc-a"),
        ("foo.example", "/app/page", "svc-a"),
        ("FOO.example:8080", "/app", "svc-a"),
        ("foo.example", "/app/admin/users", "svc-admin"),  # longest prefix wins
        ("foo.example", "/appx", "svc-default"),  # element-wise, not string prefix
        ("foo.example", "/exact", "svc-exact"),
        ("foo.example", "/exact/", "svc-default"),  # Exact means exact
        ("foo.example", "/impl/x", "svc-impl"),  # ImplementationSpecific reads as Prefix
        ("b.wild.example", "/x", "svc-wild"),
        ("a.wild.example", "/only", "svc-a-wild"),  # the exact host before the wildcard
        ("a.wild.example", "/other", "svc-wild"),  # then the wildcard's paths
        ("wild.example", "/", "svc-default"),  # the wildcard needs one more label
        ("x.y.wild.example", "/", "svc-default"),  # and only one
        ("foo.example", "/everywhere/x", "svc-any"),  # a host-less rule serves every host
        ("unknown.example", "/everywhere", "svc-any"),
        ("unknown.example", "/", "svc-default"),
    ],
)
def test_match(host: str, request_path: str, want: str) -> None:
    got = routes.build_routes(DEMO).match(host, request_path)
    assert got is not None
    assert got.service == want


def test_no_rule_and_no_default_backend_is_none() -> None:
    table = routes.build_routes([ingress("a", [rule("foo.example", path("/app", "svc-a"))])])
    assert table.match("foo.example", "/other") is None
    assert table.match("bar.example", "/app") is None


def test_exact_beats_a_longer_prefix() -> None:
    table = routes.build_routes(
        [ingress("a", [rule("h", path("/a/b", "prefix"), path("/a/b", "exact", "Exact"))])]
    )
    assert table.match("h", "/a/b") == Backend("default", "exact", 80)
    assert table.match("h", "/a/b/c") == Backend("default", "prefix", 80)


def test_prefix_root_and_trailing_slash() -> None:
    table = routes.build_routes([ingress("a", [rule("h", path("/", "root"), path("/foo/", "f"))])])
    assert table.match("h", "/foo").service == "f"  # type: ignore[union-attr]
    assert table.match("h", "/foobar").service == "root"  # type: ignore[union-attr]


def test_oldest_ingress_wins_a_conflict() -> None:
    young = ingress("young", [rule("h", path("/", "young"))], created="2024-02-01T00:00:00Z")
    old = ingress("old", [rule("h", path("/", "old"))], created="2024-01-01T00:00:00Z")
    assert routes.build_routes([young, old]).match("h", "/").service == "old"  # type: ignore[union-attr]


def test_host_default_backend_before_another_ingress_default() -> None:
    first = ingress("first", [], default="catch-all", created="2024-01-01T00:00:00Z")
    second = ingress(
        "second", [rule("h", path("/x", "x"))], default="h-default", created="2024-02-01T00:00:00Z"
    )
    table = routes.build_routes([second, first])
    assert table.match("h", "/y").service == "h-default"  # type: ignore[union-attr]
    assert table.match("other", "/y").service == "catch-all"  # type: ignore[union-attr]


def test_port_by_name_and_namespace_kept() -> None:
    ing = ingress("a", [rule("h", path("/", "web", port="http"))], namespace="team")
    assert routes.build_routes([ing]).match("h", "/") == Backend("team", "web", "http")


def ingress_class(name: str, controller: str = CONTROLLER, default: bool = False) -> Obj:
    meta: Obj = {"name": name}
    if default:
        meta["annotations"] = {routes.DEFAULT_CLASS_ANNOTATION: "true"}
    return {"metadata": meta, "spec": {"controller": controller}}


@pytest.mark.parametrize(
    ("ing", "default", "want"),
    [
        (ingress("a", cls="tinykube"), False, True),
        (ingress("a", cls="nginx"), True, False),
        (ingress("a", cls="missing"), True, False),
        (ingress("a"), True, True),  # no class: the default class's controller serves it
        (ingress("a"), False, False),
        (ingress("a", annotations={routes.LEGACY_CLASS_ANNOTATION: "tinykube"}), False, True),
        (ingress("a", annotations={routes.LEGACY_CLASS_ANNOTATION: "nginx"}), True, False),
    ],
    ids=["named", "other", "missing", "default", "not-default", "legacy", "legacy-other"],
)
def test_serves(ing: Obj, default: bool, want: bool) -> None:
    classes = [ingress_class("tinykube", default=default), ingress_class("nginx", "k8s.io/x")]
    assert routes.serves(ing, classes, CONTROLLER) is want


def service(ports: list[Obj], **spec: Any) -> Obj:
    return {"metadata": {"name": "web", "namespace": "default"}, "spec": {"ports": ports, **spec}}


def endpoint_slice(port_name: str, port: int, endpoints: list[tuple[str, bool | None]]) -> Obj:
    eps = []
    for ip, ready in endpoints:
        conditions = {} if ready is None else {"ready": ready}
        eps.append({"addresses": [ip], "conditions": conditions})
    return {"ports": [{"name": port_name, "port": port, "protocol": "TCP"}], "endpoints": eps}


def test_endpoints_by_number_and_name_ready_only() -> None:
    svc = service([{"name": "http", "port": 80, "targetPort": 8080}, {"name": "m", "port": 9}])
    slices = [
        endpoint_slice("http", 8080, [("10.0.0.2", True), ("10.0.0.1", None), ("10.0.0.3", False)]),
        endpoint_slice("m", 9100, [("10.0.0.1", True)]),
    ]
    want = [("10.0.0.1", 8080), ("10.0.0.2", 8080)]
    assert routes.endpoints_for(svc, 80, slices) == want
    assert routes.endpoints_for(svc, "http", slices) == want
    assert routes.endpoints_for(svc, "m", slices) == [("10.0.0.1", 9100)]
    assert routes.endpoints_for(svc, 81, slices) == []
    assert routes.endpoints_for(None, 80, slices) == []


def test_external_name_service_is_its_name() -> None:
    svc = service([{"port": 80}], type="ExternalName", externalName="example.org")
    assert routes.endpoints_for(svc, 80, []) == [("example.org", 80)]


def test_tls_secrets_by_host() -> None:
    old = ingress(
        "old",
        [rule("a.example", path("/", "x"))],
        tls=[{"secretName": "a-cert"}, {"hosts": ["*.w.example"], "secretName": "w-cert"}],
    )
    young = ingress(
        "young",
        tls=[{"hosts": ["a.example", "b.example"], "secretName": "b-cert"}],
        created="2024-05-01T00:00:00Z",
    )
    assert certs.tls_secrets([young, old]) == {
        "a.example": ("default", "a-cert"),
        "*.w.example": ("default", "w-cert"),
        "b.example": ("default", "b-cert"),
    }


@pytest.mark.parametrize(
    ("svc", "want"),
    [
        ({"spec": {"type": "NodePort", "clusterIP": "10.96.0.5"}}, ["10.96.0.5"]),
        (
            {"spec": {"type": "NodePort", "clusterIP": "10.96.0.5", "externalIPs": ["1.2.3.4"]}},
            ["1.2.3.4"],
        ),
        (
            {
                "spec": {"type": "LoadBalancer", "clusterIP": "10.96.0.5"},
                "status": {"loadBalancer": {"ingress": [{"ip": "198.18.0.1"}]}},
            },
            ["198.18.0.1"],
        ),
        (None, []),
    ],
    ids=["nodeport", "external-ips", "loadbalancer", "missing"],
)
def test_published_addresses(svc: Obj | None, want: list[str]) -> None:
    assert status.service_addresses(svc) == want


def test_status_written_only_when_it_differs() -> None:
    ours = status.status_points(["10.96.0.5"])
    assert ours == [{"ip": "10.96.0.5"}]
    fresh = ingress("a")
    done = {**fresh, "status": {"loadBalancer": {"ingress": ours}}}
    assert status.desired_points(fresh, True, ours) == ours
    assert status.desired_points(done, True, ours) is None
    assert status.desired_points(done, False, ours) == []  # moved to another class
    assert status.desired_points(fresh, False, ours) is None


def rewriting(target: str, *paths: Obj) -> Obj:
    return ingress(
        "rw", [rule("h", *paths)], annotations={routes.REWRITE_TARGET_ANNOTATION: target}
    )


@pytest.mark.parametrize(
    ("target", "rule_path", "request_path", "want"),
    [
        ("/", "/testpath", "/testpath", "/"),  # the Kubernetes docs' minimal Ingress
        ("/", "/testpath", "/testpath/deeper", "/"),
        ("/$2", "/something(/|$)(.*)", "/something/new/x", "/new/x"),
        ("/$2", "/something(/|$)(.*)", "/something", "/"),
        ("/base/$1", "/API/(.*)", "/api/v1", "/base/v1"),  # case-insensitive, like nginx
        ("$1", "/(.*)", "/a", "/a"),  # the result is always absolute
        ("/x/$7", "/(a)", "/a", "/x/"),  # a missing group is empty
    ],
)
def test_rewrite_target(target: str, rule_path: str, request_path: str, want: str) -> None:
    table = routes.build_routes([rewriting(target, path(rule_path, "web"))])
    assert table.resolve("h", request_path) == (Backend("default", "web", 80), want)


def test_rewrite_paths_are_regular_expressions_and_others_are_not() -> None:
    table = routes.build_routes(
        [
            rewriting("/", path("/a+", "regex"), path("/broken(", "never")),
            ingress("plain", [rule("h", path("/b+", "literal"))]),
        ]
    )
    assert table.resolve("h", "/aaa") == (Backend("default", "regex", 80), "/")
    assert table.match("h", "/bbb") is None  # a plain path is not a pattern
    assert table.resolve("h", "/b+/x") == (Backend("default", "literal", 80), "/b+/x")
    assert table.match("h", "/broken(") is None  # an invalid expression serves nothing
