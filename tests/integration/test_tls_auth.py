"""TLS and authentication against real clients.

A real aiohttp HTTPS server on a loopback port uses ``server_ssl_context`` and a middleware
that calls ``Authenticator``; then the real kubectl binary, the official Python client and
a plain ``ssl`` client talk to it with the credentials tinykube writes. ``/healthz`` answers
``ok`` and ``/whoami`` echoes the authenticated user, so each test asserts on who the
server saw, not just on a status code.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import shutil
import socket
import ssl
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kubernetes
import pytest
from aiohttp import web

from tinykube.apiserver.auth import Authenticator, UserInfo, unauthorized_response
from tinykube.apiserver.kubeconfig import write_admin_kubeconfig, write_kubeconfig
from tinykube.apiserver.tls import Pki, ensure_pki, issue_client_cert, server_ssl_context
from tinykube.apiserver.tokens import issue_service_account_token

pytestmark = pytest.mark.integration

UNAUTHORIZED_BODY = {
    "kind": "Status",
    "apiVersion": "v1",
    "metadata": {},
    "status": "Failure",
    "message": "Unauthorized",
    "reason": "Unauthorized",
    "code": 401,
}
STATIC_TOKEN = "static-token-for-alice"
USER = web.RequestKey("user", UserInfo)


def kubectl_binary() -> str:
    """The kubectl pinned in the venv next to this interpreter, else the one on PATH."""
    pinned = Path(sys.executable).parent / "kubectl"
    if pinned.exists():
        return str(pinned)
    found = shutil.which("kubectl")
    if found is None:
        pytest.skip("kubectl is not installed")
    return found


@dataclass
class Server:
    url: str
    port: int
    pki: Pki
    data_dir: Path


@pytest.fixture(scope="module")
def pki_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Pki]:
    data_dir = tmp_path_factory.mktemp("data")
    token_file = data_dir / "tokens.csv"
    token_file.write_text(f'{STATIC_TOKEN},alice,alice-uid,"devs,ops"\n')
    return data_dir, ensure_pki(data_dir, hosts=[], ips=[])


def build_app(authenticator: Authenticator) -> web.Application:
    @web.middleware
    async def authenticate(request: web.Request, handler: Any) -> web.StreamResponse:
        user = authenticator.authenticate(request)
        if user is None:
            return unauthorized_response()
        request[USER] = user
        return await handler(request)

    async def healthz(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def whoami(request: web.Request) -> web.Response:
        user = request[USER]
        body = {"username": user.username, "uid": user.uid, "groups": list(user.groups)}
        return web.json_response(body | {"extra": user.extra})

    app = web.Application(middlewares=[authenticate])
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/whoami", whoami)
    return app


@pytest.fixture
async def server(pki_dir: tuple[Path, Pki]) -> AsyncIterator[Server]:
    data_dir, pki = pki_dir
    authenticator = Authenticator(pki, data_dir / "tokens.csv")
    runner = web.AppRunner(build_app(authenticator))
    await runner.setup()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    site = web.SockSite(runner, sock, ssl_context=server_ssl_context(pki))
    await site.start()
    try:
        yield Server(f"https://127.0.0.1:{port}", port, pki, data_dir)
    finally:
        await runner.cleanup()


async def kubectl(kubeconfig: Path, *args: str) -> tuple[int, str, str]:
    home = kubeconfig.parent / "home"
    home.mkdir(exist_ok=True)
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(home)}
    proc = await asyncio.create_subprocess_exec(
        kubectl_binary(),
        f"--kubeconfig={kubeconfig}",
        f"--cache-dir={home / 'cache'}",
        "--request-timeout=10s",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    async with asyncio.timeout(30):
        out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def https_get(
    server: Server,
    path: str,
    *,
    token: str | None = None,
    cert: tuple[Path, Path] | None = None,
) -> tuple[int, bytes]:
    """A GET through the standard library, verifying the server against the cluster CA."""
    ctx = ssl.create_default_context(cafile=str(server.pki.ca_cert_path))
    if cert is not None:
        ctx.load_cert_chain(*cert)
    conn = http.client.HTTPSConnection("127.0.0.1", server.port, context=ctx, timeout=10)
    try:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


# ---- kubectl ---------------------------------------------------------------------------


async def test_kubectl_with_admin_kubeconfig_gets_healthz(server: Server) -> None:
    kubeconfig = write_admin_kubeconfig(server.data_dir, server.url, server.pki)
    code, out, err = await kubectl(kubeconfig, "get", "--raw", "/healthz")
    assert (code, out, err) == (0, "ok", "")


async def test_kubectl_admin_is_seen_as_kubernetes_admin(server: Server) -> None:
    kubeconfig = write_admin_kubeconfig(server.data_dir, server.url, server.pki)
    code, out, _ = await kubectl(kubeconfig, "get", "--raw", "/whoami")
    assert code == 0
    user = json.loads(out)
    assert user["username"] == "kubernetes-admin"
    assert user["groups"] == ["kubeadm:cluster-admins", "system:authenticated"]


async def test_kubectl_with_bad_token_is_told_to_log_in(server: Server, tmp_path: Path) -> None:
    kubeconfig = tmp_path / "bad.kubeconfig"
    write_kubeconfig(
        kubeconfig, server=server.url, ca_pem=server.pki.ca_pem, user="nobody", token="bogus"
    )
    code, _, err = await kubectl(kubeconfig, "get", "--raw", "/healthz")
    assert code == 1
    assert err.strip() == "error: You must be logged in to the server (Unauthorized)"


async def test_kubectl_with_static_token(server: Server, tmp_path: Path) -> None:
    kubeconfig = tmp_path / "alice.kubeconfig"
    write_kubeconfig(
        kubeconfig, server=server.url, ca_pem=server.pki.ca_pem, user="alice", token=STATIC_TOKEN
    )
    code, out, _ = await kubectl(kubeconfig, "get", "--raw", "/whoami")
    assert code == 0
    user = json.loads(out)
    assert (user["username"], user["uid"]) == ("alice", "alice-uid")
    assert user["groups"] == ["devs", "ops", "system:authenticated"]


async def test_kubectl_with_component_certificate(server: Server, tmp_path: Path) -> None:
    cert, key = issue_client_cert(server.pki, "system:node:worker-1", ["system:nodes"], 30)
    kubeconfig = tmp_path / "kubelet.kubeconfig"
    write_kubeconfig(
        kubeconfig,
        server=server.url,
        ca_pem=server.pki.ca_pem,
        user="system:node:worker-1",
        client_cert_pem=cert,
        client_key_pem=key,
    )
    code, out, _ = await kubectl(kubeconfig, "get", "--raw", "/whoami")
    assert code == 0
    assert json.loads(out)["groups"] == ["system:nodes", "system:authenticated"]


# ---- plain ssl client ------------------------------------------------------------------


async def test_anonymous_request_gets_401_status(server: Server) -> None:
    status, body = await asyncio.to_thread(https_get, server, "/healthz")
    assert status == 401
    assert json.loads(body) == UNAUTHORIZED_BODY


async def test_service_account_token_authenticates(server: Server) -> None:
    token, _ = issue_service_account_token(
        server.pki, namespace="ci", name="builder", uid="sa-uid-1", audiences=None
    )
    status, body = await asyncio.to_thread(https_get, server, "/whoami", token=token)
    assert status == 200
    user = json.loads(body)
    assert user["username"] == "system:serviceaccount:ci:builder"
    assert user["uid"] == "sa-uid-1"
    assert user["groups"] == [
        "system:serviceaccounts",
        "system:serviceaccounts:ci",
        "system:authenticated",
    ]


async def test_token_for_another_audience_is_refused(server: Server) -> None:
    token, _ = issue_service_account_token(
        server.pki, namespace="ci", name="builder", uid="u", audiences=["vault"]
    )
    status, body = await asyncio.to_thread(https_get, server, "/healthz", token=token)
    assert (status, json.loads(body)) == (401, UNAUTHORIZED_BODY)


async def test_server_negotiates_http11_only(server: Server) -> None:
    def negotiate() -> str | None:
        ctx = ssl.create_default_context(cafile=str(server.pki.ca_cert_path))
        ctx.set_alpn_protocols(["h2", "http/1.1"])
        with (
            socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw,
            ctx.wrap_socket(raw, server_hostname="kubernetes.default.svc") as tls,
        ):
            return tls.selected_alpn_protocol()

    assert await asyncio.to_thread(negotiate) == "http/1.1"


async def test_certificate_from_another_ca_is_refused(server: Server, tmp_path: Path) -> None:
    foreign = ensure_pki(tmp_path, hosts=[], ips=[])
    cert = (foreign.admin_cert_path, foreign.admin_key_path)
    with pytest.raises((ssl.SSLError, ConnectionError)):
        await asyncio.to_thread(https_get, server, "/healthz", cert=cert)


# ---- the official Python client --------------------------------------------------------


def python_client_get(kubeconfig: Path, path: str) -> tuple[int, bytes]:
    configuration = kubernetes.client.Configuration()
    kubernetes.config.load_kube_config(
        config_file=str(kubeconfig), client_configuration=configuration
    )
    with kubernetes.client.ApiClient(configuration) as api:
        method, url, headers, body, post = api.param_serialize(
            "GET", path, auth_settings=["BearerToken"]
        )
        response = api.call_api(method, url, headers, body, post, _request_timeout=10)
        return response.status, response.read()


async def test_python_client_authenticates_with_client_certificate(server: Server) -> None:
    kubeconfig = write_admin_kubeconfig(server.data_dir, server.url, server.pki)
    status, body = await asyncio.to_thread(python_client_get, kubeconfig, "/healthz")
    assert (status, body) == (200, b"ok")
    status, body = await asyncio.to_thread(python_client_get, kubeconfig, "/whoami")
    assert json.loads(body)["username"] == "kubernetes-admin"


async def test_python_client_with_token_kubeconfig(server: Server, tmp_path: Path) -> None:
    token, _ = issue_service_account_token(server.pki, namespace="ns1", name="app", uid="u2")
    kubeconfig = tmp_path / "sa.kubeconfig"
    write_kubeconfig(
        kubeconfig,
        server=server.url,
        ca_pem=server.pki.ca_pem,
        user="app",
        token=token,
        namespace="ns1",
    )
    status, body = await asyncio.to_thread(python_client_get, kubeconfig, "/whoami")
    assert status == 200
    assert json.loads(body)["username"] == "system:serviceaccount:ns1:app"
