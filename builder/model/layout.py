"""The storage layout the storage checks read: disks, partitions, md RAID and LVM, whatever declared them.

A profile (builder.checks.storage.profile_layout) and a parsed kickstart (builder.validate.storage) each build one
`StorageLayout`; builder.checks.layout runs the same checks on both. Every element carries an `Origin`: the profile
key path or the kickstart file:line it came from, and the words a message uses to name it.

Plain frozen dataclasses, no pydantic: validating a kickstart must not pay for the profile model. Sizes are MiB.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from builder.errors import Location

Firmware = Literal["bios", "uefi", "auto", "unknown"]
# Mount points of the partitions the firmware needs (a kickstart writes `part biosboot`; /boot/efi is the ESP).
BIOS_BOOT = "biosboot"
EFI_SYSTEM = "/boot/efi"

# How a partition's name says its disk. The kernel appends the partition number to the disk's name, with a "p"
# between when that name ends in a digit (sda3, nvme0n1p2, mmcblk0p1, md127p1); udev's by-id and by-path links
# append -partN. by-uuid, by-partuuid and labels say nothing about the disk.
_PARTITION_NAMES = (
    re.compile(r"(?P<disk>disk/by-(?:id|path)/.+)-part(?P<number>[1-9][0-9]*)"),
    re.compile(r"(?P<disk>[A-Za-z][A-Za-z0-9_-]*[0-9])p(?P<number>[1-9][0-9]*)"),
    re.compile(r"(?P<disk>[A-Za-z]+)(?P<number>[1-9][0-9]*)"),
)
# Names of letters and a number that are whole devices, not partitions of a device named by the letters.
_WHOLE_DEVICES = frozenset({"md", "mmcblk", "loop", "nbd", "sr", "ram", "zram"})


def split_partition(name: str) -> tuple[str, str] | None:
    """(disk, partition number) of a partition name, a leading /dev/ dropped: ("sdb", "2") for /dev/sdb2,
    ("nvme0n1", "2") for nvme0n1p2, ("disk/by-id/ata-X", "3") for disk/by-id/ata-X-part3; None when the name
    does not say its disk (a UUID, a label, a whole disk such as nvme0n1 or md127)."""
    device = name.removeprefix("/dev/")
    for pattern in _PARTITION_NAMES:
        match = pattern.fullmatch(device)
        if match is not None and match["disk"] not in _WHOLE_DEVICES:
            return match["disk"], match["number"]
    return None


def disk_of_partition(name: str) -> str | None:
    """The disk a partition name is on, without /dev/ (see split_partition); None when the name does not say."""
    split = split_partition(name)
    return split[0] if split is not None else None


def partition_name(disk: str, number: str) -> str:
    """Partition `number` of `disk` as the kernel or udev names it (the inverse of split_partition)."""
    if disk.startswith("disk/by-"):
        return f"{disk}-part{number}"
    return f"{disk}p{number}" if disk[-1:].isdigit() else f"{disk}{number}"


@dataclass(frozen=True)
class Origin:
    """Where an element was declared: a profile key path or a kickstart location, and its name in messages."""

    label: str
    key: tuple[str | int, ...] = ()
    location: Location | None = None

    def field(self, name: str | int) -> tuple[str | int, ...]:
        """The key path of one field of this element (profiles); kickstarts report the whole line."""
        return (*self.key, name) if self.key else ()


@dataclass(frozen=True)
class Partition:
    origin: Origin
    mount: str | None              # "/", "swap", biosboot, /boot/efi; None for a physical volume
    filesystem: str | None
    size: int | None
    grow: bool = False
    disk: str | None = None        # None: the installer chooses
    volume_group: str | None = None
    implicit: bool = False         # added for the firmware (a profile's storage.firmware), not written by the user
    encrypted: bool = False        # LUKS (--encrypted)


@dataclass(frozen=True)
class RaidMember:
    """One member partition of an md array."""

    origin: Origin
    disk: str | None
    size: int | None
    grow: bool = False


@dataclass(frozen=True)
class Raid:
    origin: Origin
    device: str                    # md device name
    level: int | None              # None: not a level the checks know
    members: tuple[RaidMember, ...]
    spares: int = 0
    mount: str | None = None
    filesystem: str | None = None
    volume_group: str | None = None
    encrypted: bool = False        # LUKS (--encrypted)

    @property
    def member_size(self) -> int | None:
        """The size each member gives the array (the smallest), or None when one is unknown or grows."""
        if not self.members or any(m.grow or m.size is None for m in self.members):
            return None
        return min(m.size for m in self.members if m.size is not None)


@dataclass(frozen=True)
class LogicalVolume:
    origin: Origin
    name: str
    mount: str | None
    filesystem: str | None
    size: int | None
    grow: bool = False
    percent: int | None = None
    thin_pool: bool = False
    thin: str | None = None        # the thin pool this thin volume lives in
    encrypted: bool = False        # LUKS (--encrypted)


@dataclass(frozen=True)
class VolumeGroup:
    origin: Origin
    name: str
    logical_volumes: tuple[LogicalVolume, ...] = ()


@dataclass(frozen=True)
class DiskSize:
    origin: Origin
    disk: str
    size: int


@dataclass(frozen=True)
class StorageLayout:
    """A whole layout. `automatic`: the installer lays the disks out (autopart); `complete`: False when more storage
    commands may come from a file only the install will have (an %include written by %pre)."""

    origin: Origin                 # the layout as a whole, for "nothing is mounted at /"
    disks: tuple[str, ...] | None  # the disks the installer may use; None: any
    disks_origin: Origin
    disks_label: str               # how messages name that list: "storage.disks", "ignoredisk --only-use"
    boot_disk: str | None
    firmware: Firmware
    disk_label: Literal["gpt", "msdos"] | None
    automatic: bool
    complete: bool = True
    disk_sizes: tuple[DiskSize, ...] = ()
    partitions: tuple[Partition, ...] = ()
    raids: tuple[Raid, ...] = ()
    volume_groups: tuple[VolumeGroup, ...] = ()


@dataclass(frozen=True)
class LayoutProblem:
    """A storage check's finding: the rule (builder.rules), the element and field at fault, the message."""

    rule: str
    origin: Origin
    field: str | int | None
    message: str
