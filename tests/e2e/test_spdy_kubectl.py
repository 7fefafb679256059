"""exec, attach, cp and port-forward over SPDY/3.1, as kubectl before 1.30 speaks them.

kubectl 1.30 moved exec, attach and cp to WebSockets and 1.31 moved
port-forward; the older protocol is still what those kubectl versions send,
and what a current kubectl sends with ``KUBECTL_REMOTE_COMMAND_WEBSOCKETS``
and ``KUBECTL_PORT_FORWARD_WEBSOCKETS`` set to false. That is how these tests
get it from the pinned kubectl: an HTTP upgrade to ``SPDY/3.1`` and one SPDY
stream per channel, which the API server translates to the kubelet's
WebSocket.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from typing import Any

import pytest
from cluster import ApiServer, kubectl_binary
from test_attach import ECHO, Session, kubectl, start_pod

pytestmark = pytest.mark.e2e

SPDY_ENV = {
    "KUBECTL_REMOTE_COMMAND_WEBSOCKETS": "false",
    "KUBECTL_PORT_FORWARD_WEBSOCKETS": "false",
}


def env(server: ApiServer) -> dict[str, str]:
    return {**os.environ, "KUBECONFIG": str(server.kubeconfig), **SPDY_ENV}


def spdy_kubectl(
    server: ApiServer, *args: str, input: str | bytes | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [kubectl_binary(), *args],
        input=input,
        capture_output=True,
        text=True,
        env=env(server),
        timeout=90,
        check=False,
    )


@pytest.fixture(scope="module")
def box(apiserver: ApiServer) -> ApiServer:
    start_pod(apiserver, "box", "sleep 3600")
    return apiserver


def test_exec_streams_both_outputs_and_the_exit_code(box: ApiServer) -> None:
    result = spdy_kubectl(box, "exec", "box", "--", "sh", "-c", "echo out; echo err >&2; exit 3")
    assert result.returncode == 3, result.stderr
    assert result.stdout == "out\n"
    assert "err\n" in result.stderr
    assert "command terminated with exit code 3" in result.stderr


def test_exec_feeds_stdin_until_its_end(box: ApiServer) -> None:
    result = spdy_kubectl(
        box, "exec", "-i", "box", "--", "sh", "-c", "wc -l; echo done", input="a\nb\nc\n"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["3", "done"]


def test_exec_with_a_terminal_gets_its_size(box: ApiServer) -> None:
    session = Session([kubectl_binary(), "exec", "-it", "box", "--", "sh"], env(box), tty=True)
    try:
        session.send(b"tty; stty size; echo marker-$((6*7)); exit 5\r")
        out = session.expect(b"command terminated with exit code 5")
        assert b"marker-42" in out
        assert b"/dev/pts/" in out
        assert b"30 100" in out  # the resize stream carried kubectl's window size
        assert session.wait() == 5
    finally:
        session.stop()


def test_cp_both_ways(box: ApiServer, tmp_path: object) -> None:
    from pathlib import Path

    local = Path(str(tmp_path)) / "in.txt"
    local.write_text("copied over SPDY\n")
    up = spdy_kubectl(box, "cp", str(local), "box:/tmp/in.txt")
    assert up.returncode == 0, up.stderr
    back = Path(str(tmp_path)) / "back.txt"
    down = spdy_kubectl(box, "cp", "box:/tmp/in.txt", str(back))
    assert down.returncode == 0, down.stderr
    assert back.read_text() == "copied over SPDY\n"


def test_attach_forwards_stdin_and_both_outputs(apiserver: ApiServer) -> None:
    start_pod(apiserver, "spdy-echoer", ECHO, stdin=True)
    session = Session([kubectl_binary(), "attach", "-i", "spdy-echoer"], env(apiserver))
    try:
        session.send(b"one\n")
        session.expect(b"got: one\n")
        session.close_stdin()
        assert session.wait() == 0
        assert "err: one" in session.stderr.read().decode()
    finally:
        session.stop()
    assert "got: one" in kubectl(apiserver, "logs", "spdy-echoer")


def test_the_variables_make_kubectl_speak_spdy(box: ApiServer) -> None:
    """What makes the tests above mean anything: kubectl asked for SPDY and got it."""
    result = spdy_kubectl(box, "exec", "box", "-v=8", "--", "true")
    assert result.returncode == 0, result.stderr
    assert 'status="101 Switching Protocols"' in result.stderr
    assert "Upgrade: SPDY/3.1\n" in result.stderr
    assert "X-Stream-Protocol-Version: v5.channel.k8s.io\n" in result.stderr


async def upgrade(server: ApiServer, path: str, *versions: str) -> tuple[bytes, Any, Any]:
    """A bare HTTP/1.1 upgrade request to SPDY: the response head and the open connection."""
    from tinykube.client.kubeconfig import load_kubeconfig

    config = load_kubeconfig(server.kubeconfig)
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", server.port, ssl=config.ssl_context, server_hostname="127.0.0.1"
    )
    lines = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{server.port}"]
    lines += ["Connection: Upgrade", "Upgrade: SPDY/3.1", "Content-Length: 0"]
    lines += [f"{k}: {v}" for k, v in config.auth_headers().items()]
    lines += [f"X-Stream-Protocol-Version: {v}" for v in versions]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
    return head, reader, writer


async def test_no_common_protocol_version_is_refused(box: ApiServer) -> None:
    """The error httpstream gives when the versions do not meet: 403, both lists named."""
    path = "/api/v1/namespaces/default/pods/box/exec?command=true&stdout=true"
    head, reader, writer = await upgrade(box, path, "channel.k8s.io", "v2.channel.k8s.io")
    try:
        assert head.startswith(b"HTTP/1.1 403 Forbidden\r\n")
        length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        status = json.loads(await reader.readexactly(length))
    finally:
        writer.close()
    assert status["reason"] == "Forbidden"
    assert status["message"] == (
        "unable to upgrade: unable to negotiate protocol: client supports "
        "[channel.k8s.io v2.channel.k8s.io], server accepts [v5.channel.k8s.io v4.channel.k8s.io]"
    )


async def test_streams_are_answered_frame_by_frame(box: ApiServer) -> None:
    """Each stream gets a SYN_REPLY, a client ping its echo, the output its stream, and the
    end a half-close of every stream the server writes to."""
    from tinykube.api import spdy

    path = "/api/v1/namespaces/default/pods/box/exec?command=echo&command=hi&stdout=true"
    head, reader, writer = await upgrade(box, path, "v4.channel.k8s.io")
    encoder, decoder = spdy.Encoder(), spdy.Decoder()
    frames: list[Any] = []

    async def next_frame() -> Any:
        while not frames:
            chunk = await asyncio.wait_for(reader.read(65536), 30)
            assert chunk, "the server hung up early"
            frames.extend(decoder.feed(chunk))
        return frames.pop(0)

    try:
        assert head.startswith(b"HTTP/1.1 101 Switching Protocols\r\n")
        assert b"\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\n" in head
        writer.write(encoder.encode(spdy.Ping(1)))
        assert await next_frame() == spdy.Ping(1)
        writer.write(encoder.encode(spdy.SynStream(1, {"streamtype": ["error"]})))
        assert await next_frame() == spdy.SynReply(1, {})
        writer.write(encoder.encode(spdy.SynStream(3, {"streamtype": ["stdout"]})))
        assert await next_frame() == spdy.SynReply(3, {})
        seen: dict[int, bytes] = {1: b"", 3: b""}
        finished: set[int] = set()
        while finished != {1, 3}:
            frame = await next_frame()
            assert isinstance(frame, spdy.Data), frame
            seen[frame.stream_id] += frame.data
            if frame.fin:
                finished.add(frame.stream_id)
        assert seen[3] == b"hi\n"
        assert json.loads(seen[1]) == {"metadata": {}, "status": "Success"}
    finally:
        writer.close()
