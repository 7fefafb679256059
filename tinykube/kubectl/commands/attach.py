"""``kubectl attach (POD | TYPE/NAME) [-c CONTAINER] [-i] [-t]``: join a running container.

No process is started: ``pods/attach`` joins the container's own stdio,
output from now on, stdin if the container has one (``exec.stream`` runs
the session). The TTY follows the container, as kubectl decides it: ``-t``
on a container without a terminal is dropped with kubectl's error line, and
a container with one forces it. Unless ``--quiet``, the session opens with
kubectl's two notice lines and, after a raw-terminal session, says how to
resume it. A completed pod cannot be attached to.

``attach_to`` (the session for a pod already found) is what ``run -i``
uses after it created its pod.
"""

from __future__ import annotations

from typing import Any

from tinykube.kubectl.commands import exec as remote
from tinykube.kubectl.errors import CommandError

Obj = dict[str, Any]

USES_EVENT_LOOP = True  # a WebSocket session: see pacing

FLAGS = remote.FLAGS

RECORDED = (
    "All commands and output from this session will be recorded in container logs, including "
    "credentials and sensitive information passed through the command prompt."
)
PROMPT = "If you don't see a command prompt, try pressing enter."


async def attach_to(
    f: Any, pod: Obj, container: Obj, stdin: bool, tty: bool, quiet: bool, command: str
) -> Obj:
    """Attach to ``container`` of ``pod``; the final status, after the session's last words."""
    name = container["name"]
    if tty and not container.get("tty"):
        tty = False
        if not quiet:
            f.err.write(f"error: Unable to use a TTY - container {name} did not allocate one\n")
    elif not tty and container.get("tty"):
        tty = True  # the container runs on a terminal: its output is one stream
    term = remote.Terminal.setup(f, stdin, tty, quiet)
    params = [("container", name)]
    if term.stdin:
        params.append(("stdin", "true"))
    params.append(("stdout", "true"))
    if term.raw:
        params.append(("tty", "true"))
    else:
        params.append(("stderr", "true"))
    if not quiet:
        f.err.write(RECORDED + "\n" + PROMPT + "\n")
        f.err.flush()
    meta = pod["metadata"]
    path = f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}/attach"
    status = await remote.stream(f, path, params, term, detachable=True)
    if status.get("status", "Success") != "Success":
        raise CommandError(status.get("message") or "error attaching to the container")
    if not quiet and term.stdin and term.raw:
        again = f"{command} {meta['name']} -c {name} -n {meta['namespace']} -i -t"
        debuggers = (pod.get("spec") or {}).get("ephemeralContainers") or []
        if any(c.get("name") == name for c in debuggers):
            f.out.write(
                "Session ended, the ephemeral container will not be restarted but may be "
                f"reattached using '{again}' if it is still running\n"
            )
        else:
            f.out.write(f"Session ended, resume using '{again}' command\n")
    return status


async def run(f: Any, o: Any) -> int:
    if not o.args:
        raise CommandError("at least 1 argument is required for attach")
    if len(o.args) > 2:
        raise CommandError(
            "expected POD, TYPE/NAME, or TYPE NAME, (at most 2 arguments) "
            f"saw {len(o.args)}: [{' '.join(o.args)}]"
        )
    target = "/".join(o.args) if len(o.args) == 2 else o.args[0]
    pod = await remote.attachable_pod(f, target)
    phase = (pod.get("status") or {}).get("phase")
    if phase in ("Succeeded", "Failed"):
        raise CommandError(
            f"cannot attach a container in a completed pod; current phase is {phase}"
        )
    try:
        container = remote.container_of(f, pod, o.container, o.quiet)
    except CommandError as exc:
        raise CommandError(f"cannot attach to the container: {exc}") from None
    await attach_to(f, pod, container, o.stdin, o.tty, o.quiet, "kubectl attach")
    return 0
