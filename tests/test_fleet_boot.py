"""A real PXE install of a fleet host, and an unknown machine that must not be installed (marker `boot`).

All traffic stays on this machine's loopback. The VM is qemu's (TCG) with its iPXE ROM on qemu's user-mode
network (slirp), whose built-in DHCP and TFTP serve the rendered tree's tftp/ folder. Each test runs both
ways the generated dnsmasq snippet boots a machine: a plain PXE ROM gets `pxelinux.0` (Debian's pxelinux then
reads the per-MAC entry), an iPXE client gets `<pxe.server>/ipxe/boot.ipxe`, which chains to its per-MAC
script; slirp's `bootfile=` plays dnsmasq's `dhcp-boot` part. The kickstart and the iPXE scripts come from
`ksbuild serve` on 127.0.0.1, which the guest reaches as slirp's host address 10.0.2.2, and the install tree
from a second HTTP server on 127.0.0.1. The installer is the test installer (tests/installer), a stand-in
for anaconda.

The VM has two consoles, so that one cannot garble the other: COM1 is the machine's serial console (pxelinux's
`SERIAL 0`, the kernel's ttyS0, the test boot sector); COM2 carries the BIOS text screen, which SeaBIOS mirrors
to the port named by fw_cfg `etc/sercon-port` (iPXE, pxelinux's SAY lines, "Booting from Hard Disk"). With
`-nographic` both share COM1, and SeaBIOS's lazily flushed screen copy interleaves with pxelinux's direct
serial writes: a SAY line then arrives scrambled.

qemu is run directly, not through libvirt: libvirt's <interface type='user'> has no TFTP root or boot file
settings (only a libvirt <network> has <tftp>/<bootp>, and that needs a bridge with a private address,
which the rules here forbid); passing -netdev through <qemu:commandline> would bypass libvirt's model anyway.
"""

from __future__ import annotations

import functools
import http.server
import json
import re
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from builder.proc import find_tool, run
from tests.helpers import fleet_kickstart, run_cli
from tests.installer.build import TestInstallTree, build_test_tree

pytestmark = pytest.mark.boot

DATA = Path(__file__).parent / "data" / "fleet"
CACHE_DIR = Path(__file__).resolve().parent / ".cache" / "installer"
UNKNOWN_MAC = "52:54:00:4b:53:99"
BOOT_TIMEOUT_S = 360.0
LOCAL_DISK_MARKER = "KSBUILD-TEST-LOCAL-DISK"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@dataclass(frozen=True)
class BootPath:
    """How a machine network-boots, and the inventory host that boots that way."""

    loader: str  # "pxelinux" or "ipxe"
    hostname: str
    mac: str
    address: str

    def bootfile(self, fleet: Fleet) -> str:
        """What dnsmasq's `dhcp-boot` lines hand this kind of client."""
        return "pxelinux.0" if self.loader == "pxelinux" else f"{fleet.server}/ipxe/boot.ipxe"

    def entry(self, fleet: Fleet) -> str:
        """The host's own boot entry as `ksbuild serve` keeps it now."""
        if self.loader == "pxelinux":
            return (fleet.tree / "tftp/pxelinux.cfg" / f"01-{self.mac.replace(':', '-')}").read_text()
        return (fleet.tree / "http/ipxe" / f"{self.mac.replace(':', '-')}.ipxe").read_text()


PATHS = [
    BootPath("pxelinux", "pxe-a.ksbuild.test", "52:54:00:4b:53:01", "10.0.2.15"),
    BootPath("ipxe", "pxe-b.ksbuild.test", "52:54:00:4b:53:02", "10.0.2.16"),
]
LOADERS = [path.loader for path in PATHS]


@dataclass
class Fleet:
    work: Path
    tree: Path
    server: str  # pxe.server, as the guest reaches `ksbuild serve`
    serve: subprocess.Popen[str]

    def log(self) -> list[dict[str, object]]:
        path = self.tree / "serve.log"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    def requests(self, since: int = 0) -> list[tuple[object, object, object]]:
        return [(entry["method"], entry["path"], entry["status"]) for entry in self.log()[since:]]


@pytest.fixture(scope="module")
def install_tree() -> TestInstallTree:
    return build_test_tree(CACHE_DIR)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory, install_tree: TestInstallTree) -> Iterator[Fleet]:
    """The inventory (a host per boot path) rendered with the test tree's kernel and initrd, served by
    `ksbuild serve`."""
    work = tmp_path_factory.mktemp("pxe")
    shutil.copytree(DATA / "profiles", work / "profiles")
    serve_port, tree_port = free_port(), free_port()
    (work / "lab.yaml").write_text(f"""\
pxe:
  server: http://10.0.2.2:{serve_port}
  repo: http://10.0.2.2:{tree_port}
  kernel_args: ["console=ttyS0,115200n8"]
  serial: true
dhcp: {{subnet: 10.0.2.0/24, gateway: 10.0.2.2}}
defaults: {{profile: profiles/pxe-host.yaml}}
hosts:
""" + "".join(f"""\
  - hostname: {path.hostname}
    macs: ["{path.mac}"]
    boot_interface: eth0
    set:
      network.interfaces[0].ipv4.address: {path.address}/24
""" for path in PATHS))
    rendered = run_cli("fleet", "render", "lab.yaml", "-o", "out", "--boot-files", str(install_tree.root), cwd=work)
    assert rendered.returncode == 0, rendered.stderr
    tree = work / "out"

    handler = functools.partial(_QuietHandler, directory=str(install_tree.root))
    repo = http.server.ThreadingHTTPServer(("127.0.0.1", tree_port), handler)
    threading.Thread(target=repo.serve_forever, daemon=True).start()
    serve = subprocess.Popen([sys.executable, "-m", "builder", "serve", str(tree), "--port", str(serve_port)],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert serve.stdout is not None
    assert serve.stdout.readline().startswith("serving ")
    try:
        yield Fleet(work, tree, f"http://10.0.2.2:{serve_port}", serve)
    finally:
        serve.terminate()
        serve.wait(timeout=20)
        repo.shutdown()
        repo.server_close()


@dataclass
class Consoles:
    serial: str
    """COM1: what a serial console on the machine shows."""
    screen: str
    """COM2: the BIOS text screen (SeaBIOS, iPXE, pxelinux's SAY lines)."""

    def __str__(self) -> str:
        return f"--- serial (COM1):\n{self.serial[-3000:]}\n--- screen (COM2):\n{self.screen[-3000:]}"


def _readable(screen: str) -> str:
    """The screen copy without the spinner's backspaces and the terminal escape sequences."""
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]|\x1bc|.\x08", "", screen)


def boot(fleet: Fleet, bootfile: str, mac: str, disk: Path, disk_format: str,
         done: Callable[[Consoles], bool]) -> Consoles:
    """Network-boot a VM with `mac` and `disk`, DHCP handing it `bootfile`, until `done(consoles)` (or a
    timeout)."""
    serial, screen = disk.with_suffix(".serial"), disk.with_suffix(".screen")
    sercon_port = disk.with_suffix(".sercon-port")
    sercon_port.write_bytes(struct.pack("<H", 0x2F8))  # COM2
    argv = [
        find_tool("qemu-system-x86_64"), "-accel", "tcg", "-m", "1024", "-display", "none", "-monitor", "none",
        "-serial", f"file:{serial}", "-serial", f"file:{screen}",
        "-fw_cfg", f"name=etc/sercon-port,file={sercon_port}", "-boot", "order=nc",
        "-netdev", f"user,id=n0,tftp={fleet.tree / 'tftp'},bootfile={bootfile}",
        "-device", f"virtio-net-pci,netdev=n0,mac={mac}",
        "-drive", f"file={disk},if=virtio,format={disk_format}",
    ]
    vm = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + BOOT_TIMEOUT_S
    try:
        while True:
            running = vm.poll() is None
            consoles = Consoles(*(_readable(path.read_text(errors="replace")) if path.exists() else ""
                                  for path in (serial, screen)))
            if done(consoles):
                return consoles
            if not running or time.monotonic() > deadline:
                stderr = vm.stderr.read() if not running and vm.stderr else ""
                pytest.fail(f"the VM did not get there in {BOOT_TIMEOUT_S:.0f} s {stderr}\n{consoles}")
            time.sleep(1)
    finally:
        vm.kill()
        vm.wait()


def read_from_disk(disk: Path, path: str) -> str:
    """A file of the installed system: the qcow2 as raw, then debugfs at the first partition's offset."""
    raw = disk.with_suffix(".raw")
    run([find_tool("qemu-img"), "convert", "-O", "raw", str(disk), str(raw)])
    with raw.open("rb") as handle:
        mbr = handle.read(512)
    (start_sector,) = struct.unpack_from("<I", mbr, 446 + 8)
    result = run([find_tool("debugfs"), "-R", f"cat {path}", f"{raw}?offset={start_sector * 512}"])
    return result.stdout


@pytest.mark.parametrize("path", PATHS, ids=LOADERS)
def test_a_host_in_the_inventory_installs_once_from_its_own_kickstart(
    fleet: Fleet, path: BootPath, tmp_path: Path
) -> None:
    disk = tmp_path / "host.qcow2"
    run([find_tool("qemu-img"), "create", "-f", "qcow2", str(disk), "4G"])
    local_line = f"ksbuild: {path.hostname} is installed; booting from local disk"

    def installed_and_rebooted_to_disk(consoles: Consoles) -> bool:
        after = consoles.screen.split(local_line, 1)
        return len(after) == 2 and "Booting from Hard Disk" in after[1]

    requests_before = len(fleet.log())
    consoles = boot(fleet, path.bootfile(fleet), path.mac, disk, "qcow2", installed_and_rebooted_to_disk)

    # Network boot into the installer, install, report, reboot: the host's entry now boots the local disk.
    assert f"ksbuild: installing {path.hostname}" in consoles.screen
    assert "KSBUILD-CALLBACK: reported http://10.0.2.2:" in consoles.serial
    entry = path.entry(fleet)
    assert "inst.ks" not in entry and ("LOCALBOOT 0" in entry if path.loader == "pxelinux" else "exit" in entry)
    state = json.loads((fleet.tree / "state.json").read_text())["hosts"][path.hostname]
    assert state["status"] == "installed"
    # Exactly one kickstart fetch and one report, each with the host's token (which the log never shows):
    # no install loop.
    ks = ("GET", f"/ks/{path.hostname}/<token>.cfg", 200)
    callback = ("POST", f"/callback/{path.hostname}/<token>", 200)
    if path.loader == "pxelinux":
        assert fleet.requests(requests_before) == [ks, callback]
    else:
        script = ("GET", f"/ipxe/{path.mac.replace(':', '-')}.ipxe", 200)
        boot_script = ("GET", "/ipxe/boot.ipxe", 200)
        assert fleet.requests(requests_before) == [boot_script, script, ks, callback, boot_script, script]
    # The installed system holds the host's own kickstart, with its name and address.
    kickstart = read_from_disk(disk, "/root/anaconda-ks.cfg")
    assert kickstart == fleet_kickstart(fleet.tree, path.hostname).read_text()
    assert f"--hostname={path.hostname}" in kickstart and f"--ip={path.address}" in kickstart
    assert read_from_disk(disk, "/etc/hostname").strip() == path.hostname


@pytest.mark.parametrize("path", PATHS, ids=LOADERS)
def test_an_unknown_machine_boots_its_local_disk_and_installs_nothing(
    fleet: Fleet, path: BootPath, tmp_path: Path
) -> None:
    disk = tmp_path / "unknown.img"
    disk.write_bytes(_boot_sector(LOCAL_DISK_MARKER) + bytes(1024 * 1024 - 512))
    before = disk.read_bytes()
    requests_before = len(fleet.log())
    consoles = boot(fleet, path.bootfile(fleet), UNKNOWN_MAC, disk, "raw",
                    lambda seen: LOCAL_DISK_MARKER in seen.serial)
    if path.loader == "pxelinux":
        # pxelinux found no entry of its own for this MAC, took `default`, and handed back to the BIOS.
        assert "ksbuild: no entry for this machine; booting from local disk" in consoles.screen
        assert "Booting from local disk..." in consoles.serial
        assert fleet.requests(requests_before) == []
    else:
        # boot.ipxe found no script for this MAC and handed back to the BIOS.
        assert f"ksbuild: no entry for {UNKNOWN_MAC}; booting from local disk" in consoles.screen
        assert fleet.requests(requests_before) == [
            ("GET", "/ipxe/boot.ipxe", 200), ("GET", f"/ipxe/{UNKNOWN_MAC.replace(':', '-')}.ipxe", 404)]
    assert "installing" not in consoles.screen + consoles.serial
    assert disk.read_bytes() == before


def test_the_boot_trees_grub_and_dnsmasq_files_pass_their_tools(fleet: Fleet) -> None:
    run([find_tool("grub-script-check"), str(fleet.tree / "tftp/grub.cfg")])
    run([find_tool("dnsmasq"), "--test", f"--conf-file={fleet.tree / 'dnsmasq.conf'}"])


def _boot_sector(message: str) -> bytes:
    """A 512-byte MBR whose code writes `message` to the first serial port and halts: proof that the BIOS
    booted this disk (real mode, loaded at 0x7c00)."""
    code = bytes([
        0xFC,              # cld
        0x31, 0xC0,        # xor ax, ax
        0x8E, 0xD8,        # mov ds, ax
        0xBE, 0x17, 0x7C,  # mov si, 0x7c17 (the message, right after this code)
        0xBA, 0xF8, 0x03,  # mov dx, 0x3f8 (COM1)
        0xAC,              # next: lodsb
        0x08, 0xC0,        # or al, al
        0x74, 0x03,        # jz done
        0xEE,              # out dx, al
        0xEB, 0xF8,        # jmp next
        0xFA,              # done: cli
        0xF4,              # hlt
        0xEB, 0xFD,        # jmp done
    ])  # fmt: skip
    assert len(code) == 0x17
    sector = code + message.encode() + b"\r\n\0"
    return sector + bytes(510 - len(sector)) + b"\x55\xaa"
