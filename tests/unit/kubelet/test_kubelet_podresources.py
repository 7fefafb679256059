"""The pod-level cgroup's QoS class and limits, as upstream's ResourceConfigForPod sets them."""

from __future__ import annotations

from typing import Any

import pytest

from tinykube.kubelet import podresources
from tinykube.kubelet.runtime.interface import Resources

pytestmark = pytest.mark.unit

MI = 1024 * 1024


def ctr(name: str, limits: dict[str, str] | None = None, **extra: Any) -> dict[str, Any]:
    resources = {"limits": limits, "requests": dict(limits)} if limits else {}
    return {"name": name, "image": "busybox", "resources": resources, **extra}


def pod(*containers: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "p", "uid": "u1"},
        "spec": {"containers": list(containers), **spec},
    }


@pytest.mark.parametrize(
    ("spec_pod", "qos", "limits"),
    [
        pytest.param(
            pod(ctr("a", {"memory": "50Mi"}), ctr("b", {"memory": "30Mi"})),
            "Burstable",
            Resources(memory_bytes=80 * MI),
            id="memory-limits-add-up-cpu-uncapped",
        ),
        pytest.param(
            pod(
                ctr("a", {"memory": "50Mi", "cpu": "250m"}),
                ctr("b", {"memory": "30Mi", "cpu": "1"}),
            ),
            "Guaranteed",
            Resources(memory_bytes=80 * MI, cpu_millis=1250),
            id="guaranteed-caps-both",
        ),
        pytest.param(
            pod(ctr("a", {"memory": "50Mi"}), ctr("b")),
            "Burstable",
            Resources(),
            id="one-container-without-a-limit-leaves-the-pod-uncapped",
        ),
        pytest.param(pod(ctr("a"), ctr("b")), "BestEffort", Resources(), id="best-effort"),
        pytest.param(
            pod(
                ctr("a", {"memory": "50Mi", "cpu": "100m"}),
                overhead={"memory": "10Mi", "cpu": "50m"},
            ),
            "Guaranteed",
            Resources(memory_bytes=60 * MI, cpu_millis=150),
            id="overhead-is-added",
        ),
        pytest.param(
            pod(
                ctr("a", {"memory": "50Mi", "cpu": "100m"}),
                initContainers=[ctr("init", {"memory": "200Mi", "cpu": "100m"})],
            ),
            "Guaranteed",
            Resources(memory_bytes=200 * MI, cpu_millis=100),
            id="the-largest-init-container-wins-over-a-smaller-sum",
        ),
        pytest.param(
            pod(
                ctr("a", {"memory": "50Mi", "cpu": "100m"}),
                initContainers=[
                    ctr("side", {"memory": "20Mi", "cpu": "100m"}, restartPolicy="Always"),
                    ctr("init", {"memory": "40Mi", "cpu": "100m"}),
                ],
            ),
            "Guaranteed",
            Resources(memory_bytes=70 * MI, cpu_millis=200),
            id="a-sidecar-adds-to-the-containers",
        ),
    ],
)
def test_pod_limits(spec_pod: dict[str, Any], qos: str, limits: Resources) -> None:
    assert podresources.qos_class(spec_pod) == qos
    assert podresources.pod_limits(spec_pod) == limits


def test_the_recorded_qos_class_wins() -> None:
    p = pod(ctr("a", {"memory": "50Mi"}))
    p["status"] = {"qosClass": "BestEffort"}
    assert podresources.qos_class(p) == "BestEffort"
    assert podresources.pod_limits(p) == Resources()
