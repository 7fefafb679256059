"""``kubectl run``: one Pod from flags, built exactly as kubectl builds it.

``--command -- cmd args`` sets the container's command, plain ``-- args``
its args; labels default to ``run=<name>``.

``-i`` (and ``--attach``, which ``-i`` implies) runs the pod in the
foreground, as kubectl does: the container gets ``stdin`` (``stdinOnce``
unless ``--leave-stdin-open``) and with ``-t`` a terminal; kubectl waits
until the pod is running and ready, prints what it already logged, attaches
(``attach.attach_to``) and, if attaching fails (the container finished
first), says so and prints the log instead. A pod that completed before
that is only shown through its log. With ``--restart=Never``/``OnFailure``
it then waits for the pod to complete and exits with the container's exit
code; ``--rm`` deletes the pod at the end, whatever happened.
"""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any

from tinykube.kubectl import errors, mutate, pacing
from tinykube.kubectl.commands.create import create_object, report
from tinykube.kubectl.errors import CommandError, ExitCode
from tinykube.kubectl.flags import Flag
from tinykube.kubectl.output import parse_output

Obj = dict[str, Any]

POLL_SECONDS = 0.2

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
    Flag("leave-stdin-open", kind="bool", default=False),
    Flag("quiet", "q", kind="bool", default=False),
    Flag("pod-running-timeout", default="1m0s"),
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
        if not o.leave_stdin_open:
            container["stdinOnce"] = True
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
    if o.tty and not o.stdin:
        raise CommandError("-i/--stdin is required for containers with -t/--tty=true")
    if o.restart not in ("Always", "OnFailure", "Never"):
        raise CommandError(f"invalid restart policy: {o.restart}")
    attach = o.attach if "attach" in o.given else o.stdin
    if o.rm and not attach:
        raise CommandError("--rm should only be used for attached containers")
    if attach and mutate.dry_run(o) != "none":
        raise CommandError(
            "--dry-run=[server|client] can't be used with attached containers options "
            "(--attach, --stdin, or --tty)"
        )
    fmt = parse_output(o.output)
    name = o.args[0]
    command = [*o.args[1:], *o.after_dashes]
    obj = pod(f, o, name, command)
    mapping = await f.discovery.find("pods")
    result = await create_object(f, o, mapping, f.namespace, obj, "kubectl-run")
    if attach:
        return await _in_event_loop(_foreground(f, o, mapping, result))
    report(f, o, fmt, mapping, result, "created", typed=True)
    return 0


# ---- -i / --attach: the pod in the foreground ------------------------------------------


async def _in_event_loop(coro: Coroutine[Any, Any, int]) -> int:
    """Run ``coro`` on an event loop: ``run`` is driven without one unless it attaches."""
    if pacing.loop_running():
        return await coro
    import asyncio

    return asyncio.run(coro)


async def _foreground(f: Any, o: Any, mapping: Any, created: Obj) -> int:
    ns, name = created["metadata"]["namespace"], created["metadata"]["name"]
    try:
        await _attach(f, o, ns, name)
        if o.leave_stdin_open or o.restart == "Always":
            return 0
        pod = await _wait_for(f, o, ns, name, _succeeded if o.restart == "OnFailure" else _done)
        code, message = _outcome(pod)
    finally:
        if o.rm:
            await _remove(f, o, mapping, ns, name)
    if code:  # printed after the deletion, as kubectl's deferred removal comes first
        f.err.write(message)
        raise ExitCode(code)
    return 0


async def _attach(f: Any, o: Any, ns: str, name: str) -> None:
    """kubectl's ``handleAttachPod``: attach to a running pod, or show the log of a done one."""
    from tinykube.kubectl.commands import attach
    from tinykube.kubectl.commands import exec as remote

    pod = await _wait_for(f, o, ns, name, _running_and_ready)
    container = remote.container_of(f, pod, None, o.quiet)
    if _phase(pod) in ("Succeeded", "Failed"):
        await _print_log(f, ns, name, container["name"])
        return
    # kubectl prints what the container already wrote, then attaches for the rest.
    since = _now_rfc3339()
    await _print_log(f, ns, name, container["name"])
    try:
        await attach.attach_to(f, pod, container, o.stdin, o.tty, o.quiet, "kubectl attach")
    except Exception as exc:  # any failure to attach: kubectl falls back to the log
        text = str(exc) if isinstance(exc, CommandError) else errors.message_for(exc, f.server)
        text = text.removeprefix("error: ").rstrip("\n")
        f.err.write(
            f"warning: couldn't attach to pod/{name}, falling back to streaming logs: {text}\n"
        )
        await _print_log(f, ns, name, container["name"], since)


def _now_rfc3339() -> str:
    import time

    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


async def _print_log(f: Any, ns: str, name: str, container: str, since: str = "") -> None:
    params = {"container": container}
    if since:
        params["sinceTime"] = since
    data = await f.client.send("GET", f"/api/v1/namespaces/{ns}/pods/{name}/log", params=params)
    f.out.flush()
    out = getattr(f.out, "buffer", None)
    if out is not None:
        out.write(data)
        out.flush()
    else:
        f.out.write(data.decode(errors="replace"))


def _phase(pod: Obj) -> str:
    return str((pod.get("status") or {}).get("phase") or "")


def _running_and_ready(pod: Obj) -> bool:
    if _phase(pod) in ("Succeeded", "Failed"):
        return True
    conditions = (pod.get("status") or {}).get("conditions") or []
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
    return _phase(pod) == "Running" and ready


def _done(pod: Obj) -> bool:
    return _phase(pod) in ("Succeeded", "Failed")


def _succeeded(pod: Obj) -> bool:
    return _phase(pod) == "Succeeded"


async def _wait_for(f: Any, o: Any, ns: str, name: str, condition: Any) -> Obj:
    """Poll the pod until ``condition`` holds, for at most ``--pod-running-timeout``."""
    import asyncio

    from tinykube.kubectl.durations import parse_duration

    limit = parse_duration(o.pod_running_timeout) or 60.0
    deadline = asyncio.get_running_loop().time() + limit
    path = f"/api/v1/namespaces/{ns}/pods/{name}"
    while True:
        pod: Obj = await f.client.call("GET", path)
        if condition(pod):
            return pod
        if asyncio.get_running_loop().time() > deadline:
            raise CommandError("timed out waiting for the condition")
        await asyncio.sleep(POLL_SECONDS)


def _outcome(pod: Obj) -> tuple[int, str]:
    """The exit code (and its line) kubectl returns for a pod of ``--restart=Never/OnFailure``."""
    meta = pod["metadata"]
    if _phase(pod) == "Succeeded":
        return 0, ""
    if _phase(pod) != "Failed":
        raise CommandError(f"pod {meta['namespace']}/{meta['name']} left in phase {_phase(pod)}")
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    terminated = ((statuses[0].get("state") or {}).get("terminated") if statuses else None) or {}
    code = int(terminated.get("exitCode") or 0)
    if not terminated or code == 0:
        raise CommandError(f"pod {meta['namespace']}/{meta['name']} failed with unknown exit code")
    text = (
        f"pod {meta['namespace']}/{meta['name']} terminated ({terminated.get('reason', '')})\n"
        f"{terminated.get('message', '')}"
    )
    return code, text if text.endswith("\n") else text + "\n"


async def _remove(f: Any, o: Any, mapping: Any, ns: str, name: str) -> None:
    """``--rm``: delete the pod (gone already is fine) and say so as ``kubectl delete`` does."""
    from tinykube.api import errors as api

    try:
        await f.client.call("DELETE", mapping.path(ns, name))
    except api.NotFound:
        return
    if not o.quiet:
        f.out.write(f'pod "{name}" deleted from {ns} namespace\n')
        f.out.flush()
