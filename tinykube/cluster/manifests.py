"""Static pod manifests for the control plane, as ``kubeadm init`` writes them.

The kubelet of the control-plane node runs these files from
``<data-dir>/manifests/`` without needing an API server, and shows them as
mirror pods ``kube-apiserver-controlplane`` … in ``kube-system``, which is what
a CKA learner sees on a kubeadm cluster. Each container's command is this
installation's own interpreter running ``tinykube <component>``: the process
runtime runs a command from the host's filesystem when no image is stored,
and the image names are informational, as with kubeadm's pinned images.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

IMAGE_TAG = "v1.34.2"


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
    data_dir: Path, port: int, bind_address: str, apiserver_args: list[str]
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
        ],
        0,
        "HTTP",
    )
    scheduler = _pod(
        "kube-scheduler",
        ["scheduler", "--leader-elect", "--kubeconfig", f"{data}/kube-scheduler.kubeconfig"],
        0,
        "HTTP",
    )
    # The controller manager and scheduler serve no health port yet: no probe for them.
    for pod in (manager, scheduler):
        del pod["spec"]["containers"][0]["livenessProbe"]
    return {
        "kube-apiserver.yaml": apiserver,
        "kube-controller-manager.yaml": manager,
        "kube-scheduler.yaml": scheduler,
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
