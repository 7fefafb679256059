"""NodeAffinity and NodePorts filters and scores, ImageLocality scores."""

from __future__ import annotations

import pytest
from builders import MakeNode, MakePod, expr
from harness import filter_all, score_all

from tinykube.scheduler.framework import Code
from tinykube.scheduler.plugins import imagelocality, nodeaffinity, nodeports

pytestmark = pytest.mark.unit

NODE = MakeNode().name("n1").label("zone", "a").label("gen", "5").label("ssd", "true").obj()


@pytest.mark.parametrize(
    ("terms", "want"),
    [
        pytest.param([[expr("zone", "In", ["a", "b"])]], True, id="in"),
        pytest.param([[expr("zone", "In", ["b"])]], False, id="in-miss"),
        pytest.param([[expr("zone", "NotIn", ["b"])]], True, id="notin"),
        pytest.param([[expr("missing", "NotIn", ["b"])]], True, id="notin-absent-key"),
        pytest.param([[expr("ssd", "Exists")]], True, id="exists"),
        pytest.param([[expr("gpu", "DoesNotExist")]], True, id="does-not-exist"),
        pytest.param([[expr("ssd", "DoesNotExist")]], False, id="does-not-exist-miss"),
        pytest.param([[expr("gen", "Gt", ["4"])]], True, id="gt"),
        pytest.param([[expr("gen", "Lt", ["5"])]], False, id="lt"),
        pytest.param([[expr("zone", "Gt", ["1"])]], False, id="gt-not-a-number"),
        pytest.param(
            [[expr("zone", "In", ["a"]), expr("ssd", "DoesNotExist")]], False, id="and-in-term"
        ),
        pytest.param(
            [[expr("zone", "In", ["b"])], [expr("ssd", "Exists")]], True, id="terms-are-ored"
        ),
        pytest.param([[]], False, id="empty-term-matches-nothing"),
        pytest.param([[expr("zone", "Bogus", ["a"])]], False, id="bad-operator"),
    ],
)
def test_required_terms(terms: list, want: bool) -> None:
    pod = MakePod().node_affinity_required(*terms).obj()
    got = filter_all("NodeAffinity", pod, [NODE])["n1"]
    assert got.success is want
    if not want:
        assert got.code is Code.UNSCHEDULABLE_AND_UNRESOLVABLE
        assert got.reasons == (nodeaffinity.ERR_REASON_POD,)


def test_match_fields_on_name() -> None:
    pod = MakePod().obj()
    pod["spec"]["affinity"] = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n2"]}]}
                ]
            }
        }
    }
    nodes = [NODE, MakeNode().name("n2").obj()]
    got = filter_all("NodeAffinity", pod, nodes)
    assert not got["n1"].success
    assert got["n2"].success


@pytest.mark.parametrize(
    ("selector", "want"),
    [
        pytest.param({"zone": "a"}, True, id="match"),
        pytest.param({"zone": "a", "ssd": "false"}, False, id="all-must-match"),
        pytest.param({}, True, id="empty"),
    ],
)
def test_node_selector(selector: dict, want: bool) -> None:
    pod = MakePod().node_selector(selector).obj()
    assert filter_all("NodeAffinity", pod, [NODE])["n1"].success is want


def test_node_selector_and_affinity_both_apply() -> None:
    pod = MakePod().node_selector({"zone": "a"}).node_affinity_in("ssd", ["false"]).obj()
    assert not filter_all("NodeAffinity", pod, [NODE])["n1"].success


def test_added_affinity_is_enforced_with_its_own_reason() -> None:
    args = {
        "addedAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": [expr("zone", "In", ["b"])]}]
            }
        }
    }
    got = filter_all("NodeAffinity", MakePod().obj(), [NODE], args=args)["n1"]
    assert got.reasons == (nodeaffinity.ERR_REASON_ENFORCED,)


def test_weighted_preferred_terms() -> None:
    nodes = [
        MakeNode().name("both").label("zone", "a").label("ssd", "true").obj(),
        MakeNode().name("zone").label("zone", "a").obj(),
        MakeNode().name("ssd").label("ssd", "true").obj(),
        MakeNode().name("none").obj(),
    ]
    pod = (
        MakePod()
        .node_affinity_preferred(2, [expr("zone", "In", ["a"])])
        .node_affinity_preferred(8, [expr("ssd", "Exists")])
        .obj()
    )
    # raw 10, 2, 8, 0 -> scaled to the best node
    assert score_all("NodeAffinity", pod, nodes) == {"both": 100, "zone": 20, "ssd": 80, "none": 0}


def test_no_preferences_skip_scoring() -> None:
    assert score_all("NodeAffinity", MakePod().obj(), [NODE]) == {"n1": 0}


@pytest.mark.parametrize(
    ("existing", "wanted", "conflict"),
    [
        pytest.param(("", "TCP", 80), ("", "TCP", 80), True, id="same-port"),
        pytest.param(("", "TCP", 80), ("", "UDP", 80), False, id="other-protocol"),
        pytest.param(("", "TCP", 80), ("", "TCP", 81), False, id="other-port"),
        pytest.param(("10.0.0.1", "TCP", 80), ("10.0.0.2", "TCP", 80), False, id="other-ips"),
        pytest.param(("10.0.0.1", "TCP", 80), ("", "TCP", 80), True, id="wildcard-wanted"),
        pytest.param(("", "TCP", 80), ("10.0.0.1", "TCP", 80), True, id="wildcard-used"),
    ],
)
def test_node_ports(existing: tuple, wanted: tuple, conflict: bool) -> None:
    ip, proto, port = existing
    other = MakePod().host_port(port, proto, ip).node("n1").obj()
    ip, proto, port = wanted
    pod = MakePod().host_port(port, proto, ip).obj()
    got = filter_all("NodePorts", pod, [MakeNode().name("n1").obj()], [other])["n1"]
    assert got.success is not conflict
    if conflict:
        assert got.code is Code.UNSCHEDULABLE
        assert got.reasons == (nodeports.ERR_REASON,)


def test_no_host_ports_skips() -> None:
    other = MakePod().host_port(80).node("n1").obj()
    got = filter_all("NodePorts", MakePod().obj(), [MakeNode().name("n1").obj()], [other])
    assert got["n1"].success


MB = 1024 * 1024


def test_image_locality_prefers_larger_local_image() -> None:
    nodes = [
        MakeNode().name("small").image(40 * MB, "gcr.io/40:latest").obj(),
        MakeNode().name("large").image(300 * MB, "gcr.io/300").obj(),
        MakeNode().name("none").obj(),
    ]
    pod = MakePod().container("gcr.io/40").container("gcr.io/300:latest").obj()
    # each image is on 1 of 3 nodes: 40/3 MB is under the 23 MB floor; 100 MB of
    # a 2000 MB ceiling -> 100 * (100 - 23) / (2000 - 23)
    assert score_all("ImageLocality", pod, nodes) == {"small": 0, "large": 3, "none": 0}


def test_image_locality_scale() -> None:
    assert imagelocality.scaled_score(0, 1) == 0
    assert imagelocality.scaled_score(1000 * MB, 1) == 100
    assert imagelocality.scaled_score(5000 * MB, 1) == 100
