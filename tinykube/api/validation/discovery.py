"""Validation for ``discovery.k8s.io/v1``: EndpointSlice addresses and ports.

``addressType`` decides how every address is read (an IPv4 slice holds only
IPv4 addresses), so it may not change after creation.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from tinykube.api.errors import FieldError, invalid, not_supported, required
from tinykube.api.validation import names
from tinykube.api.validation.common import as_dict, as_list, child, immutable, index
from tinykube.api.validation.pod import validate_protocol

ADDRESS_TYPES = ["FQDN", "IPv4", "IPv6"]
MAX_ADDRESSES = 100


def validate_endpoint_slice(obj: dict[str, Any]) -> list[FieldError]:
    kind = obj.get("addressType")
    if not kind:
        return [required("addressType")]
    if kind not in ADDRESS_TYPES:
        return [not_supported("addressType", kind, ADDRESS_TYPES)]
    errs: list[FieldError] = []
    for i, endpoint in enumerate(as_list(obj.get("endpoints"))):
        path = child(index("endpoints", i), "addresses")
        addresses = as_list(as_dict(endpoint).get("addresses"))
        if not addresses:
            errs.append(required(path, "must contain at least 1 address"))
        elif len(addresses) > MAX_ADDRESSES:
            detail = f"must have at most {MAX_ADDRESSES} items"
            errs.append(FieldError(path, "Too many", detail, len(addresses), True))
        for j, address in enumerate(addresses):
            errs += _address(str(address), kind, index(path, j))
    for i, port in enumerate(as_list(obj.get("ports"))):
        errs += _port(as_dict(port), index("ports", i))
    return errs


def _address(address: str, kind: str, path: str) -> list[FieldError]:
    if kind == "FQDN":
        return [invalid(path, address, m) for m in names.is_dns1123_subdomain(address)]
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        parsed = None
    if parsed is None or (parsed.version == 4) != (kind == "IPv4"):
        return [invalid(path, address, f"must be a valid {kind} address")]
    return []


def _port(port: dict[str, Any], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    name = port.get("name")
    if name:
        errs += [invalid(child(path, "name"), name, m) for m in names.is_dns1123_label(name)]
    number = port.get("port")
    if number is not None:
        errs += [invalid(child(path, "port"), number, m) for m in names.is_valid_port_num(number)]
    errs += validate_protocol(port.get("protocol"), child(path, "protocol"))
    return errs


def validate_endpoint_slice_update(new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
    return immutable("addressType", new.get("addressType"), old.get("addressType"))


VALIDATORS = {"EndpointSlice": (validate_endpoint_slice, validate_endpoint_slice_update)}
