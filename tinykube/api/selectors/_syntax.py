"""Label key and value syntax, and the error texts the selector parser reports.

These mirror apimachinery's ``validation/content`` checks word for word (the
doubled space in "'MyName',  or" included) because the messages reach users
unchanged inside ``400 BadRequest`` responses.
"""

from __future__ import annotations

import re
from typing import Any

from tinykube.api import errors

_KEY_NAME_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_VALUE_FMT = f"({_KEY_NAME_FMT})?"
_DNS_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS_SUBDOMAIN_FMT = _DNS_LABEL_FMT + r"(\." + _DNS_LABEL_FMT + ")*"
_KEY_NAME_RE = re.compile(f"^{_KEY_NAME_FMT}$")
_VALUE_RE = re.compile(f"^{_VALUE_FMT}$")
_DNS_SUBDOMAIN_RE = re.compile(f"^{_DNS_SUBDOMAIN_FMT}$")

_KEY_MSG = (
    "must consist of alphanumeric characters, '-', '_' or '.', "
    "and must start and end with an alphanumeric character"
)
_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, "
    "'-', '_' or '.', and must start and end with an alphanumeric character"
)
_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
    "'-' or '.', and must start and end with an alphanumeric character"
)
_MAX_NAME = 63
_MAX_SUBDOMAIN = 253


def regex_error(msg: str, fmt: str, *examples: str) -> str:
    # Upstream joins examples as "'a', " + " or " + "'b', " (hence two spaces).
    shown = " or ".join(f"'{e}', " for e in examples)
    return f"{msg} (e.g. {shown}regex used for validation is '{fmt}')"


def label_key_errors(key: str) -> list[str]:
    """Problems with a label key (``[prefix/]name``); empty when it is valid."""
    parts = key.split("/")
    if len(parts) > 2:
        return [
            "a valid label key "
            + regex_error(_KEY_MSG, _KEY_NAME_FMT, "MyName", "my.name", "123-abc")
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    problems: list[str] = []
    name = parts[-1]
    if len(parts) == 2:
        problems += _prefix_errors(parts[0])
    if not name:
        problems.append("name part must be non-empty")
    elif len(name) > _MAX_NAME:
        problems.append(f"name part must be no more than {_MAX_NAME} bytes")
    if not _KEY_NAME_RE.match(name):
        problems.append(
            "name part " + regex_error(_KEY_MSG, _KEY_NAME_FMT, "MyName", "my.name", "123-abc")
        )
    return problems


def _prefix_errors(prefix: str) -> list[str]:
    if not prefix:
        return ["prefix part must be non-empty"]
    problems = []
    if len(prefix) > _MAX_SUBDOMAIN:
        problems.append(f"must be no more than {_MAX_SUBDOMAIN} bytes")
    if not _DNS_SUBDOMAIN_RE.match(prefix):
        problems.append(regex_error(_SUBDOMAIN_MSG, _DNS_SUBDOMAIN_FMT, "example.com"))
    return ["prefix part " + p for p in problems]


def label_value_errors(value: str) -> list[str]:
    """Problems with a label value; empty when it is valid (the empty string is)."""
    problems = []
    if len(value) > _MAX_NAME:
        problems.append(f"must be no more than {_MAX_NAME} bytes")
    if not _VALUE_RE.match(value):
        problems.append(regex_error(_VALUE_MSG, _VALUE_FMT, "MyValue", "my_value", "12345"))
    return problems


def invalid_text(path: str, value: Any, detail: str) -> str:
    """A field.Error rendered as ``Error()`` renders it."""
    return f"{path}: Invalid value: {errors.render_value(value)}: {detail}"


def aggregate(messages: list[str]) -> str:
    """utilerrors.Aggregate text: one message bare, several bracketed, duplicates dropped."""
    unique = list(dict.fromkeys(messages))
    return unique[0] if len(unique) == 1 else "[" + ", ".join(unique) + "]"


class SelectorError(ValueError):
    """A selector that upstream would reject; ``str()`` is upstream's message."""
