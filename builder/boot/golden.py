"""`ksbuild build`: a boot test whose installed disk becomes a golden image, recorded in the manifest."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path

from builder.boot.run import BootEvents, BootOptions, BootTestResult, boot_test
from builder.commands import render_profile
from builder.emit.output import manifest_bytes
from builder.fsutil import atomic_write


def build_golden_image(
    ref: str | Path,
    options: BootOptions,
    *,
    overrides: Sequence[str] = (),
    templates: Sequence[Path] = (),
    events: BootEvents | None = None,
) -> BootTestResult:
    """Render the profile (ks.cfg + manifest, as `render` does), boot-test it with verification, export the disk
    as output/<profile>/<profile>.qcow2 and record its sha256 and sizes in manifest.json."""
    rendered = render_profile(str(ref), overrides=overrides, templates=templates, output_root=options.output_root)
    result = boot_test(ref, dataclasses.replace(options, verify=True), overrides=overrides, templates=templates,
                       events=events, export=True)
    if result.ok and result.image is not None:
        manifest_path = rendered.files.manifest
        manifest = json.loads(manifest_path.read_text())
        manifest["image"] = {**result.image.to_json(), "run_id": result.run_id}
        atomic_write(manifest_path, manifest_bytes(manifest))
    return result
