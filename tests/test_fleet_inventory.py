"""The inventory: how each host's profile is built from profile, defaults, group and host, with the line of
every value; every error located at its inventory line and naming the host."""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import pytest

from builder.errors import BadInput, Location
from builder.fleet.inventory import Inventory, inventory_schema, load_inventory
from builder.load.yaml_source import INVENTORY_LIMITS, MAX_FILE_BYTES
from builder.vocabulary import Roots

DATA = Path(__file__).parent / "data" / "fleet"


def line_of(path: Path, needle: str, occurrence: int = 1) -> int:
    """1-based number of the line holding the `occurrence`-th match of `needle`."""
    seen = 0
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if needle in line:
            seen += 1
            if seen == occurrence:
                return number
    raise AssertionError(f"{needle!r} not in {path}")


@pytest.fixture
def fleet_dir(tmp_path: Path) -> Path:
    """A working folder with the test profiles (messages show paths relative to it: see `load`)."""
    shutil.copytree(DATA / "profiles", tmp_path / "profiles")
    return tmp_path


def load(path: Path) -> Inventory:
    """The inventory as `ksbuild fleet` run in its folder reads it: profiles/ there, paths shown relative to it."""
    inventory = load_inventory(path, roots=Roots.under(path.parent))
    inventory.hosts  # noqa: B018 - hosts are built on demand; here every problem is found at once, as a render does
    return inventory


def write(folder: Path, text: str, *, header: str = "") -> Path:
    path = folder / "lab.yaml"
    path.write_text(header + textwrap.dedent(text))
    return path


HEADER = """\
pxe: {server: "http://192.168.80.1:8080"}
defaults: {profile: profiles/hv.yaml}
"""


def refused(path: Path) -> list[str]:
    with pytest.raises(BadInput) as caught:
        load(path)
    return [finding.format() for finding in caught.value.findings]


def test_each_host_is_built_from_profile_defaults_group_and_host_in_that_order(fleet_dir: Path) -> None:
    path = write(fleet_dir, """\
        pxe: {server: "http://192.168.80.1:8080"}
        defaults:
          profile: profiles/hv.yaml
          values:
            system: {timezone: Europe/Berlin, lang: de_DE.UTF-8}
          set:
            system.timezone: UTC
        groups:
          rack2:
            values:
              system: {timezone: Asia/Shanghai}
        hosts:
          - hostname: kvm01.lab.local
            group: rack2
            macs: ["52:54:00:aa:00:01"]
            set:
              system.timezone: America/New_York
          - hostname: kvm02.lab.local
            group: rack2
            macs: ["52:54:00:aa:00:02"]
          - hostname: kvm03.lab.local
            macs: ["52:54:00:aa:00:03"]
        """)
    one, two, three = load(path).hosts
    assert one.data["system"]["timezone"] == "America/New_York"
    assert two.data["system"]["timezone"] == "Asia/Shanghai"
    assert three.data["system"]["timezone"] == "UTC"
    # A mapping merges: the defaults' lang survives the group's timezone.
    assert two.data["system"]["lang"] == "de_DE.UTF-8"
    assert one.locate(("system", "timezone")) == Location("lab.yaml", line_of(path, "America/New_York"))
    assert two.locate(("system", "timezone")) == Location("lab.yaml", line_of(path, "Asia/Shanghai"))
    assert three.locate(("system", "timezone")) == Location("lab.yaml", line_of(path, "system.timezone: UTC"))
    # Untouched values keep the profile's own lines.
    profile = fleet_dir / "profiles/hv.yaml"
    assert one.locate(("packages", "install")) == Location("profiles/hv.yaml", line_of(profile, "install: [qemu"))


def test_hostname_and_boot_interface_come_from_the_host_entry(fleet_dir: Path) -> None:
    path = write(fleet_dir, header=HEADER, text="""\
        hosts:
          - hostname: kvm07.lab.local
            macs: ["52:54:00:AA:00:07"]
            boot_interface: enp2s0f0
        """)
    host = load(path).hosts[0]
    assert host.data["system"]["hostname"] == "kvm07.lab.local"
    assert host.data["network"]["install_device"] == "enp2s0f0"
    assert host.macs == ("52:54:00:aa:00:07",)  # written as typed, kept lowercase
    assert host.locate(("system", "hostname")) == Location("lab.yaml", line_of(path, "hostname: kvm07"))
    assert host.locate(("network", "install_device")) == Location("lab.yaml", line_of(path, "boot_interface"))
    assert host.firmware == "bios"


def test_set_changes_one_list_item_and_values_replace_a_whole_list(fleet_dir: Path) -> None:
    path = write(fleet_dir, header=HEADER, text="""\
        hosts:
          - hostname: kvm01.lab.local
            macs: ["52:54:00:aa:00:01"]
            set:
              network.bridges[0].ipv4.address: 192.168.80.41/24
          - hostname: kvm02.lab.local
            macs: ["52:54:00:aa:00:02"]
            values:
              network:
                nameservers: [9.9.9.9]
        """)
    one, two = load(path).hosts
    bridge = one.data["network"]["bridges"][0]
    assert bridge["ipv4"] == {"address": "192.168.80.41/24", "gateway": "192.168.80.1"}
    assert bridge["stp"] is True  # the rest of the bridge is the profile's
    assert one.locate(("network", "bridges", 0, "ipv4", "address")) == Location("lab.yaml", line_of(path, "80.41"))
    assert two.data["network"]["nameservers"] == ["9.9.9.9"]
    assert two.data["network"]["bridges"][0]["ipv4"]["address"] == "192.168.80.40/24"


def test_the_profile_data_of_one_host_never_leaks_into_another(fleet_dir: Path) -> None:
    path = write(fleet_dir, header=HEADER, text="""\
        hosts:
          - hostname: kvm01.lab.local
            macs: ["52:54:00:aa:00:01"]
            set:
              network.bridges[0].ipv4.address: 192.168.80.41/24
          - hostname: kvm02.lab.local
            macs: ["52:54:00:aa:00:02"]
        """)
    inventory = load(path)
    assert inventory.hosts[1].data["network"]["bridges"][0]["ipv4"]["address"] == "192.168.80.40/24"
    assert inventory.hosts[0].profile.data["network"]["bridges"][0]["ipv4"]["address"] == "192.168.80.40/24"


def test_firmware_and_profile_come_from_the_most_specific_level(fleet_dir: Path) -> None:
    shutil.copy(fleet_dir / "profiles/hv.yaml", fleet_dir / "profiles/other.yaml")
    path = write(fleet_dir, """\
        pxe: {server: "http://192.168.80.1:8080"}
        defaults: {profile: profiles/hv.yaml, firmware: uefi}
        groups:
          old: {firmware: bios, profile: profiles/other.yaml}
        hosts:
          - {hostname: a.lab.local, macs: ["52:54:00:aa:00:01"]}
          - {hostname: b.lab.local, macs: ["52:54:00:aa:00:02"], group: old}
          - {hostname: c.lab.local, macs: ["52:54:00:aa:00:03"], group: old, firmware: uefi}
        """)
    a, b, c = load(path).hosts
    assert (a.firmware, b.firmware, c.firmware) == ("uefi", "bios", "uefi")
    assert (a.profile.name, b.profile.name, c.profile.name) == ("hv", "other", "other")


def test_a_bare_profile_name_is_found_as_ksbuild_render_finds_it(fleet_dir: Path) -> None:
    path = write(fleet_dir, """\
        pxe: {server: "http://192.168.80.1:8080"}
        defaults: {profile: hv}
        hosts:
          - {hostname: a.lab.local, macs: ["52:54:00:aa:00:01"]}
        """)
    assert load(path).hosts[0].profile.path == fleet_dir / "profiles/hv.yaml"


def test_unknown_keys_get_a_did_you_mean_at_their_line(fleet_dir: Path) -> None:
    path = write(fleet_dir, header=HEADER, text="""\
        hosts:
          - hostname: kvm01.lab.local
            mac: ["52:54:00:aa:00:01"]
        dhpc: {subnet: 192.168.80.0/24}
        """)
    messages = refused(path)
    assert f"lab.yaml:{line_of(path, 'mac:')}: hosts[0].mac: unknown key; did you mean 'macs'?" in messages
    assert f"lab.yaml:{line_of(path, 'dhpc')}: dhpc: unknown key; did you mean 'dhcp'?" in messages
    assert f"lab.yaml:{line_of(path, '- hostname')}: hosts[0].macs: required key is missing" in messages


def test_a_mistyped_group_names_the_host_and_the_closest_group(fleet_dir: Path) -> None:
    path = write(fleet_dir, header=HEADER, text="""\
        groups:
          rack1: {}
        hosts:
          - hostname: kvm01.lab.local
            group: rakc1
            macs: ["52:54:00:aa:00:01"]
        """)
    assert refused(path) == [
        f"lab.yaml:{line_of(path, 'rakc1')}: hosts[0].group: host kvm01.lab.local: no group named 'rakc1'; "
        "did you mean 'rack1'?"
    ]


def test_a_missing_profile_is_reported_where_the_inventory_names_it(fleet_dir: Path) -> None:
    path = write(fleet_dir, """\
        pxe: {server: "http://192.168.80.1:8080"}
        defaults: {profile: profiles/nothere.yaml}
        hosts:
          - {hostname: a.lab.local, macs: ["52:54:00:aa:00:01"]}
        """)
    (message,) = refused(path)
    assert message.startswith(f"lab.yaml:{line_of(path, 'nothere')}: defaults.profile: ")
    assert "profiles/nothere.yaml" in message


def test_a_host_without_any_profile_is_refused(fleet_dir: Path) -> None:
    path = write(fleet_dir, """\
        pxe: {server: "http://192.168.80.1:8080"}
        hosts:
          - {hostname: a.lab.local, macs: ["52:54:00:aa:00:01"]}
        """)
    assert refused(path) == [
        f"lab.yaml:{line_of(path, 'a.lab.local')}: hosts[0]: host a.lab.local: no profile; set profile: in "
        "defaults, in its group or on the host"
    ]


def test_a_set_key_that_cannot_be_applied_is_located_at_its_inventory_line(fleet_dir: Path) -> None:
    path = write(fleet_dir, header=HEADER, text="""\
        hosts:
          - hostname: kvm01.lab.local
            macs: ["52:54:00:aa:00:01"]
            set:
              network.bridges[3].stp: false
        """)
    (message,) = refused(path)
    assert message.startswith(
        f"lab.yaml:{line_of(path, 'bridges[3]')}: hosts[0].set[\"network.bridges[3].stp\"]: host kvm01.lab.local: "
        "set network.bridges[3].stp: index 3 is out of range"
    )


def test_a_hostname_set_in_values_would_be_lost_and_is_refused(fleet_dir: Path) -> None:
    path = write(fleet_dir, header=HEADER, text="""\
        hosts:
          - hostname: kvm01.lab.local
            macs: ["52:54:00:aa:00:01"]
            values:
              system: {hostname: other.lab.local}
        """)
    (message,) = refused(path)
    assert message.startswith(f"lab.yaml:{line_of(path, 'other.lab.local')}: system.hostname: host kvm01.lab.local:")


def test_a_flow_list_that_splits_a_kernel_argument_gets_a_hint(fleet_dir: Path) -> None:
    path = write(fleet_dir, """\
        pxe:
          server: "http://192.168.80.1:8080"
          kernel_args: [console=ttyS0,115200n8]
        defaults: {profile: profiles/hv.yaml}
        hosts:
          - {hostname: a.lab.local, macs: ["52:54:00:aa:00:01"]}
        """)
    (message,) = refused(path)
    assert message.startswith(f"lab.yaml:{line_of(path, 'kernel_args')}: pxe.kernel_args[1]: '115200n8' is not NAME")
    assert 'quote an argument that holds one, e.g. ["console=ttyS0,115200n8"]' in message


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("kernel", "../etc/passwd", "must be a relative path inside the TFTP root"),
        ("kernel", "images/vm linuz", "may only hold letters, digits"),
        ("server", "ftp://192.168.80.1", "hosts fetch kickstarts over HTTP"),
        ("server", "http://192.168.80.1/$(reboot)", "may not contain spaces, quotes"),
    ],
)
def test_pxe_values_that_would_reach_boot_scripts_unquoted_are_refused(
    fleet_dir: Path, field: str, value: str, expected: str
) -> None:
    settings = {"server": "http://192.168.80.1:8080", field: value}
    path = write(fleet_dir, f"pxe: {json.dumps(settings)}\n" + textwrap.dedent("""\
        defaults: {profile: profiles/hv.yaml}
        hosts:
          - {hostname: a.lab.local, macs: ["52:54:00:aa:00:01"]}
        """))
    (message,) = refused(path)
    assert message.startswith(f"lab.yaml:1: pxe.{field}: ")
    assert expected in message


def test_every_problem_is_reported_in_one_run(fleet_dir: Path) -> None:
    path = write(fleet_dir, header=HEADER, text="""\
        hosts:
          - hostname: a.lab.local
            group: nogroup
            macs: ["52:54:00:aa:00:01"]
          - hostname: b.lab.local
            macs: ["52:54:00:aa:00:02"]
            set:
              "network.bridges[0].ipv4.address.x": 1
        """)
    messages = refused(path)
    assert len(messages) == 2
    assert "host a.lab.local: no group named 'nogroup'" in messages[0]
    assert "host b.lab.local: set network.bridges[0].ipv4.address.x:" in messages[1]


def test_a_yaml_error_is_located(fleet_dir: Path) -> None:
    path = write(fleet_dir, "pxe: {server: x\nhosts: [\n")
    (message,) = refused(path)
    assert message.startswith("lab.yaml:")
    assert "YAML error" in message


def test_the_json_schema_describes_the_keys_users_write() -> None:
    schema = inventory_schema()
    assert schema["title"] == "ksbuild fleet inventory"
    host = schema["$defs"]["HostEntry"]["properties"]
    # Keys as written in YAML: the alias `set`, not the Python field name.
    assert {"hostname", "macs", "boot_interface", "firmware", "values", "set", "group", "profile"} <= set(host)
    assert "set_values" not in host
    assert schema["required"] == ["pxe", "hosts"]


def test_an_inventory_may_be_larger_than_a_profile(fleet_dir: Path) -> None:
    # 10,000 hosts written as the README shows take about 1.6 MB: more than a profile may be, well within an inventory.
    padding = "".join(f"# {'host notes ' * 8}{n}\n" for n in range(12_000))
    path = write(fleet_dir, """\
        hosts:
          - hostname: kvm01.lab.local
            macs: ["52:54:00:aa:00:01"]
        """, header=HEADER + padding)
    assert path.stat().st_size > MAX_FILE_BYTES
    assert [host.hostname for host in load(path).hosts] == ["kvm01.lab.local"]


def test_an_inventory_has_its_own_size_bound(fleet_dir: Path) -> None:
    path = fleet_dir / "lab.yaml"
    with path.open("wb") as handle:
        handle.truncate(INVENTORY_LIMITS.file_bytes + 1)  # sparse: the size is refused before anything is read
    assert refused(path) == [
        f"lab.yaml: is {INVENTORY_LIMITS.file_bytes + 1} bytes; inventories are limited to "
        f"{INVENTORY_LIMITS.file_bytes} bytes"
    ]


def test_a_missing_top_level_key_is_reported_at_the_inventory_s_first_key(fleet_dir: Path) -> None:
    path = write(fleet_dir, "# lab\ndescription: no hosts yet\npxe: {server: 'http://192.168.80.1:8080'}\n")
    assert refused(path) == ["lab.yaml:2: hosts: required key is missing"]


def test_set_keys_that_cannot_be_read_are_located_and_one_value_is_not_shared_between_hosts(fleet_dir: Path) -> None:
    path = write(fleet_dir, header=HEADER, text="""\
        hosts:
          - hostname: a.lab.local
            macs: ["52:54:00:aa:00:01"]
            set:
              "system..timezone": UTC
              extends: other
          - hostname: b.lab.local
            macs: ["52:54:00:aa:00:02"]
        """)
    assert [message.split(": ", 2)[:2] for message in refused(path)] == [
        [f"lab.yaml:{line_of(path, 'system..timezone')}", 'hosts[0].set["system..timezone"]'],
        [f"lab.yaml:{line_of(path, 'extends: other')}", "hosts[0].set.extends"],
    ]
    path = write(fleet_dir, """\
        pxe: {server: "http://192.168.80.1:8080"}
        defaults:
          profile: profiles/hv.yaml
          set:
            sysctl: {vm.swappiness: 10}
        hosts:
          - {hostname: a.lab.local, macs: ["52:54:00:aa:00:01"]}
          - {hostname: b.lab.local, macs: ["52:54:00:aa:00:02"]}
        """)
    first, second = load(path).hosts
    assert first.data["sysctl"] == second.data["sysctl"] == {"vm.swappiness": 10}
    assert first.data["sysctl"] is not second.data["sysctl"]
