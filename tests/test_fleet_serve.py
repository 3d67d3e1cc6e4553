"""`ksbuild serve`: kickstarts over HTTP on 127.0.0.1, nothing outside http/, and install callbacks that switch a
host to local boot, including the callback %post itself run for real in a throwaway root."""

from __future__ import annotations

import http.client
import json
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from builder.fleet import pxe
from builder.fleet.render import render_fleet
from builder.fleet.serve import FleetServer
from builder.validate.kickstart import ScriptSection, parse_kickstart
from tests.sandbox import console, make_root, run_post_scripts

DATA = Path(__file__).parent / "data" / "fleet"


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
    with FleetServer(folder, port=port) as running:
        yield running


def request(server: FleetServer, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes, str]:
    port = int(server.url.rsplit(":", 1)[1])
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(method, path, body=body)  # the path goes out as written: no client-side cleanup
        response = connection.getresponse()
        return response.status, response.read(), response.getheader("Content-Type") or ""
    finally:
        connection.close()


def log_entries(folder: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (folder / pxe.SERVE_LOG_NAME).read_text().splitlines()]


def test_a_kickstart_is_served_as_rendered(server: FleetServer) -> None:
    status, body, content_type = request(server, "GET", "/ks/kvm01.lab.local.cfg")
    assert status == 200
    assert body == (server.tree / "http/ks/kvm01.lab.local.cfg").read_bytes()
    assert content_type.startswith("text/plain")
    status, body, _ = request(server, "HEAD", "/ipxe/boot.ipxe")
    assert (status, body) == (200, b"")
    assert log_entries(server.tree)[0]["path"] == "/ks/kvm01.lab.local.cfg"


@pytest.mark.parametrize(
    "path",
    ["/../manifest.json", "/%2e%2e/manifest.json", "/ks/../../state.json", "/ks", "/ks/", "/", "/nothere.cfg",
     "/ks/.kvm01.lab.local.cfg.tmp", "/%2fetc%2fpasswd"],
)
def test_nothing_outside_http_and_no_folder_listing_is_served(server: FleetServer, path: str) -> None:
    status, _, _ = request(server, "GET", path)
    assert status == 404


def test_only_callbacks_take_post(server: FleetServer) -> None:
    assert request(server, "POST", "/ks/kvm01.lab.local.cfg", b"x")[0] == 405
    assert request(server, "POST", "/callback/kvm01.lab.local", b"x" * 70_000)[0] == 413


def test_a_callback_switches_the_host_to_local_boot_and_is_recorded(server: FleetServer) -> None:
    status, body, _ = request(server, "POST", "/callback/kvm02.lab.local", b"status=installed")
    assert status == 200
    assert body == b"ok: kvm02.lab.local installed; PXE entries now boot the local disk\n"
    state = pxe.read_state(server.tree)
    assert state["kvm02.lab.local"]["status"] == "installed"
    assert state["kvm02.lab.local"]["by"] == "callback from 127.0.0.1"
    for mac in ("52-54-00-aa-00-02", "52-54-00-aa-01-02"):
        assert "LOCALBOOT 0" in (server.tree / f"tftp/pxelinux.cfg/01-{mac}").read_text()
        assert request(server, "GET", f"/ipxe/{mac}.ipxe")[1].endswith(b"\nexit\n")
    # A GET works too (some firmwares and scripts can only GET).
    assert request(server, "GET", "/callback/kvm01.lab.local")[0] == 200
    assert pxe.read_state(server.tree)["kvm01.lab.local"]["status"] == "installed"
    assert [(e["method"], e["path"], e["status"]) for e in log_entries(server.tree)] == [
        ("POST", "/callback/kvm02.lab.local", 200),
        ("GET", "/ipxe/52-54-00-aa-00-02.ipxe", 200),
        ("GET", "/ipxe/52-54-00-aa-01-02.ipxe", 200),
        ("GET", "/callback/kvm01.lab.local", 200),
    ]


def test_a_callback_for_an_unknown_host_changes_nothing(server: FleetServer) -> None:
    before = (server.tree / "tftp/pxelinux.cfg/01-52-54-00-aa-00-01").read_bytes()
    assert request(server, "POST", "/callback/intruder.lab.local", b"")[0] == 404
    assert request(server, "POST", "/callback/..%2f..%2fetc", b"")[0] == 404
    assert pxe.read_state(server.tree) == {}
    assert (server.tree / "tftp/pxelinux.cfg/01-52-54-00-aa-00-01").read_bytes() == before


def test_serving_a_folder_that_is_not_a_fleet_tree_is_refused(tmp_path: Path) -> None:
    from builder.errors import BadInput

    with pytest.raises(BadInput, match="not a fleet tree"):
        FleetServer(tmp_path, port=0)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_the_serve_command_runs_until_it_is_told_to_stop(tree: tuple[Path, int], signum: int) -> None:
    folder, _ = tree
    process = subprocess.Popen(
        [sys.executable, "-m", "builder", "serve", str(folder), "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        url = first.split(" on ", 1)[1].split(";", 1)[0]
        port = int(url.rsplit(":", 1)[1])
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("GET", "/ks/kvm03.lab.local.cfg")
        assert connection.getresponse().status == 200
        connection.close()
        process.send_signal(signum)
        out, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, err
    assert "127.0.0.1 GET /ks/kvm03.lab.local.cfg 200" in out
    assert out.rstrip().endswith("stopped")


def callback_script(folder: Path, hostname: str) -> tuple[ScriptSection, ...]:
    parsed = parse_kickstart((folder / f"http/ks/{hostname}.cfg").read_text(), hostname)
    return tuple(s for s in parsed.scripts if "# ksbuild post script: callback" in s.body)


def test_the_kickstarts_callback_reports_the_install_from_the_installed_system(
    tmp_path: Path, server: FleetServer
) -> None:
    # The real %post, chrooted into a root with busybox (its wget, as the test installer's target has).
    root = make_root(tmp_path / "root")
    with console(root) as lines:
        (run,) = run_post_scripts(root, callback_script(server.tree, "kvm03.lab.local"))
    assert run.returncode == 0, run.log
    port = server.url.rsplit(":", 1)[1]
    assert lines == [f"KSBUILD-CALLBACK: reported http://127.0.0.1:{port}/callback/kvm03.lab.local"]
    assert pxe.read_state(server.tree)["kvm03.lab.local"]["status"] == "installed"
    assert "chainloader" in (server.tree / "tftp/grub2/grub.cfg-01-52-54-00-aa-00-03").read_text()


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
