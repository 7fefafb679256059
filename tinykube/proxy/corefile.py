"""The Corefile: what ``kube-system/coredns`` configures, read as CoreDNS reads it.

kubeadm ships CoreDNS with a ConfigMap holding its Corefile, and that file is
where a cluster's DNS is changed: a stub domain forwarded to a company
resolver, a different upstream than the node's resolv.conf, a few names
pinned in a ``hosts`` block. ``tinykube dns --conf`` reads the same file (the
ConfigMap mounted into the pod) and takes from it the parts that change
answers; everything else (errors, health, ready, prometheus, cache, loop,
reload, loadbalance, ...) is accepted and has no effect here.

What is understood, per server block (``.:53 { ... }``, ``corp.example:53
{ ... }``):

- ``kubernetes ZONES... { ttl N ... }``: the cluster domain is the first zone
  that is not a reverse zone, and ``ttl`` (0 to 3600) the TTL of its records
  (kubeadm's Corefile says 30; without it, the plugin's default of 5);
- ``forward FROM TO...``: FROM ``.`` in the root block sets the upstreams,
  any other FROM (or a block for another zone) makes a stub domain; each TO
  is an address with an optional ``:port`` (``dns://`` allowed) or a
  resolv.conf path whose nameservers are used;
- ``loadbalance``: the address records of an answer come in random order,
  so clients that take the first one spread over a headless Service's pods
  (on by default, as in kubeadm's Corefile; a Corefile without it turns it
  off);
- ``hosts [FILE] [ZONES...] { IP NAME...  fallthrough }``: inline entries
  and a hosts file; without ``fallthrough`` the plugin answers every name of
  its zones, NXDOMAIN when it has none, exactly like CoreDNS (so a cluster
  whose ``hosts`` block forgets ``fallthrough`` breaks, as it would there).

``parse`` turns the text into ``DNSConfig``; a file that cannot be parsed
raises ``CorefileError`` with the line, and the server keeps the config it
had (CoreDNS's ``reload`` does the same).
"""

from __future__ import annotations

import ipaddress
import random
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from dnslib import AAAA, QTYPE, RCODE, RR, A, DNSRecord

DEFAULT_PORT = 53
Upstream = tuple[str, int]
# Reads the nameservers of a resolv.conf a ``forward`` names (a seam for tests).
ResolvReader = Callable[[Path], list[str]]


class CorefileError(ValueError):
    """A Corefile that cannot be read; the message names the line."""


@dataclass
class Directive:
    name: str
    args: list[str]
    body: list[list[str]]  # the lines of its block, if it has one
    line: int


@dataclass
class ServerBlock:
    zones: list[str]  # normalised: lower case, ending in "."
    directives: list[Directive]


@dataclass
class Hosts:
    """One ``hosts`` plugin: names to addresses, and the zones it answers for."""

    entries: dict[str, list[str]] = field(default_factory=dict)
    zones: list[str] = field(default_factory=lambda: ["."])
    fallthrough: bool = False

    def owns(self, name: str) -> bool:
        return any(in_zone(name, zone) for zone in self.zones)


@dataclass
class DNSConfig:
    """What a Corefile says about answers; ``None`` upstreams mean "the resolv.conf given"."""

    domain: str = "cluster.local"
    ttl: int | None = None
    loadbalance: bool = True
    upstreams: list[Upstream] | None = None
    stubs: dict[str, list[Upstream]] = field(default_factory=dict)
    hosts: list[Hosts] = field(default_factory=list)

    def stub_for(self, name: str) -> list[Upstream] | None:
        """The upstreams of the most specific stub domain ``name`` is in, if any."""
        matches = [zone for zone in self.stubs if in_zone(name, zone)]
        return self.stubs[max(matches, key=len)] if matches else None


def in_zone(name: str, zone: str) -> bool:
    name, zone = fqdn(name), fqdn(zone)
    return zone == "." or name == zone or name.endswith("." + zone)


def fqdn(name: str) -> str:
    name = name.strip().lower()
    return name if name.endswith(".") else name + "."


# ---- syntax ------------------------------------------------------------------------------


def _tokens(text: str) -> list[tuple[int, str]]:
    """(line, token) pairs; braces are tokens of their own, comments are dropped."""
    out: list[tuple[int, str]] = []
    for n, line in enumerate(text.splitlines(), 1):
        lexer = shlex.shlex(line, posix=True)
        lexer.whitespace_split = True
        lexer.commenters = "#"
        try:
            words = list(lexer)
        except ValueError as exc:
            raise CorefileError(f"line {n}: {exc}") from None
        for word in words:
            for piece in _split_braces(word):
                out.append((n, piece))
    return out


def _split_braces(word: str) -> list[str]:
    pieces, current = [], ""
    for ch in word:
        if ch in "{}":
            if current:
                pieces.append(current)
            pieces.append(ch)
            current = ""
        else:
            current += ch
    return [*pieces, current] if current else pieces


def parse_blocks(text: str) -> list[ServerBlock]:
    """The server blocks of a Corefile, each with its directives."""
    tokens = _tokens(text)
    blocks: list[ServerBlock] = []
    i = 0
    while i < len(tokens):
        keys: list[str] = []
        while i < len(tokens) and tokens[i][1] != "{":
            if tokens[i][1] == "}":
                raise CorefileError(f"line {tokens[i][0]}: unexpected '}}'")
            keys += [k for k in tokens[i][1].split(",") if k]
            i += 1
        if i >= len(tokens):
            raise CorefileError(f"line {tokens[-1][0]}: server block without '{{'")
        directives, i = _directives(tokens, i + 1)
        blocks.append(ServerBlock([_zone_of_key(k) for k in keys] or ["."], directives))
    return blocks


def _directives(tokens: list[tuple[int, str]], i: int) -> tuple[list[Directive], int]:
    out: list[Directive] = []
    while True:
        if i >= len(tokens):
            raise CorefileError(f"line {tokens[-1][0]}: missing '}}'")
        line, word = tokens[i]
        if word == "}":
            return out, i + 1
        if word == "{":
            raise CorefileError(f"line {line}: unexpected '{{'")
        args: list[str] = []
        i += 1
        while i < len(tokens) and tokens[i][0] == line and tokens[i][1] not in "{}":
            args.append(tokens[i][1])
            i += 1
        body: list[list[str]] = []
        if i < len(tokens) and tokens[i][1] == "{":
            body, i = _body(tokens, i + 1)
        out.append(Directive(word.lower(), args, body, line))


def _body(tokens: list[tuple[int, str]], i: int) -> tuple[list[list[str]], int]:
    """The lines of a directive's block (nested blocks flattened into it)."""
    lines: dict[int, list[str]] = {}
    depth = 1
    while i < len(tokens):
        line, word = tokens[i]
        i += 1
        if word == "{":
            depth += 1
        elif word == "}":
            depth -= 1
            if depth == 0:
                return list(lines.values()), i
        else:
            lines.setdefault(line, []).append(word)
    raise CorefileError(f"line {tokens[-1][0]}: missing '}}'")


def _zone_of_key(key: str) -> str:
    key = key.lower()
    for scheme in ("dns://", "udp://", "tcp://"):
        key = key.removeprefix(scheme)
    if key.startswith(":"):
        return "."
    zone = key.rsplit(":", 1)[0] if key.count(":") == 1 else key
    return fqdn(zone)


# ---- meaning -----------------------------------------------------------------------------


def parse(text: str, *, resolv_reader: ResolvReader | None = None) -> DNSConfig:
    """The ``DNSConfig`` a Corefile describes (``resolv_reader`` reads a TO that is a path)."""
    read = resolv_reader or read_nameservers
    config = DNSConfig(loadbalance=False)
    for block in parse_blocks(text):
        root = "." in block.zones
        for d in block.directives:
            if d.name == "kubernetes":
                zones = [fqdn(z) for z in d.args] or block.zones
                forward = [z for z in zones if not z.endswith(".arpa.") and z != "."]
                if root and forward:
                    config.domain = forward[0].rstrip(".")
                    config.ttl = _ttl(d, config.ttl)
            elif d.name == "forward":
                _forward(config, block, d, read)
            elif d.name == "hosts":
                config.hosts.append(_hosts(block, d))
            elif d.name == "loadbalance" and root:
                config.loadbalance = True
    return config


def _ttl(d: Directive, default: int | None) -> int | None:
    for words in d.body:
        if words[0] == "ttl":
            value = words[1] if len(words) == 2 else ""
            if not value.isdigit() or not 0 <= int(value) <= 3600:
                raise CorefileError(f"line {d.line}: ttl must be a number from 0 to 3600")
            return int(value)
    return default


def read_nameservers(path: Path) -> list[str]:
    try:
        text = path.read_text()
    except OSError:
        return []
    return [
        parts[1]
        for parts in (line.split() for line in text.splitlines())
        if len(parts) >= 2 and parts[0] == "nameserver"
    ]


def _forward(config: DNSConfig, block: ServerBlock, d: Directive, read: ResolvReader) -> None:
    if len(d.args) < 2:
        raise CorefileError(f"line {d.line}: forward needs FROM and at least one TO")
    origin, targets = fqdn(d.args[0]), d.args[1:]
    upstreams: list[Upstream] = []
    for target in targets:
        if target.startswith("/"):
            upstreams += [(ip, DEFAULT_PORT) for ip in read(Path(target))]
        else:
            upstreams.append(_upstream(target, d.line))
    zones = block.zones if origin == "." else [origin]
    for zone in zones:
        if zone == ".":
            config.upstreams = upstreams
        else:
            config.stubs[zone] = upstreams


def _upstream(target: str, line: int) -> Upstream:
    for scheme in ("dns://", "udp://"):
        target = target.removeprefix(scheme)
    host, port = target, DEFAULT_PORT
    if target.startswith("["):  # [v6]:port
        host, _, rest = target[1:].partition("]")
        port = int(rest[1:]) if rest.startswith(":") else DEFAULT_PORT
    elif target.count(":") == 1:
        host, _, number = target.partition(":")
        port = int(number) if number.isdigit() else -1
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise CorefileError(f"line {line}: not an IP address: {target!r}") from None
    if not 0 < port < 65536:
        raise CorefileError(f"line {line}: bad port in {target!r}")
    return host, port


def _hosts(block: ServerBlock, d: Directive) -> Hosts:
    # hosts [FILE [ZONES...]]: a first argument is always the file.
    hosts = Hosts(zones=[fqdn(z) for z in d.args[1:]] or list(block.zones))
    lines = _hosts_file(Path(d.args[0])) if d.args else []
    for words in d.body:
        if words[0] == "fallthrough":
            hosts.fallthrough = True
        elif words[0] in ("ttl", "reload", "no_reverse"):
            continue
        else:
            lines.append(words)
    for words in lines:
        try:
            ip = str(ipaddress.ip_address(words[0]))
        except ValueError:
            raise CorefileError(
                f"line {d.line}: not an IP address in hosts: {words[0]!r}"
            ) from None
        for name in words[1:]:
            hosts.entries.setdefault(fqdn(name), []).append(ip)
    return hosts


def _hosts_file(path: Path) -> list[list[str]]:
    try:
        text = path.read_text()
    except OSError:
        return []
    return [
        words
        for words in (line.split("#", 1)[0].split() for line in text.splitlines())
        if len(words) >= 2
    ]


# ---- answers -----------------------------------------------------------------------------

HOSTS_TTL = 3600  # the hosts plugin's default


def hosts_answer(config: DNSConfig, query: DNSRecord) -> DNSRecord | None:
    """The reply of the first ``hosts`` plugin that answers ``query``, else None.

    A plugin answers the names it lists; a name of its zones it does not list
    is NXDOMAIN, unless it has ``fallthrough`` (then the next one decides).
    """
    name = fqdn(str(query.q.qname))
    for hosts in config.hosts:
        if not hosts.owns(name):
            continue
        ips = hosts.entries.get(name)
        if not ips and hosts.fallthrough:
            continue
        reply = query.reply()
        reply.header.ra = 1
        if not ips:
            reply.header.rcode = RCODE.NXDOMAIN
            return reply
        qtype = query.q.qtype
        for ip in ips:
            v6 = ":" in ip
            if qtype in (QTYPE.ANY, QTYPE.AAAA if v6 else QTYPE.A):
                rdata = AAAA(ip) if v6 else A(ip)
                rtype = QTYPE.AAAA if v6 else QTYPE.A
                reply.add_answer(RR(query.q.qname, rtype, rdata=rdata, ttl=HOSTS_TTL))
        if not reply.rr and hosts.fallthrough:
            continue  # the name exists here, but not with this type: let others try
        return reply
    return None


def shuffle_addresses(reply: DNSRecord, rng: random.Random) -> None:
    """Put the A/AAAA records of ``reply`` in random order, behind any CNAMEs (loadbalance)."""
    addresses = [rr for rr in reply.rr if rr.rtype in (QTYPE.A, QTYPE.AAAA)]
    if len(addresses) < 2:
        return
    rng.shuffle(addresses)
    cnames = [rr for rr in reply.rr if rr.rtype == QTYPE.CNAME]
    rest = [rr for rr in reply.rr if rr.rtype not in (QTYPE.A, QTYPE.AAAA, QTYPE.CNAME)]
    reply.rr = cnames + addresses + rest
