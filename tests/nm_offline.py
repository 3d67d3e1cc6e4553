"""NetworkManager's own keyfile parser, run offline: Debian 12's nmcli and libnm unpacked from their packages
(`apt-get download network-manager libnm0`, nothing installed or started), as docs/measure/nm_keyfiles.sh does.
`nmcli --offline connection modify` reads a keyfile on stdin, normalizes and verifies it, and prints the keyfile
NetworkManager would write, or the verification error; it needs no daemon and no root.

This is the real parser of NetworkManager 1.42 (EL9 ships 1.40-1.48), not a stand-in; where it cannot be fetched
the tests that need it skip and say why.
"""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

CACHE = Path(__file__).parent / ".cache" / "nm"


@dataclass(frozen=True)
class Parsed:
    ok: bool
    text: str  # NetworkManager's keyfile, or its error

    def groups(self) -> dict[str, dict[str, str]]:
        parser = configparser.ConfigParser(interpolation=None, delimiters=("=",))
        parser.optionxform = str  # type: ignore[assignment,method-assign]
        parser.read_string(self.text)
        return {name: dict(parser[name]) for name in parser.sections()}


class OfflineNmcli:
    def __init__(self, root: Path) -> None:
        self.root = root

    def parse(self, keyfile: str) -> Parsed:
        env = {**os.environ, "LD_LIBRARY_PATH": str(self.root / "usr/lib/x86_64-linux-gnu")}
        done = subprocess.run([str(self.root / "usr/bin/nmcli"), "--offline", "connection", "modify"],
                              input=keyfile, capture_output=True, text=True, env=env, timeout=30, check=False)
        return Parsed(done.returncode == 0, done.stdout if done.returncode == 0 else done.stderr.strip())


def offline_nmcli() -> OfflineNmcli | str:
    """The parser, unpacked into tests/.cache/nm on first use; a reason string when it cannot be had."""
    root = CACHE / "root"
    if (root / "usr/bin/nmcli").exists():
        return OfflineNmcli(root)
    if shutil.which("apt-get") is None or shutil.which("dpkg") is None:
        return "needs apt-get and dpkg to fetch Debian's network-manager and libnm0"
    with tempfile.TemporaryDirectory() as folder:
        got = subprocess.run(["apt-get", "download", "network-manager", "libnm0"], cwd=folder,
                             capture_output=True, text=True, timeout=300, check=False)
        debs = sorted(Path(folder).glob("*.deb"))
        if got.returncode != 0 or len(debs) != 2:
            return f"apt-get download network-manager libnm0 failed: {got.stderr.strip()[-200:]}"
        CACHE.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=CACHE))
        for deb in debs:
            subprocess.run(["dpkg", "-x", str(deb), str(staging)], check=True, timeout=120)
        if not root.exists():
            staging.rename(root)  # atomic: a concurrent run finds a whole tree or none
        else:
            shutil.rmtree(staging, ignore_errors=True)
    return OfflineNmcli(root)


# What NetworkManager leaves out when a value is its default (it prints the keyfile it would write).
NM_DEFAULTS = {("bridge", "stp"): "true", ("connection", "autoconnect"): "true"}


def differences(written: str, parsed: Parsed) -> list[str]:
    """Each key ksbuild wrote that NetworkManager did not read back to the same value (MACs compared as NM prints
    them, defaults NM omits accepted)."""
    ours = Parsed(True, written).groups()
    theirs = parsed.groups()
    problems = []
    for group, entries in ours.items():
        if group not in theirs:
            problems.append(f"[{group}] dropped")
            continue
        for key, value in entries.items():
            got = theirs[group].get(key)
            if got is None and NM_DEFAULTS.get((group, key)) == value:
                continue
            if got != value:
                problems.append(f"{group}.{key}: wrote {value!r}, NetworkManager has {got!r}")
    return problems
