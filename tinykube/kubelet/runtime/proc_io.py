"""Container logs in the CRI file format, and images from the local image store.

Logs: a container's stdout and stderr are pipes read by the runtime, which
writes each line to the container's log file as the CRI runtimes do:
``<RFC3339Nano timestamp> <stdout|stderr> <F|P> <text>``. The timestamp is
what ``kubectl logs --timestamps`` and ``--since`` need, the stream what
``--stream`` needs; a real process writing straight to a file could give
neither. A file past ``MAX_LOG_BYTES`` is rotated to ``<file>.1``.

Images: ``<image-dir>/<name>/rootfs`` holds an unpacked root filesystem,
``<image-dir>/<name>/config.json`` (optional) the OCI image config with its
Entrypoint, Cmd, Env and WorkingDir. ``<name>`` is the image reference as
written in the pod (``busybox:1.36``) or without its tag (``busybox``), and
``docker.io/library/`` is ignored, so a pod that names ``busybox`` finds an
image imported as ``docker.io/library/busybox:latest``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from datetime import UTC, datetime
from pathlib import Path

from tinykube.kubelet.runtime.interface import ImageInfo, ImagePullError

MAX_LOG_BYTES = 10 * 1024 * 1024
READ_CHUNK = 64 * 1024


def cri_timestamp(when: datetime | None = None) -> str:
    when = when or datetime.now(UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z"


def format_lines(stream: str, data: bytes) -> bytes:
    """Complete lines of ``data`` as CRI log records (``data`` ends with a newline)."""
    stamp = cri_timestamp().encode()
    prefix = stamp + b" " + stream.encode() + b" F "
    return b"".join(prefix + line + b"\n" for line in data.split(b"\n")[:-1])


class LogWriter:
    """Appends CRI records to one file, from any number of streams, in a thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = asyncio.Lock()

    async def write(self, record: bytes) -> None:
        async with self._lock:
            await asyncio.to_thread(self._append, record)

    def _append(self, record: bytes) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("ab") as f:
            f.write(record)
            size = f.tell()
        if size > MAX_LOG_BYTES:
            os.replace(self.path, self.path.with_name(self.path.name + ".1"))


async def pump(reader: asyncio.StreamReader, stream: str, writer: LogWriter) -> None:
    """Copy one pipe into the log until EOF; a trailing partial line is kept whole."""
    pending = b""
    while chunk := await reader.read(READ_CHUNK):
        pending += chunk
        cut = pending.rfind(b"\n")
        if cut >= 0:
            await writer.write(format_lines(stream, pending[: cut + 1]))
            pending = pending[cut + 1 :]
    if pending:
        await writer.write(format_lines(stream, pending + b"\n"))


# ---- images --------------------------------------------------------------------------


def image_candidates(image: str) -> list[str]:
    """Directory names an image reference may be stored under, most specific first."""
    ref = image.split("@", 1)[0]
    for prefix in ("docker.io/library/", "docker.io/", "library/"):
        if ref.startswith(prefix):
            ref = ref[len(prefix) :]
            break
    names = [ref]
    last = ref.rsplit("/", 1)[-1]
    if ":" in last:
        names.append(ref.rsplit(":", 1)[0])
    else:
        names.append(ref + ":latest")
    return names


def find_image(image_dir: Path | None, image: str, has_command: bool) -> ImageInfo:
    """The stored image, or the host filesystem for a container that names its command."""
    if image_dir is not None:
        for name in image_candidates(image):
            base = image_dir / name
            if (base / "rootfs").is_dir():
                return _stored_image(image, base)
    if not has_command:
        raise ImagePullError(
            f'image "{image}" is not in the local image store ({image_dir}) and the container '
            "has no command to run from the host filesystem"
        )
    digest = hashlib.sha256(f"host:{image}".encode()).hexdigest()
    return ImageInfo(ref=image, image_id=f"sha256:{digest}")


def _stored_image(image: str, base: Path) -> ImageInfo:
    config: dict[str, object] = {}
    config_path = base / "config.json"
    if config_path.exists():
        doc = json.loads(config_path.read_text())
        config = doc.get("config") or doc if isinstance(doc, dict) else {}
    digest_path = base / "digest"
    if digest_path.exists():
        image_id = digest_path.read_text().strip()
    else:
        image_id = "sha256:" + hashlib.sha256(str(base).encode()).hexdigest()
    return ImageInfo(
        ref=image,
        image_id=image_id,
        rootfs=base / "rootfs",
        entrypoint=list(config.get("Entrypoint") or []),  # type: ignore[call-overload]
        cmd=list(config.get("Cmd") or []),  # type: ignore[call-overload]
        env=list(config.get("Env") or []),  # type: ignore[call-overload]
        working_dir=str(config.get("WorkingDir") or ""),
    )


def container_argv(command: list[str], args: list[str], image: ImageInfo) -> list[str]:
    """Kubernetes' rule: ``command`` replaces the entrypoint, ``args`` replace the cmd."""
    if command:
        return command + args
    return image.entrypoint + (args or image.cmd)
