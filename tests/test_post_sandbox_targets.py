"""The network %post of EL8 and EL9 kickstarts, run for real in the sandbox root (tests/sandbox.py) over what
anaconda leaves, and the files read back: EL9's keyfiles by NetworkManager's own parser."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from builder.pipeline import build
from tests.helpers import SHIPPED_PROFILES
from tests.nm_offline import OfflineNmcli, differences, offline_nmcli
from tests.sandbox import ANACONDA_IFCFG, ANACONDA_KEYFILE, make_root, parse_ifcfg, run_profile_posts

HYPERVISOR = SHIPPED_PROFILES / "kvm-hypervisor.yaml"
CONNECTIONS = "etc/NetworkManager/system-connections"
REPLACED = "var/lib/ksbuild/nm-replaced"
OTHER = "[connection]\nid=eth9\ntype=ethernet\ninterface-name=eth9\n\n[ipv4]\nmethod=auto\n"


@pytest.fixture(scope="module")
def nmcli() -> OfflineNmcli:
    found = offline_nmcli()
    if isinstance(found, str):
        pytest.skip(found)
    return found


def _el9_root(tmp_path: Path) -> Path:
    root = make_root(tmp_path / "root", nic="enp2s0f0", keyfiles=True)
    (root / CONNECTIONS / "eth9.nmconnection").write_text(OTHER)  # a device ksbuild does not configure
    (root / "etc/sysconfig/network-scripts/ifcfg-br0").write_text("DEVICE=br0\nTYPE=Bridge\n")
    return root


def test_el9_writes_keyfiles_and_moves_what_they_replace(tmp_path: Path, nmcli: OfflineNmcli) -> None:
    root = _el9_root(tmp_path)
    lines, runs = run_profile_posts(HYPERVISOR, root, ("target=el9",))
    assert [r.returncode for r in runs] == [0] * len(runs), lines
    folder = root / CONNECTIONS
    assert sorted(p.name for p in folder.iterdir()) == ["br0.nmconnection", "enp2s0f0.nmconnection",
                                                       "eth9.nmconnection"]
    for name in ("br0.nmconnection", "enp2s0f0.nmconnection"):
        assert stat.S_IMODE((folder / name).stat().st_mode) == 0o600
    result = build(HYPERVISOR, overrides=["target=el9"], shell=False)
    bridge = nmcli.parse((folder / "br0.nmconnection").read_text())
    assert bridge.ok and differences((folder / "br0.nmconnection").read_text(), bridge) == []
    # Against the profile, not the renderer: br0 with the lab address, gateway and DNS; the NIC is its port.
    network = result.profile.network
    lab = network.bridges[0].ipv4
    assert lab is not None
    assert bridge.groups()["ipv4"]["address1"] == f"{lab.address},{lab.gateway}"
    assert bridge.groups()["ipv4"]["dns"] == "".join(f"{s};" for s in network.nameservers)
    port = nmcli.parse((folder / "enp2s0f0.nmconnection").read_text()).groups()
    assert (port["connection"]["master"], port["connection"]["slave-type"]) == ("br0", "bridge")
    # anaconda's own files for br0 and enp2s0f0 are kept, outside NetworkManager's folder, unchanged.
    assert (root / REPLACED / "enp2s0f0.nmconnection").read_text() == ANACONDA_KEYFILE.format(device="enp2s0f0")
    assert (root / REPLACED / "ifcfg-br0").read_text() == "DEVICE=br0\nTYPE=Bridge\n"
    assert not (root / "etc/sysconfig/network-scripts/ifcfg-br0").exists()
    assert (folder / "eth9.nmconnection").read_text() == OTHER
    assert lines[-1] == "KSBUILD-STATUS: install-complete profile=kvm-hypervisor"


def test_el9_rerun_keeps_the_first_copy(tmp_path: Path) -> None:
    root = _el9_root(tmp_path)
    run_profile_posts(HYPERVISOR, root, ("target=el9",))
    _, runs = run_profile_posts(HYPERVISOR, root, ("target=el9",))
    assert {r.returncode for r in runs} == {0}
    assert (root / REPLACED / "enp2s0f0.nmconnection").read_text() == ANACONDA_KEYFILE.format(device="enp2s0f0")
    assert sorted(p.name for p in (root / CONNECTIONS).iterdir()) == ["br0.nmconnection", "enp2s0f0.nmconnection",
                                                                     "eth9.nmconnection"]


def test_el9_bond_members_anaconda_made_are_replaced(tmp_path: Path, nmcli: OfflineNmcli) -> None:
    root = make_root(tmp_path / "root")
    # anaconda names the members of an install-time bond <bond>_slave_<n> (nm_client); their files name the bond.
    for number, nic in enumerate(("eno1", "eno2"), start=1):
        (root / CONNECTIONS / f"bond0_slave_{number}.nmconnection").write_text(
            f"[connection]\nid=bond0_slave_{number}\ntype=ethernet\ninterface-name={nic}\nmaster=bond0\n"
            "slave-type=bond\n")
    profile = SHIPPED_PROFILES / "examples" / "bond-active-backup.yaml"
    _, runs = run_profile_posts(profile, root, ("target=el9",))
    assert {r.returncode for r in runs} == {0}
    assert sorted(p.name for p in (root / CONNECTIONS).iterdir()) == [
        "bond0.nmconnection", "br0.nmconnection", "eno1.nmconnection", "eno2.nmconnection"]
    assert sorted(p.name for p in (root / REPLACED).iterdir()) == ["bond0_slave_1.nmconnection",
                                                                  "bond0_slave_2.nmconnection"]
    for file in (root / CONNECTIONS).iterdir():
        parsed = nmcli.parse(file.read_text())
        assert parsed.ok and differences(file.read_text(), parsed) == [], file.name


def test_el8_ifcfg_files_are_networkmanagers(tmp_path: Path) -> None:
    root = make_root(tmp_path / "root", nic="enp2s0f0")
    _, runs = run_profile_posts(HYPERVISOR, root, ("target=el8",))
    assert {r.returncode for r in runs} == {0}
    scripts = root / "etc/sysconfig/network-scripts"
    bridge = parse_ifcfg((scripts / "ifcfg-br0").read_text())
    assert "NM_CONTROLLED" not in bridge and bridge["STP"] == "yes" and bridge["DELAY"] == "2"
    # NetworkManager's ifcfg-rh plugin skips *.bak (BAK_TAG in its common.h), as initscripts does.
    assert (scripts / "ifcfg-enp2s0f0.bak").read_text() == ANACONDA_IFCFG.format(device="enp2s0f0")


def test_el8_with_networkmanager_off_gets_network_scripts(tmp_path: Path) -> None:
    result = build(HYPERVISOR, overrides=["target=el8", "system.services.disabled=[NetworkManager, firewalld]"])
    assert [f.format() for f in result.errors] == []
    assert [(f.key, f.severity) for f in result.findings] == [("system.services.disabled", "warning")]
    text = result.kickstart.text
    assert "services --enabled=libvirtd,network --disabled=NetworkManager,firewalld\n" in text
    assert "\nnetwork-scripts\n%end\n" in text
    assert text.count("NM_CONTROLLED=no") == 2
