"""The ResourceQuota admission plugin: refuse what would exceed a quota, and charge it.

Runs last, after validation, as upstream's validating plugin does. For a
write it handles (creates; a pod update that changes whether it is
Terminating; service and claim updates, which can change type or size), it
finds the namespace's quotas that track the object's resources and whose
scopes it fits (``api.quota``), and for each:

1. a quota on cpu or memory requires every container to state it
   (``failed quota: q: must specify requests.cpu for: c``);
2. a quota whose ``status.used`` the controller has not filled in yet cannot
   be charged (``status unknown for quota: q, resources: pods``);
3. the object's usage (on update, what it adds to the old object's) is added
   to ``status.used`` and compared with ``status.hard``
   (``exceeded quota: q, requested: pods=1, used: pods=2, limited: pods=2``).

``check`` decides from the quotas as the watch cache has them, so a refusal
costs no write. Then ``charge`` runs again inside a compare-and-swap update
of each quota's status, on the quota as storage has it: two creates that race
for the last unit cannot both pass, because the loser's update conflicts,
is retried on the winner's numbers, and is refused. A request that fails
later (say its name is taken) stays charged until the controller recounts,
as upstream.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from tinykube.api import errors, quota
from tinykube.api.quantity import Quantity

Obj = dict[str, Any]
Charge = tuple[str, quota.Usage]  # quota name, usage to add


def handles(plural: str, group: str, obj: Obj, old: Obj | None, subresource: str) -> bool:
    """Whether this write can change what the namespace's quotas have used."""
    if subresource or (group, plural) in quota.IGNORED:
        return False
    if old is None:
        return True
    if group == "" and plural == "pods":
        return quota.is_terminating(obj) != quota.is_terminating(old)
    return group == "" and plural in ("services", "persistentvolumeclaims")


def check(
    quotas: list[Obj],
    plural: str,
    group: str,
    obj: Obj,
    old: Obj | None,
    now: datetime | None = None,
) -> list[Charge]:
    """What to add to which quota for this write; raises 403 Forbidden if it does not fit."""
    interesting = [q for q in quotas if quota.matches(q, plural, group, obj)]
    for q in interesting:
        _constraints(q, plural, group, obj)
    if not interesting:
        return []
    usage = quota.usage(plural, group, obj, now)
    negative = sorted(n for n, v in usage.items() if v.sign() < 0)
    if negative:
        raise _forbidden(
            plural, group, obj, f"quota usage is negative for resource(s): {','.join(negative)}"
        )
    delta = usage
    if old is not None and (old.get("metadata") or {}).get("resourceVersion"):
        delta = quota.subtract_non_negative(usage, quota.usage(plural, group, old, now))
    charges: list[Charge] = []
    for q in interesting:
        mine = delta if old is not None and quota.matches(q, plural, group, old) else usage
        mine = {n: v for n, v in mine.items() if not v.is_zero()}
        if not mine:
            continue
        charge(copy.deepcopy(q), mine, plural, group, obj)  # q is the cache's own
        charges.append((_name(q), mine))
    return charges


def charge(q: Obj, delta: Mapping[str, Quantity], plural: str, group: str, obj: Obj) -> Obj:
    """``q`` with ``delta`` added to ``status.used``, or 403 if that passes ``status.hard``."""
    status = q.setdefault("status", {})
    hard = quota.parse_list(status.get("hard"))
    used = quota.parse_list(status.get("used"))
    requested = {n: v for n, v in delta.items() if n in hard}
    if not requested:
        return q
    new_used = quota.add(used, requested)
    exceeded = sorted(n for n in requested if new_used[n] > hard[n])
    if exceeded:
        raise _forbidden(
            plural,
            group,
            obj,
            f"exceeded quota: {_name(q)}, requested: {_pretty(requested, exceeded)}, "
            f"used: {_pretty(used, exceeded)}, limited: {_pretty(hard, exceeded)}",
        )
    status["used"] = (status.get("used") or {}) | quota.format_list(
        {n: new_used[n] for n in requested}
    )
    return q


def _constraints(q: Obj, plural: str, group: str, obj: Obj) -> None:
    status = q.get("status") or {}
    restricted = quota.matching_resources(plural, group, status.get("hard") or {})
    if group == "" and plural == "pods":
        missing = quota.missing_requests(restricted, obj)
        if missing:
            raise _forbidden(plural, group, obj, f"failed quota: {_name(q)}: {missing}")
    used = status.get("used") or {}
    if any(name not in used for name in restricted):
        raise _forbidden(
            plural,
            group,
            obj,
            f"status unknown for quota: {_name(q)}, resources: {','.join(sorted(restricted))}",
        )


def _pretty(usage: Mapping[str, Quantity], names: list[str]) -> str:
    return ",".join(f"{n}={usage[n]}" for n in sorted(names) if n in usage)


def _name(q: Obj) -> str:
    return str((q.get("metadata") or {}).get("name", ""))


def _forbidden(plural: str, group: str, obj: Obj, why: str) -> errors.Forbidden:
    meta = obj.get("metadata") or {}
    return errors.forbidden(plural, group, meta.get("name") or meta.get("generateName") or "", why)
