"""The device plan (builder.render.network_plan) as ifcfg files: CentOS 7's network service and EL8's
NetworkManager (its ifcfg-rh plugin) read them from /etc/sysconfig/network-scripts."""

from __future__ import annotations

from dataclasses import dataclass

from builder.model.profile import Profile
from builder.render.network_plan import DevicePlan, device_plans, network_manager_disabled
from builder.render.quoting import ifcfg_value

IFCFG_DIR = "/etc/sysconfig/network-scripts"
_TYPES = {"ethernet": "Ethernet", "bond": "Bond", "bridge": "Bridge"}


@dataclass(frozen=True)
class IfcfgFile:
    device: str
    entries: tuple[tuple[str, str], ...]
    mode = "0644"
    kind = "ifcfg"

    @property
    def path(self) -> str:
        return f"{IFCFG_DIR}/ifcfg-{self.device}"

    @property
    def text(self) -> str:
        return "".join(f"{key}={ifcfg_value(value)}\n" for key, value in self.entries)


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _address(plan: DevicePlan) -> list[tuple[str, str]]:
    if plan.port_of is not None:
        return [("BOOTPROTO", "none"), ("MASTER", plan.port_of[1]), ("SLAVE", "yes")] if plan.port_of[0] == "bond" \
            else [("BOOTPROTO", "none"), ("BRIDGE", plan.port_of[1])]
    config = plan.address
    if config is None:
        return [("BOOTPROTO", "none")]
    not_default = [("DEFROUTE", "no")] if plan.default_route is False else []
    if config.dhcp:
        return [("BOOTPROTO", "dhcp"), *not_default]
    assert config.address is not None  # guaranteed by IPv4Config's validator
    entries = [("BOOTPROTO", "none"), ("IPADDR", str(config.address.ip)), ("NETMASK", str(config.address.netmask))]
    if config.gateway is not None:
        entries += [("GATEWAY", str(config.gateway)), ("DEFROUTE", "yes")]
    else:
        entries += not_default
    entries += [(f"DNS{n}", str(server)) for n, server in enumerate(plan.dns, start=1)]
    return entries


def ifcfg_file(plan: DevicePlan, nm_off: bool) -> IfcfgFile:
    """One device's file: its identity, its address (or the port it is), then MTU, IPv6, NM_CONTROLLED, extras."""
    entries: list[tuple[str, str]] = [("DEVICE", plan.name), ("NAME", plan.name)]
    if plan.kind == "vlan":
        # initscripts reads the id from the name (<parent>.<id> or vlan<id>); PHYSDEV names the parent for both.
        entries += [("VLAN", "yes"), ("PHYSDEV", plan.vlan_parent or "")]
    else:
        entries.append(("TYPE", _TYPES[plan.kind]))
    if plan.kind == "bond":
        entries += [("BONDING_MASTER", "yes"), ("BONDING_OPTS", " ".join(f"{k}={v}" for k, v in plan.bond_options))]
    if plan.mac is not None:
        entries.append(("HWADDR", plan.mac))
    entries.append(("ONBOOT", _yes(plan.onboot)))
    entries += _address(plan)
    if plan.kind == "bridge":
        entries += [("STP", _yes(bool(plan.stp))), ("DELAY", str(plan.forward_delay))]
    if plan.mtu is not None:
        entries.append(("MTU", str(plan.mtu)))
    entries.append(("IPV6INIT", _yes(plan.ipv6)))
    if nm_off:
        entries.append(("NM_CONTROLLED", "no"))
    entries += sorted(plan.extra_ifcfg.items())
    return IfcfgFile(device=plan.name, entries=tuple(entries))


def ifcfg_files(profile: Profile) -> tuple[IfcfgFile, ...]:
    nm_off = network_manager_disabled(profile)
    return tuple(ifcfg_file(plan, nm_off) for plan in device_plans(profile))
