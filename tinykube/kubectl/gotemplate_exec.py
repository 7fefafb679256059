"""Running a parsed Go template (``gotemplate``) over a decoded object, as kubectl does.

The data is JSON decoded into dicts, lists, strings, ints, floats, bools and
None, which is what Go's ``map[string]interface{}`` holds. Go's rules that
users see:

- A missing map key is ``<no value>`` when printed (kubectl allows missing
  keys), as is a JSON null; a field of a missing value is missing too. A
  field of a string, number or list is an error: ``can't evaluate field x in
  type interface {}``.
- Printing follows ``fmt``: ``map[a:1 b:x]`` with sorted keys, ``[a b]``,
  ``<nil>`` for a null inside them; ``print`` puts spaces only between two
  operands that are not strings; ``printf`` marks a value its verb cannot
  print (``%!d(string=x)``).
- ``if``/``with``/``and``/``or``/``not`` use Go's truth: false, 0, "", null,
  empty lists and maps are false. ``range`` walks lists in order and maps in
  key order; an empty or missing value runs the ``else`` branch.

With ``--allow-missing-template-keys=false`` (``missing_keys_allowed``, set
once per run by ``main``) a missing key is an error instead, as Go's
``missingkey=error`` option makes it.

Errors carry Go's prefix, ``template: output:<line>:<col>: executing "output"
at <command>: ...``, and the output written before them (kubectl prints it).
"""

from __future__ import annotations

from typing import Any

from tinykube.kubectl.gotemplate import NAME, GoInt, Node


class ExecError(Exception):
    """Execution failed; ``partial`` is what was written before the failure."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.partial = ""


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


class _Missing:
    """The invalid ``reflect.Value`` Go gets for a missing key: prints ``<no value>``."""

    def __repr__(self) -> str:
        return "<no value>"


MISSING = _Missing()
# kubectl's --allow-missing-template-keys; one command per process, so main sets it.
missing_keys_allowed = True


def truth(value: Any) -> bool:
    if value is MISSING or value is None:
        return False
    if isinstance(value, (bool, int, float, str, list, dict)):
        return bool(value)
    return True


def _type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, GoInt):
        return "int"
    if isinstance(value, int):
        return "int64"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "[]interface {}"
    if isinstance(value, dict):
        return "map[string]interface {}"
    return "interface {}"


def go_float(value: float) -> str:
    """``%v`` of a float64: shortest digits, exponent below 1e-4 and from 1e21."""
    if value != value or value in (float("inf"), float("-inf")):
        return {"nan": "NaN", "inf": "+Inf", "-inf": "-Inf"}[repr(value)]
    if value == int(value) and abs(value) < 1e21:
        return str(int(value)) if abs(value) >= 1 or value == 0 else repr(value)
    text = repr(value)
    if "e" in text:
        mantissa, _, exp = text.partition("e")
        sign = "-" if exp.startswith("-") else "+"
        return f"{mantissa}e{sign}{exp.lstrip('+-').zfill(2)}"
    return text


def sprint_value(value: Any) -> str:
    """``fmt.Sprint`` of one decoded JSON value."""
    if value is None or value is MISSING:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return go_float(value)
    if isinstance(value, list):
        return "[" + " ".join(sprint_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{sprint_value(value[k])}" for k in sorted(value)) + "]"
    return str(value)


def go_quote(text: str) -> str:
    """``strconv.Quote``: double quotes, Go escapes, non-printables as ``\\x``/``\\u``."""
    out = ['"']
    named = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
    named |= {"\v": "\\v", '"': '\\"', "\\": "\\\\"}
    for ch in text:
        if ch in named:
            out.append(named[ch])
        elif ch.isprintable():
            out.append(ch)
        elif ord(ch) < 0x80:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) <= 0xFFFF:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    return "".join(out) + '"'


# ---- fmt ----------------------------------------------------------------------------


def sprint(args: list[Any]) -> str:
    out: list[str] = []
    for i, arg in enumerate(args):
        if i and not isinstance(arg, str) and not isinstance(args[i - 1], str):
            out.append(" ")
        out.append(sprint_value(arg))
    return "".join(out)


def sprintf(fmt: str, args: list[Any]) -> str:
    out: list[str] = []
    i = n = 0
    while i < len(fmt):
        if fmt[i] != "%":
            j = fmt.find("%", i)
            j = len(fmt) if j < 0 else j
            out.append(fmt[i:j])
            i = j
            continue
        j = i + 1
        while j < len(fmt) and fmt[j] in "+-# 0":
            j += 1
        while j < len(fmt) and (fmt[j].isdigit() or fmt[j] == "."):
            j += 1
        if j >= len(fmt):
            out.append("%!(NOVERB)")
            break
        spec, verb = fmt[i + 1 : j], fmt[j]
        i = j + 1
        if verb == "%":
            out.append("%")
            continue
        if n >= len(args):
            out.append(f"%!{verb}(MISSING)")
            continue
        out.append(_verb(verb, spec, args[n]))
        n += 1
    if n < len(args):
        extra = ", ".join(f"{_type(a)}={sprint_value(a)}" for a in args[n:])
        out.append(f"%!(EXTRA {extra})")
    return "".join(out)


def _pad(text: str, spec: str) -> str:
    flags = spec[: len(spec) - len(spec.lstrip("+-# 0"))]
    width = spec[len(flags) :].partition(".")[0]
    if not width:
        return text
    if "-" in flags:
        return text.ljust(int(width))
    return text.rjust(int(width), "0" if "0" in flags and text.lstrip("-").isdigit() else " ")


def _bad(verb: str, value: Any) -> str:
    if value is None or value is MISSING:
        return f"%!{verb}(<nil>)"
    return f"%!{verb}({_type(value)}={sprint_value(value)})"


def _verb(verb: str, spec: str, value: Any) -> str:
    if value is MISSING:
        value = None
    prec = spec.partition(".")[2] if "." in spec else None
    if verb == "v":
        return _pad(sprint_value(value), spec)
    if verb == "s" and isinstance(value, str):
        return _pad(value[: int(prec)] if prec else value, spec)
    if verb in "sq" and isinstance(value, list):
        return "[" + " ".join(_verb(verb, spec, v) for v in value) + "]"
    if verb in "sq" and isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{_verb(verb, spec, value[k])}" for k in sorted(value)) + "]"
    if verb == "q" and isinstance(value, str):
        return _pad(go_quote(value), spec)
    if verb == "t" and isinstance(value, bool):
        return _pad("true" if value else "false", spec)
    if isinstance(value, int) and not isinstance(value, bool):
        sign = "+" if "+" in spec else ""
        forms = {"d": f"{value:{sign}d}", "x": f"{value:x}", "X": f"{value:X}", "o": f"{value:o}"}
        forms |= {"b": f"{value:b}", "c": chr(value), "q": "'" + chr(value) + "'"}
        if verb in forms:
            return _pad(forms[verb], spec)
    if isinstance(value, float) and verb in "feEgG":
        return _pad(f"{value:.{prec or 6}{verb}}" if verb in "feE" else go_float(value), spec)
    if isinstance(value, str) and verb in "xX":
        text = value.encode().hex()
        return _pad(text.upper() if verb == "X" else text, spec)
    return _bad(verb, value)


# ---- execution ------------------------------------------------------------------------


class _State:
    def __init__(self, template: str, root: Any) -> None:
        self.template = template
        self.out: list[str] = []
        self.vars: list[tuple[str, Any]] = [("$", root)]

    def error(self, node: Node, message: str) -> ExecError:
        line = 1 + self.template.count("\n", 0, node.pos)
        col = node.pos - (self.template.rfind("\n", 0, node.pos) + 1)
        return ExecError(
            f'template: {NAME}:{line}:{col}: executing "{NAME}" at <{node.source}>: {message}'
        )

    def walk(self, nodes: list[Node], dot: Any) -> None:
        for node in nodes:
            if node.kind == "text":
                self.out.append(node.text)
            elif node.kind == "action":
                assert node.pipe is not None
                value = self.pipeline(node.pipe, dot)
                if not node.pipe.decl:
                    self.out.append(_printable(value))
            elif node.kind == "range":
                self.range(node, dot)
            elif node.kind == "break":
                raise _Break
            elif node.kind == "continue":
                raise _Continue
            elif node.kind == "template":
                self.template_call(node, dot)
            else:
                self.branch(node, dot)

    def template_call(self, node: Node, dot: Any) -> None:
        """``{{template "name" pipeline}}``: the named body, with the value as dot and ``$``."""
        body = node.value.get(node.name)
        if body is None:
            raise self.error(node, f'template "{node.name}" not defined')
        value = self.pipeline(node.pipe, dot) if node.pipe is not None else None
        saved, self.vars = self.vars, [("$", value)]
        try:
            self.walk(body, value)
        finally:
            self.vars = saved

    def branch(self, node: Node, dot: Any) -> None:
        mark = len(self.vars)
        assert node.pipe is not None
        value = self.pipeline(node.pipe, dot)
        if truth(value):
            self.walk(node.body, value if node.kind == "with" else dot)
        else:
            self.walk(node.alt, dot)
        del self.vars[mark:]

    def range(self, node: Node, dot: Any) -> None:
        mark = len(self.vars)
        assert node.pipe is not None
        decl, node.pipe.decl = node.pipe.decl, []
        try:
            value = self.pipeline(node.pipe, dot)
        finally:
            node.pipe.decl = decl
        if isinstance(value, list):
            pairs: list[tuple[Any, Any]] = list(enumerate(value))
        elif isinstance(value, dict):
            pairs = [(k, value[k]) for k in sorted(value)]
        elif isinstance(value, int) and not isinstance(value, bool):
            pairs = [(k, k) for k in range(value)]
        elif value is None or value is MISSING:
            pairs = []
        else:
            raise self.error(node.pipe, f"range can't iterate over {sprint_value(value)}")
        for key, elem in pairs:
            if len(decl) == 1:
                self.vars.append((decl[0], elem))
            elif len(decl) == 2:
                self.vars += [(decl[0], key), (decl[1], elem)]
            try:
                self.walk(node.body, elem)
            except _Continue:
                pass
            except _Break:
                del self.vars[mark:]
                break
            del self.vars[mark:]
        if not pairs:
            self.walk(node.alt, dot)
            del self.vars[mark:]

    def pipeline(self, pipe: Node, dot: Any) -> Any:
        value: Any = MISSING
        for i, cmd in enumerate(pipe.cmds):
            value = self.command(cmd, dot, [value] if i else [])
        if pipe.decl and pipe.assign:
            for k in range(len(self.vars) - 1, -1, -1):
                if self.vars[k][0] == pipe.decl[0]:
                    self.vars[k] = (pipe.decl[0], value)
                    break
        elif pipe.decl:
            self.vars.append((pipe.decl[0], value))
        return value

    def command(self, cmd: Node, dot: Any, final: list[Any]) -> Any:
        first, rest = cmd.body[0], cmd.body[1:]
        if first.kind == "ident":
            args = [self.operand(a, dot) for a in rest] + final
            from tinykube.kubectl.gotemplate_funcs import call

            try:
                return call(first.name, args)
            except ValueError as exc:
                raise self.error(cmd, f"error calling {first.name}: {exc}") from None
        if rest or final:
            raise self.error(cmd, f"can't give argument to non-function {first.source}")
        return self.operand(first, dot)

    def operand(self, node: Node, dot: Any) -> Any:
        kind = node.kind
        if kind == "field":
            return self.fields(node, dot, node.names)
        if kind == "dot":
            return dot
        if kind == "var":
            for name, value in reversed(self.vars):
                if name == node.name:
                    return self.fields(node, value, node.names)
            raise self.error(node, f"undefined variable: {node.name}")
        if kind == "paren":
            assert node.pipe is not None
            return self.fields(node, self.pipeline(node.pipe, dot), node.names)
        if kind == "ident":
            from tinykube.kubectl.gotemplate_funcs import call

            try:
                return call(node.name, [])
            except ValueError as exc:
                raise self.error(node, f"error calling {node.name}: {exc}") from None
        return node.value

    def fields(self, node: Node, value: Any, names: list[str]) -> Any:
        for name in names:
            if isinstance(value, dict):
                if name not in value and not missing_keys_allowed:
                    raise self.error(node, f'map has no entry for key "{name}"')
                value = value.get(name, MISSING)
            elif value is None or value is MISSING:
                value = MISSING
            else:
                raise self.error(node, f"can't evaluate field {name} in type interface {{}}")
        return value


def _printable(value: Any) -> str:
    if value is None or value is MISSING:
        return "<no value>"
    return sprint_value(value)


def execute(template: str, nodes: list[Node], data: Any) -> str:
    """The template's output for ``data``; ``ExecError`` (with the partial output) on failure."""
    state = _State(template, data)
    try:
        state.walk(nodes, data)
    except ExecError as exc:
        exc.partial = "".join(state.out)
        raise
    return "".join(state.out)
