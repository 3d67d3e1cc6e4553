"""A fleet of hosts of mixed targets: each host's kickstart for its own target (with its profile's when_target
entries for that target), each booting its target's installer, with anaconda options it understands."""

from __future__ import annotations

from pathlib import Path

import pytest

from builder.errors import BadInput, ChecksFailed
from builder.fleet.render import render_fleet
from builder.validate.kickstart import handler_version, parse_kickstart
from builder.vocabulary import Roots
from tests.helpers import SHIPPED_PROFILES, fleet_kickstart, write

INVENTORY = f"""\
description: a lab moving from CentOS 7 to EL9
pxe:
  server: http://192.168.80.1:8080
  kernel: centos7/vmlinuz
  initrd: centos7/initrd.img
  kernel_args: ["console=ttyS0,115200n8"]
  images:
    el9: {{kernel: el9/vmlinuz, initrd: el9/initrd.img}}
    rocky8: {{kernel: rocky8/vmlinuz, initrd: rocky8/initrd.img,
             repo: "http://192.168.80.1/rocky8/BaseOS/x86_64/os/"}}
dhcp:
  subnet: 192.168.80.0/24
  gateway: 192.168.80.1
defaults:
  profile: {SHIPPED_PROFILES / "kvm-hypervisor.yaml"}
  firmware: bios
groups:
  new:
    values: {{target: el9}}
hosts:
  - hostname: kvm01.lab.local
    macs: ["52:54:00:aa:00:01"]
    set:
      network.bridges[0].ipv4.address: 192.168.80.41/24
  - hostname: kvm02.lab.local
    group: new
    macs: ["52:54:00:aa:00:02"]
    set:
      network.bridges[0].ipv4.address: 192.168.80.42/24
  - hostname: kvm03.lab.local
    macs: ["52:54:00:aa:00:03"]
    set:
      target: rocky8
      network.bridges[0].ipv4.address: 192.168.80.43/24
"""


def render(path: Path, out: Path) -> None:
    render_fleet(path, out, roots=Roots.under(path.parent))


def test_each_host_gets_its_targets_kickstart_and_installer(tmp_path: Path) -> None:
    inventory = write(tmp_path / "lab.yaml", INVENTORY)
    out = tmp_path / "out"
    render(inventory, out)
    texts = {host: fleet_kickstart(out, host).read_text() for host in ("kvm01.lab.local", "kvm02.lab.local",
                                                                        "kvm03.lab.local")}
    centos, el9, el8 = texts["kvm01.lab.local"], texts["kvm02.lab.local"], texts["kvm03.lab.local"]
    # CentOS 7: the lab guide's host. EL9 (from the group): keyfiles, the profile's el9 mirror. rocky8 (set): EL8.
    assert "\ninstall\n" in centos and "NM_CONTROLLED=no" in centos and "#version=" not in centos
    assert el9.splitlines()[1] == "#version=RHEL9" and "br0.nmconnection" in el9
    assert "url --url=http://192.168.80.1/el9/BaseOS/x86_64/os/" in el9
    assert "--disabled=firewalld\n" in el9  # the el9 entry of when_target, not CentOS 7's NetworkManager off
    assert el8.splitlines()[1] == "#version=RHEL8" and "url --url=http://192.168.80.1/el8/BaseOS/x86_64/os/" in el8
    for text, version in ((centos, "RHEL7"), (el9, "RHEL9"), (el8, "RHEL8")):
        assert parse_kickstart(text, "ks.cfg", version=handler_version(version)).findings == ()
    # Each host boots its target's installer; inst.repo is the host's tree unless the target's image says.
    entries = {host: (out / f"tftp/pxelinux.cfg/01-52-54-00-aa-00-0{n}").read_text()
               for n, host in enumerate(texts, start=1)}
    assert "KERNEL centos7/vmlinuz" in entries["kvm01.lab.local"]
    assert "inst.repo=http://192.168.80.1/centos7/os/x86_64 " in entries["kvm01.lab.local"]
    assert "KERNEL el9/vmlinuz" in entries["kvm02.lab.local"]
    assert "initrd=el9/initrd.img" in entries["kvm02.lab.local"]
    assert "inst.repo=http://192.168.80.1/el9/BaseOS/x86_64/os/ " in entries["kvm02.lab.local"]
    assert "KERNEL rocky8/vmlinuz" in entries["kvm03.lab.local"]
    assert "inst.repo=http://192.168.80.1/rocky8/BaseOS/x86_64/os/ " in entries["kvm03.lab.local"]
    # Deterministic: rendering the same inputs again gives the same tree, byte for byte.
    before = {p: p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file() and p.name != ".state.lock"}
    for path in (out / "http/ks").rglob("*.cfg"):
        path.unlink()  # force the hosts to be rendered again, not just found up to date
    render(inventory, out)
    after = {p: p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file() and p.name != ".state.lock"}
    assert after == before


def test_hosts_of_two_targets_cannot_share_one_installer(tmp_path: Path) -> None:
    text = INVENTORY.replace("    el9: {kernel: el9/vmlinuz, initrd: el9/initrd.img}\n", "")
    inventory = write(tmp_path / "lab.yaml", text)
    with pytest.raises(ChecksFailed) as caught:
        render(inventory, tmp_path / "out")
    messages = [f.format() for f in caught.value.findings]
    assert any("pxe.images: hosts of 2 targets would boot the one installer in pxe.kernel and pxe.initrd "
               "(centos7: kvm01.lab.local; el9: kvm02.lab.local)" in m for m in messages), messages


def test_anaconda_options_without_inst_on_el8_and_el9(tmp_path: Path) -> None:
    text = INVENTORY.replace('kernel_args: ["console=ttyS0,115200n8"]', 'kernel_args: ["console=ttyS0,115200n8", text]')
    inventory = write(tmp_path / "lab.yaml", text)
    with pytest.raises(ChecksFailed) as caught:
        render(inventory, tmp_path / "out")
    found = {(f.key, f.severity, f.message) for f in caught.value.findings if f.key == "pxe.kernel_args[1]"}
    assert found == {
        ("pxe.kernel_args[1]", "error", "text: EL9's installer ignores anaconda options without the inst. prefix; "
         "write inst.text"),
        ("pxe.kernel_args[1]", "warning", "text: EL8's installer deprecates anaconda options without the inst. "
         "prefix; write inst.text"),
    }


def test_boot_files_per_target(tmp_path: Path) -> None:
    inventory = write(tmp_path / "lab.yaml", INVENTORY)
    media = tmp_path / "el9-media"
    media.mkdir()
    (media / "vmlinuz").write_bytes(b"el9 kernel")
    (media / "initrd.img").write_bytes(b"el9 initrd")
    out = tmp_path / "out"
    render_fleet(inventory, out, roots=Roots.under(tmp_path),
                 target_boot_files={"el9": (media / "vmlinuz", media / "initrd.img")})
    assert (out / "tftp/el9/vmlinuz").read_bytes() == b"el9 kernel"
    assert (out / "tftp/el9/initrd.img").read_bytes() == b"el9 initrd"
    with pytest.raises(BadInput, match=r"no pxe\.images entry for el8"):
        render_fleet(inventory, tmp_path / "out2", roots=Roots.under(tmp_path),
                     target_boot_files={"el8": (media / "vmlinuz", media / "initrd.img")})


def test_boot_files_option_splits_plain_and_per_target() -> None:
    from builder.cli.fleet_commands import _split_boot_locations

    assert _split_boot_locations(("/srv/c7", "el9=/srv/r9", "rocky8=http://m/?a=b")) == (
        "/srv/c7", {"el9": "/srv/r9", "rocky8": "http://m/?a=b"})
    assert _split_boot_locations(("http://m/tree?x=1",)) == ("http://m/tree?x=1", {})
    with pytest.raises(BadInput, match="one LOCATION"):
        _split_boot_locations(("/a", "/b"))
