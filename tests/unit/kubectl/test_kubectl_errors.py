"""The error lines kubectl prints for API failures (api-compat §5.3)."""

from __future__ import annotations

import pytest

from tinykube.api import errors as api
from tinykube.kubectl.errors import Aggregate, message_for, with_prefix
from tinykube.kubectl.transport import error_for

pytestmark = pytest.mark.unit


def test_not_found() -> None:
    err = api.not_found("pods", "", "x")
    assert message_for(err) == 'Error from server (NotFound): pods "x" not found'


def test_file_prefix() -> None:
    err = with_prefix(api.already_exists("deployments", "apps", "web"), "creating", "app.yaml")
    assert message_for(err) == (
        'Error from server (AlreadyExists): error when creating "app.yaml": deployments.apps "web" already exists'
    )


def test_invalid_with_one_and_several_causes() -> None:
    one = api.Invalid(
        'Pod "p" is invalid',
        kind="Pod",
        name="p",
        causes=[api.Cause("FieldValueRequired", "Required value", "spec.x")],
    )
    assert message_for(one) == 'The Pod "p" is invalid: spec.x: Required value'
    causes = [api.Cause("r", "Required value", "a"), api.Cause("r", "Invalid value: 1", "b")]
    two = api.Invalid("x", kind="Pod", name="p", causes=causes)
    assert (
        message_for(two) == 'The Pod "p" is invalid: \n* a: Required value\n* b: Invalid value: 1'
    )


def test_unauthorized() -> None:
    assert (
        message_for(api.Unauthorized("Unauthorized"))
        == "error: You must be logged in to the server (Unauthorized)"
    )


def test_connection_refused_names_the_server() -> None:
    text = message_for(ConnectionRefusedError(111, "refused"), "https://127.0.0.1:6443")
    assert (
        text
        == "The connection to the server 127.0.0.1:6443 was refused - did you specify the right host or port?"
    )


def test_body_that_is_not_a_status() -> None:
    assert message_for(error_for(404, b"404 page not found")) == (
        "Error from server (NotFound): the server could not find the requested resource"
    )


def test_aggregate_prints_one_line_each_without_prefix() -> None:
    errs = [api.not_found("pods", "", "a"), api.not_found("pods", "", "b")]
    assert message_for(Aggregate(errs)) == (
        'Error from server (NotFound): pods "a" not found\nError from server (NotFound): pods "b" not found'
    )
