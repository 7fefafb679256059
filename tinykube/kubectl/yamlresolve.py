"""Which strings kubectl's YAML writer must quote: go-yaml v2's ``resolve``, in Python.

kubectl writes YAML with go-yaml v2 (through sigs.k8s.io/yaml). A string
goes out plain unless go-yaml would read the plain text back as something
else; then it is double-quoted. go-yaml decides that with its own rules,
which are not PyYAML's (YAML 1.1): ``0o7``, ``1e3``, ``1.`` and ``08`` are
numbers to Go (strconv), while ``=``, ``<<``, ``*``, ``&`` and ``!`` are
plain strings. In short:

- exact words: booleans (``y``, ``yes``, ``on``, ``true`` ... in three
  casings), nulls (``""``, ``~``, ``null``), and ``.inf``/``.nan`` forms;
- text starting with a digit, ``+`` or ``-``: a ``YYYY-M-D`` date or
  timestamp, an integer as ``strconv.ParseInt(s, 0, 64)`` (or ParseUint)
  reads it once underscores are dropped, or a decimal float;
- text starting with ``.``: a float as ``strconv.ParseFloat`` reads it;
- base-60 numbers such as ``1:20`` (go-yaml quotes them although it no
  longer reads them as numbers).

``tag`` answers with the YAML tag go-yaml resolves; ``printers`` and
``yamlfast`` quote exactly the strings whose tag is not ``!!str``.
"""

from __future__ import annotations

STR = "tag:yaml.org,2002:str"
BOOL = "tag:yaml.org,2002:bool"
NULL = "tag:yaml.org,2002:null"
INT = "tag:yaml.org,2002:int"
FLOAT = "tag:yaml.org,2002:float"
TIMESTAMP = "tag:yaml.org,2002:timestamp"

_WORDS = {
    **dict.fromkeys(("y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE"), BOOL),
    **dict.fromkeys(("on", "On", "ON", "n", "N", "no", "No", "NO"), BOOL),
    **dict.fromkeys(("false", "False", "FALSE", "off", "Off", "OFF"), BOOL),
    **dict.fromkeys(("", "~", "null", "Null", "NULL"), NULL),
    **dict.fromkeys((".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF"), FLOAT),
    **dict.fromkeys(("+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF"), FLOAT),
}
_DIGITS = "0123456789"
_MAX_INT64 = (1 << 63) - 1
_MAX_UINT64 = (1 << 64) - 1


def tag(text: str) -> str:
    """The tag go-yaml v2 resolves for the plain scalar ``text``."""
    if text in _WORDS:
        return _WORDS[text]
    first = text[0]
    if first == ".":  # strconv.ParseFloat: underscores only between digits
        return FLOAT if _underscores_ok(text) and _decimal_float(text.replace("_", "")) else STR
    if first not in _DIGITS and first not in "+-":
        return STR
    if _timestamp(text):
        return TIMESTAMP
    plain = text.replace("_", "")
    if _go_int(plain, signed=True) or _go_int(plain, signed=False):
        return INT
    if _decimal_float(plain):
        return FLOAT
    return STR


def needs_quotes(text: str) -> bool:
    """Whether kubectl writes the string ``text`` double-quoted (a single line)."""
    return tag(text) != STR or _base60(text)


def _go_int(text: str, signed: bool) -> bool:
    """``strconv.ParseInt(text, 0, 64)`` (or ``ParseUint``) succeeds."""
    body, negative = text, False
    if signed and body[:1] in ("+", "-"):
        negative, body = body[0] == "-", body[1:]
    low = body[:2].lower()
    base, digits = 10, body
    if low in ("0x", "0o", "0b"):
        base, digits = {"0x": 16, "0o": 8, "0b": 2}[low], body[2:]
    elif body[:1] == "0" and len(body) > 1:
        base, digits = 8, body[1:]
    allowed = {2: "01", 8: "01234567", 10: "0123456789", 16: "0123456789abcdefABCDEF"}[base]
    if not digits or any(c not in allowed for c in digits):
        return False
    value = int(digits, base)
    if not signed:
        return value <= _MAX_UINT64
    return value <= (_MAX_INT64 + 1 if negative else _MAX_INT64)


def _decimal_float(text: str) -> bool:
    """go-yaml's ``[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?``, finite."""
    body = text[1:] if text[:1] in ("+", "-") else text
    mantissa, e, exponent = body, "", ""
    for i, c in enumerate(body):
        if c in "eE":
            mantissa, e, exponent = body[:i], c, body[i + 1 :]
            break
    whole, dot, frac = mantissa.partition(".")
    if not (whole.isdigit() if whole else (dot and frac)) or not whole.isascii():
        return False
    if frac and (not frac.isdigit() or not frac.isascii()):
        return False
    if e:
        digits = exponent[1:] if exponent[:1] in ("+", "-") else exponent
        if not digits.isdigit() or not digits.isascii():
            return False
    try:
        value = float(text)
    except ValueError:
        return False
    return value not in (float("inf"), float("-inf"))


def _underscores_ok(text: str) -> bool:
    return all(
        0 < i < len(text) - 1 and text[i - 1].isdigit() and text[i + 1].isdigit()
        for i, c in enumerate(text)
        if c == "_"
    )


def _timestamp(text: str) -> bool:
    """go-yaml's ``parseTimestamp``: ``YYYY-M-D`` with an optional time of day."""
    if len(text) < 8 or not text[:4].isdigit() or text[4] != "-":
        return False
    date, sep, clock = text, "", ""
    for i, c in enumerate(text):
        if c in "Tt ":
            date, sep, clock = text[:i], c, text[i + 1 :]
            break
    parts = date.split("-")
    if len(parts) != 3 or not all(p.isdigit() and p.isascii() for p in parts):
        return False
    year, month, day = parts
    if len(year) != 4 or not 1 <= len(month) <= 2 or not 1 <= len(day) <= 2:
        return False
    import calendar

    if (
        not 1 <= int(month) <= 12
        or not 1 <= int(day) <= calendar.monthrange(int(year), int(month))[1]
    ):
        return False
    if not sep:
        return True
    return _clock(clock, zone=sep != " ")


def _clock(text: str, zone: bool) -> bool:
    """``15:4:5.999999999`` plus, after ``T``, a ``Z`` or ``±hh:mm`` zone."""
    rest = text
    if zone:
        if rest.endswith("Z"):
            rest = rest[:-1]
        elif len(rest) > 6 and rest[-6] in "+-" and rest[-3] == ":":
            offset = rest[-5:]
            if not (offset[:2].isdigit() and offset[3:].isdigit()):
                return False
            rest = rest[:-6]
        else:
            return False
    hms, _, frac = rest.partition(".")
    if "." in rest and (not frac.isdigit() or len(frac) > 9):
        return False
    pieces = hms.split(":")
    if len(pieces) != 3 or not all(p.isdigit() and 1 <= len(p) <= 2 for p in pieces):
        return False
    hour, minute, second = (int(p) for p in pieces)
    return hour < 24 and minute < 60 and second < 60


def _base60(text: str) -> bool:
    """go-yaml's ``^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\\.[0-9_]*)?$``."""
    body = text[1:] if text[:1] in ("+", "-") else text
    head, colon, rest = body.partition(":")
    if not colon or not head or not head[0].isdigit():
        return False
    if any(c not in "0123456789_" for c in head):
        return False
    rest, _, frac = rest.partition(".")
    if any(c not in "0123456789_" for c in frac):
        return False
    for group in rest.split(":"):
        if not (1 <= len(group) <= 2 and group.isdigit() and group.isascii()):
            return False
        if len(group) == 2 and group[0] not in "012345":
            return False
    return True
