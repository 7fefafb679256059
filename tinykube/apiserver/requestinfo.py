"""Turn a request path into what it addresses, as kube-apiserver's RequestInfoFactory does.

``/api/v1/namespaces/default/pods/web/status`` → group "", version v1,
namespace default, resource pods, name web, subresource status. The handlers
never look at the path again; they get a ``RequestInfo``.

Namespaces are special: ``/api/v1/namespaces/x`` is the Namespace named x, and
``/api/v1/namespaces/x/status`` its status, not a namespaced collection.
Legacy ``/watch/`` path prefixes are understood and turned into ``watch=true``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class RequestInfo:
    group: str = ""
    version: str = ""
    namespace: str = ""
    resource: str = ""
    name: str = ""
    subresource: str = ""
    watch_prefix: bool = False  # the legacy /watch/ form


def parse_resource_path(path: str) -> RequestInfo | None:
    """Parse an ``/api/...`` or ``/apis/...`` resource path; None if it is not one."""
    parts = [p for p in path.split("/") if p]
    if not parts:
        return None
    info = RequestInfo()
    if parts[0] == "api":
        if len(parts) < 3:
            return None
        info.version = parts[1]
        rest = parts[2:]
    elif parts[0] == "apis":
        if len(parts) < 4:
            return None
        info.group, info.version = parts[1], parts[2]
        rest = parts[3:]
    else:
        return None
    if rest and rest[0] == "watch":
        info.watch_prefix = True
        rest = rest[1:]
        if not rest:
            return None
    if rest[0] == "namespaces" and len(rest) >= 3:
        # /namespaces/<ns>/<resource>...; but /namespaces/<ns>/status|finalize
        # address the Namespace object itself.
        if len(rest) == 3 and rest[2] in ("status", "finalize"):
            info.resource, info.name, info.subresource = "namespaces", rest[1], rest[2]
            return info
        info.namespace = rest[1]
        rest = rest[2:]
    info.resource = rest[0]
    if len(rest) > 1:
        info.name = rest[1]
    if len(rest) > 2:
        info.subresource = rest[2]
    if len(rest) > 3 and info.subresource != "proxy":
        return None  # only proxy subresources take a further path
    return info
