"""Admission webhooks with the real kubectl against a whole cluster.

A real HTTPS webhook (``tests/webhookserver.py``) runs in the test process;
the script registers a validating and a mutating configuration for its own
namespace, then checks what kubectl prints: the denial exactly as a real
cluster shows it (``Error from server: ... admission webhook "<name>" denied
the request: <message>``), the mutating webhook's warning and its label, the
configurations' table and a configuration refused by validation.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from cluster import ApiServer, run_kubectl
from scripts import Runner, parse
from webhookserver import WebhookServer

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def webhook() -> Iterator[WebhookServer]:
    server = WebhookServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def run(apiserver: ApiServer, tmp_path: Path, namespace: str, text: str) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    shutil.copy(apiserver.kubeconfig, kubeconfig)
    for args in (
        ("create", "namespace", namespace),
        ("label", "namespace", namespace, f"hooks-test={namespace}"),
        ("config", "set-context", "--current", f"--namespace={namespace}"),
    ):
        done = run_kubectl(apiserver, *args, kubeconfig=kubeconfig)
        assert done.returncode == 0, done.stderr
    work = tmp_path / "work"
    work.mkdir()
    runner = Runner(apiserver, work, namespace, kubeconfig)
    try:
        runner.run(parse(text))
    except AssertionError as exc:
        transcript = "\n".join(runner.log[-40:])
        raise AssertionError(f"{exc}\n--- transcript ---\n{transcript}") from None


SCRIPT = r"""
kubectl apply -f hooks.yaml
stdout '^validatingwebhookconfiguration.admissionregistration.k8s.io/deny-$NS created$'
stdout '^mutatingwebhookconfiguration.admissionregistration.k8s.io/label-$NS created$'
# the configurations reach the API server's cache a moment later
eventually kubectl create -f probe.yaml --dry-run=server -o jsonpath={.metadata.labels}
stdout 'mutated-by'
! kubectl create -f bad.yaml
stderr `^Error from server: error when creating "bad.yaml": admission webhook "deny.hooks.test" denied the request: ConfigMap bad carries the deny label$`
! kubectl get configmap bad
kubectl create configmap good --from-literal=a=1
stdout '^configmap/good created$'
stderr '^Warning: the test webhook labelled this object$'
kubectl get configmap good -o jsonpath={.metadata.labels}
stdout '"mutated-by":"webhook"'
! kubectl label configmap good deny=yes
stderr `^Error from server: admission webhook "deny.hooks.test" denied the request: ConfigMap good carries the deny label$`
kubectl get validatingwebhookconfigurations deny-$NS -o jsonpath={.webhooks[0].failurePolicy}
stdout '^Fail$'
kubectl get validatingwebhookconfigurations deny-$NS
stdout `^NAME\s+WEBHOOKS\s+AGE$`
stdout `^deny-$NS\s+1\s+\d+s$`
! kubectl apply -f sloppy.yaml
stderr `The ValidatingWebhookConfiguration "sloppy-$NS" is invalid: webhooks\[0\].sideEffects: Required value: must specify one of None, NoneOnDryRun$`
kubectl delete -f hooks.yaml
eventually kubectl create -f bad.yaml --dry-run=server
kubectl create -f bad.yaml
stdout '^configmap/bad created$'
-- hooks.yaml --
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata:
  name: deny-$NS
webhooks:
- name: deny.hooks.test
  clientConfig:
    url: "{deny}"
    caBundle: "{ca}"
  rules:
  - operations: ["CREATE", "UPDATE"]
    apiGroups: [""]
    apiVersions: ["v1"]
    resources: ["configmaps"]
  namespaceSelector:
    matchLabels:
      hooks-test: $NS
  sideEffects: None
  admissionReviewVersions: ["v1"]
---
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata:
  name: label-$NS
webhooks:
- name: label.hooks.test
  clientConfig:
    url: "{mutate}"
    caBundle: "{ca}"
  rules:
  - operations: ["CREATE"]
    apiGroups: [""]
    apiVersions: ["v1"]
    resources: ["configmaps"]
  namespaceSelector:
    matchLabels:
      hooks-test: $NS
  sideEffects: None
  admissionReviewVersions: ["v1"]
-- sloppy.yaml --
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata:
  name: sloppy-$NS
webhooks:
- name: sloppy.hooks.test
  clientConfig:
    url: "{deny}"
  admissionReviewVersions: ["v1"]
-- probe.yaml --
apiVersion: v1
kind: ConfigMap
metadata:
  name: probe
data:
  a: "1"
-- bad.yaml --
apiVersion: v1
kind: ConfigMap
metadata:
  name: bad
  labels:
    deny: "yes"
data:
  a: "1"
"""


def test_kubectl_shows_the_denial_the_warning_and_the_label(
    apiserver: ApiServer, tmp_path: Path, webhook: WebhookServer
) -> None:
    text = (
        SCRIPT.replace("{deny}", webhook.url("/deny"))
        .replace("{mutate}", webhook.url("/mutate"))
        .replace("{ca}", webhook.ca_bundle)
    )
    run(apiserver, tmp_path, "webhooks-kubectl", text)


EXEC_SCRIPT = r"""
kubectl run web --image=busybox --restart=Never -- sleep 3600
kubectl apply -f no-exec.yaml
eventually ! kubectl exec web -- true
stderr `^error: unable to upgrade connection: admission webhook "no-exec.hooks.test" denied the request: no PodExecOptions here$`
kubectl delete -f no-exec.yaml
kubectl delete pod web --grace-period=0
-- no-exec.yaml --
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata:
  name: no-exec-$NS
webhooks:
- name: no-exec.hooks.test
  clientConfig:
    url: "{refuse}"
    caBundle: "{ca}"
  rules:
  - operations: ["CONNECT"]
    apiGroups: [""]
    apiVersions: ["v1"]
    resources: ["pods/exec"]
  namespaceSelector:
    matchLabels:
      hooks-test: $NS
  sideEffects: None
  admissionReviewVersions: ["v1"]
"""


def test_kubectl_exec_is_refused_by_a_connect_webhook(
    apiserver: ApiServer, tmp_path: Path, webhook: WebhookServer
) -> None:
    text = EXEC_SCRIPT.replace("{refuse}", webhook.url("/refuse")).replace(
        "{ca}", webhook.ca_bundle
    )
    run(apiserver, tmp_path, "webhooks-exec", text)
