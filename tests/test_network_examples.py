"""The bond and VLAN example profiles, end to end: exact expected render (golden files), pykickstart and
shellcheck clean, the installer's `network` line as pykickstart reads it, and the %post scripts run for real in a
throwaway root, judged by the ifcfg files they leave as initscripts reads them (sourced by bash)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from builder.pipeline import build
from builder.render.context import install_network
from builder.validate.kickstart import parse_kickstart
from tests.examples import EXAMPLES, check_golden, install_example
from tests.sandbox import ANACONDA_IFCFG, make_root

NETWORK_EXAMPLES = ["bond-active-backup", "lacp-vlan-bridge"]
# What bash itself puts in an empty environment, next to the file's own variables.
BASH_OWN = {"PWD", "SHLVL", "_"}


@pytest.mark.parametrize("name", NETWORK_EXAMPLES)
def test_render_matches_golden_and_passes_every_check(name: str, regen: bool) -> None:
    check_golden(name, regen)


def sourced(path: Path) -> dict[str, str]:
    """The ifcfg file the way initscripts reads it: sourced by bash, so a quoting mistake would show."""
    output = subprocess.run(
        ["env", "-i", "bash", "-c", 'set -a; . "$1"; env -0', "bash", str(path)],
        capture_output=True, text=True, check=True,
    ).stdout
    values = dict(item.split("=", 1) for item in output.split("\0") if item)
    return {key: value for key, value in values.items() if key not in BASH_OWN}


def install(name: str, root: Path) -> Path:
    install_example(name, root)
    return root / "etc/sysconfig/network-scripts"


def test_active_backup_bond_under_a_bridge(tmp_path: Path) -> None:
    scripts = install("bond-active-backup", make_root(tmp_path / "root", nic="eno1"))
    for nic, mac in (("eno1", "52:54:00:a1:00:01"), ("eno2", "52:54:00:a1:00:02")):
        assert sourced(scripts / f"ifcfg-{nic}") == {
            "DEVICE": nic, "NAME": nic, "TYPE": "Ethernet", "HWADDR": mac, "ONBOOT": "yes", "BOOTPROTO": "none",
            "MASTER": "bond0", "SLAVE": "yes", "IPV6INIT": "no", "NM_CONTROLLED": "no",
        }
    assert sourced(scripts / "ifcfg-bond0") == {
        "DEVICE": "bond0", "NAME": "bond0", "TYPE": "Bond", "BONDING_MASTER": "yes",
        "BONDING_OPTS": "mode=active-backup miimon=100 primary=eno1", "ONBOOT": "yes", "BOOTPROTO": "none",
        "BRIDGE": "br0", "IPV6INIT": "no", "NM_CONTROLLED": "no",
    }
    bridge = sourced(scripts / "ifcfg-br0")
    assert bridge["TYPE"] == "Bridge" and bridge["STP"] == "yes" and bridge["DELAY"] == "2"
    assert (bridge["IPADDR"], bridge["NETMASK"], bridge["GATEWAY"]) == ("192.168.80.41", "255.255.255.0",
                                                                        "192.168.80.1")
    assert bridge["DEFROUTE"] == "yes" and bridge["NM_CONTROLLED"] == "no" and bridge["IPV6INIT"] == "no"
    # The installer's file for the boot NIC is kept once as .bak, as for a plain NIC.
    assert (scripts / "ifcfg-eno1.bak").read_text() == ANACONDA_IFCFG.format(device="eno1")


def test_lacp_bond_with_a_management_vlan_and_a_vm_bridge_on_vlan_30(tmp_path: Path) -> None:
    scripts = install("lacp-vlan-bridge", make_root(tmp_path / "root"))
    for nic in ("ens1f0", "ens1f1"):
        member = sourced(scripts / f"ifcfg-{nic}")
        assert (member["MASTER"], member["SLAVE"], member["BOOTPROTO"]) == ("bond0", "yes", "none")
        assert "IPADDR" not in member and "HWADDR" not in member
    bond = sourced(scripts / "ifcfg-bond0")
    assert bond["BONDING_OPTS"] == "mode=802.3ad miimon=100 lacp_rate=fast xmit_hash_policy=layer3+4"
    assert bond["MTU"] == "9000" and "BRIDGE" not in bond and "IPADDR" not in bond
    assert sourced(scripts / "ifcfg-bond0.10") == {
        "DEVICE": "bond0.10", "NAME": "bond0.10", "VLAN": "yes", "PHYSDEV": "bond0", "ONBOOT": "yes",
        "BOOTPROTO": "none", "IPADDR": "192.168.80.43", "NETMASK": "255.255.255.0", "GATEWAY": "192.168.80.1",
        "DEFROUTE": "yes", "DNS1": "114.114.114.114", "DNS2": "8.8.8.8", "MTU": "1500", "IPV6INIT": "yes",
        "NM_CONTROLLED": "no",
    }
    assert sourced(scripts / "ifcfg-bond0.30") == {
        "DEVICE": "bond0.30", "NAME": "bond0.30", "VLAN": "yes", "PHYSDEV": "bond0", "ONBOOT": "yes",
        "BOOTPROTO": "none", "BRIDGE": "br-vm", "MTU": "9000", "IPV6INIT": "no", "NM_CONTROLLED": "no",
    }
    assert sourced(scripts / "ifcfg-br-vm") == {
        "DEVICE": "br-vm", "NAME": "br-vm", "TYPE": "Bridge", "ONBOOT": "yes", "BOOTPROTO": "none", "STP": "no",
        "DELAY": "0", "MTU": "9000", "IPV6INIT": "no", "NM_CONTROLLED": "no",
    }
    assert sorted(p.name for p in scripts.iterdir()) == [
        "ifcfg-bond0", "ifcfg-bond0.10", "ifcfg-bond0.30", "ifcfg-br-vm", "ifcfg-ens1f0", "ifcfg-ens1f1"
    ]


def installer_link(name: str) -> object:
    result = build(EXAMPLES / f"{name}.yaml", shell=False)
    (link,) = parse_kickstart(result.kickstart.text, "ks.cfg").handler.network.network
    return link


def test_installer_brings_up_the_bond_when_the_boot_nic_is_a_member() -> None:
    link = installer_link("bond-active-backup")
    assert (link.device, link.bondslaves, link.bondopts) == ("bond0", "eno1,eno2",
                                                            "mode=active-backup,miimon=100,primary=eno1")
    # The bond is a bridge port: the installer gets the bridge's address on the bond (bridges come in %post).
    assert (link.bootProto, link.ip, link.gateway, link.vlanid) == ("static", "192.168.80.41", "192.168.80.1", "")
    assert link.noipv6 is True and link.activate is True


def test_installer_brings_up_the_management_vlan_on_the_bond() -> None:
    link = installer_link("lacp-vlan-bridge")
    assert (link.device, link.vlanid, link.interfacename) == ("bond0", "10", "")
    assert link.bondslaves == "ens1f0,ens1f1"
    assert link.bondopts == "mode=802.3ad,miimon=100,lacp_rate=fast,xmit_hash_policy=layer3+4"
    assert (link.bootProto, link.ip, link.netmask) == ("static", "192.168.80.43", "255.255.255.0")
    # IPv6 is on for the management VLAN only, so the installer's link keeps it.
    assert link.noipv6 is False


def test_derived_views_other_steps_use() -> None:
    """Bridge ports of every kind (for the boot verifier) and the key of the installer's address (for findings)."""
    bond = build(EXAMPLES / "bond-active-backup.yaml", shell=False).profile
    lacp = build(EXAMPLES / "lacp-vlan-bridge.yaml", shell=False).profile
    assert bond.network.bridge_ports("br0") == ("bond0",)
    assert lacp.network.bridge_ports("br-vm") == ("bond0.30",)
    assert install_network(bond).address_key == ("network", "bridges", 0, "ipv4", "address")
    assert install_network(lacp).address_key == ("network", "vlans", 0, "ipv4", "address")
