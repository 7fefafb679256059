"""``kubectl auth can-i`` and ``auth whoami``: ask the server's authorizer."""

from __future__ import annotations

from typing import Any

from tinykube.kubectl.errors import CommandError, ExitCode
from tinykube.kubectl.flags import Flag

FLAGS = [
    Flag("all-namespaces", "A", kind="bool", default=False),
    Flag("quiet", "q", kind="bool", default=False),
    Flag("subresource"),
    Flag("list", kind="bool", default=False),
    Flag("output", "o"),
]


async def _attributes(f: Any, o: Any, verb: str, target: str) -> dict[str, Any]:
    if target.startswith("/"):
        return {"nonResourceAttributes": {"path": target, "verb": verb}}
    kind, _, name = target.partition("/")
    group, resource, sub = "", kind, o.subresource or ""
    if kind != "*":
        base, _, rest = kind.partition("/")
        try:
            mapping = await f.discovery.find(base)
            group, resource = mapping.group, mapping.resource
        except CommandError:
            resource = base
            f.err.write(f"Warning: the server doesn't have a resource type '{base}'\n")
        if "/" in kind and not name:
            sub = rest
    attrs: dict[str, Any] = {
        "namespace": "" if o.all_namespaces else f.namespace,
        "verb": verb,
        "group": group,
        "resource": resource,
    }
    if sub:
        attrs["subresource"] = sub
    if name:
        attrs["name"] = name
    return {"resourceAttributes": attrs}


async def run(f: Any, o: Any) -> int:
    if o.args[:1] == ["whoami"]:
        body = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
        answer = await f.client.call(
            "POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", body=body
        )
        info = (answer.get("status") or {}).get("userInfo") or {}
        from tinykube.kubectl.printers import render

        lines = [["ATTRIBUTE", "VALUE"], ["Username", info.get("username", "")]]
        if info.get("uid"):
            lines.append(["UID", info["uid"]])
        if info.get("groups"):
            lines.append(["Groups", "[" + " ".join(info["groups"]) + "]"])
        f.out.write(render(lines))
        return 0
    if o.args[:1] != ["can-i"] or len(o.args) < 3:
        raise CommandError(
            "you must specify two arguments: verb resource or verb resource/resourceName."
        )
    verb, target = o.args[1], o.args[2]
    if len(o.args) > 3:
        target = f"{target}/{o.args[3]}"
    spec = await _attributes(f, o, verb, target)
    body = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectAccessReview",
        "spec": spec,
    }
    answer = await f.client.call(
        "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", body=body
    )
    status = answer.get("status") or {}
    allowed = bool(status.get("allowed"))
    if not o.quiet:
        text = "yes" if allowed else "no"
        if not allowed and status.get("reason"):
            text += f" - {status['reason']}"
        f.out.write(text + "\n")
    if not allowed:
        raise ExitCode(1)
    return 0
