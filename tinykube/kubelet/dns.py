"""A pod's /etc/resolv.conf, from its ``dnsPolicy`` and ``dnsConfig``, as upstream writes it.

- ``ClusterFirst`` (the default): the cluster DNS servers (``--cluster-dns``),
  search ``<ns>.svc.<domain> svc.<domain> <domain>`` then the host's search
  list, ``options ndots:5``. Without ``--cluster-dns`` there is no cluster DNS
  to point at, and the kubelet falls back to ``Default``, as upstream does.
- ``ClusterFirst`` on a ``hostNetwork`` pod means ``Default``;
  ``ClusterFirstWithHostNet`` means ``ClusterFirst`` for it.
- ``Default``: the host's resolv.conf (the node's resolver).
- ``None``: only what ``dnsConfig`` gives.

``dnsConfig`` then adds nameservers and searches and sets options (a later
option of the same name replaces an earlier one). Pure; the caller reads the
host's file.
"""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]

MAX_NAMESERVERS = 3


def effective_policy(spec: Obj, cluster_dns: list[str]) -> str:
    policy = spec.get("dnsPolicy") or "ClusterFirst"
    host_network = bool(spec.get("hostNetwork"))
    if policy == "ClusterFirstWithHostNet":
        policy = "ClusterFirst"
    elif policy == "ClusterFirst" and host_network:
        policy = "Default"
    if policy == "ClusterFirst" and not cluster_dns:
        policy = "Default"
    return policy


def parse_resolv(text: str) -> tuple[list[str], list[str], list[str]]:
    nameservers: list[str] = []
    searches: list[str] = []
    options: list[str] = []
    for line in text.splitlines():
        fields = line.split("#", 1)[0].split()
        if not fields:
            continue
        if fields[0] == "nameserver" and len(fields) > 1:
            nameservers.append(fields[1])
        elif fields[0] in ("search", "domain"):
            searches = fields[1:]
        elif fields[0] == "options":
            options.extend(fields[1:])
    return nameservers, searches, options


def _merge_options(options: list[str], extra: list[Obj]) -> list[str]:
    merged: dict[str, str] = {}
    for opt in options:
        merged[opt.partition(":")[0]] = opt
    for item in extra:
        name = item.get("name", "")
        merged[name] = f"{name}:{item['value']}" if item.get("value") else name
    return list(merged.values())


def resolv_conf(pod: Obj, cluster_dns: list[str], cluster_domain: str, host_resolv: str) -> str:
    spec = pod.get("spec") or {}
    namespace = pod["metadata"].get("namespace", "default")
    policy = effective_policy(spec, cluster_dns)
    host_ns, host_search, host_options = parse_resolv(host_resolv)
    nameservers: list[str] = []
    searches: list[str] = []
    options: list[str] = []
    if policy == "Default":
        nameservers, searches, options = host_ns, host_search, host_options
    elif policy == "ClusterFirst":
        nameservers = list(cluster_dns)
        domain = cluster_domain
        searches = [f"{namespace}.svc.{domain}", f"svc.{domain}", domain, *host_search]
        options = ["ndots:5"]
    config = spec.get("dnsConfig") or {}
    nameservers = (nameservers + list(config.get("nameservers") or []))[:MAX_NAMESERVERS]
    for search in config.get("searches") or []:
        if search not in searches:
            searches.append(search)
    options = _merge_options(options, config.get("options") or [])
    lines = []
    if searches:
        lines.append("search " + " ".join(searches))
    lines += [f"nameserver {ns}" for ns in nameservers]
    if options:
        lines.append("options " + " ".join(options))
    return "\n".join(lines) + "\n"


def pod_domain(pod: Obj, cluster_domain: str) -> str:
    """``<subdomain>.<ns>.svc.<domain>`` for a pod with a subdomain, else empty."""
    spec = pod.get("spec") or {}
    subdomain = spec.get("subdomain")
    if not subdomain:
        return ""
    return f"{subdomain}.{pod['metadata'].get('namespace', 'default')}.svc.{cluster_domain}"


def host_aliases(pod: Obj) -> list[tuple[str, list[str]]]:
    return [
        (alias.get("ip", ""), list(alias.get("hostnames") or []))
        for alias in (pod.get("spec") or {}).get("hostAliases") or []
    ]
