"""Fleet checks: each host through the core checks, and the conflicts between hosts, each finding at the
inventory line that caused it and naming the host."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from builder.errors import BadInput
from builder.fleet.checks import model_fleet
from builder.fleet.inventory import Inventory, load_inventory
from builder.vocabulary import Roots

DATA = Path(__file__).parent / "data" / "fleet"
HEADER = """\
pxe: {server: "http://192.168.80.1:8080"}
dhcp: {subnet: 192.168.80.0/24, gateway: 192.168.80.1, range: [192.168.80.200, 192.168.80.250]}
defaults: {profile: profiles/hv.yaml}
hosts:
"""


@pytest.fixture
def fleet_dir(tmp_path: Path) -> Path:
    shutil.copytree(DATA / "profiles", tmp_path / "profiles")
    return tmp_path


def load(path: Path) -> Inventory:
    """The inventory as `ksbuild fleet` run in its folder reads it: profiles/ there, paths shown relative to it."""
    inventory = load_inventory(path, roots=Roots.under(path.parent))
    inventory.hosts  # noqa: B018 - hosts are built on demand; here every problem is found at once, as a render does
    return inventory


def host(name: str, mac: str, address: str | None = None, extra: str = "") -> str:
    text = f"  - hostname: {name}\n    macs: [\"{mac}\"]\n"
    if address is not None:
        text += f"    set:\n      network.bridges[0].ipv4.address: {address}\n"
    return text + textwrap.indent(textwrap.dedent(extra), "    ")


def line_of(path: Path, needle: str, occurrence: int = 1) -> int:
    lines = [n for n, line in enumerate(path.read_text().splitlines(), start=1) if needle in line]
    return lines[occurrence - 1]


def findings_of(folder: Path, hosts: str, header: str = HEADER) -> tuple[Path, list[str]]:
    path = folder / "lab.yaml"
    path.write_text(header + hosts)
    fleet = model_fleet(load(path), Roots.under(path.parent))
    return path, [f.format() for f in fleet.findings]


def test_a_clean_fleet_has_no_findings(fleet_dir: Path) -> None:
    hosts = host("kvm01.lab.local", "52:54:00:aa:00:01", "192.168.80.41/24") + \
        host("kvm02.lab.local", "52:54:00:aa:00:02", "192.168.80.42/24")
    assert findings_of(fleet_dir, hosts)[1] == []


def test_duplicate_hostnames_are_found_whatever_their_case(fleet_dir: Path) -> None:
    hosts = host("kvm01.lab.local", "52:54:00:aa:00:01", "192.168.80.41/24") + \
        host("KVM01.lab.local", "52:54:00:aa:00:02", "192.168.80.42/24")
    path, found = findings_of(fleet_dir, hosts)
    assert found == [
        f"lab.yaml:{line_of(path, 'KVM01')}: hosts[1].hostname: host KVM01.lab.local: hostname is already used by "
        f"hosts[0] (lab.yaml:{line_of(path, 'kvm01')})"
    ]


def test_two_hosts_whose_short_names_collide_are_an_error(fleet_dir: Path) -> None:
    # The dnsmasq snippet says dhcp-host=...,kvm01 for both: dnsmasq drops a name's domain unless it is its own.
    hosts = host("kvm01.lab.local", "52:54:00:aa:00:01", "192.168.80.41/24") + \
        host("kvm01.other.local", "52:54:00:aa:00:02", "192.168.80.42/24")
    path, found = findings_of(fleet_dir, hosts)
    assert found == [
        f"lab.yaml:{line_of(path, 'kvm01.other')}: hosts[1].hostname: host kvm01.other.local: its short name kvm01 "
        f"is already that of kvm01.lab.local (hosts[0], lab.yaml:{line_of(path, 'kvm01.lab')}); dnsmasq hands out "
        "names without their domain (dhcp-host=...,kvm01), so both would claim one name"
    ]


@pytest.mark.parametrize(("mac", "why"), [
    ("00:00:00:00:00:00", "00:00:00:00:00:00 is the all-zero address, not a NIC's"),
    ("FF:FF:FF:FF:FF:FF", "ff:ff:ff:ff:ff:ff is the broadcast address, not a NIC's"),
    ("01:00:5e:00:00:fb", "01:00:5e:00:00:fb is a multicast address (the first octet is odd), not a NIC's"),
    ("33:33:00:00:00:01", "33:33:00:00:00:01 is a multicast address (the first octet is odd), not a NIC's"),
])
def test_macs_that_are_no_nic_s_are_refused_at_their_line(fleet_dir: Path, mac: str, why: str) -> None:
    hosts = host("kvm01.lab.local", "52:54:00:aa:00:01", "192.168.80.41/24") + \
        host("kvm02.lab.local", mac, "192.168.80.42/24")
    path = fleet_dir / "lab.yaml"
    path.write_text(HEADER + hosts)
    with pytest.raises(BadInput) as caught:
        load(path)
    assert [f.format() for f in caught.value.findings] == [f"lab.yaml:{line_of(path, mac)}: hosts[1].macs[0]: {why}"]


def test_duplicate_macs_are_found_across_hosts_and_within_one(fleet_dir: Path) -> None:
    hosts = host("kvm01.lab.local", "52:54:00:aa:00:01", "192.168.80.41/24") + \
        host("kvm02.lab.local", "52:54:00:AA:00:01", "192.168.80.42/24") + \
        "  - hostname: kvm03.lab.local\n    macs: [\"52:54:00:aa:00:03\", \"52:54:00:aa:00:03\"]\n" \
        "    set:\n      network.bridges[0].ipv4.address: 192.168.80.43/24\n"
    path, found = findings_of(fleet_dir, hosts)
    assert found == [
        f"lab.yaml:{line_of(path, 'AA:00:01')}: hosts[1].macs[0]: host kvm02.lab.local: MAC 52:54:00:aa:00:01 is "
        f"already host kvm01.lab.local's (lab.yaml:{line_of(path, 'aa:00:01')})",
        f"lab.yaml:{line_of(path, 'aa:00:03')}: hosts[2].macs[1]: host kvm03.lab.local: MAC 52:54:00:aa:00:03 is "
        f"already this host's (lab.yaml:{line_of(path, 'aa:00:03')})",
    ]


def test_two_hosts_sharing_a_bridge_address_are_reported_at_the_inventory_line(fleet_dir: Path) -> None:
    hosts = host("kvm01.lab.local", "52:54:00:aa:00:01", "192.168.80.41/24") + \
        host("kvm02.lab.local", "52:54:00:aa:00:02", "192.168.80.41/24")
    path, found = findings_of(fleet_dir, hosts)
    assert found == [
        f"lab.yaml:{line_of(path, '80.41', 2)}: network.bridges[0].ipv4.address: host kvm02.lab.local: bridge "
        f"address 192.168.80.41 of br0 is already br0's on host kvm01.lab.local (lab.yaml:{line_of(path, '80.41')})"
    ]


def test_an_address_left_at_the_profiles_value_is_reported_at_the_host_entry(fleet_dir: Path) -> None:
    # Neither host sets its address: both keep the profile's 192.168.80.40, which is a mistake of the
    # inventory, so the finding points at the second host's entry and says where the value came from.
    hosts = host("kvm01.lab.local", "52:54:00:aa:00:01") + host("kvm02.lab.local", "52:54:00:aa:00:02")
    path, found = findings_of(fleet_dir, hosts)
    profile_line = line_of(fleet_dir / "profiles/hv.yaml", "192.168.80.40/24")
    assert found == [
        f"lab.yaml:{line_of(path, 'kvm02')}: network.bridges[0].ipv4.address: host kvm02.lab.local: bridge address "
        f"192.168.80.40 of br0 is already br0's on host kvm01.lab.local (profiles/hv.yaml:{profile_line}) "
        f"(value from profiles/hv.yaml:{profile_line})"
    ]


def test_an_address_that_is_another_hosts_gateway_is_reported(fleet_dir: Path) -> None:
    hosts = host("kvm01.lab.local", "52:54:00:aa:00:01", "192.168.80.41/24") + host(
        "kvm02.lab.local", "52:54:00:aa:00:02", extra="""\
        values:
          network:
            interfaces: [{name: enp2s0f0, bridge: br0}]
            bridges: [{name: br0, ipv4: {address: 192.168.80.42/24, gateway: 192.168.80.41}}]
        """)
    path, found = findings_of(fleet_dir, hosts)
    gateway = line_of(path, "gateway: 192.168.80.41")
    assert found == [
        f"lab.yaml:{line_of(path, '80.41')}: network.bridges[0].ipv4.address: host kvm01.lab.local: address "
        f"192.168.80.41 of br0 is the gateway of host kvm02.lab.local (lab.yaml:{gateway})"
    ]


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("10.1.1.5/24", "install address 10.1.1.5 is outside the subnet 192.168.80.0/24"),
        ("192.168.80.1/24", "install address 192.168.80.1 is the DHCP gateway"),
        ("192.168.80.210/24", "install address 192.168.80.210 is inside the dynamic range "
                              "192.168.80.200-192.168.80.250"),
    ],
)
def test_install_addresses_must_fit_the_provisioning_network(fleet_dir: Path, address: str, message: str) -> None:
    path, found = findings_of(fleet_dir, host("kvm01.lab.local", "52:54:00:aa:00:01", address))
    where = f"lab.yaml:{line_of(path, address)}: network.bridges[0].ipv4.address: host kvm01.lab.local: "
    assert where + message in found


def test_the_subnets_network_and_broadcast_addresses_are_refused(fleet_dir: Path) -> None:
    # A /16 on the host makes .0 and .255 valid host addresses for the core check; the /24 provisioning
    # subnet makes them its network and broadcast address.
    hosts = host("kvm01.lab.local", "52:54:00:aa:00:01", "192.168.80.255/16") + \
        host("kvm02.lab.local", "52:54:00:aa:00:02", "192.168.80.0/16")
    path, found = findings_of(fleet_dir, hosts)
    errors = [f for f in found if "network or broadcast address of 192.168.80.0/24" in f]
    assert errors == [
        f"lab.yaml:{line_of(path, '80.255')}: network.bridges[0].ipv4.address: host kvm01.lab.local: install address "
        "192.168.80.255 is the network or broadcast address of 192.168.80.0/24",
        f"lab.yaml:{line_of(path, '80.0/16')}: network.bridges[0].ipv4.address: host kvm02.lab.local: install "
        "address 192.168.80.0 is the network or broadcast address of 192.168.80.0/24",
    ]


def test_a_dhcp_gateway_outside_the_subnet_is_refused(fleet_dir: Path) -> None:
    header = HEADER.replace("gateway: 192.168.80.1", "gateway: 192.168.81.1")
    _, found = findings_of(fleet_dir, host("kvm01.lab.local", "52:54:00:aa:00:01", "192.168.80.41/24"), header)
    assert "lab.yaml:2: dhcp.gateway: gateway 192.168.81.1 is outside the subnet 192.168.80.0/24" in found


def test_core_checks_run_on_every_host_and_name_it(fleet_dir: Path) -> None:
    # The gateway outside the host's own subnet is a core semantic check.
    hosts = host("kvm01.lab.local", "52:54:00:aa:00:01", extra="""\
        set:
          network.bridges[0].ipv4.gateway: 10.9.9.9
        """)
    path, found = findings_of(fleet_dir, hosts)
    assert (f"lab.yaml:{line_of(path, '10.9.9.9')}: network.bridges[0].ipv4.gateway: host kvm01.lab.local: gateway "
            "10.9.9.9 is outside the subnet 192.168.80.0/24") in found


def test_a_hosts_storage_findings_keep_their_rule_id(fleet_dir: Path) -> None:
    """The fleet names the host in each finding and keeps the rest: a storage problem still carries its KSxxx id,
    which `ksbuild rules KS204` explains and select/ignore act on."""
    hosts = host("kvm01.lab.local", "52:54:00:aa:00:01", extra="""\
        values:
          storage:
            layout: custom
            partitions:
              - {mount: /, size: 10240}
              - {mount: /, size: 2048}
        """)
    path = fleet_dir / "lab.yaml"
    path.write_text(HEADER + hosts)
    fleet = model_fleet(load(path), Roots.under(path.parent))
    [twice] = [f for f in fleet.findings if "already mounted" in f.message]
    assert (twice.rule, twice.severity) == ("KS204", "error")
    assert twice.message.startswith("host kvm01.lab.local: / is already mounted")
    assert "KS204 error: host kvm01.lab.local:" in twice.format()


def test_a_schema_error_in_host_values_is_located_in_the_inventory(fleet_dir: Path) -> None:
    hosts = host("kvm01.lab.local", "52:54:00:aa:00:01", extra="""\
        values:
          system: {selinx: permissive}
        """)
    path = fleet_dir / "lab.yaml"
    path.write_text(HEADER + hosts)
    fleet = model_fleet(load(path), Roots.under(path.parent))
    assert fleet.unreadable
    assert [f.format() for f in fleet.findings] == [
        f"lab.yaml:{line_of(path, 'selinx')}: system.selinx: host kvm01.lab.local: unknown key; did you mean 'selinux'?"
    ]


def test_a_cdrom_install_needs_a_network_repo(fleet_dir: Path) -> None:
    hosts = host("kvm01.lab.local", "52:54:00:aa:00:01", "192.168.80.41/24", extra="""\
        values:
          install: {source: {url: null, cdrom: true}}
        """)
    path, found = findings_of(fleet_dir, hosts)
    assert found == [
        f"lab.yaml:{line_of(path, 'cdrom')}: install.source: host kvm01.lab.local: installs from cdrom, which a "
        "network boot does not have; set pxe.repo to a tree URL"
    ]


def test_a_boot_interface_pinned_to_another_mac_is_refused(fleet_dir: Path) -> None:
    hosts = host("kvm01.lab.local", "52:54:00:aa:00:01", extra="""\
        set:
          network.bridges[0].ipv4.address: 192.168.80.41/24
          network.interfaces[0].mac: "52:54:00:ff:ff:ff"
        """)
    path, found = findings_of(fleet_dir, hosts)
    assert found == [
        f"lab.yaml:{line_of(path, 'ff:ff:ff')}: network.interfaces[0].mac: host kvm01.lab.local: boot interface "
        "enp2s0f0 is pinned to MAC 52:54:00:ff:ff:ff, but the host's first (boot) MAC is 52:54:00:aa:00:01"
    ]
