"""The nslookup host-filesystem containers get: the resolver's search rules, bind's output."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from dnslib import QTYPE, RCODE, RR, A, DNSRecord

from tinykube.kubelet import nslookup

RECORDS = {"kubernetes.default.svc.cluster.local.": "10.96.0.1"}


@pytest.fixture
def server() -> Iterator[int]:
    """A UDP DNS server on a free port that knows RECORDS and nothing else."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                data, peer = sock.recvfrom(4096)
            except TimeoutError:
                continue
            query = DNSRecord.parse(data)
            reply = query.reply()
            name = str(query.q.qname)
            if name in RECORDS and query.q.qtype == QTYPE.A:
                reply.add_answer(RR(name, QTYPE.A, rdata=A(RECORDS[name]), ttl=5))
            elif name not in RECORDS:
                reply.header.rcode = RCODE.NXDOMAIN
            sock.sendto(reply.pack(), peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield sock.getsockname()[1]
    stop.set()
    thread.join()
    sock.close()


@pytest.fixture
def resolv(tmp_path: Path) -> Path:
    path = tmp_path / "resolv.conf"
    path.write_text(
        "search default.svc.cluster.local svc.cluster.local cluster.local\n"
        "nameserver 127.0.0.1\noptions ndots:5\n"
    )
    return path


def test_the_search_list_comes_first_below_ndots() -> None:
    search = ["default.svc.cluster.local", "svc.cluster.local"]
    assert nslookup.candidates("kubernetes.default", search, 5) == [
        "kubernetes.default.default.svc.cluster.local.",
        "kubernetes.default.svc.cluster.local.",
        "kubernetes.default.",
    ]
    assert nslookup.candidates("a.b.c", search, 2)[0] == "a.b.c."
    assert nslookup.candidates("x.", search, 5) == ["x."]


def test_a_service_name_resolves_through_the_search_list(
    server: int, resolv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = nslookup.main([f"-port={server}", "kubernetes.default"], resolv)
    assert code == 0
    assert capsys.readouterr().out == (
        f"Server:\t\t127.0.0.1\nAddress:\t127.0.0.1#{server}\n\n"
        "Name:\tkubernetes.default.svc.cluster.local\nAddress: 10.96.0.1\n\n"
    )


def test_an_unknown_name_is_nxdomain(
    server: int, resolv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert nslookup.main([f"-port={server}", "nothing.here"], resolv) == 1
    assert "** server can't find nothing.here: NXDOMAIN" in capsys.readouterr().out
