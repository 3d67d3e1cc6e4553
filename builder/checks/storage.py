"""Storage checks of a profile: the shared layout checks (builder.checks.layout) on the layout the profile
describes, plus what only a profile can get wrong (swap sizing keys, a hand-declared ESP, the libvirt pool, keys that
only matter for custom layouts).
"""

from __future__ import annotations

from collections.abc import Iterator

from builder.checks.layout import layout_problems
from builder.errors import Severity
from builder.model.layout import (
    BIOS_BOOT,
    EFI_SYSTEM,
    DiskSize,
    LogicalVolume,
    Origin,
    Partition,
    Raid,
    RaidMember,
    StorageLayout,
    VolumeGroup,
)
from builder.model.profile import Profile
from builder.model.storage import LogicalVolume as ProfileLogicalVolume
from builder.model.storage import Partition as ProfilePartition
from builder.model.storage import Raid as ProfileRaid
from builder.model.storage import Storage
from builder.vocabulary import KeyPath, format_key

Problem = tuple[KeyPath, str, Severity]
# (key path, rule id, message) of a shared layout check; the rule's severity for rendered kickstarts applies.
RuledProblem = tuple[KeyPath, str, str]

# Sizes of the partitions storage.firmware adds (a BIOS boot partition, an EFI system partition).
BIOS_BOOT_MIB = 1
EFI_SYSTEM_MIB = 200


def _error(path: KeyPath, message: str) -> Problem:
    return path, message, "error"


def _origin(*key: str | int) -> Origin:
    return Origin(format_key(key), key)


def profile_layout(storage: Storage) -> StorageLayout:
    """The neutral storage layout a profile's storage: section describes (what the template renders)."""
    custom = storage.layout == "custom"
    partitions: list[Partition] = []
    if custom and storage.firmware == "bios":
        partitions.extend(Partition(_origin("storage", "firmware"), BIOS_BOOT, "biosboot", BIOS_BOOT_MIB,
                                    disk=disk, implicit=True) for disk in storage.bios_boot_disks)
    if custom and storage.firmware == "uefi":
        partitions.append(Partition(_origin("storage", "firmware"), EFI_SYSTEM, "efi", EFI_SYSTEM_MIB,
                                    disk=storage.boot_disk, implicit=True))
    for n, p in enumerate(storage.partitions):
        partitions.append(Partition(_origin("storage", "partitions", n), p.mount,
                                    p.filesystem if p.mount else None, p.size, p.grow,
                                    disk=p.disk or storage.boot_disk, volume_group=p.volume_group,
                                    encrypted=p.encrypted))
    raids = [
        Raid(_origin("storage", "raids", n), storage.raid_device(n), r.level,
             tuple(RaidMember(_origin("storage", "raids", n, "disks", i), disk, r.size, r.grow)
                   for i, disk in enumerate(r.disks)),
             r.spares, r.mount, r.filesystem if r.mount else None, r.volume_group, r.encrypted)
        for n, r in enumerate(storage.raids)
    ]
    groups = [
        VolumeGroup(_origin("storage", "volume_groups", g), group.name, tuple(
            LogicalVolume(_origin("storage", "volume_groups", g, "logical_volumes", n), lv.name, lv.mount,
                          lv.filesystem if lv.mount else None, lv.size, lv.grow, lv.percent, lv.thin_pool, lv.thin)
            for n, lv in enumerate(group.logical_volumes)))
        for g, group in enumerate(storage.volume_groups)
    ]
    # The template writes --disklabel=gpt for a custom BIOS layout; otherwise the disks keep (or get) the default.
    gpt = custom and storage.firmware == "bios" and storage.clear != "none"
    return StorageLayout(
        origin=_origin("storage", "partitions"),
        disks=storage.disks,
        disks_origin=_origin("storage", "disks"),
        disks_label="storage.disks",
        boot_disk=storage.boot_disk,
        firmware=storage.firmware if custom else "auto",
        disk_label="gpt" if gpt else None,
        automatic=not custom,
        disk_sizes=tuple(DiskSize(_origin("storage", "disk_sizes", disk), disk, size)
                         for disk, size in storage.disk_sizes.items()),
        partitions=tuple(partitions),
        raids=tuple(raids),
        volume_groups=tuple(groups),
    )


def layout_problems_of(profile: Profile) -> Iterator[RuledProblem]:
    """The shared storage checks on the profile's layout, each at the profile key at fault."""
    for problem in layout_problems(profile_layout(profile.storage)):
        field = problem.origin.field(problem.field) if problem.field is not None else problem.origin.key
        yield field, problem.rule, problem.message


def storage_problems(profile: Profile) -> Iterator[Problem]:
    """What only a profile can get wrong; the shared layout checks are `layout_problems_of`."""
    storage = profile.storage
    yield from _sizes(storage)
    yield from _efi_by_hand(storage)
    yield from _pool(storage)
    if storage.layout != "custom" and storage.firmware != "auto":
        yield (("storage", "firmware"),
               f"the installer's automatic layout ({storage.layout}) adds what the firmware needs; "
               "firmware: is used with layout: custom", "warning")
    if storage.layout == "custom" and storage.firmware == "bios" and storage.clear == "none":
        yield (("storage", "clear"),
               "firmware: bios adds a BIOS boot partition, which needs a GPT disk label; with clear: none "
               "the disks keep theirs", "warning")


def _declared(storage: Storage) -> list[tuple[KeyPath, ProfilePartition | ProfileRaid | ProfileLogicalVolume]]:
    return [
        *((("storage", "partitions", n), p) for n, p in enumerate(storage.partitions)),
        *((("storage", "raids", n), r) for n, r in enumerate(storage.raids)),
        *((("storage", "volume_groups", g, "logical_volumes", n), lv)
          for g, group in enumerate(storage.volume_groups) for n, lv in enumerate(group.logical_volumes)),
    ]


def _efi_by_hand(storage: Storage) -> Iterator[Problem]:
    for path, volume in _declared(storage):
        if volume.mount == EFI_SYSTEM:
            yield _error((*path, "mount"),
                         "the EFI system partition comes from storage.firmware: uefi; do not declare /boot/efi")


def _sizes(storage: Storage) -> Iterator[Problem]:
    for path, volume in _declared(storage):
        recommended = isinstance(volume, ProfilePartition | ProfileLogicalVolume) and volume.recommended
        if recommended and volume.mount != "swap":
            yield _error((*path, "recommended"), "recommended: only sizes swap (from the machine's RAM)")
        if volume.size is not None or recommended:
            continue
        if isinstance(volume, ProfileLogicalVolume) and volume.percent is not None:
            continue
        if volume.mount == "swap":
            hint = "" if isinstance(volume, ProfileRaid) else " or recommended: true"
            yield _error((*path, "size"), f"swap needs a size: (MiB){hint}")
        elif isinstance(volume, ProfileLogicalVolume):
            yield _error((*path, "size"), "needs size: (MiB) or percent: (of the VG's free space)")
        else:
            yield _error((*path, "size"), "needs size: (MiB; the minimum when grow is set)")


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
