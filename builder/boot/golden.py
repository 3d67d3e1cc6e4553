"""`ksbuild build`: a boot test whose installed disk becomes a golden image, recorded in the manifest."""

from __future__ import annotations

import dataclasses

from builder.boot.run import BootEvents, BootOptions, BootTestResult, boot_test
from builder.emit.output import MANIFEST_NAME, build_manifest, manifest_bytes
from builder.fsutil import atomic_write
from builder.pipeline import BuildRequest


def build_golden_image(request: BuildRequest, options: BootOptions, *,
                       events: BootEvents | None = None) -> BootTestResult:
    """Boot-test the profile with verification, export the disk as <output>/<profile>/<profile>.qcow2 and write
    <output>/<profile>/manifest.json for it: the profile it came from (inputs, overrides, templates), the kickstart
    the VM actually installed (runs/<run-id>/ks.cfg, the boot-test variant) with its sha256, and the image."""
    result = boot_test(request, dataclasses.replace(options, verify=True), events=events, export=True)
    installed = result.installed
    if result.ok and result.image is not None and installed is not None:
        kickstart = f"runs/{result.run_id}/ks.cfg"
        image = {**result.image.to_json(), "run_id": result.run_id, "kickstart": kickstart}
        manifest = build_manifest(installed.name, installed.kickstart.text, installed.loaded.sources,
                                  installed.kickstart.templates, request.overrides, {"image": image},
                                  workdir=request.roots.workdir, kickstart_name=kickstart)
        atomic_write(request.roots.output_dir(installed.name) / MANIFEST_NAME, manifest_bytes(manifest))
    return result
