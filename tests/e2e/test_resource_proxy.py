"""HTTP through the API server: nodes/proxy, pods/proxy, services/proxy and ``kubectl proxy``."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
import urllib.request

import pytest
from cluster import ApiServer, free_port, kubectl_binary, run_kubectl

pytestmark = pytest.mark.e2e

PORT = free_port()  # the pod may share the host's network (non-root fallback)
MANIFEST = f"""
apiVersion: v1
kind: Pod
metadata: {{name: site, namespace: proxy-test, labels: {{app: site}}}}
spec:
  containers:
  - name: http
    image: python
    command: ["python3", "-m", "http.server", "{PORT}"]
    ports: [{{name: web, containerPort: {PORT}}}]
    readinessProbe: {{tcpSocket: {{port: {PORT}}}, periodSeconds: 1}}
---
apiVersion: v1
kind: Service
metadata: {{name: site, namespace: proxy-test}}
spec:
  selector: {{app: site}}
  ports: [{{name: http, port: 80, targetPort: web}}]
"""


def raw(server: ApiServer, path: str) -> subprocess.CompletedProcess[str]:
    return run_kubectl(server, "get", "--raw", path)


def eventually_raw(server: ApiServer, path: str, within: float = 60) -> str:
    deadline = time.monotonic() + within
    while True:
        done = raw(server, path)
        if done.returncode == 0 or time.monotonic() > deadline:
            assert done.returncode == 0, done.stderr
            return done.stdout
        time.sleep(0.5)


@pytest.fixture(scope="module")
def site(apiserver: ApiServer) -> ApiServer:
    assert run_kubectl(apiserver, "create", "namespace", "proxy-test").returncode == 0
    assert run_kubectl(apiserver, "apply", "-f", "-", input=MANIFEST).returncode == 0
    ready = run_kubectl(
        apiserver, "wait", "-n", "proxy-test", "--for=condition=Ready", "pod/site", "--timeout=90s"
    )
    assert ready.returncode == 0, ready.stderr
    return apiserver


def test_proxies_reach_node_pod_and_service(site: ApiServer) -> None:
    apiserver = site

    page = eventually_raw(apiserver, "/api/v1/namespaces/proxy-test/pods/site/proxy/")
    assert "Directory listing for /" in page
    named = raw(apiserver, "/api/v1/namespaces/proxy-test/pods/site:web/proxy/")
    assert "Directory listing for /" in named.stdout
    via_service = eventually_raw(
        apiserver, "/api/v1/namespaces/proxy-test/services/site:http/proxy/"
    )
    assert "Directory listing for /" in via_service

    assert eventually_raw(apiserver, "/api/v1/nodes/controlplane/proxy/healthz") == "ok"
    summary = json.loads(raw(apiserver, "/api/v1/nodes/controlplane/proxy/stats/summary").stdout)
    assert summary["node"]["nodeName"] == "controlplane"

    missing = raw(apiserver, "/api/v1/namespaces/proxy-test/pods/nope/proxy/")
    assert missing.returncode == 1 and 'pods "nope" not found' in missing.stderr
    no_port = raw(apiserver, "/api/v1/namespaces/proxy-test/services/site:9/proxy/")
    assert no_port.returncode == 1 and "ServiceUnavailable" in no_port.stderr


def test_kubectl_proxy_serves_the_api_and_the_pod(site: ApiServer) -> None:
    apiserver = site
    local = free_port()
    env = {**os.environ, "KUBECONFIG": str(apiserver.kubeconfig)}
    proc = subprocess.Popen(
        [kubectl_binary(), "proxy", f"--port={local}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        assert re.match(r"Starting to serve on 127.0.0.1:\d+", proc.stdout.readline())
        with urllib.request.urlopen(f"http://127.0.0.1:{local}/api/v1/namespaces", timeout=10) as r:
            assert json.loads(r.read())["kind"] == "NamespaceList"
        url = f"http://127.0.0.1:{local}/api/v1/namespaces/proxy-test/services/site:http/proxy/"
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(url, timeout=10) as r:
                    assert "Directory listing for /" in r.read().decode()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
    finally:
        proc.kill()
        proc.wait(10)
