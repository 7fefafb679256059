"""Validation for ``admissionregistration.k8s.io/v1`` webhook configurations.

Upstream refuses a configuration the API server could not act on: a webhook
needs a fully qualified name (unique in its configuration), exactly one of
``url`` (https, no query or fragment) and ``service``, side effects declared
as None or NoneOnDryRun (so dry runs can be honoured), an AdmissionReview
version the server speaks, a timeout of 1 to 30 seconds and well-formed
rules. On update, a rule that the stored object already broke (an old side
effect class, an unknown review version, a duplicate name) stays allowed, as
upstream relaxes exactly those three checks.
"""

from __future__ import annotations

from functools import cache
from typing import Any
from urllib.parse import urlsplit

from tinykube.api.errors import FieldError, duplicate, invalid, not_supported, required
from tinykube.api.validation.common import as_dict, child, index, invalid_json
from tinykube.api.validation.names import (
    is_dns1035_label,
    is_dns1123_subdomain,
    is_qualified_name,
    is_valid_port_num,
)
from tinykube.api.validation.selectors import validate_label_selector

REVIEW_VERSIONS = ["v1", "v1beta1"]
FAILURE_POLICIES = ["Fail", "Ignore"]
MATCH_POLICIES = ["Equivalent", "Exact"]
ALL_SIDE_EFFECTS = ["None", "NoneOnDryRun", "Some", "Unknown"]
NO_SIDE_EFFECTS = ["None", "NoneOnDryRun"]
OPERATIONS = ["*", "CONNECT", "CREATE", "DELETE", "UPDATE"]
REINVOCATION_POLICIES = ["IfNeeded", "Never"]
SCOPES = ["*", "Cluster", "Namespaced"]
URL_FORM = "; desired format: https://host[/path]"


@cache
def cel_environment() -> Any:
    """cel-python's environment, built on first use: importing it and building its
    grammar takes about 0.4 s, which only configurations with matchConditions pay."""
    import celpy

    return celpy.Environment()


class _Options:
    """Which of the relaxable checks apply (all of them on create)."""

    def __init__(self, old: dict[str, Any] | None) -> None:
        hooks = [as_dict(h) for h in (old or {}).get("webhooks") or []]
        if old is None:
            self.no_side_effects = self.known_versions = self.unique_names = True
            return
        self.no_side_effects = all(h.get("sideEffects") in NO_SIDE_EFFECTS for h in hooks)
        self.known_versions = all(
            not h.get("admissionReviewVersions")
            or any(v in REVIEW_VERSIONS for v in h["admissionReviewVersions"])
            for h in hooks
        )
        names = [h.get("name") for h in hooks]
        self.unique_names = len(names) == len(set(names))


def _validate(obj: dict[str, Any], old: dict[str, Any] | None, mutating: bool) -> list[FieldError]:
    opts = _Options(old)
    errs: list[FieldError] = []
    seen: set[str] = set()
    for i, raw in enumerate(obj.get("webhooks") or []):
        hook = as_dict(raw)
        path = index("webhooks", i)
        errs += _webhook(hook, path, opts, mutating)
        errs += _review_versions(hook.get("admissionReviewVersions"), child(path, "admissionReviewVersions"), opts)  # fmt: skip
        name = hook.get("name") or ""
        if opts.unique_names and name:
            if name in seen:
                errs.append(duplicate(child(path, "name"), name))
            seen.add(name)
    return errs


def _webhook(hook: dict[str, Any], path: str, opts: _Options, mutating: bool) -> list[FieldError]:
    errs = _qualified_name(child(path, "name"), str(hook.get("name") or ""))
    for i, rule in enumerate(hook.get("rules") or []):
        errs += _rule(as_dict(rule), index(child(path, "rules"), i))
    for field, allowed in (("failurePolicy", FAILURE_POLICIES), ("matchPolicy", MATCH_POLICIES)):
        value = hook.get(field)
        if value is not None and value not in allowed:
            errs.append(not_supported(child(path, field), value, allowed))
    allowed_effects = NO_SIDE_EFFECTS if opts.no_side_effects else ALL_SIDE_EFFECTS
    effects = hook.get("sideEffects")
    if effects is None:
        errs.append(required(child(path, "sideEffects"), f"must specify one of {', '.join(allowed_effects)}"))  # fmt: skip
    elif effects not in allowed_effects:
        errs.append(not_supported(child(path, "sideEffects"), effects, allowed_effects))
    timeout = hook.get("timeoutSeconds")
    if isinstance(timeout, int) and not 1 <= timeout <= 30:
        errs.append(invalid(child(path, "timeoutSeconds"), timeout, "the timeout value must be between 1 and 30 seconds"))  # fmt: skip
    for field in ("namespaceSelector", "objectSelector"):
        if isinstance(hook.get(field), dict):
            errs += validate_label_selector(hook[field], child(path, field))
    reinvocation = hook.get("reinvocationPolicy")
    if mutating and reinvocation is not None and reinvocation not in REINVOCATION_POLICIES:
        errs.append(not_supported(child(path, "reinvocationPolicy"), reinvocation, REINVOCATION_POLICIES))  # fmt: skip
    errs += _match_conditions(hook.get("matchConditions") or [], child(path, "matchConditions"))
    return errs + _client_config(as_dict(hook.get("clientConfig")), child(path, "clientConfig"))


def _match_conditions(conditions: list[Any], path: str) -> list[FieldError]:
    """Names unique and qualified; each expression must compile (CEL)."""
    errs: list[FieldError] = []
    names: set[str] = set()
    for i, raw in enumerate(conditions):
        condition, here = as_dict(raw), index(path, i)
        name = str(condition.get("name") or "")
        if not name:
            errs.append(required(child(here, "name")))
        elif name in names:
            errs.append(duplicate(child(here, "name"), name))
        else:
            errs += [invalid(child(here, "name"), name, p) for p in is_qualified_name(name)]
        names.add(name)
        expression = str(condition.get("expression") or "")
        if not expression:
            errs.append(required(child(here, "expression")))
            continue
        problem = cel_compile_problem(expression)
        if problem:
            errs.append(invalid(child(here, "expression"), expression, f"compilation failed: {problem}"))  # fmt: skip
    return errs


def cel_compile_problem(expression: str) -> str:
    """Why a CEL expression does not compile, in cel-go's first line; "" when it does."""
    try:
        cel_environment().compile(expression)
    except Exception as exc:  # cel-python's parser errors carry the position
        line, column = getattr(exc, "line", None), getattr(exc, "column", None)
        if line is not None and column is not None:
            return f"ERROR: <input>:{line}:{column}: Syntax error"
        text = str(exc.args[0]) if exc.args else str(exc)
        return f"ERROR: <input>: {text.splitlines()[0] if text else type(exc).__name__}"
    return ""


def _qualified_name(path: str, name: str) -> list[FieldError]:
    if not name:
        return [required(path)]
    name = name.removesuffix(".")
    problems = is_dns1123_subdomain(name)
    if problems:
        return [invalid(path, name, ",".join(problems))]
    if len(name.split(".")) < 3:
        return [invalid(path, name, "should be a domain with at least three segments separated by dots")]  # fmt: skip
    return []


def _review_versions(versions: Any, path: str, opts: _Options) -> list[FieldError]:
    if not versions:
        return [required(path, f"must specify one of {', '.join(REVIEW_VERSIONS)}")]
    errs: list[FieldError] = []
    seen: set[str] = set()
    for i, version in enumerate(versions):
        if version in seen:
            errs.append(invalid(index(path, i), version, "duplicate version"))
            continue
        seen.add(version)
        errs += [invalid(index(path, i), version, p) for p in is_dns1035_label(str(version))]
    if opts.known_versions and not seen & set(REVIEW_VERSIONS):
        errs.append(invalid_json(path, versions, f"must include at least one of {', '.join(REVIEW_VERSIONS)}"))  # fmt: skip
    return errs


def _rule(rule: dict[str, Any], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    operations = rule.get("operations") or []
    if not operations:
        errs.append(required(child(path, "operations")))
    if len(operations) > 1 and "*" in operations:
        errs.append(invalid_json(child(path, "operations"), operations, "if '*' is present, must not specify other operations"))  # fmt: skip
    for i, op in enumerate(operations):
        if op not in OPERATIONS:
            errs.append(not_supported(index(child(path, "operations"), i), op, OPERATIONS))
    for field, what in (("apiGroups", "API groups"), ("apiVersions", "API versions")):
        values = rule.get(field) or []
        if not values:
            errs.append(required(child(path, field)))
        if len(values) > 1 and "*" in values:
            errs.append(invalid_json(child(path, field), values, f"if '*' is present, must not specify other {what}"))  # fmt: skip
    for i, version in enumerate(rule.get("apiVersions") or []):
        if not version:
            errs.append(required(index(child(path, "apiVersions"), i)))
    errs += _resources(rule.get("resources") or [], child(path, "resources"))
    scope = rule.get("scope")
    if scope is not None and scope not in SCOPES:
        errs.append(not_supported(child(path, "scope"), scope, SCOPES))
    return errs


def _resources(resources: list[Any], path: str) -> list[FieldError]:
    if not resources:
        return [required(path)]
    errs: list[FieldError] = []
    any_sub: set[str] = set()  # "x/*" seen
    any_res: set[str] = set()  # "*/x" seen
    single = plain = False
    for i, entry in enumerate(resources):
        if not entry:
            errs.append(required(index(path, i)))
            continue
        if entry == "*":
            single = True
        res, slash, sub = str(entry).partition("/")
        if not slash:
            plain = plain or entry != "*"
            continue
        if res in any_sub:
            errs.append(invalid(index(path, i), entry, f"if '{res}/*' is present, must not specify {entry}"))  # fmt: skip
        if sub in any_res:
            errs.append(invalid(index(path, i), entry, f"if '*/{sub}' is present, must not specify {entry}"))  # fmt: skip
        if sub == "*":
            any_sub.add(res)
        if res == "*":
            any_res.add(sub)
    if len(resources) > 1 and "*/*" in resources:
        errs.append(invalid_json(path, resources, "if '*/*' is present, must not specify other resources"))  # fmt: skip
    if single and plain:
        errs.append(invalid_json(path, resources, "if '*' is present, must not specify other resources without subresources"))  # fmt: skip
    return errs


def _client_config(config: dict[str, Any], path: str) -> list[FieldError]:
    url, service = config.get("url"), config.get("service")
    if (url is None) == (service is None):
        return [required(path, "exactly one of url or service is required")]
    if url is not None:
        return _url(str(url), child(path, "url"))
    return _service(as_dict(service), child(path, "service"))


def _url(url: str, path: str) -> list[FieldError]:
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        return [required(path, f"url must be a valid URL: {exc}{URL_FORM}")]
    errs: list[FieldError] = []
    if parts.scheme != "https":
        errs.append(
            invalid(path, parts.scheme, "'https' is the only allowed URL scheme" + URL_FORM)
        )
    if not parts.netloc:
        errs.append(invalid(path, parts.netloc, "host must be specified" + URL_FORM))
    if "@" in parts.netloc:
        user = parts.netloc.rsplit("@", 1)[0]
        errs.append(invalid(path, user, "user information is not permitted in the URL"))
    if parts.fragment:
        errs.append(invalid(path, parts.fragment, "fragments are not permitted in the URL"))
    if parts.query:
        errs.append(invalid(path, parts.query, "query parameters are not permitted in the URL"))
    return errs


def _service(service: dict[str, Any], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if not service.get("name"):
        errs.append(required(child(path, "name"), "service name is required"))
    if not service.get("namespace"):
        errs.append(required(child(path, "namespace"), "service namespace is required"))
    port = service.get("port", 443)
    problems = is_valid_port_num(port)
    if problems:
        errs.append(invalid(child(path, "port"), port, "port is not valid: " + ", ".join(problems)))
    url_path = service.get("path")
    if url_path in (None, "", "/"):
        return errs
    if url_path == "//":
        return [*errs, invalid(child(path, "path"), url_path, "segment[0] may not be empty")]
    if not str(url_path).startswith("/"):
        errs.append(invalid(child(path, "path"), url_path, "must start with a '/'"))
    return errs


def validate_mutating(obj: dict[str, Any]) -> list[FieldError]:
    return _validate(obj, None, mutating=True)


def validate_mutating_update(new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
    return _validate(new, old, mutating=True)


def validate_validating(obj: dict[str, Any]) -> list[FieldError]:
    return _validate(obj, None, mutating=False)


def validate_validating_update(new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
    return _validate(new, old, mutating=False)


def _checked_with_old(obj: dict[str, Any]) -> list[FieldError]:
    """Nothing here: the checks depend on the stored object (create-only or update rules)."""
    return []


# The whole check runs once per write: from CREATE_ONLY on create, from the update rule
# on update, because which checks are relaxed depends on the stored configuration.
VALIDATORS = {
    "MutatingWebhookConfiguration": (_checked_with_old, validate_mutating_update),
    "ValidatingWebhookConfiguration": (_checked_with_old, validate_validating_update),
}
CREATE_ONLY = {
    "MutatingWebhookConfiguration": validate_mutating,
    "ValidatingWebhookConfiguration": validate_validating,
}
