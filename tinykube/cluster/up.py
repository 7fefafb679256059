"""``tinykube up``: bring a whole cluster up in the foreground, as kubeadm would lay it out.

On an empty data directory the API server creates the cluster CA, its serving
certificate and ``admin.kubeconfig``; this module then issues each component
its own client certificate and kubeconfig (``system:kube-controller-manager``,
``system:kube-scheduler``, ``system:node:<node>``), and starts every component
as its own OS process: kube-apiserver first (everything else needs it), then
kube-controller-manager, kube-scheduler and the kubelet of the node
``controlplane``. A component that exits is restarted with a capped back-off,
so killing one is survivable, as it is under a kubelet's static pods.

Components that are not installed in this build are skipped with a note, so
``up`` grows as they land.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import importlib.util
import logging
import signal
import ssl
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from tinykube.apiserver.kubeconfig import write_kubeconfig
from tinykube.apiserver.tls import ensure_pki, issue_client_cert

log = logging.getLogger(__name__)

NODE_NAME = "controlplane"
PR_SET_PDEATHSIG = 1
MAX_BACKOFF = 30.0


@dataclass
class UpConfig:
    data_dir: Path
    port: int = 6443
    bind_address: str = "127.0.0.1"
    apiserver_args: list[str] = field(default_factory=list)
    node_name: str = NODE_NAME
    runtime: str = "process"
    simulated_nodes: int = 0
    kubelet_port: int = 10250
    pod_cidr: str = "10.244.0.0/24"

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.bind_address in ("0.0.0.0", "::") else self.bind_address
        return f"https://{host}:{self.port}"


@dataclass
class Component:
    name: str
    argv: list[str]
    module: str  # the package that must exist for this component to run
    log_path: Path
    proc: asyncio.subprocess.Process | None = None
    restarts: int = 0


def _available(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "tinykube.cli", *args]


def component_kubeconfig(cfg: UpConfig, name: str, user: str, groups: list[str]) -> Path:
    """A client certificate for one component, embedded in its own kubeconfig."""
    pki = ensure_pki(cfg.data_dir, hosts=[], ips=[])
    cert, key = issue_client_cert(pki, user, groups)
    path = cfg.data_dir / f"{name}.kubeconfig"
    write_kubeconfig(
        path,
        server=cfg.url,
        ca_pem=pki.ca_pem,
        user=user,
        client_cert_pem=cert,
        client_key_pem=key,
    )
    return path


def plan(cfg: UpConfig) -> list[Component]:
    """The processes of the cluster, in start order."""
    logs = cfg.data_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    data = str(cfg.data_dir)
    comps = [
        Component(
            "kube-apiserver",
            _cli(
                "apiserver",
                "--data-dir",
                data,
                "--port",
                str(cfg.port),
                "--bind-address",
                cfg.bind_address,
                *cfg.apiserver_args,
            ),
            "tinykube.apiserver.server",
            logs / "kube-apiserver.log",
        )
    ]
    later = [
        (
            "kube-controller-manager",
            "tinykube.controllers.manager",
            ["controller-manager", "--leader-elect"],
        ),
        ("kube-scheduler", "tinykube.scheduler.command", ["scheduler", "--leader-elect"]),
        (
            "kubelet",
            "tinykube.kubelet.command",
            [
                "kubelet",
                "--node-name",
                cfg.node_name,
                "--root-dir",
                str(cfg.data_dir / "kubelet"),
                "--runtime",
                cfg.runtime,
                "--control-plane",
                "--port",
                str(cfg.kubelet_port),
                "--pod-cidr",
                cfg.pod_cidr,
            ],
        ),
    ]
    if cfg.simulated_nodes:
        later.append(
            (
                "simulated-nodes",
                "tinykube.kubelet.command",
                ["simulated-nodes", "--count", str(cfg.simulated_nodes)],
            )
        )
    for name, module, args in later:
        kubeconfig = cfg.data_dir / f"{name}.kubeconfig"
        argv = _cli(*args, "--kubeconfig", str(kubeconfig))
        comps.append(Component(name, argv, module, logs / f"{name}.log"))
    return comps


def _identity(name: str, cfg: UpConfig) -> tuple[str, list[str]]:
    if name == "kube-controller-manager":
        return "system:kube-controller-manager", []
    if name == "kube-scheduler":
        return "system:kube-scheduler", []
    if name == "simulated-nodes":
        return "system:node:simulated", ["system:nodes"]
    return f"system:node:{cfg.node_name}", ["system:nodes"]


async def wait_ready(url: str, timeout: float = 60.0) -> None:  # noqa: ASYNC109
    """Poll ``/readyz`` until the API server answers (it is public, like upstream's)."""
    import aiohttp

    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            with contextlib.suppress(aiohttp.ClientError, OSError):
                async with session.get(f"{url}/readyz", ssl=ctx) as resp:
                    if resp.status == 200:
                        return
            await asyncio.sleep(0.1)
    raise TimeoutError(f"the API server at {url} did not become ready in {timeout:.0f}s")


def _die_with_parent() -> None:
    """In the child: get SIGTERM if ``up`` itself dies (even by SIGKILL), never orphan."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


async def _spawn(comp: Component) -> None:
    out = await asyncio.to_thread(open, comp.log_path, "ab")  # handed to the child process
    try:
        comp.proc = await asyncio.create_subprocess_exec(
            *comp.argv,
            stdout=out,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
    finally:
        out.close()
    log.info("component=up started name=%s pid=%s log=%s", comp.name, comp.proc.pid, comp.log_path)


async def supervise(comp: Component) -> None:
    """Keep one component running; restart it with a capped back-off when it exits."""
    backoff = 1.0
    while True:
        started = time.monotonic()
        await _spawn(comp)
        assert comp.proc is not None
        code = await comp.proc.wait()
        if time.monotonic() - started > 60:
            backoff = 1.0
        comp.restarts += 1
        log.warning(
            "component=up exited name=%s code=%s restart_in=%.0fs", comp.name, code, backoff
        )
        await asyncio.sleep(backoff)
        backoff = min(backoff * 2, MAX_BACKOFF)


async def stop(comps: list[Component]) -> None:
    """SIGTERM in reverse start order, SIGKILL what is still there after 10 s."""
    for comp in reversed(comps):
        if comp.proc is not None and comp.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                comp.proc.send_signal(signal.SIGTERM)
    for comp in reversed(comps):
        if comp.proc is None:
            continue
        try:
            await asyncio.wait_for(comp.proc.wait(), 10)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                comp.proc.kill()


async def run(cfg: UpConfig) -> None:
    cfg.data_dir.mkdir(parents=True, exist_ok=True)
    comps = [c for c in plan(cfg) if _available(c.module)]
    skipped = [c.name for c in plan(cfg) if not _available(c.module)]
    if skipped:
        log.info("component=up not in this build: %s", ", ".join(skipped))
    tasks: list[asyncio.Task[None]] = []
    # SIGTERM (as from a service manager or `kill`) stops the cluster in order, like Ctrl-C.
    main = asyncio.current_task()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: main.cancel() if main else None)
    try:
        async with asyncio.TaskGroup() as tg:
            tasks.append(tg.create_task(supervise(comps[0])))
            await wait_ready(cfg.url)
            for comp in comps[1:]:
                user, groups = _identity(comp.name, cfg)
                await asyncio.to_thread(component_kubeconfig, cfg, comp.name, user, groups)
                tasks.append(tg.create_task(supervise(comp)))
            kubeconfig = (cfg.data_dir / "admin.kubeconfig").resolve()
            print(f"tinykube is up: export KUBECONFIG={kubeconfig}", file=sys.stderr, flush=True)
    finally:
        for task in tasks:
            task.cancel()
        await stop(comps)
