"""LimitRanger admission: defaults into containers, then min / max / ratio checks."""

from __future__ import annotations

from typing import Any

import pytest

from tinykube.api import errors
from tinykube.apiserver.admission import limitranger

pytestmark = pytest.mark.unit

Obj = dict[str, Any]


def pod(*containers: Obj, init: tuple[Obj, ...] = (), name: str = "x") -> Obj:
    spec: Obj = {"containers": list(containers)}
    if init:
        spec["initContainers"] = list(init)
    return {"metadata": {"name": name, "namespace": "ns"}, "spec": spec}


def container(name: str = "c", requests: Obj | None = None, limits: Obj | None = None) -> Obj:
    resources: Obj = {}
    if requests:
        resources["requests"] = requests
    if limits:
        resources["limits"] = limits
    return {"name": name, "image": "busybox", "resources": resources}


def limit_range(*items: Obj) -> Obj:
    return {"metadata": {"name": "lr", "namespace": "ns"}, "spec": {"limits": list(items)}}


def test_defaults_fill_requests_and_limits_and_annotate() -> None:
    lr = limit_range(
        {"type": "Container", "default": {"cpu": "500m"}, "defaultRequest": {"cpu": "250m"}}
    )
    p = pod(container("a"), container("b", requests={"cpu": "100m"}), init=(container("i"),))
    limitranger.admit_pod(p, [lr])
    a, b = p["spec"]["containers"]
    assert a["resources"] == {"requests": {"cpu": "250m"}, "limits": {"cpu": "500m"}}
    assert b["resources"] == {"requests": {"cpu": "100m"}, "limits": {"cpu": "500m"}}
    assert p["spec"]["initContainers"][0]["resources"]["requests"] == {"cpu": "250m"}
    assert p["metadata"]["annotations"][limitranger.ANNOTATION] == (
        "LimitRanger plugin set: cpu request for container a; cpu limit for container a; "
        "cpu limit for container b; cpu request for init container i; "
        "cpu limit for init container i"
    )


def test_max_alone_defaults_limit_and_request() -> None:
    lr = limit_range({"type": "Container", "max": {"memory": "1Gi"}})
    p = pod(container("c"))
    limitranger.admit_pod(p, [lr])
    assert p["spec"]["containers"][0]["resources"] == {
        "requests": {"memory": "1Gi"},
        "limits": {"memory": "1Gi"},
    }


def test_no_defaults_leaves_pod_untouched() -> None:
    lr = limit_range({"type": "Pod", "max": {"cpu": "2"}})
    p = pod(container("c", limits={"cpu": "1"}))
    limitranger.admit_pod(p, [lr])
    assert "annotations" not in p["metadata"]


@pytest.mark.parametrize(
    ("item", "c", "message"),
    [
        pytest.param(
            {"type": "Container", "max": {"cpu": "500m"}},
            container(limits={"cpu": "1"}, requests={"cpu": "100m"}),
            "maximum cpu usage per Container is 500m, but limit is 1",
            id="above-max-limit",
        ),
        pytest.param(
            {"type": "Container", "min": {"memory": "100Mi"}},
            container(requests={"memory": "50Mi"}),
            "minimum memory usage per Container is 100Mi, but request is 50Mi",
            id="below-min-request",
        ),
        pytest.param(
            {"type": "Container", "min": {"cpu": "200m"}, "defaultRequest": {}},
            container(requests={"cpu": "300m"}, limits={"cpu": "100m"}),
            "minimum cpu usage per Container is 200m, but limit is 100m",
            id="below-min-limit",
        ),
        pytest.param(
            {"type": "Container", "maxLimitRequestRatio": {"cpu": "2"}},
            container(requests={"cpu": "100m"}, limits={"cpu": "300m"}),
            "cpu max limit to request ratio per Container is 2, but provided ratio is 3.000000",
            id="ratio",
        ),
        pytest.param(
            {"type": "Pod", "max": {"cpu": "1"}},
            None,
            "maximum cpu usage per Pod is 1, but limit is 1200m",
            id="pod-sum",
        ),
    ],
)
def test_refusals_use_upstream_messages(item: Obj, c: Obj | None, message: str) -> None:
    if c is None:
        p = pod(
            container("a", requests={"cpu": "600m"}, limits={"cpu": "600m"}),
            container("b", requests={"cpu": "600m"}, limits={"cpu": "600m"}),
        )
    else:
        p = pod(c)
    with pytest.raises(errors.Forbidden) as caught:
        limitranger.admit_pod(p, [limit_range(item)])
    assert caught.value.message == f'pods "x" is forbidden: {message}'
    assert caught.value.code == 403


def test_several_problems_are_joined_in_brackets() -> None:
    lr = limit_range(
        {"type": "Container", "min": {"memory": "100Mi"}, "max": {"cpu": "500m"}},
    )
    p = pod(container("c", requests={"memory": "50Mi", "cpu": "1"}, limits={"cpu": "1"}))
    with pytest.raises(errors.Forbidden) as caught:
        limitranger.admit_pod(p, [lr])
    assert caught.value.message == (
        'pods "x" is forbidden: [minimum memory usage per Container is 100Mi, but request is '
        "50Mi, maximum cpu usage per Container is 500m, but limit is 1]"
    )


def test_max_without_limit_after_defaulting_from_max() -> None:
    """A pod without limits gets the max as its limit, so it passes."""
    lr = limit_range({"type": "Container", "max": {"cpu": "500m"}})
    p = pod(container("c"))
    limitranger.admit_pod(p, [lr])
    assert p["spec"]["containers"][0]["resources"]["limits"] == {"cpu": "500m"}


def test_pod_max_without_limit_is_refused() -> None:
    lr = limit_range({"type": "Pod", "max": {"memory": "1Gi"}})
    with pytest.raises(errors.Forbidden) as caught:
        limitranger.admit_pod(pod(container("c")), [lr])
    assert caught.value.message.endswith(
        "maximum memory usage per Pod is 1Gi.  No limit is specified"
    )


def test_claim_storage_bounds() -> None:
    lr = limit_range(
        {"type": "PersistentVolumeClaim", "min": {"storage": "1Gi"}, "max": {"storage": "2Gi"}}
    )
    claim = {
        "metadata": {"name": "data"},
        "spec": {"resources": {"requests": {"storage": "5Gi"}}},
    }
    with pytest.raises(errors.Forbidden) as caught:
        limitranger.admit_claim(claim, [lr])
    assert caught.value.message == (
        'persistentvolumeclaims "data" is forbidden: maximum storage usage per '
        "PersistentVolumeClaim is 2Gi, but request is 5Gi"
    )
    claim["spec"]["resources"]["requests"]["storage"] = "1536Mi"
    limitranger.admit_claim(claim, [lr])


def test_equal_quantities_in_other_units_pass() -> None:
    lr = limit_range({"type": "Container", "max": {"cpu": "0.5", "memory": "1Gi"}})
    p = pod(container("c", limits={"cpu": "500m", "memory": "1073741824"}))
    limitranger.admit_pod(p, [lr])


def test_aggregate_drops_duplicates() -> None:
    assert limitranger.aggregate(["a", "a"]) == "a"
    assert limitranger.aggregate(["a", "b", "a"]) == "[a, b]"
