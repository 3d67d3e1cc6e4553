"""What a boot test verifies on the installed host, derived from the profile.

Rendered into a one-shot script by snippets/post-verify.j2 (only for boot-test builds); the host side parses the
report it prints (builder.boot.report).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from builder.contract import SEALED_IFCFG_KEYS
from builder.model.profile import Profile
from builder.render.context import IfcfgFile, ifcfg_files, nested_modules


@dataclass(frozen=True)
class BridgeExpectation:
    name: str
    stp: bool
    ports: tuple[str, ...]


@dataclass(frozen=True)
class BondExpectation:
    name: str
    mode: str
    miimon: int | None


@dataclass(frozen=True)
class VlanExpectation:
    device: str
    id: int
    parent: str

    @property
    def config_pattern(self) -> str:
        """The device's line in /proc/net/vlan/config, as an extended regex."""
        return rf"^{re.escape(self.device)} +\| +{self.id} +\| +{re.escape(self.parent)}$"


@dataclass(frozen=True)
class FileExpectation:
    name: str        # device
    path: str
    sha256: str


@dataclass(frozen=True)
class VerifyPlan:
    profile: str
    hostname: str
    selinux: str
    firewall_enabled: bool
    services_enabled: tuple[str, ...]
    services_disabled: tuple[str, ...]
    packages: tuple[str, ...]
    nested: bool
    nested_modules: tuple[str, ...]
    default_network: str
    bridges: tuple[BridgeExpectation, ...]
    bonds: tuple[BondExpectation, ...]
    vlans: tuple[VlanExpectation, ...]
    ifcfg: tuple[FileExpectation, ...]


def sealed_text(file: IfcfgFile, seal: bool) -> str:
    if not seal:
        return file.text
    return "".join(line + "\n" for line in file.text.splitlines() if line.split("=", 1)[0] not in SEALED_IFCFG_KEYS)


def verify_plan(profile: Profile, name: str) -> VerifyPlan:
    bridges = tuple(
        BridgeExpectation(
            name=bridge.name,
            stp=bridge.stp,
            ports=profile.network.bridge_ports(bridge.name),
        )
        for bridge in profile.network.bridges
    )
    files = tuple(
        FileExpectation(f.device, f.path, hashlib.sha256(sealed_text(f, profile.seal).encode()).hexdigest())
        for f in ifcfg_files(profile)
    )
    return VerifyPlan(
        profile=name,
        hostname=profile.system.hostname,
        selinux=profile.system.selinux,
        firewall_enabled=profile.system.firewall.enabled,
        services_enabled=profile.system.services.enabled,
        services_disabled=profile.system.services.disabled,
        packages=profile.packages.install,
        nested=profile.virtualization.nested,
        nested_modules=nested_modules(profile),
        default_network=profile.virtualization.default_network,
        bridges=bridges,
        bonds=tuple(BondExpectation(b.name, b.mode, b.options.miimon) for b in profile.network.bonds),
        vlans=tuple(VlanExpectation(v.device, v.id, v.parent) for v in profile.network.vlans),
        ifcfg=files,
    )
