"""What the verification boot expects of a profile's network: the NICs the VM gets (and the ifname= arguments that
name them), each bridge's delay, bond members, the device holding each address and the default route."""

from __future__ import annotations

import re
from pathlib import Path

from builder.model.profile import InstallSource
from builder.pipeline import BootTestVariant, build
from builder.render.kickstart import render_kickstart
from builder.render.verify_plan import AddressExpectation, RouteExpectation, VerifyPlan, verify_plan
from builder.validate.kickstart import parse_kickstart
from builder.validate.pipeline import validate_kickstart_text
from tests.examples import EXAMPLES
from tests.helpers import MINIMAL, SHIPPED_PROFILES, write

MAC = re.compile(r"52:54:00(:[0-9a-f]{2}){3}")


def plan_of(path: Path) -> VerifyPlan:
    result = build(path, shell=False)
    assert [f.format() for f in result.errors] == []
    return verify_plan(result.profile, path.stem)


def test_pinned_macs_are_kept_and_unlisted_bond_members_get_a_nic() -> None:
    pinned = plan_of(EXAMPLES / "bond-active-backup.yaml")
    assert [(n.name, n.mac) for n in pinned.nics] == [("eno1", "52:54:00:a1:00:01"), ("eno2", "52:54:00:a1:00:02")]
    lacp = plan_of(EXAMPLES / "lacp-vlan-bridge.yaml")
    # interfaces: [] there; the members come from the bond.
    assert [n.name for n in lacp.nics] == ["ens1f0", "ens1f1"]
    assert all(MAC.fullmatch(n.mac) for n in lacp.nics)
    assert len({n.mac for n in lacp.nics}) == 2


def test_generated_macs_do_not_change_between_runs_or_collide_with_pinned_ones(tmp_path: Path) -> None:
    first = plan_of(SHIPPED_PROFILES / "kvm-hypervisor.yaml").nics
    again = plan_of(SHIPPED_PROFILES / "kvm-hypervisor.yaml").nics
    assert first == again
    (nic,) = first
    assert nic.name == "enp2s0f0" and MAC.fullmatch(nic.mac)
    # A second NIC pinned to exactly the MAC enp2s0f0 would be given: the generated one moves aside.
    text = MINIMAL.replace("    - {name: enp2s0f0, bridge: br0}\n",
                           f"    - {{name: enp2s0f0, bridge: br0}}\n    - {{name: eno9, mac: \"{nic.mac}\"}}\n")
    nics = plan_of(write(tmp_path / "two.yaml", text)).nics
    assert [n.name for n in nics] == ["enp2s0f0", "eno9"]
    assert nics[1].mac == nic.mac and nics[0].mac != nic.mac and MAC.fullmatch(nics[0].mac)


def _verify_section(text: str) -> str:
    parsed = parse_kickstart(text, "ks.cfg")
    return next(s.body for s in parsed.scripts if "# ksbuild post script: verify" in s.body)


def test_the_boot_test_kickstart_names_each_nic_with_a_udev_rule_by_mac() -> None:
    """The installed system's own udev names the verification VM's NICs (a host-only initramfs has no dracut
    network module, so `ifname=` on the kernel line would name nothing); the kernel line is the profile's."""
    boot_test = build(EXAMPLES / "bond-active-backup.yaml", variant=BootTestVariant(InstallSource(cdrom=True)),
                      shell=False)
    assert not parse_kickstart(boot_test.kickstart.text, "ks.cfg").handler.bootloader.appendLine
    body = _verify_section(boot_test.kickstart.text)
    rules = re.search(r"cat > /etc/udev/rules.d/70-ksbuild-boot-test-nics.rules <<'(\w+)'\n(.*?)\n\1\n", body, re.S)
    assert rules is not None, body
    # Only a physical ethernet device is renamed: bond0 takes eno1's MAC and must keep its name.
    assert rules[2].splitlines() == [
        'SUBSYSTEM=="net", ACTION=="add", DRIVERS=="?*", ATTR{type}=="1", ATTR{address}=="52:54:00:a1:00:01", '
        'NAME="eno1"',
        'SUBSYSTEM=="net", ACTION=="add", DRIVERS=="?*", ATTR{type}=="1", ATTR{address}=="52:54:00:a1:00:02", '
        'NAME="eno2"']
    # A plain render (what a user installs from) has no verification and no rules.
    plain = build(EXAMPLES / "bond-active-backup.yaml", shell=False)
    assert "70-ksbuild-boot-test-nics" not in plain.kickstart.text


def test_a_verified_host_gives_back_its_own_nic_names() -> None:
    # The rules exist for the verification VM only: once verification passes (and before a golden image is sealed
    # and exported), the unit removes them, and the profile's own kernel arguments stay as they are.
    profile = EXAMPLES / "bond-active-backup.yaml"
    own = "storage.bootloader.append=[intel_iommu=on]"
    boot_test = build(profile, overrides=[own], variant=BootTestVariant(InstallSource(cdrom=True)), shell=False)
    assert parse_kickstart(boot_test.kickstart.text, "ks.cfg").handler.bootloader.appendLine == "intel_iommu=on"
    body = _verify_section(boot_test.kickstart.text)
    passed = body[body.index('if [ "$fails" -eq 0 ]; then'):]
    passed = passed[:passed.index("\nfi\n")]
    assert "    rm -f /etc/udev/rules.d/70-ksbuild-boot-test-nics.rules\n" in passed
    assert "grubby" not in body


def test_bridges_bonds_addresses_and_the_default_route() -> None:
    hypervisor = plan_of(SHIPPED_PROFILES / "kvm-hypervisor.yaml")
    (bridge,) = hypervisor.bridges
    assert (bridge.name, bridge.stp, bridge.delay, bridge.ports) == ("br0", True, 2, ("enp2s0f0",))
    assert hypervisor.addresses == (AddressExpectation("br0", "192.168.80.40/24"),)
    assert hypervisor.default_route == RouteExpectation("192.168.80.1", ("br0",))

    backup = plan_of(EXAMPLES / "bond-active-backup.yaml")
    (bond,) = backup.bonds
    assert (bond.mode, bond.miimon, bond.members, bond.primary) == ("active-backup", 100, ("eno1", "eno2"), "eno1")

    lacp = plan_of(EXAMPLES / "lacp-vlan-bridge.yaml")
    assert [(b.name, b.stp, b.delay, b.ports) for b in lacp.bridges] == [("br-vm", False, 0, ("bond0.30",))]
    assert lacp.addresses == (AddressExpectation("bond0.10", "192.168.80.43/24"),)
    assert lacp.default_route == RouteExpectation("192.168.80.1", ("bond0.10",))


def test_dhcp_devices_expect_an_address_and_a_route_from_dhcp(tmp_path: Path) -> None:
    text = MINIMAL.replace("{address: 192.168.80.40/24, gateway: 192.168.80.1}", "{dhcp: true}")
    plan = plan_of(write(tmp_path / "dhcp.yaml", text.replace("nameservers: [114.114.114.114]", "nameservers: []")))
    assert plan.addresses == (AddressExpectation("br0", None),)
    assert plan.default_route == RouteExpectation(None, ("br0",))
    assert plan.bridges[0].delay == 15  # stp defaults to on, and the delay to the kernel's


def test_no_network_no_network_checks() -> None:
    plan = plan_of(SHIPPED_PROFILES / "golden-image.yaml")
    assert (plan.nics, plan.addresses, plan.default_route, plan.nic_rules) == ((), (), None, "")


def test_the_verify_script_for_dhcp_and_bonds_passes_shellcheck(tmp_path: Path) -> None:
    """The network checks for a DHCP bridge and a bond with a primary, as rendered, pass bash -n and shellcheck."""
    text = MINIMAL.replace("{address: 192.168.80.40/24, gateway: 192.168.80.1}", "{dhcp: true}").replace(
        "nameservers: [114.114.114.114]", "nameservers: []").replace(
        "    - {name: enp2s0f0, bridge: br0}\n",
        "    - {name: enp2s0f0, bridge: br0}\n  bonds:\n"
        "    - {name: bond1, members: [eno1, eno2], options: {primary: eno2}, ipv4: {address: 10.1.1.5/24}}\n")
    path = write(tmp_path / "dhcp.yaml", text)
    result = build(path, shell=False)
    assert [f.format() for f in result.errors] == []
    kickstart = render_kickstart(result.profile, "dhcp", verify=verify_plan(result.profile, "dhcp")).text
    script = kickstart.split("cat > /usr/local/sbin/ksbuild-verify <<'KSBUILD_EOF'\n", 1)[1].split("KSBUILD_EOF")[0]
    assert "report default-route pass \"via $via dev $dev (DHCP)\"" in script
    assert "want eno2 active (primary)" in script
    inner = validate_kickstart_text(f"%post --interpreter=/bin/bash\n{script}%end\n", "ksbuild-verify")
    assert [f.format() for f in inner.findings if f.check in {"shellcheck", "bash"}] == []
