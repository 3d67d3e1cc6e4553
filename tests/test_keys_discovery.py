"""The installer's NIC named by MAC or as the PXE boot NIC (bootif), and install-time discovery: a %pre that writes
the disk layout or the installer's network to a file read with %include. The %pre runs for real in the sandbox
(tests/sandbox.py) on made-up hardware, and the kickstart with the file it wrote is read by pykickstart."""

from __future__ import annotations

from pathlib import Path

import pytest
from pykickstart.parser import KickstartParser

from builder.pipeline import BuildResult, build
from builder.validate.kickstart import parse_kickstart, rhel7_handler
from builder.validate.pipeline import validate_kickstart_text
from tests.helpers import MINIMAL, at, write
from tests.sandbox import make_root, run_pre_scripts

# MINIMAL is 14 lines: keys added below start on line 15.


def built(tmp_path: Path, text: str) -> BuildResult:
    return build(write(tmp_path / "host.yaml", text), shell=False)


def network_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(("network ", "%include"))]


def test_install_nic_by_mac_keeps_the_address_of_that_interface(tmp_path: Path) -> None:
    text = MINIMAL.replace("    - {name: enp2s0f0, bridge: br0}",
                           "    - {name: enp2s0f0, bridge: br0, mac: '52:54:00:A1:00:01'}")
    result = built(tmp_path, text + "  install_device: '52:54:00:A1:00:01'\n")
    assert [f.format() for f in result.findings] == []
    assert network_lines(result.kickstart.text) == [
        "network --device=52:54:00:a1:00:01 --bootproto=static --ip=192.168.80.40 --netmask=255.255.255.0 "
        "--gateway=192.168.80.1 --nameserver=114.114.114.114 --noipv6 --activate --hostname=kvm01.lab.local"
    ]
    device = parse_kickstart(result.kickstart.text, "ks.cfg").handler.network.network[0].device
    assert device == "52:54:00:a1:00:01"


def test_install_nic_bootif_is_the_first_interface(tmp_path: Path) -> None:
    result = built(tmp_path, MINIMAL + "  install_device: bootif\n")
    assert [f.format() for f in result.findings] == []
    assert network_lines(result.kickstart.text)[0].startswith(
        "network --device=bootif --bootproto=static --ip=192.168.80.40 "
    )


def test_bootif_without_declared_devices_is_dhcp(tmp_path: Path) -> None:
    text = MINIMAL.split("network:\n", 1)[0] + "network: {install_device: bootif}\n"
    result = built(tmp_path, text)
    assert network_lines(result.kickstart.text) == [
        "network --device=bootif --bootproto=dhcp --noipv6 --activate --hostname=kvm01.lab.local"
    ]


BONDED = MINIMAL.replace("""\
  interfaces:
    - {name: enp2s0f0, bridge: br0}
""", """\
  interfaces:
    - {name: eno1, mac: '52:54:00:a1:00:01'}
  bonds:
    - {name: bond0, members: [eno1, eno2], bridge: br0}
""")


@pytest.mark.parametrize(("device", "message"), [
    ("'52:54:00:a1:00:09'", "no interface has mac: 52:54:00:a1:00:09; set mac: on the interface the installer "
                            "brings up"),
    ("'52:54:00:a1:00:01'", "52:54:00:a1:00:01 is eno1, a member of bond0: anaconda names a bond by its name "
                            "(install_device: bond0), not by a member's MAC"),
    ("bootif", "bootif stands for the first interface, eno1, a member of bond0: anaconda names a bond by its "
               "name (install_device: bond0)"),
])
def test_install_nic_by_hardware_that_cannot_work(tmp_path: Path, device: str, message: str) -> None:
    result = built(tmp_path, BONDED + f"  install_device: {device}\n")
    assert [f.format() for f in result.errors] == [at(tmp_path, 17, "network.install_device") + message]


@pytest.mark.parametrize(("device", "message"), [
    ("link", "link (the first NIC with a carrier) is not supported"),
    ("'52:54:00:zz:00:01'", "is not a MAC address"),
    ("'eth0 --bootproto=dhcp'", "is not a device name"),
])
def test_install_device_values_that_are_refused(tmp_path: Path, device: str, message: str) -> None:
    from tests.helpers import schema_errors

    (error,) = schema_errors(tmp_path, MINIMAL + f"  install_device: {device}\n", name="host.yaml")
    assert error.startswith(at(tmp_path, 15, "network.install_device")) and message in error, error


# %pre that picks the layout by the number of disks, and the installer's NIC by a MAC table: the two real
# discovery patterns. It reads /proc/partitions and /sys/class/net, as it would in anaconda's environment.
DISCOVERY = """\
storage:
  layout: include
network:
  install: include
scripts:
  pre:
    - name: discover
      body: |
        disks=$(awk '$4 ~ /^(sd|vd)[a-z]+$/ {print $4}' /proc/partitions | sort)
        count=$(printf '%s\\n' $disks | grep -c .)
        list=$(printf '%s\\n' $disks | paste -sd, -)
        {
            echo "ignoredisk --only-use=$list"
            echo "zerombr"
            echo "clearpart --all --initlabel --drives=$list"
            if [ "$count" -ge 2 ]; then
                set -- $disks
                echo "part raid.01 --size=1024 --ondisk=$1"
                echo "part raid.02 --size=1024 --ondisk=$2"
                echo "raid /boot --level=1 --device=md0 --fstype=xfs raid.01 raid.02"
                echo "part raid.11 --size=1 --grow --ondisk=$1"
                echo "part raid.12 --size=1 --grow --ondisk=$2"
                echo "raid / --level=1 --device=md1 --fstype=xfs raid.11 raid.12"
            else
                echo "autopart --type=lvm"
            fi
        } > /tmp/part-include
        device=bootif
        for nic in /sys/class/net/*; do
            case $(cat "$nic/address") in
                52:54:00:a1:00:01) device=${nic##*/} ;;
            esac
        done
        echo "network --device=$device --bootproto=dhcp --noipv6 --activate" > /tmp/network-include
"""


def test_discovery_renders_includes_and_says_what_it_cannot_check(tmp_path: Path) -> None:
    result = build(write(tmp_path / "host.yaml", MINIMAL.split("network:\n", 1)[0] + DISCOVERY))
    # The linter's note on each %include (KS110), at the profile key that wrote the line.
    assert [(f.key, f.rule, f.severity) for f in result.findings] == [
        ("network.include", "KS110", "info"), ("storage.include", "KS110", "info")
    ]
    assert "by the %pre at line" in result.findings[1].message
    assert network_lines(result.kickstart.text) == [
        "network --hostname=kvm01.lab.local", "%include /tmp/network-include", "%include /tmp/part-include"
    ]
    storage = result.kickstart.text.split("# Storage\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert storage == ["# Disks, clearing and layout are written by a %pre at install time",
                       "bootloader --location=mbr", "%include /tmp/part-include"]
    report = validate_kickstart_text(result.kickstart.text, "ks.cfg", shell=True)
    assert [f.rule for f in report.findings] == ["KS110", "KS110"]  # the include counts as the disk layout


def test_an_include_nothing_writes_is_an_error_at_its_key(tmp_path: Path) -> None:
    result = build(write(tmp_path / "host.yaml", MINIMAL + "storage: {layout: include, include: /tmp/disks.ks}\n"))
    assert [(f.key, f.rule) for f in result.errors] == [("storage", "KS506"), ("storage.include", "KS111")]
    assert result.errors[1].format().startswith(at(tmp_path, 15, "storage.include") + "KS111 error: %include "
                                                "/tmp/disks.ks: no %pre script names this path")


def run_discovery(tmp_path: Path, disks: list[str], macs: dict[str, str]) -> tuple[str, Path]:
    """Render the discovery profile, run its %pre on made-up hardware, and return the kickstart with the
    root holding what %pre wrote."""
    result = built(tmp_path, MINIMAL.split("network:\n", 1)[0] + DISCOVERY)
    assert result.ok, [f.format() for f in result.errors]
    root = make_root(tmp_path / "root")
    rows = ["major minor  #blocks  name", ""] + [f"   8 {n * 16} 104857600 {d}" for n, d in enumerate(disks)]
    (root / "proc/partitions").write_text("\n".join(rows) + "\n")
    (root / "proc/cpuinfo").write_text("processor\t: 0\nflags\t\t: fpu vme vmx\n")  # the hardware-virt %pre
    for name, mac in macs.items():
        write(root / f"sys/class/net/{name}/address", mac + "\n")
    parsed = parse_kickstart(result.kickstart.text, "ks.cfg")
    runs = run_pre_scripts(root, parsed.scripts)
    assert [r.returncode for r in runs] == [0, 0], [r.log for r in runs]
    return result.kickstart.text, root


def read_with_includes(text: str, root: Path) -> object:
    """What anaconda reads after %pre: the kickstart with its %include files, from the installer's root."""
    rooted = text.replace("%include /tmp/", f"%include {root}/tmp/")
    handler = rhel7_handler()
    KickstartParser(handler, followIncludes=True, errorsAreFatal=True).readKickstartFromString(rooted)
    return handler


def test_two_disks_get_raid1(tmp_path: Path) -> None:
    text, root = run_discovery(tmp_path, ["sda", "sdb"], {"eno1": "52:54:00:a1:00:01", "eno2": "52:54:00:a1:00:02"})
    handler = read_with_includes(text, root)
    assert [(r.mountpoint, r.level, r.members) for r in handler.raid.raidList] == [  # type: ignore[attr-defined]
        ("/boot", "RAID1", ["raid.01", "raid.02"]), ("/", "RAID1", ["raid.11", "raid.12"])
    ]
    assert handler.ignoredisk.onlyuse == ["sda", "sdb"]  # type: ignore[attr-defined]
    devices = [(n.device, n.hostname) for n in handler.network.network]  # type: ignore[attr-defined]
    assert devices == [("", "kvm01.lab.local"), ("eno1", "")]


def test_one_disk_gets_autopart_and_an_unknown_nic_bootif(tmp_path: Path) -> None:
    text, root = run_discovery(tmp_path, ["vda"], {"ens3": "52:54:00:ff:00:01"})
    handler = read_with_includes(text, root)
    assert handler.autopart.autopart is True  # type: ignore[attr-defined]
    assert handler.raid.raidList == []  # type: ignore[attr-defined]
    assert handler.network.network[1].device == "bootif"  # type: ignore[attr-defined]


def test_pxe_discovery_example_render_matches_golden(regen: bool) -> None:
    from tests.examples import EXAMPLES, GOLDEN

    result = build(EXAMPLES / "pxe-discovery.yaml")
    assert [(f.key, f.rule, f.severity) for f in result.findings] == [("storage.include", "KS110", "info")]
    golden = GOLDEN / "pxe-discovery.ks.cfg"
    if regen:
        golden.write_text(result.kickstart.text)
    assert result.kickstart.text == golden.read_text(), "render of pxe-discovery changed; review, pytest --regen"


@pytest.mark.parametrize(("disks", "raids", "autopart"), [(["vda"], 0, True), (["sdb", "sda"], 2, False)])
def test_pxe_discovery_example_picks_the_layout_by_disk_count(
    tmp_path: Path, disks: list[str], raids: int, autopart: bool
) -> None:
    from tests.examples import EXAMPLES

    result = build(EXAMPLES / "pxe-discovery.yaml", shell=False)
    root = make_root(tmp_path / "root")
    rows = ["major minor  #blocks  name", ""] + [f"   8 {n * 16} 104857600 {d}" for n, d in enumerate(disks)]
    rows.append("   8 1 1024 sda1")  # a partition: not a disk
    (root / "proc/partitions").write_text("\n".join(rows) + "\n")
    (root / "proc/cpuinfo").write_text("flags\t\t: fpu vmx\n")
    runs = run_pre_scripts(root, parse_kickstart(result.kickstart.text, "ks.cfg").scripts)
    assert [r.returncode for r in runs] == [0, 0], [r.log for r in runs]
    handler = read_with_includes(result.kickstart.text, root)
    assert len(handler.raid.raidList) == raids  # type: ignore[attr-defined]
    assert handler.autopart.autopart is autopart  # type: ignore[attr-defined]
    assert handler.ignoredisk.onlyuse == sorted(disks)  # type: ignore[attr-defined]
    loader = handler.bootloader  # type: ignore[attr-defined]
    assert loader.appendLine == "intel_iommu=on iommu=pt console=ttyS0,115200n8 transparent_hugepage=never"


def test_pxe_discovery_example_post_runs(tmp_path: Path) -> None:
    from tests.examples import install_example

    install_example("pxe-discovery", make_root(tmp_path / "root", nic="enp2s0f0"))
    repos = tmp_path / "root/etc/yum.repos.d"
    assert sorted(p.name for p in repos.iterdir()) == ["EPEL-7.repo", "local.repo"]
    assert "includepkgs=htop python2-*\n" in (repos / "EPEL-7.repo").read_text()


@pytest.mark.parametrize("path", ["tmp/part-include", "/tmp/part include", "/tmp/x;touch /pwned", "/tmp/$(id)"])
def test_include_paths_that_could_break_out_are_refused(tmp_path: Path, path: str) -> None:
    from tests.helpers import schema_errors

    errors = schema_errors(tmp_path, MINIMAL + f"storage: {{layout: include, include: '{path}'}}\n",
                           name="host.yaml")
    assert any(e.startswith(at(tmp_path, 15, "storage.include")) and "absolute path" in e for e in errors), errors
