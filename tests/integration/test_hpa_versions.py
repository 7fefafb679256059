"""One HorizontalPodAutoscaler, served in autoscaling/v1 and v2 (the official Python client)."""

from __future__ import annotations

from pathlib import Path

import pytest
from cluster import ApiServer, run_kubectl
from kubernetes import client, config, watch

pytestmark = pytest.mark.integration


def test_v1_and_v2_are_views_of_the_same_object(apiserver: ApiServer, tmp_path: Path) -> None:
    api = config.new_client_from_config(config_file=str(apiserver.kubeconfig))
    v1 = client.AutoscalingV1Api(api)
    v2 = client.AutoscalingV2Api(api)
    body = client.V1HorizontalPodAutoscaler(
        metadata=client.V1ObjectMeta(name="web"),
        spec=client.V1HorizontalPodAutoscalerSpec(
            scale_target_ref=client.V1CrossVersionObjectReference(
                api_version="apps/v1", kind="Deployment", name="web"
            ),
            max_replicas=4,
            target_cpu_utilization_percentage=60,
        ),
    )
    v1.create_namespaced_horizontal_pod_autoscaler("default", body)
    seen = v2.read_namespaced_horizontal_pod_autoscaler("web", "default")
    assert seen.spec.metrics[0].resource.target.average_utilization == 60
    assert seen.spec.min_replicas == 1
    # A v2-only metric survives a v1 read-modify-write.
    v2.patch_namespaced_horizontal_pod_autoscaler(
        "web",
        "default",
        {"spec": {"metrics": [
            {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 60}}},
            {"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "64Mi"}}},
        ]}},
    )  # fmt: skip
    old = v1.read_namespaced_horizontal_pod_autoscaler("web", "default")
    assert old.api_version == "autoscaling/v1"
    old.spec.target_cpu_utilization_percentage = 70
    v1.replace_namespaced_horizontal_pod_autoscaler("web", "default", old)
    now = v2.read_namespaced_horizontal_pod_autoscaler("web", "default")
    assert [m.resource.name for m in now.spec.metrics] == ["cpu", "memory"]
    assert now.spec.metrics[0].resource.target.average_utilization == 70
    assert not (now.metadata.annotations or {})
    # Watching in v1 gives v1 objects.
    stream = watch.Watch().stream(
        v1.list_namespaced_horizontal_pod_autoscaler, "default", timeout_seconds=2
    )
    first = next(iter(stream))
    assert first["object"].spec.target_cpu_utilization_percentage == 70
    # kubectl: v2 is the preferred version; the v1 form is there too.
    got = run_kubectl(
        apiserver,
        "get",
        "horizontalpodautoscalers.v1.autoscaling",
        "web",
        "-o",
        "jsonpath={.apiVersion}",
    )
    assert got.stdout == "autoscaling/v1"
    assert run_kubectl(apiserver, "get", "hpa", "web", "-o", "jsonpath={.apiVersion}").stdout == (
        "autoscaling/v2"
    )
