"""`ksbuild serve`: serve a rendered fleet tree's http/ folder to the hosts it installs, record their reports.

- ``GET``/``HEAD /ks/<hostname>/<token>.cfg``: the host's kickstart, while its install token is valid: the
  token is the one in the tree's state and the host has not reported yet (one install per token).
- ``POST /callback/<hostname>/<token>`` with ``status=installed`` or ``status=failed``: the host's report.
  Installed: its PXE entries switch to local boot (Cobbler's pxe_just_once). Failed: they stay as they are
  and the host shows as failed in ``ksbuild fleet status``. Either way its token stops working;
  ``ksbuild fleet reinstall HOST`` issues a new one. ``GET``/``HEAD`` are 405: a link preview or a crawler
  must not mark a host installed.
- ``GET``/``HEAD`` of any other file under ``http/`` (the iPXE scripts); never a folder listing, a dot-file,
  a kickstart by its file name, or anything outside ``http/``.
- A wrong or missing token, an unknown host, a used token: 404, with the reason in the log only.
- With `require_host_ip`, a host's kickstart, iPXE script and report are answered only to the address the
  inventory gives it (the one dnsmasq hands out); `trusted_proxies` may say who the client was
  (``X-Forwarded-For``, ``X-Real-IP``), nobody else can.

The HTTP server is tornado's (see pyproject.toml for why): a client has `client_timeout` seconds to send
all its request headers and as long again for its body (a slowloris client trickling a byte at a time is cut
off), an idle keep-alive connection is closed after the same time, headers and bodies are bounded, the
listen backlog is `BACKLOG`. Every request, and every malformed one tornado answers itself, is a line in
``serve.log`` (builder/fleet/serve_log.py).
"""

from __future__ import annotations

import asyncio
import resource
import socket
import threading
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from ipaddress import IPv4Interface, ip_address
from pathlib import Path
from typing import Any

import tornado.httpserver
import tornado.netutil
import tornado.web

from builder.errors import BadInput, shown
from builder.fleet import pxe, state
from builder.fleet.serve_log import AccessLog, Console, attach, detach, without_tokens

CLIENT_TIMEOUT_S = 10.0
BACKLOG = 2048
MAX_HEADER_BYTES = 8 * 1024  # the request line and all headers
MAX_BODY_BYTES = 4 * 1024  # a report is "status=installed"
_MAX_FORM_FIELDS = 8
_STREAM_ABOVE = 1 << 20
_CONTENT_TYPES = {".cfg": "text/plain; charset=utf-8", ".ipxe": "text/plain; charset=utf-8"}
# Open files wanted for 2,000 clients at once with room to spare (each is one descriptor).
_WANTED_OPEN_FILES = 65536


def raise_open_files_limit(wanted: int = _WANTED_OPEN_FILES) -> int:
    """Raise the soft limit on open files towards the hard limit (a soft limit of 1,024 lets about 1,000
    idle clients stop all serving); returns the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        return target
    return soft


@dataclass(frozen=True)
class _Host:
    macs: tuple[str, ...]
    address: str | None


class _FleetView:
    """The manifest's hosts and the install state, each read again when its own file changes: every report
    rewrites the state, while the manifest (megabytes for a large fleet) changes only with a render."""

    _UNREAD = (-1, -1, -1)

    def __init__(self, tree: Path) -> None:
        self.tree = tree
        self._manifest_stamp: tuple[int, int, int] | None = self._UNREAD
        self._state_stamp: tuple[int, int, int] | None = self._UNREAD
        self.hosts: dict[str, _Host] = {}
        self.by_mac: dict[str, str] = {}
        self.states: dict[str, state.HostState] = {}

    def current(self) -> _FleetView:
        stamp = _stat(self.tree / pxe.MANIFEST_NAME)
        if stamp != self._manifest_stamp:
            manifest = pxe.manifest_hosts(self.tree)
            self.hosts = {name: _host(record) for name, record in manifest.items()}
            self.by_mac = {pxe.mac_dashes(mac): name for name, host in self.hosts.items() for mac in host.macs}
            self._manifest_stamp = stamp
        stamp = _stat(self.tree / state.STATE_NAME)
        if stamp != self._state_stamp:
            self.states = state.read(self.tree)
            self._state_stamp = stamp
        return self


def _stat(path: Path) -> tuple[int, int, int] | None:
    try:
        info = path.stat()
    except FileNotFoundError:
        return None
    return info.st_ino, info.st_mtime_ns, info.st_size


def _host(record: Any) -> _Host:
    boot = record.get("boot", {}) if isinstance(record, dict) else {}
    macs = tuple(str(mac) for mac in boot.get("macs", []))
    address = boot.get("address")
    return _Host(macs, str(IPv4Interface(address).ip) if isinstance(address, str) else None)


class FleetServer:
    """An HTTP server for one fleet tree; `start()` serves from a thread, `serve_forever()` from this one."""

    def __init__(
        self, tree: Path, *, address: str = "127.0.0.1", port: int = 8080, log: Console | None = None,
        require_host_ip: bool = False, trusted_proxies: Sequence[str] = (), client_timeout: float = CLIENT_TIMEOUT_S,
    ) -> None:
        if not (tree / pxe.MANIFEST_NAME).is_file() or not (tree / "http").is_dir():
            raise BadInput(f"{tree}: not a fleet tree (no {pxe.MANIFEST_NAME} or http/); run `ksbuild fleet render`")
        self.tree = tree
        self.client_timeout = client_timeout
        self.require_host_ip = require_host_ip
        self.trusted_proxies = frozenset(_address(proxy, "--trusted-proxy") for proxy in trusted_proxies)
        self.view = _FleetView(tree)
        self.view.current()  # an unreadable state or manifest is an error now, not at the first request
        if require_host_ip:
            missing = sorted(name for name, host in self.view.hosts.items() if host.address is None)
            if missing:
                raise BadInput(f"--require-host-ip: no fixed install address in the inventory for "
                               f"{', '.join(missing[:5])}{' …' if len(missing) > 5 else ''}")
        try:
            self._sockets = tornado.netutil.bind_sockets(port, address, backlog=BACKLOG)
        except (OSError, ValueError) as exc:
            raise BadInput(f"cannot listen on {address}:{port}: {getattr(exc, 'strerror', None) or exc}") from exc
        self.access = AccessLog(tree / pxe.SERVE_LOG_NAME, log)
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()

    @property
    def url(self) -> str:
        host, port = self._sockets[0].getsockname()[:2]
        return f"http://[{host}]:{port}" if self._sockets[0].family == socket.AF_INET6 else f"http://{host}:{port}"

    def serve_forever(self) -> None:
        asyncio.run(self._serve())

    def start(self) -> None:
        self._thread = threading.Thread(target=self.serve_forever, name="ksbuild-serve", daemon=True)
        self._thread.start()
        self._ready.wait(timeout=30)

    def stop(self) -> None:
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        if self._thread is not None:
            self._thread.join(timeout=30)
        self.access.close()

    def __enter__(self) -> FleetServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        app = tornado.web.Application(
            [(r"/.*", _Handler, {"fleet": self})], log_function=_logged_by_handler, compress_response=False,
        )
        server = tornado.httpserver.HTTPServer(
            app, idle_connection_timeout=self.client_timeout, body_timeout=self.client_timeout,
            max_header_size=MAX_HEADER_BYTES, max_body_size=MAX_BODY_BYTES,
        )
        attach(self.access)
        try:
            server.add_sockets(self._sockets)
            self._ready.set()
            await self._stopping.wait()
            server.stop()
            await server.close_all_connections()
        finally:
            detach(self.access)

    def client_address(self, request: Any) -> str:
        """The peer, or for a trusted proxy the client it names (the last X-Forwarded-For entry it added)."""
        peer = str(request.remote_ip)
        if peer not in self.trusted_proxies:
            return peer
        forwarded = request.headers.get("X-Forwarded-For", "").split(",")[-1].strip()
        named = forwarded or request.headers.get("X-Real-IP", "").strip()
        try:
            return str(ip_address(named)) if named else peer
        except ValueError:
            return peer


def _address(text: str, option: str) -> str:
    try:
        return str(ip_address(text))
    except ValueError:
        raise BadInput(f"{option} {shown(text)}: not an IP address") from None


def _logged_by_handler(handler: tornado.web.RequestHandler) -> None:
    """Requests are logged by `_Handler.finish`, before the reply goes out."""


class _BadPath(Exception):
    pass


def _segments(raw_path: str) -> list[str]:
    """The path's decoded segments; _BadPath for NUL, control characters or bytes that are not UTF-8."""
    segments = []
    for raw in raw_path.split("/")[1:]:
        try:
            segment = urllib.parse.unquote_to_bytes(raw).decode("utf-8")
        except UnicodeDecodeError:
            raise _BadPath("path is not UTF-8") from None
        if any(not char.isprintable() for char in segment):
            raise _BadPath("control character in path")
        segments.append(segment)
    return segments


class _Handler(tornado.web.RequestHandler):
    fleet: FleetServer
    note: str | None
    sent: int

    def initialize(self, fleet: FleetServer) -> None:
        self.fleet = fleet
        self.note = None
        self.sent = 0

    def finish(self, chunk: Any = None) -> Any:
        # Recorded before the reply goes out, so whoever got the reply finds it in serve.log.
        if not self._finished:
            request = self.request
            self.fleet.access.request(
                client=self.fleet.client_address(request), method=request.method, path=request.uri,
                status=self.get_status(), sent=self.sent, note=self.note,
            )
        return super().finish(chunk)

    def set_default_headers(self) -> None:
        self.set_header("Server", "ksbuild-serve")
        self.set_header("Content-Type", "text/plain; charset=utf-8")

    def compute_etag(self) -> None:
        return None

    def log_exception(self, typ: type[BaseException] | None, value: BaseException | None, tb: Any) -> None:
        # Tornado's own line names the request by its URI (a live token) and its repr; the request's serve.log
        # line, written by `finish` with the path redacted, carries the error instead.
        if value is not None and not isinstance(value, tornado.web.HTTPError):
            self.note = without_tokens(f"internal error: {type(value).__name__}: {value}")

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        # Tornado's own error page; never a traceback (serve_traceback is off).
        self._text(status_code, f"{status_code} {self._reason}\n", self.note)

    async def get(self) -> None:
        await self._dispatch(body=True)

    async def head(self) -> None:
        await self._dispatch(body=False)

    async def post(self) -> None:
        try:
            segments = _segments(self.request.path)
        except _BadPath as exc:
            self._text(400, "bad request\n", str(exc))
            return
        if len(segments) == 3 and segments[0] == "callback":
            await self._report(segments[1], segments[2])
        else:
            self.set_header("Allow", "GET, HEAD")
            self._text(405, "only /callback/<hostname>/<token> takes POST\n")

    def _text(self, status: int, text: str, note: str | None = None) -> None:
        self.set_status(status)
        self.note = note
        self._send(text.encode(), body=self.request.method != "HEAD")

    def _send(self, data: bytes, *, body: bool) -> None:
        if body:
            self.write(data)
            self.sent = len(data)
        else:
            self.set_header("Content-Length", str(len(data)))

    def _not_found(self, note: str) -> None:
        self._text(404, "not found\n", note)

    async def _dispatch(self, *, body: bool) -> None:
        try:
            segments = _segments(self.request.path)
        except _BadPath as exc:
            self._text(400, "bad request\n", str(exc))
            return
        if segments and segments[0] == "callback":
            self.set_header("Allow", "POST")
            self._text(405, "reports are POSTed: status=installed or status=failed\n")
        elif segments and segments[0] == "ks":
            if len(segments) == 3 and segments[2].endswith(".cfg"):
                self._kickstart(segments[1], segments[2].removesuffix(".cfg"), body=body)
            else:
                self._not_found("a kickstart is /ks/<hostname>/<token>.cfg")
        else:
            await self._file(segments, body=body)

    def _authorised(self, hostname: str, token: str) -> state.HostState | None:
        """The host's state when `token` is its valid token and the request may come from this address;
        otherwise a 404 (with the reason in the log) has been sent."""
        view = self.fleet.view.current()
        current, host = view.states.get(hostname), view.hosts.get(hostname)
        if current is None or host is None:
            self._not_found("no such host")
        elif not state.is_token(token) or not state.same_token(token, current.token):
            self._not_found(f"{hostname}: wrong token")
        elif current.status != "pending":
            self._not_found(f"{hostname}: token already used (host reported {current.status})")
        elif not self._from_host(host):
            self._not_found(f"{hostname}: request from {self.fleet.client_address(self.request)}, "
                            f"not from the host's address {host.address}")
        else:
            return current
        return None

    def _from_host(self, host: _Host) -> bool:
        return not self.fleet.require_host_ip or self.fleet.client_address(self.request) == host.address

    def _kickstart(self, hostname: str, token: str, *, body: bool) -> None:
        current = self._authorised(hostname, token)
        if current is None:
            return
        try:
            data = (self.fleet.tree / pxe.kickstart_path(hostname, current.token)).read_bytes()
        except OSError as exc:
            self._not_found(f"{hostname}: cannot read the kickstart ({exc.strerror}); render again")
            return
        self.note = f"kickstart of {hostname}"
        self._send(data, body=body)

    async def _report(self, hostname: str, token: str) -> None:
        try:
            fields = urllib.parse.parse_qs(self.request.body.decode("latin-1"), max_num_fields=_MAX_FORM_FIELDS)
        except ValueError:
            self._text(400, "expected a form body status=installed or status=failed\n",
                       f"report with more than {_MAX_FORM_FIELDS} form fields")
            return
        given = fields.get("status", [""])[0]
        if given not in ("installed", "failed"):
            self._text(400, "expected a form body status=installed or status=failed\n",
                       f"report without a valid status ({shown(given)})")
            return
        status: state.ReportStatus = "installed" if given == "installed" else "failed"
        if self._authorised(hostname, token) is None:
            return
        client = self.fleet.client_address(self.request)
        try:
            refused = await asyncio.to_thread(state.record_report, self.fleet.tree, hostname, token, status, client)
        except BadInput as exc:
            self._text(500, "cannot record the report\n", exc.message)
            return
        if refused is not None:
            self._not_found(f"{hostname}: {refused}")
        elif status == "installed":
            self._text(200, f"ok: {hostname} installed; PXE entries now boot the local disk\n",
                       f"{hostname} reported installed; PXE entries now boot the local disk")
        else:
            self._text(200, f"ok: {hostname} failed; PXE entries unchanged\n",
                       f"{hostname} reported FAILED; PXE entries unchanged; `ksbuild fleet reinstall {hostname}` "
                       "installs it again")

    async def _file(self, segments: list[str], *, body: bool) -> None:
        root = (self.fleet.tree / "http").resolve()
        if not segments or any(part in ("", ".", "..") or part.startswith(".") or "/" in part or "\\" in part
                                for part in segments):
            self._not_found("no such file")
            return
        if len(segments) == 2 and segments[0] == "ipxe" and self.fleet.require_host_ip:
            view = self.fleet.view.current()
            owner = view.by_mac.get(segments[1].removesuffix(".ipxe"))
            if owner is not None and not self._from_host(view.hosts[owner]):
                self._not_found(f"{owner}: iPXE script requested from {self.fleet.client_address(self.request)}, "
                                f"not from the host's address {view.hosts[owner].address}")
                return
        target = root.joinpath(*segments).resolve()
        if not target.is_relative_to(root) or not target.is_file():
            self._not_found("no such file")
            return
        self.set_header("Content-Type", _CONTENT_TYPES.get(target.suffix, "application/octet-stream"))
        try:
            size = target.stat().st_size
            if not body:
                self.set_header("Content-Length", str(size))
            elif size <= _STREAM_ABOVE:
                self._send(target.read_bytes(), body=True)
            else:
                self.set_header("Content-Length", str(size))
                with target.open("rb") as handle:
                    while chunk := handle.read(256 * 1024):
                        self.write(chunk)
                        self.sent += len(chunk)
                        await self.flush()
        except OSError as exc:
            self.clear_header("Content-Length")
            self._text(403, "cannot read\n", exc.strerror)
