"""Request decoding and response encoding shared by every handler.

Content negotiation follows kube-apiserver: JSON always; a ``meta.k8s.io``
Table when the Accept header asks ``as=Table`` (kubectl's human-readable
output); ``PartialObjectMetadata`` for metadata-only clients. Bodies are JSON,
or YAML where Kubernetes accepts it; anything over 3 MiB is refused with 413.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
import yaml
from aiohttp import web

from tinykube.api import errors, tables
from tinykube.api.resources import Resource

MAX_BODY = 3 * 1024 * 1024
JSON = "application/json"
PROTOBUF = "application/vnd.kubernetes.protobuf"
JSON_TYPES = (
    "application/json",
    "",
    "*/*",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/json-patch+json",
)
TABLE_GROUP = "meta.k8s.io"

try:
    _YamlLoader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML without libyaml
    _YamlLoader = yaml.SafeLoader


def json_response(
    obj: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(body=orjson.dumps(obj), status=status, content_type=JSON, headers=headers)


def error_response(err: errors.APIError, headers: dict[str, str] | None = None) -> web.Response:
    hdrs = dict(headers or {})
    if err.retry_after is not None:
        hdrs["Retry-After"] = str(err.retry_after)
    return json_response(err.status(), err.code, hdrs)


def flag(request: web.Request, name: str) -> bool:
    return request.query.get(name, "").lower() in ("true", "1")


def int_param(request: web.Request, name: str) -> int | None:
    raw = request.query.get(name)
    if raw in (None, ""):
        return None
    try:
        return int(raw)
    except ValueError:
        raise errors.BadRequest(f'invalid value for {name}: "{raw}"') from None


async def read_body(request: web.Request) -> bytes:
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise errors.RequestEntityTooLarge("Request entity too large: limit is 3145728")
    body = bytearray()
    async for chunk in request.content.iter_chunked(65536):
        body += chunk
        if len(body) > MAX_BODY:
            raise errors.RequestEntityTooLarge("Request entity too large: limit is 3145728")
    return bytes(body)


def media_type(request: web.Request) -> str:
    return request.headers.get("Content-Type", JSON).split(";")[0].strip().lower()


def decode_body(body: bytes, content_type: str) -> Any:
    """JSON, or YAML when the client says so; 400 with the parser's complaint otherwise."""
    if not body.strip():
        raise errors.BadRequest("the request body is empty")
    if content_type in ("application/yaml", "application/apply-patch+yaml", "text/yaml"):
        try:
            return yaml.load(body, Loader=_YamlLoader)
        except yaml.YAMLError as exc:
            raise errors.BadRequest(f"error converting YAML to JSON: {exc}") from None
    if content_type == PROTOBUF:
        # client-go's typed clients send built-in kinds as protobuf, with no fallback.
        from tinykube.api import protobuf

        return protobuf.decode(body)
    if content_type not in JSON_TYPES:
        raise errors.UnsupportedMediaType(
            "the body of the request was in an unknown format - accepted media types include: "
            "application/json, application/yaml, application/vnd.kubernetes.protobuf"
        )
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise errors.BadRequest(f"couldn't get version/kind; json parse error: {exc}") from None


def decode_object(body: bytes, content_type: str) -> dict[str, Any]:
    obj = decode_body(body, content_type)
    if not isinstance(obj, dict):
        raise errors.BadRequest(
            "couldn't get version/kind; json parse error: json: cannot unmarshal "
            f"{type(obj).__name__} into Go value of type struct"
        )
    return obj


@dataclass(frozen=True)
class Output:
    """What shape the client asked for."""

    kind: str = "object"  # object | table | partial
    version: str = "v1"  # meta.k8s.io version for table/partial
    include_object: str = "Metadata"


def negotiate(request: web.Request) -> Output:
    accept = request.headers.get("Accept", "")
    if "as=" not in accept:
        return Output()
    for clause in accept.split(","):
        params = {}
        for part in clause.split(";")[1:]:
            k, _, v = part.strip().partition("=")
            params[k] = v
        as_ = params.get("as", "")
        if params.get("g") != TABLE_GROUP:
            continue
        version = params.get("v", "v1")
        if version not in ("v1", "v1beta1"):
            continue
        if as_ == "Table":
            include = request.query.get("includeObject", "") or "Metadata"
            if include not in ("Metadata", "Object", "None"):
                raise errors.BadRequest(f'unrecognized includeObject value: "{include}"')
            return Output("table", version, include)
        if as_ in ("PartialObjectMetadata", "PartialObjectMetadataList"):
            return Output("partial", version)
    if clause_allows_json(accept):
        return Output()
    raise errors.NotAcceptable(
        "only the following media types are accepted: application/json, "
        "application/json;as=Table;v=v1;g=meta.k8s.io"
    )


def clause_allows_json(accept: str) -> bool:
    for clause in accept.split(","):
        base = clause.split(";")[0].strip()
        params = clause.split(";")[1:]
        if base in ("application/json", "*/*", "application/*", "") and not any(
            p.strip().startswith("as=") for p in params
        ):
            return True
    return False


def partial(obj: dict[str, Any], version: str) -> dict[str, Any]:
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": f"{TABLE_GROUP}/{version}",
        "metadata": obj.get("metadata", {}),
    }


def to_table(
    res: Resource,
    objs: list[dict[str, Any]],
    out: Output,
    list_meta: dict[str, Any],
    with_columns: bool = True,
) -> dict[str, Any]:
    now = datetime.now(UTC)
    rows = []
    for obj in objs:
        row: dict[str, Any] = {"cells": tables.row_cells(res, obj, now)}
        conditions = tables.row_conditions(res, obj)
        if conditions:
            row["conditions"] = conditions
        if out.include_object == "Object":
            row["object"] = obj
        elif out.include_object == "Metadata":
            row["object"] = partial(obj, out.version)
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": f"{TABLE_GROUP}/{out.version}",
        "metadata": list_meta,
        "columnDefinitions": tables.column_definitions(res) if with_columns else [],
        "rows": rows,
    }


def render_list(
    res: Resource,
    items: list[dict[str, Any]],
    out: Output,
    revision: int,
    continue_token: str = "",
    remaining: int | None = None,
) -> dict[str, Any]:
    meta: dict[str, Any] = {"resourceVersion": str(revision)}
    if continue_token:
        meta["continue"] = continue_token
        if remaining is not None:
            meta["remainingItemCount"] = remaining
    if out.kind == "table":
        return to_table(res, items, out, meta)
    if out.kind == "partial":
        return {
            "kind": "PartialObjectMetadataList",
            "apiVersion": f"{TABLE_GROUP}/{out.version}",
            "metadata": meta,
            "items": [partial(o, out.version) for o in items],
        }
    return {"kind": res.list_kind, "apiVersion": res.api_version, "metadata": meta, "items": items}


def list_body(
    res: Resource,
    items: list[dict[str, Any]],
    revision: int,
    encode: Any,
    continue_token: str = "",
    remaining: int | None = None,
) -> bytes:
    """A plain list as bytes, splicing in each item's memoised JSON (no re-encoding)."""
    meta: dict[str, Any] = {"resourceVersion": str(revision)}
    if continue_token:
        meta["continue"] = continue_token
        if remaining is not None:
            meta["remainingItemCount"] = remaining
    head = orjson.dumps({"kind": res.list_kind, "apiVersion": res.api_version, "metadata": meta})
    return head[:-1] + b',"items":[' + b",".join(encode(o) for o in items) + b"]}"


def render_object(res: Resource, obj: dict[str, Any], out: Output) -> dict[str, Any]:
    if out.kind == "table":
        rv = (obj.get("metadata") or {}).get("resourceVersion", "")
        return to_table(res, [obj], out, {"resourceVersion": rv})
    if out.kind == "partial":
        return partial(obj, out.version)
    return obj


def warning_headers(warnings: list[str]) -> list[tuple[str, str]]:
    """RFC 7234 ``Warning: 299 - "text"`` headers, one per warning."""
    from tinykube.api.fields import go_quote

    return [("Warning", f"299 - {go_quote(text)}") for text in warnings]
