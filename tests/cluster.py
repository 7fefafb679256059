"""Start a real ``tinykube apiserver`` process for the integration and e2e tiers.

The server runs exactly as ``make run`` runs it (its own process, HTTPS, a
fresh data directory); tests talk to it only over the network, with the
admin kubeconfig it writes.
"""

from __future__ import annotations

import contextlib
import os
import random
import shlex
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def kubectl_binary() -> str:
    """The pinned kubectl, or the one named by $KUBECTL (to check other versions)."""
    if os.environ.get("KUBECTL"):
        return os.environ["KUBECTL"]
    path = BIN / "kubectl"
    if path.exists():
        return str(path)
    found = shutil.which("kubectl")
    if found is None:
        raise RuntimeError("kubectl is not installed (pip install '.[test]')")
    return found


@dataclass
class ApiServer:
    data_dir: Path
    port: int = field(default_factory=free_port)
    extra_args: list[str] = field(default_factory=list)
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def kubeconfig(self) -> Path:
        return self.data_dir / "admin.kubeconfig"

    command = "apiserver"

    def start(self, timeout: float = 60.0) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.data_dir / f"{self.command}.log"
        # TINYKUBE_COMMAND runs another build of tinykube (e.g. a wheel installed elsewhere).
        base = shlex.split(os.environ.get("TINYKUBE_COMMAND", "")) or [str(BIN / "tinykube")]
        cmd = [
            *base,
            self.command,
            "--data-dir",
            str(self.data_dir),
            "--port",
            str(self.port),
            *self.extra_args,
        ]
        with open(self.log_path, "ab") as log:  # the child keeps its own descriptor
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        self.wait_ready(timeout)

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"apiserver exited:\n{self.logs()}")
            url = f"{self.url}/readyz"
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(url, context=ctx, timeout=1) as r,
            ):
                if r.status == 200 and self.kubeconfig.exists():
                    return
            time.sleep(0.05)
        raise RuntimeError(f"apiserver not ready after {timeout}s:\n{self.logs()}")

    def logs(self) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")[-5000:]

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(20)  # a loaded machine's graceful node shutdown may take a while
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def kill(self) -> None:
        self.stop(signal.SIGKILL)


@dataclass
class Cluster(ApiServer):
    """The whole cluster as ``make run`` starts it: ``tinykube up`` (every component a process)."""

    command: str = "up"

    def __post_init__(self) -> None:
        # A kubelet port and pod range of its own, so test clusters never collide
        # with another cluster (or kubelet) on this host.
        # Service and pod ranges of its own too: kube-proxy puts service addresses on
        # the host, and two clusters must not claim the same ones.
        n = random.randint(100, 250)
        self.extra_args = [
            "--kubelet-port",
            str(free_port()),
            # The scheduler's and controller manager's health ports likewise.
            "--scheduler-secure-port",
            str(free_port()),
            "--controller-manager-secure-port",
            str(free_port()),
            "--pod-cidr",
            f"10.244.{n}.0/24",
            "--service-cluster-ip-range",
            f"10.{n}.0.0/16",
            *self.extra_args,
        ]

    def start(self, timeout: float = 90.0) -> None:
        super().start(timeout)
        self.wait_node_ready(timeout)

    def wait_node_ready(self, timeout: float) -> None:
        """As `make run` users do: wait until the control-plane node is registered and Ready."""
        import json

        deadline = time.monotonic() + timeout
        pki = self.data_dir / "pki"
        ctx = ssl.create_default_context(cafile=str(pki / "ca.crt"))
        ctx.load_cert_chain(pki / "admin.crt", pki / "admin.key")
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError, ValueError):
                url = f"{self.url}/api/v1/nodes"
                with urllib.request.urlopen(url, context=ctx, timeout=2) as r:
                    for node in json.loads(r.read())["items"]:
                        conditions = (node.get("status") or {}).get("conditions") or []
                        if any(c["type"] == "Ready" and c["status"] == "True" for c in conditions):
                            return
            time.sleep(0.2)
        raise RuntimeError(f"no node became Ready in {timeout:.0f}s:\n{self.logs()}")

    def logs(self) -> str:
        out = [super().logs()]
        for path in sorted((self.data_dir / "logs").glob("*.log")):
            out.append(f"--- {path.name}\n" + path.read_text(errors="replace")[-3000:])
        return "\n".join(out)


def run_kubectl(
    server: ApiServer,
    *args: str,
    kubeconfig: Path | None = None,
    input: str | None = None,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    full_env["KUBECONFIG"] = str(kubeconfig or server.kubeconfig)
    cache = server.data_dir / "kubectl-cache"
    return subprocess.run(
        [kubectl_binary(), f"--cache-dir={cache}", *args],
        input=input,
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd,
        timeout=timeout,
    )
