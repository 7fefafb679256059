"""``/openapi/v2`` in protobuf: the Swagger document as gnostic's ``openapi.v2.Document``.

kubectl up to 1.26 reads the v2 document only in this form (it asks for
``application/com.github.proto-openapi.spec.v2@v1.0+protobuf`` and nothing
else, then tries the older ``/swagger-2.0.0.pb-v1``), to validate manifests
on the client and to find the patch strategy of each field for ``apply``;
without it ``kubectl apply -f`` and ``create -f`` stop with NotFound. Newer
clients ask for the same bytes as ``…spec.v2.v1.0+protobuf``.

gnostic's messages mirror the JSON one for one, with three habits: a JSON
map becomes a repeated ``Named*`` pair (name 1, value 2), every ``x-`` key
becomes a ``NamedAny`` whose value carries the YAML text of the JSON value
(kube-openapi parses extensions back from that text), and the places where
Swagger allows one of two shapes are ``oneof`` wrappers (a parameter is a
body or a query/path/header parameter, or a ``$ref``; ``additionalProperties``
is a schema or a boolean; ``type`` is a list). Field numbers are gnostic's
``OpenAPIv2.proto``. Keys the proto has no field for are left out, as
gnostic's own compiler leaves them out.
"""

from __future__ import annotations

import json
import struct
from typing import Any

from tinykube.api.protobuf import FIXED64, VARINT, len_field, tag, varint

CONTENT_TYPES = (
    "application/com.github.proto-openapi.spec.v2@v1.0+protobuf",
    "application/com.github.proto-openapi.spec.v2.v1.0+protobuf",
)

# A field: (number, kind, message). Kinds: s string, b bool, i int64, d double,
# S repeated string, m message, M repeated message, N map of message (Named pairs),
# y Any (YAML text), Y repeated Any; and the oneof wrappers named below.
Fields = dict[str, tuple[int, str, str]]

_PARAMETER_COMMON: Fields = {
    "required": (1, "b", ""),
    "in": (2, "s", ""),
    "description": (3, "s", ""),
    "name": (4, "s", ""),
}


def _scalar_rules(start: int) -> Fields:
    """The run of validation keywords the parameter and items messages share, in order."""
    names = (
        ("default", "y"),
        ("maximum", "d"),
        ("exclusiveMaximum", "b"),
        ("minimum", "d"),
        ("exclusiveMinimum", "b"),
        ("maxLength", "i"),
        ("minLength", "i"),
        ("pattern", "s"),
        ("maxItems", "i"),
        ("minItems", "i"),
        ("uniqueItems", "b"),
        ("enum", "Y"),
        ("multipleOf", "d"),
    )
    return {name: (start + i, kind, "") for i, (name, kind) in enumerate(names)}


def _typed(first: int) -> Fields:
    """type, format, items, collectionFormat, then the validation run."""
    return {
        "type": (first, "s", ""),
        "format": (first + 1, "s", ""),
        "items": (first + 2, "m", "PrimitivesItems"),
        "collectionFormat": (first + 3, "s", ""),
        **_scalar_rules(first + 4),
    }


MESSAGES: dict[str, Fields] = {
    "Document": {
        "swagger": (1, "s", ""),
        "info": (2, "m", "Info"),
        "host": (3, "s", ""),
        "basePath": (4, "s", ""),
        "schemes": (5, "S", ""),
        "consumes": (6, "S", ""),
        "produces": (7, "S", ""),
        "paths": (8, "paths", "PathItem"),
        "definitions": (9, "N1", "Schema"),
    },
    "Info": {"title": (1, "s", ""), "version": (2, "s", ""), "description": (3, "s", "")},
    "PathItem": {
        "$ref": (1, "s", ""),
        "get": (2, "m", "Operation"),
        "put": (3, "m", "Operation"),
        "post": (4, "m", "Operation"),
        "delete": (5, "m", "Operation"),
        "options": (6, "m", "Operation"),
        "head": (7, "m", "Operation"),
        "patch": (8, "m", "Operation"),
        "parameters": (9, "params", ""),
    },
    "Operation": {
        "tags": (1, "S", ""),
        "summary": (2, "s", ""),
        "description": (3, "s", ""),
        "operationId": (5, "s", ""),
        "produces": (6, "S", ""),
        "consumes": (7, "S", ""),
        "parameters": (8, "params", ""),
        "responses": (9, "responses", ""),
        "schemes": (10, "S", ""),
        "deprecated": (11, "b", ""),
    },
    "Response": {"description": (1, "s", ""), "schema": (2, "schemaitem", "")},
    "BodyParameter": {
        "description": (1, "s", ""),
        "name": (2, "s", ""),
        "in": (3, "s", ""),
        "required": (4, "b", ""),
        "schema": (5, "m", "Schema"),
    },
    # query and formData: allowEmptyValue (5) comes before the typed run.
    "QueryParameterSubSchema": {
        **_PARAMETER_COMMON,
        "allowEmptyValue": (5, "b", ""),
        **_typed(6),
    },
    "PathParameterSubSchema": {**_PARAMETER_COMMON, **_typed(5)},
    "PrimitivesItems": _typed(1),
    "Schema": {
        "$ref": (1, "s", ""),
        "format": (2, "s", ""),
        "title": (3, "s", ""),
        "description": (4, "s", ""),
        "default": (5, "y", ""),
        "multipleOf": (6, "d", ""),
        "maximum": (7, "d", ""),
        "exclusiveMaximum": (8, "b", ""),
        "minimum": (9, "d", ""),
        "exclusiveMinimum": (10, "b", ""),
        "maxLength": (11, "i", ""),
        "minLength": (12, "i", ""),
        "pattern": (13, "s", ""),
        "maxItems": (14, "i", ""),
        "minItems": (15, "i", ""),
        "uniqueItems": (16, "b", ""),
        "maxProperties": (17, "i", ""),
        "minProperties": (18, "i", ""),
        "required": (19, "S", ""),
        "enum": (20, "Y", ""),
        "additionalProperties": (21, "additional", ""),
        "type": (22, "type", ""),
        "items": (23, "items", ""),
        "allOf": (24, "M", "Schema"),
        "properties": (25, "N1", "Schema"),
        "discriminator": (26, "s", ""),
        "readOnly": (27, "b", ""),
        "example": (30, "y", ""),
    },
}
MESSAGES["FormDataParameterSubSchema"] = MESSAGES["QueryParameterSubSchema"]
MESSAGES["HeaderParameterSubSchema"] = MESSAGES["PathParameterSubSchema"]

# Where each message keeps its x- extensions (a repeated NamedAny).
VENDOR_EXTENSION = {
    "Document": 16,
    "Info": 7,
    "PathItem": 10,
    "Operation": 13,
    "Response": 5,
    "BodyParameter": 6,
    "QueryParameterSubSchema": 23,
    "FormDataParameterSubSchema": 23,
    "PathParameterSubSchema": 22,
    "HeaderParameterSubSchema": 22,
    "PrimitivesItems": 18,
    "Schema": 31,
}
# NonBodyParameter's oneof, by the parameter's "in".
NON_BODY = {
    "header": (1, "HeaderParameterSubSchema"),
    "formData": (2, "FormDataParameterSubSchema"),
    "query": (3, "QueryParameterSubSchema"),
    "path": (4, "PathParameterSubSchema"),
}


def encode_document(doc: dict[str, Any]) -> bytes:
    """The whole Swagger document as ``openapi.v2.Document`` bytes."""
    return message("Document", doc)


def message(name: str, obj: dict[str, Any]) -> bytes:
    fields = MESSAGES[name]
    out = bytearray()
    for key, value in obj.items():
        spec = fields.get(key)
        if spec is not None and value is not None:
            out += _field(*spec, value)
    vendor = VENDOR_EXTENSION.get(name)
    if vendor is not None:
        for key, value in obj.items():
            if key.startswith("x-"):
                out += len_field(vendor, _named(key, _any(value)))
    return bytes(out)


def _field(number: int, kind: str, sub: str, value: Any) -> bytes:
    match kind:
        case "s":
            return len_field(number, str(value).encode())
        case "b":
            return tag(number, VARINT) + varint(int(bool(value)))
        case "i":
            return tag(number, VARINT) + varint(int(value))
        case "d":
            return tag(number, FIXED64) + struct.pack("<d", float(value))
        case "S":
            return b"".join(len_field(number, str(v).encode()) for v in value)
        case "m":
            return len_field(number, message(sub, value))
        case "M":
            return b"".join(len_field(number, message(sub, v)) for v in value)
        case "N1":  # Definitions / Properties: {additional_properties = 1}
            pairs = b"".join(len_field(1, _named(k, message(sub, v))) for k, v in value.items())
            return len_field(number, pairs)
        case "paths":  # Paths: {vendor_extension = 1, path = 2}
            pairs = b"".join(len_field(2, _named(k, message(sub, v))) for k, v in value.items())
            return len_field(number, pairs)
        case "y":
            return len_field(number, _any(value))
        case "Y":
            return b"".join(len_field(number, _any(v)) for v in value)
        case "type":  # TypeItem {repeated string value = 1}
            types = value if isinstance(value, list) else [value]
            return len_field(number, b"".join(len_field(1, str(t).encode()) for t in types))
        case "items":  # ItemsItem {repeated Schema schema = 1}
            schemas = value if isinstance(value, list) else [value]
            return len_field(number, b"".join(len_field(1, message("Schema", s)) for s in schemas))
        case "additional":  # AdditionalPropertiesItem {oneof: Schema schema = 1; bool boolean = 2}
            if isinstance(value, bool):
                return len_field(number, tag(2, VARINT) + varint(int(value)))
            return len_field(number, len_field(1, message("Schema", value)))
        case "schemaitem":  # SchemaItem {oneof: Schema schema = 1; FileSchema file_schema = 2}
            return len_field(number, len_field(1, message("Schema", value)))
        case "params":
            return b"".join(len_field(number, _parameters_item(p)) for p in value)
        case "responses":  # Responses {repeated NamedResponseValue response_code = 1}
            pairs = b"".join(
                # ResponseValue {oneof: Response response = 1; JsonReference json_reference = 2}
                len_field(1, _named(str(code), _reference_or(r, "Response")))
                for code, r in value.items()
            )
            return len_field(number, pairs)
    raise ValueError(f"no encoding for field kind {kind!r}")


def _parameters_item(param: dict[str, Any]) -> bytes:
    """ParametersItem {oneof: Parameter parameter = 1; JsonReference json_reference = 2};
    Parameter {oneof: BodyParameter = 1; NonBodyParameter = 2}."""
    if "$ref" in param:
        return len_field(2, _json_reference(param))
    where = param.get("in", "")
    if where == "body":
        parameter = len_field(1, message("BodyParameter", param))
    else:
        number, name = NON_BODY.get(where, NON_BODY["query"])
        parameter = len_field(2, len_field(number, message(name, param)))
    return len_field(1, parameter)


def _reference_or(value: dict[str, Any], name: str) -> bytes:
    if "$ref" in value:
        return len_field(2, _json_reference(value))
    return len_field(1, message(name, value))


def _json_reference(value: dict[str, Any]) -> bytes:
    """JsonReference {string _ref = 1; string description = 2}."""
    out = len_field(1, str(value["$ref"]).encode())
    if value.get("description"):
        out += len_field(2, str(value["description"]).encode())
    return out


def _named(name: str, value: bytes) -> bytes:
    return len_field(1, name.encode()) + len_field(2, value)


def _any(value: Any) -> bytes:
    """gnostic's Any {google.protobuf.Any value = 1; string yaml = 2}: JSON is YAML."""
    return len_field(2, json.dumps(value, separators=(",", ":")).encode())
