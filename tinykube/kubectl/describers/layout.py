"""The describe layout primitives: the prefix writer and the multi-line sections every kind shares.

kubectl indents two spaces per level and aligns with tabwriter (min width 0,
padding 2); labels, annotations (long ones wrapped, last-applied hidden),
tolerations, selectors and the Events table are written the same way for
every kind, so they live here.
"""

from __future__ import annotations

from datetime import datetime

from tinykube.api import duration
from tinykube.kubectl.tabwriter import align

TYPE_CHECKING = False  # typing is for type checkers only: see main
if TYPE_CHECKING:
    from typing import Any

Obj = dict[str, "Any"]
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
MAX_ANNOTATION_LEN = 140


class Writer:
    """kubectl's PrefixWriter: ``write(level, text)`` indents by two spaces per level."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    def write(self, level: int, text: str) -> None:
        self.parts.append("  " * level + text)

    def text(self) -> str:
        return align("".join(self.parts), 0, 2)


def rfc1123z(stamp: str | None) -> str:
    moment = duration.parse_time(stamp)
    if moment is None:
        return "Mon, 01 Jan 0001 00:00:00 +0000"
    return moment.strftime("%a, %d %b %Y %H:%M:%S %z")


def since(stamp: str | None, now: datetime) -> str:
    if not stamp:
        return "<unknown>"
    return duration.age(stamp, now)


def dig(obj: Obj, *path: str) -> Any:
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)  # type: ignore[assignment]
    return obj


# ---- shared pieces ----------------------------------------------------------------


def labels_multiline(w: Writer, title: str, labels: Obj | None, indent: str = "") -> None:
    w.write(0, f"{indent}{title}:\t")
    if not labels:
        w.write(0, "<none>\n")
        return
    for i, key in enumerate(sorted(labels)):
        if i:
            w.write(0, f"{indent}\t")
        w.write(0, f"{key}={labels[key]}\n")


def annotations_multiline(w: Writer, title: str, annotations: Obj | None) -> None:
    w.write(0, f"{title}:\t")
    keys = sorted(k for k in (annotations or {}) if k != LAST_APPLIED)
    if not keys:
        w.write(0, "<none>\n")
        return
    for i, key in enumerate(keys):
        if i:
            w.write(0, "\t")
        value = str(annotations[key]).removesuffix("\n")  # type: ignore[index]
        if len(value) + len(key) + 2 > MAX_ANNOTATION_LEN or "\n" in value:
            w.write(0, f"{key}:\n")
            for line in value.split("\n"):
                short = (
                    line
                    if len(line) <= MAX_ANNOTATION_LEN - 2
                    else line[: MAX_ANNOTATION_LEN - 2] + "..."
                )
                w.write(0, f"\t  {short}\n")
        else:
            w.write(0, f"{key}: {value}\n")


def tolerations_multiline(w: Writer, title: str, tolerations: list[Obj] | None) -> None:
    w.write(0, f"{title}:\t")
    if not tolerations:
        w.write(0, "<none>\n")
        return
    for i, t in enumerate(sorted(tolerations, key=lambda t: t.get("key", ""))):
        if i:
            w.write(0, "\t")
        text = t.get("key", "")
        if t.get("value"):
            text += f"={t['value']}"
        if t.get("effect"):
            text += f":{t['effect']}"
        if t.get("operator") == "Exists" and not t.get("value"):
            text += " op=Exists" if (t.get("key") or t.get("effect")) else "op=Exists"
        if t.get("tolerationSeconds") is not None:
            text += f" for {t['tolerationSeconds']}s"
        w.write(0, text + "\n")


def format_selector(selector: Obj | None) -> str:
    """metav1.FormatLabelSelector: ``a=b,c in (d,e)``; ``<none>`` when empty."""
    if not selector:
        return "<none>"
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key", ""), expr.get("operator", ""), expr.get("values") or []
        if op == "In":
            parts.append(f"{key} in ({','.join(values)})")
        elif op == "NotIn":
            parts.append(f"{key} notin ({','.join(values)})")
        elif op == "Exists":
            parts.append(key)
        elif op == "DoesNotExist":
            parts.append(f"!{key}")
    return ",".join(parts) or "<none>"


def format_labels(labels: Obj | None) -> str:
    if not labels:
        return "<none>"
    return ",".join(f"{k}={labels[k]}" for k in sorted(labels))


def events_section(w: Writer, events: list[Obj] | None, now: datetime) -> None:
    if events is None:
        return
    if not events:
        w.write(0, "Events:\t<none>\n")
        return
    w.write(0, "Events:\n  Type\tReason\tAge\tFrom\tMessage\n")
    w.write(1, "----\t------\t----\t----\t-------\n")
    for e in sorted(events, key=lambda e: e.get("lastTimestamp") or ""):
        first = (
            since(e.get("eventTime"), now)
            if e.get("eventTime")
            else since(e.get("firstTimestamp"), now)
        )
        series = e.get("series")
        if series:
            interval = f"{since(series.get('lastObservedTime'), now)} (x{series.get('count', 0)} over {first})"
        elif (e.get("count") or 0) > 1:
            interval = f"{since(e.get('lastTimestamp'), now)} (x{e['count']} over {first})"
        else:
            interval = first
        source = dig(e, "source", "component") or e.get("reportingComponent") or ""
        message = str(e.get("message") or "").strip()
        if dig(e, "involvedObject", "fieldPath"):
            message = f"{e['involvedObject']['fieldPath']}: {message}"
        w.write(1, f"{e.get('type', '')}\t{e.get('reason', '')}\t{interval}\t{source}\t{message}\n")
