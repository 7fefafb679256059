"""The pure parts of the API server's SPDY translation: resize messages and stream counts."""

from __future__ import annotations

import pytest
from multidict import MultiDict

from tinykube.apiserver.spdyupgrade import expected_streams, split_json


def test_resize_messages_are_whole_json_values_however_they_are_split() -> None:
    stream = b'{"Width":100,"Height":30}\n{"Width":80,"Height":24}\n'
    seen: list[bytes] = []
    rest = b""
    for i in range(len(stream)):  # one byte at a time: the worst split there is
        values, rest = split_json(rest + stream[i : i + 1])
        seen += values
    assert seen == [b'{"Width":100,"Height":30}', b'{"Width":80,"Height":24}']
    assert rest.strip() == b""


def test_a_partial_value_waits_for_the_rest() -> None:
    values, rest = split_json(b'{"Width":1,"Height":2}{"Wid')
    assert values == [b'{"Width":1,"Height":2}']
    assert rest == b'{"Wid'


@pytest.mark.parametrize(
    ("query", "streams"),
    [
        ({"stdout": "true"}, {"error", "stdout"}),
        (
            {"stdin": "true", "stdout": "true", "stderr": "true"},
            {"error", "stdin", "stdout", "stderr"},
        ),
        # A terminal merges stderr into stdout, and adds the resize stream.
        (
            {"stdin": "true", "stdout": "true", "stderr": "true", "tty": "true"},
            {"error", "stdin", "stdout", "resize"},
        ),
        ({"stdout": "1", "stderr": "false"}, {"error", "stdout"}),
    ],
)
def test_the_streams_a_request_implies(query: dict[str, str], streams: set[str]) -> None:
    assert expected_streams(MultiDict(query)) == streams
