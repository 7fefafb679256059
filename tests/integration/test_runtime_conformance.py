"""The runtime conformance suite: every kubelet runtime passes the same tests.

Like the store drivers' suite, these tests take a runtime factory and drive
the CRI-shaped interface directly, without a kubelet or an API server. The
``process`` runtime runs real processes (as root: network namespaces, a
bridge, cgroups); the ``simulated`` runtime only pretends. Behaviour only a
real process has (exit codes, log contents, OOM, localhost between
containers) is tested for the process runtime further down.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from tinykube.kubelet.runtime import new_runtime
from tinykube.kubelet.runtime.interface import (
    ContainerConfig,
    ContainerState,
    PodSandboxConfig,
    Resources,
    Runtime,
    RuntimeOptions,
    SandboxState,
)

pytestmark = pytest.mark.integration

IS_ROOT = os.geteuid() == 0
# Pod CIDRs unique to this run: two runs of this suite at once on one machine would
# otherwise put the same addresses on the shared bridge.
RUN = os.getpid() % 250


def cidr(second: int) -> str:
    return f"10.{second}.{RUN}.0/24"


ROOT_REASON = "needs root (network namespaces, cgroups); CI runs as root"


@pytest.fixture(params=["process", "simulated"])
async def runtime(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Runtime]:
    rt = new_runtime(
        request.param,
        RuntimeOptions(
            node_name=f"conf-{os.getpid()}",
            root_dir=tmp_path / "kubelet",
            pod_cidr=cidr(240),
            image_dir=tmp_path / "images",
            simulated_run_seconds=0.2,
        ),
    )
    await rt.start()
    try:
        yield rt
    finally:
        await rt.close()


def sandbox_config(tmp_path: Path, name: str = "p1", finite: bool = False) -> PodSandboxConfig:
    return PodSandboxConfig(
        uid=f"uid-{name}",
        namespace="default",
        name=name,
        hostname=name,
        log_directory=tmp_path / "logs" / name,
        simulated_run_seconds=0.2 if finite else None,
    )


def container(tmp_path: Path, name: str, script: str, attempt: int = 0) -> ContainerConfig:
    return ContainerConfig(
        name=name,
        image="busybox",
        command=["sh", "-c", script],
        log_path=tmp_path / "logs" / name / f"{attempt}.log",
        attempt=attempt,
    )


async def wait_state(rt: Runtime, cid: str, state: ContainerState, seconds: float = 10) -> None:
    async def reached() -> bool:
        return (await rt.container_status(cid)).state == state

    await eventually(reached, seconds)


async def eventually(predicate: Callable[[], Awaitable[bool]], seconds: float = 10) -> None:
    """Poll ``predicate`` until it holds; fail the test after ``seconds``."""
    async with asyncio.timeout(seconds):
        while True:
            if await predicate():
                return
            await asyncio.sleep(0.05)


def host_output(*cmd: str) -> str:
    return subprocess.run(cmd, capture_output=True, text=True, check=False).stdout


async def run(rt: Runtime, sid: str, config: ContainerConfig) -> str:
    image = await rt.pull_image(config.image, has_command=True)
    cid = await rt.create_container(sid, config, image)
    await rt.start_container(cid)
    return cid


async def test_sandbox_is_ready_with_an_ip_and_listed(runtime: Runtime, tmp_path: Path) -> None:
    sid = await runtime.run_pod_sandbox(sandbox_config(tmp_path))
    status = await runtime.pod_sandbox_status(sid)
    assert status.state == SandboxState.READY
    assert status.ip
    assert [s.id for s in await runtime.list_pod_sandboxes()] == [sid]
    await runtime.stop_pod_sandbox(sid)
    await runtime.remove_pod_sandbox(sid)
    assert await runtime.list_pod_sandboxes() == []


async def test_two_sandboxes_get_different_ips(runtime: Runtime, tmp_path: Path) -> None:
    a = await runtime.run_pod_sandbox(sandbox_config(tmp_path, "a"))
    b = await runtime.run_pod_sandbox(sandbox_config(tmp_path, "b"))
    ip_a = (await runtime.pod_sandbox_status(a)).ip
    ip_b = (await runtime.pod_sandbox_status(b)).ip
    assert ip_a != ip_b


async def test_pod_cidr_can_change_until_a_pod_has_an_address(
    runtime: Runtime, tmp_path: Path
) -> None:
    assert await runtime.update_pod_cidr(cidr(241))
    sid = await runtime.run_pod_sandbox(sandbox_config(tmp_path))
    ip = (await runtime.pod_sandbox_status(sid)).ip
    assert ip.rsplit(".", 1)[0] in (f"10.241.{RUN}", f"127.241.{RUN}")
    assert not await runtime.update_pod_cidr(cidr(242))


async def test_container_runs_then_stops(runtime: Runtime, tmp_path: Path) -> None:
    sid = await runtime.run_pod_sandbox(sandbox_config(tmp_path))
    cid = await run(runtime, sid, container(tmp_path, "c", "sleep 60"))
    status = await runtime.container_status(cid)
    assert status.state == ContainerState.RUNNING
    assert status.started_at > 0
    assert status.name == "c"
    assert [c.id for c in await runtime.list_containers(sid)] == [cid]
    await runtime.stop_container(cid, 5)
    assert (await runtime.container_status(cid)).state == ContainerState.EXITED
    await runtime.remove_container(cid)
    assert await runtime.list_containers(sid) == []


async def test_finite_container_completes(runtime: Runtime, tmp_path: Path) -> None:
    sid = await runtime.run_pod_sandbox(sandbox_config(tmp_path, finite=True))
    cid = await run(runtime, sid, container(tmp_path, "c", "true"))
    await wait_state(runtime, cid, ContainerState.EXITED)
    status = await runtime.container_status(cid)
    assert (status.exit_code, status.reason) == (0, "Completed")
    assert status.finished_at >= status.started_at


async def test_exec_sync_in_a_running_container(runtime: Runtime, tmp_path: Path) -> None:
    sid = await runtime.run_pod_sandbox(sandbox_config(tmp_path))
    cid = await run(runtime, sid, container(tmp_path, "c", "sleep 60"))
    result = await runtime.exec_sync(cid, ["true"], 5)
    assert result.exit_code == 0


async def test_log_file_is_written(runtime: Runtime, tmp_path: Path) -> None:
    sid = await runtime.run_pod_sandbox(sandbox_config(tmp_path))
    config = container(tmp_path, "c", "echo hello; sleep 60")
    cid = await run(runtime, sid, config)
    path = runtime.container_log_path(cid)
    assert path == config.log_path

    async def written() -> bool:
        return await asyncio.to_thread(lambda: path.exists() and bool(path.read_text()))

    await eventually(written)
    # CRI log format: <RFC3339Nano> <stream> <F|P> <line>
    stamp, stream, tag, *_ = path.read_text().splitlines()[0].split(" ", 3)
    assert stamp.endswith("Z")
    assert (stream, tag) == ("stdout", "F")


async def test_stopping_the_sandbox_stops_its_containers(runtime: Runtime, tmp_path: Path) -> None:
    sid = await runtime.run_pod_sandbox(sandbox_config(tmp_path))
    cid = await run(runtime, sid, container(tmp_path, "c", "sleep 60"))
    await runtime.stop_pod_sandbox(sid)
    assert (await runtime.container_status(cid)).state == ContainerState.EXITED
    assert (await runtime.pod_sandbox_status(sid)).state == SandboxState.NOT_READY


async def test_version_names_the_runtime(runtime: Runtime) -> None:
    version = await runtime.version()
    assert version.runtime_name == runtime.name


# ---- the process runtime only ----------------------------------------------


@pytest.fixture
async def process(tmp_path: Path) -> AsyncIterator[Runtime]:
    rt = new_runtime(
        "process",
        RuntimeOptions(
            node_name=f"proc-{os.getpid()}",
            root_dir=tmp_path / "kubelet",
            pod_cidr=cidr(243),
            image_dir=tmp_path / "images",
        ),
    )
    await rt.start()
    try:
        yield rt
    finally:
        await rt.close()


async def test_process_log_contents_and_exit_code(process: Runtime, tmp_path: Path) -> None:
    sid = await process.run_pod_sandbox(sandbox_config(tmp_path))
    cid = await run(process, sid, container(tmp_path, "c", "echo out; echo err >&2; exit 3"))
    await wait_state(process, cid, ContainerState.EXITED)
    status = await process.container_status(cid)
    assert (status.exit_code, status.reason) == (3, "Error")
    lines = [line.split(" ", 3)[1:] for line in status.log_path.read_text().splitlines()]
    assert sorted(lines) == [["stderr", "F", "err"], ["stdout", "F", "out"]]


async def test_process_sigterm_then_sigkill(process: Runtime, tmp_path: Path) -> None:
    sid = await process.run_pod_sandbox(sandbox_config(tmp_path))
    cid = await run(process, sid, container(tmp_path, "c", "trap '' TERM; sleep 60 & wait"))
    await asyncio.sleep(0.3)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await process.stop_container(cid, 1)
    assert 0.9 <= loop.time() - started < 5
    assert (await process.container_status(cid)).exit_code == 137


async def test_process_default_workdir_is_the_root(process: Runtime, tmp_path: Path) -> None:
    """Without a working directory a container starts in /, as in an image without a
    WORKDIR, and never in the kubelet's own directory."""
    sid = await process.run_pod_sandbox(sandbox_config(tmp_path))
    cid = await run(process, sid, container(tmp_path, "c", "pwd"))
    await wait_state(process, cid, ContainerState.EXITED)
    assert (await process.container_status(cid)).log_path.read_text().split(" ", 3)[3] == "/\n"


async def test_process_env_and_workdir(process: Runtime, tmp_path: Path) -> None:
    sid = await process.run_pod_sandbox(sandbox_config(tmp_path))
    config = container(tmp_path, "c", 'echo "$GREETING $(pwd)"')
    config.env = [("GREETING", "hi there")]
    config.working_dir = "/tmp"
    cid = await run(process, sid, config)
    await wait_state(process, cid, ContainerState.EXITED)
    assert (await process.container_status(cid)).log_path.read_text().split(" ", 3)[3] == (
        "hi there /tmp\n"
    )


async def test_process_missing_command_is_err_image_pull(process: Runtime) -> None:
    from tinykube.kubelet.runtime.interface import ImagePullError

    with pytest.raises(ImagePullError):
        await process.pull_image("nosuchimage:1.0", has_command=False)


@pytest.mark.skipif(not IS_ROOT, reason=ROOT_REASON)
async def test_process_pod_containers_share_localhost(process: Runtime, tmp_path: Path) -> None:
    sid = await process.run_pod_sandbox(sandbox_config(tmp_path))
    server = "exec python3 -m http.server 18080 --bind 127.0.0.1"
    await run(process, sid, container(tmp_path, "server", server))
    client = (
        'for i in $(seq 50); do python3 -c "import urllib.request as u;'
        "u.urlopen('http://127.0.0.1:18080/')\" && exit 0; sleep 0.2; done; exit 1"
    )
    cid = await run(process, sid, container(tmp_path, "client", client))
    await wait_state(process, cid, ContainerState.EXITED, 30)
    assert (await process.container_status(cid)).exit_code == 0


@pytest.mark.skipif(not IS_ROOT, reason=ROOT_REASON)
async def test_process_pod_has_its_own_hostname_and_pid_namespace(
    process: Runtime, tmp_path: Path
) -> None:
    sid = await process.run_pod_sandbox(sandbox_config(tmp_path, "myhost"))
    cid = await run(process, sid, container(tmp_path, "c", "hostname; ps -e --no-headers | wc -l"))
    await wait_state(process, cid, ContainerState.EXITED)
    out = [line.split(" ", 3)[3] for line in (tmp_path / "logs/c/0.log").read_text().splitlines()]
    # Only the init shell, the workload shell, ps and wc are visible.
    assert out[0] == "myhost"
    assert int(out[1]) <= 5


@pytest.mark.skipif(not IS_ROOT, reason=ROOT_REASON)
async def test_process_pod_ip_reachable_from_host(process: Runtime, tmp_path: Path) -> None:
    sid = await process.run_pod_sandbox(sandbox_config(tmp_path))
    ip = (await process.pod_sandbox_status(sid)).ip
    await run(process, sid, container(tmp_path, "c", "exec python3 -m http.server 18081"))
    async with asyncio.timeout(15):
        while True:
            proc = await asyncio.create_subprocess_exec(
                "python3",
                "-c",
                f"import urllib.request as u; u.urlopen('http://{ip}:18081/')",
                stderr=subprocess.DEVNULL,
            )
            if await proc.wait() == 0:
                break
            await asyncio.sleep(0.2)


@pytest.mark.skipif(not IS_ROOT, reason=ROOT_REASON)
async def test_process_memory_limit_oom_kills(process: Runtime, tmp_path: Path) -> None:
    sid = await process.run_pod_sandbox(sandbox_config(tmp_path))
    config = container(tmp_path, "c", "exec python3 -c 'x = bytearray(200 * 1024 * 1024)'")
    config.resources = Resources(memory_bytes=50 * 1024 * 1024)
    cid = await run(process, sid, config)
    await wait_state(process, cid, ContainerState.EXITED, 30)
    status = await process.container_status(cid)
    assert (status.exit_code, status.reason) == (137, "OOMKilled")


@pytest.mark.skipif(not IS_ROOT, reason=ROOT_REASON)
async def test_process_close_removes_host_state(tmp_path: Path) -> None:
    options = RuntimeOptions(
        node_name=f"clean-{os.getpid()}", root_dir=tmp_path / "k", pod_cidr=cidr(244)
    )
    rt = new_runtime("process", options)
    await rt.start()
    sid = await rt.run_pod_sandbox(sandbox_config(tmp_path))
    await run(rt, sid, container(tmp_path, "c", "sleep 60"))
    await rt.close()
    netns = await asyncio.to_thread(host_output, "ip", "netns", "list")
    assert options.node_name not in netns and sid[:12] not in netns
    links = await asyncio.to_thread(host_output, "ip", "-o", "link")
    assert "tkv" + sid[:8] not in links
    pattern = f"*/tinykube/{options.node_name}"
    assert not await asyncio.to_thread(lambda: list(Path("/sys/fs/cgroup").glob(pattern)))


def make_image(image_dir: Path, name: str) -> None:
    """A tiny image: the host's /bin/sh and the libraries it needs, plus an OCI config."""
    rootfs = image_dir / name / "rootfs"
    sh = Path(os.path.realpath("/bin/sh"))
    needed = [sh]
    ldd = subprocess.run(["ldd", str(sh)], capture_output=True, text=True, check=False).stdout
    needed += [Path(p) for p in ldd.split() if p.startswith("/")]
    for path in needed:
        target = rootfs / str(path).lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes())
        target.chmod(0o755)
    (rootfs / "bin").mkdir(exist_ok=True)
    if not (rootfs / "bin" / "sh").exists():
        (rootfs / "bin" / "sh").symlink_to(sh)
    config = {
        "config": {
            "Entrypoint": ["/bin/sh", "-c"],
            "Cmd": ['echo "from-image $(pwd) $GREETING"; [ -e /usr/bin/apt ] || echo isolated'],
            "Env": ["GREETING=hello", "PATH=/bin"],
            "WorkingDir": "/work",
        }
    }
    (image_dir / name / "config.json").write_text(json.dumps(config))


@pytest.mark.skipif(not IS_ROOT, reason=ROOT_REASON)
async def test_process_image_from_the_store_runs_chrooted(process: Runtime, tmp_path: Path) -> None:
    await asyncio.to_thread(make_image, tmp_path / "images", "mini")
    sid = await process.run_pod_sandbox(sandbox_config(tmp_path))
    config = ContainerConfig(
        name="c", image="docker.io/library/mini:latest", log_path=tmp_path / "mini.log"
    )
    image = await process.pull_image(config.image, has_command=False)
    assert image.rootfs is not None
    cid = await process.create_container(sid, config, image)
    await process.start_container(cid)
    await wait_state(process, cid, ContainerState.EXITED)
    status = await process.container_status(cid)
    assert status.exit_code == 0
    lines = [line.split(" ", 3)[3] for line in config.log_path.read_text().splitlines()]
    assert lines == ["from-image /work hello", "isolated"]
    # The container wrote into its own layer, not into the image.
    assert not (tmp_path / "images" / "mini" / "rootfs" / "work").exists()


@pytest.mark.skipif(not IS_ROOT, reason=ROOT_REASON)
async def test_process_host_pid_sees_the_host_processes(process: Runtime, tmp_path: Path) -> None:
    config = sandbox_config(tmp_path)
    config.host_pid = True
    sid = await process.run_pod_sandbox(config)
    cid = await run(process, sid, container(tmp_path, "c", f"test -e /proc/{os.getpid()}"))
    await wait_state(process, cid, ContainerState.EXITED)
    assert (await process.container_status(cid)).exit_code == 0


CRASHING_RUNTIME = """
import asyncio, sys
from pathlib import Path
from tinykube.kubelet.runtime import new_runtime
from tinykube.kubelet.runtime.interface import ContainerConfig, PodSandboxConfig, RuntimeOptions

async def main():
    rt = new_runtime("process", RuntimeOptions(
        node_name=sys.argv[1], root_dir=Path(sys.argv[2]), pod_cidr=sys.argv[4]))
    await rt.start()
    sid = await rt.run_pod_sandbox(PodSandboxConfig(uid="u", namespace="d", name="p", hostname="p"))
    image = await rt.pull_image("x", has_command=True)
    config = ContainerConfig(name="c", image="x", command=["sleep", sys.argv[3]])
    await rt.start_container(await rt.create_container(sid, config, image))
    print("ready", flush=True)
    await asyncio.sleep(3600)

asyncio.run(main())
"""


async def test_process_containers_die_with_a_killed_runtime_and_leftovers_are_cleaned(
    tmp_path: Path,
) -> None:
    node, root, marker = f"crash-{os.getpid()}", tmp_path / "k", "3581"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CRASHING_RUNTIME,
        node,
        str(root),
        marker,
        cidr(245),
        stdout=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    async with asyncio.timeout(30):
        assert (await proc.stdout.readline()).strip() == b"ready"
    proc.kill()
    await proc.wait()

    async def container_gone() -> bool:
        return not (await asyncio.to_thread(host_output, "pgrep", "-f", f"sleep {marker}"))

    await eventually(container_gone, 10)
    # The next runtime on the same root directory removes what the dead one left.
    rt = new_runtime("process", RuntimeOptions(node_name=node, root_dir=root))
    await rt.start()
    await rt.close()
    assert not await asyncio.to_thread(lambda: list((root / "runtime").glob("*/state.json")))
    if IS_ROOT:
        pattern = f"*/tinykube/{node}"
        assert not await asyncio.to_thread(lambda: list(Path("/sys/fs/cgroup").glob(pattern)))
        bridge = await asyncio.to_thread(host_output, "ip", "-o", "addr", "show", "dev", "tk0")
        assert f"10.245.{RUN}.1/" not in bridge
