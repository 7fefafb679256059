"""What every command needs, built lazily from the global flags (kubectl's Factory).

A command asks for the client, discovery or namespace only when it uses
them, so ``tkctl config view`` never opens a connection and ``tkctl version
--client`` never reads a kubeconfig.
"""

from __future__ import annotations

import os
import sys
from functools import cached_property

from tinykube.kubectl.errors import CommandError

TYPE_CHECKING = False  # typing is for type checkers only: see main
if TYPE_CHECKING:
    from typing import Any, TextIO

    from tinykube.kubectl.discovery import Discovery
    from tinykube.kubectl.kubeconfig import Config
    from tinykube.kubectl.transport import KubectlClient


DEFAULT_SERVER = "http://localhost:8080"


class Factory:
    """Global flag values plus lazily built config, client and discovery."""

    def __init__(
        self, flags: dict[str, Any], out: TextIO | None = None, err: TextIO | None = None
    ) -> None:
        self.flags = flags
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self._client: KubectlClient | None = None

    @cached_property
    def config(self) -> Config:
        """The kubeconfig context (``kubectl.kubeconfig`` caches what the shared loader resolves)."""
        from tinykube.kubectl import kubeconfig
        from tinykube.kubectl.errors import BareError

        explicit = self.flags.get("kubeconfig")
        if explicit and not os.path.exists(os.path.expanduser(explicit)):
            raise CommandError(f"stat {explicit}: no such file or directory")
        context = self.flags.get("context")
        try:
            config = kubeconfig.load(
                explicit, context, self.flags.get("cache_dir"), dict(os.environ)
            )
        except kubeconfig.ConfigError as exc:
            if context and "does not exist" in str(exc):
                raise BareError(
                    f"Error in configuration: context was not found for specified context: {context}"
                ) from None
            config = kubeconfig.bare(DEFAULT_SERVER)
        if self.flags.get("server"):
            config.server = self.flags["server"].rstrip("/")
        if self.flags.get("token"):
            config.headers["Authorization"] = f"Bearer {self.flags['token']}"
        return config

    @property
    def server(self) -> str:
        try:
            return self.config.server
        except Exception:
            return DEFAULT_SERVER

    @cached_property
    def namespace(self) -> str:
        return self.flags.get("namespace") or self.config.namespace or "default"

    @property
    def explicit_namespace(self) -> bool:
        return bool(self.flags.get("namespace"))

    @property
    def client(self) -> KubectlClient:
        if self._client is None:
            from tinykube.kubectl.transport import KubectlClient

            self._client = KubectlClient(self.config)
        return self._client

    @cached_property
    def discovery(self) -> Discovery:
        from tinykube.kubectl.discovery import Discovery, cache_root

        return Discovery(self.client, cache_root(self.flags.get("cache_dir"), self.config.server))

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
