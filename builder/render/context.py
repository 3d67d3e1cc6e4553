"""Derived, typed views of a profile that the templates format: ifcfg files, the install network line.

Deciding *what* goes into a file happens here, in Python; the templates only decide how it looks. The boot
verifier reuses these views to compare the installed host with what was rendered.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address

from builder.model.network import IPv4Config
from builder.model.profile import Profile
from builder.render.quoting import ifcfg_value

IFCFG_DIR = "/etc/sysconfig/network-scripts"
SUCCESS_MARKER = "KSBUILD-STATUS: install-complete"
FAILURE_MARKER = "KSBUILD-STATUS: script-failed"


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


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _address_entries(config: IPv4Config | None, dns: tuple[IPv4Address, ...]) -> list[tuple[str, str]]:
    if config is None:
        return [("BOOTPROTO", "none")]
    if config.dhcp:
        return [("BOOTPROTO", "dhcp")]
    assert config.address is not None  # guaranteed by IPv4Config's validator
    entries = [
        ("BOOTPROTO", "none"),
        ("IPADDR", str(config.address.ip)),
        ("NETMASK", str(config.address.netmask)),
    ]
    if config.gateway is not None:
        entries += [("GATEWAY", str(config.gateway)), ("DEFROUTE", "yes")]
    entries += [(f"DNS{n}", str(server)) for n, server in enumerate(dns, start=1)]
    return entries


def network_manager_disabled(profile: Profile) -> bool:
    return "NetworkManager" in profile.system.services.disabled


def _dns_holder(profile: Profile) -> str | None:
    """The device whose ifcfg carries DNS1..: the one with the gateway, else the first with a static address."""
    devices = [*profile.network.bridges, *profile.network.interfaces]
    for device in devices:
        if device.ipv4 is not None and device.ipv4.gateway is not None:
            return device.name
    for device in devices:
        if device.ipv4 is not None and device.ipv4.address is not None:
            return device.name
    return None


def ifcfg_files(profile: Profile) -> tuple[IfcfgFile, ...]:
    net = profile.network
    nm_off = network_manager_disabled(profile)
    dns_device = _dns_holder(profile)
    files = []
    for iface in net.interfaces:
        dns = net.nameservers if iface.name == dns_device else ()
        entries: list[tuple[str, str]] = [("DEVICE", iface.name), ("NAME", iface.name), ("TYPE", "Ethernet")]
        if iface.mac is not None:
            entries.append(("HWADDR", iface.mac))
        entries.append(("ONBOOT", _yes(iface.onboot)))
        if iface.bridge is not None:
            entries += [("BOOTPROTO", "none"), ("BRIDGE", iface.bridge)]
        else:
            entries += _address_entries(iface.ipv4, dns)
        files.append(_finish(entries, iface.mtu, net.ipv6, nm_off, iface.extra_ifcfg))
    for bridge in net.bridges:
        dns = net.nameservers if bridge.name == dns_device else ()
        entries = [("DEVICE", bridge.name), ("NAME", bridge.name), ("TYPE", "Bridge"), ("ONBOOT", _yes(bridge.onboot))]
        entries += _address_entries(bridge.ipv4, dns)
        entries.append(("STP", _yes(bridge.stp)))
        if bridge.delay is not None:
            entries.append(("DELAY", str(bridge.delay)))
        files.append(_finish(entries, bridge.mtu, net.ipv6, nm_off, bridge.extra_ifcfg))
    return tuple(files)


def _finish(
    entries: list[tuple[str, str]], mtu: int | None, ipv6: bool, nm_off: bool, extra: dict[str, str]
) -> IfcfgFile:
    if mtu is not None:
        entries.append(("MTU", str(mtu)))
    entries.append(("IPV6INIT", _yes(ipv6)))
    if nm_off:
        entries.append(("NM_CONTROLLED", "no"))
    entries += sorted(extra.items())
    return IfcfgFile(device=entries[0][1], entries=tuple(entries))


def install_network(profile: Profile) -> InstallNetwork:
    """The installer's link: the install device with the address the host will have (its own or its bridge's)."""
    net = profile.network
    if not net.interfaces:
        return InstallNetwork(device=None, dhcp=True)
    device = net.install_device or net.interfaces[0].name
    iface = next(i for i in net.interfaces if i.name == device)
    config = iface.ipv4
    if iface.bridge is not None:
        config = next((b.ipv4 for b in net.bridges if b.name == iface.bridge), None)
    if config is None or config.dhcp or config.address is None:
        return InstallNetwork(device=device, dhcp=True)
    return InstallNetwork(
        device=device,
        dhcp=False,
        ip=str(config.address.ip),
        netmask=str(config.address.netmask),
        gateway=str(config.gateway) if config.gateway is not None else None,
        nameservers=tuple(str(s) for s in net.nameservers),
    )


def nested_modules(profile: Profile) -> tuple[str, ...]:
    return {"auto": ("kvm_intel", "kvm_amd"), "intel": ("kvm_intel",), "amd": ("kvm_amd",)}[profile.virtualization.cpu]


def firewall_port(port: str) -> str:
    """Profile ports read like firewalld's (16509/tcp); the kickstart `firewall --port` wants 16509:tcp."""
    return port.replace("/", ":")
