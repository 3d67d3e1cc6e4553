"""A throwaway root in which rendered %post scripts run for real, the way anaconda runs them.

The root holds busybox, bash, and recording stand-ins for the CentOS tools a hypervisor %post may call
(systemctl, yum, virsh, rpm): these are stand-ins, not CentOS, because no CentOS tree exists here. Scripts run
under `chroot` (through `unshare --map-root-user` when not root), with stdout and stderr sent to the section's
--log file inside the root, like anaconda; /dev/console is a plain file, so what a script shows on the console can
be read back.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from builder.contract import SCRIPT_HEADER
from builder.validate.kickstart import ScriptSection

ANACONDA_IFCFG = """\
TYPE=Ethernet
BOOTPROTO=dhcp
NAME={device}
DEVICE={device}
ONBOOT=yes
"""

# What anaconda 34 leaves for the installer's NIC on EL9: NetworkManager's keyfile of the connection it made from
# the kickstart `network` line, named after the device (pyanaconda/modules/network: the connection id is the device).
ANACONDA_KEYFILE = """\
[connection]
id={device}
uuid=2ed709f8-91d3-49c9-8bf6-ad66a3d4cea7
type=ethernet
interface-name={device}

[ipv4]
method=auto
"""

# Every stand-in appends its call here; the round trip reads unit states from it (tests/import_compare).
STANDINS_LOG = "/var/log/standins.log"
STANDIN = f"""#!/bin/sh
echo "{{name}} $*" >> {STANDINS_LOG}
exit 0
"""


@dataclass(frozen=True)
class ScriptRun:
    name: str
    returncode: int
    log: str


def _copy_with_libs(binary: Path, root: Path) -> None:
    targets = [binary]
    output = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, check=False).stdout
    for line in output.splitlines():
        parts = line.split()
        if "=>" in parts and len(parts) >= 3 and parts[2].startswith("/"):
            targets.append(Path(parts[2]))
        elif parts and parts[0].startswith("/"):
            targets.append(Path(parts[0]))
    for source in targets:
        dest = root / source.relative_to("/")
        dest.parent.mkdir(parents=True, exist_ok=True)
        if not dest.exists():
            shutil.copy2(source.resolve(), dest)


def make_root(root: Path, *, nic: str | None = None, with_libvirt: bool = True, keyfiles: bool = False) -> Path:
    """A minimal EL-shaped tree with what anaconda leaves before %post runs: an ifcfg file for `nic` (CentOS 7,
    EL8), or with `keyfiles` a NetworkManager keyfile (EL9)."""
    for folder in ("bin", "sbin", "usr/bin", "usr/sbin", "etc/sysconfig/network-scripts", "etc/selinux",
                   "etc/yum.repos.d", "etc/modprobe.d", "root", "tmp", "var/log", "dev", "proc",
                   "etc/NetworkManager/system-connections"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    busybox = Path(shutil.which("busybox") or "/bin/busybox")
    shutil.copy2(busybox, root / "bin/busybox")
    applets = subprocess.run([str(busybox), "--list"], capture_output=True, text=True, check=True).stdout.split()
    for applet in applets:
        link = root / "bin" / applet
        if not link.exists():
            link.symlink_to("busybox")
    _copy_with_libs(Path("/bin/bash"), root)
    for name in ("systemctl", "yum", "virsh", "rpm", "restorecon", "grubby"):
        standin = root / "usr/bin" / name
        standin.write_text(STANDIN.format(name=name))
        standin.chmod(0o755)
    (root / "etc/selinux/config").write_text("SELINUX=enforcing\nSELINUXTYPE=targeted\n")
    if nic is not None and keyfiles:
        keyfile = root / f"etc/NetworkManager/system-connections/{nic}.nmconnection"
        keyfile.write_text(ANACONDA_KEYFILE.format(device=nic))
        keyfile.chmod(0o600)
    elif nic is not None:
        (root / f"etc/sysconfig/network-scripts/ifcfg-{nic}").write_text(ANACONDA_IFCFG.format(device=nic))
    if with_libvirt:
        networks = root / "etc/libvirt/qemu/networks"
        (networks / "autostart").mkdir(parents=True)
        (networks / "default.xml").write_text("<network><name>default</name></network>\n")
        (networks / "autostart/default.xml").symlink_to("../default.xml")
    (root / "dev/null").write_text("")
    return root


_STOP = b"\0ksbuild-sandbox-stop\0"


@contextmanager
def console(root: Path) -> Iterator[list[str]]:
    """/dev/console in the root as a FIFO whose every write is collected (a plain file would be truncated by
    each `>/dev/console`)."""
    fifo = root / "dev/console"
    if fifo.exists():
        fifo.unlink()
    os.mkfifo(fifo)
    chunks: list[bytes] = []

    def reader() -> None:
        # Opened read-write, the reader holds a write end itself: the FIFO never reaches end-of-file between two
        # `>/dev/console` writers, so no writer can open it in the moment a reader is about to close it and have
        # its line thrown away with the pipe. Everything up to the stop word is collected.
        handle = os.open(fifo, os.O_RDWR)
        try:
            while not b"".join(chunks).endswith(_STOP):
                chunks.append(os.read(handle, 65536))
        finally:
            os.close(handle)
        data = b"".join(chunks)
        chunks[:] = [data[: -len(_STOP)]]

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    lines: list[str] = []
    try:
        yield lines
    finally:
        with fifo.open("wb") as handle:
            handle.write(_STOP)
        thread.join(timeout=10)
        lines.extend(b"".join(chunks).decode(errors="replace").splitlines())


def _chroot_argv(root: Path, interpreter: str, script: str) -> list[str]:
    argv = ["chroot", str(root), interpreter, script]
    if os.geteuid() != 0:
        argv = ["unshare", "--map-root-user", *argv]
    return argv


def run_in_root(root: Path, interpreter: str, script: str) -> subprocess.CompletedProcess[str]:
    """Run `script` (a path inside the root) with `interpreter`, chrooted, as a booted unit's ExecStart would."""
    return subprocess.run(
        _chroot_argv(root, interpreter, script), capture_output=True, text=True, timeout=60, check=False,
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root"},
    )


def run_post_scripts(root: Path, scripts: tuple[ScriptSection, ...]) -> list[ScriptRun]:
    """Run each chroot %post in order, stopping at the first --erroronfail failure, like anaconda."""
    return _run_sections(root, [s for s in scripts if s.kind == "post" and s.in_chroot], "ks-script")


def run_pre_scripts(root: Path, scripts: tuple[ScriptSection, ...]) -> list[ScriptRun]:
    """Run each %pre in `root` standing in for the installer's own root (where anaconda runs %pre, with /tmp and
    /proc/partitions of the installer), stopping at the first --erroronfail failure, like anaconda."""
    return _run_sections(root, [s for s in scripts if s.kind == "pre"], "ks-script-pre")


def _run_sections(root: Path, sections: list[ScriptSection], stem: str) -> list[ScriptRun]:
    runs = []
    for number, script in enumerate(sections):
        path_in_root = f"/tmp/{stem}-{number}"
        (root / path_in_root.lstrip("/")).write_text(script.body)
        log_file = root / (script.log or f"/tmp/{stem}-{number}.log").lstrip("/")
        log_file.parent.mkdir(parents=True, exist_ok=True)
        with log_file.open("w") as handle:
            # /dev/null stays a regular file in the root; that is fine for scripts that redirect into it.
            result = subprocess.run(
                _chroot_argv(root, script.interpreter, path_in_root),
                stdout=handle,
                stderr=subprocess.STDOUT,
                env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root"},
                timeout=60,
                check=False,
            )
        runs.append(ScriptRun(name=_section_name(script), returncode=result.returncode, log=log_file.read_text()))
        if result.returncode != 0 and script.error_on_fail:
            break
    return runs


def _section_name(script: ScriptSection) -> str:
    header = SCRIPT_HEADER.search(script.body)
    return header["name"] if header is not None else "?"


def parse_ifcfg(text: str) -> dict[str, str]:
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key] = value.strip('"')
    return values


def run_profile_posts(
    profile: Path, root: Path, overrides: tuple[str, ...] = ()
) -> tuple[list[str], list[ScriptRun]]:
    """Render `profile` (which must pass its checks) and run its %post scripts in `root`: the console lines
    and each script's run."""
    from builder import targets
    from builder.pipeline import build
    from builder.validate.kickstart import handler_version, parse_kickstart

    result = build(profile, overrides=overrides, shell=False)
    assert result.ok, [f.format() for f in result.errors]
    version = handler_version(targets.target(result.profile.target).pykickstart_version)
    parsed = parse_kickstart(result.kickstart.text, "ks.cfg", version=version)
    with console(root) as lines:
        runs = run_post_scripts(root, parsed.scripts)
    return lines, runs
