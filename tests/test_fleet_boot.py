"""A real PXE install of a fleet host, and an unknown machine that must not be installed (marker `boot`).

All traffic stays on this machine's loopback. The VM is qemu's (TCG) with its iPXE ROM on qemu's user-mode
network (slirp), whose built-in DHCP and TFTP serve the rendered tree's tftp/ folder. Each test runs both
ways the generated dnsmasq snippet boots a machine: a plain PXE ROM gets `pxelinux.0` (Debian's pxelinux then
reads the per-MAC entry), an iPXE client gets `<pxe.server>/ipxe/boot.ipxe`, which chains to its per-MAC
script; slirp's `bootfile=` plays dnsmasq's `dhcp-boot` part. The kickstart and the iPXE scripts come from
`ksbuild serve` on 127.0.0.1, which the guest reaches as slirp's host address 10.0.2.2, and the install tree
from a second HTTP server on 127.0.0.1. The installer is the test installer (tests/installer), a stand-in
for anaconda.

The third way is UEFI: a q35 machine with OVMF (Debian's ovmf) and qemu's EFI network ROM (efi-virtio.rom from
ipxe-qemu) gets `grub2/shimx64.efi`: Debian's shim, which fetches `grub2/grubx64.efi` (a GRUB image the test
builds from Debian's grub-efi-amd64-bin, without a prefix path, as CentOS 7's grubx64.efi takes its folder),
which reads `grub2/grub.cfg-01-<mac>`, else `grub2/grub.cfg`. The test installer lays out an EFI system
partition with shim and GRUB under EFI/centos, so the local-boot entry chainloads a real disk loader.

The BIOS VM has two consoles, so that one cannot garble the other: COM1 is the machine's serial console
(pxelinux's `SERIAL 0`, the kernel's ttyS0, the test boot sector); COM2 carries the BIOS text screen, which
SeaBIOS mirrors to the port named by fw_cfg `etc/sercon-port` (iPXE, pxelinux's SAY lines, "Booting from Hard
Disk"). With `-nographic` both share COM1, and SeaBIOS's lazily flushed screen copy interleaves with
pxelinux's direct serial writes: a SAY line then arrives scrambled. The UEFI VM has COM1 only: OVMF mirrors
its console (iPXE, shim, GRUB) there.

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
from tests.installer.hostfiles import efi_boot_inputs, grub_efi_image

pytestmark = pytest.mark.boot

DATA = Path(__file__).parent / "data" / "fleet"
CACHE_DIR = Path(__file__).resolve().parent / ".cache" / "installer"
UNKNOWN_MAC = "52:54:00:4b:53:99"
BOOT_TIMEOUT_S = 360.0
LOCAL_DISK_MARKER = "KSBUILD-TEST-LOCAL-DISK"
# Debian's ovmf: the 4 MiB flash layout, without Secure Boot (Debian's GRUB image here is unsigned).
OVMF_CODE = Path("/usr/share/OVMF/OVMF_CODE_4M.fd")
OVMF_VARS = Path("/usr/share/OVMF/OVMF_VARS_4M.fd")
TEST_SYSTEM_UP = "ksbuild test system: multi-user.target reached"


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

    loader: str  # "pxelinux", "ipxe" (BIOS) or "grub" (UEFI)
    hostname: str
    mac: str
    address: str
    boot_file: str | None = None  # DHCP's answer when not the dnsmasq snippet's for this loader

    @property
    def firmware(self) -> str:
        return "uefi" if self.loader == "grub" else "bios"

    def bootfile(self, fleet: Fleet) -> str:
        """What dnsmasq's `dhcp-boot` lines hand this kind of client."""
        if self.boot_file is not None:
            return self.boot_file
        return {"pxelinux": "pxelinux.0", "grub": "grub2/shimx64.efi"}.get(self.loader,
                                                                           f"{fleet.server}/ipxe/boot.ipxe")

    def entry(self, fleet: Fleet) -> str:
        """The host's own boot entry as `ksbuild serve` keeps it now."""
        dashed = self.mac.replace(":", "-")
        if self.loader == "pxelinux":
            return (fleet.tree / "tftp/pxelinux.cfg" / f"01-{dashed}").read_text()
        if self.loader == "grub":
            return (fleet.tree / "tftp/grub2" / f"grub.cfg-01-{dashed}").read_text()
        return (fleet.tree / "http/ipxe" / f"{dashed}.ipxe").read_text()


PATHS = [
    BootPath("pxelinux", "pxe-a.ksbuild.test", "52:54:00:4b:53:01", "10.0.2.15"),
    BootPath("ipxe", "pxe-b.ksbuild.test", "52:54:00:4b:53:02", "10.0.2.16"),
    BootPath("grub", "pxe-c.ksbuild.test", "52:54:00:4b:53:03", "10.0.2.17"),
]
LOADERS = [path.loader for path in PATHS]
# A UEFI host that only the GRUB-reads-grub.cfg-first test boots (it never installs).
GRUB_CFG_FIRST = BootPath("grub", "pxe-d.ksbuild.test", "52:54:00:4b:53:04", "10.0.2.18",
                          boot_file="grub2/grub-cfg-first.efi")


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
    firmware: {path.firmware}
    boot_interface: eth0
    set:
      network.interfaces[0].ipv4.address: {path.address}/24
""" for path in (*PATHS, GRUB_CFG_FIRST)))
    rendered = run_cli("fleet", "render", "lab.yaml", "-o", "out", "--boot-files", str(install_tree.root), cwd=work)
    assert rendered.returncode == 0, rendered.stderr
    tree = work / "out"
    # The UEFI loaders ksbuild leaves to the user: Debian's shim, and a GRUB image built like CentOS 7's
    # grubx64.efi (modules built in; its folder, not a built-in path, is where it looks for its entries).
    _, shim = efi_boot_inputs()
    shutil.copyfile(shim, tree / "tftp/grub2/shimx64.efi")
    (tree / "tftp/grub2/grubx64.efi").write_bytes(grub_efi_image(""))
    # The same GRUB with its per-MAC search turned off (upstream's switch), as GRUBs behave that read grub.cfg
    # first or only; DHCP hands it out directly.
    (tree / "tftp/grub2/grub-cfg-first.efi").write_bytes(
        grub_efi_image("", early_config="set feature_net_search_cfg=n\n"))

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


def _machine_argv(firmware: str, disk: Path, disk_format: str | None) -> list[str]:
    """The firmware's part of the qemu command line: consoles, boot order, the disk (None: no disk)."""
    serial, screen = disk.with_suffix(".serial"), disk.with_suffix(".screen")
    if firmware == "uefi":
        # OVMF keeps its boot order in its variable store: a fresh copy per VM, network first (bootindex).
        variables = disk.with_suffix(".vars")
        shutil.copyfile(OVMF_VARS, variables)
        argv = [
            "-machine", "q35", "-serial", f"file:{serial}",
            "-drive", f"if=pflash,format=raw,readonly=on,file={OVMF_CODE}",
            "-drive", f"if=pflash,format=raw,file={variables}",
        ]
        if disk_format is not None:
            argv += ["-drive", f"file={disk},if=none,id=disk0,format={disk_format}",
                     "-device", "virtio-blk-pci,drive=disk0,bootindex=2"]
        return argv
    sercon_port = disk.with_suffix(".sercon-port")
    sercon_port.write_bytes(struct.pack("<H", 0x2F8))  # COM2
    argv = [
        "-serial", f"file:{serial}", "-serial", f"file:{screen}",
        "-fw_cfg", f"name=etc/sercon-port,file={sercon_port}", "-boot", "order=nc",
    ]
    if disk_format is not None:
        argv += ["-drive", f"file={disk},if=virtio,format={disk_format}"]
    return argv


def boot(fleet: Fleet, path: BootPath, mac: str, disk: Path, disk_format: str | None,
         done: Callable[[Consoles], bool]) -> Consoles:
    """Network-boot a VM the way `path` boots, with `mac` and `disk` (`disk_format` None: no disk; `disk` then
    only names the console files), until `done(consoles)` (or a timeout)."""
    serial, screen = disk.with_suffix(".serial"), disk.with_suffix(".screen")
    argv = [
        find_tool("qemu-system-x86_64"), "-accel", "tcg", "-m", "1024", "-display", "none", "-monitor", "none",
        *_machine_argv(path.firmware, disk, disk_format),
        "-netdev", f"user,id=n0,tftp={fleet.tree / 'tftp'},bootfile={path.bootfile(fleet)}",
        "-device", f"virtio-net-pci,netdev=n0,mac={mac}" + (",bootindex=1" if path.firmware == "uefi" else ""),
    ]
    vm = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + BOOT_TIMEOUT_S
    try:
        while True:
            running = vm.poll() is None
            consoles = Consoles(*(_readable(console.read_text(errors="replace")) if console.exists() else ""
                                  for console in (serial, screen)))
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
    """A file of the installed system: the qcow2 as raw, then debugfs at the root partition's offset (the
    first MBR partition; on a GPT disk, the second partition, after the EFI system partition)."""
    raw = disk.with_suffix(".raw")
    run([find_tool("qemu-img"), "convert", "-O", "raw", str(disk), str(raw)])
    with raw.open("rb") as handle:
        mbr = handle.read(512)
        (start_sector,) = struct.unpack_from("<I", mbr, 446 + 8)
        if mbr[446 + 4] == 0xEE:  # protective MBR: the GPT header is in sector 1
            handle.seek(512)
            header = handle.read(92)
            (entries_lba,) = struct.unpack_from("<Q", header, 72)
            (entry_size,) = struct.unpack_from("<I", header, 84)
            handle.seek(entries_lba * 512 + entry_size)
            (start_sector,) = struct.unpack_from("<Q", handle.read(entry_size), 32)
    result = run([find_tool("debugfs"), "-R", f"cat {path}", f"{raw}?offset={start_sector * 512}"])
    return result.stdout


@pytest.mark.parametrize("path", PATHS, ids=LOADERS)
def test_a_host_in_the_inventory_installs_once_from_its_own_kickstart(
    fleet: Fleet, path: BootPath, tmp_path: Path
) -> None:
    disk = tmp_path / "host.qcow2"
    run([find_tool("qemu-img"), "create", "-f", "qcow2", str(disk), "4G"])
    local_line = f"ksbuild: {path.hostname} is installed; booting from local disk"
    # BIOS: the screen says SeaBIOS boots the disk. UEFI: GRUB chainloads the disk's shim, and the installed
    # test system comes up (all on the serial console).
    screen_or_serial, disk_booted = (
        ("serial", TEST_SYSTEM_UP) if path.firmware == "uefi" else ("screen", "Booting from Hard Disk"))

    def installed_and_rebooted_to_disk(consoles: Consoles) -> bool:
        after = getattr(consoles, screen_or_serial).split(local_line, 1)
        return len(after) == 2 and disk_booted in after[1]

    requests_before = len(fleet.log())
    consoles = boot(fleet, path, path.mac, disk, "qcow2", installed_and_rebooted_to_disk)

    # Network boot into the installer, install, report, reboot: the host's entry now boots the local disk.
    assert f"ksbuild: installing {path.hostname}" in getattr(consoles, screen_or_serial)
    assert "KSBUILD-CALLBACK: reported http://10.0.2.2:" in consoles.serial
    entry = path.entry(fleet)
    local_boot = {"pxelinux": "LOCALBOOT 0", "grub": "chainloader $loader"}.get(path.loader, "exit")
    assert "inst.ks" not in entry and local_boot in entry
    if path.loader == "grub":
        after_install = consoles.serial.split(local_line, 1)[1]
        assert "ksbuild: chainloading (hd0,gpt1)/EFI/centos/shimx64.efi" in after_install
    state = json.loads((fleet.tree / "state.json").read_text())["hosts"][path.hostname]
    assert state["status"] == "installed"
    # Exactly one kickstart fetch and one report, each with the host's token (which the log never shows):
    # no install loop.
    ks = ("GET", f"/ks/{path.hostname}/<token>.cfg", 200)
    callback = ("POST", f"/callback/{path.hostname}/<token>", 200)
    if path.loader in ("pxelinux", "grub"):
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
    requests_before = len(fleet.log())
    if path.loader == "grub":
        # A machine without a disk: GRUB's grub.cfg finds no EFI loader to chainload, says so and hands the
        # machine back to the firmware. (The chainload itself is what the installed host boots with.)
        no_loader = "ksbuild: no local disk with an EFI boot loader; handing back to the firmware"
        consoles = boot(fleet, path, UNKNOWN_MAC, disk, None, lambda seen: no_loader in seen.serial)
        assert "ksbuild: no entry for this machine; booting from local disk" in consoles.serial
        assert "Fetching Netboot Image grub2/grubx64.efi" in consoles.serial  # shim, from its own folder
        assert fleet.requests(requests_before) == []
        assert "installing" not in consoles.serial
        return
    disk.write_bytes(_boot_sector(LOCAL_DISK_MARKER) + bytes(1024 * 1024 - 512))
    before = disk.read_bytes()
    consoles = boot(fleet, path, UNKNOWN_MAC, disk, "raw", lambda seen: LOCAL_DISK_MARKER in seen.serial)
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


def test_a_grub_that_reads_grub_cfg_first_still_gets_the_hosts_own_entry(fleet: Fleet, tmp_path: Path) -> None:
    # grub.cfg opens grub.cfg-01-<mac with colons>, the copy of the host's entry named after $net_default_mac.
    # GRUB runs with its per-MAC search off, and the dashed name is gone (as RHEL 7.4's GRUB looked for a
    # misspelt name): the host's entry can only be reached through grub.cfg.
    (fleet.tree / "tftp/grub2" / f"grub.cfg-01-{GRUB_CFG_FIRST.mac.replace(':', '-')}").unlink()
    installing = f"ksbuild: installing {GRUB_CFG_FIRST.hostname}"
    consoles = boot(fleet, GRUB_CFG_FIRST, GRUB_CFG_FIRST.mac, tmp_path / "host.img", None,
                    lambda seen: installing in seen.serial)
    before = consoles.serial.split(installing, 1)[0]
    assert "Booting `Local disk'" not in before and "ksbuild: no entry for this machine" not in before


def test_the_boot_trees_grub_and_dnsmasq_files_pass_their_tools(fleet: Fleet) -> None:
    for config in (fleet.tree / "tftp/grub2").glob("grub.cfg*"):
        run([find_tool("grub-script-check"), str(config)])
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
