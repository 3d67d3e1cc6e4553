"""The `storage:` part of a profile: disks, partitions, md RAID, LVM volume groups (thin pools too), and a
libvirt storage pool for VM images.

Sizes are MiB, as in kickstart. Cross-references (a RAID's disks, a partition's volume group, a thin volume's
pool) and what the EL7 boot loader can boot from are checked in builder.checks.storage, at file:line.
"""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import AfterValidator, BeforeValidator, Field, model_validator

from builder.errors import shown
from builder.model.types import (
    AbsolutePath,
    Bool,
    EnvName,
    GrubPasswordHash,
    Int,
    KernelArg,
    Line,
    Model,
    SecretFile,
    UrlOrFile,
    matching,
)


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
        raise ValueError(f"{shown(value)} is not a mount point (/, /var, /var/lib/libvirt/images ...) or swap")
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
# A partition as `clearpart --list` names it: sda3, nvme0n1p2, disk/by-id/...-part3 (a leading /dev/ dropped).
PartitionName = Annotated[
    Line,
    BeforeValidator(_without_dev),
    matching(
        r"[A-Za-z][A-Za-z0-9_-]{0,31}|disk/by-(id|path|partuuid|uuid)/[A-Za-z0-9_.:+-]{1,200}",
        "a partition such as sda3, nvme0n1p2 or disk/by-id/...-part3",
    ),
]
# cryptsetup cipher specs EL7 knows: aes-xts-plain64 (the default), aes-cbc-essiv:sha256, serpent-xts-plain64 ...
LuksCipher = Annotated[
    Line,
    matching(r"[a-z0-9]{2,32}(-[a-z0-9]{1,32}){1,2}(:[a-z0-9]{1,32})?", "a cipher such as aes-xts-plain64"),
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


class _Encryptable(_Volume):
    """LUKS on a partition or RAID device (EL7: LUKS1, `--encrypted`). The passphrase never sits in the profile:
    it is read at render time from a file or an environment variable the profile names."""

    encrypted: Bool = Field(False, description="LUKS-encrypt it (--encrypted).")
    passphrase_file: SecretFile | None = Field(
        None, description="File holding the passphrase, relative to this profile file; read at render time."
    )
    passphrase_env: EnvName | None = Field(
        None, description="Environment variable holding the passphrase, read at render time."
    )
    cipher: LuksCipher | None = Field(None, description="--cipher, e.g. aes-xts-plain64 (EL7's default).")
    escrow_cert: UrlOrFile | None = Field(
        None, description="--escrowcert: X.509 certificate URL; the key is stored encrypted with it in /root."
    )
    backup_passphrase: Bool = Field(
        False, description="--backuppassphrase: also add a random passphrase, escrowed (needs escrow_cert)."
    )

    @model_validator(mode="after")
    def _encryption(self) -> Self:
        given = [k for k in ("passphrase_file", "passphrase_env") if getattr(self, k) is not None]
        options = [k for k in ("cipher", "escrow_cert") if getattr(self, k) is not None]
        options += ["backup_passphrase"] if self.backup_passphrase else []
        if self.encrypted and len(given) != 1:
            raise ValueError(
                "encrypted: true needs exactly one of passphrase_file: (a file read at render time) or "
                "passphrase_env: (an environment variable); without one anaconda would stop and ask"
            )
        if not self.encrypted and (given or options):
            raise ValueError(f"{', '.join(given + options)} only apply with encrypted: true")
        if self.backup_passphrase and self.escrow_cert is None:
            raise ValueError("backup_passphrase: true needs escrow_cert: (the passphrase is escrowed with it)")
        return self


class Partition(_Encryptable):
    """A plain partition: a file system, swap, or an LVM physical volume of `volume_group`."""

    volume_group: LvmName | None = Field(None, description="Make it a physical volume of this VG.")
    recommended: Bool = Field(False, description="Swap only: let the installer size it from the RAM.")
    disk: DiskName | None = Field(None, description="Disk to create it on; default: the first disk.")
    max_size: Size | None = Field(None, description="With grow: grow up to this many MiB (--maxsize).")

    @model_validator(mode="after")
    def _one_use(self) -> Self:
        _mount_or_volume_group(self.mount, self.volume_group)
        return self


class Raid(_Encryptable):
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
    max_size: Size | None = Field(None, description="With grow or percent: grow up to this many MiB (--maxsize).")

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
    reserved_percent: Int | None = Field(
        None, ge=1, le=99, description="Keep this percentage of the VG free (--reserved-percent), e.g. for snapshots."
    )


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


class Bootloader(Model):
    """The `bootloader` line: where GRUB 2 goes, kernel arguments of the installed system, menu timeout and
    password. The names are the kickstart's (--append, --timeout, --location, --password --iscrypted)."""

    location: Literal["mbr", "partition", "none"] = Field(
        "mbr", description="mbr (the boot disk's MBR), partition (the /boot partition) or none (--location)."
    )
    append: tuple[KernelArg, ...] = Field(
        (), description="Kernel arguments of the installed system (--append), e.g. [crashkernel=auto, intel_iommu=on]."
    )
    timeout: Int | None = Field(None, ge=0, le=3600, description="GRUB menu timeout in seconds (--timeout).")
    password_hash: GrubPasswordHash | None = Field(
        None, description="GRUB 2 PBKDF2 hash from grub2-mkpasswd-pbkdf2 (--iscrypted --password=)."
    )


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
    clear: Literal["all", "linux", "none", "list"] = Field(
        "all", description="clearpart --all, --linux, --none, or --list (the partitions in clear_list)."
    )
    clear_drives: tuple[DiskName, ...] = Field(
        (), description="clear: all or linux on these disks only (clearpart --drives); default: disks."
    )
    clear_list: tuple[PartitionName, ...] = Field(
        (), description="clear: list removes only these partitions (clearpart --list), e.g. [sda3, sda4]."
    )
    layout: Literal["lvm", "plain", "thinp", "custom", "include"] = Field(
        "lvm",
        description="lvm, plain or thinp: the installer's automatic layout; custom: the lists below; include: a "
        "%pre writes the disk commands to `include`, read with %include at install time.",
    )
    include: AbsolutePath = Field(
        "/tmp/part-include", description="layout: include: the file a scripts.pre entry writes (%include)."
    )
    partitions: tuple[Partition, ...] = Field((), description="Plain partitions (layout: custom).")
    raids: tuple[Raid, ...] = Field((), description="md RAID devices (layout: custom).")
    volume_groups: tuple[VolumeGroup, ...] = Field((), description="LVM volume groups (layout: custom).")
    pool: LibvirtPool | None = Field(None, description="A libvirt storage pool for VM images.")
    bootloader: Bootloader = Field(Bootloader(), description="The boot loader line (kickstart `bootloader`).")

    @model_validator(mode="after")
    def _clear_forms(self) -> Self:
        if (self.clear == "list") != bool(self.clear_list):
            raise ValueError("clear: list and clear_list: [partitions] go together (clearpart --list)")
        if self.clear_drives and self.clear not in ("all", "linux"):
            raise ValueError("clear_drives limits clear: all or clear: linux to some disks (clearpart --drives)")
        return self

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

    @property
    def bios_boot_disks(self) -> tuple[str, ...]:
        """The disks GRUB2 is installed to on BIOS, each of which needs a biosboot partition on GPT: the boot disk,
        and when /boot (or / without a /boot) is a RAID1 with a member on the boot disk, every member's disk.
        anaconda 21 runs grub2-install on each of those disks (GRUB.install_targets in pyanaconda/bootloader.py)
        and fails the install when one has no biosboot to embed GRUB in."""
        boot_mounts = [p.mount for p in self.partitions] + [r.mount for r in self.raids]
        mount = "/boot" if "/boot" in boot_mounts else "/"
        raid = next((r for r in self.raids if r.mount == mount), None)
        if raid is None or raid.level != 1 or self.boot_disk not in raid.disks:
            return (self.boot_disk,)
        return (self.boot_disk, *(d for d in dict.fromkeys(raid.disks) if d != self.boot_disk))

    def raid_device(self, index: int) -> str:
        """The md device name of raids[index]: its own name, or md<index>."""
        return self.raids[index].name or f"md{index}"


def _mount_or_volume_group(mount: str | None, volume_group: str | None) -> None:
    if (mount is None) == (volume_group is None):
        raise ValueError("give exactly one of mount: (file system or swap) and volume_group: (LVM PV)")
