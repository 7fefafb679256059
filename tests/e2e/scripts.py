"""A small script runner for kubectl end-to-end tests, in the manner of
Kubernetes' ``test/cmd/testdata/*.txtar`` (Go's testscript).

A script is a list of commands, then the files it uses::

    # a comment
    kubectl create configmap cfg --from-literal=a=1
    stdout '^configmap/cfg created$'
    ! kubectl get pod nope
    stderr 'pods "nope" not found'
    env EDITOR=sh edit.sh
    stdin web.yaml
    kubectl apply -f -
    bg watch kubectl get cm -w
    kubectl create cm two
    stop watch 'two'          # wait until the background output matches, then stop it
    stdout 'two'
    eventually kubectl get cm two -o name   # retried (with the assertions that follow)
    stdout 'configmap/two'
    -- web.yaml --
    apiVersion: v1
    ...

``!`` before a command expects failure; a last argument in backquotes is literal; ``stdout``/``stderr`` take a Python
regex (multiline) and may be negated with ``!``. ``$NS`` is the script's own
namespace (created for it; the script's kubeconfig context defaults to it) and
``$WORK`` its directory.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from cluster import ApiServer, kubectl_binary, run_kubectl

EVENTUALLY_SECONDS = 20.0


@dataclass
class Script:
    commands: list[tuple[int, str]]
    files: dict[str, str]


def parse(text: str) -> Script:
    commands: list[tuple[int, str]] = []
    files: dict[str, str] = {}
    current: str | None = None
    for n, line in enumerate(text.splitlines(), 1):
        m = re.fullmatch(r"-- (\S+) --", line)
        if m:
            current = m.group(1)
            files[current] = ""
            continue
        if current is not None:
            files[current] += line + "\n"
            continue
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            commands.append((n, stripped))
    return Script(commands, files)


class ScriptError(AssertionError):
    pass


@dataclass
class Runner:
    server: ApiServer
    work: Path
    namespace: str
    kubeconfig: Path
    env: dict[str, str] = field(default_factory=dict)
    stdin: str | None = None
    stdout: str = ""
    stderr: str = ""
    background: dict[str, subprocess.Popen[str]] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)

    def expand(self, text: str) -> str:
        return text.replace("$NS", self.namespace).replace("$WORK", str(self.work))

    def run(self, script: Script) -> None:
        for name, body in script.files.items():
            path = self.work / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(self.expand(body))
            if name.endswith(".sh"):
                path.chmod(0o755)
        cmds = script.commands
        i = 0
        try:
            while i < len(cmds):
                n, line = cmds[i]
                if line.startswith("eventually "):
                    j = i + 1
                    while j < len(cmds) and _is_assertion(cmds[j][1]):
                        j += 1
                    self._eventually(line[len("eventually ") :], cmds[i + 1 : j])
                    i = j
                    continue
                self._step(n, line)
                i += 1
        finally:
            for proc in self.background.values():
                proc.kill()

    def _eventually(self, line: str, checks: list[tuple[int, str]]) -> None:
        deadline = time.monotonic() + EVENTUALLY_SECONDS
        while True:
            try:
                self._step(0, line)
                for n, check in checks:
                    self._step(n, check)
                return
            except ScriptError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def _step(self, n: int, line: str) -> None:
        self.log.append(f"> {line}")
        negate = line.startswith("! ")
        if negate:
            line = line[2:]
        words = _split(self.expand(line))
        verb, args = words[0], words[1:]
        if verb in ("stdout", "stderr"):
            text = self.stdout if verb == "stdout" else self.stderr
            found = re.search(args[0], text, re.MULTILINE) is not None
            if found == negate:
                want = "not to match" if negate else "to match"
                raise ScriptError(f"line {n}: expected {verb} {want} {args[0]!r}")
        elif verb == "env":
            key, _, value = args[0].partition("=")
            self.env[key] = " ".join([value, *args[1:]]) if args[1:] else value
        elif verb == "stdin":
            self.stdin = (self.work / args[0]).read_text()
        elif verb == "kubectl":
            self._kubectl(n, args, negate)
        elif verb == "bg":
            self._background(args[0], args[2:])
        elif verb == "stop":
            self._stop(n, args[0], args[1] if len(args) > 1 else None)
        elif verb == "sleep":
            time.sleep(float(args[0]))
        else:
            raise ScriptError(f"line {n}: unknown command {verb}")

    def _kubectl(self, n: int, args: list[str], negate: bool) -> None:
        result = run_kubectl(
            self.server,
            *args,
            kubeconfig=self.kubeconfig,
            input=self.stdin,
            env=self.env,
            cwd=self.work,
        )
        self.stdin = None
        self.stdout, self.stderr = result.stdout, result.stderr
        self.log.append(result.stdout + result.stderr)
        failed = result.returncode != 0
        if failed != negate:
            raise ScriptError(
                f"line {n}: kubectl {' '.join(args)} exited {result.returncode}\n"
                f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
            )

    def _background(self, name: str, args: list[str]) -> None:
        env = {**os.environ, **self.env, "KUBECONFIG": str(self.kubeconfig)}
        cache = self.server.data_dir / "kubectl-cache"
        self.background[name] = subprocess.Popen(
            [kubectl_binary(), f"--cache-dir={cache}", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=self.work,
        )
        os.set_blocking(self.background[name].stdout.fileno(), False)  # type: ignore[union-attr]

    def _stop(self, n: int, name: str, until: str | None) -> None:
        proc = self.background.pop(name)
        out = ""
        deadline = time.monotonic() + EVENTUALLY_SECONDS
        while until is not None and time.monotonic() < deadline:
            chunk = proc.stdout.read() if proc.stdout else None  # type: ignore[union-attr]
            if chunk:
                out += chunk
            if re.search(until, out, re.MULTILINE):
                break
            time.sleep(0.1)
        proc.kill()
        rest, err = proc.communicate()
        self.stdout, self.stderr = out + (rest or ""), err
        if until is not None and not re.search(until, self.stdout, re.MULTILINE):
            raise ScriptError(
                f"line {n}: background {name} never printed {until!r}:\n{self.stdout}\n{self.stderr}"
            )


def _split(line: str) -> list[str]:
    """shlex words; a final argument in backquotes is taken literally (regexes with quotes)."""
    if line.endswith("`") and " `" in line:
        head, _, rest = line.partition(" `")
        return [*shlex.split(head), rest[:-1]]
    return shlex.split(line)


def _is_assertion(line: str) -> bool:
    return line.removeprefix("! ").split(" ", 1)[0] in ("stdout", "stderr")
