"""``kubectl debug`` against a whole cluster, with the real kubectl and with tkctl:
an ephemeral container in a running pod that shares the target container's
processes, a copy of a pod with an added container, and a node debugger pod
that sees the host's root at /host."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import time
from typing import Any

import pytest
from cluster import ApiServer, kubectl_binary, run_kubectl
from test_attach import Session
from test_tkctl import tkctl_command

pytestmark = pytest.mark.e2e

WAIT = 60.0


def kubectl(server: ApiServer, *args: str, input: str | None = None) -> str:
    result = run_kubectl(server, *args, input=input)
    assert result.returncode == 0, f"kubectl {' '.join(args)}: {result.stderr}"
    return result.stdout


@pytest.fixture(params=["kubectl", "tkctl"])
def tool(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def debug(
    server: ApiServer, tool: str, *args: str, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    argv = [kubectl_binary()] if tool == "kubectl" else tkctl_command()
    return subprocess.run(
        [*argv, "debug", *args],
        env={**os.environ, "KUBECONFIG": str(server.kubeconfig)},
        input=input if input is not None else "",
        capture_output=True,
        text=True,
        timeout=WAIT * 2,
    )


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
    apiserver: ApiServer, tool: str
) -> None:
    web = f"web-{tool}"
    start_web(apiserver, web)
    result = debug(
        apiserver,
        tool,
        *(f"pod/{web}", "--image=python", f"--target={web}", "-i"),
        *("--", "sh", "-c", "echo hi; ps ax"),
    )
    assert result.returncode == 0, result.stderr
    said = result.stdout + result.stderr
    assert f'Targeting container "{web}".' in said
    assert "Defaulting debug container name to debugger-" in said
    pod = get(apiserver, "pod", web)
    (added,) = pod["spec"]["ephemeralContainers"]
    assert added["targetContainerName"] == web and added["stdin"] is True
    assert added["securityContext"] == {"capabilities": {"add": ["SYS_PTRACE"]}}  # general
    status = eventually(lambda: debugger_status(apiserver, web), "the debugger to exit")
    assert status["name"] == added["name"]
    assert status["state"]["terminated"]["exitCode"] == 0
    assert status["ready"] is False and status["restartCount"] == 0
    logs = kubectl(apiserver, "logs", web, "-c", added["name"])
    assert logs.startswith("hi\n")
    assert "sleep 3600" in logs  # the target's process, seen from the debugger
    # The app container was not touched; the exited debugger is not started again.
    time.sleep(3)
    again = get(apiserver, "pod", web)["status"]
    assert again["phase"] == "Running"
    assert again["ephemeralContainerStatuses"][0]["restartCount"] == 0


def test_debug_it_gives_a_shell_on_a_terminal(apiserver: ApiServer, tool: str) -> None:
    web = f"term-{tool}"
    start_web(apiserver, web)
    argv = [kubectl_binary()] if tool == "kubectl" else tkctl_command()
    env = {**os.environ, "KUBECONFIG": str(apiserver.kubeconfig)}
    args = ["debug", "-it", f"pod/{web}", "--image=python", f"--target={web}", "--", "sh"]
    session = Session([*argv, *args], env, tty=True)
    try:
        session.expect(b"If you don't see a command prompt, try pressing enter.")
        session.send(b"echo mark-$((6*7)); tty; ps ax | grep -c '^ *[0-9]* .* sleep 3600$'\r")
        session.send(b"exit\r")
        out = session.expect(b"Session ended, the ephemeral container will not be restarted")
        assert b"mark-42" in out
        assert b"/dev/pts/" in out
        assert session.wait() == 0
    finally:
        session.stop()
    # Typed ahead of the shell's first prompt, the input is echoed before it, so the prompt
    # can share a line with the first output ("# mark-42"): find the line by its end.
    lines = out.decode(errors="replace").splitlines()
    mark = next(i for i, line in enumerate(lines) if line.rstrip().endswith("mark-42"))
    assert lines[mark + 2].strip() == "1"  # the target's sleep, seen


def test_debug_refuses_a_name_another_container_has(apiserver: ApiServer, tool: str) -> None:
    named = f"named-{tool}"
    start_web(apiserver, named)
    result = debug(apiserver, tool, f"pod/{named}", "--image=python", f"--container={named}")
    assert result.returncode == 1
    assert result.stderr == (
        f'The Pod "{named}" is invalid: spec.ephemeralContainers[0].name: '
        f'Duplicate value: "{named}"\n'
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["pod/x", "--", "true"], "you must specify --image when not using --copy-to."),
        (["pod/x", "--image=python", "--copy-to=y", "--target=x"],
         "--target is incompatible with --copy-to. Use --share-processes instead."),
        (["pod/x", "--image=python", "-t"],
         "-i/--stdin is required for containers with -t/--tty=true"),
        (["pod/x", "--image=python", "--set-image=a=b"],
         "--set-image may only be used with --copy-to."),
        (["--image=python"], "NAME or filename is required for debug"),
        (["pod/x", "--image=Bad:Image"], 'invalid image name "Bad:Image": invalid reference format'),
        (["pod/nope", "--image=python"], None),
        (["svc/kubernetes", "--image=python"], None),
    ],
    ids=["no-image", "target-copy", "tty-no-stdin", "set-image", "no-name", "bad-image",
         "no-pod", "service"],
)  # fmt: skip
def test_debug_errors_match_kubectl(
    apiserver: ApiServer, args: list[str], message: str | None
) -> None:
    theirs = debug(apiserver, "kubectl", *args)
    ours = debug(apiserver, "tkctl", *args)
    assert theirs.returncode == ours.returncode == 1
    assert ours.stderr == theirs.stderr
    if message is not None:
        assert ours.stderr == f"error: {message}\n"


def test_debug_copy_to_runs_a_copy_with_the_debug_container(
    apiserver: ApiServer, tool: str
) -> None:
    orig = f"orig-{tool}"
    start_web(apiserver, orig)
    result = debug(
        apiserver,
        tool,
        *(f"pod/{orig}", f"--copy-to={orig}-debug", "--container=dbg", "--image=python"),
        *("--", "sleep", "3600"),
    )
    assert result.returncode == 0 and result.stdout == "", result.stderr
    ready = f"--timeout={WAIT:.0f}s"
    kubectl(apiserver, "wait", "--for=condition=Ready", f"pod/{orig}-debug", ready)
    copy = get(apiserver, "pod", f"{orig}-debug")
    assert [c["name"] for c in copy["spec"]["containers"]] == [orig, "dbg"]
    assert copy["spec"]["containers"][1]["command"] == ["sleep", "3600"]
    assert copy["spec"]["shareProcessNamespace"] is True
    assert "labels" not in copy["metadata"]  # the general profile drops them
    assert [s["ready"] for s in copy["status"]["containerStatuses"]] == [True, True]
    assert "ephemeralContainers" not in get(apiserver, "pod", orig)["spec"]
    # One PID namespace for the copy: the debugger sees the app's process.
    seen = kubectl(apiserver, "exec", f"{orig}-debug", "-c", "dbg", "--", "ps", "ax")
    assert any(line.endswith(" sleep 3600") for line in seen.splitlines())


def test_debug_copy_to_with_set_image_changes_only_images(apiserver: ApiServer, tool: str) -> None:
    orig = f"img-{tool}"
    start_web(apiserver, orig)
    result = debug(apiserver, tool, f"pod/{orig}", f"--copy-to={orig}-2", "--set-image=*=busybox")
    assert result.returncode == 0, result.stderr
    copy = get(apiserver, "pod", f"{orig}-2")
    assert [(c["name"], c["image"]) for c in copy["spec"]["containers"]] == [(orig, "busybox")]


def test_debug_node_sees_the_host_root(apiserver: ApiServer, tool: str) -> None:
    result = debug(
        apiserver,
        tool,
        *("node/controlplane", "--image=python"),
        *("--", "chroot", "/host", "cat", "/etc/hostname"),
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("Creating debugging pod node-debugger-controlplane-")
    name = out.split()[3]
    assert out.strip().endswith("with container debugger on node controlplane.")

    def finished() -> dict[str, Any] | None:
        pod = get(apiserver, "pod", name)
        return pod if pod["status"].get("phase") in ("Succeeded", "Failed") else None

    pod = eventually(finished, "the node debugger to finish")
    assert pod["status"]["phase"] == "Succeeded"
    assert pod["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "kubectl-debug"}
    spec = pod["spec"]
    assert spec["hostPID"] and spec["hostNetwork"] and spec["hostIPC"]
    assert {"name": "host-root", "hostPath": {"path": "/", "type": ""}} in spec["volumes"]
    assert kubectl(apiserver, "logs", name).strip() == socket.gethostname()


def test_python_client_reads_replaces_and_patches_ephemeral_containers(
    apiserver: ApiServer,
) -> None:
    from kubernetes import client, config
    from kubernetes.client.rest import ApiException

    start_web(apiserver, "py")
    core = client.CoreV1Api(config.new_client_from_config(config_file=str(apiserver.kubeconfig)))
    pod = core.read_namespaced_pod_ephemeralcontainers("py", "default")
    assert pod.metadata.name == "py" and not pod.spec.ephemeral_containers
    pod.spec.ephemeral_containers = [
        client.V1EphemeralContainer(name="one", image="python", command=["true"])
    ]
    replaced = core.replace_namespaced_pod_ephemeralcontainers("py", "default", pod)
    assert [c.name for c in replaced.spec.ephemeral_containers] == ["one"]
    patch = {"spec": {"ephemeralContainers": [{"name": "two", "image": "python"}]}}
    patched = core.patch_namespaced_pod_ephemeralcontainers("py", "default", patch)
    assert sorted(c.name for c in patched.spec.ephemeral_containers) == ["one", "two"]
    patched.spec.ephemeral_containers = []
    # Unconditional (no resourceVersion): the kubelet writing the pod's status in between
    # would otherwise make this a 409 Conflict before validation is reached.
    patched.metadata.resource_version = None
    with pytest.raises(ApiException) as exc:
        core.replace_namespaced_pod_ephemeralcontainers("py", "default", patched)
    assert exc.value.status == 422
    message = json.loads(exc.value.body)["message"]
    assert 'existing ephemeral containers "one" may not be removed' in message


def test_debug_a_pod_named_in_a_manifest_and_replace_a_copy(
    apiserver: ApiServer, tool: str, tmp_path: Any
) -> None:
    name = f"file-{tool}"
    start_web(apiserver, name)
    manifest = tmp_path / "pod.yaml"
    manifest.write_text(kubectl(apiserver, "get", "pod", name, "-o", "yaml"))
    result = debug(apiserver, tool, "-f", str(manifest), "--image=python", "-c", "dbg", "-q")
    assert result.returncode == 0 and result.stdout == "", result.stderr
    assert get(apiserver, "pod", name)["spec"]["ephemeralContainers"][0]["name"] == "dbg"
    result = debug(apiserver, tool, name, f"--copy-to={name}-2", "--replace", "--image=python")
    assert result.returncode == 0, result.stderr
    gone = run_kubectl(apiserver, "get", "pod", name)
    assert gone.returncode == 1 or "Terminating" in gone.stdout
    assert get(apiserver, "pod", f"{name}-2")["metadata"]["name"] == f"{name}-2"


def test_tkctl_sends_what_kubectl_sends(apiserver: ApiServer, tmp_path: Any) -> None:
    start_web(apiserver, "same")
    custom = tmp_path / "custom.json"
    custom.write_text(json.dumps({"env": [{"name": "C", "value": "3"}], "workingDir": "/tmp"}))
    flags = ["--image=python", "--target=same", "--env=A=1,B=2", f"--custom={custom}", "-q"]
    for tool, name in (("kubectl", "k"), ("tkctl", "t")):
        result = debug(apiserver, tool, "pod/same", "-c", name, *flags, "--", "sleep", "1")
        assert result.returncode == 0, result.stderr
    theirs, ours = get(apiserver, "pod", "same")["spec"]["ephemeralContainers"]
    assert (theirs.pop("name"), ours.pop("name")) == ("k", "t")
    # kubectl's --env is a Go map (stringToString): the order of A and B varies run to run.
    for side in (theirs, ours):
        side["env"] = sorted(side["env"], key=lambda e: e["name"])
    assert ours == theirs


def test_tkctl_copies_as_kubectl_copies(apiserver: ApiServer) -> None:
    start_web(apiserver, "twin")
    flags = ["--image=python", "-c", "dbg", "--env=X=1", "--keep-labels", "-q", "--", "sleep", "9"]
    for tool in ("kubectl", "tkctl"):
        result = debug(apiserver, tool, "pod/twin", f"--copy-to=twin-{tool}", *flags)
        assert result.returncode == 0, result.stderr

    def created(tool: str) -> str:
        pod = get(apiserver, "pod", f"twin-{tool}")
        kept = {"metadata": {"labels": pod["metadata"].get("labels")}, "spec": pod["spec"]}
        return re.sub(r"kube-api-access-[a-z0-9]{5}", "kube-api-access-x", json.dumps(kept))

    assert created("tkctl") == created("kubectl")
