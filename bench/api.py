"""API server throughput, each figure beside a baseline measured in the same run.

    python -m bench.api [--pods N] [--watchers W] [--concurrency C]

Figures, and what each is compared with (same machine, same moment, so the
ratio is what to read, not the absolute number):

- creates/s: POST of pod objects over HTTPS with C concurrent clients, against
  raw sqlite3 inserts of the same JSON (WAL, synchronous=FULL, one row per
  transaction): what a durable write costs without any API server;
- gets/s: GET of single pods, against an aiohttp server answering the same
  bytes as a constant (same TLS, same client): the cost of the HTTP stack alone;
- list latency: one LIST of N pods (JSON, and the Table kubectl asks for),
  against the constant server sending a body of the same size;
- watch events/s: events delivered to W concurrent watchers while pods are
  created, against the constant server streaming the same event lines to W
  connections.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sqlite3
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import orjson
import yaml
from aiohttp import web

BIN = Path(sys.executable).parent


def pod(name: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "bench", "tier": "web"}},
        "spec": {
            "containers": [
                {
                    "name": "app",
                    "image": "nginx:1.27",
                    "ports": [{"containerPort": 80}],
                    "env": [{"name": "MODE", "value": "bench"}],
                    "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}},
                }
            ]
        },
    }


def client_ssl(data_dir: Path) -> ssl.SSLContext:
    cfg = yaml.safe_load((data_dir / "admin.kubeconfig").read_text())
    pki = data_dir / "pki"
    ctx = ssl.create_default_context(cafile=str(pki / "ca.crt"))
    ctx.load_cert_chain(pki / "admin.crt", pki / "admin.key")
    assert cfg["clusters"]
    return ctx


def start_apiserver(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    log = open(data_dir.parent / "apiserver.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [str(BIN / "tinykube"), "apiserver", "--data-dir", str(data_dir), "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while not (data_dir / "admin.kubeconfig").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    return proc


async def run_parallel(n: int, concurrency: int, fn) -> float:
    """Run fn(i) for i in range(n) with ``concurrency`` workers; return ops/s."""
    counter = iter(range(n))

    async def worker() -> None:
        for i in counter:
            await fn(i)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return n / (time.perf_counter() - start)


def sqlite_baseline(bodies: list[bytes], directory: Path) -> float:
    path = directory / "baseline.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE kv (id INTEGER PRIMARY KEY, name TEXT, value BLOB)")
    start = time.perf_counter()
    for i, body in enumerate(bodies):
        conn.execute("BEGIN")
        conn.execute("INSERT INTO kv (name, value) VALUES (?, ?)", (f"/registry/pods/b/{i}", body))
        conn.execute("COMMIT")
    rate = len(bodies) / (time.perf_counter() - start)
    conn.close()
    return rate


async def constant_server(
    body: bytes, watch_line: bytes, events: int, ssl_ctx: ssl.SSLContext, port: int
) -> web.AppRunner:
    async def constant(_request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    async def stream(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        for _ in range(events):
            await resp.write(watch_line)
        await resp.write_eof()
        return resp

    app = web.Application()
    app.router.add_get("/constant", constant)
    app.router.add_get("/stream", stream)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port, ssl_context=ssl_ctx).start()
    return runner


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def count_events(session: aiohttp.ClientSession, url: str, want: int) -> None:
    got = 0
    async with session.get(url, timeout=aiohttp.ClientTimeout(total=300)) as resp:
        async for _line in resp.content:
            got += 1
            if got >= want:
                return


async def bench(args: argparse.Namespace) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="tinykube-bench-", dir=os.getcwd()))
    data = tmp / "data"
    port = free_port()
    proc = start_apiserver(data, port)
    base = f"https://127.0.0.1:{port}"
    ctx = client_ssl(data)
    results: list[tuple[str, str, str, str]] = []
    try:
        conn = aiohttp.TCPConnector(ssl=ctx, limit=0)
        async with aiohttp.ClientSession(connector=conn) as s:
            ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "bench"}}
            await (await s.post(f"{base}/api/v1/namespaces", json=ns)).read()
            bodies = [orjson.dumps(pod(f"p{i}")) for i in range(args.pods)]
            url = f"{base}/api/v1/namespaces/bench/pods"
            headers = {"Content-Type": "application/json"}

            async def create(i: int) -> None:
                async with s.post(url, data=bodies[i], headers=headers) as r:
                    assert r.status == 201, await r.text()
                    await r.read()

            creates = await run_parallel(args.pods, args.concurrency, create)
            baseline_creates = sqlite_baseline(bodies[: min(2000, args.pods)], tmp)
            results.append(
                (
                    "creates/s",
                    f"{creates:,.0f}",
                    "raw sqlite inserts/s (FULL, 1/txn)",
                    f"{baseline_creates:,.0f}",
                )
            )

            async def get(i: int) -> None:
                async with s.get(f"{url}/p{i % args.pods}") as r:
                    await r.read()

            gets = await run_parallel(args.pods, args.concurrency, get)
            async with s.get(f"{url}/p0") as r:
                one = await r.read()
            cport = free_port()
            server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            server_ctx.load_cert_chain(
                data / "pki" / "apiserver.crt", data / "pki" / "apiserver.key"
            )
            lists = []
            for _ in range(5):
                t = time.perf_counter()
                async with s.get(url) as r:
                    full = await r.read()
                lists.append(time.perf_counter() - t)
            tables = []
            table_accept = {"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"}
            for _ in range(3):
                t = time.perf_counter()
                async with s.get(url, headers=table_accept) as r:
                    await r.read()
                tables.append(time.perf_counter() - t)
            event_line = orjson.dumps({"type": "ADDED", "object": orjson.loads(one)}) + b"\n"
            runner = await constant_server(one, event_line, args.watch_events, server_ctx, cport)
            try:
                cbase = f"https://127.0.0.1:{cport}"

                async def get_const(_i: int) -> None:
                    async with s.get(f"{cbase}/constant") as r:
                        await r.read()

                const_gets = await run_parallel(args.pods, args.concurrency, get_const)
                results.append(
                    ("gets/s", f"{gets:,.0f}", "constant HTTPS answers/s", f"{const_gets:,.0f}")
                )
                await runner.cleanup()
                runner = await constant_server(
                    full, event_line, args.watch_events, server_ctx, cport
                )
                const_lists = []
                for _ in range(5):
                    t = time.perf_counter()
                    async with s.get(f"{cbase}/constant") as r:
                        await r.read()
                    const_lists.append(time.perf_counter() - t)
                results.append(
                    (
                        f"list {args.pods} pods (ms, JSON)",
                        f"{statistics.median(lists) * 1000:.0f}",
                        "same bytes from a constant server (ms)",
                        f"{statistics.median(const_lists) * 1000:.0f}",
                    )
                )
                results.append(
                    (
                        f"list {args.pods} pods (ms, Table)",
                        f"{statistics.median(tables) * 1000:.0f}",
                        "",
                        "",
                    )
                )

                # watch fan-out
                rv = orjson.loads(full)["metadata"]["resourceVersion"]
                watch_url = (
                    f"{base}/api/v1/namespaces/bench/configmaps?watch=true&resourceVersion={rv}"
                )
                n = args.watch_events
                watchers = [
                    asyncio.create_task(count_events(s, watch_url, n)) for _ in range(args.watchers)
                ]
                await asyncio.sleep(1.0)
                cm_url = f"{base}/api/v1/namespaces/bench/configmaps"
                t = time.perf_counter()

                async def create_cm(i: int) -> None:
                    body = {"metadata": {"name": f"cm{i}"}, "data": {"k": "v"}}
                    async with s.post(cm_url, json=body) as r:
                        await r.read()

                await run_parallel(n, args.concurrency, create_cm)
                await asyncio.gather(*watchers)
                watch_rate = n * args.watchers / (time.perf_counter() - t)
                t = time.perf_counter()
                await asyncio.gather(
                    *(count_events(s, f"{cbase}/stream", n) for _ in range(args.watchers))
                )
                const_watch = n * args.watchers / (time.perf_counter() - t)
                results.append(
                    (
                        f"watch events/s ({args.watchers} watchers)",
                        f"{watch_rate:,.0f}",
                        "constant stream events/s",
                        f"{const_watch:,.0f}",
                    )
                )
            finally:
                await runner.cleanup()
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{'figure':38} {'tinykube':>12}   {'baseline':40} {'value':>10}  ratio")
    for name, value, bname, bvalue in results:
        ratio = ""
        if bvalue:
            a = float(value.replace(",", ""))
            b = float(bvalue.replace(",", ""))
            ratio = f"{a / b:.2f}" if b else ""
        print(f"{name:38} {value:>12}   {bname:40} {bvalue:>10}  {ratio}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pods", type=int, default=10_000)
    parser.add_argument("--watchers", type=int, default=100)
    parser.add_argument("--watch-events", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    asyncio.run(bench(args))


if __name__ == "__main__":
    main()
