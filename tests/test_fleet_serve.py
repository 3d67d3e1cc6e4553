"""`ksbuild serve` on 127.0.0.1: each kickstart to its own host's token for one install, POST-only reports
(installed switches to local boot, failed does not), nothing outside http/, and hostile clients (slowloris,
malformed requests, escape codes, broken pipes) that get cut off or a 400, never a traceback. The callback
%post itself runs for real in a throwaway root."""

from __future__ import annotations

import http.client
import json
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from builder.errors import BadInput
from builder.fleet import pxe, state
from builder.fleet.render import render_fleet
from builder.fleet.serve import FleetServer
from builder.validate.kickstart import ScriptSection, parse_kickstart
from tests.helpers import fleet_kickstart, fleet_token
from tests.sandbox import console, make_root, run_post_scripts

DATA = Path(__file__).parent / "data" / "fleet"
SHORT_TIMEOUT_S = 1.5


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def tree(tmp_path: Path) -> tuple[Path, int]:
    """The example fleet rendered for a `ksbuild serve` on 127.0.0.1:<port>, and that port."""
    port = free_port()
    shutil.copytree(DATA / "profiles", tmp_path / "profiles")
    text = (DATA / "lab.yaml").read_text().replace("http://192.168.80.1:8080", f"http://127.0.0.1:{port}")
    (tmp_path / "lab.yaml").write_text(text)
    render_fleet(tmp_path / "lab.yaml", tmp_path / "out")
    return tmp_path / "out", port


@pytest.fixture
def server(tree: tuple[Path, int]) -> Iterator[FleetServer]:
    folder, port = tree
    with FleetServer(folder, port=port, client_timeout=SHORT_TIMEOUT_S) as running:
        yield running


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def request(
    server: FleetServer | str, method: str, path: str, body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, bytes, http.client.HTTPResponse]:
    url = server if isinstance(server, str) else server.url
    connection = http.client.HTTPConnection("127.0.0.1", port_of(url), timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers or {})  # the path goes out as written
        response = connection.getresponse()
        return response.status, response.read(), response
    finally:
        connection.close()


def ks_path(folder: Path, hostname: str) -> str:
    return f"/ks/{hostname}/{fleet_token(folder, hostname)}.cfg"


def callback_path(folder: Path, hostname: str) -> str:
    return f"/callback/{hostname}/{fleet_token(folder, hostname)}"


def log_entries(folder: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (folder / pxe.SERVE_LOG_NAME).read_text().splitlines()]


def raw_exchange(url: str, data: bytes) -> bytes:
    """Send raw bytes, read until the server closes (what a hand-made or hostile client sees)."""
    with socket.create_connection(("127.0.0.1", port_of(url)), timeout=10) as sock:
        sock.sendall(data)
        received = b""
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except ConnectionResetError:
            pass  # the server closed with bytes of ours unread: what it sent before is what counts
        return received


# -- kickstarts: the host's own token, one install --------------------------------------------------------


def test_a_kickstart_is_served_with_its_hosts_token(server: FleetServer) -> None:
    status, body, response = request(server, "GET", ks_path(server.tree, "kvm01.lab.local"))
    assert status == 200
    assert body == fleet_kickstart(server.tree, "kvm01.lab.local").read_bytes()
    assert (response.getheader("Content-Type") or "").startswith("text/plain")
    status, body, response = request(server, "HEAD", ks_path(server.tree, "kvm01.lab.local"))
    assert (status, body) == (200, b"")
    assert response.getheader("Content-Length") == str(len(fleet_kickstart(server.tree, "kvm01.lab.local")
                                                           .read_bytes()))
    (entry, _) = log_entries(server.tree)
    # The log says whose kickstart went out; the token itself is never written there.
    assert entry["path"] == "/ks/kvm01.lab.local/<token>.cfg" and entry["status"] == 200
    assert fleet_token(server.tree, "kvm01.lab.local") not in (server.tree / pxe.SERVE_LOG_NAME).read_text()


def test_a_wrong_or_missing_token_is_404_and_logged(server: FleetServer) -> None:
    folder = server.tree
    other = fleet_token(folder, "kvm02.lab.local")
    paths = {
        f"/ks/kvm01.lab.local/{other}.cfg": "kvm01.lab.local: wrong token",
        f"/ks/kvm01.lab.local/{'A' * 32}.cfg": "kvm01.lab.local: wrong token",
        "/ks/kvm01.lab.local/x.cfg": "kvm01.lab.local: wrong token",
        "/ks/kvm01.lab.local.cfg": "a kickstart is /ks/<hostname>/<token>.cfg",
        "/ks/kvm01.lab.local/": "a kickstart is /ks/<hostname>/<token>.cfg",
        f"/ks/kvm09.lab.local/{other}.cfg": "no such host",
    }
    for path in paths:
        status, body, _ = request(server, "GET", path)
        assert (status, body) == (404, b"not found\n"), path
    assert [(entry["status"], entry["note"]) for entry in log_entries(folder)] == [(404, n) for n in paths.values()]


@pytest.mark.parametrize(
    "path",
    ["/../manifest.json", "/%2e%2e/manifest.json", "/ks/../../state.json", "/ks", "/ks/", "/", "/nothere.cfg",
     "/%2fetc%2fpasswd", "/ipxe/", "/ipxe/..%2f..%2fstate.json", "/.state.lock", "/ipxe/.hidden",
     "/ks/kvm01.lab.local/..%2f..%2f..%2fstate.json"],
)
def test_nothing_outside_http_and_no_folder_listing_is_served(server: FleetServer, path: str) -> None:
    status, _, _ = request(server, "GET", path)
    assert status == 404


def test_a_kickstart_is_not_served_by_its_file_name_alone(server: FleetServer) -> None:
    # The token route is the only way in: a kickstart's name under ks/ without the route is still 404.
    token = fleet_token(server.tree, "kvm01.lab.local")
    assert request(server, "GET", f"/ks/kvm01.lab.local/{token}.cfg/")[0] == 404
    assert request(server, "GET", f"/ks//kvm01.lab.local/{token}.cfg")[0] == 404


# -- reports -----------------------------------------------------------------------------------------------


def test_reports_are_post_only(server: FleetServer) -> None:
    for method in ("GET", "HEAD"):
        status, _, response = request(server, method, callback_path(server.tree, "kvm01.lab.local"))
        assert (status, response.getheader("Allow")) == (405, "POST")
    assert request(server, "POST", ks_path(server.tree, "kvm01.lab.local"), b"status=installed")[0] == 405
    assert request(server, "PUT", callback_path(server.tree, "kvm01.lab.local"), b"status=installed")[0] == 405
    assert request(server, "POST", callback_path(server.tree, "kvm01.lab.local"), b"done")[0] == 400
    assert state.read(server.tree)["kvm01.lab.local"].status == "pending"


def test_an_installed_report_switches_the_host_to_local_boot_and_ends_its_token(server: FleetServer) -> None:
    folder = server.tree
    kickstart, callback = ks_path(folder, "kvm02.lab.local"), callback_path(folder, "kvm02.lab.local")
    status, body, _ = request(server, "POST", callback, b"status=installed",
                              {"Content-Type": "application/x-www-form-urlencoded"})
    assert (status, body) == (200, b"ok: kvm02.lab.local installed; PXE entries now boot the local disk\n")
    reported = state.read(folder)["kvm02.lab.local"]
    assert (reported.status, reported.reported_from) == ("installed", "127.0.0.1")
    for mac in ("52-54-00-aa-00-02", "52-54-00-aa-01-02"):
        assert "LOCALBOOT 0" in (folder / f"tftp/pxelinux.cfg/01-{mac}").read_text()
        assert request(server, "GET", f"/ipxe/{mac}.ipxe")[1].endswith(b"\nexit\n")
    # One install per token: the kickstart and a second report are refused now.
    assert request(server, "GET", kickstart)[0] == 404
    assert request(server, "POST", callback, b"status=failed")[0] == 404
    assert state.read(folder)["kvm02.lab.local"].status == "installed"
    notes = [entry["note"] for entry in log_entries(folder)]
    assert notes[-2:] == ["kvm02.lab.local: token already used (host reported installed)"] * 2


def test_a_failed_report_keeps_the_install_entries_and_shows_in_the_state(server: FleetServer) -> None:
    folder = server.tree
    before = (folder / "tftp/pxelinux.cfg/01-52-54-00-aa-00-01").read_bytes()
    status, body, _ = request(server, "POST", callback_path(folder, "kvm01.lab.local"), b"status=failed")
    assert (status, body) == (200, b"ok: kvm01.lab.local failed; PXE entries unchanged\n")
    assert (folder / "tftp/pxelinux.cfg/01-52-54-00-aa-00-01").read_bytes() == before
    assert b"inst.ks=" in before
    assert state.read(folder)["kvm01.lab.local"].status == "failed"
    assert request(server, "GET", ks_path(folder, "kvm01.lab.local"))[0] == 404


def test_a_report_for_an_unknown_host_or_with_another_hosts_token_changes_nothing(server: FleetServer) -> None:
    folder = server.tree
    other = fleet_token(folder, "kvm02.lab.local")
    before = (folder / "state.json").read_bytes()
    assert request(server, "POST", f"/callback/kvm01.lab.local/{other}", b"status=installed")[0] == 404
    assert request(server, "POST", f"/callback/intruder.lab.local/{other}", b"status=installed")[0] == 404
    assert request(server, "POST", f"/callback/..%2f..%2fetc/{other}", b"status=installed")[0] == 404
    assert request(server, "POST", "/callback/kvm01.lab.local", b"status=installed")[0] == 405
    assert (folder / "state.json").read_bytes() == before


def test_reinstall_makes_the_old_urls_404_and_the_new_ones_work(server: FleetServer) -> None:
    from builder.fleet.tree import reinstall

    folder = server.tree
    old = ks_path(folder, "kvm03.lab.local")
    assert request(server, "POST", callback_path(folder, "kvm03.lab.local"), b"status=installed")[0] == 200
    reinstall(folder, "kvm03.lab.local")
    assert request(server, "GET", old)[0] == 404
    assert request(server, "GET", ks_path(folder, "kvm03.lab.local"))[0] == 200


def test_a_render_while_serving_is_served_at_once(server: FleetServer) -> None:
    folder = server.tree
    inventory = folder.parent / "lab.yaml"
    gone = ks_path(folder, "kvm03.lab.local")
    assert request(server, "POST", callback_path(folder, "kvm01.lab.local"), b"status=failed")[0] == 200
    # kvm03 leaves the inventory, kvm04 joins it (taking kvm03's MAC and address).
    text = inventory.read_text().replace("kvm03.lab.local", "kvm04.lab.local")
    inventory.write_text(text)
    render_fleet(inventory, folder)
    assert request(server, "GET", gone)[0] == 404
    assert request(server, "GET", ks_path(folder, "kvm04.lab.local"))[0] == 200
    assert request(server, "POST", callback_path(folder, "kvm04.lab.local"), b"status=installed")[0] == 200
    assert request(server, "GET", ks_path(folder, "kvm01.lab.local"))[0] == 404  # its report still counts


# -- the host's own address -------------------------------------------------------------------------------


def test_require_host_ip_answers_only_the_hosts_own_address(tree: tuple[Path, int]) -> None:
    folder, _ = tree
    forwarded = {"X-Forwarded-For": "192.168.80.41"}  # kvm01's address in the inventory
    with FleetServer(folder, port=0, require_host_ip=True) as strict:
        assert request(strict, "GET", ks_path(folder, "kvm01.lab.local"))[0] == 404
        # A client's own X-Forwarded-For counts for nothing unless it comes from a trusted proxy.
        assert request(strict, "GET", ks_path(folder, "kvm01.lab.local"), headers=forwarded)[0] == 404
        assert request(strict, "GET", "/ipxe/52-54-00-aa-00-01.ipxe", headers=forwarded)[0] == 404
        assert request(strict, "GET", "/ipxe/boot.ipxe")[0] == 200  # not a host's own file
    assert log_entries(folder)[0]["note"] == ("kvm01.lab.local: request from 127.0.0.1, not from the host's "
                                              "address 192.168.80.41")
    with FleetServer(folder, port=0, require_host_ip=True, trusted_proxies=["127.0.0.1"]) as proxied:
        assert request(proxied, "GET", ks_path(folder, "kvm01.lab.local"), headers=forwarded)[0] == 200
        assert request(proxied, "GET", "/ipxe/52-54-00-aa-00-01.ipxe", headers=forwarded)[0] == 200
        assert request(proxied, "GET", ks_path(folder, "kvm02.lab.local"), headers=forwarded)[0] == 404
        status, _, _ = request(proxied, "POST", callback_path(folder, "kvm01.lab.local"), b"status=installed",
                               headers=forwarded)
        assert status == 200
    assert state.read(folder)["kvm01.lab.local"].reported_from == "192.168.80.41"


def test_require_host_ip_needs_an_address_for_every_host(tmp_path: Path) -> None:
    shutil.copytree(DATA / "profiles", tmp_path / "profiles")
    text = (DATA / "lab.yaml").read_text()
    text = text.replace("    set:\n      network.bridges[0].ipv4.address: 192.168.80.42/24\n",
                        "    set:\n      network.bridges[0].ipv4: {dhcp: true}\n")
    (tmp_path / "lab.yaml").write_text(text)
    render_fleet(tmp_path / "lab.yaml", tmp_path / "out")
    with pytest.raises(BadInput, match=r"--require-host-ip: no fixed install address in the inventory for "
                                       r"kvm02\.lab\.local"):
        FleetServer(tmp_path / "out", port=0, require_host_ip=True)


def test_serving_a_folder_that_is_not_a_fleet_tree_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="not a fleet tree"):
        FleetServer(tmp_path, port=0)


# -- hostile clients, against the `ksbuild serve` command (its console is what an operator sees) -----------


@dataclass
class Served:
    url: str
    process: subprocess.Popen[str]
    folder: Path

    def stop(self) -> str:
        """Stop the server; everything it printed (stdout and stderr)."""
        self.process.send_signal(signal.SIGTERM)
        out, _ = self.process.communicate(timeout=30)
        return out


@pytest.fixture
def served(tree: tuple[Path, int]) -> Iterator[Served]:
    folder, _ = tree
    process = subprocess.Popen(
        [sys.executable, "-m", "builder", "serve", str(folder), "--port", "0", "--client-timeout",
         str(SHORT_TIMEOUT_S)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        yield Served(first.split(" on ", 1)[1].split(";", 1)[0], process, folder)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def closed_by_server(url: str, prefix: bytes, drip: bytes, *, give_up_after: int = 200) -> bool:
    """Send `prefix`, then `drip` one byte every 0.1 s (or nothing, for an empty drip): True when the server
    hangs up within `give_up_after` such steps."""
    with socket.create_connection(("127.0.0.1", port_of(url)), timeout=10) as sock:
        sock.sendall(prefix)
        sock.settimeout(0.1)
        for index in range(give_up_after):
            try:
                if drip:
                    sock.sendall(drip[index % len(drip):index % len(drip) + 1])
                if sock.recv(1024) == b"":
                    return True
            except TimeoutError:
                continue
            except (ConnectionResetError, BrokenPipeError):
                return True
        return False


def test_slow_and_idle_clients_are_cut_off_while_others_are_served(served: Served) -> None:
    # 200 drips of 0.1 s outlast the client timeout (1.5 s) many times over.
    slowloris = closed_by_server(served.url, b"GET /ipxe/boot.ipxe HTTP/1.1\r\nHost: x\r\n", b"X-Pad: aaaa\r\n")
    slow_body = closed_by_server(served.url, b"POST /callback/a/b HTTP/1.1\r\nHost: x\r\nContent-Length: 3000\r\n"
                                 b"\r\n", b"s")
    idle = closed_by_server(served.url, b"", b"")  # sends nothing at all
    assert (slowloris, slow_body, idle) == (True, True, True)
    assert request(served.url, "GET", "/ipxe/boot.ipxe")[0] == 200
    assert "Traceback" not in served.stop()


def test_malformed_requests_get_a_400_and_a_log_line_never_a_traceback(served: Served) -> None:
    malformed = {
        "content_length_abc": b"POST /callback/kvm01.lab.local/x HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
        "nul_in_path": b"GET /ks/%00/x.cfg HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        "not_utf8_path": b"GET /ipxe/%ff%fe HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        "garbage": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
        # Refused on its headers, before a byte of the body is read.
        "body_too_large": b"POST /callback/a/b HTTP/1.1\r\nHost: x\r\nContent-Length: 70000\r\n\r\n",
    }
    for name, data in malformed.items():
        assert raw_exchange(served.url, data).startswith(b"HTTP/1.1 400 "), name
    # Headers beyond the limit: the connection is closed without reading them.
    assert not raw_exchange(served.url, b"GET / HTTP/1.1\r\nX: " + b"a" * 20000 + b"\r\n\r\n").startswith(b"HTTP/1.1 2")
    console_text = served.stop()
    assert "Traceback" not in console_text
    statuses = [entry["status"] for entry in log_entries(served.folder)]
    assert statuses.count(400) == len(malformed)


def test_escape_codes_from_a_client_reach_neither_the_console_nor_the_log_raw(served: Served) -> None:
    title = b"\x1b]2;PWNED\x07"
    requests = [
        b"GET /" + title + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        b"GET /ipxe/\x1b[31m\xc2\x9b\xe2\x80\xae HTTP/1.1\r\nConnection: close\r\n\r\n",
        b"GET /ipxe/%1b]2;PWNED%07 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        b"GET /ipxe/boot.ipxe HTTP/1.1\r\nHost: x\r\nX-Note: " + title + b"\xc2\x9b\r\n" + title + b"\r\n\r\n",
    ]
    for data in requests:
        assert raw_exchange(served.url, data).startswith(b"HTTP/1.1 400 ")
    console_text = served.stop()
    log_text = (served.folder / pxe.SERVE_LOG_NAME).read_text()
    for text in (console_text, log_text):
        assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202e]", text), text
    assert [entry["status"] for entry in log_entries(served.folder)] == [400, 400, 400, 400]
    assert "GET /ipxe/%1b]2;PWNED%07 400 control character in path" in console_text


def test_a_report_with_too_many_form_fields_is_400_and_its_token_is_logged_nowhere(served: Served) -> None:
    token = fleet_token(served.folder, "kvm01.lab.local")
    body = b"status=installed&" + b"&".join(b"f%d=x" % index for index in range(8))  # nine fields
    status, _, _ = request(served.url, "POST", callback_path(served.folder, "kvm01.lab.local"), body)
    assert status == 400
    console_text = served.stop()
    log_text = (served.folder / pxe.SERVE_LOG_NAME).read_text()
    assert token not in console_text and token not in log_text
    assert "Traceback" not in console_text
    assert state.read(served.folder)["kvm01.lab.local"].status == "pending"
    assert [(entry["path"], entry["status"]) for entry in log_entries(served.folder)] == [
        ("/callback/kvm01.lab.local/<token>", 400)]


def test_an_unexpected_error_in_a_report_logs_no_token(
    server: FleetServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = fleet_token(server.tree, "kvm01.lab.local")

    def failing(tree: Path, hostname: str, given: str, *_: object) -> None:  # an error we did not foresee
        raise OSError(f"cannot open {tree}/http/ks/{hostname}/{given}.cfg")

    monkeypatch.setattr(state, "record_report", failing)
    status, body, _ = request(server, "POST", callback_path(server.tree, "kvm01.lab.local"), b"status=installed")
    assert (status, body) == (500, b"500 Internal Server Error\n")
    log_text = (server.tree / pxe.SERVE_LOG_NAME).read_text()
    assert token not in log_text
    (entry,) = log_entries(server.tree)
    assert (entry["path"], entry["status"]) == ("/callback/kvm01.lab.local/<token>", 500)
    assert str(entry["note"]).startswith("internal error: OSError: cannot open ")


def test_a_token_in_a_percent_encoded_route_is_logged_redacted(server: FleetServer) -> None:
    folder = server.tree
    kickstart_token, callback_token = (fleet_token(folder, name) for name in ("kvm01.lab.local", "kvm02.lab.local"))
    # %6b is "k", %63 is "c": the server decodes the path, so these are the kickstart and the callback routes.
    assert request(server, "GET", f"/%6bs/kvm01.lab.local/{kickstart_token}.cfg")[0] == 200
    assert request(server, "POST", f"/%63allback/kvm02.lab.local/{callback_token}", b"status=installed")[0] == 200
    assert request(server, "GET", f"/ks/kvm01.lab.local/{kickstart_token}%2ecfg")[0] == 200
    assert request(server, "GET", f"/ks/kvm01.lab.local/{kickstart_token}.cfg/")[0] == 404
    assert request(server, "GET", f"/ks/kvm01.lab.local%2f{kickstart_token}.cfg")[0] == 404
    log_text = (folder / pxe.SERVE_LOG_NAME).read_text()
    assert kickstart_token not in log_text and callback_token not in log_text
    assert [entry["status"] for entry in log_entries(folder)] == [200, 200, 200, 404, 404]


def test_a_console_that_stops_reading_does_not_stop_the_server(tree: tuple[Path, int]) -> None:
    import threading

    folder, _ = tree
    release = threading.Event()
    shown: list[str] = []

    def stuck_console(line: str) -> None:  # a terminal or pipe nobody reads
        release.wait(30)
        shown.append(line)

    with FleetServer(folder, port=0, log=stuck_console) as running:
        for _ in range(20):
            assert request(running, "GET", "/ipxe/boot.ipxe")[0] == 200
        release.set()
    assert len(log_entries(folder)) == 20
    assert len(shown) == 20


def test_log_fields_are_escaped_and_cut() -> None:
    from builder.fleet.serve_log import printable

    assert printable("\x1b]2;PWNED\x07") == "\\x1b]2;PWNED\\x07"
    assert printable("a\u202eb\x9bc\\x1b") == "a\\u202eb\\x9bc\\\\x1b"  # a literal backslash stays telling
    assert printable("x" * 600) == "x" * 512 + "… (600 characters)"


def test_a_library_message_quoting_a_token_is_logged_without_it(tmp_path: Path) -> None:
    import logging

    from builder.fleet.serve_log import AccessLog, attach, detach

    token = state.new_token()
    log = AccessLog(tmp_path / "serve.log")
    attach(log)
    try:
        # What tornado says of a header it refuses, quoting the header's value.
        logging.getLogger("tornado.general").info(
            "Malformed HTTP message from %s: %s", "10.0.0.9", f"Invalid header value 'http://x/ks/h/{token}.cfg\x01'")
    finally:
        detach(log)
        log.close()
    (line,) = (tmp_path / "serve.log").read_text().splitlines()
    assert token not in line
    assert json.loads(line)["status"] == 400


def test_clients_that_hang_up_mid_reply_leave_no_traceback(served: Served) -> None:
    (served.folder / "http/big.bin").write_bytes(b"b" * (4 << 20))  # streamed in pieces
    for _ in range(100):
        with socket.create_connection(("127.0.0.1", port_of(served.url))) as sock:
            sock.sendall(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")  # RST
    time.sleep(0.5)
    assert request(served.url, "GET", "/ipxe/boot.ipxe")[0] == 200
    assert "Traceback" not in served.stop()


def test_serve_raises_the_open_files_limit_so_thousands_of_clients_fit(tree: tuple[Path, int]) -> None:
    folder, _ = tree
    import resource

    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard <= 1024:
        pytest.skip(f"the hard limit here is {hard}: nothing to raise")

    # Started with a soft limit of 1,024, as many systems start a service.
    start = ("import os, resource, sys; resource.setrlimit(resource.RLIMIT_NOFILE, (1024, int(sys.argv[1]))); "
             "os.execv(sys.executable, [sys.executable, '-m', 'builder', 'serve', sys.argv[2], '--port', '0'])")
    process = subprocess.Popen([sys.executable, "-c", start, str(hard), str(folder)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert process.stdout is not None
        assert process.stdout.readline().startswith("serving ")
        limits = Path(f"/proc/{process.pid}/limits").read_text()
        soft = int(next(line for line in limits.splitlines() if line.startswith("Max open files")).split()[3])
        assert soft >= min(4096, hard)
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_the_serve_command_runs_until_it_is_told_to_stop(served: Served, signum: int) -> None:
    assert request(served.url, "GET", ks_path(served.folder, "kvm03.lab.local"))[0] == 200
    served.process.send_signal(signum)
    out, _ = served.process.communicate(timeout=30)
    assert served.process.returncode == 0, out
    assert "127.0.0.1 GET /ks/kvm03.lab.local/<token>.cfg 200 kickstart of kvm03.lab.local" in out
    assert out.rstrip().endswith("stopped")


# -- the kickstart's own report ------------------------------------------------------------------------------


def callback_script(folder: Path, hostname: str) -> tuple[ScriptSection, ...]:
    parsed = parse_kickstart(fleet_kickstart(folder, hostname).read_text(), hostname)
    return tuple(s for s in parsed.scripts if "# ksbuild post script: callback" in s.body)


def test_the_kickstarts_callback_reports_the_install_from_the_installed_system(
    tmp_path: Path, server: FleetServer
) -> None:
    # The real %post, chrooted into a root with busybox (its wget, as the test installer's target has).
    root = make_root(tmp_path / "root")
    callback = callback_path(server.tree, "kvm03.lab.local")
    with console(root) as lines:
        (run,) = run_post_scripts(root, callback_script(server.tree, "kvm03.lab.local"))
    assert run.returncode == 0, run.log
    assert lines == [f"KSBUILD-CALLBACK: reported {server.url}{callback}"]
    assert state.read(server.tree)["kvm03.lab.local"].status == "installed"
    assert "chainloader" in (server.tree / "tftp/grub2/grub.cfg-01-52-54-00-aa-00-03").read_text()
    assert [(e["method"], e["status"]) for e in log_entries(server.tree)] == [("POST", 200)]


def test_an_undeliverable_callback_does_not_fail_the_install(tmp_path: Path, tree: tuple[Path, int]) -> None:
    folder, _ = tree  # no server listening
    root = make_root(tmp_path / "root")
    # A recording stand-in for sleep, so the five attempts do not take half a minute.
    sleep = root / "bin/sleep"
    sleep.unlink()
    sleep.write_text("#!/bin/sh\necho \"sleep $*\" >> /var/log/standins.log\n")
    sleep.chmod(0o755)
    with console(root) as lines:
        (run,) = run_post_scripts(root, callback_script(folder, "kvm01.lab.local"))
    assert run.returncode == 0, run.log
    assert len(lines) == 1 and lines[0].startswith("KSBUILD-CALLBACK: could not report to http://127.0.0.1:")
    assert run.log.count("callback attempt") == 5
    assert (root / "var/log/standins.log").read_text() == "sleep 5\n" * 5
    assert "KSBUILD-STATUS: script-failed" not in "\n".join(lines)
