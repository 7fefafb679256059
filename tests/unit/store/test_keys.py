"""Prefix ranges: the SQL range must hold exactly the keys that start with the prefix."""

import pytest

from tinykube.store.keys import prefix_end

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("prefix", "end"),
    [
        pytest.param("/registry/pods/a/", "/registry/pods/a0", id="slash"),
        pytest.param("", None, id="empty-has-no-bound"),
        pytest.param("a\U0010ffff", "b", id="max-code-point-carries"),
        pytest.param("\U0010ffff\U0010ffff", None, id="all-max"),
        pytest.param("a\ud7ff", "a\ue000", id="skips-surrogates"),
    ],
)
def test_prefix_end(prefix: str, end: str | None) -> None:
    assert prefix_end(prefix) == end


@pytest.mark.parametrize("prefix", ["/registry/pods/a/", "/x\U0010ffff", "é/", "a\ud7ff"])
def test_range_holds_exactly_the_prefixed_keys(prefix: str) -> None:
    end = prefix_end(prefix)
    assert end is not None
    samples = ["", "/", "/registry/pods/a", "/registry/pods/a0", "/registry/pods/ab/x", "é", "éz"]
    samples += [prefix, prefix + "x", prefix + "\U0010ffff", prefix[:-1], prefix + "\x00"]
    for key in samples:
        in_range = prefix <= key < end
        utf8_in_range = prefix.encode() <= key.encode() < end.encode()  # how SQLite compares
        assert in_range == utf8_in_range == key.startswith(prefix), key
