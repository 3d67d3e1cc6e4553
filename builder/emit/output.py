"""Write a rendered kickstart and its manifest: atomically, deterministically, secrets 0600."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

from builder import __version__
from builder.fsutil import atomic_write, locked_folder, sha256_bytes, sha256_file
from builder.load.overrides import recorded_override
from builder.vocabulary import display_path

KICKSTART_NAME = "ks.cfg"
MANIFEST_NAME = "manifest.json"
# A kickstart carries password hashes: only its owner may read it. The manifest holds digests and names, no
# secrets (an override of a secret key is recorded without its value): anyone may read it.
KICKSTART_MODE = 0o600
MANIFEST_MODE = 0o644


@dataclass(frozen=True)
class EmittedFiles:
    kickstart: Path
    manifest: Path


def build_manifest(
    name: str,
    kickstart_text: str,
    sources: Sequence[Path],
    templates: Mapping[str, Path],
    overrides: Sequence[str] = (),
    extra: Mapping[str, object] | None = None,
    *,
    workdir: Path | None,
    kickstart_name: str = KICKSTART_NAME,
) -> dict[str, object]:
    """What a kickstart was made from and its digest. Input paths are shown relative to `workdir` when under
    it; `kickstart_name` is the kickstart's path relative to the manifest's folder."""
    manifest: dict[str, object] = {
        "profile": name,
        "ksbuild_version": __version__,
        "pykickstart_version": version("pykickstart"),
        "inputs": [{"path": display_path(p, workdir), "sha256": sha256_file(p)} for p in sources],
        "overrides": [recorded_override(text) for text in overrides],
        "templates": [
            {"name": template, "path": display_path(path, workdir), "sha256": sha256_file(path)}
            for template, path in sorted(templates.items())
        ],
        "outputs": {
            kickstart_name: {"sha256": sha256_bytes(kickstart_text.encode()), "mode": f"{KICKSTART_MODE:04o}"}
        },
    }
    if extra:
        manifest.update(extra)
    return manifest


def manifest_bytes(manifest: Mapping[str, object]) -> bytes:
    return (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()


def emit_kickstart(out_dir: Path, kickstart_text: str, manifest: Mapping[str, object]) -> EmittedFiles:
    """Write ks.cfg first and the manifest last, each by atomic rename; nothing is touched if rendering failed.
    The folder is locked meanwhile: of concurrent renders into it, one pair of files wins, never a mix."""
    kickstart = out_dir / KICKSTART_NAME
    manifest_path = out_dir / MANIFEST_NAME
    with locked_folder(out_dir):
        atomic_write(kickstart, kickstart_text.encode(), KICKSTART_MODE)
        atomic_write(manifest_path, manifest_bytes(manifest), MANIFEST_MODE)
    return EmittedFiles(kickstart=kickstart, manifest=manifest_path)
