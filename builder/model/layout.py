"""The storage layout the storage checks read: disks, partitions, md RAID and LVM, whatever declared them.

A profile (builder.checks.storage.profile_layout) and a parsed kickstart (builder.validate.storage) each build one
`StorageLayout`; builder.checks.layout runs the same checks on both. Every element carries an `Origin`: the profile
key path or the kickstart file:line it came from, and the words a message uses to name it.

Plain frozen dataclasses, no pydantic: validating a kickstart must not pay for the profile model. Sizes are MiB.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from builder.errors import Location

Firmware = Literal["bios", "uefi", "auto", "unknown"]
# Mount points of the partitions the firmware needs (a kickstart writes `part biosboot`; /boot/efi is the ESP).
BIOS_BOOT = "biosboot"
EFI_SYSTEM = "/boot/efi"


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
