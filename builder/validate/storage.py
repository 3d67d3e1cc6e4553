"""The storage layout a parsed kickstart describes (part, raid, volgroup, logvol, autopart, ignoredisk, clearpart,
bootloader), as the neutral `StorageLayout` the profile checks use too, plus what only names in a kickstart can get
wrong: a volgroup or raid listing a partition no `part` defines, a logvol in a volume group no `volgroup` defines.

Kickstart names: partitions called raid.* are RAID members, pv.* physical volumes (a raid device can be a pv.*
too); /dev/ prefixes are dropped so sda and /dev/sda compare equal; `--onpart=sdb2` is on disk sdb.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Literal

from builder.checks.layout import layout_problems
from builder.errors import Finding
from builder.model.layout import (
    LayoutProblem,
    LogicalVolume,
    Origin,
    Partition,
    Raid,
    RaidMember,
    StorageLayout,
    VolumeGroup,
    disk_of_partition,
)
from builder.validate.facts import STORAGE_COMMANDS, ResolvedInclude, may_provide
from builder.validate.kickstart import CommandLine, ParsedKickstart

CHECK = "storage"
_RAID_LEVEL = re.compile(r"^(?:raid)?(?P<level>[0-9]+)$", re.IGNORECASE)


def _disk(name: str | None) -> str | None:
    return name.removeprefix("/dev/") if name else None


def _label(command: CommandLine, origin_file: str) -> str:
    target = command.args[1] if len(command.args) > 1 and not command.args[1].startswith("-") else ""
    where = (f"line {command.location.line}" if command.location.file == origin_file
             else str(command.location))
    return f"{command.name} {target} ({where})".replace("  ", " ")


def _origin(command: CommandLine, origin_file: str) -> Origin:
    return Origin(_label(command, origin_file), location=command.location)


def _size(data: Any) -> int | None:
    size = getattr(data, "size", None)
    existing = not getattr(data, "format", True) or getattr(data, "preexist", False) or getattr(data, "onPart", "")
    return int(size) if isinstance(size, int) and size > 0 and not existing else None


def _filesystem(data: Any, mount: str | None) -> str | None:
    fstype = getattr(data, "fstype", "") or ""
    if fstype:
        return str(fstype)
    return "swap" if mount == "swap" else None


def _raid_name(device: str) -> str:
    """md0 for --device=0 (digits 0-9 only: str.isdigit() also takes '²')."""
    return f"md{device}" if device.isascii() and device.isdigit() else device


def _level(text: str) -> int | None:
    match = _RAID_LEVEL.match(text or "")
    return int(match["level"]) if match else None


def _disk_under(onpart: str | None) -> str | None:
    """The disk an --onpart partition is on, as the disk checks count disks: a partition of a software RAID array
    (md127p1) is on no disk, since ignoredisk and clearpart --drives filter disks, not md arrays."""
    disk = disk_of_partition(onpart) if onpart else None
    return None if disk is None or re.fullmatch(r"md[0-9]+|md/.+", disk) else disk


def kickstart_layout(parsed: ParsedKickstart, resolved: Iterable[ResolvedInclude] = ()) -> tuple[
        StorageLayout, list[LayoutProblem]]:
    """The layout of a parsed kickstart and the reference problems only a kickstart can have."""
    main = parsed.files[0][0] if parsed.files else ""
    problems: list[LayoutProblem] = []
    parts = parsed.lines("part", "partition")
    raids = parsed.lines("raid")
    groups = parsed.lines("volgroup")
    volumes = parsed.lines("logvol")

    by_name = {str(c.data.mountpoint): c for c in parts}
    raid_by_name = {str(c.data.mountpoint): c for c in raids}
    pv_owner: dict[str, str] = {}
    for group in groups:
        for pv in group.data.physvols:
            pv_owner.setdefault(pv, group.data.vgname)
            if pv not in by_name and pv not in raid_by_name:
                problems.append(LayoutProblem("KS209", _origin(group, main), None,
                                              f"volgroup {group.data.vgname} lists {pv}, which no part or raid "
                                              "defines"))
    members_used: set[str] = set()
    layout_raids = []
    for command in raids:
        data = command.data
        members = []
        for name in data.members:
            members_used.add(name)
            member = by_name.get(name)
            if member is None:
                problems.append(LayoutProblem("KS209", _origin(command, main), None,
                                              f"raid {data.mountpoint} lists {name}, which no part defines"))
                continue
            disk = _disk(member.data.disk) or _disk_under(member.data.onPart)
            members.append(RaidMember(_origin(member, main), disk, _size(member.data), bool(member.data.grow)))
        mount = str(data.mountpoint)
        is_pv = mount.startswith("pv.")
        layout_raids.append(Raid(
            _origin(command, main), _raid_name(str(data.device)),
            _level(str(data.level)), tuple(members), int(data.spares or 0),
            None if is_pv else mount, None if is_pv else _filesystem(data, mount),
            pv_owner.get(mount) if is_pv else None, bool(data.encrypted),
        ))

    layout_parts = []
    for command in parts:
        data = command.data
        mount = str(data.mountpoint)
        if mount.startswith("raid.") and mount in members_used:
            continue
        disk = _disk(data.disk) or _disk_under(data.onPart)
        role_pv = mount.startswith(("pv.", "raid."))
        if mount.lower() == "none":
            continue
        layout_parts.append(Partition(
            _origin(command, main), None if role_pv else mount, None if role_pv else _filesystem(data, mount),
            _size(data), bool(data.grow), disk, pv_owner.get(mount) if mount.startswith("pv.") else None,
            encrypted=bool(data.encrypted),
        ))

    known_groups = {str(c.data.vgname) for c in groups}
    layout_groups = []
    for group in groups:
        lvs = []
        for command in volumes:
            data = command.data
            if data.vgname != group.data.vgname:
                continue
            lv_mount = None if str(data.mountpoint).lower() == "none" else str(data.mountpoint)
            lvs.append(LogicalVolume(
                _origin(command, main), str(data.name), lv_mount, _filesystem(data, lv_mount), _size(data),
                bool(data.grow), int(data.percent) or None, bool(data.thin_pool),
                str(data.pool_name) if data.thin_volume and data.pool_name else None, bool(data.encrypted),
            ))
        layout_groups.append(VolumeGroup(_origin(group, main), str(group.data.vgname), tuple(lvs)))
    for command in volumes:
        if command.data.vgname not in known_groups:
            known = ", ".join(sorted(known_groups)) or "none defined"
            problems.append(LayoutProblem("KS209", _origin(command, main), None,
                                          f"no volgroup named {command.data.vgname} (volume groups: {known})"))

    handler = parsed.handler
    only_use = tuple(d for d in (_disk(name) for name in handler.ignoredisk.onlyuse) if d)
    ignored = {d for d in (_disk(name) for name in handler.ignoredisk.ignoredisk) if d}
    ignoredisk = next(iter(parsed.lines("ignoredisk")), None)
    disks_origin = _origin(ignoredisk, main) if ignoredisk else Origin("ignoredisk --only-use")
    if ignored:
        problems += _on_ignored_disks(layout_parts, layout_raids, ignored)
    bootloader = handler.bootloader
    boot_disk = _disk(bootloader.bootDrive) or (_disk(bootloader.driveorder[0]) if bootloader.driveorder else None)
    label = str(handler.clearpart.disklabel or "")
    disk_label: Literal["gpt", "msdos"] | None = "gpt" if label == "gpt" else "msdos" if label == "msdos" else None
    storage_lines = [*parts, *raids, *volumes]
    first = min(storage_lines, key=lambda c: (c.location.file != main, c.location.line or 0), default=None)
    layout = StorageLayout(
        origin=_origin(first, main) if first else Origin("the layout"),
        disks=only_use or None,
        disks_origin=disks_origin,
        disks_label=f"the disks ignoredisk --only-use allows ({', '.join(only_use)})",
        boot_disk=boot_disk,
        firmware="auto" if handler.reqpart.seen else "unknown",
        disk_label=disk_label,
        automatic=bool(handler.autopart.autopart),
        complete=not may_provide(resolved, STORAGE_COMMANDS),
        partitions=tuple(layout_parts),
        raids=tuple(layout_raids),
        volume_groups=tuple(layout_groups),
    )
    return layout, problems


def _on_ignored_disks(parts: list[Partition], raids: list[Raid], ignored: set[str]) -> list[LayoutProblem]:
    found = [LayoutProblem("KS203", p.origin, None, f"{p.disk} is ignored (ignoredisk --drives)")
             for p in parts if p.disk in ignored]
    found += [LayoutProblem("KS203", m.origin, None, f"{m.disk} is ignored (ignoredisk --drives)")
              for r in raids for m in r.members if m.disk in ignored]
    return found


def check_storage(parsed: ParsedKickstart, resolved: Iterable[ResolvedInclude] = ()) -> list[Finding]:
    """The storage findings of a parsed kickstart: its own reference problems, then the shared layout checks."""
    layout, problems = kickstart_layout(parsed, resolved)
    problems += layout_problems(layout)
    return [
        Finding(CHECK, problem.message, problem.origin.location, rule=problem.rule,
                rendered_line=problem.origin.location.line if problem.origin.location else None)
        for problem in problems
    ]
