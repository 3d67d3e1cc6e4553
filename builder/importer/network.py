"""`network` lines and the ifcfg files %post writes → `network:` (NICs, bonds, VLANs, bridges), the host name and
the installer's device.

Each device's final file is what anaconda writes for its `network` line (builder.importer.ifcfg), replaced (or
appended to) by what %post writes; that file is mapped key by key. Decisions:
- A device, with every device joined to it (ports, members, parent), is mapped from its files only when every
  key of every file has a profile field (or is an ifcfg key for `extra_ifcfg`); otherwise those writes stay in
  the script as written, and the devices are left out of `network:`.
- A bridge without STP= has STP off (the kernel's default), a bond without miimon= has miimon 0: both are
  written explicitly, because the profile's defaults differ.
- NAME= other than the device, and DEFROUTE=/NM_CONTROLLED= that ksbuild derives differently, are not carried
  (ksbuild writes NAME=<device>, DEFROUTE from the gateway, NM_CONTROLLED=no when NetworkManager is disabled).
- The installer's device is the first `network` line with --activate, else the first with --device; a bridge
  stands for its first port. `--device` by MAC or bootif is kept as written (`install_device`); the address
  such a line gives belongs to the interface with that MAC, which is an ifcfg file's HWADDR= or a name the
  user gave (`ksbuild import --nic-name MAC=NAME`, and then the line is read as one for that name).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any

from builder.errors import Location
from builder.importer.context import ImportContext, line_text
from builder.importer.ifcfg import (
    BOND_MODES,
    IFCFG_DIR,
    anaconda_ifcfg,
    bond_options,
    device_name,
    device_of_path,
    is_named,
    nameservers,
    parse_ifcfg,
)
from builder.importer.scripts import Scripts, StatementRef
from builder.importer.shell import is_literal, resolve, words_of
from builder.model.network import KERNEL_FORWARD_DELAY, MANAGED_IFCFG_KEYS, STP_FORWARD_DELAY
from builder.validate.kickstart import CommandLine
from builder.vocabulary import KeyPath

# Any key a shell can assign goes to extra_ifcfg (the profile warns about keys initscripts does not document).
_IFCFG_KEY = re.compile(r"[A-Z][A-Z0-9_]{0,63}")
def _number(text: str) -> bool:
    """Digits 0-9 only: str.isdigit() also takes '²', which int() refuses."""
    return text.isascii() and text.isdigit()


_YES = {"yes", "y", "on", "1", "true"}
_NO = {"no", "n", "off", "0", "false"}
_BOND_FIELDS = ("miimon", "lacp_rate", "primary", "xmit_hash_policy")
_HANDLED = {"DEVICE", "NAME", "TYPE", "BOOTPROTO", "IPADDR", "PREFIX", "NETMASK", "GATEWAY", "DNS1", "DNS2",
            "DNS3", "ONBOOT", "MTU", "IPV6INIT", "HWADDR", "BRIDGE", "MASTER", "SLAVE", "BONDING_OPTS",
            "BONDING_MASTER", "VLAN", "PHYSDEV", "VLAN_ID", "STP", "DELAY", "NM_CONTROLLED", "DEFROUTE"}


@dataclass
class _Device:
    name: str
    entries: dict[str, str]
    origin: Location
    writes: list[StatementRef] = field(default_factory=list)   # %post statements that made the file
    line: CommandLine | None = None

    def kind(self) -> str:
        kind = self.entries.get("TYPE", "").lower()
        if kind == "bridge":
            return "bridge"
        if kind == "bond" or "BONDING_OPTS" in self.entries or self.entries.get("BONDING_MASTER") == "yes":
            return "bond"
        if self.entries.get("VLAN", "").lower() in _YES or kind == "vlan":
            return "vlan"
        return "nic"

    def links(self) -> set[str]:
        return {v for k in ("BRIDGE", "MASTER", "PHYSDEV") if (v := self.entries.get(k))}


class _Mapping:
    """One device's ifcfg entries as profile fields, with what could not be mapped and what was not carried."""

    def __init__(self, device: _Device) -> None:
        self.device = device
        self.fields: dict[str, Any] = {}
        self.unmappable: list[str] = []
        self.dropped: list[tuple[str, str]] = []
        self.noted: list[tuple[str, str]] = []  # values changed to what the host really has

    def run(self, nameservers_out: list[str]) -> None:
        e = self.device.entries
        name = self.device.name
        if e.get("DEVICE", name) != name:
            self.unmappable.append(f"DEVICE={e['DEVICE']} in the file of {name}")
        if e.get("NAME", name) != name:
            self.dropped.append((f"NAME={e['NAME']}", f"ksbuild writes NAME={name}"))
        self._address(e, nameservers_out)
        if e.get("BRIDGE") and self.fields.pop("ipv4", None) is not None:
            # ifup-eth flushes a bridge port's addresses, adds it to the bridge and exits: the address in the
            # port's file (often the installer's, from its `network` line) never reaches the installed host.
            self.dropped.append((f"the address in ifcfg-{name}", f"{name} is a port of {e['BRIDGE']}: initscripts "
                                 "never applies a bridge port's own address (ifup-eth flushes it and stops after "
                                 "adding the port); the host's address is the bridge's"))
        onboot = e.get("ONBOOT", "yes").lower()
        if onboot in _NO:
            self.fields["onboot"] = False
        if e.get("MTU"):
            if not _number(e["MTU"]):
                self.unmappable.append(f"MTU={e['MTU']}")
            else:
                self.fields["mtu"] = int(e["MTU"])
        if e.get("IPV6INIT", "no").lower() in _YES:
            self.fields["ipv6"] = True
        if e.get("BRIDGE"):
            self.fields["bridge"] = e["BRIDGE"]
        extra = {k: v for k, v in e.items() if k not in _HANDLED}
        for key, value in extra.items():
            if _IFCFG_KEY.fullmatch(key) and key not in MANAGED_IFCFG_KEYS and re.fullmatch(r"[A-Za-z0-9 _.,:/=+@%-]*",
                                                                                           value):
                self.fields.setdefault("extra_ifcfg", {})[key] = value
            else:
                self.unmappable.append(f"{key}={value}")

    def _address(self, e: dict[str, str], servers: list[str]) -> None:
        proto = e.get("BOOTPROTO", "none").lower()
        if proto == "dhcp":
            if e.get("IPADDR") or e.get("GATEWAY"):
                self.unmappable.append("BOOTPROTO=dhcp with IPADDR/GATEWAY")
            self.fields["ipv4"] = {"dhcp": True}
        elif e.get("IPADDR"):
            try:
                address = ipaddress.IPv4Address(e["IPADDR"])
                if e.get("PREFIX"):
                    network = ipaddress.IPv4Interface(f"{address}/{e['PREFIX']}")
                elif e.get("NETMASK"):
                    network = ipaddress.IPv4Interface(f"{address}/{e['NETMASK']}")
                else:
                    # initscripts (ipcalc) takes the class's netmask when none is given.
                    first = int(str(address).split(".")[0])
                    network = ipaddress.IPv4Interface(f"{address}/{8 if first < 128 else 16 if first < 192 else 24}")
            except ValueError:
                self.unmappable.append(f"IPADDR={e['IPADDR']}")
                return
            ipv4: dict[str, Any] = {"address": str(network)}
            if e.get("GATEWAY"):
                ipv4["gateway"] = e["GATEWAY"]
            self.fields["ipv4"] = ipv4
        elif proto not in ("none", "static", ""):
            self.unmappable.append(f"BOOTPROTO={e['BOOTPROTO']}")
        elif e.get("GATEWAY"):
            self.unmappable.append("GATEWAY without IPADDR")
        for key in ("DNS1", "DNS2", "DNS3"):
            if e.get(key) and e[key] not in servers:
                servers.append(e[key])

    def nic(self) -> dict[str, Any]:
        entry = {"name": self.device.name}
        if self.device.entries.get("HWADDR"):
            entry["mac"] = self.device.entries["HWADDR"].lower()
        return {**entry, **self.fields}

    def bridge(self) -> dict[str, Any]:
        e = self.device.entries
        if "HWADDR" in e:
            self.unmappable.append("HWADDR on a bridge")
        entry: dict[str, Any] = {"name": self.device.name}
        stp = e.get("STP", "no").lower() in _YES
        entry["stp"] = stp
        delay = e.get("DELAY")
        if delay is not None and not _number(delay):
            self.unmappable.append(f"DELAY={delay}")
        elif delay is not None and stp and int(delay) < min(STP_FORWARD_DELAY):
            # facts.md: with STP on, the kernel keeps forward_delay within 2-30 s; DELAY=0 leaves the host with 2.
            entry["delay"] = min(STP_FORWARD_DELAY)
            self.noted.append((f"DELAY={delay}", "with STP on the kernel raises the forward delay to 2 s (its STP "
                                                  "minimum), so the host had 2: written as delay: 2"))
        elif delay is not None and int(delay) != (KERNEL_FORWARD_DELAY if stp else 0):
            entry["delay"] = int(delay)
        fields = {k: v for k, v in self.fields.items() if k != "bridge"}
        if "bridge" in self.fields:
            self.unmappable.append("a bridge that is a port of another bridge")
        return {**entry, **fields}

    def bond(self, members: list[str]) -> dict[str, Any]:
        e = self.device.entries
        if "HWADDR" in e:
            self.unmappable.append("HWADDR on a bond")
        options = bond_options(e.get("BONDING_OPTS", ""))
        entry: dict[str, Any] = {"name": self.device.name, "members": members}
        mode = options.pop("mode", "balance-rr")
        if mode not in BOND_MODES.values():
            self.unmappable.append(f"bonding mode {mode}")
        elif mode != "active-backup":
            entry["mode"] = mode
        opts: dict[str, Any] = {}
        miimon = options.pop("miimon", "0")
        if not _number(miimon):
            self.unmappable.append(f"miimon={miimon}")
        elif miimon != "100":
            opts["miimon"] = int(miimon)
        for key in _BOND_FIELDS[1:]:
            if key in options:
                opts[key] = options.pop(key)
        for key, value in options.items():
            self.unmappable.append(f"bonding option {key}={value}")
        if opts:
            entry["options"] = opts
        return {**entry, **self.fields}

    def vlan(self) -> dict[str, Any]:
        e = self.device.entries
        name = self.device.name
        match = re.fullmatch(r"(?P<parent>.+)\.(?P<id>[0-9]+)", name) or re.fullmatch(r"vlan(?P<id>[0-9]+)", name)
        parent = e.get("PHYSDEV") or (match["parent"] if match and "parent" in match.groupdict() else None)
        vlan_id = e.get("VLAN_ID") or (match["id"] if match else None)
        if match is None or parent is None or vlan_id is None or not _number(vlan_id) or (
                e.get("VLAN_ID") and match["id"] != e["VLAN_ID"]):
            self.unmappable.append(f"VLAN {name}: initscripts needs <parent>.<id> or vlan<id> with PHYSDEV")
            return {}
        if "HWADDR" in e:
            self.unmappable.append("HWADDR on a VLAN")
        entry: dict[str, Any] = {"id": int(vlan_id), "parent": parent}
        if name != f"{parent}.{vlan_id}":
            entry["name"] = name
        return {**entry, **self.fields}


def _backup(ref: StatementRef) -> str | None:
    """The device whose ifcfg file this `mv`/`cp` keeps as ifcfg-<device>.bak, as ksbuild itself does."""
    statement = ref.statement
    words = words_of(statement.command) if not statement.compound and is_literal(statement.command) else None
    if not words or words[0] not in ("mv", "cp"):
        return None
    args = [w for w in words[1:] if w not in ("-f", "-p", "-a", "--preserve")]
    if len(args) != 2:
        return None
    cwd = ref.read.cwd[ref.position]
    source, target = (resolve(a, cwd) for a in args)
    if source is None or target != f"{source}.bak":
        return None
    return device_of_path(source)


class _Network:
    def __init__(self, ctx: ImportContext, lines: list[CommandLine], scripts: Scripts) -> None:
        self.ctx = ctx
        self.lines = lines
        self.scripts = scripts
        self.devices: dict[str, _Device] = {}
        self.servers: list[str] = []
        self.refused_lines: set[Location] = set()
        self.refused: set[str] = set()  # devices whose files stay written by the script (no profile key)

    def collect(self) -> None:
        names = self.ctx.nic_names
        named = [line for line in self.lines if is_named(device_name(line.data.device, names))]
        # Anaconda writes the files of all lines together: a VLAN line for bond0 (`--device=bond0 --vlanid=130`)
        # adds bond0.130 and keeps the bond another line made. Each file comes from the line that configures that
        # device (the last one), else from the first VLAN line on it.
        files = anaconda_ifcfg([line.data for line in named], names)
        origins: dict[str, CommandLine] = {}
        for line in named:
            own = anaconda_ifcfg([line.data], names)
            if line.data.vlanid:
                origins.setdefault(device_name(line.data.device, names), line)
                own.pop(device_name(line.data.device, names), None)
            for device in own:
                origins[device] = line
        for device, written in files.items():
            line = origins[device]
            self.devices[device] = _Device(device, written, line.location, line=line)
        for line in named:
            for server in nameservers(line.data):
                if server not in self.servers:
                    self.servers.append(server)
        by_device: dict[str, list[tuple[StatementRef, Any]]] = {}
        for ref, write in self.scripts.writes():
            written_device = device_of_path(write.path)
            if written_device is not None:
                by_device.setdefault(written_device, []).append((ref, write))
        backups: dict[StatementRef, str] = {}
        for ref in self.scripts.statements():
            backed_up = _backup(ref)
            if backed_up is not None:
                backups[ref] = backed_up
        for device, writes in by_device.items():
            mine = {(ref.read.index, ref.position) for ref, _ in writes}
            mine |= {(ref.read.index, ref.position) for ref, dev in backups.items() if dev == device}
            current = self.devices.get(device)
            entries: dict[str, str] | None = dict(current.entries) if current else None
            for _, write in writes:
                parsed = parse_ifcfg(write.content)
                if parsed is None or (write.append and entries is None):
                    entries = None
                    break
                entries = {**entries, **parsed} if write.append and entries is not None else parsed
            if entries is None or self.scripts.touched_by_others(writes[0][1].path, mine):
                self.devices.pop(device, None)  # the script keeps this device's files as written
                continue
            self.devices[device] = _Device(device, entries, writes[-1][0].location,
                                           [ref for ref, _ in writes] + [r for r, d in backups.items() if d == device],
                                           current.line if current else None)

    def build(self) -> None:
        mappings = {name: _Mapping(device) for name, device in self.devices.items()}
        members: dict[str, list[str]] = {}
        for name, device in self.devices.items():
            if device.entries.get("MASTER"):
                members.setdefault(device.entries["MASTER"], []).append(name)
        out: dict[str, list[tuple[str, dict[str, Any]]]] = {"interfaces": [], "bonds": [], "vlans": [],
                                                             "bridges": []}
        for name, mapping in mappings.items():
            mapping.run(self.servers)
            kind = self.devices[name].kind()
            if kind == "bridge":
                out["bridges"].append((name, mapping.bridge()))
            elif kind == "bond":
                out["bonds"].append((name, mapping.bond(members.get(name, []))))
            elif kind == "vlan":
                out["vlans"].append((name, mapping.vlan()))
            elif self.devices[name].entries.get("MASTER"):
                nic = mapping.nic()
                if self.devices[name].entries.get("SLAVE", "yes").lower() not in _YES:
                    mapping.unmappable.append("MASTER= without SLAVE=yes")
                nic.pop("ipv4", None)
                if set(nic) - {"name", "ipv6"} or nic.get("onboot") is False:
                    out["interfaces"].append((name, nic))
            else:
                out["interfaces"].append((name, mapping.nic()))
        refused = self._groups_with_problems(mappings)
        self.refused = refused
        for kind, items in out.items():
            for name, entry in items:
                if name in refused:
                    continue
                self._emit(kind, name, entry, mappings[name])
        for name in refused:
            device = self.devices[name]
            problems = ", ".join(mappings[name].unmappable) or "a device joined to it cannot be mapped"
            if device.line is not None and not device.writes and device.line.location not in self.refused_lines:
                self.refused_lines.add(device.line.location)
                self.ctx.ledger.dropped(device.line.location, line_text(device.line),
                                        f"{name}: no profile key for {problems}", lines=1)
        if self.servers:
            origin = next(iter(self.devices.values())).origin if self.devices else self.ctx.parsed.commands[0].location
            self.ctx.draft.set(("network", "nameservers"), self.servers[:3], origin)
            for server in self.servers[3:]:
                self.ctx.ledger.dropped(origin, f"DNS {server}", "at most 3 name servers (DNS1..DNS3)")
            static = any(isinstance(entry.get("ipv4"), dict) and entry["ipv4"].get("address")
                         for kind in ("interfaces", "bonds", "vlans", "bridges")
                         for entry in self.ctx.draft.get(("network", kind), []))
            if not static:
                self.ctx.ledger.dropped(origin, f"DNS1={self.servers[0]}", "ksbuild writes DNS1.. on the device with "
                                        "a static address, and this host has none (DHCP only): the servers are in "
                                        "network.nameservers but in no ifcfg file")

    def _groups_with_problems(self, mappings: dict[str, _Mapping]) -> set[str]:
        """Devices left out: those that cannot be mapped, and every device joined to one of them."""
        joined: dict[str, set[str]] = {name: {name} for name in self.devices}
        for name, device in self.devices.items():
            for other in device.links():
                if other in joined:
                    group = joined[name] | joined[other]
                    for member in group:
                        joined[member] = group
        refused: set[str] = set()
        for name, mapping in mappings.items():
            if mapping.unmappable:
                refused |= joined[name]
        for name in refused:
            for ref in self.devices[name].writes:
                self.scripts.read[ref.read.index].consumed.pop(ref.position, None)
        return refused

    def _emit(self, kind: str, name: str, entry: dict[str, Any], mapping: _Mapping) -> None:
        device = self.devices[name]
        index = self.ctx.draft.append(("network", kind), entry, device.origin)
        key: KeyPath = ("network", kind, index)
        for ref in device.writes:
            self.scripts.consume(ref, [key])
        if kind == "bonds":
            # The files anaconda writes for an install-time bond's members: ksbuild moves them aside itself.
            pattern = f"ifcfg-{name}_slave_*"
            for ref in self.scripts.statements():
                words = words_of(ref.statement.command) if not ref.statement.compound else None
                if words and words[0] == "rm" and [w for w in words[1:] if not w.startswith("-")] in (
                        [pattern], [f"{ref.read.cwd[ref.position]}/{pattern}"], [f"{IFCFG_DIR}/{pattern}"]):
                    self.scripts.consume(ref, [key])
        for text, reason in mapping.dropped:
            self.ctx.ledger.dropped(device.origin, text, reason)
        for text, reason in mapping.noted:
            self.ctx.ledger.note(device.origin, text, reason, [(*key, "delay")], effect=False)

    def install_device(self) -> None:
        named = [line for line in self.lines if line.data.device]
        chosen = next((line for line in named if line.data.activate), named[0] if named else None)
        if chosen is None:
            return
        device = chosen.data.device
        if device in ("link", "ibft"):
            self.ctx.ledger.dropped(chosen.location, f"network --device={device}",
                                    "network.install_device takes a NIC's name, its MAC or bootif, not "
                                    f"{device}")
            return
        if not is_named(device):
            # A MAC or bootif: anaconda finds the NIC at install time.
            self.ctx.draft.set(("network", "install_device"), device.lower(), chosen.location)
            self._address_by_mac(chosen)
            return
        known = self.devices.get(device)
        if known is not None and known.kind() == "bridge":
            ports = [n for n, d in self.devices.items() if d.entries.get("BRIDGE") == device]
            device = ports[0] if ports else device
        interfaces = self.ctx.draft.get(("network", "interfaces"), [])
        bonds = self.ctx.draft.get(("network", "bonds"), [])
        default = interfaces[0]["name"] if interfaces else (bonds[0]["members"][0] if bonds else None)
        if device in self.refused:
            # Its files stay written by the script, so the profile has no such device to name: ksbuild's installer
            # line takes its default device, and the line's own settings are not carried.
            if chosen.location not in self.refused_lines:
                self.refused_lines.add(chosen.location)
                self.ctx.ledger.dropped(chosen.location, line_text(chosen), f"{device}: its ifcfg file stays "
                                        "written by the script (a value with no profile key), so the profile has "
                                        "no such device for the installer's line", lines=1)
            return
        if device != default and device in self.devices:
            self.ctx.draft.set(("network", "install_device"), device, chosen.location)

    def _address_by_mac(self, chosen: CommandLine) -> None:
        """The installer's address for a line naming its NIC by MAC or bootif: ksbuild's line takes it from the
        interface with that MAC (bootif: the first interface), so a static line needs that interface."""
        device = chosen.data.device.lower()
        interfaces = self.ctx.draft.get(("network", "interfaces"), [])
        if device == "bootif":
            nic = interfaces[0] if interfaces else None
        else:
            nic = next((i for i in interfaces if i.get("mac") == device), None)
            name = self.ctx.nic_names.get(device)
            if nic is None and name is not None:
                # The NIC's file came from a %post without HWADDR=: the profile pins it, as anaconda's file did.
                nic = next((i for i in interfaces if i.get("name") == name), None)
                if nic is not None:
                    nic["mac"] = device
        static = chosen.data.bootProto not in ("dhcp", "") or bool(chosen.data.ip)
        line = f"network --device={chosen.data.device} --bootproto={chosen.data.bootProto or 'dhcp'}"
        if nic is None:
            if static:
                fix = ("give its kernel name: ksbuild import --nic-name " f"{device}=NAME" if device != "bootif"
                       else "add the interface it stands for")
                self.ctx.ledger.dropped(chosen.location, line, f"the profile's installer line takes its address from "
                                        f"the interface with that MAC, and no ifcfg file names it: {fix}")
            return
        given = self._line_address(chosen)
        has = nic.get("ipv4") or {}
        kept = {"dhcp": True} if has.get("dhcp") else {k: v for k, v in has.items() if k in ("address", "gateway")}
        if given is not None and given != kept:
            self.ctx.ledger.dropped(chosen.location, line, f"the installer gets {nic['name']}'s address from its "
                                    f"ifcfg file ({_shown_ipv4(has)}), not the line's ({_shown_ipv4(given)})")

    @staticmethod
    def _line_address(line: CommandLine) -> dict[str, Any] | None:
        """The line's IPv4 settings as a profile's `ipv4`, None when they cannot be read."""
        data = line.data
        if data.bootProto == "dhcp" or (not data.bootProto and not data.ip):
            return {"dhcp": True}
        if not data.ip:
            return None
        try:
            network = ipaddress.IPv4Interface(f"{data.ip}/{data.netmask}" if data.netmask else data.ip)
        except ValueError:
            return None
        ipv4: dict[str, Any] = {"address": str(network)}
        if data.gateway:
            ipv4["gateway"] = data.gateway
        return ipv4

    def report_lines(self) -> None:
        handled = {"device", "bootProto", "ip", "netmask", "gateway", "nameserver", "noipv6", "onboot", "mtu",
                   "hostname", "activate", "bondslaves", "bondopts", "vlanid", "interfacename", "bridgeslaves",
                   "bridgeopts", "ethtool"}
        for line in self.lines:
            if line.location in self.refused_lines:
                continue
            data = line.data
            keys: list[KeyPath] = []
            if data.hostname:
                keys.append(("system", "hostname"))
            if data.teamslaves or data.teamconfig:
                self.ctx.ledger.refuse(line.location, ("network",), "network --teamslaves: no profile key for "
                                       "teams; a bond (--bondslaves) is what ksbuild writes")
            device = device_name(data.device, self.ctx.nic_names)
            if is_named(device) and device in self.devices:
                keys.append(("network",))
            self.ctx.ledger.mapped(line.location, line_text(line), keys)
            self.ctx.unhandled(line, handled)


def _shown_ipv4(ipv4: dict[str, Any]) -> str:
    if ipv4.get("dhcp"):
        return "DHCP"
    return " via ".join(str(ipv4[k]) for k in ("address", "gateway") if ipv4.get(k)) or "none"


def map_network(ctx: ImportContext, lines: list[CommandLine], scripts: Scripts) -> None:
    hostname = next((line for line in reversed(lines) if line.data.hostname), None)
    if hostname is not None:
        ctx.draft.set(("system", "hostname"), hostname.data.hostname, hostname.location)
    network = _Network(ctx, lines, scripts)
    network.collect()
    network.build()
    network.install_device()
    network.report_lines()
