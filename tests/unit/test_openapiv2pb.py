"""``/openapi/v2`` as gnostic protobuf, read back by a real protobuf implementation.

The reader is built here from gnostic's field numbers (a subset of
``openapi.v2``'s messages), independently of the encoder's tables, and the
fields kubectl's model parser reads are checked: definitions with their
types, properties, references and ``x-`` extensions (as YAML text), and a
PATCH operation's query parameters.
"""

from __future__ import annotations

from typing import Any

import yaml
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from tinykube.apiserver import openapi
from tinykube.apiserver.openapiv2pb import encode_document

F = descriptor_pb2.FieldDescriptorProto
STRING, BOOL, MESSAGE = F.TYPE_STRING, F.TYPE_BOOL, F.TYPE_MESSAGE
ONE, MANY = F.LABEL_OPTIONAL, F.LABEL_REPEATED

# message -> [(field name, number, type, label, message type)]
GNOSTIC: dict[str, list[tuple[str, int, int, int, str]]] = {
    "Document": [
        ("swagger", 1, STRING, ONE, ""),
        ("paths", 8, MESSAGE, ONE, "Paths"),
        ("definitions", 9, MESSAGE, ONE, "Definitions"),
    ],
    "Definitions": [("additional_properties", 1, MESSAGE, MANY, "NamedSchema")],
    "NamedSchema": [("name", 1, STRING, ONE, ""), ("value", 2, MESSAGE, ONE, "Schema")],
    "Schema": [
        ("_ref", 1, STRING, ONE, ""),
        ("required", 19, STRING, MANY, ""),
        ("additional_properties", 21, MESSAGE, ONE, "AdditionalPropertiesItem"),
        ("type", 22, MESSAGE, ONE, "TypeItem"),
        ("items", 23, MESSAGE, ONE, "ItemsItem"),
        ("properties", 25, MESSAGE, ONE, "Properties"),
        ("vendor_extension", 31, MESSAGE, MANY, "NamedAny"),
    ],
    "AdditionalPropertiesItem": [
        ("schema", 1, MESSAGE, ONE, "Schema"),
        ("boolean", 2, BOOL, ONE, ""),
    ],
    "TypeItem": [("value", 1, STRING, MANY, "")],
    "ItemsItem": [("schema", 1, MESSAGE, MANY, "Schema")],
    "Properties": [("additional_properties", 1, MESSAGE, MANY, "NamedSchema")],
    "NamedAny": [("name", 1, STRING, ONE, ""), ("value", 2, MESSAGE, ONE, "Any")],
    "Any": [("yaml", 2, STRING, ONE, "")],
    "Paths": [("path", 2, MESSAGE, MANY, "NamedPathItem")],
    "NamedPathItem": [("name", 1, STRING, ONE, ""), ("value", 2, MESSAGE, ONE, "PathItem")],
    "PathItem": [
        ("get", 2, MESSAGE, ONE, "Operation"),
        ("patch", 8, MESSAGE, ONE, "Operation"),
        ("parameters", 9, MESSAGE, MANY, "ParametersItem"),
    ],
    "Operation": [
        ("operation_id", 5, STRING, ONE, ""),
        ("consumes", 7, STRING, MANY, ""),
        ("parameters", 8, MESSAGE, MANY, "ParametersItem"),
        ("vendor_extension", 13, MESSAGE, MANY, "NamedAny"),
    ],
    "ParametersItem": [("parameter", 1, MESSAGE, ONE, "Parameter")],
    "Parameter": [
        ("body_parameter", 1, MESSAGE, ONE, "BodyParameter"),
        ("non_body_parameter", 2, MESSAGE, ONE, "NonBodyParameter"),
    ],
    "BodyParameter": [("name", 2, STRING, ONE, ""), ("schema", 5, MESSAGE, ONE, "Schema")],
    "NonBodyParameter": [
        ("query_parameter_sub_schema", 3, MESSAGE, ONE, "QueryParameterSubSchema"),
        ("path_parameter_sub_schema", 4, MESSAGE, ONE, "PathParameterSubSchema"),
    ],
    "QueryParameterSubSchema": [
        ("in", 2, STRING, ONE, ""),
        ("name", 4, STRING, ONE, ""),
        ("type", 6, STRING, ONE, ""),
        ("unique_items", 20, BOOL, ONE, ""),
    ],
    "PathParameterSubSchema": [
        ("required", 1, BOOL, ONE, ""),
        ("name", 4, STRING, ONE, ""),
        ("type", 5, STRING, ONE, ""),
    ],
}


def document_class() -> Any:
    proto = descriptor_pb2.FileDescriptorProto(name="gnostic_subset.proto", package="openapi.v2")
    for name, fields in GNOSTIC.items():
        msg = proto.message_type.add(name=name)
        for field, number, kind, label, ref in fields:
            msg.field.add(
                name=field,
                number=number,
                type=kind,
                label=label,
                type_name=f".openapi.v2.{ref}" if ref else None,
            )
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("openapi.v2.Document"))


def read() -> Any:
    doc = document_class()()
    doc.ParseFromString(encode_document(openapi.v2_document()))
    return doc


def extensions(node: Any) -> dict[str, Any]:
    return {e.name: yaml.safe_load(e.value.yaml) for e in node.vendor_extension}


def test_definitions_carry_types_properties_and_extensions() -> None:
    doc = read()
    assert doc.swagger == "2.0"
    defs = {d.name: d.value for d in doc.definitions.additional_properties}
    deployment = defs["io.k8s.api.apps.v1.Deployment"]
    assert list(deployment.type.value) == ["object"]
    assert extensions(deployment)["x-kubernetes-group-version-kind"] == [
        {"group": "apps", "kind": "Deployment", "version": "v1"}
    ]
    props = {p.name: p.value for p in deployment.properties.additional_properties}
    assert props["spec"]._ref == "#/definitions/io.k8s.api.apps.v1.DeploymentSpec"
    assert list(props["kind"].type.value) == ["string"]
    # The patch strategy kubectl's apply needs, as an extension on the list field.
    pod_spec = {
        p.name: p.value for p in defs["io.k8s.api.core.v1.PodSpec"].properties.additional_properties
    }
    containers = pod_spec["containers"]
    assert list(containers.type.value) == ["array"]
    assert extensions(containers)["x-kubernetes-patch-merge-key"] == "name"
    assert extensions(containers)["x-kubernetes-patch-strategy"] == "merge"
    assert containers.items.schema[0]._ref == "#/definitions/io.k8s.api.core.v1.Container"
    assert "containers" in defs["io.k8s.api.core.v1.PodSpec"].required


def test_maps_say_their_value_schema() -> None:
    defs = {d.name: d.value for d in read().definitions.additional_properties}
    meta = defs["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"]
    labels = {p.name: p.value for p in meta.properties.additional_properties}["labels"]
    assert list(labels.type.value) == ["object"]
    assert list(labels.additional_properties.schema.type.value) == ["string"]


def test_a_patch_operation_lists_its_query_parameters() -> None:
    """What kubectl checks to use server-side field validation: fieldValidation on PATCH."""
    paths = {p.name: p.value for p in read().paths.path}
    item = paths["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]
    patch = item.patch
    assert "application/strategic-merge-patch+json" in patch.consumes
    assert extensions(patch)["x-kubernetes-action"] == "patch"
    names = {
        p.parameter.non_body_parameter.query_parameter_sub_schema.name
        for p in patch.parameters
        if p.parameter.HasField("non_body_parameter")
    }
    assert {"fieldValidation", "fieldManager", "dryRun"} <= names
    shared = {
        p.parameter.non_body_parameter.path_parameter_sub_schema.name for p in item.parameters
    }
    assert {"name", "namespace"} <= shared
    body = [
        p.parameter.body_parameter
        for p in patch.parameters
        if p.parameter.HasField("body_parameter")
    ]
    assert body and body[0].name == "body"
