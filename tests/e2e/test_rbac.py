"""RBAC as a service account sees it through the official Python client.

A token-authenticated client is denied until a RoleBinding grants it, is
denied impersonation it was not granted, and access reviews answer what the
authorizer decides.
"""

from __future__ import annotations

import time

import pytest
from cluster import ApiServer
from kubernetes import client, config
from kubernetes.client.rest import ApiException

pytestmark = pytest.mark.e2e

NS = "rbac-py"


def admin(server: ApiServer) -> client.ApiClient:
    return config.new_client_from_config(config_file=str(server.kubeconfig))


def token_client(server: ApiServer, token: str) -> client.ApiClient:
    cfg = client.Configuration()
    cfg.host = server.url
    cfg.ssl_ca_cert = str(server.data_dir / "pki" / "ca.crt")
    cfg.api_key = {"authorization": token}
    cfg.api_key_prefix = {"authorization": "Bearer"}
    return client.ApiClient(cfg)


def forbidden(call) -> ApiException:  # type: ignore[no-untyped-def]
    with pytest.raises(ApiException) as exc:
        call()
    assert exc.value.status == 403, exc.value.body
    return exc.value


def eventually(check, within: float = 20.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + within
    while True:
        try:
            return check()
        except (ApiException, AssertionError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_service_account_needs_a_binding_and_cannot_impersonate(apiserver: ApiServer) -> None:
    api = admin(apiserver)
    core = client.CoreV1Api(api)
    rbac = client.RbacAuthorizationV1Api(api)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=NS)))
    core.create_namespaced_service_account(
        NS, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name="robot"))
    )
    token = core.create_namespaced_service_account_token(
        "robot",
        NS,
        client.AuthenticationV1TokenRequest(spec=client.V1TokenRequestSpec(audiences=[])),
    ).status.token
    robot = client.CoreV1Api(token_client(apiserver, token))

    err = forbidden(lambda: robot.list_namespaced_pod(NS))
    assert (
        f'User \\"system:serviceaccount:{NS}:robot\\" cannot list resource \\"pods\\"' in err.body
    )

    rbac.create_namespaced_role(
        NS,
        {
            "metadata": {"name": "pods"},
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]}],
        },
    )
    rbac.create_namespaced_role_binding(
        NS,
        {
            "metadata": {"name": "robot-pods"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "pods"},
            "subjects": [{"kind": "ServiceAccount", "name": "robot", "namespace": NS}],
        },
    )
    assert eventually(lambda: robot.list_namespaced_pod(NS)).items == []
    forbidden(lambda: robot.list_namespaced_pod("default"))
    forbidden(lambda: robot.list_namespaced_config_map(NS))

    as_jane = token_client(apiserver, token)
    as_jane.set_default_header("Impersonate-User", "jane")
    err = forbidden(lambda: client.CoreV1Api(as_jane).list_namespaced_pod(NS))
    assert (
        f'users \\"jane\\" is forbidden: User \\"system:serviceaccount:{NS}:robot\\" '
        'cannot impersonate resource \\"users\\" in API group \\"\\" at the cluster scope'
    ) in err.body

    rbac.delete_namespaced_role_binding("robot-pods", NS)
    eventually(lambda: forbidden(lambda: robot.list_namespaced_pod(NS)))


def test_access_reviews_answer_what_the_authorizer_decides(apiserver: ApiServer) -> None:
    authz = client.AuthorizationV1Api(admin(apiserver))

    def review(user: str, verb: str, resource: str, namespace: str = "default"):  # type: ignore[no-untyped-def]
        body = client.V1SubjectAccessReview(
            spec=client.V1SubjectAccessReviewSpec(
                user=user,
                resource_attributes=client.V1ResourceAttributes(
                    namespace=namespace, verb=verb, resource=resource
                ),
            )
        )
        return authz.create_subject_access_review(body).status

    assert review("nobody", "get", "secrets").allowed is False
    status = (
        client.AuthorizationV1Api(admin(apiserver))
        .create_subject_access_review(
            client.V1SubjectAccessReview(
                spec=client.V1SubjectAccessReviewSpec(
                    user="x",
                    groups=["kubeadm:cluster-admins"],
                    non_resource_attributes=client.V1NonResourceAttributes(
                        path="/metrics", verb="get"
                    ),
                )
            )
        )
        .status
    )
    assert status.allowed is True
    assert "ClusterRoleBinding" in status.reason
    with pytest.raises(ApiException) as exc:
        authz.create_subject_access_review(
            client.V1SubjectAccessReview(spec=client.V1SubjectAccessReviewSpec(user="x"))
        )
    assert exc.value.status == 422
    assert "exactly one of nonResourceAttributes or resourceAttributes" in exc.value.body
