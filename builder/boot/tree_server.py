"""Serve a local install tree over HTTP on 127.0.0.1, for guests on qemu's user-mode network.

A guest on user-mode networking reaches the host's loopback as 10.0.2.2, so nothing listens beyond this machine.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

# The host's loopback as a guest on qemu's user-mode network sees it.
USER_NETWORK_HOST = "10.0.2.2"


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Requests are not news on the terminal."""


@contextmanager
def serve_tree(tree: Path) -> Iterator[int]:
    """Serve `tree` read-only on 127.0.0.1; yields the port. The server stops when the block ends."""
    handler = functools.partial(_QuietHandler, directory=str(tree))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="ksbuild-tree-server", daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
