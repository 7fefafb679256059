"""``tkctl`` / ``tinykube kubectl``: global flags, dispatch, exit codes.

The first word that is not a flag names the command; its module under
``commands/`` is imported only then (start-up time matters: the real kubectl
answers in tens of milliseconds). Each command module exposes ``FLAGS`` (its
own ``flags.Flag`` rows, parsed together with the global ones) and
``async def run(f, opts) -> int``. Failures raised by a command are printed
by ``errors.message_for`` and exit 1, as kubectl's ``CheckErr`` does.

The modules every command loads (this one, flags, factory, transport,
http11, kubeconfig, discovery, resources, output, printers, errors, get)
write ``TYPE_CHECKING = False`` instead of importing it: type checkers
treat the name the same way, and not importing ``typing`` saves every run a
few milliseconds. Their ``Obj = dict[str, "Any"]`` aliases quote ``Any`` for
the same reason.
"""

from __future__ import annotations

import importlib
import sys

from tinykube.kubectl.flags import GLOBAL_FLAGS, Flag, FlagError, parse

TYPE_CHECKING = False  # typing is for type checkers only: see main
if TYPE_CHECKING:
    from collections.abc import Coroutine
    from typing import Any

# kubectl's PrintFlags give every command that prints objects (``-o``) a
# ``--template`` that fills in ``-o go-template``/``jsonpath``, and
# ``--allow-missing-template-keys`` (false: a missing key fails a go-template).
TEMPLATE_FLAGS = [Flag("template"), Flag("allow-missing-template-keys", kind="bool", default=True)]

# command word -> module under tinykube.kubectl.commands
COMMANDS = {
    "get": "get",
    "create": "create",
    "apply": "apply",
    "delete": "delete",
    "describe": "describe",
    "logs": "logs",
    "exec": "exec",
    "attach": "attach",
    "debug": "debug",
    "port-forward": "portforward",
    "run": "run",
    "expose": "expose",
    "scale": "scale",
    "label": "label",
    "annotate": "label",
    "patch": "patch",
    "edit": "edit",
    "replace": "replace",
    "rollout": "rollout",
    "set": "set",
    "taint": "taint",
    "cordon": "cordon",
    "uncordon": "cordon",
    "drain": "cordon",
    "wait": "wait",
    "explain": "explain",
    "api-resources": "apiresources",
    "api-versions": "apiresources",
    "version": "version",
    "cluster-info": "clusterinfo",
    "config": "config",
    "auth": "auth",
    "diff": "diff",
    "events": "events",
    "top": "top",
    "autoscale": "autoscale",
}


def _command_word(argv: list[str]) -> tuple[str, int]:
    """The command and its index, skipping global flags and their values."""
    takes_value = {f"--{f.name}" for f in GLOBAL_FLAGS if f.kind != "bool"}
    takes_value |= {f"-{f.short}" for f in GLOBAL_FLAGS if f.short and f.kind != "bool"}
    i = 0
    while i < len(argv):
        word = argv[i]
        if word == "--":
            break
        if word.startswith("-"):
            i += 2 if word in takes_value else 1
            continue
        return word, i
    return "", -1


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``tkctl`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    word, index = _command_word(argv)
    if not word:
        sys.stdout.write("kubectl controls the Kubernetes cluster manager.\n")
        return 0
    module_name = COMMANDS.get(word)
    if module_name is None:
        sys.stderr.write(f'error: unknown command "{word}" for "kubectl"\n')
        return 1
    module = importlib.import_module(f"tinykube.kubectl.commands.{module_name}")
    rest = argv[:index] + argv[index + 1 :]
    before_dashes = rest[: rest.index("--")] if "--" in rest else rest
    if "-h" in before_dashes or "--help" in before_dashes:
        sys.stdout.write((module.__doc__ or word).strip() + "\n")
        return 0
    flags = [*GLOBAL_FLAGS, *module.FLAGS]
    if any(f.name == "output" and f.default is None for f in module.FLAGS):
        flags += TEMPLATE_FLAGS
    try:
        opts = parse(rest, flags)
    except FlagError as exc:
        sys.stderr.write(f"error: {exc}\nSee 'kubectl {word} --help' for usage.\n")
        return 1
    opts.values["cmd_name"] = word
    if opts.values.get("allow_missing_template_keys") is False:
        from tinykube.kubectl import gotemplate_exec

        gotemplate_exec.missing_keys_allowed = False
    if opts.values.get("template"):
        from tinykube.kubectl.errors import CommandError
        from tinykube.kubectl.output import with_template_flag

        try:
            opts.values["output"] = with_template_flag(
                opts.values.get("output"), opts.values["template"]
            )
        except CommandError as exc:
            sys.stderr.write(f"error: {exc}\n")
            return 1
    if getattr(module, "USES_EVENT_LOOP", False):
        import asyncio

        code = asyncio.run(_run(module, opts))
    else:
        code = drive(_run(module, opts))
    sys.stdout.flush()
    return code


def drive(coro: Coroutine[Any, Any, int]) -> int:
    """Run a coroutine that never suspends, without an event loop (see ``pacing``).

    The transport blocks instead of awaiting, so most commands complete in
    one ``send``; anything that does suspend needs ``USES_EVENT_LOOP``.
    """
    try:
        awaited = coro.send(None)
    except StopIteration as stop:
        return int(stop.value)
    coro.close()
    raise RuntimeError(f"tkctl: {awaited!r} needs an event loop; mark the command USES_EVENT_LOOP")


async def _run(module: object, opts: object) -> int:
    from tinykube.kubectl import errors
    from tinykube.kubectl.factory import Factory

    f = Factory(opts.values)  # type: ignore[attr-defined]
    try:
        return int(await module.run(f, opts))  # type: ignore[attr-defined]
    except errors.ExitCode as exc:
        return exc.code
    except Exception as exc:  # the CheckErr boundary: print kubectl's line, exit 1
        f.out.flush()
        text = errors.message_for(exc, f.server)
        f.err.write(text if text.endswith("\n") else text + "\n")
        return 1
    finally:
        await f.close()


if __name__ == "__main__":
    sys.exit(main())
