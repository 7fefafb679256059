"""The API server's settings, named after kube-apiserver's flags."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass
class ServerConfig:
    data_dir: Path
    bind_address: str = "127.0.0.1"
    port: int = 6443
    secure: bool = True  # HTTPS with client-certificate and token authentication
    storage_url: str = ""  # default: sqlite in the data directory
    # --etcd-cafile, --etcd-certfile, --etcd-keyfile: TLS to https:// etcd members.
    etcd_cafile: Path | None = None
    etcd_certfile: Path | None = None
    etcd_keyfile: Path | None = None
    service_cluster_ip_range: str = "10.96.0.0/12"
    service_node_port_range: str = "30000-32767"
    token_auth_file: Path | None = None
    advertise_address: str = ""
    event_ttl_seconds: int = 3600
    compaction_interval: float = 300.0
    # Node,RBAC as kubeadm sets it; AlwaysAllow turns authorization off.
    authorization_mode: str = "Node,RBAC"

    @property
    def storage(self) -> str:
        return self.storage_url or f"sqlite:///{(self.data_dir / 'state.db').resolve()}"

    @property
    def url(self) -> str:
        scheme = "https" if self.secure else "http"
        host = self.advertise_address or self.bind_address
        if host in ("0.0.0.0", "::"):
            host = "127.0.0.1"
        return f"{scheme}://{host}:{self.port}"
