"""pflag rules: interleaved flags, ``--flag=false``, shorthand forms, unknown flags."""

from __future__ import annotations

import pytest

from tinykube.kubectl.flags import Flag, FlagError, parse

pytestmark = pytest.mark.unit

FLAGS = [
    Flag("namespace", "n"),
    Flag("output", "o"),
    Flag("watch", "w", kind="bool", default=False),
    Flag("label-columns", "L", kind="list"),
    Flag("replicas", kind="int", default=-1),
    Flag("dry-run", default="none", no_value="unchanged"),
]


def test_flags_and_positionals_interleave() -> None:
    p = parse(["get", "-n", "x", "pods", "-oyaml", "web", "-w"], FLAGS)
    assert p.args == ["get", "pods", "web"]
    assert (p.namespace, p.output, p.watch) == ("x", "yaml", True)


@pytest.mark.parametrize("argv", [["--watch=false"], ["-w=false"]])
def test_booleans_take_explicit_values(argv: list[str]) -> None:
    assert parse(argv, FLAGS).watch is False


def test_repeated_list_flags_accumulate_and_everything_after_dashes_is_kept() -> None:
    p = parse(["-L", "a", "--label-columns=b", "--", "-n", "x"], FLAGS)
    assert p.label_columns == ["a", "b"]
    assert p.after_dashes == ["-n", "x"]


def test_bare_optional_value_flag() -> None:
    assert parse(["--dry-run"], FLAGS).dry_run == "unchanged"
    assert parse(["--dry-run=client"], FLAGS).dry_run == "client"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--bogus"], "unknown flag: --bogus"),
        (["-z"], "unknown shorthand flag: 'z' in -z"),
        (["--replicas=x"], 'invalid argument "x" for "--replicas" flag'),
        (["-n"], "flag needs an argument"),
    ],
)
def test_errors(argv: list[str], message: str) -> None:
    with pytest.raises(FlagError, match=message):
        parse(argv, FLAGS)
