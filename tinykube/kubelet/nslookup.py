"""``nslookup`` for containers that run from the host's filesystem, where none is installed.

The CKA way to check cluster DNS is ``kubectl run t --image=busybox:1.28 --rm
-it -- nslookup kubernetes.default``. A container without a stored image runs
its command from the host, and hosts rarely carry ``nslookup`` (it comes with
dnsutils or bind9-host), so the process runtime puts this one at the end of
such containers' PATH (a real one on the host wins). It reads the container's
``/etc/resolv.conf`` (the pod's, bind-mounted by the runtime), applies its
``search`` list and ``ndots`` as the resolver does, asks the first
nameserver over UDP (``-port=N`` for another port), and prints what bind's
nslookup prints::

    Server:		10.96.0.10
    Address:	10.96.0.10#53

    Name:	kubernetes.default.svc.cluster.local
    Address: 10.96.0.1

Exit status 1 with ``** server can't find NAME: NXDOMAIN`` when no name of the
search list resolves. ``nslookup NAME SERVER`` asks SERVER instead.
"""

from __future__ import annotations

import ipaddress
import socket
import sys
from pathlib import Path

from dnslib import QTYPE, RCODE, DNSRecord

TIMEOUT = 2.0
ATTEMPTS = 3


def read_resolv_conf(path: Path = Path("/etc/resolv.conf")) -> tuple[list[str], list[str], int]:
    """(nameservers, search domains, ndots) as the stub resolver reads them."""
    servers: list[str] = []
    search: list[str] = []
    ndots = 1
    try:
        text = path.read_text()
    except OSError:
        text = ""
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        if words[0] == "nameserver" and len(words) > 1:
            servers.append(words[1])
        elif words[0] in ("search", "domain"):
            search = words[1:]
        elif words[0] == "options":
            for option in words[1:]:
                if option.startswith("ndots:") and option[6:].isdigit():
                    ndots = int(option[6:])
    return servers or ["127.0.0.1"], search, ndots


def candidates(name: str, search: list[str], ndots: int) -> list[str]:
    """The names the resolver tries, in order (an absolute name is tried alone)."""
    if name.endswith("."):
        return [name]
    expanded = [f"{name}.{domain}." for domain in search]
    return [f"{name}.", *expanded] if name.count(".") >= ndots else [*expanded, f"{name}."]


PORT = 53


def query(server: str, name: str, qtype: str) -> DNSRecord:
    """One question, tried ATTEMPTS times as bind's nslookup does (UDP may be dropped)."""
    packet = DNSRecord.question(name, qtype).pack()
    family = socket.AF_INET6 if ":" in server else socket.AF_INET
    for attempt in range(ATTEMPTS):
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            sock.settimeout(TIMEOUT)
            sock.sendto(packet, (server, PORT))
            try:
                data, _ = sock.recvfrom(65535)
            except TimeoutError:
                if attempt == ATTEMPTS - 1:
                    raise
                continue
        return DNSRecord.parse(data)
    raise TimeoutError("no answer")


def lookup(name: str, server: str, search: list[str], ndots: int) -> tuple[str, list[str]]:
    """(the name that resolved, its addresses); ("", []) when none did."""
    for fqdn in candidates(name, search, ndots):
        addresses: list[str] = []
        found = False
        for qtype in ("A", "AAAA"):
            reply = query(server, fqdn, qtype)
            if reply.header.rcode != RCODE.NOERROR:
                continue
            found = True
            addresses += [str(rr.rdata) for rr in reply.rr if rr.rtype in (QTYPE.A, QTYPE.AAAA)]
        if found and addresses:
            return fqdn.rstrip("."), addresses
    return "", []


def reverse(address: str, server: str) -> list[str]:
    reply = query(server, ipaddress.ip_address(address).reverse_pointer + ".", "PTR")
    return [str(rr.rdata).rstrip(".") for rr in reply.rr if rr.rtype == QTYPE.PTR]


def main(argv: list[str], resolv_conf: Path = Path("/etc/resolv.conf")) -> int:
    global PORT
    for option in (a for a in argv if a.startswith("-port=")):
        PORT = int(option.removeprefix("-port="))
    args = [a for a in argv if not a.startswith("-")]
    if not args:
        print("Usage: nslookup NAME [SERVER]", file=sys.stderr)
        return 1
    name = args[0]
    servers, search, ndots = read_resolv_conf(resolv_conf)
    server = args[1] if len(args) > 1 else servers[0]
    print(f"Server:\t\t{server}\nAddress:\t{server}#{PORT}\n")
    try:
        with_ip = ipaddress.ip_address(name)
    except ValueError:
        with_ip = None
    try:
        if with_ip is not None:
            names = reverse(name, server)
            for ptr in names:
                print(f"{with_ip.reverse_pointer}\tname = {ptr}.")
            if not names:
                print(f"** server can't find {with_ip.reverse_pointer}: NXDOMAIN")
                return 1
            return 0
        fqdn, addresses = lookup(name, server, search, ndots)
    except (OSError, ValueError) as exc:
        print(f";; connection timed out; no servers could be reached ({exc})")
        return 1
    if not addresses:
        print(f"** server can't find {name}: NXDOMAIN\n")
        return 1
    for address in addresses:
        print(f"Name:\t{fqdn}\nAddress: {address}")
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
