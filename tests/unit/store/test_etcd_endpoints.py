"""How EtcdStore reads kube-apiserver's ``--etcd-servers`` and the TLS flags.

Channels connect lazily, so building a store opens no socket."""

from __future__ import annotations

from pathlib import Path

import pytest

from tinykube.store.etcd import EtcdStore, TlsFiles, _target
from tinykube.store.registry import open_store

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("endpoint", "want"),
    [
        pytest.param("127.0.0.1:2379", ("127.0.0.1:2379", False), id="bare"),
        pytest.param("http://10.0.0.1:2379/", ("10.0.0.1:2379", False), id="http"),
        pytest.param("https://localhost:2379", ("localhost:2379", True), id="https"),
    ],
)
def test_endpoints(endpoint: str, want: tuple[str, bool]) -> None:
    assert _target(endpoint) == want


@pytest.mark.parametrize(
    ("endpoints", "message"),
    [
        pytest.param(["unix://x:1"], "http:// or https://", id="scheme"),
        pytest.param(["https://host"], "host:port", id="no-port"),
        pytest.param(["http://a:1", "https://b:1"], "all http:// or all https://", id="mixed"),
    ],
)
def test_bad_endpoints_are_refused(endpoints: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        EtcdStore(endpoints)


def test_a_certificate_needs_its_key(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="--etcd-keyfile"):
        TlsFiles(certfile=tmp_path / "c.crt").credentials()


async def test_a_missing_ca_file_fails_at_open(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        await open_store("https://127.0.0.1:2379", etcd_cafile=tmp_path / "absent.crt")


async def test_etcd_servers_urls_open_the_etcd_driver() -> None:
    for url in ("http://127.0.0.1:1,http://127.0.0.1:2", "etcd://127.0.0.1:1"):
        store = await open_store(url)
        assert isinstance(store, EtcdStore)
        await store.close()
