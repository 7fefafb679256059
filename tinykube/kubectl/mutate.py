"""What every writing command shares: dry-run modes, query parameters, result lines.

kubectl tags each write with ``fieldManager`` (its own name per command,
api-compat §2.1), ``fieldValidation`` where the command can send unknown
fields, and ``dryRun=All`` for ``--dry-run=server``; and it reports each
object as ``<kind>/<name> <verb>`` with `` (dry run)`` or `` (server dry
run)`` appended.
"""

from __future__ import annotations

from typing import Any

from tinykube.kubectl.errors import CommandError
from tinykube.kubectl.flags import Flag

DRY_RUN_FLAG = Flag("dry-run", default="none", no_value="unchanged")
VALIDATE_FLAG = Flag("validate", default="strict", no_value="strict")
FIELD_MANAGER = Flag("field-manager")


def dry_run(o: Any) -> str:
    """``none``, ``client`` or ``server`` (bare ``--dry-run`` is the deprecated client mode)."""
    value = getattr(o, "dry_run", "none") or "none"
    if value in ("unchanged", "true"):
        return "client"
    if value == "false":
        return "none"
    if value not in ("none", "client", "server"):
        raise CommandError(
            f'Invalid dry-run value ({value}). Must be "none", "server", or "client".'
        )
    return value


def suffix(mode: str) -> str:
    return {"client": " (dry run)", "server": " (server dry run)"}.get(mode, "")


def params(o: Any, manager: str, *, validate: bool = True) -> dict[str, str]:
    out = {"fieldManager": getattr(o, "field_manager", None) or manager}
    if validate:
        value = str(getattr(o, "validate", "strict") or "strict").lower()
        mode = {
            "true": "Strict",
            "strict": "Strict",
            "warn": "Warn",
            "false": "Ignore",
            "ignore": "Ignore",
        }
        out["fieldValidation"] = mode.get(value, "Strict")
    if dry_run(o) == "server":
        out["dryRun"] = "All"
    return out
