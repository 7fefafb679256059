"""A whole cluster's start-up, memory and pod start-up, each beside a same-run baseline.

    python -m bench.up [--pods 100] [--sim-nodes 1000,5000] [--sample-after 30] [--parts abcde]

Everything runs on this machine at the same moment, so the ratio is what to
read, not the absolute number:

- **(a) up -> ready**: from starting ``tinykube up`` (fresh data directory:
  PKI, kubeconfigs, manifests, kubelet, the control plane as static pods,
  kube-proxy and CoreDNS) to node ``controlplane`` Ready and every
  kube-system pod Running and ready; against a bare ``tinykube apiserver``
  started on a fresh data directory until ``/readyz`` answers 200.
- **(b) control-plane RSS**: the resident memory of the processes of that
  cluster after start (the process tree of ``up``: the kubelet, and under it
  kube-apiserver, kube-controller-manager, kube-scheduler, then kube-proxy and
  CoreDNS, told apart by the ``--data-dir``/``--kubeconfig``/``--master``
  arguments in ``/proc/<pid>/cmdline``); against the bare API server's RSS
  once it was ready.
- **(c) pod start-up latency**: ``--pods`` pods created at once (``sleep``
  from the host filesystem, pinned to ``controlplane``, the process runtime:
  network namespace, veth, cgroup, process), each from the start of its POST
  to the watch event showing it Ready, p50/p99, beside Kubernetes' SLO (p99
  <= 5 s) and beside the same pods on one simulated node (no runtime work at
  all: the control-plane path alone).
- **(d) simulated nodes**: ``tinykube simulated-nodes --count N`` against the
  cluster: time until all N Nodes are Ready, that process's CPU seconds until
  then (registration) and over the next ``--sample-after`` seconds (steady
  state: leases and node status), and its RSS at the end of those; against
  the same figures for ``--count 1``.

- **(e) worker nodes, background, stop**: ``tinykube up -d --nodes 2`` until
  it returns and until all three nodes are Ready, then ``tinykube down``
  until it returns (every kubelet's graceful shutdown, kube-proxy removing
  its addresses); against the same for a single-node ``up -d``.

``--parts c`` runs only the pod start-up part (the cluster is still started,
but the bare API server baseline and the simulated node counts are skipped).
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import os
import random
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from tinykube.client.rest import Client
from tinykube.proxy.netif import release_range

BIN = Path(sys.executable).parent
Obj = dict[str, Any]
PAGE = os.sysconf("SC_PAGE_SIZE")
TICKS = os.sysconf("SC_CLK_TCK")
CONTROL_PLANE = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def spawn(argv: list[str], log: Path) -> subprocess.Popen[bytes]:
    out = open(log, "ab")  # noqa: SIM115 - the process owns it
    return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)


def stop(proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def readyz(url: str, proc: subprocess.Popen[bytes], timeout: float = 120) -> None:  # noqa: ASYNC109
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"process exited with {proc.returncode}")
            with contextlib.suppress(aiohttp.ClientError, OSError):
                async with session.get(f"{url}/readyz", ssl=ctx) as resp:
                    if resp.status == 200:
                        return
            await asyncio.sleep(0.02)
    raise TimeoutError(f"{url} not ready in {timeout:.0f}s")


# ---- /proc ------------------------------------------------------------------------------


def cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [a.decode(errors="replace") for a in raw.split(b"\0") if a]


def rss_bytes(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
    except (OSError, IndexError, ValueError):
        return 0


def cpu_seconds(pid: int) -> float:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def descendants(root: int) -> list[int]:
    """``root`` and every process below it (pods run in sessions of their own)."""
    parent: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            stat = (entry / "stat").read_text()
            parent[int(entry.name)] = int(stat[stat.rindex(")") + 2 :].split()[1])
    found, frontier = [root], [root]
    while frontier:
        pid = frontier.pop()
        kids = [c for c, p in parent.items() if p == pid]
        found.extend(kids)
        frontier.extend(kids)
    return found


def component_of(argv: list[str], data_dir: Path) -> str:
    """Which component a process of the cluster is, from its command line."""
    text = " ".join(argv)
    if str(data_dir) not in text and "tinykube" not in text:
        return "pod"
    if " up " in f" {text} ":
        return "up"
    for word, name in (
        (" apiserver ", "kube-apiserver"),
        (" controller-manager ", "kube-controller-manager"),
        (" scheduler ", "kube-scheduler"),
        (" kubelet ", "kubelet"),
        (" proxy ", "kube-proxy"),
        (" dns ", "coredns"),
    ):
        if word in f" {text} ":
            return name
    return "other"


def cluster_rss(up_pid: int, data_dir: Path) -> dict[str, int]:
    totals: dict[str, int] = {}
    for pid in descendants(up_pid):
        name = component_of(cmdline(pid), data_dir)
        totals[name] = totals.get(name, 0) + rss_bytes(pid)
    return totals


# ---- the cluster ------------------------------------------------------------------------


@dataclass
class UpCluster:
    """``tinykube up`` on free ports, with a pod and service range of its own."""

    data_dir: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    run: int = field(default_factory=lambda: random.randint(100, 250))

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def kubeconfig(self) -> Path:
        return self.data_dir / "admin.kubeconfig"

    @property
    def service_cidr(self) -> str:
        return f"10.{self.run}.0.0/16"

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.proc = spawn(
            [
                str(BIN / "tinykube"), "up", "--data-dir", str(self.data_dir),
                "--port", str(self.port), "--kubelet-port", str(free_port()),
                "--scheduler-secure-port", str(free_port()),
                "--controller-manager-secure-port", str(free_port()),
                "--pod-cidr", f"10.244.{self.run}.0/24",
                "--service-cluster-ip-range", self.service_cidr,
            ],
            self.data_dir.parent / f"up-{self.data_dir.name}.log",
        )  # fmt: skip

    async def client(self, timeout: float = 120) -> Client:  # noqa: ASYNC109
        deadline = time.monotonic() + timeout
        while not self.kubeconfig.exists():
            if time.monotonic() > deadline:
                raise TimeoutError("no admin kubeconfig")
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.1)
        return await Client.from_kubeconfig(self.kubeconfig)

    async def wait_ready(self, client: Client, timeout: float = 300) -> None:  # noqa: ASYNC109
        """Node controlplane Ready, and every kube-system pod (control plane, kube-proxy,
        CoreDNS) Running with its containers ready."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError("tinykube up exited")
            with contextlib.suppress(Exception):
                node = await client.get("v1", "nodes", "controlplane")
                pods = (await client.list("v1", "pods", "kube-system"))["items"]
                names = " ".join(p["metadata"]["name"] for p in pods)
                wanted = ("kube-apiserver", "controller-manager", "scheduler", "proxy", "coredns")
                if (
                    condition(node, "Ready")
                    and all(w in names for w in wanted)
                    and all(pod_ready(p) and p["status"].get("phase") == "Running" for p in pods)
                ):
                    return
            await asyncio.sleep(0.1)
        raise TimeoutError("cluster not ready")

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc, 90)
            self.proc = None
        self.remove_service_addresses()

    def remove_service_addresses(self, link: str = "tk-svc") -> None:
        """Take this cluster's Service addresses off the shared link, if kube-proxy was
        stopped before it removed them all (with a thousand Services it can be); the
        link and every other cluster's addresses stay."""
        # Its own loop in a thread: ``stop`` is also called from inside a running loop.
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, release_range(self.service_cidr, link)).result()


def condition(obj: Obj, kind: str) -> bool:
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind:
            return cond.get("status") == "True"
    return False


def pod_ready(pod: Obj) -> bool:
    return condition(pod, "Ready")


# ---- (c) pod start-up -------------------------------------------------------------------


def sleeper(name: str, node_selector: dict[str, str]) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "startup"}},
        "spec": {
            "nodeSelector": node_selector,
            "tolerations": [{"operator": "Exists"}],
            "terminationGracePeriodSeconds": 0,
            "containers": [{"name": "c", "image": "busybox", "command": ["sleep", "3600"]}],
        },
    }


async def pod_startup(
    client: Client, namespace: str, count: int, node_selector: dict[str, str], prefix: str
) -> list[float]:
    """Create ``count`` pods at once; seconds from each POST to its Ready watch event."""
    rv = (await client.list("v1", "pods", namespace))["metadata"]["resourceVersion"]
    started: dict[str, float] = {}
    ready: dict[str, float] = {}
    done = asyncio.Event()

    async def watch() -> None:
        while not done.is_set():
            with contextlib.suppress(aiohttp.ClientError, OSError, TimeoutError):
                async for kind, pod in client.watch(
                    "v1", "pods", namespace, resource_version=rv, label_selector="app=startup"
                ):
                    if kind not in ("ADDED", "MODIFIED"):
                        continue
                    name = pod["metadata"]["name"]
                    if name.startswith(prefix) and name not in ready and pod_ready(pod):
                        ready[name] = time.perf_counter()
                        if len(ready) == count:
                            done.set()
                            return

    async def create(i: int) -> None:
        name = f"{prefix}{i:04d}"
        started[name] = time.perf_counter()
        await client.create("v1", "pods", sleeper(name, node_selector), namespace)

    watcher = asyncio.create_task(watch())
    await asyncio.sleep(0.2)
    await asyncio.gather(*(create(i) for i in range(count)))
    try:
        await asyncio.wait_for(done.wait(), 600)
    finally:
        watcher.cancel()
    return sorted(ready[n] - started[n] for n in started)


async def wait_service_account(client: Client, namespace: str) -> None:
    for _ in range(300):
        with contextlib.suppress(Exception):
            await client.get("v1", "serviceaccounts", "default", namespace)
            return
        await asyncio.sleep(0.1)


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


# ---- (d) simulated nodes ----------------------------------------------------------------


async def simulated_nodes(
    cluster: UpCluster, client: Client, count: int, prefix: str, sample_after: float, tmp: Path
) -> tuple[subprocess.Popen[bytes], float, float, float, int]:
    """Start ``simulated-nodes --count``; return (process, seconds to all Ready, its CPU
    seconds until then, its CPU seconds over the next ``sample_after`` seconds, its RSS
    at their end). The process is left running (the caller stops it)."""
    rv = (await client.list("v1", "nodes", limit=1))["metadata"]["resourceVersion"]
    ready: set[str] = set()
    all_ready = asyncio.Event()

    async def watch() -> None:
        while not all_ready.is_set():
            with contextlib.suppress(aiohttp.ClientError, OSError, TimeoutError):
                async for kind, node in client.watch("v1", "nodes", resource_version=rv):
                    name = (node.get("metadata") or {}).get("name", "")
                    if kind in ("ADDED", "MODIFIED") and name.startswith(prefix):
                        if condition(node, "Ready"):
                            ready.add(name)
                        if len(ready) == count:
                            all_ready.set()
                            return

    watcher = asyncio.create_task(watch())
    await asyncio.sleep(0.2)
    start = time.perf_counter()
    proc = spawn(
        [
            str(BIN / "tinykube"), "simulated-nodes", "--count", str(count), "--prefix", prefix,
            "--kubeconfig", str(cluster.kubeconfig),
        ],
        tmp / f"simulated-{prefix.strip('-')}.log",
    )  # fmt: skip
    try:
        await asyncio.wait_for(all_ready.wait(), 900)
    finally:
        watcher.cancel()
    elapsed = time.perf_counter() - start
    cpu_ready = cpu_seconds(proc.pid)
    await asyncio.sleep(sample_after)
    return proc, elapsed, cpu_ready, cpu_seconds(proc.pid) - cpu_ready, rss_bytes(proc.pid)


# ---- the run ----------------------------------------------------------------------------


Row = tuple[str, float, str, float | None, str]


def mib(n: float) -> float:
    return n / 2**20


async def bench(args: argparse.Namespace) -> list[Row]:
    tmp = Path(tempfile.mkdtemp(prefix="tinykube-bench-up-", dir=os.getcwd()))
    rows: list[Row] = []
    procs: list[subprocess.Popen[bytes]] = []
    if not set(args.parts) & set("abcd"):
        # Part (e) alone starts no other cluster (nor takes its service range's addresses away).
        try:
            return await nodes_rows(tmp)
        finally:
            if not args.keep:
                shutil.rmtree(tmp, ignore_errors=True)
    cluster = UpCluster(tmp / "cluster")
    try:
        if "e" in args.parts:
            rows += await nodes_rows(tmp)
        bare_start, bare_rss = 0.0, 0
        if "a" in args.parts or "b" in args.parts:
            bare_start, bare_rss = await bare_apiserver(tmp, procs)

        # (a) the whole cluster
        t = time.perf_counter()
        cluster.start()
        assert cluster.proc is not None
        client = await cluster.client()
        try:
            await cluster.wait_ready(client)
            up_start = time.perf_counter() - t
            if "a" in args.parts:
                rows.append(
                    ("(a) up -> node Ready + kube-system Running (s)", up_start,
                     "bare apiserver -> /readyz (s)", bare_start, "")
                )  # fmt: skip

            # (b) memory, once everything has started
            await asyncio.sleep(2.0)
            if "b" in args.parts:
                rows += memory_rows(cluster, bare_rss)

            # (c) pod start-up on the process runtime, beside one simulated node
            if "c" in args.parts:
                rows += await startup_rows(cluster, client, args, tmp, procs)

            # (d) simulated nodes, against --count 1 (measured again with the sampling)
            if "d" in args.parts:
                rows += await simulated_rows(cluster, client, args, tmp, procs)
        finally:
            await client.close()
    finally:
        for proc in procs:
            stop(proc)
        cluster.stop()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    return rows


async def bare_apiserver(tmp: Path, procs: list[subprocess.Popen[bytes]]) -> tuple[float, int]:
    """Baseline: a bare API server on a fresh data directory; seconds to /readyz, RSS."""
    api_dir, api_port = tmp / "apiserver", free_port()
    api_dir.mkdir()
    t = time.perf_counter()
    api = spawn(
        [str(BIN / "tinykube"), "apiserver", "--data-dir", str(api_dir), "--port",
         str(api_port)],
        tmp / "apiserver.log",
    )  # fmt: skip
    procs.append(api)
    await readyz(f"https://127.0.0.1:{api_port}", api)
    bare_start = time.perf_counter() - t
    await asyncio.sleep(1.0)
    bare_rss = rss_bytes(api.pid)
    stop(api)
    return bare_start, bare_rss


def memory_rows(cluster: UpCluster, bare_rss: int) -> list[Row]:
    assert cluster.proc is not None
    rss = cluster_rss(cluster.proc.pid, cluster.data_dir)
    control_plane = sum(rss.get(c, 0) for c in CONTROL_PLANE)
    rows: list[Row] = [
        ("(b) control plane RSS, 4 processes (MiB)", mib(control_plane),
         "bare apiserver RSS after /readyz (MiB)", mib(bare_rss), "")
    ]  # fmt: skip
    for name in (*CONTROL_PLANE, "kube-proxy", "coredns", "up"):
        rows.append((f"      {name} (MiB)", mib(rss.get(name, 0)), "", None, ""))
    return rows


async def startup_rows(
    cluster: UpCluster,
    client: Client,
    args: argparse.Namespace,
    tmp: Path,
    procs: list[subprocess.Popen[bytes]],
) -> list[Row]:
    rows: list[Row] = []
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "bench"}}
    await client.create("v1", "namespaces", ns)
    await wait_service_account(client, "bench")
    real = await pod_startup(
        client, "bench", args.pods, {"kubernetes.io/hostname": "controlplane"}, "real-"
    )
    base_proc, *_ = await simulated_nodes(cluster, client, 1, "base-sim-", 0.0, tmp)
    procs.append(base_proc)
    sim = await pod_startup(
        client, "bench", args.pods, {"kubernetes.io/hostname": "base-sim-0001"}, "sim-"
    )
    n = args.pods
    rows.append(
        (f"(c) pod startup p50, {n} pods at once (s)", quantile(real, 0.5),
         f"same {n} pods on 1 simulated node (s)", quantile(sim, 0.5), "")
    )  # fmt: skip
    slo = "meets SLO" if quantile(real, 0.99) <= 5 else "MISSES SLO"
    rows.append(
        (f"(c) pod startup p99, {n} pods at once (s)", quantile(real, 0.99),
         f"same {n} pods on 1 simulated node (s)", quantile(sim, 0.99), "")
    )  # fmt: skip
    rows.append(
        ("(c) pod startup p99 vs Kubernetes SLO (s)", quantile(real, 0.99),
         "SLO: p99 <= 5 s (stateless pods)", 5.0, slo)
    )  # fmt: skip
    rows.append(
        (f"(c) all {n} pods Ready (s)", max(real),
         "on 1 simulated node (s)", max(sim), "")
    )  # fmt: skip
    await client.delete_collection("v1", "pods", "bench", label_selector="app=startup")
    stop(base_proc)
    return rows


async def simulated_rows(
    cluster: UpCluster,
    client: Client,
    args: argparse.Namespace,
    tmp: Path,
    procs: list[subprocess.Popen[bytes]],
) -> list[Row]:
    rows: list[Row] = []
    one_proc, one_ready, one_cpu, one_idle, one_rss = await simulated_nodes(
        cluster, client, 1, "one-sim-", args.sample_after, tmp
    )
    procs.append(one_proc)
    stop(one_proc)
    for count in args.sim_nodes:
        prefix = f"sim{count}-"
        proc, ready, cpu, idle, rss_n = await simulated_nodes(
            cluster, client, count, prefix, args.sample_after, tmp
        )
        procs.append(proc)
        stop(proc)
        rows.append(
            (f"(d) {count} simulated nodes -> all Ready (s)", ready,
             "1 simulated node -> Ready (s)", one_ready, "")
        )  # fmt: skip
        s = args.sample_after
        rows.append(
            (f"(d) {count} simulated nodes: CPU s to all Ready", cpu,
             "1 simulated node: CPU s to Ready", one_cpu, "")
        )  # fmt: skip
        rows.append(
            (f"(d) {count} simulated nodes: CPU s, next {s:.0f}s", idle,
             f"1 simulated node: CPU s, next {s:.0f}s", one_idle, "")
        )  # fmt: skip
        rows.append(
            (f"(d) {count} simulated nodes: RSS {s:.0f}s after Ready (MiB)", mib(rss_n),
             f"1 simulated node: RSS {s:.0f}s after (MiB)", mib(one_rss), "")
        )  # fmt: skip
    return rows


async def detached_cycle(data_dir: Path, nodes: int) -> tuple[float, float, float]:
    """``up -d`` (seconds until it returns, until every node is Ready), then ``down``."""
    run = random.randint(50, 95)
    argv = [
        str(BIN / "tinykube"), "up", "-d", "--data-dir", str(data_dir), "--port", str(free_port()),
        "--kubelet-port", str(random.randint(20000, 24900)), "--nodes", str(nodes),
        "--scheduler-secure-port", str(free_port()),
        "--controller-manager-secure-port", str(free_port()),
        "--pod-cidr", f"10.247.{random.randrange(0, 252, 4)}.0/24",
        "--service-cluster-ip-range", f"10.{run}.0.0/16",
    ]  # fmt: skip
    t = time.perf_counter()
    await asyncio.to_thread(subprocess.run, argv, check=True, capture_output=True)
    returned = time.perf_counter() - t
    try:
        async with await Client.from_kubeconfig(data_dir / "admin.kubeconfig") as client:
            while True:
                items = (await client.list("v1", "nodes"))["items"]
                if len(items) == nodes + 1 and all(condition(n, "Ready") for n in items):
                    break
                await asyncio.sleep(0.05)
        ready = time.perf_counter() - t
    finally:
        t = time.perf_counter()
        down = [str(BIN / "tinykube"), "down", "--data-dir", str(data_dir)]
        await asyncio.to_thread(subprocess.run, down, check=True, capture_output=True)
    return returned, ready, time.perf_counter() - t


async def nodes_rows(tmp: Path) -> list[Row]:
    one = await detached_cycle(tmp / "one-node", 0)
    three = await detached_cycle(tmp / "three-nodes", 2)
    return [
        ("(e) up -d --nodes 2 -> returns (s)", three[0], "up -d, 1 node -> returns (s)", one[0], ""),
        ("(e) up -d --nodes 2 -> 3 nodes Ready (s)", three[1],
         "up -d, 1 node -> node Ready (s)", one[1], ""),
        ("(e) down, 3 nodes (s)", three[2], "down, 1 node (s)", one[2], ""),
    ]  # fmt: skip


def print_table(rows: list[Row]) -> None:
    print(f"{'figure':52} {'tinykube':>10}   {'baseline (same run)':42} {'value':>8}  ratio")
    for name, value, bname, bvalue, note in rows:
        ratio = f"{value / bvalue:.2f}" if bvalue else ""
        shown = f"{bvalue:.2f}" if bvalue is not None else ""
        print(f"{name:52} {value:>10.2f}   {bname:42} {shown:>8}  {ratio} {note}".rstrip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pods", type=int, default=100)
    parser.add_argument(
        "--sim-nodes",
        type=lambda s: [int(x) for x in s.split(",") if x],
        default=[1000, 5000],
        help="comma-separated simulated node counts",
    )
    parser.add_argument("--sample-after", type=float, default=30.0)
    parser.add_argument(
        "--parts",
        default="abcde",
        help="which parts to run: a (up), b (memory), c (pod start-up), d (simulated nodes),"
        " e (worker nodes, up -d and down)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp directory and logs")
    args = parser.parse_args()
    print_table(asyncio.run(bench(args)))


if __name__ == "__main__":
    main()
