"""Follow log files that live on a remote libvirt host: copy what each volume gained into a local file.

The watcher reads local files (tail -F style); on a remote host the VM's console and installer logs are storage
volumes there, so a background thread downloads each one's new bytes through the storage API (an offset
download) every poll. For a local host nothing of this runs: the logs are local files already.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from builder.fsutil import make_dirs


class VolumeMirror:
    """One remote log volume mirrored into a local file; each sync appends the bytes it gained."""

    def __init__(self, conn: Any, volume: Any, dest: Path) -> None:
        self._conn = conn
        self._volume = volume
        self._dest = dest
        self._offset = 0
        make_dirs(dest.parent)
        dest.touch(mode=0o644)  # masked by the umask: at most 0644

    def sync(self) -> int:
        """Append what the volume gained since the last sync; the number of bytes appended."""
        size = int(self._volume.info()[1])
        if size <= self._offset:
            return 0
        stream = self._conn.newStream(0)
        chunks: list[bytes] = []
        try:
            self._volume.download(stream, self._offset, size - self._offset, 0)
            stream.recvAll(lambda _stream, data, sink: sink.append(data), chunks)
            stream.finish()
        except BaseException:
            with contextlib.suppress(Exception):
                stream.abort()
            raise
        data = b"".join(chunks)
        with self._dest.open("ab") as handle:
            handle.write(data)
        self._offset += len(data)
        return len(data)


@contextlib.contextmanager
def mirrored(conn: Any, volumes: Mapping[Path, Any], interval: float = 0.5) -> Iterator[list[VolumeMirror]]:
    """Mirror `volumes` (local file -> remote volume) while the block runs, and once more at its end."""
    mirrors = [VolumeMirror(conn, volume, dest) for dest, volume in volumes.items()]
    stop = threading.Event()

    def follow() -> None:
        while not stop.wait(interval):
            for mirror in mirrors:
                # A download can race with the VM stopping; the next sync (or the final one) catches up.
                with contextlib.suppress(Exception):
                    mirror.sync()

    thread = threading.Thread(target=follow, name="ksbuild-log-mirror", daemon=True)
    thread.start()
    try:
        yield mirrors
    finally:
        stop.set()
        thread.join(timeout=30)
        for mirror in mirrors:
            with contextlib.suppress(Exception):
                mirror.sync()
