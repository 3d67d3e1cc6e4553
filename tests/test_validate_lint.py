"""`ksbuild validate` on hand-written kickstarts: each pattern people use, with the exact findings (rule id,
severity, file:line). The kickstarts are ours (tests/data/kickstarts/lint), written to reproduce what real EL7 host
kickstarts do: %pre-generated includes, sourced variable files, bonds/VLANs/bridges as ifcfg heredocs, RAID1 + LVM,
liveimg, addons, a Cobbler-shaped file, local includes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from builder.validate.config import RuleLayer, Settings
from builder.validate.pipeline import KickstartReport, validate_kickstart_file, validate_kickstart_text

LINT = Path(__file__).parent / "data" / "kickstarts" / "lint"


def found(report: KickstartReport) -> list[tuple[str | None, str, str]]:
    return [(f.rule, f.severity, str(f.location)) for f in report.findings]


def lint(name: str, **kwargs: object) -> KickstartReport:
    return validate_kickstart_file(LINT / name, **kwargs)  # type: ignore[arg-type]


def test_pre_generated_partitioning_and_network_includes_are_left_to_the_pre() -> None:
    report = lint("pre-generated-includes.ks")
    source = str(LINT / "pre-generated-includes.ks")
    # No "no storage" (KS506) and no layout check: the %pre at line 21 writes both files.
    assert found(report) == [("KS110", "info", f"{source}:14"), ("KS110", "info", f"{source}:15")]
    part, net = report.findings
    assert "/tmp/part-include is written at install time by the %pre at line 21" in part.message
    assert "storage" in part.message
    assert "/tmp/net-include is written at install time by the %pre at line 21" in net.message
    assert report.ok


def test_a_pre_that_writes_known_commands_only_leaves_those_to_its_file() -> None:
    text = (LINT / "pre-generated-includes.ks").read_text().replace("rootpw --iscrypted", "#rootpw --iscrypted")
    text = text.replace('echo "$line" > /tmp/net-include', 'echo "network --device=eth0 --bootproto=dhcp" > '
                        "/tmp/net-include")
    report = validate_kickstart_text(text, "k.ks", shell=False)
    # The network file holds a network line, the partitioning file what its heredoc says: neither has rootpw.
    assert [(f.rule, f.location.line if f.location else None) for f in report.findings] == [
        ("KS503", None), ("KS110", 14), ("KS110", 15)]
    assert report.findings[2].message.endswith("what it holds is not checked")


def test_sourced_variable_files_and_anacondas_environment() -> None:
    report = lint("sourced-variables.ks")
    source = str(LINT / "sourced-variables.ks")
    assert found(report) == [
        # site-vars (written by the %pre's heredoc) sets site_name, ntp_server, syslog_host, but not rack_label.
        ("KS403", "warning", f"{source}:34"),
        # rack-vars is downloaded: SC2154 is not reported for that script, and a note says why.
        ("KS405", "info", f"{source}:38"),
    ]
    assert report.findings[0].message == "SC2154: rack_label is referenced but not assigned."
    assert "/tmp/rack-vars" in report.findings[1].message
    # The one-command --erroronfail body (line 42) is not asked for set -e.


def test_bond_vlan_bridge_with_ifcfg_heredocs() -> None:
    report = lint("bond-vlan-bridge.ks")
    source = str(LINT / "bond-vlan-bridge.ks")
    assert found(report) == [
        ("KS105", "warning", f"{source}:10"),   # --nameserver twice: anaconda keeps the second
        ("KS102", "warning", f"{source}:12"),   # a second network line for em4 (pykickstart's warning)
    ]
    assert "--nameserver is given 2 times" in report.findings[0].message
    assert report.ok


def test_raid1_lvm_defects_are_each_reported_at_their_line() -> None:
    report = lint("raid1-lvm-defects.ks")
    source = str(LINT / "raid1-lvm-defects.ks")
    assert found(report) == [
        ("KS301", "error", f"{source}:8"),      # rootpw --plaintext
        ("KS302", "error", f"{source}:9"),      # user --password in plaintext
        ("KS304", "error", f"{source}:10"),     # bootloader --password=$6$... without --iscrypted
        ("KS201", "error", f"{source}:15"),     # raid.02 on sda like raid.01
        ("KS203", "error", f"{source}:18"),     # /srv on sdc, outside --only-use=sda,sdb
        ("KS210", "warning", f"{source}:19"),   # pv.09 in no volume group
        ("KS303", "error", f"{source}:21"),     # --encrypted --passphrase
        ("KS208", "error", f"{source}:22"),     # 51200 MiB of LVs on a 40960 MiB RAID1
        ("KS204", "error", f"{source}:24"),     # /srv again, as a logical volume
        ("KS209", "error", f"{source}:26"),     # logvol in vg_data, which no volgroup defines
    ]
    messages = [f.message for f in report.findings]
    assert messages[3] == ("sda already holds part raid.01 (line 14), another member of md0; a RAID needs its "
                           "members on different disks")
    assert messages[7] == "its logical volumes need 51200 MiB but its physical volumes give about 40956 MiB"
    # No secret is repeated.
    text = "\n".join(f.format() for f in report.findings)
    for secret in ("changeme", "alsochangeme", "hunter2", "xlFXy0yCuaZSrpNhMSl5"):
        assert secret not in text


def test_a_mirrored_boot_needs_a_bios_boot_partition_on_each_mirror_disk() -> None:
    # anaconda runs grub2-install on every disk of a RAID1 /boot (GRUB.install_targets); on GPT each needs its own
    # BIOS boot partition, and only sda has one here. With one on sdb too the layout is clean.
    name = "raid1-boot-one-biosboot.ks"
    report = lint(name)
    assert found(report) == [("KS207", "error", f"{LINT / name}:15")]
    assert report.findings[0].message.startswith("/boot is a RAID1 with a member on sdb, so anaconda installs GRUB2 "
                                                 "on sdb too, and sdb has no BIOS boot partition")
    text = (LINT / name).read_text()
    fixed = text.replace("part raid.11", "part biosboot --fstype=biosboot --size=1 --ondisk=sdb\npart raid.11")
    assert found(validate_kickstart_text(fixed, "fixed.ks")) == []


def test_liveimg_addon_and_efi_layout_are_clean() -> None:
    report = lint("liveimg-addon.ks")
    assert report.findings == ()


def test_cobbler_shaped_kickstart() -> None:
    report = lint("cobbler-style.ks")
    source = str(LINT / "cobbler-style.ks")
    assert found(report) == [
        ("KS501", "warning", source),           # no reboot: the file as a whole
        ("KS306", "warning", f"{source}:10"),   # an MD5 root hash
        ("KS110", "info", f"{source}:18"),      # the network file a %pre loop writes
    ]
    assert "by the %pre at line 20; what it holds is not checked" in report.findings[2].message


def test_local_includes_are_validated_in_place_at_their_own_lines() -> None:
    report = lint("site/host.ks")
    host, base, disks = (str(LINT / "site" / name) for name in ("host.ks", "common/base.ks", "common/disks.ks"))
    assert found(report) == [
        ("KS111", "warning", f"{host}:6"),      # common/missing.ks does not exist
        ("KS112", "warning", f"{host}:7"),      # ../ leaves the kickstart's folder
        ("KS101", "error", f"{base}:8"),        # selinux --enforce
        ("KS403", "warning", f"{base}:16"),     # cd without || exit, in the included %post
        ("KS213", "warning", f"{disks}:11"),    # raid.12 has no --ondisk
    ]
    # Commands of the included files count: no "no rootpw", "no reboot", "no storage".
    assert "outside the kickstart's folder" in report.findings[1].message


def test_include_root_widens_where_includes_may_come_from() -> None:
    report = lint("site/host.ks", settings=Settings(include_root=LINT))
    rules = [(f.rule, str(f.location)) for f in report.findings]
    assert ("KS112", f"{LINT / 'site' / 'host.ks'}:7") not in rules
    # The outer file is read in place: its own install-time includes are noted at its lines.
    outer = LINT / "pre-generated-includes.ks"
    assert [rule for rule in rules if rule[0] == "KS110"] == [("KS110", f"{outer}:14"), ("KS110", f"{outer}:15")]


def test_include_loops_depth_and_size_are_bounded(tmp_path: Path) -> None:
    (tmp_path / "loop.ks").write_text("text\n%include loop.ks\n")
    report = validate_kickstart_file(tmp_path / "loop.ks", shell=False)
    assert [(f.rule, f.location.line if f.location else None) for f in report.findings if f.rule == "KS112"] == [
        ("KS112", 2)]
    assert "loop" in report.findings[[f.rule for f in report.findings].index("KS112")].message

    for depth in range(12):
        (tmp_path / f"d{depth}.ks").write_text(f"%include d{depth + 1}.ks\n")
    (tmp_path / "d12.ks").write_text("text\n")
    deep = validate_kickstart_file(tmp_path / "d0.ks", shell=False)
    [limit] = [f for f in deep.findings if f.rule == "KS112"]
    assert "more than 8 includes deep" in limit.message

    (tmp_path / "big.ks").write_text("# padding\n" * 500_000)
    (tmp_path / "uses-big.ks").write_text("text\n%include big.ks\n")
    big = validate_kickstart_file(tmp_path / "uses-big.ks", shell=False)
    assert any(f.rule == "KS112" and "larger than" in f.message for f in big.findings)


def test_an_include_that_is_a_symbolic_link_loop_is_reported_as_not_read(tmp_path: Path) -> None:
    (tmp_path / "loop").symlink_to("loop")
    (tmp_path / "host.ks").write_text("text\nautopart\n%include loop\n")
    report = validate_kickstart_file(tmp_path / "host.ks", shell=False)
    [finding] = [f for f in report.findings if f.location is not None and f.location.line == 3]
    assert (finding.rule, finding.severity) == ("KS112", "warning")
    assert "symbolic link loop" in finding.message
    assert not [f for f in report.findings if f.rule == "KS101"]


def test_an_include_root_that_is_a_symbolic_link_loop_is_a_configuration_error(tmp_path: Path) -> None:
    from builder.errors import BadInput
    from builder.validate.config import settings_for

    (tmp_path / "root").symlink_to("root")
    (tmp_path / ".ksbuild.toml").write_text('include-root = "root"\n')
    (tmp_path / "host.ks").write_text("text\n")
    with pytest.raises(BadInput, match=r"include-root: 'root' is a symbolic link loop"):
        settings_for(tmp_path / "host.ks")


def test_rendered_mode_makes_policy_and_warnings_errors() -> None:
    text = (LINT / "bond-vlan-bridge.ks").read_text()
    hand = validate_kickstart_text(text, "b.ks", shell=False)
    rendered = validate_kickstart_text(text, "b.ks", shell=False, mode="rendered")
    assert [(f.rule, f.severity) for f in hand.findings] == [("KS105", "warning"), ("KS102", "warning")]
    assert [(f.rule, f.severity) for f in rendered.findings] == [("KS105", "error"), ("KS102", "error")]
    # ksbuild's own header marks a rendered kickstart.
    detected = validate_kickstart_text("# Generated by ksbuild 1.0 from profile \"x\"\n" + text, "b.ks", shell=False)
    assert detected.mode == "rendered" and not detected.ok


def test_strict_turns_warnings_into_errors_but_not_notes() -> None:
    report = lint("cobbler-style.ks", settings=Settings(strict=True))
    assert [(f.rule, f.severity) for f in report.findings] == [
        ("KS501", "error"), ("KS306", "error"), ("KS110", "info")]


@pytest.mark.parametrize(
    ("layer", "rules"),
    [
        (RuleLayer(ignore=("KS1",)), []),
        (RuleLayer(select=("KS105",)), ["KS105"]),
        (RuleLayer(select=("KS1",), ignore=("KS102",)), ["KS105"]),
        (RuleLayer(ignore=("KS1",), extend_select=("KS102",)), ["KS102"]),
    ],
)
def test_select_and_ignore_by_prefix(layer: RuleLayer, rules: list[str]) -> None:
    report = lint("bond-vlan-bridge.ks", settings=Settings((layer,)))
    assert [f.rule for f in report.findings] == rules


def test_a_later_layer_overrides_an_earlier_one() -> None:
    config = RuleLayer(ignore=("KS4",))
    command_line = RuleLayer(extend_select=("KS403",))
    report = lint("site/host.ks", settings=Settings((config, command_line)))
    assert "KS403" in [f.rule for f in report.findings]
    assert "KS403" not in [f.rule for f in lint("site/host.ks", settings=Settings((config,))).findings]


def test_shellcheck_codes_can_be_ignored() -> None:
    report = lint("site/host.ks", settings=Settings((RuleLayer(ignore=("SC2164",)),)))
    assert "KS403" not in [f.rule for f in report.findings]


def test_inline_ignores_on_a_kickstart_line_a_script_line_and_a_whole_file(tmp_path: Path) -> None:
    lines = (LINT / "bond-vlan-bridge.ks").read_text().splitlines()
    lines[9] += "  # ksbuild: ignore[KS105]"
    (tmp_path / "b.ks").write_text("\n".join(lines) + "\n")
    assert [f.rule for f in validate_kickstart_file(tmp_path / "b.ks").findings] == ["KS102"]

    shutil.copytree(LINT / "site", tmp_path / "site")
    base = tmp_path / "site/common/base.ks"
    base.write_text(base.read_text().replace("cd /opt/site\n", "cd /opt/site  # ksbuild: ignore[KS4]\n"))
    host = tmp_path / "site/host.ks"
    host.write_text(host.read_text() + "# ksbuild: ignore-file[KS11]\n")
    assert [f.rule for f in validate_kickstart_file(host).findings] == ["KS101", "KS213"]


def test_shellcheck_directives_keep_working_in_scripts() -> None:
    text = "%post --interpreter=/bin/bash\n# shellcheck disable=SC2164\ncd /opt\nls\n%end\n"
    assert [f.rule for f in validate_kickstart_text(text, "s.ks").findings if f.rule and f.rule.startswith("KS4")] \
        == []
    without = validate_kickstart_text(text.replace("# shellcheck disable=SC2164\n", "\n"), "s.ks")
    assert [(f.rule, f.location.line if f.location else None) for f in without.findings
            if f.rule and f.rule.startswith("KS4")] == [("KS403", 3)]


@pytest.mark.parametrize(
    ("body", "reported"),
    [
        ("systemctl enable chronyd\n", False),
        ("# one command after a comment\nsystemctl enable chronyd\n", False),
        ("cat > /etc/motd <<'MOTD'\nhello\nMOTD\n", False),
        ("yum -y install chrony\nsystemctl enable chronyd\n", True),
        ("yum -y install chrony; systemctl enable chronyd\n", True),
    ],
)
def test_set_e_is_asked_only_of_bodies_with_more_than_one_command(body: str, reported: bool) -> None:
    report = validate_kickstart_text(f"%post --erroronfail\n{body}%end\n", "e.ks", shell=False)
    assert ("KS404" in [f.rule for f in report.findings]) is reported


def test_secrets_and_hashes() -> None:
    text = "\n".join([
        "rootpw --iscrypted not-a-hash",                                   # 1
        "user --name=a --iscrypted --password=$1$salt$DRr5Dsbz.pPpZifvGnu2L1",  # 2: openssl passwd -1
        "bootloader --iscrypted --password=$6$salt$abc",                   # 3
        "autopart --encrypted --passphrase=secret",                        # 4
    ]) + "\n"
    report = validate_kickstart_text(text, "s.ks", shell=False)
    assert [(f.rule, f.location.line if f.location else None) for f in report.findings
            if f.rule and f.rule.startswith("KS3")] == [
        ("KS305", 1), ("KS306", 2), ("KS305", 3), ("KS303", 4)]
    assert "secret" not in "".join(f.message for f in report.findings)


@pytest.mark.parametrize(("line", "key", "value"), [
    ("bootloader --iscrypted --password={}", "storage.bootloader.password_hash", "grub.pbkdf2.sha512.1.a.b"),
    ("bootloader --iscrypted --password={}", "storage.bootloader.password_hash",
     "grub.pbkdf2.sha512.10000.0A1B2C3D.4E5F6A7B"),
    ("rootpw --iscrypted {}", "users.root.password_hash", "$6$salt$tooshort"),
    ("rootpw --iscrypted {}", "users.root.password_hash", "$1$salt$DRr5Dsbz.pPpZifvGnu2L1xx"),
])
def test_a_hash_a_profile_refuses_is_not_a_hash_to_the_linter_either(
    tmp_path: Path, line: str, key: str, value: str
) -> None:
    """The kickstart linter and the profile schema agree on what a password hash is: a hash nobody can log in
    with (or, for GRUB, that locks nothing) is refused by both."""
    from tests.helpers import MINIMAL, ROOT_HASH, schema_errors

    report = validate_kickstart_text(line.format(value) + "\n", "h.ks", shell=False)
    assert [(f.rule, f.severity) for f in report.findings if f.rule and f.rule.startswith("KS3")] == [
        ("KS305", "error")]
    section, _, field = key.rpartition(".")
    profile = MINIMAL.replace(f'root: {{password_hash: "{ROOT_HASH}"}}', f"root: {{password_hash: '{value}'}}") \
        if section == "users.root" else MINIMAL + f"storage:\n  bootloader: {{{field}: '{value}'}}\n"
    errors = schema_errors(tmp_path, profile)
    assert any(key in error and "hash" in error for error in errors), errors


def test_repeated_commands_and_abbreviated_options() -> None:
    text = ("rootpw --lock\nreboot\nrootpw --iscrypted $6$a$b\npoweroff\n"
            "network --device=e --nameserv=a --nameserver=b\n")
    report = validate_kickstart_text(text, "r.ks", shell=False)
    assert [(f.rule, f.location.line if f.location else None) for f in report.findings
            if f.rule in ("KS105", "KS106")] == [("KS106", 3), ("KS106", 4), ("KS105", 5)]
    assert "poweroff (like reboot) is given again" in next(f.message for f in report.findings if f.location and
                                                            f.location.line == 4 and f.rule == "KS106")


def test_foreman_shaped_kickstart_is_clean() -> None:
    assert lint("foreman-style.ks").findings == ()


def test_firmware_boot_partitions() -> None:
    text = "\n".join([
        "ignoredisk --only-use=sda,sdb",                               # 1
        "clearpart --all --initlabel --disklabel=msdos",               # 2
        "bootloader --location=mbr --boot-drive=sda",                  # 3
        "part biosboot --fstype=biosboot --size=1 --ondisk=sda",       # 4: biosboot on an msdos label
        "part /boot/efi --fstype=xfs --size=200 --ondisk=sdb",         # 5: ESP not efi, not on the boot disk
        "part / --fstype=xfs --size=1 --grow --ondisk=sda",            # 6
    ]) + "\n"
    report = validate_kickstart_text(text, "f.ks", shell=False, settings=Settings((RuleLayer(select=("KS2",)),)))
    assert [(f.rule, f.location.line if f.location else None) for f in report.findings] == [
        ("KS207", 4), ("KS207", 5), ("KS207", 5)]
    assert "GPT" in report.findings[0].message
    assert "is on sdb, but the boot loader is installed on sda" in report.findings[2].message


def test_a_profile_and_the_same_layout_as_a_kickstart_get_the_same_storage_rules(tmp_path: Path) -> None:
    """One storage model: the profile's storage checks and a kickstart's are the same checks."""
    from builder.pipeline import build
    from tests.helpers import MINIMAL, write

    profile = MINIMAL + (
        "storage:\n  disks: [sda, sdb]\n  layout: custom\n  firmware: bios\n"
        "  raids:\n    - {level: 1, disks: [sda, sda], size: 1024, mount: /boot}\n"
        "    - {level: 1, disks: [sda, sdb], size: 8192, volume_group: vg_sys}\n"
        "  volume_groups:\n    - name: vg_sys\n      logical_volumes:\n"
        "        - {name: root, mount: /, size: 10240}\n"
    )
    result = build(write(tmp_path / "host.yaml", profile), shell=False)
    from_profile = sorted(f.rule for f in result.findings if f.rule and f.rule.startswith("KS2"))
    kickstart = "\n".join([
        "ignoredisk --only-use=sda,sdb",
        "clearpart --all --initlabel --disklabel=gpt",
        "bootloader --location=mbr --boot-drive=sda",
        "part biosboot --fstype=biosboot --size=1 --ondisk=sda",
        "part raid.01 --size=1024 --ondisk=sda",
        "part raid.02 --size=1024 --ondisk=sda",
        "part raid.11 --size=8192 --ondisk=sda",
        "part raid.12 --size=8192 --ondisk=sdb",
        "raid /boot --level=1 --device=md0 --fstype=xfs raid.01 raid.02",
        "raid pv.01 --level=1 --device=md1 raid.11 raid.12",
        "volgroup vg_sys pv.01",
        "logvol / --vgname=vg_sys --name=root --fstype=xfs --size=10240",
    ]) + "\n"
    report = validate_kickstart_text(kickstart, "k.ks", shell=False)
    from_kickstart = sorted(f.rule for f in report.findings if f.rule and f.rule.startswith("KS2"))
    # The same disk twice in the /boot RAID; 10240 MiB of LVs on an 8192 MiB RAID1.
    assert from_profile == from_kickstart == ["KS201", "KS208"]


@pytest.mark.parametrize(("onpart", "disk"), [
    ("disk/by-id/ata-QEMU_HARDDISK_QM00002-part3", "disk/by-id/ata-QEMU_HARDDISK_QM00002"),
    ("/dev/disk/by-path/pci-0000:00:1f.2-ata-2-part3", "disk/by-path/pci-0000:00:1f.2-ata-2"),
    ("/dev/sdb3", "sdb"),
    ("nvme1n1p3", "nvme1n1"),
])
def test_a_partition_named_by_onpart_is_on_the_disk_its_name_says(onpart: str, disk: str) -> None:
    """ignoredisk --only-use hides every other disk: reusing a partition of a hidden disk stops the install."""
    layout = ("clearpart --none\nbootloader --location=mbr --boot-drive=sda\n"
              "part /boot --fstype=xfs --size=1024 --ondisk=sda\npart / --fstype=xfs --size=1 --grow --ondisk=sda\n"
              f"part /home --fstype=xfs --onpart={onpart} --noformat\n")
    storage_only = Settings((RuleLayer(select=("KS2",)),))
    only_sda = validate_kickstart_text("ignoredisk --only-use=sda\n" + layout, "k.ks", shell=False,
                                       settings=storage_only)
    assert [(f.rule, f.location.line if f.location else None) for f in only_sda.findings] == [("KS203", 6)]
    assert only_sda.findings[0].message.startswith(f"{disk} is not one of")
    allowed = validate_kickstart_text(f"ignoredisk --only-use=sda,{disk}\n" + layout, "k.ks", shell=False,
                                      settings=storage_only)
    assert allowed.findings == ()


def test_a_partition_of_a_software_raid_array_is_on_no_disk_ignoredisk_hides() -> None:
    """ignoredisk filters disks; an md array's partition (md127p1) is reused whatever --only-use says."""
    text = ("ignoredisk --only-use=sda\nclearpart --none\nbootloader --location=mbr --boot-drive=sda\n"
            "part /boot --fstype=xfs --size=1024 --ondisk=sda\npart / --fstype=xfs --size=1 --grow --ondisk=sda\n"
            "part /srv --fstype=xfs --onpart=md127p1 --noformat\n")
    report = validate_kickstart_text(text, "k.ks", shell=False, settings=Settings((RuleLayer(select=("KS2",)),)))
    assert report.findings == ()


@pytest.mark.parametrize(("layout", "line", "where"), [
    ("part /boot --fstype=xfs --size=1024 --encrypted\npart / --fstype=xfs --size=1 --grow\n", 2, "/boot"),
    ("part /boot --fstype=xfs --size=1024\npart / --fstype=xfs --size=1 --grow --encrypted\n", None, ""),
    ("part / --fstype=xfs --size=1 --grow --encrypted\n", 2, "/ (there is no /boot)"),
    ("part raid.01 --size=1024 --ondisk=sda\npart raid.02 --size=1024 --ondisk=sdb\n"
     "raid /boot --level=1 --device=md0 --fstype=xfs --encrypted raid.01 raid.02\n"
     "part / --fstype=xfs --size=1 --grow --ondisk=sda\n", 4, "/boot"),
])
def test_an_encrypted_boot_is_an_error_in_a_hand_written_kickstart(layout: str, line: int | None, where: str) -> None:
    """anaconda refuses /boot (or / without /boot) on LUKS: GRUB2 cannot unlock it. The rest may be encrypted."""
    text = "ignoredisk --only-use=sda,sdb\n" + layout
    report = validate_kickstart_text(text, "k.ks", shell=False, settings=Settings((RuleLayer(select=("KS206",)),)))
    if line is None:
        assert report.findings == ()
        return
    [finding] = report.findings
    assert (finding.rule, finding.severity, finding.location.line if finding.location else None) == (
        "KS206", "error", line)
    assert finding.message.startswith(f"{where} is encrypted")
    assert not report.ok


def test_what_anaconda_creates_twice_is_not_a_duplicate_nor_a_repeated_option() -> None:
    """pykickstart's duplicate warning compares only a network line's device and a partition's mount point, but a
    VLAN on the bond (`--device=bond0 --vlanid=130`) and a BIOS boot partition on each RAID1 disk are both created;
    `firewall --service`/`--port` collect every value given. A real second line for one NIC is still reported."""
    report = lint("two-disk-bond-vlan.ks")
    source = str(LINT / "two-disk-bond-vlan.ks")
    assert found(report) == [("KS102", "warning", f"{source}:13")]   # em3 configured twice: the second line wins
    assert report.findings[0].message == "A network device with the name em3 has already been defined."
    assert report.ok


def test_repeated_firewall_services_are_no_error_in_a_rendered_kickstart_either() -> None:
    # The template writes one --service= per service of system.firewall.services.
    text = (LINT / "two-disk-bond-vlan.ks").read_text().replace("network --device=em3 --bootproto=dhcp\n", "")
    rendered = validate_kickstart_text(text, "r.ks", shell=False, mode="rendered")
    assert [(f.rule, f.severity) for f in rendered.findings] == []
