"""The `storage:` part of a profile: disks, partitions, md RAID, LVM volume groups (thin pools too), and a
libvirt storage pool for VM images.

Sizes are MiB, as in kickstart. Cross-references (a RAID's disks, a partition's volume group, a thin volume's
pool) and what the EL7 boot loader can boot from are checked in builder.checks.storage, at file:line.
"""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import AfterValidator, BeforeValidator, Field, model_validator

from builder.model.types import AbsolutePath, Bool, Int, Line, Model, matching


def _without_dev(value: object) -> object:
    # anaconda resolves "sda" and "/dev/sda" alike; one spelling lets references compare equal.
    return value.removeprefix("/dev/") if isinstance(value, str) else value


DiskName = Annotated[
    Line,
    BeforeValidator(_without_dev),
    matching(
        r"[A-Za-z][A-Za-z0-9_-]{0,31}|disk/by-(id|path)/[A-Za-z0-9_.:+-]{1,200}|mapper/[A-Za-z0-9_.+-]{1,120}",
        "a disk: a kernel name (sda, vda, nvme0n1), disk/by-id/..., disk/by-path/... or mapper/...",
    ),
]


def _mount_point(value: str) -> str:
    if value == "swap":
        return value
    parts = value.split("/")[1:]
    if value != "/" and (not value.startswith("/") or any(p in ("", ".", "..") for p in parts)):
        raise ValueError(f"{value!r} is not a mount point (/, /var, /var/lib/libvirt/images ...) or swap")
    return value


MountPoint = Annotated[
    Line,
    matching(r"/[A-Za-z0-9/._-]*|swap", "a mount point of plain characters (/, /var, ...) or swap"),
    AfterValidator(_mount_point),
]
# LVM allows letters, digits and _ + . - in VG and LV names, not starting with - (lvm(8) VALID NAMES).
LvmName = Annotated[
    Line,
    matching(r"[A-Za-z0-9_+][A-Za-z0-9_+.-]{0,62}", "an LVM name (letters, digits, _ + . -; no leading -)"),
]
RaidName = Annotated[Line, matching(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}", "an md device name such as md0")]
MountOptions = Annotated[
    Line, matching(r"[A-Za-z0-9_=.:+/-]+(,[A-Za-z0-9_=.:+/-]+)*", "mount options such as noatime,nodev")
]
PoolName = Annotated[
    Line, matching(r"[A-Za-z0-9_][A-Za-z0-9_.+-]{0,63}", "a libvirt pool name such as vmstore")
]
Size = Annotated[Int, Field(ge=1, le=256 * 1024 * 1024)]
FsType = Literal["xfs", "ext4", "ext3", "ext2", "swap", "vfat"]
RaidLevel = Literal[0, 1, 5, 6, 10]


class _Volume(Model):
    """What partitions, RAID devices and logical volumes share: a mount point, a size and a file system."""

    mount: MountPoint | None = Field(None, description="Mount point, or swap.")
    size: Size | None = Field(None, description="Size in MiB (the minimum when grow is set).")
    grow: Bool = Field(False, description="Grow to fill the space left.")
    fstype: FsType | None = Field(None, description="File system; default swap for swap, else xfs.")
    fsoptions: MountOptions | None = Field(None, description="Mount options written to fstab, e.g. noatime.")

    @property
    def filesystem(self) -> str:
        if self.fstype is not None:
            return self.fstype
        return "swap" if self.mount == "swap" else "xfs"


class Partition(_Volume):
    """A plain partition: a file system, swap, or an LVM physical volume of `volume_group`."""

    volume_group: LvmName | None = Field(None, description="Make it a physical volume of this VG.")
    recommended: Bool = Field(False, description="Swap only: let the installer size it from the RAM.")
    disk: DiskName | None = Field(None, description="Disk to create it on; default: the first disk.")

    @model_validator(mode="after")
    def _one_use(self) -> Self:
        _mount_or_volume_group(self.mount, self.volume_group)
        return self


class Raid(_Volume):
    """md RAID over one partition on each of `disks`: a file system, swap, or an LVM physical volume."""

    name: RaidName | None = Field(None, description="md device name (raid --device); default md<index>.")
    level: RaidLevel = Field(description="RAID level: 0, 1, 5, 6 or 10.")
    disks: tuple[DiskName, ...] = Field(description="Disks that each get one member partition of `size` MiB.")
    spares: Int = Field(0, ge=0, description="How many of the members are hot spares.")
    volume_group: LvmName | None = Field(None, description="Make it a physical volume of this VG.")

    @model_validator(mode="after")
    def _one_use(self) -> Self:
        _mount_or_volume_group(self.mount, self.volume_group)
        return self


class LogicalVolume(_Volume):
    """An LVM logical volume: a file system, swap, a thin pool, or a thin volume in a pool."""

    name: LvmName = Field(description="LV name, e.g. root.")
    percent: Int | None = Field(None, ge=1, le=100, description="Size as a percentage of the VG's free space")
    recommended: Bool = Field(False, description="Swap only: let the installer size it from the RAM.")
    thin_pool: Bool = Field(False, description="This LV is a thin pool (no mount point).")
    thin: LvmName | None = Field(None, description="Make it a thin volume in this thin pool of the VG.")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.percent is not None and self.size is not None:
            raise ValueError("give size or percent, not both (kickstart refuses --size with --percent)")
        if self.thin_pool and self.mount is not None:
            raise ValueError("a thin pool holds thin volumes and has no mount point")
        if self.thin_pool and self.thin is not None:
            raise ValueError("an LV is either a thin pool or a thin volume in one, not both")
        if not self.thin_pool and self.mount is None:
            raise ValueError("needs a mount point (or swap), or thin_pool: true")
        return self


class VolumeGroup(Model):
    """An LVM volume group; its physical volumes are the partitions and RAID devices that name it."""

    name: LvmName = Field(description="VG name, e.g. vg_sys.")
    logical_volumes: tuple[LogicalVolume, ...] = Field((), description="LVs in this VG.")


class LibvirtPool(Model):
    """A libvirt storage pool for VM images, defined in %post (libvirtd loads it on first start)."""

    name: PoolName = Field(description="Pool name as virsh shows it.")
    volume_group: LvmName | None = Field(None, description="A volume group of its own: a logical pool.")
    path: AbsolutePath | None = Field(None, description="A directory: a dir pool (/var/lib/libvirt/images).")
    autostart: Bool = Field(True, description="Start the pool with libvirtd.")

    @model_validator(mode="after")
    def _one_kind(self) -> Self:
        if (self.volume_group is None) == (self.path is None):
            raise ValueError("give volume_group: (an LVM pool) or path: (a directory pool), one of them")
        return self

    @property
    def kind(self) -> Literal["logical", "dir"]:
        return "logical" if self.volume_group is not None else "dir"


class Storage(Model):
    """Disks the installer may touch and how it lays them out: autopart, or partitions, RAID and LVM."""

    disks: tuple[DiskName, ...] = Field(
        ("sda",), min_length=1, description="Disks the installer may use (ignoredisk); the first boots."
    )
    disk_sizes: dict[DiskName, Size] = Field(
        default_factory=dict, description="Disk sizes in MiB, if known: layouts that do not fit are refused."
    )
    firmware: Literal["auto", "bios", "uefi"] = Field(
        "auto",
        description="Custom layouts: bios adds a BIOS boot partition (GPT label), uefi an EFI system "
        "partition, auto lets the installer add what the machine needs (reqpart).",
    )
    clear: Literal["all", "linux", "none"] = "all"
    layout: Literal["lvm", "plain", "thinp", "custom"] = Field(
        "lvm", description="lvm, plain or thinp: the installer's automatic layout; custom: the lists below."
    )
    partitions: tuple[Partition, ...] = Field((), description="Plain partitions (layout: custom).")
    raids: tuple[Raid, ...] = Field((), description="md RAID devices (layout: custom).")
    volume_groups: tuple[VolumeGroup, ...] = Field((), description="LVM volume groups (layout: custom).")
    pool: LibvirtPool | None = Field(None, description="A libvirt storage pool for VM images.")

    @model_validator(mode="after")
    def _lists_for_custom(self) -> Self:
        custom_lists = bool(self.partitions or self.raids or self.volume_groups)
        if self.layout == "custom" and not (self.partitions or self.raids):
            raise ValueError("layout: custom needs partitions: [...] or raids: [...]")
        if self.layout != "custom" and custom_lists:
            raise ValueError("partitions, raids and volume_groups are only used with layout: custom")
        return self

    @property
    def boot_disk(self) -> str:
        return self.disks[0]

    def raid_device(self, index: int) -> str:
        """The md device name of raids[index]: its own name, or md<index>."""
        return self.raids[index].name or f"md{index}"


def _mount_or_volume_group(mount: str | None, volume_group: str | None) -> None:
    if (mount is None) == (volume_group is None):
        raise ValueError("give exactly one of mount: (file system or swap) and volume_group: (LVM PV)")
