"""Checks of a whole fleet: every host's profile through the core checks, then conflicts between hosts.

Per host: the profile schema and the semantic checks, exactly as `ksbuild validate` runs them (pykickstart,
shellcheck and policy run on the rendered kickstarts, in `builder.fleet.worker`), and what one host's install
needs of the provisioning network (`host_checks`): its install address inside the subnet, not a gateway, not the
subnet's network or broadcast address, not inside the dynamic DHCP range; its boot NIC not pinned to another MAC;
a network install source. Across hosts (`fleet_checks`): duplicate hostnames and short names, MACs and addresses
(a bridge address shared by two hosts included), an address that is another host's gateway. A fleet render runs
the per-host checks where it renders each host (in worker processes), and keeps only `HostFacts`, what the
fleet-wide checks need, of each host.

Every finding names its host, and sits at the inventory line that set the value; a value that came from the
profile is reported at the host's entry in the inventory, with the profile line in the message.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Interface

from builder import targets
from builder.errors import BadInput, Finding, Location, Severity
from builder.fleet.inventory import FleetHost, Inventory, for_host
from builder.fleet.inventory_model import Dhcp, PxeSettings, boot_url_problem
from builder.model.network import Device, Vlan
from builder.model.profile import Profile
from builder.pipeline import BuildRequest, Modelled, model
from builder.render.context import install_network
from builder.render.target_plan import install_tree
from builder.vocabulary import DEFAULT_ROOTS, KeyPath, Roots, format_key

CHECK = "fleet"


@dataclass(frozen=True)
class FleetScope:
    """What the per-host checks need of the inventory (small: it goes to every worker process)."""

    display: str  # the inventory file as messages show it
    dhcp: Dhcp
    pxe: PxeSettings

    @classmethod
    def of(cls, inventory: Inventory) -> FleetScope:
        return cls(inventory.display, inventory.model.dhcp, inventory.model.pxe)


@dataclass(frozen=True)
class AddressFact:
    """One static address of a host, located (where it was set, where its gateway was set)."""

    path: KeyPath
    device: str
    ip: IPv4Address
    gateway: IPv4Address | None
    at: Location
    gateway_at: Location


@dataclass(frozen=True)
class HostFacts:
    """What the fleet-wide checks need of one host: small enough to keep for 10,000 of them."""

    index: int
    hostname: str
    entry: Location
    target: str  # the profile's target, as it names it
    addresses: tuple[AddressFact, ...]


@dataclass(frozen=True)
class ModelledHost:
    host: FleetHost
    modelled: Modelled  # the host's merged profile through the pipeline's model stage
    findings: tuple[Finding, ...]  # the core semantic checks and the per-host fleet checks, each naming the host

    @property
    def hostname(self) -> str:
        return self.host.hostname

    @property
    def profile(self) -> Profile:
        return self.modelled.profile

    @property
    def install_address(self) -> IPv4Interface | None:
        return install_address(self.profile)

    @property
    def install_gateway(self) -> IPv4Address | None:
        return install_gateway(self.profile)


def install_address(profile: Profile) -> IPv4Interface | None:
    """The address the installer uses on the boot NIC (its own or its bridge's): what DHCP hands out."""
    network = install_network(profile)
    if network.dhcp or network.ip is None or network.netmask is None:
        return None
    return IPv4Interface(f"{network.ip}/{network.netmask}")


def install_gateway(profile: Profile) -> IPv4Address | None:
    gateway = install_network(profile).gateway
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


def model_host(host: FleetHost, scope: FleetScope, roots: Roots) -> ModelledHost:
    """One host through the pipeline's model stage, its semantic and per-host fleet findings named for it;
    BadInput (naming the host) when its merged profile does not have the right shape."""
    try:
        result = model(BuildRequest(host.merged(), roots=roots))
    except BadInput as exc:
        found = exc.findings or (Finding(CHECK, exc.message, host.entry),)
        raise BadInput(exc.message, [for_host(f, host.hostname) for f in found]) from None
    semantic = [for_host(f, host.hostname) for f in result.semantic]
    return ModelledHost(host, result, (*semantic, *host_checks(scope, host, result.profile)))


def model_fleet(inventory: Inventory, roots: Roots = DEFAULT_ROOTS) -> FleetModel:
    """Model and check every host (as `ksbuild validate` does), then check the fleet as a whole; all problems
    are collected. In one process: a fleet render does the same per host in its workers."""
    findings: list[Finding] = []
    modelled: list[ModelledHost] = []
    unreadable = False
    scope = FleetScope.of(inventory)
    for host in inventory.hosts:
        try:
            one = model_host(host, scope, roots)
        except BadInput as exc:
            unreadable = True
            findings.extend(exc.findings)
            continue
        findings.extend(one.findings)
        modelled.append(one)
    findings.extend(fleet_checks(inventory, [host_facts(m.host, m.profile) for m in modelled]))
    return FleetModel(inventory, tuple(modelled), tuple(findings), unreadable)


def host_facts(host: FleetHost, profile: Profile) -> HostFacts:
    addresses = tuple(
        AddressFact(path, device, address.ip, gateway, host.locate(path), host.locate((*path[:-1], "gateway")))
        for path, device, address, gateway in static_addresses(profile)
    )
    return HostFacts(host.index, host.hostname, host.entry, profile.target, addresses)


def host_checks(scope: FleetScope, host: FleetHost, profile: Profile) -> list[Finding]:
    """What one host's install needs of the provisioning network and the inventory."""
    return [*_boot_mac_matches_profile(scope, host, profile), *_install_address_checks(scope, host, profile),
            *_network_install_source(scope, host, profile)]


def fleet_checks(inventory: Inventory, hosts: Sequence[HostFacts]) -> list[Finding]:
    """Conflicts between hosts, and the inventory's own DHCP settings."""
    return [*_duplicate_hostnames(inventory), *_duplicate_macs(inventory), *_duplicate_addresses(inventory, hosts),
            *_dhcp_settings(inventory), *_one_installer_per_target(inventory, hosts),
            *_installer_arguments(inventory, hosts)]


def _placed(display: str, at: Location, entry: Location, message: str) -> tuple[Location, str]:
    """A finding at the inventory line that set a value, or at the host's entry when the value came from the
    profile (said in the message)."""
    if at.file != display:
        return entry, f"{message} (value from {at})"
    return at, message


def _finding(
    scope: FleetScope, host: FleetHost, path: KeyPath, message: str, severity: Severity = "error"
) -> Finding:
    """A finding on `host` at the inventory line that set `path`, or at the host's entry."""
    location, message = _placed(scope.display, host.locate(path), host.entry, message)
    return Finding(CHECK, f"host {host.hostname}: {message}", location, format_key(path), severity)


def _network_install_source(scope: FleetScope, host: FleetHost, profile: Profile) -> Iterator[Finding]:
    pxe = scope.pxe
    images = pxe.images_for(profile.target)
    if pxe.repo is not None or (images is not None and images.repo is not None):
        return  # the entries' inst.repo= is the inventory's, checked where it is given
    if profile.install.source.cdrom:
        message = "installs from cdrom, which a network boot does not have; set pxe.repo to a tree URL"
        yield _finding(scope, host, ("install", "source"), message)
        return
    # Without pxe.repo, the profile's install tree is each boot entry's inst.repo=.
    url = install_tree(profile).url
    problem = boot_url_problem(url) if url is not None else None
    if problem is not None:
        yield _finding(scope, host, ("install", "source", "url"), f"{problem}; or set pxe.repo")


def _boot_mac_matches_profile(scope: FleetScope, host: FleetHost, profile: Profile) -> Iterator[Finding]:
    # An ifcfg file pinned to another MAC (HWADDR=) would leave the boot NIC unconfigured after the install.
    device = install_network(profile).device
    for index, interface in enumerate(profile.network.interfaces):
        if interface.name == device and interface.mac is not None and interface.mac != host.macs[0]:
            path: KeyPath = ("network", "interfaces", index, "mac")
            message = (f"boot interface {device} is pinned to MAC {interface.mac}, but the host's first "
                       f"(boot) MAC is {host.macs[0]}")
            yield _finding(scope, host, path, message)


def _install_address_checks(scope: FleetScope, host: FleetHost, profile: Profile) -> Iterator[Finding]:
    dhcp = scope.dhcp
    address = install_address(profile)
    if address is None:
        return
    path = install_network(profile).address_key or ("network",)
    ip = address.ip
    if dhcp.gateway is not None and ip == dhcp.gateway:
        yield _finding(scope, host, path, f"install address {ip} is the DHCP gateway")
    if dhcp.range is not None and dhcp.range[0] <= ip <= dhcp.range[1]:
        message = f"install address {ip} is inside the dynamic range {dhcp.range[0]}-{dhcp.range[1]}"
        yield _finding(scope, host, path, message)
    subnet = dhcp.subnet
    if subnet is None:
        return
    if ip not in subnet:
        yield _finding(scope, host, path, f"install address {ip} is outside the subnet {subnet}")
    elif subnet.prefixlen < 31 and ip in (subnet.network_address, subnet.broadcast_address):
        yield _finding(scope, host, path, f"install address {ip} is the network or broadcast address of {subnet}")
    elif address.network != subnet:
        message = f"install address {address} has another prefix than the subnet {subnet}"
        yield _finding(scope, host, path, message, "warning")


def _duplicate_hostnames(inventory: Inventory) -> Iterator[Finding]:
    # dnsmasq keeps a dhcp-host name's domain only when it matches its own `domain=` for that address (option.c
    # strips it, rfc2131.c logs "Ignoring domain" otherwise), and the snippet hands out the short name: two hosts
    # whose names differ only after the first dot would claim one DHCP name.
    first: dict[str, int] = {}
    entries = inventory.model.hosts
    for index, entry in enumerate(entries):
        name = entry.hostname.lower().rstrip(".")
        short = name.split(".")[0]
        path: KeyPath = ("hosts", index, "hostname")
        owner = first.setdefault(short, index)
        if owner == index:
            continue
        where = inventory.locate(("hosts", owner, "hostname"))
        other = entries[owner].hostname
        if other.lower().rstrip(".") == name:
            message = f"host {entry.hostname}: hostname is already used by hosts[{owner}] ({where})"
        else:
            message = (f"host {entry.hostname}: its short name {short} is already that of {other} "
                       f"(hosts[{owner}], {where}); dnsmasq hands out names without their domain "
                       f"(dhcp-host=...,{short}), so both would claim one name")
        yield Finding(CHECK, message, inventory.locate(path), format_key(path))


def _duplicate_macs(inventory: Inventory) -> Iterator[Finding]:
    first: dict[str, tuple[int, int]] = {}
    entries = inventory.model.hosts
    for index, entry in enumerate(entries):
        for position, mac in enumerate(entry.macs):
            path: KeyPath = ("hosts", index, "macs", position)
            owner, owner_position = first.setdefault(mac, (index, position))
            if (owner, owner_position) == (index, position):
                continue
            where = inventory.locate(("hosts", owner, "macs", owner_position))
            whose = "this host" if owner == index else f"host {entries[owner].hostname}"
            message = f"host {entry.hostname}: MAC {mac} is already {whose}'s ({where})"
            yield Finding(CHECK, message, inventory.locate(path), format_key(path))


def static_addresses(profile: Profile) -> Iterator[tuple[KeyPath, str, IPv4Interface, IPv4Address | None]]:
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


def _duplicate_addresses(inventory: Inventory, hosts: Sequence[HostFacts]) -> Iterator[Finding]:
    display = inventory.display

    def finding(host: HostFacts, fact: AddressFact, message: str) -> Finding:
        location, message = _placed(display, fact.at, host.entry, message)
        return Finding(CHECK, f"host {host.hostname}: {message}", location, format_key(fact.path))

    owners: dict[IPv4Address, tuple[HostFacts, AddressFact]] = {}
    gateways: dict[IPv4Address, tuple[HostFacts, Location]] = {}
    for host in hosts:
        for fact in host.addresses:
            if fact.ip in owners:
                owner, owned = owners[fact.ip]
                both_bridges = fact.path[1] == "bridges" and owned.path[1] == "bridges"
                shared = "bridge address" if both_bridges else "address"
                message = (f"{shared} {fact.ip} of {fact.device} is already {owned.device}'s on host "
                           f"{owner.hostname} ({owned.at})")
                yield finding(host, fact, message)
            else:
                owners[fact.ip] = (host, fact)
            if fact.gateway is not None:
                gateways.setdefault(fact.gateway, (host, fact.gateway_at))
    for ip, (owner, owned) in owners.items():
        if ip in gateways and gateways[ip][0] is not owner:
            gateway_host, gateway_at = gateways[ip]
            message = f"address {ip} of {owned.device} is the gateway of host {gateway_host.hostname} ({gateway_at})"
            yield finding(owner, owned, message)


def _dhcp_settings(inventory: Inventory) -> Iterator[Finding]:
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


def _one_installer_per_target(inventory: Inventory, hosts: Sequence[HostFacts]) -> Iterator[Finding]:
    """An installer installs its own release only: hosts of different targets cannot share pxe.kernel/initrd."""
    pxe = inventory.model.pxe
    sharing: dict[str, list[str]] = {}
    for host in hosts:
        if pxe.images_for(host.target) is None:
            sharing.setdefault(targets.target(host.target).name, []).append(host.hostname)
    if len(sharing) < 2:
        return
    who = "; ".join(f"{name}: {', '.join(names[:3])}{', ...' if len(names) > 3 else ''}"
                    for name, names in sorted(sharing.items()))
    yield Finding(CHECK, f"hosts of {len(sharing)} targets would boot the one installer in pxe.kernel and "
                  f"pxe.initrd ({who}); an installer installs its own release: give pxe.images.<target> "
                  "(kernel, initrd) for all but one of them", inventory.locate(("pxe",)), "pxe.images")


def _installer_arguments(inventory: Inventory, hosts: Sequence[HostFacts]) -> Iterator[Finding]:
    """anaconda options in pxe.kernel_args without their inst. prefix, for the targets that do not take them."""
    arguments = inventory.model.pxe.kernel_args
    for name in sorted({targets.target(host.target).name for host in hosts}):
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
