"""Name formats report upstream's exact messages."""

from __future__ import annotations

import pytest

from tinykube.api.validation import names

SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    r"for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
    "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex "
    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
DNS1035_MSG = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
    "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or "
    "'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
)


@pytest.mark.parametrize(
    ("check", "value", "errors"),
    [
        pytest.param(names.is_dns1123_subdomain, "example.com", [], id="subdomain-ok"),
        pytest.param(names.is_dns1123_subdomain, "Foo", [SUBDOMAIN_MSG], id="subdomain-upper"),
        pytest.param(
            names.is_dns1123_subdomain,
            "a" * 254,
            ["must be no more than 253 characters"],
            id="subdomain-too-long",
        ),
        pytest.param(names.is_dns1123_label, "my-name", [], id="label-ok"),
        pytest.param(names.is_dns1123_label, "a.b", ["must not contain dots"], id="label-dots"),
        pytest.param(names.is_dns1123_label, "-a", [LABEL_MSG], id="label-leading-dash"),
        pytest.param(
            names.is_dns1123_label,
            "a" * 64,
            ["must be no more than 63 characters"],
            id="label-too-long",
        ),
        pytest.param(names.is_dns1035_label, "web", [], id="dns1035-ok"),
        pytest.param(names.is_dns1035_label, "1web", [DNS1035_MSG], id="dns1035-digit-first"),
        pytest.param(names.is_dns1123_label, "a\n", [LABEL_MSG], id="trailing-newline"),
    ],
)
def test_dns_names(check, value: str, errors: list[str]) -> None:
    assert check(value) == errors


@pytest.mark.parametrize(
    ("value", "errors"),
    [
        pytest.param("app", [], id="plain"),
        pytest.param("example.com/app", [], id="prefixed"),
        pytest.param("/app", ["prefix part must be non-empty"], id="empty-prefix"),
        pytest.param("Example.com/app", ["prefix part " + SUBDOMAIN_MSG], id="bad-prefix"),
        pytest.param(
            "example.com/",
            [
                "name part must be non-empty",
                "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
            ],
            id="empty-name",
        ),
        pytest.param(
            "a/b/c",
            [
                "a valid label key must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
            ],
            id="two-slashes",
        ),
    ],
)
def test_qualified_names(value: str, errors: list[str]) -> None:
    assert names.is_qualified_name(value) == errors


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        pytest.param("", True, id="empty"),
        pytest.param("v1.2_x", True, id="punctuation-inside"),
        pytest.param("-x", False, id="leading-dash"),
        pytest.param("a" * 64, False, id="too-long"),
    ],
)
def test_label_values(value: str, ok: bool) -> None:
    assert (names.is_label_value(value) == []) is ok


@pytest.mark.parametrize(
    ("value", "errors"),
    [
        pytest.param("key.name", [], id="ok"),
        pytest.param("..x", ["must not start with '..'"], id="dotdot"),
        pytest.param(".", ["must not be '.'"], id="dot"),
    ],
)
def test_config_map_keys(value: str, errors: list[str]) -> None:
    assert names.is_config_map_key(value) == errors


def test_generate_name_prefix_may_end_with_dash() -> None:
    assert names.subdomain_name("web-", True) == []
    assert names.subdomain_name("web-", False) == [SUBDOMAIN_MSG]
