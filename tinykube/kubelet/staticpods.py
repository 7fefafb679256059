"""Static pods: pods from manifest files, run without the API server, shown as mirror pods.

The kubelet reads every ``*.yaml``/``*.yml``/``*.json`` file in
``--pod-manifest-path`` every ``SCAN_SECONDS``. Each pod found gets the name
``<name>-<node>`` and a uid that is a hash of its file contents and the node,
so an edited file is a new pod (the old one is terminated, the new one
started) and an unchanged file keeps its pod across scans. A file that
disappears takes its pod with it.

For each static pod the kubelet keeps a *mirror pod* in the API server:
same name, namespace, labels and spec, the annotation
``kubernetes.io/config.mirror`` holding the static pod's hash, and an
ownerReference to the Node. The mirror only shows the pod (its status is the
static pod's); deleting it does not stop the static pod, the kubelet just
posts it again (a mirror being deleted is removed at once, then re-created).
While the API server is unreachable (it may be one of the
static pods) the pods run anyway and mirrors follow later.

As upstream's file source does, every static pod tolerates every NoExecute
taint (``operator: Exists``): a control-plane node that is briefly
unreachable must not have the taint manager delete its apiserver's mirror.
That toleration also keeps the DefaultTolerationSeconds admission from adding
its two 300 s ones. ``kubernetes.io/config.seen`` records when the kubelet
first read the pod, as upstream shows it.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import hashlib
import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from tinykube.api import errors

if TYPE_CHECKING:
    from tinykube.kubelet.kubelet import Kubelet

log = logging.getLogger(__name__)

Obj = dict[str, Any]

SCAN_SECONDS = 2.0
MIRROR = "kubernetes.io/config.mirror"
HASH = "kubernetes.io/config.hash"
SOURCE = "kubernetes.io/config.source"
SEEN = "kubernetes.io/config.seen"
TOLERATE_NO_EXECUTE: Obj = {"operator": "Exists", "effect": "NoExecute"}


def load_manifests(directory: Path, node_name: str) -> dict[str, Obj]:
    """Every static pod in ``directory``, by uid (blocking: call in a thread)."""
    pods: dict[str, Obj] = {}
    if not directory.is_dir():
        return pods
    for path in sorted(directory.iterdir()):
        if path.suffix not in (".yaml", ".yml", ".json") or path.name.startswith("."):
            continue
        try:
            text = path.read_text()
            docs = [json.loads(text)] if path.suffix == ".json" else list(yaml.safe_load_all(text))
        except (OSError, ValueError, yaml.YAMLError) as exc:
            log.warning("static pod manifest %s is unreadable: %s", path, exc)
            continue
        for doc in docs:
            if isinstance(doc, dict) and doc.get("kind", "Pod") == "Pod":
                pod = static_pod(doc, node_name, text)
                pods[pod["metadata"]["uid"]] = pod
    return pods


def static_pod(doc: Obj, node_name: str, source: str) -> Obj:
    """The pod a manifest describes, as this node runs it."""
    pod = copy.deepcopy(doc)
    meta = pod.setdefault("metadata", {})
    uid = hashlib.md5(f"{node_name}\n{source}\n{meta.get('name')}".encode()).hexdigest()
    meta["name"] = f"{meta.get('name', 'static')}-{node_name}"
    meta.setdefault("namespace", "default")
    meta["uid"] = uid
    annotations = meta.setdefault("annotations", {})
    annotations.update({HASH: uid, SOURCE: "file"})
    spec = pod.setdefault("spec", {})
    spec["nodeName"] = node_name
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("enableServiceLinks", True)
    spec["tolerations"] = with_toleration(spec.get("tolerations") or [], TOLERATE_NO_EXECUTE)
    pod["status"] = {"phase": "Pending"}
    return pod


def with_toleration(tolerations: list[Obj], wanted: Obj) -> list[Obj]:
    """``wanted`` added, or in place of the one that differs from it only in its seconds.

    Upstream's AddOrUpdateTolerationInPod: the same key, operator, value and
    effect is the same toleration.
    """
    fields = ("key", "operator", "value", "effect")

    def same(t: Obj) -> bool:
        return all((t.get(f) or "") == (wanted.get(f) or "") for f in fields)

    if any(same(t) for t in tolerations):
        return [dict(wanted) if same(t) else t for t in tolerations]
    return [*tolerations, dict(wanted)]


def mirror_of(pod: Obj, node: Obj | None) -> Obj:
    meta = pod["metadata"]
    mirror_meta: Obj = {
        "name": meta["name"],
        "namespace": meta["namespace"],
        "labels": dict(meta.get("labels") or {}),
        "annotations": {**(meta.get("annotations") or {}), MIRROR: meta["uid"]},
    }
    if node is not None:
        mirror_meta["ownerReferences"] = [
            {
                "apiVersion": "v1",
                "kind": "Node",
                "name": node["metadata"]["name"],
                "uid": node["metadata"].get("uid", ""),
                "controller": True,
            }
        ]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": mirror_meta, "spec": pod["spec"]}


class StaticPods:
    """Keeps the kubelet's static pods equal to the manifest directory."""

    def __init__(self, kubelet: Kubelet) -> None:
        self.kubelet = kubelet
        assert kubelet.config.pod_manifest_path is not None
        self.directory = kubelet.config.pod_manifest_path
        self.pods: dict[str, Obj] = {}

    async def run(self) -> None:
        while True:
            try:
                await self.sync()
            except Exception:  # the loop boundary
                log.exception("static pods sync failed")
            await asyncio.sleep(SCAN_SECONDS)

    async def sync(self) -> None:
        found = await asyncio.to_thread(load_manifests, self.directory, self.kubelet.node_name)
        for uid in set(self.pods) - set(found):
            await self._remove(self.pods.pop(uid))
        for uid, pod in found.items():
            if uid not in self.pods:
                seen = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
                pod["metadata"]["annotations"][SEEN] = seen
                log.info(
                    "static pod %s/%s added", pod["metadata"]["namespace"], pod["metadata"]["name"]
                )
                self.pods[uid] = pod
                self.kubelet.static_uids.add(uid)
                self.kubelet.dispatch(pod)
        if self.kubelet.node is not None:
            for pod in self.pods.values():
                await self._ensure_mirror(pod)

    async def _remove(self, pod: Obj) -> None:
        meta = pod["metadata"]
        log.info("static pod %s/%s removed", meta["namespace"], meta["name"])
        worker = self.kubelet.workers.get(meta["uid"])
        if worker is not None:
            worker.mark_gone()
        try:
            await self.kubelet.client.delete(
                "v1", "pods", meta["name"], meta["namespace"], grace_period_seconds=0
            )
        except errors.NotFound:
            pass
        except Exception as exc:  # API server unreachable: the mirror goes later
            log.info("mirror pod %s not deleted: %s", meta["name"], exc)
        self.kubelet.static_uids.discard(meta["uid"])

    async def _ensure_mirror(self, pod: Obj) -> None:
        meta = pod["metadata"]
        current = self.kubelet.pods.get_by_name(meta["namespace"], meta["name"])
        if current is not None:
            annotations = current["metadata"].get("annotations") or {}
            deleting = current["metadata"].get("deletionTimestamp")
            if annotations.get(MIRROR) == meta["uid"] and not deleting:
                return
            # A stale mirror (older manifest), one a user deleted (it goes at once and comes
            # back: the static pod keeps running), or a user's pod with our name.
            with contextlib.suppress(errors.NotFound, errors.Conflict):
                await self.kubelet.client.delete(
                    "v1",
                    "pods",
                    meta["name"],
                    meta["namespace"],
                    grace_period_seconds=0,
                    preconditions={"uid": current["metadata"]["uid"]},
                )
        node = self.kubelet.node
        if node is None:  # the Node was deleted meanwhile: no owner for a mirror
            return
        try:
            await self.kubelet.client.create("v1", "pods", mirror_of(pod, node))
        except errors.AlreadyExists:
            return
        except errors.APIError as exc:
            log.warning("mirror pod %s/%s not created: %s", meta["namespace"], meta["name"], exc)
            return
        worker = self.kubelet.workers.get(meta["uid"])
        if worker is not None:
            worker.last_status = None  # write the status onto the new mirror
            worker.wake.set()
