"""`ksbuild import` as a user runs it: the profile file it writes (and refuses to overwrite), the report, plaintext
passwords refused without being repeated, `--rootpw-hash`, `--extends`, and a profile `render` takes as it is."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import yaml

from builder.load.profile_loader import load_profile
from builder.model.build import build_profile
from builder.vocabulary import Roots
from tests.helpers import REPO, ROOT_HASH, SHIPPED_PROFILES, run_cli, write

CORPUS = REPO / "tests/data/kickstarts/import"
PLAINTEXT = "s3cret-Plain"
PLAIN_KS = f"""\
text
url --url=http://10.0.0.1/centos/7/os/x86_64
lang en_US.UTF-8
keyboard us
timezone UTC --utc
network --device=eth0 --bootproto=dhcp --hostname=plain01.lab.example
rootpw --plaintext {PLAINTEXT}
ignoredisk --only-use=sda
clearpart --all --initlabel
zerombr
bootloader --location=mbr --boot-drive=sda
autopart --type=lvm
reboot

%packages
@core
%end
"""


def test_writes_the_profile_and_reports_every_line(tmp_path: Path) -> None:
    run = run_cli("import", str(CORPUS / "lab-guide.ks"), "-o", "kvm01.yaml", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].endswith("lab-guide.ks: mapped 71 lines, passed through 0")
    assert lines[-1] == "wrote kvm01.yaml"
    text = (tmp_path / "kvm01.yaml").read_text()
    assert "  hostname: kvm01.lab.local  # line 11\n" in text
    # It holds a password hash: only its owner may read it, as the kickstart rendered from it.
    assert stat.S_IMODE((tmp_path / "kvm01.yaml").stat().st_mode) == 0o600
    rendered = run_cli("render", "kvm01.yaml", cwd=tmp_path)
    assert rendered.returncode == 0, rendered.stderr


def test_a_profile_whose_hashes_are_in_passed_through_lines_is_owner_only(tmp_path: Path) -> None:
    # No users.root.password_hash: the hashes are in the `user` and `sshpw` lines kept as written.
    write(tmp_path / "host.ks", f"""\
text
url --url=http://10.0.0.1/centos/7/os/x86_64
timezone UTC --utc
user --name=ops --uid=1500 --iscrypted --password={ROOT_HASH}
sshpw --username=installer --iscrypted {ROOT_HASH}
ignoredisk --only-use=sda
clearpart --all --initlabel
zerombr
bootloader --location=mbr --boot-drive=sda
autopart --type=lvm
reboot
""")
    run = run_cli("import", "host.ks", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert ROOT_HASH in (tmp_path / "host.yaml").read_text()
    assert stat.S_IMODE((tmp_path / "host.yaml").stat().st_mode) == 0o600


def test_the_same_kickstart_gives_the_same_bytes(tmp_path: Path) -> None:
    for name in ("a.yaml", "b.yaml"):
        assert run_cli("import", str(CORPUS / "bond-vlan-bridge.ks"), "-o", name, cwd=tmp_path).returncode == 0
    assert (tmp_path / "a.yaml").read_bytes() == (tmp_path / "b.yaml").read_bytes()


def test_an_existing_profile_is_kept_unless_forced(tmp_path: Path) -> None:
    write(tmp_path / "host.yaml", "# mine\n")
    run = run_cli("import", str(CORPUS / "lab-guide.ks"), "-o", "host.yaml", cwd=tmp_path)
    assert run.returncode == 2
    assert "host.yaml exists; nothing written (--force replaces it)" in run.stderr
    assert (tmp_path / "host.yaml").read_text() == "# mine\n"
    assert [p.name for p in tmp_path.iterdir()] == ["host.yaml"]  # no temporary file left behind
    forced = run_cli("import", str(CORPUS / "lab-guide.ks"), "-o", "host.yaml", "--force", cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert (tmp_path / "host.yaml").read_text().startswith("# Imported by ksbuild")


def test_standard_output_gets_the_profile_and_standard_error_the_report(tmp_path: Path) -> None:
    run = run_cli("import", str(CORPUS / "kernel-args.ks"), "-o", "-", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    data = yaml.safe_load(run.stdout)
    assert data["storage"]["bootloader"]["append"] == ["intel_iommu=on", "iommu=pt", "hugepagesz=1G", "hugepages=16",
                                                       "console=tty0", "console=ttyS0,115200n8"]
    assert "mapped 26 lines, passed through 0" in run.stderr
    assert list(tmp_path.iterdir()) == []


def test_json_report(tmp_path: Path) -> None:
    run = run_cli("import", str(CORPUS / "keyboard-de.ks"), "--format", "json", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["profile"] == "keyboard-de.yaml" and (tmp_path / "keyboard-de.yaml").is_file()
    passed = [(e["line"], e["keys"]) for e in report["entries"] if e["outcome"] == "passed"]
    assert passed == [(13, ["kickstart.extra_commands[0]"]), (16, ["kickstart.extra_commands[1]"])]


def test_a_plaintext_root_password_is_refused_and_never_repeated(tmp_path: Path) -> None:
    kickstart = write(tmp_path / "plain.ks", PLAIN_KS)
    run = run_cli("import", "plain.ks", cwd=tmp_path)
    assert run.returncode == 2
    assert "plain.ks:7: users.root.password_hash: rootpw holds a plaintext password" in run.stderr
    assert "openssl passwd -6" in run.stderr and "--rootpw-hash" in run.stderr
    assert PLAINTEXT not in run.stdout + run.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [kickstart.name]


def test_rootpw_hash_replaces_the_plaintext(tmp_path: Path) -> None:
    write(tmp_path / "plain.ks", PLAIN_KS)
    run = run_cli("import", "plain.ks", "--rootpw-hash", ROOT_HASH, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    text = (tmp_path / "plain.yaml").read_text()
    # ssh_password: CentOS 7's sshd lets root log in with that password; the profile keeps it on any target.
    assert yaml.safe_load(text)["users"]["root"] == {"password_hash": ROOT_HASH, "ssh_password": True}
    assert PLAINTEXT not in text + run.stdout + run.stderr
    assert "the hash given with --rootpw-hash replaces this line's value" in run.stdout


def test_a_rootpw_hash_that_is_no_hash_is_refused_without_echo(tmp_path: Path) -> None:
    write(tmp_path / "plain.ks", PLAIN_KS)
    run = run_cli("import", "plain.ks", "--rootpw-hash", "hunter2", cwd=tmp_path)
    assert run.returncode == 2
    assert "--rootpw-hash is not a crypt(3) hash" in run.stderr and "hunter2" not in run.stderr


def test_nic_name_gives_a_nic_named_by_mac_its_interface(tmp_path: Path) -> None:
    run = run_cli("import", str(CORPUS / "foreman-mac-static.ks"), "-o", "kvm17.yaml", "--nic-name",
                  "52:54:00:3C:00:07=eno1", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "not carried" not in run.stdout
    network = yaml.safe_load((tmp_path / "kvm17.yaml").read_text())["network"]
    assert network["interfaces"][0]["name"] == "eno1" and network["install_device"] == "52:54:00:3c:00:07"
    rendered = run_cli("render", "kvm17.yaml", "-o", "out", cwd=tmp_path)
    assert rendered.returncode == 0, rendered.stderr
    kickstart = (tmp_path / "out/ks.cfg").read_text()
    assert ("network --device=52:54:00:3c:00:07 --bootproto=static --ip=192.0.2.57 --netmask=255.255.255.0 "
            "--gateway=192.0.2.1 --nameserver=192.0.2.53") in kickstart


def test_a_bad_nic_name_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    kickstart = str(CORPUS / "foreman-mac-static.ks")
    for value, message in (
            ("eno1", "--nic-name 'eno1': give a MAC and the NIC's kernel name, such as --nic-name "
                     "52:54:00:12:34:56=eno1"),
            ("52:54:00:3c:00:07=eth0:1", "give a MAC and the NIC's kernel name"),
            ("52:54:00:3c:00:08=eno1", "--nic-name 52:54:00:3c:00:08: no `network --device=` line of "),
    ):
        run = run_cli("import", kickstart, "-o", "out.yaml", "--nic-name", value, cwd=tmp_path)
        assert run.returncode == 2 and message in run.stderr, run.stderr
        assert "Traceback" not in run.stderr and not (tmp_path / "out.yaml").exists()
    twice = run_cli("import", kickstart, "-o", "out.yaml", "--nic-name", "52:54:00:3c:00:07=eno1", "--nic-name",
                    "52:54:00:3c:00:07=eno2", cwd=tmp_path)
    assert twice.returncode == 2 and "52:54:00:3c:00:07 is named twice (eno1, eno2)" in twice.stderr


def test_a_profile_that_reads_a_passphrase_at_render_time_is_still_validated(tmp_path: Path) -> None:
    """The LUKS passphrase becomes KSBUILD_LUKS_PASSPHRASE, unset here: the import validates the render anyway
    (with a placeholder it never writes), so the render's findings reach the user now, not at the first render."""
    kickstart = PLAIN_KS.replace("rootpw --plaintext " + PLAINTEXT, "rootpw --lock").replace(
        "autopart --type=lvm\n", "part /boot --fstype=xfs --size=1024 --ondisk=sda\n"
        "part / --fstype=xfs --size=1 --grow --ondisk=sda --encrypted --passphrase=correct-horse-battery\n")
    write(tmp_path / "luks.ks", kickstart)
    env = {k: v for k, v in os.environ.items() if k != "KSBUILD_LUKS_PASSPHRASE"}
    run = subprocess.run([sys.executable, "-m", "builder", "import", "luks.ks"], cwd=tmp_path, capture_output=True,
                         text=True, timeout=120, check=False, env=env)
    assert run.returncode == 0, run.stderr
    # A finding only the rendered kickstart's validation gives (the profile keeps NetworkManager on).
    assert "NetworkManager stays on while ksbuild writes ifcfg files" in run.stderr
    text = (tmp_path / "luks.yaml").read_text()
    assert "passphrase_env: KSBUILD_LUKS_PASSPHRASE" in text
    assert "correct-horse-battery" not in text + run.stdout + run.stderr
    assert "placeholder" not in text + run.stdout + run.stderr


def _same_as_without_extends(tmp_path: Path, kickstart: Path, child: str) -> None:
    """The child merged over its base is the profile the import writes without --extends."""
    full = run_cli("import", str(kickstart), "-o", "full.yaml", cwd=tmp_path)
    assert full.returncode == 0, full.stderr
    roots = Roots((tmp_path, SHIPPED_PROFILES), workdir=tmp_path)
    merged, whole = (load_profile(tmp_path / name, roots=roots) for name in (child, "full.yaml"))
    assert build_profile(merged.data, merged.locate) == build_profile(whole.data, whole.locate)


def test_extends_writes_only_what_differs(tmp_path: Path) -> None:
    run = run_cli("import", str(CORPUS / "lab-guide.ks"), "-o", "lab.yaml", "--extends", "kvm-hypervisor",
                  cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    child = yaml.safe_load((tmp_path / "lab.yaml").read_text())
    # The lab guide typed by hand is the shipped lab profile: only the description differs.
    assert child == {"extends": "kvm-hypervisor", "description": "imported from lab-guide.ks"}
    _same_as_without_extends(tmp_path, CORPUS / "lab-guide.ks", "lab.yaml")

def test_extends_a_base_that_says_the_opposite(tmp_path: Path) -> None:
    """What the base sets and the kickstart does not becomes null or the default, so the merge is the import."""
    write(tmp_path / "site.yaml", f"""\
        install:
          source: {{url: "http://10.0.0.1/centos/7/os/x86_64"}}
          repos:
            - {{name: site, baseurl: "http://10.0.0.1/site"}}
        system:
          hostname: base.lab.example
          firewall: {{enabled: true, services: [ssh, http]}}
          services: {{enabled: [chronyd]}}
        users:
          root: {{password_hash: "{ROOT_HASH}", lock: true}}
        network:
          interfaces:
            - {{name: eno9, ipv4: {{dhcp: true}}}}
        """)
    run = run_cli("import", str(CORPUS / "kdump-addons.ks"), "-o", "crash.yaml", "--extends", "site.yaml",
                  cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    child = yaml.safe_load((tmp_path / "crash.yaml").read_text())
    assert child["extends"] == "site.yaml"
    assert child["install"]["repos"] == []              # lists replace: the base's repo is gone
    assert child["users"]["root"]["lock"] is False      # the kickstart does not lock root
    assert child["system"]["firewall"]["services"] == ["ssh"]
    assert child["system"]["services"]["enabled"] == []
    assert child["network"]["interfaces"] == [{"name": "eth0", "ipv4": {"dhcp": True}, "ipv6": True}]
    rendered = run_cli("render", "crash.yaml", cwd=tmp_path)
    assert rendered.returncode == 0, rendered.stderr
    _same_as_without_extends(tmp_path, CORPUS / "kdump-addons.ks", "crash.yaml")


def test_a_file_name_render_cannot_use_is_refused(tmp_path: Path) -> None:
    run = run_cli("import", str(CORPUS / "lab-guide.ks"), "-o", "my host.yaml", cwd=tmp_path)
    assert run.returncode == 2
    assert "a profile file name may only use letters, digits" in run.stderr
    assert list(tmp_path.iterdir()) == []


def test_an_unreadable_kickstart(tmp_path: Path) -> None:
    (tmp_path / "bin.ks").write_bytes(b"text\n\xff\xfe\n")
    run = run_cli("import", "bin.ks", cwd=tmp_path)
    assert run.returncode == 2 and "not UTF-8" in run.stderr and "Traceback" not in run.stderr
    run = run_cli("import", "missing.ks", cwd=tmp_path)
    assert run.returncode == 2 and "Traceback" not in run.stderr


def test_a_kickstart_that_does_not_validate_is_refused_with_its_lines(tmp_path: Path) -> None:
    run = run_cli("import", str(REPO / "tests/data/kickstarts/bad-post-syntax.ks"), cwd=tmp_path)
    assert run.returncode == 1
    assert "bad-post-syntax.ks:14: scripts.post[0].body: KS401 error: bash -n" in run.stderr
    assert list(tmp_path.iterdir()) == []
    assert os.environ.get("KSBUILD_LUKS_PASSPHRASE") is None
