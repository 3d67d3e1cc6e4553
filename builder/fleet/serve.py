"""`ksbuild serve`: serve a rendered fleet tree's http/ folder and record install callbacks.

- ``GET``/``HEAD`` of any file under ``http/`` (kickstarts, iPXE scripts); no folder listings, nothing
  outside ``http/``.
- ``GET``/``POST /callback/<hostname>``: the host's kickstart reports a finished install. The host is
  marked installed in ``state.json`` and its PXE entries switch to local boot (Cobbler's pxe_just_once),
  so it never installs again in a loop; ``ksbuild fleet reinstall HOST`` switches it back.
- Every request is appended to ``serve.log`` (one JSON object a line) in the tree.

Anyone who can reach the server can read every kickstart (they hold password hashes) and mark any host as
installed: bind it to the provisioning network only.
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Callable
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from builder.errors import BadInput
from builder.fleet import pxe

Log = Callable[[str], None]
_MAX_CALLBACK_BODY = 64 * 1024
_CONTENT_TYPES = {".cfg": "text/plain; charset=utf-8", ".ipxe": "text/plain; charset=utf-8"}


class FleetServer:
    """An HTTP server for one fleet tree; `start()` serves from a thread, `serve_forever()` from this one."""

    def __init__(self, tree: Path, *, address: str = "127.0.0.1", port: int = 8080, log: Log | None = None) -> None:
        if not (tree / pxe.MANIFEST_NAME).is_file() or not (tree / "http").is_dir():
            raise BadInput(f"{tree}: not a fleet tree (no {pxe.MANIFEST_NAME} or http/); run `ksbuild fleet render`")
        self.tree = tree
        self._log = log
        self._log_lock = threading.Lock()
        handler = type("FleetRequestHandler", (_Handler,), {"fleet": self})
        try:
            self._httpd = ThreadingHTTPServer((address, port), handler)
        except OSError as exc:
            raise BadInput(f"cannot listen on {address}:{port}: {exc.strerror or exc}") from exc
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def serve_forever(self) -> None:
        self._httpd.serve_forever(poll_interval=0.2)

    def start(self) -> None:
        self._thread = threading.Thread(target=self.serve_forever, name="ksbuild-serve", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FleetServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def record(self, entry: dict[str, Any]) -> None:
        line = json.dumps(entry, sort_keys=True)
        with self._log_lock, (self.tree / pxe.SERVE_LOG_NAME).open("a") as handle:
            handle.write(line + "\n")
        if self._log is not None:
            extra = f" {entry['note']}" if entry.get("note") else ""
            self._log(f"{entry['client']} {entry['method']} {entry['path']} {entry['status']}{extra}")


class _Handler(BaseHTTPRequestHandler):
    fleet: FleetServer
    server_version = "ksbuild-serve"
    protocol_version = "HTTP/1.0"

    def do_GET(self) -> None:
        self._dispatch(send_body=True)

    def do_HEAD(self) -> None:
        self._dispatch(send_body=False)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > _MAX_CALLBACK_BODY:
            self._reply(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, b"too large\n")
            return
        self.rfile.read(length)
        self._dispatch(send_body=True, post=True)

    def log_message(self, format: str, *args: Any) -> None:
        """Requests are recorded by `_reply` instead of printed to stderr."""

    def _dispatch(self, *, send_body: bool, post: bool = False) -> None:
        path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
        if path.startswith("/callback/"):
            self._callback(path.removeprefix("/callback/"))
        elif post:
            self._reply(HTTPStatus.METHOD_NOT_ALLOWED, b"only /callback/<hostname> takes POST\n")
        else:
            self._file(path, send_body=send_body)

    def _callback(self, hostname: str) -> None:
        try:
            changed = pxe.mark_installed(self.fleet.tree, hostname, by=f"callback from {self.client_address[0]}")
        except BadInput as exc:
            self._reply(HTTPStatus.INTERNAL_SERVER_ERROR, f"{exc.message}\n".encode(), note=exc.message)
            return
        if changed is None:
            self._reply(HTTPStatus.NOT_FOUND, b"no such host in this fleet\n", note=f"unknown host {hostname!r}")
            return
        note = f"{hostname} installed; PXE entries now boot the local disk"
        self._reply(HTTPStatus.OK, f"ok: {note}\n".encode(), note=note)

    def _file(self, path: str, *, send_body: bool) -> None:
        root = (self.fleet.tree / "http").resolve()
        parts = [part for part in path.split("/") if part]
        if not parts or any(part in (".", "..") or part.startswith(".") for part in parts):
            self._reply(HTTPStatus.NOT_FOUND, b"not found\n")
            return
        target = root.joinpath(*parts).resolve()
        if not target.is_relative_to(root) or not target.is_file():
            self._reply(HTTPStatus.NOT_FOUND, b"not found\n")
            return
        try:
            data = target.read_bytes()
        except OSError:
            self._reply(HTTPStatus.FORBIDDEN, b"cannot read\n")
            return
        content_type = _CONTENT_TYPES.get(target.suffix, "application/octet-stream")
        self._reply(HTTPStatus.OK, data, content_type=content_type, send_body=send_body)

    def _reply(
        self, status: HTTPStatus, body: bytes, *, content_type: str = "text/plain; charset=utf-8",
        send_body: bool = True, note: str | None = None,
    ) -> None:
        # Recorded before the reply goes out, so whoever got the reply finds it in serve.log.
        self.fleet.record({
            "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "client": self.client_address[0],
            "method": self.command,
            "path": self.path,
            "status": int(status),
            "bytes": len(body) if send_body else 0,
            "note": note,
        })
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if send_body:
            self.wfile.write(body)
