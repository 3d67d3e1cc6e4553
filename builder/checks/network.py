"""Checks of the whole `network:` section: addresses and gateways, device names, bonds, VLANs, bridge ports
and MTUs. Each problem is a key path (located at file:line by the caller), a message and a severity.
"""

from __future__ import annotations

import difflib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from ipaddress import IPv4Interface

from builder.errors import Severity
from builder.model.network import (
    BOOTIF,
    DEFAULT_MTU,
    KNOWN_IFCFG_KEYS,
    MODES_OF_OPTION,
    Bond,
    Bridge,
    Device,
    Interface,
    IPv4Config,
    Network,
    Vlan,
)
from builder.model.profile import Profile
from builder.vocabulary import KeyPath, format_key

Problem = tuple[KeyPath, str, Severity]


def _error(path: KeyPath, message: str) -> Problem:
    return path, message, "error"

# Linux keeps interface names to IFNAMSIZ - 1 bytes.
MAX_NAME = 15


@dataclass(frozen=True)
class _Entry:
    """One declared device and the key path of its entry in the profile."""

    path: KeyPath
    device: Device

    @property
    def name(self) -> str:
        return self.device.device if isinstance(self.device, Vlan) else self.device.name

    @property
    def kind(self) -> str:
        return {Interface: "interface", Bond: "bond", Vlan: "VLAN", Bridge: "bridge"}[type(self.device)]


def _entries(net: Network) -> list[_Entry]:
    """Interfaces, bonds, VLANs, then bridges: the order gateways and duplicates are reported in."""
    entries = [_Entry(("network", "interfaces", n), d) for n, d in enumerate(net.interfaces)]
    entries += [_Entry(("network", "bonds", n), d) for n, d in enumerate(net.bonds)]
    entries += [_Entry(("network", "vlans", n), d) for n, d in enumerate(net.vlans)]
    entries += [_Entry(("network", "bridges", n), d) for n, d in enumerate(net.bridges)]
    return entries


def network_problems(profile: Profile) -> Iterator[Problem]:
    net = profile.network
    entries = _entries(net)
    yield from _addresses(net, entries)
    yield from _names(entries)
    yield from _bonds(net, entries)
    yield from _vlans(net, entries)
    yield from _bridge_ports(net, entries)
    if net.install == "profile":
        yield from _install_device(net, entries)
    yield from _extra_ifcfg(entries)
    if net.nameservers and not any(e.device.ipv4 for e in entries):
        yield ("network", "nameservers"), "name servers given but no device has an address", "warning"


def _check_ipv4(config: IPv4Config, path: KeyPath) -> Iterator[Problem]:
    if config.address is None:
        return
    address: IPv4Interface = config.address
    network = address.network
    if network.prefixlen < 31 and address.ip in (network.network_address, network.broadcast_address):
        yield (*path, "address"), f"{address} is the network or broadcast address of {network}", "error"
    if config.gateway is not None:
        if config.gateway not in network:
            yield (*path, "gateway"), f"gateway {config.gateway} is outside the subnet {network}", "error"
        elif config.gateway == address.ip:
            yield (*path, "gateway"), f"gateway {config.gateway} is the host's own address", "error"


def _addresses(net: Network, entries: list[_Entry]) -> Iterator[Problem]:
    gateways: list[KeyPath] = []
    for entry in entries:
        config = entry.device.ipv4
        if config is None:
            continue
        yield from _check_ipv4(config, (*entry.path, "ipv4"))
        if config.gateway is not None:
            gateways.append((*entry.path, "ipv4", "gateway"))
    for extra in gateways[1:]:
        yield extra, f"a second default gateway (the first is {format_key(gateways[0])}); keep one", "error"
    seen: Counter[str] = Counter()
    for index, server in enumerate(net.nameservers):
        seen[str(server)] += 1
        if seen[str(server)] == 2:
            yield ("network", "nameservers", index), f"{server} is listed twice", "error"
    macs: dict[str, int] = {}
    for index, interface in enumerate(net.interfaces):
        if interface.mac is None:
            continue
        if interface.mac in macs:
            yield (("network", "interfaces", index, "mac"),
                   f"MAC {interface.mac} is also on interfaces[{macs[interface.mac]}]", "error")
        macs.setdefault(interface.mac, index)


def _names(entries: list[_Entry]) -> Iterator[Problem]:
    first_use: dict[str, _Entry] = {}
    for entry in entries:
        earlier = first_use.get(entry.name)
        if earlier is None:
            first_use[entry.name] = entry
        elif not _bridge_as_port(earlier, entry):
            key = "id" if isinstance(entry.device, Vlan) and entry.device.name is None else "name"
            yield _error(
                (*entry.path, key),
                f"device {entry.name} is already defined at {format_key(earlier.path)}",
            )
    for entry in entries:
        vlan = entry.device
        if not isinstance(vlan, Vlan):
            continue
        if vlan.name is not None and vlan.name not in (f"vlan{vlan.id}", f"{vlan.parent}.{vlan.id}"):
            yield _error((*entry.path, "name"),
                         f"initscripts reads the VLAN id from the device name: name it vlan{vlan.id}, or "
                         f"leave name out for {vlan.parent}.{vlan.id}")
        elif len(vlan.device) > MAX_NAME:
            yield _error((*entry.path, "parent"),
                         f"the VLAN device name {vlan.device} has {len(vlan.device)} characters and Linux "
                         f"allows {MAX_NAME}; set name: vlan{vlan.id}")


def _bridge_as_port(first: _Entry, second: _Entry) -> bool:
    """A bridge declared again as a port of another bridge: reported once, by _bridge_ports."""
    pair = (first.device, second.device)
    return any(isinstance(d, Bridge) for d in pair) and any(
        not isinstance(d, Bridge) and d.bridge is not None for d in pair
    )


def _bonds(net: Network, entries: list[_Entry]) -> Iterator[Problem]:
    kinds = {e.name: e.kind for e in entries if not isinstance(e.device, Interface)}
    listed = {e.name: e for e in entries if isinstance(e.device, Interface)}
    member_of: dict[str, KeyPath] = {}
    for index, bond in enumerate(net.bonds):
        path: KeyPath = ("network", "bonds", index)
        for number, member in enumerate(bond.members):
            member_path: KeyPath = (*path, "members", number)
            if member in kinds:
                yield _error(member_path, f"{member} is a {kinds[member]}; bond members are NICs")
            elif member in member_of:
                yield _error(member_path, f"{member} is already a member at {format_key(member_of[member])}")
            else:
                member_of[member] = member_path
                yield from _member_entry(listed.get(member), bond)
        for option, modes in MODES_OF_OPTION.items():
            if getattr(bond.options, option) is not None and bond.mode not in modes:
                yield _error((*path, "options", option),
                             f"{option} only applies to mode {' or '.join(modes)}; "
                             f"{bond.name} uses {bond.mode}")
        primary = bond.options.primary
        if primary is not None and primary not in bond.members:
            yield _error((*path, "options", "primary"), f"primary {primary} is not a member of {bond.name}")


def _member_entry(entry: _Entry | None, bond: Bond) -> Iterator[Problem]:
    """A bond member also listed under interfaces (for its mac or ethtool options) carries no address."""
    if entry is None:
        return
    nic = entry.device
    assert isinstance(nic, Interface)  # _bonds passes interface entries only
    if nic.ipv4 is not None:
        yield _error(
            (*entry.path, "ipv4"),
            f"{nic.name} is a member of {bond.name}: put the address on the bond",
        )
    if nic.bridge is not None:
        yield _error((*entry.path, "bridge"),
                     f"{nic.name} is a member of {bond.name}: "
                     f"make the bond the bridge port (bridge: on the bond)")
    if nic.mtu is not None:
        yield ((*entry.path, "mtu"),
               f"the bond sets its members' MTU; set mtu on {bond.name} instead of on {nic.name}", "warning")


def _vlans(net: Network, entries: list[_Entry]) -> Iterator[Problem]:
    by_name = {e.name: e for e in entries}
    members = {m: b.name for b in net.bonds for m in b.members}
    tags: dict[tuple[str, int], KeyPath] = {}
    for index, vlan in enumerate(net.vlans):
        path: KeyPath = ("network", "vlans", index)
        parent = by_name.get(vlan.parent)
        if vlan.parent in members:
            yield _error(
                (*path, "parent"),
                f"{vlan.parent} is a member of {members[vlan.parent]}: put the VLAN on the bond",
            )
        elif parent is None:
            known = ", ".join(e.name for e in entries if isinstance(e.device, Interface | Bond)) or "none"
            yield _error((*path, "parent"), f"no interface or bond named {vlan.parent} (known: {known})")
        elif not isinstance(parent.device, Interface | Bond):
            yield _error(
                (*path, "parent"),
                f"{vlan.parent} is a {parent.kind}; a VLAN's parent is an interface or bond",
            )
        else:
            own, limit = vlan.mtu or DEFAULT_MTU, parent.device.mtu or DEFAULT_MTU
            if own > limit:
                default = "" if parent.device.mtu else " (the default)"
                yield _error((*path, "mtu"), f"MTU {own} is larger than {vlan.parent}'s MTU {limit}{default}")
        tag = (vlan.parent, vlan.id)
        if tag in tags:
            yield _error(
                (*path, "id"),
                f"VLAN {vlan.id} on {vlan.parent} is already at {format_key(tags[tag])}",
            )
        tags.setdefault(tag, path)


def _bridge_ports(net: Network, entries: list[_Entry]) -> Iterator[Problem]:
    bridges = {b.name: b for b in net.bridges}
    for entry in entries:
        port = entry.device
        if isinstance(port, Bridge) or port.bridge is None:
            continue
        if entry.name in bridges:
            yield _error((*entry.path, "bridge"),
                         f"{entry.name} is itself a bridge; a bridge cannot be a port of another bridge")
            continue
        bridge = bridges.get(port.bridge)
        if bridge is None:
            known = ", ".join(sorted(bridges)) or "none defined"
            yield _error((*entry.path, "bridge"), f"no bridge named {port.bridge} (bridges: {known})")
        if port.ipv4 is not None:
            yield _error((*entry.path, "ipv4"),
                         f"{entry.name} is a port of {port.bridge}: "
                         f"put the address on the bridge, not on the port")
        if bridge is not None and bridge.mtu is not None and bridge.mtu > (port.mtu or DEFAULT_MTU):
            index = net.bridges.index(bridge)
            yield _error(("network", "bridges", index, "mtu"),
                         f"MTU {bridge.mtu} is larger than that of its port {entry.name} "
                         f"({port.mtu or DEFAULT_MTU}); a bridge cannot exceed its ports' MTU")


def _extra_ifcfg(entries: list[_Entry]) -> Iterator[Problem]:
    for entry in entries:
        for key in entry.device.extra_ifcfg:
            if key in KNOWN_IFCFG_KEYS:
                continue
            close = difflib.get_close_matches(key, sorted(KNOWN_IFCFG_KEYS), n=1, cutoff=0.75)
            hint = f"; did you mean {close[0]}?" if close else ""
            yield ((*entry.path, "extra_ifcfg", key),
                   f"{key} is not a key initscripts documents (sysconfig.txt); written as given, for the tools "
                   f"that read it{hint}", "warning")


def _install_by_mac(net: Network, wanted: str) -> Iterator[Problem]:
    path: KeyPath = ("network", "install_device")
    if not (net.interfaces or net.bonds):
        return  # nothing declared: the installer takes that NIC with DHCP
    nic = net.install_nic()
    if nic is None:
        yield _error(path, f"no interface has mac: {wanted}; set mac: on the interface the installer brings up")
    elif net.bond_of(nic.name) is not None:
        bond = net.bond_of(nic.name)
        assert bond is not None
        yield _error(path, f"{wanted} is {nic.name}, a member of {bond.name}: anaconda names a bond by its name "
                     f"(install_device: {bond.name}), not by a member's MAC")


def _install_by_bootif(net: Network) -> Iterator[Problem]:
    path: KeyPath = ("network", "install_device")
    first = net.install_nic()
    if first is not None:
        bond = net.bond_of(first.name)
        if bond is not None:
            yield _error(path, f"bootif stands for the first interface, {first.name}, a member of {bond.name}: "
                         f"anaconda names a bond by its name (install_device: {bond.name})")
    elif net.bonds:
        yield _error(path, "bootif stands for the first interface, and the profile has bonds only: "
                     f"use install_device: {net.bonds[0].name}")


def _install_device(net: Network, entries: list[_Entry]) -> Iterator[Problem]:
    wanted = net.install_device
    if wanted is None:
        return
    if net.install_by_hardware:
        yield from _install_by_bootif(net) if wanted == BOOTIF else _install_by_mac(net, wanted)
        return
    members = {m for b in net.bonds for m in b.members}
    kinds = {e.name: e.kind for e in entries}
    if kinds.get(wanted) == "bridge":
        yield _error(("network", "install_device"),
                     f"{wanted} is a bridge; the installer configures a NIC, bond or VLAN: "
                     f"name the bridge's port")
    elif wanted not in kinds and wanted not in members:
        yield _error(
            ("network", "install_device"),
            f"{wanted} is not an interface, bond member, bond or VLAN",
        )
