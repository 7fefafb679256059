"""Admission webhooks against a bare API server and a real HTTPS webhook.

The webhook (``tests/webhookserver.py``) runs in this process behind a
certificate from a CA made for the test; configurations name it by URL with
that CA as ``caBundle``. Every test works in a namespace of its own and its
configurations select only that namespace (by a label), so the tests sharing
the module's API server cannot see each other's webhooks. A configuration
reaches the API server's watch cache a moment after it is created, so each
test first waits until its webhook is seen to act.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import kubernetes
import pytest
from cluster import ApiServer
from webhookserver import MUTATION_WARNING, WebhookServer

from tinykube.api import errors
from tinykube.client import Client

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

Obj = dict[str, Any]
GROUP = "admissionregistration.k8s.io/v1"


SERVICE_NS = "hooks-service"


@pytest.fixture(scope="module")
def webhook() -> Iterator[WebhookServer]:
    server = WebhookServer(names=(f"webhook.{SERVICE_NS}.svc",))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def client(apiserver: ApiServer) -> AsyncIterator[Client]:
    async with await Client.from_kubeconfig(apiserver.kubeconfig) as c:
        yield c


@pytest.fixture
async def ns(client: Client) -> str:
    name = f"hooks-{uuid.uuid4().hex[:8]}"
    await client.create("v1", "namespaces", {"metadata": {"name": name, "labels": {"hooks-test": name}}})  # fmt: skip
    return name


@pytest.fixture
async def configs(client: Client) -> AsyncIterator[list[tuple[str, str]]]:
    """Configurations a test made; deleted afterwards so none outlives its test."""
    made: list[tuple[str, str]] = []
    yield made
    for plural, name in made:
        await client.delete(GROUP, plural, name)


def a_hook(name: str, url: str, ca: str, ns: str, **extra: Any) -> Obj:
    return {
        "name": name,
        "clientConfig": {"url": url, "caBundle": ca},
        "rules": [
            {
                "operations": ["CREATE", "UPDATE"],
                "apiGroups": [""],
                "apiVersions": ["v1"],
                "resources": ["configmaps"],
            }
        ],
        "namespaceSelector": {"matchLabels": {"hooks-test": ns}},
        "sideEffects": "None",
        "admissionReviewVersions": ["v1"],
        **extra,
    }


async def register(
    client: Client, configs: list[tuple[str, str]], plural: str, *hooks: Obj
) -> None:
    name = f"cfg-{uuid.uuid4().hex[:8]}"
    await client.create(GROUP, plural, {"metadata": {"name": name}, "webhooks": list(hooks)})
    configs.append((plural, name))


def configmap(name: str, **labels: str) -> Obj:
    return {"metadata": {"name": name, "labels": labels}, "data": {"a": "1"}}


async def eventually(probe: Callable[[], Awaitable[bool]], seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while not await probe():
        assert time.monotonic() < deadline, "the webhook configuration never took effect"
        await asyncio.sleep(0.1)


async def refused(client: Client, ns: str, obj: Obj) -> errors.APIError | None:
    try:
        await client.create("v1", "configmaps", obj, ns, dry_run=True)
    except errors.APIError as exc:
        return exc
    return None


async def test_mutating_webhook_adds_a_label(
    client: Client, ns: str, webhook: WebhookServer, configs: list[tuple[str, str]]
) -> None:
    hook = a_hook("label.hooks.test", webhook.url("/mutate"), webhook.ca_bundle, ns)
    await register(client, configs, "mutatingwebhookconfigurations", hook)

    async def labelled() -> bool:
        probe = await client.create("v1", "configmaps", configmap("probe"), ns, dry_run=True)
        return probe["metadata"].get("labels", {}).get("mutated-by") == "webhook"

    await eventually(labelled)
    created = await client.create("v1", "configmaps", configmap("c", app="x"), ns)
    assert created["metadata"]["labels"] == {"app": "x", "mutated-by": "webhook"}
    stored = await client.get("v1", "configmaps", "c", ns)
    assert stored["metadata"]["labels"] == {"app": "x", "mutated-by": "webhook"}
    sent = [r for r in webhook.reviews if r["request"].get("name") == "c"][-1]
    request = sent["request"]
    assert request["operation"] == "CREATE" and request["namespace"] == ns
    assert request["resource"] == {"group": "", "version": "v1", "resource": "configmaps"}
    assert request["userInfo"]["username"] == "kubernetes-admin"
    assert request["options"]["kind"] == "CreateOptions"
    assert request["dryRun"] is False
    assert sent["query"] == {"timeout": "10s"}


async def test_validating_webhook_denies_with_its_message(
    client: Client, ns: str, webhook: WebhookServer, configs: list[tuple[str, str]]
) -> None:
    hook = a_hook("deny.hooks.test", webhook.url("/deny"), webhook.ca_bundle, ns)
    await register(client, configs, "validatingwebhookconfigurations", hook)

    async def denying() -> bool:
        return await refused(client, ns, configmap("probe", deny="yes")) is not None

    await eventually(denying)
    with pytest.raises(errors.APIError) as caught:
        await client.create("v1", "configmaps", configmap("bad", deny="yes"), ns)
    assert caught.value.code == 403
    assert caught.value.message == (
        'admission webhook "deny.hooks.test" denied the request: ConfigMap bad carries the deny label'
    )
    await client.create("v1", "configmaps", configmap("good"), ns)
    # An update that adds the label is refused as well, with the old object sent along.
    with pytest.raises(errors.APIError):
        await client.patch("v1", "configmaps", "good", {"metadata": {"labels": {"deny": "1"}}}, ns)
    update = [r for r in webhook.reviews if r["request"]["operation"] == "UPDATE"][-1]["request"]
    assert update["oldObject"]["metadata"]["name"] == "good"
    assert "deny" not in update["oldObject"]["metadata"].get("labels", {})


async def test_unreachable_webhook_fails_closed_or_open_by_failure_policy(
    client: Client, ns: str, webhook: WebhookServer, configs: list[tuple[str, str]]
) -> None:
    closed = "https://127.0.0.1:1/nowhere"
    ignored = a_hook("ignore.hooks.test", closed, webhook.ca_bundle, ns, failurePolicy="Ignore")
    labels = a_hook("label.hooks.test", webhook.url("/mutate"), webhook.ca_bundle, ns)
    await register(client, configs, "mutatingwebhookconfigurations", ignored, labels)

    async def labelled() -> bool:
        probe = await client.create("v1", "configmaps", configmap("probe"), ns, dry_run=True)
        return "mutated-by" in probe["metadata"].get("labels", {})

    # Ignore: the broken webhook is passed over and the next one still runs.
    await eventually(labelled)
    failing = a_hook("fail.hooks.test", closed, webhook.ca_bundle, ns, failurePolicy="Fail")
    await register(client, configs, "validatingwebhookconfigurations", failing)

    async def failing_closed() -> bool:
        return await refused(client, ns, configmap("probe")) is not None

    await eventually(failing_closed)
    with pytest.raises(errors.InternalError) as caught:
        await client.create("v1", "configmaps", configmap("c"), ns)
    assert caught.value.code == 500
    assert caught.value.message == (
        'Internal error occurred: failed calling webhook "fail.hooks.test": failed to call '
        'webhook: Post "https://127.0.0.1:1/nowhere?timeout=10s": dial tcp 127.0.0.1:1: '
        "connect: connection refused"
    )


async def test_namespace_selector_limits_the_webhook(
    client: Client, ns: str, webhook: WebhookServer, configs: list[tuple[str, str]]
) -> None:
    other = f"hooks-other-{uuid.uuid4().hex[:6]}"
    await client.create("v1", "namespaces", {"metadata": {"name": other}})
    hook = a_hook("deny.hooks.test", webhook.url("/deny"), webhook.ca_bundle, ns)
    await register(client, configs, "validatingwebhookconfigurations", hook)

    async def denying() -> bool:
        return await refused(client, ns, configmap("probe", deny="yes")) is not None

    await eventually(denying)
    created = await client.create("v1", "configmaps", configmap("free", deny="yes"), other)
    assert created["metadata"]["labels"] == {"deny": "yes"}


async def test_slow_webhook_times_out(
    client: Client, ns: str, webhook: WebhookServer, configs: list[tuple[str, str]]
) -> None:
    hook = a_hook("slow.hooks.test", webhook.url("/slow"), webhook.ca_bundle, ns, timeoutSeconds=1)
    await register(client, configs, "validatingwebhookconfigurations", hook)

    async def timing_out() -> bool:
        return await refused(client, ns, configmap("probe")) is not None

    await eventually(timing_out)
    started = time.monotonic()
    with pytest.raises(errors.InternalError) as caught:
        await client.create("v1", "configmaps", configmap("c"), ns)
    assert time.monotonic() - started < 3.5  # cut off at 1 s, well before the 4 s answer
    url = webhook.url("/slow?timeout=1s")
    assert caught.value.message == (
        'Internal error occurred: failed calling webhook "slow.hooks.test": failed to call '
        f'webhook: Post "{url}": context deadline exceeded'
    )


async def test_python_client_sees_the_denial_and_the_warning(
    apiserver: ApiServer,
    client: Client,
    ns: str,
    webhook: WebhookServer,
    configs: list[tuple[str, str]],
) -> None:
    deny = a_hook("deny.hooks.test", webhook.url("/deny"), webhook.ca_bundle, ns)
    await register(client, configs, "validatingwebhookconfigurations", deny)
    label = a_hook("label.hooks.test", webhook.url("/mutate"), webhook.ca_bundle, ns)
    await register(client, configs, "mutatingwebhookconfigurations", label)

    async def both() -> bool:
        exc = await refused(client, ns, configmap("probe", deny="yes"))
        return exc is not None and exc.code == 403

    await eventually(both)

    def create(labels: dict[str, str]) -> Any:
        api = kubernetes.config.new_client_from_config(config_file=str(apiserver.kubeconfig))
        core = kubernetes.client.CoreV1Api(api)
        body = kubernetes.client.V1ConfigMap(
            metadata=kubernetes.client.V1ObjectMeta(name=f"py-{len(labels)}", labels=labels)
        )
        try:
            return core.create_namespaced_config_map_with_http_info(ns, body)
        finally:
            api.close()

    with pytest.raises(kubernetes.client.ApiException) as caught:
        await asyncio.to_thread(create, {"deny": "yes"})
    assert caught.value.status == 403
    status = json.loads(caught.value.body)
    assert status["message"] == (
        'admission webhook "deny.hooks.test" denied the request: ConfigMap py-1 carries the deny label'
    )
    _obj, code, headers = await asyncio.to_thread(create, {})
    assert code == 201
    assert headers["Warning"] == f'299 - "{MUTATION_WARNING}"'


async def test_delete_is_sent_with_the_old_object_and_can_be_refused(
    client: Client, ns: str, webhook: WebhookServer, configs: list[tuple[str, str]]
) -> None:
    await client.create("v1", "configmaps", configmap("kept", deny="yes"), ns)
    rules = [{"operations": ["DELETE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["configmaps"]}]  # fmt: skip
    hook = a_hook("deny.hooks.test", webhook.url("/deny"), webhook.ca_bundle, ns, rules=rules)
    await register(client, configs, "validatingwebhookconfigurations", hook)

    async def denying() -> bool:
        try:
            await client.delete("v1", "configmaps", "kept", ns, dry_run=True)
        except errors.APIError:
            return True
        return False

    await eventually(denying)
    with pytest.raises(errors.APIError) as caught:
        await client.delete("v1", "configmaps", "kept", ns)
    assert caught.value.message == (
        'admission webhook "deny.hooks.test" denied the request: ConfigMap kept carries the deny label'
    )
    assert (await client.get("v1", "configmaps", "kept", ns))["metadata"]["name"] == "kept"
    request = [r for r in webhook.reviews if r["request"]["operation"] == "DELETE"][-1]["request"]
    assert request["object"] is None
    assert request["oldObject"]["metadata"]["name"] == "kept"
    assert request["options"]["kind"] == "DeleteOptions"
    assert request["userInfo"]["username"] == "kubernetes-admin"
    await client.create("v1", "configmaps", configmap("free"), ns)
    await client.delete("v1", "configmaps", "free", ns)


async def test_a_service_webhook_is_reached_through_its_endpoints(
    client: Client, webhook: WebhookServer, configs: list[tuple[str, str]]
) -> None:
    """clientConfig.service: the Service's ready endpoint is dialled, and the
    certificate is checked for ``webhook.hooks-service.svc``, not the address."""
    ns = SERVICE_NS
    await client.create("v1", "namespaces", {"metadata": {"name": ns, "labels": {"hooks-test": ns}}})  # fmt: skip
    service = {"metadata": {"name": "webhook"}, "spec": {"ports": [{"name": "https", "port": 443, "targetPort": webhook.port}]}}  # fmt: skip
    await client.create("v1", "services", service, ns)
    endpoints = {
        "metadata": {"name": "webhook-1", "labels": {"kubernetes.io/service-name": "webhook"}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": ["127.0.0.1"], "conditions": {"ready": True}}],
        "ports": [{"name": "https", "port": webhook.port, "protocol": "TCP"}],
    }
    await client.create("discovery.k8s.io/v1", "endpointslices", endpoints, ns)
    hook = a_hook("deny.hooks.test", "", webhook.ca_bundle, ns)
    hook["clientConfig"] = {
        "service": {"namespace": ns, "name": "webhook", "path": "/deny"},
        "caBundle": webhook.ca_bundle,
    }
    await register(client, configs, "validatingwebhookconfigurations", hook)

    async def denying() -> bool:
        return await refused(client, ns, configmap("probe", deny="yes")) is not None

    await eventually(denying)
    exc = await refused(client, ns, configmap("bad", deny="yes"))
    assert exc is not None and exc.code == 403, exc
    sent = [r for r in webhook.reviews if r["request"].get("name") == "bad"][-1]
    assert sent["query"] == {"timeout": "10s"}
    await client.create("v1", "configmaps", configmap("good"), ns)
    # The same endpoints under another Service name: the certificate does not cover it.
    await client.create("v1", "services", {**service, "metadata": {"name": "other"}}, ns)
    await client.create("discovery.k8s.io/v1", "endpointslices", {**endpoints, "metadata": {"name": "other-1", "labels": {"kubernetes.io/service-name": "other"}}}, ns)  # fmt: skip
    wrong = dict(hook, name="wrong.hooks.test")
    wrong["clientConfig"] = {**hook["clientConfig"], "service": {"namespace": ns, "name": "other", "path": "/deny"}}  # fmt: skip
    await register(client, configs, "validatingwebhookconfigurations", wrong)

    async def failing() -> bool:
        exc = await refused(client, ns, configmap("probe"))
        return isinstance(exc, errors.InternalError)

    await eventually(failing)
    exc = await refused(client, ns, configmap("probe"))
    assert exc is not None
    assert exc.message.startswith(
        'Internal error occurred: failed calling webhook "wrong.hooks.test": failed to call '
        f'webhook: Post "https://other.{ns}.svc:443/deny?timeout=10s": tls: failed to verify '
        "certificate: x509: "
    ), exc.message


async def test_match_conditions_exempt_objects(
    client: Client, ns: str, webhook: WebhookServer, configs: list[tuple[str, str]]
) -> None:
    conditions = [{"name": "not-exempt", "expression": "object.metadata.name != 'exempt'"}]
    hook = a_hook("deny.hooks.test", webhook.url("/deny"), webhook.ca_bundle, ns, matchConditions=conditions)  # fmt: skip
    await register(client, configs, "validatingwebhookconfigurations", hook)

    async def denying() -> bool:
        return await refused(client, ns, configmap("probe", deny="yes")) is not None

    await eventually(denying)
    calls = len(webhook.reviews)
    created = await client.create("v1", "configmaps", configmap("exempt", deny="yes"), ns)
    assert created["metadata"]["name"] == "exempt"
    assert len(webhook.reviews) == calls  # the webhook was not asked at all
    assert await refused(client, ns, configmap("other", deny="yes")) is not None


async def test_exec_is_a_connect_the_webhook_can_refuse(
    client: Client, ns: str, webhook: WebhookServer, configs: list[tuple[str, str]]
) -> None:
    rules = [{"operations": ["CONNECT"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods/exec"]}]  # fmt: skip
    hook = a_hook("exec.hooks.test", webhook.url("/refuse"), webhook.ca_bundle, ns, rules=rules)
    await register(client, configs, "validatingwebhookconfigurations", hook)
    path = f"/api/v1/namespaces/{ns}/pods/web/exec"
    params = {"command": "ls", "stdout": "true", "container": "c"}

    async def refusing() -> bool:
        try:
            await client.request("POST", path, params=params)
        except errors.APIError as exc:
            return exc.code == 403
        return False

    await eventually(refusing)
    with pytest.raises(errors.APIError) as caught:
        await client.request("POST", path, params=params)
    assert caught.value.message == 'admission webhook "exec.hooks.test" denied the request: no PodExecOptions here'  # fmt: skip
    request = webhook.reviews[-1]["request"]
    assert (request["operation"], request["subResource"], request["name"]) == (
        "CONNECT",
        "exec",
        "web",
    )
    assert request["object"] == {"kind": "PodExecOptions", "apiVersion": "v1", "stdout": True, "container": "c", "command": ["ls"]}  # fmt: skip
    assert request["kind"] == {"group": "", "version": "v1", "kind": "PodExecOptions"}
    # Logs are a plain GET, not a CONNECT: the webhook is not asked.
    calls = len(webhook.reviews)
    with pytest.raises(errors.NotFound):
        await client.request("GET", f"/api/v1/namespaces/{ns}/pods/web/log")
    assert len(webhook.reviews) == calls


async def test_an_unreachable_webhook_for_everything_does_not_stop_a_restart(
    tmp_path: Any,
) -> None:
    """The server's own start-up writes (system namespaces, the kubernetes Service's
    endpoints) are not sent to webhooks, so a webhook down with the cluster cannot
    keep the API server from coming back."""
    server = ApiServer(tmp_path / "restart")
    server.start()
    try:
        async with await Client.from_kubeconfig(server.kubeconfig) as c:
            everything = {
                "name": "everything.hooks.test",
                "clientConfig": {"url": "https://127.0.0.1:1/down"},
                "rules": [
                    {
                        "operations": ["*"],
                        "apiGroups": ["*"],
                        "apiVersions": ["*"],
                        "resources": ["*/*"],
                    }
                ],
                "failurePolicy": "Fail",
                "sideEffects": "None",
                "admissionReviewVersions": ["v1"],
            }
            await c.create(
                GROUP,
                "validatingwebhookconfigurations",
                {"metadata": {"name": "all"}, "webhooks": [everything]},
            )
        server.stop()
        server.start()
        async with await Client.from_kubeconfig(server.kubeconfig) as c:

            async def refusing() -> bool:
                return isinstance(await refused(c, "default", configmap("x")), errors.InternalError)

            await eventually(refusing)
            await c.delete(GROUP, "validatingwebhookconfigurations", "all")
    finally:
        server.stop()


async def test_custom_objects_reach_webhooks_in_their_served_version(
    client: Client, ns: str, webhook: WebhookServer, configs: list[tuple[str, str]]
) -> None:
    """Operators' webhooks mostly guard their own kinds: a two-version CRD, with a
    webhook registered for v1 only, sees objects written through v2 (Equivalent)."""
    schema = {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}
    group = f"g{uuid.uuid4().hex[:6]}.hooks.test"
    crd = {
        "metadata": {"name": f"widgets.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"plural": "widgets", "kind": "Widget"},
            "versions": [
                {"name": "v1", "served": True, "storage": True, "schema": schema},
                {"name": "v2", "served": True, "storage": False, "schema": schema},
            ],
        },
    }
    await client.create("apiextensions.k8s.io/v1", "customresourcedefinitions", crd)
    rules = [{"operations": ["CREATE"], "apiGroups": [group], "apiVersions": ["v1"], "resources": ["widgets"]}]  # fmt: skip
    hook = a_hook("label.hooks.test", webhook.url("/mutate"), webhook.ca_bundle, ns, rules=rules)
    await register(client, configs, "mutatingwebhookconfigurations", hook)
    path = f"/apis/{group}/v2/namespaces/{ns}/widgets"

    async def labelled() -> bool:
        widget = {"apiVersion": f"{group}/v2", "kind": "Widget", "metadata": {"name": "probe"}}
        try:
            made = await client.request("POST", path, params={"dryRun": "All"}, body=widget)
        except errors.APIError:
            return False  # the CRD is not served yet
        return "mutated-by" in made["metadata"].get("labels", {})

    await eventually(labelled)
    widget = {"apiVersion": f"{group}/v2", "kind": "Widget", "metadata": {"name": "w"}, "size": 3}
    made = await client.request("POST", path, body=widget)
    assert made["apiVersion"] == f"{group}/v2"
    assert made["metadata"]["labels"] == {"mutated-by": "webhook"}
    request = [r for r in webhook.reviews if r["request"].get("name") == "w"][-1]["request"]
    assert request["kind"] == {"group": group, "version": "v1", "kind": "Widget"}
    assert request["requestKind"]["version"] == "v2"
    assert request["object"]["apiVersion"] == f"{group}/v1"
    assert request["object"]["size"] == 3


async def test_a_scale_webhook_sees_a_scale(
    client: Client, ns: str, webhook: WebhookServer, configs: list[tuple[str, str]]
) -> None:
    deployment = {
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "c", "image": "busybox"}]},
            },
        },
    }
    await client.create("apps/v1", "deployments", deployment, ns)
    rules = [{"operations": ["UPDATE"], "apiGroups": ["apps"], "apiVersions": ["v1"], "resources": ["deployments/scale"]}]  # fmt: skip
    hook = a_hook("scale.hooks.test", webhook.url("/refuse"), webhook.ca_bundle, ns, rules=rules)
    await register(client, configs, "validatingwebhookconfigurations", hook)

    async def refusing() -> bool:
        try:
            await client.patch("apps/v1", "deployments", "web", {"spec": {"replicas": 7}}, ns, subresource="scale")  # fmt: skip
        except errors.APIError as exc:
            return exc.code == 403
        return False

    await eventually(refusing)
    request = webhook.reviews[-1]["request"]
    assert request["kind"] == {"group": "autoscaling", "version": "v1", "kind": "Scale"}
    assert (request["object"]["spec"], request["oldObject"]["spec"]) == (
        {"replicas": 7},
        {"replicas": 1},
    )
    # a write of the deployment itself is not a scale write: the webhook is not asked
    await client.patch("apps/v1", "deployments", "web", {"spec": {"replicas": 2}}, ns)
    assert (await client.get("apps/v1", "deployments", "web", ns))["spec"]["replicas"] == 2


async def test_eviction_and_binding_reach_webhooks_as_creates(
    client: Client, ns: str, webhook: WebhookServer, configs: list[tuple[str, str]]
) -> None:
    pod = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
    await client.create("v1", "pods", pod, ns)
    rules = [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods/eviction", "pods/binding"]}]  # fmt: skip
    hook = a_hook("sub.hooks.test", webhook.url("/refuse"), webhook.ca_bundle, ns, rules=rules)
    await register(client, configs, "validatingwebhookconfigurations", hook)
    eviction = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "p", "namespace": ns}}  # fmt: skip
    binding = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "p"}, "target": {"kind": "Node", "name": "n1"}}  # fmt: skip

    async def refused_post(subresource: str, body: Obj) -> str:
        try:
            await client.request("POST", f"/api/v1/namespaces/{ns}/pods/p/{subresource}", body=body)
        except errors.APIError as exc:
            return exc.message if exc.code == 403 else ""
        return ""

    async def refusing() -> bool:
        return bool(await refused_post("eviction", eviction))

    await eventually(refusing)
    assert webhook.reviews[-1]["request"]["object"]["kind"] == "Eviction"
    assert await refused_post("binding", binding) == (
        'admission webhook "sub.hooks.test" denied the request: no Binding here'
    )
    request = webhook.reviews[-1]["request"]
    assert (request["operation"], request["subResource"]) == ("CREATE", "binding")
    assert request["object"]["target"] == {"kind": "Node", "name": "n1"}
    stored = await client.get("v1", "pods", "p", ns)
    assert "nodeName" not in stored["spec"] and not stored["metadata"].get("deletionTimestamp")
