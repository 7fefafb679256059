"""``kubectl create token SA``: ask the API server for a service account token."""

from __future__ import annotations

from typing import Any

from tinykube.kubectl.durations import parse_duration
from tinykube.kubectl.errors import CommandError


async def create_token(f: Any, o: Any, args: list[str]) -> int:
    if len(args) != 1:
        raise CommandError(
            "TOKEN is required" if not args else "exactly one SERVICEACCOUNT is required"
        )
    spec: dict[str, Any] = {}
    if o.audience:
        spec["audiences"] = list(o.audience)
    seconds = int(parse_duration(o.duration))
    if seconds:
        spec["expirationSeconds"] = seconds
    body = {
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenRequest",
        "metadata": {},
        "spec": spec,
    }
    mapping = await f.discovery.find("serviceaccounts")
    answer = await f.client.call("POST", mapping.path(f.namespace, args[0], "token"), body=body)
    f.out.write((answer.get("status") or {}).get("token", "") + "\n")
    return 0
