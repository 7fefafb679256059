"""``Impersonate-*`` headers: act as another user once allowed to (``kubectl --as``).

The requesting user needs the ``impersonate`` verb on each thing asked for:
``users`` (or ``serviceaccounts`` in their namespace, for
``system:serviceaccount:<ns>:<name>``), ``groups``, ``uids`` and
``userextras/<key>`` (the last two in ``authentication.k8s.io``). The request
then runs as the impersonated user: the given groups, or a service
account's own groups when none are given, plus ``system:authenticated``.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import unquote

from aiohttp import web

from tinykube.api import errors
from tinykube.apiserver.auth import UserInfo
from tinykube.apiserver.authz.attributes import Attributes, forbidden

USER = "Impersonate-User"
GROUP = "Impersonate-Group"
UID = "Impersonate-Uid"
EXTRA_PREFIX = "impersonate-extra-"
SA_PREFIX = "system:serviceaccount:"
AUTHENTICATED = "system:authenticated"
UNAUTHENTICATED = "system:unauthenticated"
ANONYMOUS = "system:anonymous"

Check = Callable[[UserInfo, Attributes], bool]


def _asked(request: web.Request) -> tuple[str, list[str], str, dict[str, list[str]]]:
    headers = request.headers
    extra: dict[str, list[str]] = {}
    for key in headers:
        if key.lower().startswith(EXTRA_PREFIX):
            name = unquote(key[len(EXTRA_PREFIX) :]).lower()
            extra[name] = list(headers.getall(key))
    return headers.get(USER, ""), list(headers.getall(GROUP, [])), headers.get(UID, ""), extra


def wanted(request: web.Request) -> bool:
    headers = request.headers
    return (
        USER in headers
        or GROUP in headers
        or UID in headers
        or any(k.lower().startswith(EXTRA_PREFIX) for k in headers)
    )


def impersonate(request: web.Request, user: UserInfo, may: Check) -> UserInfo:
    """The user the request runs as; 403 when ``user`` may not impersonate it."""
    username, groups, uid, extra = _asked(request)
    if not username:
        asked = [f"{GROUP}={g}" for g in groups] + ([f"{UID}={uid}"] if uid else [])
        raise errors.InternalError(f"requested {asked} without impersonating a user")
    checks: list[Attributes] = []
    if username.startswith(SA_PREFIX) and username.count(":") == 3:
        _, _, ns, name = username.split(":")
        checks.append(
            Attributes("impersonate", resource="serviceaccounts", namespace=ns, name=name)
        )
        if not groups:
            groups = ["system:serviceaccounts", f"system:serviceaccounts:{ns}"]
    else:
        checks.append(Attributes("impersonate", resource="users", name=username))
    checks += [Attributes("impersonate", resource="groups", name=g) for g in groups]
    if uid:
        checks.append(
            Attributes("impersonate", group="authentication.k8s.io", resource="uids", name=uid)
        )
    for key, values in extra.items():
        for value in values:
            checks.append(
                Attributes(
                    "impersonate",
                    group="authentication.k8s.io",
                    resource="userextras",
                    subresource=key,
                    name=value,
                )
            )
    for attrs in checks:
        if not may(user, attrs):
            raise forbidden(user.username, attrs)
    if username == ANONYMOUS:
        if UNAUTHENTICATED not in groups:
            groups.append(UNAUTHENTICATED)
    elif AUTHENTICATED not in groups:
        groups.append(AUTHENTICATED)
    return UserInfo(username, uid, tuple(groups), extra)
