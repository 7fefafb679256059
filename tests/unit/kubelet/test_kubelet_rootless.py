"""A node without root: what differs so that pods still reach the API and each other."""

from __future__ import annotations

import argparse
from pathlib import Path
from types import SimpleNamespace

import pytest

from tinykube import cli
from tinykube.client import kubeconfig
from tinykube.kubelet.kubelet import Kubelet
from tinykube.proxy import hostlock

KUBERNETES = {
    "metadata": {"name": "kubernetes", "namespace": "default"},
    "spec": {
        "clusterIP": "127.96.0.1",
        "ports": [{"name": "https", "port": 443, "protocol": "TCP"}],
    },
}


def test_in_cluster_clients_are_pointed_at_the_api_server_itself() -> None:
    fake = SimpleNamespace(
        client=SimpleNamespace(config=SimpleNamespace(server="https://127.0.0.1:16443"))
    )
    reachable = Kubelet._reachable_master(fake, KUBERNETES)  # type: ignore[arg-type]
    assert reachable["spec"]["clusterIP"] == "127.0.0.1"
    assert reachable["spec"]["ports"][0]["port"] == 16443
    assert KUBERNETES["spec"]["clusterIP"] == "127.96.0.1"  # the cached Service is untouched


def test_service_range_defaults_to_loopback_without_root(monkeypatch: pytest.MonkeyPatch) -> None:
    unset = argparse.Namespace(service_cluster_ip_range=None)
    monkeypatch.setattr(cli.os, "geteuid", lambda: 1000)
    assert cli.service_range(unset) == "127.96.0.0/16"
    monkeypatch.setattr(cli.os, "geteuid", lambda: 0)
    assert cli.service_range(unset) == "10.96.0.0/12"
    given = argparse.Namespace(service_cluster_ip_range="10.50.0.0/16")
    assert cli.service_range(given) == "10.50.0.0/16"


def test_the_proxy_lock_of_a_user_namespace_root_lives_in_tmp(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(hostlock.os, "geteuid", lambda: 0)
    monkeypatch.setattr(hostlock.os, "access", lambda path, mode: False)  # /run is not ours
    assert hostlock.lock_dir() != hostlock.ROOT_LOCK_DIR
    monkeypatch.setattr(hostlock.os, "access", lambda path, mode: True)
    assert hostlock.lock_dir() == hostlock.ROOT_LOCK_DIR


def test_a_home_we_may_not_enter_is_no_kubeconfig(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self: Path, *args: object, **kw: object) -> bool:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "exists", refuse)
    assert kubeconfig._visible(Path("/root/.kube/config")) is False
