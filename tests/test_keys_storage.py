"""Storage options around the layout: LUKS on a PV or RAID (passphrase read at render time, never stored or shown),
volume group reserve, growth limits, clearpart --drives/--list. Exact lines, pykickstart reading them back, checks
at file:line, and passphrases that try to break out of their line."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from pykickstart.constants import CLEARPART_TYPE_LINUX, CLEARPART_TYPE_LIST

from builder.errors import BadInput
from builder.pipeline import BuildResult, build
from builder.validate.kickstart import parse_kickstart
from tests.helpers import STORAGE_HEAD, at, run_cli, schema_errors, write

HEAD = STORAGE_HEAD
# HEAD is 6 lines; line numbers below count from 7.
LUKS = HEAD + """\
storage:
  disks: [sda, sdb]
  layout: custom
  clear: linux
  clear_drives: [sdb]
  raids:
    - {name: md0, level: 1, disks: [sda, sdb], size: 1024, mount: /boot}
    - name: md1
      level: 1
      disks: [sda, sdb]
      size: 102400
      volume_group: vg_sys
      encrypted: true
      passphrase_file: secrets/luks-md1
      cipher: aes-xts-plain64
  partitions:
    - {volume_group: vg_vm, size: 1, grow: true, max_size: 512000, disk: sdb, encrypted: true,
       passphrase_env: KSBUILD_TEST_LUKS, escrow_cert: "http://192.168.80.1/escrow.pem", backup_passphrase: true}
  volume_groups:
    - name: vg_sys
      reserved_percent: 15
      logical_volumes:
        - {name: root, mount: /, size: 40960, grow: true, max_size: 81920}
        - {name: swap, mount: swap, recommended: true}
    - name: vg_vm
      logical_volumes:
        - {name: images, mount: /var/lib/libvirt/images, percent: 90, max_size: 1024000}
"""
FILE_PASS = "correct horse 'battery' #staple"
ENV_PASS = 'x"$(id>p1)`id>p2`\\%end'


@pytest.fixture
def luks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    secret = write(tmp_path / "secrets/luks-md1", FILE_PASS + "\n")
    secret.chmod(0o600)
    monkeypatch.setenv("KSBUILD_TEST_LUKS", ENV_PASS)
    return write(tmp_path / "host.yaml", LUKS)


def storage_lines(text: str) -> list[str]:
    return text.split("# Storage\n", 1)[1].split("\n\n", 1)[0].splitlines()


def test_luks_growth_and_clear_lines(luks: Path) -> None:
    result = build(luks, shell=False)
    assert [f.format() for f in result.findings] == []
    assert storage_lines(result.kickstart.text) == [
        "ignoredisk --only-use=sda,sdb",
        "zerombr",
        "clearpart --linux --initlabel --drives=sdb",
        "bootloader --location=mbr --boot-drive=sda",
        "reqpart",
        "part pv.01 --size=1 --grow --maxsize=512000 --encrypted --passphrase='x\"$(id>p1)`id>p2`\\%end' "
        "--escrowcert=http://192.168.80.1/escrow.pem --backuppassphrase --ondisk=sdb"
        "  # ksbuild: ignore[KS303] passphrase from $KSBUILD_TEST_LUKS at render time",
        "part raid.01 --size=1024 --ondisk=sda",
        "part raid.02 --size=1024 --ondisk=sdb",
        "raid /boot --level=1 --device=md0 --fstype=xfs raid.01 raid.02",
        "part raid.03 --size=102400 --ondisk=sda",
        "part raid.04 --size=102400 --ondisk=sdb",
        "raid pv.02 --level=1 --device=md1 --encrypted --passphrase='correct horse '\"'\"'battery'\"'\"' #staple' "
        "--cipher=aes-xts-plain64 raid.03 raid.04  # ksbuild: ignore[KS303] passphrase from secrets/luks-md1 at "
        "render time",
        "volgroup vg_sys --reserved-percent=15 pv.02",
        "volgroup vg_vm pv.01",
        "logvol / --vgname=vg_sys --name=root --fstype=xfs --size=40960 --grow --maxsize=81920",
        "logvol swap --vgname=vg_sys --name=swap --fstype=swap --recommended",
        "logvol /var/lib/libvirt/images --vgname=vg_vm --name=images --fstype=xfs --percent=90 --grow "
        "--maxsize=1024000",
    ]


def test_the_linter_knows_the_passphrase_is_there_on_purpose(luks: Path) -> None:
    """A LUKS passphrase in a kickstart is KS303 (an error in any kickstart); ksbuild puts one there by design, from
    the profile's secret, and says so on that line: the rule stays on for every other line."""
    from builder.validate.pipeline import validate_kickstart_text

    text = build(luks, shell=False).kickstart.text
    assert validate_kickstart_text(text, "ks.cfg", shell=False).findings == ()
    bare = "\n".join(line.split("  # ksbuild:")[0] for line in text.splitlines()) + "\n"
    rules = [f.rule for f in validate_kickstart_text(bare, "ks.cfg", shell=False).findings]
    assert rules == ["KS303", "KS303"]


def test_pykickstart_reads_every_option_back(luks: Path) -> None:
    parsed = parse_kickstart(build(luks, shell=False).kickstart.text, "ks.cfg")
    assert parsed.findings == ()
    handler = parsed.handler
    pv = handler.partition.partitions[0]
    assert (pv.mountpoint, pv.encrypted, pv.passphrase, pv.maxSizeMB) == ("pv.01", True, ENV_PASS, 512000)
    assert (pv.escrowcert, pv.backuppassphrase) == ("http://192.168.80.1/escrow.pem", True)
    md1 = handler.raid.raidList[1]
    assert (md1.mountpoint, md1.encrypted, md1.passphrase, md1.cipher) == ("pv.02", True, FILE_PASS, "aes-xts-plain64")
    vg_sys = handler.volgroup.vgList[0]
    assert (vg_sys.vgname, vg_sys.reserved_percent) == ("vg_sys", 15)
    root = handler.logvol.lvList[0]
    assert (root.name, root.maxSizeMB, root.grow) == ("root", 81920, True)
    assert (handler.clearpart.type, handler.clearpart.drives) == (CLEARPART_TYPE_LINUX, ["sdb"])


def test_the_passphrase_is_in_the_0600_kickstart_only(tmp_path: Path, luks: Path) -> None:
    done = run_cli("render", str(luks), "-o", "out", cwd=tmp_path, env={"KSBUILD_TEST_LUKS": "env-only-pass"})
    assert done.returncode == 0, done.stderr
    kickstart = tmp_path / "out/ks.cfg"
    assert stat.S_IMODE(kickstart.stat().st_mode) == 0o600
    assert "env-only-pass" in kickstart.read_text() and "correct horse" in kickstart.read_text()
    for path in (tmp_path / "out").iterdir():
        if path != kickstart:
            text = path.read_text()
            assert "env-only-pass" not in text and "correct horse" not in text, path
    assert "env-only-pass" not in done.stdout + done.stderr
    shown = run_cli("show", str(luks), cwd=tmp_path, env={"KSBUILD_TEST_LUKS": "env-only-pass"})
    assert "env-only-pass" not in shown.stdout + shown.stderr and "correct horse" not in shown.stdout


def test_unreadable_passphrases_are_reported_at_their_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "secrets/luks-md1", "first line\nsecond line\n")
    monkeypatch.delenv("KSBUILD_TEST_LUKS", raising=False)
    with pytest.raises(BadInput) as caught:
        build(write(tmp_path / "host.yaml", LUKS), shell=False)
    assert [f.format() for f in caught.value.findings] == [
        at(tmp_path, 24, "storage.partitions[0].passphrase_env") + "environment variable KSBUILD_TEST_LUKS is not "
        "set",
        at(tmp_path, 20, "storage.raids[1].passphrase_file") + "the passphrase holds a newline or another control "
        "character, which a kickstart line cannot",
    ]
    assert all("first line" not in f.format() for f in caught.value.findings)


def test_a_missing_passphrase_file_and_an_empty_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KSBUILD_TEST_LUKS", "")
    with pytest.raises(BadInput) as caught:
        build(write(tmp_path / "host.yaml", LUKS), shell=False)
    messages = [f.message for f in caught.value.findings]
    assert messages[0] == "the passphrase is empty"
    assert messages[1].startswith(f"cannot read {tmp_path / 'secrets/luks-md1'}: No such file")


@pytest.mark.parametrize(("old", "new", "message"), [
    ("      encrypted: true\n", "", "passphrase_file, cipher only apply with encrypted: true"),
    ("      passphrase_file: secrets/luks-md1\n", "", "encrypted: true needs exactly one of passphrase_file:"),
    ("      passphrase_file: secrets/luks-md1\n", "      passphrase_file: a\n      passphrase_env: B\n",
     "encrypted: true needs exactly one of passphrase_file:"),
    ("      cipher: aes-xts-plain64\n", "      backup_passphrase: true\n", "backup_passphrase: true needs escrow_cert"),
    ("      cipher: aes-xts-plain64\n", "      cipher: 'aes xts'\n", "a cipher such as aes-xts-plain64"),
])
def test_encryption_keys_go_together(tmp_path: Path, old: str, new: str, message: str) -> None:
    errors = schema_errors(tmp_path, LUKS.replace(old, new))
    assert any(f"{tmp_path / 'host.yaml'}:" in e and ": storage.raids[1]" in e and message in e for e in errors), errors


def test_encrypted_boot_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = LUKS.replace("size: 1024, mount: /boot}", "size: 1024, mount: /boot, encrypted: true, "
                        "passphrase_env: KSBUILD_TEST_LUKS}")
    write(tmp_path / "secrets/luks-md1", "x\n")
    monkeypatch.setenv("KSBUILD_TEST_LUKS", "pass")
    result = build(write(tmp_path / "host.yaml", text), shell=False)
    assert [f.format() for f in result.errors] == [
        at(tmp_path, 13, "storage.raids[0].encrypted") + "KS206 error: /boot is encrypted: EL7's boot loader cannot "
        "read it; keep /boot on a plain partition or RAID1 and encrypt the rest"
    ]


@pytest.mark.parametrize(("old", "new", "line", "key", "message"), [
    ("size: 40960, grow: true, max_size: 81920", "size: 40960, max_size: 81920", 29,
     "storage.volume_groups[0].logical_volumes[0].max_size", "max_size limits how far a volume grows: set grow: true"),
    ("size: 40960, grow: true, max_size: 81920", "size: 40960, grow: true, max_size: 4096", 29,
     "storage.volume_groups[0].logical_volumes[0].max_size", "max_size 4096 MiB is below size 40960 MiB"),
    ("clear_drives: [sdb]", "clear_drives: [sdc]", 11, "storage.clear_drives[0]", "sdc is not one of storage.disks"),
])
def test_growth_and_clear_checks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, old: str, new: str, line: int, key: str, message: str
) -> None:
    write(tmp_path / "secrets/luks-md1", "x\n")
    monkeypatch.setenv("KSBUILD_TEST_LUKS", "pass")
    result = build(write(tmp_path / "host.yaml", LUKS.replace(old, new)), shell=False)
    assert [f.format() for f in result.errors] == [at(tmp_path, line, key) + message]


def clear_only(tmp_path: Path, clear: str) -> BuildResult:
    return build(write(tmp_path / "host.yaml", HEAD + f"storage:\n  disks: [sda, sdb]\n{clear}"), shell=False)


def test_clearpart_list_removes_only_those_partitions(tmp_path: Path) -> None:
    result = clear_only(tmp_path, "  clear: list\n  clear_list: [sda3, /dev/sdb1, nvme0n1p2]\n")
    assert [f.format() for f in result.errors] == [
        at(tmp_path, 10, "storage.clear_list[2]") + "nvme0n1p2 is on nvme0n1, which is not one of storage.disks "
        "(ignoredisk hides it)"
    ]
    result = clear_only(tmp_path, "  clear: list\n  clear_list: [sda3, /dev/sdb1]\n")
    assert [f.format() for f in result.findings] == []
    lines = storage_lines(result.kickstart.text)
    assert lines[:3] == ["ignoredisk --only-use=sda,sdb", "clearpart --list=sda3,sdb1",
                         "bootloader --location=mbr --boot-drive=sda"]  # no zerombr: other partitions stay
    handler = parse_kickstart(result.kickstart.text, "ks.cfg").handler
    assert (handler.clearpart.type, handler.clearpart.devices) == (CLEARPART_TYPE_LIST, ["sda3", "sdb1"])


def test_clearpart_list_follows_its_disks_onto_the_boot_test_vm(tmp_path: Path) -> None:
    """The boot test installs onto vda, vdb ... in the order of storage.disks; the partitions clearpart --list
    removes move with their disks, whatever the disk's naming (kernel name, nvme, by-id link)."""
    from builder.pipeline import for_boot_test

    profile = build(write(tmp_path / "host.yaml", HEAD + (
        "storage:\n  disks: [sda, nvme0n1, disk/by-id/ata-QEMU_HARDDISK_QM00003]\n  clear: list\n"
        "  clear_list: [sda3, nvme0n1p2, /dev/disk/by-id/ata-QEMU_HARDDISK_QM00003-part1]\n"
    )), shell=False).profile
    assert profile is not None
    vm = for_boot_test(profile, profile.install.source)
    assert vm.storage.clear_list == ("vda3", "vdb2", "vdc1")


@pytest.mark.parametrize(("clear", "message"), [
    ("  clear: list\n", "clear: list and clear_list: [partitions] go together"),
    ("  clear: all\n  clear_list: [sda3]\n", "clear: list and clear_list: [partitions] go together"),
    ("  clear: none\n  clear_drives: [sda]\n", "clear_drives limits clear: all or clear: linux"),
    ("  clear: list\n  clear_list: ['sda3,sdb1']\n", "a partition such as sda3"),
    ("  clear: list\n  clear_list: [\"sda3 --all\"]\n", "a partition such as sda3"),
])
def test_clear_forms_that_do_not_go_together(tmp_path: Path, clear: str, message: str) -> None:
    errors = schema_errors(tmp_path, HEAD + f"storage:\n  disks: [sda, sdb]\n{clear}")
    assert any("storage" in e and message in e for e in errors), errors


@pytest.mark.parametrize("payload", [
    "x\nrootpw --plaintext owned", "x\n%end\n%post\ntouch /pwned\n%end", "%post", "a'b", 'a"b', "$(touch /pwned)",
    "`touch /pwned`", "a;touch /pwned", "a#b", "--bootproto=dhcp", "a b", "\\", "é ü 密码",
])
def test_passphrases_are_read_back_exactly_or_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, payload: str
) -> None:
    write(tmp_path / "secrets/luks-md1", "plain\n")
    monkeypatch.setenv("KSBUILD_TEST_LUKS", payload)
    try:
        result = build(write(tmp_path / "host.yaml", LUKS), shell=False)
    except BadInput as exc:
        (finding,) = exc.findings
        assert finding.key == "storage.partitions[0].passphrase_env" and "control character" in finding.message
        assert payload not in finding.format()
        return
    parsed = parse_kickstart(result.kickstart.text, "ks.cfg")
    assert [f.format() for f in parsed.findings] == []
    assert parsed.handler.partition.partitions[0].passphrase == payload
    words = [line.split()[0] for line in result.kickstart.text.splitlines() if line.strip()]
    monkeypatch.setenv("KSBUILD_TEST_LUKS", "plain")
    plain = build(write(tmp_path / "host.yaml", LUKS), shell=False).kickstart.text
    assert words == [line.split()[0] for line in plain.splitlines() if line.strip()]  # no line added or split


@pytest.mark.parametrize(("key", "value", "message"), [
    ("passphrase_env", "'A B'", "an environment variable name"),
    ("passphrase_env", "'$(id)'", "an environment variable name"),
    ("passphrase_file", "'a b'", "a file path of plain characters"),
    ("escrow_cert", "\"http://x/c.pem';touch /pwned'\"", "may not contain spaces, quotes"),
    ("cipher", "'aes-xts-plain64 --luks-version=2'", "a cipher such as aes-xts-plain64"),
])
def test_encryption_values_that_could_break_out_are_refused(tmp_path: Path, key: str, value: str, message: str) -> None:
    volume = {"volume_group": "vg", "size": 1, "encrypted": "true", "passphrase_env": "P", key: value}
    entry = ", ".join(f"{k}: {v}" for k, v in volume.items())
    text = HEAD + ("storage:\n  layout: custom\n  partitions:\n    - {mount: /, size: 1024}\n"
                   f"    - {{{entry}}}\n  volume_groups: [{{name: vg}}]\n")
    errors = schema_errors(tmp_path, text)
    assert any(e.startswith(at(tmp_path, 11, f"storage.partitions[1].{key}")) and message in e
               for e in errors), errors


def test_an_empty_storage_template_override_fails_the_render(tmp_path: Path) -> None:
    """Issue 11: an empty snippets/storage.j2 override rendered with exit 0 and no disk commands. Now the rendered
    kickstart's missing partitioning (KS506, an error in rendered kickstarts) fails it, and nothing is written."""
    from tests.helpers import SHIPPED_PROFILES

    write(tmp_path / "site/snippets/storage.j2", "")
    done = run_cli("render", str(SHIPPED_PROFILES / "kvm-hypervisor.yaml"), "--templates", "site", "-o", "out",
                   cwd=tmp_path)
    assert done.returncode == 1
    assert "KS506 error: no partitioning (autopart, or part/raid/logvol)" in done.stderr
    assert not (tmp_path / "out").exists()
