"""Imported profiles install and verify on the booted test system (marker `boot`): the lab guide's hand-written
kickstart, a compute node's with kernel arguments, a GRUB password and a fixed layout, and a Foreman-shaped host
whose NIC is named by MAC, each imported and then boot-tested as `ksbuild boot-test` does, with no template
override."""

from __future__ import annotations

from pathlib import Path

import pytest

from builder.boot.run import BootOptions, boot_test
from builder.commands import import_kickstart_file
from builder.pipeline import BuildRequest
from builder.vocabulary import Roots
from tests.helpers import REPO
from tests.installer.build import TestInstallTree, build_test_tree

pytestmark = pytest.mark.boot
pytest.importorskip("libvirt")

CORPUS = REPO / "tests/data/kickstarts/import"


@pytest.fixture(scope="module")
def tree() -> TestInstallTree:
    return build_test_tree(REPO / "tests/.cache/installer")


def _imported_boot_test(kickstart: Path, tmp_path: Path, tree: TestInstallTree,
                        nic_names: tuple[str, ...] = ()) -> dict[str, str]:
    roots = Roots.under(tmp_path)
    profile = tmp_path / "profiles" / f"{kickstart.stem}.yaml"
    import_kickstart_file(kickstart, output=profile, roots=roots, nic_names=nic_names)
    options = BootOptions(location=str(tree.iso), memory_mib=1024, timeout=300.0, idle_timeout=90.0,
                          cache_dir=tmp_path / "cache")
    result = boot_test(BuildRequest(profile, roots=roots), options)
    assert result.ok, (result.cause, result.report)
    assert result.report is not None
    return {check.name: check.status for check in result.report.checks}


def test_the_lab_guide_kickstart_imported_installs_the_lab_host(booted: str, tree: TestInstallTree,
                                                                 tmp_path: Path) -> None:
    status = _imported_boot_test(CORPUS / "lab-guide.ks", tmp_path, tree)
    for name in ("bridge:br0", "bridge-stp:br0", "bridge-port:br0:enp2s0f0", "nested-config", "selinux", "firewalld",
                 "service:libvirtd", "service:NetworkManager", "package:bridge-utils", "repo:local", "hostname"):
        assert status[name] == "pass", name


def test_kernel_arguments_imported_reach_the_booted_kernel(booted: str, tree: TestInstallTree,
                                                            tmp_path: Path) -> None:
    status = _imported_boot_test(CORPUS / "kernel-args.ks", tmp_path, tree)
    for name in ("cmdline:intel_iommu=on", "cmdline:iommu=pt", "cmdline:hugepagesz=1G", "cmdline:hugepages=16",
                 "cmdline:console=ttyS0,115200n8", "service:libvirtd", "hostname"):
        assert status[name] == "pass", name


def test_a_foreman_host_named_by_mac_gets_its_static_address_on_the_named_nic(booted: str, tree: TestInstallTree,
                                                                             tmp_path: Path) -> None:
    """Foreman's `network --device=<MAC>` with a static address, imported with --nic-name: the verification VM's
    NIC with that MAC is eno1 and holds the address, with the default route through the line's gateway."""
    status = _imported_boot_test(CORPUS / "foreman-mac-static.ks", tmp_path, tree,
                                 nic_names=("52:54:00:3c:00:07=eno1",))
    for name in ("nic:eno1", "address:eno1", "default-route", "ifcfg:eno1", "cmdline:crashkernel=auto", "hostname"):
        assert status[name] == "pass", (name, status)
