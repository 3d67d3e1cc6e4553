"""The rendered %post scripts, run for real with bash and busybox in a throwaway root (see tests/sandbox.py),
judged by the files they leave behind."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import MINIMAL, SHIPPED_PROFILES, write
from tests.sandbox import ANACONDA_IFCFG, make_root, parse_ifcfg, run_profile_posts


def run_profile(profile: Path, root: Path, overrides: tuple[str, ...] = ()) -> tuple[list[str], list[int]]:
    lines, runs = run_profile_posts(profile, root, overrides)
    return lines, [r.returncode for r in runs]


def test_kvm_hypervisor_post_leaves_the_lab_host(tmp_path: Path) -> None:
    root = make_root(tmp_path / "root", nic="enp2s0f0")
    lines, codes = run_profile(SHIPPED_PROFILES / "kvm-hypervisor.yaml", root)
    assert codes and set(codes) == {0}, lines

    scripts = root / "etc/sysconfig/network-scripts"
    nic = parse_ifcfg((scripts / "ifcfg-enp2s0f0").read_text())
    assert nic["BRIDGE"] == "br0"
    assert nic["BOOTPROTO"] == "none"
    assert nic["NM_CONTROLLED"] == "no"
    assert "IPADDR" not in nic
    bridge = parse_ifcfg((scripts / "ifcfg-br0").read_text())
    assert bridge["TYPE"] == "Bridge"
    assert bridge["IPADDR"] == "192.168.80.40"
    assert bridge["NETMASK"] == "255.255.255.0"
    assert bridge["GATEWAY"] == "192.168.80.1"
    assert (bridge["DNS1"], bridge["DNS2"]) == ("114.114.114.114", "8.8.8.8")
    assert bridge["STP"] == "yes"
    assert bridge["DELAY"] == "2"  # the shortest forward delay the kernel allows with STP
    assert bridge["ONBOOT"] == "yes"
    # The file anaconda wrote for the NIC is kept, unchanged, as .bak; no .bak for a file that did not exist.
    assert (scripts / "ifcfg-enp2s0f0.bak").read_text() == ANACONDA_IFCFG.format(device="enp2s0f0")
    assert not (scripts / "ifcfg-br0.bak").exists()

    nested = (root / "etc/modprobe.d/kvm-nested.conf").read_text().splitlines()
    assert "options kvm_intel nested=1" in nested and "options kvm_amd nested=1" in nested
    selinux = parse_ifcfg((root / "etc/selinux/config").read_text())
    assert selinux["SELINUX"] == "disabled"
    repo = (root / "etc/yum.repos.d/local.repo").read_text().splitlines()
    assert repo[0] == "[local]"
    assert "baseurl=http://192.168.80.1/centos7/local" in repo and "gpgcheck=0" in repo
    # default_network: keep leaves libvirt's NAT network alone.
    assert (root / "etc/libvirt/qemu/networks/default.xml").exists()
    assert (root / "etc/ksbuild/installed").read_text().startswith("profile=kvm-hypervisor\n")
    assert lines[-1] == "KSBUILD-STATUS: install-complete profile=kvm-hypervisor"


def test_rerun_keeps_the_first_backup(tmp_path: Path) -> None:
    root = make_root(tmp_path / "root", nic="enp2s0f0")
    run_profile(SHIPPED_PROFILES / "kvm-hypervisor.yaml", root)
    _, codes = run_profile(SHIPPED_PROFILES / "kvm-hypervisor.yaml", root)
    assert set(codes) == {0}
    backup = root / "etc/sysconfig/network-scripts/ifcfg-enp2s0f0.bak"
    assert backup.read_text() == ANACONDA_IFCFG.format(device="enp2s0f0")


def test_default_network_remove_and_intel_only(tmp_path: Path) -> None:
    root = make_root(tmp_path / "root", nic="enp2s0f0")
    _, codes = run_profile(
        SHIPPED_PROFILES / "kvm-hypervisor.yaml", root,
        ("virtualization.default_network=remove", "virtualization.cpu=intel", "system.selinux=permissive"),
    )
    assert set(codes) == {0}
    assert not (root / "etc/libvirt/qemu/networks/default.xml").exists()
    assert not (root / "etc/libvirt/qemu/networks/autostart/default.xml").is_symlink()
    assert (root / "etc/modprobe.d/kvm-nested.conf").read_text().count("options ") == 1
    assert "SELINUX=permissive" in (root / "etc/selinux/config").read_text()


def test_a_failing_user_script_stops_the_install_and_shows_its_output(tmp_path: Path) -> None:
    profile = write(tmp_path / "lab.yaml", MINIMAL + """\
scripts:
  post:
    - name: fetch-agent
      body: |
        echo "downloading agent"
        false
        echo "never printed"
    - name: after
      body: touch /after-ran
""")
    root = make_root(tmp_path / "root", nic="enp2s0f0")
    lines, codes = run_profile(profile, root)
    assert codes[-1] != 0
    assert not (root / "after-ran").exists()
    failure = [line for line in lines if line.startswith("KSBUILD-STATUS: script-failed")]
    assert failure == ["KSBUILD-STATUS: script-failed name=fetch-agent rc=1 line=" + failure[0].rsplit("=", 1)[1]]
    assert "KSBUILD-LOG: downloading agent" in lines
    assert not any("never printed" in line for line in lines)
    assert not any("install-complete" in line for line in lines)
