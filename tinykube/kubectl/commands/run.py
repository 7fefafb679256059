"""``kubectl run``: one Pod from flags, built exactly as kubectl builds it.

``--command -- cmd args`` sets the container's command, plain ``-- args``
its args; labels default to ``run=<name>``. Attaching (``-it``, ``--rm``)
needs a streaming exec client and is not supported yet.
"""

from __future__ import annotations

from typing import Any

from tinykube.kubectl import mutate
from tinykube.kubectl.commands.create import create_object, report
from tinykube.kubectl.errors import CommandError
from tinykube.kubectl.flags import Flag
from tinykube.kubectl.output import parse_output

Obj = dict[str, Any]

FLAGS = [
    Flag("image"),
    Flag("port", default=""),
    Flag("labels", "l", default=""),
    Flag("env", kind="list"),
    Flag("restart", default="Always"),
    Flag("command", kind="bool", default=False),
    Flag("image-pull-policy", default=""),
    Flag("annotations", kind="list"),
    Flag("serviceaccount"),
    Flag("stdin", "i", kind="bool", default=False),
    Flag("tty", "t", kind="bool", default=False),
    Flag("rm", kind="bool", default=False),
    Flag("attach", kind="bool", default=False),
    Flag("expose", kind="bool", default=False),
    Flag("override-type", default="merge"),
    Flag("overrides"),
    Flag("privileged", kind="bool", default=False),
    Flag("output", "o"),
    mutate.DRY_RUN_FLAG,
    mutate.FIELD_MANAGER,
]


def _labels(o: Any, name: str) -> dict[str, str]:
    if not o.labels:
        return {"run": name}
    out = {}
    for part in o.labels.split(","):
        key, _, value = part.partition("=")
        out[key] = value
    return out


def pod(f: Any, o: Any, name: str, command: list[str]) -> Obj:
    container: Obj = {}
    if command and o.command:
        container["command"] = list(command)
    elif command:
        container["args"] = list(command)
    if o.env:
        container["env"] = [
            dict(zip(("name", "value"), e.split("=", 1), strict=False)) for e in o.env
        ]
    container["image"] = o.image
    if o.image_pull_policy:
        container["imagePullPolicy"] = o.image_pull_policy
    container["name"] = name
    if o.port:
        container["ports"] = [{"containerPort": int(o.port)}]
    container["resources"] = {}
    if o.stdin:
        container["stdin"] = True
    if o.tty:
        container["tty"] = True
    meta: Obj = {}
    if o.annotations:
        meta["annotations"] = dict(a.split("=", 1) for a in o.annotations)
    meta["labels"] = _labels(o, name)
    meta["name"] = name
    if f.explicit_namespace:
        meta["namespace"] = f.namespace
    spec: Obj = {"containers": [container], "dnsPolicy": "ClusterFirst", "restartPolicy": o.restart}
    if o.serviceaccount:
        spec["serviceAccountName"] = o.serviceaccount
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec, "status": {}}


async def run(f: Any, o: Any) -> int:
    if not o.args:
        raise CommandError("NAME is required for run")
    if not o.image:
        raise CommandError('required flag(s) "image" not set')
    if o.restart not in ("Always", "OnFailure", "Never"):
        raise CommandError(f"invalid restart policy: {o.restart}")
    if o.rm or o.attach or (o.stdin and o.tty and mutate.dry_run(o) == "none"):
        raise CommandError(
            "attaching to a pod (-i/-t, --rm, --attach) is not supported by tkctl yet"
        )
    fmt = parse_output(o.output)
    name = o.args[0]
    command = [*o.args[1:], *o.after_dashes]
    obj = pod(f, o, name, command)
    mapping = await f.discovery.find("pods")
    result = await create_object(f, o, mapping, f.namespace, obj, "kubectl-run")
    report(f, o, fmt, mapping, result, "created", typed=True)
    return 0
