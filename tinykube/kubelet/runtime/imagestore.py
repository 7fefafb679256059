"""The process runtime's image store: import, list and remove images.

An image is kept unpacked, as the runtime runs it (``proc_io.find_image``):
``<image-dir>/<name>/rootfs`` is the root filesystem, ``config.json`` the OCI
image config (Entrypoint, Cmd, Env, WorkingDir) and ``digest`` the image ID
(the config's digest, what ``imageID`` in a container status shows). The name
is the reference without ``docker.io/library/`` and with its tag
(``busybox:1.36``), so a pod's ``image: busybox:1.36`` or
``docker.io/library/busybox:1.36`` finds it.

``import_archive`` reads the two archive formats images travel in:

- an OCI image layout (``oci-layout``, ``index.json``, ``blobs/sha256/…``),
  what ``docker save`` (25+), ``skopeo copy … oci-archive:`` , ``podman save
  --format oci-archive`` and ``ctr export`` write. The index may nest an image
  index; the manifest for this machine's platform is taken.
- a Docker archive (``manifest.json`` listing Config, RepoTags and Layers),
  what older ``docker save`` writes.

Layers (tar, gzip-compressed or not) are applied in order with the OCI
whiteout rules: ``.wh.<name>`` removes ``<name>`` from the layers below, and
``.wh..wh..opq`` empties its directory. Every path, including through a
symlink the image itself contains, is resolved inside the root filesystem
(an absolute link target is relative to the image's root), so a layer can
never write outside it. Device files are skipped: a container gets its
``/dev`` from the runtime. The root filesystem is built beside the store and
renamed into place, so a failed import leaves nothing half-written.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import os
import platform
import shutil
import stat
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any

WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"
MAX_SYMLINK_HOPS = 40
GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
ARCHES = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "ppc64le": "ppc64le"}


class ImageError(Exception):
    """An archive that cannot be imported; the message says why, for the user."""


@dataclass
class StoredImage:
    name: str
    image_id: str
    size: int


def store_name(ref: str) -> str:
    """The directory name an image reference is stored under (``busybox:1.36``)."""
    for prefix in ("docker.io/library/", "docker.io/", "library/"):
        if ref.startswith(prefix):
            ref = ref[len(prefix) :]
            break
    last = ref.rsplit("/", 1)[-1]
    if "@" not in ref and ":" not in last:
        ref += ":latest"
    return ref


# ---- reading archives ---------------------------------------------------------------


@dataclass
class _Image:
    """What an archive holds for one image: its config, layers and names."""

    config: bytes
    layers: list[str]  # member names in the archive, lowest first
    names: list[str]


def _read(archive: tarfile.TarFile, name: str) -> bytes:
    try:
        member = archive.extractfile(name.removeprefix("./"))
    except KeyError:
        member = None
    if member is None:
        raise ImageError(f"the archive has no {name}")
    return member.read()


def _json(archive: tarfile.TarFile, name: str) -> Any:
    try:
        return json.loads(_read(archive, name))
    except ValueError as exc:
        raise ImageError(f"{name} is not JSON: {exc}") from None


def _blob(digest: str) -> str:
    algorithm, _, hexdigest = digest.partition(":")
    return f"blobs/{algorithm}/{hexdigest}"


def _platform_manifest(archive: tarfile.TarFile, index: dict[str, Any]) -> dict[str, Any]:
    """Descend image indexes to the manifest for this machine's os/architecture."""
    arch = ARCHES.get(platform.machine(), platform.machine())
    for _ in range(8):
        manifests = index.get("manifests") or []
        if len(manifests) > 1:
            manifests = [
                m
                for m in manifests
                if (m.get("platform") or {}).get("architecture") == arch
                and (m.get("platform") or {}).get("os", "linux") == "linux"
            ]
        if not manifests:
            raise ImageError(f"the image index has no manifest for linux/{arch}")
        doc = _json(archive, _blob(manifests[0]["digest"]))
        if doc.get("layers") is not None:
            return dict(doc)
        index = doc
    raise ImageError("image indexes nest too deeply")


def _oci_names(index: dict[str, Any]) -> list[str]:
    names = []
    for m in index.get("manifests") or []:
        notes = m.get("annotations") or {}
        for key in ("io.containerd.image.name", "org.opencontainers.image.ref.name"):
            value = notes.get(key, "")
            # A bare tag ("1.36") names no image; a full reference does.
            if "/" in value or ":" in value.rsplit("/", 1)[-1]:
                names.append(value)
    return names


def read_archive(archive: tarfile.TarFile) -> _Image:
    members = {m.name.removeprefix("./") for m in archive.getmembers()}
    if "manifest.json" in members:
        entries = _json(archive, "manifest.json")
        if not isinstance(entries, list) or not entries:
            raise ImageError("manifest.json lists no image")
        entry = entries[0]
        return _Image(
            config=_read(archive, entry["Config"]),
            layers=list(entry.get("Layers") or []),
            names=list(entry.get("RepoTags") or []),
        )
    if "index.json" in members:
        index = _json(archive, "index.json")
        manifest = _platform_manifest(archive, index)
        return _Image(
            config=_read(archive, _blob(manifest["config"]["digest"])),
            layers=[_blob(layer["digest"]) for layer in manifest.get("layers") or []],
            names=_oci_names(index),
        )
    raise ImageError(
        "not an image archive: no index.json (OCI layout) or manifest.json (docker save)"
    )


# ---- applying layers ----------------------------------------------------------------


def resolve(root: Path, path: str, follow_last: bool = False) -> Path:
    """``path`` inside ``root``, following the image's own symlinks as a chroot would."""
    parts = [p for p in PurePosixPath("/", path).parts[1:] if p not in ("", ".")]
    current = root
    hops = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            current = current.parent if current != root else root
            continue
        candidate = current / part
        last = not parts
        if candidate.is_symlink() and (not last or follow_last):
            hops += 1
            if hops > MAX_SYMLINK_HOPS:
                raise ImageError(f"too many levels of symbolic links in {path}")
            target = os.readlink(candidate)
            if target.startswith("/"):
                current = root
            parts = [p for p in PurePosixPath(target).parts if p not in ("/", "", ".")] + parts
            continue
        current = candidate
    return current


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


def _layer_stream(archive: tarfile.TarFile, name: str) -> IO[bytes]:
    raw = archive.extractfile(name.removeprefix("./"))
    if raw is None:
        raise ImageError(f"the archive has no layer {name}")
    head = raw.read(4)
    raw.seek(0)
    if head[:2] == GZIP_MAGIC:
        return gzip.GzipFile(fileobj=raw)  # type: ignore[return-value]
    if head == ZSTD_MAGIC:
        raise ImageError(f"layer {name} is zstd-compressed; only tar and gzip layers are read")
    return raw


def apply_layer(root: Path, layer: IO[bytes], as_root: bool) -> None:
    """One layer over the root filesystem, whiteouts first-class."""
    with tarfile.open(fileobj=layer, mode="r|") as tar:
        for member in tar:
            path = PurePosixPath("/", member.name)
            base = path.name
            parent = resolve(root, str(path.parent), follow_last=True)
            if base == OPAQUE:
                if parent.is_dir():
                    for child in parent.iterdir():
                        _remove(child)
                continue
            if base.startswith(WHITEOUT):
                _remove(parent / base[len(WHITEOUT) :])
                continue
            if str(path) == "/":
                continue
            parent.mkdir(parents=True, exist_ok=True)
            _extract(tar, member, parent / base, root, as_root)


def _extract(
    tar: tarfile.TarFile, member: tarfile.TarInfo, target: Path, root: Path, as_root: bool
) -> None:
    if member.isdir():
        if target.is_symlink() or (target.exists() and not target.is_dir()):
            _remove(target)
        target.mkdir(exist_ok=True)
    else:
        if target.is_symlink() or target.exists():
            _remove(target)
        if member.issym():
            os.symlink(member.linkname, target)
        elif member.islnk():
            source = resolve(root, member.linkname)
            if not source.exists() or source.is_dir():
                raise ImageError(f"hard link {member.name} points at missing {member.linkname}")
            os.link(source, target)
        elif member.isreg():
            data = tar.extractfile(member)
            assert data is not None
            with open(target, "wb") as out:
                shutil.copyfileobj(data, out)
        elif member.isfifo():
            os.mkfifo(target)
        else:
            return  # character and block devices: the runtime gives each container its /dev
    if as_root:
        with contextlib.suppress(OSError):
            os.lchown(target, member.uid, member.gid)
    if not member.issym():
        mode = member.mode & (0o7777 if as_root else 0o777)
        os.chmod(target, mode | (stat.S_IWUSR if not as_root else 0))
        with contextlib.suppress(OSError):
            os.utime(target, (member.mtime, member.mtime))


# ---- the store ----------------------------------------------------------------------


def import_archive(image_dir: Path, archive_path: Path, name: str = "") -> StoredImage:
    """Unpack an image archive into the store; returns what was stored."""
    try:
        archive = tarfile.open(archive_path)  # noqa: SIM115 - closed by the with below
    except (OSError, tarfile.TarError) as exc:
        raise ImageError(f"cannot read {archive_path}: {exc}") from None
    with archive:
        image = read_archive(archive)
        names = [name] if name else image.names
        if not names:
            raise ImageError("the archive names no image: give one with --name")
        try:
            config = json.loads(image.config)
        except ValueError as exc:
            raise ImageError(f"the image config is not JSON: {exc}") from None
        image_id = "sha256:" + hashlib.sha256(image.config).hexdigest()
        image_dir.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=".import-", dir=image_dir))
        try:
            rootfs = work / "rootfs"
            rootfs.mkdir()
            as_root = os.geteuid() == 0
            for layer in image.layers:
                apply_layer(rootfs, _layer_stream(archive, layer), as_root)
            (work / "config.json").write_text(json.dumps(config))
            (work / "digest").write_text(image_id + "\n")
            stored = [store_name(n) for n in names]
            for extra in stored[1:]:
                _replace(image_dir / extra, _copy_tree(work, image_dir))
            _replace(image_dir / stored[0], work)
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
    return StoredImage(stored[0], image_id, _size(image_dir / stored[0] / "rootfs"))


def _copy_tree(work: Path, image_dir: Path) -> Path:
    copy = Path(tempfile.mkdtemp(prefix=".import-", dir=image_dir))
    shutil.copytree(work, copy, symlinks=True, dirs_exist_ok=True)
    return copy


def _replace(final: Path, built: Path) -> None:
    """Put the built image in place; an older image of the same name goes after."""
    final.parent.mkdir(parents=True, exist_ok=True)
    old = None
    if final.exists():
        old = final.with_name(f".old-{final.name}-{os.getpid()}")
        final.rename(old)
    built.rename(final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _size(rootfs: Path) -> int:
    total = 0
    for dirpath, _, files in os.walk(rootfs):
        for f in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(dirpath, f)).st_size
    return total


def list_images(image_dir: Path) -> list[StoredImage]:
    out = []
    if not image_dir.is_dir():
        return out
    for rootfs in sorted(image_dir.glob("**/rootfs")):
        base = rootfs.parent
        if not rootfs.is_dir() or any(p.startswith(".") for p in base.relative_to(image_dir).parts):
            continue
        digest = base / "digest"
        image_id = digest.read_text().strip() if digest.exists() else ""
        out.append(StoredImage(str(base.relative_to(image_dir)), image_id, _size(rootfs)))
    return out


def remove_image(image_dir: Path, ref: str) -> str:
    name = store_name(ref)
    base = image_dir / name
    if not (base / "rootfs").is_dir():
        raise ImageError(f"no image {ref} in {image_dir}")
    shutil.rmtree(base)
    return name
