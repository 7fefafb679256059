"""Defaults for ``admissionregistration.k8s.io/v1`` webhook configurations.

Upstream fills these when a configuration is decoded, so ``kubectl get -o
yaml`` shows them and the API server's dispatcher can rely on them: a webhook
fails closed, matches equivalent versions, selects every namespace and object
and waits ten seconds; a rule covers both scopes; a service is reached on 443.
``sideEffects`` and ``admissionReviewVersions`` have no default in v1: they
are required, and left alone here.
"""

from __future__ import annotations

from typing import Any


def _default_webhook(hook: dict[str, Any], mutating: bool) -> None:
    hook.setdefault("failurePolicy", "Fail")
    hook.setdefault("matchPolicy", "Equivalent")
    hook.setdefault("namespaceSelector", {})
    hook.setdefault("objectSelector", {})
    hook.setdefault("timeoutSeconds", 10)
    if mutating:
        hook.setdefault("reinvocationPolicy", "Never")
    for rule in hook.get("rules") or []:
        rule.setdefault("scope", "*")
    service = (hook.get("clientConfig") or {}).get("service")
    if isinstance(service, dict):
        service.setdefault("port", 443)


def default_mutating(config: dict[str, Any]) -> None:
    for hook in config.get("webhooks") or []:
        _default_webhook(hook, mutating=True)


def default_validating(config: dict[str, Any]) -> None:
    for hook in config.get("webhooks") or []:
        _default_webhook(hook, mutating=False)


DEFAULTERS = {
    "MutatingWebhookConfiguration": default_mutating,
    "ValidatingWebhookConfiguration": default_validating,
}
