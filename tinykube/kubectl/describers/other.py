"""describe for ConfigMaps and Secrets, and the generic layout for every other kind."""

from __future__ import annotations

from datetime import datetime

from tinykube.kubectl.describers.layout import (
    Obj,
    Writer,
    annotations_multiline,
    events_section,
    labels_multiline,
)


def describe_generic(obj: Obj, events: list[Obj] | None, now: datetime) -> str:
    """Kinds without a describer: metadata, then the remaining fields, nested."""
    w = Writer()
    meta = obj.get("metadata") or {}
    w.write(0, f"Name:\t{meta.get('name', '')}\n")
    if meta.get("namespace"):
        w.write(0, f"Namespace:\t{meta['namespace']}\n")
    labels_multiline(w, "Labels", meta.get("labels"))
    annotations_multiline(w, "Annotations", meta.get("annotations"))
    rest = {k: v for k, v in obj.items() if k != "metadata"}
    _generic_fields(w, rest, 0)
    events_section(w, events, now)
    return w.text()


def _title(key: str) -> str:
    out = ""
    for i, ch in enumerate(key):
        if ch.isupper() and i and not key[i - 1].isupper():
            out += " "
        out += ch
    return out[:1].upper() + out[1:]


def _generic_fields(w: Writer, value: Obj, level: int) -> None:
    for key in sorted(value):
        v = value[key]
        if isinstance(v, dict):
            w.write(level, f"{_title(key)}:\n")
            _generic_fields(w, v, level + 1)
        elif isinstance(v, list):
            w.write(level, f"{_title(key)}:\n")
            for item in v:
                if isinstance(item, dict):
                    _generic_fields(w, item, level + 1)
                else:
                    w.write(level + 1, f"{item}\n")
        else:
            w.write(level, f"{_title(key)}:\t{v}\n")


def describe_configmap(cm: Obj, events: list[Obj] | None, now: datetime) -> str:
    import base64

    w = Writer()
    meta = cm.get("metadata") or {}
    w.write(0, f"Name:\t{meta.get('name', '')}\n")
    w.write(0, f"Namespace:\t{meta.get('namespace', '')}\n")
    labels_multiline(w, "Labels", meta.get("labels"))
    annotations_multiline(w, "Annotations", meta.get("annotations"))
    w.write(0, "\nData\n====\n")
    data = cm.get("data") or {}
    for key in sorted(data):
        w.write(0, f"{key}:\n----\n{data[key]}\n\n")
    w.write(0, "\nBinaryData\n====\n")
    binary = cm.get("binaryData") or {}
    for key in sorted(binary):
        w.write(0, f"{key}: {len(base64.b64decode(binary[key]))} bytes\n")
    w.write(0, "\n")
    events_section(w, events, now)
    return w.text()


def describe_secret(secret: Obj) -> str:
    import base64

    w = Writer()
    meta = secret.get("metadata") or {}
    w.write(0, f"Name:\t{meta.get('name', '')}\n")
    w.write(0, f"Namespace:\t{meta.get('namespace', '')}\n")
    labels_multiline(w, "Labels", meta.get("labels"))
    annotations_multiline(w, "Annotations", meta.get("annotations"))
    kind = secret.get("type", "")
    w.write(0, f"\nType:\t{kind}\n")
    w.write(0, "\nData\n====\n")
    data = secret.get("data") or {}
    for key in sorted(data):
        raw = base64.b64decode(data[key])
        if key == "token" and kind == "kubernetes.io/service-account-token":
            w.write(0, f"{key}:\t{raw.decode(errors='replace')}\n")
        else:
            w.write(0, f"{key}:\t{len(raw)} bytes\n")
    return w.text()
