"""Checks of the storage options around the layout: LUKS, clearpart forms, growth limits, the boot loader line.

Kept apart from builder.checks.storage (the layout itself: disks, mounts, sizes, RAID, LVM, bootability), so each
stays one concern. Facts used: blivet refuses /boot on an encrypted device (EL7's GRUB 2 is not set up to unlock
LUKS); anaconda's kdump addon replaces every crashkernel= of the boot loader arguments with its own (or drops them
when kdump is disabled); `--maxsize` only limits a volume that grows.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from builder.checks.storage import profile_layout
from builder.errors import Severity
from builder.model.layout import Partition, Raid, disk_of_partition
from builder.model.profile import Profile
from builder.model.storage import Storage
from builder.model.types import kernel_arg_name
from builder.vocabulary import KeyPath

Problem = tuple[KeyPath, str, Severity]


def storage_option_problems(profile: Profile) -> Iterator[Problem]:
    storage = profile.storage
    yield from _encryption(storage)
    yield from _clear(storage)
    yield from _growth(storage)
    yield from _bootloader(profile)


def _encryption(storage: Storage) -> Iterator[Problem]:
    # An encrypted /boot (or /) is the shared layout check's (KS206), for profiles and kickstarts alike.
    layout = profile_layout(storage)
    volumes: list[Partition | Raid] = [*(p for p in layout.partitions if not p.implicit), *layout.raids]
    for volume in volumes:
        if volume.encrypted and volume.mount == "swap":
            yield (volume.origin.field("encrypted"), "encrypted swap asks for its passphrase at every boot (it is "
                   "unlocked like any LUKS device); random-key swap needs /etc/crypttab in %post instead", "warning")


def _clear(storage: Storage) -> Iterator[Problem]:
    known = set(storage.disks)
    for index, drive in enumerate(storage.clear_drives):
        if drive not in known:
            yield ("storage", "clear_drives", index), f"{drive} is not one of storage.disks", "error"
    for index, partition in enumerate(storage.clear_list):
        disk = disk_of_partition(partition)
        if disk is not None and disk not in known:
            yield (("storage", "clear_list", index),
                   f"{partition} is on {disk}, which is not one of storage.disks (ignoredisk hides it)", "error")
    if storage.clear == "list" and storage.layout == "custom" and storage.firmware == "bios":
        yield (("storage", "clear"),
               "firmware: bios adds a BIOS boot partition, which needs a GPT disk label; clearpart --list "
               "keeps the disks' labels", "warning")


def _growth(storage: Storage) -> Iterator[Problem]:
    sized: list[tuple[KeyPath, int | None, bool, int | None]] = [
        (("storage", "partitions", n), p.size, p.grow, p.max_size) for n, p in enumerate(storage.partitions)
    ]
    for g, group in enumerate(storage.volume_groups):
        for n, lv in enumerate(group.logical_volumes):
            grows = lv.grow or lv.percent is not None
            sized.append((("storage", "volume_groups", g, "logical_volumes", n), lv.size, grows, lv.max_size))
    for path, size, grows, max_size in sized:
        if max_size is None:
            continue
        if not grows:
            yield (*path, "max_size"), "max_size limits how far a volume grows: set grow: true", "error"
        elif size is not None and max_size < size:
            yield (*path, "max_size"), f"max_size {max_size} MiB is below size {size} MiB", "error"


def _bootloader(profile: Profile) -> Iterator[Problem]:
    loader = profile.storage.bootloader
    path: KeyPath = ("storage", "bootloader")
    if loader.location == "none":
        yield ((*path, "location"), "location: none installs no boot loader: the host boots from its disk only "
               "if something else (another boot loader, a PXE chain) starts it", "warning")
    counts = Counter(loader.append)
    for index, arg in enumerate(loader.append):
        if counts[arg] > 1 and loader.append.index(arg) != index:
            yield (*path, "append", index), f"{arg} is already in append", "warning"
    kdump = profile.addons.kdump
    if kdump is not None:
        for index, arg in enumerate(loader.append):
            if kernel_arg_name(arg) == "crashkernel":
                what = "sets its own" if kdump.enabled else "removes it (kdump is disabled)"
                yield ((*path, "append", index),
                       f"the kdump addon replaces every crashkernel= of the boot loader arguments and {what}: "
                       "set the reservation with addons.kdump.reserve_mb", "error")
