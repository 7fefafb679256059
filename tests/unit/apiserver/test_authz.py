"""RBAC rule matching, request attributes, Forbidden messages and the bootstrap policy."""

from __future__ import annotations

from multidict import MultiDict

from tinykube.apiserver.authz import policy
from tinykube.apiserver.authz.attributes import Attributes, forbidden, of_request
from tinykube.apiserver.authz.rules import allows, uncovered
from tinykube.apiserver.requestinfo import parse_resource_path


def attrs(method: str, path: str, **query: str) -> Attributes:
    return of_request(method, path, parse_resource_path(path), MultiDict(query))


def test_verbs_follow_the_method_name_and_watch() -> None:
    assert attrs("GET", "/api/v1/namespaces/a/pods").verb == "list"
    assert attrs("GET", "/api/v1/namespaces/a/pods/p").verb == "get"
    assert attrs("GET", "/api/v1/namespaces/a/pods", watch="true").verb == "watch"
    assert attrs("GET", "/api/v1/watch/namespaces/a/pods").verb == "watch"
    assert attrs("POST", "/api/v1/namespaces/a/pods").verb == "create"
    assert attrs("PUT", "/api/v1/namespaces/a/pods/p").verb == "update"
    assert attrs("PATCH", "/api/v1/namespaces/a/pods/p").verb == "patch"
    assert attrs("DELETE", "/api/v1/namespaces/a/pods/p").verb == "delete"
    assert attrs("DELETE", "/api/v1/namespaces/a/pods").verb == "deletecollection"
    # A WebSocket GET that opens a shell needs create, as Kubernetes requires.
    assert attrs("GET", "/api/v1/namespaces/a/pods/p/exec").verb == "create"
    log = attrs("GET", "/api/v1/namespaces/a/pods/p/log")
    assert (log.verb, log.resource, log.subresource) == ("get", "pods", "log")


def test_a_name_field_selector_narrows_a_list_to_that_object() -> None:
    a = attrs("GET", "/api/v1/namespaces/a/pods", fieldSelector="metadata.name=web", watch="1")
    assert (a.verb, a.name) == ("watch", "web")
    assert attrs("GET", "/api/v1/pods", fieldSelector="metadata.name!=web").name == ""


def test_non_resource_paths_use_the_lowercase_method() -> None:
    a = attrs("GET", "/apis/apps/v1")
    assert (a.resource_request, a.verb, a.path) == (False, "get", "/apis/apps/v1")


def test_rule_matching() -> None:
    pods_read = policy.rule(["get", "list"], [""], ["pods", "pods/log"])
    assert allows(pods_read, Attributes("get", resource="pods", namespace="a", name="x"))
    assert allows(pods_read, Attributes("get", resource="pods", subresource="log"))
    assert not allows(pods_read, Attributes("get", resource="pods", subresource="exec"))
    assert not allows(pods_read, Attributes("delete", resource="pods"))
    assert not allows(pods_read, Attributes("get", group="apps", resource="pods"))
    any_status = policy.rule(["get"], ["*"], ["*/status"])
    assert allows(
        any_status, Attributes("get", group="apps", resource="deployments", subresource="status")
    )
    assert not allows(any_status, Attributes("get", group="apps", resource="deployments"))
    named = policy.rule(["get"], [""], ["configmaps"], ["settings"])
    assert allows(named, Attributes("get", resource="configmaps", name="settings"))
    assert not allows(named, Attributes("get", resource="configmaps", name="other"))
    assert not allows(named, Attributes("list", resource="configmaps"))
    urls = policy.urls(["get"], ["/healthz", "/apis/*"])
    assert allows(urls, Attributes("get", path="/apis/apps/v1", resource_request=False))
    assert allows(urls, Attributes("get", path="/healthz", resource_request=False))
    assert not allows(urls, Attributes("get", path="/healthz/etcd", resource_request=False))
    assert not allows(urls, Attributes("get", resource="pods"))


def test_forbidden_messages_read_as_kube_apiservers() -> None:
    err = forbidden("jane", Attributes("list", resource="pods", namespace="dev"))
    assert err.code == 403 and err.reason == "Forbidden"
    assert err.message == (
        'pods is forbidden: User "jane" cannot list resource "pods" in API group "" '
        'in the namespace "dev"'
    )
    err = forbidden("jane", Attributes("delete", group="apps", resource="deployments", name="web"))
    assert err.message == (
        'deployments.apps "web" is forbidden: User "jane" cannot delete resource '
        '"deployments" in API group "apps" at the cluster scope'
    )
    assert err.status()["details"] == {"name": "web", "group": "apps", "kind": "deployments"}
    err = forbidden("jane", Attributes("get", path="/metrics", resource_request=False))
    assert err.message == 'forbidden: User "jane" cannot get path "/metrics"'


def test_covering_rules_is_a_subset_test_where_wildcards_need_wildcards() -> None:
    held = [policy.rule(["get", "list"], [""], ["pods"])]
    assert uncovered(held, [policy.rule(["get"], [""], ["pods"])]) == []
    assert uncovered(held, [policy.rule(["delete"], [""], ["pods"])]) != []
    assert uncovered(held, [policy.rule(["get"], [""], ["*"])]) != []
    admin = policy.CLUSTER_ROLES["cluster-admin"]["rules"]
    assert uncovered(admin, policy.CLUSTER_ROLES["system:aggregate-to-edit"]["rules"]) == []


def test_bootstrap_policy_objects_are_well_formed() -> None:
    roles = {r["metadata"]["name"]: r for r in policy.cluster_roles()}
    assert roles["view"]["aggregationRule"]["clusterRoleSelectors"] == [
        {"matchLabels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"}}
    ]
    assert roles["view"]["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-edit"]
    for role in roles.values():
        assert role["metadata"]["annotations"][policy.AUTOUPDATE] == "true"
    bindings = policy.cluster_role_bindings()
    for binding in bindings:
        assert binding["roleRef"]["name"] in roles
    admins = next(b for b in bindings if b["metadata"]["name"] == "cluster-admin")
    assert admins["subjects"] == [
        {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:masters"}
    ]
