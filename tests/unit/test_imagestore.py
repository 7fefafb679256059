"""The image store's import: OCI layouts and docker-save archives, layers and whiteouts.

Archives are built here byte by byte (tar members, gzip, JSON documents
named by their sha256), as ``docker save`` and ``skopeo`` lay them out.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import platform
import tarfile
from pathlib import Path

import pytest

from tinykube.kubelet.runtime import imagestore
from tinykube.kubelet.runtime.imagestore import ImageError, import_archive, store_name

Entry = tuple[str, str, bytes | str]  # (kind, name, content or link target)


def layer(*entries: Entry, compress: bool = True) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for kind, name, content in entries:
            info = tarfile.TarInfo(name)
            info.mode = 0o755
            if kind == "dir":
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            elif kind == "sym":
                info.type, info.linkname = tarfile.SYMTYPE, str(content)
                tar.addfile(info)
            elif kind == "link":
                info.type, info.linkname = tarfile.LNKTYPE, str(content)
                tar.addfile(info)
            else:
                data = content if isinstance(content, bytes) else content.encode()
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return gzip.compress(buf.getvalue()) if compress else buf.getvalue()


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


CONFIG = json.dumps(
    {"architecture": "amd64", "os": "linux", "config": {"Cmd": ["/bin/hello"], "Env": ["A=1"]}}
).encode()


def write_archive(path: Path, files: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def oci_archive(
    path: Path, layers: list[bytes], ref: str = "example.com/app:1.0", index: bool = False
) -> Path:
    blobs = {f"blobs/sha256/{digest(b)[7:]}": b for b in [CONFIG, *layers]}
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": digest(CONFIG),
            },
            "layers": [
                {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": digest(b)}
                for b in layers
            ],
        }
    ).encode()
    blobs[f"blobs/sha256/{digest(manifest)[7:]}"] = manifest
    top = {
        "digest": digest(manifest),
        "annotations": {
            "io.containerd.image.name": ref,
            "org.opencontainers.image.ref.name": "1.0",
        },
    }
    if index:
        arch = imagestore.ARCHES.get(platform.machine(), platform.machine())
        other = json.dumps(
            {"schemaVersion": 2, "layers": [], "config": {"digest": "sha256:00"}}
        ).encode()
        blobs[f"blobs/sha256/{digest(other)[7:]}"] = other
        nested = json.dumps(
            {
                "schemaVersion": 2,
                "manifests": [
                    {"digest": digest(other), "platform": {"os": "linux", "architecture": "s390x"}},
                    {"digest": digest(manifest), "platform": {"os": "linux", "architecture": arch}},
                ],
            }
        ).encode()
        blobs[f"blobs/sha256/{digest(nested)[7:]}"] = nested
        top = {**top, "digest": digest(nested)}
    files = {
        "oci-layout": b'{"imageLayoutVersion":"1.0.0"}',
        "index.json": json.dumps({"schemaVersion": 2, "manifests": [top]}).encode(),
        **blobs,
    }
    return write_archive(path, files)


BASE = layer(
    ("dir", "bin", b""),
    ("file", "bin/hello", "#!/bin/sh\necho hello\n"),
    ("dir", "etc", b""),
    ("file", "etc/gone", "x"),
    ("dir", "var/cache", b""),
    ("file", "var/cache/a", "a"),
    ("file", "var/cache/b", "b"),
    ("sym", "usr", "/opt"),  # an absolute link: relative to the image's root
    ("dir", "opt", b""),
)
TOP = layer(
    ("file", "etc/.wh.gone", ""),
    ("file", "var/cache/.wh..wh..opq", ""),
    ("file", "var/cache/c", "c"),
    ("file", "usr/lib.txt", "through the link"),
    ("link", "bin/hi", "bin/hello"),
    compress=False,
)


def test_an_oci_archive_is_unpacked_with_its_whiteouts(tmp_path: Path) -> None:
    archive = oci_archive(tmp_path / "app.tar", [BASE, TOP])
    stored = import_archive(tmp_path / "images", archive)
    assert stored.name == "example.com/app:1.0"
    assert stored.image_id == digest(CONFIG)
    rootfs = tmp_path / "images" / "example.com" / "app:1.0" / "rootfs"
    assert (rootfs / "bin" / "hello").read_text() == "#!/bin/sh\necho hello\n"
    assert (rootfs / "bin" / "hello").stat().st_mode & 0o111
    assert not (rootfs / "etc" / "gone").exists()  # whited out by the upper layer
    assert sorted(p.name for p in (rootfs / "var" / "cache").iterdir()) == ["c"]  # opaque dir
    # Written through the image's own absolute link, inside the image, never on the host.
    assert (rootfs / "opt" / "lib.txt").read_text() == "through the link"
    assert (rootfs / "bin" / "hi").stat().st_ino == (rootfs / "bin" / "hello").stat().st_ino
    config = json.loads((rootfs.parent / "config.json").read_text())
    assert config["config"]["Cmd"] == ["/bin/hello"]
    assert (rootfs.parent / "digest").read_text().strip() == digest(CONFIG)
    # What the runtime then finds for a pod naming it.
    from tinykube.kubelet.runtime.proc_io import find_image

    found = find_image(tmp_path / "images", "example.com/app:1.0", has_command=False)
    assert found.rootfs == rootfs and found.cmd == ["/bin/hello"] and found.env == ["A=1"]


def test_an_image_index_gives_this_machines_platform(tmp_path: Path) -> None:
    archive = oci_archive(tmp_path / "multi.tar", [BASE], index=True)
    stored = import_archive(tmp_path / "images", archive)
    assert (tmp_path / "images" / stored.name / "rootfs" / "bin" / "hello").exists()


def test_a_docker_save_archive_and_its_repo_tags(tmp_path: Path) -> None:
    manifest = [
        {
            "Config": "cfg.json",
            "RepoTags": ["docker.io/library/tool:2", "tool:latest"],
            "Layers": ["l1/layer.tar"],
        }
    ]
    archive = write_archive(
        tmp_path / "tool.tar",
        {
            "manifest.json": json.dumps(manifest).encode(),
            "cfg.json": CONFIG,
            "l1/layer.tar": layer(("file", "run", "x"), compress=False),
        },
    )
    stored = import_archive(tmp_path / "images", archive)
    assert stored.name == "tool:2"
    assert (tmp_path / "images" / "tool:2" / "rootfs" / "run").read_text() == "x"
    assert (tmp_path / "images" / "tool:latest" / "rootfs" / "run").read_text() == "x"
    assert [i.name for i in imagestore.list_images(tmp_path / "images")] == [
        "tool:2",
        "tool:latest",
    ]
    assert imagestore.remove_image(tmp_path / "images", "tool") == "tool:latest"
    assert [i.name for i in imagestore.list_images(tmp_path / "images")] == ["tool:2"]


def test_a_layer_cannot_climb_out_of_the_root(tmp_path: Path) -> None:
    escape = layer(
        ("sym", "up", "../../.."),
        ("file", "up/escaped.txt", "no"),
        ("file", "../../climbed.txt", "no"),
    )
    archive = oci_archive(tmp_path / "evil.tar", [escape])
    stored = import_archive(tmp_path / "images", archive)
    rootfs = tmp_path / "images" / stored.name / "rootfs"
    assert (rootfs / "escaped.txt").read_text() == "no"  # "up" resolves to the image's root
    assert (rootfs / "climbed.txt").read_text() == "no"
    assert not (tmp_path / "climbed.txt").exists() and not (tmp_path / "escaped.txt").exists()


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"readme": b"hi"}, "not an image archive"),
        ({"index.json": b"{", "oci-layout": b"{}"}, "index.json is not JSON"),
        ({"manifest.json": b"[]"}, "manifest.json lists no image"),
    ],
)
def test_what_is_not_an_image_is_refused_and_nothing_is_left(
    tmp_path: Path, files: dict[str, bytes], message: str
) -> None:
    archive = write_archive(tmp_path / "bad.tar", files)
    with pytest.raises(ImageError, match=message):
        import_archive(tmp_path / "images", archive, name="bad")
    assert imagestore.list_images(tmp_path / "images") == []
    images = tmp_path / "images"
    assert not images.exists() or not any(images.iterdir())


def test_a_layer_failing_half_way_leaves_no_image_and_no_debris(tmp_path: Path) -> None:
    broken = layer(("file", "ok.txt", "fine"), ("link", "bad", "missing/file"))
    archive = oci_archive(tmp_path / "broken.tar", [BASE, broken])
    with pytest.raises(ImageError, match="hard link bad points at missing missing/file"):
        import_archive(tmp_path / "images", archive)
    assert list((tmp_path / "images").iterdir()) == []  # the work directory went too


def test_an_archive_without_a_name_needs_one(tmp_path: Path) -> None:
    archive = oci_archive(tmp_path / "anon.tar", [BASE], ref="latest")
    with pytest.raises(ImageError, match="--name"):
        import_archive(tmp_path / "images", archive)
    assert import_archive(tmp_path / "images", archive, name="mine").name == "mine:latest"


@pytest.mark.parametrize(
    ("ref", "name"),
    [
        ("busybox", "busybox:latest"),
        ("docker.io/library/busybox:1.36", "busybox:1.36"),
        ("registry.k8s.io/pause:3.9", "registry.k8s.io/pause:3.9"),
        ("localhost:5000/app", "localhost:5000/app:latest"),
    ],
)
def test_store_names(ref: str, name: str) -> None:
    assert store_name(ref) == name
