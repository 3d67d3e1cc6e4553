"""Checks of the whole `storage:` section: disk references, mount points, sizes (swap, disk and VG capacity),
RAID member counts, LVM references, and what the EL7 boot loader can boot from.

Facts used: anaconda's kickstart `raid` rule (a /boot RAID must be level 1), GRUB2 in EL7 reading /boot from a
partition or an md array but not from LVM, blivet's minimum member counts per RAID level.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from builder.errors import Severity
from builder.model.profile import Profile
from builder.model.storage import LogicalVolume, Partition, Raid, Storage
from builder.vocabulary import KeyPath, format_key

Problem = tuple[KeyPath, str, Severity]

# blivet.devicelibs.raid: fewest active members each level works with.
MIN_MEMBERS = {0: 2, 1: 2, 5: 3, 6: 4, 10: 4}
BOOT_FILESYSTEMS = ("xfs", "ext4", "ext3", "ext2")
# Space anaconda keeps in front of the first partition (1 MiB alignment), a BIOS boot partition, an ESP.
ALIGNMENT_MIB = 1
BIOS_BOOT_MIB = 1
EFI_SYSTEM_MIB = 200
# Per physical volume: LVM metadata area plus rounding down to whole 4 MiB extents.
PV_OVERHEAD_MIB = 4


def _error(path: KeyPath, message: str) -> Problem:
    return path, message, "error"


@dataclass(frozen=True)
class _Placed:
    """A partition, RAID device or logical volume with the key path of its entry."""

    path: KeyPath
    volume: Partition | Raid | LogicalVolume


def _volumes(storage: Storage) -> list[_Placed]:
    placed = [_Placed(("storage", "partitions", n), p) for n, p in enumerate(storage.partitions)]
    placed += [_Placed(("storage", "raids", n), r) for n, r in enumerate(storage.raids)]
    for g, group in enumerate(storage.volume_groups):
        placed += [
            _Placed(("storage", "volume_groups", g, "logical_volumes", n), lv)
            for n, lv in enumerate(group.logical_volumes)
        ]
    return placed


def storage_problems(profile: Profile) -> Iterator[Problem]:
    storage = profile.storage
    volumes = _volumes(storage)
    yield from _disks(storage)
    yield from _mounts(storage, volumes)
    yield from _sizes(volumes)
    yield from _raids(storage)
    yield from _lvm(storage)
    yield from _boot(storage, volumes)
    yield from _fit(storage)
    yield from _pool(storage)
    if storage.layout != "custom" and storage.firmware != "auto":
        yield (("storage", "firmware"),
               f"the installer's automatic layout ({storage.layout}) adds what the firmware needs; "
               "firmware: is used with layout: custom", "warning")
    if storage.layout == "custom" and storage.firmware == "bios" and storage.clear == "none":
        yield (("storage", "clear"),
               "firmware: bios adds a BIOS boot partition, which needs a GPT disk label; with clear: none "
               "the disks keep theirs", "warning")


def _disks(storage: Storage) -> Iterator[Problem]:
    known = set(storage.disks)
    for index, disk in enumerate(storage.disks):
        if disk in storage.disks[:index]:
            yield _error(("storage", "disks", index), f"{disk} is listed twice")
    for disk in storage.disk_sizes:
        if disk not in known:
            yield _error(("storage", "disk_sizes", disk), f"{disk} is not one of storage.disks")
    for index, part in enumerate(storage.partitions):
        if part.disk is not None and part.disk not in known:
            yield _error(("storage", "partitions", index, "disk"), f"{part.disk} is not one of storage.disks")
    for index, raid in enumerate(storage.raids):
        for number, disk in enumerate(raid.disks):
            path: KeyPath = ("storage", "raids", index, "disks", number)
            if disk not in known:
                yield _error(path, f"{disk} is not one of storage.disks")
            elif disk in raid.disks[:number]:
                yield _error(path, f"{disk} is listed twice; a RAID needs its members on different disks")


def _mounts(storage: Storage, volumes: list[_Placed]) -> Iterator[Problem]:
    first: dict[str, KeyPath] = {}
    for item in volumes:
        volume = item.volume
        if volume.mount is None:
            continue
        if (volume.mount == "swap") != (volume.filesystem == "swap"):
            yield _error((*item.path, "fstype"), "swap needs mount: swap and fstype: swap together")
        if volume.mount == "/boot/efi":
            message = "the EFI system partition comes from storage.firmware: uefi; do not declare /boot/efi"
            yield _error((*item.path, "mount"), message)
        if volume.mount == "swap":
            continue
        if volume.mount in first:
            message = f"{volume.mount} is already mounted by {format_key(first[volume.mount])}"
            yield _error((*item.path, "mount"), message)
        first.setdefault(volume.mount, item.path)
    if storage.layout == "custom" and "/" not in first:
        message = "no partition is mounted at / (nor a RAID device or logical volume)"
        yield _error(("storage", "partitions"), message)


def _sizes(volumes: list[_Placed]) -> Iterator[Problem]:
    for item in volumes:
        volume = item.volume
        recommended = isinstance(volume, Partition | LogicalVolume) and volume.recommended
        if recommended and volume.mount != "swap":
            yield _error((*item.path, "recommended"), "recommended: only sizes swap (from the machine's RAM)")
        if volume.size is not None or recommended:
            continue
        if isinstance(volume, LogicalVolume) and volume.percent is not None:
            continue
        if volume.mount == "swap":
            hint = "" if isinstance(volume, Raid) else " or recommended: true"
            yield _error((*item.path, "size"), f"swap needs a size: (MiB){hint}")
        elif isinstance(volume, LogicalVolume):
            yield _error((*item.path, "size"), "needs size: (MiB) or percent: (of the VG's free space)")
        else:
            yield _error((*item.path, "size"), "needs size: (MiB; the minimum when grow is set)")


def _raids(storage: Storage) -> Iterator[Problem]:
    seen: dict[str, int] = {}
    for index, raid in enumerate(storage.raids):
        path: KeyPath = ("storage", "raids", index)
        device = storage.raid_device(index)
        if device in seen:
            message = f"md device {device} is already used by storage.raids[{seen[device]}]"
            yield _error((*path, "name"), message)
        seen.setdefault(device, index)
        active = len(raid.disks) - raid.spares
        if active < MIN_MEMBERS[raid.level]:
            spares = f" and {raid.spares} spare(s)" if raid.spares else ""
            yield _error((*path, "disks"),
                         f"RAID{raid.level} needs at least {MIN_MEMBERS[raid.level]} active members; "
                         f"{device} has {len(raid.disks)} disk(s){spares}")


def _lvm(storage: Storage) -> Iterator[Problem]:
    groups: dict[str, int] = {}
    for index, group in enumerate(storage.volume_groups):
        if group.name in groups:
            message = f"another volume group is named {group.name}"
            yield _error(("storage", "volume_groups", index, "name"), message)
        groups.setdefault(group.name, index)
    used: set[str] = set()
    sources: tuple[tuple[str, Sequence[Partition | Raid]], ...] = (
        ("partitions", storage.partitions), ("raids", storage.raids)
    )
    for kind, members in sources:
        for index, member in enumerate(members):
            if member.volume_group is None:
                continue
            used.add(member.volume_group)
            if member.volume_group not in groups:
                known = ", ".join(groups) or "none defined"
                yield _error(("storage", kind, index, "volume_group"),
                             f"no volume group named {member.volume_group} (volume_groups: {known})")
    for index, group in enumerate(storage.volume_groups):
        path: KeyPath = ("storage", "volume_groups", index)
        if group.name not in used:
            yield _error((*path, "name"), f"no partition or RAID device is a physical volume of "
                         f"{group.name}; set volume_group: {group.name} on one")
        names: set[str] = set()
        pools = {lv.name for lv in group.logical_volumes if lv.thin_pool}
        for number, lv in enumerate(group.logical_volumes):
            lv_path: KeyPath = (*path, "logical_volumes", number)
            if lv.name in names:
                yield _error((*lv_path, "name"), f"another logical volume in {group.name} is named {lv.name}")
            names.add(lv.name)
            if lv.thin is not None and lv.thin not in pools:
                known = ", ".join(sorted(pools)) or "none"
                message = f"no thin pool named {lv.thin} in {group.name} (thin pools: {known})"
                yield _error((*lv_path, "thin"), message)


def _boot(storage: Storage, volumes: list[_Placed]) -> Iterator[Problem]:
    """/boot, or / when there is no /boot, must be where EL7's GRUB2 reads it: a partition or RAID1."""
    if storage.layout != "custom":
        return
    by_mount: dict[str, _Placed] = {}
    for item in volumes:
        if item.volume.mount is not None:
            by_mount.setdefault(item.volume.mount, item)
    holder = by_mount.get("/boot") or by_mount.get("/")
    if holder is None:
        return
    volume = holder.volume
    where = "/boot" if volume.mount == "/boot" else "/ (there is no /boot)"
    if isinstance(volume, LogicalVolume):
        yield _error((*holder.path, "mount"), f"{where} is on LVM, which EL7's GRUB2 cannot boot from; add a "
                     "/boot partition or RAID1")
    elif isinstance(volume, Raid) and volume.level != 1:
        yield _error((*holder.path, "level"), f"{where} is on RAID{volume.level}; EL7 boots from RAID1 only "
                     "(kickstart: the /boot RAID device must be level 1)")
    if volume.filesystem not in BOOT_FILESYSTEMS:
        message = f"{where} must be {', '.join(BOOT_FILESYSTEMS)} for the boot loader"
        yield _error((*holder.path, "fstype"), message)


def _fit(storage: Storage) -> Iterator[Problem]:
    """Declared disk sizes against the fixed sizes on them; VG sizes against their fixed logical volumes."""
    for disk, size in storage.disk_sizes.items():
        needed = ALIGNMENT_MIB
        if storage.layout == "custom":
            needed += sum(_boot_partitions(storage, disk))
            needed += sum(p.size or 0 for p in storage.partitions if (p.disk or storage.boot_disk) == disk)
            needed += sum(r.size or 0 for r in storage.raids if disk in r.disks)
        if needed > size:
            yield _error(("storage", "disk_sizes", disk),
                         f"the layout needs at least {needed} MiB on {disk}, which has {size} MiB")
    for index, group in enumerate(storage.volume_groups):
        capacity = _group_capacity(storage, group.name)
        if capacity is None:
            continue
        demand = sum(lv.size or 0 for lv in group.logical_volumes if lv.thin is None)
        if demand > capacity:
            yield _error(("storage", "volume_groups", index, "name"),
                         f"its logical volumes need {demand} MiB but its physical volumes give about "
                         f"{capacity} MiB")


def _boot_partitions(storage: Storage, disk: str) -> list[int]:
    sizes = []
    if storage.firmware == "bios" and disk == storage.boot_disk:
        sizes.append(BIOS_BOOT_MIB)
    if storage.firmware == "uefi" and disk == storage.boot_disk:
        sizes.append(EFI_SYSTEM_MIB)
    return sizes


def _group_capacity(storage: Storage, group: str) -> int | None:
    """MiB the group's physical volumes give, or None when one of them grows (its size is not known)."""
    total = 0
    members: list[Partition | Raid] = [*storage.partitions, *storage.raids]
    for member in members:
        if member.volume_group != group:
            continue
        if member.grow or member.size is None:
            return None
        size = member.size
        if isinstance(member, Raid):
            active = len(member.disks) - member.spares
            size = {0: active * size, 1: size, 5: (active - 1) * size, 6: (active - 2) * size,
                    10: active * size // 2}[member.level]
        total += size - PV_OVERHEAD_MIB
    return total if total > 0 else None


def _pool(storage: Storage) -> Iterator[Problem]:
    pool = storage.pool
    if pool is None or pool.volume_group is None:
        return
    group = next((g for g in storage.volume_groups if g.name == pool.volume_group), None)
    if group is None:
        known = ", ".join(g.name for g in storage.volume_groups) or "none defined"
        yield _error(("storage", "pool", "volume_group"),
                     f"no volume group named {pool.volume_group} (volume_groups: {known})")
        return
    filling = [lv.name for lv in group.logical_volumes if lv.grow or lv.percent is not None]
    if filling:
        yield (("storage", "pool", "volume_group"),
               f"{', '.join(filling)} in {group.name} grow(s) into the space VM images would use; give the "
               "pool a volume group of its own", "warning")
