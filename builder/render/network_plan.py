"""The host's network devices as one target-neutral plan: what each device is, what it is a port of, which
address it holds, whether it takes the default route. Two formatters write it: ifcfg files (CentOS 7, EL8;
builder.render.ifcfg) and NetworkManager keyfiles (EL9; builder.render.keyfile). Deciding happens here, once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from ipaddress import IPv4Address
from typing import Any, Literal

from builder.model.network import Bond, Bridge, Device, Interface, IPv4Config, Network, Vlan
from builder.model.profile import Profile

Kind = Literal["ethernet", "bond", "vlan", "bridge"]


@dataclass(frozen=True)
class DevicePlan:
    """One device's configuration, in the order the files are written."""

    name: str
    kind: Kind
    onboot: bool
    ipv6: bool
    mac: str | None = None
    mtu: int | None = None
    # A port of a bridge or a member of a bond: ("bridge" | "bond", its name). Ports hold no address.
    port_of: tuple[Literal["bridge", "bond"], str] | None = None
    address: IPv4Config | None = None
    dns: tuple[IPv4Address, ...] = ()
    # True: this device has the gateway (the default route); False: it has an address but another device has the
    # gateway, so it must not take the default route (DHCP included); None: no address of its own.
    default_route: bool | None = None
    bond_options: tuple[tuple[str, str], ...] = ()
    vlan_id: int | None = None
    vlan_parent: str | None = None
    stp: bool | None = None
    forward_delay: int | None = None
    extra_ifcfg: Mapping[str, str] = field(default_factory=dict)
    # The profile device it comes from: None for a bond member the profile lists only in `members:`.
    source: Device | None = None


def network_manager_disabled(profile: Profile) -> bool:
    return "NetworkManager" in profile.system.services.disabled


def name_of(device: Device) -> str:
    return device.device if isinstance(device, Vlan) else device.name


def _addressed(net: Network) -> list[Device]:
    return [*net.bridges, *net.interfaces, *net.bonds, *net.vlans]


def addressed_devices(net: Network) -> tuple[tuple[str, Device], ...]:
    """Bridges, NICs, bonds and VLANs by device name: the order addresses, DNS and the gateway are looked up in."""
    return tuple((name_of(device), device) for device in _addressed(net))


def dns_holder(net: Network) -> str | None:
    """The device that carries the name servers: the one with the gateway, else the first with a static address."""
    devices = _addressed(net)
    for device in devices:
        if device.ipv4 is not None and device.ipv4.gateway is not None:
            return name_of(device)
    for device in devices:
        if device.ipv4 is not None and device.ipv4.address is not None:
            return name_of(device)
    return None


def gateway_holder(net: Network) -> str | None:
    """The device with the gateway, and so the default route."""
    return next((name_of(d) for d in _addressed(net) if d.ipv4 is not None and d.ipv4.gateway is not None), None)


@dataclass(frozen=True)
class _Addressing:
    port_of: tuple[Literal["bridge", "bond"], str] | None = None
    address: IPv4Config | None = None
    dns: tuple[IPv4Address, ...] = ()
    default_route: bool | None = None


class _Planner:
    def __init__(self, net: Network) -> None:
        self.net = net
        self.dns_device = dns_holder(net)
        self.gateway_device = gateway_holder(net)

    def _addressing(self, name: str, device: Interface | Bond | Vlan | Bridge) -> _Addressing:
        if not isinstance(device, Bridge) and device.bridge is not None:
            return _Addressing(port_of=("bridge", device.bridge))
        config = device.ipv4
        if config is None:
            return _Addressing()
        default = True if config.gateway is not None else (False if self.gateway_device is not None else None)
        return _Addressing(None, config, self.net.nameservers if name == self.dns_device else (), default)

    def _plan(self, name: str, kind: Kind, device: Device, **specific: Any) -> DevicePlan:
        addressing = self._addressing(name, device)
        plan = DevicePlan(name, kind, onboot=device.onboot, ipv6=self.net.ipv6_on(device), mtu=device.mtu,
                          port_of=addressing.port_of, address=addressing.address, dns=addressing.dns,
                          default_route=addressing.default_route, extra_ifcfg=dict(device.extra_ifcfg),
                          source=device)
        return replace(plan, **specific)

    def member(self, name: str, bond: Bond, nic: Interface | None) -> DevicePlan:
        if nic is None:
            return DevicePlan(name, "ethernet", onboot=True, ipv6=self.net.ipv6, port_of=("bond", bond.name))
        return replace(self._plan(name, "ethernet", nic, mac=nic.mac), port_of=("bond", bond.name))

    def plans(self) -> tuple[DevicePlan, ...]:
        net = self.net
        listed = {i.name: i for i in net.interfaces}
        plans: list[DevicePlan] = []
        for iface in net.interfaces:
            bond = net.bond_of(iface.name)
            plans.append(self.member(iface.name, bond, iface) if bond is not None
                         else self._plan(iface.name, "ethernet", iface, mac=iface.mac))
        for bond in net.bonds:
            plans += [self.member(m, bond, None) for m in bond.members if m not in listed]
            plans.append(self._plan(bond.name, "bond", bond, bond_options=bond.bonding_opts))
        for vlan in net.vlans:
            plans.append(self._plan(vlan.device, "vlan", vlan, vlan_id=vlan.id, vlan_parent=vlan.parent))
        for bridge in net.bridges:
            # The forward delay the host gets, always: with STP the kernel's 15 s made explicit.
            plans.append(self._plan(bridge.name, "bridge", bridge, stp=bridge.stp,
                                    forward_delay=bridge.forward_delay))
        return tuple(plans)


def device_plans(profile: Profile) -> tuple[DevicePlan, ...]:
    """Interfaces (bond members in place), then each bond's unlisted members and the bond, then VLANs, then
    bridges: the order the files are written in."""
    return _Planner(profile.network).plans()
