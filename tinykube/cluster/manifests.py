"""Static pod manifests for the control plane, as ``kubeadm init`` writes them.

The kubelet of the control-plane node runs these files from
``<data-dir>/manifests/`` without needing an API server, and shows them as
mirror pods ``kube-apiserver-controlplane`` … in ``kube-system``, which is what
a CKA learner sees on a kubeadm cluster. Each container's command is this
installation's own interpreter running ``tinykube <component>``: the process
runtime runs a command from the host's filesystem when no image is stored,
and the image names are informational, as with kubeadm's pinned images.

Each component is probed as kubeadm probes it: the API server's ``/livez`` on its
port; kube-controller-manager's ``/healthz`` and kube-scheduler's ``/livez`` (and
``/readyz``) on their secure ports, bound to 127.0.0.1. Those two ports are
parameters because several clusters share a host in the tests; the API server
reads them back from these manifests for ``kubectl get componentstatuses``
(``apiserver/componentstatus.py``), so the probe port here is the one place that
says where each component answers.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

IMAGE_TAG = "v1.34.2"
# kube-scheduler's and kube-controller-manager's secure ports, as upstream defaults them.
SCHEDULER_PORT = 10259
CONTROLLER_MANAGER_PORT = 10257


def _pod(component: str, args: list[str], port: int, scheme: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": component,
            "namespace": "kube-system",
            "labels": {"component": component, "tier": "control-plane"},
        },
        "spec": {
            "hostNetwork": True,
            "priorityClassName": "system-node-critical",
            "restartPolicy": "Always",
            "containers": [
                {
                    "name": component,
                    "image": f"registry.k8s.io/{component}:{IMAGE_TAG}",
                    "command": [sys.executable, "-m", "tinykube.cli", *args],
                    "livenessProbe": {
                        "httpGet": {
                            "host": "127.0.0.1",
                            "path": "/livez",
                            "port": port,
                            "scheme": scheme,
                        },
                        # kubeadm's values: a busy server is not a dead one
                        "initialDelaySeconds": 10,
                        "timeoutSeconds": 15,
                        "periodSeconds": 10,
                        "failureThreshold": 8,
                    },
                }
            ],
        },
    }


def control_plane(
    data_dir: Path,
    port: int,
    bind_address: str,
    apiserver_args: list[str],
    scheduler_port: int = SCHEDULER_PORT,
    controller_manager_port: int = CONTROLLER_MANAGER_PORT,
) -> dict[str, dict[str, Any]]:
    """file name → pod, for kube-apiserver, kube-controller-manager and kube-scheduler."""
    data = str(data_dir.resolve())
    apiserver = _pod(
        "kube-apiserver",
        [
            "apiserver",
            "--data-dir",
            data,
            "--port",
            str(port),
            "--bind-address",
            bind_address,
            *apiserver_args,
        ],
        port,
        "HTTPS",
    )
    apiserver["spec"]["containers"][0]["livenessProbe"]["httpGet"]["host"] = (
        "127.0.0.1" if bind_address in ("0.0.0.0", "::") else bind_address
    )
    manager = _pod(
        "kube-controller-manager",
        [
            "controller-manager",
            "--leader-elect",
            "--kubeconfig",
            f"{data}/kube-controller-manager.kubeconfig",
            "--cluster-signing-cert-file",
            f"{data}/pki/ca.crt",
            "--cluster-signing-key-file",
            f"{data}/pki/ca.key",
            "--hostpath-provisioner-dir",
            f"{data}/volumes",
            *_health_args(controller_manager_port),
        ],
        controller_manager_port,
        "HTTPS",
    )
    _health_probes(manager, "/healthz", None)
    scheduler = _pod(
        "kube-scheduler",
        [
            "scheduler",
            "--leader-elect",
            "--kubeconfig",
            f"{data}/kube-scheduler.kubeconfig",
            *_health_args(scheduler_port),
        ],
        scheduler_port,
        "HTTPS",
    )
    _health_probes(scheduler, "/livez", "/readyz")
    return {
        "kube-apiserver.yaml": apiserver,
        "kube-controller-manager.yaml": manager,
        "kube-scheduler.yaml": scheduler,
    }


def _health_args(port: int) -> list[str]:
    # kubeadm binds the health port to loopback: only the kubelet's probes and the
    # API server's componentstatuses, both on this host, need it.
    return ["--bind-address", "127.0.0.1", "--secure-port", str(port)]


def _health_probes(pod: dict[str, Any], live: str, ready: str | None) -> None:
    """kubeadm's probes for the scheduler and the controller manager: liveness on ``live``,
    a startup probe on the same path that holds liveness back for up to 4 minutes, and for
    the scheduler a readiness probe on ``/readyz`` every second."""
    container = pod["spec"]["containers"][0]
    liveness = container["livenessProbe"]
    liveness["httpGet"]["path"] = live
    container["startupProbe"] = {
        **liveness,
        "httpGet": dict(liveness["httpGet"]),
        "failureThreshold": 24,
    }
    if ready is not None:
        container["readinessProbe"] = {
            "httpGet": {**liveness["httpGet"], "path": ready},
            "timeoutSeconds": 15,
            "periodSeconds": 1,
            "failureThreshold": 3,
        }


def write(directory: Path, pods: dict[str, dict[str, Any]]) -> None:
    """Write the manifests; a file whose content is unchanged is left alone (no restart)."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, pod in pods.items():
        path = directory / name
        text = yaml.safe_dump(pod, sort_keys=False)
        if not path.exists() or path.read_text() != text:
            tmp = path.with_suffix(".tmp")
            tmp.write_text(text)
            tmp.replace(path)
