"""``kubectl attach`` and ``kubectl run -i`` (the real kubectl) against a whole cluster.

Attach joins a container's own process: its live output (not the log's
past), its stdin when the container has ``stdin: true`` (closed after the
first client with ``stdinOnce``), and its terminal when it has ``tty: true``
(driven here from a pseudo-terminal, as a user's shell would). ``run -i``
creates a pod with stdin, attaches, and with ``--rm`` deletes it afterwards.

``Session`` (a command on a pty or on pipes, read line by line with a
deadline) is shared with the tkctl tests.
"""

from __future__ import annotations

import fcntl
import json
import os
import queue
import select
import struct
import subprocess
import termios
import threading
import time
from collections.abc import Iterator

import pytest
from cluster import ApiServer, kubectl_binary, run_kubectl

pytestmark = pytest.mark.e2e

WAIT = 60.0


def pod_manifest(name: str, script: str, **container: object) -> str:
    body = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "restartPolicy": "Never",
            "containers": [
                {"name": name, "image": "busybox", "command": ["sh", "-c", script], **container}
            ],
        },
    }
    return json.dumps(body)


def kubectl(server: ApiServer, *args: str, input: str | None = None) -> str:
    result = run_kubectl(server, *args, input=input)
    assert result.returncode == 0, f"kubectl {' '.join(args)}: {result.stderr}"
    return result.stdout


def start_pod(server: ApiServer, name: str, script: str, **container: object) -> None:
    kubectl(server, "apply", "-f", "-", input=pod_manifest(name, script, **container))
    kubectl(server, "wait", "--for=condition=Ready", f"pod/{name}", f"--timeout={WAIT:.0f}s")


def environment(server: ApiServer) -> dict[str, str]:
    return {**os.environ, "KUBECONFIG": str(server.kubeconfig)}


class Session:
    """A command whose output is read as it comes, on a pty (``tty=True``) or on pipes."""

    def __init__(self, argv: list[str], env: dict[str, str], tty: bool = False) -> None:
        self.output = b""
        self._chunks: queue.Queue[bytes] = queue.Queue()
        if tty:
            master, slave = os.openpty()
            fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
            self.proc = subprocess.Popen(
                argv, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True
            )
            os.close(slave)
            self._in, self._out = master, master
        else:
            self.proc = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=env,
            )
            assert self.proc.stdin and self.proc.stdout and self.proc.stderr
            self._in, self._out = self.proc.stdin.fileno(), self.proc.stdout.fileno()
            self.stderr = self.proc.stderr
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        while True:
            ready, _, _ = select.select([self._out], [], [], 0.2)
            if not ready:
                if self.proc.poll() is not None:
                    return
                continue
            try:
                data = os.read(self._out, 4096)
            except OSError:
                data = b""
            if not data:
                return
            self._chunks.put(data)

    def send(self, data: bytes) -> None:
        os.write(self._in, data)

    def close_stdin(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()

    def expect(self, text: bytes, seconds: float = WAIT) -> bytes:
        """Wait until ``text`` was printed; everything printed so far."""
        deadline = time.monotonic() + seconds
        while text not in self.output:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{text!r} not printed; got {self.output!r}")
            try:
                self.output += self._chunks.get(timeout=min(left, 0.5))
            except queue.Empty:
                continue
        return self.output

    def wait(self, seconds: float = WAIT) -> int:
        code = self.proc.wait(seconds)
        time.sleep(0.2)  # let the reader drain what is left
        while not self._chunks.empty():
            self.output += self._chunks.get()
        return code

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def session_factory() -> Iterator[list[Session]]:
    sessions: list[Session] = []
    yield sessions
    for session in sessions:
        session.stop()


ECHO = 'echo started; while read line; do echo "got: $line"; echo "err: $line" >&2; done'


def test_attach_forwards_stdin_and_streams_both_outputs(
    apiserver: ApiServer, session_factory: list[Session]
) -> None:
    start_pod(apiserver, "echoer", ECHO, stdin=True)
    session = Session([kubectl_binary(), "attach", "-i", "echoer"], environment(apiserver))
    session_factory.append(session)
    session.send(b"one\n")
    session.expect(b"got: one\n")
    session.send(b"two\n")
    session.expect(b"got: two\n")
    session.close_stdin()  # a plain stdin (no stdinOnce): the session ends, the process goes on
    assert session.wait() == 0
    assert b"err: one" in session.stderr.read()
    assert b"started" not in session.output  # written before we attached
    logs = kubectl(apiserver, "logs", "echoer")
    assert "got: two" in logs
    assert kubectl(apiserver, "get", "pod", "echoer", "-o", "jsonpath={.status.phase}") == "Running"


def test_attach_shows_only_output_written_after_it_attached(apiserver: ApiServer) -> None:
    script = "echo early-line; while true; do sleep 0.3; echo later-line; done"
    start_pod(apiserver, "ticker", script)
    result = subprocess.run(
        ["timeout", "4", kubectl_binary(), "attach", "ticker"],
        capture_output=True,
        text=True,
        env=environment(apiserver),
    )
    assert "later-line" in result.stdout, result.stderr
    assert "early-line" not in result.stdout
    assert "If you don't see a command prompt, try pressing enter." in result.stderr


def test_stdin_once_closes_the_process_stdin_after_the_first_client(
    apiserver: ApiServer,
) -> None:
    start_pod(apiserver, "once", "cat; echo stdin-closed", stdin=True, stdinOnce=True)
    result = subprocess.run(
        [kubectl_binary(), "attach", "-i", "once"],
        input="abc\n",
        capture_output=True,
        text=True,
        env=environment(apiserver),
        timeout=WAIT,
    )
    # The client's end of stdin closed the process's: cat ended and the container with it.
    assert result.returncode == 0, result.stderr
    assert "stdin-closed" in kubectl(apiserver, "logs", "once")
    assert "abc" in kubectl(apiserver, "logs", "once")


def test_stdin_for_a_container_without_stdin_is_dropped(apiserver: ApiServer) -> None:
    # As containerd does: no error, the input goes nowhere, the output still streams
    # and the session lasts until the container exits.
    start_pod(apiserver, "deaf", "sleep 2; for i in 1 2 3 4 5 6; do echo tick-$i; sleep 0.5; done")
    result = subprocess.run(
        [kubectl_binary(), "attach", "-i", "deaf"],
        input="ignored\n",
        capture_output=True,
        text=True,
        env=environment(apiserver),
        timeout=WAIT,
    )
    assert result.returncode == 0, result.stderr
    assert "tick-6" in result.stdout
    assert "ignored" not in kubectl(apiserver, "logs", "deaf")


def test_attach_to_a_terminal_container(
    apiserver: ApiServer, session_factory: list[Session]
) -> None:
    start_pod(apiserver, "term", "exec sh", stdin=True, tty=True)
    session = Session([kubectl_binary(), "attach", "-it", "term"], environment(apiserver), tty=True)
    session_factory.append(session)
    session.expect(b"try pressing enter.")
    session.send(b"tty; stty size; echo marker-$((6*7))\r")
    out = session.expect(b"marker-42")
    assert b"/dev/pts/" in out  # the shell runs on a terminal
    assert b"30 100" in out  # kubectl's window size reached it
    session.send(b"\x10\x11")  # kubectl's detach keys: the shell goes on
    assert session.wait() == 0
    assert b"Session ended, resume using 'kubectl attach term -c term" in session.output
    assert kubectl(apiserver, "get", "pod", "term", "-o", "jsonpath={.status.phase}") == "Running"


def test_run_interactive_with_rm_prints_the_output_and_deletes_the_pod(
    apiserver: ApiServer,
) -> None:
    result = run_kubectl(
        apiserver,
        *("run", "hi", "-i", "--rm", "--restart=Never", "--image=busybox"),
        *("--command", "--", "echo", "hi"),
    )
    assert result.returncode == 0, result.stderr
    assert "hi\n" in result.stdout
    assert result.stdout.endswith('pod "hi" deleted from default namespace\n')
    gone = run_kubectl(apiserver, "get", "pod", "hi")
    assert 'pods "hi" not found' in gone.stderr


def test_run_with_args_and_no_command_runs_the_args(apiserver: ApiServer) -> None:
    """``kubectl run … -- cmd`` puts cmd in args; an image without an entrypoint runs them."""
    result = run_kubectl(
        apiserver,
        *("run", "argsonly", "-i", "--rm", "--restart=Never", "--image=busybox"),
        *("--", "sh", "-c", "echo from-args"),
    )
    assert result.returncode == 0, result.stderr
    assert "from-args\n" in result.stdout


@pytest.mark.skipif(os.geteuid() != 0, reason="pods get the cluster's resolv.conf as root")
def test_the_cka_dns_check(apiserver: ApiServer) -> None:
    """``nslookup kubernetes.default`` from a throwaway busybox pod, as the CKA curriculum
    checks cluster DNS (the host has no nslookup: the runtime's own answers)."""
    dns = ("-n", "kube-system", "get", "pods", "-l", "k8s-app=kube-dns", "-o", "jsonpath")
    ready = "{.items[*].status.conditions[?(@.type=='Ready')].status}"
    deadline = time.monotonic() + WAIT
    while "True" not in kubectl(apiserver, *dns, "--template", ready):
        assert time.monotonic() < deadline, "CoreDNS never became Ready"
        time.sleep(0.5)
    result = run_kubectl(
        apiserver,
        *("run", "dnscheck", "-i", "--rm", "--restart=Never", "--image=busybox:1.28"),
        *("--", "nslookup", "kubernetes.default"),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    cluster_ip = kubectl(apiserver, "get", "svc", "kubernetes", "-o", "jsonpath={.spec.clusterIP}")
    assert "Name:\tkubernetes.default.svc.cluster.local\n" in result.stdout
    assert f"Address: {cluster_ip}\n" in result.stdout


def test_run_interactive_feeds_stdin_and_returns_the_exit_code(apiserver: ApiServer) -> None:
    script = 'read x; echo "read: $x"; exit 3'
    result = run_kubectl(
        apiserver,
        *("run", "reader", "-i", "--rm", "--restart=Never", "--image=busybox"),
        *("--command", "--", "sh", "-c", script),
        input="from-stdin\n",
    )
    assert result.returncode == 3
    assert "read: from-stdin\n" in result.stdout
    assert "pod default/reader terminated (Error)" in result.stderr


def test_run_with_a_terminal(apiserver: ApiServer, session_factory: list[Session]) -> None:
    argv = [kubectl_binary(), "run", "shell", "-it", "--rm", "--restart=Never"]
    argv += ["--image=busybox", "--command", "--", "sh", "-c", "read x; echo got=$x"]
    session = Session(argv, environment(apiserver), tty=True)
    session_factory.append(session)
    session.expect(b"try pressing enter.")
    session.send(b"hello\r")
    session.expect(b"got=hello")
    assert session.wait() == 0
    assert b'pod "shell" deleted' in session.output


def test_attach_to_a_pod_that_is_gone(apiserver: ApiServer) -> None:
    result = run_kubectl(apiserver, "attach", "nothing-here")
    assert result.returncode == 1
    assert result.stderr == 'Error from server (NotFound): pods "nothing-here" not found\n'
