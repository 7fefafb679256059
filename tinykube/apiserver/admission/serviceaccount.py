"""The ServiceAccount admission plugin: every Pod runs as a service account.

On create a Pod without ``serviceAccountName`` gets ``default`` (and the
deprecated ``serviceAccount`` mirror of it), and, unless it opts out with
``automountServiceAccountToken: false``, a projected ``kube-api-access-<5>``
volume holding a bound token, the cluster CA and its namespace, mounted
read-only at the well-known path in every container and init container.
That volume is what in-cluster clients (client-go's ``InClusterConfig``, the
Python client's ``load_incluster_config``) read.

Upstream also refuses Pods whose ServiceAccount does not exist yet; we do not
check, because the ServiceAccount controller creates ``default`` right after
the namespace and a missing one would only make Pod creation racy.
"""

from __future__ import annotations

import random
from typing import Any

DEFAULT_SERVICE_ACCOUNT = "default"
MOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"
VOLUME_PREFIX = "kube-api-access-"
TOKEN_EXPIRATION_SECONDS = 3607
ROOT_CA_CONFIG_MAP = "kube-root-ca.crt"
MIRROR_POD_ANNOTATION = "kubernetes.io/config.mirror"
# The alphabet upstream's generated names use: no vowels, no look-alike digits.
SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"

_rng = random.Random()


def admit_pod(pod: dict[str, Any]) -> None:
    """Mutate a Pod being created; never fails."""
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    if MIRROR_POD_ANNOTATION in annotations:
        return
    spec = pod.setdefault("spec", {})
    if not spec.get("serviceAccountName"):
        spec["serviceAccountName"] = spec.get("serviceAccount") or DEFAULT_SERVICE_ACCOUNT
    spec["serviceAccount"] = spec["serviceAccountName"]
    if spec.get("automountServiceAccountToken") is False:
        return
    containers = [
        c
        for field in ("initContainers", "containers")
        for c in spec.get(field) or []
        if isinstance(c, dict) and not _mounts_token_path(c)
    ]
    if not containers:
        return
    volumes = spec.setdefault("volumes", [])
    name = _volume_name({v.get("name") for v in volumes if isinstance(v, dict)})
    volumes.append(token_volume(name))
    for container in containers:
        container.setdefault("volumeMounts", []).append(
            {"name": name, "readOnly": True, "mountPath": MOUNT_PATH}
        )


def _mounts_token_path(container: dict[str, Any]) -> bool:
    return any(
        isinstance(m, dict) and m.get("mountPath") == MOUNT_PATH
        for m in container.get("volumeMounts") or []
    )


def _volume_name(taken: set[Any]) -> str:
    while True:
        name = VOLUME_PREFIX + "".join(_rng.choice(SUFFIX_ALPHABET) for _ in range(5))
        if name not in taken:
            return name


def token_volume(name: str) -> dict[str, Any]:
    """The projected volume exactly as upstream writes it (defaults included)."""
    return {
        "name": name,
        "projected": {
            "sources": [
                {
                    "serviceAccountToken": {
                        "expirationSeconds": TOKEN_EXPIRATION_SECONDS,
                        "path": "token",
                    }
                },
                {
                    "configMap": {
                        "name": ROOT_CA_CONFIG_MAP,
                        "items": [{"key": "ca.crt", "path": "ca.crt"}],
                    }
                },
                {
                    "downwardAPI": {
                        "items": [
                            {
                                "path": "namespace",
                                "fieldRef": {
                                    "apiVersion": "v1",
                                    "fieldPath": "metadata.namespace",
                                },
                            }
                        ]
                    }
                },
            ],
            "defaultMode": 420,
        },
    }
