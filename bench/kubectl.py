"""tkctl start-up: ``tkctl get pods`` on a 100-pod namespace against the real kubectl.

    python -m bench.kubectl [--pods 100] [--runs 15]

Both binaries run the same command against the same API server, alternately,
so machine noise hits both alike; the figure is the median wall time of a
whole run (process start to exit) and the ratio tkctl / kubectl. Python's own
start-up is part of the figure: that is the cost a user sees.

tkctl runs with a bytecode cache of its own (``PYTHONPYCACHEPREFIX`` in the
bench's temporary directory, filled by the warm-up run), as an installed
tkctl has one: pip compiles bytecode at install time. Without it, an
environment with ``PYTHONDONTWRITEBYTECODE`` set would have Python compile
every module from source on every run, which measures the compiler, not tkctl.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from cluster import ApiServer, kubectl_binary

BIN = Path(sys.executable).parent


def timed(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed: {done.stderr}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pods", type=int, default=100)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="tinykube-bench-", dir=os.getcwd()))
    server = ApiServer(tmp / "data")
    server.start()
    try:
        env = {**os.environ, "KUBECONFIG": str(server.kubeconfig)}
        manifest = "".join(
            f"---\napiVersion: v1\nkind: Pod\nmetadata: {{name: p{i}, namespace: default}}\n"
            f"spec: {{containers: [{{name: c, image: busybox}}]}}\n"
            for i in range(args.pods)
        )
        subprocess.run(
            [kubectl_binary(), "apply", "-f", "-"],
            input=manifest,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        real = [kubectl_binary(), f"--cache-dir={tmp / 'k'}", "get", "pods"]
        ours = [str(BIN / "tkctl"), f"--cache-dir={tmp / 't'}", "get", "pods"]
        our_env = {k: v for k, v in env.items() if k != "PYTHONDONTWRITEBYTECODE"}
        our_env["PYTHONPYCACHEPREFIX"] = str(tmp / "pycache")
        # Warm the discovery (and kubeconfig) caches of both, and tkctl's bytecode.
        timed(real, env), timed(ours, our_env)
        real_times, our_times = [], []
        for _ in range(args.runs):
            real_times.append(timed(real, env))
            our_times.append(timed(ours, our_env))
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    k, t = statistics.median(real_times), statistics.median(our_times)
    print(f"{'figure':40} {'value':>10}")
    print(f"{'kubectl get pods (' + str(args.pods) + ' pods), median s':40} {k:>10.3f}")
    print(f"{'tkctl get pods, median s':40} {t:>10.3f}")
    print(f"{'ratio tkctl / kubectl':40} {t / k:>10.2f}")


if __name__ == "__main__":
    main()
