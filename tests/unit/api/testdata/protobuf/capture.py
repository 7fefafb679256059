"""Regenerate the protobuf fixtures: record the request bodies the real kubectl sends.

kubectl's typed clients POST built-in kinds as protobuf. This script runs a
tiny fake API server on 127.0.0.1 (just enough discovery for kubectl to find
the resources, plus the few GETs some commands make first), points kubectl at
it over plain http, and saves each POST body as ``<name>.pb``. ``<name>.json``
is what the same command prints with ``--dry-run=client -o json``: the object
kubectl encoded, as Go prints it. Commands without a dry run get the decoded
body instead; review those by hand against the Go types before committing.

    python tests/unit/api/testdata/protobuf/capture.py [--kubectl PATH]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parents[4]))
from tinykube.api import protobuf  # noqa: E402

# name -> (kubectl arguments, whether `--dry-run=client -o json` prints the same object)
CASES: dict[str, tuple[list[str], bool]] = {
    "namespace": (["create", "namespace", "x"], True),
    "deployment": (["create", "deployment", "web", "--image=nginx", "--replicas=2", "--port=80"], True),
    "service": (["create", "service", "clusterip", "s", "--tcp=80:8080"], True),
    "secret": (["create", "secret", "generic", "s", "--from-literal=a=b"], True),
    "secret-dockerconfigjson": (["create", "secret", "docker-registry", "reg", "--docker-username=u",
                                 "--docker-password=p", "--docker-server=r.io"], True),
    "configmap": (["create", "configmap", "cm", "--from-literal=k=v"], True),
    "job": (["create", "job", "j", "--image=busybox", "--", "echo", "hi"], True),
    "cronjob": (["create", "cronjob", "cj", "--image=busybox", "--schedule=*/5 * * * *", "--",
                 "echo", "hi"], True),
    "role": (["create", "role", "r", "--verb=get,list", "--resource=pods"], True),
    "rolebinding": (["create", "rolebinding", "rb", "--role=r", "--user=alice",
                     "--serviceaccount=default:sa"], True),
    "quota": (["create", "quota", "q", "--hard=cpu=1,memory=1Gi,pods=10"], True),
    "pdb": (["create", "pdb", "p", "--selector=app=web", "--min-available=50%"], True),
    "priorityclass": (["create", "priorityclass", "pc", "--value=1000", "--description=hi"], True),
    "ingress": (["create", "ingress", "ing", "--rule=foo.com/bar=svc:8080"], True),
    "serviceaccount": (["create", "serviceaccount", "sa"], True),
    "tokenrequest": (["create", "token", "default", "--duration=1h", "--audience=api",
                      "--audience=vault", "--bound-object-kind=Pod", "--bound-object-name=web-1",
                      "--bound-object-uid=pu"], False),
    "selfsubjectaccessreview": (["auth", "can-i", "create", "deployments.apps",
                                 "--subresource=scale", "-n", "kube-system"], False),
    "selfsubjectrulesreview": (["auth", "can-i", "--list"], False),
    "selfsubjectreview": (["auth", "whoami"], False),
    "pod": (["debug", "rich", "--copy-to=rich-debug", "--image=busybox", "--container=dbg",
             "--keep-liveness", "--keep-readiness", "--keep-startup", "--keep-labels",
             "--keep-annotations", "--", "sleep", "1d"], False),
}  # fmt: skip

CORE = {"namespaces": "Namespace", "services": "Service", "secrets": "Secret",
        "configmaps": "ConfigMap", "serviceaccounts": "ServiceAccount",
        "resourcequotas": "ResourceQuota", "pods": "Pod"}  # fmt: skip
GROUPS = {
    "apps/v1": {"deployments": "Deployment"},
    "batch/v1": {"jobs": "Job", "cronjobs": "CronJob"},
    "rbac.authorization.k8s.io/v1": {"roles": "Role", "rolebindings": "RoleBinding"},
    "authorization.k8s.io/v1": {"selfsubjectaccessreviews": "SelfSubjectAccessReview",
                                "selfsubjectrulesreviews": "SelfSubjectRulesReview"},
    "authentication.k8s.io/v1": {"selfsubjectreviews": "SelfSubjectReview"},
    "policy/v1": {"poddisruptionbudgets": "PodDisruptionBudget"},
    "scheduling.k8s.io/v1": {"priorityclasses": "PriorityClass"},
    "networking.k8s.io/v1": {"ingresses": "Ingress"},
}  # fmt: skip
CLUSTER_SCOPED = {"namespaces", "priorityclasses", "selfsubjectaccessreviews",
                  "selfsubjectrulesreviews", "selfsubjectreviews"}  # fmt: skip
TOKEN = {"name": "serviceaccounts/token", "singularName": "", "namespaced": True,
         "group": "authentication.k8s.io", "version": "v1", "kind": "TokenRequest",
         "verbs": ["create"]}  # fmt: skip
# The Pod `kubectl debug --copy-to` copies: a spec with most field kinds in it.
RICH_POD = json.loads((HERE / "pod-source.json").read_text())


def _resources(group_version: str, kinds: dict[str, str]) -> dict[str, Any]:
    verbs = ["create", "get", "list", "delete", "update", "patch", "watch"]
    resources = [
        {"name": plural, "singularName": kind.lower(), "kind": kind, "verbs": verbs,
         "namespaced": plural not in CLUSTER_SCOPED}
        for plural, kind in kinds.items()
    ]  # fmt: skip
    if group_version == "v1":
        resources.append(TOKEN)
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version,
            "resources": resources}  # fmt: skip


def _discovery(path: str) -> dict[str, Any] | None:
    if path == "/api":
        return {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}
    if path == "/api/v1":
        return _resources("v1", CORE)
    if path == "/apis":
        groups = [{"name": gv.split("/")[0], "versions": [{"groupVersion": gv, "version": "v1"}],
                   "preferredVersion": {"groupVersion": gv, "version": "v1"}} for gv in GROUPS]  # fmt: skip
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}
    if path.startswith("/apis/") and path[6:] in GROUPS:
        return _resources(path[6:], GROUPS[path[6:]])
    return None


class Recorder(BaseHTTPRequestHandler):
    """Answers discovery and GETs; records each POST body in ``server.bodies``."""

    server: Any

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, code: int, obj: dict[str, Any]) -> None:
        data = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        body = _discovery(path)
        if body is None and path.endswith("/pods/rich"):
            body = RICH_POD
        if body is None and "/serviceaccounts/" in path:
            name = path.rsplit("/", 1)[1]
            body = {"kind": "ServiceAccount", "apiVersion": "v1", "metadata": {"name": name}}
        if body is None:
            body = {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                    "reason": "NotFound", "code": 404}  # fmt: skip
        self._send(int(body.get("code", 200)), body)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.bodies.append(body)
        obj = protobuf.decode(body) if body.startswith(protobuf.MAGIC) else json.loads(body)
        obj["status"] = {"allowed": True, "token": "t", "userInfo": {"username": "u"}}
        self._send(201, obj)


def _kubectl(kubectl: str, kubeconfig: Path, args: list[str]) -> str:
    cmd = [kubectl, f"--kubeconfig={kubeconfig}", *args]
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def _with_flags(args: list[str], *flags: str) -> list[str]:
    """Flags go before ``--``: what follows it is the container's command."""
    cut = args.index("--") if "--" in args else len(args)
    return [*args[:cut], *flags, *args[cut:]]


def capture(kubectl: str) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    server.bodies = []  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with tempfile.TemporaryDirectory() as tmp:
        kubeconfig = Path(tmp) / "config"
        url = f"http://127.0.0.1:{server.server_address[1]}"
        kubeconfig.write_text(json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": "c",
            "clusters": [{"name": "c", "cluster": {"server": url}}],
            "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u", "namespace": "default"}}],
            "users": [{"name": "u", "user": {"token": "t"}}],
        }))  # fmt: skip
        for name, (args, dry_run) in CASES.items():
            server.bodies.clear()  # type: ignore[attr-defined]
            if args[0] == "create" and args[1] != "token":
                args = _with_flags(args, "--validate=false")  # this server has no OpenAPI
            _kubectl(kubectl, kubeconfig, args)
            body = server.bodies[-1]  # type: ignore[attr-defined]
            (HERE / f"{name}.pb").write_bytes(body)
            if dry_run:
                expected = json.loads(
                    _kubectl(
                        kubectl, kubeconfig, _with_flags(args, "--dry-run=client", "-o", "json")
                    )
                )
            else:
                expected = protobuf.decode(body)
                print(f"{name}: decoded body written; review it against the Go types")
            (HERE / f"{name}.json").write_text(json.dumps(expected, indent=2) + "\n")
    server.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kubectl", default="kubectl")
    capture(parser.parse_args().kubectl)


if __name__ == "__main__":
    main()
