"""SIGKILL the API server during a stream of writes: every acknowledged write survives.

"Acknowledged" means the client received the 201 for the create. The server
is killed at a random moment while several clients are writing, restarted on
the same data directory, and every acknowledged object must be readable with
the data it was created with.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from cluster import ApiServer
from kubernetes import client, config
from kubernetes.client.rest import ApiException

pytestmark = pytest.mark.integration


def _writer(
    core: client.CoreV1Api, prefix: str, acked: list[tuple[str, str]], stop: threading.Event
) -> None:
    i = 0
    while not stop.is_set():
        name = f"{prefix}-{i}"
        body = client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name), data={"n": str(i)})
        try:
            core.create_namespaced_config_map("default", body, _request_timeout=5)
        except Exception:
            return  # the server died under us: this write was never acknowledged
        acked.append((name, str(i)))
        i += 1


def test_acknowledged_writes_survive_sigkill(tmp_path: Path) -> None:
    server = ApiServer(tmp_path / "data")
    server.start()
    api = config.new_client_from_config(config_file=str(server.kubeconfig))
    core = client.CoreV1Api(api)
    acked: list[list[tuple[str, str]]] = [[] for _ in range(4)]
    stop = threading.Event()
    threads = [
        threading.Thread(target=_writer, args=(core, f"w{n}", acked[n], stop), daemon=True)
        for n in range(4)
    ]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 20
    while sum(map(len, acked)) < 200 and time.monotonic() < deadline:
        time.sleep(0.01)
    server.kill()
    stop.set()
    for t in threads:
        t.join(10)
    total = sum(map(len, acked))
    assert total >= 50, "the writers did not get going before the kill"

    server.start()
    try:
        core = client.CoreV1Api(config.new_client_from_config(config_file=str(server.kubeconfig)))
        for per_writer in acked:
            for name, value in per_writer:
                try:
                    cm = core.read_namespaced_config_map(name, "default")
                except ApiException as exc:  # pragma: no cover - the failure we test for
                    raise AssertionError(f"acknowledged write {name} lost") from exc
                assert cm.data == {"n": value}
    finally:
        server.stop()
