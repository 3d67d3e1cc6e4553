"""ksbuild's rules for an unattended CentOS 7 install, checked on a parsed kickstart.

pykickstart accepts these kickstarts; anaconda would then stop and wait, or install from a place the file does not
say. On a kickstart rendered from a profile each is an error; on a hand-written one a warning (builder.rules).
Decisions:
- The install must end with `reboot`, `poweroff` or `shutdown` (the same as poweroff). `halt`, and no
  command at all (halt is the default), leave the machine waiting for a key press: an unattended
  install, and a boot test, never finishes.
- `text` or `cmdline`: `graphical`, the default, waits for a person when anything is missing.
- A rootpw, an installation source and some partitioning must be given.
- Every `--erroronfail` shell script of more than one command starts with `set -e` (or -eu, -euo pipefail,
  -o errexit ...) before any other command: otherwise a failing command in the middle is ignored and
  --erroronfail only sees the exit status of the last command.
- Exactly one install source kind (`url`, `cdrom`, `nfs`, `harddrive`, `liveimg`); pykickstart lets
  `url` and `cdrom` stand together and anaconda then uses only one of them.
- A command that is missing but may come from a file a %pre writes (or a URL) at install time is not reported;
  the include's note (KS110) says what was left to it and which %pre decides it.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence

from pykickstart.constants import DISPLAY_MODE_GRAPHICAL, KS_REBOOT, KS_SHUTDOWN

from builder.errors import Finding, Location
from builder.rules import rule_finding
from builder.validate.facts import STORAGE_COMMANDS, ResolvedInclude, may_provide
from builder.validate.kickstart import CommandLine, ParsedKickstart, ScriptSection
from builder.validate.shell import shell_dialect

CHECK = "policy"
SOURCE_COMMANDS = ("url", "cdrom", "nfs", "harddrive", "liveimg")
ENDING_COMMANDS = ("reboot", "poweroff", "shutdown", "halt")
DISPLAY_COMMANDS = ("text", "cmdline", "graphical")
_HEREDOC = re.compile(r"<<-?\s*['\"\\]?(?P<word>\w+)")


class _LeftToIncludes:
    """Missing commands that install-time includes may provide, recorded per include for its KS110 note."""

    def __init__(self, resolved: Sequence[ResolvedInclude]) -> None:
        self.resolved = resolved
        self.left: dict[int, list[str]] = {}

    def leave(self, names: Sequence[str], what: str) -> bool:
        """Whether some include may provide one of `names`; if so `what` is noted as left to each of them."""
        providers = may_provide(self.resolved, names)
        for item in providers:
            self.left.setdefault(id(item), []).append(what)
        return bool(providers)

    def notes(self) -> list[Finding]:
        notes = []
        for item in self.resolved:
            if not item.install_time:
                continue
            include = item.include
            verb = "fetched" if include.kind == "url" else "written"
            left = self.left.get(id(item))
            tail = (f"; not reported missing because it may provide them: {', '.join(left)}" if left
                    else "; what it holds is not checked")
            notes.append(rule_finding(CHECK, "KS110", include.location,
                                      f"%include {include.target} is {verb} at install time by {item.decided_by()}"
                                      f"{tail}"))
        return notes


def _last(parsed: ParsedKickstart, names: Sequence[str]) -> Location | None:
    lines = parsed.lines(*names)
    return lines[-1].location if lines else None


def _check_ending(parsed: ParsedKickstart, source: str, left: _LeftToIncludes) -> list[Finding]:
    ending = parsed.handler.commands["reboot"]
    if ending.action in (KS_REBOOT, KS_SHUTDOWN):
        return []
    if ending.seen:
        return [rule_finding(CHECK, "KS501", _last(parsed, ENDING_COMMANDS),
                             "halt waits for a key press after the install: use reboot or poweroff")]
    if left.leave(ENDING_COMMANDS, "reboot/poweroff"):
        return []
    return [rule_finding(CHECK, "KS501", Location(source), "no reboot or poweroff: anaconda then halts and waits for "
                         "a key press, so an unattended install never finishes")]


def _check_display_mode(parsed: ParsedKickstart, source: str, left: _LeftToIncludes) -> list[Finding]:
    mode = parsed.handler.commands["text"]
    if mode.seen and mode.displayMode != DISPLAY_MODE_GRAPHICAL:
        return []
    if mode.seen:
        return [rule_finding(CHECK, "KS502", _last(parsed, DISPLAY_COMMANDS),
                             "graphical install: use text or cmdline for an unattended install")]
    if left.leave(DISPLAY_COMMANDS, "text/cmdline"):
        return []
    return [rule_finding(CHECK, "KS502", Location(source),
                         "no text or cmdline: anaconda starts the graphical installer")]


def _check_rootpw(parsed: ParsedKickstart, source: str, left: _LeftToIncludes) -> list[Finding]:
    if parsed.handler.commands["rootpw"].seen or left.leave(("rootpw",), "rootpw"):
        return []
    return [rule_finding(CHECK, "KS503", Location(source), "no rootpw: anaconda stops and asks for a root password")]


def _check_storage(parsed: ParsedKickstart, source: str, left: _LeftToIncludes) -> list[Finding]:
    declared = parsed.attempted.intersection(("autopart", "part", "partition", "raid", "logvol", "volgroup"))
    if left.leave(STORAGE_COMMANDS, "storage (the checks of the whole layout)") or declared:
        return []
    return [rule_finding(CHECK, "KS506", Location(source), "no partitioning (autopart, or part/raid/logvol): "
                         "anaconda asks where to install")]


def _enables_errexit(words: list[str]) -> bool:
    """Whether `set` with these arguments turns on errexit."""
    for index, word in enumerate(words):
        if word == "-o" and index + 1 < len(words) and words[index + 1] == "errexit":
            return True
        if word.startswith("-") and not word.startswith("--") and "e" in word[1:]:
            return True
    return False


def _starts_with_set_e(body: str) -> bool:
    for raw in body.splitlines():
        text = raw.strip()
        if not text or text.startswith("#"):
            continue
        try:
            words = shlex.split(text, comments=True)
        except ValueError:
            return False
        if not words:
            continue
        if words[0] != "set":
            return False  # another command ran before errexit was on
        if _enables_errexit(words[1:]):
            return True
    return False


def _commands_in(body: str) -> int:
    """How many commands a body runs, roughly: logical lines (continuations joined, here-document data and
    comments left out), plus one per `;` that separates two commands on a line. Enough to tell one from more."""
    count = 0
    lines = body.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        while line.endswith("\\") and index < len(lines):
            line = line[:-1] + lines[index]
            index += 1
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        try:
            words = shlex.split(text, comments=True, posix=True)
        except ValueError:
            words = text.split()
        count += 1 + sum(1 for word in words if word == ";" or (word.endswith(";") and word != ";;"))
        heredoc = _HEREDOC.search(text)
        if heredoc is not None:
            while index < len(lines) and lines[index].strip() != heredoc["word"]:
                index += 1
            index += 1
    return count


def _check_erroronfail(scripts: tuple[ScriptSection, ...]) -> list[Finding]:
    return [
        rule_finding(CHECK, "KS404", Location(script.source, script.header_line),
                     f"%{script.kind} --erroronfail does not start with `set -e` (or `set -euo pipefail`): "
                     "a failing command before the last one would go unnoticed")
        for script in scripts
        if script.error_on_fail and shell_dialect(script.interpreter) and not _starts_with_set_e(script.body)
        and _commands_in(script.body) > 1
    ]


def _check_source(parsed: ParsedKickstart, source: str, left: _LeftToIncludes) -> list[Finding]:
    seen: list[CommandLine] = []
    for command in parsed.commands:
        if command.name in SOURCE_COMMANDS and command.name not in {other.name for other in seen}:
            seen.append(command)
    if not seen:
        if parsed.attempted.intersection(SOURCE_COMMANDS) or left.leave(SOURCE_COMMANDS, "the installation source"):
            return []
        return [rule_finding(CHECK, "KS504", Location(source),
                             "no installation source: add url, cdrom, nfs, harddrive or liveimg (or keep inst.repo= on "
                             "the boot command line)")]
    first = seen[0]
    return [
        rule_finding(CHECK, "KS505", command.location,
                     f"{command.name} and {first.name} (line {first.location.line}) are both installation sources: "
                     "anaconda uses only one")
        for command in seen[1:]
        if command.name != first.name
    ]


def check_policy(parsed: ParsedKickstart, source: str, resolved: Sequence[ResolvedInclude] = ()) -> list[Finding]:
    """ksbuild's policy findings for a parsed kickstart, each at the line of the command at fault, and the notes
    of the install-time includes that may provide what is missing."""
    left = _LeftToIncludes(resolved)
    return [
        *_check_display_mode(parsed, source, left),
        *_check_source(parsed, source, left),
        *_check_rootpw(parsed, source, left),
        *_check_storage(parsed, source, left),
        *_check_erroronfail(parsed.scripts),
        *_check_ending(parsed, source, left),
        *left.notes(),
    ]
