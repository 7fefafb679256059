"""From a storage URL to an open driver, through one explicit table.

Kine registers its drivers from Go ``init()`` functions; an explicit dict
avoids import-order surprises and shows every supported scheme in one place.
URLs:

- ``sqlite:///abs/path.db`` (absolute) or ``sqlite://relative.db`` (relative
  to the working directory): ``SqliteStore``, the embedded default.
- ``memory://``: ``MemoryStore``, for tests; nothing survives the process.
- ``etcd://host:2379[,host:2379...]``: ``EtcdStore`` on the members of one etcd
  cluster, failing over between them.
- ``http://host:2379[,http://...]`` or ``https://host:2379[,https://...]``: the
  same, written as kube-apiserver's ``--etcd-servers`` takes it; ``https``
  members are reached with the ``TlsFiles`` handed to ``open_store``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

from tinykube.store.interface import Store
from tinykube.store.memory import MemoryStore
from tinykube.store.sqlite import SqliteStore

Opener = Callable[[str], Awaitable[Store]]


async def _open_sqlite(location: str) -> Store:
    if not location:
        raise ValueError("sqlite URL needs a path: sqlite:///abs/path.db or sqlite://relative.db")
    if "?" in location:  # kine-style DSN options would silently become part of the file name
        raise ValueError(f"sqlite URL takes no options: {location!r}")
    # Opening creates the schema: file I/O, so off the loop.
    return await asyncio.to_thread(SqliteStore, location)


async def _open_memory(location: str) -> Store:
    if location:
        raise ValueError(f"memory:// takes no location, got {location!r}")
    return MemoryStore()


async def _open_etcd(location: str, tls: tuple[Path | None, ...] = ()) -> Store:
    endpoints = [e.strip() for e in location.split(",") if e.strip()]
    if not endpoints:
        raise ValueError("etcd URL needs endpoints: etcd://host:2379[,host:2379...]")
    from tinykube.store.etcd import EtcdStore, TlsFiles  # gRPC loads only for etcd users

    files = TlsFiles(*tls) if any(tls) else None
    # Connects lazily: members may still be starting.
    return await asyncio.to_thread(EtcdStore, endpoints, files)  # reads the PEM files


DRIVERS: dict[str, Opener] = {
    "memory": _open_memory,
    "sqlite": _open_sqlite,
    "etcd": _open_etcd,
}


async def open_store(
    url: str,
    *,
    etcd_cafile: Path | None = None,
    etcd_certfile: Path | None = None,
    etcd_keyfile: Path | None = None,
) -> Store:
    """Open the driver that ``url``'s scheme names; ``ValueError`` for a bad URL.

    The ``etcd_*`` files are the CA, client certificate and key for etcd members
    reached over ``https`` (kube-apiserver's flags of those names)."""
    scheme, sep, location = url.partition("://")
    tls = (etcd_cafile, etcd_certfile, etcd_keyfile)
    if scheme in ("http", "https"):  # --etcd-servers: a list of member URLs
        return await _open_etcd(url, tls)
    if scheme == "etcd":
        return await _open_etcd(location, tls)
    if not sep:
        raise ValueError(f"storage URL {url!r} has no scheme (e.g. sqlite:///var/lib/tk.db)")
    opener = DRIVERS.get(scheme)
    if opener is None:
        known = ", ".join(sorted(DRIVERS))
        raise ValueError(f"unknown storage scheme {scheme!r} (known: {known})")
    return await opener(location)
