"""`ksbuild import` as a library call: kickstart text → profile data, its origins, and the report.

The stages: parse (the linter's parser, for the target's pykickstart version) → map the commands, the disks, the
packages, the scripts' recognised statements and the network → defaults the kickstart leaves to anaconda made
explicit → the profile model and its checks, each problem at the kickstart line behind the key. A value the
import refuses (a plaintext password, a layout no profile can say) fails the import with every such line.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from builder.errors import BadInput, ChecksFailed, Location
from builder.importer import addons, commands, network, packages, recognise, storage
from builder.importer.context import ImportContext
from builder.importer.ledger import ImportReport
from builder.importer.scripts import Scripts
from builder.validate.includes import IncludeReader
from builder.validate.kickstart import RHEL7, CommandLine, parse_kickstart
from builder.vocabulary import KeyPath, locate_in

# Where the import looks when the kickstart does not say (anaconda's own defaults, made explicit).
DEFAULT_HOSTNAME = "localhost.localdomain"


@dataclass(frozen=True)
class Imported:
    """A kickstart as profile data: `data` (plain YAML-able), where each value came from, and the report."""

    data: dict[str, Any]
    origins: dict[KeyPath, Location]
    report: ImportReport

    def locate(self, path: KeyPath) -> Location:
        return locate_in(self.origins, path, Location(self.report.source))


def import_kickstart(text: str, source: str, *, version: int = RHEL7, path: Path | None = None,
                     rootpw_hash: str | None = None, nic_names: Mapping[str, str] | None = None) -> Imported:
    """Map a kickstart onto profile keys. Raises BadInput when the kickstart does not parse or holds values the
    import refuses (each at its line), ChecksFailed when the profile it makes fails the profile's own checks."""
    crlf = "\r\n" in text
    if crlf:
        # Saved on Windows: the carriage returns would end up in values and script bodies.
        text = text.replace("\r\n", "\n")
    parsed = parse_kickstart(text, source, version=version, path=path, includes=IncludeReader(path))
    errors = [f for f in parsed.findings if f.severity == "error"]
    if errors:
        raise BadInput(f"{source}: pykickstart cannot read this kickstart; fix these first (`ksbuild validate`)",
                       errors)
    ctx = ImportContext(parsed, source, rootpw_hash=rootpw_hash, nic_names=dict(nic_names or {}))
    by_mac = {c.data.device.lower() for c in parsed.commands if c.name == "network" and c.data.device}
    for mac in ctx.nic_names:
        if mac not in by_mac:
            raise BadInput(f"--nic-name {mac}: no `network --device=` line of {source} names that MAC")
    ctx.draft.set(("description",), f"imported from {source.rsplit('/', 1)[-1]}")
    if crlf:
        ctx.ledger.note(Location(source, 1), "CRLF", "the kickstart has Windows line ends (CRLF); read as LF",
                        effect=False)
    _includes(ctx)
    storage_lines: list[CommandLine] = []
    network_lines: list[CommandLine] = []
    last: dict[int, CommandLine] = {}
    for command in parsed.commands:
        if command.single:
            last[id(command.command)] = command
    for command in parsed.commands:
        if command.single and last[id(command.command)] is not command:
            later = last[id(command.command)]
            ctx.ledger.dropped(command.location, command.text.strip(),
                               f"`{later.name}` is given again at {later.location}; anaconda uses the last", lines=1)
            continue
        if command.name in storage.NAMES:
            storage_lines.append(command)
        elif command.name == "network":
            network_lines.append(command)
        else:
            commands.mapper_for(command.name)(ctx, command)
    addons.map_addons(ctx)
    storage.map_storage(ctx, storage_lines)
    packages.map_packages(ctx)
    scripts = Scripts(ctx)
    recognise.hardware_check(ctx, scripts)
    recognise.selinux(ctx, scripts)
    recognise.nested(ctx, scripts)
    recognise.repos(ctx, scripts)
    recognise.services(ctx, scripts)
    recognise.default_network(ctx, scripts)
    network.map_network(ctx, network_lines, scripts)
    scripts.finish()
    _defaults(ctx)
    if ctx.ledger.problems:
        raise BadInput(f"{source}: {len(ctx.ledger.problems)} value(s) cannot be imported", ctx.ledger.problems)
    imported = Imported(ctx.draft.data, dict(ctx.draft.origins), ctx.ledger.report(source))
    check(imported)
    return imported


def _includes(ctx: ImportContext) -> None:
    """%include of a file a %pre writes: the disk layout (storage.layout: include) or the installer's network
    (network.install: include), or both from one file. Local files were read in place."""
    from builder.validate.facts import STORAGE_COMMANDS, includes

    layout_lines = {"autopart", "part", "partition", "raid", "volgroup", "logvol"}
    has_layout = any(command.name in layout_lines for command in ctx.parsed.commands)
    for item in includes(ctx.parsed):
        include = item.include
        if include.kind == "local":
            continue
        if include.kind != "install-time":
            ctx.ledger.refuse(include.location, None, f"%include {include.target}: "
                              + ("a file fetched from a server at install time decides these commands; no profile "
                                 "key can hold that" if include.kind == "url" else
                                 "no %pre of this kickstart writes it, and it is not a file next to the kickstart"))
            continue
        keys: list[KeyPath] = []
        holds = item.commands
        if not has_layout and (holds is None or holds & set(STORAGE_COMMANDS)):
            ctx.draft.set(("storage", "layout"), "include", include.location)
            ctx.draft.set(("storage", "include"), include.target, include.location)
            keys.append(("storage", "layout"))
        if holds is None or "network" in holds:
            ctx.draft.set(("network", "install"), "include", include.location)
            ctx.draft.set(("network", "include"), include.target, include.location)
            keys.append(("network", "install"))
        if not keys:
            ctx.ledger.refuse(include.location, None, f"%include {include.target}: the %pre writes "
                              f"{', '.join(sorted(holds or ()))} there; a profile reads disk or network commands "
                              "from an install-time include only")
            continue
        ctx.ledger.mapped(include.location, f"%include {include.target}", keys)


def _defaults(ctx: ImportContext) -> None:
    """What anaconda decides when the kickstart is silent, and ksbuild needs said."""
    draft = ctx.draft
    origin = Location(ctx.source, 1)
    if not draft.has(("system", "hostname")):
        draft.set(("system", "hostname"), DEFAULT_HOSTNAME)
        if draft.get(("network", "install")) == "include":
            ctx.ledger.note(origin, "hostname", f"the host name comes from the network include at install time; "
                            f"ksbuild writes `network --hostname={DEFAULT_HOSTNAME}` before it, which the include's "
                            "line replaces", [("system", "hostname")], effect=False)
        else:
            ctx.ledger.note(origin, "hostname", f"no `network --hostname`: {DEFAULT_HOSTNAME}, anaconda's default",
                            [("system", "hostname")], effect=False)
    if not draft.has(("users", "root")):
        if ctx.rootpw_hash is not None:
            draft.set(("users", "root", "password_hash"), ctx.rootpw_hash)
        else:
            draft.set(("users", "root", "lock"), True)
            ctx.ledger.note(origin, "rootpw", "no rootpw: root is locked (set users.root.password_hash to log in "
                            "as root)", [("users", "root", "lock")])
    if not draft.has(("install", "source")):
        ctx.ledger.refuse(origin, ("install", "source"), "no install source (url, cdrom or liveimg) in the "
                          "kickstart; a profile needs one")
    if not draft.has(("install", "finish")):
        draft.set(("install", "finish"), "reboot")
        ctx.ledger.note(origin, "reboot", "the kickstart does not say how the install ends (anaconda would wait "
                        "for a key press): ksbuild reboots", [("install", "finish")])
    if not draft.has(("system", "firewall")):
        # anaconda's default: firewalld on, with ssh.
        draft.set(("system", "firewall", "enabled"), True)
        draft.set(("system", "firewall", "services"), ["ssh"])
    if not draft.has(("system", "timezone")):
        ctx.ledger.note(origin, "timezone", "no timezone: UTC", [("system", "timezone")])
    if not draft.has(("storage", "disks")):
        draft.set(("storage", "disks"), ["sda"])
    if not draft.has(("packages", "groups")):
        draft.set(("packages", "groups"), [])
    if not draft.has(("virtualization", "nested")):
        draft.set(("virtualization", "nested"), False)


def check(imported: Imported) -> None:
    """The profile model and its semantic checks on the imported data; problems at the kickstart's lines."""
    from builder.checks.semantic import check_profile
    from builder.model.build import build_profile

    try:
        profile = build_profile(imported.data, imported.locate)
    except BadInput as exc:
        raise BadInput(f"{imported.report.source}: the imported values do not make a valid profile",
                       exc.findings) from None
    errors = [f for f in check_profile(profile, imported.locate) if f.severity == "error"]
    if errors:
        raise ChecksFailed(f"{imported.report.source}: the imported profile fails its checks", errors)
