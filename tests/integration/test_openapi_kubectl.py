"""The OpenAPI documents as the real kubectl reads them.

A throwaway aiohttp app on a loopback port serves just what kubectl needs
around ``/openapi/v3``: ``/version``, legacy (unaggregated) discovery built
from the resource table, and a pods collection that echoes creates. It is
deliberately local to this test, so the documents can be checked before the
real API server exists: ``kubectl explain`` must print types from our
schemas, and ``kubectl create``/``apply`` must find the ``fieldValidation``
parameter and hand validation to the server (``fieldValidation=Strict``)
instead of failing to download a protobuf v2 document.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tinykube.api import resources
from tinykube.apiserver import openapi

pytestmark = pytest.mark.integration

SEEN = web.AppKey("seen", list)
PODS = web.AppKey("pods", dict)


def kubectl_binary() -> str:
    pinned = Path(sys.executable).parent / "kubectl"
    if pinned.exists():
        return str(pinned)
    found = shutil.which("kubectl")
    if found is None:
        pytest.skip("kubectl is not installed")
    return found


# --- a tiny discovery server -----------------------------------------------------------


def api_resource(res: resources.Resource, sub: resources.Subresource | None = None) -> dict:
    entry: dict[str, Any] = {
        "name": res.plural if sub is None else f"{res.plural}/{sub.name}",
        "singularName": res.singular if sub is None else "",
        "namespaced": res.namespaced,
        "kind": res.kind if sub is None else sub.kind,
        "verbs": list(res.verbs if sub is None else sub.verbs),
    }
    if sub is None:
        entry["shortNames"] = list(res.short_names)
        entry["categories"] = list(res.categories)
    elif sub.group is not None:
        entry |= {"group": sub.group, "version": sub.version}
    return entry


def resource_list(group: str, version: str) -> dict:
    items = []
    for res in resources.resources_in(group, version):
        items.append(api_resource(res))
        items.extend(api_resource(res, sub) for sub in res.subresources)
    gv = f"{group}/{version}" if group else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": items}


def group_list() -> dict:
    groups = []
    for group, version in resources.group_versions():
        if group:
            gv = {"groupVersion": f"{group}/{version}", "version": version}
            groups.append({"name": group, "versions": [gv], "preferredVersion": gv})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def not_found(name: str) -> web.Response:
    body = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": f'pods "{name}" not found',
        "reason": "NotFound",
        "details": {"name": name, "kind": "pods"},
        "code": 404,
    }
    return web.json_response(body, status=404)


def build_app() -> web.Application:
    async def version(request: web.Request) -> web.Response:
        return web.json_response(
            {"major": "1", "minor": "37", "gitVersion": "v1.37.0", "platform": "linux/amd64"}
        )

    async def api(request: web.Request) -> web.Response:
        host = request.host
        cidrs = [{"clientCIDR": "0.0.0.0/0", "serverAddress": host}]
        return web.json_response(
            {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": cidrs}
        )

    async def apis(request: web.Request) -> web.Response:
        return web.json_response(group_list())

    async def core_v1(request: web.Request) -> web.Response:
        return web.json_response(resource_list("", "v1"))

    async def group_version(request: web.Request) -> web.Response:
        group, ver = request.match_info["group"], request.match_info["version"]
        if (group, ver) not in resources.group_versions():
            raise web.HTTPNotFound()
        return web.json_response(resource_list(group, ver))

    async def v3_index(request: web.Request) -> web.Response:
        return web.json_response(openapi.v3_index())

    async def v3_document(request: web.Request) -> web.Response:
        doc = openapi.v3_document(request.match_info["path"])
        if doc is None:
            raise web.HTTPNotFound()
        return web.Response(body=openapi.canonical_json(doc), content_type="application/json")

    async def get_pod(request: web.Request) -> web.Response:
        request.app[SEEN].append(("GET", request.path_qs, ""))
        stored = request.app[PODS].get(request.match_info["name"])
        return web.json_response(stored) if stored else not_found(request.match_info["name"])

    async def create_pod(request: web.Request) -> web.Response:
        request.app[SEEN].append(("POST", request.path_qs, await request.text()))
        body = await request.json()
        body["metadata"] |= {"namespace": "default", "uid": "u-1", "resourceVersion": "1"}
        request.app[PODS][body["metadata"]["name"]] = body
        return web.json_response(body, status=201)

    async def patch_pod(request: web.Request) -> web.Response:
        # Records the patch kubectl computed; applying it is the real server's job.
        entry = (f"PATCH {request.content_type}", request.path_qs, await request.text())
        request.app[SEEN].append(entry)
        return web.json_response(request.app[PODS][request.match_info["name"]])

    app = web.Application()
    app[SEEN] = []
    app[PODS] = {}
    app.router.add_get("/version", version)
    app.router.add_get("/api", api)
    app.router.add_get("/apis", apis)
    app.router.add_get("/api/v1", core_v1)
    app.router.add_get("/apis/{group}/{version}", group_version)
    app.router.add_get("/openapi/v3", v3_index)
    app.router.add_get("/openapi/v3/{path:.+}", v3_document)
    app.router.add_get("/api/v1/namespaces/{ns}/pods/{name}", get_pod)
    app.router.add_post("/api/v1/namespaces/{ns}/pods", create_pod)
    app.router.add_patch("/api/v1/namespaces/{ns}/pods/{name}", patch_pod)
    return app


@dataclass
class Server:
    url: str
    workdir: Path
    seen: list[tuple[str, str, str]] = field(default_factory=list)


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    app = build_app()
    runner = web.AppRunner(app)
    await runner.setup()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    site = web.SockSite(runner, sock)
    await site.start()
    try:
        yield Server(f"http://127.0.0.1:{sock.getsockname()[1]}", tmp_path, app[SEEN])
    finally:
        await runner.cleanup()


def write_kubeconfig(server: Server) -> Path:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "tk", "cluster": {"server": server.url}}],
        "users": [{"name": "tk", "user": {}}],
        "contexts": [{"name": "tk", "context": {"cluster": "tk", "user": "tk"}}],
        "current-context": "tk",
    }
    path = server.workdir / "kubeconfig"
    path.write_text(json.dumps(config))
    return path


async def kubectl(server: Server, *args: str) -> tuple[int, str, str]:
    home = server.workdir / "home"
    home.mkdir(exist_ok=True)
    proc = await asyncio.create_subprocess_exec(
        kubectl_binary(),
        f"--kubeconfig={write_kubeconfig(server)}",
        f"--cache-dir={home / 'cache'}",
        "--request-timeout=20s",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={"PATH": os.environ.get("PATH", ""), "HOME": str(home)},
    )
    async with asyncio.timeout(60):
        out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


# --- the tests -------------------------------------------------------------------------


async def test_explain_prints_container_fields_with_types(server: Server) -> None:
    code, out, err = await kubectl(server, "explain", "pod.spec.containers")
    assert code == 0, err
    assert "KIND:       Pod" in out and "VERSION:    v1" in out
    assert "FIELD: containers <[]Container>" in out
    assert "FIELDS:" in out
    assert "  name\t<string> -required-" in out
    assert "  image\t<string>" in out
    assert "  ports\t<[]ContainerPort>" in out
    assert "  resources\t<ResourceRequirements>" in out
    assert "  env\t<[]EnvVar>" in out


async def test_explain_deployment_strategy(server: Server) -> None:
    code, out, err = await kubectl(server, "explain", "deployment.spec.strategy")
    assert code == 0, err
    assert "GROUP:      apps" in out and "KIND:       Deployment" in out
    assert "FIELD: strategy <DeploymentStrategy>" in out
    assert "  rollingUpdate\t<RollingUpdateDeployment>" in out
    assert "  type\t<string>" in out


async def test_explain_int_or_string_and_quantity(server: Server) -> None:
    code, out, err = await kubectl(server, "explain", "svc.spec.ports.targetPort")
    assert code == 0, err
    assert "KIND:       Service" in out
    assert "FIELD: targetPort <IntOrString>" in out
    code, out, err = await kubectl(server, "explain", "pod.spec.containers.resources")
    assert code == 0, err
    assert "  limits\t<map[string]Quantity>" in out


async def test_explain_recursive_and_metadata(server: Server) -> None:
    code, out, err = await kubectl(server, "explain", "pods", "--recursive")
    assert code == 0, err
    assert "  metadata\t<ObjectMeta>" in out
    assert "    creationTimestamp\t<string>" in out
    code, out, err = await kubectl(server, "explain", "configmap.data")
    assert code == 0, err
    assert "FIELD: data <map[string]string>" in out


async def test_explain_unknown_field_fails_like_upstream(server: Server) -> None:
    code, _, err = await kubectl(server, "explain", "pod.spec.nosuchfield")
    assert code != 0
    assert 'field "nosuchfield" does not exist' in err


POD_YAML = """
apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  containers:
  - name: web
    image: nginx
"""


@pytest.mark.parametrize("verb", ["create", "apply"])
async def test_create_and_apply_use_server_side_validation(server: Server, verb: str) -> None:
    manifest = server.workdir / "pod.yaml"
    manifest.write_text(POD_YAML)
    code, out, err = await kubectl(server, verb, "-f", str(manifest))
    assert code == 0, err
    assert "pod/web created" in out
    posts = [url for method, url, _ in server.seen if method == "POST"]
    assert len(posts) == 1
    assert "fieldValidation=Strict" in posts[0]


async def test_client_side_apply_computes_the_patch_from_openapi_v3(server: Server) -> None:
    manifest = server.workdir / "pod.yaml"
    manifest.write_text(POD_YAML)
    code, _, err = await kubectl(server, "apply", "-f", str(manifest))
    assert code == 0, err
    changed = POD_YAML + "    env:\n    - name: MODE\n      value: fast\n"
    manifest.write_text(changed + "  - name: side\n    image: busybox\n")
    code, out, err = await kubectl(server, "apply", "-f", str(manifest), "-v=5")
    assert code == 0, err
    assert "pod/web configured" in out
    # kubectl says so when our v3 document could not drive the patch (it would
    # then fall back to its compiled-in types, hiding a broken document).
    assert "OpenAPI V3 path does not" not in err
    assert "error calculating patch from openapi v3" not in err
    patches = [(m, body) for m, _, body in server.seen if m.startswith("PATCH")]
    assert len(patches) == 1
    method, body = patches[0]
    assert method == "PATCH application/strategic-merge-patch+json"
    patch = json.loads(body)
    order = [{"name": "web"}, {"name": "side"}]
    assert patch["spec"]["$setElementOrder/containers"] == order
    web_container = next(c for c in patch["spec"]["containers"] if c["name"] == "web")
    assert web_container["env"] == [{"name": "MODE", "value": "fast"}]


async def test_every_resource_can_be_explained(server: Server) -> None:
    failures = []
    for res in resources.RESOURCES:
        gv = f"--api-version={res.group_version}"
        code, out, err = await kubectl(server, "explain", res.plural, gv)
        if code != 0 or f"KIND:       {res.kind}\n" not in out:
            failures.append((res.plural, res.group_version, err.strip()))
    assert failures == []
