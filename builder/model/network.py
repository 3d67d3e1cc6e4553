"""The `network:` part of a profile: NICs, bonds, VLANs, bridges, name servers, raw ifcfg extras.

Devices stack one way: NIC → bond (`members:`) → VLAN (`parent:`) → bridge (`bridge:` on any of them).
"""

from __future__ import annotations

import difflib
import re
from typing import Annotated, Literal, Self

from pydantic import AfterValidator, Field, ValidationInfo, field_validator, model_validator

from builder.errors import cut, shown
from builder.model.types import (
    AbsolutePath,
    Bool,
    Int,
    InterfaceName,
    IPv4,
    IPv4WithPrefix,
    Line,
    MacAddress,
    Model,
    mac_address,
)

# Keys initscripts reads from ifcfg files (sysconfig.txt of initscripts 9.49, CentOS 7).
KNOWN_IFCFG_KEYS: frozenset[str] = frozenset((
    "ARP", "ARPCHECK", "BONDING_MASTER", "BONDING_OPTS", "BOOTPROTO", "BRIDGE", "BRIDGING_OPTS", "BROWSER_ONLY",
    "DEFROUTE", "DELAY", "DEVICE", "DHCP_HOSTNAME", "DNS1", "DNS2", "DNS3", "DOMAIN", "ETHTOOL_OPTS",
    "GATEWAY", "HWADDR", "IPADDR", "IPV4_FAILURE_FATAL", "IPV6ADDR", "IPV6ADDR_SECONDARIES", "IPV6INIT",
    "IPV6_ADDR_GEN_MODE", "IPV6_AUTOCONF", "IPV6_DEFAULTGW", "IPV6_FAILURE_FATAL", "IPV6_PRIVACY",
    "LINKDELAY", "MACADDR", "MASTER", "METRIC", "MTU", "NAME", "NETMASK", "NM_CONTROLLED", "NOZEROCONF",
    "ONBOOT", "ONPARENT", "PEERDNS", "PEERROUTES", "PERSISTENT_DHCLIENT", "PHYSDEV", "PREFIX", "PROXY_METHOD", "SLAVE",
    "STP", "TYPE", "USERCTL", "UUID", "VLAN", "VLAN_ID", "ZONE",
))
# Keys ksbuild writes from typed profile fields; setting them raw would contradict those fields.
MANAGED_IFCFG_KEYS: frozenset[str] = frozenset((
    "DEVICE", "TYPE", "BOOTPROTO", "IPADDR", "PREFIX", "NETMASK", "GATEWAY", "DNS1", "DNS2", "DNS3",
    "BRIDGE", "STP", "DELAY", "ONBOOT", "NM_CONTROLLED", "HWADDR", "MTU", "DEFROUTE", "IPV6INIT",
    "BONDING_MASTER", "BONDING_OPTS", "MASTER", "SLAVE", "VLAN", "VLAN_ID", "PHYSDEV",
))
_IFCFG_VALUE = re.compile(r"[A-Za-z0-9 _.,:/=+@%-]*")
# What initscripts can read as a variable name: ifcfg files are sourced by the shell.
_IFCFG_KEY = re.compile(r"[A-Z][A-Z0-9_]{0,63}")
# The kernel's default MTU for Ethernet, which a device without `mtu:` keeps.
DEFAULT_MTU = 1500


def _extra_ifcfg(values: dict[str, str]) -> dict[str, str]:
    """Any key that is syntactically an ifcfg key is accepted (scripts and tools read their own keys from these
    files); the keys ksbuild writes are refused. A key initscripts does not document is a warning, from
    builder.checks.network, not an error here."""
    problems = []
    for key, value in values.items():
        if key in MANAGED_IFCFG_KEYS:
            problems.append(f"{cut(key)} is written by ksbuild from the typed fields (address, bridge, mtu, ...)")
        elif not _IFCFG_KEY.fullmatch(key):
            close = difflib.get_close_matches(key.upper(), sorted(KNOWN_IFCFG_KEYS), n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]}?" if close else ""
            problems.append(f"{cut(key)} is not an ifcfg key (UPPERCASE letters, digits and _, a letter first){hint}")
        elif not _IFCFG_VALUE.fullmatch(value):
            problems.append(f"{cut(key)}: value may only hold letters, digits, spaces and _ . , : / = + @ % -")
    if problems:
        raise ValueError("; ".join(problems))
    return values


ExtraIfcfg = Annotated[dict[Annotated[str, Field(pattern=r"^\S+$")], Line], AfterValidator(_extra_ifcfg)]
Mtu = Annotated[Int, Field(ge=576, le=9216)]
BOOTIF = "bootif"


def _mac_shaped(value: str) -> bool:
    """An install_device value written as a MAC (52:54:00:12:34:56), not as a device name."""
    return ":" in value and len(value) == 17


def _install_device(value: str) -> str:
    """anaconda 21 (network.py ks_spec_to_device_name) takes --device as a kernel name, a MAC (any value with a
    ':'), `bootif` (the NIC whose MAC pxelinux put in BOOTIF=) or `link`; `link` is left out: which NIC has a
    carrier first is not something a profile can promise."""
    if value == BOOTIF:
        return value
    if _mac_shaped(value):
        return mac_address(value)
    if value == "link":
        raise ValueError("link (the first NIC with a carrier) is not supported: name the NIC, give its MAC, or "
                         "use bootif (the NIC the host PXE-booted from)")
    if not _INTERFACE.fullmatch(value):
        raise ValueError(f"{shown(value)} is not a device name (1-15 letters, digits, _ . : -), a MAC address such as "
                         "52:54:00:12:34:56, or bootif")
    return value


_INTERFACE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:-]{0,14}")
InstallDevice = Annotated[Line, AfterValidator(_install_device)]


class IPv4Config(Model):
    """A static address (with optional gateway) or DHCP."""

    dhcp: Bool = Field(False, description="Get the address by DHCP.")
    address: IPv4WithPrefix | None = Field(None, description="Static address with prefix, e.g. 10.0.0.5/24.")
    gateway: IPv4 | None = Field(None, description="Default gateway; must lie inside the address's subnet.")

    @model_validator(mode="after")
    def _one_method(self) -> Self:
        if self.dhcp and (self.address is not None or self.gateway is not None):
            raise ValueError("use either dhcp: true or a static address/gateway, not both")
        if not self.dhcp and self.address is None:
            raise ValueError("needs an address (a.b.c.d/nn) or dhcp: true")
        return self


class _Device(Model):
    """What every host network device (NIC, bond, VLAN, bridge) can set in its ifcfg file."""

    ipv4: IPv4Config | None = Field(None, description="The device's own address; none: up without an address.")
    ipv6: Bool | None = Field(None, description="IPv6 on this device (IPV6INIT=); default: network.ipv6.")
    mtu: Mtu | None = Field(None, description="MTU in bytes.")
    onboot: Bool = Field(True, description="Bring the device up at boot.")
    extra_ifcfg: ExtraIfcfg = Field(default_factory=dict, description="More ifcfg keys, e.g. ETHTOOL_OPTS.")


class _PortCapable(_Device):
    """A device that can be a bridge port instead of carrying an address (NIC, bond, VLAN)."""

    bridge: InterfaceName | None = Field(None, description="Name of the bridge this device is a port of.")


class Interface(_PortCapable):
    """A physical NIC: a bridge port, a bond member (named by the bond), or a device with an address."""

    name: InterfaceName = Field(description="Kernel name of the NIC, e.g. enp2s0f0.")
    mac: MacAddress | None = Field(None, description="Pin the ifcfg file to this MAC (HWADDR=).")


BondMode = Literal[
    "balance-rr", "active-backup", "balance-xor", "broadcast", "802.3ad", "balance-tlb", "balance-alb"
]
# Bonding options that only mean something in some modes (kernel Documentation/networking/bonding.txt, 3.10).
MODES_OF_OPTION: dict[str, tuple[str, ...]] = {
    "lacp_rate": ("802.3ad",),
    "primary": ("active-backup", "balance-tlb", "balance-alb"),
    "xmit_hash_policy": ("balance-xor", "802.3ad"),
}


class BondOptions(Model):
    """Bonding driver options, written to BONDING_OPTS after `mode=`."""

    miimon: Int = Field(100, ge=0, le=60000, description="Link check interval in ms (0: no link monitoring).")
    lacp_rate: Literal["slow", "fast"] | None = Field(None, description="LACPDU rate (802.3ad only).")
    primary: InterfaceName | None = Field(
        None, description="Preferred member (active-backup, balance-tlb, balance-alb only)."
    )
    xmit_hash_policy: Literal["layer2", "layer2+3", "layer3+4", "encap2+3", "encap3+4"] | None = Field(
        None, description="How traffic is spread over members (balance-xor, 802.3ad only)."
    )


class Bond(_PortCapable):
    """A bonding device over NICs: a bridge port, a VLAN parent, or a device with an address."""

    name: InterfaceName = Field(description="Bond device name, e.g. bond0.")
    members: tuple[InterfaceName, ...] = Field(description="NICs enslaved to this bond (MASTER=, SLAVE=yes).")
    mode: BondMode = Field("active-backup", description="Bonding mode.")
    options: BondOptions = Field(BondOptions(), description="miimon, lacp_rate, primary, xmit_hash_policy.")
    mtu: Mtu | None = Field(None, description="MTU in bytes (the bond sets it on its members too).")

    @field_validator("members")
    @classmethod
    def _has_members(cls, members: tuple[str, ...]) -> tuple[str, ...]:
        if not members:
            raise ValueError("a bond needs at least one member NIC, e.g. members: [eno1, eno2]")
        return members

    @property
    def bonding_opts(self) -> tuple[tuple[str, str], ...]:
        """Driver options in the order they are written, mode first."""
        opts = self.options
        pairs = [("mode", self.mode), ("miimon", str(opts.miimon))]
        for key, value in (("lacp_rate", opts.lacp_rate), ("primary", opts.primary),
                           ("xmit_hash_policy", opts.xmit_hash_policy)):
            if value is not None:
                pairs.append((key, value))
        return tuple(pairs)


class Vlan(_PortCapable):
    """An 802.1Q VLAN on an interface or a bond: a bridge port or a device with an address."""

    id: Int = Field(ge=1, le=4094, description="VLAN id, 1-4094.")
    parent: InterfaceName = Field(description="The interface or bond that carries the tagged frames.")
    name: InterfaceName | None = Field(
        None, description="Device name: vlan<id> (written with PHYSDEV=); default <parent>.<id>."
    )
    mtu: Mtu | None = Field(None, description="MTU in bytes; at most the parent's.")

    @property
    def device(self) -> str:
        """The kernel name: initscripts derives the VLAN id from it (<parent>.<id> or vlan<id>)."""
        return self.name if self.name is not None else f"{self.parent}.{self.id}"


# The forward delay the kernel gives a new bridge, and the range it keeps it in while STP runs (seconds;
# BR_MIN_FORWARD_DELAY/BR_MAX_FORWARD_DELAY in net/bridge/br_private.h). Without STP a port forwards at once and
# the delay is not used.
KERNEL_FORWARD_DELAY = 15
STP_FORWARD_DELAY = range(2, 31)
MAX_FORWARD_DELAY = 30


class Bridge(_Device):
    """A Linux bridge; its ports are the interfaces, bonds and VLANs that name it."""

    name: InterfaceName = Field(description="Bridge device name, e.g. br0.")
    stp: Bool = Field(True, description="Spanning tree protocol against loops (STP=yes).")
    delay: Int | None = Field(
        None, description="Forward delay in seconds (DELAY=): 2-30 with STP (default 15, the kernel's), "
        "0-30 without (default 0).",
    )
    ipv4: IPv4Config | None = Field(None, description="The host address on this bridge (none: VM-only).")
    mtu: Mtu | None = Field(None, description="MTU in bytes; at most that of each port.")

    @field_validator("delay")
    @classmethod
    def _delay_the_kernel_takes(cls, delay: int | None, info: ValidationInfo) -> int | None:
        if delay is None:
            return None
        if info.data.get("stp") and delay not in STP_FORWARD_DELAY:
            raise ValueError(
                f"with stp: true the forward delay must be 2-30 s, not {delay}: a port on an STP bridge listens "
                "and learns for the delay before it forwards, and the kernel keeps it within 2-30 s "
                "(DELAY=0 becomes 2 s); set 2 for the fastest STP bridge, or stp: false"
            )
        if not 0 <= delay <= MAX_FORWARD_DELAY:
            raise ValueError(f"the forward delay must be 0-30 s, not {delay}")
        return delay

    @property
    def forward_delay(self) -> int:
        """The forward delay the host gets (DELAY=, the kernel's forward_delay): `delay`, or its default."""
        if self.delay is not None:
            return self.delay
        return KERNEL_FORWARD_DELAY if self.stp else 0


Device = Interface | Bond | Vlan | Bridge


class Network(Model):
    """Network devices of the installed host, written as ifcfg files in %post."""

    nameservers: tuple[IPv4, ...] = Field((), max_length=3, description="DNS servers (DNS1.., at most 3).")
    interfaces: tuple[Interface, ...] = Field((), description="Physical NICs.")
    bonds: tuple[Bond, ...] = Field((), description="Bonds (bond0 ...) over NICs named in members.")
    vlans: tuple[Vlan, ...] = Field((), description="802.1Q VLANs on an interface or a bond.")
    bridges: tuple[Bridge, ...] = Field(
        (), description="Bridges (br0 ...); ports are the interfaces, bonds and VLANs that name them."
    )
    install_device: InstallDevice | None = Field(
        None,
        description="Device the installer configures (kickstart `network --device`): a NIC, a bond or a VLAN by "
        "name, a NIC by MAC, or bootif (the NIC the host PXE-booted from); default: the first interface, else "
        "the first bond's first member.",
    )
    install: Literal["profile", "include"] = Field(
        "profile",
        description="profile: the installer's network line comes from the profile; include: a %pre writes it "
        "to `include`, read with %include at install time.",
    )
    include: AbsolutePath = Field(
        "/tmp/network-include", description="install: include: the file a scripts.pre entry writes (%include)."
    )
    ipv6: Bool = Field(False, description="IPv6 (IPV6INIT=) on every device that does not set its own.")

    def ipv6_on(self, device: Device) -> bool:
        return self.ipv6 if device.ipv6 is None else device.ipv6

    @property
    def install_by_hardware(self) -> bool:
        """install_device names the NIC by MAC or as bootif (anaconda resolves both to a NIC), not by its name."""
        wanted = self.install_device
        return wanted is not None and (wanted == BOOTIF or _mac_shaped(wanted))

    def install_nic(self) -> Interface | None:
        """The interface install_device names by hardware: bootif stands for the first interface, a MAC for the
        interface with that mac:. None when install_device names a device by its name, or no interface matches."""
        if not self.install_by_hardware:
            return None
        if self.install_device == BOOTIF:
            return self.interfaces[0] if self.interfaces else None
        return next((i for i in self.interfaces if i.mac == self.install_device), None)

    def bond_of(self, nic: str) -> Bond | None:
        """The bond that has `nic` as a member, if any."""
        return next((bond for bond in self.bonds if nic in bond.members), None)

    def bridge_ports(self, bridge: str) -> tuple[str, ...]:
        """Device names of every interface, bond and VLAN that is a port of `bridge`, in profile order."""
        ports: list[str] = [i.name for i in self.interfaces if i.bridge == bridge]
        ports += [b.name for b in self.bonds if b.bridge == bridge]
        ports += [v.device for v in self.vlans if v.bridge == bridge]
        return tuple(ports)
