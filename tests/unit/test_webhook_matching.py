"""Admission webhooks without a network: which webhooks match a request, what
the AdmissionReview says, how responses are checked and patches applied, and
the dispatcher's ordering, reinvocation and failurePolicy decisions (with the
HTTP call replaced by scripted answers)."""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest
from multidict import MultiDict

from tinykube.api import errors
from tinykube.api.defaults import apply_defaults
from tinykube.api.resources import Resource, lookup
from tinykube.apiserver.registry.generic import DeleteOptions, WriteOptions
from tinykube.apiserver.webhooks import calling, matching, review
from tinykube.apiserver.webhooks.dispatcher import Dispatcher, attributes

pytestmark = pytest.mark.unit

Obj = dict[str, Any]


def res(group: str, version: str, plural: str) -> Resource:
    found = lookup(group, version, plural)
    assert found is not None
    return found


PODS = res("", "v1", "pods")
NAMESPACES = res("", "v1", "namespaces")
NODES = res("", "v1", "nodes")
DEPLOYMENTS = res("apps", "v1", "deployments")
HPA_V2 = res("autoscaling", "v2", "horizontalpodautoscalers")
MUTATING = res("admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations")


def config(name: str, *hooks: Obj, mutating: bool = False) -> Obj:
    obj = {
        "metadata": {"name": name},
        "webhooks": [dict(h) for h in hooks],
    }
    if mutating:
        apply_defaults(MUTATING, obj)
    return obj


def hook(name: str = "h.example.com", **spec: Any) -> Obj:
    out: Obj = {
        "name": name,
        "clientConfig": {"url": "https://127.0.0.1:1/x"},
        "rules": [
            {
                "operations": ["CREATE"],
                "apiGroups": [""],
                "apiVersions": ["v1"],
                "resources": ["pods"],
            }
        ],
        "sideEffects": "None",
        "admissionReviewVersions": ["v1"],
    }
    out.update(spec)
    return out


def compiled(spec: Obj) -> matching.Webhook:
    return matching.compile_configurations([config("c", spec)], mutating=False)[0]


def attrs(
    resource: Resource = PODS,
    operation: str = "CREATE",
    namespace: str = "ns",
    obj: Obj | None = None,
    old: Obj | None = None,
    subresource: str = "",
) -> matching.Attributes:
    if obj is None and operation != "DELETE":
        obj = {"metadata": {"name": "x", "namespace": namespace}}
    return matching.Attributes(resource, subresource, operation, "x", namespace, obj, old)


def labels_of(table: dict[str, dict[str, str]]) -> matching.NamespaceLabels:
    return table.get


NO_NAMESPACES = labels_of({})
ANY_NS = labels_of({"ns": {}})


def client_opts(**options: Any) -> WriteOptions:
    """The options of a client's write (the server's own writes skip webhooks)."""
    return WriteOptions(admit=True, **options)


# ---- rules ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "request_attrs", "expected"),
    [
        ({}, attrs(), True),
        ({"operations": ["UPDATE"]}, attrs(), False),
        ({"operations": ["*"]}, attrs(operation="DELETE"), True),
        ({"apiGroups": ["apps"]}, attrs(), False),
        ({"apiVersions": ["v2"]}, attrs(), False),
        ({"resources": ["pods"]}, attrs(subresource="status", operation="CREATE"), False),
        ({"resources": ["pods/status"]}, attrs(subresource="status"), True),
        ({"resources": ["pods/*"]}, attrs(subresource="status"), True),
        ({"resources": ["*"]}, attrs(subresource="status"), False),
        ({"resources": ["*"]}, attrs(), True),
        ({"resources": ["*/*"]}, attrs(subresource="status"), True),
        ({"resources": ["*/status"]}, attrs(subresource="status"), True),
        ({"resources": ["*/status"]}, attrs(), False),
        ({"scope": "Cluster"}, attrs(), False),
        ({"scope": "Namespaced"}, attrs(), True),
        ({"scope": "Namespaced", "resources": ["*"]}, attrs(NODES, namespace=""), False),
        ({"scope": "Cluster", "resources": ["*"]}, attrs(NODES, namespace=""), True),
        ({"scope": "Cluster", "resources": ["*"]}, attrs(NAMESPACES, namespace="x"), True),
        ({"scope": "Namespaced", "resources": ["*"]}, attrs(NAMESPACES, namespace="x"), False),
    ],
    ids=[
        "everything-star-defaults",
        "other-operation",
        "star-operation",
        "other-group",
        "other-version",
        "main-resource-does-not-cover-subresource",
        "exact-subresource",
        "resource-slash-star",
        "star-is-main-resources-only",
        "star-main",
        "star-slash-star",
        "star-slash-status",
        "star-slash-status-not-main",
        "cluster-scope-namespaced-object",
        "namespaced-scope",
        "namespaced-scope-cluster-object",
        "cluster-scope-cluster-object",
        "namespace-object-is-cluster-scoped",
        "namespace-object-is-not-namespaced",
    ],
)
def test_rule_matching(rule: Obj, request_attrs: matching.Attributes, expected: bool) -> None:
    full = {
        "operations": ["*"],
        "apiGroups": ["*"],
        "apiVersions": ["*"],
        "resources": ["pods", "pods/status"],
        **rule,
    }
    assert matching.rule_matches(full, request_attrs) is expected


def test_exempt_configuration_kinds_never_reach_webhooks() -> None:
    assert not matching.applicable(MUTATING)
    assert matching.applicable(PODS)


def test_equivalent_match_policy_matches_another_version() -> None:
    rules = [
        {
            "operations": ["*"],
            "apiGroups": ["autoscaling"],
            "apiVersions": ["v1"],
            "resources": ["horizontalpodautoscalers"],
        }
    ]
    request = attrs(HPA_V2, obj={"apiVersion": "autoscaling/v2", "metadata": {"name": "x"}})
    equivalent = compiled(hook(rules=rules, matchPolicy="Equivalent"))
    exact = compiled(hook(rules=rules, matchPolicy="Exact"))
    invocation = matching.should_call(equivalent, request, ANY_NS)
    assert invocation is not None
    assert (invocation.resource.group, invocation.resource.version) == ("autoscaling", "v1")
    assert matching.should_call(exact, request, ANY_NS) is None
    body = review.build_request(request, invocation, "v1", uid="u")
    assert body["request"]["kind"] == {
        "group": "autoscaling",
        "version": "v1",
        "kind": "HorizontalPodAutoscaler",
    }
    assert body["request"]["requestKind"]["version"] == "v2"
    assert body["request"]["object"]["apiVersion"] == "autoscaling/v1"


# ---- selectors ----------------------------------------------------------------


def test_namespace_selector_uses_the_namespace_labels() -> None:
    spec = hook(namespaceSelector={"matchLabels": {"webhook": "on"}})
    labels = labels_of({"on": {"webhook": "on"}, "off": {}})
    assert matching.should_call(compiled(spec), attrs(namespace="on"), labels) is not None
    assert matching.should_call(compiled(spec), attrs(namespace="off"), labels) is None


def test_namespace_selector_on_a_namespace_uses_its_own_labels() -> None:
    spec = hook(
        namespaceSelector={"matchExpressions": [{"key": "team", "operator": "Exists"}]},
        rules=[
            {
                "operations": ["CREATE"],
                "apiGroups": [""],
                "apiVersions": ["v1"],
                "resources": ["namespaces"],
            }
        ],
    )
    labelled = {"metadata": {"name": "n1", "labels": {"team": "a"}}}
    plain = {"metadata": {"name": "n2"}}
    assert matching.should_call(
        compiled(spec), attrs(NAMESPACES, namespace="n1", obj=labelled), NO_NAMESPACES
    )
    assert not matching.should_call(
        compiled(spec), attrs(NAMESPACES, namespace="n2", obj=plain), NO_NAMESPACES
    )


def test_namespace_selector_does_not_exempt_cluster_scoped_objects() -> None:
    spec = hook(
        namespaceSelector={"matchLabels": {"never": "set"}},
        rules=[{"operations": ["*"], "apiGroups": ["*"], "apiVersions": ["*"], "resources": ["*"]}],
    )
    assert matching.should_call(compiled(spec), attrs(NODES, namespace=""), NO_NAMESPACES)


def test_missing_namespace_is_not_found() -> None:
    spec = hook(namespaceSelector={"matchLabels": {"a": "b"}})
    with pytest.raises(errors.NotFound):
        matching.should_call(compiled(spec), attrs(namespace="gone"), NO_NAMESPACES)


def test_object_selector_matches_old_or_new_labels() -> None:
    spec = hook(objectSelector={"matchLabels": {"check": "yes"}})
    new = {"metadata": {"name": "x", "labels": {"check": "yes"}}}
    plain = {"metadata": {"name": "x"}}
    hook_ = compiled(spec)
    assert matching.should_call(hook_, attrs(obj=new), ANY_NS)
    assert matching.should_call(hook_, attrs(operation="CREATE", obj=plain, old=new), ANY_NS)
    assert not matching.should_call(hook_, attrs(obj=plain), ANY_NS)


def test_bad_selector_is_an_internal_error_only_when_rules_match() -> None:
    bad = {"matchExpressions": [{"key": "a", "operator": "Near"}]}
    hook_ = compiled(hook(objectSelector=bad))
    with pytest.raises(errors.InternalError):
        matching.should_call(hook_, attrs(), ANY_NS)
    assert matching.should_call(hook_, attrs(operation="UPDATE"), ANY_NS) is None


def test_configurations_in_name_order_and_webhooks_as_listed() -> None:
    configs = [config("b", hook("b1"), hook("b0")), config("a", hook("a2"), hook("a1"))]
    names = [w.name for w in matching.compile_configurations(configs, mutating=True)]
    assert names == ["a2", "a1", "b1", "b0"]


def test_defaults_of_a_configuration() -> None:
    obj = config(
        "c", hook(clientConfig={"service": {"name": "s", "namespace": "n"}}), mutating=True
    )
    webhook = obj["webhooks"][0]
    assert webhook["failurePolicy"] == "Fail"
    assert webhook["matchPolicy"] == "Equivalent"
    assert webhook["timeoutSeconds"] == 10
    assert webhook["reinvocationPolicy"] == "Never"
    assert webhook["namespaceSelector"] == {} and webhook["objectSelector"] == {}
    assert webhook["rules"][0]["scope"] == "*"
    assert webhook["clientConfig"]["service"]["port"] == 443


# ---- AdmissionReview ---------------------------------------------------------------


class User:
    username = "alice"
    uid = "42"
    groups = ("devs", "system:authenticated")
    extra: dict[str, list[str]] = {}


def test_request_carries_what_upstream_sends() -> None:
    opts = client_opts(dry_run=True, field_manager="kubectl", subresource="status", user=User())
    old = {"apiVersion": "v1", "metadata": {"name": "p", "namespace": "ns"}}
    new = {**old, "status": {"phase": "Running"}}
    request_attrs = attributes(PODS, new, old, opts, "UPDATE")
    assert request_attrs is not None
    invocation = matching.Invocation(compiled(hook()), PODS)
    body = review.build_request(request_attrs, invocation, "v1", uid="abc")
    assert body["apiVersion"] == "admission.k8s.io/v1"
    req = body["request"]
    assert req["uid"] == "abc"
    assert req["resource"] == {"group": "", "version": "v1", "resource": "pods"}
    assert req["subResource"] == "status" and req["requestSubResource"] == "status"
    assert (req["name"], req["namespace"], req["operation"]) == ("p", "ns", "UPDATE")
    assert req["userInfo"] == {
        "username": "alice",
        "uid": "42",
        "groups": ["devs", "system:authenticated"],
    }
    assert req["object"] is new and req["oldObject"] is old
    assert req["dryRun"] is True
    assert req["options"] == {
        "kind": "UpdateOptions",
        "apiVersion": "meta.k8s.io/v1",
        "dryRun": ["All"],
        "fieldManager": "kubectl",
    }


def test_delete_sends_the_old_object_and_delete_options() -> None:
    stored = {"apiVersion": "v1", "metadata": {"name": "p", "namespace": "ns"}}
    opts = DeleteOptions(
        admit=True, grace_period=0, propagation="Foreground", dry_run=True, user=User()
    )
    request_attrs = attributes(PODS, None, stored, opts, "DELETE")
    assert request_attrs is not None
    assert (request_attrs.name, request_attrs.namespace) == ("p", "ns")
    body = review.build_request(request_attrs, matching.Invocation(compiled(hook()), PODS), "v1")
    req = body["request"]
    assert req["object"] is None and req["oldObject"] is stored
    assert req["options"] == {
        "kind": "DeleteOptions",
        "apiVersion": "meta.k8s.io/v1",
        "dryRun": ["All"],
        "gracePeriodSeconds": 0,
        "propagationPolicy": "Foreground",
    }


async def test_a_patch_for_a_delete_is_refused() -> None:
    rules = [
        {"operations": ["DELETE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"]}
    ]
    cache = cache_with(config("a", hook("patcher", rules=rules), mutating=True))
    dispatcher = Scripted(
        cache, {"patcher": lambda _o: patched([{"op": "add", "path": "/x", "value": 1}])}
    )
    with pytest.raises(errors.InternalError) as caught:
        await dispatcher.mutate(PODS, None, pod_obj(), DeleteOptions(admit=True), "DELETE")
    assert caught.value.message == (
        'Internal error occurred: admission webhook "patcher" attempted to modify the object, '
        "which is not supported for this operation"
    )


def test_a_scale_write_is_shown_as_the_parents_scale() -> None:
    old = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d", "namespace": "ns"},
        "spec": {"replicas": 1},
    }
    new = {**old, "spec": {"replicas": 4}}
    request_attrs = attributes(DEPLOYMENTS, new, old, client_opts(subresource="scale"), "UPDATE")
    assert request_attrs is not None
    body = review.build_request(
        request_attrs, matching.Invocation(compiled(hook()), DEPLOYMENTS), "v1"
    )
    req = body["request"]
    assert req["kind"] == {"group": "autoscaling", "version": "v1", "kind": "Scale"}
    assert req["resource"] == {"group": "apps", "version": "v1", "resource": "deployments"}
    assert req["subResource"] == "scale"
    assert (req["object"]["kind"], req["object"]["spec"], req["oldObject"]["spec"]) == (
        "Scale",
        {"replicas": 4},
        {"replicas": 1},
    )


def test_a_binding_is_shown_as_the_create_of_a_binding() -> None:
    old = {"metadata": {"name": "p", "namespace": "ns"}, "spec": {}}
    bound = {"metadata": {"name": "p", "namespace": "ns"}, "spec": {"nodeName": "n1"}}
    request_attrs = attributes(PODS, bound, old, client_opts(subresource="binding"), "UPDATE")
    assert request_attrs is not None
    req = review.build_request(request_attrs, matching.Invocation(compiled(hook()), PODS), "v1")[
        "request"
    ]
    assert (req["operation"], req["subResource"], req["oldObject"]) == ("CREATE", "binding", None)
    assert req["kind"] == {"group": "", "version": "v1", "kind": "Binding"}
    assert req["object"] == {
        "kind": "Binding",
        "apiVersion": "v1",
        "metadata": {"name": "p", "namespace": "ns"},
        "target": {"kind": "Node", "name": "n1"},
    }
    assert req["options"]["kind"] == "CreateOptions"


async def test_a_scale_patch_reaches_the_parents_replicas() -> None:
    rules = [
        {
            "operations": ["UPDATE"],
            "apiGroups": ["apps"],
            "apiVersions": ["v1"],
            "resources": ["deployments/scale"],
        }
    ]
    cache = cache_with(config("a", hook("capper", rules=rules), mutating=True))
    cap = patched([{"op": "replace", "path": "/spec/replicas", "value": 3}])
    dispatcher = Scripted(cache, {"capper": lambda _o: cap})
    old = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d", "namespace": "ns"},
        "spec": {"replicas": 1, "paused": True},
    }
    new = {**old, "spec": {"replicas": 10, "paused": True}}
    await dispatcher.mutate(DEPLOYMENTS, new, old, client_opts(subresource="scale"), "UPDATE")
    assert new["spec"] == {"replicas": 3, "paused": True}
    assert new["kind"] == "Deployment"


def test_a_namespace_request_names_itself_as_namespace() -> None:
    request_attrs = attributes(
        NAMESPACES, {"metadata": {"name": "team"}}, None, client_opts(), "CREATE"
    )
    assert request_attrs is not None and request_attrs.namespace == "team"


def test_review_version_prefers_v1_and_needs_a_known_one() -> None:
    assert review.review_version("h", ["v1beta1", "v1"]) == "v1beta1"
    assert review.review_version("h", ["v2", "v1"]) == "v1"
    with pytest.raises(review.CallingError) as caught:
        review.review_version("h", ["v2"])
    assert str(caught.value) == (
        'failed calling webhook "h": could not create admission objects: '
        "webhook does not accept known AdmissionReview versions"
    )


def answer(uid: str = "u", **response: Any) -> Obj:
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "response": {"uid": uid, **response},
    }


@pytest.mark.parametrize(
    ("body", "mutating", "message"),
    [
        (
            {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"},
            False,
            "webhook response was absent",
        ),
        (answer(uid="other", allowed=True), False, 'expected response.uid="u", got "other"'),
        (
            {**answer(allowed=True), "apiVersion": "admission.k8s.io/v1beta1"},
            False,
            "expected webhook response of admission.k8s.io/v1, Kind=AdmissionReview, got admission.k8s.io/v1beta1, Kind=AdmissionReview",
        ),
        (
            answer(allowed=True, patchType="JSONPatch"),
            False,
            "validating webhook may not return response.patchType",
        ),
        (
            answer(allowed=True, patch="W10="),
            True,
            "webhook returned response.patch but not response.patchType",
        ),
    ],
    ids=["absent", "uid", "kind", "validating-patch-type", "patch-without-type"],
)
def test_unusable_responses(body: Obj, mutating: bool, message: str) -> None:
    with pytest.raises(review.CallingError) as caught:
        review.verify_response("h", body, "u", "v1", mutating)
    assert caught.value.reason == f"received invalid webhook response: {message}"


def test_denial_keeps_the_webhook_status_and_names_the_webhook() -> None:
    err = review.denied(
        "deny.example.com", {"code": 422, "message": "no pods today", "reason": "Nope"}
    )
    assert (err.code, err.reason) == (422, "Nope")
    assert err.message == 'admission webhook "deny.example.com" denied the request: no pods today'
    plain = review.denied("d", {"code": 200})
    assert plain.code == 403
    assert plain.message == 'admission webhook "d" denied the request without explanation'
    assert "reason" not in plain.status()


def test_calling_error_is_upstreams_internal_error() -> None:
    err = review.CallingError("h", "failed to call webhook: boom").as_api_error()
    assert err.code == 500 and err.reason == "InternalError"
    assert (
        err.message
        == 'Internal error occurred: failed calling webhook "h": failed to call webhook: boom'
    )


# ---- patches ---------------------------------------------------------------------


def patched(ops: Any, patch_type: str = "JSONPatch") -> review.Result:
    raw = base64.b64encode(orjson.dumps(ops)).decode()
    return review.verify_response(
        "h", answer(allowed=True, patch=raw, patchType=patch_type), "u", "v1", True
    )


def test_json_patch_adds_a_label_without_touching_the_original() -> None:
    obj = {"metadata": {"name": "x", "labels": {"a": "1"}}}
    new = review.apply_patch(
        "h", patched([{"op": "add", "path": "/metadata/labels/b", "value": "2"}]), obj
    )
    assert new == {"metadata": {"name": "x", "labels": {"a": "1", "b": "2"}}}
    assert obj == {"metadata": {"name": "x", "labels": {"a": "1"}}}


def test_empty_patch_changes_nothing() -> None:
    assert review.apply_patch("h", patched([]), {"metadata": {}}) is None


def test_unsupported_patch_type_is_a_calling_error() -> None:
    with pytest.raises(review.CallingError) as caught:
        review.apply_patch("h", patched([{"op": "remove", "path": "/a"}], "MergePatch"), {"a": 1})
    assert caught.value.reason == 'unsupported patch type "MergePatch"'


def test_failing_patch_is_an_internal_error() -> None:
    with pytest.raises(errors.InternalError) as caught:
        review.apply_patch("h", patched([{"op": "remove", "path": "/missing"}]), {"a": 1})
    assert caught.value.message.startswith("Internal error occurred: ")


# ---- the dispatcher, with scripted webhooks ----------------------------------------


class FakeCache:
    """The little of the watch cache the dispatcher reads."""

    def __init__(self, objects: dict[str, Obj]) -> None:
        self.objects = objects
        self.listeners: list[Any] = []

    def add_listener(self, fn: Any) -> None:
        self.listeners.append(fn)

    def get(self, key: str) -> Obj | None:
        return self.objects.get(key)

    def items(self, prefix: str) -> list[Obj]:
        return [v for k, v in sorted(self.objects.items()) if k.startswith(prefix)]

    def count(self, resource: str) -> int:
        return len(self.items(f"/registry/{resource}/"))


class Scripted(Dispatcher):
    """Webhooks answer from a table instead of the network; calls are recorded."""

    def __init__(self, cache: FakeCache, script: dict[str, Any]) -> None:
        super().__init__(cache)
        self.script = script
        self.calls: list[str] = []

    async def _call(self, invocation: matching.Invocation, attrs: matching.Attributes) -> Any:
        name = invocation.webhook.name
        self.calls.append(name)
        outcome = self.script[name](attrs.obj)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


def add_label(key: str) -> Any:
    def respond(obj: Obj) -> review.Result:
        if key in (obj["metadata"].get("labels") or {}):
            return patched([])
        return patched([{"op": "add", "path": f"/metadata/labels/{key}", "value": "y"}])

    return respond


def pod_obj() -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "ns", "labels": {}},
    }


def cache_with(*configs: Obj, kind: str = "mutatingwebhookconfigurations") -> FakeCache:
    objects = {f"/registry/{kind}/{c['metadata']['name']}": c for c in configs}
    objects["/registry/namespaces/ns"] = {"metadata": {"name": "ns"}}
    return FakeCache(objects)


async def test_no_configurations_means_no_work() -> None:
    dispatcher = Scripted(FakeCache({}), {})
    obj = pod_obj()
    await dispatcher.mutate(PODS, obj, None, client_opts(), "CREATE")
    await dispatcher.validate(PODS, obj, None, client_opts(), "CREATE")
    assert dispatcher.calls == []


async def test_if_needed_webhook_is_called_again_after_a_later_change() -> None:
    cache = cache_with(
        config("a", hook("first", reinvocationPolicy="IfNeeded"), hook("second"), mutating=True)
    )
    dispatcher = Scripted(cache, {"first": add_label("one"), "second": add_label("two")})
    obj = pod_obj()
    await dispatcher.mutate(PODS, obj, None, client_opts(), "CREATE")
    assert dispatcher.calls == ["first", "second", "first"]
    assert obj["metadata"]["labels"] == {"one": "y", "two": "y"}


async def test_never_policy_is_called_once() -> None:
    cache = cache_with(config("a", hook("first"), hook("second"), mutating=True))
    dispatcher = Scripted(cache, {"first": add_label("one"), "second": add_label("two")})
    await dispatcher.mutate(PODS, pod_obj(), None, client_opts(), "CREATE")
    assert dispatcher.calls == ["first", "second"]


async def test_failure_policy_ignore_goes_on_and_fail_refuses() -> None:
    broken = review.CallingError("x", "failed to call webhook: down")
    ignore = config("a", hook("ignored", failurePolicy="Ignore"), hook("label"), mutating=True)
    dispatcher = Scripted(
        cache_with(ignore), {"ignored": lambda _o: broken, "label": add_label("l")}
    )
    obj = pod_obj()
    await dispatcher.mutate(PODS, obj, None, client_opts(), "CREATE")
    assert obj["metadata"]["labels"] == {"l": "y"}
    fail = config("a", hook("failing"), hook("label"), mutating=True)
    dispatcher = Scripted(cache_with(fail), {"failing": lambda _o: broken, "label": add_label("l")})
    with pytest.raises(errors.InternalError) as caught:
        await dispatcher.mutate(PODS, pod_obj(), None, client_opts(), "CREATE")
    assert (
        caught.value.message
        == 'Internal error occurred: failed calling webhook "x": failed to call webhook: down'
    )
    assert dispatcher.calls == ["failing"]


async def test_dry_run_needs_side_effect_free_webhooks() -> None:
    cache = cache_with(
        config("v", hook("effects", sideEffects="Some")), kind="validatingwebhookconfigurations"
    )
    dispatcher = Dispatcher(cache)
    with pytest.raises(errors.BadRequest) as caught:
        await dispatcher.validate(PODS, pod_obj(), None, client_opts(dry_run=True), "CREATE")
    assert caught.value.message == 'admission webhook "effects" does not support dry run'


async def test_first_refusal_in_order_wins_and_warnings_are_kept() -> None:
    def deny(why: str) -> Any:
        return lambda _o: review.Result(False, {"message": why}, b"", "", [f"warn {why}"])

    cache = cache_with(
        config("v", hook("one"), hook("two")), kind="validatingwebhookconfigurations"
    )
    dispatcher = Scripted(cache, {"one": deny("first"), "two": deny("second")})
    opts = client_opts()
    with pytest.raises(errors.APIError) as caught:
        await dispatcher.validate(PODS, pod_obj(), None, opts, "CREATE")
    assert caught.value.message == 'admission webhook "one" denied the request: first'
    assert sorted(opts.warnings) == ["warn first", "warn second"]


async def test_compiled_webhooks_are_rebuilt_when_a_configuration_changes() -> None:
    cache = cache_with(config("a", hook("first"), mutating=True))
    dispatcher = Dispatcher(cache)
    before = dispatcher.webhooks("mutatingwebhookconfigurations")
    assert dispatcher.webhooks("mutatingwebhookconfigurations") is before
    cache.objects["/registry/mutatingwebhookconfigurations/a"] = config("a", hook("renamed"))

    class Event:
        resource = "mutatingwebhookconfigurations"

    for listener in cache.listeners:
        listener(Event())
    assert [w.name for w in dispatcher.webhooks("mutatingwebhookconfigurations")] == ["renamed"]


# ---- where a service webhook is reached ------------------------------------------


def service_cache(*slices: Obj, cluster_ip: str = "10.96.0.20") -> FakeCache:
    svc = {
        "metadata": {"name": "hook", "namespace": "sys"},
        "spec": {
            "clusterIP": cluster_ip,
            "ports": [{"name": "https", "port": 443, "targetPort": 8443}],
        },
    }
    objects = {"/registry/services/sys/hook": svc}
    for i, eps in enumerate(slices):
        objects[f"/registry/endpointslices/sys/hook-{i}"] = eps
    return FakeCache(objects)


def a_slice(address: str, ready: bool, service: str = "hook") -> Obj:
    return {
        "metadata": {"labels": {"kubernetes.io/service-name": service}},
        "endpoints": [{"addresses": [address], "conditions": {"ready": ready}}],
        "ports": [{"name": "https", "port": 8443}],
    }


SERVICE_CONFIG = {"service": {"namespace": "sys", "name": "hook", "port": 443, "path": "/v"}}


def test_service_webhook_dials_a_ready_endpoint_and_checks_the_service_name() -> None:
    cache = service_cache(
        a_slice("10.0.0.9", False), a_slice("10.0.0.7", True), a_slice("10.0.0.8", True, "other")
    )
    target = calling.resolve(SERVICE_CONFIG, cache, 5)
    assert target.dial == "https://10.0.0.7:8443/v?timeout=5s"
    assert target.url == "https://hook.sys.svc:443/v?timeout=5s"
    assert target.server_name == "hook.sys.svc"


def test_service_webhook_without_endpoints_uses_the_cluster_ip() -> None:
    target = calling.resolve(SERVICE_CONFIG, service_cache(), 10)
    assert target.dial == "https://10.96.0.20:443/v?timeout=10s"


def test_missing_service_cannot_be_called() -> None:
    with pytest.raises(calling.CallFailed, match='service "sys/hook" not found'):
        calling.resolve(SERVICE_CONFIG, FakeCache({}), 10)


def test_url_webhook_is_called_as_written_with_the_timeout() -> None:
    target = calling.resolve({"url": "https://h.example:9443/x?a=b"}, FakeCache({}), 3)
    assert (target.url, target.dial, target.server_name) == (
        "https://h.example:9443/x?a=b&timeout=3s",
    ) * 2 + (None,)


# ---- matchConditions (CEL) ---------------------------------------------------------


def conditional(*exprs: str, policy: str = "Fail") -> FakeCache:
    conds = [{"name": f"c{i}", "expression": e} for i, e in enumerate(exprs)]
    return cache_with(
        config("a", hook("judged", matchConditions=conds, failurePolicy=policy), mutating=True)
    )


def record(_obj: Obj) -> review.Result:
    return patched([])


@pytest.mark.parametrize(
    ("exprs", "called"),
    [
        (["object.metadata.name == 'p'"], True),
        (["object.metadata.name != 'p'"], False),
        (["request.operation == 'CREATE'", "request.userInfo.username == 'alice'"], True),
        (["oldObject == null", "has(object.metadata.labels)"], True),
        (["object.metadata.nosuch == 'x'", "false"], False),
    ],
    ids=["true", "false", "request-and-user", "old-object-null", "a-false-one-wins-over-an-error"],
)
async def test_match_conditions_decide_the_call(exprs: list[str], called: bool) -> None:
    dispatcher = Scripted(conditional(*exprs), {"judged": record})
    await dispatcher.mutate(PODS, pod_obj(), None, client_opts(user=User()), "CREATE")
    assert dispatcher.calls == (["judged"] if called else [])


async def test_a_failing_condition_refuses_or_skips_by_failure_policy() -> None:
    expr = "object.metadata.nosuch == 'x'"
    dispatcher = Scripted(conditional(expr), {"judged": record})
    with pytest.raises(errors.Forbidden) as caught:
        await dispatcher.mutate(PODS, pod_obj(), None, client_opts(), "CREATE")
    assert caught.value.message.startswith(
        f"pods \"p\" is forbidden: expression '{expr}' resulted in error: "
    )
    ignoring = Scripted(conditional(expr, policy="Ignore"), {"judged": record})
    await ignoring.mutate(PODS, pod_obj(), None, client_opts(), "CREATE")
    assert ignoring.calls == []


async def test_a_patch_may_not_move_the_object_to_another_namespace() -> None:
    move = patched([{"op": "replace", "path": "/metadata/namespace", "value": "elsewhere"}])
    dispatcher = Scripted(
        cache_with(config("a", hook("mover"), mutating=True)), {"mover": lambda _o: move}
    )
    obj = pod_obj()
    with pytest.raises(errors.BadRequest) as caught:
        await dispatcher.mutate(PODS, obj, None, client_opts(), "CREATE")
    assert caught.value.message == (
        "the namespace of the provided object does not match the namespace sent on the request"
    )
    assert obj["metadata"]["namespace"] == "ns"


def test_connect_options_from_the_query() -> None:
    query = MultiDict(
        [("command", "sh"), ("command", "-c"), ("stdin", "true"), ("tty", "1"), ("container", "c")]
    )
    assert review.connect_options("PodExecOptions", query, "") == {
        "kind": "PodExecOptions",
        "apiVersion": "v1",
        "stdin": True,
        "tty": True,
        "container": "c",
        "command": ["sh", "-c"],
    }
    ports = MultiDict([("ports", "8080,9090")])
    assert review.connect_options("PodPortForwardOptions", ports, "")["ports"] == [8080, 9090]
    assert review.connect_options("ServiceProxyOptions", MultiDict(), "/healthz") == {
        "kind": "ServiceProxyOptions",
        "apiVersion": "v1",
        "path": "/healthz",
    }


async def test_connect_asks_webhooks_with_the_options_object() -> None:
    rules = [
        {
            "operations": ["CONNECT"],
            "apiGroups": [""],
            "apiVersions": ["v1"],
            "resources": ["pods/exec"],
        }
    ]
    cache = cache_with(
        config("v", hook("no-exec", rules=rules)), kind="validatingwebhookconfigurations"
    )
    sent: list[matching.Attributes] = []

    def refuse(obj: Obj) -> review.Result:
        return review.Result(False, {"message": f"no {obj['kind']}"}, b"", "", [])

    dispatcher = Scripted(cache, {"no-exec": refuse})
    original = dispatcher._call

    async def spy(invocation: matching.Invocation, attrs: matching.Attributes) -> Any:
        sent.append(attrs)
        return await original(invocation, attrs)

    dispatcher._call = spy  # type: ignore[method-assign]
    options = {"kind": "PodExecOptions", "apiVersion": "v1", "command": ["ls"]}
    with pytest.raises(errors.APIError) as caught:
        await dispatcher.connect(PODS, "exec", "ns", "web", options, User())
    assert (
        caught.value.message == 'admission webhook "no-exec" denied the request: no PodExecOptions'
    )
    request = review.build_request(sent[0], matching.Invocation(compiled(hook()), PODS), "v1")[
        "request"
    ]
    assert request["kind"]["kind"] == "PodExecOptions"
    assert (request["operation"], request["subResource"], request["options"]) == (
        "CONNECT",
        "exec",
        None,
    )
    await dispatcher.connect(PODS, "attach", "ns", "web", {"kind": "PodAttachOptions"}, User())
    assert len(sent) == 1  # pods/attach is not in the rule


async def test_the_servers_own_writes_skip_webhooks() -> None:
    cache = cache_with(config("a", hook("label"), mutating=True))
    dispatcher = Scripted(cache, {"label": add_label("l")})
    obj = pod_obj()
    await dispatcher.mutate(PODS, obj, None, WriteOptions(), "CREATE")
    await dispatcher.mutate(PODS, None, obj, DeleteOptions(), "DELETE")
    assert dispatcher.calls == []
    await dispatcher.mutate(PODS, obj, None, client_opts(), "CREATE")
    assert dispatcher.calls == ["label"]
