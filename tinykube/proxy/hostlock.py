"""One serving kube-proxy per host and cluster: a lock file keyed by the service range.

Upstream runs exactly one kube-proxy per machine, because there is one node
per machine. ``tinykube up --nodes N`` puts several nodes on one host, and
the kube-proxy DaemonSet runs a pod on each; every one of them would bind
the same Service addresses on the host link, the same NodePorts on
``0.0.0.0`` and the same load-balancer addresses. Two listeners cannot hold
one address and port, and two proxies adding and removing the same
addresses on ``tk-svc`` would undo each other's work.

So exactly one kube-proxy of a cluster serves a host. Before it touches the
data plane a proxy takes an exclusive ``flock`` on
``<lock dir>/kube-proxy-<interface>-<key>.lock``, where the key is the
ClusterIP of ``default/kubernetes`` (the first address of the service
range; two clusters whose ranges share it could not share a host anyway).
The first proxy to get the lock serves for every node of the cluster on
this host; the others stand by, trying again every ``POLL_SECONDS``, and the
first to succeed takes over when the holder exits. The kernel drops a flock
when its process dies, even by SIGKILL, so a crashed holder never blocks
the others, and a standby takes over within a poll period (it then builds
its table from fresh informers, which takes about a second). A standby
runs no informers and binds nothing; its pod is Running and Ready like the
serving one, and its log names the node whose proxy serves.

The lock directory is ``/run/tinykube`` as root (tmpfs: it does not outlive
a reboot), else a per-user directory under the temporary directory. Lock
files are never deleted: unlinking one while a standby waits on it would
let two proxies hold "the" lock at once.

What this does not do: node-local routing (``externalTrafficPolicy:
Local``, ``internalTrafficPolicy: Local``) follows the serving proxy's node,
so it only sends to that node's endpoints; every other Service behaves the
same whichever node's proxy serves.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import re
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)

POLL_SECONDS = 0.5
ROOT_LOCK_DIR = Path("/run/tinykube")


def lock_dir() -> Path:
    """Where every kube-proxy on this host looks for its cluster's lock."""
    # Root of a user namespace (a pod of a rootless node) is root in name only: /run is
    # not its to write, and every such proxy of the host shares the host's /tmp instead.
    if os.geteuid() == 0 and os.access(ROOT_LOCK_DIR.parent, os.W_OK):
        return ROOT_LOCK_DIR
    return Path(tempfile.gettempdir()) / f"tinykube-{os.geteuid()}"


def lock_name(interface: str, key: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9.-]", "_", f"{interface}-{key}")
    return f"kube-proxy-{safe}.lock"


class HostLock:
    """An exclusive, process-lifetime lock on one file; ``holder`` says who has it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def try_acquire(self, owner: str) -> bool:
        """Take the lock if it is free (never blocks); record ``owner`` in the file."""
        if self._fd is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{owner}\n".encode())
        self._fd = fd
        return True

    async def acquire(self, owner: str, poll: float = POLL_SECONDS) -> None:
        """Wait until the lock is ours (a flock cannot be awaited, so poll it)."""
        while True:
            if await asyncio.to_thread(self.try_acquire, owner):
                return
            await asyncio.sleep(poll)

    def holder(self) -> str:
        """Who holds the lock, as the holder wrote it ("" when unknown)."""
        try:
            return self.path.read_text().strip()
        except OSError:
            return ""

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)  # closing the last descriptor drops the flock
            self._fd = None
