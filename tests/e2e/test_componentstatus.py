"""``kubectl get componentstatuses`` and the control plane's health ports, on a whole cluster.

What a CKA learner does to check a control plane: ``kubectl get cs`` (a deprecated API, so
kubectl prints the server's Warning), ``curl -k https://127.0.0.1:10259/healthz?verbose``;
then, with the scheduler broken through its static pod manifest, ``kubectl get cs`` says
why in the words a kubeadm cluster uses. The cluster's health ports are free ports of
its own (``tests/cluster.py``), read back here from its flags. Last, a component whose
health port is taken stops at once with upstream's listener error.
"""

from __future__ import annotations

import json
import re
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import TypeVar

import pytest
from cluster import BIN, Cluster, run_kubectl

pytestmark = pytest.mark.e2e

T = TypeVar("T")
WARNING = "Warning: v1 ComponentStatus is deprecated in v1.19+\n"


def eventually(check: Callable[[], T | None], timeout: float = 90.0) -> T:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.5)


def port_of(cluster: Cluster, flag: str) -> int:
    return int(cluster.extra_args[cluster.extra_args.index(flag) + 1])


def get(url: str) -> tuple[int, str]:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        with urllib.request.urlopen(url, context=ctx, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()
    except OSError as err:
        return 0, str(err)


def all_healthy(cluster: Cluster) -> str | None:
    out = run_kubectl(cluster, "get", "cs")
    return out.stdout if out.returncode == 0 and out.stdout.count(" Healthy ") == 3 else None


def test_get_cs_shows_every_component_healthy(apiserver: Cluster) -> None:
    eventually(lambda: all_healthy(apiserver))
    out = run_kubectl(apiserver, "get", "componentstatuses")
    assert out.returncode == 0, out.stderr
    assert out.stderr == WARNING
    lines = [line.rstrip() for line in out.stdout.splitlines()]
    assert lines == [
        "NAME                 STATUS    MESSAGE   ERROR",
        "scheduler            Healthy   ok",
        "controller-manager   Healthy   ok",
        "etcd-0               Healthy   ok",
    ]
    one = run_kubectl(apiserver, "get", "cs", "scheduler", "-o", "jsonpath={.conditions}")
    assert one.returncode == 0, one.stderr
    assert one.stdout == '[{"message":"ok","status":"True","type":"Healthy"}]'
    only = run_kubectl(apiserver, "get", "cs", "--field-selector", "metadata.name=etcd-0")
    assert [line.split()[0] for line in only.stdout.splitlines()] == ["NAME", "etcd-0"]
    none = run_kubectl(apiserver, "get", "cs", "-l", "component=kube-scheduler")
    assert none.returncode == 0 and none.stdout == ""
    assert "No resources found" in none.stderr
    missing = run_kubectl(apiserver, "get", "cs", "kube-proxy")
    assert missing.returncode == 1
    assert (
        "Error from server (InternalError): Internal error occurred: Component not found: kube-proxy"
        in missing.stderr
    )


def test_python_client_lists_component_statuses(apiserver: Cluster) -> None:
    from kubernetes import client, config

    eventually(lambda: all_healthy(apiserver))
    api = client.CoreV1Api(config.new_client_from_config(str(apiserver.kubeconfig)))
    items = api.list_component_status().items
    assert [(i.metadata.name, i.conditions[0].status) for i in items] == [
        ("scheduler", "True"),
        ("controller-manager", "True"),
        ("etcd-0", "True"),
    ]
    assert api.read_component_status("controller-manager").conditions[0].message == "ok"


def test_health_ports_answer_as_upstream(apiserver: Cluster) -> None:
    scheduler = f"https://127.0.0.1:{port_of(apiserver, '--scheduler-secure-port')}"
    manager = f"https://127.0.0.1:{port_of(apiserver, '--controller-manager-secure-port')}"
    assert get(f"{scheduler}/healthz") == (200, "ok")
    assert get(f"{scheduler}/healthz?verbose") == (
        200,
        "[+]leaderElection ok\nhealthz check passed\n",
    )
    assert get(f"{scheduler}/livez?verbose") == (200, "[+]ping ok\nlivez check passed\n")
    assert get(f"{scheduler}/readyz") == (200, "ok")
    assert get(f"{scheduler}/healthz/leaderElection") == (200, "ok")
    assert get(f"{scheduler}/healthz?exclude=leaderElection&verbose") == (
        200,
        "[+]leaderElection excluded: ok\nhealthz check passed\n",
    )
    # The controller manager adds a check per controller once it leads.
    body = eventually(lambda: (r := get(f"{manager}/healthz?verbose"))[1].count("\n") > 3 and r[1])
    lines = body.splitlines()
    assert lines[0] == "[+]leaderElection ok"
    assert "[+]deployment-controller ok" in lines
    assert lines[-1] == "healthz check passed"
    assert get(f"{manager}/healthz") == (200, "ok")


def test_broken_scheduler_is_unhealthy_with_upstreams_error(apiserver: Cluster) -> None:
    port = port_of(apiserver, "--scheduler-secure-port")
    manifest = apiserver.data_dir / "manifests" / "kube-scheduler.yaml"
    original = manifest.read_text()
    # A typo in a flag, as in a CKA troubleshooting task: the scheduler cannot start.
    manifest.write_text(original.replace("- --leader-elect\n", "- --leader-elect-typo\n"))
    try:
        out = eventually(
            lambda: (
                (r := run_kubectl(apiserver, "get", "cs")).returncode == 0
                and " Unhealthy " in r.stdout
                and r
            )
        )
        assert out.stderr == WARNING
        error = (
            f'Get "https://127.0.0.1:{port}/healthz": dial tcp 127.0.0.1:{port}: '
            "connect: connection refused"
        )
        rows = {line.split()[0]: line.rstrip() for line in out.stdout.splitlines()[1:]}
        assert re.fullmatch(rf"scheduler +Unhealthy +{re.escape(error)}", rows["scheduler"])
        assert re.fullmatch(r"controller-manager +Healthy +ok", rows["controller-manager"])
        status = run_kubectl(apiserver, "get", "cs", "scheduler", "-o", "jsonpath={.conditions[0]}")
        assert json.loads(status.stdout) == {"message": error, "status": "False", "type": "Healthy"}
    finally:
        manifest.write_text(original)
    eventually(lambda: all_healthy(apiserver))


@pytest.mark.parametrize("command", ["scheduler", "controller-manager"])
def test_taken_health_port_stops_the_component_with_upstreams_error(command: str) -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        out = subprocess.run(
            [
                str(BIN / "tinykube"),
                command,
                "--bind-address",
                "127.0.0.1",
                "--secure-port",
                str(port),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
    addr = f"127.0.0.1:{port}"
    assert out.returncode == 1
    assert out.stderr == (
        f"Error: failed to create listener: failed to listen on {addr}: "
        f"listen tcp {addr}: bind: address already in use\n"
    )
