"""Kubernetes protobuf bodies, decoded into (and encoded from) the JSON dicts the server uses.

client-go's typed clients for built-in kinds always send ``application/vnd.
kubernetes.protobuf`` with no JSON fallback, so ``kubectl create deployment``,
``kubectl auth can-i``, ``kubectl drain`` and every Go operator POST protobuf.
The server answers JSON, which clients accept; it only has to *read* protobuf.

A body is the magic ``k8s\\x00`` followed by a ``runtime.Unknown`` message::

    Unknown { 1: TypeMeta{1: apiVersion, 2: kind}, 2: raw, 3: contentEncoding, 4: contentType }

``raw`` is the gogo-protobuf encoding of the Go struct (e.g. apps/v1
Deployment). Field numbers, Go types and JSON tags of every struct come from
``protobuf_schema.json``, generated from kubernetes/api and apimachinery by
``tools/gen_protobuf_schema.py``; it is loaded once, on first use.

The dict we build is what kube-apiserver prints after decoding the Go struct
and re-encoding it as JSON, because that is what it stores and what the rest
of our server expects. gogo always writes non-pointer fields, so the JSON rules
decide what survives:

* a non-pointer scalar with ``omitempty`` is dropped when zero (``paused:
  false``); without ``omitempty`` its zero stays (``containerPort: 0``);
* a pointer field that was sent stays even when zero (``replicas: 0``); one
  that was not sent is dropped with ``omitempty`` and ``null`` without;
* a struct value is never dropped by ``omitempty`` (``resources: {}``,
  ``status: {}``), only by ``omitzero`` (``creationTimestamp`` since 1.35);
* empty lists and maps are dropped with ``omitempty`` and ``null`` without;
* embedded structs with ``json:",inline"`` (Volume's VolumeSource, Probe's
  ProbeHandler) are flattened into their parent;
* the special types print as their Go ``MarshalJSON`` does: ``Time`` as
  RFC 3339 seconds (zero: ``null``), ``MicroTime`` with six fractional digits,
  ``Quantity`` in canonical form (``1000m`` -> ``1``), ``IntOrString`` as int or string,
  ``RawExtension``/``FieldsV1`` as the embedded JSON, ``[]byte`` as base64.

``encode`` is the inverse, writing fields the way gogo does (ascending field
numbers, non-pointer fields always, map keys sorted), so a body kubectl sent
re-encodes to the same bytes.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple

from tinykube.api import quantity
from tinykube.api.errors import BadRequest

__all__ = [
    "CONTENT_TYPE",
    "FIXED64",
    "LEN",
    "MAGIC",
    "VARINT",
    "decode",
    "encode",
    "len_field",
    "tag",
    "varint",
]

CONTENT_TYPE = "application/vnd.kubernetes.protobuf"
MAGIC = b"k8s\x00"

_SCHEMA_FILE = Path(__file__).with_name("protobuf_schema.json")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_GO_ZERO_TIME = datetime(1, 1, 1, tzinfo=UTC)  # Go's time.Time{}: printed as null
VARINT, FIXED64, LEN, FIXED32 = 0, 1, 2, 5
_SCALAR_WIRE = {"string": LEN, "bytes": LEN, "bool": VARINT, "int32": VARINT, "int64": VARINT}


class Field(NamedTuple):
    """One field of a message, as the schema generator wrote it."""

    number: int
    name: str  # JSON name; empty for an inlined embedded struct
    kind: str  # string bool int32 int64 bytes message map, or a special kind
    ref: str  # message type, or a map's value kind/type
    repeated: bool
    omitempty: bool
    omitzero: bool
    pointer: bool
    inline: bool


class Schema(NamedTuple):
    groups: dict[str, str]  # apiVersion -> package ("apps/v1", "v1" -> "core/v1")
    messages: dict[str, tuple[Field, ...]]  # "apps/v1.Deployment" -> fields in Go order


@cache
def schema() -> Schema:
    """The generated schema, read once."""
    raw = json.loads(_SCHEMA_FILE.read_text())
    messages = {
        name: tuple(_field(*entry) for entry in fields) for name, fields in raw["messages"].items()
    }
    return Schema(raw["groups"], messages)


def _field(number: int, name: str, kind: str, ref: str, flags: str) -> Field:
    return Field(number, name, kind, ref, *(c in flags for c in "rozpi"))


def message_type(api_version: str, kind: str) -> str:
    """The schema name of a kind, e.g. ``("apps/v1", "Deployment") -> "apps/v1.Deployment"``."""
    known = schema()
    package = known.groups.get(api_version)
    if package is None:
        raise BadRequest(f"protobuf: unsupported apiVersion {api_version!r}")
    for name in (f"{package}.{kind}", f"meta/v1.{kind}"):  # DeleteOptions is in every group
        if name in known.messages:
            return name
    raise BadRequest(f"protobuf: no kind {kind!r} in {api_version!r}")


# --- wire format -------------------------------------------------------------


class _Malformed(Exception):
    pass


def _read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise _Malformed("truncated varint")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value & 0xFFFFFFFFFFFFFFFF, pos
        shift += 7


def _read_fields(buf: bytes) -> dict[int, list[tuple[int, Any]]]:
    """Field number -> every (wire type, value) in order; a value is an int or bytes."""
    out: dict[int, list[tuple[int, Any]]] = {}
    pos = 0
    while pos < len(buf):
        key, pos = _read_varint(buf, pos)
        number, wire = key >> 3, key & 7
        value: int | bytes
        if wire == VARINT:
            value, pos = _read_varint(buf, pos)
        elif wire == LEN:
            size, pos = _read_varint(buf, pos)
            value, pos = buf[pos : pos + size], pos + size
            if pos > len(buf):
                raise _Malformed(f"field {number} runs past the end")
        elif wire in (FIXED64, FIXED32):
            width = 8 if wire == FIXED64 else 4
            value, pos = int.from_bytes(buf[pos : pos + width], "little"), pos + width
        else:
            raise _Malformed(f"field {number} has unsupported wire type {wire}")
        if number == 0 or pos > len(buf):
            raise _Malformed("bad field key")
        out.setdefault(number, []).append((wire, value))
    return out


def varint(value: int) -> bytes:
    value &= 0xFFFFFFFFFFFFFFFF  # negative ints go out as ten-byte two's complement
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def tag(number: int, wire: int) -> bytes:
    return varint(number << 3 | wire)


def len_field(number: int, payload: bytes) -> bytes:
    return tag(number, LEN) + varint(len(payload)) + payload


# --- decoding ----------------------------------------------------------------


def decode(body: bytes) -> dict[str, Any]:
    """Decode a ``k8s\\x00``-prefixed protobuf request body into the object's JSON dict.

    Raises ``BadRequest`` for a body without the magic, a malformed message,
    an encoding we do not read, or a kind the schema does not know.
    """
    if not body.startswith(MAGIC):
        raise BadRequest("protobuf: body does not start with the k8s\\x00 magic")
    try:
        envelope = _read_fields(body[len(MAGIC) :])
        type_meta = _read_fields(_last_bytes(envelope, 1))
        api_version = _last_bytes(type_meta, 1).decode()
        kind = _last_bytes(type_meta, 2).decode()
        encoding = _last_bytes(envelope, 3).decode()
        content_type = _last_bytes(envelope, 4).decode()
        if encoding:
            raise BadRequest(f"protobuf: unsupported contentEncoding {encoding!r}")
        if content_type not in ("", CONTENT_TYPE):
            raise BadRequest(f"protobuf: unsupported contentType {content_type!r}")
        fields = _decode_message(message_type(api_version, kind), _last_bytes(envelope, 2))
    except (_Malformed, UnicodeDecodeError, ValueError, RecursionError) as err:
        raise BadRequest(f"protobuf: malformed body: {err}") from None
    return {"kind": kind, "apiVersion": api_version, **fields}


def _last_bytes(fields: dict[int, list[tuple[int, Any]]], number: int) -> bytes:
    values = fields.get(number)
    if not values:
        return b""
    wire, value = values[-1]
    if wire != LEN:
        raise _Malformed(f"field {number} is not length-delimited")
    return bytes(value)


def _decode_message(type_name: str, buf: bytes) -> dict[str, Any]:
    fields = schema().messages.get(type_name)
    if fields is None:
        raise BadRequest(f"protobuf: unknown message type {type_name!r}")
    raw = _read_fields(buf)
    out: dict[str, Any] = {}
    for field in fields:
        values = raw.get(field.number, [])
        if field.inline:
            if values or not field.pointer:
                out.update(_decode_message(field.ref, _joined(field, values)))
        elif field.repeated or field.kind in ("map", "stringlist"):
            _put_collection(out, field, values)
        else:
            _put_single(out, field, values)
    return out


def _joined(field: Field, values: list[tuple[int, Any]]) -> bytes:
    """A message sent in several pieces is their merge, which is their concatenation."""
    if any(wire != LEN for wire, _ in values):
        raise _Malformed(f"{field.name}: expected a length-delimited field")
    return b"".join(bytes(value) for _, value in values)


def _put_collection(out: dict[str, Any], field: Field, values: list[tuple[int, Any]]) -> None:
    if field.kind == "map":
        items: Any = dict(_map_entry(field, bytes(v)) for _, v in _expect_len(field, values))
    elif field.kind == "stringlist":
        items = _string_list(_joined(field, values))
    else:
        items = [item for value in values for item in _decode_repeated(field, value)]
    if items:
        out[field.name] = items
    elif not field.omitempty:
        out[field.name] = None


def _expect_len(field: Field, values: list[tuple[int, Any]]) -> list[tuple[int, Any]]:
    _joined(field, values)  # checks the wire types
    return values


def _decode_repeated(field: Field, value: tuple[int, Any]) -> list[Any]:
    wire, payload = value
    if wire == LEN and _SCALAR_WIRE.get(field.kind) == VARINT:  # a packed list
        numbers, pos = [], 0
        while pos < len(payload):
            number, pos = _read_varint(payload, pos)
            numbers.append(_scalar(field, VARINT, number))
        return numbers
    return [_value(field.kind, field.ref, field, wire, payload)]


def _map_entry(field: Field, entry: bytes) -> tuple[str, Any]:
    parts = _read_fields(entry)
    key = _last_bytes(parts, 1).decode()
    value_kind = field.ref if field.ref in _SCALAR_WIRE or "." not in field.ref else "message"
    values = parts.get(2)
    wire, payload = values[-1] if values else _absent(value_kind)
    return key, _value(value_kind, field.ref, field, wire, payload)


def _absent(kind: str) -> tuple[int, Any]:
    """The (wire type, payload) of a field that was not sent: its zero value."""
    wire = _SCALAR_WIRE.get(kind, LEN)
    return wire, 0 if wire == VARINT else b""


def _put_single(out: dict[str, Any], field: Field, values: list[tuple[int, Any]]) -> None:
    if not values and field.pointer:
        if not field.omitempty:
            out[field.name] = None
        return
    if field.kind in _SCALAR_WIRE:
        wire, payload = values[-1] if values else _absent(field.kind)
        if field.kind == "bytes" and not values:
            value = None  # a nil []byte: Go prints null
        else:
            value = _value(field.kind, field.ref, field, wire, payload)
        if field.omitempty and not field.pointer and not value:
            return
    else:
        value = _value(field.kind, field.ref, field, LEN, _joined(field, values))
        if field.omitzero and _is_zero(field.kind, value):
            return
    out[field.name] = value


def _is_zero(kind: str, value: Any) -> bool:
    return value in (None, "", 0, False, {}, []) or (kind == "quantity" and value == "0")


def _value(kind: str, ref: str, field: Field, wire: int, payload: Any) -> Any:
    """One decoded value of ``kind``; ``ref`` names the message type for messages."""
    if kind in _SCALAR_WIRE:
        return _scalar(field, wire, payload, kind)
    if wire != LEN:
        raise _Malformed(f"{field.name}: expected a length-delimited field")
    decoder = _SPECIAL_DECODERS.get(kind)
    if decoder is not None:
        return decoder(bytes(payload))
    return _decode_message(ref, bytes(payload))


def _scalar(field: Field, wire: int, payload: Any, kind: str = "") -> Any:
    kind = kind or field.kind
    if wire != _SCALAR_WIRE[kind]:
        raise _Malformed(f"{field.name}: wire type {wire} for a {kind}")
    if kind == "string":
        return bytes(payload).decode("utf-8", errors="replace")
    if kind == "bytes":
        return base64.b64encode(payload).decode()
    if kind == "bool":
        return payload != 0
    bits = 32 if kind == "int32" else 64
    payload &= (1 << bits) - 1
    return payload - (1 << bits) if payload >> (bits - 1) else payload


def _decode_time(buf: bytes, micro: bool = False) -> str | None:
    if not buf:
        return None  # upstream Time.Marshal writes nothing for the zero time
    parts = _read_fields(buf)
    seconds = _signed(_last_int(parts, 1), 64)
    nanos = _signed(_last_int(parts, 2), 32)
    moment = _EPOCH + timedelta(seconds=seconds, microseconds=nanos // 1000)
    if moment == _GO_ZERO_TIME:
        return None
    if micro:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _last_int(parts: dict[int, list[tuple[int, Any]]], number: int) -> int:
    values = parts.get(number)
    if not values:
        return 0
    wire, value = values[-1]
    if wire != VARINT:
        raise _Malformed(f"field {number} is not a varint")
    return int(value)


def _signed(value: int, bits: int) -> int:
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def _decode_quantity(buf: bytes) -> str:
    """Parsed and printed canonically, as Quantity.Unmarshal then MarshalJSON do upstream.

    An unparsable quantity fails the whole decode there too (QuantityError is a ValueError).
    """
    return quantity.normalize(_last_bytes(_read_fields(buf), 1).decode() or "0")


def _decode_int_or_string(buf: bytes) -> int | str:
    parts = _read_fields(buf)
    if _last_int(parts, 1) == 1:
        return _last_bytes(parts, 3).decode()
    return _signed(_last_int(parts, 2), 32)


def _decode_raw_json(buf: bytes) -> Any:
    raw = _last_bytes(_read_fields(buf), 1)
    if not raw:
        return None
    if raw.startswith(MAGIC):  # an embedded object sent as protobuf itself
        return decode(raw)
    try:
        return json.loads(raw)
    except ValueError as err:
        raise _Malformed(f"embedded JSON: {err}") from None


def _string_list(buf: bytes) -> list[str] | None:
    """A named []string (ExtraValue, Verbs): a message of repeated field 1; empty is nil."""
    return [bytes(v).decode() for _, v in _read_fields(buf).get(1, [])] or None


_SPECIAL_DECODERS: dict[str, Any] = {
    "time": _decode_time,
    "microtime": lambda buf: _decode_time(buf, micro=True),
    "quantity": _decode_quantity,
    "intorstring": _decode_int_or_string,
    "rawjson": _decode_raw_json,
    "stringlist": _string_list,
}


# --- encoding ----------------------------------------------------------------


def encode(obj: dict[str, Any]) -> bytes:
    """Encode a JSON-shaped object as a ``k8s\\x00``-prefixed protobuf body, as gogo would."""
    api_version, kind = obj.get("apiVersion", ""), obj.get("kind", "")
    raw = _encode_message(message_type(api_version, kind), obj)
    type_meta = len_field(1, api_version.encode()) + len_field(2, kind.encode())
    envelope = len_field(1, type_meta) + len_field(2, raw)
    return MAGIC + envelope + len_field(3, b"") + len_field(4, b"")


def _encode_message(type_name: str, obj: dict[str, Any]) -> bytes:
    fields = schema().messages.get(type_name)
    if fields is None:
        raise BadRequest(f"protobuf: unknown message type {type_name!r}")
    out = bytearray()
    for field in sorted(fields, key=lambda f: f.number):
        if field.inline:
            out += len_field(field.number, _encode_message(field.ref, obj))
            continue
        value = obj.get(field.name)
        if field.kind == "map":
            entries = value or {}
            for key in sorted(entries):
                entry = len_field(1, key.encode()) + _encode_value(2, field.ref, entries[key])
                out += len_field(field.number, entry)
        elif field.repeated:
            for item in value or []:
                out += _encode_value(field.number, field.kind, item, field.ref)
        elif value is not None or not field.pointer:
            out += _encode_value(field.number, field.kind, value, field.ref)
    return bytes(out)


def _encode_value(number: int, kind: str, value: Any, ref: str = "") -> bytes:
    if "." in kind:  # a map's value type given as a message name
        kind, ref = "message", kind
    if kind == "string":
        return len_field(number, (value or "").encode())
    if kind == "bytes":
        return b"" if value is None else len_field(number, base64.b64decode(value))
    if kind in ("bool", "int32", "int64"):
        return tag(number, VARINT) + varint(int(value or 0))
    encoder = _SPECIAL_ENCODERS.get(kind)
    if encoder is not None:
        return len_field(number, encoder(value))
    return len_field(number, _encode_message(ref, value or {}))


def _encode_time(value: str | None) -> bytes:
    if not value:
        return b""
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    delta = moment - _EPOCH
    seconds = delta.days * 86400 + delta.seconds
    nanos = delta.microseconds * 1000
    return tag(1, VARINT) + varint(seconds) + tag(2, VARINT) + varint(nanos)


def _encode_int_or_string(value: int | str | None) -> bytes:
    is_string = isinstance(value, str)
    int_val = 0 if is_string else int(value or 0)
    str_val = value if isinstance(value, str) else ""
    return (
        tag(1, VARINT) + varint(int(is_string))
        + tag(2, VARINT) + varint(int_val)
        + len_field(3, str_val.encode())
    )  # fmt: skip


def _encode_raw_json(value: Any) -> bytes:
    if value is None:
        return b""
    return len_field(1, json.dumps(value, separators=(",", ":")).encode())


_SPECIAL_ENCODERS: dict[str, Any] = {
    "time": _encode_time,
    "microtime": _encode_time,
    "quantity": lambda value: len_field(1, str(value if value is not None else "0").encode()),
    "intorstring": _encode_int_or_string,
    "rawjson": _encode_raw_json,
    "stringlist": lambda value: b"".join(len_field(1, s.encode()) for s in value or []),
}
