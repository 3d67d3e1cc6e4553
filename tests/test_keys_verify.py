"""The verification unit's new checks, run for real: the rendered %post scripts and then the verification script
run in the sandbox root (tests/sandbox.py) standing in for the installed host, with the files anaconda leaves
(kernel command line, vconsole.conf, localed's 00-keyboard.conf) written here the way anaconda writes them. The
report is read with the parser the boot test uses. A boot test shows the same on the test installer's system."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from builder.boot.report import parse_report
from builder.pipeline import BootTestVariant, BuildRequest, model, prepare
from builder.validate.kickstart import parse_kickstart
from tests.helpers import MINIMAL, write
from tests.sandbox import console, make_root, run_in_root, run_post_scripts

PROFILE = MINIMAL.replace("  hostname: kvm01.lab.local\n", """\
  hostname: kvm01.lab.local
  keyboard: {vckeymap: de-nodeadkeys, xlayouts: ['de (nodeadkeys)', us], switch: [grp:alt_shift_toggle]}
""").replace('  source: {url: "http://192.168.80.1/centos7/os/x86_64"}\n', """\
  source: {url: "http://192.168.80.1/centos7/os/x86_64"}
  repos:
    - {name: EPEL-7, baseurl: "http://192.168.80.1/epel/7", cost: 500, proxy: "http://proxy.lab.local:3128",
       proxy_username: yum, proxy_password_env: KSBUILD_TEST_PROXY, excludepkgs: [kernel*]}
    - {name: media, baseurl: "http://192.168.80.1/media", gpgcheck: false, file: false}
""") + """\
storage:
  bootloader: {append: [intel_iommu=on, "console=ttyS0,115200n8", hugepages=16]}
addons:
  kdump: {reserve_mb: 256}
"""
# What anaconda and the test installer leave: the boot loader's arguments after its own, the kdump addon's.
CMDLINE = "BOOT_IMAGE=/vmlinuz root=/dev/vda1 rw quiet intel_iommu=on console=ttyS0,115200n8 hugepages=16 " \
          "crashkernel=256M\n"
VCONSOLE = 'KEYMAP="de-nodeadkeys"\nFONT="latarcyrheb-sun16"\n'
XKB = """\
# Written by systemd-localed(8), read by systemd-localed and Xorg.
Section "InputClass"
        Identifier "system-keyboard"
        MatchIsKeyboard "on"
        Option "XkbLayout" "de,us"
        Option "XkbVariant" "nodeadkeys,"
        Option "XkbOptions" "grp:alt_shift_toggle"
EndSection
"""
SYSTEMCTL = """#!/bin/sh
# systemctl stand-in: kdump.service enabled (the addon's execute), everything else disabled.
case "$1 $2" in
    "is-enabled kdump.service") echo enabled ;;
    is-enabled*) echo disabled; exit 1 ;;
esac
exit 0
"""
NEW_CHECKS = ("cmdline:intel_iommu=on", "cmdline:console=ttyS0,115200n8", "cmdline:hugepages=16",
              "cmdline:crashkernel=256M", "keymap", "x-keyboard", "repo:EPEL-7", "repo-absent:media", "kdump-service")


@pytest.fixture
def installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A root after the install: %post run, plus what anaconda writes outside %post."""
    monkeypatch.setenv("KSBUILD_TEST_PROXY", "pw-not-in-the-verifier")
    request = BuildRequest(write(tmp_path / "host.yaml", PROFILE))
    modelled = model(request)
    variant = BootTestVariant(source=modelled.profile.install.source, verify=True)
    prepared = prepare(modelled, replace(request, variant=variant))
    assert "pw-not-in-the-verifier" not in prepared.kickstart.text.split("ksbuild-verify <<")[1].split("KSBUILD_EOF")[0]
    root = make_root(tmp_path / "root", nic="enp2s0f0")
    parsed = parse_kickstart(prepared.kickstart.text, "ks.cfg")
    with console(root):
        runs = run_post_scripts(root, parsed.scripts)
    assert {r.returncode for r in runs} == {0}, [r.log for r in runs if r.returncode]
    write(root / "proc/cmdline", CMDLINE)
    write(root / "etc/vconsole.conf", VCONSOLE)
    write(root / "etc/X11/xorg.conf.d/00-keyboard.conf", XKB)
    (root / "usr/bin/systemctl").write_text(SYSTEMCTL)
    return root


def verify(root: Path) -> dict[str, tuple[str, str]]:
    # The script reports to /dev/ttyS0 when it can write there: a plain file here, read back afterwards (appends
    # to a file cannot race the way a FIFO reader can).
    serial = root / "dev/ttyS0"
    serial.write_text("")
    done = run_in_root(root, "/bin/bash", "/usr/local/sbin/ksbuild-verify")
    lines = serial.read_text().splitlines()
    report = parse_report(lines)
    assert report.complete, (lines, done.stderr)
    return {c.name: (c.status, c.detail) for c in report.checks}


def test_the_new_checks_pass_on_a_host_as_rendered(installed: Path) -> None:
    checks = verify(installed)
    assert {name: checks[name][0] for name in NEW_CHECKS} == dict.fromkeys(NEW_CHECKS, "pass")
    assert checks["x-keyboard"][1] == "XkbLayout=de,us XkbVariant=nodeadkeys, XkbOptions=grp:alt_shift_toggle"


def test_each_new_check_fails_when_the_host_differs(installed: Path) -> None:
    write(installed / "proc/cmdline", CMDLINE.replace(" hugepages=16", "").replace("256M", "auto"))
    write(installed / "etc/vconsole.conf", 'KEYMAP="us"\n')
    write(installed / "etc/X11/xorg.conf.d/00-keyboard.conf", XKB.replace("grp:alt_shift_toggle", "grp:ctrl"))
    repo = installed / "etc/yum.repos.d/EPEL-7.repo"
    repo.write_text(repo.read_text().replace("cost=500", "cost=1000"))
    write(installed / "etc/yum.repos.d/media.repo", "[media]\n")
    (installed / "usr/bin/systemctl").write_text(SYSTEMCTL.replace('echo enabled ;;', 'echo disabled; exit 1 ;;'))
    checks = verify(installed)
    failed = {name for name in NEW_CHECKS if checks[name][0] == "fail"}
    assert failed == {"cmdline:hugepages=16", "cmdline:crashkernel=256M", "keymap", "x-keyboard", "repo:EPEL-7",
                      "repo-absent:media", "kdump-service"}
    assert checks["keymap"][1] == "KEYMAP=us in /etc/vconsole.conf, want de-nodeadkeys"


def test_a_repo_file_made_world_readable_fails(installed: Path) -> None:
    (installed / "etc/yum.repos.d/EPEL-7.repo").chmod(0o644)
    status, detail = verify(installed)["repo:EPEL-7"]
    assert status == "fail" and "mode 644" in detail
