"""Checks of bonds, VLANs, bridge ports, MTUs and gateways: every problem reported together, each at the file:line
and key a user must fix; and the installer's `network` line for each way the boot NIC can be stacked."""

from __future__ import annotations

from pathlib import Path

import pytest

from builder.pipeline import build
from builder.render.ifcfg import ifcfg_files
from builder.validate.kickstart import parse_kickstart
from tests.helpers import ROOT_HASH, at, schema_errors, write

HEAD = f"""\
install:
  source: {{url: "http://192.168.80.1/centos7/os/x86_64"}}
system:
  hostname: kvm01.lab.local
  services: {{enabled: [libvirtd], disabled: [NetworkManager]}}
users:
  root: {{password_hash: "{ROOT_HASH}"}}
network:
  nameservers: [192.168.80.1]
"""
# Line numbers below count from here: HEAD is 9 lines.
STACK = HEAD + """\
  bonds:
    - name: bond0
      members: [eno1, eno2]
      mode: 802.3ad
      options: {lacp_rate: fast}
      mtu: 9000
  vlans:
    - {id: 10, parent: bond0, ipv4: {address: 10.0.10.5/24, gateway: 10.0.10.1}}
    - {id: 30, parent: bond0, bridge: br-vm, mtu: 9000}
  bridges:
    - {name: br-vm, stp: false, mtu: 9000}
"""


def findings(tmp_path: Path, text: str) -> list[str]:
    result = build(write(tmp_path / "host.yaml", text), shell=False)
    return [f.format() for f in result.errors]


def test_the_stack_is_clean(tmp_path: Path) -> None:
    result = build(write(tmp_path / "host.yaml", STACK), shell=False)
    assert [f.format() for f in result.findings] == []


def test_a_member_used_twice(tmp_path: Path) -> None:
    text = STACK.replace("  vlans:\n", "    - {name: bond1, members: [eno3, eno2]}\n  vlans:\n", 1)
    assert findings(tmp_path, text) == [
        at(tmp_path, 16, "network.bonds[1].members[1]") + "eno2 is already a member at network.bonds[0].members[1]"
    ]


def test_a_member_listed_twice_in_one_bond(tmp_path: Path) -> None:
    text = STACK.replace("members: [eno1, eno2]", "members: [eno1, eno1]")
    assert findings(tmp_path, text) == [
        at(tmp_path, 12, "network.bonds[0].members[1]") + "eno1 is already a member at network.bonds[0].members[0]"
    ]


@pytest.mark.parametrize("vlan_id", [0, 4095, -1])
def test_vlan_id_outside_1_to_4094(tmp_path: Path, vlan_id: int) -> None:
    (error,) = schema_errors(tmp_path, STACK.replace("{id: 30,", f"{{id: {vlan_id},"))
    assert error.startswith(at(tmp_path, 18, "network.vlans[1].id"))
    assert "4094" in error or "greater than or equal to 1" in error


def test_a_bond_without_members(tmp_path: Path) -> None:
    (error,) = schema_errors(tmp_path, STACK.replace("members: [eno1, eno2]", "members: []"))
    assert error == at(tmp_path, 12, "network.bonds[0].members") + (
        "a bond needs at least one member NIC, e.g. members: [eno1, eno2]"
    )


def test_a_bridge_as_a_port_of_another_bridge(tmp_path: Path) -> None:
    text = STACK + "    - {name: br1, stp: true}\n  interfaces:\n    - {name: br1, bridge: br-vm}\n"
    assert findings(tmp_path, text) == [
        at(tmp_path, 23, "network.interfaces[0].bridge")
        + "br1 is itself a bridge; a bridge cannot be a port of another bridge"
    ]


def test_two_default_gateways_on_a_vlan_and_a_bridge(tmp_path: Path) -> None:
    text = STACK.replace("{name: br-vm, stp: false, mtu: 9000}",
                         "{name: br-vm, stp: false, mtu: 9000, ipv4: {address: 10.0.30.5/24, gateway: 10.0.30.1}}")
    errors = findings(tmp_path, text)
    assert at(tmp_path, 20, "network.bridges[0].ipv4.gateway") + (
        "a second default gateway (the first is network.vlans[0].ipv4.gateway); keep one"
    ) in errors
    # br-vm's port bond0.30 carries no address, so that is the only complaint.
    assert len(errors) == 1


@pytest.mark.parametrize(
    ("old", "new", "line", "message"),
    [
        ("{id: 30, parent: bond0, bridge: br-vm, mtu: 9000}", "{id: 30, parent: bond0, bridge: br-vm, mtu: 9216}",
         18, "MTU 9216 is larger than bond0's MTU 9000"),
        ("      mtu: 9000\n", "", 17, "MTU 9000 is larger than bond0's MTU 1500 (the default)"),
    ],
)
def test_vlan_mtu_larger_than_its_parent(tmp_path: Path, old: str, new: str, line: int, message: str) -> None:
    errors = findings(tmp_path, STACK.replace(old, new))
    assert at(tmp_path, line, "network.vlans[1].mtu") + message in errors


def test_bridge_mtu_larger_than_its_port(tmp_path: Path) -> None:
    text = STACK.replace("{id: 30, parent: bond0, bridge: br-vm, mtu: 9000}", "{id: 30, parent: bond0, bridge: br-vm}")
    assert findings(tmp_path, text) == [
        at(tmp_path, 20, "network.bridges[0].mtu")
        + "MTU 9000 is larger than that of its port bond0.30 (1500); a bridge cannot exceed its ports' MTU"
    ]


@pytest.mark.parametrize(
    ("mode", "options", "key", "message"),
    [
        ("active-backup", "{lacp_rate: fast}", "lacp_rate", "lacp_rate only applies to mode 802.3ad; bond0 uses "
                                                           "active-backup"),
        ("802.3ad", "{primary: eno1}", "primary", "primary only applies to mode active-backup or balance-tlb or "
                                                  "balance-alb; bond0 uses 802.3ad"),
        ("balance-alb", "{xmit_hash_policy: layer3+4}", "xmit_hash_policy",
         "xmit_hash_policy only applies to mode balance-xor or 802.3ad; bond0 uses balance-alb"),
        ("active-backup", "{primary: eno9}", "primary", "primary eno9 is not a member of bond0"),
    ],
)
def test_bond_option_for_another_mode(tmp_path: Path, mode: str, options: str, key: str, message: str) -> None:
    text = STACK.replace("mode: 802.3ad", f"mode: {mode}").replace("options: {lacp_rate: fast}", f"options: {options}")
    assert findings(tmp_path, text) == [at(tmp_path, 14, f"network.bonds[0].options.{key}") + message]


def test_a_bad_bond_mode_is_a_schema_error(tmp_path: Path) -> None:
    (error,) = schema_errors(tmp_path, STACK.replace("mode: 802.3ad", "mode: lacp"))
    assert error.startswith(at(tmp_path, 13, "network.bonds[0].mode"))
    assert "'802.3ad'" in error


def test_vlan_names_count_against_the_15_character_limit(tmp_path: Path) -> None:
    text = STACK.replace("members: [eno1, eno2]", "members: [enp129s0f1np1]")
    text = text.replace("name: bond0", "name: bond-uplink01").replace("parent: bond0", "parent: bond-uplink01")
    errors = findings(tmp_path, text)
    assert at(tmp_path, 17, "network.vlans[0].parent") + (
        "the VLAN device name bond-uplink01.10 has 16 characters and Linux allows 15; set name: vlan10"
    ) in errors
    assert len(errors) == 2  # and VLAN 30's name


def test_a_named_vlan_must_say_its_id(tmp_path: Path) -> None:
    text = STACK.replace("{id: 10, parent: bond0,", "{id: 10, parent: bond0, name: mgmt,")
    assert findings(tmp_path, text) == [
        at(tmp_path, 17, "network.vlans[0].name")
        + "initscripts reads the VLAN id from the device name: name it vlan10, or leave name out for bond0.10"
    ]


@pytest.mark.parametrize(
    ("parent", "message"),
    [
        ("eno1", "eno1 is a member of bond0: put the VLAN on the bond"),
        ("br-vm", "br-vm is a bridge; a VLAN's parent is an interface or bond"),
        ("eth7", "no interface or bond named eth7 (known: bond0)"),
    ],
)
def test_vlan_parent_must_be_an_interface_or_a_bond(tmp_path: Path, parent: str, message: str) -> None:
    text = STACK.replace("{id: 10, parent: bond0,", f"{{id: 10, parent: {parent},")
    assert findings(tmp_path, text) == [at(tmp_path, 17, "network.vlans[0].parent") + message]


def test_a_listed_member_carries_no_address_or_bridge(tmp_path: Path) -> None:
    text = STACK + "  interfaces:\n    - {name: eno2, bridge: br-vm, ipv4: {dhcp: true}}\n"
    errors = findings(tmp_path, text)
    assert at(tmp_path, 22, "network.interfaces[0].ipv4") + "eno2 is a member of bond0: put the address on the bond" \
        in errors
    assert at(tmp_path, 22, "network.interfaces[0].bridge") + (
        "eno2 is a member of bond0: make the bond the bridge port (bridge: on the bond)"
    ) in errors


def test_a_bond_member_cannot_be_a_bond(tmp_path: Path) -> None:
    text = STACK.replace("members: [eno1, eno2]", "members: [eno1, bond0.10]")
    assert at(tmp_path, 12, "network.bonds[0].members[1]") + "bond0.10 is a VLAN; bond members are NICs" \
        in findings(tmp_path, text)


def test_install_device_must_be_a_nic_bond_or_vlan(tmp_path: Path) -> None:
    errors = findings(tmp_path, STACK + "  install_device: br-vm\n")
    assert errors == [at(tmp_path, 21, "network.install_device")
                      + "br-vm is a bridge; the installer configures a NIC, bond or VLAN: name the bridge's port"]
    errors = findings(tmp_path, STACK + "  install_device: eno7\n")
    assert errors == [
        at(tmp_path, 21, "network.install_device") + "eno7 is not an interface, bond member, bond or VLAN"
    ]


def test_bonding_opts_cannot_be_set_raw(tmp_path: Path) -> None:
    text = STACK.replace("      mtu: 9000\n", "      mtu: 9000\n      extra_ifcfg: {BONDING_OPTS: 'mode=1'}\n", 1)
    (error,) = schema_errors(tmp_path, text)
    assert error.startswith(at(tmp_path, 16, "network.bonds[0].extra_ifcfg"))
    assert "BONDING_OPTS is written by ksbuild from the typed fields" in error


def link(tmp_path: Path, network: str) -> object:
    result = build(write(tmp_path / "host.yaml", HEAD + network), shell=False)
    assert [f.format() for f in result.errors] == []
    (only,) = parse_kickstart(result.kickstart.text, "ks.cfg").handler.network.network
    return only


def test_installer_link_vlan_on_a_plain_nic(tmp_path: Path) -> None:
    found = link(tmp_path, """\
  interfaces:
    - {name: eno1}
  vlans:
    - {id: 20, parent: eno1, name: vlan20, ipv4: {address: 10.0.20.5/24, gateway: 10.0.20.1}}
""")
    assert (found.device, found.vlanid, found.interfacename, found.bondslaves) == ("eno1", "20", "vlan20", "")
    assert (found.bootProto, found.ip) == ("static", "10.0.20.5")


def test_installer_link_bond_by_dhcp_and_the_vlan_with_the_gateway_first(tmp_path: Path) -> None:
    dhcp = link(tmp_path, """\
  bonds:
    - {name: bond0, members: [eno1, eno2], ipv4: {dhcp: true}}
""")
    assert (dhcp.device, dhcp.bondslaves, dhcp.bootProto, dhcp.vlanid) == ("bond0", "eno1,eno2", "dhcp", "")
    assert dhcp.bondopts == "mode=active-backup,miimon=100"
    gateway_vlan = link(tmp_path, """\
  bonds:
    - {name: bond0, members: [eno1, eno2]}
  vlans:
    - {id: 40, parent: bond0, ipv4: {address: 10.0.40.5/24}}
    - {id: 10, parent: bond0, ipv4: {address: 10.0.10.5/24, gateway: 10.0.10.1}}
""")
    assert (gateway_vlan.device, gateway_vlan.vlanid, gateway_vlan.ip) == ("bond0", "10", "10.0.10.5")


def test_installer_link_named_explicitly(tmp_path: Path) -> None:
    found = link(tmp_path, """\
  interfaces:
    - {name: eno1, ipv4: {address: 10.0.0.5/24, gateway: 10.0.0.1}}
    - {name: eno2}
  vlans:
    - {id: 99, parent: eno2, ipv4: {dhcp: true}}
  install_device: eno2.99
""")
    assert (found.device, found.vlanid, found.bootProto) == ("eno2", "99", "dhcp")


def test_only_the_gateway_device_holds_the_default_route(tmp_path: Path) -> None:
    text = HEAD + """\
  interfaces:
    - {name: eno1, ipv4: {address: 10.0.0.5/24, gateway: 10.0.0.1}}
    - {name: eno2, ipv4: {dhcp: true}}
    - {name: eno3, ipv4: {address: 172.16.0.5/24}}
"""
    result = build(write(tmp_path / "host.yaml", text), shell=False)
    files = {f.device: dict(f.entries) for f in ifcfg_files(result.profile)}
    assert files["eno1"]["DEFROUTE"] == "yes"
    assert files["eno2"]["DEFROUTE"] == "no"
    assert files["eno3"]["DEFROUTE"] == "no"


BRIDGE_LINE = 20  # "    - {name: br-vm, stp: false, mtu: 9000}" in STACK


def bridge_file(tmp_path: Path, bridge: str) -> dict[str, str]:
    """The rendered ifcfg file of br-vm when its entry reads `bridge`."""
    result = build(write(tmp_path / "host.yaml", STACK.replace("{name: br-vm, stp: false, mtu: 9000}", bridge)),
                   shell=False)
    assert [f.format() for f in result.findings] == []
    (file,) = [f for f in ifcfg_files(result.profile) if f.device == "br-vm"]
    return dict(file.entries)


@pytest.mark.parametrize("delay", [0, 1, 31, 45])
def test_stp_bridge_with_a_delay_the_kernel_will_not_take(tmp_path: Path, delay: int) -> None:
    (error,) = schema_errors(
        tmp_path, STACK.replace("{name: br-vm, stp: false, mtu: 9000}", f"{{name: br-vm, stp: true, delay: {delay}}}")
    )
    assert error.startswith(at(tmp_path, BRIDGE_LINE, "network.bridges[0].delay")
                            + f"with stp: true the forward delay must be 2-30 s, not {delay}")
    # The reason: what a port does for the delay, and what the kernel does with a value outside its range.
    assert "listens and learns" in error and "kernel keeps it within 2-30 s" in error


@pytest.mark.parametrize("delay", [-1, 31])
def test_bridge_without_stp_keeps_the_delay_within_0_to_30(tmp_path: Path, delay: int) -> None:
    (error,) = schema_errors(
        tmp_path, STACK.replace("{name: br-vm, stp: false, mtu: 9000}", f"{{name: br-vm, stp: false, delay: {delay}}}")
    )
    assert error == at(tmp_path, BRIDGE_LINE, "network.bridges[0].delay") + (
        f"the forward delay must be 0-30 s, not {delay}"
    )


@pytest.mark.parametrize(
    ("bridge", "stp", "delay"),
    [
        ("{name: br-vm, stp: true}", "yes", "15"),          # the kernel's default, written out
        ("{name: br-vm, stp: true, delay: 2}", "yes", "2"),  # the shortest STP allows
        ("{name: br-vm, stp: true, delay: 30}", "yes", "30"),
        ("{name: br-vm}", "yes", "15"),                     # stp defaults to true
        ("{name: br-vm, stp: false}", "no", "0"),           # without STP a port forwards at once
        ("{name: br-vm, stp: false, delay: 0}", "no", "0"),
        ("{name: br-vm, stp: false, delay: 5}", "no", "5"),
    ],
)
def test_the_delay_the_host_gets(tmp_path: Path, bridge: str, stp: str, delay: str) -> None:
    file = bridge_file(tmp_path, bridge)
    assert (file["STP"], file["DELAY"]) == (stp, delay)
