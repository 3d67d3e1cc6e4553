"""Derived, typed views of a profile that the templates format: the install network line.

Deciding *what* goes into a file happens here (and in builder.render.network_plan for the host's devices), in
Python; the templates only decide how it looks. The boot verifier reuses these views to compare the installed host
with what was rendered.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from builder.model.network import Bond, Device, Interface, IPv4Config, Network, Vlan
from builder.model.profile import Profile
from builder.render.network_plan import name_of
from builder.vocabulary import KeyPath


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
            if name_of(device) == name:
                return _Placed(device, ("network", kind, index))
    return None


def _install_nic_name(net: Network) -> str | None:
    """The profile name of the device install_device means (see Network.install_nic for bootif and a MAC); None
    when no declared device matches."""
    if not net.install_by_hardware:
        return net.install_device
    nic = net.install_nic()
    return nic.name if nic is not None else None


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
    hardware = net.install_device if net.install_by_hardware else None
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


def firewall_port(port: str) -> str:
    """Profile ports read like firewalld's (16509/tcp); the kickstart `firewall --port` wants 16509:tcp."""
    return port.replace("/", ":")
