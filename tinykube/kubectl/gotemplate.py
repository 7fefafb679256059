"""Go ``text/template`` for ``-o go-template=...``: the lexer and the parser.

kubectl hands the decoded object (a ``map[string]interface{}``) to Go's
``text/template`` with two extra functions, ``exists`` and ``base64decode``,
and lets missing keys print ``<no value>``. This module reads the subset
of the language that kubectl users write: text and ``{{actions}}`` with the
``{{-``/``-}}`` trim markers and ``{{/* comments */}}``; pipelines of
commands joined by ``|``, with fields (``.a.b``), the dot, variables
(``$``, ``$x``, ``$x.a``), string, raw-string, number, bool and nil
literals, parenthesised pipelines and function calls; ``$x :=``/``$x =``
declarations (``$i, $e :=`` in a range); and the ``if``/``else if``/
``else``, ``range``/``else`` (with ``break``/``continue``), ``with``/``else``
blocks closed by ``end``; ``define``, ``template`` and ``block``; character
constants (``'a'`` is 97).
``gotemplate_exec`` runs the tree.

Parse errors read as Go's do (``template: output:1: unclosed action``).
Each node keeps the byte offset Go would report for it, because execution
errors name ``output:<line>:<offset>`` as Go's ``ErrorContext`` does.
"""

from __future__ import annotations

from typing import Any

NAME = "output"
# Go's builtins that kubectl users call, plus kubectl's ``exists`` and ``base64decode``.
FUNCTIONS = frozenset(
    {
        "and",
        "or",
        "not",
        "len",
        "index",
        "print",
        "printf",
        "println",
        "eq",
        "ne",
        "lt",
        "le",
        "gt",
        "ge",
        "base64decode",
        "exists",
        "slice",
        "html",
        "js",
        "urlquery",
    }
)
KEYWORDS = frozenset(
    ("if", "else", "end", "range", "with", "break", "continue", "define", "template", "block")
)
_SPACE = " \t\r\n"
Token = tuple[str, str, int, int]


class TemplateError(Exception):
    """A template Go's parser would reject; the message is Go's."""


class GoInt(int):
    """An integer constant written in the template: Go's ``int``, where JSON gives ``int64``."""


# ---- nodes: plain tuples-with-names keep this small ------------------------------


class Node:
    """One piece of the tree: ``kind`` says which, the rest depends on it.

    text: ``text``; action: ``pipe``; if/with/range: ``pipe``, ``body``,
    ``alt`` (the else branch); pipe: ``decl`` (variable names), ``assign``
    (``=`` rather than ``:=``), ``cmds``; command: ``args`` (operands);
    operands: field (``names``), dot, var (``name``, ``names``), string,
    number, bool, nil (``value``), ident (``name``), paren (``pipe``, ``names``).
    """

    __slots__ = (
        "alt",
        "assign",
        "body",
        "cmds",
        "decl",
        "kind",
        "name",
        "names",
        "pipe",
        "pos",
        "source",
        "text",
        "value",
    )

    def __init__(self, kind: str, pos: int, **fields: Any) -> None:
        self.kind, self.pos = kind, pos
        self.text = self.name = self.source = ""
        self.names: list[str] = []
        self.body: list[Node] = []
        self.alt: list[Node] = []
        self.cmds: list[Node] = []
        self.decl: list[str] = []
        self.assign = False
        self.pipe: Node | None = None
        self.value: Any = None
        for key, value in fields.items():
            setattr(self, key, value)


# ---- lexing ---------------------------------------------------------------------


def _line(text: str, pos: int) -> int:
    return 1 + text.count("\n", 0, pos)


def split(template: str) -> list[tuple[str, int, str]]:
    """("text", pos, text) and ("action", pos, inside) pieces, trim markers applied."""
    pieces: list[tuple[str, int, str]] = []
    i = 0
    while True:
        start = template.find("{{", i)
        if start < 0:
            pieces.append(("text", i, template[i:]))
            return [p for p in pieces if p[0] != "text" or p[2]]
        text = template[i:start]
        inner = start + 2
        if template[inner : inner + 1] == "-" and template[inner + 1 : inner + 2] in tuple(_SPACE):
            text = text.rstrip(_SPACE)
            inner += 2
        pieces.append(("text", i, text))
        end, close = _action_end(template, inner)
        body = template[inner:end]
        right_trim = body.endswith("-") and body[-2:-1] in tuple(_SPACE)
        if right_trim:
            body = body[:-2]
        if not body.strip().startswith("/*"):
            pieces.append(("action", inner, body))
        elif not body.strip().endswith("*/"):
            raise TemplateError(f"template: {NAME}:{_line(template, start)}: unclosed comment")
        i = close
        if right_trim:
            while i < len(template) and template[i] in _SPACE:
                i += 1


def _action_end(template: str, i: int) -> tuple[int, int]:
    """Where the action's text ends and where the text after ``}}`` starts."""
    quote = ""
    start = i
    while i < len(template):
        ch = template[i]
        if quote:
            if ch == "\\" and quote == '"':
                i += 2
                continue
            if ch == quote:
                quote = ""
        elif ch in "\"`'":
            quote = ch
        elif template.startswith("}}", i):
            return i, i + 2
        elif ch == "\n" and not template[start:i].lstrip().startswith("/*"):
            break
        i += 1
    raise TemplateError(f"template: {NAME}:{_line(template, start)}: unclosed action")


def tokens(body: str, base: int, template: str) -> list[Token]:
    """(type, text, offset, end offset) tokens of one action's inside."""
    out: list[Token] = []
    i = 0
    while i < len(body):
        ch = body[i]
        pos = base + i
        if ch in _SPACE:
            i += 1
        elif ch in "()|,":
            out.append((ch, ch, pos, pos + 1))
            i += 1
        elif body.startswith(":=", i):
            out.append((":=", ":=", pos, pos + 2))
            i += 2
        elif ch == "=":
            out.append(("=", "=", pos, pos + 1))
            i += 1
        elif ch == '"':
            j = i + 1
            while j < len(body) and body[j] != '"':
                j += 2 if body[j] == "\\" else 1
            if j >= len(body):
                raise TemplateError(
                    f"template: {NAME}:{_line(template, pos)}: unterminated quoted string"
                )
            out.append(("string", _unquote(body[i + 1 : j]), pos, base + j + 1))
            i = j + 1
        elif ch == "`":
            j = body.find("`", i + 1)
            if j < 0:
                raise TemplateError(
                    f"template: {NAME}:{_line(template, pos)}: unterminated raw quoted string"
                )
            out.append(("string", body[i + 1 : j], pos, base + j + 1))
            i = j + 1
        else:
            j = i
            while (
                j < len(body) and body[j] not in _SPACE + "()|,=" and not body.startswith(":=", j)
            ):
                j += 1
            out.append(("word", body[i:j], pos, base + j))
            i = j
    return out


_ESCAPES = {
    "n": "\n",
    "t": "\t",
    "r": "\r",
    '"': '"',
    "\\": "\\",
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "v": "\v",
}


def _unquote(text: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        nxt = text[i + 1 : i + 2]
        if nxt in _ESCAPES:
            out.append(_ESCAPES[nxt])
            i += 2
        elif nxt in ("x", "u", "U"):
            width = {"x": 2, "u": 4, "U": 8}[nxt]
            out.append(chr(int(text[i + 2 : i + 2 + width], 16)))
            i += 2 + width
        else:
            raise TemplateError(f"template: {NAME}:1: invalid syntax")
    return "".join(out)


# ---- parsing --------------------------------------------------------------------


class _Parser:
    def __init__(self, template: str) -> None:
        self.template = template
        self.pieces = split(template)
        self.i = 0
        self.loops = 0  # how many ranges the parser is inside: break/continue need one
        self.defines: dict[str, list[Node]] = {}  # shared by every {{template}} node

    def fail(self, pos: int, message: str) -> TemplateError:
        return TemplateError(f"template: {NAME}:{_line(self.template, pos)}: {message}")

    def parse(self) -> list[Node]:
        body, stop, pos = self.block()
        if stop:
            raise self.fail(pos, f"unexpected {{{{{stop}}}}}")
        return body

    def block(self) -> tuple[list[Node], str, int]:
        """Nodes up to an ``end`` or ``else`` (returned with its inside) or the end."""
        out: list[Node] = []
        while self.i < len(self.pieces):
            kind, pos, text = self.pieces[self.i]
            self.i += 1
            if kind == "text":
                out.append(Node("text", pos, text=text))
                continue
            toks = tokens(text, pos, self.template)
            if not toks:
                raise self.fail(pos, "missing value for command")
            head = toks[0][1] if toks[0][0] == "word" else ""
            if head in ("end", "else"):
                return out, text.strip(), pos
            if head in ("if", "with", "range"):
                out.append(self.control(head, toks[1:], pos))
            elif head in ("break", "continue"):
                if not self.loops:
                    raise self.fail(pos, f"{{{{{head}}}}} outside {{{{range}}}}")
                out.append(Node(head, pos))
            elif head in ("define", "template", "block"):
                out += self.named(head, toks, pos)
            else:
                out.append(Node("action", pos, pipe=self.pipeline(toks, pos)))
        return out, "", len(self.template)

    def named(self, head: str, toks: list[Token], pos: int) -> list[Node]:
        """``define`` (a named body), ``template`` (run one), ``block`` (both at once)."""
        if len(toks) < 2 or toks[1][0] != "string":
            raise self.fail(
                pos, f"unexpected {toks[1][1] if len(toks) > 1 else 'end'} in {head} clause"
            )
        name, rest = toks[1][1], toks[2:]
        if head != "define":
            pipe = self.pipeline(rest, pos, context=head) if rest else None
            # Go reports a template call at its name's offset.
            call = Node("template", toks[1][2], name=name, pipe=pipe, value=self.defines)
            call.source = "{{" + " ".join(self.template[pos : toks[-1][3]].split()) + "}}"
        if head != "template":
            body, stop, _at = self.block()
            if stop != "end":
                raise self.fail(len(self.template), "unexpected EOF")
            self.defines[name] = body
        return [] if head == "define" else [call]

    def control(self, kind: str, toks: list[Token], pos: int) -> Node:
        node = Node(kind, pos, pipe=self.pipeline(toks, pos, kind == "range", kind))
        self.loops += kind == "range"
        try:
            node.body, stop, at = self.block()
        finally:
            self.loops -= kind == "range"
        if not stop and self.i >= len(self.pieces):
            raise self.fail(len(self.template), "unexpected EOF")
        if stop.startswith("else"):
            rest = stop[4:].strip()
            if rest.startswith(("if ", "with ")) and kind in ("if", "with"):
                # ``{{else if x}}`` is ``{{else}}{{if x}}...{{end}}`` sharing this end.
                word = rest.split(None, 1)[0]
                inner = tokens(rest[len(word) :], at + 4 + len(word), self.template)
                node.alt = [self.control(word, inner, at)]
                return node
            node.alt, stop, at = self.block()
            if not stop:
                raise self.fail(len(self.template), "unexpected EOF")
        if stop != "end":
            raise self.fail(at, f"unexpected {{{{{stop}}}}} in {kind}")
        return node

    def pipeline(
        self, toks: list[Token], pos: int, in_range: bool = False, context: str = "command"
    ) -> Node:
        pipe = Node("pipe", toks[0][2] if toks else pos, source=self.source(toks))
        decl_end = next((k for k, t in enumerate(toks) if t[0] in (":=", "=")), -1)
        if decl_end > 0 and all(
            t[0] == "," or (t[0] == "word" and t[1].startswith("$")) for t in toks[:decl_end]
        ):
            pipe.decl = [t[1] for t in toks[:decl_end] if t[0] == "word"]
            pipe.assign = toks[decl_end][0] == "="
            if len(pipe.decl) > (2 if in_range else 1):
                raise self.fail(pos, "too many declarations in command")
            toks = toks[decl_end + 1 :]
        cmd: list[Node] = []
        start = k = 0
        while k < len(toks):
            typ, text, at, _end = toks[k]
            k += 1
            if typ == "|":
                if not cmd:
                    raise self.fail(at, "missing command")
                pipe.cmds.append(self.command(cmd, toks[start : k - 1]))
                cmd, start = [], k
            elif typ == "(":
                depth, j = 1, k
                while j < len(toks) and depth:
                    depth += {"(": 1, ")": -1}.get(toks[j][0], 0)
                    j += 1
                if depth:
                    raise self.fail(at, "unclosed left paren")
                inner = Node("paren", at, pipe=self.pipeline(toks[k : j - 1], at))
                k = j
                if k < len(toks) and toks[k][0] == "word" and toks[k][1].startswith("."):
                    inner.names = toks[k][1].split(".")[1:]
                    k += 1
                cmd.append(inner)
            elif typ == ")":
                raise self.fail(at, "unexpected right paren")
            elif typ == "string":
                cmd.append(Node("string", at, value=text))
            elif typ == "word":
                cmd.append(self.operand(text, at))
            else:
                raise self.fail(at, f"unexpected {text!r} in command")
        if not cmd:
            raise self.fail(pos, f"missing value for {context}")
        pipe.cmds.append(self.command(cmd, toks[start:]))
        return pipe

    def command(self, operands: list[Node], toks: list[Token]) -> Node:
        return Node("command", operands[0].pos, body=operands, source=self.source(toks))

    def source(self, toks: list[Token]) -> str:
        """The command's text as Go prints it in errors (single spaces)."""
        if not toks:
            return ""
        return " ".join(self.template[toks[0][2] : toks[-1][3]].split())

    def operand(self, word: str, at: int) -> Node:
        if word == ".":
            return Node("dot", at)
        if word.startswith("."):
            names = word.split(".")[1:]
            # Go reports a chain at the offset of its second field.
            second = at + len(names[0]) + 1 if len(names) > 1 else at
            return Node("field", second, names=names, source=word)
        if word.startswith("$"):
            name, _, rest = word.partition(".")
            return Node("var", at, name=name, names=rest.split(".") if rest else [], source=word)
        if word in ("true", "false"):
            return Node("bool", at, value=word == "true")
        if word == "nil":
            return Node("nil", at)
        if word.startswith("'") and word.endswith("'") and len(word) > 2:
            text = _unquote(word[1:-1]) if word[1] == "\\" else word[1:-1]
            if len(text) != 1:
                raise self.fail(at, f"malformed character constant: {word}")
            return Node("number", at, value=GoInt(ord(text)))
        if word[0].isdigit() or word[0] in "+-":
            return Node(
                "number", at, value=_number(word, self.fail(at, f"bad number syntax: {word!r}"))
            )
        if word in FUNCTIONS:
            return Node("ident", at, name=word)
        raise self.fail(at, f'function "{word}" not defined')


def _number(word: str, error: TemplateError) -> int | float:
    try:
        return GoInt(int(word, 0))
    except ValueError:
        pass
    try:
        return float(word)
    except ValueError:
        raise error from None


def parse(template: str) -> list[Node]:
    """The template's tree; ``TemplateError`` with Go's message when it does not parse."""
    return _Parser(template).parse()
