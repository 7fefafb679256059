"""Defaults for ``discovery.k8s.io/v1``: EndpointSlice ports get a name and TCP."""

from __future__ import annotations

from typing import Any


def default_endpoint_slice(slice_: dict[str, Any]) -> None:
    for port in slice_.get("ports") or []:
        if isinstance(port, dict):
            port.setdefault("name", "")
            port.setdefault("protocol", "TCP")


DEFAULTERS = {"EndpointSlice": default_endpoint_slice}
