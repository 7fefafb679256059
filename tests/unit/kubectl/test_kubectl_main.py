"""The entry point: dispatch, flag errors, the loop-less driver and the tinykube subcommand."""

from __future__ import annotations

import argparse
import asyncio

import pytest

from tinykube.kubectl import command, main
from tinykube.kubectl.pacing import pause

pytestmark = pytest.mark.unit


def test_drive_runs_a_coroutine_that_never_suspends() -> None:
    async def work() -> int:
        await pause(0)
        return 7

    assert main.drive(work()) == 7


def test_drive_refuses_a_coroutine_that_needs_a_loop() -> None:
    async def sleeper() -> int:
        await asyncio.sleep(0)
        return 0

    with pytest.raises(RuntimeError, match="needs an event loop"):
        main.drive(sleeper())


def test_unknown_command_and_flag(capsys: pytest.CaptureFixture[str]) -> None:
    assert main.main(["frobnicate"]) == 1
    assert capsys.readouterr().err == 'error: unknown command "frobnicate" for "kubectl"\n'
    assert main.main(["get", "pods", "--bogus"]) == 1
    assert (
        capsys.readouterr().err
        == "error: unknown flag: --bogus\nSee 'kubectl get --help' for usage.\n"
    )


def test_command_word_skips_global_flags() -> None:
    assert main._command_word(["-n", "x", "--kubeconfig", "k", "get", "pods"]) == ("get", 4)


def test_tinykube_subcommand_passes_everything_through() -> None:
    parser = argparse.ArgumentParser()
    command.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["kubectl", "-n", "x", "get", "pods", "-o", "yaml", "--help"])
    assert args.kubectl_args == ["-n", "x", "get", "pods", "-o", "yaml", "--help"]
