"""Pod volume sources and environment variable sources.

Each volume names exactly one source, and the common sources have required
fields (a Secret volume needs ``secretName``, a hostPath a ``path``); file
modes are octal permissions. Environment variables take either a ``value``
or exactly one ``valueFrom`` source. Messages and paths follow upstream's
``validateVolumeSource`` and ``validateEnvVarValueFrom``.
"""

from __future__ import annotations

from typing import Any

from tinykube.api.errors import FieldError, field_forbidden, invalid, required
from tinykube.api.validation import names
from tinykube.api.validation.common import as_dict, as_list, child, index, is_int

FILE_MODE_ERROR = "must be a number between 0 and 0777 (octal), both inclusive"
ENV_SOURCES = ("fieldRef", "resourceFieldRef", "configMapKeyRef", "secretKeyRef", "fileKeyRef")
ENV_SOURCES_MSG = (
    "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"
)


def validate_volume_source(
    volume: dict[str, Any], path: str, sources: list[str]
) -> list[FieldError]:
    """Checks for the first (and only valid) source of ``volume``."""
    if not sources:
        return [required(path, "must specify a volume type")]
    errs = [
        field_forbidden(child(path, s), "may not specify more than 1 volume type")
        for s in sources[1:]
    ]
    source = sources[0]
    body = as_dict(volume.get(source))
    spath = child(path, source)
    checker = _CHECKS.get(source)
    if checker is not None:
        errs += checker(body, spath)
    return errs


def _required_field(field: str) -> Any:
    def check(body: dict[str, Any], path: str) -> list[FieldError]:
        return [] if body.get(field) else [required(child(path, field))]

    return check


def _file_mode(mode: Any, path: str) -> list[FieldError]:
    if is_int(mode) and not 0 <= mode <= 0o777:
        return [invalid(path, mode, FILE_MODE_ERROR)]
    return []


def _key_to_paths(items: list[Any], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, item in enumerate(items):
        item = as_dict(item)
        ipath = index(path, i)
        if not item.get("key"):
            errs.append(required(child(ipath, "key")))
        errs += _relative_path(item.get("path") or "", child(ipath, "path"))
        errs += _file_mode(item.get("mode"), child(ipath, "mode"))
    return errs


def _relative_path(value: str, path: str) -> list[FieldError]:
    """``validateLocalDescendingPath``: relative, and never climbing out with ``..``."""
    if not value:
        return [required(path)]
    errs = []
    if value.startswith("/"):
        errs.append(invalid(path, value, "must be a relative path"))
    if ".." in value.split("/"):
        errs.append(invalid(path, value, "must not contain '..'"))
    return errs


def _secret(body: dict[str, Any], path: str) -> list[FieldError]:
    errs = [] if body.get("secretName") else [required(child(path, "secretName"))]
    errs += _file_mode(body.get("defaultMode"), child(path, "defaultMode"))
    return errs + _key_to_paths(as_list(body.get("items")), child(path, "items"))


def _config_map(body: dict[str, Any], path: str) -> list[FieldError]:
    errs = [] if body.get("name") else [required(child(path, "name"))]
    errs += _file_mode(body.get("defaultMode"), child(path, "defaultMode"))
    return errs + _key_to_paths(as_list(body.get("items")), child(path, "items"))


def _projected(body: dict[str, Any], path: str) -> list[FieldError]:
    errs = _file_mode(body.get("defaultMode"), child(path, "defaultMode"))
    for i, source in enumerate(as_list(body.get("sources"))):
        source = as_dict(source)
        spath = index(child(path, "sources"), i)
        kinds = [
            k
            for k in (
                "secret",
                "configMap",
                "downwardAPI",
                "serviceAccountToken",
                "clusterTrustBundle",
            )
            if source.get(k) is not None
        ]
        if len(kinds) > 1:
            errs.append(
                field_forbidden(
                    child(spath, kinds[1]), "may not specify more than 1 volume type per source"
                )
            )
        token = as_dict(source.get("serviceAccountToken"))
        if source.get("serviceAccountToken") is not None:
            seconds = token.get("expirationSeconds")
            if is_int(seconds) and seconds < 600:
                errs.append(
                    invalid(
                        child(spath, "serviceAccountToken.expirationSeconds"),
                        seconds,
                        "may not specify a duration less than 10 minutes",
                    )
                )
            if not token.get("path"):
                errs.append(required(child(spath, "serviceAccountToken.path")))
    return errs


_CHECKS = {
    "hostPath": _required_field("path"),
    "secret": _secret,
    "configMap": _config_map,
    "persistentVolumeClaim": _required_field("claimName"),
    "nfs": _required_field("server"),
    "projected": _projected,
    "gitRepo": _required_field("repository"),
}


def validate_env_value_from(var: dict[str, Any], path: str) -> list[FieldError]:
    """A variable has a literal ``value`` or exactly one ``valueFrom`` source."""
    source = var.get("valueFrom")
    if source is None:
        return []
    source = as_dict(source)
    found = [s for s in ENV_SOURCES if source.get(s) is not None]
    vpath = child(path, "valueFrom")
    errs: list[FieldError] = []
    for name in ("configMapKeyRef", "secretKeyRef"):
        if source.get(name) is not None:
            errs += _key_selector(as_dict(source[name]), child(vpath, name))
    if not found:
        errs.append(invalid(vpath, "", ENV_SOURCES_MSG))
    elif var.get("value"):
        errs.append(invalid(vpath, "", "may not be specified when `value` is not empty"))
    elif len(found) > 1:
        errs.append(invalid(vpath, "", "may not have more than one field specified at a time"))
    return errs


def _key_selector(selector: dict[str, Any], path: str) -> list[FieldError]:
    name = selector.get("name") or ""
    errs = [invalid(child(path, "name"), name, m) for m in names.is_dns1123_subdomain(name)]
    key = selector.get("key") or ""
    if not key:
        errs.append(required(child(path, "key")))
    else:
        errs += [invalid(child(path, "key"), key, m) for m in names.is_config_map_key(key)]
    return errs
