"""``tinykube image import`` into a running cluster, then a pod that runs the image.

The image is made here from the host's ``/bin/sh`` and the libraries it
links, as a two-layer OCI archive (the second layer whites out a file of
the first); the pod names it without a command, so the image's own
entrypoint, command, environment and working directory decide what runs,
chrooted in the image's root filesystem (root only, as CI runs).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import subprocess
import tarfile
import time
from pathlib import Path

import pytest
from cluster import BIN, ApiServer, run_kubectl

pytestmark = pytest.mark.e2e

ROOT = os.geteuid() == 0


def _layer(files: dict[str, bytes | str]) -> bytes:
    """A gzip layer; a str value is a symlink target."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            if isinstance(content, str):
                info.type, info.linkname = tarfile.SYMTYPE, content
                tar.addfile(info)
            else:
                info.size, info.mode = len(content), 0o755
                tar.addfile(info, io.BytesIO(content))
    return gzip.compress(buf.getvalue())


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def shell_image(path: Path, ref: str) -> Path:
    sh = Path(os.path.realpath("/bin/sh"))
    ldd = subprocess.run(["ldd", str(sh)], capture_output=True, text=True, check=False).stdout
    needed = [sh, *(Path(p) for p in ldd.split() if p.startswith("/"))]
    base: dict[str, bytes | str] = {str(p).lstrip("/"): p.read_bytes() for p in needed}
    if "bin/sh" not in base:
        base["bin/sh"] = str(sh)
    base["etc/secret"] = b"whited out\n"
    top: dict[str, bytes | str] = {"etc/.wh.secret": b""}
    layers = [_layer(base), _layer(top)]
    config = json.dumps(
        {
            "os": "linux",
            "config": {
                "Entrypoint": ["/bin/sh", "-c"],
                "Cmd": [
                    'echo "in-image $(pwd) $GREETING"; [ -e /etc/secret ] || echo no-secret; '
                    "[ -e /usr/bin/apt ] || echo isolated"
                ],
                "Env": ["GREETING=hello", "PATH=/bin"],
                "WorkingDir": "/work",
            },
        }
    ).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "config": {"digest": _sha(config)},
            "layers": [{"digest": _sha(b)} for b in layers],
        }
    ).encode()
    index = {
        "schemaVersion": 2,
        "manifests": [{"digest": _sha(manifest), "annotations": {"io.containerd.image.name": ref}}],
    }
    with tarfile.open(path, "w") as tar:
        members = {"oci-layout": b"{}", "index.json": json.dumps(index).encode()}
        for blob in (config, manifest, *layers):
            members[f"blobs/sha256/{_sha(blob)[7:]}"] = blob
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def tinykube(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "tinykube"), *args], capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.skipif(not ROOT, reason="an image runs chrooted: root only")
def test_an_imported_image_runs_with_its_own_command(apiserver: ApiServer, tmp_path: Path) -> None:
    archive = shell_image(tmp_path / "mini.tar", "example.com/mini:1.0")
    data = str(apiserver.data_dir)
    imported = tinykube("image", "import", "--data-dir", data, str(archive))
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.startswith("example.com/mini:1.0 imported (sha256:")
    listed = tinykube("image", "ls", "--data-dir", data)
    assert listed.stdout.splitlines()[0].split() == ["REF", "IMAGE", "ID", "SIZE"]
    assert "example.com/mini:1.0" in listed.stdout

    run = run_kubectl(apiserver, "run", "mini", "--image=example.com/mini:1.0", "--restart=Never")
    assert run.returncode == 0, run.stderr
    deadline = time.monotonic() + 60
    phase = ""
    while time.monotonic() < deadline and phase != "Succeeded":
        got = run_kubectl(apiserver, "get", "pod", "mini", "-o", "jsonpath={.status.phase}")
        phase = got.stdout
        time.sleep(0.5)
    assert phase == "Succeeded", run_kubectl(apiserver, "describe", "pod", "mini").stdout
    logs = run_kubectl(apiserver, "logs", "mini").stdout
    assert logs == "in-image /work hello\nno-secret\nisolated\n"
    status = json.loads(run_kubectl(apiserver, "get", "pod", "mini", "-o", "json").stdout)
    image_id = status["status"]["containerStatuses"][0]["imageID"]
    assert image_id == imported.stdout.split("(")[1].split(",")[0]


def test_import_refuses_what_is_not_an_image(apiserver: ApiServer, tmp_path: Path) -> None:
    junk = tmp_path / "junk.tar"
    with tarfile.open(junk, "w") as tar:
        info = tarfile.TarInfo("readme")
        tar.addfile(info, io.BytesIO(b""))
    result = tinykube("image", "import", "--data-dir", str(apiserver.data_dir), str(junk))
    assert result.returncode == 1
    assert result.stderr == (
        "error: not an image archive: no index.json (OCI layout) or manifest.json (docker save)\n"
    )
