"""The rendered fleet tree's bookkeeping: the manifest, "is it up to date?", writing hosts and shared files,
removing what a host or MAC that left the inventory had.

The manifest (``manifest.json``, written last) records the sha256 of every input file and every output, and
per host the digest of everything its outputs are made from; it holds no timestamps, so an unchanged fleet
renders to a byte-identical tree. It holds no install tokens either (they are in state.json, 0600): a
host's kickstart path is derived from its hostname and the token in the state.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from builder.errors import BadInput, shown
from builder.fleet import pxe, state
from builder.fsutil import atomic_write, sha256_bytes, sha256_file
from builder.vocabulary import display_path

_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
HostEntries = Mapping[str, Mapping[pxe.Variant, bytes]]


@dataclass(frozen=True)
class Versions:
    ksbuild: str
    pykickstart: str


def read_manifest(out_dir: Path) -> dict[str, Any] | None:
    """The last render's manifest (None when there is none to read); BadInput when a path it names would lead
    out of the tree: it decides what a render deletes and where entries are written."""
    try:
        data = json.loads((out_dir / pxe.MANIFEST_NAME).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("hosts"), dict):
        return None
    pxe.check_manifest_paths(out_dir, data)
    return data


def manifest_bytes(data: Mapping[str, Any]) -> bytes:
    """The manifest as JSON with one line per host: diff-friendly, and ten times faster to write for a
    thousand hosts than indenting every value (the indenting encoder is pure Python)."""
    hosts = data["hosts"]
    lines = ["{"]
    for key in sorted(data):
        if key == "hosts" and hosts:
            lines.append('  "hosts": {')
            rows = [f"    {json.dumps(name)}: {json.dumps(hosts[name], sort_keys=True)}" for name in sorted(hosts)]
            lines.append(",\n".join(rows))
            lines.append("  },")
        else:
            value = json.dumps(data[key], indent=2, sort_keys=True).replace("\n", "\n  ")
            lines.append(f"  {json.dumps(key)}: {value},")
    lines[-1] = lines[-1].removesuffix(",")
    return ("\n".join(lines) + "\n}\n").encode()


def manifest(
    *,
    inventory: str,
    versions: Versions,
    settings: Mapping[str, Any],
    sources: Sequence[Path],
    template_dirs: Sequence[Path],
    hosts: Mapping[str, Any],
    files: Mapping[str, str],
    workdir: Path | None,
) -> dict[str, Any]:
    """Input files are recorded as messages show them, relative to `workdir` when under it."""
    templates = sorted({p for folder in template_dirs for p in folder.rglob("*.j2")})
    inputs = dict.fromkeys([*sources, *templates])
    return {
        "inventory": inventory,
        "ksbuild_version": versions.ksbuild,
        "pykickstart_version": versions.pykickstart,
        "settings": dict(settings),
        "template_dirs": sorted({str(folder) for folder in template_dirs}),
        "inputs": [{"path": display_path(p, workdir), "sha256": sha256_file(p)} for p in inputs],
        "hosts": {name: hosts[name] for name in sorted(hosts)},
        "files": dict(sorted(files.items())),
    }


def up_to_date(
    previous: Mapping[str, Any], versions: Versions, settings: Mapping[str, Any], out_dir: Path, workdir: Path | None
) -> bool:
    """True when no input changed and every output is as the manifest recorded it (state included). Relative
    input paths in the manifest are relative to `workdir`, as `manifest` wrote them."""
    base = workdir if workdir is not None else Path()
    try:
        if (previous.get("ksbuild_version") != versions.ksbuild or previous.get("settings") != settings
                or previous.get("pykickstart_version") != versions.pykickstart):
            return False
        recorded = {item["path"]: item["sha256"] for item in previous["inputs"]}
        for path, digest in recorded.items():
            if not (base / path).is_file() or sha256_file(base / path) != digest:
                return False
        for folder in previous["template_dirs"]:
            if not {display_path(p, workdir) for p in Path(folder).rglob("*.j2")} <= recorded.keys():
                return False  # a new template may now replace a shipped one
        for path, digest in previous["files"].items():
            if sha256_file(out_dir / path) != digest:
                return False
        states = state.read(out_dir)
        return all(
            name in states
            and host_intact(out_dir, name, entry, entry["input_sha256"], states[name].token)
            and served_as_recorded(out_dir, entry, state.variant_for(states, name))
            for name, entry in previous["hosts"].items()
        )
    except (OSError, KeyError, TypeError, AttributeError, BadInput):
        return False


def host_intact(out_dir: Path, hostname: str, entry: Mapping[str, Any] | None, digest: str, token: str) -> bool:
    """The host's digest is `digest` and its kickstart (for `token`) and boot entries are present and
    unchanged."""
    if entry is None or entry.get("input_sha256") != digest:
        return False
    try:
        ks = out_dir / pxe.kickstart_path(hostname, token)
        if ks.stat().st_mode & 0o777 != pxe.KICKSTART_MODE or sha256_file(ks) != entry["kickstart"]["sha256"]:
            return False
        boot = out_dir / pxe.boot_file(hostname)
        return boot.stat().st_mode & 0o777 == pxe.BOOT_FILE_MODE and sha256_file(boot) == entry["boot_entries"]
    except (OSError, KeyError, TypeError):
        return False


def served_as_recorded(out_dir: Path, entry: Mapping[str, Any], variant: pxe.Variant) -> bool:
    """Each served entry is the `variant` version (the one the install-once state asks for)."""
    try:
        return all(sha256_file(out_dir / path) == versions[variant] for path, versions in entry["entries"].items())
    except (OSError, KeyError, TypeError, AttributeError):
        return False


def write_host(
    writer: pxe.TreeWriter, hostname: str, token: str, text: str, entries: HostEntries
) -> dict[str, Any]:
    """Write the kickstart (0600, named by `token`, other tokens' kickstarts removed) and the boot entries
    file (0600); the host's manifest record, minus its inputs."""
    data = text.encode()
    ks = pxe.kickstart_path(hostname, token)
    writer.write(ks, data, pxe.KICKSTART_MODE)
    _remove_other_kickstarts(writer.root, hostname, keep=ks)
    boot = pxe.encode_entries(entries)
    writer.write(pxe.boot_file(hostname), boot, pxe.BOOT_FILE_MODE)
    return _host_record(data, boot, entries)


def _host_record(kickstart: bytes, boot: bytes, entries: HostEntries) -> dict[str, Any]:
    return {
        "kickstart": {"sha256": sha256_bytes(kickstart), "mode": f"{pxe.KICKSTART_MODE:04o}"},
        "boot_entries": sha256_bytes(boot),
        "entries": {
            path: {variant: sha256_bytes(content) for variant, content in versions.items()}
            for path, versions in entries.items()
        },
    }


def _remove_other_kickstarts(out_dir: Path, hostname: str, keep: str | None) -> None:
    """A kickstart under an old token (or the pre-token ``http/ks/<host>.cfg``) must not stay reachable."""
    if _SAFE_NAME.fullmatch(hostname) is None:
        return  # not a name a render writes (a manifest edited by hand): touch nothing outside the tree
    paths, source = pxe.TreePaths(out_dir), out_dir / pxe.MANIFEST_NAME
    paths.join(f"http/ks/{hostname}.cfg", source).unlink(missing_ok=True)
    # The host's folder must not lead out of the tree (a link): its *.cfg are deleted.
    folder = paths.join(pxe.kickstart_path(hostname, "x"), source).parent
    if not folder.is_dir():
        return
    for old in folder.glob("*.cfg"):
        if keep is None or old != out_dir / keep:
            old.unlink(missing_ok=True)
    if keep is None:
        with contextlib.suppress(OSError):
            folder.rmdir()


def reinstall(out_dir: Path, hostname: str) -> list[str]:
    """Install the host again at its next network boot, with a new token: the old kickstart and callback
    URLs stop working. Returns the served paths that changed.

    The new token replaces the old one in the kickstart and the boot entries (a 32-character random string
    occurs nowhere else), which gives what a render with the new token writes; the manifest's record of the
    host follows, so the next render finds the host up to date.
    """
    with state.lock(out_dir):
        record = pxe.manifest_host(out_dir, hostname)
        if record is None:
            raise BadInput(f"{out_dir}: no host named {shown(hostname)} in {pxe.MANIFEST_NAME}")
        states = state.read(out_dir)
        current = states.get(hostname)
        if current is None:
            raise BadInput(f"{out_dir}: {hostname} has no install token; run `ksbuild fleet render` again")
        old, new = current.token, state.new_token()
        try:
            kickstart = (out_dir / pxe.kickstart_path(hostname, old)).read_bytes()
        except OSError as exc:
            raise BadInput(f"{out_dir}: cannot read the kickstart of {hostname}; render again ({exc})") from exc
        kickstart = kickstart.replace(old.encode(), new.encode())
        entries = {
            path: {variant: content.replace(old.encode(), new.encode()) for variant, content in versions.items()}
            for path, versions in pxe.read_entries(out_dir, hostname).items()
        }
        writer = pxe.TreeWriter(out_dir, durable_each=True)
        record.update(write_host(writer, hostname, new, kickstart.decode(), entries))
        changed = pxe.serve_variant(out_dir, entries, pxe.INSTALL, writer)
        states[hostname] = state.HostState(token=new)
        state.write(out_dir, states)
        _rerecord_host(out_dir, hostname, record)
    return changed


def _rerecord_host(out_dir: Path, hostname: str, record: Mapping[str, Any]) -> None:
    data = read_manifest(out_dir)
    if data is None:
        raise BadInput(f"{out_dir / pxe.MANIFEST_NAME}: cannot read; render again")
    data["hosts"][hostname] = dict(record)
    atomic_write(out_dir / pxe.MANIFEST_NAME, manifest_bytes(data), 0o644)


def write_shared(
    writer: pxe.TreeWriter, shared: Mapping[str, bytes], copied: Mapping[str, tuple[Path, str]],
    previous: Mapping[str, Any] | None,
) -> dict[str, str]:
    """Write the shared files and copy the boot files in, each only when it differs; path → sha256.

    Files an earlier render copied in (--boot-files, pxelinux) stay while they are intact, so a render
    without those options keeps them.
    """
    files: dict[str, str] = {}
    for path, digest in (previous or {}).get("files", {}).items():
        target = writer.root / path
        if path not in shared and path not in copied and target.is_file() and sha256_file(target) == digest:
            files[path] = digest
    for path, content in shared.items():
        target = writer.root / path
        if not target.is_file() or target.read_bytes() != content:
            writer.write(path, content)
        files[path] = sha256_bytes(content)
    for path, (source, digest) in copied.items():
        target = writer.root / path
        if not target.is_file() or sha256_file(target) != digest:
            writer.copy(path, source)
        files[path] = digest
    return dict(sorted(files.items()))


def remove_stale(
    out_dir: Path, previous: Mapping[str, Any] | None, hosts: Mapping[str, Any], files: Mapping[str, str],
    states: dict[str, state.HostState],
) -> list[str]:
    """Remove what the last render wrote and this one did not: hosts and MACs that left, dropped files.

    A host that left the inventory is also forgotten in the install-once state, so if it comes back it
    installs. Returns the hostnames removed.
    """
    if previous is None:
        return []
    served = {path for entry in hosts.values() for path in entry["entries"]} | set(files)
    # Checked when the manifest was read; checked again here, where a path decides what is deleted.
    paths, manifest = pxe.TreePaths(out_dir), out_dir / pxe.MANIFEST_NAME
    removed = []
    for hostname, entry in previous.get("hosts", {}).items():
        stale = [path for path in entry.get("entries", {}) if path not in served]
        if hostname not in hosts:
            removed.append(hostname)
            _remove_other_kickstarts(out_dir, hostname, keep=None)
            stale.append(pxe.boot_file(hostname))
            states.pop(hostname, None)
        for path in stale:
            paths.join(path, manifest).unlink(missing_ok=True)
    for path in previous.get("files", {}):
        if path not in files:
            paths.join(path, manifest).unlink(missing_ok=True)
    if removed:
        state.write(out_dir, states)
    return removed
