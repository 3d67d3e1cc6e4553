"""Small shared helpers for the tests: profile files, the CLI as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from builder.load.profile_loader import LoadedProfile, load_profile
from builder.vocabulary import Roots

REPO = Path(__file__).resolve().parent.parent
SHIPPED_PROFILES = REPO / "profiles"

# crypt(3) SHA-512 of "test-password", made with `openssl passwd -6 -salt testsalt12345678`.
ROOT_HASH = "$6$testsalt12345678$uxDsxG/9VeOdQ0xD1bN0bybqUfgzP/X1qrDe1YDKZ3aX6I3CPn3926NcQzXZQR5P4iLELW4Cn7bZ0sylAY2v0/"
# `grub-mkpasswd-pbkdf2 -c 10000` of "ksbuild-grub" (grub2-mkpasswd-pbkdf2 on CentOS prints the same form).
GRUB_HASH = (
    "grub.pbkdf2.sha512.10000.A250980D3A7F46CEA55DD1FDB4273935A5CEA598A5B4CADCA97BBC78FE2459A06A27C9644FD5F1F9386641"
    "B3C7649DE127E446B7076C0F8BED7EC7E27D315EB0.90EDACBC6FBCD6468962CAB0256A21CC59111824A10D596C2DA42E63874C63A451"
    "D17340F1AFD11FCAE11C3E91A463FA61EFCD8C6C485BA66FA5F73B7B389CFC"
)
SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJKRlvWlBd+E7sdUk7c4dBj45bbU3trTAODPEOtpGFFv ops@lab"

# The smallest profile head that storage tests lay their `storage:` under: 6 lines, so theirs start at line 7.
STORAGE_HEAD = f"""\
install:
  source: {{url: "http://192.168.80.1/centos7/os/x86_64"}}
system:
  hostname: kvm01.lab.local
users:
  root: {{password_hash: "{ROOT_HASH}"}}
"""
MINIMAL = f"""\
install:
  source: {{url: "http://192.168.80.1/centos7/os/x86_64"}}
system:
  hostname: kvm01.lab.local
  services: {{enabled: [libvirtd], disabled: [NetworkManager]}}
users:
  root: {{password_hash: "{ROOT_HASH}"}}
network:
  nameservers: [114.114.114.114]
  interfaces:
    - {{name: enp2s0f0, bridge: br0}}
  bridges:
    - name: br0
      ipv4: {{address: 192.168.80.40/24, gateway: 192.168.80.1}}
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def run_cli(*args: str, cwd: Path, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """ksbuild as a user runs it: a separate process, so exit codes and stderr are the real ones. `env` adds
    variables to this process's environment."""
    return subprocess.run(
        [sys.executable, "-m", "builder", *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, **env} if env is not None else None,
    )


def schema_errors(tmp_path: Path, text: str, name: str = "host.yaml") -> list[str]:
    """The formatted findings of the BadInput a profile with `text` raises (the test fails if it loads)."""
    import pytest

    from builder.errors import BadInput
    from builder.pipeline import build

    with pytest.raises(BadInput) as caught:
        build(write(tmp_path / name, text), shell=False)
    return [f.format() for f in caught.value.findings]


def at(tmp_path: Path, line: int, key: str, name: str = "host.yaml") -> str:
    """The `file:line: key: ` prefix of a finding in the profile `name` under tmp_path."""
    return f"{tmp_path / name}:{line}: {key}: "


@dataclass(frozen=True)
class Workdir:
    """A folder a test treats as the working directory of a ksbuild run, without changing the process's: file
    references are relative to it, messages name files relative to it, bare names are looked up in `dirs`."""

    folder: Path
    dirs: tuple[str, ...] = ()

    @property
    def roots(self) -> Roots:
        return Roots(tuple(self.folder / d for d in self.dirs), workdir=self.folder)

    def path(self, name: str | Path) -> Path:
        return self.folder / name

    def write(self, name: str, text: str) -> Path:
        path = self.path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    def load(self, ref: str | Path, overrides: Sequence[str] = ()) -> LoadedProfile:
        is_file = isinstance(ref, Path) or "/" in ref or ref.endswith((".yaml", ".yml"))
        return load_profile(self.path(ref) if is_file else ref, overrides=overrides, roots=self.roots)

    def problems(self, ref: str | Path, overrides: Sequence[str] = ()) -> list[str]:
        """The formatted findings of the BadInput loading `ref` raises (the test fails if it loads)."""
        import pytest

        from builder.errors import BadInput

        with pytest.raises(BadInput) as caught:
            self.load(ref, overrides)
        return [f.format() for f in caught.value.findings]


def fleet_token(tree: Path, hostname: str) -> str:
    """The host's install token, as the tree's state.json holds it."""
    from builder.fleet import state

    return state.read(tree)[hostname].token


def fleet_kickstart(tree: Path, hostname: str) -> Path:
    """The host's kickstart in a rendered fleet tree (http/ks/<hostname>/<token>.cfg)."""
    return tree / "http/ks" / hostname / f"{fleet_token(tree, hostname)}.cfg"


def report_install(tree: Path, hostname: str, status: str = "installed") -> None:
    """What `ksbuild serve` does when the host reports: record it with the host's own token."""
    from builder.fleet import state

    refused = state.record_report(tree, hostname, fleet_token(tree, hostname), status, "192.0.2.1")  # type: ignore[arg-type]
    assert refused is None, refused
