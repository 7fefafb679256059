"""Server-side apply: merge, ownership, pruning, conflicts and upstream's error shapes."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from test_fieldpath import DEPLOYMENT, NGINX_APPLIED, SERVICE, compact, nginx

from tinykube.api import errors
from tinykube.patch.managedfields import decode_managed_fields, update_managed_fields
from tinykube.patch.ssa import merge, server_side_apply

pytestmark = pytest.mark.unit

T0, T1, T2, T3 = (f"2026-07-23T07:0{i}:00Z" for i in range(4))


def apply(
    live: dict[str, Any] | None,
    config: dict[str, Any],
    manager: str = "kubectl",
    time: str = T0,
    *,
    force: bool = False,
    **kwargs: Any,
) -> dict[str, Any]:
    out = server_side_apply(
        live,
        config,
        manager=manager,
        force=force,
        api_version="apps/v1",
        time=time,
        schema=kwargs.pop("schema", DEPLOYMENT),
        kind=kwargs.pop("kind", "Deployment"),
        name=kwargs.pop("name", "nginx"),
        ignore_paths=kwargs.pop("ignore_paths", ("status",)),
        **kwargs,
    )
    return stored(out)


def stored(obj: dict[str, Any]) -> dict[str, Any]:
    """What the API server would add on create (server-owned metadata)."""
    meta = obj["metadata"]
    meta.setdefault("uid", "8d6f")
    meta.setdefault("namespace", "default")
    meta.setdefault("creationTimestamp", T0)
    return obj


def patch(
    live: dict[str, Any], edit: Any, manager: str = "kubectl-patch", time: str = T1
) -> dict[str, Any]:
    """A non-apply write (``kubectl patch`` / ``scale``) recorded as an Update."""
    new = copy.deepcopy(live)
    edit(new)
    update_managed_fields(
        live,
        new,
        manager=manager,
        operation="Update",
        api_version="apps/v1",
        time=time,
        schema=DEPLOYMENT,
        ignore_paths=("status",),
    )
    return new


def managers(obj: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    return [(e["manager"], e["operation"], e.get("time")) for e in obj["metadata"]["managedFields"]]


def owned(obj: dict[str, Any], manager: str, operation: str = "Apply") -> set[str]:
    for entry in decode_managed_fields(obj["metadata"]["managedFields"]).values():
        if entry.manager == manager and entry.operation == operation:
            return {".".join(e[2:] for e in p) for p in entry.fields}
    return set()


def containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    return obj["spec"]["template"]["spec"]["containers"]


def with_(config: dict[str, Any], edit: Any) -> dict[str, Any]:
    out = copy.deepcopy(config)
    edit(out)
    return out


# ---- create, no-op, removal --------------------------------------------------


def test_missing_object_is_created_from_the_config() -> None:
    obj = apply(None, nginx())
    [entry] = obj["metadata"].pop("managedFields")
    assert entry["manager"] == "kubectl"
    assert entry["operation"] == "Apply"
    assert entry["time"] == T0
    assert "subresource" not in entry
    assert compact(entry["fieldsV1"]) == NGINX_APPLIED
    for key in ("uid", "namespace", "creationTimestamp"):
        obj["metadata"].pop(key)
    assert obj == nginx()


def test_applying_the_same_file_twice_changes_nothing() -> None:
    live = apply(None, nginx())
    live["metadata"]["resourceVersion"] = "7"
    live["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = (
        "IfNotPresent"  # a default
    )
    assert apply(live, nginx(), time=T1) == live


def test_changed_value_moves_the_time() -> None:
    live = apply(None, nginx())
    out = apply(live, with_(nginx(), lambda c: c["spec"].update(replicas=5)), time=T1)
    assert out["spec"]["replicas"] == 5
    assert managers(out) == [("kubectl", "Apply", T1)]


@pytest.mark.parametrize(
    ("edit", "gone"),
    [
        pytest.param(
            lambda c: c["spec"].pop("replicas"), lambda o: "replicas" in o["spec"], id="scalar"
        ),
        pytest.param(
            lambda c: c["metadata"].pop("labels"),
            lambda o: "labels" in o["metadata"],
            id="whole-map",
        ),
        pytest.param(
            lambda c: containers(c)[0].pop("ports"),
            lambda o: "ports" in containers(o)[0],
            id="list-map-items",
        ),
        pytest.param(
            lambda c: containers(c).__setitem__(0, {"name": "nginx"}),
            lambda o: "image" in containers(o)[0],
            id="field-of-an-item",
        ),
    ],
)
def test_field_dropped_from_the_config_is_deleted(edit: Any, gone: Any) -> None:
    live = apply(None, nginx())
    out = apply(live, with_(nginx(), edit), time=T1)
    assert not gone(out)


def test_dropped_container_is_deleted_but_the_list_stays() -> None:
    two = with_(nginx(), lambda c: containers(c).append({"name": "sidecar", "image": "busybox"}))
    live = apply(None, two)
    out = apply(live, nginx(), time=T1)
    assert [c["name"] for c in containers(out)] == ["nginx"]


def test_dropped_field_another_manager_also_owns_is_kept() -> None:
    live = apply(None, nginx())
    live = apply(live, nginx(), "other-applier", T1)  # same values: shared ownership
    out = apply(live, with_(nginx(), lambda c: c["metadata"].pop("labels")), time=T2)
    assert out["metadata"]["labels"] == {"app": "nginx"}
    assert "metadata.labels.app" in owned(out, "other-applier")
    assert "metadata.labels.app" not in owned(out, "kubectl")


def test_fields_nobody_applied_are_never_pruned() -> None:
    live = apply(None, nginx())
    live["spec"]["revisionHistoryLimit"] = 10  # defaulted by the server, owned by nobody
    out = apply(live, with_(nginx(), lambda c: c["spec"].pop("replicas")), time=T1)
    assert out["spec"]["revisionHistoryLimit"] == 10


def test_emptied_struct_disappears_with_its_last_field() -> None:
    config = with_(
        nginx(), lambda c: c["spec"]["template"]["spec"].update(securityContext={"runAsUser": 1000})
    )
    live = apply(None, config)
    out = apply(live, nginx(), time=T1)
    assert "securityContext" not in out["spec"]["template"]["spec"]


def test_last_applied_annotation_is_an_ordinary_annotation() -> None:
    key = "kubectl.kubernetes.io/last-applied-configuration"
    config = with_(nginx(), lambda c: c["metadata"].update(annotations={key: "{}"}))
    out = apply(apply(None, config), nginx(), time=T1)
    assert "annotations" not in out["metadata"]


# ---- conflicts ---------------------------------------------------------------


def scaled() -> dict[str, Any]:
    """Applied by kubectl, then `kubectl patch` (manager kubectl-patch) set replicas to 5."""
    return patch(apply(None, nginx()), lambda o: o["spec"].update(replicas=5))


def test_update_manager_owning_a_field_conflicts() -> None:
    with pytest.raises(errors.Conflict) as exc:
        apply(scaled(), with_(nginx(), lambda c: c["spec"].update(replicas=3)), time=T2)
    assert exc.value.status() == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'Apply failed with 1 conflict: conflict with "kubectl-patch" using apps/v1: .spec.replicas',
        "reason": "Conflict",
        "details": {
            "causes": [
                {
                    "reason": "FieldManagerConflict",
                    "message": 'conflict with "kubectl-patch" using apps/v1',
                    "field": ".spec.replicas",
                }
            ]
        },
        "code": 409,
    }


def test_applying_the_value_another_manager_set_shares_ownership() -> None:
    out = apply(scaled(), with_(nginx(), lambda c: c["spec"].update(replicas=5)), time=T2)
    assert "spec.replicas" in owned(out, "kubectl")
    assert "spec.replicas" in owned(out, "kubectl-patch", "Update")


def test_unchanged_config_does_not_conflict_after_another_manager_changed_it() -> None:
    # The applier no longer sets replicas at all: nothing to fight over, and the
    # field survives because kubectl-patch owns it.
    out = apply(scaled(), with_(nginx(), lambda c: c["spec"].pop("replicas")), time=T2)
    assert out["spec"]["replicas"] == 5


def test_force_takes_ownership() -> None:
    out = apply(
        scaled(), with_(nginx(), lambda c: c["spec"].update(replicas=3)), time=T2, force=True
    )
    assert out["spec"]["replicas"] == 3
    assert "spec.replicas" in owned(out, "kubectl")
    assert [m[0] for m in managers(out)] == ["kubectl"]  # kubectl-patch owned nothing else


def test_several_conflicts_are_grouped_by_manager() -> None:
    live = scaled()
    live = patch(live, lambda o: containers(o)[0].update(image="nginx:1.26"), "kubectl-set", T2)
    live = patch(live, lambda o: o["metadata"]["labels"].update(app="web"), "kubectl-label", T2)

    def edit(c: dict[str, Any]) -> None:
        c["spec"]["replicas"] = 3
        containers(c)[0]["image"] = "nginx:1.27"
        c["metadata"]["labels"]["app"] = "api"

    with pytest.raises(errors.Conflict) as exc:
        apply(live, with_(nginx(), edit), time=T3)
    assert exc.value.message == (
        "Apply failed with 3 conflicts: "
        'conflicts with "kubectl-label" using apps/v1:\n'
        "- .metadata.labels.app\n"
        'conflicts with "kubectl-patch" using apps/v1:\n'
        "- .spec.replicas\n"
        'conflicts with "kubectl-set" using apps/v1:\n'
        '- .spec.template.spec.containers[name="nginx"].image'
    )
    assert [(c.field, c.message) for c in exc.value.causes] == [
        (".metadata.labels.app", 'conflict with "kubectl-label" using apps/v1'),
        (".spec.replicas", 'conflict with "kubectl-patch" using apps/v1'),
        (
            '.spec.template.spec.containers[name="nginx"].image',
            'conflict with "kubectl-set" using apps/v1',
        ),
    ]


def test_another_applier_conflict_names_no_version() -> None:
    live = apply(None, nginx(), "helm")
    with pytest.raises(
        errors.Conflict,
        match=r'^Apply failed with 1 conflict: conflict with "helm": \.spec\.replicas$',
    ):
        apply(live, with_(nginx(), lambda c: c["spec"].update(replicas=9)), "argocd", T1)


def test_own_earlier_value_never_conflicts() -> None:
    live = apply(None, nginx())
    out = apply(live, with_(nginx(), lambda c: c["spec"].update(replicas=4)), time=T1)
    assert out["spec"]["replicas"] == 4


def test_untracked_object_is_owned_by_before_first_apply() -> None:
    live = stored(nginx())  # created before field tracking; no managedFields
    with pytest.raises(
        errors.Conflict, match=r'conflict with "before-first-apply" using apps/v1: \.spec\.replicas'
    ):
        apply(live, with_(nginx(), lambda c: c["spec"].update(replicas=1)), time=T1)
    out = apply(live, nginx(), time=T1)
    assert [m[:2] for m in managers(out)] == [
        ("kubectl", "Apply"),
        ("before-first-apply", "Update"),
    ]


# ---- merge semantics ---------------------------------------------------------


def test_list_map_items_merge_by_key() -> None:
    live = apply(None, nginx())
    live = patch(
        live, lambda o: containers(o).append({"name": "sidecar", "image": "envoy"}), "injector"
    )
    out = apply(
        live, with_(nginx(), lambda c: containers(c)[0].update(image="nginx:1.27")), time=T2
    )
    assert [(c["name"], c["image"]) for c in containers(out)] == [
        ("nginx", "nginx:1.27"),
        ("sidecar", "envoy"),
    ]


@pytest.mark.parametrize(
    ("live", "config", "merged"),
    [
        pytest.param(["a", "b"], ["b", "c"], ["a", "b", "c"], id="new-items-follow-config"),
        pytest.param(
            ["a", "b", "c"], ["c", "a"], ["b", "c", "a"], id="config-reorders-shared-items"
        ),
        pytest.param(["x"], [], ["x"], id="empty-config-keeps-live"),
    ],
)
def test_list_map_order(live: list[str], config: list[str], merged: list[str]) -> None:
    def spec(names: list[str]) -> dict[str, Any]:
        return {"spec": {"template": {"spec": {"containers": [{"name": n} for n in names]}}}}

    out = merge(spec(live), spec(config), DEPLOYMENT)
    assert [c["name"] for c in out["spec"]["template"]["spec"]["containers"]] == merged


@pytest.mark.parametrize(
    ("live", "config", "merged"),
    [
        pytest.param(
            {"metadata": {"finalizers": ["a"]}},
            {"metadata": {"finalizers": ["b"]}},
            {"metadata": {"finalizers": ["a", "b"]}},
            id="set-union",
        ),
        pytest.param(
            {"spec": {"selector": {"matchLabels": {"a": "1"}}}},
            {"spec": {"selector": {"matchLabels": {"b": "2"}}}},
            {"spec": {"selector": {"matchLabels": {"b": "2"}}}},
            id="atomic-map-replaced",
        ),
        pytest.param(
            {"spec": {"template": {"spec": {"containers": [{"name": "c", "args": ["a", "b"]}]}}}},
            {"spec": {"template": {"spec": {"containers": [{"name": "c", "args": ["z"]}]}}}},
            {"spec": {"template": {"spec": {"containers": [{"name": "c", "args": ["z"]}]}}}},
            id="atomic-list-replaced",
        ),
        pytest.param(
            {"spec": {"template": {"spec": {"volumes": [{"name": "a"}]}}}},
            {"spec": {"template": {"spec": {"volumes": [{"name": "b"}]}}}},
            {"spec": {"template": {"spec": {"volumes": [{"name": "a"}, {"name": "b"}]}}}},
            id="merge-key-fallback",
        ),
        pytest.param(
            {"metadata": {"labels": {"a": "1"}}, "spec": {"replicas": 1}},
            {"metadata": {"labels": {"b": "2"}}},
            {"metadata": {"labels": {"a": "1", "b": "2"}}, "spec": {"replicas": 1}},
            id="maps-merge-per-key",
        ),
    ],
)
def test_merge(live: dict[str, Any], config: dict[str, Any], merged: dict[str, Any]) -> None:
    assert merge(live, config, DEPLOYMENT) == merged


def test_untyped_merge_keeps_maps_granular_and_lists_atomic() -> None:
    live = {"spec": {"a": 1, "list": [1, 2], "m": {"x": 1}}}
    config = {"spec": {"list": [3], "m": {"y": 2}}}
    assert merge(live, config, None) == {"spec": {"a": 1, "list": [3], "m": {"x": 1, "y": 2}}}


def test_service_ports_keyed_by_port_and_protocol() -> None:
    live = {"spec": {"ports": [{"port": 53, "protocol": "UDP"}]}}
    config = {"spec": {"ports": [{"port": 53, "protocol": "TCP"}]}}
    assert merge(live, config, SERVICE)["spec"]["ports"] == [
        {"port": 53, "protocol": "UDP"},
        {"port": 53, "protocol": "TCP"},
    ]


def test_ignored_paths_are_neither_merged_nor_owned() -> None:
    config = with_(nginx(), lambda c: c.update(status={"replicas": 9}))
    out = apply(None, config)
    assert "status" not in out
    assert not any(f.startswith("status") for f in owned(out, "kubectl"))


def test_subresource_apply_has_its_own_entry() -> None:
    live = apply(None, nginx())
    status = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "nginx"},
        "status": {"replicas": 2},
    }
    out = apply(live, status, "kcm", T1, subresource="status", ignore_paths=("spec",))
    assert out["status"] == {"replicas": 2}
    entry = out["metadata"]["managedFields"][1]
    assert (entry["manager"], entry["subresource"], entry["fieldsV1"]) == (
        "kcm",
        "status",
        {"f:status": {"f:replicas": {}}},
    )


def test_inputs_are_not_mutated() -> None:
    live = scaled()
    config = with_(nginx(), lambda c: c["spec"].update(replicas=3))
    before = (copy.deepcopy(live), copy.deepcopy(config))
    apply(live, config, time=T2, force=True)
    assert (live, config) == before


# ---- malformed configurations ------------------------------------------------


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        pytest.param(
            lambda c: c.update(kind="ReplicaSet"),
            "invalid object type: apps/v1, Kind=ReplicaSet",
            id="kind",
        ),
        pytest.param(lambda c: c.pop("kind"), "invalid object type: apps/v1, Kind=", id="no-kind"),
        pytest.param(
            lambda c: c.pop("apiVersion"),
            "invalid object type: /, Kind=Deployment",
            id="no-apiVersion",
        ),
        pytest.param(
            lambda c: c.update(apiVersion="apps/v1beta1"),
            "invalid object type: apps/v1beta1, Kind=Deployment",
            id="other-version",
        ),
        pytest.param(
            lambda c: c["metadata"].update(managedFields=[]),
            "metadata.managedFields must be nil",
            id="managed-fields-sent",
        ),
        pytest.param(
            lambda c: c["metadata"].pop("name"),
            "the name of the object () does not match the name on the URL (nginx)",
            id="no-name",
        ),
        pytest.param(
            lambda c: c["metadata"].update(name="other"),
            "the name of the object (other) does not match the name on the URL (nginx)",
            id="other-name",
        ),
    ],
)
def test_malformed_config_is_bad_request(edit: Any, message: str) -> None:
    with pytest.raises(errors.BadRequest) as exc:
        apply(None, with_(nginx(), edit))
    assert exc.value.message == message
    assert exc.value.code == 400


def test_config_that_is_not_an_object_is_bad_request() -> None:
    with pytest.raises(errors.BadRequest, match="error decoding patch"):
        server_side_apply(
            None,
            [],
            manager="m",
            force=False,
            api_version="apps/v1",
            time=T0,
            schema=DEPLOYMENT,  # type: ignore[arg-type]
        )


def test_namespace_mismatch_is_bad_request() -> None:
    config = with_(nginx(), lambda c: c["metadata"].update(namespace="prod"))
    with pytest.raises(
        errors.BadRequest, match=r"the namespace of the object \(prod\) does not match"
    ):
        apply(None, config, namespace="default")


@pytest.mark.parametrize(
    ("containers_", "detail"),
    [
        pytest.param(
            [{"image": "x"}],
            ".spec.template.spec.containers: element 0: associative list with keys has an element that "
            'omits all key fields ["name"] (and doesn\'t have default values for any key fields)',
            id="item-without-key",
        ),
        pytest.param(
            [{"name": "a"}, {"name": "a"}],
            '.spec.template.spec.containers: duplicate entries for key [name="a"]',
            id="duplicate-key",
        ),
    ],
)
def test_config_that_does_not_fit_the_schema_is_upstreams_500(
    containers_: list[Any], detail: str
) -> None:
    config = with_(nginx(), lambda c: c["spec"]["template"]["spec"].update(containers=containers_))
    with pytest.raises(errors.APIError) as exc:
        apply(None, config)
    status = exc.value.status()
    assert (status["code"], "reason" in status) == (500, False)
    assert (
        status["message"]
        == f"failed to create typed patch object (/nginx; apps/v1, Kind=Deployment): {detail}"
    )


def test_controller_writes_do_not_disturb_a_reapply() -> None:
    live = apply(None, nginx())
    live = patch(
        live,
        lambda o: (
            o["metadata"]
            .setdefault("annotations", {})
            .update({"deployment.kubernetes.io/revision": "1"})
        ),
        "kube-controller-manager",
    )
    status = copy.deepcopy(live)
    status["status"] = {"replicas": 2, "conditions": [{"type": "Available", "status": "True"}]}
    update_managed_fields(
        live,
        status,
        manager="kube-controller-manager",
        operation="Update",
        api_version="apps/v1",
        time=T2,
        schema=DEPLOYMENT,
        subresource="status",
        ignore_paths=("spec",),
    )
    assert [m[:2] for m in managers(status)] == [
        ("kubectl", "Apply"),
        ("kube-controller-manager", "Update"),
        ("kube-controller-manager", "Update"),
    ]
    assert apply(status, nginx(), time=T3) == status
