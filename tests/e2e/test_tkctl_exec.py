"""tkctl exec, attach and run -i against the real kubectl, on one cluster.

Exec is compared exactly: the same command line runs through both tools
against the same pod, and stdout, stderr and the exit code must be equal
(a non-zero exit, a missing pod or container, usage errors, ``-t`` without a
terminal, stdin). Attach and ``run -i`` are checked for the behaviour
kubectl shows (``test_attach`` pins kubectl's own): the session's output,
the exit code, the pod deleted by ``--rm``, and a terminal session driven
from a pseudo-terminal.
"""

from __future__ import annotations

import shlex
import subprocess

import pytest
from cluster import ApiServer, run_kubectl
from test_attach import ECHO, WAIT, Session, environment, kubectl, start_pod
from test_tkctl import tkctl_command

pytestmark = pytest.mark.e2e


def tkctl(
    server: ApiServer, line: str, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*tkctl_command(), *shlex.split(line)],
        input=input,
        capture_output=True,
        text=True,
        env=environment(server),
        timeout=WAIT,
    )


@pytest.fixture(scope="module")
def pods(apiserver: ApiServer) -> ApiServer:
    start_pod(apiserver, "box", "exec sleep 3600")
    body = (
        '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"duo"},"spec":{"containers":['
        '{"name":"first","image":"busybox","command":["sleep","3600"]},'
        '{"name":"second","image":"busybox","command":["sleep","3600"]}]}}'
    )
    kubectl(apiserver, "apply", "-f", "-", input=body)
    kubectl(apiserver, "wait", "--for=condition=Ready", "pod/duo", f"--timeout={WAIT:.0f}s")
    pending = (
        '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"pending"},"spec":{'
        '"nodeSelector":{"no-such":"node"},'
        '"containers":[{"name":"c","image":"busybox","command":["sleep","1"]}]}}'
    )
    kubectl(apiserver, "apply", "-f", "-", input=pending)
    kubectl(
        apiserver, "create", "deployment", "pair", "--image=busybox", "--replicas=2",
        "--", "sh", "-c", "echo started; exec sleep 3600",
    )  # fmt: skip
    kubectl(apiserver, "rollout", "status", "deploy/pair", f"--timeout={WAIT:.0f}s")
    return apiserver


@pytest.mark.parametrize(
    ("line", "stdin"),
    [
        ("exec box -- echo hello", None),
        ("exec box -- sh -c 'echo out; echo err >&2; exit 3'", None),
        ("exec box -- false", None),
        ("exec box -c nope -- true", None),
        ("exec nopod -- true", None),
        ("exec box", None),
        ("exec", None),
        ("exec box extra -- true", None),
        ("exec pod/box -- echo through-type", None),
        ("exec duo -- echo defaulted", None),
        ("exec duo -c second -- echo second", None),
        ("exec -t box -- echo no-stdin-no-tty", None),
        ("exec -it box -- tty", ""),
        ("exec -i box -- sh -c 'cat; echo done'", "piped in\n"),
        ("exec box -- /no/such/program", None),
        ("exec pending -- true", None),
        ("exec deploy/pair -- echo through-a-workload", None),
        ("exec deploy/nope -- true", None),
        ("logs deploy/pair", None),
    ],
)
def test_exec_matches_kubectl(pods: ApiServer, line: str, stdin: str | None) -> None:
    real = run_kubectl(pods, *shlex.split(line), input=stdin)
    ours = tkctl(pods, line, input=stdin)
    assert (ours.stdout, ours.stderr, ours.returncode) == (
        real.stdout,
        real.stderr,
        real.returncode,
    )


def test_exec_with_a_terminal(pods: ApiServer) -> None:
    session = Session(
        [*tkctl_command(), "exec", "-it", "box", "--", "sh"], environment(pods), tty=True
    )
    try:
        session.send(b"tty; stty size; exit 4\r")
        out = session.expect(b"command terminated with exit code 4")
        assert b"/dev/pts/" in out
        assert b"30 100" in out
        assert session.wait() == 4
    finally:
        session.stop()


def test_attach_forwards_stdin_and_streams_output(pods: ApiServer) -> None:
    start_pod(pods, "echoer", ECHO, stdin=True)
    session = Session([*tkctl_command(), "attach", "-i", "echoer"], environment(pods))
    try:
        session.send(b"one\n")
        session.expect(b"got: one\n")
        session.close_stdin()
        assert session.wait() == 0
        err = session.stderr.read().decode()
        assert err.startswith("All commands and output from this session will be recorded")
        assert "err: one" in err
    finally:
        session.stop()


def test_attach_to_a_terminal_container(pods: ApiServer) -> None:
    start_pod(pods, "term", "exec sh", stdin=True, tty=True)
    session = Session([*tkctl_command(), "attach", "-it", "term"], environment(pods), tty=True)
    try:
        session.expect(b"try pressing enter.")
        session.send(b"echo marker-$((6*7))\r")
        session.expect(b"marker-42")
        session.send(b"\x10\x11")
        assert session.wait() == 0
        assert b"Session ended, resume using 'kubectl attach term -c term" in session.output
    finally:
        session.stop()


@pytest.mark.parametrize(
    "line",
    [
        "attach nopod",
        "attach box -c nope",
        "attach",
        "attach a b c",
        "attach pending -q",
        "run x --image=busybox --rm",
        "run x --image=busybox -t",
        "run x --image=busybox -i --dry-run=client",
    ],
)
def test_attach_and_run_errors_match_kubectl(pods: ApiServer, line: str) -> None:
    real = run_kubectl(pods, *shlex.split(line))
    ours = tkctl(pods, line)
    assert (ours.stdout, ours.stderr, ours.returncode) == (
        real.stdout,
        real.stderr,
        real.returncode,
    )


def test_run_interactive_with_rm(pods: ApiServer) -> None:
    result = tkctl(pods, "run hi -i --rm --restart=Never --image=busybox --command -- echo hi")
    assert result.returncode == 0, result.stderr
    assert "hi\n" in result.stdout
    assert result.stdout.endswith('pod "hi" deleted from default namespace\n')
    assert 'pods "hi" not found' in run_kubectl(pods, "get", "pod", "hi").stderr


def test_run_interactive_feeds_stdin_and_returns_the_exit_code(pods: ApiServer) -> None:
    line = "run reader -i --rm --restart=Never --image=busybox --command -- sh -c"
    result = tkctl(pods, f"{line} 'read x; echo \"read: $x\"; exit 3'", input="from-stdin\n")
    real_line = line.replace("reader", "reader2")
    real = run_kubectl(
        pods, *shlex.split(real_line), 'read x; echo "read: $x"; exit 3', input="from-stdin\n"
    )
    assert result.returncode == real.returncode == 3
    assert result.stdout == real.stdout.replace("reader2", "reader")
    assert result.stderr == real.stderr.replace("reader2", "reader")


def test_run_with_a_terminal(pods: ApiServer) -> None:
    argv = [*tkctl_command(), "run", "shell", "-it", "--rm", "--restart=Never"]
    argv += ["--image=busybox", "--command", "--", "sh", "-c", "read x; echo got=$x"]
    session = Session(argv, environment(pods), tty=True)
    try:
        session.expect(b"try pressing enter.")
        session.send(b"hello\r")
        session.expect(b"got=hello")
        assert session.wait() == 0
        assert b'pod "shell" deleted from default namespace' in session.output
    finally:
        session.stop()
