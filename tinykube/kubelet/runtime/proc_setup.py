"""The script that sets a process-runtime container up inside its namespaces.

``unshare`` gives the container fresh PID and mount namespaces and runs the
setup script there (``sh -c``) as PID 1. The script, generated here, makes
the mounts (an overlay of the image's root filesystem, ``/proc``, ``/dev``,
then volumes, ``/etc/hosts``... all in one ``mount -a`` over an fstab of
them, ``fstab_line``) and then starts the workload, staying its init
(``init_lines``). Generating shell keeps Python out of the container and
needs nothing but ``sh``, ``mount`` and ``unshare`` from the host; every
path is quoted with ``shlex`` (and escaped as fstab(5) wants it there).
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


def target_line(mount: Mount, root: Path) -> str:
    """Create a mount's target in an image's root filesystem: a directory or an empty file."""
    q = shlex.quote
    target = str(root / mount.container_path.lstrip("/"))
    src = str(mount.host_path)
    return (
        f'if [ -d {q(src)} ]; then mkdir -p {q(target)}; else mkdir -p "$(dirname {q(target)})"; '
        f"[ -e {q(target)} ] || : > {q(target)}; fi"
    )


def fstab_line(mount: Mount, root: Path) -> str:
    """A bind mount as an fstab(5) line for ``mount -a -T`` (``ro``: remounted read-only)."""
    target = str(root / mount.container_path.lstrip("/"))
    options = "bind,ro" if mount.read_only else "bind"
    return f"{_fstab_escape(str(mount.host_path))} {_fstab_escape(target)} none {options} 0 0"


def _fstab_escape(path: str) -> str:
    """fstab fields are separated by blanks: those (and backslashes) are written in octal."""
    for char in "\\ \t\n":
        path = path.replace(char, f"\\{ord(char):03o}")
    return path


def create_targets(mounts: list[Mount]) -> list[tuple[Mount, list[Path] | None]]:
    """Create the missing host mount targets of a container (blocking: one thread hop).

    For each mount, the paths created, outermost first (None: it could not be created).
    """
    out: list[tuple[Mount, list[Path] | None]] = []
    for mount in mounts:
        try:
            created = create_target(Path(mount.container_path), mount.host_path.is_dir())
        except OSError:
            out.append((mount, None))
        else:
            out.append((mount, created))
    return out


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
        # Straight in the sandbox's directory: a subdirectory would be one more
        # inode to allocate per pod, and inode allocation is what a busy disk pays for.
        (directory / name).write_text(text)
        mounts.append(Mount(directory / name, f"/etc/{name}"))
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
