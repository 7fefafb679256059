"""Pure helpers of the Deployment controller (upstream ``pkg/controller/deployment/util``).

Everything here is a function of dicts and numbers: the pod-template hash, the
maxSurge/maxUnavailable arithmetic, revision annotations, which ReplicaSet is
"new", counting replicas. The sync code composes these; the unit tests call
them directly with table cases.

The pod-template hash names the ReplicaSet of each template
(``web-5d8c7b9f4``) and labels its Pods. Upstream hashes Go's printed form of
the struct with FNV-32a; tinykube hashes the template's canonical JSON (sorted
keys, no spaces) with FNV-32a, then spells the decimal number in the same
vowel-free alphabet upstream uses (``rand.SafeEncodeString``). The values
differ from a Go cluster's, but they are stable across restarts and processes,
which is what matters: a restarted controller must find the same ReplicaSet.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable
from typing import Any

Obj = dict[str, Any]

HASH_LABEL = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
ROLLBACK_TO = "deprecated.deployment.rollback.to"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
# Annotations that belong to the Deployment or the ReplicaSet alone, never copied across.
SKIP_COPY = frozenset(
    {LAST_APPLIED, REVISION, REVISION_HISTORY, DESIRED_REPLICAS, MAX_REPLICAS, ROLLBACK_TO}
)
MAX_REV_HISTORY_CHARS = 2000

_SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_FNV_OFFSET = 0x811C9DC5
_FNV_PRIME = 0x01000193


def meta(obj: Obj | None) -> Obj:
    return (obj or {}).get("metadata") or {}


def spec(obj: Obj | None) -> Obj:
    return (obj or {}).get("spec") or {}


def status(obj: Obj | None) -> Obj:
    return (obj or {}).get("status") or {}


def annotations(obj: Obj) -> dict[str, str]:
    return meta(obj).get("annotations") or {}


# ---- the pod-template hash ---------------------------------------------------------


def fnv32a(data: bytes) -> int:
    h = _FNV_OFFSET
    for byte in data:
        h = ((h ^ byte) * _FNV_PRIME) & 0xFFFFFFFF
    return h


def safe_encode(text: str) -> str:
    """Upstream ``rand.SafeEncodeString``: no vowels, so no words, and no confusable 0/1/3."""
    return "".join(_SAFE_ALPHABET[b % len(_SAFE_ALPHABET)] for b in text.encode())


def compute_hash(template: Obj, collision_count: int | None = None) -> str:
    """The ``pod-template-hash`` of a template (see the module docstring)."""
    data = json.dumps(template, sort_keys=True, separators=(",", ":")).encode()
    if collision_count is not None:
        data += int(collision_count).to_bytes(4, "little", signed=False)
    return safe_encode(str(fnv32a(data)))


def _without_hash(template: Obj) -> Obj:
    out = copy.deepcopy(template or {})
    labels = (out.get("metadata") or {}).get("labels")
    if labels is not None:
        labels.pop(HASH_LABEL, None)
        if not labels:
            del out["metadata"]["labels"]
    if "metadata" in out and not out["metadata"]:
        del out["metadata"]
    return out


def equal_ignore_hash(t1: Obj, t2: Obj) -> bool:
    """Templates equal apart from the ``pod-template-hash`` label."""
    return _without_hash(t1) == _without_hash(t2)


def template_without_hash(template: Obj) -> Obj:
    return _without_hash(template)


# ---- maxSurge / maxUnavailable -------------------------------------------------------


def scaled_value(value: int | str | None, total: int, round_up: bool) -> int:
    """An IntOrString against ``total``: ints as they are, ``"25%"`` rounded up or down."""
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    if not value.endswith("%"):
        raise ValueError(
            f"invalid value for IntOrString: invalid type: string is not a percentage: {value!r}"
        )
    percent = int(value[:-1])
    product = percent * total
    return -(-product // 100) if round_up else product // 100


def is_rolling(d: Obj) -> bool:
    return (spec(d).get("strategy") or {}).get("type", "RollingUpdate") == "RollingUpdate"


def replicas(obj: Obj) -> int:
    value = spec(obj).get("replicas")
    return 1 if value is None else int(value)


def resolve_fenceposts(max_surge: Any, max_unavailable: Any, desired: int) -> tuple[int, int]:
    """(surge, unavailable) for ``desired`` replicas; never both zero (upstream ResolveFenceposts)."""
    surge = scaled_value(max_surge, desired, True)
    unavailable = scaled_value(max_unavailable, desired, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def _rolling_params(d: Obj) -> tuple[Any, Any]:
    rolling = (spec(d).get("strategy") or {}).get("rollingUpdate") or {}
    return rolling.get("maxSurge", "25%"), rolling.get("maxUnavailable", "25%")


def max_surge(d: Obj) -> int:
    if not is_rolling(d):
        return 0
    return resolve_fenceposts(*_rolling_params(d), replicas(d))[0]


def max_unavailable(d: Obj) -> int:
    if not is_rolling(d) or replicas(d) == 0:
        return 0
    unavailable = resolve_fenceposts(*_rolling_params(d), replicas(d))[1]
    return min(unavailable, replicas(d))


# ---- revisions -----------------------------------------------------------------------


def revision(obj: Obj) -> int | None:
    try:
        return int(annotations(obj)[REVISION])
    except (KeyError, ValueError):
        return None


def max_revision(sets: Iterable[Obj]) -> int:
    return max((r for rs in sets if (r := revision(rs)) is not None), default=0)


def last_revision(sets: Iterable[Obj]) -> int:
    """The second-highest revision: the one ``rollout undo`` goes back to."""
    revisions = sorted({r for rs in sets if (r := revision(rs)) is not None}, reverse=True)
    return revisions[1] if len(revisions) > 1 else 0


# ---- ReplicaSet orderings and counts ----------------------------------------------------


def by_creation(sets: Iterable[Obj]) -> list[Obj]:
    """Oldest first, ties by name (upstream ReplicaSetsByCreationTimestamp)."""
    return sorted(
        sets, key=lambda rs: (meta(rs).get("creationTimestamp") or "", meta(rs).get("name") or "")
    )


def by_revision(sets: Iterable[Obj]) -> list[Obj]:
    return sorted(by_creation(sets), key=lambda rs: revision(rs) if revision(rs) is not None else 0)


def by_size(sets: Iterable[Obj], newer_first: bool) -> list[Obj]:
    """Largest first; equal sizes newest first (scaling up) or oldest first (scaling down)."""
    ordered = by_creation(sets)
    if newer_first:
        ordered.reverse()
    return sorted(ordered, key=lambda rs: -replicas(rs))


def active(sets: Iterable[Obj | None]) -> list[Obj]:
    """ReplicaSets asked for at least one Pod."""
    return [rs for rs in sets if rs is not None and replicas(rs) > 0]


def spec_replicas(sets: Iterable[Obj | None]) -> int:
    return sum(replicas(rs) for rs in sets if rs is not None)


def status_count(sets: Iterable[Obj | None], field: str) -> int:
    return sum(int(status(rs).get(field) or 0) for rs in sets if rs is not None)


def find_new(d: Obj, sets: list[Obj]) -> Obj | None:
    """The oldest ReplicaSet whose template is the Deployment's (ignoring the hash label)."""
    template = spec(d).get("template") or {}
    for rs in by_creation(sets):
        if equal_ignore_hash(spec(rs).get("template") or {}, template):
            return rs
    return None


def find_old(d: Obj, sets: list[Obj]) -> list[Obj]:
    new = find_new(d, sets)
    new_uid = meta(new).get("uid") if new is not None else None
    return [rs for rs in sets if meta(rs).get("uid") != new_uid]


# ---- annotations on ReplicaSets -----------------------------------------------------------


def desired_replicas_annotation(rs: Obj) -> int | None:
    try:
        return int(annotations(rs)[DESIRED_REPLICAS])
    except (KeyError, ValueError):
        return None


def max_replicas_annotation(rs: Obj) -> int | None:
    try:
        return int(annotations(rs)[MAX_REPLICAS])
    except (KeyError, ValueError):
        return None


def replicas_annotations_need_update(rs: Obj, desired: int, maximum: int) -> bool:
    notes = annotations(rs)
    return notes.get(DESIRED_REPLICAS) != str(desired) or notes.get(MAX_REPLICAS) != str(maximum)


def set_replicas_annotations(rs: Obj, desired: int, maximum: int) -> bool:
    """Write desired-replicas and max-replicas on ``rs`` (mutates); True if anything changed."""
    if not replicas_annotations_need_update(rs, desired, maximum):
        return False
    notes = rs.setdefault("metadata", {}).setdefault("annotations", {})
    notes[DESIRED_REPLICAS] = str(desired)
    notes[MAX_REPLICAS] = str(maximum)
    return True


def copy_deployment_annotations(d: Obj, rs: Obj) -> bool:
    """Copy the Deployment's own annotations (change-cause, ...) onto ``rs``; True if changed."""
    notes = rs.setdefault("metadata", {}).setdefault("annotations", {})
    changed = False
    for key, value in annotations(d).items():
        if key in SKIP_COPY or notes.get(key) == value:
            continue
        notes[key] = value
        changed = True
    return changed


def set_new_rs_annotations(d: Obj, rs: Obj, new_revision: str, exists: bool) -> bool:
    """Upstream SetNewReplicaSetAnnotations: copy annotations, bump the revision, keep history.

    A ReplicaSet that already had a revision and gets a higher one is being
    rolled back to: its old revision goes into ``revision-history``.
    """
    changed = copy_deployment_annotations(d, rs)
    notes = rs["metadata"]["annotations"]
    old = notes.get(REVISION)
    try:
        old_int = int(old) if old else 0
    except ValueError:
        return False
    if old_int < int(new_revision):
        notes[REVISION] = new_revision
        changed = True
        if old is not None:
            _append_history(notes, old)
    if not exists and set_replicas_annotations(rs, replicas(d), replicas(d) + max_surge(d)):
        changed = True
    return changed


def _append_history(notes: dict[str, str], old: str) -> None:
    history = notes.get(REVISION_HISTORY, "")
    if not history:
        notes[REVISION_HISTORY] = old
        return
    parts = history.split(",")
    total = len(history) + len(old) + 1
    start = 0
    while total > MAX_REV_HISTORY_CHARS and start < len(parts):
        total -= len(parts[start]) + 1
        start += 1
    if total <= MAX_REV_HISTORY_CHARS:
        notes[REVISION_HISTORY] = ",".join([*parts[start:], old])


def set_deployment_revision(d: Obj, value: str) -> bool:
    notes = d.setdefault("metadata", {}).setdefault("annotations", {})
    if notes.get(REVISION) == value:
        return False
    notes[REVISION] = value
    return True


def is_saturated(d: Obj, rs: Obj | None) -> bool:
    """The new ReplicaSet runs all the Deployment's replicas, all available."""
    if rs is None:
        return False
    want = replicas(d)
    return (
        replicas(rs) == want
        and desired_replicas_annotation(rs) == want
        and int(status(rs).get("availableReplicas") or 0) == want
    )


def new_rs_new_replicas(d: Obj, sets: list[Obj], new_rs: Obj) -> int:
    """How many replicas the new ReplicaSet may have now (upstream NewRSNewReplicas).

    RollingUpdate grows it while the total stays within replicas + maxSurge;
    Recreate gives it everything at once.
    """
    if not is_rolling(d):
        return replicas(d)
    current = sum(_pods_held(rs, new_rs) for rs in sets)
    max_total = replicas(d) + max_surge(d)
    if current >= max_total:
        return replicas(new_rs)
    room = min(max_total - current, replicas(d) - replicas(new_rs))
    return replicas(new_rs) + room


def _pods_held(rs: Obj, new_rs: Obj) -> int:
    """Pods ``rs`` counts for against maxSurge: its spec, or more while an old one still
    has Pods it was told to give up (upstream counts spec alone, which lets a fast
    scale-up overtake a scale-down and briefly exceed replicas + maxSurge)."""
    if rs is new_rs or (meta(rs).get("uid") and meta(rs).get("uid") == meta(new_rs).get("uid")):
        return replicas(rs)
    return max(replicas(rs), int(status(rs).get("replicas") or 0))
