"""Printers for Ingresses, IngressClasses, NetworkPolicies and EndpointSlices.

List-valued cells show at most three items and then ``+ N more...``; an
Ingress without rule hosts shows ``*`` and its PORTS are ``80`` or
``80, 443`` depending only on whether TLS is configured.
"""

from __future__ import annotations

from datetime import datetime

from tinykube.api.tables._common import (
    AGE,
    NAME,
    NONE,
    Cells,
    Obj,
    Printer,
    age_of,
    col,
    dig,
    label_selector_text,
    more_list,
    name_of,
)

_MAX_ITEMS = 3


def ingress_hosts(ing: Obj) -> str:
    rules = dig(ing, "spec", "rules", default=[])
    hosts: list[str] = []
    more = False
    for rule in rules:
        # Rules without a host are skipped; any rule after the third host means "more".
        more = more or len(hosts) == _MAX_ITEMS
        if not more and rule.get("host"):
            hosts.append(str(rule["host"]))
    if not hosts:
        return "*"
    text = ",".join(hosts)
    return f"{text} + {len(rules) - _MAX_ITEMS} more..." if more else text


def ingress_address(ing: Obj) -> str:
    found = set()
    for point in dig(ing, "status", "loadBalancer", "ingress", default=[]):
        value = point.get("ip") or point.get("hostname")
        if value:
            found.add(str(value))
    return ",".join(sorted(found))


def _ingress_cells(ing: Obj, now: datetime) -> Cells:
    return [
        name_of(ing),
        dig(ing, "spec", "ingressClassName") or NONE,
        ingress_hosts(ing),
        ingress_address(ing),
        "80, 443" if dig(ing, "spec", "tls") else "80",
        age_of(ing, now),
    ]


INGRESS = Printer(
    (
        NAME,
        col("Class", "The IngressClass that handles the ingress."),
        col("Hosts", "Hosts the rules match."),
        col("Address", "Load-balancer addresses serving the ingress."),
        col("Ports", "Ports the ingress listens on."),
        AGE,
    ),
    _ingress_cells,
)


def ingress_class_parameters(ic: Obj) -> str:
    params = dig(ic, "spec", "parameters")
    if not params:
        return NONE
    kind = str(params.get("kind", ""))
    if params.get("apiGroup") is not None:
        kind += "." + str(params["apiGroup"])
    return f"{kind}/{params.get('name', '')}"


INGRESS_CLASS = Printer(
    (
        NAME,
        col("Controller", "The controller that implements the class."),
        col("Parameters", "The object holding the class's parameters."),
        AGE,
    ),
    lambda ic, now: [
        name_of(ic),
        dig(ic, "spec", "controller", default=""),
        ingress_class_parameters(ic),
        age_of(ic, now),
    ],
)

NETWORK_POLICY = Printer(
    (NAME, col("Pod-Selector", "The pods the policy applies to."), AGE),
    lambda np, now: [
        name_of(np),
        # The selector is a struct, not a pointer: a missing one is empty, not nil.
        label_selector_text(dig(np, "spec", "podSelector", default={})),
        age_of(np, now),
    ],
)


def slice_ports(es: Obj) -> str:
    ports = es.get("ports") or []
    shown = []
    for port in ports[:_MAX_ITEMS]:
        if port.get("port") is not None:
            shown.append(str(port["port"]))
        else:
            shown.append("*" if port.get("name") is None else str(port["name"]))
    return more_list(shown, len(ports), _MAX_ITEMS, "<unset>")


def slice_endpoints(es: Obj) -> str:
    addresses = [str(a) for ep in es.get("endpoints") or [] for a in ep.get("addresses") or []]
    return more_list(addresses, len(addresses), _MAX_ITEMS, "<unset>")


ENDPOINT_SLICE = Printer(
    (
        NAME,
        col("AddressType", "IPv4, IPv6 or FQDN."),
        col("Ports", "Up to three port numbers."),
        col("Endpoints", "Up to three endpoint addresses."),
        AGE,
    ),
    lambda es, now: [
        name_of(es),
        es.get("addressType", ""),
        slice_ports(es),
        slice_endpoints(es),
        age_of(es, now),
    ],
)

PRINTERS = {
    ("networking.k8s.io", "Ingress"): INGRESS,
    ("networking.k8s.io", "IngressClass"): INGRESS_CLASS,
    ("networking.k8s.io", "NetworkPolicy"): NETWORK_POLICY,
    ("discovery.k8s.io", "EndpointSlice"): ENDPOINT_SLICE,
}
