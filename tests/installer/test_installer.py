"""The test installer: its tree and ISO, its kickstart parser, and real installs under qemu (TCG).

The boot tests run qemu-system-x86_64 directly (no libvirt) with the tree's kernel and initrd, a kickstart
appended to the initrd as an extra newc archive made by GNU cpio (as virt-install --initrd-inject does), a
qcow2 disk and anaconda's virtio log port, then boot the installed disk on its own.
"""

from __future__ import annotations

import configparser
import functools
import gzip
import hashlib
import http.server
import lzma
import re
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pycdlib
import pytest

from builder.errors import ToolMissing
from builder.proc import find_tool, run
from tests.installer.build import TestInstallTree, build_test_tree
from tests.installer.hostfiles import select_modules

CACHE_DIR = Path(__file__).resolve().parents[1] / ".cache" / "installer"
LOG_PORT = "org.fedoraproject.anaconda.log.0"
INSTALL_TIMEOUT_S = 300.0
VERIFY_TIMEOUT_S = 180.0

PASSING_KS = """\
text
cmdline
network --bootproto=dhcp --hostname=hv01.ksbuild.test
zerombr
clearpart --all --initlabel
autopart
bootloader --location=mbr
selinux --permissive
poweroff

%pre
echo written-by-pre > /tmp/pre-marker
%end

%packages
@core
libvirt
qemu-kvm
-NetworkManager
%end

%post --nochroot --log=/tmp/post-nochroot.log
cp /tmp/pre-marker /mnt/sysimage/root/pre-marker
echo nochroot-post-output
%end

%post --log=/root/ks-post.log
echo written-by-chroot-post > /etc/ksbuild-marker
cat > /etc/systemd/system/ksbuild-marker.service <<'UNIT'
[Unit]
Description=ksbuild marker
[Service]
Type=oneshot
ExecStart=/bin/sh -c 'cat /etc/ksbuild-marker /root/pre-marker /root/ks-post.log > /dev/console'
ExecStart=/bin/sh -c 'echo "hostname=$(hostname)" > /dev/console'
ExecStart=/bin/sh -c 'echo KSBUILD-MARKER-OK > /dev/console'
[Install]
WantedBy=multi-user.target
UNIT
systemctl enable ksbuild-marker.service
rpm -q libvirt not-in-the-kickstart
getenforce
%end
"""

FAILING_KS = """\
text
reboot

%packages
@core
%end

%post --log=/root/first.log
echo the first post script is fine
%end

%post --erroronfail
echo failing-on-purpose
exit 3
%end
"""


@dataclass(frozen=True)
class Boot:
    console: str
    installer_log: str
    stopped_by_itself: bool
    seconds: float


@pytest.fixture(scope="module")
def tree() -> TestInstallTree:
    return build_test_tree(CACHE_DIR)


@pytest.fixture
def qemu() -> str:
    try:
        return find_tool("qemu-system-x86_64")
    except ToolMissing as exc:
        pytest.skip(str(exc))


@pytest.fixture
def tree_server(tree: TestInstallTree) -> Iterator[int]:
    """An HTTP server on 127.0.0.1 serving the tree; qemu's user network shows the host as 10.0.2.2."""
    handler = functools.partial(_QuietHandler, directory=str(tree.root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def with_kickstart(initrd: Path, kickstart: str, work: Path) -> Path:
    """A copy of `initrd` with ks.cfg appended as a newc archive, as virt-install --initrd-inject does."""
    staging = work / "inject"
    staging.mkdir()
    (staging / "ks.cfg").write_text(kickstart)
    archive = work / "ks.cpio"
    run(["cpio", "-o", "-H", "newc", "--quiet", "-O", str(archive)], input_text="ks.cfg\n", cwd=staging)
    data = initrd.read_bytes()
    combined = work / "initrd-ks.img"
    combined.write_bytes(data + b"\0" * (-len(data) % 4) + archive.read_bytes())
    return combined


def new_disk(work: Path) -> Path:
    disk = work / "disk.qcow2"
    run(["qemu-img", "create", "-q", "-f", "qcow2", str(disk), "1G"])
    return disk


def read_log(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


def boot_qemu(
    qemu: str,
    args: list[str],
    work: Path,
    name: str,
    timeout: float,
    until: Callable[[str, str], bool] | None = None,
) -> Boot:
    """Run qemu under TCG until it stops, `until(console, installer_log)` holds, or `timeout`.

    qemu is always killed before this returns.
    """
    console = work / f"{name}.console.log"
    installer_log = work / f"{name}.installer.log"
    argv = [
        qemu, "-accel", "tcg", "-m", "512", "-nographic", "-monitor", "none", "-no-reboot",
        "-serial", f"file:{console}",
        "-device", "virtio-serial",
        "-chardev", f"file,id=installer-log,path={installer_log}",
        "-device", f"virtserialport,chardev=installer-log,name={LOG_PORT}",
        "-netdev", "user,id=net0", "-device", "virtio-net-pci,netdev=net0",
        *args,
    ]  # fmt: skip
    started = time.monotonic()
    process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    stopped = False
    try:
        while time.monotonic() - started < timeout:
            if process.poll() is not None:
                stopped = True
                break
            if until is not None and until(read_log(console), read_log(installer_log)):
                break
            time.sleep(0.5)
    finally:
        process.kill()
        _, stderr = process.communicate()
    if stopped and process.returncode != 0:
        pytest.fail(f"qemu exited with {process.returncode}: {stderr.decode(errors='replace')}")
    return Boot(
        console=read_log(console),
        installer_log=read_log(installer_log),
        stopped_by_itself=stopped,
        seconds=time.monotonic() - started,
    )


def install_args(tree: TestInstallTree, initrd: Path, disk: Path, repo: str) -> list[str]:
    cmdline = f"inst.ks=file:/ks.cfg {repo} inst.text inst.cmdline console=ttyS0,115200n8"
    return [
        "-kernel", str(tree.kernel), "-initrd", str(initrd), "-append", cmdline,
        "-drive", f"file={disk},if=virtio,format=qcow2", "-cdrom", str(tree.iso),
    ]  # fmt: skip


def console_lines(text: str) -> list[str]:
    return [line.strip() for line in text.replace("\r", "").splitlines()]


def assert_in_order(lines: list[str], expected: list[str]) -> None:
    position = 0
    for wanted in expected:
        for index in range(position, len(lines)):
            if lines[index].endswith(wanted):
                position = index + 1
                break
        else:
            raise AssertionError(f"{wanted!r} not found after line {position}:\n" + "\n".join(lines))


def line_of(kickstart: str, text: str) -> int:
    return kickstart.splitlines().index(text) + 1


# --- the tree ---------------------------------------------------------------------------------------------


def test_treeinfo_names_the_kernel_and_initrd_with_their_checksums(tree: TestInstallTree) -> None:
    treeinfo = configparser.ConfigParser()
    treeinfo.read(tree.root / ".treeinfo")
    assert (treeinfo["general"]["family"], treeinfo["general"]["version"], treeinfo["general"]["arch"]) == (
        "CentOS",
        "7",
        "x86_64",
    )
    images = treeinfo["images-x86_64"]
    assert tree.root / images["kernel"] == tree.kernel
    assert tree.root / images["initrd"] == tree.initrd
    for path in (images["kernel"], images["initrd"]):
        expected = "sha256:" + hashlib.sha256((tree.root / path).read_bytes()).hexdigest()
        assert treeinfo["checksums"][path] == expected


def test_iso_is_the_tree_with_centos_volume_id(tree: TestInstallTree) -> None:
    iso = pycdlib.PyCdlib()
    iso.open(str(tree.iso))
    try:
        assert iso.pvd.volume_identifier.decode().rstrip() == "CentOS 7 x86_64"
        with iso.open_file_from_iso(rr_path="/.treeinfo") as handle:
            assert handle.read() == (tree.root / ".treeinfo").read_bytes()
    finally:
        iso.close()


@pytest.mark.parametrize(("release", "family", "volume"), [("8", "Rocky Linux", "Rocky-8-x86_64-dvd"),
                                                        ("9", "Rocky Linux", "Rocky-9-x86_64-dvd")])
def test_el8_and_el9_trees_say_their_release(release: str, family: str, volume: str) -> None:
    """The personas' trees: .treeinfo family/version (what ksbuild and anaconda read), the ISO's volume id, and the
    installer image that knows its release (initrd/lib/persona.sh)."""
    tree = build_test_tree(CACHE_DIR, release)
    treeinfo = configparser.ConfigParser()
    treeinfo.read(tree.root / ".treeinfo")
    assert (treeinfo["general"]["family"], treeinfo["general"]["version"]) == (family, release)
    assert tree.iso.name == f"Rocky-{release}-x86_64-ksbuild-test.iso"
    iso = pycdlib.PyCdlib()
    iso.open(str(tree.iso))
    try:
        assert iso.pvd.volume_identifier.decode().rstrip() == volume
    finally:
        iso.close()
    assert _newc_member(tree.initrd.read_bytes(), "usr/lib/ksbuild-installer/persona") == f"{release}\n".encode()


def _newc_member(archive: bytes, wanted: str) -> bytes | None:
    """One member's data from a newc archive (110-byte ASCII headers, name and data padded to 4 bytes)."""
    offset = 0
    while archive[offset:offset + 6] == b"070701":
        size = int(archive[offset + 54:offset + 62], 16)
        name_size = int(archive[offset + 94:offset + 102], 16)
        name = archive[offset + 110:offset + 110 + name_size - 1].decode()
        start = (offset + 110 + name_size + 3) & ~3
        if name == wanted:
            return archive[start:start + size]
        if name == "TRAILER!!!":
            return None
        offset = (start + size + 3) & ~3
    return None


def test_second_build_reuses_the_cache(tree: TestInstallTree) -> None:
    started = time.monotonic()
    again = build_test_tree(CACHE_DIR)
    assert again == tree
    assert time.monotonic() - started < 2.0


def test_build_is_reproducible(tree: TestInstallTree, tmp_path: Path) -> None:
    again = build_test_tree(tmp_path)
    assert again.root != tree.root
    for first, second in ((tree.initrd, again.initrd), (tree.iso, again.iso), (tree.kernel, again.kernel)):
        assert hashlib.sha256(first.read_bytes()).digest() == hashlib.sha256(second.read_bytes()).digest()


def test_initrd_is_a_newc_archive_with_the_installer_as_init(tree: TestInstallTree, tmp_path: Path) -> None:
    listing = run(["cpio", "-t", "--quiet", "-F", str(tree.initrd)]).stdout.split()
    assert "init" in listing
    assert "usr/lib/ksbuild-installer/ks-parse.awk" in listing
    assert any(name.startswith("usr/lib/modules/") and name.endswith("/virtio_blk.ko") for name in listing)


def test_compressed_modules_are_copied_uncompressed_with_their_dependencies(tmp_path: Path) -> None:
    """Kernels that ship .ko.xz/.ko.gz (not Debian 12's) still give busybox modprobe plain .ko files."""
    kernel = tmp_path / "kernel"
    kernel.mkdir()
    (kernel / "bridge.ko.xz").write_bytes(lzma.compress(b"bridge module", format=lzma.FORMAT_XZ))
    (kernel / "stp.ko.gz").write_bytes(gzip.compress(b"stp module"))
    (kernel / "unrelated.ko.xz").write_bytes(lzma.compress(b"unrelated", format=lzma.FORMAT_XZ))
    (tmp_path / "modules.dep").write_text(
        "kernel/bridge.ko.xz: kernel/stp.ko.gz\nkernel/stp.ko.gz:\nkernel/unrelated.ko.xz:\n"
    )
    (tmp_path / "modules.alias").write_text("alias net-pf-7 bridge\nalias other unrelated\n")
    selected = select_modules(tmp_path, ["bridge"], ["not-in-this-kernel"])
    assert selected.files["kernel/bridge.ko"] == b"bridge module"
    assert selected.files["kernel/stp.ko"] == b"stp module"
    assert "kernel/unrelated.ko" not in selected.files
    assert selected.files["modules.dep"].decode().splitlines() == ["kernel/bridge.ko: kernel/stp.ko", "kernel/stp.ko:"]
    assert selected.files["modules.alias"] == b"alias net-pf-7 bridge\n"


# --- the kickstart parser, run by the same busybox awk as in the installer -------------------------------


def parse_kickstart(kickstart: str, work: Path, mode: str = "full") -> tuple[int, dict[str, str]]:
    (work / "ks.cfg").write_text(kickstart)
    out = work / f"out-{mode}"
    out.mkdir()
    parser = Path(__file__).parent / "initrd" / "lib" / "ks-parse.awk"
    result = run(
        ["busybox", "awk", "-v", f"ks={work / 'ks.cfg'}", "-v", f"out={out}", "-v", f"mode={mode}", "-f", str(parser)],
        check=False,
    )
    return result.returncode, {path.name: path.read_text() for path in out.iterdir()}


def test_parser_splits_commands_packages_and_scripts_with_their_lines(tmp_path: Path) -> None:
    included = tmp_path / "part.ks"
    included.write_text("part / --size=1 --grow\n")
    kickstart = PASSING_KS.replace("autopart\n", f"%include {included}\n").replace(
        "network --bootproto=dhcp --hostname=hv01.ksbuild.test",
        "network --bootproto=dhcp --hostname='hv01.ksbuild.test'  # a comment",
    )
    status, files = parse_kickstart(kickstart, tmp_path)
    assert status == 0
    commands = [line.split("\x1f") for line in files["commands"].splitlines()]
    network = line_of(kickstart, "network --bootproto=dhcp --hostname='hv01.ksbuild.test'  # a comment")
    assert [str(network), "network", "--bootproto=dhcp", "--hostname=hv01.ksbuild.test"] in commands
    assert ["1", "part", "/", "--size=1", "--grow"] in commands
    assert files["packages"].splitlines() == ["@core", "libvirt", "qemu-kvm", "-NetworkManager"]
    scripts = [line.split("\x1f") for line in files["scripts"].splitlines()]
    assert scripts == [
        ["1", "pre", str(line_of(kickstart, "%pre")), "/bin/sh", "", "0", "0"],
        ["2", "post", str(line_of(kickstart, "%post --nochroot --log=/tmp/post-nochroot.log")), "/bin/sh",
         "/tmp/post-nochroot.log", "1", "0"],
        ["3", "post", str(line_of(kickstart, "%post --log=/root/ks-post.log")), "/bin/sh", "/root/ks-post.log",
         "0", "0"],
    ]  # fmt: skip
    assert files["script.2"] == "cp /tmp/pre-marker /mnt/sysimage/root/pre-marker\necho nochroot-post-output\n"


def test_parser_records_addon_headers_and_skips_their_bodies(tmp_path: Path) -> None:
    kickstart = ("text\n%addon com_redhat_kdump --enable --reserve-mb='256'\n%end\n"
                 "%addon org_fedora_oscap\nprofile = pci-dss\n%end\nreboot\n")
    status, files = parse_kickstart(kickstart, tmp_path)
    assert status == 0
    assert [line.split("\x1f") for line in files["addons"].splitlines()] == [
        ["2", "com_redhat_kdump", "--enable", "--reserve-mb=256"], ["4", "org_fedora_oscap"],
    ]
    assert [line.split("\x1f")[1] for line in files["commands"].splitlines()] == ["text", "reboot"]
    _, pre = parse_kickstart(kickstart, tmp_path, mode="pre")
    assert pre["addons"] == ""


def test_parser_reads_interpreter_and_erroronfail_options(tmp_path: Path) -> None:
    kickstart = "%post --interpreter /usr/bin/python --erroronfail\nprint(1)\n%end\n"
    status, files = parse_kickstart(kickstart, tmp_path)
    assert status == 0
    assert files["scripts"].split("\x1f") == ["1", "post", "1", "/usr/bin/python", "", "0", "1\n"]


def test_pre_pass_reads_only_pre_scripts_and_ignores_missing_includes(tmp_path: Path) -> None:
    kickstart = "%include /nonexistent/part.ks\n" + PASSING_KS
    status, files = parse_kickstart(kickstart, tmp_path, mode="pre")
    assert status == 0
    assert [line.split("\x1f")[1] for line in files["scripts"].splitlines()] == ["pre"]
    assert files["commands"] == ""


@pytest.mark.parametrize(
    ("kickstart", "line", "message"),
    [
        ("text\n%foo\n%end\n", 2, "Unknown kickstart section: %foo"),
        ("text\nrootpw 'unclosed\n", 2, "No closing quotation"),
        ("text\n\n%include /nonexistent/part.ks\n", 3, "Unable to open input kickstart file"),
    ],
)
def test_parser_reports_unreadable_kickstarts_with_their_line(
    tmp_path: Path, kickstart: str, line: int, message: str
) -> None:
    status, files = parse_kickstart(kickstart, tmp_path)
    assert status == 1
    error_line, error = files["error"].rstrip("\n").split("\x1f")
    assert int(error_line) == line
    assert error.startswith(message)


# --- real installs under qemu ------------------------------------------------------------------------------


@pytest.mark.boot
def test_install_then_disk_boot_runs_the_unit_post_enabled(tree: TestInstallTree, qemu: str, tmp_path: Path) -> None:
    disk = new_disk(tmp_path)
    initrd = with_kickstart(tree.initrd, PASSING_KS, tmp_path)
    args = install_args(tree, initrd, disk, "inst.repo=cdrom")
    install = boot_qemu(qemu, args, tmp_path, "install", INSTALL_TIMEOUT_S)
    print(f"install under TCG: {install.seconds:.1f} s")
    lines = console_lines(install.console)
    assert install.stopped_by_itself, "the poweroff kickstart did not stop the VM:\n" + install.console
    assert_in_order(
        lines,
        [
            "Running pre-installation scripts",
            "Starting package installation process",
            "Installing libvirt (1/2)",
            "Installing qemu-kvm (2/2)",
            "Installing boot loader",
            "Performing post-installation setup tasks",
            "Configuring installed system",
            "Running post-installation scripts",
            "reboot: Power down",
        ],
    )
    assert not [line for line in lines if "Traceback" in line or "There was an error" in line]
    # The log port carries anaconda's lines in syslog form, and script output as program lines.
    assert re.search(r"^\d\d:\d\d:\d\d,\d{3} INFO anaconda: Installing boot loader$", install.installer_log, re.M)
    assert re.search(r" INFO program: nochroot-post-output$", install.installer_log, re.M)

    verify = boot_qemu(qemu, ["-drive", f"file={disk},if=virtio,format=qcow2"], tmp_path, "verify", VERIFY_TIMEOUT_S)
    print(f"verification boot under TCG: {verify.seconds:.1f} s")
    lines = console_lines(verify.console)
    assert verify.stopped_by_itself, "the installed system did not power off:\n" + verify.console
    assert_in_order(
        lines,
        [
            "written-by-chroot-post",
            "written-by-pre",
            "Created symlink from /etc/systemd/system/multi-user.target.wants/ksbuild-marker.service"
            " to /etc/systemd/system/ksbuild-marker.service.",
            "libvirt-0-1.el7.ksbuild.x86_64",
            "package not-in-the-kickstart is not installed",
            "Permissive",
            "hostname=hv01.ksbuild.test",
            "KSBUILD-MARKER-OK",
            "[  OK  ] Started ksbuild marker.",
            "reboot: Power down",
        ],
    )


@pytest.mark.boot
def test_failing_erroronfail_post_prints_anacondas_fatal_error(
    tree: TestInstallTree, qemu: str, tree_server: int, tmp_path: Path
) -> None:
    initrd = with_kickstart(tree.initrd, FAILING_KS, tmp_path)
    farewell = "The installer will now terminate."
    install = boot_qemu(
        qemu,
        install_args(tree, initrd, new_disk(tmp_path), f"inst.repo=http://10.0.2.2:{tree_server}/"),
        tmp_path,
        "install",
        INSTALL_TIMEOUT_S,
        # The installer log port trails the console by up to a second.
        until=lambda console, log: farewell in console and farewell in log,
    )
    print(f"failing install under TCG, until the fatal text: {install.seconds:.1f} s")
    lines = console_lines(install.console)
    # anaconda waits 180 s before it reboots; the VM must still be up when the text is complete.
    assert not install.stopped_by_itself
    line = line_of(FAILING_KS, "%post --erroronfail")
    assert_in_order(
        lines,
        [
            "Running post-installation scripts",
            f"There was an error running the kickstart script at line {line}.  This is a fatal error and"
            " installation will be aborted.  The details of this error are:",
            "failing-on-purpose",
            farewell,
        ],
    )
    assert re.search(rf" ERROR anaconda: Error code 3 running the kickstart script at line {line}$",
                     install.installer_log, re.M)  # fmt: skip


@pytest.mark.boot
def test_unreachable_repo_ends_in_dracuts_emergency_shell(
    tree: TestInstallTree, qemu: str, tree_server: int, tmp_path: Path
) -> None:
    initrd = with_kickstart(tree.initrd, FAILING_KS, tmp_path)
    boot = boot_qemu(
        qemu,
        install_args(tree, initrd, new_disk(tmp_path), f"inst.repo=http://10.0.2.2:{tree_server}/no/such/tree/"),
        tmp_path,
        "install",
        INSTALL_TIMEOUT_S,
        until=lambda console, _log: "attach it to a bug report." in console,
    )
    lines = console_lines(boot.console)
    assert not boot.stopped_by_itself
    assert_in_order(lines, ["Warning: Could not boot.", "Entering emergency mode. Exit the shell to continue."])
    assert not [line for line in lines if "Starting package installation process" in line]


# Written by hand the way people write them for CentOS 7 (the shapes are initscripts'): an STP bridge with
# DELAY=0 on a NIC, an active-backup bond, a VLAN on it bridged into an STP bridge with DELAY=45.
NETWORK_KS = """\
text
cmdline
network --bootproto=dhcp --onboot=no --hostname=net01.ksbuild.test
bootloader --location=mbr
poweroff

%packages
@core
%end

%post --log=/root/ks-post.log
mkdir -p /etc/udev/rules.d
cat > /etc/udev/rules.d/70-nic-names.rules <<'RULES'
@NIC_RULES@
RULES
cd /etc/sysconfig/network-scripts
printf '%s\\n' DEVICE=eno1 TYPE=Ethernet ONBOOT=yes BOOTPROTO=none BRIDGE=br0 > ifcfg-eno1
printf '%s\\n' DEVICE=br0 TYPE=Bridge ONBOOT=yes BOOTPROTO=none IPADDR=192.0.2.10 NETMASK=255.255.255.0 \\
    GATEWAY=192.0.2.1 STP=yes DELAY=0 > ifcfg-br0
for nic in eno2 eno3; do
    printf '%s\\n' DEVICE=$nic TYPE=Ethernet ONBOOT=yes BOOTPROTO=none MASTER=bond0 SLAVE=yes > ifcfg-$nic
done
printf '%s\\n' DEVICE=bond0 TYPE=Bond BONDING_MASTER=yes 'BONDING_OPTS="mode=active-backup miimon=100 primary=eno3"' \\
    ONBOOT=yes BOOTPROTO=none > ifcfg-bond0
printf '%s\\n' DEVICE=bond0.10 VLAN=yes PHYSDEV=bond0 ONBOOT=yes BOOTPROTO=none BRIDGE=br1 > ifcfg-bond0.10
printf '%s\\n' DEVICE=br1 TYPE=Bridge ONBOOT=yes BOOTPROTO=none STP=yes DELAY=45 > ifcfg-br1
cat > /etc/systemd/system/show-network.service <<'UNIT'
[Unit]
Description=show the kernel's network state
[Service]
Type=oneshot
ExecStart=/bin/sh /usr/local/bin/show-network
[Install]
WantedBy=multi-user.target
UNIT
mkdir -p /usr/local/bin
cat > /usr/local/bin/show-network <<'SCRIPT'
for br in br0 br1; do
    sys=/sys/class/net/$br
    echo "NET $br stp_state=$(cat $sys/bridge/stp_state) forward_delay=$(cat $sys/bridge/forward_delay)" \\
        "ports=$(ls $sys/brif | tr '\\n' ' ')"
done
echo "NET bond0 mode=$(cat /sys/class/net/bond0/bonding/mode) slaves=$(cat /sys/class/net/bond0/bonding/slaves)" \\
    "active=$(cat /sys/class/net/bond0/bonding/active_slave)"
echo "NET vlan $(grep bond0.10 /proc/net/vlan/config | tr -s ' ')"
echo "NET address $(ip -o -4 addr show | awk '$4 == "192.0.2.10/24" { print $2 }')"
echo "NET route $(ip -4 route show default)"
echo "NET setfd $(brctl setfd br0 0 2>&1)"
SCRIPT
systemctl enable show-network.service
%end
""".replace("@NIC_RULES@", "\n".join(
    f'SUBSYSTEM=="net", ACTION=="add", DRIVERS=="?*", ATTR{{type}}=="1", ATTR{{address}}=="52:54:00:0e:00:0{n}", '
    f'NAME="eno{n}"' for n in (1, 2, 3)))


@pytest.mark.boot
def test_installed_system_brings_up_ifcfg_files_in_el7_order_with_the_kernels_modules(
    tree: TestInstallTree, qemu: str, tmp_path: Path
) -> None:
    disk = new_disk(tmp_path)
    initrd = with_kickstart(tree.initrd, NETWORK_KS, tmp_path)
    install = boot_qemu(qemu, install_args(tree, initrd, disk, "inst.repo=cdrom"), tmp_path, "install",
                        INSTALL_TIMEOUT_S)
    assert install.stopped_by_itself, install.console
    nics = [arg for n in (1, 2, 3) for arg in ("-netdev", f"user,id=nic{n}",
                                                "-device", f"virtio-net-pci,netdev=nic{n},mac=52:54:00:0e:00:0{n}")]
    verify = boot_qemu(qemu, ["-drive", f"file={disk},if=virtio,format=qcow2", *nics], tmp_path, "verify",
                       VERIFY_TIMEOUT_S)
    print(f"verification boot with three NICs under TCG: {verify.seconds:.1f} s")
    lines = console_lines(verify.console)
    assert verify.stopped_by_itself, verify.console
    # udev rules name the NICs; the service brings up plain devices and bonds, then VLANs, then bridges.
    assert_in_order(lines, [
        "ksbuild test system: udev: 52:54:00:0e:00:01 is eno1",
        "Bringing up interface bond0:  [  OK  ]",
        "Bringing up interface eno1:  [  OK  ]",
        "Bringing up interface bond0.10:  [  OK  ]",
        "Bringing up interface br0:  [  OK  ]",
        "Bringing up interface br1:  [  OK  ]",
    ])
    net = {line.split(" ", 2)[1]: line.split(" ", 2)[2] for line in lines if line.startswith("NET ")}
    # The kernel, not the file, has the last word: STP on moves DELAY=0 up to 2 s (200) and DELAY=45 down to 30 s.
    assert net["br0"] == "stp_state=1 forward_delay=200 ports=eno1", net
    assert net["br1"] == "stp_state=1 forward_delay=3000 ports=bond0.10", net
    assert net["bond0"] == "mode=active-backup 1 slaves=eno2 eno3 active=eno3", net
    assert net["vlan"] == "bond0.10 | 10 | bond0", net
    assert net["address"] == "br0", net
    assert net["route"].startswith("default via 192.0.2.1 dev br0"), net
    # With STP already on, a second `brctl setfd br0 0` (a later `ifup br0`) is refused.
    assert net["setfd"] == "set forward delay failed: Numerical result out of range", net
