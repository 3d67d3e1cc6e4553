"""Export an installed disk as a compressed qcow2 golden image, with its checksum and sizes."""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from builder.fsutil import make_dirs, sha256_file
from builder.proc import run


@dataclass(frozen=True)
class ExportedImage:
    path: Path
    sha256: str
    file_size: int        # bytes on disk (compressed)
    virtual_size: int     # bytes the guest sees

    def to_json(self) -> dict[str, object]:
        return {"path": self.path.as_posix(), "sha256": self.sha256, "file_size": self.file_size,
                "virtual_size": self.virtual_size, "format": "qcow2", "compressed": True}


def export_image(disk: Path, dest: Path) -> ExportedImage:
    """`qemu-img convert -c` into a temporary file beside `dest`, renamed into place when complete."""
    make_dirs(dest.parent)
    partial = dest.with_name(f".{dest.name}.partial")
    try:
        run(["qemu-img", "convert", "-c", "-O", "qcow2", str(disk), str(partial)], timeout=3600)
        info = json.loads(run(["qemu-img", "info", "--output=json", str(partial)]).stdout)
        os.replace(partial, dest)
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
    return ExportedImage(dest, sha256_file(dest), dest.stat().st_size, int(info["virtual-size"]))
