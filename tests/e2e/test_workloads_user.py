"""Workloads as a CKA student drives them, with the real kubectl: Jobs that must fail or
wait, CronJobs and the Jobs made from them, StatefulSets and their claims.

Each test is a short script (``scripts.py``) run in a namespace of its own.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from cluster import ApiServer, run_kubectl
from scripts import Runner, parse

pytestmark = pytest.mark.e2e


def run(apiserver: ApiServer, tmp_path: Path, name: str, text: str) -> None:
    namespace = "wl-" + re.sub(r"[^a-z0-9-]", "-", name)
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


JOBS_THAT_FAIL = """
kubectl apply -f jobs.yaml
# activeDeadlineSeconds ends a Job whose Pod runs on quietly
kubectl wait --for=condition=failed job/deadline --timeout=90s
kubectl get job deadline '-o=jsonpath={.status.conditions[?(@.type=="Failed")].reason}'
stdout '^DeadlineExceeded$'
kubectl describe job deadline
stdout `Warning\\s+DeadlineExceeded\\s+\\S+\\s+job-controller\\s+Job was active longer than specified deadline`
! stdout `DeadlineExceeded\\s+\\S+ \\(x\\d`
# a FailJob rule of the podFailurePolicy fails the Job on the first exit 42
kubectl wait --for=condition=failed job/policy --timeout=90s
kubectl get job policy '-o=jsonpath={.status.conditions[?(@.type=="Failed")].message}'
stdout `^Container main for pod wl-jobs-that-fail/policy-\\w+ failed with exit code 42 matching FailJob rule at index 0$`
kubectl get job policy -o jsonpath={.status.failed}
stdout '^1$'
# with restartPolicy OnFailure, container restarts count against backoffLimit
kubectl wait --for=condition=failed job/restarts --timeout=90s
kubectl get job restarts '-o=jsonpath={.status.conditions[?(@.type=="Failed")].reason}'
stdout '^BackoffLimitExceeded$'
# with backoffLimitPerIndex, each index has its own retries; the odd ones fail for good
kubectl wait --for=condition=failed job/per-index --timeout=120s
kubectl get job per-index '-o=jsonpath={.status.completedIndexes} {.status.failedIndexes} {.status.conditions[?(@.type=="Failed")].reason}'
stdout '^0,2 1,3 FailedIndexes$'
kubectl get pods -l job-name=per-index,batch.kubernetes.io/job-completion-index=3 '-o=jsonpath={.items[*].metadata.annotations.batch\\.kubernetes\\.io/job-index-failure-count}'
stdout '^(0 1|1 0)$'
# a suspended Job says so, and runs nothing
kubectl get job held
stdout `held\\s+Suspended\\s+0/1`
kubectl describe job held
stdout `Normal\\s+Suspended\\s+\\S+\\s+job-controller\\s+Job suspended`
kubectl get pods -l job-name=held -o name
! stdout 'pod/'
-- jobs.yaml --
apiVersion: batch/v1
kind: Job
metadata: {name: deadline}
spec:
  activeDeadlineSeconds: 2
  template:
    spec:
      restartPolicy: Never
      containers:
      - {name: main, image: busybox, command: [sleep, "300"]}
---
apiVersion: batch/v1
kind: Job
metadata: {name: policy}
spec:
  backoffLimit: 6
  podFailurePolicy:
    rules:
    - action: FailJob
      onExitCodes: {containerName: main, operator: In, values: [42]}
  template:
    spec:
      restartPolicy: Never
      containers:
      - {name: main, image: busybox, command: [sh, -c, "exit 42"]}
---
apiVersion: batch/v1
kind: Job
metadata: {name: restarts}
spec:
  backoffLimit: 1
  template:
    spec:
      restartPolicy: OnFailure
      containers:
      - {name: main, image: busybox, command: [sh, -c, "exit 1"]}
---
apiVersion: batch/v1
kind: Job
metadata: {name: per-index}
spec:
  completions: 4
  parallelism: 4
  completionMode: Indexed
  backoffLimitPerIndex: 1
  template:
    spec:
      restartPolicy: Never
      containers:
      - {name: main, image: busybox, command: [sh, -c, "exit $((JOB_COMPLETION_INDEX % 2))"]}
---
apiVersion: batch/v1
kind: Job
metadata: {name: held}
spec:
  suspend: true
  template:
    spec:
      restartPolicy: Never
      containers:
      - {name: main, image: busybox, command: [sleep, "1"]}
"""


def test_jobs_that_fail(apiserver: ApiServer, tmp_path: Path) -> None:
    run(apiserver, tmp_path, "jobs-that-fail", JOBS_THAT_FAIL)


JOB_COMPLETES_ONCE = """
kubectl create job once --image=busybox -- sh -c 'exit 0'
kubectl wait --for=condition=complete job/once --timeout=90s
sleep 1
kubectl describe job once
stdout `Normal\\s+Completed\\s+\\S+\\s+job-controller\\s+Job completed`
! stdout `Completed\\s+\\S+ \\(x\\d`
# a success policy: the leader's index decides, the workers are stopped
kubectl apply -f leader.yaml
kubectl wait --for=condition=complete job/leader --timeout=90s
kubectl get job leader '-o=jsonpath={.status.completedIndexes} {.status.conditions[?(@.type=="Complete")].message}'
stdout '^0 Matched rules at index 0$'
-- leader.yaml --
apiVersion: batch/v1
kind: Job
metadata: {name: leader}
spec:
  completions: 3
  parallelism: 3
  completionMode: Indexed
  successPolicy:
    rules:
    - succeededIndexes: "0"
  template:
    spec:
      restartPolicy: Never
      containers:
      - {name: main, image: busybox, command: [sh, -c, "[ $JOB_COMPLETION_INDEX = 0 ] || exec sleep 300"]}
"""


def test_a_completed_job_says_so_once(apiserver: ApiServer, tmp_path: Path) -> None:
    run(apiserver, tmp_path, "job-completes-once", JOB_COMPLETES_ONCE)


CRONJOB_MANUAL_RUN = """
kubectl create cronjob tick --image=busybox '--schedule=0 0 1 1 *' -- sleep 30
kubectl create job manual --from=cronjob/tick
stdout '^job.batch/manual created$'
kubectl get job manual -o jsonpath={.metadata.ownerReferences[0].kind}
stdout '^CronJob$'
# a Job started by hand is not one of the schedule's active runs (upstream warns instead)
eventually kubectl describe cronjob tick
stdout `Warning\\s+UnexpectedJob\\s+.*Saw a job that the controller did not create or forgot: manual`
kubectl get cronjob tick
stdout `^tick\\s+0 0 1 1 \\*\\s+<none>\\s+False\\s+0\\s+<none>\\s`
"""


def test_a_job_made_from_a_cronjob(apiserver: ApiServer, tmp_path: Path) -> None:
    run(apiserver, tmp_path, "cronjob-manual-run", CRONJOB_MANUAL_RUN)


STATEFULSET_STORAGE = """
kubectl apply -f db.yaml
kubectl rollout status statefulset/db --timeout=90s
stdout 'partitioned roll out complete: 2 new pods have been updated'
kubectl get pvc data-db-0 data-db-1 -o custom-columns=NAME:.metadata.name,STATUS:.status.phase,CLASS:.spec.storageClassName
stdout `data-db-0\\s+Bound\\s+standard`
stdout `data-db-1\\s+Bound\\s+standard`
kubectl describe statefulset db
stdout `SuccessfulCreate\\s+\\S+\\s+statefulset-controller\\s+create Claim data-db-0 Pod db-0 in StatefulSet db success`
stdout `SuccessfulCreate\\s+\\S+\\s+statefulset-controller\\s+create Pod db-1 in StatefulSet db successful`
-- db.yaml --
apiVersion: v1
kind: Service
metadata: {name: db}
spec:
  clusterIP: None
  selector: {app: db}
  ports: [{port: 80}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: db
  replicas: 2
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers:
      - name: main
        image: busybox
        command: [sh, -c, "hostname > /data/id; exec sleep 3600"]
        volumeMounts: [{name: data, mountPath: /data}]
  volumeClaimTemplates:
  - metadata: {name: data}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 1Gi}}
"""


def test_a_stateful_set_with_claims(apiserver: ApiServer, tmp_path: Path) -> None:
    run(apiserver, tmp_path, "statefulset-storage", STATEFULSET_STORAGE)


JOB_ORPHANED = """
kubectl create job keep --image=busybox -- sleep 3600
eventually kubectl get pods -l job-name=keep -o name
stdout '^pod/keep-'
# the Pods stay, and nothing holds them any more once their Job let go
kubectl delete job keep --cascade=orphan
eventually kubectl get pods -l job-name=keep -o jsonpath={.items[0].metadata.finalizers}
! stdout 'job-tracking'
kubectl delete pods -l job-name=keep --timeout=60s
kubectl get pods -l job-name=keep -o name
! stdout 'pod/'
"""


def test_pods_of_an_orphaning_job_delete(apiserver: ApiServer, tmp_path: Path) -> None:
    run(apiserver, tmp_path, "job-orphaned", JOB_ORPHANED)
