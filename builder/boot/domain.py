"""Libvirt domain XML for boot-test VMs: install phase (direct kernel boot) and verify phase (boot from disk),
and the pure parts of a VM's lifecycle: who owns it, which accelerator it gets, how it stopped.

Nothing here imports libvirt (libvirt_conn.py talks to it), so rendering and tests run without it.
"""

from __future__ import annotations

import os
import re
import socket
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from builder.errors import BadInput

KSBUILD_XMLNS = "https://ksbuild.dev/xmlns/run/1"
QEMU_XMLNS = "http://libvirt.org/schemas/domain/qemu/1.0"
# The link a verification VM's NICs report, as a server's NICs do. virtio-net reports none unless qemu is told
# one, and the bonding driver keeps every slave of an 802.3ad, balance-tlb or balance-alb bond down while it cannot
# read a speed and duplex ("failed to get link speed/duplex"). libvirt has no element for it: qemu's -global.
VERIFY_NIC_LINK = ("virtio-net-pci.speed=10000", "virtio-net-pci.duplex=full")
DOMAIN_NAME_PREFIX = "ksbuild-"
ANACONDA_LOG_PORT = "org.fedoraproject.anaconda.log.0"

DomainType = Literal["kvm", "qemu"]
Accel = Literal["auto", "kvm", "tcg"]
_MAC_RE = re.compile(r"^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$")
_RUN_TAG = f"{{{KSBUILD_XMLNS}}}run"


@dataclass(frozen=True)
class NetworkSpec:
    kind: Literal["network", "bridge", "user"]
    source: str | None  # network name or bridge name
    mac: str | None


@dataclass(frozen=True)
class RunOwner:
    """The ksbuild process that started a VM, so a later run can tell whether the VM is abandoned."""

    host: str
    pid: int
    # Process start time in clock ticks after boot (/proc/PID/stat field 22); tells a reused pid apart.
    # 0 when unknown.
    started: int

    @classmethod
    def current(cls) -> RunOwner:
        pid = os.getpid()
        return cls(socket.gethostname(), pid, _process_start_ticks(pid))

    def is_gone(self) -> bool:
        """True only when the owner ran on this host and its process no longer exists."""
        if self.host != socket.gethostname():
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            pass  # exists, owned by another user
        return self.started != 0 and _process_start_ticks(self.pid) not in (0, self.started)


def _process_start_ticks(pid: int) -> int:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return 0
    # The command name (field 2) may hold spaces and parentheses: count fields after the last ')'.
    fields = stat.rsplit(")", 1)[-1].split()
    return int(fields[19]) if len(fields) > 19 and fields[19].isascii() and fields[19].isdigit() else 0


@dataclass(frozen=True)
class RunTag:
    """What a domain's ksbuild metadata records."""

    run_id: str
    profile: str
    owner: RunOwner | None


@dataclass(frozen=True)
class DomainSpec:
    name: str  # "ksbuild-<profile>-<run-id>"
    run_id: str
    profile: str
    domain_type: DomainType
    memory_mib: int
    vcpus: int
    disk_path: str  # the qcow2 volume's path (on the libvirt host)
    kernel: str | None  # direct kernel boot (install phase); None → boot from disk (verify phase)
    initrd: str | None
    cmdline: str | None
    cdrom: str | None  # ISO path, read-only
    network: NetworkSpec | None
    console_log: str | None  # serial console captured to this file; None → a pty nobody needs to read
    installer_log: str | None  # virtio port org.fedoraproject.anaconda.log.0 backed by this file
    on_reboot: Literal["destroy", "restart"]
    machine: str = "pc"
    owner: RunOwner | None = None  # recorded in the metadata for clean_stale; filled in when started
    # Give a TCG guest AMD-V (svm), which qemu emulates: a hypervisor profile's %pre insists on vmx/svm.
    guest_virt: bool = False
    extra_disk_paths: tuple[str, ...] = ()  # vdb, vdc, ...: for profiles that span disks (RAID)
    # NICs after `network`: in a verification boot, one per NIC the profile names, each on its own user-mode link.
    nics: tuple[NetworkSpec, ...] = ()

    def __post_init__(self) -> None:
        if self.memory_mib <= 0 or self.vcpus <= 0:
            raise BadInput(f"domain {self.name}: memory and vcpus must be positive")
        if self.kernel is None and (self.initrd is not None or self.cmdline is not None):
            raise BadInput(f"domain {self.name}: an initrd or kernel command line needs a kernel")

    def to_xml(self) -> str:
        """The domain XML: deterministic, indented, attributes in a fixed order."""
        domain = ET.Element("domain", {"type": self.domain_type})
        _text(domain, "name", self.name)
        metadata = ET.SubElement(domain, "metadata")
        # Written with a literal prefix and declaration so the namespace is declared on the element itself,
        # as libvirt writes metadata back, instead of ElementTree's ns0: prefix on the root element.
        ET.SubElement(metadata, "ksbuild:run", {"xmlns:ksbuild": KSBUILD_XMLNS, **_run_attributes(self)})
        _text(domain, "memory", str(self.memory_mib), unit="MiB")
        _text(domain, "vcpu", str(self.vcpus))
        self._add_os(domain)
        features = ET.SubElement(domain, "features")
        # Without ACPI the guest's poweroff only halts the CPU and the VM never stops.
        ET.SubElement(features, "acpi")
        if self.domain_type == "kvm":
            # host-model needs KVM; under TCG qemu's default CPU model is the one that works.
            ET.SubElement(domain, "cpu", {"mode": "host-model"})
        elif self.guest_virt:
            cpu = ET.SubElement(domain, "cpu", {"mode": "custom", "match": "exact", "check": "none"})
            _text(cpu, "model", "qemu64", fallback="allow")
            ET.SubElement(cpu, "feature", {"policy": "require", "name": "svm"})
        ET.SubElement(domain, "clock", {"offset": "utc"})
        _text(domain, "on_poweroff", "destroy")
        _text(domain, "on_reboot", self.on_reboot)
        _text(domain, "on_crash", "destroy")
        self._add_devices(ET.SubElement(domain, "devices"))
        if self.nics:
            # Literal prefix and declaration on the element, as for the metadata above.
            commandline = ET.SubElement(domain, "qemu:commandline", {"xmlns:qemu": QEMU_XMLNS})
            for setting in VERIFY_NIC_LINK:
                ET.SubElement(commandline, "qemu:arg", {"value": "-global"})
                ET.SubElement(commandline, "qemu:arg", {"value": setting})
        ET.indent(domain, space="  ")
        return ET.tostring(domain, encoding="unicode") + "\n"

    def _add_os(self, domain: ET.Element) -> None:
        os_element = ET.SubElement(domain, "os")
        _text(os_element, "type", "hvm", arch="x86_64", machine=self.machine)
        if self.kernel is None:
            ET.SubElement(os_element, "boot", {"dev": "hd"})
            return
        _text(os_element, "kernel", self.kernel)
        if self.initrd is not None:
            _text(os_element, "initrd", self.initrd)
        if self.cmdline is not None:
            _text(os_element, "cmdline", self.cmdline)

    def _add_devices(self, devices: ET.Element) -> None:
        disk = ET.SubElement(devices, "disk", {"type": "file", "device": "disk"})
        # cache=unsafe ignores the guest's flushes: rpm and anaconda fsync constantly, and a test disk
        # is worthless after a host crash anyway. Data still reaches the file when qemu exits.
        ET.SubElement(disk, "driver", {"name": "qemu", "type": "qcow2", "cache": "unsafe"})
        ET.SubElement(disk, "source", {"file": self.disk_path})
        ET.SubElement(disk, "target", {"dev": "vda", "bus": "virtio"})
        for index, path in enumerate(self.extra_disk_paths, start=1):
            extra = ET.SubElement(devices, "disk", {"type": "file", "device": "disk"})
            ET.SubElement(extra, "driver", {"name": "qemu", "type": "qcow2", "cache": "unsafe"})
            ET.SubElement(extra, "source", {"file": path})
            ET.SubElement(extra, "target", {"dev": f"vd{chr(ord('a') + index)}", "bus": "virtio"})
        if self.cdrom is not None:
            cdrom = ET.SubElement(devices, "disk", {"type": "file", "device": "cdrom"})
            ET.SubElement(cdrom, "driver", {"name": "qemu", "type": "raw"})
            ET.SubElement(cdrom, "source", {"file": self.cdrom})
            # q35 has no IDE controller; i440fx ("pc") has one built in and needs no AHCI device.
            bus, dev = ("sata", "sda") if "q35" in self.machine else ("ide", "hda")
            ET.SubElement(cdrom, "target", {"dev": dev, "bus": bus})
            ET.SubElement(cdrom, "readonly")
        for network in (self.network, *self.nics):
            if network is not None:
                self._add_interface(devices, network)
        if self.console_log is not None:
            serial = ET.SubElement(devices, "serial", {"type": "file"})
            ET.SubElement(serial, "source", {"path": self.console_log})
            ET.SubElement(serial, "target", {"port": "0"})
            console = ET.SubElement(devices, "console", {"type": "file"})
            ET.SubElement(console, "source", {"path": self.console_log})
            ET.SubElement(console, "target", {"type": "serial", "port": "0"})
        else:
            serial = ET.SubElement(devices, "serial", {"type": "pty"})
            ET.SubElement(serial, "target", {"port": "0"})
            console = ET.SubElement(devices, "console", {"type": "pty"})
            ET.SubElement(console, "target", {"type": "serial", "port": "0"})
        if self.installer_log is not None:
            # A file, not a unix socket: a socket nobody reads fills up and blocks the guest's rsyslog.
            channel = ET.SubElement(devices, "channel", {"type": "file"})
            ET.SubElement(channel, "source", {"path": self.installer_log})
            ET.SubElement(channel, "target", {"type": "virtio", "name": ANACONDA_LOG_PORT})
        # Under TCG a guest gathers entropy slowly; key generation in %post could stall without this.
        rng = ET.SubElement(devices, "rng", {"model": "virtio"})
        _text(rng, "backend", "/dev/urandom", model="random")
        ET.SubElement(devices, "memballoon", {"model": "none"})

    @staticmethod
    def _add_interface(devices: ET.Element, network: NetworkSpec) -> None:
        interface = ET.SubElement(devices, "interface", {"type": network.kind})
        if network.mac is not None:
            ET.SubElement(interface, "mac", {"address": network.mac})
        if network.kind == "network":
            ET.SubElement(interface, "source", {"network": network.source or "default"})
        elif network.kind == "bridge":
            ET.SubElement(interface, "source", {"bridge": network.source or ""})
        ET.SubElement(interface, "model", {"type": "virtio"})


def _text(parent: ET.Element, tag: str, text: str, **attributes: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attributes)
    element.text = text
    return element


def _run_attributes(spec: DomainSpec) -> dict[str, str]:
    attributes = {"run-id": spec.run_id, "profile": spec.profile}
    if spec.owner is not None:
        owner = spec.owner
        attributes |= {"host": owner.host, "pid": str(owner.pid), "pid-start": str(owner.started)}
    return attributes


def parse_run_metadata(element_xml: str) -> RunTag | None:
    """Read back the ksbuild metadata element (as libvirt's virDomainGetMetadata returns it)."""
    try:
        element = ET.fromstring(element_xml)  # noqa: S314  # comes from the libvirt daemon, not a user
    except ET.ParseError:
        return None
    if element.tag not in ("run", _RUN_TAG) or "run-id" not in element.attrib:
        return None
    owner = None
    host, pid, started = element.get("host"), element.get("pid", ""), element.get("pid-start", "0")
    if host is not None and all(v.isascii() and v.isdigit() for v in (pid, started)):
        owner = RunOwner(host, int(pid), int(started))
    return RunTag(element.get("run-id", ""), element.get("profile", ""), owner)


def local_cpu_flags() -> set[str]:
    """CPU flags of this machine (vmx/svm tell whether KVM can work), from /proc/cpuinfo."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return set()
    flags: set[str] = set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags":
            flags.update(value.split())
    return flags


def choose_domain_type(
    capabilities_xml: str, cpu_flags: set[str], accel: Accel
) -> tuple[DomainType, str | None]:
    """Pick the libvirt domain type from the host's capabilities and CPU flags: (type, warning)."""
    offered: set[str] = set()
    root = ET.fromstring(capabilities_xml)  # noqa: S314  # libvirt's own XML
    for guest in root.findall("guest"):
        if guest.findtext("os_type") != "hvm":
            continue
        for arch in guest.findall("arch"):
            if arch.get("name") == "x86_64":
                offered.update(d.get("type", "") for d in arch.findall("domain"))
    if not offered & {"kvm", "qemu"}:
        raise BadInput("the libvirt host offers no x86_64 hvm guests (is qemu-system-x86 installed there?)")
    has_vt = bool(cpu_flags & {"vmx", "svm"})
    if accel == "tcg":
        if "qemu" not in offered:
            raise BadInput("--accel tcg: the libvirt host offers no qemu (TCG) domain type")
        return "qemu", None
    if accel == "kvm":
        if "kvm" not in offered:
            raise BadInput("--accel kvm: the libvirt host offers no kvm domain type (no /dev/kvm there?)")
        warning = None if has_vt else "--accel kvm: the CPU shows no vmx/svm flag; KVM guests may hang"
        return "kvm", warning
    if "kvm" in offered and has_vt:
        return "kvm", None
    reason = "the CPU shows no vmx/svm flag" if "kvm" in offered else "the host offers no kvm domain type"
    return "qemu", f"KVM not used ({reason}): software emulation (TCG), installs take much longer"


def parse_network_option(value: str) -> NetworkSpec | None:
    """virt-install-like --network: "none", "user", "network=NAME", "bridge=NAME", each with an optional
    ",mac=52:54:00:..." suffix (except "none")."""
    head, *options = [part.strip() for part in value.split(",")]
    mac = None
    for option in options:
        key, _, mac_value = option.partition("=")
        if key != "mac" or not _MAC_RE.match(mac_value):
            raise BadInput(f"--network {value}: expected ',mac=XX:XX:XX:XX:XX:XX', got {option!r}")
        mac = mac_value.lower()
    if head == "none":
        if options:
            raise BadInput(f"--network {value}: 'none' takes no options")
        return None
    if head == "user":
        return NetworkSpec("user", None, mac)
    kind, _, source = head.partition("=")
    if kind == "network" and source:
        return NetworkSpec("network", source, mac)
    if kind == "bridge" and source:
        return NetworkSpec("bridge", source, mac)
    raise BadInput(f"--network {value}: expected none, user, network=NAME or bridge=NAME")
