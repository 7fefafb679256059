"""tkctl debug: the objects it builds and how each profile adjusts them."""

from __future__ import annotations

import io
from typing import Any

import pytest

from tinykube.kubectl import debugpods, debugprofiles
from tinykube.kubectl.commands import debug
from tinykube.kubectl.errors import CommandError, UsageError
from tinykube.kubectl.flags import parse

pytestmark = pytest.mark.unit


class Streams:
    def __init__(self) -> None:
        self.out, self.err = io.StringIO(), io.StringIO()
        self.namespace = "default"


def options(*argv: str) -> Any:
    return parse(list(argv), debug.FLAGS)


def web_pod() -> dict:
    return {
        "metadata": {"name": "web", "namespace": "ns", "labels": {"app": "web"}},
        "spec": {
            "nodeName": "n1",
            "initContainers": [{"name": "init", "image": "busybox"}],
            "containers": [
                {
                    "name": "app",
                    "image": "nginx",
                    "readinessProbe": {"tcpSocket": {"port": 80}},
                }
            ],
            "ephemeralContainers": [{"name": "old", "image": "busybox"}],
        },
    }


def test_ephemeral_container_fields_as_kubectl_sends_them() -> None:
    f = Streams()
    o = options("web", "--image=busybox", "-it", "--target=app", "--env=A=1,B=2", "--", "sh")
    container = debugpods.ephemeral_container(f, o, web_pod())
    assert container.pop("name").startswith("debugger-")
    assert container == {
        "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
        "image": "busybox",
        "stdin": True,
        "terminationMessagePolicy": "File",
        "tty": True,
        "targetContainerName": "app",
        "command": ["sh"],
    }
    assert f.out.getvalue().startswith("Defaulting debug container name to debugger-")


def test_a_chosen_name_is_not_announced() -> None:
    f = Streams()
    o = options("web", "--image=busybox", "-c", "dbg", "--arguments-only", "--", "-x")
    container = debugpods.ephemeral_container(f, o, web_pod())
    assert container["name"] == "dbg" and container["args"] == ["-x"]
    assert "command" not in container and "stdin" not in container
    assert f.out.getvalue() == ""


def test_node_pod_general_profile() -> None:
    f = Streams()
    pod, name = debugpods.node_pod(f, options("node/n1", "--image=busybox"), "n1")
    assert name == "debugger"
    assert pod["metadata"]["name"].startswith("node-debugger-n1-")
    assert pod["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "kubectl-debug"}
    assert len(pod["metadata"]["name"]) == len("node-debugger-n1-") + 5
    spec = pod["spec"]
    assert spec["nodeName"] == "n1" and spec["restartPolicy"] == "Never"
    assert spec["tolerations"] == [{"operator": "Exists"}]
    assert spec["hostPID"] and spec["hostNetwork"] and spec["hostIPC"]
    assert spec["volumes"] == [{"name": "host-root", "hostPath": {"path": "/"}}]
    assert spec["containers"][0]["volumeMounts"] == [{"name": "host-root", "mountPath": "/host"}]
    assert "securityContext" not in spec["containers"][0]
    assert f.out.getvalue() == (
        f"Creating debugging pod {pod['metadata']['name']} with container debugger on node n1.\n"
    )


def test_pod_copy_adds_a_container_and_drops_what_the_profile_drops() -> None:
    f = Streams()
    o = options("web", "--copy-to=web-copy", "--image=busybox", "-c", "dbg", "--", "sleep", "1")
    copied, name = debugpods.pod_copy(f, o, web_pod())
    assert name == "dbg"
    assert copied["metadata"] == {"name": "web-copy", "namespace": "ns"}
    spec = copied["spec"]
    assert "nodeName" not in spec and "ephemeralContainers" not in spec
    assert spec["shareProcessNamespace"] is True
    assert [c["name"] for c in spec["initContainers"]] == ["init"]  # kept by default
    app, dbg = spec["containers"]
    assert "readinessProbe" not in app
    assert dbg == {
        "name": "dbg",
        "terminationMessagePolicy": "File",
        "command": ["sleep", "1"],
        "image": "busybox",
        "securityContext": {"capabilities": {"add": ["SYS_PTRACE"]}},
    }


def test_pod_copy_with_keep_flags_and_same_node() -> None:
    o = options(
        "web", "--copy-to=c", "--image=busybox", "--keep-labels", "--keep-readiness",
        "--keep-init-containers=false", "--same-node", "--share-processes=false",
    )  # fmt: skip
    copied, _ = debugpods.pod_copy(Streams(), o, web_pod())
    spec = copied["spec"]
    assert copied["metadata"]["labels"] == {"app": "web"}
    assert spec["nodeName"] == "n1" and spec["shareProcessNamespace"] is False
    assert "initContainers" not in spec
    assert "readinessProbe" in spec["containers"][0]


def test_pod_copy_set_image_only() -> None:
    o = options("web", "--copy-to=c", "--set-image=app=nginx:2,*=ignored")
    copied, name = debugpods.pod_copy(Streams(), o, web_pod())
    assert name == ""
    assert [c["image"] for c in copied["spec"]["containers"]] == ["nginx:2"]


def test_pod_copy_changing_an_existing_container() -> None:
    o = options("web", "--copy-to=c", "-c", "app", "--", "sh")
    copied, name = debugpods.pod_copy(Streams(), o, web_pod())
    assert name == "app"
    (app,) = copied["spec"]["containers"]
    assert app["command"] == ["sh"] and app["image"] == "nginx"


@pytest.mark.parametrize(
    ("profile", "style", "expected"),
    [
        ("legacy", debugprofiles.EPHEMERAL, None),
        ("general", debugprofiles.EPHEMERAL, {"capabilities": {"add": ["SYS_PTRACE"]}}),
        ("baseline", debugprofiles.EPHEMERAL, None),
        ("netadmin", debugprofiles.EPHEMERAL, {"capabilities": {"add": ["NET_ADMIN", "NET_RAW"]}}),
        ("sysadmin", debugprofiles.EPHEMERAL, {"privileged": True}),
        (
            "restricted",
            debugprofiles.EPHEMERAL,
            {
                "runAsNonRoot": True,
                "allowPrivilegeEscalation": False,
                "capabilities": {"drop": ["ALL"]},
                "seccompProfile": {"type": "RuntimeDefault"},
            },
        ),
    ],
)
def test_profiles_set_the_security_context(profile: str, style: str, expected: Any) -> None:
    pod = web_pod()
    pod["spec"]["ephemeralContainers"] = [{"name": "dbg", "securityContext": {"runAsUser": 5}}]
    debugprofiles.apply(profile, pod, "dbg", style, debugprofiles.KeepFlags())
    context = pod["spec"]["ephemeralContainers"][0].get("securityContext")
    if profile == "legacy":
        assert context == {"runAsUser": 5}
    elif expected is None:
        assert context is None
    else:
        assert {k: v for k, v in context.items() if k != "runAsUser"} == expected


def test_unknown_profile() -> None:
    with pytest.raises(ValueError, match="unknown profile: nope"):
        debugprofiles.apply("nope", web_pod(), "app", debugprofiles.POD_COPY, None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["web", "--", "sh"], "you must specify --image when not using --copy-to."),
        (["web", "--copy-to=c"], "you must specify --image, --set-image or command arguments."),
        (["web", "--copy-to=c", "--", "sh"],
         "you must specify an existing container or a new image when specifying args."),
        (["web", "--image=busybox", "--replace"], "--replace may only be used with --copy-to."),
        (["web", "--image=busybox", "--same-node"], "--same-node may only be used with --copy-to."),
        (["web", "--image=busybox", "--image-pull-policy=Sometimes"],
         "invalid image pull policy: Sometimes"),
        (["web", "--attach"],
         "you must specify --container or create a new container using --image in order to "
         "attach."),
    ],
)  # fmt: skip
def test_validation_errors(argv: list[str], message: str) -> None:
    with pytest.raises(CommandError) as exc:
        debug.validate(Streams(), options(*argv))
    assert str(exc.value) == message


def test_a_malformed_pair_is_a_flag_error() -> None:
    with pytest.raises(UsageError) as exc:
        debug.validate(Streams(), options("web", "--image=busybox", "--env=A=1,B,C=2"))
    assert str(exc.value) == (
        'error: invalid argument "A=1,B,C=2" for "--env" flag: B must be formatted as '
        "key=value\nSee 'kubectl debug --help' for usage."
    )


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["A=1"], {"A": "1"}),
        (["A=1,B"], {"A": "1,B"}),
        (["B,A=1"], {"B,A": "1"}),
        (["A=1,B=2", "C=3"], {"A": "1", "B": "2", "C": "3"}),
        (['"A=x,y",B=2'], {"A": "x,y", "B": "2"}),
    ],
)
def test_key_value_flags_read_as_pflag_reads_them(values: list[str], expected: dict) -> None:
    assert debugpods.pairs(values, "env") == expected


def test_the_legacy_profile_is_deprecated() -> None:
    f = Streams()
    debug.validate(f, options("web", "--image=busybox", "--profile=legacy", "-q"))
    assert f.err.getvalue().startswith("--profile=legacy is deprecated")
    assert f.out.getvalue() == ""


def test_custom_container_spec_merges_after_the_profile(tmp_path: Any) -> None:
    spec = tmp_path / "custom.yaml"
    spec.write_text("env:\n- name: B\n  value: '2'\nsecurityContext:\n  runAsUser: 0\n")
    custom = debugprofiles.load_custom(str(spec))
    assert debugprofiles.custom_problem(custom) == ""
    pod = {"spec": {"ephemeralContainers": [{"name": "d", "env": [{"name": "A", "value": "1"}]}]}}
    debugprofiles.apply("general", pod, "d", debugprofiles.EPHEMERAL, debugprofiles.KeepFlags())
    debugprofiles.apply_custom(pod, "d", custom)
    (container,) = pod["spec"]["ephemeralContainers"]
    assert container["env"] == [{"name": "B", "value": "2"}, {"name": "A", "value": "1"}]
    assert container["securityContext"] == {
        "capabilities": {"add": ["SYS_PTRACE"]},
        "runAsUser": 0,
    }


def test_custom_container_spec_errors(tmp_path: Any) -> None:
    with pytest.raises(ValueError, match="must pass a container spec json file for custom"):
        debugprofiles.load_custom(str(tmp_path / "missing.json"))
    assert debugprofiles.custom_problem({"image": "x"}) == (
        "name, command, image, lifecycle and volume devices are not modifiable via custom profile"
    )
