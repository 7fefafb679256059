"""Label selector grammar, matching, LabelSelector conversion and printing."""

from __future__ import annotations

from typing import Any

import pytest

from tinykube.api import errors, selectors

KEY_NAME_REGEX = "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]'"
VALUE_RULE = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
    "'my_value',  or '12345', regex used for validation is "
    "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)
KEY_RULE = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and "
    "end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex "
    f"used for validation is {KEY_NAME_REGEX})"
)


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        pytest.param("", "", id="empty"),
        pytest.param("app=web", "app=web", id="equals"),
        pytest.param("app==web", "app==web", id="double-equals"),
        pytest.param("app!=web", "app!=web", id="not-equals"),
        pytest.param("app", "app", id="exists"),
        pytest.param("!app", "!app", id="does-not-exist"),
        pytest.param("tier in (b,a)", "tier in (a,b)", id="in-sorted"),
        pytest.param("tier notin (a)", "tier notin (a)", id="notin"),
        pytest.param("tier in(a, b)", "tier in (a,b)", id="in-no-space-before-paren"),
        pytest.param("  app = web ,  x  ", "app=web,x", id="whitespace-everywhere"),
        pytest.param("b=1,a=2", "a=2,b=1", id="sorted-by-key"),
        pytest.param("x in (foo,,baz),y,z notin ()", "x in (,baz,foo),y,z notin ()", id="empties"),
        pytest.param("x in (a,a)", "x in (a)", id="duplicates"),
        pytest.param("app=", "app=", id="empty-value"),
        pytest.param("in in (in,notin)", "in in (in,notin)", id="keywords-as-names"),
        pytest.param("example.com/app=web", "example.com/app=web", id="prefixed-key"),
        pytest.param("replicas>3", "replicas>3", id="greater-than"),
        pytest.param("replicas<3", "replicas<3", id="less-than"),
    ],
)
def test_parse_valid(text: str, canonical: str) -> None:
    assert str(selectors.parse(text)) == canonical


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            "a b",
            "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt",
            id="missing-operator",
        ),
        pytest.param("a=b c", "found 'c', expected: ',' or 'end of string'", id="trailing-word"),
        pytest.param("a,", "found '', expected: identifier after ','", id="trailing-comma"),
        pytest.param(
            ",a", "found ',', expected: !, identifier, or 'end of string'", id="leading-comma"
        ),
        pytest.param(
            "a in b", "unable to parse requirement: found 'b' expected: '('", id="in-without-paren"
        ),
        pytest.param(
            "a in (b c)",
            "unable to parse requirement: found 'c', expected: ',' or ')'",
            id="space-in-set",
        ),
        pytest.param(
            "a in (=)",
            "unable to parse requirement: found '=', expected: ',', ')' or identifier",
            id="operator-in-set",
        ),
        pytest.param(
            "a=(", "unable to parse requirement: found '(', expected: identifier", id="paren-value"
        ),
        pytest.param("!a=b", "found '=', expected: ',' or 'end of string'", id="not-with-value"),
        pytest.param("!", "unable to parse requirement: found '', expected: identifier", id="bang"),
        pytest.param(
            "A@=x",
            f'unable to parse requirement: <nil>: Invalid value: "A@": {KEY_RULE}',
            id="bad-key",
        ),
        pytest.param(
            "a=b@",
            f'unable to parse requirement: values[0][a]: Invalid value: "b@": {VALUE_RULE}',
            id="bad-value",
        ),
        pytest.param(
            "a=" + "v" * 64,
            "unable to parse requirement: values[0][a]: Invalid value: "
            f'"{"v" * 64}": must be no more than 63 bytes',
            id="long-value",
        ),
        pytest.param(
            "/a",
            'unable to parse requirement: <nil>: Invalid value: "/a": '
            "prefix part must be non-empty",
            id="empty-prefix",
        ),
        pytest.param(
            "a>x",
            'unable to parse requirement: values[0]: Invalid value: "x": '
            "for 'Gt', 'Lt' operators, the value must be an integer",
            id="gt-not-integer",
        ),
    ],
)
def test_parse_errors_are_bad_requests(text: str, message: str) -> None:
    with pytest.raises(errors.BadRequest) as caught:
        selectors.parse(text)
    assert caught.value.message == message
    assert caught.value.status()["code"] == 400


def test_too_many_slashes_in_key() -> None:
    with pytest.raises(errors.BadRequest, match="a valid label key must consist of") as caught:
        selectors.parse("a/b/c")
    assert caught.value.message.endswith(
        "with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
    )


LABELS = {"app": "web", "tier": "front", "n": "5"}


@pytest.mark.parametrize(
    ("text", "labels", "matched"),
    [
        pytest.param("", LABELS, True, id="empty-matches-all"),
        pytest.param("app=web", LABELS, True, id="equals-hit"),
        pytest.param("app=db", LABELS, False, id="equals-miss"),
        pytest.param("app=web", None, False, id="equals-no-labels"),
        pytest.param("app!=db", LABELS, True, id="not-equals-hit"),
        pytest.param("app!=web", LABELS, False, id="not-equals-miss"),
        pytest.param("zone!=a", LABELS, True, id="not-equals-missing-key"),
        pytest.param("tier in (front,back)", LABELS, True, id="in-hit"),
        pytest.param("tier in (back)", LABELS, False, id="in-miss"),
        pytest.param("zone in (a)", LABELS, False, id="in-missing-key"),
        pytest.param("tier notin (back)", LABELS, True, id="notin-hit"),
        pytest.param("tier notin (front)", LABELS, False, id="notin-miss"),
        pytest.param("zone notin (a)", LABELS, True, id="notin-missing-key"),
        pytest.param("app", LABELS, True, id="exists"),
        pytest.param("zone", LABELS, False, id="exists-miss"),
        pytest.param("!zone", LABELS, True, id="not-exists"),
        pytest.param("!app", LABELS, False, id="not-exists-miss"),
        pytest.param("!zone", None, True, id="not-exists-no-labels"),
        pytest.param("app=web,tier=back", LABELS, False, id="and"),
        pytest.param("n>4,n<6", LABELS, True, id="numeric"),
        pytest.param("app>4", LABELS, False, id="numeric-non-integer-label"),
        pytest.param(
            "!service.kubernetes.io/headless,!service.kubernetes.io/service-proxy-name",
            {"app": "x"},
            True,
            id="kube-proxy-selector",
        ),
    ],
)
def test_matches(text: str, labels: dict[str, str] | None, matched: bool) -> None:
    assert selectors.parse(text).matches(labels) is matched


def test_empty_flag() -> None:
    assert selectors.parse("").empty
    assert not selectors.parse("a").empty
    assert not selectors.Selector.nothing().empty


def test_requires_exact_match() -> None:
    sel = selectors.parse("app=web,tier in (a),x in (a,b),y!=z")
    assert sel.requires_exact_match("app") == "web"
    assert sel.requires_exact_match("tier") == "a"
    assert sel.requires_exact_match("x") is None
    assert sel.requires_exact_match("y") is None
    assert sel.requires_exact_match("absent") is None


@pytest.mark.parametrize(
    ("sel", "labels", "matched"),
    [
        pytest.param(None, {"a": "b"}, False, id="nil-matches-nothing"),
        pytest.param(None, None, False, id="nil-matches-nothing-even-unlabelled"),
        pytest.param({}, {"a": "b"}, True, id="empty-matches-everything"),
        pytest.param({"matchLabels": {}}, None, True, id="empty-match-labels"),
        pytest.param({"matchLabels": {"a": "b"}}, {"a": "b", "c": "d"}, True, id="labels-hit"),
        pytest.param({"matchLabels": {"a": "b"}}, {"a": "c"}, False, id="labels-miss"),
        pytest.param(
            {"matchExpressions": [{"key": "t", "operator": "In", "values": ["x", "y"]}]},
            {"t": "y"},
            True,
            id="in",
        ),
        pytest.param(
            {"matchExpressions": [{"key": "t", "operator": "NotIn", "values": ["x"]}]},
            {},
            True,
            id="notin-missing",
        ),
        pytest.param(
            {"matchExpressions": [{"key": "t", "operator": "Exists"}]}, {"t": ""}, True, id="exists"
        ),
        pytest.param(
            {"matchExpressions": [{"key": "t", "operator": "DoesNotExist"}]},
            {"t": ""},
            False,
            id="does-not-exist",
        ),
    ],
)
def test_from_label_selector(sel: dict[str, Any] | None, labels: Any, matched: bool) -> None:
    assert selectors.from_label_selector(sel).matches(labels) is matched


def test_from_label_selector_rejects_unknown_operator() -> None:
    bad = {"matchExpressions": [{"key": "t", "operator": "Near", "values": ["x"]}]}
    with pytest.raises(errors.BadRequest, match='"Near" is not a valid label selector operator'):
        selectors.from_label_selector(bad)


def test_from_label_selector_rejects_empty_in() -> None:
    bad = {"matchExpressions": [{"key": "t", "operator": "In", "values": []}]}
    with pytest.raises(errors.BadRequest) as caught:
        selectors.from_label_selector(bad)
    assert caught.value.message == (
        "values: Invalid value: []string{}: for 'in', 'notin' operators, values set can't be empty"
    )


@pytest.mark.parametrize(
    ("sel", "text"),
    [
        pytest.param(None, "<none>", id="nil"),
        pytest.param({}, "<none>", id="empty"),
        pytest.param({"matchLabels": {"app": "nginx"}}, "app=nginx", id="labels"),
        pytest.param(
            {
                "matchLabels": {"z": "1", "app": "nginx"},
                "matchExpressions": [
                    {"key": "tier", "operator": "In", "values": ["b", "a"]},
                    {"key": "x", "operator": "DoesNotExist"},
                    {"key": "env", "operator": "NotIn", "values": ["prod"]},
                    {"key": "canary", "operator": "Exists"},
                ],
            },
            "app=nginx,canary,env notin (prod),tier in (a,b),!x,z=1",
            id="everything-sorted-by-key",
        ),
        pytest.param(
            {"matchExpressions": [{"key": "t", "operator": "Bogus"}]}, "<error>", id="invalid"
        ),
    ],
)
def test_to_string(sel: dict[str, Any] | None, text: str) -> None:
    assert selectors.to_string(sel) == text


def test_format_labels() -> None:
    assert selectors.format_labels({"b": "2", "a": "1"}) == "a=1,b=2"
    assert selectors.format_labels({}) == "<none>"
    assert selectors.format_labels(None) == "<none>"


def test_from_set() -> None:
    sel = selectors.Selector.from_set({"app": "web"})
    assert sel.matches({"app": "web", "x": "y"})
    assert not sel.matches({"app": "db"})
    assert selectors.Selector.from_set(None).matches(None)
