"""``kubectl cluster-info``: the control plane address and the cluster services."""

from __future__ import annotations

from typing import Any

from tinykube.kubectl.flags import Flag

FLAGS: list[Flag] = []
GREEN, YELLOW, RESET = "\x1b[0;32m", "\x1b[0;33m", "\x1b[0m"


async def run(f: Any, o: Any) -> int:
    if o.args[:1] == ["dump"]:
        from tinykube.kubectl.errors import CommandError

        raise CommandError("cluster-info dump is not supported by tkctl yet")
    global GREEN, YELLOW, RESET
    if not f.out.isatty():  # kubectl colours only a terminal
        GREEN = YELLOW = RESET = ""
    await f.client.call("GET", "/version")  # fail here, as kubectl does, when the server is away
    out = f"{GREEN}Kubernetes control plane{RESET} is running at {YELLOW}{f.config.server}{RESET}\n"
    params = {"labelSelector": "kubernetes.io/cluster-service=true"}
    services = await f.client.call("GET", "/api/v1/namespaces/kube-system/services", params=params)
    for svc in services.get("items") or []:
        meta = svc.get("metadata") or {}
        name = (meta.get("labels") or {}).get("kubernetes.io/name") or meta.get("name", "")
        port = ((svc.get("spec") or {}).get("ports") or [{}])[0]
        link = f"{meta.get('name')}:{port.get('name')}" if port.get("name") else meta.get("name")
        url = f"{f.config.server}/api/v1/namespaces/kube-system/services/{link}/proxy"
        out += f"{GREEN}{name}{RESET} is running at {YELLOW}{url}{RESET}\n"
    f.out.write(
        out + "\nTo further debug and diagnose cluster problems, use 'kubectl cluster-info dump'.\n"
    )
    return 0
