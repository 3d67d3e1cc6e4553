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
    text = MINIMAL.replace("    - {name: enp2s0f0, bridge: br0}",
                           "    - {name: enp2s0f0, bridge: br0, extra_ifcfg: {ONBBOT: 'yes'}}")
    (error,) = schema_errors(tmp_path, text)
    assert ":11: network.interfaces[0].extra_ifcfg: " in error
    assert "ONBBOT is not an ifcfg key initscripts knows; did you mean ONBOOT?" in error


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
    assert error.startswith(f"{tmp_path / 'lab.yaml'}: users: required key is missing")


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
