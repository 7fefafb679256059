"""Webhook configurations are refused with upstream's field messages, and
printed with upstream's WEBHOOKS column."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from tinykube.api import defaults, tables, validation
from tinykube.api.resources import Resource, lookup

pytestmark = pytest.mark.unit

Obj = dict[str, Any]


def _res(plural: str) -> Resource:
    found = lookup("admissionregistration.k8s.io", "v1", plural)
    assert found is not None
    return found


MUTATING = _res("mutatingwebhookconfigurations")
VALIDATING = _res("validatingwebhookconfigurations")


def webhook(**changes: Any) -> Obj:
    hook: Obj = {
        "name": "check.example.com",
        "clientConfig": {"url": "https://hooks.example.com/check"},
        "rules": [
            {
                "operations": ["CREATE"],
                "apiGroups": [""],
                "apiVersions": ["v1"],
                "resources": ["pods"],
            }
        ],
        "sideEffects": "None",
        "admissionReviewVersions": ["v1"],
    }
    for key, value in changes.items():
        if value is None:
            hook.pop(key, None)
        else:
            hook[key] = value
    return hook


def configuration(*hooks: Obj) -> Obj:
    obj = {"metadata": {"name": "cfg"}, "webhooks": list(hooks)}
    defaults.apply_defaults(MUTATING, obj)
    return obj


def problems(obj: Obj, old: Obj | None = None, res: Resource = MUTATING) -> list[str]:
    if old is not None:
        obj["metadata"].setdefault("resourceVersion", "1")
        old["metadata"].setdefault("resourceVersion", "1")
    return [str(e) for e in validation.validate(res, obj, old)]


def test_a_good_configuration_passes() -> None:
    assert problems(configuration(webhook())) == []
    service = {"service": {"namespace": "ns", "name": "svc", "path": "/v"}}
    assert problems(configuration(webhook(clientConfig=service)), res=VALIDATING) == []


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"sideEffects": None}, "webhooks[0].sideEffects: Required value: must specify one of None, NoneOnDryRun"),
        ({"sideEffects": "Some"}, 'webhooks[0].sideEffects: Unsupported value: "Some": supported values: "None", "NoneOnDryRun"'),
        ({"admissionReviewVersions": None}, "webhooks[0].admissionReviewVersions: Required value: must specify one of v1, v1beta1"),
        ({"admissionReviewVersions": ["v2"]}, 'webhooks[0].admissionReviewVersions: Invalid value: ["v2"]: must include at least one of v1, v1beta1'),
        ({"name": "short.name"}, 'webhooks[0].name: Invalid value: "short.name": should be a domain with at least three segments separated by dots'),
        ({"timeoutSeconds": 31}, "webhooks[0].timeoutSeconds: Invalid value: 31: the timeout value must be between 1 and 30 seconds"),
        ({"failurePolicy": "Sometimes"}, 'webhooks[0].failurePolicy: Unsupported value: "Sometimes": supported values: "Fail", "Ignore"'),
        ({"reinvocationPolicy": "Always"}, 'webhooks[0].reinvocationPolicy: Unsupported value: "Always": supported values: "IfNeeded", "Never"'),
        ({"clientConfig": {}}, "webhooks[0].clientConfig: Required value: exactly one of url or service is required"),
        ({"clientConfig": {"url": "http://h.example.com/x"}}, "webhooks[0].clientConfig.url: Invalid value: \"http\": 'https' is the only allowed URL scheme; desired format: https://host[/path]"),
        ({"clientConfig": {"url": "https://h.example.com/x?a=b"}}, 'webhooks[0].clientConfig.url: Invalid value: "a=b": query parameters are not permitted in the URL'),
        ({"clientConfig": {"service": {"name": "s", "namespace": "n", "path": "v"}}}, 'webhooks[0].clientConfig.service.path: Invalid value: "v": must start with a \'/\''),
        ({"rules": [{"operations": ["*", "CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"]}]}, 'webhooks[0].rules[0].operations: Invalid value: ["*","CREATE"]: if \'*\' is present, must not specify other operations'),
        ({"rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["*", "pods"]}]}, 'webhooks[0].rules[0].resources: Invalid value: ["*","pods"]: if \'*\' is present, must not specify other resources without subresources'),
        ({"rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"], "scope": "Everywhere"}]}, 'webhooks[0].rules[0].scope: Unsupported value: "Everywhere": supported values: "*", "Cluster", "Namespaced"'),
    ],
    ids=[
        "side-effects-required",
        "side-effects-some",
        "review-versions-required",
        "review-versions-unknown",
        "name-not-qualified",
        "timeout-too-long",
        "failure-policy",
        "reinvocation-policy",
        "client-config-empty",
        "url-not-https",
        "url-query",
        "service-path",
        "wildcard-operation-with-others",
        "wildcard-resource-with-others",
        "scope",
    ],
)  # fmt: skip
def test_refusals(changes: Obj, message: str) -> None:
    assert problems(configuration(webhook(**changes))) == [message]


def test_webhook_names_are_unique_in_a_configuration() -> None:
    assert problems(configuration(webhook(), webhook())) == [
        'webhooks[1].name: Duplicate value: "check.example.com"'
    ]


def test_an_update_keeps_what_the_stored_configuration_already_had() -> None:
    old = configuration(webhook(sideEffects="Some"))
    new = copy.deepcopy(old)
    new["webhooks"][0]["timeoutSeconds"] = 5
    assert problems(new, old) == []
    fresh = configuration(webhook())
    strict = copy.deepcopy(fresh)
    strict["webhooks"][0]["sideEffects"] = "Some"
    assert problems(strict, fresh) == [
        'webhooks[0].sideEffects: Unsupported value: "Some": supported values: "None", "NoneOnDryRun"'
    ]


def test_table_counts_the_webhooks() -> None:
    obj = configuration(webhook(), webhook(name="two.example.com"))
    obj["metadata"]["creationTimestamp"] = "2026-01-01T00:00:00Z"
    printer = tables.printer_for(VALIDATING)
    names = [c.name for c in printer.columns]
    assert names == ["Name", "Webhooks", "Age"]
    cells = printer.cells(obj, datetime(2026, 1, 1, 0, 5, tzinfo=UTC))
    assert cells == ["cfg", 2, "5m"]


def test_match_conditions_must_compile_and_have_unique_names() -> None:
    conds = [
        {"name": "ok", "expression": "object.metadata.name != 'x'"},
        {"name": "ok", "expression": "true"},
        {"name": "broken", "expression": "object.metadata.("},
    ]
    assert problems(configuration(webhook(matchConditions=conds))) == [
        'webhooks[0].matchConditions[1].name: Duplicate value: "ok"',
        'webhooks[0].matchConditions[2].expression: Invalid value: "object.metadata.(": '
        "compilation failed: ERROR: <input>:1:17: Syntax error",
    ]
