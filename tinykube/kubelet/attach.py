"""``/attach`` on the kubelet: a running container's own stdio, over a WebSocket.

``kubectl attach`` (and ``kubectl run -i``) reach this through the API
server's ``pods/attach``, with the channel protocol of ``/exec``
(``execstream``): stdout on 1, stderr on 2, the final status on 3, resizes
on 4, and in v5 the client's end of stdin as ``[255, 0]``. Unlike exec no
process is started; the client joins the container's process, as the CRI's
Attach does (containerd's ``ContainerIO.Attach`` is the model):

- output is live: what the container writes from the moment of attaching,
  never the log's past; the session ends with a Success status when the
  container's output ends (it exited);
- input goes to the process's stdin only if the container was started with
  ``stdin: true`` (otherwise it is dropped, without an error, as containerd
  drops it);
- when the client's stdin ends (its ``[255, 0]``, or it goes away) and the
  container has ``stdinOnce`` without a terminal, the process's stdin is
  closed for good and output keeps flowing until the container exits; in
  every other case the session simply ends there;
- a ``tty`` container's terminal output (stdout and stderr together) is on
  channel 1, and resizes set the terminal's window size. With ``stdinOnce``
  a terminal's input is closed once its first client disconnects.

A container that is known but not running is refused after the upgrade
with the status containerd's attach gives (``container is in
CONTAINER_EXITED state``), so that ``kubectl run -i`` falls back to the
logs of a container that finished before kubectl attached.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from tinykube.kubelet import execstream
from tinykube.kubelet.execstream import CLOSE, ERROR, RESIZE, STDERR, STDIN, STDOUT
from tinykube.kubelet.runtime.interface import Attachment, RuntimeError_

if TYPE_CHECKING:
    from tinykube.kubelet.kubelet import Kubelet

CHANNELS = {"stdout": STDOUT, "stderr": STDERR}
# What _from_client answers when it returns: the client ended its stdin, or went away.
STDIN_ENDED, CLIENT_GONE = "stdin ended", "client gone"


def internal_error(message: str) -> dict[str, Any]:
    """An ``InternalError`` Status, worded as the kubelet's stream server words it."""
    return {
        "metadata": {},
        "status": "Failure",
        "message": f"Internal error occurred: {message}",
        "reason": "InternalError",
        "details": {"causes": [{"message": message}]},
        "code": 500,
    }


def _container_spec(pod: dict[str, Any], name: str) -> dict[str, Any]:
    spec = pod.get("spec") or {}
    for key in ("containers", "initContainers", "ephemeralContainers"):
        for c in spec.get(key) or []:
            if c.get("name") == name:
                return dict(c)
    return {}


async def serve_attach(kubelet: Kubelet, request: web.Request) -> web.StreamResponse:
    from tinykube.kubelet.server import status_response

    ns, pod_name = request.match_info["namespace"], request.match_info["pod"]
    name = request.match_info["container"]
    worker = kubelet.find_worker(ns, pod_name)
    if worker is None:
        return status_response(404, "NotFound", f'pods "{pod_name}" not found')
    cid = worker.container_ids.get(name)
    if cid is None:
        # The kubelet's own words (GetAttach), with the pod's full name "<name>_<namespace>".
        message = f"container {name} not found in pod {pod_name}_{ns}"
        return status_response(500, "InternalError", message)
    ws = await execstream.upgrade(request)
    if isinstance(ws, web.Response):
        return ws
    try:
        attachment = await kubelet.runtime.attach(cid)
    except RuntimeError_ as exc:
        failure = internal_error(f"error attaching to container: {exc}")
        await execstream.send(ws, ERROR, orjson.dumps(failure))
        await ws.close()
        return ws
    spec = _container_spec(worker.pod, name)
    stdin = execstream.flag(request.query, "input", "stdin") and attachment.stdin
    try:
        await _stream(ws, attachment, stdin, bool(spec.get("stdinOnce")))
        await execstream.send(ws, ERROR, orjson.dumps(execstream.SUCCESS))
    finally:
        attachment.close()
        await ws.close()
    return ws


async def _stream(
    ws: web.WebSocketResponse, attachment: Attachment, stdin: bool, stdin_once: bool
) -> None:
    """Copy both ways until the container's output ends or the client's side does."""
    async with asyncio.TaskGroup() as tg:
        output = tg.create_task(_to_client(ws, attachment))
        client = tg.create_task(_from_client(ws, attachment, stdin))
        await asyncio.wait({output, client}, return_when=asyncio.FIRST_COMPLETED)
        if not client.done():
            client.cancel()  # the container exited: nothing more to say
            return
        if stdin_once and stdin and (client.result() == CLIENT_GONE or not attachment.tty):
            await attachment.close_stdin()
            if not attachment.tty and client.result() == STDIN_ENDED:
                return  # the output keeps flowing to the client until the container exits
        output.cancel()


async def _to_client(ws: web.WebSocketResponse, attachment: Attachment) -> None:
    while (chunk := await attachment.read()) is not None:
        stream, data = chunk
        await execstream.send(ws, CHANNELS.get(stream, STDOUT), data)


async def _from_client(ws: web.WebSocketResponse, attachment: Attachment, stdin: bool) -> str:
    async for channel, payload in execstream.client_frames(ws):
        if channel == STDIN and stdin:
            await attachment.write(payload)
        elif channel == RESIZE:
            size = execstream.parse_resize(payload)
            if size is not None:
                attachment.resize(*size)
        elif channel == CLOSE and payload[:1] == bytes([STDIN]) and stdin:
            return STDIN_ENDED
    return CLIENT_GONE
