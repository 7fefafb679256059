"""The REST client every tinykube component uses, exactly as any user would.

One ``aiohttp.ClientSession`` per ``Client`` keeps connections alive across
requests; bodies are JSON through orjson. Helpers work at the level of a
resource: they take an API version (``"v1"``, ``"apps/v1"``) and a plural
(``"pods"``) or a Kind (``"Pod"``), find the row in ``tinykube.api.resources``
and build the URL from it, so a typo fails loudly instead of 404ing at the
server.

Failures: any non-2xx answer raises the matching class of
``tinykube.api.errors`` (``NotFound``, ``Conflict``, ``Expired``, ...), rebuilt
from the Status body, so callers catch the same errors the API server raises.
Transport failures (connection refused, reset, TLS) surface as
``aiohttp.ClientError``/``OSError``; the reflector and the worker loop retry
those with backoff, nothing here retries on its own.

Watches are newline-delimited JSON events; ``watch`` yields ``(type, object)``
pairs, including ``ERROR`` events (whose object is a Status) as the server
sends them, and ends when the server closes the stream.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from typing import Any, Self

import aiohttp
import orjson

from tinykube import __version__
from tinykube.api import errors
from tinykube.api import resources as table
from tinykube.client.kubeconfig import ClientConfig, load

Obj = dict[str, Any]

DEFAULT_USER_AGENT = f"tinykube/{__version__}"
PATCH_CONTENT_TYPES = {
    "merge": "application/merge-patch+json",
    "strategic": "application/strategic-merge-patch+json",
    "json": "application/json-patch+json",
    "apply": "application/apply-patch+yaml",
}
# Ordinary requests; watches set their own read timeout from timeoutSeconds.
REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=60, connect=10)
# A watch that hears nothing (not even a bookmark) for this long past its own
# timeoutSeconds is treated as a dead connection.
WATCH_SLACK_SECONDS = 30


def resolve(api_version: str, resource: str, namespaced: bool = True) -> table.Resource:
    """The table row for ``resource`` (plural or Kind) in ``api_version``.

    A name the table does not know is still usable (e.g. a custom resource):
    it is taken as a plural, namespaced unless told otherwise.
    """
    group, version = table.split_api_version(api_version)
    found = table.lookup(group, version, resource) or table.by_kind(group, version, resource)
    if found is not None:
        return found
    if resource[:1].isupper():
        raise ValueError(f"unknown kind {resource!r} in {api_version!r}")
    return table.Resource(group, version, "", resource, "", namespaced)


def resource_path(
    res: table.Resource, namespace: str = "", name: str = "", subresource: str = ""
) -> str:
    """``/api/v1/namespaces/ns/pods/name/status`` and its relatives."""
    base = f"/apis/{res.group}/{res.version}" if res.group else f"/api/{res.version}"
    parts = [base]
    if res.namespaced and namespace:
        parts.append(f"namespaces/{namespace}")
    parts.append(res.plural)
    if name:
        parts.append(name)
    if subresource:
        parts.append(subresource)
    return "/".join(parts)


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _query(**params: Any) -> dict[str, str]:
    """Query parameters with unset (None/empty) values dropped and bools spelled as Go does."""
    out: dict[str, str] = {}
    for key, value in params.items():
        if value is None or value == "":
            continue
        out[key] = _bool(value) if isinstance(value, bool) else str(value)
    return out


class Client:
    """An async Kubernetes REST client. Use ``async with`` or call ``close()``."""

    def __init__(self, config: ClientConfig, user_agent: str = DEFAULT_USER_AGENT) -> None:
        self.config = config
        self.user_agent = user_agent
        # limit=0: every informer holds one watch connection open; a pool cap would
        # starve ordinary requests behind long-lived watches.
        connector = aiohttp.TCPConnector(
            ssl=config.ssl_context if config.ssl_context is not None else False, limit=0
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            json_serialize=lambda o: orjson.dumps(o).decode(),
            headers={"User-Agent": user_agent, "Accept": "application/json"},
        )

    @classmethod
    async def from_kubeconfig(
        cls,
        path: str | os.PathLike[str] | None = None,
        context: str | None = None,
        user_agent: str = DEFAULT_USER_AGENT,
    ) -> Self:
        """A client for a kubeconfig (path, ``$KUBECONFIG``, ``~/.kube/config``) or in-cluster."""
        return cls(load(path, context), user_agent)

    @property
    def namespace(self) -> str:
        """The default namespace of the kubeconfig context (or the pod's namespace)."""
        return self.config.namespace

    async def close(self) -> None:
        await self._session.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ---- raw requests --------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        body: Any = None,
        content_type: str = "application/json",
    ) -> Obj:
        """One request; the decoded JSON answer, or an ``APIError`` for non-2xx."""
        headers = self.config.auth_headers()
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else orjson.dumps(body)
            headers["Content-Type"] = content_type
        async with self._session.request(
            method,
            self.config.server + path,
            params=params,
            data=data,
            headers=headers,
            timeout=REQUEST_TIMEOUT,
            **self._tls_kwargs(),
        ) as resp:
            raw = await resp.read()
            if resp.status >= 300:
                raise _error(resp.status, raw)
            return orjson.loads(raw) if raw else {}

    def _tls_kwargs(self) -> dict[str, Any]:
        if self.config.tls_server_name:
            return {"server_hostname": self.config.tls_server_name}
        return {}

    # ---- resource helpers ------------------------------------------------------

    async def get(self, api_version: str, resource: str, name: str, namespace: str = "") -> Obj:
        res = resolve(api_version, resource)
        return await self.request("GET", resource_path(res, namespace, name))

    async def list(
        self,
        api_version: str,
        resource: str,
        namespace: str = "",
        *,
        label_selector: str = "",
        field_selector: str = "",
        limit: int | None = None,
        continue_: str = "",
        resource_version: str | None = None,
        resource_version_match: str = "",
    ) -> Obj:
        """One LIST call: the List dict (``items``, ``metadata.resourceVersion/continue``)."""
        res = resolve(api_version, resource)
        params = _query(
            labelSelector=label_selector,
            fieldSelector=field_selector,
            limit=limit,
            resourceVersion=resource_version,
            resourceVersionMatch=resource_version_match,
        )
        if continue_:
            params["continue"] = continue_
        return await self.request("GET", resource_path(res, namespace), params=params)

    async def list_all(
        self,
        api_version: str,
        resource: str,
        namespace: str = "",
        *,
        label_selector: str = "",
        field_selector: str = "",
        page_size: int = 500,
        resource_version: str | None = None,
    ) -> Obj:
        """LIST every page (following ``continue``) into one List dict."""
        items: list[Obj] = []
        token = ""
        while True:
            page = await self.list(
                api_version,
                resource,
                namespace,
                label_selector=label_selector,
                field_selector=field_selector,
                limit=page_size,
                continue_=token,
                resource_version=None if token else resource_version,
            )
            items.extend(page.get("items") or [])
            token = (page.get("metadata") or {}).get("continue") or ""
            if not token:
                page["items"] = items
                page.get("metadata", {}).pop("remainingItemCount", None)
                return page

    async def create(
        self,
        api_version: str,
        resource: str,
        obj: Obj,
        namespace: str = "",
        *,
        dry_run: bool = False,
        field_manager: str = "",
    ) -> Obj:
        res = resolve(api_version, resource)
        namespace = namespace or (obj.get("metadata") or {}).get("namespace", "")
        params = _query(dryRun="All" if dry_run else None, fieldManager=field_manager)
        return await self.request(
            "POST", resource_path(res, namespace), params=params, body=_with_type(res, obj)
        )

    async def update(
        self,
        api_version: str,
        resource: str,
        obj: Obj,
        namespace: str = "",
        *,
        dry_run: bool = False,
        field_manager: str = "",
        subresource: str = "",
    ) -> Obj:
        """PUT the whole object (optimistic concurrency on its resourceVersion)."""
        res = resolve(api_version, resource)
        meta = obj.get("metadata") or {}
        namespace = namespace or meta.get("namespace", "")
        params = _query(dryRun="All" if dry_run else None, fieldManager=field_manager)
        path = resource_path(res, namespace, meta.get("name", ""), subresource)
        return await self.request("PUT", path, params=params, body=_with_type(res, obj))

    async def update_status(self, api_version: str, resource: str, obj: Obj, **kw: Any) -> Obj:
        return await self.update(api_version, resource, obj, subresource="status", **kw)

    async def patch(
        self,
        api_version: str,
        resource: str,
        name: str,
        patch: Any,
        namespace: str = "",
        *,
        patch_type: str = "merge",
        field_manager: str = "",
        force: bool | None = None,
        dry_run: bool = False,
        subresource: str = "",
    ) -> Obj:
        """PATCH with ``merge`` (default), ``strategic``, ``json`` or ``apply`` (server-side)."""
        res = resolve(api_version, resource)
        if patch_type == "apply":
            if not field_manager:
                raise ValueError("server-side apply needs a field_manager")
            if isinstance(patch, dict):
                patch = _with_type(res, patch)
        params = _query(fieldManager=field_manager, force=force, dryRun="All" if dry_run else None)
        return await self.request(
            "PATCH",
            resource_path(res, namespace, name, subresource),
            params=params,
            body=patch,
            content_type=PATCH_CONTENT_TYPES[patch_type],
        )

    async def patch_status(
        self, api_version: str, resource: str, name: str, patch: Any, namespace: str = "", **kw: Any
    ) -> Obj:
        return await self.patch(
            api_version, resource, name, patch, namespace, subresource="status", **kw
        )

    async def delete(
        self,
        api_version: str,
        resource: str,
        name: str,
        namespace: str = "",
        *,
        grace_period_seconds: int | None = None,
        propagation_policy: str | None = None,
        preconditions: dict[str, str] | None = None,
        dry_run: bool = False,
    ) -> Obj:
        """DELETE; the answer is the object (while it is finalizing) or a Success Status.

        ``preconditions`` is ``{"uid": ..., "resourceVersion": ...}``: the server
        refuses with Conflict when the stored object no longer matches.
        """
        res = resolve(api_version, resource)
        body: Obj = {"kind": "DeleteOptions", "apiVersion": "v1"}
        if grace_period_seconds is not None:
            body["gracePeriodSeconds"] = grace_period_seconds
        if propagation_policy:
            body["propagationPolicy"] = propagation_policy
        if preconditions:
            body["preconditions"] = preconditions
        if dry_run:
            body["dryRun"] = ["All"]
        return await self.request("DELETE", resource_path(res, namespace, name), body=body)

    async def delete_collection(
        self,
        api_version: str,
        resource: str,
        namespace: str = "",
        *,
        label_selector: str = "",
        field_selector: str = "",
        propagation_policy: str | None = None,
    ) -> Obj:
        """DELETE a whole collection (deletecollection); the answer is the List deleted."""
        res = resolve(api_version, resource)
        params = _query(labelSelector=label_selector, fieldSelector=field_selector)
        body: Obj = {"kind": "DeleteOptions", "apiVersion": "v1"}
        if propagation_policy:
            body["propagationPolicy"] = propagation_policy
        return await self.request("DELETE", resource_path(res, namespace), params=params, body=body)

    async def get_subresource(
        self, api_version: str, resource: str, name: str, subresource: str, namespace: str = ""
    ) -> Obj:
        res = resolve(api_version, resource)
        return await self.request("GET", resource_path(res, namespace, name, subresource))

    async def create_subresource(
        self,
        api_version: str,
        resource: str,
        name: str,
        subresource: str,
        body: Obj,
        namespace: str = "",
    ) -> Obj:
        """POST to a subresource: ``pods/binding``, ``pods/eviction``, ``serviceaccounts/token``."""
        res = resolve(api_version, resource)
        return await self.request(
            "POST", resource_path(res, namespace, name, subresource), body=body
        )

    async def update_subresource(
        self,
        api_version: str,
        resource: str,
        name: str,
        subresource: str,
        body: Obj,
        namespace: str = "",
    ) -> Obj:
        """PUT to a subresource: ``namespaces/finalize``, ``deployments/scale``."""
        res = resolve(api_version, resource)
        return await self.request(
            "PUT", resource_path(res, namespace, name, subresource), body=body
        )

    # ---- watch -----------------------------------------------------------------

    async def watch(
        self,
        api_version: str,
        resource: str,
        namespace: str = "",
        *,
        resource_version: str | None = None,
        label_selector: str = "",
        field_selector: str = "",
        timeout_seconds: int | None = None,
        allow_bookmarks: bool = True,
        send_initial_events: bool | None = None,
    ) -> AsyncIterator[tuple[str, Obj]]:
        """Yield ``(type, object)`` until the server closes the stream.

        ``type`` is ADDED, MODIFIED, DELETED, BOOKMARK or ERROR (object: a
        Status; the server closes right after). A non-2xx answer to the
        request itself raises an ``APIError`` before anything is yielded.
        """
        res = resolve(api_version, resource)
        params = _query(
            watch=True,
            resourceVersion=resource_version,
            labelSelector=label_selector,
            fieldSelector=field_selector,
            timeoutSeconds=timeout_seconds,
            allowWatchBookmarks=allow_bookmarks or None,
            sendInitialEvents=send_initial_events,
            resourceVersionMatch="NotOlderThan" if send_initial_events else None,
        )
        read_timeout = (timeout_seconds or 1800) + WATCH_SLACK_SECONDS
        timeout = aiohttp.ClientTimeout(total=None, connect=10, sock_read=read_timeout)
        async with self._session.get(
            self.config.server + resource_path(res, namespace),
            params=params,
            headers=self.config.auth_headers(),
            timeout=timeout,
            **self._tls_kwargs(),
        ) as resp:
            if resp.status >= 300:
                raise _error(resp.status, await resp.read())
            async for line in _lines(resp.content):
                event = orjson.loads(line)
                yield event.get("type", ""), event.get("object") or {}


async def _lines(stream: aiohttp.StreamReader) -> AsyncIterator[bytes]:
    """Split a chunked body into lines without aiohttp's per-line size cap."""
    buf = bytearray()
    async for chunk in stream.iter_any():
        start = 0
        while (end := chunk.find(b"\n", start)) >= 0:
            buf += chunk[start:end]
            if buf.strip():
                yield bytes(buf)
            buf.clear()
            start = end + 1
        buf += chunk[start:]
    if buf.strip():
        yield bytes(buf)


def _with_type(res: table.Resource, obj: Obj) -> Obj:
    """Fill in ``apiVersion``/``kind`` when the caller left them out."""
    if obj.get("apiVersion") and obj.get("kind"):
        return obj
    if not res.kind:
        return obj
    return {"apiVersion": res.api_version, "kind": res.kind, **obj}


def _error(status: int, raw: bytes) -> errors.APIError:
    """The error class for a non-2xx answer; a body that is not a Status still maps by code."""
    body: Obj = {}
    with contextlib.suppress(ValueError):
        decoded = orjson.loads(raw) if raw else {}
        if isinstance(decoded, dict):
            body = decoded
    if body.get("kind") != "Status":
        text = raw.decode(errors="replace").strip()
        body = {"message": text or f"the server responded with HTTP {status}"}
    return errors.APIError.from_status(body, status)
