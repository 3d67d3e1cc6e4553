"""Atomic file writes (a reader sees the old file or the new one, never half of one), folders made with a mode of
ours whatever the umask, a lock on an output folder, and questions about paths that never raise."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import itertools
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from builder.errors import shown

FOLDER_MODE = 0o755
"""Every folder ksbuild creates: readable by the web or TFTP server that serves it, writable by its owner only.
The files in them get their own modes (0600 for anything holding a password hash)."""


def make_dirs(folder: Path, mode: int = FOLDER_MODE) -> None:
    """`mkdir -p` where every folder created gets at most `mode`: os.makedirs gives the parents 0777 minus the
    umask, which under `umask 000` lets anyone replace the files in them. A stricter umask still applies."""
    missing: list[Path] = []
    current = folder
    while not os.path.lexists(current) and current != current.parent:
        missing.append(current)
        current = current.parent
    for path in reversed(missing):
        with contextlib.suppress(FileExistsError):  # made meanwhile by a concurrent run: keep it
            os.mkdir(path, mode)


FOLDER_LOCK_NAME = ".lock"
LOCK_MODE = 0o600


@contextlib.contextmanager
def locked_folder(folder: Path, lock_name: str = FOLDER_LOCK_NAME) -> Iterator[None]:
    """Hold an exclusive lock on `folder` (created if missing) for the block: concurrent runs writing the same
    output folder take turns, so the files in it always belong together (ks.cfg and the manifest that records
    its sha256). The lock is flock(2) on `lock_name` in the folder, a 0600 file: the folder itself is 0755, and
    whoever can open what is locked can hold the lock and stall every writer. Released when the process dies."""
    make_dirs(folder)
    fd = os.open(folder / lock_name, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, LOCK_MODE)
    try:
        os.fchmod(fd, LOCK_MODE)  # one left by another umask or an older ksbuild
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_output(path: Path, mode: int = 0o644, *, durable: bool = True) -> Iterator[BinaryIO]:
    """A file to write `path` through: a temporary file in the same folder, renamed into place when the block
    ends without an exception, removed when it raises.

    `durable=False` skips the fsync: for batches of many files that sync once at the end (`os.sync()`)."""
    make_dirs(path.parent)
    fd, tmp_name = _temporary(path)
    try:
        # Set the mode before any data lands, so secrets are never readable by others, even briefly.
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            yield handle
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise


_TEMPORARY_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0)
_temporaries = itertools.count()


def _temporary(path: Path) -> tuple[int, str]:
    """A new file beside `path`, readable by its owner only, named by this process and a counter: as safe as
    tempfile.mkstemp (O_EXCL, never an existing file or link), without its random names, which cost a fleet
    render of 10,000 hosts seconds."""
    while True:
        name = str(path.parent / f".{path.name}.{os.getpid()}.{next(_temporaries)}.tmp")
        try:
            return os.open(name, _TEMPORARY_FLAGS, 0o600), name
        except FileExistsError:
            continue  # left by a process of the same id that died: take the next name


def atomic_write(path: Path, data: bytes, mode: int = 0o644, *, durable: bool = True) -> None:
    """Write `data` to `path` so that a reader sees the old file or the new one, never half of one."""
    with atomic_output(path, mode, durable=durable) as handle:
        handle.write(data)


def atomic_create(path: Path, data: bytes, mode: int = 0o644) -> bool:
    """Write `path` atomically only if it does not exist yet (the check and the write are one step: a link of a
    complete temporary file, which fails when the name is taken). False when it exists."""
    make_dirs(path.parent)
    fd, tmp_name = _temporary(path)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(tmp_name, path)
        except FileExistsError:
            return False
        return True
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)


def atomic_copy(path: Path, source: Path, mode: int = 0o644, *, durable: bool = True) -> None:
    """Copy `source` to `path` as `atomic_write` writes, without reading a (large) file into memory."""
    with source.open("rb") as original, atomic_output(path, mode, durable=durable) as handle:
        shutil.copyfileobj(original, handle, 1 << 20)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


NO_SUCH_FILE = "no such file"


def real_path(path: Path) -> Path:
    """`path` with symlinks resolved, for comparing files: never raises (Path.resolve raises RuntimeError on a
    symlink loop in Python 3.11; a loop is returned as it stands)."""
    return Path(os.path.realpath(path))


def path_problem(path: Path) -> str | None:
    """Why nothing can be read at `path`, in words for a message ("no such file", "is a symbolic link loop",
    "its name is too long"), or None when something is there."""
    try:
        path.stat()
    except (FileNotFoundError, NotADirectoryError):
        return NO_SUCH_FILE
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "is a symbolic link loop"
        if exc.errno == errno.ENAMETOOLONG:
            return "its name is too long for the file system"
        return f"cannot be read: {exc.strerror or exc}"
    return None


def is_dir(path: Path) -> bool:
    """Path.is_dir, also False (not an exception) for a name too long or another unreadable path."""
    try:
        return path.is_dir()
    except OSError:
        return False


class Contained:
    """Joins paths read back from files ksbuild wrote into `root` (a manifest, a boot entries file), which someone
    may have edited, refusing any that would leave `root`: ValueError unless the path is plain and relative (no
    absolute path, no empty, ``.`` or ``..`` part, no NUL) and no symbolic link on the way leads out. Each folder
    is resolved once per instance: make one per run, not one for the life of a server."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._real_root = real_path(root)
        self._inside: set[str] = set()  # folders (relative to root) found inside it

    def check_plain(self, relpath: object) -> str:
        """`relpath` itself when it is a plain relative path (no absolute path, no empty, . or .. part, no NUL);
        links are not looked at (`check` does, where a file is read, written or deleted)."""
        if not isinstance(relpath, str) or not relpath or "\x00" in relpath or relpath.startswith("/"):
            raise ValueError(f"{shown(relpath)} is not a relative path")
        parts = relpath.split("/")
        if "" in parts or "." in parts or ".." in parts:
            raise ValueError(f"{shown(relpath)} is not a plain path inside the folder (it has . or .. parts)")
        return relpath

    def check(self, relpath: object) -> str:
        """`relpath` itself when it stays inside `root` (strings only: a manifest names thousands)."""
        relpath = self.check_plain(relpath)
        parent = relpath.rpartition("/")[0]
        if parent not in self._inside:
            if not real_path(self.root / parent).is_relative_to(self._real_root):
                raise ValueError(f"{shown(relpath)} leads out of the folder through a symbolic link")
            self._inside.add(parent)
        return relpath
