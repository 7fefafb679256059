"""A small pflag: kubectl's command-line grammar.

argparse differs from Go's pflag in ways users notice: booleans take
``--force=false``, flags and positionals mix freely, ``-n=ns`` and ``-nns``
both work, string arrays repeat, and an unknown flag is reported as
``error: unknown flag: --foo``. Each command declares its flags as ``Flag``
rows; ``parse`` returns the values and the positional arguments, and
everything after ``--`` is left untouched (``run ... -- cmd``).

Every tkctl run imports this module first, so it stays on plain classes
(``dataclasses`` would bring ``inspect`` and friends into every start-up).
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing is for type checkers only: see main
if TYPE_CHECKING:
    from typing import Any


class FlagError(Exception):
    """A command line kubectl would reject; the message is kubectl's."""


class Flag:
    """One flag: ``kind`` is ``bool``, ``str``, ``int`` or ``list`` (repeatable string).

    ``no_value`` is pflag's NoOptDefVal: the value a bare ``--flag`` takes
    (``--dry-run`` -> unchanged).
    """

    __slots__ = ("default", "kind", "name", "no_value", "short")

    def __init__(
        self,
        name: str,
        short: str = "",
        kind: str = "str",
        default: Any = None,
        no_value: str | None = None,
    ) -> None:
        self.name, self.short, self.kind = name, short, kind
        self.default, self.no_value = default, no_value

    def __repr__(self) -> str:
        return f"Flag({self.name!r}, {self.short!r}, kind={self.kind!r})"

    @property
    def dest(self) -> str:
        return self.name.replace("-", "_")


class Parsed:
    """Flag values by ``dest`` (also readable as attributes) and the positionals."""

    def __init__(
        self,
        values: dict[str, Any],
        args: list[str],
        after_dashes: list[str] | None = None,
        given: set[str] | None = None,
    ) -> None:
        self.values, self.args = values, args
        self.after_dashes = after_dashes if after_dashes is not None else []
        self.given = given if given is not None else set()

    def __getattr__(self, name: str) -> Any:
        try:
            return self.values[name]
        except KeyError:
            raise AttributeError(name) from None


_TRUE = {"true", "1", "t", "T", "TRUE", "True"}
_FALSE = {"false", "0", "f", "F", "FALSE", "False"}


def _convert(flag: Flag, raw: str) -> Any:
    if flag.kind == "bool":
        if raw in _TRUE:
            return True
        if raw in _FALSE:
            return False
        raise FlagError(
            f'invalid argument "{raw}" for "--{flag.name}" flag: strconv.ParseBool: parsing "{raw}": invalid syntax'
        )
    if flag.kind == "int":
        try:
            return int(raw)
        except ValueError:
            raise FlagError(
                f'invalid argument "{raw}" for "{_label(flag)}" flag: strconv.ParseInt: parsing "{raw}": invalid syntax'
            ) from None
    return raw


def _label(flag: Flag) -> str:
    return f"-{flag.short}, --{flag.name}" if flag.short else f"--{flag.name}"


class _State:
    def __init__(self, flags: list[Flag]) -> None:
        self.by_name = {f.name: f for f in flags}
        self.by_short = {f.short: f for f in flags if f.short}
        self.values: dict[str, Any] = {
            f.dest: (list(f.default or []) if f.kind == "list" else f.default) for f in flags
        }
        self.given: set[str] = set()

    def set(self, flag: Flag, raw: str) -> None:
        value = _convert(flag, raw)
        self.given.add(flag.dest)
        if flag.kind == "list":
            if flag.dest not in self.given or self.values[flag.dest] is flag.default:
                pass
            self.values[flag.dest].append(value)
        else:
            self.values[flag.dest] = value


def parse(argv: list[str], flags: list[Flag]) -> Parsed:
    """Split ``argv`` into flag values and positionals, pflag-style."""
    state = _State(flags)
    args: list[str] = []
    i = 0
    while i < len(argv):
        word = argv[i]
        i += 1
        if word == "--":
            return Parsed(state.values, args, argv[i:], state.given)
        if word.startswith("--") and len(word) > 2:
            i = _long(word, argv, i, state)
        elif word.startswith("-") and len(word) > 1:
            i = _short(word, argv, i, state)
        else:
            args.append(word)
    return Parsed(state.values, args, [], state.given)


def _needs_value(flag: Flag) -> bool:
    return flag.kind != "bool" and flag.no_value is None


def _long(word: str, argv: list[str], i: int, state: _State) -> int:
    name, eq, value = word[2:].partition("=")
    flag = state.by_name.get(name)
    if flag is None:
        raise FlagError(f"unknown flag: --{name}")
    if eq:
        state.set(flag, value)
    elif not _needs_value(flag):
        state.set(flag, "true" if flag.kind == "bool" else str(flag.no_value))
    elif i < len(argv):
        state.set(flag, argv[i])
        i += 1
    else:
        raise FlagError(f"flag needs an argument: --{name}")
    return i


def _short(word: str, argv: list[str], i: int, state: _State) -> int:
    letters = word[1:]
    while letters:
        letter, letters = letters[0], letters[1:]
        flag = state.by_short.get(letter)
        if flag is None:
            raise FlagError(f"unknown shorthand flag: '{letter}' in {word}")
        if letters.startswith("="):
            state.set(flag, letters[1:])
            return i
        if not _needs_value(flag):
            state.set(flag, "true" if flag.kind == "bool" else str(flag.no_value))
            continue
        if letters:
            state.set(flag, letters)
            return i
        if i < len(argv):
            state.set(flag, argv[i])
            return i + 1
        raise FlagError(f"flag needs an argument: '{letter}' in {word}")
    return i


GLOBAL_FLAGS = [
    Flag("kubeconfig"),
    Flag("context"),
    Flag("cluster"),
    Flag("user"),
    Flag("namespace", "n"),
    Flag("cache-dir"),
    Flag("server", "s"),
    Flag("token"),
    Flag("request-timeout", default="0"),
    Flag("insecure-skip-tls-verify", kind="bool", default=False),
    Flag("v", "v", default="0"),
    Flag("warnings-as-errors", kind="bool", default=False),
    Flag("match-server-version", kind="bool", default=False),
]
