"""Output formats: server Tables as kubectl lays them out, and the machine formats.

Human output is the server's ``meta.k8s.io/v1 Table``: kubectl upper-cases
the column names, hides priority > 0 columns unless ``-o wide``, prepends
NAMESPACE for ``-A``, appends one column per ``-L`` key and then LABELS for
``--show-labels``, prefixes names with ``kind.group/`` when several kinds are
printed, and aligns everything with tabwriter (min width 6, padding 3).

Machine formats render the decoded objects the way Go does: YAML and JSON
with sorted keys (Go marshals maps sorted), JSON indented by four spaces with
HTML-sensitive characters escaped, YAML with double quotes for strings that
would otherwise read as another type and literal blocks for multi-line
strings.
"""

from __future__ import annotations

import json

from tinykube.kubectl.tabwriter import align

TYPE_CHECKING = False  # typing is for type checkers only: see main
if TYPE_CHECKING:
    from typing import Any

    import yaml


Obj = dict[str, "Any"]


# ---- YAML and JSON ------------------------------------------------------------


def _go_yaml_dumper() -> type[yaml.SafeDumper]:
    """A SafeDumper that quotes and wraps strings as sigs.k8s.io/yaml (go-yaml v2) does.

    Built on first use: importing PyYAML compiles a dozen regexes, which a
    table-printing ``get`` should not pay for.
    """
    global _dumper
    if _dumper is not None:
        return _dumper
    import yaml

    # libyaml's emitter when PyYAML has it (go-yaml is a port of libyaml, and it is
    # several times faster than the pure-Python one); the representers stay ours.
    base = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

    from tinykube.kubectl import yamlresolve

    class GoYAMLDumper(base):  # type: ignore[valid-type,misc]
        def ignore_aliases(self, data: Any) -> bool:
            return True  # Go writes shared values out in full, never as &anchors

        def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
            # Plain scalars read back as go-yaml reads them (0o7 is a number,
            # "=" and "*" are strings), so the emitter picks Go's styles.
            if kind is yaml.ScalarNode and implicit[0]:
                return yamlresolve.tag(value)
            return super().resolve(kind, value, implicit)

    def represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
        if "\n" in value:
            return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
        if yamlresolve.needs_quotes(value):
            return dumper.represent_scalar("tag:yaml.org,2002:str", value, style='"')
        return dumper.represent_scalar("tag:yaml.org,2002:str", value)

    def represent_none(dumper: yaml.SafeDumper, _: None) -> yaml.ScalarNode:
        return dumper.represent_scalar("tag:yaml.org,2002:null", "null")

    GoYAMLDumper.add_representer(str, represent_str)
    GoYAMLDumper.add_representer(type(None), represent_none)
    _dumper = GoYAMLDumper
    return _dumper


_dumper: type[yaml.SafeDumper] | None = None


# go-yaml (a port of libyaml) folds long plain and quoted strings at spaces past column 80.
YAML_WIDTH = 80


def to_yaml(obj: Any) -> str:
    """YAML as kubectl writes it: ``yamlfast`` for plain objects, else PyYAML."""
    from tinykube.kubectl import yamlfast

    text = yamlfast.dump(obj)
    if text is not None:
        return text
    import yaml

    return yaml.dump(
        obj,
        Dumper=_go_yaml_dumper(),
        default_flow_style=False,
        sort_keys=True,
        width=YAML_WIDTH,
        allow_unicode=True,
    )


def to_json(obj: Any, sort: bool = True) -> str:
    """``json.MarshalIndent(obj, "", "    ")`` with Go's HTML escaping (maps sorted, as Go's are)."""
    text = json.dumps(obj, indent=4, sort_keys=sort, ensure_ascii=False)
    return _go_escape(text) + "\n"


def compact_json(obj: Any, sort: bool = True) -> str:
    """``json.Marshal``: compact, sorted (unless a struct order is given), HTML-escaped."""
    return _go_escape(json.dumps(obj, separators=(",", ":"), sort_keys=sort, ensure_ascii=False))


def _go_escape(text: str) -> str:
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def as_list(items: list[Obj]) -> Obj:
    """The ``kind: List`` wrapper kubectl prints around several objects."""
    return {"apiVersion": "v1", "items": items, "kind": "List", "metadata": {"resourceVersion": ""}}


# ---- Tables -------------------------------------------------------------------


def cell_text(value: Any) -> str:
    """A cell as Go's ``fmt.Sprint`` prints the decoded JSON value."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, str):
        return value
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value)


def go_sprint(value: Any) -> str:
    """Go's ``fmt.Sprint`` of a decoded JSON value: ``map[a:1 b:x]``, ``[a b]``."""
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{go_sprint(value[k])}" for k in sorted(value)) + "]"
    if isinstance(value, list):
        return "[" + " ".join(go_sprint(v) for v in value) + "]"
    return cell_text(value) if not isinstance(value, str) else value


def label_column_name(key: str) -> str:
    return key.rsplit("/", 1)[-1].upper()


def _row_meta(row: Obj) -> Obj:
    return (row.get("object") or {}).get("metadata") or {}


def table_lines(
    table: Obj,
    *,
    wide: bool = False,
    namespace_column: bool = False,
    kind_prefix: str = "",
    label_columns: list[str] | None = None,
    show_labels: bool = False,
    headers: bool = True,
) -> list[list[str]]:
    """The rows (header first) of one server Table as kubectl shows them."""
    columns = table.get("columnDefinitions") or []
    shown = [i for i, c in enumerate(columns) if wide or not c.get("priority")]
    name_index = next((i for i, c in enumerate(columns) if c.get("format") == "name"), 0)
    label_columns = label_columns or []
    lines: list[list[str]] = []
    if headers:
        head = [str(columns[i].get("name", "")).upper() for i in shown]
        head += [label_column_name(k) for k in label_columns]
        if show_labels:
            head.append("LABELS")
        lines.append((["NAMESPACE"] if namespace_column else []) + head)
    for row in table.get("rows") or []:
        cells = row.get("cells") or []
        meta = _row_meta(row)
        out = []
        for i in shown:
            text = cell_text(cells[i]) if i < len(cells) else ""
            if i == name_index and kind_prefix:
                text = f"{kind_prefix}/{text}"
            out.append(text)
        labels = meta.get("labels") or {}
        out += [str(labels.get(k, "")) for k in label_columns]
        if show_labels:
            out.append(format_labels(labels))
        lines.append(([meta.get("namespace", "")] if namespace_column else []) + out)
    return lines


def format_labels(labels: Obj) -> str:
    if not labels:
        return "<none>"
    return ",".join(f"{k}={labels[k]}" for k in sorted(labels))


def render(lines: list[list[str]], remember: list[int] | None = None) -> str:
    """Align rows with kubectl's tabwriter settings (cells tab-terminated but the last)."""
    return align("".join("\t".join(cells) + "\n" for cells in lines), 6, 3, remember)
