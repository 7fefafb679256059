"""Ingresses in, a routing table out: the pure core of the ingress controller.

``serves`` decides which Ingresses are this controller's (by IngressClass),
``build_routes`` turns them into a ``Routes`` table, and ``Routes.match``
answers one question per request: which Service port should take
``(host, path)``? Everything is a plain function over API dicts, so the
rules are unit-tested without sockets.

Matching follows the Ingress API reference:

- a rule's host is exact (``foo.example``, case-insensitive) or a wildcard one
  label deep (``*.example`` matches ``a.example``, not ``example`` nor
  ``a.b.example``); a rule without a host matches every host. Exact hosts are
  tried first, then wildcards, then host-less rules, so a request that no
  path of its own host takes can still fall to a rule for every host;
- within those, an ``Exact`` path equal to the request's path wins over any
  ``Prefix``; among ``Prefix`` paths the one with most path elements wins,
  matched element-wise (``/foo`` matches ``/foo`` and ``/foo/bar``, never
  ``/foobar``; a trailing slash is ignored). ``ImplementationSpecific`` is
  read as ``Prefix``, as most controllers read it;
- when no rule takes a request, ``spec.defaultBackend`` does: that of an
  Ingress whose rule hosts matched, else that of any served Ingress;
  otherwise there is no backend and the proxy answers 404.

Conflicts (the same host and path in two Ingresses) go to the oldest
Ingress, as ingress-nginx resolves them.

One ingress-nginx annotation is honoured because the Kubernetes
documentation's first Ingress example uses it:
``nginx.ingress.kubernetes.io/rewrite-target``. As in ingress-nginx, it makes
the Ingress's paths regular expressions (anchored at the start, case
insensitive, ``$`` added for Exact) and replaces the whole request path with
the target, ``$1``... standing for the expression's groups: ``/app(/|$)(.*)``
with target ``/$2`` sends ``/app/x`` to ``/x``; target ``/`` sends every
matching path to ``/``. The query string is kept.

``endpoints_for`` resolves a backend to ready pod addresses from the cached
Service and its EndpointSlices: the Service port by number or name, then the
slice port of the same name, then every endpoint whose ``ready`` condition is
not false (unset means ready, as upstream reads it).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]

DEFAULT_CLASS_ANNOTATION = "ingressclass.kubernetes.io/is-default-class"
LEGACY_CLASS_ANNOTATION = "kubernetes.io/ingress.class"
REWRITE_TARGET_ANNOTATION = "nginx.ingress.kubernetes.io/rewrite-target"
EXACT = "Exact"
PREFIX = "Prefix"


@dataclass(frozen=True)
class Backend:
    """A Service port of one namespace; ``port`` is a number or a port name."""

    namespace: str
    service: str
    port: int | str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.service}:{self.port}"


@dataclass(frozen=True)
class PathRule:
    path: str
    path_type: str  # EXACT or PREFIX
    backend: Backend
    rewrite: str | None = None  # a rewrite target: ``pattern`` matches, not ``path``
    pattern: re.Pattern[str] | None = field(default=None, compare=False)

    def upstream_path(self, path: str) -> str:
        """The path to send: the request's, or the rewrite target with the groups filled in."""
        found = self.pattern.match(path) if self.pattern else None
        if self.rewrite is None or found is None:
            return path
        groups = (found.group(0), *found.groups())

        def group(m: re.Match[str]) -> str:
            n = int(m.group(1))
            return (groups[n] or "") if n < len(groups) else ""

        out = re.sub(r"\$(\d+)", group, self.rewrite)
        return out if out.startswith("/") else f"/{out}"


@dataclass
class Routes:
    """The routing table of every served Ingress, oldest Ingress first in each list."""

    exact_hosts: dict[str, list[PathRule]] = field(default_factory=dict)
    wildcard_hosts: dict[str, list[PathRule]] = field(default_factory=dict)  # by "example"
    any_host: list[PathRule] = field(default_factory=list)
    host_defaults: dict[str, Backend] = field(default_factory=dict)  # by rule host, as written
    default: Backend | None = None

    def match(self, host: str, path: str) -> Backend | None:
        """The backend for a request, or None (the proxy's 404)."""
        found = self.resolve(host, path)
        return found[0] if found else None

    def resolve(self, host: str, path: str) -> tuple[Backend, str] | None:
        """The backend for a request and the path to send it (rewritten or not)."""
        host = normalize_host(host)
        suffix = wildcard_suffix(host)
        groups = [
            self.exact_hosts.get(host, []),
            self.wildcard_hosts.get(suffix, []) if suffix else [],
            self.any_host,
        ]
        for rules in groups:
            if (chosen := best_path(rules, path or "/")) is not None:
                return chosen.backend, chosen.upstream_path(path)
        for key in (host, f"*.{suffix}" if suffix else None):
            if key and key in self.host_defaults:
                return self.host_defaults[key], path
        return (self.default, path) if self.default else None


def normalize_host(host: str) -> str:
    """A Host header without its port and trailing dot, lower case (``[::1]:80`` -> ``::1``)."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    if host.count(":") == 1:
        host = host.split(":", 1)[0]
    return host.rstrip(".")


def wildcard_suffix(host: str) -> str:
    """What a ``*.`` rule must end with to match ``host``: all but its first label."""
    first, _, rest = host.partition(".")
    return rest if first and rest else ""


def _elements(path: str) -> list[str]:
    return [e for e in path.split("/") if e]


def best_path(rules: Iterable[PathRule], path: str) -> PathRule | None:
    """Exact before Prefix; the longest Prefix by elements; the first (oldest) on a tie."""
    request = _elements(path)
    best: PathRule | None = None
    best_len = -1
    for rule in rules:
        if rule.pattern is not None:
            length = len(_elements(rule.path))
            if length > best_len and rule.pattern.match(path):
                best, best_len = rule, length
            continue
        if rule.path_type == EXACT:
            if rule.path == path:
                return rule
            continue
        wanted = _elements(rule.path)
        if len(wanted) > best_len and request[: len(wanted)] == wanted:
            best, best_len = rule, len(wanted)
    return best


# ---- which Ingresses are ours --------------------------------------------------------


def is_default_class(ic: Obj) -> bool:
    annotations = (ic.get("metadata") or {}).get("annotations") or {}
    return annotations.get(DEFAULT_CLASS_ANNOTATION) == "true"


def serves(ing: Obj, classes: Iterable[Obj], controller: str) -> bool:
    """Whether an Ingress belongs to an IngressClass of ``controller``.

    An Ingress names its class in ``spec.ingressClassName`` (or, before v1.18,
    the ``kubernetes.io/ingress.class`` annotation); one naming neither belongs
    to the default class, as upstream controllers read it, when that is ours.
    """
    ours = [ic for ic in classes if (ic.get("spec") or {}).get("controller") == controller]
    names = {ic["metadata"]["name"] for ic in ours}
    wanted = (ing.get("spec") or {}).get("ingressClassName")
    if wanted is None:
        annotations = (ing.get("metadata") or {}).get("annotations") or {}
        wanted = annotations.get(LEGACY_CLASS_ANNOTATION)
    if wanted is not None:
        return wanted in names
    return any(is_default_class(ic) for ic in ours)


def by_age(ingresses: Iterable[Obj]) -> list[Obj]:
    """Oldest first; namespace and name break ties so the order is stable."""

    def key(ing: Obj) -> tuple[str, str, str]:
        meta = ing.get("metadata") or {}
        return (meta.get("creationTimestamp", ""), meta.get("namespace", ""), meta.get("name", ""))

    return sorted(ingresses, key=key)


# ---- the table -------------------------------------------------------------------------


def backend_of(namespace: str, spec: Obj | None) -> Backend | None:
    """A service backend; resource backends are not something this proxy can reach."""
    service = (spec or {}).get("service") or {}
    port = service.get("port") or {}
    value = port.get("number") if port.get("number") is not None else port.get("name")
    if not service.get("name") or value in (None, ""):
        return None
    return Backend(namespace, service["name"], value)


def build_routes(ingresses: Iterable[Obj]) -> Routes:
    """The table for the served Ingresses (``serves`` already applied)."""
    routes = Routes()
    for ing in by_age(ingresses):
        namespace = ing["metadata"].get("namespace", "")
        spec = ing.get("spec") or {}
        default = backend_of(namespace, spec.get("defaultBackend"))
        annotations = ing["metadata"].get("annotations") or {}
        rewrite = annotations.get(REWRITE_TARGET_ANNOTATION)
        if default is not None and routes.default is None:
            routes.default = default
        for rule in spec.get("rules") or []:
            host = (rule.get("host") or "").lower()
            if default is not None and host:
                routes.host_defaults.setdefault(host, default)
            _add_paths(routes, host, namespace, rule.get("http") or {}, rewrite)
    return routes


def _add_paths(routes: Routes, host: str, namespace: str, http: Obj, rewrite: str | None) -> None:
    if not host:
        target = routes.any_host
    elif host.startswith("*."):
        target = routes.wildcard_hosts.setdefault(host[2:], [])
    else:
        target = routes.exact_hosts.setdefault(host, [])
    for path in http.get("paths") or []:
        backend = backend_of(namespace, path.get("backend"))
        if backend is None:
            continue
        path_type = EXACT if path.get("pathType") == EXACT else PREFIX
        value = path.get("path") or "/"
        pattern = None
        if rewrite is not None:
            try:
                pattern = re.compile(value + ("$" if path_type == EXACT else ""), re.IGNORECASE)
            except re.error:
                continue  # ingress-nginx would refuse this location too
        target.append(PathRule(value, path_type, backend, rewrite, pattern))


# ---- backends to pods ------------------------------------------------------------------


def service_port(svc: Obj, port: int | str) -> Obj | None:
    """The Service port a backend names, by number or by name."""
    for sp in (svc.get("spec") or {}).get("ports") or []:
        if (isinstance(port, int) and sp.get("port") == port) or sp.get("name") == port:
            return dict(sp)
    return None


def endpoints_for(svc: Obj | None, port: int | str, slices: Iterable[Obj]) -> list[tuple[str, int]]:
    """Ready ``(address, port)`` pairs behind a Service port: where to send a request.

    An ExternalName Service is its name at the Service port, as ingress-nginx
    forwards to it."""
    sp = service_port(svc, port) if svc else None
    if svc is None or sp is None:
        return []
    spec = svc.get("spec") or {}
    if spec.get("type") == "ExternalName" and spec.get("externalName"):
        return [(spec["externalName"], int(sp["port"]))]
    name, protocol = sp.get("name") or "", sp.get("protocol") or "TCP"
    out: list[tuple[str, int]] = []
    for es in slices:
        ports = [
            p
            for p in es.get("ports") or []
            if (p.get("name") or "") == name and (p.get("protocol") or "TCP") == protocol
        ]
        if not ports or ports[0].get("port") is None:
            continue
        for ep in es.get("endpoints") or []:
            if (ep.get("conditions") or {}).get("ready") is False:
                continue
            addresses = ep.get("addresses") or []
            if addresses:
                out.append((addresses[0], int(ports[0]["port"])))
    return sorted(set(out))
