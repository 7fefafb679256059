"""The pure parts of component health: the healthz answers (k8s.io/apiserver's words), the
leader-election watchdog, the self-signed serving certificate, kubeadm's probes in the
static pod manifests, and how the API server words a ComponentStatus."""

from __future__ import annotations

import asyncio
import errno
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from cryptography import x509
from cryptography.x509.oid import NameOID

from tinykube.api import tables
from tinykube.api.resources import lookup
from tinykube.apiserver import componentstatus
from tinykube.client import healthz
from tinykube.client.clock import FakeClock, settle
from tinykube.client.leaderelection import Callbacks, LeaderElector
from tinykube.cluster import manifests

pytestmark = pytest.mark.unit


def failing(name: str, reason: str = "broken") -> healthz.HealthCheck:
    def check() -> None:
        raise RuntimeError(reason)

    return healthz.HealthCheck(name, check)


# ---- healthz answers ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "checks", "query", "status", "body"),
    [
        ("livez", [], {}, 200, "ok"),
        ("livez", [], {"verbose": ""}, 200, "[+]ping ok\nlivez check passed\n"),
        (
            "healthz",
            [healthz.ping("leaderElection"), healthz.ping("deployment-controller")],
            {"verbose": ""},
            200,
            "[+]leaderElection ok\n[+]deployment-controller ok\nhealthz check passed\n",
        ),
        (
            "healthz",
            [healthz.ping(), failing("leaderElection")],
            {},
            500,
            "[+]ping ok\n[-]leaderElection failed: reason withheld\nhealthz check failed\n",
        ),
        (
            "readyz",
            [failing("leaderElection"), healthz.ping("other")],
            {"exclude": ["leaderElection", "nope", "zz"]},
            200,
            "ok",
        ),
        (
            "readyz",
            [failing("leaderElection")],
            {"exclude": ["leaderElection", "zz", "nope"], "verbose": ""},
            200,
            '[+]leaderElection excluded: ok\nwarn: some health checks cannot be excluded: no matches for "nope","zz"\nreadyz check passed\n',
        ),
    ],
    ids=[
        "plain",
        "no-checks-pings",
        "verbose",
        "failure-withholds-reason",
        "exclude",
        "exclude-warns",
    ],
)
def test_report_words_answers_as_upstream(
    path: str, checks: list[healthz.HealthCheck], query: dict[str, Any], status: int, body: str
) -> None:
    answer = healthz.report(path, checks, query)
    assert (answer.status, answer.body) == (status, body)


def test_failure_reason_goes_to_the_log_only() -> None:
    answer = healthz.report("healthz", [failing("leaderElection", "lease stuck")], {})
    assert "lease stuck" not in answer.body
    assert answer.failures == ("[-]leaderElection failed: lease stuck",)


def test_single_check_path() -> None:
    checks = [healthz.ping(), failing("leaderElection", "lease stuck")]
    ok = healthz.single(checks, "ping")
    bad = healthz.single(checks, "leaderElection")
    assert ok is not None and (ok.status, ok.body) == (200, "ok")
    assert bad is not None and (bad.status, bad.body) == (
        500,
        "internal server error: lease stuck\n",
    )
    assert healthz.single(checks, "missing") is None
    assert healthz.single([], "ping") is not None  # no checks means ping


def test_host_port_brackets_ipv6() -> None:
    assert healthz.host_port("0.0.0.0", 10259) == "0.0.0.0:10259"
    assert healthz.host_port("::", 10257) == "[::]:10257"


def test_self_signed_certificate_names_localhost_and_the_addresses() -> None:
    cert_pem, key_pem = healthz.self_signed(["localhost", "127.0.0.1", "10.1.2.3"])
    cert = x509.load_pem_x509_certificate(cert_pem)
    cn = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert isinstance(cn, str) and cn.startswith("localhost@")
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["localhost"]
    assert [str(a) for a in sans.get_values_for_type(x509.IPAddress)] == ["127.0.0.1", "10.1.2.3"]
    assert cert.not_valid_after_utc > datetime.now(UTC)
    assert b"PRIVATE KEY" in key_pem


# ---- leader-election watchdog ------------------------------------------------------------


class HangingLeases:
    """A lease API that answers until ``hang`` is set, then never again (a stuck call)."""

    def __init__(self) -> None:
        self.lease: dict[str, Any] | None = None
        self.rv = 0
        self.hang = False

    async def _maybe_hang(self) -> None:
        if self.hang:
            await asyncio.Event().wait()

    async def get(self, *args: Any) -> dict[str, Any]:
        await self._maybe_hang()
        if self.lease is None:
            from tinykube.api import errors

            raise errors.NotFound("no lease")
        return dict(self.lease)

    async def create(self, api_version: str, resource: str, obj: dict, ns: str) -> dict:
        return self._store(obj)

    async def update(self, api_version: str, resource: str, obj: dict, ns: str) -> dict:
        await self._maybe_hang()
        return self._store(obj)

    def _store(self, obj: dict) -> dict:
        self.rv += 1
        obj = {**obj, "metadata": {**obj["metadata"], "resourceVersion": str(self.rv)}}
        self.lease = obj
        return dict(obj)


async def test_leader_whose_renewals_hang_turns_unhealthy() -> None:
    leases, clock = HangingLeases(), FakeClock()
    elector = LeaderElector(leases, "kube-system", "kube-scheduler", "me", clock=clock)  # type: ignore[arg-type]
    check = healthz.leader_election(elector)
    task = asyncio.create_task(elector.run(Callbacks(lambda: asyncio.Event().wait())))
    await settle()
    assert elector.is_leader
    await clock.advance(30)
    check.check()  # renewing every 2 s: healthy
    leases.hang = True
    await clock.advance(15 + 20)  # lease duration + tolerance: still tolerated
    check.check()
    await clock.advance(3)
    with pytest.raises(
        RuntimeError, match="failed election to renew leadership on lease kube-scheduler"
    ):
        check.check()
    answer = healthz.report("healthz", [check], {"verbose": ""})
    assert answer.status == 500 and "[-]leaderElection failed: reason withheld" in answer.body
    elector.release_on_cancel = False  # releasing would wait on the hung API for real
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def test_standby_is_healthy_however_old_the_lease() -> None:
    elector = LeaderElector(HangingLeases(), "kube-system", "x", "me", clock=FakeClock())  # type: ignore[arg-type]
    elector.check(20.0)  # never led: nothing to watch


# ---- static pod manifests -----------------------------------------------------------------


def test_manifests_probe_the_health_ports_as_kubeadm(tmp_path: Path) -> None:
    pods = manifests.control_plane(tmp_path, 6443, "127.0.0.1", [], 20259, 20257)
    scheduler = pods["kube-scheduler.yaml"]["spec"]["containers"][0]
    manager = pods["kube-controller-manager.yaml"]["spec"]["containers"][0]
    assert scheduler["command"][-4:] == ["--bind-address", "127.0.0.1", "--secure-port", "20259"]
    assert manager["command"][-4:] == ["--bind-address", "127.0.0.1", "--secure-port", "20257"]
    get = {"host": "127.0.0.1", "port": 20259, "scheme": "HTTPS"}
    assert scheduler["livenessProbe"]["httpGet"] == {**get, "path": "/livez"}
    assert scheduler["startupProbe"]["httpGet"] == {**get, "path": "/livez"}
    assert scheduler["readinessProbe"]["httpGet"] == {**get, "path": "/readyz"}
    assert scheduler["startupProbe"]["failureThreshold"] == 24
    assert scheduler["livenessProbe"]["failureThreshold"] == 8
    assert manager["livenessProbe"]["httpGet"] == {**get, "port": 20257, "path": "/healthz"}
    assert manager["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert "readinessProbe" not in manager
    # No YAML anchors: each probe is written out in full, as kubeadm's files are.
    assert "&id" not in yaml.safe_dump(pods["kube-scheduler.yaml"])


def test_manifests_default_to_upstream_ports(tmp_path: Path) -> None:
    pods = manifests.control_plane(tmp_path, 6443, "127.0.0.1", [])
    ports = {
        name: pod["spec"]["containers"][0]["livenessProbe"]["httpGet"]["port"]
        for name, pod in pods.items()
    }
    assert ports == {
        "kube-apiserver.yaml": 6443,
        "kube-controller-manager.yaml": 10257,
        "kube-scheduler.yaml": 10259,
    }


# ---- ComponentStatus ----------------------------------------------------------------------


def test_api_server_reads_the_ports_from_the_manifests(tmp_path: Path) -> None:
    assert componentstatus.ports(tmp_path) == {"scheduler": 10259, "controller-manager": 10257}
    manifests.write(
        tmp_path / "manifests",
        manifests.control_plane(tmp_path, 6443, "127.0.0.1", [], 21001, 21002),
    )
    assert componentstatus.ports(tmp_path) == {"scheduler": 21001, "controller-manager": 21002}
    (tmp_path / "manifests" / "kube-scheduler.yaml").write_text("not: [a pod")
    assert componentstatus.ports(tmp_path)["scheduler"] == 10259


@pytest.mark.parametrize(
    ("status", "body", "failure", "expected"),
    [
        (200, "ok", "", {"type": "Healthy", "status": "True", "message": "ok"}),
        (
            500,
            "[-]leaderElection failed",
            "",
            {
                "type": "Healthy",
                "status": "False",
                "message": "HTTP probe failed with statuscode: 500",
            },
        ),
        (
            None,
            "",
            'Get "https://127.0.0.1:1/healthz": EOF',
            {
                "type": "Healthy",
                "status": "False",
                "message": 'Get "https://127.0.0.1:1/healthz": EOF',
            },
        ),
    ],
    ids=["healthy", "server-error", "no-answer"],
)
def test_probe_verdicts(status: int | None, body: str, failure: str, expected: dict) -> None:
    assert componentstatus.http_condition(status, body, failure) == expected


def test_go_error_texts() -> None:
    url = "https://127.0.0.1:10259/healthz"
    refused = aiohttp.ClientConnectorError(
        aiohttp.client_reqrep.ConnectionKey("127.0.0.1", 10259, True, True, None, None, None),
        ConnectionRefusedError(errno.ECONNREFUSED, "Connect call failed"),
    )
    assert componentstatus.go_error(url, refused) == (
        'Get "https://127.0.0.1:10259/healthz": dial tcp 127.0.0.1:10259: connect: connection refused'
    )
    assert componentstatus.go_error(url, TimeoutError()) == (
        'Get "https://127.0.0.1:10259/healthz": context deadline exceeded '
        "(Client.Timeout exceeded while awaiting headers)"
    )


def test_table_row_as_kubectl_prints_it() -> None:
    res = lookup("", "v1", "componentstatuses")
    assert res is not None
    now = datetime.now(UTC)
    healthy = componentstatus.component_status("scheduler", componentstatus.condition("True", "ok"))
    refused = componentstatus.component_status(
        "controller-manager", componentstatus.condition("False", "Get ...: refused")
    )
    etcd = componentstatus.component_status(
        "etcd-0", componentstatus.condition("False", error="gone")
    )
    assert [c["name"] for c in tables.column_definitions(res)] == [
        "Name",
        "Status",
        "Message",
        "Error",
    ]
    assert tables.row_cells(res, healthy, now) == ["scheduler", "Healthy", "ok", ""]
    assert tables.row_cells(res, refused, now) == [
        "controller-manager",
        "Unhealthy",
        "Get ...: refused",
        "",
    ]
    assert tables.row_cells(res, etcd, now) == ["etcd-0", "Unhealthy", "", "gone"]
