"""The disk layout half of the round trip: part, raid, volgroup and logvol lines matched by what they are, not by
the names a kickstart gives them (pv.01, raid.11: ksbuild numbers its own), then option by option."""

from __future__ import annotations

from collections import Counter
from typing import Any

from builder.validate.kickstart import CommandLine, ParsedKickstart
from tests.import_compare.compare import Difference, Explainer, Reason, _attributes, _option_name, _same, _show

NAMES = ("part", "partition", "raid", "volgroup", "logvol")
_IGNORED = {"members", "physvols", "mountpoint", "vgname", "name", "device"}


def _disk(name: str | None) -> str:
    return (name or "").removeprefix("/dev/")


def _md(device: Any) -> str:
    text = str(device)
    return f"md{text}" if text.isascii() and text.isdigit() else text


class _Layout:
    """Every storage list line of one kickstart under an identity both kickstarts share."""

    def __init__(self, parsed: ParsedKickstart) -> None:
        lines = [c for c in parsed.commands if c.name in NAMES]
        self.vg_of: dict[str, str] = {}
        for command in lines:
            if command.name == "volgroup":
                for pv in command.data.physvols:
                    self.vg_of[pv] = command.data.vgname
        self.raid_of: dict[str, str] = {}
        for command in lines:
            if command.name == "raid":
                for member in command.data.members:
                    self.raid_of[member] = self._raid_identity(command)
        # What each physical volume is, whatever its name: a partition on a disk, or an md device.
        self.pv_kind: dict[str, str] = {}
        for command in lines:
            mount = str(getattr(command.data, "mountpoint", ""))
            if command.name in ("part", "partition") and mount.startswith("pv."):
                self.pv_kind[mount] = f"partition on {_disk(command.data.disk) or '?'}"
            elif command.name == "raid" and mount.startswith("pv."):
                self.pv_kind[mount] = f"md device {_md(command.data.device)}"
        self.items: dict[str, tuple[CommandLine, dict[str, Any]]] = {}
        seen: Counter[str] = Counter()
        for command in lines:
            identity = self._identity(command)
            seen[identity] += 1
            if seen[identity] > 1:
                identity = f"{identity} #{seen[identity]}"
            self.items[identity] = (command, self._normalised(command))

    def _raid_identity(self, command: CommandLine) -> str:
        mount = str(command.data.mountpoint)
        return f"raid pv of {self.vg_of.get(mount, '?')}" if mount.startswith("pv.") else f"raid {mount}"

    def _identity(self, command: CommandLine) -> str:
        data = command.data
        if command.name in ("part", "partition"):
            mount = str(data.mountpoint)
            if mount.startswith("pv."):
                return f"part pv of {self.vg_of.get(mount, '?')} on {_disk(data.disk) or '?'}"
            if mount in self.raid_of:
                return f"part member of {self.raid_of[mount]} on {_disk(data.disk) or '?'}"
            return f"part {mount}"
        if command.name == "raid":
            return self._raid_identity(command)
        if command.name == "volgroup":
            return f"volgroup {data.vgname}"
        return f"logvol {data.vgname}/{data.name}"

    def _normalised(self, command: CommandLine) -> dict[str, Any]:
        data = command.data
        values = _attributes(data)
        mount = str(getattr(data, "mountpoint", ""))
        if "fstype" in values:
            role = mount.startswith(("pv.", "raid.")) or mount.lower() == "none"
            if role:
                values.pop("fstype")
            elif not values["fstype"]:
                values["fstype"] = "swap" if mount == "swap" else "xfs"
        if command.name == "raid":
            values["level"] = str(values.get("level", "")).upper().removeprefix("RAID")
            values["device"] = _md(data.device)
        if command.name == "volgroup":
            values["physvols"] = sorted(self.pv_kind.get(pv, "?") for pv in data.physvols)
        return {k: v for k, v in values.items() if k not in _IGNORED or k in ("device", "physvols")}


def compare_storage(original: ParsedKickstart, rendered: ParsedKickstart, explain: Explainer) -> list[Difference]:
    ours, theirs = _Layout(original), _Layout(rendered)
    differences = []
    for identity in sorted(set(ours.items) | set(theirs.items)):
        mine, other = ours.items.get(identity), theirs.items.get(identity)
        name = identity.split()[0]
        if mine is None or other is None:
            line = mine[0].location.line if mine else None
            reason = explain(name, None, line)
            if reason is None and identity in ("part biosboot", "part /boot/efi"):
                reason = Reason("storage.firmware writes the boot partition the firmware needs")
            elif reason is None and identity.startswith("part biosboot #") and mine is None:
                reason = Reason("storage.firmware: bios writes a BIOS boot partition on each disk of a RAID1 /boot: "
                                "anaconda installs GRUB2 on every mirror disk, and grub2-install fails on a GPT disk "
                                "without one (the original would not install; the linter reports it as KS207)")
            differences.append(Difference("storage", identity, mine[0].text.strip() if mine else "(none)",
                                          other[0].text.strip() if other else "(none)", reason))
            continue
        left, right = mine[1], other[1]
        for dest in sorted(set(left) | set(right)):
            if _same(left.get(dest), right.get(dest)):
                continue
            option = _option_name(mine[0], dest)
            differences.append(Difference("storage", f"{identity} {option}", _show(left.get(dest), dest),
                                          _show(right.get(dest), dest),
                                          explain(name, dest, mine[0].location.line, option)))
    return differences
