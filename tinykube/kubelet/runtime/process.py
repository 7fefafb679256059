"""The process runtime: every container is a real process on this machine.

As root (the default on the project's machines and in CI) a pod gets what a
container runtime would give it, built from util-linux and iproute2:

- a *sandbox*: a network namespace on the node's bridge (see ``proc_host``)
  and a "pause" process (``sleep infinity``) that owns the pod's UTS and IPC
  namespaces and sets the pod's hostname; every container of the pod joins
  them, so containers share ``localhost`` and the hostname, as in Kubernetes;
  and the pod-level cgroup capping the whole pod, under its QoS class
  (``proc_cgroups``);
- per container: its own PID and mount namespace (``unshare --pid --mount
  --fork``), a cgroup inside the pod's enforcing its limits, bind mounts for
  volumes and for
  ``/etc/hosts``, ``/etc/hostname``, ``/etc/resolv.conf``; if the image is in
  the local image store, the container runs chrooted in a copy-on-write
  overlay of the image's root filesystem, otherwise it runs the command from
  the host's filesystem (a mount target missing on the host is created, and
  removed again when its last container goes).

The chain that starts a container, each step ``exec``-ing the next:
``setpriv --pdeathsig KILL`` (the container dies with the runtime, even on
SIGKILL: nothing could stop it otherwise) -> ``nsenter`` (joins the pause's
namespaces) -> ``unshare --kill-child`` (new PID and mount namespaces; waits
for its child) -> ``sh -c <setup script>`` (joins the container's cgroup,
mounts: ``proc_setup``), which stays PID 1 as the container's init: it starts the
workload (through ``setpriv``/``chroot --userspec`` for ``runAsUser``),
forwards SIGTERM to it and exits with its status (137 after an OOM kill).
The workload is therefore not PID 1 and gets SIGTERM's default action, as
with ``docker run --init``. ``hostPID``/``hostIPC``/``hostNetwork`` pods skip
the corresponding namespace. A container started with a target container
(an ephemeral debugging container's ``targetContainerName``) joins that
container's PID namespace instead of making one, and mounts its own ``/proc``
for it, so ``ps`` shows the target's processes; in a pod with
``shareProcessNamespace`` the pause starts one PID namespace that every
container joins.

Without root (or with ``rootless``): host network with one loopback address
per pod (127.x.y.z, any of which can be bound without configuration), no
cgroups. Mounts then need a user namespace (``unshare --user``): where the
kernel allows one, volumes appear at their paths exactly as with root, except
that a mount target the user cannot create on the host is skipped with a line
in the container's log; without user namespaces, mounts are skipped.

Logs are pipes pumped into CRI-format files (``proc_io``). A container with
``stdin`` keeps a stdin pipe, one with ``tty`` runs on a terminal whose
master side the runtime holds; ``attach`` joins that stdio and its live
output (``proc_io.ContainerIO``). State that must
survive a kubelet crash (the namespaces and processes of each sandbox) is
recorded under ``<root-dir>/runtime`` and cleaned up by the next ``start``.
Processes start through ``proc_spawn`` (``vfork``): uvloop's own subprocess
start forks the whole kubelet, which cost more than everything else a pod's
start-up does.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import json
import logging
import os
import shlex
import shutil
import signal
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from tinykube.kubelet.runtime import (
    proc_cgroups,
    proc_host,
    proc_io,
    proc_setup,
    proc_spawn,
    proc_stats,
)
from tinykube.kubelet.runtime.interface import (
    ContainerConfig,
    ContainerState,
    ContainerStats,
    ContainerStatus,
    ExecProcess,
    ExecResult,
    ImageInfo,
    Mount,
    NotFoundError,
    PodSandboxConfig,
    RuntimeError_,
    RuntimeOptions,
    RuntimeVersion,
    SandboxState,
    SandboxStatus,
)

log = logging.getLogger(__name__)

VERSION = "0.1.0"
HOSTNAME_MAX = 63
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Every process the runtime starts dies with it (even on SIGKILL): without a
# runtime to own them, containers would be orphans that nobody stops.
DIE_WITH_RUNTIME = ["setpriv", "--pdeathsig", "KILL"]
JOIN_CGROUP = 'while [ "$1" != -- ]; do echo $$ > "$1"; shift; done; shift; exec "$@"'


@dataclass
class _Sandbox:
    status: SandboxStatus
    config: PodSandboxConfig
    dir: Path
    netns: str = ""
    pause: proc_spawn.HostProcess | None = None
    # The pod-level cgroup, and the pause process's leaf inside it.
    cgroup: proc_cgroups.Cgroup | None = None
    pause_cgroup: proc_cgroups.Cgroup | None = None
    etc_mounts: list[Mount] = field(default_factory=list)


@dataclass
class _Container:
    status: ContainerStatus
    config: ContainerConfig
    image: ImageInfo
    sandbox: _Sandbox
    dir: Path
    proc: proc_spawn.HostProcess | None = None
    cgroup: proc_cgroups.Cgroup | None = None
    oom_before: int = 0
    host_dirs: list[Path] = field(default_factory=list)
    exited: asyncio.Event = field(default_factory=asyncio.Event)
    killed: bool = False
    waiter: asyncio.Task[None] | None = None
    io: proc_io.ContainerIO | None = None


class ProcessRuntime:
    """Sandboxes and containers as namespaces, cgroups and processes of this host."""

    name = "process"
    simulated = False

    def __init__(self, options: RuntimeOptions) -> None:
        self.options = options
        self.privileged = os.geteuid() == 0 and not options.rootless
        self.dir = options.root_dir / "runtime"
        self.tools = _host_tools(self.dir / "bin")
        self._ids = itertools.count(1)
        self._sandboxes: dict[str, _Sandbox] = {}
        self._containers: dict[str, _Container] = {}
        cidr = options.pod_cidr if self.privileged else proc_host.rootless_cidr(options.pod_cidr)
        self._ips = proc_host.IPAllocator(cidr)
        self._bridge_state = self.dir / "bridge-address"
        self._bridge = (
            proc_host.BridgeNetwork(options.pod_cidr, self._bridge_state)
            if self.privileged
            else None
        )
        instance = hashlib.sha256(str(options.root_dir.resolve()).encode()).hexdigest()[:8]
        self._cgroups = (
            proc_cgroups.CgroupManager(options.node_name, instance) if self.privileged else None
        )
        self._userns = False
        # Host paths created as mount targets, with the number of containers using them.
        self._host_targets: dict[Path, int] = {}

    # ---- lifecycle -----------------------------------------------------------------

    async def version(self) -> RuntimeVersion:
        return RuntimeVersion("process", VERSION)

    async def start(self) -> None:
        await asyncio.to_thread(self.dir.mkdir, parents=True, exist_ok=True)
        await self._clean_leftovers()
        if self._bridge is not None:
            await self._bridge.setup()
        if not self.privileged:
            self._userns = await proc_host.userns_works()
        log.info(
            "runtime=process privileged=%s userns=%s cidr=%s",
            self.privileged,
            self._userns,
            self._ips.network,
        )

    async def close(self) -> None:
        for container in list(self._containers.values()):
            with contextlib.suppress(Exception):
                await self.stop_container(container.status.id, 0)
            await self.remove_container(container.status.id)
        for sandbox_id in list(self._sandboxes):
            await self.remove_pod_sandbox(sandbox_id)
        if self._cgroups is not None:
            await asyncio.to_thread(self._cgroups.remove_all)
        if self._bridge is not None:
            await self._bridge.teardown()

    async def _clean_leftovers(self) -> None:
        """Remove what a previous run of this node's runtime left (after a crash)."""
        for state_file in await asyncio.to_thread(lambda: list(self.dir.glob("*/state.json"))):
            state = json.loads(await asyncio.to_thread(state_file.read_text))
            log.info("runtime=process cleaning leftover sandbox %s", state["id"][:12])
            pgids = await asyncio.to_thread(_recorded_pgids, state_file.parent)
            for pid in [*state.get("pgids", []), *pgids]:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, signal.SIGKILL)
            if state.get("netns"):
                pids = await proc_host.run("ip", "netns", "pids", state["netns"], check=False)
                for pid in pids.split():
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(int(pid), signal.SIGKILL)
                await proc_host.BridgeNetwork.remove_pod(state["id"])
            await asyncio.to_thread(shutil.rmtree, state_file.parent, True)
        if self._cgroups is not None:
            await asyncio.to_thread(self._cgroups.remove_all)
        if self.privileged:
            await proc_host.BridgeNetwork.remove_recorded(self._bridge_state)

    def _new_id(self) -> str:
        seed = f"{self.options.node_name}/{next(self._ids)}/{time.time_ns()}/{os.getpid()}"
        return hashlib.sha256(seed.encode()).hexdigest()

    async def update_pod_cidr(self, cidr: str) -> bool:
        """Switch to the node's allocated podCIDR while no pod holds an address."""
        if any(s.status.ip for s in self._sandboxes.values()):
            return False
        if self._bridge is not None:
            await self._bridge.teardown()
            self._bridge = proc_host.BridgeNetwork(cidr, self._bridge_state)
            await self._bridge.setup()
        self._ips = proc_host.IPAllocator(
            cidr if self.privileged else proc_host.rootless_cidr(cidr)
        )
        log.info("runtime=process pod CIDR is now %s", self._ips.network)
        return True

    async def pull_image(self, image: str, has_command: bool) -> ImageInfo:
        return await asyncio.to_thread(
            proc_io.find_image, self.options.image_dir, image, has_command
        )

    # ---- sandboxes -----------------------------------------------------------------

    async def run_pod_sandbox(self, config: PodSandboxConfig) -> str:
        sandbox_id = self._new_id()
        sandbox_dir = self.dir / sandbox_id[:12]
        host_network = config.host_network
        ip = "" if host_network else self._ips.allocate()
        sandbox = _Sandbox(
            SandboxStatus(
                sandbox_id,
                config.uid,
                config.namespace,
                config.name,
                SandboxState.READY,
                ip=ip,
                created_at=time.time(),
            ),
            config,
            sandbox_dir,
        )
        self._sandboxes[sandbox_id] = sandbox
        if self.privileged and not host_network:
            sandbox.netns = proc_host.netns_name(sandbox_id)
            sandbox.status.netns = f"/run/netns/{sandbox.netns}"
        try:
            await asyncio.to_thread(sandbox_dir.mkdir, parents=True, exist_ok=True)
            self._save_state(sandbox)
            if self._cgroups is not None:
                sandbox.cgroup, sandbox.pause_cgroup = await asyncio.to_thread(
                    self._cgroups.create_sandbox, config, sandbox_id
                )
            if self.privileged:
                await self._start_privileged_sandbox(sandbox)
        except BaseException:
            await self.remove_pod_sandbox(sandbox_id)
            raise
        return sandbox_id

    async def _start_privileged_sandbox(self, sandbox: _Sandbox) -> None:
        config = sandbox.config
        ipc = [] if config.host_ipc else ["--ipc"]
        if config.share_process_namespace and not config.host_pid:
            # The pod's PID namespace: the pause is its first process, containers join it.
            ipc += ["--pid", "--fork", "--kill-child=SIGKILL"]
        argv = ["unshare", *ipc]
        # "ready" once the namespaces exist: a container joining earlier would join the host's.
        script = "echo ready; exec sleep infinity"
        network = b""
        if not config.host_network:
            assert self._bridge is not None
            await self._bridge.add_pod(sandbox.status.id)
            argv = ["nsenter", f"--net=/run/netns/{sandbox.netns}", "unshare", *ipc, "--uts"]
            # Inside the namespaces: the pod's network (ip reads it from stdin, a failure
            # becomes the first line instead of "ready"), and the hostname through /proc
            # (a shell builtin, not one more process per pod).
            network = self._bridge.pod_side(sandbox.status.ip)
            script = (
                "ip -batch - 2>&1 || exit 1; "
                'echo "$1" 2>/dev/null >/proc/sys/kernel/hostname; '
                "echo ready; exec sleep infinity </dev/null"
            )
        hostname = config.hostname[:HOSTNAME_MAX]
        sandbox.pause = await proc_spawn.spawn(
            *DIE_WITH_RUNTIME,
            *argv,
            "--",
            "sh",
            "-c",
            script,
            "sh",
            hostname,
            stdin=proc_spawn.PIPE if network else proc_spawn.DEVNULL,
            stdout=proc_spawn.PIPE,
            stderr=proc_spawn.DEVNULL,
            start_new_session=True,
        )
        if sandbox.pause_cgroup is None:
            _record_pgid(sandbox.dir, sandbox.pause.pid)
        else:
            # Only sleep (exec'd in place) stays; what the chain forks before this is brief.
            sandbox.pause_cgroup.join(sandbox.pause.pid)
        if sandbox.pause.stdin is not None:
            sandbox.pause.stdin.write(network)  # a few lines: the pipe takes them at once
            sandbox.pause.stdin.close()
        assert sandbox.pause.stdout is not None
        first = (await sandbox.pause.stdout.readline()).decode(errors="replace").strip()
        if first != "ready":
            detail = f": {first}" if first else ""
            raise RuntimeError_(
                f"the pod sandbox process did not start{detail}", "CreatePodSandboxError"
            )
        sandbox.etc_mounts = await asyncio.to_thread(
            proc_setup.write_etc_files, config, sandbox.status.ip, sandbox.dir, hostname
        )

    def _save_state(self, sandbox: _Sandbox) -> None:
        """Record what a crashed runtime's successor must clean up: written once, up front.

        Processes started later are found through their cgroups; without
        cgroups (rootless), their process groups are empty marker files beside
        it (``_record_pgid``): rewriting this file for each cost more than the
        rest of a pod's bookkeeping on a busy disk (ext4 flushes a truncated file).
        """
        state = {"id": sandbox.status.id, "netns": sandbox.netns}
        with contextlib.suppress(OSError):
            (sandbox.dir / "state.json").write_text(json.dumps(state))

    def _sandbox(self, sandbox_id: str) -> _Sandbox:
        try:
            return self._sandboxes[sandbox_id]
        except KeyError:
            raise NotFoundError(f"sandbox {sandbox_id} not found") from None

    async def stop_pod_sandbox(self, sandbox_id: str) -> None:
        sandbox = self._sandbox(sandbox_id)
        for container in list(self._containers.values()):
            if container.sandbox is sandbox:
                await self.stop_container(container.status.id, 0)
        if sandbox.pause is not None and sandbox.pause.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                sandbox.pause.kill()
            await sandbox.pause.wait()
        sandbox.status.state = SandboxState.NOT_READY

    async def remove_pod_sandbox(self, sandbox_id: str) -> None:
        sandbox = self._sandboxes.get(sandbox_id)
        if sandbox is None:
            return
        await self.stop_pod_sandbox(sandbox_id)
        for container in list(self._containers.values()):
            if container.sandbox is sandbox:
                await self.remove_container(container.status.id)
        if sandbox.netns:
            await proc_host.BridgeNetwork.remove_pod(sandbox_id)
        if self._cgroups is not None:
            for group in (sandbox.pause_cgroup, sandbox.cgroup):
                if group is not None:
                    await asyncio.to_thread(self._cgroups.remove, group)
        if sandbox.status.ip:
            self._ips.release(sandbox.status.ip)
        await asyncio.to_thread(shutil.rmtree, sandbox.dir, True)
        del self._sandboxes[sandbox_id]

    async def pod_sandbox_status(self, sandbox_id: str) -> SandboxStatus:
        sandbox = self._sandbox(sandbox_id)
        status = replace(sandbox.status)
        if not status.ip and sandbox.config.host_network:
            status.ip = ""
        return status

    async def list_pod_sandboxes(self) -> list[SandboxStatus]:
        return [replace(s.status) for s in self._sandboxes.values()]

    # ---- containers ----------------------------------------------------------------

    async def create_container(
        self, sandbox_id: str, config: ContainerConfig, image: ImageInfo
    ) -> str:
        sandbox = self._sandbox(sandbox_id)
        container_id = self._new_id()
        container = _Container(
            ContainerStatus(
                id=container_id,
                sandbox_id=sandbox_id,
                name=config.name,
                attempt=config.attempt,
                state=ContainerState.CREATED,
                image=config.image,
                image_id=image.image_id,
                created_at=time.time(),
                log_path=config.log_path,
            ),
            config,
            image,
            sandbox,
            sandbox.dir / container_id[:12],
        )
        if not proc_io.container_argv(config.command, config.args, image):
            raise RuntimeError_("no command specified", "CreateContainerError")
        if image.rootfs is not None:
            # Its overlay's upper and work directories; other containers need no directory.
            await asyncio.to_thread(container.dir.mkdir, parents=True, exist_ok=True)
        if self._cgroups is not None and sandbox.cgroup is not None:
            container.cgroup = await asyncio.to_thread(
                self._cgroups.create, sandbox.cgroup, container_id, config.resources
            )
            container.oom_before = await asyncio.to_thread(container.cgroup.oom_kills)
        self._containers[container_id] = container
        return container_id

    def _container(self, container_id: str) -> _Container:
        try:
            return self._containers[container_id]
        except KeyError:
            raise NotFoundError(f"container {container_id} not found") from None

    async def start_container(self, container_id: str) -> None:
        container = self._container(container_id)
        if container.status.state != ContainerState.CREATED:
            raise RuntimeError_(f"container {container_id[:12]} was already started")
        argv = await self._container_command(container)
        env = _environment(container, self.tools)
        log_path = container.config.log_path or (container.dir / "container.log")
        container.status.log_path = log_path
        writer = proc_io.LogWriter(log_path)
        io = container.io = proc_io.ContainerIO(container.config.tty, container.config.stdin)
        # Without namespaces a terminal's session starts at the process itself (setsid -c).
        own_session = not (container.config.tty and not self._namespaced())
        try:
            container.proc = await proc_spawn.spawn(
                *argv,
                env=env,
                cwd=self._host_cwd(container),
                start_new_session=own_session,
                **io.spawn_args(),  # type: ignore[arg-type]
            )
        finally:
            io.spawned(container.proc)
        container.status.state = ContainerState.RUNNING
        container.status.started_at = time.time()
        if container.cgroup is None:
            _record_pgid(container.sandbox.dir, container.proc.pid)
        container.waiter = asyncio.get_running_loop().create_task(
            self._wait(container, writer), name=f"container {container_id[:12]}"
        )
        container.status.pid = await self._inner_pid(container)

    def _host_cwd(self, container: _Container) -> str | None:
        if container.image.rootfs is not None or self._namespaced():
            return None
        workdir = container.config.working_dir or container.image.working_dir
        # As in an image without a WORKDIR, the default is the root, never the kubelet's own
        # directory (where a container's relative writes would land).
        return workdir if workdir and os.path.isdir(workdir) else "/"

    def _namespaced(self) -> bool:
        return self.privileged or self._userns

    async def _container_command(self, container: _Container) -> list[str]:
        """The host argv that starts the container, with its setup script written."""
        workload = proc_io.container_argv(
            container.config.command, container.config.args, container.image
        )
        if not self._namespaced():
            if container.config.tty:
                return ["setsid", "-c", *DIE_WITH_RUNTIME, *workload]
            return [*DIE_WITH_RUNTIME, *workload]
        script = await self._setup_script(container, workload)
        host_pid = container.sandbox.config.host_pid
        pid_ns = self._pid_namespace(container)
        pid = [] if host_pid or pid_ns else ["--pid"]
        # --kill-child: if unshare dies (with the kubelet, below), so does the container.
        unshare = ["unshare", *pid, "--mount", "--kill-child=SIGKILL", "--propagation", "private"]
        if not self.privileged:
            unshare[1:1] = ["--user", "--map-root-user"]
        if container.image.rootfs is None and not host_pid:
            unshare.append("--mount-proc")
        argv = [*unshare, "--", "sh", "-c", script, "sh"]
        sandbox = container.sandbox
        if sandbox.pause is not None:
            ns_flags = [] if sandbox.config.host_network else ["-n", "-u"]
            ns_flags += [] if sandbox.config.host_ipc else ["-i"]
            if pid_ns:
                # No fork: nsenter execs unshare, whose child (the init) is born in that
                # namespace; the process the runtime watches stays unshare, as without it.
                ns_flags += [f"--pid={pid_ns}", "--no-fork"]
            argv = ["nsenter", "-t", str(sandbox.pause.pid), *ns_flags, "--", *argv]
        return [*DIE_WITH_RUNTIME, *argv]

    def _pid_namespace(self, container: _Container) -> str:
        """The PID namespace a container joins instead of making its own: its target's
        (``target_container_id``), else the pod's shared one, else none ("")."""
        sandbox = container.sandbox
        if sandbox.pause is None or not self.privileged or sandbox.config.host_pid:
            return ""
        target = self._containers.get(container.config.target_container_id)
        if (
            target is not None
            and target.sandbox is sandbox
            and target.status.state == ContainerState.RUNNING
            and target.status.pid
        ):
            return f"/proc/{target.status.pid}/ns/pid"
        if sandbox.config.share_process_namespace:
            # The pause is unshare, which forked the namespace's first process.
            return f"/proc/{sandbox.pause.pid}/ns/pid_for_children"
        return ""

    async def _setup_script(self, container: _Container, workload: list[str]) -> str:
        lines = ["set -e"]
        if container.cgroup is not None:
            # The init joins its cgroup first (0: the writing process), so all it starts
            # is in it; the processes that started it stay out, as a shim would.
            lines += [f"echo 0 > {shlex.quote(str(f))}" for f in container.cgroup.procs_files]
        if container.config.stdin or container.config.tty:
            # The init starts the workload in the background, where sh gives it /dev/null
            # as stdin: keep the real one on fd 3 for _stdio_wrapper to hand back.
            lines.append("exec 3<&0")
        mounts = [*container.sandbox.etc_mounts, *container.config.mounts]
        workdir = container.config.working_dir or container.image.working_dir
        rootfs = container.image.rootfs
        if rootfs is not None:
            merged = container.dir / "merged"
            lines += proc_setup.overlay_lines(rootfs, container.dir, merged)
            lines += [proc_setup.target_line(m, merged) for m in mounts]
            fstab = [proc_setup.fstab_line(m, merged) for m in mounts]
            lines += await self._mount_all(container, fstab)
            wd = ["--wd", workdir] if workdir else []
            if workdir:
                # As container runtimes do, a missing working directory is created.
                lines.append(f"mkdir -p {shlex.quote(str(merged / workdir.lstrip('/')))}")
            enter = ["unshare", "--root", str(merged), *wd, "--"]
            if self._user_of(container):
                # chroot(8) switches user after chroot(2); the working directory is then "/".
                enter = ["chroot", f"--userspec={self._user_of(container)}", str(merged)]
            argv = [*_stdio_wrapper(container.config), *enter, *workload]
            lines += proc_setup.init_lines(argv, _pid_file(container))
            return "\n".join(lines) + "\n"
        fstab = []
        for mount, created in await asyncio.to_thread(proc_setup.create_targets, mounts):
            if created is not None:
                self._count_host_targets(container, mount, created)
                fstab.append(proc_setup.fstab_line(mount, Path("/")))
            else:
                note = f"tinykube: cannot create mount target {mount.container_path}; skipped"
                lines.append(f"echo {shlex.quote(note)} >&2")
        lines += await self._mount_all(container, fstab)
        if workdir:
            lines.append(f"mkdir -p {shlex.quote(workdir)} 2>/dev/null || true")
        lines.append(f"cd {shlex.quote(workdir or '/')}")  # never the kubelet's directory
        user = self._user_of(container)
        if user:
            uid, gid = user.split(":")
            workload = ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", *workload]
        workload = [*_stdio_wrapper(container.config), *workload]
        lines += proc_setup.init_lines(workload, _pid_file(container))
        return "\n".join(lines) + "\n"

    def _user_of(self, container: _Container) -> str:
        """``uid:gid`` to run as, or "" for root (and always in the rootless mode)."""
        config = container.config
        if not self.privileged or (config.run_as_user is None and config.run_as_group is None):
            return ""
        uid = config.run_as_user if config.run_as_user is not None else 0
        gid = config.run_as_group if config.run_as_group is not None else uid
        return f"{uid}:{gid}"

    async def _mount_all(self, container: _Container, fstab: list[str]) -> list[str]:
        """The script's line making every mount: one ``mount -a`` over an fstab of them.

        One process instead of one (or two, for read-only) per mount: starting
        mount(8) costs milliseconds, and a pod's /etc files alone are three mounts.
        """
        if not fstab:
            return []
        path = _fstab_file(container)
        await asyncio.to_thread(path.write_text, "".join(line + "\n" for line in fstab))
        return [f"mount -a -T {shlex.quote(str(path))}"]

    def _count_host_targets(self, container: _Container, mount: Mount, created: list[Path]) -> None:
        """Remember the host mount targets we created, and who uses them."""
        for path in created:
            self._host_targets[path] = self._host_targets.get(path, 0) + 1
            container.host_dirs.append(path)
        for path in proc_setup.ancestors_in(Path(mount.container_path), self._host_targets):
            if path not in created:
                self._host_targets[path] += 1
                container.host_dirs.append(path)

    async def _inner_pid(self, container: _Container) -> int:
        """The workload's host pid: the child ``unshare --fork`` made (or the process)."""
        assert container.proc is not None
        pid = container.proc.pid
        if not self._namespaced():
            return pid
        for _ in range(200):
            children = proc_host.children(pid)
            if children is None:
                return 0
            # The chain exec's through sh and nsenter first; the child appears after unshare forks.
            if children and proc_host.comm(pid) == "unshare":
                return children[0]
            if container.proc.returncode is not None:
                return 0
            await asyncio.sleep(0.005)
        return 0

    async def _wait(self, container: _Container, writer: proc_io.LogWriter) -> None:
        proc, io = container.proc, container.io
        assert proc is not None and io is not None
        try:
            await asyncio.gather(
                *(proc_io.pump(r, stream, writer, io.fanout) for r, stream in io.readers(proc))
            )
            code = await proc.wait()
        finally:
            io.release()
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                code = await proc.wait()
            await self._record_exit(container, code)

    async def _record_exit(self, container: _Container, code: int) -> None:
        status = container.status
        status.exit_code = 128 - code if code < 0 else code
        if container.killed and self._namespaced() and status.exit_code == 1:
            # Our SIGKILL took the init down; unshare then reports 1, not 137.
            status.exit_code = 137
        status.finished_at = time.time()
        status.reason = "Completed" if status.exit_code == 0 else "Error"
        if container.cgroup is not None:
            ooms = await asyncio.to_thread(container.cgroup.oom_kills)
            if ooms > container.oom_before and status.exit_code == 137:
                status.reason = "OOMKilled"
        status.state = ContainerState.EXITED
        container.exited.set()

    async def stop_container(self, container_id: str, grace_period: float) -> None:
        container = self._container(container_id)
        if container.status.state == ContainerState.CREATED:
            container.status.state = ContainerState.EXITED
            container.status.reason = "ContainerCannotRun"
            container.exited.set()
            return
        if container.exited.is_set():
            return
        if grace_period > 0:
            self._signal(container, signal.SIGTERM)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(grace_period):
                    await container.exited.wait()
        while not container.exited.is_set():
            container.killed = True
            self._signal(container, signal.SIGKILL)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1):
                    await container.exited.wait()

    def _signal(self, container: _Container, sig: signal.Signals) -> None:
        if container.status.pid and self._namespaced():
            with contextlib.suppress(ProcessLookupError):
                os.kill(container.status.pid, sig)
            if sig == signal.SIGKILL and container.cgroup is not None:
                for pid in container.cgroup.pids():
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, sig)
        if container.proc is not None and (sig == signal.SIGKILL or not self._namespaced()):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(container.proc.pid, sig)

    async def remove_container(self, container_id: str) -> None:
        container = self._containers.get(container_id)
        if container is None:
            return
        if not container.exited.is_set():
            await self.stop_container(container_id, 0)
        if container.waiter is not None:
            await asyncio.gather(container.waiter, return_exceptions=True)
        if container.image.rootfs is not None and self._namespaced():
            # The overlay lived in the container's own mount namespace; only files remain.
            pass
        if container.cgroup is not None and self._cgroups is not None:
            await asyncio.to_thread(self._cgroups.remove, container.cgroup)
        await asyncio.to_thread(self._release_host_targets, container)
        await asyncio.to_thread(_remove_files, container)
        del self._containers[container_id]

    def _release_host_targets(self, container: _Container) -> None:
        for path in sorted(container.host_dirs, key=lambda p: len(p.parts), reverse=True):
            self._host_targets[path] -= 1
            if self._host_targets[path] == 0:
                del self._host_targets[path]
                with contextlib.suppress(OSError):
                    if path.is_dir() and not path.is_symlink():
                        path.rmdir()
                    else:
                        path.unlink()

    async def container_status(self, container_id: str) -> ContainerStatus:
        return replace(self._container(container_id).status)

    async def container_stats(self, container_id: str) -> ContainerStats | None:
        container = self._containers.get(container_id)
        if container is None or container.proc is None or container.exited.is_set():
            return None
        found = await asyncio.to_thread(proc_stats.usage, container.cgroup, container.proc.pid)
        if found is None:
            return None
        return ContainerStats(found[0], found[1], time.time())

    async def list_containers(self, sandbox_id: str | None = None) -> list[ContainerStatus]:
        return [
            replace(c.status)
            for c in self._containers.values()
            if sandbox_id is None or c.status.sandbox_id == sandbox_id
        ]

    def container_log_path(self, container_id: str) -> Path | None:
        container = self._containers.get(container_id)
        if container is None:
            return None
        return container.status.log_path or container.config.log_path

    # ---- exec ----------------------------------------------------------------------

    async def _exec_target(self, container: _Container) -> int:
        """The workload's host pid (waiting briefly for a container that is starting)."""
        shim = container.status.pid
        for _ in range(100):
            found = await asyncio.to_thread(proc_host.workload_pid, shim, _pid_file(container))
            if found or container.exited.is_set():
                return found or shim
            await asyncio.sleep(0.02)
        return shim

    def _exec_argv(self, container: _Container, cmd: list[str], target: int) -> list[str]:
        if container.status.state != ContainerState.RUNNING:
            raise RuntimeError_(f"container {container.config.name} is not running")
        argv = list(cmd)
        if self._namespaced() and target:
            config = container.sandbox.config
            flags = ["-m", "-r", "-w"] + ([] if config.host_pid else ["-p"])
            if self.privileged:
                flags += [] if config.host_ipc else ["-i"]
                flags += [] if config.host_network else ["-n", "-u"]
            else:
                flags = ["-U", "--preserve-credentials", *flags]
            user = self._user_of(container)
            if user:
                uid, gid = user.split(":")
                flags += ["-S", uid, "-G", gid]
            argv = ["nsenter", "-t", str(target), *flags, "--", *argv]
        if container.cgroup is not None:
            files = [str(p) for p in container.cgroup.procs_files]
            argv = ["sh", "-c", JOIN_CGROUP, "sh", *files, "--", *argv]
        return argv

    async def exec(self, container_id: str, cmd: list[str], tty: bool) -> ExecProcess:
        container = self._container(container_id)
        target = await self._exec_target(container) if self._namespaced() else 0
        argv = self._exec_argv(container, cmd, target)
        if not tty:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                env=_environment(container, self.tools),
                cwd=self._host_cwd(container),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,
            )
            return ExecProcess(proc)
        # A terminal: the process gets the slave side as its controlling TTY (setsid -c).
        master, slave = os.openpty()
        if container.image.rootfs is None:
            # setsid inside the namespaces, so the shell's session is one it can see.
            argv = self._exec_argv(container, ["setsid", "-c", *cmd], target)
        else:
            argv = ["setsid", "-c", *argv]
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                env={"TERM": "xterm", **_environment(container, self.tools)},
                cwd=self._host_cwd(container),
                stdin=slave,
                stdout=slave,
                stderr=slave,
            )
        except BaseException:
            os.close(master)
            raise
        finally:
            os.close(slave)
        return ExecProcess(proc, pty_master=master)

    async def attach(self, container_id: str) -> proc_io.Attached:
        container = self._container(container_id)
        io = container.io
        if container.status.state != ContainerState.RUNNING or io is None or io.fanout.ended:
            state = "CONTAINER_CREATED" if io is None else "CONTAINER_EXITED"
            raise RuntimeError_(f"container is in {state} state")
        return io.attach()

    async def exec_sync(self, container_id: str, cmd: list[str], time_limit: float) -> ExecResult:
        try:
            proc = (await self.exec(container_id, cmd, tty=False)).process
        except FileNotFoundError as exc:
            return ExecResult(126, stderr=str(exc).encode())
        assert proc.stdin is not None
        proc.stdin.close()
        try:
            async with asyncio.timeout(time_limit):
                out, err = await proc.communicate()
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()
            return ExecResult(-1, timed_out=True)
        code = proc.returncode if proc.returncode is not None else -1
        return ExecResult(128 - code if code < 0 else code, out, err)


# ---- helpers ----------------------------------------------------------------------------


# Commands a host-filesystem container may miss (the host has no nslookup, say), each a
# tinykube module run by the kubelet's interpreter; last on PATH, so the host's own win.
HOST_TOOLS = {"nslookup": "tinykube.kubelet.nslookup"}


def _host_tools(directory: Path) -> str:
    """Write the tools' launchers once; the directory to append to PATH ("" if unwritable)."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for name, module in HOST_TOOLS.items():
            script = f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m {module} "$@"\n'
            path = directory / name
            if not path.exists() or path.read_text() != script:
                path.write_text(script)
                path.chmod(0o755)
    except OSError:
        return ""
    return str(directory)


def _environment(container: _Container, tools: str = "") -> dict[str, str]:
    """The workload's environment: image env, then the pod's env (which wins).

    A container running from the host's filesystem gets the kubelet's PATH, so a
    command found by the kubelet's user (``tinykube`` in a virtualenv, say) is
    found by the pod too, and then the host tools; an image's container gets the
    image's (or the default).
    """
    env = {"PATH": DEFAULT_PATH}
    if container.image.rootfs is None:
        env["PATH"] = os.environ.get("PATH") or DEFAULT_PATH
        if tools:
            env["PATH"] += f":{tools}"
    for item in container.image.env:
        key, _, value = item.partition("=")
        env[key] = value
    env["HOSTNAME"] = container.sandbox.config.hostname[:HOSTNAME_MAX]
    env.update(container.config.env)
    return env


def _stdio_wrapper(config: ContainerConfig) -> list[str]:
    """Host commands that hand the workload its stdin (and its terminal) back.

    The init's background job gets /dev/null as stdin and ignores SIGINT and
    SIGQUIT; the wrapper puts the saved stdin (fd 3) back, restores those
    signals (^C on a terminal must reach the workload), and with a terminal
    makes it the controlling terminal of a session of the workload's own.
    """
    if not (config.stdin or config.tty):
        return []
    wrapper = ["sh", "-c", 'exec "$@" <&3 3<&-', "sh", "env", "--default-signal=INT,QUIT"]
    return [*wrapper, "setsid", "-c"] if config.tty else wrapper


def _pid_file(container: _Container) -> Path:
    return container.sandbox.dir / f"{container.status.id[:12]}.pid"


def _fstab_file(container: _Container) -> Path:
    return container.sandbox.dir / f"{container.status.id[:12]}.fstab"


def _remove_files(container: _Container) -> None:
    shutil.rmtree(container.dir, True)
    for path in (_pid_file(container), _fstab_file(container)):
        with contextlib.suppress(OSError):
            path.unlink()


PGID_MARKER = "pgid-"


def _record_pgid(sandbox_dir: Path, pgid: int) -> None:
    """An empty file naming a process group to kill after a crash (cheap: no data)."""
    with contextlib.suppress(OSError):
        os.close(os.open(sandbox_dir / f"{PGID_MARKER}{pgid}", os.O_CREAT | os.O_WRONLY, 0o644))


def _recorded_pgids(sandbox_dir: Path) -> list[int]:
    return [
        int(p.name.removeprefix(PGID_MARKER))
        for p in sandbox_dir.glob(f"{PGID_MARKER}*")
        if p.name.removeprefix(PGID_MARKER).isdigit()
    ]
