"""Go templates (``-o go-template``): output and error texts as kubectl's Go prints them.

The expected strings were taken from the real kubectl run on the same data.
"""

from __future__ import annotations

import io

import pytest

from tinykube.kubectl import gotemplate, gotemplate_exec
from tinykube.kubectl.errors import CommandError
from tinykube.kubectl.output import go_template, parse_output, with_template_flag

POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "p1", "namespace": "default", "labels": {"app": "web", "tier": "1"}},
    "spec": {
        "containers": [{"name": "c", "image": "busybox"}, {"name": "d", "image": "nginx"}],
        "priority": 0,
        "terminationGracePeriodSeconds": 30,
        "tolerations": [{"key": "k", "tolerationSeconds": 300}],
    },
    "status": {"phase": "Pending"},
    "data": {"token": "aGVsbG8="},
    "nothing": None,
}


def run(template: str, data: object = POD) -> str:
    return gotemplate_exec.execute(template, gotemplate.parse(template), data)


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{.metadata.name}}", "p1"),
        ("{{.metadata.nope}}|{{.metadata.nope.deeper}}", "<no value>|<no value>"),
        ("{{.nothing}}", "<no value>"),
        ("{{.metadata.labels}}", "map[app:web tier:1]"),
        ("{{.spec.tolerations}}", "[map[key:k tolerationSeconds:300]]"),
        ('{{.kind | printf "%q"}}', '"Pod"'),
        ('{{index .spec.containers 1 "name"}}', "d"),
        ('{{index .metadata.labels "nope"}}', "<no value>"),
        ("{{range $i, $c := .spec.containers}}{{$i}}={{$c.name}};{{end}}", "0=c;1=d;"),
        ("{{range .metadata.labels}}{{.}},{{end}}", "web,1,"),
        ("{{range .spec.nope}}x{{else}}empty{{end}}", "empty"),
        ('{{- " a " -}}  {{- .kind }}', " a Pod"),
        ("a  {{- .kind -}}  \n b", "aPodb"),
        ("{{if and .kind .nope}}Y{{else if .kind}}K{{else}}N{{end}}", "K"),
        (
            '{{or .nope "dflt"}} {{not .kind}} {{lt 1 2}} {{eq .spec.priority 0}}',
            "dflt false true true",
        ),
        ('{{printf "%5s|%-4d|%v|%x" "ab" 7 .spec.priority 255}}', "   ab|7   |0|ff"),
        ('{{printf "%05d %+d %.2f %t %c" 42 5 1.5 true 65}}', "00042 +5 1.50 true A"),
        (
            '{{printf "%s" 3}} {{printf "%d" "x"}} {{printf "%d %d" 1}}',
            "%!s(int=3) %!d(string=x) 1 %!d(MISSING)",
        ),
        ('{{printf "%s" .spec.tolerations}}', "[map[key:k tolerationSeconds:%!s(int64=300)]]"),
        ('{{printf "%v" .metadata.nope}}', "<nil>"),
        ('{{printf "%d" 1 2}}', "1%!(EXTRA int=2)"),
        ('{{print 1 2 "a" "b" 3}} {{println "x" 3}}', "1 2ab3 x 3\n"),
        ("{{base64decode .data.token}}", "hello"),
        ('{{exists . "spec" "containers"}} {{exists . "nope"}}', "true false"),
        ("{{with .status}}{{.phase}}{{end}}{{with .nope}}x{{else}}-{{end}}", "Pending-"),
        ("{{$x := .kind}}{{$x}} {{$.kind}} {{(index .spec.containers 0).name}}", "Pod Pod c"),
        ("{{$n := 0}}{{range .spec.containers}}{{$n = 1}}{{end}}{{$n}}", "1"),
        ('{{.spec.containers | len | printf "%03d"}} {{len .kind}}', "002 3"),
        ('{{eq .kind "X" "Pod"}} {{ne 1 2}} {{ge .spec.priority 0}}', "true true true"),
        ('{{.metadata.name}}{{/* a comment */}}{{"\\t"}}{{`raw\\n`}}', "p1\traw\\n"),
    ],
)
def test_output_matches_go(template: str, expected: str) -> None:
    assert run(template) == expected


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{.metadata.name", "template: output:1: unclosed action"),
        ("{{foo}}", 'template: output:1: function "foo" not defined'),
        ("{{end}}", "template: output:1: unexpected {{end}}"),
        ("{{if .kind}}x", "template: output:1: unexpected EOF"),
        ("{{if}}x{{end}}", "template: output:1: missing value for if"),
        ("a\n{{range}}{{end}}", "template: output:2: missing value for range"),
    ],
)
def test_parse_errors_read_as_go(template: str, message: str) -> None:
    with pytest.raises(gotemplate.TemplateError) as err:
        gotemplate.parse(template)
    assert str(err.value) == message


@pytest.mark.parametrize(
    ("template", "message"),
    [
        (
            "{{.spec.containers.x}}",
            'template: output:1:7: executing "output" at <.spec.containers.x>: '
            "can't evaluate field x in type interface {}",
        ),
        (
            "{{index .spec.containers 5}}",
            'template: output:1:2: executing "output" at <index .spec.containers 5>: '
            "error calling index: index out of range: 5",
        ),
        (
            "{{.nope | len}}",
            'template: output:1:10: executing "output" at <len>: error calling len: '
            "reflect: call of reflect.Value.Type on zero Value",
        ),
        (
            '{{eq 1 "a"}}',
            'template: output:1:2: executing "output" at <eq 1 "a">: error calling eq: '
            "incompatible types for comparison: int and string",
        ),
        (
            "{{range .kind}}x{{end}}",
            'template: output:1:8: executing "output" at <.kind>: range can\'t iterate over Pod',
        ),
    ],
)
def test_execution_errors_read_as_go(template: str, message: str) -> None:
    with pytest.raises(gotemplate_exec.ExecError) as err:
        run(template)
    assert str(err.value) == message


def test_failed_template_prints_debugging_block_then_fails() -> None:
    out = io.StringIO()
    data = {"kind": "ConfigMap", "data": {"a": "<b>"}}
    with pytest.raises(CommandError) as err:
        go_template(out, "x{{.data.a.b}}", data)
    assert out.getvalue() == (
        'xError executing template: template: output:1:8: executing "output" at <.data.a.b>: '
        "can't evaluate field b in type interface {}. Printing more information for debugging "
        "the template:\n\ttemplate was:\n\t\tx{{.data.a.b}}\n\traw data was:\n"
        '\t\t{"data":{"a":"\\u003cb\\u003e"},"kind":"ConfigMap"}\n'
        "\tobject given to template engine was:\n\t\tmap[data:map[a:<b>] kind:ConfigMap]\n\n"
    )
    assert str(err.value).startswith('error executing template "x{{.data.a.b}}": template:')


def test_output_flag_forms() -> None:
    assert parse_output("go-template={{.kind}}").kind == "go-template"
    assert parse_output("template={{.kind}}").arg == "{{.kind}}"
    assert with_template_flag(None, "{{.kind}}") == "go-template={{.kind}}"
    assert with_template_flag("jsonpath", "{.kind}") == "jsonpath={.kind}"
    with pytest.raises(CommandError, match="no template given"):
        parse_output("go-template")
    with pytest.raises(
        CommandError, match=r"error parsing template \{\{\.kind, template: output:1"
    ):
        parse_output("go-template={{.kind")
    with pytest.raises(CommandError, match="unable to match a printer"):
        with_template_flag("jsonpath={.a}", "{.b}")


def test_missing_key_fails_when_missing_keys_are_not_allowed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(gotemplate_exec, "missing_keys_allowed", False)
    assert run("{{.metadata.name}}") == "p1"
    with pytest.raises(gotemplate_exec.ExecError) as err:
        run("{{.metadata.nope}}")
    assert str(err.value) == (
        'template: output:1:11: executing "output" at <.metadata.nope>: '
        'map has no entry for key "nope"'
    )


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        (
            '{{range .spec.containers}}{{if eq .name "c"}}{{continue}}{{end}}{{.name}}{{end}}|'
            "{{range .spec.tolerations}}{{.key}}{{break}}{{end}}",
            "d|k",
        ),
        (
            '{{define "x"}}X{{.kind}}{{end}}{{template "x" .}}{{template "x" .metadata}}',
            "XPodX<no value>",
        ),
        ('{{block "b" .metadata}}[{{.name}}]{{end}}', "[p1]"),
        ("{{slice .kind 1 2}} {{len (slice .spec.containers 0 1)}}", "o 1"),
        ('{{html "<a>&\'\\""}}', "&lt;a&gt;&amp;&#39;&#34;"),
        (
            '{{js "a\'b<c>=&"}} {{urlquery "a b&c/d~"}}',
            "a\\'b\\u003Cc\\u003E\\u003D\\u0026 a+b%26c%2Fd~",
        ),
        ("{{'a'}} {{0x1F}} {{1e3}} {{-3}}", "97 31 1000 -3"),
    ],
)
def test_blocks_templates_and_more_functions(template: str, expected: str) -> None:
    assert run(template) == expected


def test_break_outside_range_does_not_parse() -> None:
    with pytest.raises(gotemplate.TemplateError, match=r"\{\{break\}\} outside \{\{range\}\}"):
        gotemplate.parse("{{break}}")
