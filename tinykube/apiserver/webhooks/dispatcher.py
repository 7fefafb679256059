"""MutatingAdmissionWebhook and ValidatingAdmissionWebhook for the write pipeline.

The registry's hooks call ``mutate`` after the built-in mutating plugins and
``validate`` after schema validation and the built-in validating plugins,
before quota is charged, which is where upstream's plugin order puts them; a
DELETE asks both before anything is marked or removed, with the stored object
as oldObject; ``connect`` asks about exec, attach, port-forward and proxy.
Only clients' requests are sent (see ``attributes``).

Configurations come from the watch cache, never from storage: a write in a
cluster without webhooks costs one dict lookup (``count`` is zero). The
compiled webhooks are kept per kind and dropped when a watch-cache event
touches a configuration, so they are rebuilt on the next write only.

Mutating webhooks run one after another; each JSON patch is applied and the
object re-defaulted, as upstream decodes and defaults the patched object.
A webhook with ``reinvocationPolicy: IfNeeded`` is called once more when a
later webhook changed the object after it had run (upstream's
webhookReinvokeContext, without re-running the built-in plugins). Validating
webhooks run concurrently; when several refuse, the first in configuration
order answers.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from typing import Any

from tinykube.api import defaults, errors
from tinykube.api.resources import Resource, lookup
from tinykube.apiserver.webhooks import calling, conditions, review
from tinykube.apiserver.webhooks.matching import (
    GROUP,
    MUTATING,
    VALIDATING,
    Attributes,
    Invocation,
    Webhook,
    applicable,
    compile_configurations,
    should_call,
)

log = logging.getLogger(__name__)

NAMESPACES = lookup("", "v1", "namespaces")
# Subresource writes the registry performs on the parent object, shown to webhooks
# as the object upstream's request carries.
SHOWN_AS = frozenset({"scale", "binding"})


class Dispatcher:
    """Calls the webhooks that match a write; one per API server."""

    def __init__(self, cache: Any) -> None:
        self.cache = cache
        self._compiled: dict[str, tuple[int, list[Webhook]]] = {}
        cache.add_listener(self._on_event)

    def _on_event(self, event: Any) -> None:
        if event.resource in (MUTATING, VALIDATING):
            self._compiled.pop(event.resource, None)

    def webhooks(self, plural: str) -> list[Webhook]:
        """The compiled webhooks of one kind of configuration, in calling order."""
        count = self.cache.count(plural)
        if count == 0:
            return []
        known = self._compiled.get(plural)
        # A reload of the cache replaces objects without events: a changed count shows it.
        if known is not None and known[0] == count:
            return known[1]
        res = lookup(GROUP, "v1", plural)
        assert res is not None
        hooks = compile_configurations(self.cache.items(res.list_prefix()), plural == MUTATING)
        self._compiled[plural] = (count, hooks)
        return hooks

    def _namespace_labels(self, name: str) -> dict[str, str] | None:
        assert NAMESPACES is not None
        ns = self.cache.get(NAMESPACES.key("", name))
        if ns is None:
            return None
        return dict((ns.get("metadata") or {}).get("labels") or {})

    def _should_call(self, hook: Webhook, attrs: Attributes) -> Invocation | None:
        """Rules and selectors, then the webhook's matchConditions."""
        invocation = should_call(hook, attrs, self._namespace_labels)
        if invocation is None or not hook.conditions:
            return invocation
        request = review.build_request(attrs, invocation, "v1", uid="")["request"]
        verdict = conditions.evaluate(hook.conditions, request, hook.failure_policy != "Ignore")
        if verdict.error:
            res = attrs.resource
            who = f'{res.qualified} "{attrs.name}"' if attrs.name else res.qualified
            raise errors.Forbidden(
                f"{who} is forbidden: {verdict.error}",
                name=attrs.name,
                group=res.group,
                kind=res.plural,
            )
        return invocation if verdict.call else None

    # ---- mutating -----------------------------------------------------------
    async def mutate(
        self,
        res: Resource,
        obj: dict[str, Any] | None,
        old: dict[str, Any] | None,
        opts: Any,
        operation: str,
    ) -> None:
        """Run the mutating webhooks; ``obj`` is changed in place (None for a DELETE)."""
        hooks = self.webhooks(MUTATING)
        if not hooks:
            return
        attrs = attributes(res, obj, old, opts, operation)
        if attrs is None:
            return
        previously: set[str] = set()
        reinvoke: set[str] = set()
        shown = current = attrs.obj  # what webhooks see: the object, or its Scale
        for second_round in (False, True):
            if second_round and not reinvoke:
                break
            for hook in hooks:
                if second_round and hook.uid not in reinvoke:
                    continue
                attrs = dataclasses.replace(attrs, obj=current)
                invocation = self._should_call(hook, attrs)
                if invocation is None:
                    continue
                patched = await self._call_mutating(invocation, attrs, opts)
                if patched is not None and patched != current:
                    current = patched
                    reinvoke |= previously
                    previously = set()
                if hook.reinvoke_if_needed:
                    previously.add(hook.uid)
        if obj is None or current is None or current is shown:
            return
        if attrs.subresource == "scale":
            _set_replicas(res, obj, current)
            return
        if attrs.object_kind is not None:
            return  # a Binding's patch has nothing to go back to
        _check_namespace(res, obj, current)
        obj.clear()
        obj.update(current)

    async def _call_mutating(
        self, invocation: Invocation, attrs: Attributes, opts: Any
    ) -> dict[str, Any] | None:
        hook = invocation.webhook
        try:
            result = await self._call(invocation, attrs)
            if result is None:
                return None
            _warn(opts, result.warnings)
            if not result.allowed:
                raise review.denied(hook.name, result.status)
            if attrs.obj is None:
                if result.patch and result.patch.strip() not in (b"[]", b""):
                    raise errors.InternalError(
                        f'Internal error occurred: admission webhook "{hook.name}" attempted '
                        "to modify the object, which is not supported for this operation"
                    )
                return None
            patched = review.apply_patch(hook.name, result, attrs.obj)
        except review.CallingError as exc:
            return self._failed(hook, exc)
        if patched is not None and attrs.object_kind is None:
            defaults.apply_defaults(attrs.resource, patched)
        return patched

    # ---- validating ---------------------------------------------------------
    async def validate(
        self,
        res: Resource,
        obj: dict[str, Any] | None,
        old: dict[str, Any] | None,
        opts: Any,
        operation: str,
    ) -> None:
        """Run the validating webhooks concurrently; the first refusal is raised."""
        if not self.webhooks(VALIDATING):
            return
        attrs = attributes(res, obj, old, opts, operation)
        if attrs is not None:
            await self._validate(attrs, opts)

    async def _validate(self, attrs: Attributes, opts: Any) -> None:
        hooks = self.webhooks(VALIDATING)
        invocations = [inv for hook in hooks if (inv := self._should_call(hook, attrs))]
        if not invocations:
            return
        outcomes = await asyncio.gather(
            *(self._call_validating(inv, attrs, opts) for inv in invocations),
            return_exceptions=True,
        )
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome

    async def _call_validating(self, invocation: Invocation, attrs: Attributes, opts: Any) -> None:
        hook = invocation.webhook
        try:
            result = await self._call(invocation, attrs)
        except review.CallingError as exc:
            self._failed(hook, exc)
            return
        if result is None:
            return
        _warn(opts, result.warnings)
        if not result.allowed:
            raise review.denied(hook.name, result.status)

    # ---- requests that carry an object of their own ------------------------
    async def connect(
        self,
        res: Resource,
        subresource: str,
        namespace: str,
        name: str,
        options: dict[str, Any],
        user: Any,
    ) -> None:
        """exec, attach, port-forward and proxy: webhooks see the request's options object."""
        kind = ("", "v1", str(options.get("kind", "")))
        opts = WebhookOptions(user=user)
        await self.ask(res, subresource, "CONNECT", namespace, name, options, kind, opts)

    async def ask(
        self,
        res: Resource,
        subresource: str,
        operation: str,
        namespace: str,
        name: str,
        obj: dict[str, Any],
        object_kind: tuple[str, str, str],
        opts: Any,
    ) -> None:
        """Webhooks for a subresource request whose object is not stored (CONNECT's
        options, an Eviction). Mutating webhooks are asked and may refuse, but
        their patches are not used: the handler acts on the request as it came."""
        mutating = self.webhooks(MUTATING)
        if not mutating and not self.webhooks(VALIDATING):
            return
        attrs = Attributes(
            res, subresource, operation, name, namespace, obj, None,
            dry_run=bool(getattr(opts, "dry_run", False)), user=getattr(opts, "user", None),
            options=review.options_for(operation, opts), object_kind=object_kind,
        )  # fmt: skip
        for hook in mutating:
            invocation = self._should_call(hook, attrs)
            if invocation is not None:
                await self._call_mutating(invocation, attrs, opts)
        await self._validate(attrs, opts)

    # ---- one call -----------------------------------------------------------
    async def _call(self, invocation: Invocation, attrs: Attributes) -> review.Result | None:
        """Ask the webhook; raises CallingError (failurePolicy applies) or an API error."""
        hook = invocation.webhook
        if attrs.dry_run:
            if not hook.side_effects:
                raise review.CallingError(hook.name, review.SIDE_EFFECTS_NIL)
            if hook.side_effects not in ("None", "NoneOnDryRun"):
                raise review.dry_run_unsupported(hook.name)
        version = review.review_version(hook.name, hook.spec.get("admissionReviewVersions"))
        body = review.build_request(attrs, invocation, version)
        client_config = hook.spec.get("clientConfig") or {}
        try:
            target = calling.resolve(client_config, self.cache, hook.timeout)
            answer = await calling.post(
                target, str(client_config.get("caBundle") or ""), body, hook.timeout
            )
        except calling.CallFailed as exc:
            raise review.CallingError(hook.name, f"failed to call webhook: {exc}") from None
        uid = body["request"]["uid"]
        return review.verify_response(hook.name, answer, uid, version, hook.mutating)

    def _failed(self, hook: Webhook, exc: review.CallingError) -> None:
        if hook.failure_policy == "Ignore":
            log.warning("component=apiserver failed calling webhook, failing open: %s", exc)
            return None
        log.warning("component=apiserver failed calling webhook, failing closed: %s", exc)
        raise exc.as_api_error() from None


@dataclasses.dataclass
class WebhookOptions:
    """The write options a request without a body of its own (CONNECT) brings."""

    user: Any = None
    dry_run: bool = False
    warnings: list[str] = dataclasses.field(default_factory=list)


def _check_namespace(res: Resource, before: dict[str, Any], after: dict[str, Any]) -> None:
    """A patch may not move an object to another namespace (upstream's BeforeCreate check;
    a changed name is refused by metadata validation on update)."""
    if not res.namespaced:
        return
    was = (before.get("metadata") or {}).get("namespace")
    now = (after.get("metadata") or {}).get("namespace")
    if now != was:
        raise errors.BadRequest(
            "the namespace of the provided object does not match the namespace sent on the request"
        )


def _warn(opts: Any, warnings: list[str]) -> None:
    """Warnings become Warning headers of writes; a DELETE's response carries none."""
    sink = getattr(opts, "warnings", None)
    if sink is not None:
        sink.extend(warnings)


def attributes(
    res: Resource,
    obj: dict[str, Any] | None,
    old: dict[str, Any] | None,
    opts: Any,
    operation: str,
) -> Attributes | None:
    """The request as webhooks see it, or None when webhooks are not asked about it.

    Only clients' requests are sent (``opts.admit``): upstream also admits the
    server's loopback writes but retries them when a webhook fails, whereas
    here a failing bootstrap write would stop the server from starting.

    A /scale write is shown as the parent's Scale (autoscaling/v1) and a
    binding as the CREATE of a Binding, rebuilt from the bound pod; other
    subresources of another kind are not sent from here (eviction asks
    through ``ask``).
    """
    if not applicable(res) or not getattr(opts, "admit", False):
        return None
    subresource = getattr(opts, "subresource", "") or ""
    object_kind = None
    if subresource:
        sub = res.subresource(subresource)
        if sub is None or (sub.kind != res.kind and subresource not in SHOWN_AS):
            return None
        if subresource in SHOWN_AS:
            object_kind = (sub.group or res.group, sub.version or res.version, sub.kind)
    meta = (obj if obj is not None else old or {}).get("metadata") or {}
    namespace = meta.get("namespace", "") if res.namespaced else ""
    if res.group == "" and res.plural == "namespaces":
        namespace = meta.get("name", "")
    dry_run = bool(getattr(opts, "dry_run", False))
    if subresource == "binding":
        # The scheduler's POST is a CREATE of a Binding; the registry holds the bound pod.
        operation, obj, old = "CREATE", _binding_of(obj), None
    elif object_kind is not None:
        obj, old = _scale_of(res, obj), _scale_of(res, old)
    return Attributes(
        resource=res,
        subresource=subresource,
        operation=operation,
        name=meta.get("name", ""),
        namespace=namespace,
        obj=obj,
        old=old,
        dry_run=dry_run,
        user=getattr(opts, "user", None),
        options=review.options_for(operation, opts),
        object_kind=object_kind,
    )


def _binding_of(pod: dict[str, Any] | None) -> dict[str, Any] | None:
    if pod is None:
        return None
    meta = pod.get("metadata") or {}
    return {
        "kind": "Binding",
        "apiVersion": "v1",
        "metadata": {"name": meta.get("name", ""), "namespace": meta.get("namespace", "")},
        "target": {"kind": "Node", "name": (pod.get("spec") or {}).get("nodeName", "")},
    }


def _scale_of(res: Resource, obj: dict[str, Any] | None) -> dict[str, Any] | None:
    """A /scale write holds the parent object; webhooks are shown its Scale, as upstream."""
    if obj is None:
        return None
    from tinykube.apiserver.handlers.subresources import scale_of  # handlers import the registry

    return scale_of(res, obj)


def _set_replicas(res: Resource, obj: dict[str, Any], scale: dict[str, Any]) -> None:
    """A mutating webhook's patch of a Scale: only spec.replicas reaches the parent."""
    replicas = (scale.get("spec") or {}).get("replicas")
    if not isinstance(replicas, int) or isinstance(replicas, bool):
        raise errors.BadRequest("the patched Scale has no integer spec.replicas")
    if res.crd:
        from tinykube.apiserver.crd import scale as crd_scale

        crd_scale.set_replicas(res, obj, replicas)
    else:
        obj.setdefault("spec", {})["replicas"] = replicas
