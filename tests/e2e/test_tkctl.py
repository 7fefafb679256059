"""tkctl against the real kubectl: the same commands, the same output.

Each test runs a script of kubectl command lines twice against one started
API server: once with the real kubectl in its own namespace, once with tkctl
in another namespace of the same length, and compares stdout, stderr and
exit codes line by line. Values that differ between two honest runs are
masked first: the namespace names, ages, timestamps, uids, resource versions
and generated names. Column padding is compared after squeezing runs of
spaces (an age can cross a width boundary between the two runs); the
tabwriter itself is pinned exactly by the unit tests.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cluster import BIN, ApiServer, kubectl_binary

pytestmark = pytest.mark.e2e


def tkctl_command() -> list[str]:
    script = BIN / "tkctl"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "tinykube.kubectl.main"]


_MASKS = [
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z"), "<time>"),
    (re.compile(r"\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d [+-]\d{4}"), "<time>"),
    (re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"), "<uid>"),
    (re.compile(r'(resourceVersion"?:\s*)"\d+"'), r'\1"<rv>"'),
    (re.compile(r"kube-api-access-[a-z0-9]{5}"), "kube-api-access-<x>"),
    (re.compile(r"\b([a-z0-9.-]+-[0-9a-f]{8,10})-[a-z0-9]{5}\b"), r"\1-<pod>"),
    (re.compile(r"\b\d+\.\d+\.\d+\.\d+\b"), "<ip>"),
    (re.compile(r"(?<![\w.-])(\d+[smhdy])(\d+[smh])?(?![\w.-])"), "<age>"),
    (re.compile(r"/tk[kt]\.kubeconfig"), "/<side>.kubeconfig"),
    (re.compile(r"applyset-[\w-]{43}-v1"), "applyset-<id>-v1"),
    (re.compile(r"(?m)^([IWEF])\d{4} \d\d:\d\d:\d\d\.\d{6} +\d+ "), r"\1<klog> "),
    (re.compile(r"(?<=\S) {3,}"), "   "),
]


def normalize(text: str, namespace: str) -> str:
    text = text.replace(namespace, "<ns>")
    for pattern, repl in _MASKS:
        text = pattern.sub(repl, text)
    return text


@dataclass
class Side:
    """One of the two runs: a command prefix, a kubeconfig whose context is its namespace."""

    command: list[str]
    namespace: str
    kubeconfig: Path
    work: Path
    cache: Path

    def run(
        self, line: str, stdin: str | None = None, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run one command line; ``@NS`` stands for this side's namespace."""
        env = {**os.environ, **(env or {}), "KUBECONFIG": str(self.kubeconfig)}
        line = line.replace("@NS", self.namespace)
        # The cluster's kubelet restarts a control-plane component that dies; ride out
        # a short outage instead of reporting it as a difference between the two tools.
        for _ in range(120):
            result = self._once(line, stdin, env)
            if "was refused - did you specify" not in result.stderr:
                return result
            time.sleep(0.5)
        return result

    def _once(
        self, line: str, stdin: str | None, env: dict[str, str]
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.command, f"--cache-dir={self.cache}", *shlex.split(line)],
            input=stdin,
            capture_output=True,
            text=True,
            env=env,
            cwd=self.work,
            timeout=60,
        )


class Pair:
    """Runs each line on both sides and asserts the normalized results are equal."""

    def __init__(self, real: Side, ours: Side) -> None:
        self.real, self.ours = real, ours

    def files(self, **contents: str) -> None:
        for side in (self.real, self.ours):
            for name, text in contents.items():
                path = side.work / name.replace("_", ".", 1)
                path.write_text(text.replace("@NS", side.namespace))
                if path.suffix == ".sh":
                    path.chmod(0o755)

    def same(
        self, line: str, stdin: str | None = None, env: dict[str, str] | None = None
    ) -> tuple[str, str, int]:
        a = self.real.run(line, stdin, env)
        b = self.ours.run(line, stdin, env)
        left = (
            normalize(a.stdout, self.real.namespace),
            normalize(a.stderr, self.real.namespace),
            a.returncode,
        )
        right = (
            normalize(b.stdout, self.ours.namespace),
            normalize(b.stderr, self.ours.namespace),
            b.returncode,
        )
        assert right == left, f"kubectl {line}\n{_diff(left, right)}"
        return left

    def both(self, line: str, stdin: str | None = None) -> None:
        """Run a setup line on both sides; it must succeed (output not compared)."""
        for side in (self.real, self.ours):
            result = side.run(line, stdin)
            assert result.returncode == 0, f"{side.command[0]} {line}: {result.stderr}"


def _diff(left: tuple[str, str, int], right: tuple[str, str, int]) -> str:
    import difflib

    parts = [f"exit codes: kubectl {left[2]}, tkctl {right[2]}"]
    for name, a, b in (("stdout", left[0], right[0]), ("stderr", left[1], right[1])):
        lines = difflib.unified_diff(
            a.splitlines(), b.splitlines(), "kubectl", "tkctl", lineterm=""
        )
        parts.append(f"{name}:\n" + "\n".join(lines))
    return "\n".join(parts)


def _side(apiserver: ApiServer, tmp: Path, command: list[str], prefix: str, suffix: str) -> Side:
    namespace = f"{prefix}-{suffix}"
    kubeconfig = tmp / f"{prefix}.kubeconfig"
    shutil.copy(apiserver.kubeconfig, kubeconfig)
    work = tmp / prefix
    work.mkdir()
    side = Side(command, namespace, kubeconfig, work, apiserver.data_dir / "kubectl-cache")
    real = Side([kubectl_binary()], namespace, kubeconfig, work, side.cache)
    assert real.run(f"create namespace {namespace}").returncode == 0
    assert real.run(f"config set-context --current --namespace={namespace}").returncode == 0
    return side


@pytest.fixture
def pair(apiserver: ApiServer, tmp_path: Path) -> Iterator[Pair]:
    suffix = uuid.uuid4().hex[:6]
    real = _side(apiserver, tmp_path, [kubectl_binary()], "tkk", suffix)
    ours = _side(apiserver, tmp_path, tkctl_command(), "tkt", suffix)
    yield Pair(real, ours)
    for side in (real, ours):
        Side([kubectl_binary()], "", side.kubeconfig, side.work, side.cache).run(
            f"delete namespace {side.namespace} --wait=false"
        )


CM = """apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  labels: {app: web, tier: "1"}
data:
  a: "1"
  b: "2"
"""
CM_V2 = CM.replace('  b: "2"\n', "").replace('a: "1"', 'a: "10"')
DEPLOY = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: app
        image: nginx:1.27
        env:
        - {name: KEEP, value: "1"}
        - {name: DROP, value: "2"}
"""
DEPLOY_V2 = DEPLOY.replace('        - {name: DROP, value: "2"}\n', "").replace(
    "nginx:1.27", "nginx:1.28"
)


def test_get_formats(pair: Pair) -> None:
    pair.files(cm_yaml=CM, deploy_yaml=DEPLOY)
    pair.both("apply -f cm.yaml")
    pair.both("apply -f deploy.yaml")
    # Controllers run in this cluster: let each Deployment's status settle before comparing.
    pair.both("wait --for=jsonpath={.status.updatedReplicas}=1 deploy/web --timeout=60s")
    pair.both("create configmap other --from-literal=x=y")
    for line in (
        "get configmaps",
        "get cm -o wide",
        "get cm settings -o yaml",
        "get cm settings -o json",
        "get cm -o yaml",
        "get cm -o name",
        "get cm,deploy -o name",
        "get cm settings -o jsonpath={.data.a}",
        "get cm -o jsonpath={.items[*].metadata.name}",
        r"""get cm -o 'jsonpath={range .items[*]}{.metadata.name}{"\t"}{.data}{"\n"}{end}'""",
        "get cm -o jsonpath-as-json={.items[*].metadata.name}",
        "get cm -o custom-columns=NAME:.metadata.name,KEYS:.data",
        "get cm --show-labels",
        "get cm -L app,tier",
        "get cm -l app=web",
        "get cm --field-selector metadata.name=other",
        "get cm --sort-by=.metadata.name --no-headers",
        "get deploy,cm",
        "get deploy/web cm/settings",
        "get deploy web -o wide",
        "get all",
        "get pods",
        "get cm nope",
        "get cm settings nope",
        "get nosuchtype",
        "get cm -o bogus",
    ):
        pair.same(line)


def test_apply_create_configure_unchanged_and_field_removal(pair: Pair) -> None:
    pair.files(cm_yaml=CM, cm2_yaml=CM_V2, deploy_yaml=DEPLOY, deploy2_yaml=DEPLOY_V2)
    annotation = "{.metadata.annotations.kubectl\\.kubernetes\\.io/last-applied-configuration}"
    pair.same("apply -f cm.yaml")
    pair.same(f"get cm settings -o jsonpath={annotation}")
    pair.same("apply -f cm.yaml")
    pair.same("apply -f cm2.yaml")
    pair.same("get cm settings -o jsonpath={.data}")
    pair.same("apply -f deploy.yaml")
    pair.same("apply -f deploy2.yaml")
    pair.same("get deploy web -o jsonpath={.spec.template.spec.containers[0].env[*].name}")
    pair.same("get deploy web -o jsonpath={.spec.template.spec.containers[0].image}")
    pair.same("apply -f deploy2.yaml --dry-run=client")
    pair.same("apply -f cm.yaml --dry-run=server")
    pair.same("apply -f -", stdin=CM)
    pair.same("create -f cm.yaml")


def test_describe_pod_and_friends(pair: Pair) -> None:
    pair.files(deploy_yaml=DEPLOY)
    pair.both("run web --image=nginx --port=80 --labels=app=web,tier=front --env=A=1")
    pair.both("apply -f deploy.yaml")
    pair.both("create service clusterip web --tcp=80:8080")
    pair.both("create configmap cfg --from-literal=k=v")
    for line in (
        "describe pod web",
        "describe pods",
        "describe deploy web",
        "describe svc web",
        "describe cm cfg",
        "describe pod we",
        "describe pod nope",
    ):
        pair.same(line)


@pytest.mark.parametrize(
    "line",
    [
        "create deployment web --image=nginx --replicas=2 --port=80",
        "create deployment multi --image=nginx:1.27 --image=registry.k8s.io/pause:3.9",
        "create service clusterip web --tcp=80:8080",
        "create service nodeport np --tcp=80 --node-port=30080",
        "create configmap cfg --from-literal=a=1 --from-literal=b=two",
        "create secret generic s --from-literal=user=admin",
        "create namespace other",
        "create serviceaccount bot",
        "create role reader --verb=get,list --resource=pods,deployments.apps",
        "create rolebinding rb --role=reader --user=bob --serviceaccount=default:bot",
        "create clusterrolebinding crb --clusterrole=view --group=devs",
        "create job once --image=busybox -- echo hi",
        "create cronjob tick --image=busybox --schedule=*/5_*_*_*_* -- date",
        "run p --image=nginx --port=80 --labels=a=b --env=X=1",
        "run q --image=busybox --restart=Never --command -- sleep 10",
        "run shell --image=busybox -i -t --attach=false --restart=Never --command -- sh",
    ],
)
def test_generators_dry_run_yaml_and_json(pair: Pair, line: str) -> None:
    line = line.replace("*/5_*_*_*_*", "'*/5 * * * *'")
    command, dashes, rest = line.partition(" -- ")
    for output in ("yaml", "json"):
        pair.same(f"{command} --dry-run=client -o {output}{dashes}{rest}")


def test_scale_label_annotate_patch_delete(pair: Pair) -> None:
    pair.files(deploy_yaml=DEPLOY)
    pair.same("apply -f deploy.yaml")
    for line in (
        "scale deploy web --replicas=3",
        "get deploy web -o jsonpath={.spec.replicas}",
        "scale deploy nope --replicas=1",
        "label deploy web team=a",
        "label deploy web team=b",
        "label deploy web team=b --overwrite",
        "label deploy web team-",
        "annotate deploy web note=hello",
        "get deploy web -o jsonpath={.metadata.labels}",
        'patch deploy web -p \'{"spec":{"replicas":2}}\'',
        'patch deploy web -p \'{"spec":{"replicas":2}}\'',
        'patch deploy web --type=merge -p \'{"metadata":{"labels":{"x":"y"}}}\'',
        'patch deploy web --type=json -p \'[{"op":"replace","path":"/spec/replicas","value":1}]\'',
        "expose deploy web --port=80 --target-port=8080",
        "get svc web -o jsonpath={.spec.selector}",
        "delete svc web",
        "delete deploy web",
        "delete deploy web",
        "delete cm --all",
        "delete cm -l nothing=here",
    ):
        pair.same(line)


def test_errors(pair: Pair) -> None:
    bad = CM.replace("name: settings", "name: Bad_Name")
    pair.files(cm_yaml=CM, bad_yaml=bad, two_yaml=bad.replace('tier: "1"', "tier: x y"))
    pair.same("create -f cm.yaml")
    for line in (
        "create -f cm.yaml",
        "create configmap settings",
        "create -f bad.yaml",
        "apply -f two.yaml",
        "get cm nope",
        "delete cm nope",
        "describe cm nope",
        "create deployment web",
        "get cm --bogus-flag",
        'patch cm settings --type=merge -p \'{"metadata":{"name":"other"}}\'',
    ):
        pair.same(line)


NODE = """apiVersion: v1
kind: Node
metadata:
  name: @NS
  labels: {kubernetes.io/hostname: @NS}
"""


def test_nodes_taint_cordon_drain(pair: Pair) -> None:
    pair.files(node_yaml=NODE)
    pair.both("apply -f node.yaml")
    try:
        for line in (
            "get node @NS -o name",
            "taint nodes @NS dedicated=db:NoSchedule",
            "taint nodes @NS dedicated=db:NoSchedule",
            "taint nodes @NS dedicated=web:NoSchedule --overwrite",
            "taint nodes @NS dedicated:NoSchedule-",
            "taint nodes @NS dedicated:NoSchedule-",
            "cordon @NS",
            "cordon @NS",
            "uncordon @NS",
            "uncordon @NS",
            "drain @NS",
            "get node @NS -o jsonpath={.spec.unschedulable}",
            "describe node @NS",
        ):
            pair.same(line)
    finally:
        pair.both("delete node @NS")


def test_rollout_set_and_wait(pair: Pair) -> None:
    pair.files(deploy_yaml=DEPLOY)
    pair.same("apply -f deploy.yaml")
    for line in (
        "rollout history deploy/web",
        "rollout pause deploy/web",
        "rollout pause deploy/web",
        "rollout resume deploy/web",
        "rollout resume deploy/web",
        "rollout restart deploy/web",
        "rollout undo deploy/web",
        "rollout status deploy/web --timeout=1s",
        "set image deploy/web app=nginx:1.29",
        "set image deploy/web app=nginx:1.29",
        "set image deploy/web nope=x",
        "set env deploy/web A=1 B=2",
        "set env deploy/web A-",
        "set resources deploy/web --limits=cpu=200m,memory=512Mi --requests=cpu=100m",
        "get deploy web -o jsonpath={.spec.template.spec.containers[0]}",
        "wait --for=jsonpath={.spec.replicas}=1 deploy/web",
        "wait --for=condition=Available deploy/web --timeout=1s",
        "wait --for=delete cm/nope --timeout=1s",
    ):
        pair.same(line)


def test_edit_replace_diff(pair: Pair) -> None:
    edit = '#!/bin/sh\nsed -i \'s/a: "1"/a: "42"/\' "$1"\n'
    breaks = "#!/bin/sh\nsed -i 's/^  replicas: .*/  replicas: -1/' \"$1\"\n"
    changed = DEPLOY.replace("replicas: 1", "replicas: 3")
    pair.files(
        cm_yaml=CM,
        cm2_yaml=CM_V2,
        deploy_yaml=DEPLOY,
        deploy3_yaml=changed,
        edit_sh=edit,
        breaks_sh=breaks,
    )
    pair.same("apply -f cm.yaml")
    pair.same("apply -f deploy.yaml")
    pair.same("edit cm settings", env={"EDITOR": "./edit.sh"})
    pair.same("get cm settings -o jsonpath={.data.a}")
    pair.same("edit cm settings", env={"EDITOR": "true"})
    result = pair.real.run("edit deploy web", env={"EDITOR": "./breaks.sh"})
    ours = pair.ours.run("edit deploy web", env={"EDITOR": "./breaks.sh"})
    assert (ours.returncode, ours.stdout) == (result.returncode, result.stdout)
    assert ours.stderr.splitlines()[0] == result.stderr.splitlines()[0]
    pair.same("replace -f cm2.yaml")
    pair.same("get cm settings -o jsonpath={.data}")
    pair.same("diff -f deploy.yaml")
    real = pair.real.run("diff -f deploy3.yaml")
    ours = pair.ours.run("diff -f deploy3.yaml")
    assert ours.returncode == real.returncode == 1
    body = [
        line
        for line in real.stdout.splitlines()
        if line[:1] in "+-" and line[:3] not in ("+++", "---")
    ]
    assert [
        line
        for line in ours.stdout.splitlines()
        if line[:1] in "+-" and line[:3] not in ("+++", "---")
    ] == body


def test_discovery_version_config_auth(pair: Pair) -> None:
    for line in (
        "api-resources",
        "api-resources -o wide",
        "api-resources --namespaced=false -o name",
        "api-resources --api-group=apps",
        "api-versions",
        "version",
        "version --client",
        "cluster-info",
        "auth can-i create pods",
        "auth can-i list deployments.apps --all-namespaces",
        "config current-context",
        "config get-contexts",
        "config get-contexts -o name",
        "config view --minify",
        "config set-context --current --namespace=@NS",
        "config set-context extra --cluster=tinykube --user=kubernetes-admin",
        "config use-context nope",
        "config rename-context extra extra2",
        "config delete-context extra2",
        "logs nope",
    ):
        pair.same(line)
    assert pair.ours.kubeconfig.read_text().replace(pair.ours.namespace, "NS") == (
        pair.real.kubeconfig.read_text().replace(pair.real.namespace, "NS")
    )


def test_explain_and_apply_directory(pair: Pair) -> None:
    for side in (pair.real, pair.ours):
        (side.work / "dir" / "sub").mkdir(parents=True)
        (side.work / "dir" / "cm.yaml").write_text(CM)
        (side.work / "dir" / "sub" / "deploy.yaml").write_text(DEPLOY)
    for line in (
        "explain pods",
        "explain pods.spec.containers.ports",
        "explain deploy.spec.replicas",
        "explain svc --recursive",
        "explain pods.spec.nope",
        "explain nosuchtype",
        "apply -f dir",
        "apply -R -f dir",
        "get -R -f dir -o name",
        "delete -R -f dir",
    ):
        pair.same(line)


def test_get_watch(pair: Pair) -> None:
    def start(side: Side, line: str) -> subprocess.Popen[str]:
        env = {**os.environ, "KUBECONFIG": str(side.kubeconfig)}
        argv = [*side.command, f"--cache-dir={side.cache}", *shlex.split(line)]
        return subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )

    for line in ("get cm -w", "get cm -w -o name"):
        procs = [(side, start(side, line)) for side in (pair.real, pair.ours)]
        time.sleep(3)
        pair.both("create configmap a-rather-long-name")
        pair.both("label configmap a-rather-long-name x=y")
        pair.both("delete configmap a-rather-long-name")
        time.sleep(2)
        outputs = []
        for side, proc in procs:
            proc.terminate()
            out, _ = proc.communicate(timeout=10)
            outputs.append(normalize(out, side.namespace))
        assert outputs[1] == outputs[0]


def _wait_phase(side: Side, pod: str, phases: tuple[str, ...], seconds: float = 60) -> str:
    deadline = time.monotonic() + seconds
    phase = ""
    while time.monotonic() < deadline:
        phase = side.run(f"get pod {pod} -o jsonpath={{.status.phase}}").stdout
        if phase in phases:
            return phase
        time.sleep(0.5)
    return phase


def test_logs_of_a_finished_pod(pair: Pair) -> None:
    pair.both(
        "run hello --image=busybox --restart=Never --command -- sh -c 'echo hello; echo world'"
    )
    phases = [
        _wait_phase(side, "hello", ("Succeeded", "Failed")) for side in (pair.real, pair.ours)
    ]
    if phases != ["Succeeded", "Succeeded"]:
        pytest.skip(f"no kubelet ran the pod (phases {phases})")
    for line in (
        "logs hello",
        "logs hello --tail=1",
        "logs pod/hello -c hello",
        "logs hello -c nope",
    ):
        pair.same(line)


GO_TEMPLATE_FILE = '{{range .items}}{{.metadata.name}}: {{.data}}{{"\\n"}}{{end}}'


def test_go_templates(pair: Pair) -> None:
    pair.files(cm_yaml=CM, tpl_txt=GO_TEMPLATE_FILE)
    pair.both("apply -f cm.yaml")
    pair.both("create configmap other --from-literal=x=y")
    for line in (
        "get cm settings -o go-template={{.metadata.name}}",
        """get cm -o 'go-template={{range .items}}{{.metadata.name}} {{len .data}}{{"\\n"}}{{end}}'""",
        "get cm settings -o 'go-template={{if .data.a}}{{.data.a}}{{else}}-{{end}} {{.data.nope}}'",
        """get cm settings -o 'go-template={{range $k, $v := .data}}{{$k}}={{$v}};{{end}}'""",
        """get cm settings -o 'go-template={{printf "%s/%5s|" .kind .data.a}}{{eq .data.a "1"}}'""",
        "get cm settings --template={{.kind}}",
        """get cm settings -o template --template='{{index .metadata.labels "app"}}'""",
        "get cm -o go-template-file=tpl.txt",
        "get cm -o templatefile=tpl.txt",
        "create configmap x --from-literal=a=b --dry-run=client -o go-template={{.data.a.b}}",
        "create configmap x --from-literal=a=b --dry-run=client --template={{.data}}",
        "get cm settings -o go-template={{.data",
        "get cm settings -o go-template={{nofunc}}",
        "get cm settings -o go-template",
        "get cm settings -o go-template-file=missing.txt",
        "get cm settings -o jsonpath={.kind} --template={{.kind}}",
        "get cm settings -o go-template={{.data.a}} --allow-missing-template-keys=false",
        "create configmap x --from-literal=a=b --dry-run=client -o go-template={{.data.b}} "
        "--allow-missing-template-keys=false",
    ):
        pair.same(line)


def _configmaps(*names: str, labels: str = "{grp: set}") -> str:
    return "".join(
        f"---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {n}, labels: {labels}}}\n"
        f'data: {{x: "1"}}\n'
        for n in names
    )


PRUNED_DEPLOY = """---
apiVersion: apps/v1
kind: Deployment
metadata: {name: d}
spec:
  selector: {matchLabels: {app: d}}
  template:
    metadata: {labels: {app: d}}
    spec: {containers: [{name: c, image: nginx}]}
"""


def test_apply_prune_legacy(pair: Pair) -> None:
    pair.files(all_yaml=_configmaps("a", "b", "c"), one_yaml=_configmaps("a"))
    pair.both("apply -f all.yaml")
    for line in (
        "apply --prune -l grp=set -f one.yaml --dry-run=client",
        "apply --prune -l grp=set -f one.yaml --dry-run=server",
        "apply --prune -l grp=set --prune-allowlist=core/v1/Secret -f one.yaml",
        "apply --prune --all --prune-allowlist=core/v1/Bogus -f one.yaml",
        "apply --prune --all --prune-allowlist=bogus -f one.yaml",
        "apply --prune -f one.yaml",
        "get cm -l grp=set -o name",
        "apply --prune -l grp=set -f one.yaml",
        "get cm -l grp=set -o name",
    ):
        pair.same(line)


def test_apply_prune_applyset(pair: Pair) -> None:
    pair.files(
        all_yaml=_configmaps("a", "b") + PRUNED_DEPLOY,
        two_yaml=_configmaps("a", "b"),
        one_yaml=_configmaps("a"),
    )
    applyset = {"KUBECTL_APPLYSET": "true"}
    pair.same("apply --prune --applyset=set -n @NS -f all.yaml")  # not enabled: unknown flag
    for line in (
        "apply --applyset=set -n @NS -f all.yaml",
        "apply --prune --applyset=set -n @NS -l x=y -f all.yaml",
        "apply --prune --applyset=set -n @NS --all -f all.yaml",
        "apply --prune --applyset=set -n @NS --prune-allowlist=core/v1/ConfigMap -f all.yaml",
        "apply --prune --applyset=set -f all.yaml",
        "apply --prune --applyset=nosuch/set -n @NS -f all.yaml",
        "apply --prune --applyset=set -n @NS -f all.yaml",
        "get secret set -o go-template={{.metadata.labels}}{{.metadata.annotations}}{{.type}}",
        "get cm a -o jsonpath={.metadata.labels}",
        "apply --prune --applyset=set -n @NS -f two.yaml --dry-run=client",
        "apply --prune --applyset=set -n @NS -f two.yaml",
        "get secret set -o go-template={{.metadata.annotations}}",
        "apply --prune --applyset=set -n @NS -f one.yaml --dry-run=server",
        "apply --prune --applyset=set -n @NS -f one.yaml",
        "get cm,deploy -o name",
        "apply --prune --applyset=configmaps/other -n @NS -f two.yaml -o name",
        "get cm other -o go-template={{.metadata.labels}}{{.metadata.annotations}}",
        "create secret generic plain --from-literal=a=b",
        "apply --prune --applyset=plain -n @NS -f one.yaml",
        "annotate secret plain applyset.kubernetes.io/tooling=helm/v3",
        "apply --prune --applyset=plain -n @NS -f one.yaml",
    ):
        pair.same(line, env=applyset)


YAML_VALUES = [
    "=",
    "<<",
    "~",
    "0o7",
    "1:20",
    ".inf",
    "0b1",
    "1_000",
    "2020-01-01",
    "+1",
    ".5",
    "07",
    "1e3",
    "0x1F",
    "Yes",
    "1.",
    "*",
    "&",
    "!",
    "08",
    "2020-01-01T10:00:00",
    "2020-01-01T10:00:00Z",
    "2020-02-30",
    "1e400",
    ".5_0",
    "12:70",
    "0xFFFFFFFFFFFFFFFFF",
    "-9223372036854775809",
    "on",
    "y",
    "NULL",
    "-a",
    "#x",
    "a#b",
    "---x",
    "...",
    "?x",
    ":x",
    "x:",
    "%x",
    "@x",
    "1__0",
    "0_7",
]
LONG_TEXT = (
    "0/1 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/"
    "control-plane: }. preemption: 0/1 nodes are available: 1 Preemption is not helpful."
)


def test_yaml_quoting_and_folding(pair: Pair) -> None:
    literals = " ".join(f"--from-literal=k{i:02d}={v}" for i, v in enumerate(YAML_VALUES))
    pair.same(f"create configmap q {literals} --dry-run=client -o yaml")
    pair.same(f"create configmap q {literals} --dry-run=client -o json")
    words = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi"
    long_args = (
        f"--from-literal=plain='{words} {words}' --from-literal=quoted='1 {words} {words}' "
        f"--from-literal=single='{LONG_TEXT}' --from-literal=block='first\n{LONG_TEXT}\n'"
    )
    pair.both(f"create configmap long {long_args}")
    pair.same("get configmap long -o yaml")
    pair.same(f"create configmap long2 {long_args} --dry-run=client -o yaml")


def test_autoscale(pair: Pair) -> None:
    pair.files(deploy_yaml=DEPLOY)
    pair.both("apply -f deploy.yaml")
    for line in (
        "autoscale deploy web --max=5 --dry-run=client -o yaml",
        "autoscale deploy web --min=2 --max=5 --cpu=80% --dry-run=client -o json",
        "autoscale deploy web --max=4 --cpu=500m --memory=70% --dry-run=client -o yaml",
        "autoscale deploy web --max=3 --cpu-percent=50 --dry-run=client -o yaml",
        "autoscale deploy web --min=1 --max=3 --cpu=50%",
        "get hpa web -o jsonpath={.spec}",
        "autoscale deploy web --max=3",
        "autoscale deploy web --max=3 --cpu=50%",
        "autoscale deploy web --max=3 --cpu=500m",
        "autoscale deploy web --max=3 --memory=50%",
        "autoscale deploy web --min=4 --max=3",
        "autoscale deploy nope --max=3",
        "autoscale cm/settings --max=3",
    ):
        pair.same(line)
