"""Admission for subresource requests that are not writes of the stored object.

Upstream runs admission for every "connecter" subresource with operation
CONNECT and the request's options object (PodExecOptions and friends) as
``object``, so a policy can refuse ``kubectl exec`` into a pod. The options are
rebuilt here from the query, as the request handler will read them, and the
dispatcher asks the webhooks before the stream is opened. An eviction is the
CREATE of an Eviction: its handler asks (``admit_eviction``) with the body it
decoded, before any disruption budget is charged.
"""

from __future__ import annotations

from typing import Any

from tinykube.api.resources import Resource, split_api_version
from tinykube.apiserver.webhooks.dispatcher import Dispatcher, WebhookOptions
from tinykube.apiserver.webhooks.review import connect_options

CONNECT_SUBRESOURCES = frozenset({"exec", "attach", "portforward", "proxy"})
_PROXY = "/proxy/"


def _proxy_path(raw_path: str) -> str:
    path = raw_path.split("?", 1)[0]
    index = path.find(_PROXY)
    return path[index + len(_PROXY) - 1 :] if index >= 0 else ""


async def admit(request: Any, dispatcher: Dispatcher, res: Resource, info: Any) -> None:
    """Ask the webhooks about a CONNECT request; raises their refusal."""
    if info.subresource not in CONNECT_SUBRESOURCES:
        return
    sub = res.subresource(info.subresource)
    if sub is None:
        return
    path = _proxy_path(request.raw_path) if info.subresource == "proxy" else ""
    options = connect_options(sub.kind, request.query, path)
    user = request.get("user")
    await dispatcher.connect(res, info.subresource, info.namespace, info.name, options, user)


async def admit_eviction(
    request: Any, dispatcher: Dispatcher, res: Resource, info: Any, eviction: dict[str, Any]
) -> None:
    """pods/eviction: webhooks see the Eviction being created."""
    group, version = split_api_version(str(eviction.get("apiVersion") or "policy/v1"))
    opts = WebhookOptions(
        user=request.get("user"), dry_run="All" in request.query.getall("dryRun", [])
    )
    kind = (group, version, "Eviction")
    await dispatcher.ask(res, "eviction", "CREATE", info.namespace, info.name, eviction, kind, opts)
