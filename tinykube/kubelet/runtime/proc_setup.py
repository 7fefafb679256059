"""The script that sets a process-runtime container up inside its namespaces.

``unshare`` gives the container fresh PID and mount namespaces and runs
``sh setup.sh`` there as PID 1. The script, generated here, makes the mounts
(an overlay of the image's root filesystem, ``/proc``, ``/dev``, volumes,
``/etc/hosts``...) and then starts the workload, staying its init
(``init_lines``). Generating shell keeps Python out of the container and
needs nothing but ``sh``, ``mount`` and ``unshare`` from the host; every
path is quoted with ``shlex``.
"""

from __future__ import annotations

import shlex
from pathlib import Path

from tinykube.kubelet.runtime.interface import Mount, PodSandboxConfig


def init_lines(argv: list[str], pid_file: Path) -> list[str]:
    """The script's tail: start the workload and act as its init (PID 1).

    The shell stays PID 1 of the container's PID namespace, forwards SIGTERM
    and SIGINT to the workload and exits with its status, so an OOM kill
    reads as 137. (``unshare --fork`` of util-linux 2.38 cannot pass a
    child's death by signal on: it exits 1.) Like ``docker run --init``, a
    workload that is not PID 1 gets SIGTERM's default action. The workload's
    pid (as the container sees it) goes to ``pid_file``, so that exec can find
    it among the init's children, which include setup commands until then.
    """
    return [
        "set +e",
        "trap 'kill -TERM $child 2>/dev/null' TERM",
        "trap 'kill -INT $child 2>/dev/null' INT",
        " ".join(shlex.quote(a) for a in argv) + " &",
        "child=$!",
        f'echo "$child" > {shlex.quote(str(pid_file))}',
        'while :; do wait "$child"; code=$?; kill -0 "$child" 2>/dev/null || break; done',
        'exit "$code"',
    ]


def overlay_lines(rootfs: Path, cdir: Path, merged: Path) -> list[str]:
    upper, work = cdir / "upper", cdir / "work"
    q = shlex.quote
    return [
        f"mkdir -p {q(str(upper))} {q(str(work))} {q(str(merged))}",
        f"if ! mount -t overlay overlay -o lowerdir={q(str(rootfs))},upperdir={q(str(upper))},"
        f"workdir={q(str(work))} {q(str(merged))} 2>/dev/null; then "
        f"mount --bind {q(str(rootfs))} {q(str(merged))}; fi",
        f"mkdir -p {q(str(merged))}/proc {q(str(merged))}/dev {q(str(merged))}/sys",
        f"mount -t proc proc {q(str(merged))}/proc",
        f"mount --rbind /dev {q(str(merged))}/dev",
        f"mount --rbind /sys {q(str(merged))}/sys 2>/dev/null || true",
    ]


def mount_line(mount: Mount, root: Path, *, in_rootfs: bool) -> str:
    q = shlex.quote
    target = str(root / mount.container_path.lstrip("/"))
    src = str(mount.host_path)
    parts = []
    if in_rootfs:
        parts.append(
            f'if [ -d {q(src)} ]; then mkdir -p {q(target)}; else mkdir -p "$(dirname {q(target)})"; '
            f"[ -e {q(target)} ] || : > {q(target)}; fi"
        )
    parts.append(f"mount --bind {q(src)} {q(target)}")
    if mount.read_only:
        parts.append(f"mount -o remount,bind,ro {q(target)}")
    return "\n".join(parts)


def create_target(target: Path, is_dir: bool) -> list[Path]:
    """Create a missing mount target on the host; the paths created, outermost first."""
    created: list[Path] = []
    missing = []
    path = target
    while not path.exists() and not path.is_symlink():
        missing.append(path)
        path = path.parent
    for path in reversed(missing):
        if path == target and not is_dir:
            path.touch()
        else:
            path.mkdir()
        created.append(path)
    return created


def ancestors_in(target: Path, known: dict[Path, int]) -> list[Path]:
    return [p for p in [target, *target.parents] if p in known]


def write_etc_files(
    config: PodSandboxConfig, ip: str, directory: Path, hostname: str
) -> list[Mount]:
    """/etc/hosts, /etc/hostname and /etc/resolv.conf for the pod's containers."""
    etc = directory / "etc"
    etc.mkdir(parents=True, exist_ok=True)
    hosts = hosts_file(config, ip, hostname)
    resolv = config.resolv_conf
    if not resolv:
        try:
            resolv = Path("/etc/resolv.conf").read_text()
        except OSError:
            resolv = ""
    files = {"resolv.conf": resolv}
    if not config.host_network:
        files["hostname"] = hostname + "\n"
    if not config.host_network or config.host_aliases:
        # A hostNetwork pod keeps the node's /etc/hosts unless it adds aliases.
        files["hosts"] = hosts
    mounts = []
    for name, text in files.items():
        (etc / name).write_text(text)
        mounts.append(Mount(etc / name, f"/etc/{name}"))
    return mounts


def hosts_file(config: PodSandboxConfig, ip: str, hostname: str) -> str:
    """The pod's /etc/hosts, laid out as the kubelet writes it."""
    lines = [
        "# Kubernetes-managed hosts file.",
        "127.0.0.1\tlocalhost",
        "::1\tlocalhost ip6-localhost ip6-loopback",
        "fe00::0\tip6-localnet",
        "fe00::0\tip6-mcastprefix",
        "fe00::1\tip6-allnodes",
        "fe00::2\tip6-allrouters",
    ]
    if ip:
        names = f"{hostname}.{config.domain}\t{hostname}" if config.domain else hostname
        lines.append(f"{ip}\t{names}")
    if config.host_aliases:
        lines += ["", "# Entries added by HostAliases."]
        lines += [f"{alias_ip}\t{chr(9).join(names)}" for alias_ip, names in config.host_aliases]
    return "\n".join(lines) + "\n"
