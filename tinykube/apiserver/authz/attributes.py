"""The question an authorizer answers, read off a request as kube-apiserver reads it.

Resource requests get Kubernetes' verbs: ``get``/``list``/``watch`` for
reads (a list or watch narrowed by ``fieldSelector=metadata.name=x`` is
asked about the object ``x``, as upstream's RequestInfoFactory does),
``create``, ``update``, ``patch``, ``delete`` and ``deletecollection``.
``pods/exec``, ``pods/attach`` and ``pods/portforward`` are always asked as
``create``: kubectl opens them with a WebSocket GET, and Kubernetes requires
``create`` for that upgrade, so a role holding only ``get`` cannot open a
shell. Non-resource requests (discovery, OpenAPI, health) use the lowercase
HTTP method as their verb.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tinykube.api import errors
from tinykube.apiserver.requestinfo import RequestInfo

STREAMING_SUBRESOURCES = frozenset({"exec", "attach", "portforward"})
WRITE_VERBS = {"POST": "create", "PUT": "update", "PATCH": "patch"}


@dataclass(frozen=True, slots=True)
class Attributes:
    verb: str
    group: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""
    path: str = ""
    resource_request: bool = True


def _true(value: str | None) -> bool:
    return value is not None and value.lower() in ("1", "true", "t", "yes", "y")


def _name_from_field_selector(selector: str) -> str:
    for term in selector.split(","):
        key, _, value = term.partition("=")
        if key.strip() == "metadata.name":
            return value.lstrip("=").strip()
    return ""


def resource_verb(method: str, info: RequestInfo, query: Any) -> str:
    if info.subresource in STREAMING_SUBRESOURCES:
        return "create"
    if method in ("GET", "HEAD"):
        if info.watch_prefix or _true(query.get("watch")):
            return "watch"
        return "get" if info.name else "list"
    if method == "DELETE":
        return "delete" if info.name else "deletecollection"
    return WRITE_VERBS.get(method, method.lower())


def of_request(method: str, path: str, info: RequestInfo | None, query: Any) -> Attributes:
    if info is None:
        return Attributes(verb=method.lower(), path=path, resource_request=False)
    verb = resource_verb(method, info, query)
    name = info.name
    if not name and verb in ("list", "watch") and query.get("fieldSelector"):
        name = _name_from_field_selector(query["fieldSelector"])
    return Attributes(
        verb=verb,
        group=info.group,
        resource=info.resource,
        subresource=info.subresource,
        namespace=info.namespace,
        name=name,
    )


def forbidden_message(username: str, attrs: Attributes) -> str:
    """The sentence kube-apiserver puts after ``is forbidden:``."""
    if not attrs.resource_request:
        return f'User "{username}" cannot {attrs.verb} path "{attrs.path}"'
    resource = attrs.resource + (f"/{attrs.subresource}" if attrs.subresource else "")
    where = f'in the namespace "{attrs.namespace}"' if attrs.namespace else "at the cluster scope"
    return (
        f'User "{username}" cannot {attrs.verb} resource "{resource}" '
        f'in API group "{attrs.group}" {where}'
    )


def forbidden(username: str, attrs: Attributes, reason: str = "") -> errors.APIError:
    """The 403 kube-apiserver answers: ``<resource>[.<group>] "<name>" is forbidden: …``."""
    message = forbidden_message(username, attrs)
    if reason:
        message = f"{message}: {reason}"
    if not attrs.resource_request:
        return errors.Forbidden(f"forbidden: {message}")
    qualified = f"{attrs.resource}.{attrs.group}" if attrs.group else attrs.resource
    head = f'{qualified} "{attrs.name}"' if attrs.name else qualified
    return errors.Forbidden(
        f"{head} is forbidden: {message}", name=attrs.name, group=attrs.group, kind=attrs.resource
    )
