"""The generated component schemas: names, roots, types and patch facts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tinykube.api import resources, schema, schemagen
from tinykube.api.schema import REF_PREFIX, SchemaNode

META = schemagen.META


@pytest.fixture(scope="module")
def defs() -> dict[str, dict[str, Any]]:
    return schemagen.definitions()


def node(kind_path: str) -> SchemaNode:
    """``core.v1.Pod:spec.containers`` -> the schema node at that field path."""
    root, _, path = kind_path.partition(":")
    name = (META + "." + root[len("meta.v1.") :]) if root.startswith("meta.") else root
    if not name.startswith("io."):
        name = "io.k8s.api." + name
    current: SchemaNode | None = SchemaNode({"$ref": REF_PREFIX + name}, schemagen.definitions())
    for part in filter(None, path.split(".")):
        assert current is not None
        if part == "[]":
            current = current.items()
        else:
            current = current.field(part)
    assert current is not None, kind_path
    return current


@pytest.mark.parametrize("res", resources.RESOURCES, ids=lambda r: f"{r.group_version}/{r.kind}")
def test_every_resource_kind_has_a_root(res: resources.Resource) -> None:
    roots = schemagen.kind_roots()
    name = roots[(res.group, res.version, res.kind)]
    gvk = {"group": res.group, "version": res.version, "kind": res.kind}
    assert gvk in schemagen.definitions()[name][schemagen.GVK_EXT]
    if resources.is_stored(res):
        assert (res.group, res.version, res.list_kind) in roots


@pytest.mark.parametrize(
    ("gvk", "name"),
    [
        (("", "v1", "Pod"), "io.k8s.api.core.v1.Pod"),
        (("", "v1", "Event"), "io.k8s.api.core.v1.Event"),
        (("events.k8s.io", "v1", "Event"), "io.k8s.api.events.v1.Event"),
        (("apps", "v1", "Deployment"), "io.k8s.api.apps.v1.Deployment"),
        (("apps", "v1", "DeploymentList"), "io.k8s.api.apps.v1.DeploymentList"),
        (("autoscaling", "v1", "Scale"), "io.k8s.api.autoscaling.v1.Scale"),
        (
            ("autoscaling", "v2", "HorizontalPodAutoscaler"),
            "io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler",
        ),
        (("policy", "v1", "Eviction"), "io.k8s.api.policy.v1.Eviction"),
        (
            ("authentication.k8s.io", "v1", "TokenRequest"),
            "io.k8s.api.authentication.v1.TokenRequest",
        ),
        (("rbac.authorization.k8s.io", "v1", "Role"), "io.k8s.api.rbac.v1.Role"),
        (("", "v1", "Binding"), "io.k8s.api.core.v1.Binding"),
        (("", "v1", "Status"), f"{META}.Status"),
        (("apps", "v1", "DeleteOptions"), f"{META}.DeleteOptions"),
        (("autoscaling", "v2", "WatchEvent"), f"{META}.WatchEvent"),
        (("meta.k8s.io", "v1", "Table"), f"{META}.Table"),
        (("", "v1", "APIResourceList"), f"{META}.APIResourceList"),
    ],
)
def test_root_names_follow_upstream(gvk: tuple[str, str, str], name: str) -> None:
    assert schemagen.kind_roots()[gvk] == name


@pytest.mark.parametrize(
    "name",
    [
        f"{META}.ObjectMeta",
        f"{META}.ListMeta",
        f"{META}.LabelSelector",
        f"{META}.OwnerReference",
        f"{META}.Time",
        "io.k8s.api.core.v1.PodTemplateSpec",
        "io.k8s.api.core.v1.TopologySelectorTerm",
        "io.k8s.api.apps.v1.RollingUpdateDeployment",
        "io.k8s.api.discovery.v1.EndpointPort",
        "io.k8s.api.core.v1.EndpointPort",
        "io.k8s.api.authentication.v1.BoundObjectReference",
        schemagen.INT_OR_STRING,
        schemagen.QUANTITY,
    ],
)
def test_referenced_types_are_named_like_upstream(defs: dict[str, Any], name: str) -> None:
    assert name in defs


def _refs(value: Any) -> list[str]:
    if isinstance(value, dict):
        # JSONSchemaProps has a property named "$ref" (a schema, not a reference).
        found = [value["$ref"]] if isinstance(value.get("$ref"), str) else []
        return found + [r for v in value.values() for r in _refs(v)]
    if isinstance(value, list):
        return [r for v in value for r in _refs(v)]
    return []


def test_every_reference_resolves(defs: dict[str, Any]) -> None:
    missing = {r for r in _refs(defs) if r[len(REF_PREFIX) :] not in defs}
    assert not missing


def test_every_fact_names_an_existing_field(defs: dict[str, Any]) -> None:
    for short, fields in schemagen._FIELD_FACTS.items():
        name = (
            (META + short[len("meta.v1") :]) if short.startswith("meta.") else "io.k8s.api." + short
        )
        assert name in defs, short
        assert set(fields) <= set(defs[name]["properties"]), short


@pytest.mark.parametrize(
    ("path", "strategy", "key", "list_type", "map_keys"),
    [
        ("core.v1.Pod:spec.containers", "merge", "name", "map", ("name",)),
        ("core.v1.PodSpec:initContainers", "merge", "name", "map", ("name",)),
        ("core.v1.PodSpec:volumes", "merge,retainKeys", "name", "map", ("name",)),
        ("core.v1.PodSpec:tolerations", "", "", "atomic", ()),
        ("core.v1.Container:ports", "merge", "containerPort", "map", ("containerPort", "protocol")),
        ("core.v1.Container:env", "merge", "name", "map", ("name",)),
        ("core.v1.Container:volumeMounts", "merge", "mountPath", "map", ("mountPath",)),
        ("core.v1.Container:command", "", "", "atomic", ()),
        ("core.v1.ServiceSpec:ports", "merge", "port", "map", ("port", "protocol")),
        ("core.v1.NodeSpec:taints", "", "", "atomic", ()),
        ("core.v1.PodStatus:conditions", "merge", "type", "map", ("type",)),
        ("meta.v1.ObjectMeta:finalizers", "merge", "", "set", ()),
        ("meta.v1.ObjectMeta:ownerReferences", "merge", "uid", "map", ("uid",)),
        ("apps.v1.DeploymentSpec:strategy", "retainKeys", "", "", ()),
        ("apps.v1.Deployment:spec.template.spec.containers", "merge", "name", "map", ("name",)),
        ("policy.v1.PodDisruptionBudgetSpec:selector", "replace", "", "", ()),
    ],
)
def test_patch_facts(
    path: str, strategy: str, key: str, list_type: str, map_keys: tuple[str, ...]
) -> None:
    found = node(path)
    assert (found.patch_strategy, found.merge_key) == (strategy, key)
    assert (found.list_type, found.list_map_keys) == (list_type, map_keys)


@pytest.mark.parametrize(
    "path",
    [
        "core.v1.ServicePort:targetPort",
        "core.v1.HTTPGetAction:port",
        "apps.v1.RollingUpdateDeployment:maxSurge",
        "apps.v1.RollingUpdateDeployment:maxUnavailable",
        "policy.v1.PodDisruptionBudgetSpec:minAvailable",
    ],
)
def test_int_or_string_fields(path: str) -> None:
    assert node(path).int_or_string


def test_scalars_and_maps() -> None:
    assert node("core.v1.Container:name").type == "string"
    assert node("core.v1.ContainerPort:containerPort").type == "integer"
    assert node("core.v1.PodSpec:hostNetwork").type == "boolean"
    labels = node("meta.v1.ObjectMeta:labels")
    assert labels.is_map and labels.field("app") is not None
    assert labels.field("app").type == "string"  # type: ignore[union-attr]
    created = node("meta.v1.ObjectMeta:creationTimestamp")
    assert (created.type, created.raw["format"]) == ("string", "date-time")
    limits = node("core.v1.ResourceRequirements:limits")
    assert limits.is_map
    assert limits.raw["additionalProperties"] == {
        "allOf": [{"$ref": REF_PREFIX + schemagen.QUANTITY}]
    }
    assert node("meta.v1.WatchEvent:object").preserves_unknown
    assert node("meta.v1.ManagedFieldsEntry:fieldsV1").preserves_unknown


def test_required_fields() -> None:
    assert "name" in node("core.v1.Container:").required
    assert "containers" in node("core.v1.PodSpec:").required
    assert node("core.v1.Pod:").required == ()
    assert "selector" in node("apps.v1.DeploymentSpec:").required


def test_map_types() -> None:
    assert node("core.v1.PodSpec:nodeSelector").raw["x-kubernetes-map-type"] == "atomic"
    assert node("meta.v1.LabelSelector:").raw["x-kubernetes-map-type"] == "atomic"


def test_schema_module_reads_the_generated_tree() -> None:
    pod = schema.for_kind("", "v1", "Pod")
    assert pod is not None
    containers = pod.field("spec").field("containers")  # type: ignore[union-attr]
    assert containers is not None and containers.merge_key == "name"


def _descriptions(value: Any) -> list[str]:
    if isinstance(value, dict):
        own = [value["description"]] if isinstance(value.get("description"), str) else []
        return own + [d for v in value.values() for d in _descriptions(v)]
    if isinstance(value, list):
        return [d for v in value for d in _descriptions(v)]
    return []


def test_no_descriptions_are_published(defs: dict[str, Any]) -> None:
    """Kubernetes' prose stays in the client package; we publish types only."""
    assert _descriptions(defs) == []


def test_cache_round_trip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("TINYKUBE_SCHEMA_CACHE", raising=False)
    path = schemagen.cache_path()
    assert path is not None and path.is_relative_to(tmp_path / "tinykube")
    defs, roots = schemagen.definitions(), schemagen.kind_roots()
    schemagen._store(path, defs, roots)
    assert schemagen._load(path) == (defs, roots)


def test_cache_can_be_switched_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TINYKUBE_SCHEMA_CACHE", "off")
    assert schemagen.cache_path() is None


def test_unwritable_cache_is_not_an_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    schemagen._store(blocker / "sub" / "x.json", {}, {})
    assert schemagen._load(blocker / "sub" / "x.json") is None
    assert list(tmp_path.iterdir()) == [blocker]


class _LegacyModels:
    """Models shaped like the pre-pydantic client (kubernetes <= 35): type strings
    ``list[X]``/``dict(str, X)``, IntOrString as ``object``, required fields known
    only from the setter that refuses None."""

    class V1Widget:
        openapi_types = {
            "api_version": "str",
            "name": "str",
            "parts": "list[V1WidgetPart]",
            "labels": "dict(str, str)",
            "created": "datetime",
            "blob": "object",
        }
        attribute_map = {
            "api_version": "apiVersion",
            "name": "name",
            "parts": "parts",
            "labels": "labels",
            "created": "created",
            "blob": "blob",
        }

        def name(self, name: str) -> None:
            if name is None:
                raise ValueError("Invalid value for `name`, must not be `None`")

    class V1WidgetPart:
        openapi_types = {"size": "int", "ratio": "float"}
        attribute_map = {"size": "size", "ratio": "ratio"}


def test_builder_reads_legacy_models() -> None:
    builder = schemagen._Builder(_LegacyModels)
    builder.package = "apps"
    name = builder.walk("V1Widget")
    assert name == "io.k8s.api.apps.v1.Widget"
    widget = builder.defs[name]
    assert widget["required"] == ["name"]
    props = widget["properties"]
    assert props["parts"] == {
        "type": "array",
        "items": {"allOf": [{"$ref": REF_PREFIX + "io.k8s.api.apps.v1.WidgetPart"}]},
    }
    assert props["labels"] == {"type": "object", "additionalProperties": {"type": "string"}}
    assert props["created"] == {"allOf": [{"$ref": REF_PREFIX + schemagen.TIME}]}
    assert props["blob"]["x-kubernetes-preserve-unknown-fields"] is True
    part = builder.defs["io.k8s.api.apps.v1.WidgetPart"]["properties"]
    assert part == {"size": {"type": "integer"}, "ratio": {"type": "number", "format": "double"}}
