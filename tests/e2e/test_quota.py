"""ResourceQuota and LimitRange with the real kubectl, as CKA exercises use them.

Each test is a short script (``scripts.py``) in a namespace of its own: the
quota controller fills in ``status.used`` (``kubectl describe quota`` shows it),
admission refuses what would pass a quota with upstream's message (a bare pod
with kubectl's 403, a Deployment's pods as the ReplicaSet's FailedCreate
event), and a LimitRange defaults resources into a pod and refuses one above
its max.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from cluster import ApiServer, run_kubectl
from scripts import Runner, parse

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


def run(apiserver: ApiServer, tmp_path: Path, name: str, text: str) -> None:
    namespace = "quota-" + re.sub(r"[^a-z0-9-]", "-", name)
    kubeconfig = tmp_path / "kubeconfig"
    shutil.copy(apiserver.kubeconfig, kubeconfig)
    created = run_kubectl(apiserver, "create", "namespace", namespace, kubeconfig=kubeconfig)
    assert created.returncode == 0, created.stderr
    switched = run_kubectl(
        apiserver, "config", "set-context", "--current", f"--namespace={namespace}",
        kubeconfig=kubeconfig,
    )  # fmt: skip
    assert switched.returncode == 0, switched.stderr
    work = tmp_path / "work"
    work.mkdir()
    runner = Runner(apiserver, work, namespace, kubeconfig)
    try:
        runner.run(parse(text))
    except AssertionError as exc:
        transcript = "\n".join(runner.log[-40:])
        raise AssertionError(f"{exc}\n--- transcript ---\n{transcript}") from None


PODS_AND_CPU = """
kubectl create quota q --hard=pods=2,requests.cpu=1
stdout '^resourcequota/q created$'
eventually kubectl describe quota q
stdout `Resource\\s+Used\\s+Hard`
stdout `pods\\s+0\\s+2`
stdout `requests.cpu\\s+0\\s+1`
# a quota on requests.cpu wants every container to ask for cpu
! kubectl run bare --image=busybox --restart=Never -- sleep 3600
stderr `Error from server \\(Forbidden\\): pods "bare" is forbidden: failed quota: q: must specify requests.cpu for: bare$`
kubectl apply -f a.yaml
kubectl apply -f b.yaml
kubectl describe quota q
stdout `pods\\s+2\\s+2`
stdout `requests.cpu\\s+600m\\s+1`
kubectl get quota q
stdout `^NAME\\s+AGE\\s+REQUEST\\s+LIMIT$`
stdout `^q\\s+\\S+\\s+pods: 2/2, requests.cpu: 600m/1\\s*$`
! kubectl apply -f c.yaml
stderr `Error from server \\(Forbidden\\).*pods "c" is forbidden: exceeded quota: q, requested: pods=1, used: pods=2, limited: pods=2$`
# deleting a pod gives its share back
kubectl delete pod a --wait=false
eventually kubectl describe quota q
stdout `pods\\s+1\\s+2`
stdout `requests.cpu\\s+300m\\s+1`
-- a.yaml --
apiVersion: v1
kind: Pod
metadata: {name: a}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - {name: c, image: busybox, command: [sleep, "3600"], resources: {requests: {cpu: 300m}}}
-- b.yaml --
apiVersion: v1
kind: Pod
metadata: {name: b}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - {name: c, image: busybox, command: [sleep, "3600"], resources: {requests: {cpu: 300m}}}
-- c.yaml --
apiVersion: v1
kind: Pod
metadata: {name: c}
spec:
  containers:
  - {name: c, image: busybox, command: [sleep, "3600"], resources: {requests: {cpu: 100m}}}
"""


def test_quota_counts_pods_and_refuses_the_third(apiserver: ApiServer, tmp_path: Path) -> None:
    run(apiserver, tmp_path, "pods", PODS_AND_CPU)


DEPLOYMENT_BEYOND_QUOTA = """
kubectl create quota q --hard=pods=1
eventually kubectl get quota q -o jsonpath={.status.used.pods}
stdout '^0$'
kubectl create deployment web --image=busybox --replicas=3 -- sleep 3600
eventually kubectl get events --field-selector reason=FailedCreate
stdout `replicaset/web-\\w+\\s+Error creating: pods "web-\\w+-\\w+" is forbidden: exceeded quota: q, requested: pods=1, used: pods=1, limited: pods=1`
kubectl get pods -l app=web -o name
stdout '^pod/web-'
kubectl get quota q -o jsonpath={.status.used.pods}
stdout '^1$'
"""


def test_deployment_beyond_quota_fails_to_create(apiserver: ApiServer, tmp_path: Path) -> None:
    run(apiserver, tmp_path, "deployment", DEPLOYMENT_BEYOND_QUOTA)


LIMIT_RANGE = """
kubectl apply -f limits.yaml
kubectl describe limitrange limits
stdout `Container\\s+cpu\\s+50m\\s+500m\\s+100m\\s+200m\\s+-`
kubectl run plain --image=busybox --restart=Never -- sleep 3600
kubectl get pod plain -o jsonpath={.spec.containers[0].resources}
stdout `"limits":\\{"cpu":"200m"\\}`
stdout `"requests":\\{"cpu":"100m"\\}`
kubectl get pod plain '-o=jsonpath={.metadata.annotations.kubernetes\\.io/limit-ranger}'
stdout '^LimitRanger plugin set: cpu request for container plain; cpu limit for container plain$'
! kubectl apply -f big.yaml
stderr `pods "big" is forbidden: maximum cpu usage per Container is 500m, but limit is 1$`
! kubectl apply -f small.yaml
stderr `pods "small" is forbidden: minimum cpu usage per Container is 50m, but request is 10m$`
-- limits.yaml --
apiVersion: v1
kind: LimitRange
metadata: {name: limits}
spec:
  limits:
  - type: Container
    min: {cpu: 50m}
    max: {cpu: 500m}
    defaultRequest: {cpu: 100m}
    default: {cpu: 200m}
-- big.yaml --
apiVersion: v1
kind: Pod
metadata: {name: big}
spec:
  containers:
  - {name: c, image: busybox, command: [sleep, "3600"], resources: {limits: {cpu: "1"}}}
-- small.yaml --
apiVersion: v1
kind: Pod
metadata: {name: small}
spec:
  containers:
  - {name: c, image: busybox, command: [sleep, "3600"], resources: {requests: {cpu: 10m}}}
"""


def test_limit_range_defaults_and_bounds(apiserver: ApiServer, tmp_path: Path) -> None:
    run(apiserver, tmp_path, "limits", LIMIT_RANGE)


OBJECT_COUNTS = """
kubectl create quota objects --hard=count/deployments.apps=1,count/configmaps=10
eventually kubectl describe quota objects
stdout `count/deployments.apps\\s+0\\s+1`
kubectl create deployment one --image=busybox -- sleep 3600
! kubectl create deployment two --image=busybox -- sleep 3600
stderr `deployments.apps "two" is forbidden: exceeded quota: objects, requested: count/deployments.apps=1, used: count/deployments.apps=1, limited: count/deployments.apps=1$`
# a deleted Deployment gives its count back
kubectl delete deployment one
eventually kubectl describe quota objects
stdout `count/deployments.apps\\s+0\\s+1`
kubectl create deployment two --image=busybox -- sleep 3600
"""


def test_object_counts_are_charged_and_given_back(apiserver: ApiServer, tmp_path: Path) -> None:
    run(apiserver, tmp_path, "objects", OBJECT_COUNTS)
