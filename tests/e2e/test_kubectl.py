"""Every script in ``testdata/`` runs the real kubectl against a started API server.

Each script gets its own namespace and its own copy of the admin kubeconfig
whose context points at that namespace, so scripts can switch contexts and
create objects without disturbing each other.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from cluster import ApiServer, run_kubectl
from scripts import Runner, parse

pytestmark = pytest.mark.e2e

TESTDATA = Path(__file__).parent / "testdata"
SCRIPTS = sorted(TESTDATA.glob("*.txt"))


@pytest.mark.parametrize("path", SCRIPTS, ids=[p.stem for p in SCRIPTS])
def test_script(path: Path, apiserver: ApiServer, tmp_path: Path) -> None:
    namespace = "e2e-" + re.sub(r"[^a-z0-9-]", "-", path.stem.lower())
    kubeconfig = tmp_path / "kubeconfig"
    shutil.copy(apiserver.kubeconfig, kubeconfig)
    manifest = f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {namespace}\n"
    created = run_kubectl(apiserver, "create", "-f", "-", input=manifest, kubeconfig=kubeconfig)
    assert created.returncode == 0, created.stderr
    switched = run_kubectl(
        apiserver,
        "config",
        "set-context",
        "--current",
        f"--namespace={namespace}",
        kubeconfig=kubeconfig,
    )
    assert switched.returncode == 0, switched.stderr
    work = tmp_path / "work"
    work.mkdir()
    runner = Runner(apiserver, work, namespace, kubeconfig)
    try:
        runner.run(parse(path.read_text()))
    except AssertionError as exc:
        transcript = "\n".join(runner.log[-40:])
        raise AssertionError(f"{exc}\n--- transcript ---\n{transcript}") from None
