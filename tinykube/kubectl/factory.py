"""What every command needs, built lazily from the global flags (kubectl's Factory).

A command asks for the client, discovery or namespace only when it uses
them, so ``tkctl config view`` never opens a connection and ``tkctl version
--client`` never reads a kubeconfig.
"""

from __future__ import annotations

import sys
from functools import cached_property
from types import ModuleType
from typing import TYPE_CHECKING, Any, TextIO

from tinykube.kubectl.errors import CommandError

if TYPE_CHECKING:
    from tinykube.client.kubeconfig import ClientConfig
    from tinykube.kubectl.discovery import Discovery
    from tinykube.kubectl.transport import KubectlClient

DEFAULT_SERVER = "http://localhost:8080"


def kubeconfig_module() -> ModuleType:
    """``tinykube.client.kubeconfig``, without running ``tinykube/client/__init__.py``.

    The package's ``__init__`` imports the aiohttp REST client, which alone
    costs more start-up time than kubectl's whole run; tkctl needs only the
    kubeconfig loader (see ``transport``), so it loads that one module from
    its file under its own name. Anyone importing ``tinykube.client`` later
    gets this same module object.
    TODO(#7): import normally once ``tinykube.client`` imports its parts lazily.
    """
    name = "tinykube.client.kubeconfig"
    if name in sys.modules:
        return sys.modules[name]
    import importlib.util
    from pathlib import Path

    import tinykube

    spec = importlib.util.spec_from_file_location(
        name, Path(tinykube.__file__).parent / "client" / "kubeconfig.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


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
    def config(self) -> ClientConfig:
        from pathlib import Path

        kubeconfig = kubeconfig_module()
        ClientConfig, ConfigError = kubeconfig.ClientConfig, kubeconfig.ConfigError
        load_kubeconfig = kubeconfig.load_kubeconfig
        from tinykube.kubectl.errors import BareError

        explicit = self.flags.get("kubeconfig")
        if explicit and not Path(explicit).expanduser().exists():
            raise CommandError(f"stat {explicit}: no such file or directory")
        try:
            config = load_kubeconfig(explicit, self.flags.get("context"))
        except ConfigError as exc:
            if self.flags.get("context") and "does not exist" in str(exc):
                context = self.flags["context"]
                raise BareError(
                    f"Error in configuration: context was not found for specified context: {context}"
                ) from None
            config = ClientConfig(server=DEFAULT_SERVER)
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
