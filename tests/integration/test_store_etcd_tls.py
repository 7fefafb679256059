"""EtcdStore on a TLS etcd started from ``up --etcd``'s own manifest command.

The etcd here runs the exact command line of the ``etcd.yaml`` static pod
(kubeadm's flags, client certificates required), with the PKI that ``up``
writes; the store reaches it as the API server does, with
``--etcd-cafile``/``--etcd-certfile``/``--etcd-keyfile``. One test restores
a snapshot under a running watch: the watch must notice that the revision
went back instead of waiting for revisions that will not come. Another starts
the API server before etcd, as the kubelet may: it must wait, not exit.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
import shutil
import signal
import subprocess
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cluster import ApiServer, free_port, run_kubectl

from tinykube.cluster import etcd
from tinykube.store import etcd as etcd_driver
from tinykube.store.errors import Compacted
from tinykube.store.etcd import EtcdError, StoreUnavailable
from tinykube.store.interface import Store
from tinykube.store.registry import open_store

pytestmark = pytest.mark.integration

if shutil.which("etcd") is None or shutil.which("etcdctl") is None:
    pytest.skip(
        "etcd and etcdctl are not installed (apt-get install etcd-server etcd-client)",
        allow_module_level=True,
    )


@dataclass
class TlsEtcd:
    data_dir: Path  # the cluster data directory: pki/ and etcd/ under it
    ports: etcd.Ports
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return etcd.client_url(self.ports)

    @property
    def pki(self) -> Path:
        return self.data_dir / "pki"

    def command(self, store_dir: Path | None = None) -> list[str]:
        argv = etcd.pod(self.data_dir, "controlplane", self.ports)["spec"]["containers"][0]
        argv = list(argv["command"])
        if store_dir is not None:
            argv = [f"--data-dir={store_dir}" if a.startswith("--data-dir=") else a for a in argv]
        return argv

    def start(self, store_dir: Path | None = None) -> None:
        log = open(self.data_dir / "etcd.log", "ab")  # noqa: SIM115 - etcd owns it
        self.proc = subprocess.Popen(self.command(store_dir), stdout=log, stderr=subprocess.STDOUT)
        self.wait_healthy()

    def wait_healthy(self, timeout: float = 30.0) -> None:
        """Poll the kubelet's liveness probe URL from the manifest until etcd says healthy."""
        probe = etcd.pod(self.data_dir, "controlplane", self.ports)["spec"]["containers"][0]
        get = probe["livenessProbe"]["httpGet"]
        url = f"http://{get['host']}:{get['port']}{get['path']}"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(url, timeout=2) as r:
                    if r.status == 200 and json.loads(r.read())["health"] == "true":
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"etcd not healthy at {url}:\n{self.logs()}")

    def logs(self) -> str:
        path = self.data_dir / "etcd.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(20)
        self.proc = None

    def etcdctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        certs = self.pki / "etcd"
        return subprocess.run(
            [
                "etcdctl",
                f"--endpoints={self.url}",
                f"--cacert={certs / 'ca.crt'}",
                f"--cert={certs / 'server.crt'}",
                f"--key={certs / 'server.key'}",
                *args,
            ],
            capture_output=True,
            text=True,
            env={**os.environ, "ETCDCTL_API": "3"},
            timeout=60,
        )


def restore(snapshot: Path, directory: Path) -> subprocess.CompletedProcess[str]:
    """``etcdctl snapshot restore``, as the CKA task runs it."""
    return subprocess.run(
        ["etcdctl", "snapshot", "restore", str(snapshot), "--data-dir", str(directory)],
        capture_output=True,
        text=True,
        env={**os.environ, "ETCDCTL_API": "3"},
        timeout=60,
    )


@pytest.fixture
def server(tmp_path: Path) -> Iterator[TlsEtcd]:
    etcd.ensure_pki(tmp_path, "controlplane", "127.0.0.1")
    member = TlsEtcd(tmp_path, etcd.Ports(free_port(), free_port(), free_port()))
    member.start()
    yield member
    member.stop()


@pytest.fixture
async def store(server: TlsEtcd) -> AsyncIterator[Store]:
    s = await open_store(
        server.url,
        etcd_cafile=server.pki / "etcd" / "ca.crt",
        etcd_certfile=server.pki / "apiserver-etcd-client.crt",
        etcd_keyfile=server.pki / "apiserver-etcd-client.key",
    )
    yield s
    await s.close()


async def test_reads_and_writes_over_tls_with_the_api_server_certificate(
    server: TlsEtcd, store: Store
) -> None:
    created = await store.create("/registry/configmaps/default/x", b'{"a":1}')
    got = await store.get("/registry/configmaps/default/x")
    assert got is not None
    assert (got.value, got.mod_revision) == (b'{"a":1}', created.mod_revision)
    listed = server.etcdctl("get", "/registry/configmaps/", "--prefix", "--keys-only")
    assert listed.returncode == 0, listed.stderr
    assert "/registry/configmaps/default/x" in listed.stdout.split()


async def test_a_client_without_a_certificate_is_refused(
    server: TlsEtcd, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(etcd_driver, "RETRY_WINDOW", 2.0)
    s = await open_store(server.url, etcd_cafile=server.pki / "etcd" / "ca.crt")
    try:
        with pytest.raises((StoreUnavailable, EtcdError)):
            await s.current_revision()
    finally:
        await s.close()


async def test_a_watch_fails_as_compacted_when_etcd_is_restored_to_an_older_revision(
    server: TlsEtcd, store: Store, tmp_path: Path
) -> None:
    await store.create("/registry/configmaps/default/kept", b"{}")
    snapshot = tmp_path / "snap.db"
    saved = server.etcdctl("snapshot", "save", str(snapshot))
    assert saved.returncode == 0, saved.stderr
    gone = await store.create("/registry/configmaps/default/gone", b"{}")

    async def follow() -> None:
        async for _ in store.watch("/registry/", gone.mod_revision):
            pass

    watching = asyncio.create_task(follow())
    try:
        await asyncio.sleep(0.5)  # the watch is open on the old member
        await asyncio.to_thread(server.stop)
        restored = tmp_path / "restored"
        done = await asyncio.to_thread(restore, snapshot, restored)
        assert done.returncode == 0, done.stderr
        await asyncio.to_thread(server.start, restored)
        with pytest.raises(Compacted):
            await asyncio.wait_for(watching, 30)
    finally:
        watching.cancel()
    listed = await store.list("/registry/configmaps/")
    assert [kv.key for kv in listed.items] == ["/registry/configmaps/default/kept"]
    assert listed.revision < gone.mod_revision


def test_the_api_server_waits_for_an_etcd_that_starts_later(tmp_path: Path) -> None:
    """The kubelet starts etcd and the API server together: the server must wait
    (and say so), not exit."""
    etcd.ensure_pki(tmp_path, "controlplane", "127.0.0.1")
    member = TlsEtcd(tmp_path, etcd.Ports(free_port(), free_port(), free_port()))
    api = ApiServer(
        tmp_path / "apiserver",
        extra_args=etcd.apiserver_args(tmp_path, member.url),
    )
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        started = pool.submit(api.start, 90.0)
        try:
            time.sleep(6)
            assert not started.done(), api.logs()  # neither ready nor exited
            member.start()
            started.result()
            out = run_kubectl(api, "get", "namespaces", "kube-system", "-o", "name")
            assert out.stdout.strip() == "namespace/kube-system", out.stderr
            assert "storage not reachable yet storage=https" in api.logs()
        finally:
            started.cancel()
            api.stop()
            member.stop()
