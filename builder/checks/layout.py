"""Storage checks on a `StorageLayout`, the same for a profile and for a parsed kickstart: disks the installer may
use, RAID members on distinct disks and in sufficient number, unique mount points and names, LVM references, what
EL7's boot loader can boot from, the firmware's boot partitions, and sizes that fit.

Facts used: anaconda's kickstart `raid` rule (a /boot RAID must be level 1), GRUB2 in EL7 reading /boot from a
partition or an md array but not from LVM, blivet's minimum member counts per RAID level, GRUB2's biosboot
partition existing only on GPT disks. Each problem names its rule (builder.rules) and the element at fault.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from builder.model.layout import (
    BIOS_BOOT,
    EFI_SYSTEM,
    LayoutProblem,
    LogicalVolume,
    Origin,
    Partition,
    Raid,
    StorageLayout,
)

# blivet.devicelibs.raid: fewest active members each level works with.
MIN_MEMBERS = {0: 2, 1: 2, 5: 3, 6: 4, 10: 4}
BOOT_FILESYSTEMS = ("xfs", "ext4", "ext3", "ext2")
EFI_FILESYSTEMS = ("efi", "vfat")
# Space anaconda keeps in front of the first partition (1 MiB alignment).
ALIGNMENT_MIB = 1
# Per physical volume: LVM metadata area plus rounding down to whole 4 MiB extents.
PV_OVERHEAD_MIB = 4


@dataclass(frozen=True)
class _Mounted:
    origin: Origin
    volume: Partition | Raid | LogicalVolume


def layout_problems(layout: StorageLayout) -> list[LayoutProblem]:
    """Every storage problem of `layout`, in a stable order (disks, mounts, RAID, LVM, boot, firmware, sizes)."""
    volumes = _volumes(layout)
    return [
        *_disks(layout),
        *_mounts(layout, volumes),
        *_raids(layout),
        *_lvm(layout),
        *_boot(layout, volumes),
        *_firmware(layout),
        *_fit(layout),
    ]


def _volumes(layout: StorageLayout) -> list[_Mounted]:
    placed = [_Mounted(p.origin, p) for p in layout.partitions if not p.implicit]
    placed += [_Mounted(r.origin, r) for r in layout.raids]
    placed += [_Mounted(lv.origin, lv) for group in layout.volume_groups for lv in group.logical_volumes]
    return placed


def _disks(layout: StorageLayout) -> Iterator[LayoutProblem]:
    allowed = layout.disks
    if allowed is not None:
        for index, disk in enumerate(allowed):
            if disk in allowed[:index]:
                yield LayoutProblem("KS211", layout.disks_origin, index, f"{disk} is listed twice")
    for size in layout.disk_sizes:
        if allowed is not None and size.disk not in allowed:
            yield LayoutProblem("KS203", size.origin, None, f"{size.disk} is not one of {layout.disks_label}")
    for part in layout.partitions:
        if allowed is not None and part.disk is not None and part.disk not in allowed and not part.implicit:
            yield LayoutProblem("KS203", part.origin, "disk", f"{part.disk} is not one of {layout.disks_label}")
    for raid in layout.raids:
        placed: dict[str, Origin] = {}
        for member in raid.members:
            if member.disk is None:
                continue
            if allowed is not None and member.disk not in allowed:
                yield LayoutProblem("KS203", member.origin, None, f"{member.disk} is not one of {layout.disks_label}")
            elif member.disk in placed:
                yield LayoutProblem("KS201", member.origin, None,
                                    f"{member.disk} already holds {placed[member.disk].label}, another member of "
                                    f"{raid.device}; a RAID needs its members on different disks")
            placed.setdefault(member.disk, member.origin)
        unplaced = [m for m in raid.members if m.disk is None]
        if unplaced and len(raid.members) > 1:
            names = ", ".join(m.origin.label for m in unplaced)
            yield LayoutProblem("KS213", raid.origin, None,
                                f"members of {raid.device} without a disk (--ondisk): {names}; the installer chooses "
                                "their disks and may put two members on one")


def _mounts(layout: StorageLayout, volumes: list[_Mounted]) -> Iterator[LayoutProblem]:
    first: dict[str, Origin] = {}
    for item in volumes:
        volume = item.volume
        if volume.mount is None:
            continue
        filesystem = volume.filesystem
        if filesystem is not None and (volume.mount == "swap") != (filesystem == "swap"):
            yield LayoutProblem("KS212", item.origin, "fstype",
                                f"mount point {volume.mount} with file system {filesystem}: swap is both the mount "
                                "point and the file system, or neither")
        if volume.mount in ("swap", BIOS_BOOT):
            continue  # several swap areas, or a BIOS boot partition per disk of a RAID1 /boot, are normal
        if volume.mount in first:
            yield LayoutProblem("KS204", item.origin, "mount", f"{volume.mount} is already mounted by "
                                f"{first[volume.mount].label}")
        first.setdefault(volume.mount, item.origin)
    if not layout.automatic and layout.complete and volumes and "/" not in first:
        yield LayoutProblem("KS205", layout.origin, None,
                            "no partition is mounted at / (nor a RAID device or logical volume)")


def _raids(layout: StorageLayout) -> Iterator[LayoutProblem]:
    seen: dict[str, Origin] = {}
    for raid in layout.raids:
        if raid.device in seen:
            yield LayoutProblem("KS211", raid.origin, "name",
                                f"md device {raid.device} is already used by {seen[raid.device].label}")
        seen.setdefault(raid.device, raid.origin)
        if raid.level is None or raid.level not in MIN_MEMBERS:
            continue
        active = len(raid.members) - raid.spares
        if active < MIN_MEMBERS[raid.level]:
            spares = f" and {raid.spares} spare(s)" if raid.spares else ""
            yield LayoutProblem("KS202", raid.origin, "disks",
                                f"RAID{raid.level} needs at least {MIN_MEMBERS[raid.level]} active members; "
                                f"{raid.device} has {len(raid.members)} member(s){spares}")


def _lvm(layout: StorageLayout) -> Iterator[LayoutProblem]:
    groups: dict[str, Origin] = {}
    for group in layout.volume_groups:
        if group.name in groups:
            yield LayoutProblem("KS211", group.origin, "name", f"another volume group is named {group.name}")
        groups.setdefault(group.name, group.origin)
    used: set[str] = set()
    members: list[Partition | Raid] = [*layout.partitions, *layout.raids]
    for member in members:
        if isinstance(member, Partition) and member.implicit:
            continue
        if member.volume_group is None:
            if member.mount is None:
                yield LayoutProblem("KS210", member.origin, None,
                                    f"{member.origin.label} is neither mounted nor a physical volume of a volume group")
            continue
        used.add(member.volume_group)
        if member.volume_group not in groups:
            known = ", ".join(groups) or "none defined"
            yield LayoutProblem("KS209", member.origin, "volume_group",
                                f"no volume group named {member.volume_group} (volume groups: {known})")
    for group in layout.volume_groups:
        if group.name not in used:
            yield LayoutProblem("KS209", group.origin, "name",
                                f"no partition or RAID device is a physical volume of {group.name}")
        names: set[str] = set()
        pools = {lv.name for lv in group.logical_volumes if lv.thin_pool}
        for lv in group.logical_volumes:
            if lv.name in names:
                yield LayoutProblem("KS211", lv.origin, "name",
                                    f"another logical volume in {group.name} is named {lv.name}")
            names.add(lv.name)
            if lv.thin is not None and lv.thin not in pools:
                known = ", ".join(sorted(pools)) or "none"
                yield LayoutProblem("KS209", lv.origin, "thin",
                                    f"no thin pool named {lv.thin} in {group.name} (thin pools: {known})")
        percent = sum(lv.percent or 0 for lv in group.logical_volumes if lv.thin is None)
        if percent > 100:
            yield LayoutProblem("KS208", group.origin, "name",
                                f"its logical volumes ask for {percent}% of its space; the percentages add up to "
                                "at most 100")


def _boot(layout: StorageLayout, volumes: list[_Mounted]) -> Iterator[LayoutProblem]:
    """/boot, or / when there is no /boot, must be where EL7's GRUB2 reads it: a partition or RAID1, not on
    LUKS (blivet refuses /boot on an encrypted device: GRUB2 is not set up to unlock it)."""
    if layout.automatic:
        return
    by_mount: dict[str, _Mounted] = {}
    for item in volumes:
        if item.volume.mount is not None:
            by_mount.setdefault(item.volume.mount, item)
    holder = by_mount.get("/boot") or by_mount.get("/")
    if holder is None:
        return
    volume = holder.volume
    where = "/boot" if volume.mount == "/boot" else "/ (there is no /boot)"
    if isinstance(volume, LogicalVolume):
        yield LayoutProblem("KS206", holder.origin, "mount", f"{where} is on LVM, which EL7's GRUB2 cannot boot from; "
                            "add a /boot partition or RAID1")
    elif isinstance(volume, Raid) and volume.level is not None and volume.level != 1:
        yield LayoutProblem("KS206", holder.origin, "level", f"{where} is on RAID{volume.level}; EL7 boots from RAID1 "
                            "only (kickstart: the /boot RAID device must be level 1)")
    if volume.filesystem is not None and volume.filesystem not in BOOT_FILESYSTEMS:
        yield LayoutProblem("KS206", holder.origin, "fstype",
                            f"{where} must be {', '.join(BOOT_FILESYSTEMS)} for the boot loader")
    if volume.encrypted:
        yield LayoutProblem("KS206", holder.origin, "encrypted",
                            f"{where} is encrypted: EL7's boot loader cannot read it; keep /boot on a plain partition "
                            "or RAID1 and encrypt the rest")


def _firmware(layout: StorageLayout) -> Iterator[LayoutProblem]:
    """biosboot only on GPT; biosboot and the ESP on the boot loader's disk; the ESP with an EFI file system."""
    kinds = {BIOS_BOOT: "BIOS boot partition", EFI_SYSTEM: "EFI system partition"}
    for mount, kind in kinds.items():
        parts = [p for p in layout.partitions if p.mount == mount]
        if not parts:
            continue
        if mount == BIOS_BOOT and layout.disk_label == "msdos":
            for part in parts:
                yield LayoutProblem("KS207", part.origin, "fstype",
                                    f"a {kind} needs a GPT disk label, and the disks get msdos labels")
        if mount == EFI_SYSTEM:
            for part in parts:
                if part.filesystem is not None and part.filesystem not in EFI_FILESYSTEMS:
                    yield LayoutProblem("KS207", part.origin, "fstype",
                                        f"the {kind} must be fstype efi (vfat), not {part.filesystem}")
        boot = layout.boot_disk
        disks = {p.disk for p in parts}
        if boot is not None and None not in disks and boot not in disks:
            part = parts[0]
            yield LayoutProblem("KS207", part.origin, "disk",
                                f"the {kind} is on {part.disk}, but the boot loader is installed on {boot}")
        if mount == BIOS_BOOT:
            yield from _bios_boot_on_each_mirror_disk(layout, parts)


def _bios_boot_on_each_mirror_disk(layout: StorageLayout, bios_boot: list[Partition]) -> Iterator[LayoutProblem]:
    """anaconda installs GRUB2 on the disk of every member of a RAID1 /boot (or / without /boot) when the boot
    drive holds one (GRUB.install_targets in pyanaconda/bootloader.py), and grub2-install fails the install on a
    GPT disk with no BIOS boot partition to embed GRUB in."""
    boot = layout.boot_disk
    has_boot = any(p.mount == "/boot" for p in layout.partitions) or any(r.mount == "/boot" for r in layout.raids)
    mirror = next((r for r in layout.raids if r.mount == ("/boot" if has_boot else "/")), None)
    if boot is None or mirror is None or mirror.level != 1:
        return
    disks = [m.disk for m in mirror.members]
    if boot not in disks or None in disks:
        return
    have = {p.disk for p in bios_boot}
    for disk in dict.fromkeys(d for d in disks if d is not None and d not in have):
        yield LayoutProblem("KS207", bios_boot[0].origin, "disk",
                            f"{mirror.mount} is a RAID1 with a member on {disk}, so anaconda installs GRUB2 on {disk} "
                            f"too, and {disk} has no BIOS boot partition: grub2-install fails there "
                            f"(add part biosboot --fstype=biosboot --size=1 --ondisk={disk})")


def _fit(layout: StorageLayout) -> Iterator[LayoutProblem]:
    """Declared disk sizes against the fixed sizes on them; volume group sizes against their fixed volumes."""
    for declared in layout.disk_sizes:
        needed = ALIGNMENT_MIB
        needed += sum(p.size or 0 for p in layout.partitions if p.disk == declared.disk)
        needed += sum(m.size or 0 for r in layout.raids for m in r.members if m.disk == declared.disk)
        if needed > declared.size:
            yield LayoutProblem("KS208", declared.origin, None, f"the layout needs at least {needed} MiB on "
                                f"{declared.disk}, which has {declared.size} MiB")
    for group in layout.volume_groups:
        capacity = _group_capacity(layout, group.name)
        if capacity is None:
            continue
        demand = sum(lv.size or 0 for lv in group.logical_volumes if lv.thin is None)
        if demand > capacity:
            yield LayoutProblem("KS208", group.origin, "name", f"its logical volumes need {demand} MiB but its "
                                f"physical volumes give about {capacity} MiB")


def _group_capacity(layout: StorageLayout, group: str) -> int | None:
    """MiB the group's physical volumes give, or None when one of them grows (its size is not known)."""
    total = 0
    members: list[Partition | Raid] = [*layout.partitions, *layout.raids]
    for member in members:
        if member.volume_group != group:
            continue
        if isinstance(member, Raid):
            size = member.member_size
            active = len(member.members) - member.spares
            if size is None or member.level not in (0, 1, 5, 6, 10):
                return None
            size = {0: active * size, 1: size, 5: (active - 1) * size, 6: (active - 2) * size,
                    10: active * size // 2}[member.level]
        else:
            if member.grow or member.size is None:
                return None
            size = member.size
        total += size - PV_OVERHEAD_MIB
    return total if total > 0 else None
