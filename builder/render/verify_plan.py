"""What a boot test verifies on the installed host, derived from the profile.

Rendered into a one-shot script by snippets/post-verify.j2 (only for boot-test builds); the host side parses the
report it prints (builder.boot.report).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from builder.contract import SEALED_IFCFG_KEYS, SEALED_KEYFILE_KEYS
from builder.model.network import Network
from builder.model.profile import Profile
from builder.model.types import kernel_arg_name
from builder.render.ifcfg import IfcfgFile, ifcfg_files
from builder.render.keyfile import Keyfile, keyfiles
from builder.render.network_plan import addressed_devices, gateway_holder
from builder.render.target_plan import (
    nested_modules,
    nested_options,
    packages_install,
    services_disabled,
    services_enabled,
    target_of,
)
from builder.render.views import keyboard_view, repo_files

# A generated MAC (for a NIC the profile does not pin) is QEMU's prefix and three bytes from the NIC's name: the
# kickstart's udev rules and the verification VM agree, run after run.
GENERATED_MAC_PREFIX = "52:54:00"


@dataclass(frozen=True)
class NicExpectation:
    """A NIC the profile names, and the MAC the verification VM gives it (the pinned one, or a generated one)."""

    name: str
    mac: str

    @property
    def udev_rule(self) -> str:
        """The udev rule that gives the NIC with this MAC this name: a physical device (it has a driver) of type
        ethernet, so a bond or VLAN that takes the NIC's MAC is never renamed."""
        return (f'SUBSYSTEM=="net", ACTION=="add", DRIVERS=="?*", ATTR{{type}}=="1", ATTR{{address}}=="{self.mac}", '
                f'NAME="{self.name}"')


@dataclass(frozen=True)
class BridgeExpectation:
    name: str
    stp: bool
    delay: int  # seconds, what the bridge's file says (DELAY=, or forward-delay= in a keyfile)
    ports: tuple[str, ...]
    # The bridge's own file and the key that holds its delay: the ifcfg file, or the EL9 keyfile.
    config_path: str = ""
    delay_key: str = "DELAY"

    @property
    def config_name(self) -> str:
        return self.config_path.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class BondExpectation:
    name: str
    mode: str
    miimon: int | None
    members: tuple[str, ...] = ()
    primary: str | None = None


@dataclass(frozen=True)
class AddressExpectation:
    """A device that holds an address: a static one (with prefix), or one from DHCP (`address` None)."""

    device: str
    address: str | None

    @property
    def ip(self) -> str | None:
        return self.address.split("/", 1)[0] if self.address is not None else None


@dataclass(frozen=True)
class RouteExpectation:
    """The default route: via the static gateway on its device, or through DHCP on one of `devices`."""

    gateway: str | None
    devices: tuple[str, ...]


@dataclass(frozen=True)
class VlanExpectation:
    device: str
    id: int
    parent: str

    @property
    def config_pattern(self) -> str:
        """The device's line in /proc/net/vlan/config, as an extended regex."""
        return rf"^{re.escape(self.device)} +\| +{self.id} +\| +{re.escape(self.parent)}$"


@dataclass(frozen=True)
class FileExpectation:
    name: str        # device
    path: str
    sha256: str
    kind: str = "ifcfg"   # "ifcfg" or "keyfile": the check's name prefix
    mode: str = "0644"


@dataclass(frozen=True)
class KeyboardExpectation:
    """What anaconda (through systemd-localed) leaves in /etc/vconsole.conf and 00-keyboard.conf."""

    keymap: str
    x_layout: str        # XkbLayout: the layouts, comma-separated
    x_variant: str       # XkbVariant: their variants in the same places ("" when none has one)
    x_options: str       # XkbOptions: the switch options ("" when none)


@dataclass(frozen=True)
class RepoExpectation:
    """A .repo file: its sha256 over every line but the secret ones (the verifier never holds a password)."""

    name: str
    path: str
    sha256: str
    mode: str


@dataclass(frozen=True)
class VerifyPlan:
    profile: str
    hostname: str
    selinux: str
    firewall_enabled: bool
    services_enabled: tuple[str, ...]
    services_disabled: tuple[str, ...]
    packages: tuple[str, ...]
    nested: bool
    nested_modules: tuple[str, ...]
    # The lines /etc/modprobe.d/kvm-nested.conf must hold: (module, 0|1); none where the kernel's default is wanted.
    nested_options: tuple[tuple[str, int], ...]
    default_network: str
    bridges: tuple[BridgeExpectation, ...]
    bonds: tuple[BondExpectation, ...]
    vlans: tuple[VlanExpectation, ...]
    ifcfg: tuple[FileExpectation, ...]
    # Each word must be on the installed kernel's command line (bootloader --append, the kdump addon's
    # crashkernel=); no word may start with one of `cmdline_absent` + "=".
    cmdline: tuple[str, ...] = ()
    cmdline_absent: tuple[str, ...] = ()
    keyboard: KeyboardExpectation | None = None
    repos: tuple[RepoExpectation, ...] = ()
    repos_absent: tuple[str, ...] = ()  # names of repos with file: false
    kdump: bool | None = None  # addons.kdump.enabled, when the profile configures kdump
    after: str = "network.target libvirtd.service"  # the verification unit starts after these
    # EL9: the devices NetworkManager must show connected, each with ksbuild's connection of the same name.
    nm_devices: tuple[str, ...] = ()
    nics: tuple[NicExpectation, ...] = ()
    addresses: tuple[AddressExpectation, ...] = ()
    default_route: RouteExpectation | None = None

    @property
    def nic_rules(self) -> str:
        """The installed system's udev rules in a boot test (contract.TEST_NIC_RULES): each NIC named as the
        profile names it; empty without NICs."""
        return "".join(f"{nic.udev_rule}\n" for nic in self.nics)


def sealed_text(file: IfcfgFile | Keyfile, seal: bool) -> str:
    if not seal:
        return file.text
    sealed = SEALED_KEYFILE_KEYS if file.kind == "keyfile" else SEALED_IFCFG_KEYS
    return "".join(line + "\n" for line in file.text.splitlines() if line.split("=", 1)[0] not in sealed)


def keyboard_expectation(profile: Profile) -> KeyboardExpectation:
    view = keyboard_view(profile)
    layouts = [x.split(" (", 1)[0] for x in view.xlayouts]
    variants = [x.split(" (", 1)[1].rstrip(")") if " (" in x else "" for x in view.xlayouts]
    return KeyboardExpectation(view.vckeymap, ",".join(layouts), ",".join(variants) if any(variants) else "",
                               ",".join(view.switch))


def cmdline_expectation(profile: Profile) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(words that must be on /proc/cmdline, argument names that must not)."""
    kdump = profile.addons.kdump
    words = list(profile.storage.bootloader.append)
    if kdump is not None:
        words = [w for w in words if kernel_arg_name(w) != "crashkernel"]
        if kdump.crashkernel is not None:
            words.append(kdump.crashkernel)
    absent = ("crashkernel",) if kdump is not None and not kdump.enabled else ()
    return tuple(dict.fromkeys(words)), absent


def repo_expectations(profile: Profile) -> tuple[tuple[RepoExpectation, ...], tuple[str, ...]]:
    files = repo_files(profile, with_secrets=False)
    present = tuple(
        RepoExpectation(f.name, f.path, hashlib.sha256(f.public_text.encode()).hexdigest(), f.mode) for f in files
    )
    written = {f.name for f in files}
    absent = tuple(r.name for r in profile.install.repos if r.name not in written)
    return present, absent


def _generated_mac(name: str, taken: set[str]) -> str:
    seed = name
    while True:
        digest = hashlib.sha256(seed.encode()).digest()
        mac = GENERATED_MAC_PREFIX + "".join(f":{byte:02x}" for byte in digest[:3])
        if mac not in taken:
            return mac
        seed += "'"


def verification_nics(profile: Profile) -> tuple[NicExpectation, ...]:
    """Every NIC the profile names (interfaces, then bond members not listed there), with its MAC in the
    verification VM: the pinned one, else one generated from the name."""
    net = profile.network
    listed = [nic.name for nic in net.interfaces]
    names = listed + [m for bond in net.bonds for m in bond.members if m not in listed]
    pinned = {nic.name: nic.mac for nic in net.interfaces if nic.mac is not None}
    taken = set(pinned.values())
    nics = []
    for name in dict.fromkeys(names):
        mac = pinned.get(name)
        if mac is None:
            mac = _generated_mac(name, taken)
            taken.add(mac)
        nics.append(NicExpectation(name, mac))
    return tuple(nics)


def _addresses(net: Network) -> tuple[AddressExpectation, ...]:
    return tuple(
        AddressExpectation(name, None if device.ipv4.dhcp else str(device.ipv4.address))
        for name, device in addressed_devices(net)
        if device.ipv4 is not None
    )


def _default_route(net: Network, addresses: tuple[AddressExpectation, ...]) -> RouteExpectation | None:
    holder = gateway_holder(net)
    if holder is not None:
        gateway = next(d.ipv4.gateway for n, d in addressed_devices(net) if n == holder and d.ipv4 is not None)
        return RouteExpectation(str(gateway), (holder,))
    # No static gateway: the route comes from DHCP, on any device that asked for an address that way.
    dhcp = tuple(a.device for a in addresses if a.address is None)
    return RouteExpectation(None, dhcp) if dhcp else None


def verify_plan(profile: Profile, name: str) -> VerifyPlan:
    keyfile_target = target_of(profile).network_files == "keyfile"
    written: tuple[IfcfgFile | Keyfile, ...] = keyfiles(profile) if keyfile_target else ifcfg_files(profile)
    written_paths = {f.device: f.path for f in written}
    bridges = tuple(
        BridgeExpectation(
            name=bridge.name,
            stp=bridge.stp,
            delay=bridge.forward_delay,
            ports=profile.network.bridge_ports(bridge.name),
            config_path=written_paths[bridge.name],
            delay_key="forward-delay" if keyfile_target else "DELAY",
        )
        for bridge in profile.network.bridges
    )
    addresses = _addresses(profile.network)
    cmdline, cmdline_absent = cmdline_expectation(profile)
    repos, repos_absent = repo_expectations(profile)
    files = tuple(
        FileExpectation(f.device, f.path, hashlib.sha256(sealed_text(f, profile.seal).encode()).hexdigest(), f.kind,
                        f.mode)
        for f in written
    )
    return VerifyPlan(
        profile=name,
        hostname=profile.system.hostname,
        selinux=profile.system.selinux,
        firewall_enabled=profile.system.firewall.enabled,
        services_enabled=services_enabled(profile),
        services_disabled=services_disabled(profile),
        packages=packages_install(profile),
        nested=profile.virtualization.nested,
        nested_modules=nested_modules(profile),
        nested_options=nested_options(profile),
        after=("network.target libvirtd.service" if target_of(profile).libvirt_daemons == "monolithic"
               else "network.target virtqemud.service virtnetworkd.service virtstoraged.service"),
        default_network=profile.virtualization.default_network,
        bridges=bridges,
        bonds=tuple(BondExpectation(b.name, b.mode, b.options.miimon, b.members, b.options.primary)
                    for b in profile.network.bonds),
        vlans=tuple(VlanExpectation(v.device, v.id, v.parent) for v in profile.network.vlans),
        ifcfg=files,
        cmdline=cmdline,
        cmdline_absent=cmdline_absent,
        keyboard=keyboard_expectation(profile),
        repos=repos,
        repos_absent=repos_absent,
        kdump=profile.addons.kdump.enabled if profile.addons.kdump is not None else None,
        nics=verification_nics(profile),
        addresses=addresses,
        default_route=_default_route(profile.network, addresses),
        nm_devices=tuple(f.device for f in written) if keyfile_target else (),
    )
