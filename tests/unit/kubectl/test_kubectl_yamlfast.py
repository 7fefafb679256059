"""-o yaml without PyYAML: go-yaml's quoting rules, and the same bytes as the PyYAML path."""

from __future__ import annotations

import random

import pytest

from tinykube.kubectl import printers, yamlfast

# Each string as the real kubectl (go-yaml v2) wrote it as a ConfigMap value.
KUBECTL_SCALARS = [
    ("=", "="),
    ("<<", "<<"),
    ("~", '"~"'),
    ("0o7", '"0o7"'),
    ("1:20", '"1:20"'),
    (".inf", '".inf"'),
    ("0b1", '"0b1"'),
    ("1_000", '"1_000"'),
    ("2020-01-01", '"2020-01-01"'),
    ("+1", '"+1"'),
    (".5", '".5"'),
    ("07", '"07"'),
    ("1e3", '"1e3"'),
    ("0x1F", '"0x1F"'),
    ("Yes", '"Yes"'),
    ("1.", '"1."'),
    ("*", "'*'"),
    ("&", "'&'"),
    ("!", "'!'"),
    ("08", '"08"'),
    ("2020-01-01T10:00:00", "2020-01-01T10:00:00"),
    ("2020-01-01T10:00:00Z", '"2020-01-01T10:00:00Z"'),
    ("2020-02-30", "2020-02-30"),
    ("1e400", "1e400"),
    ("-0b11", '"-0b11"'),
    ("0x", "0x"),
    (".5_0", '".5_0"'),
    ("2020-1-1", '"2020-1-1"'),
    ("12:70", "12:70"),
    ("99999999999999999999", '"99999999999999999999"'),
    ("0xFFFFFFFFFFFFFFFFF", "0xFFFFFFFFFFFFFFFFF"),
    ("._5", "._5"),
    ("1__0", '"1__0"'),
    ("2020-01-01t10:00:00.5+01:00", '"2020-01-01t10:00:00.5+01:00"'),
    ("2020-01-01 10:00:00", '"2020-01-01 10:00:00"'),
    ("-.5", '"-.5"'),
    ("+.5e-3", '"+.5e-3"'),
    ("0.1.2", "0.1.2"),
    ("1_0.5", '"1_0.5"'),
    ("1:2:3", '"1:2:3"'),
    ("-1:20.5", '"-1:20.5"'),
    ("0X1f", '"0X1f"'),
    ("0B1", '"0B1"'),
    ("0O7", '"0O7"'),
    ("9223372036854775808", '"9223372036854775808"'),
    ("-9223372036854775809", '"-9223372036854775809"'),
    ("on", '"on"'),
    ("y", '"y"'),
    ("n", '"n"'),
    ("NULL", '"NULL"'),
    ("a: b", "'a: b'"),
    ("- a", "'- a'"),
    ("-a", "-a"),
    ("#x", "'#x'"),
    ("a #b", "'a #b'"),
    ("a#b", "a#b"),
    ("---x", "'---x'"),
    ("...", "'...'"),
    ("?", "'?'"),
    ("?x", "?x"),
    (":x", ":x"),
    ("x:", "'x:'"),
    ("null#", "null#"),
    ("%x", "'%x'"),
    ("@x", "'@x'"),
    (" lead", "' lead'"),
    ("trail ", "'trail '"),
    ("18446744073709551616", '"18446744073709551616"'),
    ("0_7", '"0_7"'),
]


@pytest.mark.parametrize(("value", "written"), KUBECTL_SCALARS)
def test_strings_are_quoted_as_kubectl_quotes_them(value: str, written: str) -> None:
    doc = {"k": value}
    assert printers.to_yaml(doc) == f"k: {written}\n"
    assert pyyaml(doc) == f"k: {written}\n"


def pyyaml(doc: object) -> str:
    import yaml

    return yaml.dump(
        doc,
        Dumper=printers._go_yaml_dumper(),
        default_flow_style=False,
        sort_keys=True,
        width=printers.YAML_WIDTH,
        allow_unicode=True,
    )


POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {
        "annotations": {"kubectl.kubernetes.io/last-applied-configuration": '{"a":"b"}\n'},
        "creationTimestamp": "2026-11-25T22:34:39Z",
        "labels": {"app": "web", "tier": "1"},
        "name": "p1",
        "resourceVersion": "13",
    },
    "spec": {
        "containers": [
            {"command": ["sh", "-c", "echo hi; sleep 3600"], "image": "busybox", "name": "c"}
        ],
        "securityContext": {},
        "tolerations": [{"effect": "NoExecute", "tolerationSeconds": 300}],
        "volumes": [],
    },
    "status": {"conditions": [[1, [2, {}]], {"a": [[]]}], "phase": "Pending", "ready": False},
}


def test_plain_objects_take_the_fast_path_with_the_same_bytes() -> None:
    text = yamlfast.dump(POD)
    assert text is not None
    assert text == pyyaml(POD)
    assert '  creationTimestamp: "2026-11-25T22:34:39Z"\n' in text
    assert '    kubectl.kubernetes.io/last-applied-configuration: |\n      {"a":"b"}\n' in text


@pytest.mark.parametrize(
    "doc",
    [
        {"k": "é"},
        {"k": "a\tb"},
        {"k": 1.5},
        {"k": "word " * 20},
        {"k": " lead\nline"},
        {"k": "two\n\n"},
        {"k" * 130: 1},
        ["not", "a", "mapping"],
    ],
    ids=["unicode", "tab", "float", "folded", "indented-block", "keep-block", "long-key", "list"],
)
def test_what_the_fast_path_leaves_to_pyyaml(doc: object) -> None:
    assert yamlfast.dump(doc) is None
    assert printers.to_yaml(doc) == pyyaml(doc)


ALPHABET = [
    *"abcxyzAZ09 -_.:/#'\"?!&*%@`|>,[]{}=+~<\n\\;()",
    "yes",
    "no",
    "null",
    "0x1F",
    "1:20",
    "1.5",
    "2020-01-01",
    "1e3",
    "---",
    "...",
    "  ",
    "y",
    "07",
    "+1",
    "-",
    ".5",
    ".inf",
    "<<",
    "=",
]


def _document(rnd: random.Random) -> dict[str, object]:
    def text() -> str:
        return "".join(rnd.choice(ALPHABET) for _ in range(rnd.randint(0, rnd.choice([5, 40]))))

    def value(depth: int) -> object:
        roll = rnd.random()
        if depth > 3 or roll < 0.5:
            return rnd.choice([text(), text(), text(), rnd.randint(-9, 99999), True, None, {}, []])
        if roll < 0.75:
            return {text(): value(depth + 1) for _ in range(rnd.randint(1, 4))}
        return [value(depth + 1) for _ in range(rnd.randint(1, 4))]

    return {text() or "k": value(0) for _ in range(rnd.randint(1, 3))}


def test_generated_documents_match_pyyaml_whenever_the_fast_path_answers() -> None:
    rnd = random.Random(7)
    answered = 0
    for _ in range(3000):
        doc = _document(rnd)
        text = yamlfast.dump(doc)
        if text is not None:
            answered += 1
            assert text == pyyaml(doc), doc
    assert answered > 300  # the generator does exercise the fast path
