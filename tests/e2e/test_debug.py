"""``kubectl debug`` (the real kubectl) against a whole cluster: an ephemeral
container in a running pod that shares the target container's processes, a
copy of a pod with an added container, and a node debugger pod that sees the
host's root at /host."""

from __future__ import annotations

import json
import socket
import time
from typing import Any

import pytest
from cluster import ApiServer, run_kubectl

pytestmark = pytest.mark.e2e

WAIT = 60.0


def kubectl(server: ApiServer, *args: str, input: str | None = None) -> str:
    result = run_kubectl(server, *args, input=input)
    assert result.returncode == 0, f"kubectl {' '.join(args)}: {result.stderr}"
    return result.stdout


def get(server: ApiServer, *args: str) -> dict[str, Any]:
    return json.loads(kubectl(server, "get", *args, "-o", "json"))


def eventually(check: Any, what: str) -> Any:
    """Poll ``check`` until it returns something truthy."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def start_web(server: ApiServer, name: str) -> None:
    kubectl(server, "run", name, "--image=python", "--restart=Never", "--command", "--", "sleep", "3600")  # fmt: skip
    kubectl(server, "wait", "--for=condition=Ready", f"pod/{name}", f"--timeout={WAIT:.0f}s")


def debugger_status(server: ApiServer, pod: str) -> dict[str, Any] | None:
    statuses = get(server, "pod", pod).get("status", {}).get("ephemeralContainerStatuses") or []
    done = [s for s in statuses if "terminated" in s.get("state", {})]
    return done[0] if done else None


def test_debug_adds_an_ephemeral_container_sharing_the_targets_processes(
    apiserver: ApiServer,
) -> None:
    start_web(apiserver, "web")
    result = run_kubectl(
        apiserver,
        *("debug", "pod/web", "--image=python", "--target=web", "-i"),
        *("--", "sh", "-c", "echo hi; ps ax"),
        input="",
    )
    assert result.returncode == 0, result.stderr
    said = result.stdout + result.stderr
    assert 'Targeting container "web".' in said
    assert "Defaulting debug container name to debugger-" in said
    pod = get(apiserver, "pod", "web")
    (added,) = pod["spec"]["ephemeralContainers"]
    assert added["targetContainerName"] == "web" and added["stdin"] is True
    status = eventually(lambda: debugger_status(apiserver, "web"), "the debugger to exit")
    assert status["name"] == added["name"]
    assert status["state"]["terminated"]["exitCode"] == 0
    assert status["ready"] is False and status["restartCount"] == 0
    logs = kubectl(apiserver, "logs", "web", "-c", added["name"])
    assert logs.startswith("hi\n")
    assert "sleep 3600" in logs  # the target's process, seen from the debugger
    # The app container was not touched; the exited debugger is not started again.
    time.sleep(3)
    again = get(apiserver, "pod", "web")["status"]
    assert again["phase"] == "Running"
    assert again["ephemeralContainerStatuses"][0]["restartCount"] == 0


def test_debug_refuses_a_name_another_container_has(apiserver: ApiServer) -> None:
    start_web(apiserver, "named")
    result = run_kubectl(
        apiserver, "debug", "pod/named", "--image=python", "--container=named", "--", "true"
    )
    assert result.returncode != 0
    assert (
        'The Pod "named" is invalid: spec.ephemeralContainers[0].name: Duplicate value: "named"'
        in result.stderr
    )


def test_debug_copy_to_runs_a_copy_with_the_debug_container(apiserver: ApiServer) -> None:
    start_web(apiserver, "orig")
    kubectl(
        apiserver,
        *("debug", "pod/orig", "--copy-to=orig-debug", "--container=dbg", "--image=python"),
        *("--", "sleep", "3600"),
    )
    kubectl(apiserver, "wait", "--for=condition=Ready", "pod/orig-debug", f"--timeout={WAIT:.0f}s")
    copy = get(apiserver, "pod", "orig-debug")
    assert [c["name"] for c in copy["spec"]["containers"]] == ["orig", "dbg"]
    assert copy["spec"]["shareProcessNamespace"] is True
    assert [s["ready"] for s in copy["status"]["containerStatuses"]] == [True, True]
    assert "ephemeralContainers" not in get(apiserver, "pod", "orig")["spec"]


def test_debug_node_sees_the_host_root(apiserver: ApiServer) -> None:
    out = kubectl(
        apiserver,
        *("debug", "node/controlplane", "--image=python"),
        *("--", "chroot", "/host", "cat", "/etc/hostname"),
    )
    assert out.startswith("Creating debugging pod node-debugger-controlplane-")
    name = out.split()[3]
    assert out.strip().endswith("with container debugger on node controlplane.")

    def finished() -> dict[str, Any] | None:
        pod = get(apiserver, "pod", name)
        return pod if pod["status"].get("phase") in ("Succeeded", "Failed") else None

    pod = eventually(finished, "the node debugger to finish")
    assert pod["status"]["phase"] == "Succeeded"
    spec = pod["spec"]
    assert spec["hostPID"] and spec["hostNetwork"] and spec["hostIPC"]
    assert {"name": "host-root", "hostPath": {"path": "/", "type": ""}} in spec["volumes"]
    assert kubectl(apiserver, "logs", name).strip() == socket.gethostname()
