"""Checks that need the whole profile: cross-references, subnets, uniqueness.

Each check yields (key path, message, severity); `check_profile` turns them into located findings so that
every problem is reported at once, each at the file:line the value came from.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from ipaddress import IPv4Interface
from pathlib import Path

from builder.errors import Finding, Location, Severity
from builder.model.build import PathKey, format_key
from builder.model.network import IPv4Config
from builder.model.profile import Profile

Problem = tuple[PathKey, str, Severity]
Locate = Callable[[PathKey], Location]


def check_profile(profile: Profile, locate: Locate) -> list[Finding]:
    findings = []
    for check in (_check_addresses, _check_devices, _check_services, _check_users, _check_scripts, _check_storage,
                  _check_repos):
        for path, message, severity in check(profile):
            findings.append(
                Finding(check="semantic", message=message, location=locate(path), key=format_key(path),
                        severity=severity)
            )
    findings.extend(check_templates_dir(profile, locate))
    return findings


def templates_dir_of(profile: Profile, locate: Locate) -> Path | None:
    """The `templates:` folder, relative to the file that set it."""
    if profile.templates is None:
        return None
    origin = locate(("templates",))
    base = Path(origin.file).parent if origin.line is not None else Path.cwd()
    return (base / profile.templates).resolve()


def check_templates_dir(profile: Profile, locate: Locate) -> list[Finding]:
    folder = templates_dir_of(profile, locate)
    if folder is None or folder.is_dir():
        return []
    return [Finding("semantic", f"template folder {folder} does not exist", locate(("templates",)), "templates")]


def _check_ipv4(config: IPv4Config, path: PathKey) -> Iterator[Problem]:
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


def _check_addresses(profile: Profile) -> Iterator[Problem]:
    net = profile.network
    gateways: list[PathKey] = []
    for index, interface in enumerate(net.interfaces):
        path: PathKey = ("network", "interfaces", index)
        if interface.ipv4 is not None:
            yield from _check_ipv4(interface.ipv4, (*path, "ipv4"))
            if interface.ipv4.gateway is not None:
                gateways.append((*path, "ipv4", "gateway"))
    for index, bridge in enumerate(net.bridges):
        path = ("network", "bridges", index)
        if bridge.ipv4 is not None:
            yield from _check_ipv4(bridge.ipv4, (*path, "ipv4"))
            if bridge.ipv4.gateway is not None:
                gateways.append((*path, "ipv4", "gateway"))
    for extra in gateways[1:]:
        yield extra, f"a second default gateway (the first is {format_key(gateways[0])}); keep one", "error"
    seen: Counter[str] = Counter()
    for index, server in enumerate(net.nameservers):
        seen[str(server)] += 1
        if seen[str(server)] == 2:
            yield ("network", "nameservers", index), f"{server} is listed twice", "error"


def _check_devices(profile: Profile) -> Iterator[Problem]:
    net = profile.network
    bridge_names = {bridge.name for bridge in net.bridges}
    first_use: dict[str, PathKey] = {}
    devices: list[tuple[str, PathKey]] = [
        (i.name, ("network", "interfaces", n, "name")) for n, i in enumerate(net.interfaces)
    ] + [(b.name, ("network", "bridges", n, "name")) for n, b in enumerate(net.bridges)]
    for name, path in devices:
        if name in first_use:
            yield path, f"device {name} is already defined at {format_key(first_use[name])}", "error"
        else:
            first_use[name] = path
    for index, interface in enumerate(net.interfaces):
        path = ("network", "interfaces", index)
        if interface.bridge is not None:
            if interface.bridge not in bridge_names:
                known = ", ".join(sorted(bridge_names)) or "none defined"
                yield (*path, "bridge"), f"no bridge named {interface.bridge} (bridges: {known})", "error"
            if interface.ipv4 is not None:
                yield (*path, "ipv4"), f"{interface.name} is a port of {interface.bridge}: put the address on the "\
                    "bridge, not on the port", "error"
    macs: dict[str, int] = {}
    for index, interface in enumerate(net.interfaces):
        if interface.mac is None:
            continue
        if interface.mac in macs:
            yield ("network", "interfaces", index, "mac"), f"MAC {interface.mac} is also on interfaces[{macs[interface.mac]}]",\
                "error"
        macs.setdefault(interface.mac, index)
    if net.install_device is not None and net.install_device not in {i.name for i in net.interfaces}:
        yield ("network", "install_device"), f"{net.install_device} is not one of network.interfaces", "error"
    if net.nameservers and not any(d.ipv4 for d in (*net.interfaces, *net.bridges)):
        yield ("network", "nameservers"), "name servers given but no device has an address", "warning"


def _check_services(profile: Profile) -> Iterator[Problem]:
    services = profile.system.services
    disabled = set(services.disabled)
    for index, name in enumerate(services.enabled):
        if name in disabled:
            yield ("system", "services", "enabled", index), f"{name} is both enabled and disabled", "error"
    firewall = profile.system.firewall
    if not firewall.enabled and (firewall.services or firewall.ports):
        yield ("system", "firewall"), "services/ports are ignored while the firewall is disabled", "warning"
    if firewall.enabled and "firewalld" in disabled:
        yield ("system", "firewall", "enabled"), "firewall enabled but firewalld is in services.disabled", "error"
    nm_on = "NetworkManager" not in disabled
    if nm_on and (profile.network.bridges or profile.network.interfaces):
        yield (("system", "services", "disabled"),
               "NetworkManager stays on while ksbuild writes ifcfg files; add NetworkManager to services.disabled "
               "so the network service alone manages them", "warning")


def _check_users(profile: Profile) -> Iterator[Problem]:
    seen: dict[str, int] = {}
    for index, account in enumerate(profile.users.accounts):
        path: PathKey = ("users", "accounts", index, "name")
        if account.name == "root":
            yield path, "root is configured under users.root, not as an account", "error"
        elif account.name in seen:
            yield path, f"account {account.name} is already defined at users.accounts[{seen[account.name]}]", "error"
        seen.setdefault(account.name, index)


# Section names ksbuild's own templates use: a user script with one of these would share its log file.
RESERVED_SCRIPT_NAMES = frozenset(
    {"hardware-virt", "repos", "selinux", "nested-virt", "network", "libvirt-network", "verify", "seal", "complete"}
)


def _check_scripts(profile: Profile) -> Iterator[Problem]:
    for phase, scripts in (("pre", profile.scripts.pre), ("post", profile.scripts.post)):
        seen: set[str] = set()
        for index, script in enumerate(scripts):
            path: PathKey = ("scripts", phase, index)
            if script.name in seen:
                yield (*path, "name"), f"another {phase} script is named {script.name}", "error"
            if script.name in RESERVED_SCRIPT_NAMES:
                yield (*path, "name"), f"{script.name} is the name of a section ksbuild writes; pick another", "error"
            seen.add(script.name)
            if phase == "pre" and script.nochroot:
                yield (*path, "nochroot"), "%pre scripts always run in the installer; nochroot is for %post", "error"


def _check_storage(profile: Profile) -> Iterator[Problem]:
    storage = profile.storage
    mounts: dict[str, int] = {}
    for index, part in enumerate(storage.partitions):
        path: PathKey = ("storage", "partitions", index)
        if (part.mount == "swap") != (part.fstype == "swap"):
            yield (*path, "fstype"), "swap partitions need mount: swap and fstype: swap together", "error"
        if part.mount != "swap":
            if part.mount in mounts:
                yield (*path, "mount"), f"{part.mount} is already mounted by partitions[{mounts[part.mount]}]",\
                    "error"
            mounts.setdefault(part.mount, index)
    if storage.layout == "custom" and "/" not in mounts:
        yield ("storage", "partitions"), "no partition is mounted at /", "error"
    if len(set(storage.disks)) != len(storage.disks):
        yield ("storage", "disks"), "a disk is listed twice", "error"


def _check_repos(profile: Profile) -> Iterator[Problem]:
    seen: set[str] = set()
    for index, repo in enumerate(profile.install.repos):
        if repo.name in seen:
            yield ("install", "repos", index, "name"), f"another repo is named {repo.name}", "error"
        seen.add(repo.name)
        if repo.gpgcheck and repo.gpgkey is None:
            yield (("install", "repos", index, "gpgkey"),
                   "gpgcheck is on but no gpgkey is given; yum will refuse unsigned or unknown-key packages",
                   "warning")
