"""`ksbuild serve`'s access log: one JSON object a line in the tree's ``serve.log`` (0600), and a short line
on the console. Everything a client chose (path, method, the server library's messages about its bytes) is
escaped first: no control character, escape sequence or bidi override reaches a terminal, and a line is cut
at `MAX_FIELD` characters. Install tokens in paths are replaced by ``<token>``, and the server library's
messages lose anything shaped like a token: no line carries a token that still works.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import re
import threading
import urllib.parse
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

Console = Callable[[str], None]
LOG_MODE = 0o600
MAX_FIELD = 512
# The server library's loggers: a malformed request is reported there, never as a traceback on stderr.
LIBRARY_LOGGERS = ("tornado.access", "tornado.application", "tornado.general", "asyncio")
_TOKEN_ROUTES = ("ks", "callback")
# A run of URL-safe characters (any of them percent-encoded) as long as the shortest token
# (builder/fleet/state.py TOKEN_PATTERN): what a library message may carry of a request's path or headers.
_TOKEN_SHAPED = re.compile(r"(?:[A-Za-z0-9_-]|%[0-9A-Fa-f]{2}){32,}")


def printable(text: str, limit: int = MAX_FIELD) -> str:
    """`text` with every non-printable character written as an escape (\\x1b, \\u202e), cut at `limit`."""
    out = []
    for char in text[:limit]:
        if char.isprintable() or char == " ":
            out.append("\\\\" if char == "\\" else char)
        elif ord(char) < 0x100:
            out.append(f"\\x{ord(char):02x}")
        else:
            out.append(f"\\u{ord(char):04x}" if ord(char) < 0x10000 else f"\\U{ord(char):08x}")
    if len(text) > limit:
        out.append(f"… ({len(text):,} characters)")
    return "".join(out)


def redacted(path: str) -> str:
    """The request path with the token segment of a kickstart or callback URL replaced.

    The route is told from the decoded segments, as the server routes (``/%63allback/...`` is the callback),
    and every segment after the hostname is replaced (``/ks/<host>/<token>.cfg/`` is answered 404 but still
    names a live token), as is anything token-shaped left (``/ks/<host>%2f<token>.cfg``)."""
    raw = path.split("?", 1)[0]
    parts = raw.split("/")
    decoded = [urllib.parse.unquote(part, errors="replace") for part in parts]
    if len(parts) < 3 or parts[0] != "" or decoded[1] not in _TOKEN_ROUTES:
        return path
    for index in range(3, len(parts)):
        if decoded[index] not in ("", ".cfg"):
            suffix = ".cfg" if decoded[1] == "ks" and decoded[index].endswith(".cfg") else ""
            parts[index] = "<token>" + suffix
    return without_tokens("/".join(parts))


def without_tokens(text: str) -> str:
    """`text` with every token-shaped run replaced: for messages whose content we do not control."""
    return _TOKEN_SHAPED.sub("<token?>", text)


class _ConsoleWriter:
    """Console lines from a thread of their own: a terminal or pipe that stops reading must not stop the
    server. When `MAX_QUEUED` lines wait, further ones are dropped and counted (serve.log has them all)."""

    MAX_QUEUED = 10_000

    def __init__(self, console: Console) -> None:
        self._console = console
        self._lines: queue.Queue[str | None] = queue.Queue(self.MAX_QUEUED)
        self._dropped = 0
        self._thread = threading.Thread(target=self._run, name="ksbuild-serve-console", daemon=True)
        self._thread.start()

    def put(self, line: str) -> None:
        if self._dropped:
            try:
                self._lines.put_nowait(f"({self._dropped} console line(s) dropped: the console was not reading; "
                                       "serve.log has them)")
                self._dropped = 0
            except queue.Full:
                pass
        try:
            self._lines.put_nowait(line)
        except queue.Full:
            self._dropped += 1

    def close(self) -> None:
        with contextlib.suppress(queue.Full):
            self._lines.put(None, timeout=5)
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while (line := self._lines.get()) is not None:
            self._console(line)


class AccessLog:
    """Appends to ``serve.log``; thread-safe (reports are recorded from worker threads)."""

    def __init__(self, path: Path, console: Console | None = None) -> None:
        self.path = path
        self._console = _ConsoleWriter(console) if console is not None else None
        self._lock = threading.Lock()
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, LOG_MODE)
        os.fchmod(fd, LOG_MODE)  # a log from an older ksbuild was 0644: it names hosts and tokens' uses
        self._handle = os.fdopen(fd, "a", encoding="utf-8")

    def close(self) -> None:
        with self._lock:
            self._handle.close()
        if self._console is not None:
            self._console.close()

    def request(
        self, *, client: str, method: str | None, path: str | None, status: int | None, sent: int = 0,
        note: str | None = None,
    ) -> None:
        entry: dict[str, Any] = {
            "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "client": printable(client),
            "method": printable(method) if method is not None else None,
            "path": printable(redacted(path)) if path is not None else None,
            "status": status,
            "bytes": sent,
            "note": printable(note) if note else None,
        }
        line = json.dumps(entry, sort_keys=True, ensure_ascii=True)
        with self._lock:
            if self._handle.closed:
                return
            self._handle.write(line + "\n")
            self._handle.flush()
            if self._console is not None:
                parts = [entry["client"], entry["method"] or "-", entry["path"] or "-", str(status or "-")]
                self._console.put(" ".join(parts) + (f" {entry['note']}" if entry["note"] else ""))


class LibraryLogBridge(logging.Handler):
    """Routes the server library's log records to the access logs of the running servers.

    Tornado answers a malformed request itself (400, or closes the connection when the headers exceed the
    limit) and says so only through its loggers; those records become serve.log lines, escaped, without
    tracebacks.
    """

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.logs: list[AccessLog] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            message = str(record.msg)
        client = "-"
        if message.startswith("Malformed HTTP message from "):
            # tornado: "Malformed HTTP message from <address>: <reason>", then it writes a 400.
            client, _, message = message.removeprefix("Malformed HTTP message from ").partition(": ")
            status: int | None = 400
            message = f"malformed request: {message}"
        else:
            status = None
            if record.exc_info and record.exc_info[1] is not None:
                exc = record.exc_info[1]
                message = f"{message}: {type(exc).__name__}: {exc}"
        if record.levelno < logging.INFO and status is None:
            return
        message = without_tokens(message)  # a header or request line the library quotes may hold a token
        for log in list(self.logs):
            log.request(client=client, method=None, path=None, status=status, note=message)


BRIDGE = LibraryLogBridge()


def attach(log: AccessLog) -> None:
    """Send the library's records to `log` (and nowhere else: not to stderr)."""
    for name in LIBRARY_LOGGERS:
        logger = logging.getLogger(name)
        if BRIDGE not in logger.handlers:
            logger.addHandler(BRIDGE)
        logger.propagate = False
        logger.setLevel(logging.INFO)
    BRIDGE.logs.append(log)


def detach(log: AccessLog) -> None:
    if log in BRIDGE.logs:
        BRIDGE.logs.remove(log)
