"""What every handler needs: the registry, the cache and the server's settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tinykube.apiserver.config import ServerConfig
    from tinykube.apiserver.registry.generic import Registry
    from tinykube.apiserver.watchcache import WatchCache


@dataclass
class ServerContext:
    config: ServerConfig
    registry: Registry
    cache: WatchCache
    # Filled in at start-up: TLS material, the authenticator and authorizer, the token issuer.
    pki: Any = None
    authenticator: Any = None
    authorizer: Any = None  # None: every authenticated request is allowed
    extras: dict[str, Any] = field(default_factory=dict)
