"""Schema errors: every problem reported at once, each at the file:line and key a user must fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from builder.errors import BadInput
from builder.pipeline import build
from tests.helpers import MINIMAL, ROOT_HASH, write


def schema_errors(tmp_path: Path, text: str) -> list[str]:
    profile = write(tmp_path / "lab.yaml", text)
    with pytest.raises(BadInput) as caught:
        build(profile, shell=False)
    return [f.format() for f in caught.value.findings]


def test_minimal_profile_builds(tmp_path: Path) -> None:
    result = build(write(tmp_path / "lab.yaml", MINIMAL), shell=False)
    assert result.ok, [f.format() for f in result.findings]
    assert result.profile.network.bridges[0].stp is True


def test_unknown_key_suggests_the_close_one(tmp_path: Path) -> None:
    text = MINIMAL.replace("    - {name: enp2s0f0, bridge: br0}", "    - {name: enp2s0f0, bridge: br0, onbot: true}")
    errors = schema_errors(tmp_path, text)
    assert len(errors) == 1
    assert errors[0].startswith(f"{tmp_path / 'lab.yaml'}:11: network.interfaces[0].onbot: unknown key")
    assert "did you mean 'onboot'?" in errors[0]


def test_the_guides_ifcfg_typo_is_caught(tmp_path: Path) -> None:
    """Any ifcfg-shaped key is accepted now (tools read their own keys from these files), so the lab guide's
    ONBBOT is a warning at its key, with the key initscripts knows."""
    text = MINIMAL.replace("    - {name: enp2s0f0, bridge: br0}",
                           "    - {name: enp2s0f0, bridge: br0, extra_ifcfg: {ONBBOT: 'yes'}}")
    result = build(write(tmp_path / "lab.yaml", text), shell=False)
    assert [f.format() for f in result.findings] == [
        f"{tmp_path / 'lab.yaml'}:11: network.interfaces[0].extra_ifcfg.ONBBOT: warning: ONBBOT is not a key "
        "initscripts documents (sysconfig.txt); written as given, for the tools that read it; did you mean ONBOOT?"
    ]


@pytest.mark.parametrize(("key", "message"), [
    ("onboot", "onboot is not an ifcfg key (UPPERCASE letters, digits and _, a letter first); did you mean ONBOOT?"),
    ("1ST", "1ST is not an ifcfg key"),
    ("A-B", "A-B is not an ifcfg key"),
    ("MASTER", "MASTER is written by ksbuild from the typed fields"),
])
def test_ifcfg_keys_that_are_not_keys_or_are_ksbuilds_are_refused(tmp_path: Path, key: str, message: str) -> None:
    text = MINIMAL.replace("    - {name: enp2s0f0, bridge: br0}",
                           f"    - {{name: enp2s0f0, bridge: br0, extra_ifcfg: {{'{key}': 'yes'}}}}")
    (error,) = schema_errors(tmp_path, text)
    assert ":11: network.interfaces[0].extra_ifcfg: " in error and message in error, error


def test_any_ifcfg_shaped_key_is_written_as_given(tmp_path: Path) -> None:
    text = MINIMAL.replace("    - {name: enp2s0f0, bridge: br0}",
                           "    - {name: enp2s0f0, bridge: br0, extra_ifcfg: {ONPARENT: 'yes', RACK_POSITION: u12}}")
    result = build(write(tmp_path / "lab.yaml", text), shell=False)
    assert [(f.key, f.severity) for f in result.findings] == [
        ("network.interfaces[0].extra_ifcfg.RACK_POSITION", "warning")
    ]
    assert "ONPARENT=yes\nRACK_POSITION=u12\n" in result.kickstart.text


@pytest.mark.parametrize("name", ["*NetworkManager*", "?emu-kvm", "[lq]emu*", "libvirt*", "qemu-kvm-ev"])
def test_package_globs_yum_accepts_are_accepted(tmp_path: Path, name: str) -> None:
    text = MINIMAL + f"packages: {{install: ['{name}'], exclude: ['{name}x']}}\n"
    result = build(write(tmp_path / "lab.yaml", text), shell=False)
    assert [f.format() for f in result.errors] == []
    packages = result.kickstart.text.split("%packages\n", 1)[1].split("%end", 1)[0].splitlines()
    assert name in packages and f"-{name}x" in packages


@pytest.mark.parametrize(("name", "message"), [
    ("-NetworkManager", "a leading '-' marks an exclusion in %packages; list the name without it under "
                        "packages.exclude"),
    ("@core", "a leading '@' marks a group in %packages; list it under packages.groups"),
    (".hidden", "the character '.' at the start is refused"),
    ("qemu kvm", "the character ' ' at position 5 is refused"),
    ("NetworkManager#x", "the character '#' at position 15 is refused"),
])
def test_a_refused_package_name_says_which_character(tmp_path: Path, name: str, message: str) -> None:
    (error,) = schema_errors(tmp_path, MINIMAL + f"packages: {{install: ['{name}']}}\n")
    assert error.startswith(f"{tmp_path / 'lab.yaml'}:15: packages.install[0]: ") and message in error, error


def test_every_error_is_reported_together_with_its_line(tmp_path: Path) -> None:
    text = MINIMAL.replace("hostname: kvm01.lab.local", "hostname: kvm_01!")
    text = text.replace("address: 192.168.80.40/24", "address: 192.168.80.400/24")
    text += "virtualization: {cpu: arm}\n"
    errors = schema_errors(tmp_path, text)
    file = tmp_path / "lab.yaml"
    assert len(errors) == 3, errors
    assert errors[0].startswith(f"{file}:4: system.hostname: 'kvm_01!' is not an RFC 1123 host name")
    assert errors[1].startswith(f"{file}:14: network.bridges[0].ipv4.address: '192.168.80.400/24' is not an IPv4")
    assert errors[2].startswith(f"{file}:15: virtualization.cpu: Input should be 'auto', 'intel' or 'amd'")


def test_wrong_type_is_not_coerced(tmp_path: Path) -> None:
    text = MINIMAL + "virtualization: {nested: 'yes please'}\n"
    (error,) = schema_errors(tmp_path, text)
    assert "virtualization.nested: Input should be a valid boolean" in error


@pytest.mark.parametrize("zone", ["Asia/Shanghai", "America/Argentina/Buenos_Aires", "UTC", "Etc/GMT+5"])
def test_time_zones_of_the_tz_database_are_accepted(tmp_path: Path, zone: str) -> None:
    text = MINIMAL.replace("  hostname: kvm01", f"  timezone: {zone}\n  hostname: kvm01")
    result = build(write(tmp_path / "lab.yaml", text), shell=False)
    assert result.profile.system.timezone == zone


@pytest.mark.parametrize("zone", ["localtime", "posixrules", "Mars/Olympus_Mons", "asia/shanghai"])
def test_names_that_are_not_time_zones_are_refused_on_every_host(tmp_path: Path, zone: str) -> None:
    # `localtime` is a file in Debian's /usr/share/zoneinfo, not a zone anaconda knows: whether a profile is valid
    # must not depend on the machine that checks it.
    (error,) = schema_errors(tmp_path, MINIMAL.replace("  hostname: kvm01", f"  timezone: {zone}\n  hostname: kvm01"))
    assert f"system.timezone: {zone!r} is not a known time zone" in error, error


def test_plaintext_password_is_refused_without_echoing_it(tmp_path: Path) -> None:
    text = MINIMAL.replace(ROOT_HASH, "hunter2-secret")
    (error,) = schema_errors(tmp_path, text)
    assert ":7: users.root.password_hash: must be a crypt hash" in error
    assert "openssl passwd -6" in error
    assert "hunter2" not in error


def test_a_password_key_gets_the_hashing_hint(tmp_path: Path) -> None:
    text = MINIMAL.replace(f'password_hash: "{ROOT_HASH}"', 'password: "hunter2"')
    (error,) = schema_errors(tmp_path, text)
    assert "users.root.password: unknown key; plaintext passwords are not accepted" in error
    assert "hunter2" not in error


def test_missing_required_section(tmp_path: Path) -> None:
    text = "\n".join(line for line in MINIMAL.splitlines() if not line.startswith(("users:", "  root:")))
    (error,) = schema_errors(tmp_path, text + "\n")
    assert error.startswith(f"{tmp_path / 'lab.yaml'}:1: users: required key is missing")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("name", "a-very-long-interface0", "is not a Linux interface name"),
        ("name", "eth0/1", "is not a Linux interface name"),
        ("mac", "52:54:00:zz:00:01", "is not a MAC address"),
        ("mtu", "100", "greater than or equal to 576"),
    ],
)
def test_interface_fields(tmp_path: Path, field: str, value: str, message: str) -> None:
    line = "    - {name: enp2s0f0, bridge: br0}"
    replaced = line.replace("enp2s0f0", value) if field == "name" else line.replace("}", f", {field}: {value}}}")
    (error,) = schema_errors(tmp_path, MINIMAL.replace(line, replaced))
    assert f":11: network.interfaces[0]{'.' + field}: " in error
    assert message in error


def test_script_body_cannot_close_its_section(tmp_path: Path) -> None:
    text = MINIMAL + "scripts:\n  post:\n    - name: evil\n      body: |\n"
    text += "        echo hi\n        %end\n        rootpw x\n"
    (error,) = schema_errors(tmp_path, text)
    assert ":18: scripts.post[0].body: body line 2 starts with '%'" in error


def test_a_long_value_is_cut_in_the_message(tmp_path: Path) -> None:
    long_name = "a" * 100_000
    text = MINIMAL.replace("hostname: kvm01.lab.local", f"hostname: '{long_name}!'")
    text += f"virtualization:\n  ? {long_name}\n  : 1\n"  # an explicit key: a plain one stops at 1,024 characters
    errors = schema_errors(tmp_path, text)
    file = tmp_path / "lab.yaml"
    assert errors[0] == (
        f"{file}:4: system.hostname: '{'a' * 60}…' (100,001 characters) is not an RFC 1123 host name "
        "(labels of 1-63 letters, digits and inner hyphens, 253 at most)"
    )
    assert errors[1].startswith(f"{file}:17: virtualization.{'a' * 45}… (100,015 characters): unknown key")
    assert len(errors) == 2 and sum(len(error) for error in errors) < 2_000


def test_a_missing_key_is_reported_at_the_mapping_that_lacks_it(tmp_path: Path) -> None:
    system = "system:\n  hostname: kvm01.lab.local\n  services: {enabled: [libvirtd], disabled: [NetworkManager]}\n"
    text = "# a profile without its system section\n\ndescription: lab\n" + MINIMAL.replace(system, "")
    text = text.replace("    - name: br0\n", "    - stp: true\n")
    file = tmp_path / "lab.yaml"
    assert schema_errors(tmp_path, text) == [
        f"{file}:3: system: required key is missing",  # the top-level mapping starts at its first key
        f"{file}:13: network.bridges[0].name: required key is missing",  # the list item that lacks it
    ]


def test_a_firewall_port_in_other_digits_than_0_to_9_is_refused(tmp_path: Path) -> None:
    # firewalld reads 0-9 only; '٥٩٠٠' matched the port pattern's \d and reached the kickstart.
    text = MINIMAL.replace("  hostname: kvm01", "  firewall: {ports: ['٥٩٠٠/tcp']}\n  hostname: kvm01")
    (error,) = schema_errors(tmp_path, text)
    assert "system.firewall.ports[0]" in error and "is not a port such as 16509/tcp" in error, error
