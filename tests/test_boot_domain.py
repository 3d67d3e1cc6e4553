"""Domain XML, libvirt plumbing on the test driver, and one real boot on qemu:///system."""

from __future__ import annotations

import dataclasses
import gzip
import os
import shutil
import socket
import struct
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from builder.boot.domain import (
    DomainSpec,
    NetworkSpec,
    RunOwner,
    choose_domain_type,
    parse_network_option,
    parse_run_metadata,
)
from builder.boot.inject import inject_files
from builder.boot.libvirt_conn import (
    RunResources,
    clean_stale,
    download_volume,
    is_remote,
    open_connection,
    pick_domain_type,
    volume_name,
)
from builder.errors import BadInput

GOLDEN = Path(__file__).parent / "golden" / "domain"
OWNER = RunOwner("build-host", 4242, 123456)
TEST_POOL = "default-pool"  # the pool libvirt's test:///default driver ships with

INSTALL_ISO = DomainSpec(
    name="ksbuild-hv-20240101-a1b2",
    run_id="20240101-a1b2",
    profile="hv",
    domain_type="qemu",
    memory_mib=2048,
    vcpus=2,
    disk_path="/var/lib/libvirt/images/ksbuild/run-disk.qcow2",
    kernel="/var/lib/libvirt/images/ksbuild/run-vmlinuz",
    initrd="/var/lib/libvirt/images/ksbuild/run-initrd.img",
    cmdline="inst.ks=file:/ks.cfg inst.repo=cdrom console=ttyS0,115200n8 inst.text",
    cdrom="/srv/iso/CentOS-7-x86_64-Minimal-2009.iso",
    network=None,
    console_log="/var/tmp/ksbuild/run/console.log",
    installer_log="/var/tmp/ksbuild/run/installer.log",
    on_reboot="destroy",
    owner=OWNER,
)
VARIANTS = {
    "install-iso": INSTALL_ISO,
    "install-url-network-default": dataclasses.replace(
        INSTALL_ISO,
        cmdline="inst.ks=file:/ks.cfg inst.repo=http://192.0.2.10/centos/7/os/x86_64 console=ttyS0",
        cdrom=None,
        network=NetworkSpec("network", "default", "52:54:00:6b:73:01"),
    ),
    "verify-disk": dataclasses.replace(
        INSTALL_ISO, kernel=None, initrd=None, cmdline=None, cdrom=None, on_reboot="restart",
        installer_log=None,
    ),
    "user-network": dataclasses.replace(
        INSTALL_ISO, kernel=None, initrd=None, cmdline=None, cdrom=None,
        network=NetworkSpec("user", None, None),
    ),
    "kvm-q35-bridge": dataclasses.replace(
        INSTALL_ISO, domain_type="kvm", machine="q35", network=NetworkSpec("bridge", "br0", None),
    ),
    "tcg-guest-svm": dataclasses.replace(INSTALL_ISO, guest_virt=True),
    "verify-host-nics": dataclasses.replace(
        INSTALL_ISO, kernel=None, initrd=None, cmdline=None, cdrom=None, installer_log=None,
        nics=(NetworkSpec("user", None, "52:54:00:a1:00:01"), NetworkSpec("user", None, "52:54:00:a1:00:02")),
    ),
}


# ------------------------------------------------------------------------------------------ XML only


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_domain_xml_matches_golden_and_libvirt_schema(variant: str, regen: bool, tmp_path: Path) -> None:
    xml = VARIANTS[variant].to_xml()
    assert xml == VARIANTS[variant].to_xml()
    golden = GOLDEN / f"{variant}.xml"
    if regen:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(xml)
    assert xml == golden.read_text(), f"{golden} differs; rerun with --regen if the change is intended"
    if shutil.which("virt-xml-validate") is None:
        pytest.skip("virt-xml-validate (libvirt-clients) is not installed")
    path = tmp_path / f"{variant}.xml"
    path.write_text(xml)
    result = subprocess.run(
        ["virt-xml-validate", str(path), "domain"], check=False, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def _parse(spec: DomainSpec) -> ET.Element:
    return ET.fromstring(spec.to_xml())


def test_install_phase_boots_the_kernel_and_stops_on_poweroff() -> None:
    root = _parse(INSTALL_ISO)
    assert root.findtext("os/kernel") == INSTALL_ISO.kernel
    assert root.findtext("os/cmdline") == INSTALL_ISO.cmdline
    assert root.find("os/boot") is None
    assert root.find("features/acpi") is not None
    assert (root.findtext("on_poweroff"), root.findtext("on_reboot"), root.findtext("on_crash")) == (
        "destroy", "destroy", "destroy")
    cdrom = root.find("devices/disk[@device='cdrom']")
    assert cdrom is not None and cdrom.find("readonly") is not None
    channel = root.find("devices/channel")
    assert channel is not None and channel.get("type") == "file"
    assert channel.find("target").get("name") == "org.fedoraproject.anaconda.log.0"  # type: ignore[union-attr]
    assert root.find("devices/serial/source").get("path") == INSTALL_ISO.console_log  # type: ignore[union-attr]
    assert root.find("devices/memballoon").get("model") == "none"  # type: ignore[union-attr]
    assert root.find("cpu") is None  # host-model is for KVM only


def test_verify_phase_boots_from_disk() -> None:
    root = _parse(VARIANTS["verify-disk"])
    assert root.find("os/kernel") is None
    assert root.find("os/boot").get("dev") == "hd"  # type: ignore[union-attr]
    assert root.findtext("on_reboot") == "restart"


def test_verification_vm_gets_one_isolated_nic_per_profile_nic() -> None:
    root = _parse(VARIANTS["verify-host-nics"])
    interfaces = root.findall("devices/interface")
    assert [(i.get("type"), i.find("mac").get("address"), i.find("model").get("type"))  # type: ignore[union-attr]
            for i in interfaces] == [("user", "52:54:00:a1:00:01", "virtio"), ("user", "52:54:00:a1:00:02", "virtio")]
    assert all(i.find("source") is None for i in interfaces)  # user-mode: no host bridge or network behind it


def test_kvm_gets_host_model_cpu() -> None:
    root = _parse(VARIANTS["kvm-q35-bridge"])
    assert root.get("type") == "kvm"
    assert root.find("cpu").get("mode") == "host-model"  # type: ignore[union-attr]
    assert root.find("devices/disk[@device='cdrom']/target").get("bus") == "sata"  # type: ignore[union-attr]


def test_tcg_guest_gets_emulated_svm_only_when_asked() -> None:
    feature = _parse(VARIANTS["tcg-guest-svm"]).find("cpu/feature")
    assert feature is not None and feature.get("name") == "svm" and feature.get("policy") == "require"
    assert _parse(VARIANTS["install-iso"]).find("cpu") is None


def test_metadata_round_trips_through_the_parser() -> None:
    element = _parse(INSTALL_ISO).find("metadata/{https://ksbuild.dev/xmlns/run/1}run")
    assert element is not None
    tag = parse_run_metadata(ET.tostring(element, encoding="unicode"))
    assert tag is not None and (tag.run_id, tag.profile, tag.owner) == ("20240101-a1b2", "hv", OWNER)


def test_an_initrd_without_a_kernel_is_refused() -> None:
    with pytest.raises(BadInput, match="needs a kernel"):
        dataclasses.replace(INSTALL_ISO, kernel=None)


@pytest.mark.parametrize(
    ("option", "expected"),
    [
        ("none", None),
        ("user", NetworkSpec("user", None, None)),
        ("network=default", NetworkSpec("network", "default", None)),
        ("bridge=br0", NetworkSpec("bridge", "br0", None)),
        ("bridge=br0,mac=52:54:00:AA:bb:01", NetworkSpec("bridge", "br0", "52:54:00:aa:bb:01")),
    ],
)
def test_parse_network_option(option: str, expected: NetworkSpec | None) -> None:
    assert parse_network_option(option) == expected


@pytest.mark.parametrize(
    "option", ["", "bridge", "network=", "nat", "bridge=br0,mac=nope", "none,mac=52:54:00:00:00:01"]
)
def test_parse_network_option_rejects(option: str) -> None:
    with pytest.raises(BadInput, match="--network"):
        parse_network_option(option)


def test_boot_modules_import_without_loading_libvirt() -> None:
    """Rendering imports these modules; it must work where libvirt-python is not installed."""
    code = (
        "import sys, builder.boot.domain, builder.boot.inject, builder.boot.media\n"
        "import builder.boot.libvirt_conn\n"
        "print('libvirt' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_run_owner_is_gone_only_for_a_dead_process_on_this_host() -> None:
    me = RunOwner.current()
    assert not me.is_gone()
    finished = subprocess.Popen(["true"])
    finished.wait()
    assert RunOwner(me.host, finished.pid, 0).is_gone()
    assert not RunOwner("some-other-host", finished.pid, 0).is_gone()
    # Our pid, but a different start time: the pid was reused by another process.
    assert RunOwner(me.host, me.pid, me.started + 1).is_gone()


@pytest.mark.parametrize(
    ("uri", "remote"),
    [
        ("qemu:///system", False),
        ("qemu:///session", False),
        ("test:///default", False),
        ("qemu+ssh://root@hv01.lab/system", True),
        ("qemu+tls://hv02/system", True),
        ("qemu+ssh://localhost/system", False),
    ],
)
def test_is_remote(uri: str, remote: bool) -> None:
    assert is_remote(uri) is remote


# ------------------------------------------------------------------------------- accelerator choice

TEST_DRIVER_ONLY_CAPS = (
    "<capabilities><guest><os_type>hvm</os_type>"
    "<arch name='i686'><domain type='test'/></arch></guest></capabilities>"
)


def test_hosts_without_x86_64_guests_are_refused() -> None:
    with pytest.raises(BadInput, match="no x86_64 hvm guests"):
        choose_domain_type(TEST_DRIVER_ONLY_CAPS, {"vmx"}, "auto")


@pytest.fixture
def qemu_system(libvirtd_running: str) -> str:
    """qemu:///system, for tests that need libvirt-python (absent where only rendering is set up)."""
    pytest.importorskip("libvirt")
    return libvirtd_running


def test_domain_type_choice_on_the_real_host(qemu_system: str) -> None:
    conn = open_connection(qemu_system)
    try:
        caps = conn.getCapabilities()
        # This machine: /dev/kvm exists (libvirt offers kvm) but the CPU has no vmx/svm, and KVM guests hang.
        assert pick_domain_type(conn, "auto")[0] == "qemu"
    finally:
        conn.close()
    assert choose_domain_type(caps, {"vmx"}, "auto") == ("kvm", None)
    kind, warning = choose_domain_type(caps, set(), "auto")
    assert kind == "qemu" and warning is not None and "vmx/svm" in warning
    kind, warning = choose_domain_type(caps, set(), "kvm")
    assert kind == "kvm" and warning is not None
    assert choose_domain_type(caps, {"svm"}, "tcg") == ("qemu", None)


# ------------------------------------------------------------------------- libvirt test:///default


@pytest.fixture
def test_conn() -> Iterator[Any]:
    """A connection to libvirt's in-process test driver (no daemon): fresh state for each test."""
    pytest.importorskip("libvirt")
    conn = open_connection("test:///default")
    yield conn
    conn.close()


def _spec_on_test_driver(name: str, disk_path: str, owner: RunOwner | None = None) -> DomainSpec:
    return dataclasses.replace(
        VARIANTS["verify-disk"], name=name, run_id=name.removeprefix("ksbuild-"), disk_path=disk_path,
        console_log=None, owner=owner,
    )


def _names(conn: Any) -> set[str]:
    return {d.name() for d in conn.listAllDomains(0)}


def _volumes(conn: Any) -> set[str]:
    return {v.name() for v in conn.storagePoolLookupByName(TEST_POOL).listAllVolumes(0)}


def test_define_start_destroy_on_the_test_driver(test_conn: Any, record_property: Any) -> None:
    spec = _spec_on_test_driver("ksbuild-hv-timing", "/default-pool/timing.qcow2")
    started = time.monotonic()
    domain = test_conn.defineXML(spec.to_xml())
    domain.create()
    assert domain.isActive()
    domain.destroy()
    domain.undefine()
    record_property("define_start_stop_s", round(time.monotonic() - started, 4))
    assert "ksbuild-hv-timing" not in _names(test_conn)


def test_run_resources_start_and_clean_up(test_conn: Any, tmp_path: Path) -> None:
    with RunResources(test_conn, run_id="r1", profile="hv", run_dir=tmp_path / "run", pool=TEST_POOL) as res:
        disk = res.create_disk(2)
        assert Path(disk).name in _volumes(test_conn)
        domain = res.start(_spec_on_test_driver("ksbuild-hv-r1", disk))
        assert domain.isActive() and not domain.isPersistent()
        metadata_element = 2  # libvirt.VIR_DOMAIN_METADATA_ELEMENT
        tag = parse_run_metadata(domain.metadata(metadata_element, "https://ksbuild.dev/xmlns/run/1", 0))
        assert tag is not None and tag.owner == RunOwner.current()
    assert "ksbuild-hv-r1" not in _names(test_conn)
    assert Path(disk).name not in _volumes(test_conn)


@pytest.mark.parametrize("interruption", [RuntimeError("install failed"), KeyboardInterrupt()])
def test_run_resources_clean_up_when_interrupted(
    test_conn: Any, tmp_path: Path, interruption: BaseException
) -> None:
    disk = ""
    resources = RunResources(test_conn, run_id="r2", profile="hv", run_dir=tmp_path, pool=TEST_POOL)
    with pytest.raises(type(interruption)), resources as res:
        disk = res.create_disk(1)
        res.start(_spec_on_test_driver("ksbuild-hv-r2", disk))
        raise interruption
    assert "ksbuild-hv-r2" not in _names(test_conn)
    assert Path(disk).name not in _volumes(test_conn)


def test_without_a_default_pool_a_ksbuild_pool_is_created(test_conn: Any, tmp_path: Path) -> None:
    messages: list[str] = []
    resources = RunResources(test_conn, run_id="r4", profile="hv", run_dir=tmp_path, progress=messages.append)
    with resources as res:
        assert res.pool.name() == "ksbuild"
        assert not res.pool.isPersistent()  # leaves no pool definition behind on the host
        disk = res.create_disk(1)
        assert disk.startswith("/var/lib/libvirt/images/ksbuild/")
    assert any("creating pool 'ksbuild'" in m for m in messages)


def test_unknown_pool_is_bad_input(test_conn: Any, tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="'nope' does not exist"):
        RunResources(test_conn, run_id="r3", profile="hv", run_dir=tmp_path, pool="nope").__enter__()


def _dead_owner() -> RunOwner:
    finished = subprocess.Popen(["true"])
    finished.wait()
    return RunOwner(socket.gethostname(), finished.pid, 0)


def test_clean_stale_removes_only_abandoned_ksbuild_domains_and_volumes(test_conn: Any) -> None:
    pool = test_conn.storagePoolLookupByName(TEST_POOL)
    dead, alive = _dead_owner(), RunOwner.current()
    elsewhere = RunOwner("another-build-host", 1, 0)

    def volume(name: str) -> str:
        xml = f"<volume><name>{name}</name><capacity>1024</capacity></volume>"
        return str(pool.createXML(xml, 0).path())

    def start(spec: DomainSpec) -> None:
        test_conn.createXML(spec.to_xml(), 0)

    stale_disk = volume(volume_name(dead, "old", "disk.qcow2"))
    orphan = volume(volume_name(dead, "older", "vmlinuz"))
    live_disk = volume(volume_name(alive, "now", "disk.qcow2"))
    foreign_disk = volume("web01.qcow2")
    start(_spec_on_test_driver("ksbuild-hv-old", stale_disk, dead))
    start(_spec_on_test_driver("ksbuild-hv-now", live_disk, alive))
    start(_spec_on_test_driver("ksbuild-hv-elsewhere", foreign_disk, elsewhere))
    start(_spec_on_test_driver("ksbuild-untagged", foreign_disk))  # ksbuild-like name, no owner recorded
    foreign = dataclasses.replace(_spec_on_test_driver("web01", foreign_disk, dead), name="web01")
    start(foreign)  # dead owner in metadata but not a ksbuild-* name: not ours to judge
    before_domains, before_volumes = _names(test_conn), _volumes(test_conn)

    planned = clean_stale(test_conn, dry_run=True)
    assert (_names(test_conn), _volumes(test_conn)) == (before_domains, before_volumes)
    assert sorted(planned) == sorted(["domain ksbuild-hv-old", f"volume {stale_disk}", f"volume {orphan}"])

    assert sorted(clean_stale(test_conn)) == sorted(planned)
    assert _names(test_conn) == before_domains - {"ksbuild-hv-old"}
    assert _volumes(test_conn) == before_volumes - {Path(stale_disk).name, Path(orphan).name}
    assert clean_stale(test_conn) == []


def _wait_until_stopped(conn: Any, name: str, timeout: float) -> float:
    """Seconds until the domain `name` shut off or vanished (a transient one does); fails after `timeout`."""
    import libvirt

    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            state, _reason = conn.lookupByName(name).state()
        except libvirt.libvirtError:
            return time.monotonic() - started
        if state == libvirt.VIR_DOMAIN_SHUTOFF:
            return time.monotonic() - started
        time.sleep(0.5)
    pytest.fail(f"{name} still running after {timeout} s")


def test_files_travel_through_the_storage_api(qemu_system: str, tmp_path: Path) -> None:
    """What a remote host needs: uploads for kernel/initrd/ISO, downloads for logs and a kept disk."""
    payload = os.urandom(3 * (1 << 20) + 5)  # more than one stream block, not a multiple of it
    (tmp_path / "payload").write_bytes(payload)
    conn = open_connection(qemu_system)
    try:
        with RunResources(conn, run_id="api", profile="hv", run_dir=tmp_path / "run") as res:
            uploaded = res.stage_file(tmp_path / "payload", "initrd.img")
            assert Path(uploaded).read_bytes() == payload
            download_volume(conn, conn.storageVolLookupByPath(uploaded), tmp_path / "back")
            assert (tmp_path / "back").read_bytes() == payload
            # A log volume starts empty; what the VM appends later must come back whole.
            log = res.pool.createXML(
                "<volume><name>ksbuild-api-test.log</name><capacity>0</capacity></volume>", 0
            )
            try:
                with open(log.path(), "ab") as handle:
                    handle.write(b"CONSOLE LINE\n")
                download_volume(conn, log, tmp_path / "console.log")
            finally:
                log.delete(0)
            assert (tmp_path / "console.log").read_bytes() == b"CONSOLE LINE\n"
        assert not Path(uploaded).exists()
    finally:
        conn.close()


# ---------------------------------------------------------------------------- qemu:///system, real boot

MODULES = (
    "virtio_ring", "virtio", "virtio_pci_legacy_dev", "virtio_pci_modern_dev", "virtio_pci", "virtio_console"
)
BUSYBOX_INIT = """#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sys /sys
/bin/busybox mount -t devtmpfs dev /dev
for m in {modules}; do
  [ -f /lib/modules/$m.ko ] && /bin/busybox insmod /lib/modules/$m.ko
done
echo "CONSOLE-LINE $(/bin/busybox cat /message.txt)" > /dev/ttyS0
for try in $(/bin/busybox seq 50); do
  for port in /sys/class/virtio-ports/*; do
    if [ "$(/bin/busybox cat $port/name 2>/dev/null)" = "org.fedoraproject.anaconda.log.0" ]; then
      echo "PORT-LINE $(/bin/busybox cat /message.txt)" > /dev/${{port##*/}}
      /bin/busybox poweroff -f
    fi
  done
  /bin/busybox sleep 0.2
done
echo "NO-VIRTIO-PORT" > /dev/ttyS0
/bin/busybox poweroff -f
"""


def _is_static_elf(path: Path) -> bool:
    """True for a 64-bit little-endian ELF without a PT_INTERP (dynamic loader) program header."""
    data = path.read_bytes()
    if data[:5] != b"\x7fELF\x02":
        return False
    phoff, = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    pt_interp = 3
    return all(struct.unpack_from("<I", data, phoff + i * phentsize)[0] != pt_interp for i in range(phnum))


def _busybox_initramfs(kernel: Path, work: Path) -> Path:
    """A gzipped initramfs: static busybox, the virtio console modules of `kernel`, and an /init that
    writes /message.txt (injected later) to the serial console and to the anaconda virtio port, then
    powers off. Its length is made not a multiple of 4, as a real compressed initrd's often is."""
    busybox = Path(shutil.which("busybox") or "/bin/busybox")
    if not _is_static_elf(busybox):
        pytest.skip("needs a statically linked busybox (Debian's busybox-static)")
    release = kernel.name.removeprefix("vmlinuz-")
    root = work / "initramfs-root"
    for sub in ("bin", "dev", "proc", "sys", "lib/modules"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    shutil.copy2(busybox, root / "bin/busybox")
    for module in MODULES:
        found = list(Path(f"/usr/lib/modules/{release}/kernel/drivers").glob(f"*/{module}.ko"))
        if found:
            shutil.copy2(found[0], root / f"lib/modules/{module}.ko")
    (root / "init").write_text(BUSYBOX_INIT.format(modules=" ".join(MODULES)))
    (root / "init").chmod(0o755)
    names = subprocess.run(["find", "."], cwd=root, capture_output=True, text=True, check=True).stdout
    archive = subprocess.run(["cpio", "-o", "-H", "newc", "--quiet"], input=names.encode(), cwd=root,
                             capture_output=True, check=True).stdout
    image = work / "base-initrd.img"
    for level in range(1, 10):
        # gzip, not xz: an xz stream is always a multiple of 4 bytes long, and the point is an odd length.
        compressed = gzip.compress(archive, compresslevel=level, mtime=0)
        if len(compressed) % 4:
            image.write_bytes(compressed)
            return image
    pytest.skip("every gzip level gave an aligned length")


@pytest.mark.boot
def test_boot_real_kernel_on_qemu_system(qemu_system: str, tmp_path: Path) -> None:
    kernels = sorted(Path("/boot").glob("vmlinuz-*"))
    if not kernels:
        pytest.skip("needs a host kernel in /boot")
    started = time.monotonic()
    message = f"hello-{os.getpid()}"
    base = _busybox_initramfs(kernels[-1], tmp_path)
    initrd = tmp_path / "initrd-injected.img"
    inject_files(base, initrd, {"message.txt": message.encode()})
    run_dir, keep = tmp_path / "run", tmp_path / "kept"

    conn = open_connection(qemu_system)
    try:
        domain_type, _warning = pick_domain_type(conn, "auto")
        with RunResources(conn, run_id="boot1", profile="busybox", run_dir=run_dir, keep_disk_in=keep) as res:
            spec = DomainSpec(
                name="ksbuild-busybox-boot1", run_id="boot1", profile="busybox", domain_type=domain_type,
                memory_mib=256, vcpus=1, disk_path=res.create_disk(0.1),
                kernel=res.stage_file(kernels[-1], "vmlinuz"), initrd=res.stage_file(initrd, "initrd.img"),
                cmdline="console=ttyS0 panic=-1 quiet", cdrom=None, network=None,
                console_log=res.log_path("console"), installer_log=res.log_path("installer"),
                on_reboot="destroy",
            )
            res.start(spec)
            stopped_after = _wait_until_stopped(conn, spec.name, timeout=90)
            pool_volumes = {v.name() for v in res.pool.listAllVolumes(0)}
        assert f"CONSOLE-LINE {message}" in (run_dir / "console.log").read_text(errors="replace")
        assert f"PORT-LINE {message}" in (run_dir / "installer.log").read_text(errors="replace")
        assert spec.name not in {d.name() for d in conn.listAllDomains(0)}
        prefix = volume_name(RunOwner.current(), "boot1", "")
        assert any(name.startswith(prefix) for name in pool_volumes)  # they existed during the run
        res.pool.refresh(0)
        assert not [v.name() for v in res.pool.listAllVolumes(0) if v.name().startswith(prefix)]
        assert res.kept_disk is not None and res.kept_disk.read_bytes()[:4] == b"QFI\xfb"
    finally:
        conn.close()
    elapsed = time.monotonic() - started
    print(f"qemu:///system boot test: {elapsed:.1f} s (domain stopped after {stopped_after:.1f} s)")
