"""What the installed system boots with: the boot loader line (kernel arguments, timeout, location, password), the
%addon sections (kdump, others) and the keyboard. Each key: the exact rendered line, pykickstart (RHEL7, warnings
as errors) reading it back, and its refusals at the key's file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from builder.pipeline import BuildResult, build
from builder.validate.kickstart import parse_kickstart
from tests.helpers import GRUB_HASH, MINIMAL, at, schema_errors, write

# MINIMAL is 14 lines: keys added below start on line 15.


def built(tmp_path: Path, extra: str) -> BuildResult:
    result = build(write(tmp_path / "host.yaml", MINIMAL + extra), shell=False)
    return result


def lines_starting(text: str, word: str) -> list[str]:
    return [line for line in text.splitlines() if line.split(" ", 1)[0] == word]


def clean(result: BuildResult) -> str:
    assert [f.format() for f in result.findings] == []
    return result.kickstart.text


BOOTLOADER = f"""\
storage:
  bootloader:
    location: partition
    append: [intel_iommu=on, "console=ttyS0,115200n8", hugepagesz=1G, hugepages=16, rd.lvm.lv=vg_sys/root]
    timeout: 5
    password_hash: "{GRUB_HASH}"
"""


def test_bootloader_keys_render_one_line(tmp_path: Path) -> None:
    text = clean(built(tmp_path, BOOTLOADER))
    assert lines_starting(text, "bootloader") == [
        "bootloader --location=partition --boot-drive=sda --append='intel_iommu=on console=ttyS0,115200n8 "
        f"hugepagesz=1G hugepages=16 rd.lvm.lv=vg_sys/root' --timeout=5 --iscrypted --password={GRUB_HASH}"
    ]


def test_pykickstart_reads_the_bootloader_back(tmp_path: Path) -> None:
    loader = parse_kickstart(clean(built(tmp_path, BOOTLOADER)), "ks.cfg").handler.bootloader
    assert loader.appendLine == "intel_iommu=on console=ttyS0,115200n8 hugepagesz=1G hugepages=16 rd.lvm.lv=vg_sys/root"
    assert (loader.location, loader.timeout, loader.bootDrive) == ("partition", 5, "sda")
    assert (loader.isCrypted, loader.password) == (True, GRUB_HASH)


def test_location_none_is_a_warning_with_the_reason(tmp_path: Path) -> None:
    result = built(tmp_path, "storage: {bootloader: {location: none}}\n")
    assert lines_starting(result.kickstart.text, "bootloader") == ["bootloader --location=none --boot-drive=sda"]
    assert [f.format() for f in result.findings] == [
        at(tmp_path, 15, "storage.bootloader.location") + "warning: location: none installs no boot loader: the "
        "host boots from its disk only if something else (another boot loader, a PXE chain) starts it"
    ]


@pytest.mark.parametrize("password", ["hunter2", "$6$saltsalt$" + "a" * 86, "grub.pbkdf2.sha512.10000.XYZ.123"])
def test_a_plaintext_or_foreign_boot_password_is_refused_with_the_tool_to_use(tmp_path: Path, password: str) -> None:
    (error,) = schema_errors(tmp_path, MINIMAL + f"storage: {{bootloader: {{password_hash: '{password}'}}}}\n")
    assert error.startswith(at(tmp_path, 15, "storage.bootloader.password_hash"))
    assert "grub2-mkpasswd-pbkdf2" in error
    assert password not in error  # a typed password is never repeated


@pytest.mark.parametrize(
    "arg",
    ["a b", "x='y'", 'x="y z"', "x=$(id)", "x=`id`", "x=a;b", "-x", "x=a\\b", "x=a#b", "=x", "x=", "%end"],
)
def test_kernel_arguments_that_could_break_out_are_refused(tmp_path: Path, arg: str) -> None:
    text = MINIMAL + "storage:\n  bootloader:\n    append:\n      - intel_iommu=on\n      - " + repr(arg) + "\n"
    (error,) = schema_errors(tmp_path, text)
    assert error.startswith(at(tmp_path, 19, "storage.bootloader.append[1]")), error
    assert "NAME or NAME=VALUE" in error


def test_a_repeated_kernel_argument_is_a_warning(tmp_path: Path) -> None:
    result = built(tmp_path, "storage: {bootloader: {append: [quiet, nomodeset, quiet]}}\n")
    assert [f.format() for f in result.findings] == [
        at(tmp_path, 15, "storage.bootloader.append[2]") + "warning: quiet is already in append"
    ]


KDUMP = """\
addons:
  kdump: {enabled: true, reserve_mb: 256}
  extra:
    - name: org_fedora_oscap
      args: [--profile=pci-dss]
      body: |
        content-type = scap-security-guide
        profile = xccdf_org.ssgproject.content_profile_pci-dss
"""


def test_addon_sections_render_after_packages(tmp_path: Path) -> None:
    text = clean(built(tmp_path, KDUMP))
    after_packages = text.split("%packages", 1)[1].split("\n%end\n", 1)[1]
    assert after_packages.startswith(
        "\n%addon com_redhat_kdump --enable --reserve-mb=256\n%end\n"
        "\n%addon org_fedora_oscap --profile=pci-dss\ncontent-type = scap-security-guide\n"
        "profile = xccdf_org.ssgproject.content_profile_pci-dss\n%end\n"
    )


@pytest.mark.parametrize(("kdump", "header"), [
    ("{}", "%addon com_redhat_kdump --enable --reserve-mb=auto"),
    ("{enabled: false}", "%addon com_redhat_kdump --disable --reserve-mb=auto"),
    ("{reserve_mb: 512}", "%addon com_redhat_kdump --enable --reserve-mb=512"),
])
def test_kdump_addon_forms(tmp_path: Path, kdump: str, header: str) -> None:
    text = clean(built(tmp_path, f"addons: {{kdump: {kdump}}}\n"))
    assert [line for line in text.splitlines() if line.startswith("%addon")] == [header]


def test_pykickstart_accepts_the_addon_sections_and_the_script_boundaries_hold(tmp_path: Path) -> None:
    """pykickstart's RHEL7 handler keeps no %addon data, so acceptance is: no finding, and every section still
    opens and closes where it should (the addon body did not end anything early)."""
    text = clean(built(tmp_path, KDUMP))
    parsed = parse_kickstart(text, "ks.cfg")
    assert parsed.findings == ()
    headers = [line.split()[0] for line in text.splitlines() if line.startswith("%")]
    assert headers.count("%addon") == 2
    assert headers.count("%end") == headers.count("%addon") + headers.count("%packages") + len(parsed.scripts)


@pytest.mark.parametrize(
    ("extra", "line", "key", "message"),
    [
        ("addons: {extra: [{name: org_x, body: \"a\\n%end\\n%post\\ntouch /pwned\"}]}\n", 15,
         "addons.extra[0].body", "body line 2 starts with '%'"),
        ("addons: {extra: [{name: org_x, body: \"a\\n  %end\"}]}\n", 15, "addons.extra[0].body",
         "body line 2 starts with '%'"),
        ("addons: {extra: [{name: 'org_x --y', body: ''}]}\n", 15, "addons.extra[0].name", "an addon name"),
        ("addons: {extra: [{name: org_x, args: ['--a=b c']}]}\n", 15, "addons.extra[0].args[0]", "an addon option"),
        ("addons: {extra: [{name: org_x, args: ['x;touch /pwned']}]}\n", 15, "addons.extra[0].args[0]",
         "an addon option"),
        ("addons: {kdump: {reserve_mb: 0}}\n", 15, "addons.kdump.reserve_mb", ""),
    ],
)
def test_addon_values_cannot_break_out(
    tmp_path: Path, extra: str, line: int, key: str, message: str
) -> None:
    errors = schema_errors(tmp_path, MINIMAL + extra)
    assert any(e.startswith(at(tmp_path, line, key)) and message in e for e in errors), errors


def test_an_addon_body_is_addon_data_not_commands(tmp_path: Path) -> None:
    """Body lines that look like commands stay inside the %addon section: pykickstart does not run them."""
    body = "rootpw --plaintext owned\nnetwork --device=eth9 --bootproto=dhcp\n  indented\n"
    result = built(tmp_path, "addons: {extra: [{name: org_x, body: " + repr(body).replace("'", '"') + "}]}\n")
    handler = parse_kickstart(clean(result), "ks.cfg").handler
    assert handler.rootpw.isCrypted and handler.rootpw.password != "owned"
    assert [n.device for n in handler.network.network] == ["enp2s0f0"]


def test_kdump_goes_through_addons_kdump_and_owns_crashkernel(tmp_path: Path) -> None:
    result = built(tmp_path, """\
storage: {bootloader: {append: [crashkernel=auto]}}
addons:
  kdump: {enabled: false}
  extra: [{name: com_redhat_kdump}]
""")
    assert [f.format() for f in result.errors] == [
        at(tmp_path, 15, "storage.bootloader.append[0]") + "the kdump addon replaces every crashkernel= of the "
        "boot loader arguments and removes it (kdump is disabled): set the reservation with addons.kdump.reserve_mb",
        at(tmp_path, 18, "addons.extra[0].name") + "configure kdump with addons.kdump (enabled, reserve_mb)",
    ]


def test_keyboard_string_is_both_layouts_as_before(tmp_path: Path) -> None:
    assert lines_starting(clean(built(tmp_path, "")), "keyboard") == ["keyboard --vckeymap=us --xlayouts=us"]
    profile = MINIMAL.replace("  hostname: kvm01.lab.local\n", "  hostname: kvm01.lab.local\n  keyboard: de\n")
    result = build(write(tmp_path / "de.yaml", profile), shell=False)
    assert lines_starting(clean(result), "keyboard") == ["keyboard --vckeymap=de --xlayouts=de"]


def test_keyboard_with_its_own_x_layouts(tmp_path: Path) -> None:
    profile = write(tmp_path / "host.yaml", MINIMAL.replace(
        "  hostname: kvm01.lab.local\n",
        "  hostname: kvm01.lab.local\n"
        "  keyboard: {vckeymap: de-nodeadkeys, xlayouts: ['de (nodeadkeys)', us], switch: [grp:alt_shift_toggle]}\n",
    ))
    result = build(profile, shell=False)
    text = clean(result)
    assert lines_starting(text, "keyboard") == [
        "keyboard --vckeymap=de-nodeadkeys --xlayouts='de (nodeadkeys)',us --switch=grp:alt_shift_toggle"
    ]
    keyboard = parse_kickstart(text, "ks.cfg").handler.keyboard
    assert keyboard.vc_keymap == "de-nodeadkeys"
    assert keyboard.x_layouts == ["de (nodeadkeys)", "us"]
    assert keyboard.switch_options == ["grp:alt_shift_toggle"]


@pytest.mark.parametrize("layout", ["de,us", "de us", "de'", "de (x) y", "$(id)"])
def test_x_layouts_that_could_break_out_are_refused(tmp_path: Path, layout: str) -> None:
    profile = MINIMAL.replace(
        "  hostname: kvm01.lab.local\n",
        f"  hostname: kvm01.lab.local\n  keyboard: {{vckeymap: de, xlayouts: [us, {layout!r}]}}\n",
    )
    (error,) = schema_errors(tmp_path, profile)
    assert error.startswith(at(tmp_path, 5, "system.keyboard.xlayouts[1]")), error
