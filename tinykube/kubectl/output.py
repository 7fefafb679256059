"""``-o``: choosing a printer and printing objects with it.

Shared by every command that can print what it made (get, create, apply,
the generators with ``--dry-run -o yaml``, scale, label ...). ``Output`` is
parsed once from the flag value; ``print_objects`` writes decoded objects in
that format. Human tables are get's business (they come from the server).
"""

from __future__ import annotations

from tinykube.kubectl import printers
from tinykube.kubectl.errors import CommandError

TYPE_CHECKING = False  # typing is for type checkers only: see main
if TYPE_CHECKING:
    from typing import Any, TextIO

Obj = dict[str, "Any"]
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
    if kind in ("go-template-file", "templatefile"):
        from pathlib import Path

        try:
            arg = Path(arg).read_text()
        except OSError as exc:
            reason = (exc.strerror or str(exc)).lower()
            raise CommandError(f"error reading --template {arg}, open {arg}: {reason}") from None
        kind = "go-template"
    if kind == "template":
        kind = "go-template"
    if kind == "go-template" and (allowed is None or "go-template" in allowed):
        return _go_template(arg)
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


def _go_template(text: str) -> Output:
    """Parse now, as kubectl builds its printer before the first request."""
    from tinykube.kubectl import gotemplate

    if not text:
        raise CommandError("template format specified but no template given")
    try:
        gotemplate.parse(text)
    except gotemplate.TemplateError as exc:
        raise CommandError(f"error parsing template {text}, {exc}") from None
    return Output("go-template", text)


def with_template_flag(output: str | None, template: str | None) -> str | None:
    """``--template=T``: the text of ``-o go-template``/``jsonpath`` (go-template if no ``-o``)."""
    if not template:
        return output
    kind = output or "go-template"
    if "=" in kind:  # kubectl then matches no printer at all
        raise CommandError(
            f'unable to match a printer suitable for the output format "{kind}", allowed formats are: {ALLOWED}'
        )
    return f"{kind}={template}"


def go_template(out: TextIO, template: str, data: Any, raw: str | None = None) -> None:
    """Run a Go template; on failure print what kubectl prints for debugging, then fail.

    ``raw`` is the object's JSON as kubectl marshalled it, when that is not
    the sorted map form (objects built locally are Go structs).
    """
    from tinykube.kubectl import gotemplate, gotemplate_exec

    nodes = gotemplate.parse(template)
    try:
        out.write(gotemplate_exec.execute(template, nodes, data))
    except gotemplate_exec.ExecError as exc:
        out.write(exc.partial)
        out.write(
            f"Error executing template: {exc}. Printing more information for debugging the template:\n"
            f"\ttemplate was:\n\t\t{template}\n"
            f"\traw data was:\n\t\t{raw or printers.compact_json(data)}\n"
            f"\tobject given to template engine was:\n\t\t{gotemplate_exec.sprint_value(data)}\n\n"
        )
        quoted = gotemplate_exec.go_quote(template)
        raise CommandError(f"error executing template {quoted}: {exc}") from None


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
    elif fmt.kind == "go-template":
        go_template(out, fmt.arg, data)


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
