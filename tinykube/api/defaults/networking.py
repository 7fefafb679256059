"""Defaults for ``networking.k8s.io/v1``.

A NetworkPolicy always governs ingress, and egress too when it has egress
rules; rule ports default to TCP.
"""

from __future__ import annotations

from typing import Any


def default_network_policy(np: dict[str, Any]) -> None:
    spec = np.setdefault("spec", {})
    for direction in ("ingress", "egress"):
        for rule in spec.get(direction) or []:
            for port in (rule or {}).get("ports") or []:
                port.setdefault("protocol", "TCP")
    if not spec.get("policyTypes"):
        types = ["Ingress"]
        if spec.get("egress"):
            types.append("Egress")
        spec["policyTypes"] = types


DEFAULTERS = {"NetworkPolicy": default_network_policy}
