"""``-o``: choosing a printer and printing objects with it.

Shared by every command that can print what it made (get, create, apply,
the generators with ``--dry-run -o yaml``, scale, label ...). ``Output`` is
parsed once from the flag value; ``print_objects`` writes decoded objects in
that format. Human tables are get's business (they come from the server).
"""

from __future__ import annotations

from typing import Any, TextIO

from tinykube.kubectl import printers
from tinykube.kubectl.errors import CommandError

Obj = dict[str, Any]
ALLOWED = (
    "custom-columns,custom-columns-file,go-template,go-template-file,json,jsonpath,"
    "jsonpath-as-json,jsonpath-file,kyaml,name,template,templatefile,wide,yaml"
)


class Output:
    """A parsed ``-o``: ``kind`` is "", wide, yaml, json, name, jsonpath, ...; ``arg`` its text."""

    __slots__ = ("arg", "kind")

    def __init__(self, kind: str, arg: str = "") -> None:
        self.kind, self.arg = kind, arg

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Output) and (self.kind, self.arg) == (other.kind, other.arg)

    def __hash__(self) -> int:
        return hash((self.kind, self.arg))

    def __repr__(self) -> str:
        return f"Output({self.kind!r}, {self.arg!r})"

    @property
    def human(self) -> bool:
        return self.kind in ("", "wide")


def parse_output(value: str | None, *, allowed: tuple[str, ...] | None = None) -> Output:
    if not value:
        return Output("")
    kind, _, arg = value.partition("=")
    if kind in ("jsonpath-file", "custom-columns-file"):
        from pathlib import Path

        try:
            arg = Path(arg).read_text().strip()
        except OSError as exc:
            raise CommandError(f"error reading template {arg}, {exc}") from None
        kind = kind[: -len("-file")]
    known = ("wide", "yaml", "json", "name", "jsonpath", "jsonpath-as-json", "custom-columns")
    if kind not in known or (allowed is not None and kind not in allowed):
        if allowed is not None and kind not in allowed:
            raise CommandError(
                f'unable to match a printer suitable for the output format "{value}", allowed formats are: '
                + ",".join(sorted(allowed))
            )
        raise CommandError(
            f'unable to match a printer suitable for the output format "{value}", allowed formats are: {ALLOWED}'
        )
    if kind in ("jsonpath", "jsonpath-as-json", "custom-columns") and not arg:
        raise CommandError(f"{kind} template format specified but no {kind} template given")
    return Output(kind, arg)


def object_name(obj: Obj, prefix: str) -> str:
    return f"{prefix}/{(obj.get('metadata') or {}).get('name', '')}"


def print_objects(
    out: TextIO, fmt: Output, objs: list[Obj], *, single: bool, prefixes: list[str] | None = None
) -> None:
    """Print objects in a machine format; ``single``: one object, not a List."""
    if fmt.kind == "name":
        for i, obj in enumerate(objs):
            out.write(
                object_name(obj, (prefixes or [])[i] if prefixes else kind_prefix(obj)) + "\n"
            )
        return
    if fmt.kind == "custom-columns":
        out.write(custom_columns(fmt.arg, objs))
        return
    data: Any = objs[0] if single and len(objs) == 1 else printers.as_list(objs)
    if fmt.kind == "yaml":
        out.write(printers.to_yaml(data))
    elif fmt.kind == "json":
        out.write(printers.to_json(data))
    elif fmt.kind in ("jsonpath", "jsonpath-as-json"):
        out.write(_jsonpath(fmt, data))


def _jsonpath(fmt: Output, data: Any) -> str:
    from tinykube.kubectl import jsonpath

    template = _braced(fmt.arg)
    try:
        if fmt.kind == "jsonpath":
            return jsonpath.execute(template, data)
        return jsonpath.execute_json(template, data)
    except jsonpath.JSONPathError as exc:
        raise CommandError(f"error parsing jsonpath {template}, {exc}") from None


def kind_prefix(obj: Obj) -> str:
    api_version = obj.get("apiVersion", "")
    group = api_version.rpartition("/")[0]
    kind = str(obj.get("kind", "")).lower()
    return f"{kind}.{group}" if group else kind


def _braced(template: str) -> str:
    return template if "{" in template else "{" + template + "}"


def custom_columns(spec: str, objs: list[Obj], headers: bool = True) -> str:
    """``-o custom-columns=NAME:.metadata.name,IMAGE:.spec.containers[*].image``."""
    from tinykube.kubectl import jsonpath

    columns: list[tuple[str, str]] = []
    for part in spec.split(","):
        name, sep, path = part.partition(":")
        if not sep:
            raise CommandError(
                f"unexpected custom-columns spec: {part}, expected <header>:<json-path-expr>"
            )
        path = path.strip()
        if path.startswith("{") and path.endswith("}"):
            path = path[1:-1]
        if not path.startswith("."):
            path = "." + path
        columns.append((name, path))
    lines = [[name for name, _ in columns]] if headers else []
    for obj in objs:
        row = []
        for _, path in columns:
            values = jsonpath.evaluate(jsonpath.parse_path(path), obj)
            row.append(",".join(printers.go_sprint(v) for v in values) if values else "<none>")
        lines.append(row)
    return printers.render(lines)
