"""Checks of a whole fleet: every host's profile through the core checks, then conflicts between hosts.

Per host: the profile schema and the semantic checks, exactly as `ksbuild validate` runs them (pykickstart,
shellcheck and policy run on the rendered kickstarts, in `builder.fleet.render`). Across hosts: duplicate
hostnames, MACs and addresses (a bridge address shared by two hosts included); an address outside the
provisioning subnet, equal to a gateway, or the subnet's network or broadcast address; an address inside
the dynamic DHCP range.

Every finding names its host, and sits at the inventory line that set the value; a value that came from the
profile is reported at the host's entry in the inventory, with the profile line in the message.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Interface

from builder import targets
from builder.errors import BadInput, Finding, Severity
from builder.fleet.inventory import FleetHost, Inventory, for_host
from builder.model.network import Device, Vlan
from builder.model.profile import Profile
from builder.pipeline import BuildRequest, Modelled, model
from builder.render.context import install_network
from builder.vocabulary import DEFAULT_ROOTS, KeyPath, Roots, format_key

CHECK = "fleet"


@dataclass(frozen=True)
class ModelledHost:
    host: FleetHost
    modelled: Modelled  # the host's merged profile through the pipeline's model stage
    findings: tuple[Finding, ...]  # the core semantic checks, each naming the host

    @property
    def hostname(self) -> str:
        return self.host.hostname

    @property
    def profile(self) -> Profile:
        return self.modelled.profile

    @property
    def install_address(self) -> IPv4Interface | None:
        """The address the installer uses on the boot NIC (its own or its bridge's): what DHCP hands out."""
        network = install_network(self.profile)
        if network.dhcp or network.ip is None or network.netmask is None:
            return None
        return IPv4Interface(f"{network.ip}/{network.netmask}")

    @property
    def install_gateway(self) -> IPv4Address | None:
        gateway = install_network(self.profile).gateway
        return IPv4Address(gateway) if gateway is not None else None


@dataclass(frozen=True)
class FleetModel:
    inventory: Inventory
    hosts: tuple[ModelledHost, ...]
    findings: tuple[Finding, ...]
    # Some host's profile does not have the right shape (schema errors): bad input rather than failed checks.
    unreadable: bool

    @property
    def errors(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == "error")


def model_fleet(inventory: Inventory, roots: Roots = DEFAULT_ROOTS) -> FleetModel:
    """Model and check every host (as `ksbuild validate` does), then check the fleet as a whole; all problems
    are collected."""
    findings: list[Finding] = []
    modelled: list[ModelledHost] = []
    unreadable = False
    for host in inventory.hosts:
        try:
            result = model(BuildRequest(host.merged(), roots=roots))
        except BadInput as exc:
            unreadable = True
            found = exc.findings or (Finding(CHECK, exc.message, host.entry),)
            findings.extend(for_host(f, host.hostname) for f in found)
            continue
        semantic = tuple(for_host(f, host.hostname) for f in result.semantic)
        findings.extend(semantic)
        modelled.append(ModelledHost(host, result, semantic))
    findings.extend(check_fleet(inventory, modelled))
    return FleetModel(inventory, tuple(modelled), tuple(findings), unreadable)


def check_fleet(inventory: Inventory, hosts: Sequence[ModelledHost]) -> list[Finding]:
    checks = (_duplicate_hostnames, _duplicate_macs, _boot_mac_matches_profile, _duplicate_addresses,
              _provisioning_subnet, _network_install_source, _one_installer_per_target, _installer_arguments)
    return [finding for check in checks for finding in check(inventory, hosts)]


def _finding(
    inventory: Inventory, host: FleetHost, path: KeyPath, message: str, severity: Severity = "error"
) -> Finding:
    """A finding on `host` at the inventory line that set `path`, or at the host's entry."""
    location = host.locate(path)
    if location.file != inventory.display:
        message += f" (value from {location})"
        location = host.entry
    return Finding(CHECK, f"host {host.hostname}: {message}", location, format_key(path), severity)


def _network_install_source(inventory: Inventory, hosts: Sequence[ModelledHost]) -> Iterator[Finding]:
    pxe = inventory.model.pxe
    for modelled in hosts:
        images = pxe.images_for(modelled.profile.target)
        if pxe.repo is None and (images is None or images.repo is None) and modelled.profile.install.source.cdrom:
            message = "installs from cdrom, which a network boot does not have; set pxe.repo to a tree URL"
            yield _finding(inventory, modelled.host, ("install", "source"), message)


def _named(host: FleetHost, path: KeyPath) -> str:
    return f"host {host.hostname} ({host.locate(path)})"


def _duplicate_hostnames(inventory: Inventory, hosts: Sequence[ModelledHost]) -> Iterator[Finding]:
    # dnsmasq keeps a dhcp-host name's domain only when it matches its own `domain=` for that address (option.c
    # strips it, rfc2131.c logs "Ignoring domain" otherwise), and the snippet hands out the short name: two hosts
    # whose names differ only after the first dot would claim one DHCP name.
    first: dict[str, FleetHost] = {}
    for host in inventory.hosts:
        name = host.hostname.lower().rstrip(".")
        short = name.split(".")[0]
        path: KeyPath = ("hosts", host.index, "hostname")
        owner = first.get(short)
        if owner is None:
            first[short] = host
            continue
        where = inventory.locate(("hosts", owner.index, "hostname"))
        if owner.hostname.lower().rstrip(".") == name:
            message = f"host {host.hostname}: hostname is already used by hosts[{owner.index}] ({where})"
        else:
            message = (f"host {host.hostname}: its short name {short} is already that of {owner.hostname} "
                       f"(hosts[{owner.index}], {where}); dnsmasq hands out names without their domain "
                       f"(dhcp-host=...,{short}), so both would claim one name")
        yield Finding(CHECK, message, inventory.locate(path), format_key(path))


def _duplicate_macs(inventory: Inventory, hosts: Sequence[ModelledHost]) -> Iterator[Finding]:
    first: dict[str, tuple[FleetHost, int]] = {}
    for host in inventory.hosts:
        for position, mac in enumerate(host.macs):
            path: KeyPath = ("hosts", host.index, "macs", position)
            if mac in first:
                owner, owner_position = first[mac]
                where = inventory.locate(("hosts", owner.index, "macs", owner_position))
                whose = "this host" if owner is host else f"host {owner.hostname}"
                message = f"host {host.hostname}: MAC {mac} is already {whose}'s ({where})"
                yield Finding(CHECK, message, inventory.locate(path), format_key(path))
            else:
                first[mac] = (host, position)


def _boot_mac_matches_profile(inventory: Inventory, hosts: Sequence[ModelledHost]) -> Iterator[Finding]:
    # An ifcfg file pinned to another MAC (HWADDR=) would leave the boot NIC unconfigured after the install.
    for modelled in hosts:
        host, net = modelled.host, modelled.profile.network
        device = install_network(modelled.profile).device
        for index, interface in enumerate(net.interfaces):
            if interface.name == device and interface.mac is not None and interface.mac != host.macs[0]:
                path: KeyPath = ("network", "interfaces", index, "mac")
                message = (f"boot interface {device} is pinned to MAC {interface.mac}, but the host's first "
                           f"(boot) MAC is {host.macs[0]}")
                yield _finding(inventory, host, path, message)


def _static_addresses(profile: Profile) -> Iterator[tuple[KeyPath, str, IPv4Interface, IPv4Address | None]]:
    """(key path of the address, device name, address, gateway) of every static address of a host."""
    net = profile.network
    devices: list[tuple[str, int, Device]] = [
        *(("interfaces", n, d) for n, d in enumerate(net.interfaces)),
        *(("bonds", n, d) for n, d in enumerate(net.bonds)),
        *(("vlans", n, d) for n, d in enumerate(net.vlans)),
        *(("bridges", n, d) for n, d in enumerate(net.bridges)),
    ]
    for kind, index, device in devices:
        if device.ipv4 is not None and device.ipv4.address is not None:
            path: KeyPath = ("network", kind, index, "ipv4", "address")
            name = device.device if isinstance(device, Vlan) else device.name
            yield path, name, device.ipv4.address, device.ipv4.gateway


def _duplicate_addresses(inventory: Inventory, hosts: Sequence[ModelledHost]) -> Iterator[Finding]:
    owners: dict[IPv4Address, tuple[FleetHost, KeyPath, str]] = {}
    gateways: dict[IPv4Address, tuple[FleetHost, KeyPath]] = {}
    for modelled in hosts:
        for path, device, address, gateway in _static_addresses(modelled.profile):
            ip = address.ip
            if ip in owners:
                owner, owner_path, owner_device = owners[ip]
                both_bridges = path[1] == "bridges" and owner_path[1] == "bridges"
                shared = "bridge address" if both_bridges else "address"
                other = _named(owner, owner_path)
                message = f"{shared} {ip} of {device} is already {owner_device}'s on {other}"
                yield _finding(inventory, modelled.host, path, message)
            else:
                owners[ip] = (modelled.host, path, device)
            if gateway is not None:
                gateways.setdefault(gateway, (modelled.host, (*path[:-1], "gateway")))
    for ip, (owner, owner_path, device) in owners.items():
        if ip in gateways and gateways[ip][0] is not owner:
            gateway_host, gateway_path = gateways[ip]
            message = f"address {ip} of {device} is the gateway of {_named(gateway_host, gateway_path)}"
            yield _finding(inventory, owner, owner_path, message)


def _provisioning_subnet(inventory: Inventory, hosts: Sequence[ModelledHost]) -> Iterator[Finding]:
    dhcp = inventory.model.dhcp
    subnet = dhcp.subnet
    if dhcp.gateway is not None and subnet is not None and dhcp.gateway not in subnet:
        message = f"gateway {dhcp.gateway} is outside the subnet {subnet}"
        yield Finding(CHECK, message, inventory.locate(("dhcp", "gateway")), "dhcp.gateway")
    if dhcp.range is not None:
        start, end = dhcp.range
        where = inventory.locate(("dhcp", "range"))
        if start > end:
            yield Finding(CHECK, f"range starts at {start}, after its end {end}", where, "dhcp.range")
        if subnet is not None and not (start in subnet and end in subnet):
            message = f"range {start}-{end} is not inside the subnet {subnet}"
            yield Finding(CHECK, message, where, "dhcp.range")
    for modelled in hosts:
        address = modelled.install_address
        if address is None:
            continue
        path = _install_address_path(modelled)
        ip = address.ip
        if dhcp.gateway is not None and ip == dhcp.gateway:
            yield _finding(inventory, modelled.host, path, f"install address {ip} is the DHCP gateway")
        if dhcp.range is not None and dhcp.range[0] <= ip <= dhcp.range[1]:
            message = f"install address {ip} is inside the dynamic range {dhcp.range[0]}-{dhcp.range[1]}"
            yield _finding(inventory, modelled.host, path, message)
        if subnet is None:
            continue
        if ip not in subnet:
            message = f"install address {ip} is outside the subnet {subnet}"
            yield _finding(inventory, modelled.host, path, message)
        elif subnet.prefixlen < 31 and ip in (subnet.network_address, subnet.broadcast_address):
            message = f"install address {ip} is the network or broadcast address of {subnet}"
            yield _finding(inventory, modelled.host, path, message)
        elif address.network != subnet:
            message = f"install address {address} has another prefix than the subnet {subnet}"
            yield _finding(inventory, modelled.host, path, message, "warning")


def _install_address_path(modelled: ModelledHost) -> KeyPath:
    """Key path of the address `install_network` picked: the boot device's own, or its bridge's."""
    return install_network(modelled.profile).address_key or ("network",)


def _one_installer_per_target(inventory: Inventory, hosts: Sequence[ModelledHost]) -> Iterator[Finding]:
    """An installer installs its own release only: hosts of different targets cannot share pxe.kernel/initrd."""
    pxe = inventory.model.pxe
    sharing: dict[str, list[str]] = {}
    for modelled in hosts:
        if pxe.images_for(modelled.profile.target) is None:
            sharing.setdefault(targets.target(modelled.profile.target).name, []).append(modelled.hostname)
    if len(sharing) < 2:
        return
    who = "; ".join(f"{name}: {', '.join(names[:3])}{', ...' if len(names) > 3 else ''}"
                    for name, names in sorted(sharing.items()))
    yield Finding(CHECK, f"hosts of {len(sharing)} targets would boot the one installer in pxe.kernel and "
                  f"pxe.initrd ({who}); an installer installs its own release: give pxe.images.<target> "
                  "(kernel, initrd) for all but one of them", inventory.locate(("pxe",)), "pxe.images")


def _installer_arguments(inventory: Inventory, hosts: Sequence[ModelledHost]) -> Iterator[Finding]:
    """anaconda options in pxe.kernel_args without their inst. prefix, for the targets that do not take them."""
    arguments = inventory.model.pxe.kernel_args
    for name in sorted({targets.target(m.profile.target).name for m in hosts}):
        target = targets.target(name)
        if target.unprefixed_boot_options == "accepted":
            continue
        ignored = target.unprefixed_boot_options == "ignored"
        for index, argument in enumerate(arguments):
            option = argument.split("=", 1)[0]
            if option in targets.ANACONDA_BOOT_OPTIONS:
                what = "ignores" if ignored else "deprecates"
                path: KeyPath = ("pxe", "kernel_args", index)
                yield Finding(CHECK, f"{argument}: {target.label}'s installer {what} anaconda options without the "
                              f"inst. prefix; write inst.{argument}", inventory.locate(path), format_key(path),
                              "error" if ignored else "warning")
