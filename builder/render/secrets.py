"""Secrets a profile names but does not hold: LUKS passphrases and proxy passwords, read at render time.

A profile says `passphrase_file: secrets/luks` (relative to the profile file that says it) or `passphrase_env:
LUKS_PASS`; the value goes into the kickstart (mode 0600) and nowhere else: not into the profile, the manifest or
any message. Messages name the key, the file or the variable, and what is wrong, never the value.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from builder.errors import BadInput, Finding, Location
from builder.model.profile import Profile
from builder.vocabulary import KeyPath, Locate, format_key

# cryptsetup reads at most 512 characters of a passphrase; a proxy password is far shorter.
MAX_SECRET = 512
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Characters anaconda's proxy parser (ProxyString) cannot take inside user:password@host.
_PROXY_UNSAFE = re.compile(r"[@:/\s]")


@dataclass(frozen=True)
class SecretRef:
    """Where one secret is read from: the key that names it, and a file or an environment variable."""

    key: KeyPath
    file: str | None
    env: str | None
    proxy: bool = False  # a proxy password: it goes into a URL

    @property
    def source_key(self) -> KeyPath:
        prefix = "proxy_password" if self.proxy else "passphrase"
        return (*self.key, f"{prefix}_file" if self.file is not None else f"{prefix}_env")


@dataclass(frozen=True)
class Secrets:
    """Resolved secrets by the key path of the entry that needs them. The values stay out of repr()."""

    values: Mapping[KeyPath, str] = field(default_factory=dict, repr=False)

    def get(self, *key: str | int) -> str:
        try:
            return self.values[tuple(key)]
        except KeyError:
            raise BadInput(f"{format_key(tuple(key))}: its secret was not read (render through the pipeline, "
                           "which reads passphrase_file/passphrase_env)") from None


NO_SECRETS = Secrets()


def secret_refs(profile: Profile) -> Iterator[SecretRef]:
    storage = profile.storage
    for kind, volumes in (("partitions", storage.partitions), ("raids", storage.raids)):
        for index, volume in enumerate(volumes):
            if volume.encrypted:
                yield SecretRef(("storage", kind, index), volume.passphrase_file, volume.passphrase_env)
    for index, repo in enumerate(profile.install.repos):
        if repo.proxy_password_file is not None or repo.proxy_password_env is not None:
            yield SecretRef(("install", "repos", index), repo.proxy_password_file, repo.proxy_password_env,
                            proxy=True)


def resolve_secrets(
    profile: Profile, locate: Locate, environ: Mapping[str, str] | None = None, workdir: Path | None = None
) -> Secrets:
    """Read every secret the profile names. Raises BadInput listing each one that cannot be read, at the
    file:line of the key that names it. `workdir` is where a file named by --set (no file of its own) starts."""
    env = os.environ if environ is None else environ
    values: dict[KeyPath, str] = {}
    findings: list[Finding] = []
    for ref in secret_refs(profile):
        where = locate(ref.source_key)
        try:
            value = _read(ref, where, env, workdir)
            _check(value, ref)
        except ValueError as exc:
            findings.append(Finding("secrets", str(exc), where, format_key(ref.source_key)))
            continue
        values[ref.key] = value
    if findings:
        raise BadInput(f"{len(findings)} secret(s) could not be read", findings)
    return Secrets(values)


def _read(ref: SecretRef, where: Location, env: Mapping[str, str], workdir: Path | None) -> str:
    if ref.env is not None:
        value = env.get(ref.env)
        if value is None:
            raise ValueError(f"environment variable {ref.env} is not set")
        return value
    assert ref.file is not None  # the model requires one of the two
    path = Path(ref.file)
    if not path.is_absolute():
        # Relative to the file that names it, as messages show that file (relative to the working folder).
        base = Path(where.file).parent if where.line is not None else Path()
        if workdir is not None and not base.is_absolute():
            base = workdir / base
        path = base / path
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_SECRET + 2)
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not UTF-8 text") from None
    # One trailing newline is what an editor or `echo` leaves; it is not part of the secret.
    return text[:-1] if text.endswith("\n") else text


def _check(value: str, ref: SecretRef) -> None:
    what = "the proxy password" if ref.proxy else "the passphrase"
    if not value:
        raise ValueError(f"{what} is empty")
    if len(value) > MAX_SECRET:
        raise ValueError(f"{what} is longer than {MAX_SECRET} characters")
    if _CONTROL.search(value):
        raise ValueError(f"{what} holds a newline or another control character, which a kickstart line cannot")
    if ref.proxy and _PROXY_UNSAFE.search(value):
        raise ValueError(f"{what} holds @, :, / or a space, which anaconda's proxy URL parser cannot take")
