"""Semantic checks: cross-field problems, all reported together, each at the profile line that causes it."""

from __future__ import annotations

from pathlib import Path

import pytest

from builder.pipeline import build
from tests.helpers import MINIMAL, write

BRIDGE_LINE = "      ipv4: {address: 192.168.80.40/24, gateway: 192.168.80.1}"


def errors_of(tmp_path: Path, text: str) -> list[str]:
    result = build(write(tmp_path / "lab.yaml", text), shell=False)
    return [f.format() for f in result.errors]


def test_minimal_has_no_semantic_error(tmp_path: Path) -> None:
    assert errors_of(tmp_path, MINIMAL) == []


@pytest.mark.parametrize(
    ("ipv4", "key", "message"),
    [
        ("{address: 192.168.80.40/24, gateway: 10.0.0.1}", "gateway",
         "gateway 10.0.0.1 is outside the subnet 192.168.80.0/24"),
        ("{address: 192.168.80.40/24, gateway: 192.168.80.40}", "gateway", "is the host's own address"),
        ("{address: 192.168.80.0/24, gateway: 192.168.80.1}", "address", "is the network or broadcast address"),
        ("{address: 192.168.80.255/24}", "address", "is the network or broadcast address"),
    ],
)
def test_address_problems(tmp_path: Path, ipv4: str, key: str, message: str) -> None:
    text = MINIMAL.replace(BRIDGE_LINE, f"      ipv4: {ipv4}")
    (error,) = errors_of(tmp_path, text)
    assert error.startswith(f"{tmp_path / 'lab.yaml'}:14: network.bridges[0].ipv4.{key}: ")
    assert message in error


def test_bridge_port_must_name_an_existing_bridge(tmp_path: Path) -> None:
    text = MINIMAL.replace("{name: enp2s0f0, bridge: br0}", "{name: enp2s0f0, bridge: br1}")
    (error,) = errors_of(tmp_path, text)
    assert error == f"{tmp_path / 'lab.yaml'}:11: network.interfaces[0].bridge: no bridge named br1 (bridges: br0)"


def test_a_nic_is_defined_once(tmp_path: Path) -> None:
    text = MINIMAL.replace("    - {name: enp2s0f0, bridge: br0}",
                           "    - {name: enp2s0f0, bridge: br0}\n    - {name: enp2s0f0, ipv4: {dhcp: true}}")
    (error,) = errors_of(tmp_path, text)
    assert error.startswith(f"{tmp_path / 'lab.yaml'}:12: network.interfaces[1].name: device enp2s0f0 is already")


def test_port_with_its_own_address(tmp_path: Path) -> None:
    text = MINIMAL.replace("{name: enp2s0f0, bridge: br0}", "{name: enp2s0f0, bridge: br0, ipv4: {dhcp: true}}")
    (error,) = errors_of(tmp_path, text)
    assert "network.interfaces[0].ipv4: enp2s0f0 is a port of br0" in error


def test_two_default_gateways(tmp_path: Path) -> None:
    text = MINIMAL.replace(
        "    - {name: enp2s0f0, bridge: br0}",
        "    - {name: enp2s0f0, bridge: br0}\n    - {name: eno1, ipv4: {address: 10.1.0.5/24, gateway: 10.1.0.1}}",
    )
    (error,) = errors_of(tmp_path, text)
    assert "a second default gateway" in error
    assert "network.interfaces[1].ipv4.gateway" in error
    assert "network.bridges[0].ipv4.gateway" in error


def test_several_problems_at_once(tmp_path: Path) -> None:
    text = MINIMAL.replace("{name: enp2s0f0, bridge: br0}", "{name: enp2s0f0, bridge: br9}")
    text = text.replace("disabled: [NetworkManager]", "disabled: [NetworkManager, libvirtd]")
    text += "scripts:\n  post:\n    - {name: network, body: 'true'}\n"
    errors = errors_of(tmp_path, text)
    assert len(errors) == 3, errors
    assert any("system.services.enabled[0]: libvirtd is both enabled and disabled" in e for e in errors)
    assert any("network.interfaces[0].bridge: no bridge named br9" in e for e in errors)
    assert any("scripts.post[0].name: network is the name of a section ksbuild writes" in e for e in errors)


def test_custom_layout_needs_root(tmp_path: Path) -> None:
    text = MINIMAL + (
        "storage:\n  layout: custom\n  partitions:\n    - {mount: /boot, size: 1024}\n    - {mount: /boot, size: 512}\n"
    )
    errors = errors_of(tmp_path, text)
    assert any(":19: storage.partitions[1].mount: KS204 error: /boot is already mounted" in e for e in errors)
    assert any("storage.partitions: KS205 error: no partition is mounted at /" in e for e in errors)


def test_missing_templates_folder(tmp_path: Path) -> None:
    text = MINIMAL + "templates: site-templates\n"
    result = build(write(tmp_path / "lab.yaml", text), shell=False)
    assert [f.format() for f in result.errors] == [
        f"{tmp_path / 'lab.yaml'}:15: templates: template folder {tmp_path / 'site-templates'} does not exist"
    ]


def test_pykickstart_errors_point_back_into_the_profile(tmp_path: Path) -> None:
    """A kickstart line pykickstart refuses (here from a broken template override) is reported at the ks.cfg line
    and at the profile key that produced it."""
    site = tmp_path / "site/snippets/storage.j2"
    site.parent.mkdir(parents=True)
    site.write_text("\n# Storage\nautopart --type=bogus\n")
    text = MINIMAL + "storage:\n  layout: lvm\n"
    result = build(write(tmp_path / "lab.yaml", text), templates=[tmp_path / "site"], shell=False)
    (error,) = result.errors
    assert error.check == "pykickstart"
    assert error.key == "storage.layout"
    assert error.location is not None and (error.location.file, error.location.line) == (str(tmp_path / "lab.yaml"), 16)
    assert error.rendered_line is not None
    assert result.kickstart.text.splitlines()[error.rendered_line - 1] == "autopart --type=bogus"
