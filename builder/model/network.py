"""The `network:` part of a profile: NICs, bridges, name servers, raw ifcfg extras."""

from __future__ import annotations

import difflib
import re
from typing import Annotated, Self

from pydantic import AfterValidator, Field, model_validator

from builder.model.types import IPv4, Bool, Int, InterfaceName, IPv4WithPrefix, Line, MacAddress, Model

# Keys initscripts reads from ifcfg files (sysconfig.txt of initscripts 9.49, CentOS 7).
KNOWN_IFCFG_KEYS: frozenset[str] = frozenset(
    """ARPCHECK BONDING_MASTER BONDING_OPTS BOOTPROTO BRIDGE BRIDGING_OPTS BROWSER_ONLY DEFROUTE DELAY DEVICE
    DHCP_HOSTNAME DNS1 DNS2 DNS3 DOMAIN ETHTOOL_OPTS GATEWAY HWADDR IPADDR IPV4_FAILURE_FATAL IPV6ADDR
    IPV6ADDR_SECONDARIES IPV6INIT IPV6_ADDR_GEN_MODE IPV6_AUTOCONF IPV6_DEFAULTGW IPV6_FAILURE_FATAL IPV6_PRIVACY
    LINKDELAY MACADDR MASTER METRIC MTU NAME NETMASK NM_CONTROLLED NOZEROCONF ONBOOT PEERDNS PEERROUTES
    PERSISTENT_DHCLIENT PHYSDEV PREFIX PROXY_METHOD SLAVE STP TYPE USERCTL UUID VLAN ZONE""".split()
)
# Keys ksbuild writes from typed profile fields; setting them raw would contradict those fields.
MANAGED_IFCFG_KEYS: frozenset[str] = frozenset(
    "DEVICE TYPE BOOTPROTO IPADDR PREFIX NETMASK GATEWAY DNS1 DNS2 DNS3 BRIDGE STP DELAY ONBOOT NM_CONTROLLED "
    "HWADDR MTU DEFROUTE".split()
)
_IFCFG_VALUE = re.compile(r"[A-Za-z0-9 _.,:/=+@%-]*")


def _extra_ifcfg(values: dict[str, str]) -> dict[str, str]:
    problems = []
    for key, value in values.items():
        if key in MANAGED_IFCFG_KEYS:
            problems.append(f"{key} is written by ksbuild from the typed fields (address, bridge, stp, mtu, ...)")
        elif key not in KNOWN_IFCFG_KEYS:
            close = difflib.get_close_matches(key.upper(), sorted(KNOWN_IFCFG_KEYS), n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]}?" if close else ""
            problems.append(f"{key} is not an ifcfg key initscripts knows{hint}")
        elif not _IFCFG_VALUE.fullmatch(value):
            problems.append(f"{key}: value may only hold letters, digits, spaces and _ . , : / = + @ % -")
    if problems:
        raise ValueError("; ".join(problems))
    return values


ExtraIfcfg = Annotated[dict[Annotated[str, Field(pattern=r"^\S+$")], Line], AfterValidator(_extra_ifcfg)]


class IPv4Config(Model):
    """A static address (with optional gateway) or DHCP."""

    dhcp: Bool = Field(False, description="Get the address by DHCP.")
    address: IPv4WithPrefix | None = Field(None, description="Static address with prefix, e.g. 192.168.80.40/24.")
    gateway: IPv4 | None = Field(None, description="Default gateway; must lie inside the address's subnet.")

    @model_validator(mode="after")
    def _one_method(self) -> Self:
        if self.dhcp and (self.address is not None or self.gateway is not None):
            raise ValueError("use either dhcp: true or a static address/gateway, not both")
        if not self.dhcp and self.address is None:
            raise ValueError("needs an address (a.b.c.d/nn) or dhcp: true")
        return self


class Interface(Model):
    """A physical NIC: a bridge port, or a device with an address of its own."""

    name: InterfaceName = Field(description="Kernel name of the NIC, e.g. enp2s0f0.")
    mac: MacAddress | None = Field(None, description="Pin the ifcfg file to this MAC (HWADDR=).")
    bridge: InterfaceName | None = Field(None, description="Name of the bridge this NIC is a port of.")
    ipv4: IPv4Config | None = Field(None, description="Address of the NIC itself (not for bridge ports).")
    mtu: Int | None = Field(None, ge=576, le=9216, description="MTU in bytes.")
    onboot: Bool = Field(True, description="Bring the device up at boot.")
    extra_ifcfg: ExtraIfcfg = Field(default_factory=dict, description="More ifcfg keys, e.g. ETHTOOL_OPTS.")


class Bridge(Model):
    """A Linux bridge; its ports are the interfaces that name it."""

    name: InterfaceName = Field(description="Bridge device name, e.g. br0.")
    stp: Bool = Field(True, description="Spanning tree protocol against loops (STP=yes).")
    delay: Int | None = Field(None, ge=0, le=30, description="Forward delay in seconds (DELAY=).")
    ipv4: IPv4Config | None = Field(None, description="The host's address on this bridge; none for a VM-only bridge.")
    mtu: Int | None = Field(None, ge=576, le=9216, description="MTU in bytes.")
    onboot: Bool = Field(True, description="Bring the bridge up at boot.")
    extra_ifcfg: ExtraIfcfg = Field(default_factory=dict, description="More ifcfg keys, e.g. BRIDGING_OPTS.")


class Network(Model):
    """Network devices of the installed host, written as ifcfg files in %post."""

    nameservers: tuple[IPv4, ...] = Field((), max_length=3, description="DNS servers (DNS1.., at most 3).")
    interfaces: tuple[Interface, ...] = Field((), description="Physical NICs.")
    bridges: tuple[Bridge, ...] = Field((), description="Bridges (br0 ...), ports named by interfaces[].bridge.")
    install_device: InterfaceName | None = Field(
        None,
        description="NIC the installer configures (kickstart `network` line); default: the first interface.",
    )
    ipv6: Bool = Field(False, description="IPv6 on the host's devices (IPV6INIT=).")
