"""kubectl's JSONPath templates: ``-o jsonpath=...``, ``jsonpath-as-json``, custom-columns.

The dialect is client-go's, not the JSONPath RFC: text outside braces is
printed as is; ``{.a.b}`` walks fields (``\\.`` escapes a dot in a key,
``['k']`` quotes one); ``[*]``, ``[n]``, ``[-n]``, ``[a:b:c]`` index lists;
``..name`` searches recursively; ``[?(@.x=="y")]`` filters (``==``, ``!=``,
``<``, ``>``, ``<=``, ``>=``, or bare existence); ``{range X}...{end}``
repeats its body for each result of X; ``{"\\n"}`` is a string literal.

A missing key yields nothing, as kubectl allows missing keys. One ``{}``
can yield several results; they are printed separated by single spaces, with
maps and lists as compact JSON.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any


class JSONPathError(Exception):
    pass


@dataclass
class Step:
    op: str  # field, recursive, all, index, slice, filter
    arg: Any = None


@dataclass
class Filter:
    left: list[Step]
    cmp: str
    right: Any  # a literal, or a list[Step] for a path


@dataclass
class Node:
    kind: str  # text, path, range
    text: str = ""
    steps: list[Step] | None = None
    body: list[Node] | None = None


# ---- parsing -------------------------------------------------------------------


def parse(template: str) -> list[Node]:
    nodes, _rest = _parse_nodes(template, top=True)
    return nodes


def _split_actions(template: str) -> Iterator[tuple[str, str]]:
    i = 0
    while i < len(template):
        start = template.find("{", i)
        if start < 0:
            yield "text", template[i:]
            return
        if start > i:
            yield "text", template[i:start]
        end = _closing(template, start)
        yield "action", template[start + 1 : end].strip()
        i = end + 1


def _closing(template: str, start: int) -> int:
    quote = ""
    i = start + 1
    while i < len(template):
        ch = template[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch == "}":
            return i
        i += 1
    raise JSONPathError("unclosed action")


def _parse_nodes(template: str, top: bool) -> tuple[list[Node], str]:
    stack: list[list[Node]] = [[]]
    ranges: list[list[Step]] = []
    for kind, text in _split_actions(template):
        if kind == "text":
            stack[-1].append(Node("text", text=text))
        elif text.startswith("range ") or text == "range":
            ranges.append(parse_path(text[5:].strip()))
            stack.append([])
        elif text == "end":
            if not ranges:
                raise JSONPathError("not in range, nothing to end")
            body = stack.pop()
            stack[-1].append(Node("range", steps=ranges.pop(), body=body))
        elif text[:1] in "\"'":
            stack[-1].append(Node("text", text=_unquote(text)))
        else:
            stack[-1].append(Node("path", steps=parse_path(text)))
    if ranges:
        raise JSONPathError("unclosed range")
    return stack[0], ""


def _unquote(text: str) -> str:
    if "\n" in text:
        raise JSONPathError("unterminated quoted string")
    if text[0] == '"':
        try:
            return json.loads(text, strict=False)
        except ValueError:
            raise JSONPathError("unterminated quoted string") from None
    return text[1:-1]


_NAME = re.compile(r"(?:\\.|[^.\[\]\\])+")


def parse_path(text: str) -> list[Step]:
    """``.a.b[0]..c[?(@.x=="y")]`` -> steps (a leading ``$``/``@`` is the root/current)."""
    steps: list[Step] = []
    i = 0
    if text[:1] in "$@":
        i = 1
    while i < len(text):
        if text.startswith("..", i):
            m = _NAME.match(text, i + 2)
            if not m:
                raise JSONPathError(f"invalid recursive descent in {text!r}")
            steps.append(Step("recursive", _unescape(m.group(0))))
            i = m.end()
        elif text[i] == ".":
            if text.startswith("*", i + 1):
                steps.append(Step("all"))
                i += 2
                continue
            m = _NAME.match(text, i + 1)
            if not m:
                i += 1
                continue
            steps.append(Step("field", _unescape(m.group(0))))
            i = m.end()
        elif text[i] == "[":
            end = _bracket_end(text, i)
            steps.append(_bracket(text[i + 1 : end].strip()))
            i = end + 1
        else:
            m = _NAME.match(text, i)
            if not m:
                raise JSONPathError(f"unrecognized character in action: {text[i]!r}")
            steps.append(Step("field", _unescape(m.group(0))))
            i = m.end()
    return steps


def _unescape(name: str) -> str:
    return re.sub(r"\\(.)", r"\1", name)


def _bracket_end(text: str, start: int) -> int:
    depth, quote = 0, ""
    for i in range(start, len(text)):
        ch = text[i]
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
            if depth == 0:
                return i
    raise JSONPathError(f"unterminated array in {text!r}")


def _bracket(inner: str) -> Step:
    if inner == "*":
        return Step("all")
    if inner.startswith("?(") and inner.endswith(")"):
        return Step("filter", _filter(inner[2:-1].strip()))
    if inner[:1] in "\"'":
        return Step("field", inner[1:-1])
    if ":" in inner:
        parts = [int(p) if p.strip() else None for p in inner.split(":")]
        return Step("slice", ([*parts, None, None])[:3])
    try:
        return Step("index", int(inner))
    except ValueError:
        raise JSONPathError(f"invalid array index {inner!r}") from None


_CMP = re.compile(r"\s*(==|!=|<=|>=|<|>)\s*")


def _filter(expr: str) -> Filter:
    m = _CMP.search(expr)
    if not m:
        return Filter(parse_path(expr), "exists", None)
    left, right = expr[: m.start()].strip(), expr[m.end() :].strip()
    return Filter(parse_path(left), m.group(1), _literal(right))


def _literal(text: str) -> Any:
    if text[:1] in "\"'":
        return text[1:-1]
    if text[:1] in "@$":
        return parse_path(text)
    if text in ("true", "false"):
        return text == "true"
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text


# ---- evaluation ----------------------------------------------------------------


def evaluate(steps: list[Step], value: Any) -> list[Any]:
    current = [value]
    for step in steps:
        nxt: list[Any] = []
        for v in current:
            nxt.extend(_apply(step, v))
        current = nxt
    return current


def _apply(step: Step, v: Any) -> list[Any]:
    if step.op == "field":
        return [v[step.arg]] if isinstance(v, dict) and step.arg in v else []
    if step.op == "all":
        if isinstance(v, list):
            return list(v)
        if isinstance(v, dict):
            return [v[k] for k in sorted(v)]
        return []
    if step.op == "index":
        if not isinstance(v, list):
            return []
        i = step.arg
        if -len(v) <= i < len(v):
            return [v[i]]
        raise JSONPathError(f"array index out of bounds: index {i}, length {len(v)}")
    if step.op == "slice":
        if not isinstance(v, list):
            return []
        start, stop, stride = step.arg
        return v[slice(start, stop, stride)]
    if step.op == "recursive":
        return list(_descend(v, step.arg))
    if step.op == "filter":
        return [x for x in (v if isinstance(v, list) else []) if _keep(step.arg, x)]
    raise JSONPathError(f"unknown step {step.op}")


def _descend(v: Any, name: str) -> Iterator[Any]:
    if isinstance(v, dict):
        if name in v:
            yield v[name]
        for key in sorted(v):
            yield from _descend(v[key], name)
    elif isinstance(v, list):
        for x in v:
            yield from _descend(x, name)


def _keep(f: Filter, item: Any) -> bool:
    left = evaluate(f.left, item)
    if f.cmp == "exists":
        return bool(left)
    right = evaluate(f.right, item) if isinstance(f.right, list) else [f.right]
    if not left or not right:
        return False
    a, b = left[0], right[0]
    try:
        if f.cmp == "==":
            return a == b
        if f.cmp == "!=":
            return a != b
        return {"<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}[f.cmp]
    except TypeError:
        return False


def text_of(value: Any) -> str:
    """One result as kubectl prints it: strings raw, maps and lists as compact JSON."""
    from tinykube.kubectl.printers import compact_json

    if isinstance(value, (dict, list)):
        return compact_json(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "<nil>"
    if isinstance(value, float):
        return _go_float(value)
    return str(value)


def _go_float(value: float) -> str:
    if value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    return repr(value)


def execute(template: str, data: Any) -> str:
    """Render a template against ``data`` (one object or a List)."""
    return _run(parse(template), data, data)


def _run(nodes: list[Node], current: Any, root: Any) -> str:
    out: list[str] = []
    for node in nodes:
        if node.kind == "text":
            out.append(node.text)
        elif node.kind == "path":
            results = evaluate(node.steps or [], current)
            out.append(" ".join(text_of(r) for r in results))
        else:
            for item in evaluate(node.steps or [], current):
                out.append(_run(node.body or [], item, root))
    return "".join(out)


def execute_json(template: str, data: Any) -> str:
    """``-o jsonpath-as-json``: every result of every action in one indented JSON array."""
    from tinykube.kubectl.printers import to_json

    results: list[Any] = []
    for node in parse(template):
        if node.kind == "path":
            results.extend(evaluate(node.steps or [], data))
        elif node.kind == "range":
            for item in evaluate(node.steps or [], data):
                for inner in node.body or []:
                    if inner.kind == "path":
                        results.extend(evaluate(inner.steps or [], item))
    return to_json(results)
