"""The device plan (builder.render.network_plan) as NetworkManager keyfiles, EL9's connection format:
/etc/NetworkManager/system-connections/<device>.nmconnection, root-owned and mode 0600 (NetworkManager ignores a
keyfile others can read: nm-settings-keyfile(5)).

The groups and keys are the ones NetworkManager itself writes (docs/measure/nm_keyfiles.out), in a fixed order. No
`uuid=`: NetworkManager derives a stable one from the file's path, so the output is deterministic. `bridge.stp` is
always written: NetworkManager's default is on, ifcfg's was off. Every file ksbuild writes is read back by
NetworkManager's own parser in the tests (`nmcli --offline connection modify`).
"""

from __future__ import annotations

from dataclasses import dataclass

from builder.model.profile import Profile
from builder.render.network_plan import DevicePlan, device_plans
from builder.render.quoting import keyfile_value

KEYFILE_DIR = "/etc/NetworkManager/system-connections"
KEYFILE_SUFFIX = ".nmconnection"
# Where %post moves connection files it replaces: NetworkManager loads every file in KEYFILE_DIR whatever its
# name (a `.bak` too: only hidden, `~` and mkstemp-style names are skipped, nms-keyfile-utils.c [S]).
KEYFILE_REPLACED_DIR = "/var/lib/ksbuild/nm-replaced"


@dataclass(frozen=True)
class Keyfile:
    device: str
    groups: tuple[tuple[str, tuple[tuple[str, str], ...]], ...]
    mode = "0600"
    kind = "keyfile"

    @property
    def path(self) -> str:
        return f"{KEYFILE_DIR}/{self.device}{KEYFILE_SUFFIX}"

    @property
    def text(self) -> str:
        parts = []
        for group, entries in self.groups:
            lines = [f"[{group}]", *(f"{key}={value}" for key, value in entries)]
            parts.append("\n".join(lines) + "\n")
        return "\n".join(parts)


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _connection(plan: DevicePlan) -> list[tuple[str, str]]:
    entries = [("id", plan.name), ("type", plan.kind), ("interface-name", plan.name)]
    if not plan.onboot:
        entries.append(("autoconnect", "false"))
    if plan.port_of is not None:
        entries += [("master", plan.port_of[1]), ("slave-type", plan.port_of[0])]
    return entries


def _ethernet(plan: DevicePlan) -> list[tuple[str, str]]:
    entries = []
    if plan.mac is not None:
        entries.append(("mac-address", plan.mac.upper()))  # as NetworkManager prints it
    if plan.mtu is not None:
        entries.append(("mtu", str(plan.mtu)))
    return entries


def _ipv4(plan: DevicePlan) -> list[tuple[str, str]]:
    config = plan.address
    if config is None:
        return [("method", "disabled")]
    entries = [("method", "auto")] if config.dhcp else [("method", "manual")]
    if config.address is not None:
        gateway = f",{config.gateway}" if config.gateway is not None else ""
        entries.append(("address1", f"{config.address.with_prefixlen}{gateway}"))
    if plan.dns:
        entries.append(("dns", "".join(f"{server};" for server in plan.dns)))
    if plan.default_route is False:
        entries.append(("never-default", "true"))  # another device has the gateway (ifcfg's DEFROUTE=no)
    return entries


def keyfile(plan: DevicePlan) -> Keyfile:
    groups: list[tuple[str, list[tuple[str, str]]]] = [("connection", _connection(plan))]
    ethernet = _ethernet(plan)
    if ethernet:
        groups.append(("ethernet", ethernet))
    if plan.kind == "bond":
        groups.append(("bond", list(plan.bond_options)))
    if plan.kind == "vlan":
        groups.append(("vlan", [("id", str(plan.vlan_id)), ("parent", plan.vlan_parent or "")]))
    if plan.kind == "bridge":
        groups.append(("bridge", [("stp", _flag(bool(plan.stp))), ("forward-delay", str(plan.forward_delay))]))
    if plan.port_of is not None:
        # A port holds no address: NetworkManager drops IP settings from ports; it writes this empty group.
        groups.append((f"{plan.port_of[0]}-port", []))
    else:
        groups.append(("ipv4", _ipv4(plan)))
        groups.append(("ipv6", [("method", "auto" if plan.ipv6 else "disabled")]))
    checked = tuple((group, tuple((key, _checked(value)) for key, value in entries)) for group, entries in groups)
    return Keyfile(plan.name, checked)


def _checked(value: str) -> str:
    # `;` separates the items of a list value (dns=a;b;); each item must be plain.
    return ";".join(keyfile_value(item) for item in value.split(";"))


def keyfiles(profile: Profile) -> tuple[Keyfile, ...]:
    return tuple(keyfile(plan) for plan in device_plans(profile))
