"""Go ``text/template`` for ``-o go-template=...``: the parser.

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

The lexer (``gotemplate_lex``) cuts the text into pieces and tokens.
Parse errors read as Go's do (``template: output:1: unclosed action``).
Each node keeps the byte offset Go would report for it, because execution
errors name ``output:<line>:<offset>`` as Go's ``ErrorContext`` does.
"""

from __future__ import annotations

from typing import Any

from tinykube.kubectl.gotemplate_lex import (
    NAME,
    TemplateError,
    Token,
    line_of,
    split,
    tokens,
    unquote,
)

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


# ---- parsing --------------------------------------------------------------------


class _Parser:
    def __init__(self, template: str) -> None:
        self.template = template
        self.pieces = split(template)
        self.i = 0
        self.loops = 0  # how many ranges the parser is inside: break/continue need one
        self.defines: dict[str, list[Node]] = {}  # shared by every {{template}} node

    def fail(self, pos: int, message: str) -> TemplateError:
        return TemplateError(f"template: {NAME}:{line_of(self.template, pos)}: {message}")

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
            text = unquote(word[1:-1]) if word[1] == "\\" else word[1:-1]
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
