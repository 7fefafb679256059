"""tkctl's kubeconfig cache: what the shared loader resolved, reused while its files stand."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest

from tinykube.kubectl import kubeconfig

KUBECONFIG = """apiVersion: v1
kind: Config
current-context: main
contexts:
- name: main
  context: {{cluster: c, user: u, namespace: team}}
- name: other
  context: {{cluster: c, user: u}}
clusters:
- name: c
  cluster: {{server: "http://127.0.0.1:6443/", certificate-authority: ca.pem}}
users:
- name: u
  user: {{token: {token}}}
"""


SETTLED = (1_000_000_000, 1_000_000_000)  # an mtime long past: cacheable


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "ca.pem").write_text("not used for http\n")
    (tmp_path / "config").write_text(KUBECONFIG.format(token="t1"))
    for name in ("ca.pem", "config"):
        os.utime(tmp_path / name, ns=SETTLED)
    return tmp_path


def load(files: Path, context: str | None = None) -> kubeconfig.Config:
    env = {"KUBECONFIG": str(files / "config")}
    return kubeconfig.load(None, context, str(files / "cache"), env)


def cache_files(files: Path) -> list[Path]:
    return sorted((files / "cache" / "kubeconfig").glob("*.json"))


def test_resolves_like_the_shared_loader_and_caches_privately(files: Path) -> None:
    config = load(files)
    assert (config.server, config.namespace) == ("http://127.0.0.1:6443", "team")
    assert config.auth_headers() == {"Authorization": "Bearer t1"}
    (entry,) = cache_files(files)
    assert stat.S_IMODE(entry.stat().st_mode) == 0o600
    assert load(files, "other").namespace == "default"  # another context, another entry
    assert len(cache_files(files)) == 2


def test_cache_is_used_until_a_source_file_changes(files: Path) -> None:
    load(files)
    (entry,) = cache_files(files)
    # Prove the next load reads the entry: alter it, the config follows.
    entry.write_text(entry.read_text().replace("Bearer t1", "Bearer cached"))
    assert load(files).auth_headers()["Authorization"] == "Bearer cached"
    config_file = files / "config"
    config_file.write_text(KUBECONFIG.format(token="t2-longer"))
    os.utime(config_file, ns=(2_000_000_000, 2_000_000_000))
    assert load(files).auth_headers()["Authorization"] == "Bearer t2-longer"
    # A file the kubeconfig names (the CA) is a source too.
    load(files)
    entry.write_text(entry.read_text().replace("Bearer t2-longer", "Bearer cached"))
    ca = files / "ca.pem"
    ca.write_text("changed and longer\n")
    os.utime(ca, ns=(1, 1))
    assert load(files).auth_headers()["Authorization"] == "Bearer t2-longer"


def test_missing_context_is_a_config_error(files: Path) -> None:
    with pytest.raises(kubeconfig.ConfigError, match='context "nope" does not exist'):
        load(files, "nope")
    assert cache_files(files) == []


def test_inline_pem_is_decoded(files: Path) -> None:
    entry = {"certificate-authority-data": base64.b64encode(b"PEM").decode(), "_base": files}
    assert kubeconfig._pem(entry, "certificate-authority", []) == "PEM"


def test_entry_writable_by_others_is_not_trusted(files: Path) -> None:
    load(files)
    (entry,) = cache_files(files)
    entry.write_text(entry.read_text().replace("Bearer t1", "Bearer planted"))
    entry.chmod(0o666)
    assert load(files).auth_headers()["Authorization"] == "Bearer t1"


def test_a_just_written_kubeconfig_is_not_cached(files: Path) -> None:
    (files / "config").write_text(KUBECONFIG.format(token="fresh"))  # mtime: now
    assert load(files).auth_headers()["Authorization"] == "Bearer fresh"
    assert cache_files(files) == []
