"""CustomResourceDefinitions themselves: defaults, validation, names, rows, versions."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tinykube.api import errors
from tinykube.apiserver.crd import apply_crd_defaults, validate_crd
from tinykube.apiserver.crd.definition import deprecation_warning, rows, version_priority
from tinykube.apiserver.crd.naming import conflict, spec_names
from tinykube.apiserver.registry import strategy

OBJECT = {"type": "object", "properties": {"spec": {"type": "object"}}}


def crd(name: str = "widgets.example.com", **names: Any) -> dict[str, Any]:
    plural, _, group = name.partition(".")
    obj = {
        "metadata": {"name": name, "creationTimestamp": "2026-01-01T00:00:00Z"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"plural": plural, "kind": "Widget", **names},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": OBJECT},
                }
            ],
        },
    }
    apply_crd_defaults(obj)
    return obj


def problems(obj: dict[str, Any], old: dict[str, Any] | None = None) -> list[str]:
    return [str(e) for e in validate_crd(obj, old)]


def test_defaults_fill_singular_list_kind_and_conversion() -> None:
    obj = crd()
    assert obj["spec"]["names"]["singular"] == "widget"
    assert obj["spec"]["names"]["listKind"] == "WidgetList"
    assert obj["spec"]["conversion"] == {"strategy": "None"}


def test_a_good_crd_is_valid() -> None:
    assert problems(crd(shortNames=["wd"], categories=["all"])) == []


def _edit(path: str, value: Any) -> dict[str, Any]:
    obj = crd()
    *parents, last = path.split(".")
    target: Any = obj
    for part in parents:
        target = target[int(part)] if isinstance(target, list) else target[part]
    if isinstance(target, list):
        target[int(last)] = value
    else:
        target[last] = value
    return obj


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (
            "metadata.name",
            "widget.example.com",
            'metadata.name: Invalid value: "widget.example.com": must be '
            'spec.names.plural+"."+spec.group',
        ),
        ("spec.scope", "Global", 'spec.scope: Unsupported value: "Global": supported values: '),
        ("spec.names.kind", "", "spec.names.kind: Required value"),
        ("spec.names.listKind", "Widget", "kind and listKind cannot be the same"),
        ("spec.names.shortNames", ["W D"], 'spec.names.shortNames[0]: Invalid value: "W D"'),
        ("spec.versions", [], "spec.versions: Invalid value: []: must have exactly one version"),
        ("spec.versions.0.storage", False, "must have exactly one version marked as storage"),
        ("spec.versions.0.served", False, "must have at least one version marked as served"),
        (
            "spec.versions.0.schema",
            {},
            "spec.versions[0].schema.openAPIV3Schema: Required value: schemas are required",
        ),
        (
            "spec.versions.0.schema",
            {"openAPIV3Schema": {"type": "object", "properties": {"spec": {"properties": {}}}}},
            "spec.versions[0].schema.openAPIV3Schema.properties[spec].type: Required value: "
            "must not be empty for specified object fields",
        ),
        (
            "spec.versions.0.schema",
            {"openAPIV3Schema": {"type": "object", "properties": {"a": {"type": "array"}}}},
            "spec.versions[0].schema.openAPIV3Schema.properties[a].items: Required value: "
            "must be specified",
        ),
        (
            "spec.versions.0.schema",
            {"openAPIV3Schema": {"type": "string"}},
            'openAPIV3Schema.type: Invalid value: "string": must be object at the root',
        ),
        (
            "spec.versions.0.schema",
            {
                "openAPIV3Schema": {
                    "type": "object",
                    "properties": {"metadata": {"type": "object", "properties": {"labels": {}}}},
                }
            },
            "properties[metadata]: Forbidden: must not specify anything other than name and "
            "generateName",
        ),
        (
            "spec.versions.0.subresources",
            {"scale": {"specReplicasPath": ".replicas", "statusReplicasPath": ".status.r"}},
            'scale.specReplicasPath: Invalid value: ".replicas": should be a json path under .spec',
        ),
        (
            "spec.versions.0.additionalPrinterColumns",
            [{"name": "X", "type": "time", "jsonPath": ".spec.x"}],
            'additionalPrinterColumns[0].type: Unsupported value: "time"',
        ),
    ],
    ids=[
        "name",
        "scope",
        "kind",
        "listKind",
        "shortName",
        "no-versions",
        "no-storage",
        "none-served",
        "no-schema",
        "untyped-field",
        "array-items",
        "root-type",
        "metadata",
        "scale-path",
        "column-type",
    ],
)
def test_problems(path: str, value: Any, expected: str) -> None:
    found = problems(_edit(path, value))
    assert any(expected in p for p in found), found


def test_group_needs_a_dot_and_protected_groups_need_approval() -> None:
    assert any("should be a domain with at least one dot" in p for p in problems(crd("w.example")))
    found = problems(crd("widgets.things.k8s.io"))
    assert any(
        "metadata.annotations[api-approved.kubernetes.io]: Required value" in p for p in found
    )


def test_an_update_may_not_drop_a_stored_version_or_change_scope() -> None:
    old = crd()
    old["status"] = {"storedVersions": ["v1"]}
    new = copy.deepcopy(old)
    new["spec"]["versions"][0]["name"] = "v2"
    new["spec"]["scope"] = "Cluster"
    found = problems(new, old)
    assert 'status.storedVersions[0]: Invalid value: "v1": must appear in spec.versions' in found
    assert 'spec.scope: Invalid value: "Cluster": field is immutable' in found


def test_rows_follow_served_versions_in_kubernetes_order() -> None:
    obj = crd(shortNames=["wd"])
    base = obj["spec"]["versions"][0]
    obj["spec"]["versions"] = [
        {**base, "name": "v1alpha1", "storage": False},
        {**base, "name": "v1beta1", "storage": False, "served": False},
        {**base, "name": "v1", "subresources": {"status": {}, "scale": {}}},
    ]
    served = rows(obj, spec_names(obj))
    assert [r.version for r in served] == ["v1", "v1alpha1"]
    first = served[0]
    assert (first.kind, first.plural, first.short_names, first.namespaced) == (
        "Widget",
        "widgets",
        ("wd",),
        True,
    )
    assert [s.name for s in first.subresources] == ["scale", "status"]
    assert first.storage_prefix() == "/registry/widgets.example.com/"
    assert all(r.storage_version == "v1" for r in served)
    assert first.list_kind == "WidgetList"


def test_version_priority() -> None:
    names = ["v1beta1", "foo", "v1", "v2alpha1", "v2", "v1beta2", "v10"]
    assert sorted(names, key=version_priority) == [
        "v10",
        "v2",
        "v1",
        "v1beta2",
        "v1beta1",
        "v2alpha1",
        "foo",
    ]


def test_the_older_crd_keeps_a_contested_name() -> None:
    first = crd()
    second = crd("gadgets.example.com")
    second["metadata"]["creationTimestamp"] = "2026-01-02T00:00:00Z"
    assert conflict(second, [first, second]) == ("SingularConflict", '"widget" is already in use')
    assert conflict(first, [first, second]) is None
    other_group = crd("gadgets.example.org")
    assert conflict(other_group, [first, other_group]) is None


def test_a_crd_may_not_take_a_builtin_name_of_its_group() -> None:
    obj = crd("deployments.apps", kind="Deployment")
    assert conflict(obj, [obj]) == ("PluralConflict", '"deployments" is already in use')


@pytest.mark.parametrize(
    ("subresources", "expected"),
    [({"status": {}}, 1), ({}, 2)],
    ids=["status-subresource", "no-status-subresource"],
)
def test_a_status_change_bumps_the_generation_only_without_a_status_subresource(
    subresources: dict[str, Any], expected: int
) -> None:
    obj = crd()
    obj["spec"]["versions"][0]["subresources"] = subresources
    res = rows(obj, spec_names(obj))[0]
    old = {"metadata": {"name": "w", "generation": 1}, "spec": {"a": 1}, "status": {"x": 1}}
    new = copy.deepcopy(old)
    new["status"] = {"x": 2}
    strategy.prepare_for_update(res, new, old)
    assert new["metadata"]["generation"] == expected


def test_a_field_of_the_wrong_shape_is_a_bad_request() -> None:
    obj = crd()
    obj["spec"]["versions"][0]["schema"] = ["not", "an", "object"]
    with pytest.raises(errors.BadRequest, match="cannot be handled as a CustomResourceDefinition"):
        validate_crd(obj)


def test_deprecated_versions_name_the_newest_served_replacement() -> None:
    obj = crd()
    base = obj["spec"]["versions"][0]
    old = {**base, "name": "v1alpha1", "storage": False, "deprecated": True}
    obj["spec"]["versions"] = [
        old,
        {**base, "name": "v1beta1", "storage": False},
        {**base, "name": "v2", "storage": False, "served": False},
        base,
    ]
    assert deprecation_warning(obj, old, "Widget") == (
        "example.com/v1alpha1 Widget is deprecated; use example.com/v1 Widget"
    )
    assert deprecation_warning(obj, {**old, "deprecationWarning": "go away"}, "Widget") == "go away"
    assert deprecation_warning(obj, base, "Widget") == ""
