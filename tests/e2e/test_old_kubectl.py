"""An old kubectl (Debian's 1.20) against a whole cluster: what older clients need.

kubectl before 1.27 reads the OpenAPI v2 document only in protobuf (to
validate manifests and to find patch strategies for ``apply``), and before
1.30 speaks SPDY/3.1 for exec, cp and attach, before 1.31 for port-forward.
``make test`` unpacks Debian's kubernetes-client into the venv; where that
package cannot be had, the module skips.
"""

from __future__ import annotations

import os
import subprocess
import urllib.request
from pathlib import Path

import pytest
from cluster import BIN, ApiServer, free_port
from test_portforward import forwarding

pytestmark = pytest.mark.e2e

OLD = BIN.parent / "debian-kubectl" / "usr" / "bin" / "kubectl"
if not OLD.exists():
    pytest.skip(
        "Debian's kubectl is not unpacked (make setup-old-kubectl)", allow_module_level=True
    )

PORT = free_port()


def old(
    server: ApiServer, *args: str, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KUBECONFIG": str(server.kubeconfig)}
    return subprocess.run(
        [str(OLD), f"--cache-dir={server.data_dir / 'old-kubectl-cache'}", *args],
        input=input,
        capture_output=True,
        text=True,
        env=env,
        timeout=90,
        check=False,
    )


def deployment(value: str, replicas: int) -> str:
    return f"""
apiVersion: apps/v1
kind: Deployment
metadata: {{name: old-web, labels: {{app: old-web}}}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: old-web}}}}
  template:
    metadata: {{labels: {{app: old-web}}}}
    spec:
      containers:
      - name: web
        image: python
        command: ["python3", "-m", "http.server", "{PORT}"]
        env: [{{name: GREETING, value: "{value}"}}]
        ports: [{{containerPort: {PORT}}}]
        readinessProbe:
          tcpSocket: {{port: {PORT}}}
          periodSeconds: 1
"""


@pytest.fixture(scope="module")
def web(apiserver: ApiServer) -> str:
    """Applied twice, so the second apply is a strategic merge patch computed by the old client."""
    first = old(apiserver, "apply", "-f", "-", input=deployment("one", 1))
    assert first.returncode == 0, first.stderr
    assert first.stdout == "deployment.apps/old-web created\n"
    second = old(apiserver, "apply", "-f", "-", input=deployment("two", 1))
    assert second.returncode == 0, second.stderr
    assert second.stdout == "deployment.apps/old-web configured\n"
    done = old(apiserver, "rollout", "status", "deploy/old-web", "--timeout=90s")
    assert done.returncode == 0, done.stdout + done.stderr
    pods = old(apiserver, "get", "pods", "-l", "app=old-web", "-o", "name")
    names = [line for line in pods.stdout.splitlines() if line]
    assert len(names) == 1, pods.stdout
    return names[0].removeprefix("pod/")


def test_apply_merges_and_validates_on_the_client(apiserver: ApiServer, web: str) -> None:
    env = old(
        apiserver, "get", "deploy/old-web", "-o", "jsonpath={.spec.template.spec.containers[0].env}"
    )
    assert env.stdout == '[{"name":"GREETING","value":"two"}]'
    # Client-side validation reads the protobuf document: an unknown field is refused.
    bad = deployment("three", 1).replace(
        "image: python", "image: python\n        imagePullPolcy: Always"
    )
    refused = old(apiserver, "apply", "-f", "-", input=bad)
    assert refused.returncode == 1
    assert 'unknown field "imagePullPolcy"' in refused.stderr


def test_explain_reads_the_schema(apiserver: ApiServer) -> None:
    result = old(apiserver, "explain", "deployment.spec.strategy")
    assert result.returncode == 0, result.stderr
    assert "rollingUpdate\t<Object>" in result.stdout
    assert "type\t<string>" in result.stdout


def test_exec_stdin_and_exit_code_over_spdy(apiserver: ApiServer, web: str) -> None:
    result = old(apiserver, "exec", web, "--", "sh", "-c", "echo $GREETING; exit 7")
    assert result.stdout == "two\n"
    assert result.returncode == 7
    fed = old(apiserver, "exec", "-i", web, "--", "sh", "-c", "cat; echo end", input="in\n")
    assert fed.returncode == 0, fed.stderr
    assert fed.stdout == "in\nend\n"


def test_cp_over_spdy(apiserver: ApiServer, web: str, tmp_path: Path) -> None:
    source = tmp_path / "note.txt"
    source.write_text("from an old kubectl\n")
    up = old(apiserver, "cp", str(source), f"{web}:/tmp/note.txt")
    assert up.returncode == 0, up.stderr
    assert (
        old(apiserver, "exec", web, "--", "cat", "/tmp/note.txt").stdout == "from an old kubectl\n"
    )


def test_port_forward_over_spdy(apiserver: ApiServer, web: str) -> None:
    with forwarding(apiserver, [str(OLD)], "deploy/old-web", f":{PORT}") as fw:
        port = fw.local_port()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=30) as page:
            assert b"Directory listing" in page.read()
        assert fw.proc.poll() is None
