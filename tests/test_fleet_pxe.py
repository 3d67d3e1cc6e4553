"""PXE artifacts: pxelinux, GRUB2 and iPXE entries per MAC, local-boot defaults, the dnsmasq snippet (checked
by the real grub-script-check and dnsmasq --test), and the install-once switch."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from builder.errors import BadInput, ChecksFailed, Location
from builder.fleet import pxe, state
from builder.fleet import tree as fleet_tree
from builder.fleet.render import render_fleet
from builder.proc import find_tool, run
from tests.helpers import fleet_token, report_install

DATA = Path(__file__).parent / "data" / "fleet"


def ks_url(tree: Path, host: str) -> str:
    return f"inst.ks=http://192.168.80.1:8080/ks/{host}/{fleet_token(tree, host)}.cfg"


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example inventory rendered once (kvm01 and kvm02 BIOS, kvm03 UEFI; kvm02 has two NICs)."""
    work = tmp_path_factory.mktemp("fleet")
    shutil.copytree(DATA / "profiles", work / "profiles")
    shutil.copy(DATA / "lab.yaml", work / "lab.yaml")
    render_fleet(work / "lab.yaml", work / "out")
    return work / "out"


def test_a_bios_host_boots_the_installer_with_its_own_kickstart(tree: Path) -> None:
    entry = (tree / "tftp/pxelinux.cfg/01-52-54-00-aa-00-01").read_text().splitlines()
    assert "DEFAULT install" in entry
    assert "  KERNEL centos7/vmlinuz" in entry
    append = next(line for line in entry if line.startswith("  APPEND "))
    assert append.split()[1:] == [
        "initrd=centos7/initrd.img",
        ks_url(tree, "kvm01.lab.local"),
        "inst.repo=http://192.168.80.1/centos7/os/x86_64",
        "ip=dhcp",
        "BOOTIF=01-52-54-00-aa-00-01",
        "console=ttyS0,115200n8",
    ]
    assert not (tree / "tftp/grub2/grub.cfg-01-52-54-00-aa-00-01").exists()


def test_each_mac_of_a_host_gets_entries_that_name_the_boot_nic(tree: Path) -> None:
    for mac in ("52-54-00-aa-00-02", "52-54-00-aa-01-02"):
        text = (tree / f"tftp/pxelinux.cfg/01-{mac}").read_text()
        assert ks_url(tree, "kvm02.lab.local") in text
        # Whichever NIC booted, the installer is told the boot NIC: the first MAC.
        assert "BOOTIF=01-52-54-00-aa-00-02" in text
        assert ks_url(tree, "kvm02.lab.local") in (tree / f"http/ipxe/{mac}.ipxe").read_text()


def test_a_uefi_host_gets_a_grub_entry_that_grub_script_check_accepts(tree: Path) -> None:
    grub = tree / "tftp/grub2/grub.cfg-01-52-54-00-aa-00-03"
    text = grub.read_text()
    assert f"linuxefi /centos7/vmlinuz {ks_url(tree, 'kvm03.lab.local')} " in text
    assert "initrdefi /centos7/initrd.img" in text
    assert f"linux /centos7/vmlinuz {ks_url(tree, 'kvm03.lab.local')} " in text
    assert "initrd /centos7/initrd.img" in text
    assert not (tree / "tftp/pxelinux.cfg/01-52-54-00-aa-00-03").exists()
    # The same entry under $net_default_mac's spelling, which grub.cfg opens for GRUBs that read it first.
    assert (tree / "tftp/grub2/grub.cfg-01-52:54:00:aa:00:03").read_text() == text
    checker = find_tool("grub-script-check")
    for path in (grub, tree / "tftp/grub2/grub.cfg"):
        run([checker, str(path)])
    local = pxe.read_entries(tree, "kvm03.lab.local")["tftp/grub2/grub.cfg-01-52-54-00-aa-00-03"][pxe.LOCAL]
    staged = tree.parent / "grub-local.cfg"
    staged.write_bytes(local)
    run([checker, str(staged)])


def test_grub_script_check_catches_a_broken_config(tmp_path: Path) -> None:
    # The check above means something only if grub-script-check does refuse bad scripts.
    broken = tmp_path / "grub.cfg"
    broken.write_text("menuentry 'x' {\n    linux /vmlinuz\n")
    result = run([find_tool("grub-script-check"), str(broken)], check=False)
    assert result.returncode != 0


def test_unknown_machines_boot_their_local_disk(tree: Path) -> None:
    pxelinux = (tree / "tftp/pxelinux.cfg/default").read_text()
    assert "DEFAULT local" in pxelinux and "LOCALBOOT 0" in pxelinux
    assert "KERNEL" not in pxelinux and "inst.ks" not in pxelinux
    grub = (tree / "tftp/grub2/grub.cfg").read_text()
    assert "chainloader $loader" in grub and "inst.ks" not in grub and "linuxefi" not in grub
    assert 'configfile "$config_directory/grub.cfg-01-$net_default_mac"' in grub
    boot = (tree / "http/ipxe/boot.ipxe").read_text()
    assert "chain --autofree ${mac:hexhyp}.ipxe || goto local" in boot
    assert boot.rstrip().endswith("exit")


def test_the_dnsmasq_snippet_passes_dnsmasq_test_and_has_every_host(tree: Path) -> None:
    conf = tree / "dnsmasq.conf"
    result = run([find_tool("dnsmasq"), "--test", f"--conf-file={conf}"])
    assert "syntax check OK" in result.stderr + result.stdout
    lines = conf.read_text().splitlines()
    assert f'tftp-root="{(tree / "tftp").resolve()}"' in lines  # quoted: a comma or # in a path is no syntax
    assert "dhcp-range=192.168.80.200,192.168.80.250,255.255.255.0,12h" in lines
    assert "dhcp-option=option:router,192.168.80.1" in lines
    assert [line for line in lines if line.startswith("dhcp-host=")] == [
        "dhcp-host=52:54:00:aa:00:01,192.168.80.41,kvm01",
        "dhcp-host=52:54:00:aa:00:02,52:54:00:aa:01:02,192.168.80.42,kvm02",
        "dhcp-host=52:54:00:aa:00:03,192.168.80.43,kvm03",
    ]
    assert 'dhcp-boot=tag:ipxe,"http://192.168.80.1:8080/ipxe/boot.ipxe"' in lines
    assert "dhcp-boot=tag:!ipxe,tag:efi-x86_64,grub2/shimx64.efi,,192.168.80.1" in lines
    assert "dhcp-boot=tag:!ipxe,tag:!efi-x86_64,pxelinux.0,,192.168.80.1" in lines


def test_dnsmasq_test_refuses_a_broken_snippet(tmp_path: Path) -> None:
    broken = tmp_path / "dnsmasq.conf"
    broken.write_text("dhcp-range=not-an-address\n")
    assert run([find_tool("dnsmasq"), "--test", f"--conf-file={broken}"], check=False).returncode != 0


def test_pxelinux_is_copied_from_debians_packages(tree: Path) -> None:
    for name, folder in pxe.SYSLINUX_FILES.items():
        assert (tree / "tftp" / name).read_bytes() == (folder / name).read_bytes()


def test_an_install_report_switches_every_entry_of_the_host_to_local_boot(tmp_path: Path, tree: Path) -> None:
    copy = tmp_path / "out"
    shutil.copytree(tree, copy)
    entries = ["http/ipxe/52-54-00-aa-00-02.ipxe", "http/ipxe/52-54-00-aa-01-02.ipxe",
               "tftp/pxelinux.cfg/01-52-54-00-aa-00-02", "tftp/pxelinux.cfg/01-52-54-00-aa-01-02"]
    report_install(copy, "kvm02.lab.local")
    for path in entries:
        text = (copy / path).read_text()
        assert "kvm02.lab.local is installed; booting from local disk" in text
        assert "inst.ks" not in text
    assert state.read(copy)["kvm02.lab.local"].status == "installed"
    # Other hosts are untouched.
    assert "inst.ks" in (copy / "tftp/pxelinux.cfg/01-52-54-00-aa-00-01").read_text()
    assert sorted(fleet_tree.reinstall(copy, "kvm02.lab.local")) == entries
    assert all("inst.ks" in (copy / path).read_text() for path in entries)
    assert state.read(copy)["kvm02.lab.local"].status == "pending"


def test_the_switch_refuses_hosts_it_does_not_know(tmp_path: Path, tree: Path) -> None:
    copy = tmp_path / "out"
    shutil.copytree(tree, copy)
    token = state.read(copy)["kvm01.lab.local"].token
    assert state.record_report(copy, "../../etc/passwd", token, "installed", "10.0.0.1") == "no such host"
    with pytest.raises(BadInput, match="no host named 'nothere'"):
        fleet_tree.reinstall(copy, "nothere")
    with pytest.raises(BadInput, match="run `ksbuild fleet render` first"):
        fleet_tree.reinstall(tmp_path, "kvm01.lab.local")


def lab_with(tmp_path: Path, old: str, new: str) -> Path:
    shutil.copytree(DATA / "profiles", tmp_path / "profiles")
    text = (DATA / "lab.yaml").read_text()
    assert old in text
    (tmp_path / "lab.yaml").write_text(text.replace(old, new))
    return tmp_path / "lab.yaml"


def line_with(path: Path, needle: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), start=1) if needle in line)


@pytest.mark.parametrize("repo", ["http://192.168.80.1/os;reboot", "http://192.168.80.1/os}", "http://h/os&x",
                                  "http://h/os|x", "http://h/os<x", "http://h/a(b)", "http://h/a?b"])
def test_a_url_grub_ipxe_or_pxelinux_would_read_as_syntax_is_refused_at_its_key(tmp_path: Path, repo: str) -> None:
    # `inst.repo=http://.../os;reboot` would be two GRUB commands; `}` ends the menuentry; grub-script-check
    # passes the first, so the value is refused where it is given, before anything is rendered.
    inventory = lab_with(tmp_path, "  kernel: centos7/vmlinuz\n", f"  repo: '{repo}'\n  kernel: centos7/vmlinuz\n")
    with pytest.raises(BadInput) as caught:
        render_fleet(inventory, tmp_path / "out")
    (finding,) = caught.value.findings
    assert finding.location == Location(str(inventory), line_with(inventory, "  repo: ")) and finding.key == "pxe.repo"
    assert "goes into the GRUB, pxelinux and iPXE entries" in finding.message
    assert not (tmp_path / "out").exists()


def test_a_profile_url_used_as_inst_repo_is_checked_the_same(tmp_path: Path) -> None:
    inventory = lab_with(tmp_path, "hosts:\n", "hosts:\n")
    profile = tmp_path / "profiles/hv.yaml"
    text = profile.read_text()
    url = next(line for line in text.splitlines() if "url:" in line).split("url:", 1)[1].strip().strip("'\"}")
    profile.write_text(text.replace(url, url + ";reboot"))
    with pytest.raises(ChecksFailed) as caught:
        render_fleet(inventory, tmp_path / "out")
    messages = [f.format() for f in caught.value.findings]
    assert len(messages) == 3  # each host, at its entry, with the profile's line
    assert all("install.source.url" in m and "goes into the GRUB, pxelinux and iPXE entries" in m for m in messages)
    assert all(f"(value from {profile}:{line_with(profile, ';reboot')})" in m for m in messages), messages


def test_a_comma_in_the_server_url_is_quoted_in_dnsmasq_by_its_rules(tmp_path: Path) -> None:
    inventory = lab_with(tmp_path, "  server: http://192.168.80.1:8080\n", '  server: "http://192.168.80.1:8080/a,b"\n')
    render_fleet(inventory, tmp_path / "out")
    lines = (tmp_path / "out/dnsmasq.conf").read_text().splitlines()
    assert 'dhcp-boot=tag:ipxe,"http://192.168.80.1:8080/a,b/ipxe/boot.ipxe"' in lines
    assert "syntax check OK" in run([find_tool("dnsmasq"), "--test", f"--conf-file={tmp_path / 'out/dnsmasq.conf'}"]
                                    ).stderr


def test_what_the_real_checkers_refuse_is_never_written(tmp_path: Path) -> None:
    # Template overrides that break a GRUB entry and the dnsmasq snippet: grub-script-check and dnsmasq --test
    # run on what the render is about to write, and refuse it, at the generated file's line.
    inventory = lab_with(tmp_path, "description: lab hypervisors\n", "description: lab hypervisors\ntemplates: site\n")
    (tmp_path / "site/pxe").mkdir(parents=True)
    grub = (Path(__file__).parent.parent / "kickstart_templates/pxe/grub-install.j2").read_text()
    (tmp_path / "site/pxe/grub-install.j2").write_text(grub.replace("    initrdefi /", "    } initrdefi /"))
    with pytest.raises(ChecksFailed) as caught:
        render_fleet(inventory, tmp_path / "out")
    (grub_finding, *_) = [f for f in caught.value.findings if f.message.startswith("host kvm03.lab.local")]
    assert "grub-script-check: syntax error in the install entry" in grub_finding.message
    assert grub_finding.location is not None and grub_finding.location.file.startswith("tftp/grub2/grub.cfg-01-")
    assert not (tmp_path / "out/manifest.json").exists()
    (tmp_path / "site/pxe/grub-install.j2").unlink()
    dnsmasq = (Path(__file__).parent.parent / "kickstart_templates/pxe/dnsmasq.conf.j2").read_text()
    (tmp_path / "site/pxe/dnsmasq.conf.j2").write_text(dnsmasq + "dhcp-frobnicate=1\n")
    with pytest.raises(ChecksFailed) as caught:
        render_fleet(inventory, tmp_path / "out")
    (finding,) = caught.value.findings
    assert finding.message == "dnsmasq --test: bad option"
    assert finding.location is not None and finding.location.file == "dnsmasq.conf" and finding.location.line
    assert not (tmp_path / "out/manifest.json").exists()


def test_a_missing_checker_is_a_note_not_a_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    inventory = lab_with(tmp_path, "hosts:\n", "hosts:\n")
    bin_dir = tmp_path / "bin"  # bash only: no grub-script-check, no dnsmasq
    bin_dir.mkdir()
    (bin_dir / "bash").symlink_to(find_tool("bash"))
    monkeypatch.setenv("PATH", str(bin_dir))
    outcome = render_fleet(inventory, tmp_path / "out", jobs=1)
    assert any(note.startswith("grub-script-check not found") for note in outcome.notes), outcome.notes
    assert any(note.startswith("dnsmasq not found") for note in outcome.notes), outcome.notes
    assert (tmp_path / "out/manifest.json").is_file()
