"""``tinykube up -d`` and ``tinykube down``: a cluster in the background, and stopping it.

Every ``up`` (foreground or not) writes its pid to ``<data-dir>/up.pid`` while
it runs and removes it when it stops, so a second ``up`` on the same data
directory refuses to start, and ``down`` can stop a cluster started either
way.

``up -d`` starts the same ``up`` again as a detached process (a session of
its own, no terminal, stdin from /dev/null, stdout and stderr appended to
``<data-dir>/logs/up.log``) and waits, on a pipe the child inherits
(``--notify-fd``), until the child says the cluster is up. Then it prints
what the foreground ``up`` prints and returns 0; if the child exits first,
it prints the end of the log and returns 1. The pipe, not a sleep or a
poll of the log, is what makes "returns once the cluster is up" exact.

``down`` sends the ``up`` process SIGTERM, which is exactly Ctrl-C: the
kubelets stop their pods (with their grace, bounded), kube-proxy removes its
Service addresses, ``up`` removes what is left of them and the pid file.
``down`` waits for that, and SIGKILLs only an ``up`` that did not finish in
``STOP_TIMEOUT`` seconds (its components die with it). With nothing running
it says so and exits 0, as ``docker compose down`` or ``systemctl stop`` do:
the state the user asked for holds, so scripts may call it unconditionally.
A pid file whose process is gone (after a crash, a reboot) is removed.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

PID_FILE = "up.pid"
LOG_FILE = Path("logs") / "up.log"
READY = b"ready\n"
START_TIMEOUT = 300.0
STOP_TIMEOUT = 60.0


class AlreadyRunning(Exception):
    """Another ``up`` runs from the same data directory."""


def pid_path(data_dir: Path) -> Path:
    return data_dir / PID_FILE


def log_path(data_dir: Path) -> Path:
    return data_dir / LOG_FILE


def _alive(pid: int) -> bool:
    """A live process (a zombie nobody reaped yet counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def _is_up(pid: int) -> bool:
    """Is ``pid`` a running ``tinykube up`` (and not some process that reused the pid)?"""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return _alive(pid) and b"up" in argv and any(b"tinykube" in a for a in argv)


def running_pid(data_dir: Path) -> int | None:
    """The pid of the ``up`` serving ``data_dir``, or None (a stale pid file is removed)."""
    path = pid_path(data_dir)
    try:
        pid = int(path.read_text().strip())
    except (OSError, ValueError):
        return None
    if pid != os.getpid() and _is_up(pid):
        return pid
    with contextlib.suppress(OSError):
        path.unlink()
    return None


def claim(data_dir: Path) -> None:
    """Record this process as the data directory's ``up``; refuse if another one runs."""
    pid = running_pid(data_dir)
    if pid is not None:
        raise AlreadyRunning(
            f"a cluster is already running from {data_dir} (pid {pid}); "
            f"stop it with: tinykube down --data-dir {data_dir}"
        )
    tmp = pid_path(data_dir).with_suffix(".tmp")
    tmp.write_text(f"{os.getpid()}\n")
    tmp.replace(pid_path(data_dir))


def unclaim(data_dir: Path) -> None:
    """Remove the pid file if it is still ours."""
    path = pid_path(data_dir)
    with contextlib.suppress(OSError, ValueError):
        if int(path.read_text().strip()) == os.getpid():
            path.unlink()


def notify_ready(fd: int | None) -> None:
    """In the detached ``up``: tell the waiting parent the cluster is up."""
    if fd is None:
        return
    with contextlib.suppress(OSError):
        os.write(fd, READY)
        os.close(fd)


def start_detached(argv: list[str], data_dir: Path) -> int:
    """Run ``tinykube <argv>`` (an ``up`` without ``-d``) detached; wait until it is up."""
    pid = running_pid(data_dir)
    if pid is not None:
        print(
            f"tinykube: a cluster is already running from {data_dir} (pid {pid})", file=sys.stderr
        )
        return 1
    log = log_path(data_dir)
    log.parent.mkdir(parents=True, exist_ok=True)
    read_end, write_end = os.pipe()
    with open(log, "ab") as out:
        child = subprocess.Popen(
            [sys.executable, "-m", "tinykube.cli", *argv, "--notify-fd", str(write_end)],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            pass_fds=(write_end,),
            start_new_session=True,
        )
    os.close(write_end)
    try:
        ready = _wait_ready(read_end, child)
    finally:
        os.close(read_end)
    if not ready:
        print(f"tinykube: the cluster did not start; the end of {log}:", file=sys.stderr)
        print(log.read_text(errors="replace")[-3000:], file=sys.stderr)
        return 1
    kubeconfig = (data_dir / "admin.kubeconfig").resolve()
    print(f"tinykube is up: export KUBECONFIG={kubeconfig}", file=sys.stderr)
    print(
        f"tinykube: running in the background (pid {child.pid}, log {log.resolve()}); "
        f"stop it with: tinykube down --data-dir {data_dir}",
        file=sys.stderr,
    )
    return 0


def _wait_ready(fd: int, child: subprocess.Popen[bytes]) -> bool:
    """True once the child wrote READY; False when it exited (the pipe closed) first."""
    deadline = time.monotonic() + START_TIMEOUT
    got = b""
    while time.monotonic() < deadline:
        readable, _, _ = select.select([fd], [], [], 1.0)
        if not readable:
            continue
        chunk = os.read(fd, 64)
        if not chunk:
            return False
        got += chunk
        if READY in got:
            return True
    child.terminate()  # it neither came up nor failed: do not leave it half-started
    return False


def down(data_dir: Path) -> int:
    """Stop the ``up`` of ``data_dir`` as Ctrl-C would, and wait until it is gone."""
    pid = running_pid(data_dir)
    if pid is None:
        print(f"tinykube: no cluster is running from {data_dir}", file=sys.stderr)
        return 0
    print(f"tinykube: stopping the cluster in {data_dir} (pid {pid})", file=sys.stderr)
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _alive(pid):
        print(
            f"tinykube: pid {pid} did not stop in {STOP_TIMEOUT:.0f}s; killing it", file=sys.stderr
        )
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        while _alive(pid):
            time.sleep(0.1)
    with contextlib.suppress(OSError):
        pid_path(data_dir).unlink()
    print(f"tinykube: stopped the cluster in {data_dir}", file=sys.stderr)
    return 0
