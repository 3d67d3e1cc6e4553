"""ifcfg files as data: reading one a script writes, and what anaconda 21 writes on the installed system for each
kickstart `network` line (so that a %post which appends to that file, and the round trip, start from it).

The anaconda side is a model, from its source (network.py `ks_spec_to_device_name`, `add_connection_for_ksdata`,
NetworkManager's ifcfg-rh writer): one file per device with its address, a Bond/Bridge/Vlan with its members,
`IPV6INIT=no` with --noipv6. Key order and NetworkManager's bookkeeping keys (UUID, IPV6_* defaults) are left
out: nothing ksbuild or initscripts decides depends on them.
"""

from __future__ import annotations

import ipaddress
import re
import shlex
from collections.abc import Mapping
from typing import Any

IFCFG_DIR = "/etc/sysconfig/network-scripts"
_ASSIGNMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$")
# Bonding modes by number, as BONDING_OPTS and --bondopts may give them (kernel bonding.txt).
BOND_MODES = {"0": "balance-rr", "1": "active-backup", "2": "balance-xor", "3": "broadcast", "4": "802.3ad",
              "5": "balance-tlb", "6": "balance-alb"}


def device_of_path(path: str) -> str | None:
    """`eth0` for /etc/sysconfig/network-scripts/ifcfg-eth0; None for backups and other files."""
    directory, _, name = path.rpartition("/")
    if directory != IFCFG_DIR or not name.startswith("ifcfg-") or name == "ifcfg-lo":
        return None
    device = name.removeprefix("ifcfg-")
    if not device or device.endswith((".bak", ".orig", ".old", "~", ".rpmnew", ".rpmsave")) or ("." in device and \
            not re.fullmatch(r"[A-Za-z0-9_-]+\.[0-9]+", device)):
        return None
    return device


def parse_ifcfg(text: str) -> dict[str, str] | None:
    """KEY=value pairs of an ifcfg file in order, quotes removed; None when a line is anything else (a command, an
    expansion), which a shell would run and this reader cannot."""
    entries: dict[str, str] = {}
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        match = _ASSIGNMENT.match(stripped)
        if match is None:
            return None
        raw = match[2]
        if re.search(r"[$`]", raw.replace("\\$", "")) and not (raw.startswith("'") and raw.endswith("'")):
            return None
        try:
            words = shlex.split(raw, comments=True)
        except ValueError:
            return None
        if len(words) > 1:
            return None
        entries[match[1]] = words[0] if words else ""
    return entries


def render_ifcfg(entries: dict[str, str]) -> str:
    return "".join(f'{key}="{value}"\n' if re.search(r"[\s]", value) else f"{key}={value}\n"
                   for key, value in entries.items())


def bond_options(text: str) -> dict[str, str]:
    """mode=802.3ad miimon=100 (BONDING_OPTS, spaces) or mode=4,miimon=100 (--bondopts, commas or ;)."""
    options: dict[str, str] = {}
    for part in re.split(r"[\s,;]+", text.strip()):
        if not part:
            continue
        key, _, value = part.partition("=")
        options[key] = BOND_MODES.get(value, value) if key == "mode" else value
    return options


def prefix_of(netmask: str) -> str | None:
    try:
        return str(ipaddress.IPv4Network(f"0.0.0.0/{netmask}").prefixlen)
    except ValueError:
        return None


def _address(data: Any) -> dict[str, str]:
    entries: dict[str, str] = {}
    if data.bootProto == "dhcp" or (not data.bootProto and not data.ip):
        entries["BOOTPROTO"] = "dhcp"
    elif data.ip:
        entries["BOOTPROTO"] = "none"
        entries["IPADDR"] = data.ip
        prefix = prefix_of(data.netmask) if data.netmask else None
        if prefix is not None:
            entries["PREFIX"] = prefix
        if data.gateway:
            entries["GATEWAY"] = data.gateway
            entries["DEFROUTE"] = "yes"
        for number, server in enumerate(nameservers(data), start=1):
            entries[f"DNS{number}"] = server
    else:
        entries["BOOTPROTO"] = "none"
    return entries


def nameservers(data: Any) -> list[str]:
    return [s for s in re.split(r"[\s,]+", data.nameserver or "") if s][:3]


def is_named(device: str) -> bool:
    """A kernel name, not a MAC, `bootif` or `link` (those anaconda resolves at install time)."""
    return bool(device) and device not in ("bootif", "link", "ibft") and ":" not in device


def device_name(device: str, nic_names: Mapping[str, str] | None = None) -> str:
    """A line's --device as the kernel names it: a MAC given a name (`ksbuild import --nic-name`) is that name."""
    return (nic_names or {}).get(device.lower(), device)


def anaconda_ifcfg(lines: list[Any], nic_names: Mapping[str, str] | None = None) -> dict[str, dict[str, str]]:
    """The ifcfg files anaconda writes on the installed system for these `network` data objects, by file suffix.
    A line naming its NIC by MAC gets a file only when `nic_names` (MAC -> kernel name) says the NIC's name: anaconda
    finds the NIC by its MAC and writes that NIC's file, with HWADDR=."""
    files: dict[str, dict[str, str]] = {}
    for data in lines:
        device = device_name(data.device, nic_names)
        if not is_named(device):
            continue
        common = {"ONBOOT": "yes" if data.onboot else "no", "IPV6INIT": "no" if data.noipv6 else "yes"}
        if data.mtu:
            common["MTU"] = str(data.mtu)
        if data.ethtool:
            common["ETHTOOL_OPTS"] = data.ethtool
        if data.bridgeslaves:
            bridge = {"DEVICE": device, "NAME": device, "TYPE": "Bridge", **_address(data), **common}
            opts = dict(part.partition("=")[::2] for part in re.split(r"[,\s]+", data.bridgeopts or "") if part)
            if "stp" in opts:
                bridge["STP"] = "yes" if opts["stp"] in ("yes", "on", "1", "true") else "no"
            if "forward_delay" in opts:
                bridge["DELAY"] = opts["forward_delay"]
            files[device] = bridge
            for port in [p for p in re.split(r"[,\s]+", data.bridgeslaves) if p]:
                files[port] = {"DEVICE": port, "NAME": port, "TYPE": "Ethernet", "ONBOOT": common["ONBOOT"],
                               "BRIDGE": device}
            continue
        base = device
        if data.bondslaves:
            options = " ".join(f"{k}={v}" for k, v in bond_options(data.bondopts or "").items())
            bond = {"DEVICE": device, "NAME": device, "TYPE": "Bond", "BONDING_MASTER": "yes"}
            if options:
                bond["BONDING_OPTS"] = options
            files[device] = bond
            for member in [m for m in re.split(r"[,\s]+", data.bondslaves) if m]:
                files[member] = {"DEVICE": member, "NAME": member, "TYPE": "Ethernet", "ONBOOT": "yes",
                                 "MASTER": device, "SLAVE": "yes"}
        if data.vlanid:
            name = data.interfacename or f"{base}.{data.vlanid}"
            files[name] = {"DEVICE": name, "NAME": name, "VLAN": "yes", "PHYSDEV": base, "VLAN_ID": str(data.vlanid),
                           **_address(data), **common}
            files.setdefault(base, {"DEVICE": base, "NAME": base, "TYPE": "Ethernet", "BOOTPROTO": "none",
                                    "ONBOOT": "yes"})
            continue
        own = files.get(device, {"DEVICE": device, "NAME": device, "TYPE": "Ethernet"})
        if device != data.device and own.get("TYPE") == "Ethernet":
            own.setdefault("HWADDR", data.device.lower())
        own.update(_address(data))
        own.update(common)
        files[device] = own
    return files
