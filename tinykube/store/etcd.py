"""EtcdStore: the Store contract on a real etcd v3 cluster, for several API servers and HA.

The Store protocol was shaped after etcd, so this driver is mostly translation;
it speaks the very transactions kube-apiserver sends (``staging/.../etcd3/store.go``,
which kine's ``pkg/server/{create,update,delete}.go`` recognise):

- create: ``if mod_revision(key) == 0 then put else get``;
- update: ``if mod_revision(key) == expected then put else range`` (the range
  carries the current value into ``RevisionConflict``);
- delete: ``if mod_revision(key) == expected then delete(prev_kv) else range``.

A failed compare takes no revision, exactly as the contract asks.

Why talk to etcd's gRPC API through aetcd's generated messages and stubs
rather than its ``Client``: reads at a revision, ``limit``, ``count`` and
``compact_revision`` on watch cancellation are the whole point of the
contract, and the high-level client does not pass them through. aetcd's
protobufs are current (the old ``etcd3`` package breaks on protobuf 4+).

Three etcd facts shape the rest:

- etcd does not expose its compaction horizon. The driver remembers what it
  compacted itself and learns the rest from etcd's own answers: a watch
  cancelled for compaction names the horizon, and a read refused as compacted
  is narrowed to the exact horizon by a few count-only reads.
- A watch from ``from_revision`` must fail when ``from_revision`` is below the
  horizon, while etcd refuses a watch only when its *start* is below it. So the
  watch starts at ``from_revision`` itself (not ``+1``) and drops the events at
  or below it: etcd's own check then is the contract's check.
- With several members, one gRPC channel per endpoint is kept and requests go
  to the current one; on a connection failure the next endpoint takes over.
  Reads and compaction retry freely. A write retries only when etcd cannot
  have applied it (never connected, or the member said it has no leader,
  which it checks before proposing because we send ``hasleader``); any other
  failure of a write is ambiguous and surfaces as ``StoreUnavailable``, as
  clientv3 does. Watches resume on the next member from the last revision
  they delivered.

Endpoints are ``host:port``, ``http://host:port`` or ``https://host:port``, as
kube-apiserver's ``--etcd-servers`` lists them. ``https`` endpoints get a TLS
channel with the CA, client certificate and key of ``TlsFiles`` (the API
server's ``--etcd-cafile``/``--etcd-certfile``/``--etcd-keyfile``); a stacked
etcd as kubeadm runs it asks every client for a certificate of its own CA.

An etcd restored from a snapshot (``etcdctl snapshot restore``) comes back at
the snapshot's revision, lower than what watchers have already seen, and etcd
would accept their resumed watch "from the future" and say nothing until the
revision caught up. So a watch that resumes after its stream broke first asks
for the current revision; when that went backwards the watch fails as
``Compacted`` and its owner reloads, which is what etcdutl's
``--mark-compacted`` restore arranges for upstream's watchers.
"""

from __future__ import annotations

import asyncio
import builtins
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import grpc
from aetcd import rpc
from grpc.aio import EOF

from tinykube.store.errors import (
    Compacted,
    FutureRevision,
    KeyExists,
    NotFoundError,
    RevisionConflict,
    StoreError,
)
from tinykube.store.interface import Event, EventType, KeyValue, ListResult

log = logging.getLogger(__name__)

T = TypeVar("T")

RPC_TIMEOUT = 10.0  # seconds for one unary call to one member
RETRY_WINDOW = 15.0  # seconds a call keeps failing over before giving up
# Ask members to refuse requests while they have no leader (clientv3's WithRequireLeader):
# a refused write was never proposed, so it is safe to send to another member.
_METADATA = (("hasleader", "true"),)
_CHANNEL_OPTIONS = (
    ("grpc.max_receive_message_length", 2**31 - 1),  # a large LIST is one message
    ("grpc.max_send_message_length", 2**31 - 1),
    ("grpc.keepalive_time_ms", 30_000),  # notice a dead member under an idle watch
    ("grpc.keepalive_timeout_ms", 10_000),
)
_NOT_APPLIED = ("failed to connect", "no leader", "connection refused")
_HEADER_KEY = b"\0"  # ranging one key nobody writes is etcd's cheapest revision read


@dataclass(frozen=True)
class TlsFiles:
    """PEM files for ``https`` endpoints; None leaves that part out (system CAs,
    no client certificate)."""

    cafile: Path | None = None
    certfile: Path | None = None
    keyfile: Path | None = None

    def credentials(self) -> grpc.ChannelCredentials:
        """Read the files now: a missing or unreadable one is a start-up error."""

        def read(path: Path | None) -> bytes | None:
            return Path(path).read_bytes() if path is not None else None

        if (self.certfile is None) != (self.keyfile is None):
            raise ValueError(
                "an etcd client certificate needs both --etcd-certfile and --etcd-keyfile"
            )
        return grpc.ssl_channel_credentials(
            root_certificates=read(self.cafile),
            private_key=read(self.keyfile),
            certificate_chain=read(self.certfile),
        )


class EtcdError(StoreError):
    """etcd refused a request for a reason outside the contract (e.g. a value too large)."""


class StoreUnavailable(EtcdError):
    """etcd could not be reached, or a write's outcome is unknown."""


def _encode(key: str) -> bytes:
    return key.encode("utf-8", "surrogateescape")


def _kv(kv: Any) -> KeyValue:
    return KeyValue(
        kv.key.decode("utf-8", "surrogateescape"), kv.value, kv.mod_revision, kv.create_revision
    )


def range_end(prefix: bytes) -> bytes:
    """etcd's exclusive end of the keys under ``prefix``; ``b"\\0"`` means no end."""
    stem = bytearray(prefix)
    while stem:
        if stem[-1] < 0xFF:
            stem[-1] += 1
            return bytes(stem)
        stem.pop()
    return b"\0"


def _key_range(prefix: str, start_after: str) -> tuple[bytes, bytes] | None:
    """The ``[key, range_end)`` of a list; None when it is empty."""
    start = max(_encode(prefix), b"\0")  # etcd keys are never empty
    if start_after:
        start = max(start, _encode(start_after) + b"\0")
    end = range_end(_encode(prefix))
    if end != b"\0" and start >= end:
        return None
    return start, end


def _event(ev: Any) -> Event:
    """An etcd watch event as the contract's event (DELETED carries the last value)."""
    prev = _kv(ev.prev_kv) if ev.HasField("prev_kv") else None
    if ev.type == rpc.Event.DELETE:
        kv = KeyValue(
            ev.kv.key.decode("utf-8", "surrogateescape"),
            prev.value if prev else b"",
            ev.kv.mod_revision,
            prev.create_revision if prev else 0,
        )
        return Event(EventType.DELETED, kv, prev)
    kv = _kv(ev.kv)
    if kv.create_revision == kv.mod_revision:
        return Event(EventType.ADDED, kv, None)
    return Event(EventType.MODIFIED, kv, prev)


def _mod_is(key: bytes, expected: int) -> Any:
    """``mod_revision(key) == expected``; ``expected`` 0 means "the key exists"."""
    if expected:
        return rpc.Compare(
            key=key, target=rpc.Compare.MOD, result=rpc.Compare.EQUAL, mod_revision=expected
        )
    return rpc.Compare(key=key, target=rpc.Compare.MOD, result=rpc.Compare.GREATER, mod_revision=0)


def _get_op(key: bytes) -> Any:
    return rpc.RequestOp(request_range=rpc.RangeRequest(key=key))


def _is_compacted(err: rpc.AioRpcError) -> bool:
    return err.code() == rpc.StatusCode.OUT_OF_RANGE and "compacted" in (err.details() or "")


def _is_future(err: rpc.AioRpcError) -> bool:
    return err.code() == rpc.StatusCode.OUT_OF_RANGE and "future" in (err.details() or "")


def _unexpected(err: rpc.AioRpcError, member: _Member) -> Exception | None:
    """What a call raises when it will not be retried. None for OUT_OF_RANGE (a
    compacted or future revision): the caller knows what it asked for and maps it."""
    code = err.code()
    if code == rpc.StatusCode.OUT_OF_RANGE:
        return None
    if code in (rpc.StatusCode.UNAVAILABLE, rpc.StatusCode.DEADLINE_EXCEEDED):
        return StoreUnavailable(f"etcd {member.target}: {err.details()}")
    return EtcdError(f"etcd {member.target}: {code.name}: {err.details()}")


def _retryable(err: rpc.AioRpcError, idempotent: bool) -> bool:
    details = (err.details() or "").lower()
    if idempotent and err.code() == rpc.StatusCode.INTERNAL and "stream removed" in details:
        return True  # a member shutting down resets its open streams (an etcd restart)
    if err.code() not in (rpc.StatusCode.UNAVAILABLE, rpc.StatusCode.DEADLINE_EXCEEDED):
        return False
    if idempotent:
        return True
    return err.code() == rpc.StatusCode.UNAVAILABLE and any(s in details for s in _NOT_APPLIED)


class _Member:
    """One endpoint's channel and stubs."""

    def __init__(
        self, index: int, target: str, credentials: grpc.ChannelCredentials | None
    ) -> None:
        self.index = index
        self.target = target
        if credentials is None:
            self.channel = rpc.insecure_channel(target, options=_CHANNEL_OPTIONS)
        else:
            self.channel = rpc.secure_channel(target, credentials, options=_CHANNEL_OPTIONS)
        self.kv = rpc.KVStub(self.channel)
        self.watch = rpc.WatchStub(self.channel)


class _Members:
    """The endpoints of one cluster, and which one requests go to."""

    def __init__(self, endpoints: builtins.list[str], tls: TlsFiles | None) -> None:
        parsed = [_target(e) for e in endpoints]
        if not parsed:
            raise ValueError("EtcdStore needs at least one endpoint")
        self._targets = [target for target, _ in parsed]
        secure = {is_tls for _, is_tls in parsed}
        if len(secure) > 1:
            raise ValueError("etcd endpoints must be all http:// or all https://")
        if tls is not None and secure == {False}:
            secure = {True}  # certificate flags with bare host:port endpoints mean TLS
        self._credentials = (tls or TlsFiles()).credentials() if secure == {True} else None
        self._members: dict[int, _Member] = {}
        self._current = 0

    def current(self) -> _Member:
        member = self._members.get(self._current)
        if member is None:
            member = self._members[self._current] = _Member(
                self._current, self._targets[self._current], self._credentials
            )
        return member

    def failover(self, failed: _Member) -> None:
        """Move on from ``failed``, unless a concurrent caller already did."""
        if self._current == failed.index and len(self._targets) > 1:
            self._current = (failed.index + 1) % len(self._targets)
            log.warning(
                "component=store etcd endpoint %s failed; using %s",
                failed.target,
                self._targets[self._current],
            )

    @property
    def size(self) -> int:
        return len(self._targets)

    async def close(self) -> None:
        members, self._members = list(self._members.values()), {}
        for member in members:
            await member.channel.close()


def _target(endpoint: str) -> tuple[str, bool]:
    """``host:port`` of an endpoint, and whether it is ``https``."""
    scheme, sep, rest = endpoint.partition("://")
    if sep and scheme not in ("http", "https"):
        raise ValueError(f"etcd endpoint {endpoint!r}: the scheme must be http:// or https://")
    address = (rest if sep else endpoint).rstrip("/")
    if not address or ":" not in address:
        raise ValueError(f"etcd endpoint {endpoint!r} must be host:port")
    return address, scheme == "https"


class EtcdStore:
    """A ``Store`` on etcd v3 (3.4+), over one or more endpoints of one cluster."""

    def __init__(self, endpoints: builtins.list[str], tls: TlsFiles | None = None) -> None:
        self._members = _Members(endpoints, tls)
        self._horizon = 0  # highest compaction revision known to this process
        self._watches: set[Any] = set()  # open watch calls, cancelled by close()
        self._closed = False

    # -- calls and failover --------------------------------------------------------

    async def _call(self, send: Callable[[_Member], Awaitable[T]], *, idempotent: bool) -> T:
        """Send to the current member, failing over while that is safe and in time."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + RETRY_WINDOW
        failures = 0
        while True:
            self._check_open()
            member = self._members.current()
            try:
                return await send(member)
            except asyncio.CancelledError:
                if self._closed_under_us():  # close() closed the channel mid-call
                    raise RuntimeError("EtcdStore is closed") from None
                raise
            except rpc.AioRpcError as err:
                if not _retryable(err, idempotent):
                    if (problem := _unexpected(err, member)) is None:
                        raise
                    raise problem from err
                if loop.time() >= deadline:
                    raise StoreUnavailable(f"etcd unavailable: {err.details()}") from err
                self._members.failover(member)
                failures += 1
                if failures % self._members.size == 0:  # every member tried: back off
                    await asyncio.sleep(min(0.05 * 2 ** (failures // self._members.size), 1.0))

    async def _range(self, request: Any) -> Any:
        return await self._call(
            lambda m: m.kv.Range(request, timeout=RPC_TIMEOUT, metadata=_METADATA),
            idempotent=True,
        )

    async def _txn(self, compare: Any, success: Any, failure: Any) -> Any:
        request = rpc.TxnRequest(compare=[compare], success=[success], failure=[failure])
        return await self._call(
            lambda m: m.kv.Txn(request, timeout=RPC_TIMEOUT, metadata=_METADATA),
            idempotent=False,
        )

    # -- writes ---------------------------------------------------------------------

    async def create(self, key: str, value: bytes) -> KeyValue:
        k = _encode(key)
        absent = rpc.Compare(
            key=k, target=rpc.Compare.MOD, result=rpc.Compare.EQUAL, mod_revision=0
        )
        put = rpc.RequestOp(request_put=rpc.PutRequest(key=k, value=value))
        resp = await self._txn(absent, put, _get_op(k))
        if not resp.succeeded:
            raise KeyExists(key)
        rev = resp.header.revision
        return KeyValue(key, value, rev, rev)

    async def update(self, key: str, value: bytes, expected_revision: int) -> KeyValue:
        k = _encode(key)
        put = rpc.RequestOp(request_put=rpc.PutRequest(key=k, value=value, prev_kv=True))
        resp = await self._txn(_mod_is(k, expected_revision), put, _get_op(k))
        if not resp.succeeded:
            raise self._write_refused(key, resp)
        prev = resp.responses[0].response_put.prev_kv
        return KeyValue(key, value, resp.header.revision, prev.create_revision)

    async def delete(self, key: str, expected_revision: int = 0) -> KeyValue:
        k = _encode(key)
        drop = rpc.RequestOp(request_delete_range=rpc.DeleteRangeRequest(key=k, prev_kv=True))
        resp = await self._txn(_mod_is(k, expected_revision), drop, _get_op(k))
        if not resp.succeeded:
            raise self._write_refused(key, resp)
        prev = resp.responses[0].response_delete_range.prev_kvs[0]
        return KeyValue(key, prev.value, resp.header.revision, prev.create_revision)

    @staticmethod
    def _write_refused(key: str, resp: Any) -> StoreError:
        """The error of a failed compare, from the range in its else branch."""
        found = resp.responses[0].response_range.kvs
        if not found:
            return NotFoundError(key)
        return RevisionConflict(key, _kv(found[0]))

    # -- reads ----------------------------------------------------------------------

    async def get(self, key: str, revision: int = 0) -> KeyValue | None:
        resp = await self._read(rpc.RangeRequest(key=_encode(key), revision=revision))
        return _kv(resp.kvs[0]) if resp.kvs else None

    async def list(
        self, prefix: str, *, limit: int = 0, start_after: str = "", revision: int = 0
    ) -> ListResult:
        bounds = _key_range(prefix, start_after)
        if bounds is None:  # nothing can match; still validate the revision
            resp = await self._read(self._header_request(revision))
            return ListResult([], revision or resp.header.revision, False, 0)
        start, end = bounds
        # etcd counts the whole range even when it returns only ``limit`` keys.
        resp = await self._read(
            rpc.RangeRequest(key=start, range_end=end, limit=limit, revision=revision)
        )
        items = [_kv(kv) for kv in resp.kvs]
        remaining = resp.count - len(items) if resp.more else 0
        return ListResult(items, revision or resp.header.revision, resp.more, remaining)

    async def current_revision(self) -> int:
        return int((await self._range(self._header_request(0))).header.revision)

    @staticmethod
    def _header_request(revision: int) -> Any:
        return rpc.RangeRequest(key=_HEADER_KEY, count_only=True, revision=revision)

    async def _read(self, request: Any) -> Any:
        """A range, with etcd's revision errors as the contract's."""
        requested = request.revision
        if requested and requested < self._horizon:
            raise Compacted(requested, self._horizon)
        try:
            return await self._range(request)
        except rpc.AioRpcError as err:
            if _is_compacted(err):
                raise Compacted(requested, await self._learn_horizon(requested)) from err
            if _is_future(err):
                raise FutureRevision(requested, await self.current_revision()) from err
            raise

    async def _learn_horizon(self, refused: int) -> int:
        """The exact horizon, after etcd refused ``refused`` as compacted.

        etcd's horizon is above ``refused`` and at most the current revision;
        a read at a revision succeeds exactly when it is at or above the
        horizon, so bisect with count-only reads (a few round trips, only
        when another process compacted).
        """
        low, high = max(refused + 1, self._horizon), await self.current_revision()
        while low < high:
            middle = (low + high) // 2
            try:
                await self._range(self._header_request(middle))
                high = middle
            except rpc.AioRpcError as err:
                if not _is_compacted(err):
                    raise
                low = middle + 1
        self._horizon = max(self._horizon, low)
        return self._horizon

    async def compacted_revision(self) -> int:
        return self._horizon

    # -- compaction -----------------------------------------------------------------

    async def compact(self, revision: int) -> None:
        if revision <= self._horizon:
            return
        request = rpc.CompactionRequest(revision=revision)
        try:
            await self._call(
                lambda m: m.kv.Compact(request, timeout=RPC_TIMEOUT, metadata=_METADATA),
                idempotent=True,  # compacting twice to one revision changes nothing
            )
        except rpc.AioRpcError as err:
            if _is_future(err):
                raise FutureRevision(revision, await self.current_revision()) from err
            if not _is_compacted(err):  # compacted: etcd is already there or beyond
                raise
        self._horizon = max(self._horizon, revision)

    # -- watch ----------------------------------------------------------------------

    def watch(self, prefix: str, from_revision: int) -> AsyncIterator[Event]:
        return self._watch(prefix, from_revision)

    async def _watch(self, prefix: str, from_revision: int) -> AsyncIterator[Event]:
        """Follow one etcd watch, resuming on another member if its stream breaks."""
        self._check_open()
        if from_revision < self._horizon:
            raise Compacted(from_revision, self._horizon)
        last = from_revision
        failures = 0
        while not self._closed:
            member = self._members.current()
            try:
                if failures:
                    await self._check_not_rolled_back(last)
                async for event in self._watch_stream(member, prefix, last):
                    last, failures = event.revision, 0
                    yield event
                reason = "stream ended"
            except rpc.AioRpcError as err:
                if not _retryable(err, True):
                    if (problem := _unexpected(err, member)) is None:
                        raise
                    raise problem from err
                reason = str(err.details())
            if self._closed:
                return
            failures += 1
            if failures > 10 * self._members.size:
                raise StoreUnavailable(f"etcd watch: {reason}")
            log.warning("component=store etcd watch broke at %d: %s", last, reason)
            self._members.failover(member)
            await asyncio.sleep(min(0.05 * failures, 1.0))

    async def _check_not_rolled_back(self, last: int) -> None:
        """Fail a resuming watch when etcd went back below what it delivered (a
        restored snapshot); see the module docstring."""
        current = await self.current_revision()
        if current < last:
            log.warning(
                "component=store etcd revision went back from %d to %d (restored?); "
                "the watch restarts",
                last,
                current,
            )
            self._horizon = 0  # the compactions this process remembers were another history
            raise Compacted(last, current)

    async def _watch_stream(self, member: _Member, prefix: str, after: int) -> AsyncIterator[Event]:
        """The events of one watch call with revision > ``after``."""
        key = max(_encode(prefix), b"\0")
        create = rpc.WatchCreateRequest(
            key=key,
            range_end=range_end(_encode(prefix)),
            start_revision=max(after, 1),
            prev_kv=True,
        )
        call = member.watch.Watch(metadata=_METADATA)
        self._watches.add(call)
        try:
            await call.write(rpc.WatchRequest(create_request=create))
            while (resp := await self._next_response(call)) is not None:
                if resp.compact_revision:
                    self._horizon = max(self._horizon, resp.compact_revision)
                    raise Compacted(after, resp.compact_revision)
                if resp.canceled:
                    raise StoreUnavailable(f"etcd cancelled the watch: {resp.cancel_reason}")
                for ev in resp.events:
                    if ev.kv.mod_revision > after:
                        yield _event(ev)
        finally:
            self._watches.discard(call)
            call.cancel()

    async def _next_response(self, call: Any) -> Any:
        """The next response of ``call``; None when the stream ended or close() cancelled it."""
        try:
            resp = await call.read()
        except asyncio.CancelledError:
            if self._closed_under_us():
                return None
            raise
        if resp is EOF:
            return None
        return resp

    # -- lifecycle ------------------------------------------------------------------

    def _closed_under_us(self) -> bool:
        """Whether a CancelledError out of gRPC comes from close() cancelling our
        calls, rather than from someone cancelling the task we run in."""
        task = asyncio.current_task()
        return self._closed and task is not None and not task.cancelling()

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("EtcdStore is closed")

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for call in list(self._watches):
            call.cancel()
        await asyncio.sleep(0)  # let watch readers see their cancelled calls
        await self._members.close()
