"""Service traffic through kube-proxy, each figure beside a baseline from the same run.

    python -m bench.proxy [--concurrency 8] [--seconds 10] [--services 1000] [--flips 10]

One ``tinykube up`` cluster (process runtime, root: pods on ``tk0``, Service
addresses on ``tk-svc``) runs two pods, ``web-a`` and ``web-b`` (Deployments
of one replica labelled ``app=web``), each ``python3 -m http.server 8080``
serving a directory of its own on the host (``index.html`` holding ``a`` or
``b``, and ``ready.txt``, which the readiness probe fetches every second).
Figures, and what each is compared with (same machine, same moment, so the
ratio is what to read, not the absolute number):

- **requests/s, p50/p99 latency through the ClusterIP**: C concurrent clients,
  each a new TCP connection per request (HTTP/1.0, no keep-alive), for
  ``--seconds``, to the ClusterIP of a Service over both pods; against the
  same clients straight to the two pod IPs (round robin in the client), so
  only the proxy hop differs. ``http.server`` listens with a backlog of 5,
  so past ~4 clients per pod SYNs are dropped and p99 shows the kernel's 1 s
  SYN retransmission on both sides; hence the default of 8 clients.
- **EndpointSlice change -> applied** (kube-proxy alone): a selector-less
  Service whose manual EndpointSlice is switched from pod a to pod b (and
  back), timed from the PATCH to the first new connection to its ClusterIP
  answered by the new pod; with ``--services`` Services present against the
  same switch with 1 Service.
- **readiness flip -> applied** (the whole path: probe, kubelet status,
  EndpointSlice controller, kube-proxy): pod a's ``ready.txt`` removed (then
  restored), timed until connections to a selector Service's ClusterIP stop
  (start) reaching pod a; with ``--services`` Services selecting the same
  pods (every flip rewrites all their slices) against 1 Service. Includes
  the probe period (1 s).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.up import UpCluster, quantile
from tinykube.client.rest import Client

Obj = dict[str, Any]
NS = "bench"
REQUEST = b"GET /index.html HTTP/1.0\r\nHost: bench\r\n\r\n"


def web_deployment(name: str, www: Path) -> Obj:
    container = {
        "name": "http",
        "image": "python:3.11",  # the process runtime runs the command from the host
        "command": ["python3", "-m", "http.server", "8080", "--directory", str(www)],
        "ports": [{"containerPort": 8080}],
        "readinessProbe": {
            "httpGet": {"path": "/ready.txt", "port": 8080},
            "periodSeconds": 1,
            "failureThreshold": 1,
            "successThreshold": 1,
        },
    }
    labels = {"app": "web", "pod": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}},
        },
    }


def service(name: str, selector: dict[str, str] | None) -> Obj:
    spec: Obj = {"ports": [{"port": 80, "targetPort": 8080, "protocol": "TCP"}]}
    if selector:
        spec["selector"] = selector
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": spec}


def manual_slice(service_name: str, ip: str) -> Obj:
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": f"{service_name}-manual",
            "labels": {"kubernetes.io/service-name": service_name},
        },
        "addressType": "IPv4",
        "ports": [{"port": 8080, "protocol": "TCP"}],
        "endpoints": [{"addresses": [ip], "conditions": {"ready": True}}],
    }


async def fetch(ip: str, port: int, timeout: float = 5) -> bytes:  # noqa: ASYNC109
    """One request on a new connection; the body."""
    async with asyncio.timeout(timeout):
        reader, writer = await asyncio.open_connection(ip, port)
        try:
            writer.write(REQUEST)
            data = await reader.read()
        finally:
            writer.close()
    return data.partition(b"\r\n\r\n")[2].strip()


async def load(
    targets: list[tuple[str, int]], concurrency: int, seconds: float
) -> tuple[float, list[float], int]:
    """C clients for ``seconds``; (requests/s, latencies, errors)."""
    latencies: list[float] = []
    errors = 0
    turn = 0
    end = time.perf_counter() + seconds

    async def client() -> None:
        nonlocal errors, turn
        while time.perf_counter() < end:
            ip, port = targets[turn % len(targets)]
            turn += 1
            t = time.perf_counter()
            try:
                body = await fetch(ip, port)
                if body not in (b"a", b"b"):
                    raise ValueError(body)
            except (OSError, ValueError, TimeoutError):
                errors += 1
                continue
            latencies.append(time.perf_counter() - t)

    start = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    return len(latencies) / (time.perf_counter() - start), latencies, errors


async def until_answers(ip: str, want: bytes, *, consecutive: int = 1, timeout: float = 60) -> None:  # noqa: ASYNC109
    """Poll with new connections until ``consecutive`` answers in a row are ``want``."""
    run = 0
    async with asyncio.timeout(timeout):
        while run < consecutive:
            try:
                body = await fetch(ip, 80, timeout=2)
            except (OSError, TimeoutError):
                body = b""
            run = run + 1 if body == want else 0
            if body != want:
                await asyncio.sleep(0.002)


async def wait_until(check: Any, timeout: float = 180, what: str = "") -> Any:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if result := await check():
                return result
        await asyncio.sleep(0.2)
    raise TimeoutError(f"timed out waiting for {what}")


async def switch_slice(client: Client, ips: dict[bytes, str], flips: int) -> list[float]:
    """Switch the ``probe`` Service's manual slice between the pods; seconds each."""
    times = []
    for i in range(flips):
        want = b"b" if i % 2 == 0 else b"a"
        t = time.perf_counter()
        await client.patch(
            "discovery.k8s.io/v1",
            "endpointslices",
            "probe-manual",
            {"endpoints": [{"addresses": [ips[want]], "conditions": {"ready": True}}]},
            NS,
        )
        await until_answers(await cluster_ip(client, "probe"), want)
        times.append(time.perf_counter() - t)
    return times


async def flip_readiness(
    client: Client, www_a: Path, flips: int
) -> tuple[list[float], list[float]]:
    """Remove and restore pod a's ready.txt; seconds until the ClusterIP reflects each."""
    ip = await cluster_ip(client, "web")
    gone, back = [], []
    flag = www_a / "ready.txt"
    for _ in range(flips):
        t = time.perf_counter()
        flag.unlink()
        await until_answers(ip, b"b", consecutive=6)
        gone.append(time.perf_counter() - t)
        t = time.perf_counter()
        flag.write_text("ok\n")
        await until_answers(ip, b"a")
        back.append(time.perf_counter() - t)
    return gone, back


_ips: dict[str, str] = {}


async def cluster_ip(client: Client, name: str) -> str:
    if name not in _ips:
        _ips[name] = (await client.get("v1", "services", name, NS))["spec"]["clusterIP"]
    return _ips[name]


async def create_all(client: Client, objs: list[tuple[str, str, Obj]], concurrency: int) -> None:
    it = iter(objs)

    async def worker() -> None:
        for api_version, resource, obj in it:
            await client.create(api_version, resource, obj, NS)

    await asyncio.gather(*(worker() for _ in range(concurrency)))


def ms(values: list[float], q: float) -> float:
    return quantile(values, q) * 1000


Row = tuple[str, float, str, float | None]


async def bench(args: argparse.Namespace) -> list[Row]:
    tmp = Path(tempfile.mkdtemp(prefix="tinykube-bench-proxy-", dir=os.getcwd()))
    rows: list[Row] = []
    cluster = UpCluster(tmp / "cluster")
    www: dict[bytes, Path] = {}
    for name in (b"a", b"b"):
        www[name] = tmp / f"www-{name.decode()}"
        www[name].mkdir()
        (www[name] / "index.html").write_bytes(name + b"\n")
        (www[name] / "ready.txt").write_text("ok\n")
    try:
        cluster.start()
        client = await cluster.client()
        try:
            await cluster.wait_ready(client)
            ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}
            await client.create("v1", "namespaces", ns)
            await wait_until(
                lambda: client.get("v1", "serviceaccounts", "default", NS), what="service account"
            )
            for name in (b"a", b"b"):
                deployment = web_deployment(f"web-{name.decode()}", www[name])
                await client.create("apps/v1", "deployments", deployment, NS)

            async def pod_ips() -> dict[bytes, str] | None:
                pods = (await client.list("v1", "pods", NS, label_selector="app=web"))["items"]
                found = {
                    p["metadata"]["labels"]["pod"][-1:].encode(): p["status"]["podIP"]
                    for p in pods
                    if any(
                        c["type"] == "Ready" and c["status"] == "True"
                        for c in p["status"].get("conditions") or []
                    )
                }
                return found if len(found) == 2 else None

            ips: dict[bytes, str] = await wait_until(pod_ips, what="two ready web pods")
            await client.create("v1", "services", service("web", {"app": "web"}), NS)
            await client.create("v1", "services", service("probe", None), NS)
            await client.create(
                "discovery.k8s.io/v1", "endpointslices", manual_slice("probe", ips[b"a"]), NS
            )
            web_ip = await cluster_ip(client, "web")
            await until_answers(web_ip, b"a", timeout=120)
            await until_answers(web_ip, b"b", timeout=30)
            await until_answers(await cluster_ip(client, "probe"), b"a", timeout=60)

            # throughput and latency: ClusterIP against the pod IPs directly
            pods = [(ips[b"a"], 8080), (ips[b"b"], 8080)]
            await load(pods, args.concurrency, 1.0)  # warm-up
            direct_rate, direct_lat, direct_err = await load(pods, args.concurrency, args.seconds)
            svc_rate, svc_lat, svc_err = await load([(web_ip, 80)], args.concurrency, args.seconds)
            c = args.concurrency
            rows.append(
                (f"ClusterIP requests/s ({c} clients, no keep-alive)", svc_rate,
                 "pod IPs directly, requests/s", direct_rate)
            )  # fmt: skip
            rows.append(
                ("ClusterIP latency p50 (ms)", ms(svc_lat, 0.5),
                 "pod IPs directly, p50 (ms)", ms(direct_lat, 0.5))
            )  # fmt: skip
            rows.append(
                ("ClusterIP latency p99 (ms)", ms(svc_lat, 0.99),
                 "pod IPs directly, p99 (ms)", ms(direct_lat, 0.99))
            )  # fmt: skip
            if svc_err or direct_err:
                rows.append(("ClusterIP failed requests", svc_err, "direct", direct_err))

            # endpoint changes with 1 Service (+ the selector one), then with --services
            one_switch = await switch_slice(client, ips, args.flips)
            one_gone, one_back = await flip_readiness(client, www[b"a"], args.flips)

            n = args.services
            others = [
                ("v1", "services", service(f"bg-{i:04d}", {"app": "web"})) for i in range(n - 2)
            ]
            t = time.perf_counter()
            await create_all(client, others, 16)
            last = await cluster_ip(client, f"bg-{n - 3:04d}")
            await until_answers(last, b"a", timeout=600)
            await until_answers(last, b"b", timeout=60)
            settle = time.perf_counter() - t
            await asyncio.sleep(5)  # let the EndpointSlice controller and kube-proxy go idle
            many_switch = await switch_slice(client, ips, args.flips)
            many_gone, many_back = await flip_readiness(client, www[b"a"], args.flips)

            def med(v: list[float]) -> float:
                return statistics.median(v) * 1000

            rows.append(
                (f"slice switch -> applied, {n} Services, median (ms)", med(many_switch),
                 "same with 1 Service, median (ms)", med(one_switch))
            )  # fmt: skip
            rows.append(
                (f"slice switch -> applied, {n} Services, max (ms)", max(many_switch) * 1000,
                 "same with 1 Service, max (ms)", max(one_switch) * 1000)
            )  # fmt: skip
            rows.append(
                (f"pod unready -> out of ClusterIP, {n} Services (ms)", med(many_gone),
                 "same with 1 Service (ms)", med(one_gone))
            )  # fmt: skip
            rows.append(
                (f"pod ready -> back in ClusterIP, {n} Services (ms)", med(many_back),
                 "same with 1 Service (ms)", med(one_back))
            )  # fmt: skip
            rows.append((f"{n - 2} Services created -> all applied (s)", settle, "", None))
        finally:
            await client.close()
    finally:
        cluster.stop()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    return rows


def print_table(rows: list[Row]) -> None:
    print(f"{'figure':52} {'tinykube':>10}   {'baseline (same run)':36} {'value':>9}  ratio")
    for name, value, bname, bvalue in rows:
        ratio = f"{value / bvalue:.2f}" if bvalue else ""
        shown = f"{bvalue:,.1f}" if bvalue is not None else ""
        print(f"{name:52} {value:>10,.1f}   {bname:36} {shown:>9}  {ratio}".rstrip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--services", type=int, default=1000, help="Services present, in all")
    parser.add_argument("--flips", type=int, default=10, help="endpoint changes timed per size")
    parser.add_argument("--keep", action="store_true", help="keep the temp directory and logs")
    args = parser.parse_args()
    print_table(asyncio.run(bench(args)))


if __name__ == "__main__":
    main()
