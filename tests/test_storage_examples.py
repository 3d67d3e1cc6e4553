"""The storage example profiles, end to end: exact expected render (golden files), pykickstart and shellcheck clean,
the disk layout as pykickstart's RHEL7 handler reads it, and the libvirt pool %post run for real in a throwaway
root, its XML checked against libvirt's own schema (virt-xml-validate)."""

from __future__ import annotations

import os
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from builder.pipeline import build
from builder.validate.kickstart import parse_kickstart
from tests.examples import EXAMPLES, check_golden, install_example
from tests.sandbox import make_root

STORAGE_EXAMPLES = ["raid1-lvm", "thin-lvm", "uefi-byid"]
SSD = "disk/by-id/ata-INTEL_SSDSC2KB480G8_PHYF812300AB480BGN"
HDD = "disk/by-id/ata-ST4000NM0035-1V4107_ZC1A2B3C"


@pytest.mark.parametrize("name", STORAGE_EXAMPLES)
def test_render_matches_golden_and_passes_every_check(name: str, regen: bool) -> None:
    check_golden(name, regen)


def handler(name: str) -> Any:
    result = build(EXAMPLES / f"{name}.yaml", shell=False)
    return parse_kickstart(result.kickstart.text, "ks.cfg").handler


def test_raid1_under_lvm_as_the_installer_reads_it() -> None:
    ks = handler("raid1-lvm")
    parts = {p.mountpoint: p for p in ks.partition.partitions}
    raids = {r.device: r for r in ks.raid.raidList}
    assert sorted(raids) == ["0", "1", "2"]
    for raid in raids.values():
        assert raid.level == "RAID1"
        assert sorted(parts[m].disk for m in raid.members) == ["sda", "sdb"], "a mirror needs both disks"
    assert raids["0"].mountpoint == "/boot" and raids["0"].fstype == "xfs"
    assert {parts[m].size for m in raids["0"].members} == {1024}
    groups = {g.vgname: g.physvols for g in ks.volgroup.vgList}
    assert groups == {"vg_sys": [raids["1"].mountpoint], "vg_vm": [raids["2"].mountpoint]}
    volumes = {lv.name: lv for lv in ks.logvol.lvList}
    assert {lv.vgname for lv in volumes.values()} == {"vg_sys"}
    assert (volumes["root"].mountpoint, volumes["root"].size) == ("/", 40960)
    assert volumes["swap"].recommended is True and volumes["swap"].size is None
    assert volumes["tmp"].fsopts == "nodev,nosuid"
    # BIOS firmware: GPT labels, and a BIOS boot partition on each disk of the /boot mirror: anaconda installs
    # GRUB2 on every member's disk of a RAID1 /boot, and grub2-install fails on a GPT disk without one.
    assert ks.clearpart.disklabel == "gpt" and ks.clearpart.drives == ["sda", "sdb"]
    bios_boot = [(p.fstype, p.disk) for p in ks.partition.partitions if p.mountpoint == "biosboot"]
    assert bios_boot == [("biosboot", "sda"), ("biosboot", "sdb")]
    assert ks.bootloader.bootDrive == "sda"


def test_thin_pool_with_thin_volumes() -> None:
    ks = handler("thin-lvm")
    volumes = {lv.name: lv for lv in ks.logvol.lvList}
    assert volumes["pool00"].thin_pool is True and volumes["pool00"].mountpoint == "none"
    assert (volumes["pool00"].percent, volumes["pool00"].grow) == (90, True)
    for name, mount in (("root", "/"), ("images", "/var/lib/libvirt/images")):
        assert (volumes[name].thin_volume, volumes[name].pool_name, volumes[name].mountpoint) == (True, "pool00", mount)
    assert volumes["swap"].thin_volume is False and volumes["swap"].size == 8192
    assert [p.mountpoint for p in ks.partition.partitions] == ["biosboot", "/boot", "pv.01"]


def test_uefi_disks_by_id() -> None:
    ks = handler("uefi-byid")
    assert ks.ignoredisk.onlyuse == [SSD, HDD]
    assert ks.bootloader.bootDrive == SSD
    parts = {p.mountpoint: p for p in ks.partition.partitions}
    assert (parts["/boot/efi"].fstype, parts["/boot/efi"].disk) == ("efi", SSD)
    assert "biosboot" not in parts
    assert ks.clearpart.disklabel == ""  # UEFI installs use GPT anyway
    groups = {g.vgname: g.physvols for g in ks.volgroup.vgList}
    assert parts[groups["vg_vm"][0]].disk == HDD and parts[groups["vg_sys"][0]].disk == SSD


def valid_pool_xml(path: Path) -> ET.Element:
    check = subprocess.run(["virt-xml-validate", str(path), "storagepool"], capture_output=True, text=True,
                           check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    return ET.parse(path).getroot()


@pytest.mark.parametrize("name", ["raid1-lvm", "uefi-byid"])
def test_lvm_pool_is_defined_and_autostarted(tmp_path: Path, name: str) -> None:
    root = make_root(tmp_path / "root")
    install_example(name, root)
    config = root / "etc/libvirt/storage/vmstore.xml"
    pool = valid_pool_xml(config)
    assert pool.get("type") == "logical"
    assert (pool.findtext("name"), pool.findtext("source/name"), pool.findtext("target/path")) == (
        "vmstore", "vg_vm", "/dev/vg_vm")
    assert pool.find("source/format").get("type") == "lvm2"  # type: ignore[union-attr]
    link = root / "etc/libvirt/storage/autostart/vmstore.xml"
    assert os.readlink(link) == "/etc/libvirt/storage/vmstore.xml"
    assert config.stat().st_mode & 0o777 == 0o600


def test_dir_pool_on_the_image_folder(tmp_path: Path) -> None:
    root = make_root(tmp_path / "root")
    install_example("thin-lvm", root)
    pool = valid_pool_xml(root / "etc/libvirt/storage/default.xml")
    assert (pool.get("type"), pool.findtext("name"), pool.findtext("target/path")) == (
        "dir", "default", "/var/lib/libvirt/images")
    assert (root / "var/lib/libvirt/images").is_dir()
    assert os.readlink(root / "etc/libvirt/storage/autostart/default.xml") == "/etc/libvirt/storage/default.xml"
