"""EL9's NetworkManager keyfiles: one per device from the same device plan as the ifcfg files, each read back by
NetworkManager's own parser (tests/nm_offline.py) and compared key by key with what was written; and with the
profile, so the test does not only agree with the code that wrote the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from builder.errors import BadInput, KsbuildError
from builder.pipeline import build
from builder.render.keyfile import Keyfile, keyfiles
from builder.render.quoting import keyfile_value
from tests.helpers import SHIPPED_PROFILES
from tests.nm_offline import OfflineNmcli, Parsed, differences, offline_nmcli

PROFILES = [SHIPPED_PROFILES / "kvm-hypervisor.yaml", *sorted((SHIPPED_PROFILES / "examples").glob("*.yaml"))]


@pytest.fixture(scope="module")
def nmcli() -> OfflineNmcli:
    found = offline_nmcli()
    if isinstance(found, str):
        pytest.skip(found)
    return found


def _keyfiles(profile: Path, *overrides: str) -> tuple[Keyfile, ...]:
    result = build(profile, overrides=["target=el9", *overrides], shell=False)
    assert result.ok, [f.format() for f in result.errors]
    return keyfiles(result.profile)


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.stem)
def test_networkmanager_reads_every_key_back(profile: Path, nmcli: OfflineNmcli) -> None:
    for file in _keyfiles(profile):
        parsed = nmcli.parse(file.text)
        assert parsed.ok, (file.path, parsed.text)
        assert differences(file.text, parsed) == [], file.path
        assert file.mode == "0600" and file.path.endswith(f"/{file.device}.nmconnection")


def _by_device(profile: Path, nmcli: OfflineNmcli, *overrides: str) -> dict[str, dict[str, dict[str, str]]]:
    return {file.device: nmcli.parse(file.text).groups() for file in _keyfiles(profile, *overrides)}


def test_lacp_vlan_bridge_as_networkmanager_sees_it(nmcli: OfflineNmcli) -> None:
    """profiles/examples/lacp-vlan-bridge.yaml, read as NetworkManager reads the files."""
    seen = _by_device(SHIPPED_PROFILES / "examples" / "lacp-vlan-bridge.yaml", nmcli)
    assert set(seen) == {"ens1f0", "ens1f1", "bond0", "bond0.10", "bond0.30", "br-vm"}
    for member in ("ens1f0", "ens1f1"):
        assert (seen[member]["connection"]["master"], seen[member]["connection"]["slave-type"]) == ("bond0", "bond")
        assert "ipv4" not in seen[member]
    bond = seen["bond0"]
    assert bond["bond"] == {"lacp_rate": "fast", "miimon": "100", "mode": "802.3ad", "xmit_hash_policy": "layer3+4"}
    assert bond["ethernet"]["mtu"] == "9000"
    assert (bond["ipv4"]["method"], bond["ipv6"]["method"]) == ("disabled", "disabled")
    management = seen["bond0.10"]
    assert (management["vlan"]["id"], management["vlan"]["parent"]) == ("10", "bond0")
    assert management["ipv4"]["address1"] == "192.168.80.43/24,192.168.80.1"
    assert management["ipv6"]["method"] == "auto"  # ipv6: true on this VLAN
    port = seen["bond0.30"]
    assert (port["vlan"]["id"], port["connection"]["master"], port["connection"]["slave-type"]) == \
        ("30", "br-vm", "bridge")
    bridge = seen["br-vm"]
    assert bridge["bridge"]["stp"] == "false"
    assert (bridge["ipv4"]["method"], bridge["ethernet"]["mtu"]) == ("disabled", "9000")


def test_the_lab_bridge_as_networkmanager_sees_it(nmcli: OfflineNmcli) -> None:
    seen = _by_device(SHIPPED_PROFILES / "kvm-hypervisor.yaml", nmcli)
    bridge = seen["br0"]
    assert "stp" not in bridge["bridge"]  # on: NetworkManager's default, which it does not print
    assert bridge["bridge"]["forward-delay"] == "2"
    assert bridge["ipv4"] == {"address1": "192.168.80.40/24,192.168.80.1", "dns": "114.114.114.114;8.8.8.8;",
                              "method": "manual"}
    assert seen["enp2s0f0"]["connection"]["master"] == "br0"


def test_pinned_macs_and_a_dhcp_device_that_must_not_take_the_default_route(nmcli: OfflineNmcli) -> None:
    seen = _by_device(SHIPPED_PROFILES / "kvm-hypervisor.yaml", nmcli,
                      'network.interfaces[1]={name: eno9, mac: "52:54:00:a1:00:09", ipv4: {dhcp: true}}')
    assert seen["eno9"]["ethernet"]["mac-address"] == "52:54:00:A1:00:09"
    assert seen["eno9"]["ipv4"] == {"method": "auto", "never-default": "true"}  # br0 has the gateway
    pinned = _by_device(SHIPPED_PROFILES / "examples" / "bond-active-backup.yaml", nmcli)
    assert pinned["eno1"]["ethernet"]["mac-address"] == "52:54:00:A1:00:01"


@pytest.mark.parametrize("value", ["a;b", "x y", "#c", "[g]", "a\\b", "line\nbreak"])
def test_values_that_would_change_the_keyfile_are_refused(value: str) -> None:
    with pytest.raises(BadInput):
        keyfile_value(value)


def test_networkmanager_refuses_what_the_checks_refuse(nmcli: OfflineNmcli) -> None:
    """The profile checks stop these before a keyfile is written; NetworkManager agrees they are wrong."""
    with pytest.raises(KsbuildError) as caught:
        build(SHIPPED_PROFILES / "kvm-hypervisor.yaml", overrides=["target=el9", "network.bridges[0].delay=0"],
              shell=False)
    assert [f.key for f in caught.value.findings] == ["network.bridges[0].delay"]
    bad = nmcli.parse("[connection]\nid=br0\ntype=bridge\ninterface-name=br0\n\n[bridge]\nstp=true\n"
                      "forward-delay=0\n\n[ipv4]\nmethod=disabled\n")
    assert not bad.ok and "forward-delay" in bad.text
    assert Parsed(True, "[a]\nb=c\n").groups() == {"a": {"b": "c"}}
