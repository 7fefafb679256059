"""Pod volumes: what each volume contains, written to disk, and how it is mounted.

Each volume of a pod becomes a directory under the pod's directory
(``<root-dir>/pods/<uid>/volumes/<plugin>/<name>``), as upstream lays it out,
except ``hostPath``, which is the host path itself, and
``persistentVolumeClaim``, which is the path of the PersistentVolume bound to
the claim (its ``hostPath`` or ``local.path``: every tinykube node shares one
host, so that directory outlives the pod and serves it on any node). A claim
that is missing, being deleted or not bound yet is a ``VolumeError``: the pod
waits in ContainerCreating with a FailedMount event and is retried, as
upstream's volume manager does. The runtime bind-mounts
those directories at each container's ``volumeMounts`` (``subPath`` picks a
path inside the volume).

ConfigMap, Secret, downwardAPI and projected volumes are written the way
upstream's ``AtomicWriter`` does, so a reader never sees a half-updated
volume: the files go into a fresh hidden directory ``..<timestamp>``, the
``..data`` symlink is swapped to it in one rename, and each top-level entry is
a symlink through ``..data``. The kubelet rewrites them periodically, which is
how ConfigMap edits and rotated service-account tokens reach running pods
(except through ``subPath``, which is bound once, as upstream).

``project`` is pure: it turns a volume source and the objects it refers to
into ``{relative path: (bytes, mode)}``; ``VolumeManager`` fetches the
objects, requests tokens (TokenRequest on ``serviceaccounts/<sa>/token``
bound to the pod) and writes the files.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import os
import shutil
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tinykube.api import errors
from tinykube.kubelet import envvars
from tinykube.kubelet.runtime.interface import Mount

log = logging.getLogger(__name__)

Obj = dict[str, Any]
Files = dict[str, tuple[bytes, int]]

DEFAULT_MODE = 0o644
TOKEN_EXPIRATION = 3607
PROJECTED_PLUGINS = ("configMap", "secret", "downwardAPI", "projected")


class VolumeError(Exception):
    """A volume could not be set up; the pod's containers wait in ContainerCreating."""


class ReadOnlyPath(type(Path())):  # type: ignore[misc]
    """A volume path every container must mount read-only (a claim with ``readOnly``)."""


@dataclass
class ProjectionSources:
    configmaps: dict[str, Obj | None] = field(default_factory=dict)
    secrets: dict[str, Obj | None] = field(default_factory=dict)
    # audience/expiration key -> token
    tokens: dict[str, str] = field(default_factory=dict)
    node_allocatable: dict[str, str] = field(default_factory=dict)


def token_key(source: Obj) -> str:
    return f"{source.get('audience', '')}|{source.get('expirationSeconds', TOKEN_EXPIRATION)}"


def plugin_of(volume: Obj) -> str:
    for key in (
        "emptyDir",
        "hostPath",
        "configMap",
        "secret",
        "downwardAPI",
        "projected",
        "persistentVolumeClaim",
    ):
        if key in volume:
            return key
    return "emptyDir"


def project(pod: Obj, volume: Obj, sources: ProjectionSources) -> Files:
    """The files of a configMap/secret/downwardAPI/projected volume."""
    plugin = plugin_of(volume)
    source = volume.get(plugin) or {}
    default_mode = source.get("defaultMode", DEFAULT_MODE)
    if plugin == "projected":
        files: Files = {}
        for item in source.get("sources") or []:
            files.update(_projection(pod, item, default_mode, sources))
        return files
    return _projection(pod, {plugin: source}, default_mode, sources)


def _projection(pod: Obj, item: Obj, default_mode: int, sources: ProjectionSources) -> Files:
    namespace = pod["metadata"].get("namespace", "default")
    if "configMap" in item:
        return _keyed(item["configMap"], "configmap", sources.configmaps, namespace, default_mode)
    if "secret" in item:
        src = dict(item["secret"])
        src.setdefault("name", src.get("secretName", ""))
        return _keyed(src, "secret", sources.secrets, namespace, default_mode)
    if "downwardAPI" in item:
        return _downward(pod, item["downwardAPI"], default_mode, sources)
    if "serviceAccountToken" in item:
        token_source = item["serviceAccountToken"]
        token = sources.tokens.get(token_key(token_source))
        if token is None:
            raise VolumeError("service account token is not available yet")
        return {token_source.get("path", "token"): (token.encode(), default_mode)}
    return {}


def _keyed(
    source: Obj, kind: str, table: dict[str, Obj | None], namespace: str, default_mode: int
) -> Files:
    name = source.get("name", "")
    obj = table.get(name)
    if obj is None:
        if source.get("optional"):
            return {}
        raise VolumeError(f'{kind} "{name}" not found')
    data = _binary_data(obj, kind)
    mode = source.get("defaultMode", default_mode)
    items = source.get("items")
    if not items:
        return {key: (value, mode) for key, value in data.items()}
    files: Files = {}
    for item in items:
        key = item.get("key", "")
        if key not in data:
            if source.get("optional"):
                continue
            if kind == "configmap":
                raise VolumeError(f"configmap references non-existent config key: {key}")
            raise VolumeError(f"references non-existent secret key: {key}")
        files[item.get("path", key)] = (data[key], item.get("mode", mode))
    return files


def _binary_data(obj: Obj, kind: str) -> dict[str, bytes]:
    if kind == "secret":
        return {k: base64.b64decode(v) for k, v in (obj.get("data") or {}).items()}
    data = {k: str(v).encode() for k, v in (obj.get("data") or {}).items()}
    for k, v in (obj.get("binaryData") or {}).items():
        data[k] = base64.b64decode(v)
    return data


def _downward(pod: Obj, source: Obj, default_mode: int, sources: ProjectionSources) -> Files:
    env_sources = envvars.EnvSources(node_allocatable=sources.node_allocatable)
    files: Files = {}
    mode = source.get("defaultMode", default_mode)
    for item in source.get("items") or []:
        if "fieldRef" in item:
            text = envvars.field_value(pod, item["fieldRef"].get("fieldPath", ""))
        elif "resourceFieldRef" in item:
            text = envvars.resource_value(pod, None, item["resourceFieldRef"], env_sources)
        else:
            continue
        files[item["path"]] = (text.encode(), item.get("mode", mode))
    return files


def referenced_objects(pod: Obj) -> tuple[set[str], set[str]]:
    """Names of the ConfigMaps and Secrets the pod's volumes project."""
    configmaps: set[str] = set()
    secrets: set[str] = set()
    for volume in (pod.get("spec") or {}).get("volumes") or []:
        items = [volume]
        if "projected" in volume:
            items = (volume["projected"] or {}).get("sources") or []
        for item in items:
            if "configMap" in item:
                configmaps.add(item["configMap"].get("name", ""))
            if "secret" in item:
                secret = item["secret"]
                secrets.add(secret.get("secretName") or secret.get("name", ""))
    return configmaps, secrets


def token_sources(pod: Obj) -> list[Obj]:
    out = []
    for volume in (pod.get("spec") or {}).get("volumes") or []:
        for item in (volume.get("projected") or {}).get("sources") or []:
            if "serviceAccountToken" in item:
                out.append(item["serviceAccountToken"])
    return out


# ---- writing ---------------------------------------------------------------------


def write_atomic(target: Path, files: Files) -> None:
    """Replace the contents of ``target`` with ``files`` in one visible step."""
    target.mkdir(parents=True, exist_ok=True)
    stamp = f"..{time.strftime('%Y_%m_%d_%H_%M_%S')}.{time.time_ns() % 10**9}"
    fresh = target / stamp
    fresh.mkdir()
    for rel, (content, mode) in files.items():
        path = fresh / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        path.chmod(mode & 0o777)
    data_link = target / "..data"
    old = os.readlink(data_link) if data_link.is_symlink() else None
    tmp_link = target / "..data_tmp"
    with contextlib.suppress(FileNotFoundError):
        tmp_link.unlink()
    tmp_link.symlink_to(stamp)
    os.replace(tmp_link, data_link)
    top = {rel.split("/", 1)[0] for rel in files}
    for name in top:
        link = target / name
        if not link.is_symlink():
            link.symlink_to(Path("..data") / name)
    for entry in target.iterdir():
        if not entry.name.startswith("..") and entry.name not in top:
            entry.unlink()
    if old and old != stamp:
        shutil.rmtree(target / old, ignore_errors=True)


def check_host_path(path: Path, kind: str) -> None:
    """hostPath ``type`` checks (and creation for the ``*OrCreate`` types)."""
    if kind == "DirectoryOrCreate":
        path.mkdir(parents=True, exist_ok=True, mode=0o755)
    elif kind == "FileOrCreate":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o644, exist_ok=True)
    checks = {
        "Directory": stat.S_ISDIR,
        "File": stat.S_ISREG,
        "Socket": stat.S_ISSOCK,
        "CharDevice": stat.S_ISCHR,
        "BlockDevice": stat.S_ISBLK,
    }
    if kind in checks:
        try:
            mode = path.stat().st_mode
        except FileNotFoundError:
            raise VolumeError(f"hostPath type check failed: {path} is not a {kind}") from None
        if not checks[kind](mode):
            raise VolumeError(f"hostPath type check failed: {path} is not a {kind}")


def persistent_volume_path(pv: Obj) -> Path:
    """Where a PersistentVolume's data lives on this host (blocking: checks the path)."""
    spec = pv.get("spec") or {}
    name = (pv.get("metadata") or {}).get("name", "")
    if spec.get("volumeMode") == "Block":
        raise VolumeError(f'PersistentVolume "{name}": block volumes are not supported')
    if spec.get("hostPath"):
        path = Path(spec["hostPath"].get("path") or "/")
        check_host_path(path, spec["hostPath"].get("type") or "")
        return path
    if spec.get("local"):
        path = Path(spec["local"].get("path") or "/")
        if not path.exists():
            raise VolumeError(f'PersistentVolume "{name}": local path {path} does not exist')
        return path
    raise VolumeError(
        f'PersistentVolume "{name}": only hostPath and local volumes can be mounted on this node'
    )


# ---- mounts ---------------------------------------------------------------------


def container_mounts(
    container: Obj, volume_paths: dict[str, Path], env: dict[str, str]
) -> list[Mount]:
    """The container's volumeMounts as host path -> container path binds."""
    mounts = []
    for vm in container.get("volumeMounts") or []:
        base = volume_paths.get(vm["name"])
        if base is None:
            raise VolumeError(f'volume "{vm["name"]}" is not ready')
        sub = vm.get("subPath") or envvars.expand(vm.get("subPathExpr", ""), env)
        host = base
        if sub:
            if sub.startswith("/") or ".." in Path(sub).parts:
                raise VolumeError(f"invalid subPath {sub!r}")
            host = base / sub
            if not host.exists() and not host.is_symlink():
                host.mkdir(parents=True, exist_ok=True)
            host = Path(os.path.realpath(host))
        read_only = bool(vm.get("readOnly")) or isinstance(base, ReadOnlyPath)
        mounts.append(Mount(host, vm["mountPath"], read_only))
    return mounts


# ---- the manager ---------------------------------------------------------------


class VolumeManager:
    """Sets up, refreshes and tears down the volumes of the pods on this node."""

    def __init__(self, client: Any, root_dir: Path, node_allocatable: dict[str, str]) -> None:
        self.client = client
        self.root_dir = root_dir
        self.node_allocatable = node_allocatable
        # pod uid -> token key -> (token, expiry unix time)
        self._tokens: dict[str, dict[str, tuple[str, float]]] = {}
        self._tmpfs: set[Path] = set()

    def pod_dir(self, uid: str) -> Path:
        return self.root_dir / "pods" / uid

    async def setup(self, pod: Obj, privileged: bool) -> dict[str, Path]:
        """Create or refresh every volume of ``pod``; volume name -> host path."""
        uid = pod["metadata"]["uid"]
        sources = await self._fetch_sources(pod)
        paths: dict[str, Path] = {}
        for volume in (pod.get("spec") or {}).get("volumes") or []:
            plugin = plugin_of(volume)
            name = volume["name"]
            if plugin == "hostPath":
                path = Path(volume["hostPath"].get("path", "/"))
                await asyncio.to_thread(check_host_path, path, volume["hostPath"].get("type", ""))
                paths[name] = path
                continue
            if plugin == "persistentVolumeClaim":
                paths[name] = await self._claim_path(pod, volume["persistentVolumeClaim"] or {})
                continue
            path = self.pod_dir(uid) / "volumes" / _plugin_dir(plugin) / name
            if plugin in PROJECTED_PLUGINS:
                try:
                    files = project(pod, volume, sources)
                except envvars.EnvError as exc:
                    raise VolumeError(str(exc)) from None
                await asyncio.to_thread(write_atomic, path, files)
            else:
                await self._empty_dir(path, volume.get("emptyDir") or {}, privileged)
            paths[name] = path
        return paths

    async def _claim_path(self, pod: Obj, source: Obj) -> Path:
        """The host path of the volume bound to the claim ``source`` names."""
        namespace = pod["metadata"].get("namespace", "default")
        claim_name = source.get("claimName", "")
        what = f"error processing PVC {namespace}/{claim_name}"
        pvc = await self._get("persistentvolumeclaims", claim_name, namespace)
        if pvc is None:
            raise VolumeError(
                f"{what}: failed to fetch PVC from API server: "
                f'persistentvolumeclaims "{claim_name}" not found'
            )
        if (pvc.get("metadata") or {}).get("deletionTimestamp"):
            raise VolumeError(f"{what}: can't start pod because PVC is being deleted")
        volume_name = (pvc.get("spec") or {}).get("volumeName")
        if (pvc.get("status") or {}).get("phase") != "Bound" or not volume_name:
            raise VolumeError(f"{what}: PVC is not bound")
        pv = await self._get("persistentvolumes", volume_name, "")
        if pv is None:
            raise VolumeError(
                f'{what}: failed to fetch PV "{volume_name}" from API server: '
                f'persistentvolumes "{volume_name}" not found'
            )
        path = await asyncio.to_thread(persistent_volume_path, pv)
        return ReadOnlyPath(path) if source.get("readOnly") else path

    async def _empty_dir(self, path: Path, source: Obj, privileged: bool) -> None:
        await asyncio.to_thread(path.mkdir, parents=True, exist_ok=True)
        # World-writable as upstream makes it, whatever the umask: any runAsUser may write.
        await asyncio.to_thread(path.chmod, 0o777)
        if source.get("medium") == "Memory" and privileged and path not in self._tmpfs:
            argv = ["mount", "-t", "tmpfs", "tmpfs", str(path)]
            if source.get("sizeLimit"):
                from tinykube.api import quantity

                size = quantity.parse(source["sizeLimit"]).value()
                argv[3:3] = ["-o", f"size={size}"]
            proc = await asyncio.create_subprocess_exec(*argv)
            if await proc.wait() == 0:
                self._tmpfs.add(path)

    async def _fetch_sources(self, pod: Obj) -> ProjectionSources:
        namespace = pod["metadata"].get("namespace", "default")
        configmaps, secrets = referenced_objects(pod)
        sources = ProjectionSources(node_allocatable=self.node_allocatable)
        for name in configmaps:
            sources.configmaps[name] = await self._get("configmaps", name, namespace)
        for name in secrets:
            sources.secrets[name] = await self._get("secrets", name, namespace)
        for token_source in token_sources(pod):
            sources.tokens[token_key(token_source)] = await self._token(pod, token_source)
        return sources

    async def _get(self, resource: str, name: str, namespace: str) -> Obj | None:
        try:
            obj: Obj = await self.client.get("v1", resource, name, namespace)
        except errors.NotFound:
            return None
        return obj

    async def _token(self, pod: Obj, source: Obj) -> str:
        """A bound token, requested again once 80% of its lifetime has passed."""
        uid = pod["metadata"]["uid"]
        key = token_key(source)
        cached = self._tokens.setdefault(uid, {}).get(key)
        expiration = int(source.get("expirationSeconds", TOKEN_EXPIRATION))
        if cached is not None and time.time() < cached[1] - expiration * 0.2:
            return cached[0]
        body = {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "spec": {
                "audiences": [source["audience"]] if source.get("audience") else [],
                "expirationSeconds": expiration,
                "boundObjectRef": {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "name": pod["metadata"]["name"],
                    "uid": uid,
                },
            },
        }
        sa = (pod.get("spec") or {}).get("serviceAccountName") or "default"
        try:
            answer = await self.client.create_subresource(
                "v1", "serviceaccounts", sa, "token", body, pod["metadata"]["namespace"]
            )
        except errors.APIError as exc:
            raise VolumeError(f"failed to fetch token: {exc}") from None
        token = (answer.get("status") or {}).get("token", "")
        self._tokens[uid][key] = (token, time.time() + expiration)
        return token

    async def teardown(self, uid: str) -> None:
        self._tokens.pop(uid, None)
        base = self.pod_dir(uid)
        for path in [p for p in self._tmpfs if base in p.parents]:
            proc = await asyncio.create_subprocess_exec("umount", "-l", str(path))
            await proc.wait()
            self._tmpfs.discard(path)
        await asyncio.to_thread(shutil.rmtree, base, True)

    async def close(self) -> None:
        for path in list(self._tmpfs):
            proc = await asyncio.create_subprocess_exec("umount", "-l", str(path))
            await proc.wait()
        self._tmpfs.clear()


def _plugin_dir(plugin: str) -> str:
    return {
        "emptyDir": "kubernetes.io~empty-dir",
        "configMap": "kubernetes.io~configmap",
        "secret": "kubernetes.io~secret",
        "downwardAPI": "kubernetes.io~downward-api",
        "projected": "kubernetes.io~projected",
    }.get(plugin, f"kubernetes.io~{plugin.lower()}")
