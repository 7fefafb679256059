"""kubectl's error lines (api-compat §5.3), from API errors and local failures.

kubectl funnels every failure through one printer (``cmdutil.CheckErr``):
Status errors become ``Error from server (<Reason>): <message>``, Invalid
errors list their field causes, Unauthorized asks the user to log in,
transport failures name the server. Commands raise; ``main`` prints the line
from here and exits 1. A command that keeps going after a failure (get, delete
with several names) collects the errors and reports them together, one line
each, as kubectl's aggregate does.

The API error classes are imported only when a failure is being printed:
a command that succeeds never needs them (nor the JSON library they load).
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # typing is for type checkers only: see main
if TYPE_CHECKING:
    from tinykube.api import errors as api


GENERIC_MESSAGES = {
    400: ("BadRequest", "the server rejected our request for an unknown reason"),
    401: ("Unauthorized", "the server has asked for the client to provide credentials"),
    403: ("Forbidden", "the server does not allow access to the requested resource"),
    404: ("NotFound", "the server could not find the requested resource"),
    405: ("MethodNotAllowed", "the server does not allow this method on the requested resource"),
    409: ("Conflict", "the server reported a conflict"),
    410: ("Gone", "the server has asked for the client to retry"),
    415: (
        "UnsupportedMediaType",
        "the server responded with the status code 415 but did not return more information",
    ),
    422: ("Invalid", "the server rejected our request due to an error in our request"),
    429: (
        "TooManyRequests",
        "the server has received too many requests and has asked us to try again later",
    ),
    500: ("InternalError", "an error on the server has prevented the request from succeeding"),
    503: ("ServiceUnavailable", "the server is currently unable to handle the request"),
    504: (
        "Timeout",
        "the server was unable to return a response in the time allotted, but may still be processing the request",
    ),
}


class CommandError(Exception):
    """A local failure, printed as ``error: <message>``."""


class BareError(Exception):
    """A local failure kubectl prints without the ``error: `` prefix."""


class UsageError(BareError):
    """A usage failure whose text carries its own ``error:`` lines."""


class ExitCode(Exception):
    """Leave with this code after the command already printed what it had to say."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


class Aggregate(Exception):
    """Several failures collected while a command kept going; one line each."""

    def __init__(self, errs: list[Exception]) -> None:
        super().__init__("; ".join(str(e) for e in errs))
        self.errors = errs


def _generic(err: api.APIError) -> tuple[str, str]:
    reason, text = GENERIC_MESSAGES.get(err.code, ("", ""))
    body = getattr(err, "raw_body", "").strip()
    if err.code >= 500 and body:
        return (
            reason,
            f'an error on the server ("{body}") has prevented the request from succeeding',
        )
    if not text:
        text = f"the server responded with the status code {err.code} but did not return more information"
    return reason, text


def api_message(err: api.APIError, prefix: str = "") -> str:
    """The line(s) kubectl prints for an API error, with an optional ``error when ...`` prefix."""
    reason, message = err.reason, err.message
    if getattr(err, "not_status", False):
        reason, message = _generic(err)
    if reason == "Unauthorized" or err.code == 401:
        return f"error: You must be logged in to the server ({message or 'Unauthorized'})"
    if reason == "Invalid" and (err.kind or err.name or err.causes):
        return _invalid(err)
    if reason and reason != "Unknown":
        return f"Error from server ({reason}): {prefix}{message}"
    return f"Error from server: {prefix}{message}"


def _invalid(err: api.APIError) -> str:
    head = "The request is invalid"
    if err.kind or err.name:
        head = f'The {err.kind} "{err.name}" is invalid'
    elif err.message and not err.causes:
        head = f"{head}: {err.message}"
    if not err.causes:
        return head
    causes = [f"{c.field}: {c.message}" for c in err.causes]
    if len(causes) == 1:
        return f"{head}: {causes[0]}"
    return f"{head}: \n" + "\n".join(f"* {c}" for c in causes)


def connection_message(server: str, exc: BaseException) -> str:
    """Transport failures: refused connections name the server as kubectl does."""
    from urllib.parse import urlparse

    url = urlparse(server)
    hostport = url.netloc or server
    text = str(exc)
    if (
        isinstance(exc, ConnectionRefusedError)
        or "Connect call failed" in text
        or "refused" in text
    ):
        return (
            f"The connection to the server {hostport} was refused - "
            "did you specify the right host or port?"
        )
    return f"Unable to connect to the server: {text}"


def message_for(exc: BaseException, server: str = "", bare: bool = False) -> str:
    """The text for any failure; ``bare`` drops ``error: `` as kubectl's aggregates do."""
    from tinykube.api import errors as api

    if isinstance(exc, api.APIError):
        return api_message(exc, getattr(exc, "prefix", ""))
    if isinstance(exc, Aggregate) and len(exc.errors) == 1:
        return message_for(exc.errors[0], server, bare)
    if isinstance(exc, Aggregate):
        return "\n".join(message_for(e, server, bare=True) for e in exc.errors)
    if isinstance(exc, OSError) or type(exc).__module__.startswith("aiohttp"):
        return connection_message(server, exc)
    text = str(exc)
    return text if bare or isinstance(exc, BareError) else f"error: {text}"


def is_api_error(exc: BaseException, name: str = "APIError") -> bool:
    """Whether ``exc`` is ``tinykube.api.errors.<name>``, without importing that module.

    The transport imports it when the first error answer arrives; until then no
    exception can be one, and commands that succeed skip its cost (it loads
    orjson and dataclasses).
    """
    module = sys.modules.get("tinykube.api.errors")
    return module is not None and isinstance(exc, getattr(module, name))


def with_prefix(err: api.APIError, verb: str, source: str) -> api.APIError:
    """Mark an error as ``error when <verb> "<file>": `` for file-based commands."""
    err.prefix = f'error when {verb} "{source}": '  # type: ignore[attr-defined]
    return err
