"""matchConditions: CEL expressions that decide whether a matching webhook is called.

Expressions are compiled once, with the configuration (``compile_conditions``),
through cel-python, a pure-Python implementation of Google's CEL, which is
imported only when some configuration has conditions; the
dispatcher evaluates them for each request that passed rules and selectors.
They see ``object``, ``oldObject`` and ``request`` (the AdmissionRequest, as
the webhook would get it). ``authorizer`` is not offered: an expression that
uses it fails to evaluate, and the failurePolicy decides, as for any error.

Upstream's verdict, kept here: one condition false skips the webhook, even
when another failed; otherwise an error fails the request (failurePolicy
Fail, 403 ``<resource> "<name>" is forbidden: expression '<e>' resulted in
error: ...``) or skips the webhook (Ignore); all true calls it. cel-python's
own error texts differ from cel-go's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tinykube.api.validation.admissionregistration import cel_compile_problem, cel_environment

MAX_ERROR = 300


@dataclass(frozen=True)
class Condition:
    name: str
    expression: str
    program: Any  # a celpy Runner, or None when the expression does not compile
    error: str = ""


@dataclass(frozen=True)
class Verdict:
    call: bool
    error: str = ""  # set when the request must fail (failurePolicy Fail)


def compile_conditions(raw: Any) -> tuple[Condition, ...]:
    out = []
    for item in raw or []:
        if not isinstance(item, dict):
            continue
        name, expression = str(item.get("name", "")), str(item.get("expression", ""))
        problem = cel_compile_problem(expression)
        if problem:  # stored before validation knew better: fails at evaluation
            out.append(Condition(name, expression, None, f"compilation failed: {problem}"))
            continue
        env = cel_environment()
        out.append(Condition(name, expression, env.program(env.compile(expression))))
    return tuple(out)


def evaluate(conditions: tuple[Condition, ...], request: dict[str, Any], fail: bool) -> Verdict:
    """Whether to call the webhook; ``fail`` is failurePolicy Fail."""
    import celpy  # loaded by compile_conditions already

    activation = {
        "object": celpy.json_to_cel(request.get("object")),
        "oldObject": celpy.json_to_cel(request.get("oldObject")),
        "request": celpy.json_to_cel(
            {k: v for k, v in request.items() if k not in ("object", "oldObject")}
        ),
    }
    problems: list[str] = []
    for condition in conditions:
        result, problem = _run(condition, activation)
        if problem:
            problems.append(f"expression '{condition.expression}' resulted in error: {problem}")
        elif result is False:
            return Verdict(call=False)
    if not problems:
        return Verdict(call=True)
    if not fail:
        return Verdict(call=False)
    text = problems[0] if len(problems) == 1 else "[" + ", ".join(problems) + "]"
    return Verdict(call=False, error=text)


def _run(condition: Condition, activation: dict[str, Any]) -> tuple[bool | None, str]:
    import celpy

    if condition.program is None:
        return None, condition.error
    try:
        value = condition.program.evaluate(activation)
    except Exception as exc:  # CELEvalError and whatever a builtin raised
        return None, _short(exc)
    if isinstance(value, celpy.CELEvalError):
        return None, _short(value)
    if not isinstance(value, celpy.celtypes.BoolType):
        return None, f"must evaluate to bool, got {type(value).__name__}"
    return bool(value), ""


def _short(exc: BaseException) -> str:
    """The first argument of the error, without the activation cel-python appends."""
    text = str(exc.args[0]) if exc.args else str(exc)
    text = text.split(" (in activation", 1)[0].strip()
    return text if len(text) <= MAX_ERROR else text[:MAX_ERROR] + "..."
