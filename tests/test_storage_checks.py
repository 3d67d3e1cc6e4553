"""Storage checks: sizes against declared disks and volume groups, mount points, swap sizes, RAID member counts,
what EL7 can boot from, LVM and pool references. Each at the file:line and key a user must fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from builder.pipeline import build
from builder.validate.kickstart import parse_kickstart
from tests.helpers import STORAGE_HEAD, at, schema_errors, write

HEAD = STORAGE_HEAD
# HEAD is 6 lines; line numbers below count from 7.
LAYOUT = HEAD + """\
storage:
  disks: [sda, sdb]
  disk_sizes: {sda: 20480, sdb: 20480}
  firmware: bios
  layout: custom
  raids:
    - {level: 1, disks: [sda, sdb], size: 1024, mount: /boot}
    - {level: 1, disks: [sda, sdb], size: 16384, volume_group: vg_sys}
  volume_groups:
    - name: vg_sys
      logical_volumes:
        - {name: root, mount: /, size: 10240}
        - {name: swap, mount: swap, size: 2048}
"""


def errors(tmp_path: Path, text: str, severity: str = "error") -> list[str]:
    """The profile checks' findings (pykickstart may add its own view of the same mistake on the rendered file)."""
    result = build(write(tmp_path / "host.yaml", text), shell=False)
    return [f.format() for f in result.findings if f.severity == severity and f.check == "semantic"]


def test_the_layout_is_clean(tmp_path: Path) -> None:
    result = build(write(tmp_path / "host.yaml", LAYOUT), shell=False)
    assert [f.format() for f in result.findings] == []


def test_partitions_that_cannot_fit_the_declared_disk(tmp_path: Path) -> None:
    text = LAYOUT.replace("size: 16384, volume_group", "size: 19456, volume_group")
    # 1 MiB alignment + 1 MiB BIOS boot + 1024 (/boot) + 19456 on each disk: /boot is a mirror over both, so
    # each of them gets GRUB2 and its BIOS boot partition.
    assert errors(tmp_path, text) == [
        at(tmp_path, 9, "storage.disk_sizes.sda")
        + "KS208 error: the layout needs at least 20482 MiB on sda, which has 20480 MiB",
        at(tmp_path, 9, "storage.disk_sizes.sdb")
        + "KS208 error: the layout needs at least 20482 MiB on sdb, which has 20480 MiB",
    ]


def test_logical_volumes_that_cannot_fit_their_volume_group(tmp_path: Path) -> None:
    text = LAYOUT.replace("{name: root, mount: /, size: 10240}", "{name: root, mount: /, size: 14340}")
    # A 16384 MiB RAID1 gives 16380 MiB after LVM's overhead; 14340 + 2048 = 16388.
    assert errors(tmp_path, text) == [
        at(tmp_path, 16, "storage.volume_groups[0].name")
        + "KS208 error: its logical volumes need 16388 MiB but its physical volumes give about 16380 MiB"
    ]


def test_a_mount_point_twice(tmp_path: Path) -> None:
    text = LAYOUT + "        - {name: boot2, mount: /boot, size: 512}\n"
    assert errors(tmp_path, text) == [
        at(tmp_path, 20, "storage.volume_groups[0].logical_volumes[2].mount")
        + "KS204 error: /boot is already mounted by storage.raids[0]"
    ]


def test_boot_on_lvm(tmp_path: Path) -> None:
    text = LAYOUT.replace("    - {level: 1, disks: [sda, sdb], size: 1024, mount: /boot}\n", "")
    assert errors(tmp_path, text) == [
        at(tmp_path, 17, "storage.volume_groups[0].logical_volumes[0].mount")
        + "KS206 error: / (there is no /boot) is on LVM, which EL7's GRUB2 cannot boot from; add a /boot partition "
        "or RAID1"
    ]


@pytest.mark.parametrize(("level", "disks"), [(5, "[sda, sdb, sdc]"), (0, "[sda, sdb]"), (10, "[sda, sdb, sdc, sdd]")])
def test_boot_on_a_raid_level_el7_cannot_boot(tmp_path: Path, level: int, disks: str) -> None:
    text = LAYOUT.replace("disks: [sda, sdb]\n", f"disks: {disks}\n").replace(
        "{level: 1, disks: [sda, sdb], size: 1024, mount: /boot}", f"{{level: {level}, disks: {disks}, size: 1024, "
                                                                   "mount: /boot}")
    assert errors(tmp_path, text) == [
        at(tmp_path, 13, "storage.raids[0].level")
        + f"KS206 error: /boot is on RAID{level}; EL7 boots from RAID1 only (kickstart: the /boot RAID device must "
        "be level 1)"
    ]


@pytest.mark.parametrize(
    ("raid", "message"),
    [
        ("{level: 5, disks: [sda, sdb], size: 16384, volume_group: vg_sys}",
         "KS202 error: RAID5 needs at least 3 active members; md1 has 2 member(s)"),
        ("{level: 1, disks: [sda, sdb], spares: 1, size: 16384, volume_group: vg_sys}",
         "KS202 error: RAID1 needs at least 2 active members; md1 has 2 member(s) and 1 spare(s)"),
        ("{level: 6, disks: [sda, sdb], size: 16384, volume_group: vg_sys}",
         "KS202 error: RAID6 needs at least 4 active members; md1 has 2 member(s)"),
    ],
)
def test_a_raid_with_too_few_members(tmp_path: Path, raid: str, message: str) -> None:
    text = LAYOUT.replace("{level: 1, disks: [sda, sdb], size: 16384, volume_group: vg_sys}", raid)
    found = errors(tmp_path, text)
    assert at(tmp_path, 14, "storage.raids[1].disks") + message in found


@pytest.mark.parametrize(
    ("volume", "line", "key", "message"),
    [
        ("{name: swap, mount: swap}", 19, "storage.volume_groups[0].logical_volumes[1].size",
         "swap needs a size: (MiB) or recommended: true"),
        ("{name: swap, mount: swap, recommended: true}", None, None, None),
        ("{name: swap, mount: swap, percent: 10}", None, None, None),
        ("{name: swap, mount: /var, recommended: true}", 19, "storage.volume_groups[0].logical_volumes[1].recommended",
         "recommended: only sizes swap (from the machine's RAM)"),
    ],
)
def test_swap_needs_a_size(tmp_path: Path, volume: str, line: int | None, key: str | None,
                           message: str | None) -> None:
    found = errors(tmp_path, LAYOUT.replace("{name: swap, mount: swap, size: 2048}", volume))
    assert found == ([] if line is None else [at(tmp_path, line, str(key)) + str(message)])


def test_swap_partition_and_raid_without_size(tmp_path: Path) -> None:
    text = LAYOUT + "  partitions:\n    - {mount: swap, disk: sdb}\n"
    text = text.replace("{level: 1, disks: [sda, sdb], size: 1024, mount: /boot}", "{level: 1, disks: [sda, sdb], "
                        "mount: /boot}")
    found = errors(tmp_path, text)
    assert at(tmp_path, 21, "storage.partitions[0].size") + "swap needs a size: (MiB) or recommended: true" in found
    assert at(tmp_path, 13, "storage.raids[0].size") + "needs size: (MiB; the minimum when grow is set)" in found


def test_references_to_disks_groups_and_pools(tmp_path: Path) -> None:
    text = LAYOUT.replace("disks: [sda, sdb], size: 1024", "disks: [sda, sdc], size: 1024")
    text = text.replace("volume_group: vg_sys}", "volume_group: vg_sy}")
    text += "        - {name: data, mount: /srv, thin: pool9, size: 100}\n"
    found = errors(tmp_path, text)
    assert found == [
        at(tmp_path, 13, "storage.raids[0].disks[1]") + "KS203 error: sdc is not one of storage.disks",
        at(tmp_path, 14, "storage.raids[1].volume_group")
        + "KS209 error: no volume group named vg_sy (volume groups: vg_sys)",
        at(tmp_path, 16, "storage.volume_groups[0].name")
        + "KS209 error: no partition or RAID device is a physical volume of vg_sys",
        at(tmp_path, 20, "storage.volume_groups[0].logical_volumes[2].thin")
        + "KS209 error: no thin pool named pool9 in vg_sys (thin pools: none)",
    ]


def test_the_efi_system_partition_is_not_declared_by_hand(tmp_path: Path) -> None:
    text = LAYOUT.replace("firmware: bios", "firmware: uefi") + "  partitions:\n    - {mount: /boot/efi, size: 200, " \
        "fstype: vfat}\n"
    assert errors(tmp_path, text) == [
        at(tmp_path, 21, "storage.partitions[0].mount")
        + "the EFI system partition comes from storage.firmware: uefi; do not declare /boot/efi"
    ]


def test_pool_on_an_unknown_group_and_on_a_group_its_neighbours_fill(tmp_path: Path) -> None:
    found = errors(tmp_path, LAYOUT + "  pool: {name: vmstore, volume_group: vg_vm}\n")
    assert found == [at(tmp_path, 20, "storage.pool.volume_group")
                     + "no volume group named vg_vm (volume_groups: vg_sys)"]
    text = LAYOUT.replace("{name: root, mount: /, size: 10240}", "{name: root, mount: /, size: 10240, grow: true}")
    warnings = errors(tmp_path, text + "  pool: {name: vmstore, volume_group: vg_sys}\n", "warning")
    assert warnings == [at(tmp_path, 20, "storage.pool.volume_group") + (
        "warning: root in vg_sys grow(s) into the space VM images would use; give the pool a volume group of its own"
    )]


def test_firmware_only_matters_for_custom_layouts(tmp_path: Path) -> None:
    text = HEAD + "storage: {disks: [sda], firmware: uefi}\n"
    assert errors(tmp_path, text, "warning") == [
        at(tmp_path, 7, "storage.firmware") + "warning: the installer's automatic layout (lvm) adds what the "
        "firmware needs; firmware: is used with layout: custom"
    ]


@pytest.mark.parametrize(
    ("old", "new", "line", "key", "message"),
    [
        ("{name: root, mount: /, size: 10240}", "{name: root, mount: /, size: 10240, percent: 50}", 18,
         "storage.volume_groups[0].logical_volumes[0]", "give size or percent, not both"),
        ("{name: root, mount: /, size: 10240}", "{name: root, mount: /, thin_pool: true, size: 10240}", 18,
         "storage.volume_groups[0].logical_volumes[0]", "a thin pool holds thin volumes and has no mount point"),
        ("size: 16384, volume_group: vg_sys}", "size: 16384, volume_group: vg_sys, mount: /srv}", 14,
         "storage.raids[1]", "give exactly one of mount: (file system or swap) and volume_group: (LVM PV)"),
        ("disks: [sda, sdb]\n", "disks: [sda, 'disk/by-id/x y']\n", 8, "storage.disks[1]",
         "is not a disk: a kernel name (sda, vda, nvme0n1), disk/by-id/..., disk/by-path/... or mapper/..."),
        ("mount: /boot}", "mount: /boot/../etc}", 13, "storage.raids[0].mount", "is not a mount point"),
        ("level: 1, disks: [sda, sdb], size: 1024", "level: 4, disks: [sda, sdb], size: 1024", 13,
         "storage.raids[0].level", "Input should be 0, 1, 5, 6 or 10"),
    ],
)
def test_schema_errors_at_their_key(tmp_path: Path, old: str, new: str, line: int, key: str, message: str) -> None:
    (error,) = schema_errors(tmp_path, LAYOUT.replace(old, new, 1))
    assert error.startswith(at(tmp_path, line, key))
    assert message in error


def test_dev_prefix_names_the_same_disk(tmp_path: Path) -> None:
    text = LAYOUT.replace("disks: [sda, sdb]\n", "disks: [/dev/sda, /dev/sdb]\n")
    result = build(write(tmp_path / "host.yaml", text), shell=False)
    assert [f.format() for f in result.findings] == []
    assert result.profile.storage.disks == ("sda", "sdb")


def test_auto_firmware_lets_the_installer_add_boot_partitions(tmp_path: Path) -> None:
    result = build(write(tmp_path / "host.yaml", LAYOUT.replace("firmware: bios", "firmware: auto")))
    assert [f.format() for f in result.findings] == []
    ks = parse_kickstart(result.kickstart.text, "ks.cfg").handler
    assert ks.reqpart.reqpart is True
    assert ks.clearpart.disklabel == ""
    assert "biosboot" not in [p.mountpoint for p in ks.partition.partitions]
