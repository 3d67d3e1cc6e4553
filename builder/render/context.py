"""Derived, typed views of a profile that the templates format: ifcfg files, the install network line.

Deciding *what* goes into a file happens here, in Python; the templates only decide how it looks. The boot
verifier reuses these views to compare the installed host with what was rendered.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from ipaddress import IPv4Address

from builder.model.network import BOOTIF, Bond, Bridge, Device, Interface, IPv4Config, Network, Vlan
from builder.model.profile import Profile
from builder.render.quoting import ifcfg_value
from builder.vocabulary import KeyPath

IFCFG_DIR = "/etc/sysconfig/network-scripts"


@dataclass(frozen=True)
class IfcfgFile:
    device: str
    entries: tuple[tuple[str, str], ...]

    @property
    def path(self) -> str:
        return f"{IFCFG_DIR}/ifcfg-{self.device}"

    @property
    def text(self) -> str:
        return "".join(f"{key}={ifcfg_value(value)}\n" for key, value in self.entries)


@dataclass(frozen=True)
class InstallNetwork:
    """Arguments of the kickstart `network` command that configures the installer's own link."""

    device: str | None
    dhcp: bool
    ip: str | None = None
    netmask: str | None = None
    gateway: str | None = None
    nameservers: tuple[str, ...] = ()
    ipv6: bool = False
    bondslaves: tuple[str, ...] = ()
    bondopts: str | None = None
    vlanid: int | None = None
    # Only when the VLAN is not named <device>.<vlanid>, the name anaconda gives it by default.
    interfacename: str | None = None
    # Profile key of the address used (the device's own ipv4, or its bridge's), for locating findings.
    address_key: KeyPath | None = None


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _address_entries(
    config: IPv4Config | None, dns: tuple[IPv4Address, ...], other_has_gateway: bool
) -> list[tuple[str, str]]:
    if config is None:
        return [("BOOTPROTO", "none")]
    # Only the device with the gateway may hold the default route; DHCP elsewhere must not take it.
    not_default = [("DEFROUTE", "no")] if other_has_gateway else []
    if config.dhcp:
        return [("BOOTPROTO", "dhcp"), *not_default]
    assert config.address is not None  # guaranteed by IPv4Config's validator
    entries = [
        ("BOOTPROTO", "none"),
        ("IPADDR", str(config.address.ip)),
        ("NETMASK", str(config.address.netmask)),
    ]
    if config.gateway is not None:
        entries += [("GATEWAY", str(config.gateway)), ("DEFROUTE", "yes")]
    else:
        entries += not_default
    entries += [(f"DNS{n}", str(server)) for n, server in enumerate(dns, start=1)]
    return entries


def network_manager_disabled(profile: Profile) -> bool:
    return "NetworkManager" in profile.system.services.disabled


def _addressed(net: Network) -> list[Device]:
    return [*net.bridges, *net.interfaces, *net.bonds, *net.vlans]


def _name(device: Device) -> str:
    return device.device if isinstance(device, Vlan) else device.name


def addressed_devices(net: Network) -> tuple[tuple[str, Device], ...]:
    """Bridges, NICs, bonds and VLANs by device name: the order addresses, DNS and the gateway are looked up in."""
    return tuple((_name(device), device) for device in _addressed(net))


def _dns_holder(profile: Profile) -> str | None:
    """The device whose ifcfg carries DNS1..: the one with the gateway, else the first with a static address."""
    devices = _addressed(profile.network)
    for device in devices:
        if device.ipv4 is not None and device.ipv4.gateway is not None:
            return _name(device)
    for device in devices:
        if device.ipv4 is not None and device.ipv4.address is not None:
            return _name(device)
    return None


def gateway_holder(net: Network) -> str | None:
    """The device whose ifcfg has the gateway, and so the default route (DEFROUTE=yes)."""
    return next((_name(d) for d in _addressed(net) if d.ipv4 is not None and d.ipv4.gateway is not None), None)


class _IfcfgWriter:
    """Builds the ifcfg files of one profile: the shared tail (MTU, IPv6, NM, extras) and addresses."""

    def __init__(self, profile: Profile) -> None:
        self.net = profile.network
        self.nm_off = network_manager_disabled(profile)
        self.dns_device = _dns_holder(profile)
        self.gateway_device = gateway_holder(self.net)

    def address(self, name: str, device: Interface | Bond | Vlan | Bridge) -> list[tuple[str, str]]:
        if not isinstance(device, Bridge) and device.bridge is not None:
            return [("BOOTPROTO", "none"), ("BRIDGE", device.bridge)]
        dns = self.net.nameservers if name == self.dns_device else ()
        other_gateway = self.gateway_device is not None and self.gateway_device != name
        return _address_entries(device.ipv4, dns, other_gateway)

    def member(self, name: str, bond: Bond, nic: Interface | None) -> IfcfgFile:
        entries = [("DEVICE", name), ("NAME", name), ("TYPE", "Ethernet")]
        if nic is not None and nic.mac is not None:
            entries.append(("HWADDR", nic.mac))
        entries += [("ONBOOT", _yes(nic.onboot if nic else True)), ("BOOTPROTO", "none"),
                    ("MASTER", bond.name), ("SLAVE", "yes")]
        return self.finish(entries, nic)

    def finish(self, entries: list[tuple[str, str]], device: Device | None) -> IfcfgFile:
        if device is not None and device.mtu is not None:
            entries.append(("MTU", str(device.mtu)))
        entries.append(("IPV6INIT", _yes(self.net.ipv6 if device is None else self.net.ipv6_on(device))))
        if self.nm_off:
            entries.append(("NM_CONTROLLED", "no"))
        if device is not None:
            entries += sorted(device.extra_ifcfg.items())
        return IfcfgFile(device=entries[0][1], entries=tuple(entries))


def ifcfg_files(profile: Profile) -> tuple[IfcfgFile, ...]:
    """Interfaces, then each bond's unlisted members and the bond, then VLANs, then bridges."""
    net = profile.network
    writer = _IfcfgWriter(profile)
    listed = {i.name: i for i in net.interfaces}
    files = []
    for iface in net.interfaces:
        bond = net.bond_of(iface.name)
        if bond is not None:
            files.append(writer.member(iface.name, bond, iface))
            continue
        entries: list[tuple[str, str]] = [("DEVICE", iface.name), ("NAME", iface.name), ("TYPE", "Ethernet")]
        if iface.mac is not None:
            entries.append(("HWADDR", iface.mac))
        entries.append(("ONBOOT", _yes(iface.onboot)))
        files.append(writer.finish(entries + writer.address(iface.name, iface), iface))
    for bond in net.bonds:
        files += [writer.member(m, bond, None) for m in bond.members if m not in listed]
        options = " ".join(f"{key}={value}" for key, value in bond.bonding_opts)
        entries = [("DEVICE", bond.name), ("NAME", bond.name), ("TYPE", "Bond"), ("BONDING_MASTER", "yes"),
                   ("BONDING_OPTS", options), ("ONBOOT", _yes(bond.onboot))]
        files.append(writer.finish(entries + writer.address(bond.name, bond), bond))
    for vlan in net.vlans:
        # initscripts reads the id from the name (<parent>.<id> or vlan<id>); PHYSDEV names the parent for both.
        entries = [("DEVICE", vlan.device), ("NAME", vlan.device), ("VLAN", "yes"), ("PHYSDEV", vlan.parent),
                   ("ONBOOT", _yes(vlan.onboot))]
        files.append(writer.finish(entries + writer.address(vlan.device, vlan), vlan))
    for bridge in net.bridges:
        entries = [("DEVICE", bridge.name), ("NAME", bridge.name), ("TYPE", "Bridge"), ("ONBOOT", _yes(bridge.onboot))]
        entries += writer.address(bridge.name, bridge)
        # DELAY always: with STP the kernel's 15 s made explicit, so the file says what the host gets.
        entries += [("STP", _yes(bridge.stp)), ("DELAY", str(bridge.forward_delay))]
        files.append(writer.finish(entries, bridge))
    return tuple(files)


@dataclass(frozen=True)
class _Placed:
    """A NIC, bond or VLAN with the profile key of its entry."""

    device: Interface | Bond | Vlan
    path: KeyPath


def _address_of(net: Network, placed: _Placed) -> tuple[IPv4Config | None, Device, KeyPath]:
    """The address the device will have, its own or its bridge's, with the device and the key that hold it."""
    device = placed.device
    for index, bridge in enumerate(net.bridges):
        if device.bridge is not None and bridge.name == device.bridge:
            return bridge.ipv4, bridge, ("network", "bridges", index, "ipv4")
    return device.ipv4, device, (*placed.path, "ipv4")


def _find(net: Network, name: str) -> _Placed | None:
    """The declared NIC, bond or VLAN named `name`; a bond member stands for its bond."""
    bond = net.bond_of(name)
    if bond is not None:
        name = bond.name
    groups: tuple[tuple[str, Sequence[Interface | Bond | Vlan]], ...] = (
        ("interfaces", net.interfaces), ("bonds", net.bonds), ("vlans", net.vlans)
    )
    for kind, devices in groups:
        for index, device in enumerate(devices):
            if _name(device) == name:
                return _Placed(device, ("network", kind, index))
    return None


def _by_hardware(net: Network) -> bool:
    """install_device names the NIC by MAC or as bootif (anaconda resolves both to a NIC), not by its name."""
    wanted = net.install_device
    return wanted is not None and (wanted == BOOTIF or (len(wanted) == 17 and ":" in wanted))


def _install_nic_name(net: Network) -> str | None:
    """The profile name of the device install_device means: bootif stands for the first interface, a MAC for the
    interface with that mac:; None when no declared device matches."""
    wanted = net.install_device
    if wanted is None or not _by_hardware(net):
        return wanted
    if wanted == BOOTIF:
        return net.interfaces[0].name if net.interfaces else None
    return next((i.name for i in net.interfaces if i.mac == wanted), None)


def _install_target(net: Network) -> _Placed | None:
    """What the installer brings up: install_device, else the first NIC (a member stands for its bond); a NIC or
    bond without an address hands over to a VLAN on it that has one, the VLAN with the gateway first."""
    wanted = _install_nic_name(net)
    if wanted is None:
        wanted = net.interfaces[0].name if net.interfaces else (net.bonds[0].members[0] if net.bonds else None)
    target = None if wanted is None else _find(net, wanted)
    if target is None or isinstance(target.device, Vlan) or _address_of(net, target)[0] is not None:
        return target
    on_top = [_Placed(v, ("network", "vlans", n)) for n, v in enumerate(net.vlans) if v.parent == target.device.name]
    addressed = [(config, placed) for placed in on_top if (config := _address_of(net, placed)[0]) is not None]
    addressed.sort(key=lambda pair: pair[0].gateway is None)
    return addressed[0][1] if addressed else target


def install_network(profile: Profile) -> InstallNetwork:
    """The installer's link, configured with the address the host will have there (the device's or its bridge's).

    A bond is created with --bondslaves/--bondopts, a VLAN with --vlanid on its parent (and the bond under it), the
    way pykickstart's RHEL7 `network` command and anaconda 21.48 take them; bridges are left to %post.
    """
    net = profile.network
    target = _install_target(net)
    hardware = net.install_device if _by_hardware(net) else None
    if target is None:
        return InstallNetwork(device=hardware, dhcp=True, ipv6=net.ipv6)
    config, holder, key = _address_of(net, target)
    device = target.device
    vlan = device if isinstance(device, Vlan) else None
    base = net.bond_of(vlan.parent) if vlan is not None else None
    base_name = vlan.parent if vlan is not None else device.name
    bond = next((b for b in net.bonds if b.name == base_name), None) or base
    link = InstallNetwork(
        # By MAC or bootif, anaconda finds the NIC itself (a bond is always named: the checks refuse the rest).
        device=hardware if hardware is not None and bond is None else base_name,
        dhcp=True,
        ipv6=net.ipv6_on(holder),
        bondslaves=bond.members if bond is not None else (),
        bondopts=",".join(f"{k}={v}" for k, v in bond.bonding_opts) if bond is not None else None,
        vlanid=vlan.id if vlan is not None else None,
        interfacename=vlan.name if vlan is not None and vlan.name != f"{vlan.parent}.{vlan.id}" else None,
    )
    if config is None or config.dhcp or config.address is None:
        return replace(link, address_key=key if config is not None else None)
    return replace(
        link,
        dhcp=False,
        ip=str(config.address.ip),
        netmask=str(config.address.netmask),
        gateway=str(config.gateway) if config.gateway is not None else None,
        nameservers=tuple(str(s) for s in net.nameservers),
        address_key=(*key, "address"),
    )


def nested_modules(profile: Profile) -> tuple[str, ...]:
    return {"auto": ("kvm_intel", "kvm_amd"), "intel": ("kvm_intel",), "amd": ("kvm_amd",)}[profile.virtualization.cpu]


def firewall_port(port: str) -> str:
    """Profile ports read like firewalld's (16509/tcp); the kickstart `firewall --port` wants 16509:tcp."""
    return port.replace("/", ":")
