"""Put files such as ks.cfg into an installer initrd, the way virt-install's --initrd-inject does.

The kernel unpacks every cpio archive it finds in the initrd, one after the other, each optionally
compressed; later archives add to (and overwrite files of) earlier ones. So instead of unpacking and
repacking the (xz- or gzip-compressed) installer initrd, we copy it and append one small archive.

The appended archive is uncompressed newc. Compression would gain nothing for a few kilobytes of
kickstart, and an uncompressed archive stays readable with `cpio -t` at its offset. The kernel only
recognises an uncompressed archive that starts on a 4-byte boundary of the whole image (it skips NUL
bytes between archives), so the copy is padded with NULs to that boundary first: compressed initrds
often end at an odd length.
"""

from __future__ import annotations

import stat
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

from builder.errors import BadInput
from builder.fsutil import atomic_output

_NEWC_MAGIC = b"070701"
_TRAILER_NAME = "TRAILER!!!"
_DIR_MODE = 0o755
_COPY_BLOCK = 1 << 20


def _pad4(length: int) -> bytes:
    return b"\0" * (-length % 4)


def _newc_entry(name: str, mode: int, inode: int, data: bytes, nlink: int) -> bytes:
    encoded_name = name.encode("utf-8") + b"\0"
    # Fields in newc order: ino mode uid gid nlink mtime filesize devmajor devminor rdevmajor rdevminor
    # namesize check. uid/gid/mtime are 0 so the archive depends only on the files given.
    fields = (inode, mode, 0, 0, nlink, 0, len(data), 0, 0, 0, 0, len(encoded_name), 0)
    header = _NEWC_MAGIC + b"".join(b"%08X" % value for value in fields)
    head = header + encoded_name
    return head + _pad4(len(head)) + data + _pad4(len(data))


def _archive_path(path: str) -> PurePosixPath:
    """`path` as a relative archive member name ("ks.cfg" and "/ks.cfg" both land at /ks.cfg)."""
    relative = PurePosixPath(path.lstrip("/"))
    if not relative.parts or any(part in {"", ".", ".."} for part in relative.parts):
        raise BadInput(f"initrd injection: {path!r} is not a usable file path inside the initrd")
    return relative


def newc_archive(files: Mapping[str, bytes], mode: int = 0o644) -> bytes:
    """A deterministic newc cpio archive of `files`, parent directories included, ending in TRAILER!!!.

    Members are sorted by path, inode numbers count up from 1, and owner and mtime are 0, so the same
    files always give the same bytes. Parent directories get mode 0755; when the initrd already has
    them, the kernel keeps the directory and only resets its mode, so avoid injecting into
    directories with special modes such as /tmp.
    """
    members: dict[PurePosixPath, bytes | None] = {}
    for raw_path, content in files.items():
        path = _archive_path(raw_path)
        if path in members:
            raise BadInput(f"initrd injection: {raw_path!r} is given twice")
        members[path] = content
    for path in list(members):
        for parent in path.parents:
            if parent != PurePosixPath("."):
                if members.get(parent) is not None:
                    raise BadInput(f"initrd injection: {str(parent)!r} is both a file and a directory")
                members.setdefault(parent, None)

    chunks: list[bytes] = []
    for inode, path in enumerate(sorted(members), start=1):
        data = members[path]
        if data is None:
            chunks.append(_newc_entry(str(path), stat.S_IFDIR | _DIR_MODE, inode, b"", nlink=2))
        else:
            chunks.append(_newc_entry(str(path), stat.S_IFREG | (mode & 0o7777), inode, data, nlink=1))
    chunks.append(_newc_entry(_TRAILER_NAME, 0, 0, b"", nlink=1))
    return b"".join(chunks)


def inject_files(initrd: Path, dest: Path, files: Mapping[str, bytes], mode: int = 0o644) -> None:
    """Write `dest`: a copy of `initrd`, NUL-padded to 4 bytes, followed by a newc archive of `files`.

    `files` maps paths inside the initrd ("ks.cfg" → /ks.cfg) to their contents. `dest` is replaced
    atomically and must not be `initrd` itself.
    """
    archive = newc_archive(files, mode)
    try:
        if dest.exists() and dest.samefile(initrd):
            raise BadInput(f"initrd injection: destination {dest} is the source initrd itself")
        source = initrd.open("rb")
    except OSError as exc:
        raise BadInput(f"initrd injection: cannot read {initrd}: {exc.strerror}") from exc

    with source, atomic_output(dest) as out:
        copied = 0
        for block in iter(lambda: source.read(_COPY_BLOCK), b""):
            out.write(block)
            copied += len(block)
        out.write(_pad4(copied))
        out.write(archive)
