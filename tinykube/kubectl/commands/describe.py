"""``kubectl describe``: fetch an object and what explains it, then lay it out.

The command resolves names like ``get`` does (``TYPE NAME``, ``TYPE/NAME``,
``TYPE -l sel``, ``TYPE`` alone for all, a name prefix matching several
objects), gathers related objects (events by involvedObject, the pods of a
ReplicaSet, a Deployment's ReplicaSets, a Service's EndpointSlices, a Node's
pods and lease) and hands them to the pure layouts in ``describers``.
Several objects are separated by a blank line, as kubectl does.
"""

from __future__ import annotations

from datetime import UTC, datetime

from tinykube.kubectl import describers
from tinykube.kubectl.errors import Aggregate, CommandError, is_api_error
from tinykube.kubectl.flags import Flag
from tinykube.kubectl.resources import from_args, from_files

TYPE_CHECKING = False  # typing is for type checkers only: see main
if TYPE_CHECKING:
    from typing import Any

Obj = dict[str, "Any"]

FLAGS = [
    Flag("selector", "l"),
    Flag("all-namespaces", "A", kind="bool", default=False),
    Flag("filename", "f", kind="list"),
    Flag("recursive", "R", kind="bool", default=False),
    Flag("show-events", kind="bool", default=True),
    Flag("chunk-size", kind="int", default=500),
]


async def _events(f: Any, obj: Obj, kind: str | None) -> list[Obj]:
    meta = obj.get("metadata") or {}
    if kind == "Node" and not meta.get("namespace"):
        # A Node's events carry two uids, as kubectl's describe says: the kubelet writes
        # the node's name, the controllers its uid. Both are searched, kubelet's first.
        named = await _events_by_uid(f, meta, kind, meta.get("name", ""))
        return named + await _events_by_uid(f, meta, kind, meta.get("uid", ""))
    return await _events_by_uid(f, meta, kind, meta.get("uid", ""))


async def _events_by_uid(f: Any, meta: Obj, kind: str | None, uid: str) -> list[Obj]:
    fields = [
        f"involvedObject.name={meta.get('name', '')}",
        f"involvedObject.namespace={meta.get('namespace', '')}",
    ]
    if kind:
        fields.append(f"involvedObject.kind={kind}")
    if uid:
        fields.append(f"involvedObject.uid={uid}")
    path = (
        f"/api/v1/namespaces/{meta['namespace']}/events"
        if meta.get("namespace")
        else "/api/v1/events"
    )
    listing = await f.client.call(
        "GET", path, params={"fieldSelector": ",".join(fields), "limit": "500"}
    )
    return listing.get("items") or []


async def _list(f: Any, path: str, **params: str) -> list[Obj]:
    try:
        return (await f.client.call("GET", path, params=params or None)).get("items") or []
    except Exception as exc:
        if not is_api_error(exc):
            raise
        return []


def _owned_by(items: list[Obj], uid: str) -> list[Obj]:
    return [
        i
        for i in items
        if any(
            r.get("controller") and r.get("uid") == uid
            for r in (i.get("metadata") or {}).get("ownerReferences") or []
        )
    ]


async def describe_one(f: Any, mapping: Any, obj: Obj, show_events: bool) -> str:
    now = datetime.now(UTC)
    meta = obj.get("metadata") or {}
    ns, uid = meta.get("namespace", ""), meta.get("uid", "")
    kind = (mapping.group, mapping.kind)
    events = (
        await _events(f, obj, None if kind == ("", "Pod") else mapping.kind)
        if show_events
        else None
    )
    if kind == ("", "Pod"):
        return describers.describe_pod(obj, events, now)
    if kind == ("apps", "Deployment"):
        selector = describers.selector_string((obj.get("spec") or {}).get("selector"))
        rss = _owned_by(
            await _list(f, f"/apis/apps/v1/namespaces/{ns}/replicasets", labelSelector=selector),
            uid,
        )
        new = [r for r in rss if _same_template(r, obj)]
        old = [r for r in rss if r not in new]
        return describers.describe_deployment(obj, old, new, events, now)
    if kind == ("apps", "ReplicaSet"):
        selector = describers.selector_string((obj.get("spec") or {}).get("selector"))
        pods = _owned_by(
            await _list(f, f"/api/v1/namespaces/{ns}/pods", labelSelector=selector), uid
        )
        return describers.describe_replicaset(obj, pods, events, now)
    if kind == ("", "Service"):
        slices = await _list(
            f,
            f"/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices",
            labelSelector=f"kubernetes.io/service-name={meta.get('name', '')}",
        )
        return describers.describe_service(obj, slices, events, now)
    if kind == ("", "Namespace"):
        name = meta.get("name", "")
        quotas = await _list(f, f"/api/v1/namespaces/{name}/resourcequotas")
        limits = await _list(f, f"/api/v1/namespaces/{name}/limitranges")
        return describers.describe_namespace(obj, quotas, limits)
    if kind == ("", "ConfigMap"):
        return describers.describe_configmap(obj, events, now)
    if kind == ("", "Secret"):
        return describers.describe_secret(obj)
    if kind == ("", "Node"):
        return await _node(f, obj, events, now)
    return describers.describe_generic(obj, events, now)


async def _node(f: Any, node: Obj, events: list[Obj] | None, now: datetime) -> str:
    name = (node.get("metadata") or {}).get("name", "")
    pods = await _list(
        f,
        "/api/v1/pods",
        fieldSelector=f"spec.nodeName={name},status.phase!=Failed,status.phase!=Succeeded",
    )
    try:
        lease = await f.client.call(
            "GET", f"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{name}"
        )
    except Exception as exc:
        if not is_api_error(exc):
            raise
        lease = exc.message  # type: ignore[attr-defined]
    return describers.describe_node(node, pods, lease, events, now)


def _same_template(rs: Obj, deploy: Obj) -> bool:
    def strip(template: Obj) -> Obj:
        import copy

        template = copy.deepcopy(template or {})
        labels = (template.get("metadata") or {}).get("labels") or {}
        labels.pop("pod-template-hash", None)
        return template

    return strip((rs.get("spec") or {}).get("template")) == strip(
        (deploy.get("spec") or {}).get("template")
    )


async def _objects(f: Any, o: Any) -> tuple[list[tuple[Any, Obj]], list[Exception]]:
    failures: list[Exception] = []
    found: list[tuple[Any, Obj]] = []
    if o.filename:
        items = await from_files(f, o.filename, o.recursive)
        pairs = [(i.mapping, i.namespace, i.name) for i in items]
    else:
        if not o.args:
            raise CommandError(
                "You must specify the type of resource to describe. "
                'Use "kubectl api-resources" for a complete list of supported resources.'
            )
        pairs = []
        ns = "" if o.all_namespaces else f.namespace
        for req in await from_args(f, o.args):
            if not req.names:
                params = {"labelSelector": o.selector} if o.selector else {}
                for item in await _list(f, req.mapping.path(ns), **params):
                    found.append((req.mapping, item))
                continue
            pairs.extend((req.mapping, f.namespace, n) for n in req.names)
    for mapping, ns, name in pairs:
        path = mapping.path(ns if mapping.namespaced else "", name)
        try:
            found.append((mapping, await f.client.call("GET", path)))
        except Exception as exc:
            if not is_api_error(exc, "NotFound"):
                raise
            prefix = await _by_prefix(f, mapping, ns, name) if len(o.args) == 2 else []
            if prefix:
                o.values["prefix_matched"] = True
                found.extend((mapping, p) for p in prefix)
            else:
                failures.append(exc)
    return found, failures


async def _by_prefix(f: Any, mapping: Any, ns: str, name: str) -> list[Obj]:
    """kubectl describe falls back to every object whose name starts with the given one."""
    items = await _list(f, mapping.path(ns if mapping.namespaced else ""))
    return [i for i in items if (i.get("metadata") or {}).get("name", "").startswith(name)]


async def run(f: Any, o: Any) -> int:
    found, failures = await _objects(f, o)
    show_events = o.show_events
    prefixed = o.values.get("prefix_matched", False)
    if (failures or prefixed or len(found) > 1) and "show_events" not in o.given:
        show_events = False
    for i, (mapping, obj) in enumerate(found):
        obj.setdefault("kind", mapping.kind)
        text = await describe_one(f, mapping, obj, show_events)
        if prefixed:
            f.out.write(text + "\n")
        else:
            f.out.write(text if i == 0 else "\n\n" + text)
    if not found and not failures:
        ns = "" if o.all_namespaces else f.namespace
        f.err.write(f"No resources found in {ns} namespace.\n" if ns else "No resources found\n")
    if failures:
        raise Aggregate(failures)
    return 0
