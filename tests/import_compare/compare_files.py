"""The %post half of the round trip: the files two kickstarts' scripts leave in the same starting root, compared
with the meaning each kind of file has, every difference with its reason.

Trees are `{path: (mode, bytes)}` (taken by the caller after running the scripts, e.g. tests/sandbox.py).
Recording stand-ins (systemctl, virsh, yum ...) log their calls to /var/log/standins.log; those calls are compared
as what they do: a unit's final enabled state (with the kickstart's `services` command applied first, as
anaconda does), libvirt's default network defined or not.
"""

from __future__ import annotations

import configparser
import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace

from builder.contract import INSTALLED_FILE
from builder.importer.ifcfg import IFCFG_DIR, bond_options, device_of_path, parse_ifcfg, prefix_of
from builder.importer.ledger import ImportReport
from builder.validate.kickstart import ParsedKickstart
from tests.import_compare.compare import Difference, Reason, form
from tests.sandbox import STANDINS_LOG

Tree = Mapping[str, tuple[int, bytes]]
_NETWORKS = "/etc/libvirt/qemu/networks"
_DEFAULT_NETWORK = (f"{_NETWORKS}/default.xml", f"{_NETWORKS}/autostart/default.xml")
# ifcfg values initscripts assumes when a key is absent.
_IFCFG_DEFAULTS = {"TYPE": "Ethernet", "IPV6INIT": "no", "ONBOOT": "yes", "NM_CONTROLLED": "yes",
                   "BONDING_MASTER": "yes"}
_DEFAULT_WHY = {
    "TYPE": "TYPE=Ethernet is initscripts' default, written explicitly",
    "IPV6INIT": "IPV6INIT=no is initscripts' default, written explicitly",
    "ONBOOT": "ONBOOT=yes is the default, written explicitly",
    "BONDING_MASTER": "BONDING_MASTER=yes, written explicitly for a bond",
}


@dataclass(frozen=True)
class Sides:
    """What the file comparison needs to know about the two kickstarts."""

    original: ParsedKickstart
    rendered: ParsedKickstart
    report: ImportReport
    same_dns: bool = True  # the host's name servers are the same, whichever devices' files hold them


def _ifcfg_devices(tree: Tree) -> dict[str, tuple[str, dict[str, str] | None]]:
    found = {}
    for path, (_, data) in tree.items():
        device = device_of_path(path)
        if device is not None:
            entries = parse_ifcfg(data.decode(errors="replace"))
            name = entries.get("DEVICE", device) if entries else device
            found[name] = (path, entries)
    return found


def _normal(entries: dict[str, str]) -> dict[str, str]:
    values = {k: v for k, v in entries.items()}
    if values.get("BOOTPROTO", "").lower() == "static":
        values["BOOTPROTO"] = "none"
    if "NETMASK" in values:
        prefix = prefix_of(values.pop("NETMASK"))
        if prefix is not None:
            values.setdefault("PREFIX", prefix)
    if "HWADDR" in values:
        values["HWADDR"] = values["HWADDR"].lower()  # initscripts compares MACs without case
    if "BONDING_OPTS" in values:
        options = bond_options(values["BONDING_OPTS"])
        values["BONDING_OPTS"] = " ".join(f"{k}={v}" for k, v in sorted(options.items()))
    for key in ("ONBOOT", "IPV6INIT", "STP", "NM_CONTROLLED", "DEFROUTE", "SLAVE", "VLAN", "BONDING_MASTER"):
        if key in values:
            values[key] = {"on": "yes", "1": "yes", "true": "yes", "off": "no", "0": "no", "false": "no"}.get(
                values[key].lower(), values[key].lower())
    return values


def _ifcfg_reason(key: str, mine: str | None, theirs: str | None, rendered: dict[str, str], sides: Sides,
                  nm_disabled: bool) -> Reason | None:
    if key == "NAME":
        return form("ksbuild writes NAME=<device> (initscripts does not read it)")
    if key == "UUID" and theirs is None:
        return form("NetworkManager's connection id, which anaconda writes and ksbuild does not")
    default = _IFCFG_DEFAULTS.get(key, "").lower()
    if key in _IFCFG_DEFAULTS and mine is None and (theirs or "").lower() == default:
        return form(_DEFAULT_WHY.get(key, f"{key}={theirs} is the default, written explicitly"))
    if key in _IFCFG_DEFAULTS and theirs is None and (mine or "").lower() == default:
        return form(f"{key}={mine} is the default; ksbuild leaves it out")
    if key == "NM_CONTROLLED" and theirs == "no" and nm_disabled:
        return form("NetworkManager is in system.services.disabled: ksbuild writes NM_CONTROLLED=no on every device")
    if key == "NM_CONTROLLED" and mine == "no" and theirs is None:
        return _dropped(sides.report, "NM_CONTROLLED") or Reason(
            "ksbuild writes NM_CONTROLLED=no only when NetworkManager is disabled")
    if key == "DEFROUTE" and mine is None and theirs == "yes" and "GATEWAY" in rendered:
        return form("DEFROUTE=yes is the default for the device with the gateway, written explicitly")
    if key == "DEFROUTE":
        return Reason("ksbuild derives DEFROUTE from the gateway (yes on the device with it, no on the others)")
    if key == "STP" and mine is None and theirs == "no":
        return form("STP off is the kernel's default for a bridge, written explicitly")
    if key == "DELAY":
        stp = rendered.get("STP") == "yes"
        if mine is None and theirs == ("15" if stp else "0"):
            return form("the kernel's forward delay for this bridge, written explicitly")
        if stp and mine is not None and mine.isascii() and mine.isdigit() and int(mine) < 2 and theirs == "2":
            return form("with STP on the kernel keeps the forward delay within 2-30 s: DELAY=" + mine +
                        " gave the host 2 s, which ksbuild writes")
    if key == "PHYSDEV" and mine is None:
        return form("ksbuild names a VLAN's parent (PHYSDEV=) as well as its name")
    if key == "VLAN_ID" and theirs is None:
        return form("initscripts reads the VLAN id from the device name")
    if key.startswith("DNS"):
        if sides.same_dns:
            return form("ksbuild writes DNS1.. on the device with the gateway (network.nameservers are host-wide)")
        return _dropped(sides.report, "DNS")
    if key == "BOOTPROTO" and {mine, theirs} <= {"none", None}:
        return form("BOOTPROTO=none is what a missing BOOTPROTO means")
    if key == "TYPE" and theirs is None and (mine or "").lower() == "vlan":
        return form("ksbuild marks a VLAN with VLAN=yes")
    if key == "IPV6INIT" and mine == "yes" and theirs == "no":
        return _dropped(sides.report, "noipv6")
    return _dropped(sides.report, f"{key}=")


def _dns(devices: dict[str, tuple[str, dict[str, str] | None]]) -> list[str]:
    servers: list[str] = []
    for _, entries in sorted(devices.values()):
        for key in ("DNS1", "DNS2", "DNS3"):
            value = (entries or {}).get(key)
            if value and value not in servers:
                servers.append(value)
    return servers


def _dropped(report: ImportReport, text: str) -> Reason | None:
    entry = next((e for e in report.of("dropped") if text in e.text), None)
    return Reason(entry.reason) if entry else None


def _services(parsed: ParsedKickstart, calls: list[list[str]]) -> dict[str, bool]:
    """Each unit's final state: the `services` command (anaconda applies it before %post), then %post's calls."""
    state: dict[str, bool] = {}
    command = parsed.handler.services
    for name in command.enabled:
        state[name.removesuffix(".service")] = True
    for name in command.disabled:
        state[name.removesuffix(".service")] = False
    for call in calls:
        if call[:1] == ["systemctl"]:
            words = [w for w in call[1:] if not w.startswith("-")]
            if words and words[0] in ("enable", "disable"):
                for unit in words[1:]:
                    state[unit.removesuffix(".service")] = words[0] == "enable"
        elif call[:1] == ["chkconfig"] and len(call) >= 3 and call[-1] in ("on", "off"):
            state[call[-2].removesuffix(".service")] = call[-1] == "on"
    return state


def _calls(tree: Tree) -> list[list[str]]:
    data = tree.get(STANDINS_LOG, (0, b""))[1].decode(errors="replace")
    return [line.split() for line in data.splitlines() if line.strip()]


def _own_log(path: str, parsed: ParsedKickstart) -> bool:
    return any(script.log and posixpath.normpath(script.log) == path for script in parsed.scripts)


def _settings(data: bytes) -> dict[str, str]:
    return dict(line.split("=", 1) for line in data.decode(errors="replace").splitlines()
                if "=" in line and not line.lstrip().startswith("#"))


def _modprobe_options(tree: Tree) -> set[str]:
    options = set()
    for path, (_, data) in tree.items():
        if posixpath.dirname(path) == "/etc/modprobe.d" and path.endswith(".conf"):
            for line in data.decode(errors="replace").splitlines():
                if line.strip().startswith("options "):
                    options.add(" ".join(line.split()))
    return options


def _repo(data: bytes) -> dict[str, dict[str, str]] | None:
    parser = configparser.RawConfigParser(interpolation=None)
    try:
        parser.read_string(data.decode(errors="replace"))
    except configparser.Error:
        return None
    return {section: dict(parser[section]) for section in parser.sections()}


def compare_trees(original: Tree, rendered: Tree, sides: Sides) -> list[Difference]:
    """Every difference between the files the original's and the rendered kickstart's %post left."""
    differences: list[Difference] = []
    done: set[str] = {STANDINS_LOG}
    nm_disabled = "NetworkManager" in sides.rendered.handler.services.disabled
    # ifcfg files, device by device; the name servers of the host as a whole.
    ours, theirs = _ifcfg_devices(original), _ifcfg_devices(rendered)
    sides = replace(sides, same_dns=_dns(ours) == _dns(theirs))
    for device in sorted(set(ours) | set(theirs)):
        mine, other = ours.get(device), theirs.get(device)
        done |= {x[0] for x in (mine, other) if x}
        if mine is None or other is None or mine[1] is None or other[1] is None:
            differences.append(Difference("file", f"{IFCFG_DIR}/ifcfg-{device}", "present" if mine else "(none)",
                                          "present" if other else "(none)", None))
            continue
        left, right = _normal(mine[1]), _normal(other[1])
        if left == right:
            if original[mine[0]][1] != rendered[other[0]][1]:
                differences.append(Difference("file", other[0], "same keys", "same keys",
                                              form("ifcfg key order and quoting are ksbuild's")))
            continue
        for key in sorted(set(left) | set(right)):
            if left.get(key) != right.get(key):
                reason = _ifcfg_reason(key, left.get(key), right.get(key), right, sides, nm_disabled)
                differences.append(Difference("file", f"{other[0]} {key}", str(left.get(key)),
                                              str(right.get(key)), reason))
    # backups
    for path in sorted(set(original) | set(rendered)):
        if path.startswith(f"{IFCFG_DIR}/ifcfg-") and path.endswith(".bak"):
            done.add(path)
            if original.get(path) != rendered.get(path):
                differences.append(Difference("file", path, "present" if path in original else "(none)",
                                              "present" if path in rendered else "(none)",
                                              form("initscripts ignores *.bak; ksbuild keeps the file anaconda "
                                                   "wrote as .bak once, before writing its own")))
    # SELinux config: the settings
    for path in ("/etc/selinux/config",):
        done.add(path)
        a, b = original.get(path), rendered.get(path)
        if a == b:
            continue
        if a and b and _settings(a[1]) == _settings(b[1]):
            differences.append(Difference("file", path, "same settings", "same settings",
                                          form("ksbuild writes its own comment lines")))
        else:
            differences.append(Difference("file", path, repr(_settings(a[1]) if a else None),
                                          repr(_settings(b[1]) if b else None), None))
    # modprobe.d: the options in effect
    modprobe = sorted(p for p in set(original) | set(rendered) if posixpath.dirname(p) == "/etc/modprobe.d")
    done |= set(modprobe)
    if any(original.get(p) != rendered.get(p) for p in modprobe):
        a_opts, b_opts = _modprobe_options(original), _modprobe_options(rendered)
        where = [p for p in modprobe if original.get(p) != rendered.get(p)]
        differences.append(Difference("file", ", ".join(where), " / ".join(sorted(a_opts)) or "(none)",
                                      " / ".join(sorted(b_opts)) or "(none)",
                                      form("the same module options; ksbuild writes them to kvm-nested.conf")
                                      if a_opts == b_opts else None))
    # repo files
    for path in sorted(p for p in set(original) | set(rendered) if p.startswith("/etc/yum.repos.d/")):
        done.add(path)
        a, b = original.get(path), rendered.get(path)
        if a == b:
            continue
        differences.extend(_repo_difference(path, a, b, sides))
    # libvirt's default network and the services, from the stand-ins' calls
    differences.extend(_libvirt(original, rendered, done))
    a_calls, b_calls = _calls(original), _calls(rendered)
    a_units, b_units = _services(sides.original, a_calls), _services(sides.rendered, b_calls)
    for unit in sorted(set(a_units) | set(b_units)):
        if a_units.get(unit) != b_units.get(unit):
            differences.append(Difference("service", unit, _state(a_units.get(unit)), _state(b_units.get(unit)),
                                          None))
    other_a = sorted(" ".join(c) for c in a_calls if c[:1] not in (["systemctl"], ["chkconfig"], ["virsh"]))
    other_b = sorted(" ".join(c) for c in b_calls if c[:1] not in (["systemctl"], ["chkconfig"], ["virsh"]))
    if other_a != other_b:
        differences.append(Difference("calls", "yum/rpm/other stand-ins", "; ".join(other_a), "; ".join(other_b),
                                      None))
    # everything else: byte for byte, mode for mode
    for path in sorted(set(original) | set(rendered)):
        if path in done:
            continue
        a, b = original.get(path), rendered.get(path)
        if a == b:
            continue
        reason = None
        if b is not None and a is None and (path == INSTALLED_FILE or re.fullmatch(r"/root/ksbuild-post-.*\.log",
                                                                                   path)):
            reason = form("ksbuild's success marker" if path == INSTALLED_FILE else "ksbuild's log of one section")
        elif a is not None and b is None and _own_log(path, sides.original):
            reason = form("the original script's --log; ksbuild logs each section to /root/ksbuild-post-<name>.log")
        elif a is not None and b is not None and a[1] == b[1]:
            differences.append(Difference("file", f"{path} mode", oct(a[0]), oct(b[0]), None))
            continue
        differences.append(Difference("file", path, _describe(a), _describe(b), reason))
    return differences


def _state(value: bool | None) -> str:
    return "enabled" if value else "disabled" if value is False else "(not set)"


def _describe(entry: tuple[int, bytes] | None) -> str:
    if entry is None:
        return "(none)"
    text = entry[1].decode(errors="replace").strip().splitlines()
    return f"{oct(entry[0])} {text[0][:60] if text else '(empty)'}"


def _libvirt(original: Tree, rendered: Tree, done: set[str]) -> list[Difference]:
    done.update(_DEFAULT_NETWORK)
    a_defined = _DEFAULT_NETWORK[0] in original and not any(
        c[:1] == ["virsh"] and "net-undefine" in c for c in _calls(original))
    b_defined = _DEFAULT_NETWORK[0] in rendered and not any(
        c[:1] == ["virsh"] and "net-undefine" in c for c in _calls(rendered))
    a_calls = [c for c in _calls(original) if c[:1] == ["virsh"]]
    if a_defined != b_defined:
        return [Difference("libvirt", "default network", "defined" if a_defined else "removed",
                           "defined" if b_defined else "removed", None)]
    if a_calls and not b_defined and _DEFAULT_NETWORK[0] in original:
        return [Difference("libvirt", "default network", "virsh " + "; virsh ".join(" ".join(c[1:]) for c in a_calls),
                           "definition files removed",
                           form("virsh needs a running libvirtd, which the installer does not have; ksbuild "
                                "removes the definition files (virtualization.default_network: remove)"))]
    return []


def _repo_difference(path: str, a: tuple[int, bytes] | None, b: tuple[int, bytes] | None,
                     sides: Sides) -> list[Difference]:
    if a is None or b is None:
        name = posixpath.basename(path).removesuffix(".repo")
        in_install = any(c.data.name == name for c in sides.original.lines("repo"))
        why = (Reason("ksbuild writes a .repo file for every repo of install.repos; the kickstart's `repo` line "
                      "was for the install only") if in_install and a is None else None)
        return [Difference("file", path, _describe(a), _describe(b), why)]
    left, right = _repo(a[1]), _repo(b[1])
    if left is None or right is None:
        return [Difference("file", path, _describe(a), _describe(b), None)]
    found = []
    for section in sorted(set(left) | set(right)):
        l_items, r_items = left.get(section, {}), right.get(section, {})
        for key in sorted(set(l_items) | set(r_items)):
            if l_items.get(key) != r_items.get(key):
                reason: Reason | None = None
                if key == "name":
                    reason = Reason(f"ksbuild writes name={section} (the repo id)")
                elif key in ("enabled", "gpgcheck") and l_items.get(key) is None and r_items.get(key) == "1":
                    reason = form(f"{key}=1 is yum's default, written explicitly")
                found.append(Difference("file", f"{path} [{section}] {key}", str(l_items.get(key)),
                                        str(r_items.get(key)), reason))
    if not found:
        found.append(Difference("file", path, "same settings", "same settings", form("ksbuild's key order")))
    if a[0] != b[0]:
        found.append(Difference("file", f"{path} mode", oct(a[0]), oct(b[0]), None))
    return found
