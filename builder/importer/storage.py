"""Disk commands (ignoredisk, clearpart, zerombr, bootloader, autopart, reqpart, part, raid, volgroup, logvol) →
`storage:`.

Decisions:
- `storage.disks` is `ignoredisk --only-use`, else `clearpart --drives`, else the disks the partitions name
  (`--ondisk`), else the boot drive; the boot drive (`bootloader --boot-drive`) goes first, as the profile's first
  disk is its boot disk. A kickstart that names no disk gets sda, and the report says so.
- `part biosboot` and `part /boot/efi` are what `storage.firmware: bios`/`uefi` write; `reqpart` is `auto`. A
  custom layout with none of them gets `auto` (reqpart), reported.
- A RAID's members become its `disks`: one member partition on each, of one size. Members of different sizes or
  without `--ondisk` cannot be said in a profile, nor can existing partitions (`--onpart`, `--noformat`,
  `--useexisting`): the import refuses those with the line.
- Physical volume and member names (pv.01, raid.11) are not kept: ksbuild numbers them itself.
"""

from __future__ import annotations

from typing import Any

from pykickstart.constants import (
    AUTOPART_TYPE_LVM,
    AUTOPART_TYPE_LVM_THINP,
    AUTOPART_TYPE_PLAIN,
    CLEARPART_TYPE_ALL,
    CLEARPART_TYPE_LINUX,
    CLEARPART_TYPE_LIST,
    CLEARPART_TYPE_NONE,
)

from builder.errors import Location
from builder.importer.commands import LUKS_PASSPHRASE_ENV
from builder.importer.context import ImportContext, line_text
from builder.validate.kickstart import CommandLine
from builder.vocabulary import KeyPath

NAMES = ("ignoredisk", "clearpart", "zerombr", "bootloader", "autopart", "reqpart", "part", "partition", "raid",
         "volgroup", "logvol")
_AUTOPART = {AUTOPART_TYPE_LVM: "lvm", AUTOPART_TYPE_PLAIN: "plain", AUTOPART_TYPE_LVM_THINP: "thinp"}
_CLEAR = {CLEARPART_TYPE_ALL: "all", CLEARPART_TYPE_LINUX: "linux", CLEARPART_TYPE_NONE: "none"}
_FS_OPTIONS = {"fstype", "fsopts", "mountpoint", "size", "grow", "recommended"}
_LUKS = {"encrypted", "passphrase", "cipher", "escrowcert", "backuppassphrase"}


def _disk(name: str | None) -> str | None:
    return name.removeprefix("/dev/") if name else None


class _Storage:
    def __init__(self, ctx: ImportContext, lines: list[CommandLine]) -> None:
        self.ctx = ctx
        self.lines = lines
        self.by_name: dict[str, list[CommandLine]] = {}
        for command in lines:
            self.by_name.setdefault("part" if command.name == "partition" else command.name, []).append(command)

    def last(self, name: str) -> CommandLine | None:
        found = self.by_name.get(name, [])
        return found[-1] if found else None

    def put(self, path: KeyPath, value: Any, origin: Location) -> None:
        self.ctx.draft.set(("storage", *path), value, origin)

    # -- disks, clearing, boot loader ---------------------------------------------------------------------

    def disks(self) -> list[str]:
        handler = self.ctx.parsed.handler
        boot = _disk(handler.bootloader.bootDrive) if self.last("bootloader") else None
        only = [d for d in (_disk(n) for n in handler.ignoredisk.onlyuse) if d]
        clear = [d for d in (_disk(n) for n in handler.clearpart.drives) if d] if self.last("clearpart") else []
        named: list[str] = []
        for command in self.by_name.get("part", []):
            disk = _disk(command.data.disk)
            if disk and disk not in named:
                named.append(disk)
        disks = only or clear or named or ([boot] if boot else [])
        if boot and boot in disks:
            disks = [boot, *(d for d in disks if d != boot)]
        return disks

    def map_disks(self) -> None:
        disks = self.disks()
        origin_line = self.last("ignoredisk") or self.last("clearpart") or self.last("bootloader")
        if not disks:
            first = self.lines[0].location if self.lines else Location(self.ctx.source)
            self.ctx.ledger.note(first, "disks", "the kickstart names no disk; ksbuild names one, sda "
                                 "(`ignoredisk --only-use=sda`): set storage.disks to the host's",
                                 [("storage", "disks")])
            disks = ["sda"]
        self.put(("disks",), disks, origin_line.location if origin_line else Location(self.ctx.source))
        ignoredisk = self.last("ignoredisk")
        if ignoredisk is not None:
            data = ignoredisk.data
            if data.onlyuse:
                self.ctx.ledger.mapped(ignoredisk.location, line_text(ignoredisk), [("storage", "disks")])
            else:
                self.ctx.ledger.dropped(ignoredisk.location, line_text(ignoredisk),
                                        "no profile key for disks to ignore; storage.disks lists those to use", lines=1)

    def map_clear(self) -> None:
        clearpart = self.last("clearpart")
        zerombr = self.last("zerombr")
        if clearpart is None:
            self.put(("clear",), "none", zerombr.location if zerombr else Location(self.ctx.source))
            if zerombr is not None:
                self.ctx.ledger.dropped(zerombr.location, "zerombr", "without clearpart nothing is cleared; "
                                        "storage.clear: none writes no zerombr", lines=1)
            return
        data = clearpart.data
        if data.type == CLEARPART_TYPE_LIST:
            self.put(("clear",), "list", clearpart.location)
            self.put(("clear_list",), [d.removeprefix("/dev/") for d in data.devices], clearpart.location)
            self.ctx.ledger.mapped(clearpart.location, line_text(clearpart), [("storage", "clear_list")])
            self.ctx.unhandled(clearpart, {"type", "devices", "initAll"})
            if zerombr is not None:
                self.ctx.ledger.dropped(zerombr.location, "zerombr", "storage.clear: list writes no zerombr", lines=1)
            return
        clear = _CLEAR.get(data.type)
        if clear is None:
            self.ctx.ledger.refuse(clearpart.location, ("storage", "clear"), "clearpart without a kind to clear")
            return
        self.put(("clear",), clear, clearpart.location)
        self.ctx.ledger.mapped(clearpart.location, line_text(clearpart), [("storage", "clear")])
        if zerombr is not None:
            self.ctx.ledger.mapped(zerombr.location, "zerombr", [("storage", "clear")])
        disks = self.ctx.draft.get(("storage", "disks"), [])
        drives = [d for d in (_disk(n) for n in data.drives) if d]
        if drives and sorted(drives) != sorted(disks) and clear in ("all", "linux"):
            self.put(("clear_drives",), drives, clearpart.location)
        reasons = {"disklabel": "storage.firmware: bios writes --disklabel=gpt; other labels have no key"}
        self.ctx.unhandled(clearpart, {"type", "drives", "initAll", "disklabel" if data.disklabel == "gpt" else ""},
                           reasons)

    def map_bootloader(self) -> None:
        bootloader = self.last("bootloader")
        if bootloader is None:
            return
        data = bootloader.data
        keys: list[KeyPath] = [("storage", "disks", 0)]
        if data.location not in ("mbr", None, ""):
            self.put(("bootloader", "location"), data.location, bootloader.location)
            keys.append(("storage", "bootloader", "location"))
        append = data.appendLine.split() if data.appendLine else []
        if self.ctx.kdump and any(arg.startswith("crashkernel=") for arg in append):
            append = [arg for arg in append if not arg.startswith("crashkernel=")]
            self.ctx.ledger.note(bootloader.location, "bootloader --append crashkernel=", "crashkernel= is left to "
                                 "the kdump addon (addons.kdump), which replaces it on the installed kernel command "
                                 "line with its own", [("addons", "kdump")], effect=False)
        if append:
            self.put(("bootloader", "append"), append, bootloader.location)
            keys.append(("storage", "bootloader", "append"))
        if data.timeout is not None:
            self.put(("bootloader", "timeout"), data.timeout, bootloader.location)
            keys.append(("storage", "bootloader", "timeout"))
        if data.password and data.isCrypted:
            self.put(("bootloader", "password_hash"), data.password, bootloader.location)
            keys.append(("storage", "bootloader", "password_hash"))
        elif data.password:
            self.ctx.ledger.refuse(bootloader.location, ("storage", "bootloader", "password_hash"),
                                   "bootloader --password holds a plaintext password, which a profile never "
                                   "carries; make a hash with `grub2-mkpasswd-pbkdf2` and write `--iscrypted "
                                   "--password=HASH` in the kickstart")
        self.ctx.ledger.mapped(bootloader.location, line_text(bootloader), keys)
        self.ctx.unhandled(bootloader, {"bootDrive", "location", "password", "isCrypted", "appendLine", "timeout"})

    # -- layouts --------------------------------------------------------------------------------------------

    def map_layout(self) -> None:
        autopart = self.last("autopart")
        if autopart is not None:
            # Without --type, EL7's autopart makes LVM.
            kind = _AUTOPART.get(autopart.data.type if autopart.data.type is not None else AUTOPART_TYPE_LVM)
            if kind is None:
                self.ctx.ledger.refuse(autopart.location, ("storage", "layout"),
                                       "autopart --type=btrfs: EL7 hypervisor profiles take lvm, plain or thinp")
                return
            self.put(("layout",), kind, autopart.location)
            self.ctx.ledger.mapped(autopart.location, line_text(autopart), [("storage", "layout")])
            self.ctx.unhandled(autopart, {"type", "autopart", "lvm"})
            return
        if not (self.by_name.get("part") or self.by_name.get("raid")):
            return
        self.put(("layout",), "custom", self.by_name.get("part", self.by_name.get("raid", []))[0].location)
        self.map_custom()

    def map_custom(self) -> None:
        parts = self.by_name.get("part", [])
        raids = self.by_name.get("raid", [])
        groups = self.by_name.get("volgroup", [])
        pv_group = {pv: g.data.vgname for g in groups for pv in g.data.physvols}
        member_of = {m: r for r in raids for m in r.data.members}
        boot_disk = self.ctx.draft.get(("storage", "disks"), ["sda"])[0]
        firmware = None
        reqpart = self.last("reqpart")
        if reqpart is not None:
            firmware = "auto"
            self.ctx.ledger.mapped(reqpart.location, line_text(reqpart), [("storage", "firmware")])
            self.ctx.unhandled(reqpart, set())
        for command in parts:
            data = command.data
            mount = str(data.mountpoint)
            if not self._plain_enough(command):
                continue
            if mount in member_of:
                continue  # mapped with its raid
            if mount == "biosboot" or data.fstype == "biosboot":
                firmware = self._firmware(command, "bios", boot_disk, firmware)
                continue
            if mount == "/boot/efi":
                firmware = self._firmware(command, "uefi", boot_disk, firmware)
                continue
            entry: dict[str, Any] = {}
            if mount.startswith("pv."):
                group = pv_group.get(mount)
                if group is None:
                    self.ctx.ledger.refuse(command.location, ("storage", "partitions"),
                                           f"{mount} is in no volgroup")
                    continue
                entry["volume_group"] = group
            else:
                entry["mount"] = mount
            entry.update(_volume(data, entry.get("mount")))
            if data.recommended:
                entry["recommended"] = True
            if data.maxSizeMB:
                entry["max_size"] = data.maxSizeMB
            self.luks(command, entry)
            disk = _disk(data.disk)
            if disk and disk != boot_disk:
                entry["disk"] = disk
            index = self.ctx.draft.append(("storage", "partitions"), entry, command.location)
            self.ctx.ledger.mapped(command.location, line_text(command), [("storage", "partitions", index)])
            self._volume_options(command, {"disk", "format", "maxSizeMB", *_LUKS})
        for command in raids:
            self._raid(command, parts, pv_group)
        self._groups(groups)
        if firmware is None:
            first = (parts or raids)[0]
            firmware = "auto"
            self.ctx.ledger.note(first.location, "reqpart", "the layout has no BIOS boot or EFI partition and no "
                                 "reqpart: storage.firmware: auto lets the installer add what the machine needs "
                                 "(reqpart)", [("storage", "firmware")])
        self.put(("firmware",), firmware, reqpart.location if reqpart else (parts or raids)[0].location)

    def _firmware(self, command: CommandLine, kind: str, boot_disk: str, current: str | None) -> str:
        data = command.data
        disk = _disk(data.disk)
        expected = 1 if kind == "bios" else 200
        self.ctx.ledger.mapped(command.location, line_text(command), [("storage", "firmware")])
        if disk not in (None, boot_disk):
            self.ctx.ledger.dropped(command.location, line_text(command),
                                    f"storage.firmware: {kind} puts this partition on the boot disk ({boot_disk})")
        elif data.size != expected or data.grow:
            self.ctx.ledger.dropped(command.location, f"--size={data.size}",
                                    f"storage.firmware: {kind} writes --size={expected}")
        if current not in (None, kind):
            self.ctx.ledger.refuse(command.location, ("storage", "firmware"),
                                   "the layout has both a BIOS boot and an EFI system partition (or reqpart); "
                                   "a profile has one storage.firmware")
        return kind

    def _plain_enough(self, command: CommandLine) -> bool:
        data = command.data
        existing = getattr(data, "onPart", "") or not getattr(data, "format", True) or getattr(data, "preexist", False)
        if existing:
            self.ctx.ledger.refuse(command.location, ("storage",),
                                   f"{command.name} on an existing device (--onpart, --noformat, --useexisting): "
                                   "a profile lays out new partitions only")
            return False
        if getattr(data, "encrypted", False) and command.name == "logvol":
            self.ctx.ledger.refuse(command.location, ("storage",),
                                   "logvol --encrypted: a profile encrypts partitions and RAID devices (LUKS under "
                                   "LVM: encrypted: true on the physical volume)")
            return False
        return True

    def luks(self, command: CommandLine, entry: dict[str, Any]) -> None:
        """encrypted and its options; the passphrase is never carried: it is read at render time instead."""
        data = command.data
        if not data.encrypted:
            return
        entry["encrypted"] = True
        entry["passphrase_env"] = LUKS_PASSPHRASE_ENV
        if data.cipher:
            entry["cipher"] = data.cipher
        if data.escrowcert:
            entry["escrow_cert"] = data.escrowcert
        if data.backuppassphrase:
            entry["backup_passphrase"] = True
        said = "the passphrase is not carried" if data.passphrase else "the kickstart gave no passphrase (anaconda " \
            "would ask)"
        self.ctx.ledger.note(command.location, f"{command.name} --encrypted --passphrase",
                             f"{said}: set {LUKS_PASSPHRASE_ENV} when rendering (storage: passphrase_env)", [])

    def _volume_options(self, command: CommandLine, handled: set[str]) -> None:
        self.ctx.unhandled(command, _FS_OPTIONS | handled | {"vgname", "name", "percent", "thin_pool",
                                                             "thin_volume", "pool_name", "level", "device",
                                                             "spares", "members", "disk"})

    def _raid(self, command: CommandLine, parts: list[CommandLine], pv_group: dict[str, str]) -> None:
        data = command.data
        if not self._plain_enough(command):
            return
        by_name = {str(p.data.mountpoint): p for p in parts}
        members = [by_name.get(name) for name in data.members]
        if any(m is None for m in members):
            self.ctx.ledger.refuse(command.location, ("storage", "raids"), "a member of this raid is not a part line")
            return
        member_lines = [m for m in members if m is not None]
        disks = [_disk(m.data.disk) for m in member_lines]
        sizes = {(m.data.size, bool(m.data.grow)) for m in member_lines}
        if any(m.data.maxSizeMB for m in member_lines):
            self.ctx.ledger.refuse(command.location, ("storage", "raids"), "RAID members with --maxsize: a profile "
                                   "RAID has no max_size")
            return
        if any(d is None for d in disks) or len(set(disks)) != len(disks) or len(sizes) != 1:
            self.ctx.ledger.refuse(command.location, ("storage", "raids"),
                                   "a profile RAID has one member partition of one size on each of its disks: give "
                                   "every member --ondisk, a disk of its own and the same --size/--grow")
            return
        level = str(data.level).upper().removeprefix("RAID")
        entry: dict[str, Any] = {}
        device = str(data.device)
        entry["name"] = f"md{device}" if device.isascii() and device.isdigit() else device
        entry["level"] = int(level) if level.isascii() and level.isdigit() else level
        entry["disks"] = disks
        mount = str(data.mountpoint)
        if mount.startswith("pv."):
            if mount not in pv_group:
                self.ctx.ledger.refuse(command.location, ("storage", "raids"), f"{mount} is in no volgroup")
                return
            entry["volume_group"] = pv_group[mount]
        else:
            entry["mount"] = mount
        if data.spares:
            entry["spares"] = int(data.spares)
        size, grow, _ = member_lines[0].data.size, member_lines[0].data.grow, None
        entry.update(_volume(data, entry.get("mount")))
        if size:
            entry["size"] = int(size)
        if grow:
            entry["grow"] = True
        self.luks(command, entry)
        index = self.ctx.draft.append(("storage", "raids"), entry, command.location)
        key = ("storage", "raids", index)
        self.ctx.ledger.mapped(command.location, line_text(command), [key])
        self._volume_options(command, {"format", "preexist", *_LUKS})
        for member in member_lines:
            self.ctx.ledger.mapped(member.location, line_text(member), [(*key, "disks")])
            self.ctx.unhandled(member, _FS_OPTIONS | {"disk", "format"})

    def _groups(self, groups: list[CommandLine]) -> None:
        volumes = self.by_name.get("logvol", [])
        for command in groups:
            data = command.data
            if data.preexist or not data.format:
                self.ctx.ledger.refuse(command.location, ("storage", "volume_groups"),
                                       "volgroup --useexisting/--noformat: a profile creates new volume groups only")
                continue
            entry: dict[str, Any] = {"name": data.vgname}
            if data.reserved_percent:
                entry["reserved_percent"] = data.reserved_percent
            index = self.ctx.draft.append(("storage", "volume_groups"), entry, command.location)
            key: KeyPath = ("storage", "volume_groups", index)
            self.ctx.ledger.mapped(command.location, line_text(command), [key])
            self.ctx.unhandled(command, {"vgname", "physvols", "format", "preexist", "reserved_percent"})
            for lv in (v for v in volumes if v.data.vgname == data.vgname):
                self._logvol(lv, key, entry)
        known = {g.data.vgname for g in groups}
        for lv in volumes:
            if lv.data.vgname not in known:
                self.ctx.ledger.refuse(lv.location, ("storage", "volume_groups"),
                                       f"no volgroup named {lv.data.vgname}")

    def _logvol(self, command: CommandLine, group_key: KeyPath, group: dict[str, Any]) -> None:
        data = command.data
        if not self._plain_enough(command):
            return
        mount = None if str(data.mountpoint).lower() == "none" else str(data.mountpoint)
        entry: dict[str, Any] = {"name": data.name}
        if mount is not None:
            entry["mount"] = mount
        if data.percent:
            entry["percent"] = int(data.percent)
            volume = _volume(data, mount)
            volume.pop("size", None)
            volume.pop("grow", None)  # --percent is written with --grow
            entry.update(volume)
        else:
            entry.update(_volume(data, mount))
        if data.recommended:
            entry["recommended"] = True
        if data.maxSizeMB:
            entry["max_size"] = data.maxSizeMB
        if data.thin_pool:
            entry["thin_pool"] = True
        if data.thin_volume:
            entry["thin"] = data.pool_name
        items = group.setdefault("logical_volumes", [])
        items.append(entry)
        key = (*group_key, "logical_volumes", len(items) - 1)
        self.ctx.draft.origins[key] = command.location
        self.ctx.ledger.mapped(command.location, line_text(command), [key])
        self._volume_options(command, {"format", "preexist", "maxSizeMB"})


def _volume(data: Any, mount: str | None) -> dict[str, Any]:
    """size, grow, fstype, fsoptions of a part, raid or logvol line, leaving out what ksbuild writes by default."""
    entry: dict[str, Any] = {}
    size = getattr(data, "size", None)
    if isinstance(size, int) and size > 0:
        entry["size"] = size
    if getattr(data, "grow", False):
        entry["grow"] = True
    fstype = str(data.fstype or "")
    default = "swap" if mount == "swap" else "xfs"
    if fstype and fstype != default and mount is not None:
        entry["fstype"] = fstype
    if data.fsopts:
        entry["fsoptions"] = data.fsopts
    return entry


def map_storage(ctx: ImportContext, lines: list[CommandLine]) -> None:
    """Map every disk command; `lines` are the kickstart's disk command lines in file order."""
    storage = _Storage(ctx, lines)
    if ctx.draft.get(("storage", "layout")) == "include":
        storage.map_bootloader()
        for command in lines:
            if command.name != "bootloader":
                ctx.ledger.dropped(command.location, line_text(command), "storage.layout: include: the %pre's "
                                   "include decides the disks; ksbuild writes only the boot loader line", lines=1)
        return
    storage.map_disks()
    storage.map_clear()
    storage.map_bootloader()
    storage.map_layout()
    if not (storage.last("autopart") or storage.by_name.get("part") or storage.by_name.get("raid")):
        ctx.ledger.note(lines[0].location if lines else Location(ctx.source), "storage",
                        "no partitioning in the kickstart: storage.layout: lvm (autopart --type=lvm)",
                        [("storage", "layout")])
