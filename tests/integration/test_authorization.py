"""Authorization modes of the API server, seen by the real kubectl with a token user.

``Node,RBAC`` (the default) refuses a user no binding names, and admits them
once a binding to one of their groups exists; ``AlwaysAllow`` lets every
authenticated user do everything, as kube-apiserver does in that mode.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cluster import ApiServer, run_kubectl

pytestmark = pytest.mark.integration

TOKEN = "token-of-alice"


def start(tmp: Path, *args: str) -> ApiServer:
    tmp.mkdir(parents=True, exist_ok=True)
    tokens = tmp / "tokens.csv"
    tokens.write_text(f'{TOKEN},alice,alice-uid,"devs"\n')
    server = ApiServer(tmp / "data", extra_args=["--token-auth-file", str(tokens), *args])
    server.start()
    return server


def alice_kubeconfig(server: ApiServer, tmp: Path) -> Path:
    path = tmp / "alice.kubeconfig"
    text = server.kubeconfig.read_text()
    path.write_text(text)
    for args in (
        ["config", "set-credentials", "alice", f"--token={TOKEN}"],
        ["config", "set-context", "alice", "--cluster=tinykube", "--user=alice"],
        ["config", "use-context", "alice"],
    ):
        done = run_kubectl(server, *args, kubeconfig=path)
        assert done.returncode == 0, done.stderr
    return path


@pytest.fixture
def rbac_server(tmp_path: Path) -> Iterator[ApiServer]:
    server = start(tmp_path / "rbac")
    yield server
    server.stop()


@pytest.fixture
def open_server(tmp_path: Path) -> Iterator[ApiServer]:
    server = start(tmp_path / "open", "--authorization-mode", "AlwaysAllow")
    yield server
    server.stop()


def test_rbac_refuses_until_a_group_binding_grants(rbac_server: ApiServer, tmp_path: Path) -> None:
    alice = alice_kubeconfig(rbac_server, tmp_path)
    done = run_kubectl(rbac_server, "get", "configmaps", "-n", "default", kubeconfig=alice)
    assert done.returncode == 1
    assert done.stderr.strip() == (
        'Error from server (Forbidden): configmaps is forbidden: User "alice" cannot list '
        'resource "configmaps" in API group "" in the namespace "default"'
    )
    whoami = run_kubectl(
        rbac_server, "auth", "whoami", "-o", "jsonpath={.status.userInfo.groups}", kubeconfig=alice
    )
    assert whoami.stdout == '["devs","system:authenticated"]'
    for args in (
        ["create", "clusterrole", "cm-reader", "--verb=get,list", "--resource=configmaps"],
        ["create", "clusterrolebinding", "devs-read-cm", "--clusterrole=cm-reader", "--group=devs"],
    ):
        assert run_kubectl(rbac_server, *args).returncode == 0
    deadline = time.monotonic() + 10
    while True:
        done = run_kubectl(
            rbac_server, "get", "configmaps", "-n", "default", "-o", "name", kubeconfig=alice
        )
        if done.returncode == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert done.returncode == 0, done.stderr
    assert "configmap/kube-root-ca.crt" in done.stdout
    refused = run_kubectl(
        rbac_server, "delete", "configmap", "kube-root-ca.crt", "-n", "default", kubeconfig=alice
    )
    assert refused.returncode == 1
    assert 'cannot delete resource "configmaps"' in refused.stderr


def test_always_allow_lets_any_authenticated_user_in(
    open_server: ApiServer, tmp_path: Path
) -> None:
    alice = alice_kubeconfig(open_server, tmp_path)
    done = run_kubectl(open_server, "create", "namespace", "alices", kubeconfig=alice)
    assert done.returncode == 0, done.stderr
    can = run_kubectl(open_server, "auth", "can-i", "delete", "nodes", kubeconfig=alice)
    assert (can.returncode, can.stdout.strip()) == (0, "yes")
    # Impersonation still works, and needs no grant in this mode.
    who = run_kubectl(
        open_server,
        "auth",
        "whoami",
        "--as=bob",
        "-o",
        "jsonpath={.status.userInfo.username}",
        kubeconfig=alice,
    )
    assert who.stdout == "bob"
