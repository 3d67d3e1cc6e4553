"""A deterministic newc cpio writer for initramfs images, built in memory.

Written in Python rather than with `find | cpio` so the archive owns its metadata: every member is
root-owned with mtime 0 whoever runs the build, device nodes such as /dev/console need no root, and the
same inputs always give the same bytes.
"""

from __future__ import annotations

import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

_MAGIC = b"070701"
_TRAILER = "TRAILER!!!"
# GNU cpio pads archives to 512-byte blocks; concatenating tools and the kernel expect no less.
_BLOCK = 512


@dataclass(frozen=True)
class _Member:
    mode: int
    data: bytes = b""
    rdev: tuple[int, int] = (0, 0)


def _pad4(length: int) -> bytes:
    return b"\0" * (-length % 4)


def _clean(path: str) -> str:
    relative = PurePosixPath(path.lstrip("/"))
    if not relative.parts or any(part in {".", ".."} for part in relative.parts):
        raise ValueError(f"not a usable archive path: {path!r}")
    return str(relative)


class NewcArchive:
    """Members keyed by path; parents are added as 0755 directories; later adds replace earlier ones."""

    def __init__(self) -> None:
        self._members: dict[str, _Member] = {}

    def __contains__(self, path: str) -> bool:
        return _clean(path) in self._members

    def _put(self, path: str, member: _Member) -> None:
        name = _clean(path)
        for parent in PurePosixPath(name).parents:
            if str(parent) != ".":
                self._members.setdefault(str(parent), _Member(stat.S_IFDIR | 0o755))
        self._members[name] = member

    def add_dir(self, path: str, mode: int = 0o755) -> None:
        self._put(path, _Member(stat.S_IFDIR | mode))

    def add_file(self, path: str, data: bytes, mode: int = 0o644) -> None:
        self._put(path, _Member(stat.S_IFREG | mode, data))

    def add_host_file(self, path: str, source: Path, mode: int | None = None) -> None:
        """Copy the content of `source` (symlinks followed) to `path`, keeping its permission bits."""
        bits = stat.S_IMODE(source.stat().st_mode) if mode is None else mode
        self.add_file(path, source.read_bytes(), bits)

    def add_symlink(self, path: str, target: str) -> None:
        self._put(path, _Member(stat.S_IFLNK | 0o777, target.encode()))

    def add_char_device(self, path: str, major: int, minor: int, mode: int = 0o600) -> None:
        self._put(path, _Member(stat.S_IFCHR | mode, rdev=(major, minor)))

    def to_bytes(self) -> bytes:
        chunks: list[bytes] = []
        # Sorted order puts every directory before its contents, which the kernel's unpacker needs.
        for inode, name in enumerate(sorted(self._members), start=1):
            member = self._members[name]
            nlink = 2 if stat.S_ISDIR(member.mode) else 1
            chunks.append(_entry(name, member.mode, inode, nlink, member.data, member.rdev))
        chunks.append(_entry(_TRAILER, 0, 0, 1, b"", (0, 0)))
        archive = b"".join(chunks)
        return archive + b"\0" * (-len(archive) % _BLOCK)


def _entry(name: str, mode: int, inode: int, nlink: int, data: bytes, rdev: tuple[int, int]) -> bytes:
    encoded = name.encode() + b"\0"
    # newc field order: ino mode uid gid nlink mtime filesize devmajor devminor rdevmajor rdevminor
    # namesize check.
    fields = (inode, mode, 0, 0, nlink, 0, len(data), 0, 0, rdev[0], rdev[1], len(encoded), 0)
    head = _MAGIC + b"".join(b"%08X" % value for value in fields) + encoded
    return head + _pad4(len(head)) + data + _pad4(len(data))
