"""``kubectl exec [-i] [-t] (POD | TYPE/NAME) [-c CONTAINER] -- COMMAND [args...]``.

The pod is named directly or found through a workload's selector, and the
container defaults as kubectl defaults it (the ``default-container``
annotation, else the first, with a ``Defaulted container`` line when there
are several). The command runs through ``pods/exec`` over a WebSocket in the
remote-command protocol kubectl speaks (``v5.channel.k8s.io``, else v4):
channel 0 carries our stdin, 1 and 2 the command's stdout and stderr, 3 the
final ``Status``, 4 terminal resizes, and ``[255, 0]`` ends our stdin (v5).

The exit code is the remote command's, as kubectl returns it
(``command terminated with exit code N`` on stderr). ``-i`` forwards stdin;
``-t`` with ``-i`` puts a terminal on stdin into raw mode for the session
(kubectl's ``Unable to use a TTY`` line when stdin is no terminal).

``stream`` (the session itself) is shared with ``attach`` and ``run -i``.
aiohttp is imported only here, inside the streaming command: tkctl's usual
transport is synchronous and must not pay for it at start-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from tinykube.kubectl import podpick
from tinykube.kubectl.errors import CommandError, ExitCode, UsageError
from tinykube.kubectl.flags import Flag

Obj = dict[str, Any]

USES_EVENT_LOOP = True  # a WebSocket session: see pacing

FLAGS = [
    Flag("container", "c"),
    Flag("stdin", "i", kind="bool", default=False),
    Flag("tty", "t", kind="bool", default=False),
    Flag("quiet", "q", kind="bool", default=False),
    Flag("pod-running-timeout", default="1m0s"),
]

PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")
STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255
DEFAULT_CONTAINER = "kubectl.kubernetes.io/default-container"
NOT_A_TERMINAL = "Unable to use a TTY - input is not a terminal or the right kind of file"
# kubectl's default detach sequence for attach in raw mode: ctrl-p, ctrl-q.
DETACH_KEYS = b"\x10\x11"
READ_CHUNK = 32 * 1024


# ---- finding the pod and the container ------------------------------------------------


async def attachable_pod(f: Any, target: str) -> Obj:
    """The pod ``target`` names (``POD``, ``pod/NAME`` or a workload whose pods to use)."""
    ns = f.namespace
    if "/" not in target:
        return dict(await f.client.call("GET", f"/api/v1/namespaces/{ns}/pods/{target}"))
    kind, _, name = target.partition("/")
    return dict((await podpick.pods_for(f, kind, name))[0])


def container_of(f: Any, pod: Obj, name: str | None, quiet: bool) -> Obj:
    """The container to use: ``name``, else the default one (saying so, as kubectl does)."""
    spec = pod.get("spec") or {}
    every = [
        c
        for key in ("initContainers", "containers", "ephemeralContainers")
        for c in spec.get(key) or []
    ]
    if name:
        for c in every:
            if c.get("name") == name:
                return dict(c)
        names = ", ".join(c.get("name", "") for c in every)
        pod_name = (pod.get("metadata") or {}).get("name")
        raise CommandError(f"container {name} is not valid for pod {pod_name} out of: {names}")
    containers = spec.get("containers") or []
    default = ((pod.get("metadata") or {}).get("annotations") or {}).get(DEFAULT_CONTAINER)
    for c in containers:
        if default and c.get("name") == default:
            return dict(c)
    if len(containers) > 1 and not quiet:
        names = ", ".join(c.get("name", "") for c in containers)
        f.err.write(f'Defaulted container "{containers[0].get("name")}" out of: {names}\n')
    if not containers:
        raise CommandError(f"pod {(pod.get('metadata') or {}).get('name')} has no containers")
    return dict(containers[0])


# ---- the terminal ---------------------------------------------------------------------


@dataclass
class Terminal:
    """Our stdin as the session uses it: forwarded or not, and raw while it runs."""

    stdin: bool
    raw: bool

    @classmethod
    def setup(cls, f: Any, stdin: bool, tty: bool, quiet: bool) -> Terminal:
        """kubectl's ``SetupTTY``: a TTY needs stdin, and stdin must be a terminal."""
        if not stdin:
            return cls(False, False)
        if tty and not os.isatty(0):
            if not quiet:
                f.err.write(NOT_A_TERMINAL + "\n")
            return cls(True, False)
        return cls(True, tty)

    @contextlib.contextmanager
    def raw_mode(self) -> Any:
        if not self.raw:
            yield
            return
        import termios
        import tty

        saved = termios.tcgetattr(0)
        tty.setraw(0, termios.TCSANOW)  # TCSAFLUSH would drop what was typed ahead
        try:
            yield
        finally:
            termios.tcsetattr(0, termios.TCSADRAIN, saved)


def _size() -> bytes | None:
    try:
        columns, lines = os.get_terminal_size(0)
    except OSError:
        return None
    return json.dumps({"Width": columns, "Height": lines}).encode()


def _stdin_reader(loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[bytes]) -> None:
    """Read our stdin in a daemon thread (a blocked read must never hold the exit up)."""

    def work() -> None:
        while True:
            try:
                data = os.read(0, READ_CHUNK)
            except OSError:
                data = b""
            loop.call_soon_threadsafe(queue.put_nowait, data)
            if not data:
                return

    threading.Thread(target=work, name="stdin", daemon=True).start()


# ---- the session ----------------------------------------------------------------------


async def stream(
    f: Any, path: str, params: list[tuple[str, str]], term: Terminal, detachable: bool = False
) -> Obj:
    """One remote-command session; the final ``Status`` (Success if the server sent none)."""
    import aiohttp

    config = f.config
    url = config.server.rstrip("/") + path
    headers = {**config.auth_headers(), "User-Agent": "kubectl/v1.37.1 (linux/amd64) tinykube"}
    secure = urlsplit(url).scheme == "https"
    ssl: Any = config.ssl_context if secure else None
    extra = {"server_hostname": config.tls_server_name} if secure and config.tls_server_name else {}
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=30)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        try:
            ws = await session.ws_connect(
                url,
                params=params,
                protocols=PROTOCOLS,
                headers=headers,
                ssl=ssl if ssl is not None else True,  # True: aiohttp's default checks
                max_msg_size=0,
                autoping=True,
                **extra,
            )
        except aiohttp.WSServerHandshakeError:
            raise CommandError(await _upgrade_failure(f, path, params)) from None
        except aiohttp.ClientError as exc:
            raise CommandError(str(exc)) from None
        async with ws:
            with term.raw_mode():
                return await _session(f, ws, term, detachable)


async def _upgrade_failure(f: Any, path: str, params: list[tuple[str, str]]) -> str:
    """Why the server refused the upgrade, worded as kubectl words it after its fallback."""
    from tinykube.api import errors

    try:
        await f.client.send("POST", path, params=dict(params))
    except errors.APIError as exc:
        return f"unable to upgrade connection: {exc.message or exc}"
    return "unable to upgrade connection"


async def _session(f: Any, ws: Any, term: Terminal, detachable: bool) -> Obj:
    import aiohttp

    v5 = ws.protocol == PROTOCOLS[0]
    status: Obj = {"status": "Success"}
    out, err = f.out.buffer if hasattr(f.out, "buffer") else None, f.err
    f.out.flush()
    sender = asyncio.create_task(_send_input(ws, term, v5, detachable))
    try:
        async for msg in ws:
            if msg.type != aiohttp.WSMsgType.BINARY or not msg.data:
                continue
            channel, payload = msg.data[0], msg.data[1:]
            if channel == STDOUT:
                _write(out, f.out, payload)
            elif channel == STDERR:
                _write(getattr(err, "buffer", None), err, payload)
            elif channel == ERROR:
                with contextlib.suppress(ValueError):
                    status = json.loads(payload)
        if sender.done() and sender.result() == "detached":
            return {"status": "Success", "detached": True}
    finally:
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sender
    return status


def _write(binary: Any, text: Any, data: bytes) -> None:
    if binary is not None:
        binary.write(data)
        binary.flush()
    else:
        text.write(data.decode(errors="replace"))
        text.flush()


async def _send_input(ws: Any, term: Terminal, v5: bool, detachable: bool) -> str:
    """Forward stdin (and terminal sizes) until stdin ends; "detached" after the detach keys."""
    loop = asyncio.get_running_loop()
    if term.raw:
        size = _size()
        if size is not None:
            await ws.send_bytes(bytes([RESIZE]) + size)
        with contextlib.suppress(ValueError, RuntimeError):
            loop.add_signal_handler(signal.SIGWINCH, _on_resize, ws, loop)
    if not term.stdin:
        await asyncio.Future()  # nothing to send; run until the session ends
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    _stdin_reader(loop, queue)
    while data := await queue.get():
        if detachable and term.raw and DETACH_KEYS in data:
            before = data[: data.index(DETACH_KEYS)]
            if before:
                await ws.send_bytes(bytes([STDIN]) + before)
            await ws.close()
            return "detached"
        await ws.send_bytes(bytes([STDIN]) + data)
    if v5:
        await ws.send_bytes(bytes([CLOSE, STDIN]))
    await asyncio.Future()  # stdin is over; the output goes on until the server ends it
    return "eof"


def _on_resize(ws: Any, loop: asyncio.AbstractEventLoop) -> None:
    size = _size()
    if size is not None:
        loop.create_task(ws.send_bytes(bytes([RESIZE]) + size))


def exit_code_of(status: Obj) -> int | None:
    """The remote command's exit code of a ``NonZeroExitCode`` status (None otherwise)."""
    if status.get("reason") != "NonZeroExitCode":
        return None
    for cause in (status.get("details") or {}).get("causes") or []:
        if cause.get("reason") == "ExitCode":
            with contextlib.suppress(ValueError, TypeError):
                return int(cause.get("message"))
    return None


# ---- the command ----------------------------------------------------------------------


async def run(f: Any, o: Any) -> int:
    if not o.args:
        raise CommandError("pod, type/name or --filename must be specified")
    if len(o.args) > 1:
        raise UsageError(
            "error: exec [POD] [COMMAND] is not supported anymore. "
            "Use exec [POD] -- [COMMAND] instead\nSee 'kubectl exec -h' for help and examples"
        )
    command = list(o.after_dashes)
    if not command:
        raise CommandError("you must specify at least one command for the container")
    pod = await attachable_pod(f, o.args[0])
    phase = (pod.get("status") or {}).get("phase")
    if phase in ("Succeeded", "Failed"):
        raise CommandError(
            f"cannot exec into a container in a completed pod; current phase is {phase}"
        )
    container = container_of(f, pod, o.container, o.quiet)
    term = Terminal.setup(f, o.stdin, o.tty, o.quiet)
    params = [("container", container["name"])]
    params += [("command", c) for c in command]
    if term.stdin:
        params.append(("stdin", "true"))
    params.append(("stdout", "true"))
    if not term.raw:  # a terminal has one output stream
        params.append(("stderr", "true"))
    else:
        params.append(("tty", "true"))
    meta = pod["metadata"]
    path = f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}/exec"
    status = await stream(f, path, params, term)
    return _exit(f, status)


def _exit(f: Any, status: Obj) -> int:
    if status.get("status", "Success") == "Success":
        return 0
    code = exit_code_of(status)
    if code is not None:
        f.err.write(f"command terminated with exit code {code}\n")
        raise ExitCode(code)
    raise CommandError(status.get("message") or "error executing remote command")
