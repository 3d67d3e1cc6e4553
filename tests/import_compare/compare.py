"""The round trip: a kickstart rendered from an imported profile against the kickstart it was imported from.

Equivalent means: the same pykickstart command set after normalisation (option order, quoting, defaults and
names ksbuild chooses itself: pv.01, raid.01), the same packages, and the same files with the same contents and
modes after both kickstarts' %post scripts ran (tests.import_compare.compare_files, given the trees). Every
difference names what differs and why, or says that nothing explains it (a bug of the import).

Reasons come from three places, in order: what the import report says it did not carry from that line; the
import's notes (defaults it made explicit); and ksbuild's rendering conventions (`CONVENTIONS`), each a fixed
fact of the templates.
"""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from builder.importer.ledger import Entry, ImportReport
from builder.validate.kickstart import CommandLine, ParsedKickstart

_BOOKKEEPING = {"lineno", "seen", "op", "handler", "currentLine", "currentCmd", "writePriority", "mntpoint",
                "partitions", "name_list", "exclusive_required_options"}
# Commands that hold one setting under several names.
_ALIASES = {"poweroff": "reboot", "shutdown": "reboot", "halt": "reboot", "cmdline": "text", "graphical": "text",
            "authconfig": "auth", "partition": "part", "upgrade": "install"}
# Compared as devices and files (network) or as scripts, not as commands.
_ELSEWHERE = {"network"}

@dataclass(frozen=True)
class Reason:
    """Why two kickstarts differ; `effect` says whether the installed host differs too (False: only the form
    does, such as key order, a default written out, a log file's name)."""

    text: str
    effect: bool = True


def form(text: str) -> Reason:
    return Reason(text, effect=False)


# (command, option destination or None for the whole command) -> why ksbuild writes it so. Those that change
# nothing on the installed host are `form`.
CONVENTIONS: dict[tuple[str, str | None], Reason | str] = {
    ("install", None): form("ksbuild always writes `install`"),
    ("text", None): "ksbuild always writes `text` (an unattended text install)",
    ("text", "displayMode"): "ksbuild always writes `text` (an unattended text install)",
    ("skipx", None): "ksbuild always writes `skipx`",
    ("firstboot", None): "ksbuild always writes `firstboot --disabled`",
    ("firstboot", "firstboot"): "ksbuild always writes `firstboot --disabled`",
    ("selinux", None): form("anaconda's default (enforcing), written explicitly"),
    ("firewall", None): form("anaconda's default (firewalld on, ssh allowed), written explicitly"),
    ("lang", None): form("anaconda's default language, written explicitly"),
    ("keyboard", None): form("ksbuild writes the keymap for the console and X"),
    ("keyboard", "vc_keymap"): form("ksbuild writes the keymap for the console and X"),
    ("keyboard", "x_layouts"): form("ksbuild writes the keymap for the console and X"),
    ("keyboard", "_keyboard"): form("ksbuild writes --vckeymap/--xlayouts, not the older single argument"),
    ("keyboard", "kbd"): form("ksbuild writes --vckeymap/--xlayouts, not the older single argument"),
    ("timezone", None): "no timezone in the kickstart: UTC, written explicitly",
    ("rootpw", None): "no rootpw in the kickstart: root locked, written explicitly",
    ("reboot", None): "the kickstart does not say how the install ends; ksbuild reboots",
    ("ignoredisk", None): "ksbuild restricts the install to storage.disks (`ignoredisk --only-use`)",
    ("ignoredisk", "onlyuse"): "ksbuild restricts the install to storage.disks (`ignoredisk --only-use`)",
    ("zerombr", None): "ksbuild writes zerombr whenever it clears disks",
    ("clearpart", "initAll"): "ksbuild always writes --initlabel when it clears disks",
    ("clearpart", "drives"): "ksbuild clears storage.disks (clearpart --drives)",
    ("bootloader", None): form("anaconda's default (GRUB 2 in the first disk's MBR), written explicitly"),
    ("autopart", "type"): form("autopart without --type makes LVM on EL7, written explicitly"),
    ("bootloader", "bootDrive"): "ksbuild names the boot disk, storage.disks[0] (bootloader --boot-drive)",
    ("bootloader", "location"): form("ksbuild always writes --location"),
    ("reqpart", None): "storage.firmware: auto lets the installer add the boot partitions the machine needs",
    ("part", "disk"): "a partition without --ondisk goes on the boot disk (storage.partitions[].disk defaults to "
                      "it)",
    ("clearpart", "disklabel"): "storage.firmware: bios writes a GPT label for the BIOS boot partition",
    ("services", None): form("%post systemctl/chkconfig lines became the `services` command"),
    ("services", "enabled"): form("%post `systemctl enable`/`chkconfig on` lines joined the `services` command"),
    ("services", "disabled"): form("%post `systemctl disable`/`chkconfig off` lines joined the `services` command"),
    ("selinux", "selinux"): form("the %post edit of /etc/selinux/config became the `selinux` command"),
    ("repo", "install"): form("ksbuild writes the .repo file in %post (install.repos[].file) rather than with "
                              "`repo --install` (compared as files)"),
    ("repo", None): "a .repo file written in %post became install.repos; ksbuild adds it as a `repo` line only "
                    "when the kickstart had one",
}


@dataclass(frozen=True)
class Difference:
    area: str        # command, storage, packages, script, file, service, libvirt, calls
    subject: str
    original: str
    rendered: str
    reason: Reason | None

    @property
    def explained(self) -> bool:
        return self.reason is not None

    @property
    def effect(self) -> bool:
        return self.reason is None or self.reason.effect

    def format(self) -> str:
        if self.reason is None:
            why = "UNEXPLAINED"
        else:
            why = f"{'effect' if self.reason.effect else 'form'}: {self.reason.text}"
        return f"{self.area} {self.subject}: original {self.original!s} / rendered {self.rendered!s}: {why}"


@dataclass(frozen=True)
class Explainer:
    """Finds the reason for a difference: the report's entries at the original line, then the conventions."""

    report: ImportReport

    def __call__(self, command: str, dest: str | None, line: int | None, option: str = "") -> Reason | None:
        if line is not None:
            entries = [e for e in self.report.of("dropped") if e.span.first == line]
            entries += [e for e in self.report.notes if e.span.first == line]
            if option:
                # An option's difference is explained by what the report says about that option.
                entries = [e for e in entries if option in e.text]
            chosen = _best(entries, option)
            if chosen is not None:
                return Reason(chosen.reason, chosen.effect)
        for key in ((command, dest),):
            if key in CONVENTIONS:
                found = CONVENTIONS[key]
                return found if isinstance(found, Reason) else Reason(found)
        notes = [e for e in self.report.notes if e.text in (command, option.lstrip("-"))]
        return Reason(notes[0].reason, notes[0].effect) if notes else None


def _best(entries: list[Entry], option: str) -> Entry | None:
    if not entries:
        return None
    if option:
        for entry in entries:
            if option in entry.text:
                return entry
    return entries[0]


def _attributes(obj: Any) -> dict[str, Any]:
    return {k: v for k, v in vars(obj).items() if k not in _BOOKKEEPING and not k.startswith("_abc")}


def _option_name(command: CommandLine | None, dest: str) -> str:
    parser = getattr(command.command, "op", None) if command is not None else None
    if isinstance(parser, argparse.ArgumentParser):
        for action in parser._actions:
            if action.dest == dest and action.option_strings:
                return action.option_strings[0]
    return dest


def _canonical(name: str) -> str:
    return _ALIASES.get(name, name)


def _single_commands(parsed: ParsedKickstart) -> dict[str, CommandLine]:
    found: dict[str, CommandLine] = {}
    for command in parsed.commands:
        if command.single and command.name not in _ELSEWHERE:
            found[_canonical(command.name)] = command
    return found


def _list_commands(parsed: ParsedKickstart, names: Iterable[str]) -> list[CommandLine]:
    wanted = set(names)
    return [c for c in parsed.commands if not c.single and _canonical(c.name) in wanted]


def compare_single(original: ParsedKickstart, rendered: ParsedKickstart, explain: Explainer) -> list[Difference]:
    """Commands that hold one setting, attribute by attribute."""
    differences = []
    ours, theirs = _single_commands(original), _single_commands(rendered)
    for name in sorted(set(ours) | set(theirs)):
        mine, other = ours.get(name), theirs.get(name)
        if mine is None or other is None:
            present = mine or other
            assert present is not None
            differences.append(Difference("command", name, mine.text.strip() if mine else "(none)",
                                          other.text.strip() if other else "(none)",
                                          explain(name, None, mine.location.line if mine else None)))
            continue
        left, right = _attributes(mine.data), _attributes(other.data)
        for dest in sorted(set(left) | set(right)):
            if _same(left.get(dest), right.get(dest)):
                continue
            option = _option_name(mine, dest)
            reason = _same_effect(name, dest, original, rendered) or explain(name, dest, mine.location.line, option)
            differences.append(Difference("command", f"{name} {option}", _show(left.get(dest), dest),
                                          _show(right.get(dest), dest), reason))
    return differences


def _same_effect(name: str, dest: str, original: ParsedKickstart, rendered: ParsedKickstart) -> Reason | None:
    """Differences in the words that anaconda reads to the same effect."""
    if (name, dest) == ("clearpart", "drives"):
        only = sorted(d.removeprefix("/dev/") for d in original.handler.ignoredisk.onlyuse)
        drives = sorted(d.removeprefix("/dev/") for d in rendered.handler.clearpart.drives)
        if not original.handler.clearpart.drives and only and only == drives:
            return form("the same disks: `ignoredisk --only-use` already limits the original's clearpart to them")
    return None


def _same(left: Any, right: Any) -> bool:
    if isinstance(left, list | set | tuple) and isinstance(right, list | set | tuple):
        return sorted(map(str, left)) == sorted(map(str, right))
    return bool(left == right or (not left and not right))


def _show(value: Any, dest: str) -> str:
    if dest in ("password", "passphrase", "pw"):
        return "***" if value else "(none)"
    return repr(value)


# -- list commands (repo, user, sshkey, extra ones) -----------------------------------------------------------

_IDENTITY: dict[str, Callable[[Any], str]] = {
    "repo": lambda d: d.name,
    "user": lambda d: d.name,
    "sshkey": lambda d: f"{d.username} {d.key[-20:]}",
}


def compare_lists(original: ParsedKickstart, rendered: ParsedKickstart, explain: Explainer,
                  skip: Iterable[str]) -> list[Difference]:
    """List commands other than disks and network: items matched by identity, then attribute by attribute."""
    skipped = set(skip) | _ELSEWHERE
    names = {_canonical(c.name) for c in (*original.commands, *rendered.commands) if not c.single} - skipped
    differences = []
    for name in sorted(names):
        identity = _IDENTITY.get(name, lambda d: str(d).strip())
        ours = {identity(c.data): c for c in _list_commands(original, [name])}
        theirs = {identity(c.data): c for c in _list_commands(rendered, [name])}
        for key in sorted(set(ours) | set(theirs)):
            mine, other = ours.get(key), theirs.get(key)
            if mine is None or other is None:
                line = mine.location.line if mine else None
                differences.append(Difference("command", f"{name} {key}", mine.text.strip() if mine else "(none)",
                                              other.text.strip() if other else "(none)", explain(name, None, line)))
                continue
            left, right = _attributes(mine.data), _attributes(other.data)
            for dest in sorted(set(left) | set(right)):
                if not _same(left.get(dest), right.get(dest)):
                    option = _option_name(mine, dest)
                    differences.append(Difference("command", f"{name} {key} {option}", _show(left.get(dest), dest),
                                                  _show(right.get(dest), dest),
                                                  explain(name, dest, mine.location.line, option)))
    return differences


# -- packages -------------------------------------------------------------------------------------------------


def package_set(parsed: ParsedKickstart) -> dict[str, Any]:
    packages = parsed.handler.packages
    return {
        "groups": Counter(g.name.lower() for g in packages.groupList),
        "packages": Counter(packages.packageList),
        "excluded": Counter(packages.excludedList),
        "excluded groups": Counter(g.name.lower() for g in packages.excludedGroupList),
        "environment": packages.environment,
        "options": {k: v for k, v in vars(packages).items() if k in (
            "addBase", "nocore", "default", "excludeDocs", "handleMissing", "handleBroken", "instLangs", "multiLib",
            "excludeWeakdeps", "timeout", "retries")},
    }


def compare_packages(original: ParsedKickstart, rendered: ParsedKickstart, report: ImportReport) -> list[Difference]:
    ours, theirs = package_set(original), package_set(rendered)
    differences = []
    dropped = report.of("dropped")
    for kind in ("groups", "packages", "excluded", "excluded groups"):
        for name in sorted(set(ours[kind]) | set(theirs[kind])):
            if ours[kind][name] != theirs[kind][name]:
                entry = next((e for e in dropped if name in e.text), None)
                core = kind == "groups" and name == "core"
                reason = Reason(entry.reason) if entry else (
                    form("anaconda installs @core whether listed or not") if core else None)
                differences.append(Difference("packages", f"{kind} {name}", str(ours[kind][name]),
                                              str(theirs[kind][name]), reason))
    if ours["environment"] != theirs["environment"]:
        differences.append(Difference("packages", "environment", str(ours["environment"]),
                                      str(theirs["environment"]), None))
    for option, value in ours["options"].items():
        if theirs["options"].get(option) != value:
            entry = next((e for e in dropped if e.text.startswith("%packages")), None)
            differences.append(Difference("packages", f"option {option}", repr(value),
                                          repr(theirs["options"].get(option)),
                                          Reason(entry.reason) if entry else None))
    return differences


# -- network lines --------------------------------------------------------------------------------------------

_INSTALL_FIELDS = ("bootProto", "ip", "netmask", "gateway", "noipv6", "vlanid", "mtu")


def _installer_line(parsed: ParsedKickstart) -> CommandLine | None:
    lines = [c for c in parsed.lines("network") if c.data.device]
    return next((c for c in lines if c.data.activate), lines[0] if lines else None)


def _hostname(parsed: ParsedKickstart) -> str:
    return next((c.data.hostname for c in reversed(parsed.lines("network")) if c.data.hostname), "")


def _servers(data: Any) -> list[str]:
    return sorted(s for s in str(data.nameserver or "").replace(",", " ").split() if s)


def compare_network_lines(original: ParsedKickstart, rendered: ParsedKickstart, explain: Explainer) -> list[Difference]:
    """The installer's network line and the host name; every other `network` line's device is an ifcfg file
    ksbuild writes in %post, compared as files."""
    differences = []
    if _hostname(original) != _hostname(rendered):
        differences.append(Difference("network", "--hostname", _hostname(original) or "(none)",
                                      _hostname(rendered) or "(none)", explain("hostname", None, None)))
    mine, theirs = _installer_line(original), _installer_line(rendered)
    installer = form("ksbuild writes one `network` line, for the installer's device; this line's devices are ifcfg "
                     "files in %post (compared as files)")
    for command in original.lines("network"):
        if command is not mine and command.data.device:
            differences.append(Difference("network", f"line {command.location.line}", command.text.strip(),
                                          "(ifcfg files)", installer))
    if mine is None or theirs is None:
        if mine is not theirs:
            differences.append(Difference("network", "installer's line", mine.text.strip() if mine else "(none)",
                                          theirs.text.strip() if theirs else "(none)",
                                          explain("network", None, mine.location.line if mine else None)))
        return differences
    address = Reason("ksbuild configures the installer with the address the host will have on that device "
                     "(network.install_device); the original used another for the install")
    for field in _INSTALL_FIELDS:
        left, right = getattr(mine.data, field), getattr(theirs.data, field)
        if field == "bootProto":
            left, right = left or "dhcp", right or "dhcp"
        if not _same(left, right):
            option = _option_name(mine, field)
            reason = explain("network", field, mine.location.line, option) or (
                Reason("ksbuild's installer line follows the IPv6 setting of the host's device (IPV6INIT=); the "
                       "original installed with IPv6 on") if field == "noipv6" else address)
            differences.append(Difference("network", f"installer's line {option}", repr(left), repr(right), reason))
    if _servers(mine.data) != _servers(theirs.data):
        differences.append(Difference("network", "installer's line --nameserver", repr(_servers(mine.data)),
                                      repr(_servers(theirs.data)), address))
    bonds = [(sorted(str(d.bondslaves).replace(",", " ").split()), str(d.device)) for d in (mine.data, theirs.data)]
    if bonds[0][0] != bonds[1][0]:
        differences.append(Difference("network", "installer's line --bondslaves", repr(bonds[0][0]),
                                      repr(bonds[1][0]), address))
    if mine.data.device.lower() != theirs.data.device.lower():
        differences.append(Difference("network", "installer's line --device", mine.data.device, theirs.data.device,
                                      form("ksbuild names the installer's device by the NIC, bond or VLAN parent "
                                           "the host's address is on") if mine.data.device in
                                      {str(c.data.device) for c in original.lines("network")} else address))
    return differences
