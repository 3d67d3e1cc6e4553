"""Parse a kickstart with pykickstart for one target version, collecting every error with its line.

pykickstart stops at the first error, or prints errors to stderr with `errorsAreFatal=False`, and some
errors stay fatal either way (missing %end, unknown section, unbalanced quote). The parser here records
each one as a Finding and carries on, so one run reports all of them, the way a compiler does.

It also records what a linter and `ksbuild import` read: every command line with its file:line and the object
pykickstart made of it, the scripts, and each %include (local files are parsed in place, at their own lines; see
builder.validate.includes). The handler version is a parameter (RHEL7 by default, with `sshkey`).
"""

from __future__ import annotations

import argparse
import copy
import functools
import shlex
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from pykickstart.base import BaseData
from pykickstart.commands.sshkey import F22_SshKey, F22_SshKeyData
from pykickstart.constants import (
    KS_SCRIPT_ONERROR,
    KS_SCRIPT_POST,
    KS_SCRIPT_PRE,
    KS_SCRIPT_PREINSTALL,
    KS_SCRIPT_TRACEBACK,
)
from pykickstart.errors import (
    KickstartDeprecationWarning,
    KickstartError,
    KickstartParseError,
    KickstartWarning,
)
from pykickstart.parser import STATE_COMMANDS, KickstartParser, PutBackIterator
from pykickstart.version import RHEL7, returnClassForVersion, stringToVersion

from builder.errors import Finding, Location
from builder.fsutil import real_path
from builder.rules import rule_finding
from builder.validate.includes import Include, IncludeReader
from builder.validate.sections import ScriptSection

__all__ = ["RHEL7", "CommandLine", "ParsedKickstart", "ScriptSection", "handler_for", "handler_version",
           "parse_kickstart", "rhel7_handler"]

CHECK = "pykickstart"

_SCRIPT_KINDS = {
    KS_SCRIPT_PRE: "pre",
    KS_SCRIPT_POST: "post",
    KS_SCRIPT_TRACEBACK: "traceback",
    KS_SCRIPT_PREINSTALL: "pre-install",
    KS_SCRIPT_ONERROR: "onerror",
}


@dataclass(frozen=True)
class CommandLine:
    """One command as written: its words (the comment dropped), where it is, and what pykickstart made of it.

    `data` is the data object of list commands (part, network, user ...) or, for commands that hold one setting
    (rootpw, bootloader ...), a copy of the command object as this line left it: a later line does not change it.
    `command` is pykickstart's command object, shared by the names of one setting (reboot/poweroff/halt).
    """

    name: str
    args: tuple[str, ...]
    location: Location
    text: str
    data: Any
    command: Any

    @property
    def single(self) -> bool:
        """Whether the command holds one setting, so that a second line replaces the first."""
        return not isinstance(self.data, BaseData)

    def option(self, name: str) -> argparse.Action | None:
        """The parser action of option `name` as written on the line (`--boot` for `--boot-drive`: argparse, and so
        anaconda, take a unique abbreviation); None when the command has no parser or no such option."""
        parser = getattr(self.command, "op", None)
        if not isinstance(parser, argparse.ArgumentParser):
            return None
        actions: dict[str, argparse.Action] = parser._option_string_actions
        if name in actions:
            return actions[name]
        candidates = {id(action): action for option, action in actions.items() if option.startswith(name)}
        return next(iter(candidates.values())) if len(candidates) == 1 else None


@dataclass(frozen=True)
class ParsedKickstart:
    handler: Any
    scripts: tuple[ScriptSection, ...]
    findings: tuple[Finding, ...]
    version: int = RHEL7
    commands: tuple[CommandLine, ...] = ()
    includes: tuple[Include, ...] = ()
    # Every file read: the kickstart (under its source name) and the local files it includes.
    files: tuple[tuple[str, str], ...] = ()
    # The names of every command line, parsed or refused: a refused line is reported once, not also as missing.
    attempted: frozenset[str] = frozenset()

    def lines(self, *names: str) -> list[CommandLine]:
        """The command lines of these commands, in file order."""
        return [command for command in self.commands if command.name in names]


# Commands the linter's checks read from a handler whether the kickstart uses them or not.
READ_COMMANDS = frozenset({
    "autopart", "bootloader", "cdrom", "clearpart", "cmdline", "graphical", "halt", "harddrive", "ignoredisk",
    "liveimg", "logvol", "network", "nfs", "part", "partition", "poweroff", "raid", "reboot", "reqpart", "rootpw",
    "shutdown", "sshkey", "text", "url", "user", "volgroup", "zerombr",
})


def _command_updates(handler_class: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    if "sshkey" in handler_class.commandMap:
        return {}, {}
    # The upstream RHEL7 handler lacks sshkey, which RHEL 7.3 added.
    return {"sshkey": F22_SshKey}, {"SshKeyData": F22_SshKeyData}


def _new_handler(version: int, used: frozenset[str] | None = None) -> Any:
    """A handler with every command, or only those in `used` and READ_COMMANDS (the others are registered when a
    line names them: `_CollectingParser.handleCommand`). Building a command's option parser is most of the cost."""
    handler_class = returnClassForVersion(version)
    commands, data = _command_updates(handler_class)
    mapping = None
    if used is not None:
        wanted = used | READ_COMMANDS
        # With every other name of the same command (auth/authconfig, reboot/poweroff/halt ...).
        classes = {cls for name, cls in handler_class.commandMap.items() if name in wanted}
        mapping = {name: cls for name, cls in handler_class.commandMap.items() if cls in classes}
    return handler_class(mapping=mapping, commandUpdates=commands, dataUpdates=data)


def _register_if_known(handler: Any, name: str) -> None:
    """Register a command a handler built for some commands only was not given, if the version has it."""
    if name in handler.commands:
        return
    handler_class = type(handler)
    command = _command_updates(handler_class)[0].get(name) or handler_class.commandMap.get(name)
    if command is not None:
        handler.registerCommand(name, command)


@functools.cache
def _prototype_handler(version: int) -> tuple[Any, dict[int, Any]]:
    prototype = _new_handler(version)
    # The option parsers are built once per command and never change after construction; they are
    # most of a handler's construction cost (~35 ms of argparse setup and gettext lookups here).
    parsers = {
        id(value): value
        for command in prototype.commands.values()
        if command is not None
        for value in vars(command).values()
        if isinstance(value, argparse.ArgumentParser)
    }
    return prototype, parsers


_handlers_made: set[int] = set()


def handler_for(version: int = RHEL7, used: frozenset[str] | None = None) -> Any:
    """A fresh handler for a pykickstart version (RHEL7, RHEL8 ...), with `sshkey` where upstream lacks it.

    The first one of a process is built directly, with only the commands in `used` (the first words of the
    kickstart's lines) and those the checks read: a one-file run needs no more. Later ones are copies of a
    never-used prototype with every command that share only the read-only option parsers: ~1.5 ms instead of
    ~35 ms for a new instance, with no parsed state carried from one kickstart to the next.
    """
    if version not in _handlers_made:
        _handlers_made.add(version)
        return _new_handler(version, used)
    prototype, parsers = _prototype_handler(version)
    return copy.deepcopy(prototype, dict(parsers))


def handler_version(name: str) -> int:
    """pykickstart's version number for a handler name such as RHEL8 (builder.targets names them)."""
    return int(stringToVersion(name))


def rhel7_handler() -> Any:
    """A fresh RHEL7 handler that also knows `sshkey`."""
    return handler_for(RHEL7)


# Section option parsers, shared like the command ones: pykickstart builds a new one for every section
# header (a third of the parse time of a kickstart with six scripts), always the same for one version.
_section_parsers: dict[tuple[type, int], Any] = {}


def _shared_section_parser(section: Any) -> Any:
    key = (type(section), section.version)
    if key not in _section_parsers:
        _section_parsers[key] = type(section)._getParser(section)
    return _section_parsers[key]


class _CountingLines(PutBackIterator):  # type: ignore[misc]
    """The parser's line source, counting lines so every error gets the line being read."""

    def __init__(self, lines: Sequence[str]) -> None:
        # pykickstart's readers end the input with "" so the state machine sees end-of-file.
        super().__init__([*lines, ""])
        self.lineno = 0
        self.current = ""
        self.exhausted = False

    def put(self, s: str) -> None:
        super().put(s)
        self.lineno -= 1

    def next(self) -> str:
        line: str = super().next()
        if line == "":
            self.exhausted = True
        else:
            self.lineno += 1
            self.current = line
        return line


def _first_word(line: str) -> str:
    words = line.split()
    return words[0] if words else ""


def _word_cut_by_comment(line: str) -> int | None:
    """1-based index of the word an unquoted `#` cuts short, as anaconda splits the line; None if none."""
    if "#" not in line:
        return None
    kept = shlex.split(line, comments=True)
    try:
        whole = shlex.split(line)
    except ValueError:
        # The comment hid an unbalanced quote: part of a word was certainly dropped.
        return max(len(kept), 1)
    if whole[: len(kept)] == kept:
        return None  # a comment after whitespace, as intended
    return max(len(kept), 1)


def _error_message(exc: Exception) -> str:
    if isinstance(exc, KickstartError):
        text = exc.message if isinstance(exc.message, str) else str(exc.message)
        return text.strip() or "pykickstart cannot read this line"
    if isinstance(exc, ValueError) and "quotation" in str(exc):
        return f"unbalanced quote ({exc}): quote values and escape inner quotes"
    return f"pykickstart failed on this line ({type(exc).__name__}: {exc})"


def _not_a_duplicate(data: Any, command: Any) -> bool:
    """Whether pykickstart's "already been defined" warning about `data` is wrong. It compares a network line by
    its device alone and a partition by its mount point alone, but anaconda creates both of these: a VLAN on a
    device another line configures (`network --device=bond0 --vlanid=130`), and a BIOS boot partition on each disk
    (`part biosboot --ondisk=sdb`, so GRUB can be installed on every disk of a RAID1 /boot)."""
    earlier = [other for other in (command.dataList() or []) if other is not data]
    if hasattr(data, "vlanid") and hasattr(data, "device"):
        same = [other for other in earlier if other.device == data.device]
        return bool(same) and all(other.vlanid != data.vlanid for other in same)
    if getattr(data, "mountpoint", None) == "biosboot" and getattr(data, "disk", None):
        same = [other for other in earlier if getattr(other, "mountpoint", None) == "biosboot"]
        return bool(same) and all(other.disk and other.disk != data.disk for other in same)
    return False


class _CollectingParser(KickstartParser):  # type: ignore[misc]
    _state: str  # set by KickstartParser: STATE_COMMANDS or the open section's header, e.g. "%post"

    def __init__(self, handler: Any, source: str, includes: IncludeReader | None) -> None:
        super().__init__(handler, followIncludes=False, errorsAreFatal=False, missingIncludeIsFatal=False)
        self.source = source
        self.findings: list[Finding] = []
        self.scripts: list[ScriptSection] = []
        self.commands: list[CommandLine] = []
        self.attempted: set[str] = set()
        self.includes: list[Include] = []
        self.files: list[tuple[str, str]] = []
        # Without a reader nothing local is read; absolute paths and URLs are still told apart.
        self._reader = includes or IncludeReader(None)
        self._including: list[Path] = []
        self._lines = _CountingLines([])
        self._error_lines: set[tuple[str, int]] = set()
        self._header_line = 0
        self._section_complete = True

    # -- recording -------------------------------------------------------------------------------

    def _add(self, message: str, line: int | None, rule: str = "KS101") -> None:
        self.findings.append(rule_finding(CHECK, rule, Location(self.source, line), message))
        if rule == "KS101" and line is not None:
            self._error_lines.add((self.source, line))

    # The signature is warnings.showwarning's, which this replaces while parsing.
    def _on_warning(
        self,
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: TextIO | None = None,
        line: str | None = None,
    ) -> None:
        if not issubclass(category, KickstartWarning):
            return  # pykickstart's own internal deprecations say nothing about the kickstart
        # A parse warning (a duplicate, a removed keyword) says anaconda will not do what is written; a
        # deprecated command or option is ignored. Their severities per mode are the catalogue's.
        rule = "KS103" if issubclass(category, KickstartDeprecationWarning) else "KS102"
        self._add(str(message), self._lines.lineno or None, rule)

    # -- pykickstart hooks -----------------------------------------------------------------------

    def setupSections(self) -> None:
        super().setupSections()
        for section in self._sections.values():
            if hasattr(section, "_getParser"):
                section._getParser = functools.partial(_shared_section_parser, section)

    def _tryFunc(self, fn: Callable[[], object]) -> None:
        try:
            fn()
        except Exception as exc:
            self._add(_error_message(exc), self._lines.lineno)

    def handleCommand(self, lineno: int, args: list[str]) -> Any:
        # The state machine's own counter restarts when parsing resumes after a fatal error; ours does not.
        line = self._lines.lineno
        cut = _word_cut_by_comment(self._line)
        if cut is not None:
            self._add(
                f"an unquoted '#' starts a comment, so word {cut} of this line is cut short and the rest "
                "of the line is dropped; quote the value",
                line,
                "KS104",
            )
        self.handler.currentLine = self._line
        self.attempted.add(args[0])
        _register_if_known(self.handler, args[0])
        warned = len(self.findings)
        data = self.handler.dispatcher(args, line)
        command = self.handler.commands[args[0]]
        if len(self.findings) > warned and isinstance(data, BaseData) and _not_a_duplicate(data, command):
            self.findings[warned:] = [f for f in self.findings[warned:] if f.rule != "KS102"]
        snapshot = data if isinstance(data, BaseData) else copy.copy(data)
        self.commands.append(
            CommandLine(args[0], tuple(args), Location(self.source, line), self._line.rstrip("\n"), snapshot, command)
        )
        return data

    def _handleInclude(self, target: str) -> None:
        location = Location(self.source, self._lines.lineno)
        include, local = self._reader.read(target, location, self._including)
        self.includes.append(include)
        if local is None:
            return
        self.files.append((local.source, local.text))
        saved = (self._lines, self.source)
        self._including.append(local.path)
        self._includeDepth += 1
        try:
            self.source = local.source
            self._run(_CountingLines(local.text.splitlines(True)))
        finally:
            self._includeDepth -= 1
            self._including.pop()
            self._lines, self.source = saved

    def _readSection(self, lineIter: Any, lineno: int) -> int:
        self._header_line = self._lines.lineno
        result: int = super()._readSection(lineIter, lineno)
        return result

    def _finalize(self, obj: Any) -> None:
        scripts_before = len(self.handler.scripts)
        super()._finalize(obj)
        if len(self.handler.scripts) == scripts_before:
            return
        # A script whose header or end had an error is reported already; its options may be wrong
        # (e.g. a misspelt --interpreter), so it is not handed on to the shell checks.
        if not self._section_complete or (self.source, self._header_line) in self._error_lines:
            return
        script = self.handler.scripts[-1]
        self.scripts.append(
            ScriptSection(
                kind=_SCRIPT_KINDS.get(script.type, str(script.type)),
                interpreter=script.interp or "/bin/sh",
                body=script.script,
                header_line=self._header_line,
                body_first_line=self._header_line + 1,
                error_on_fail=bool(script.errorOnFail),
                in_chroot=bool(script.inChroot),
                log=script.logfile,
                source=self.source,
            )
        )

    # -- driving ---------------------------------------------------------------------------------

    def parse(self, text: str, path: Path | None) -> None:
        self.files.append((self.source, text))
        if path is not None:
            self._including.append(real_path(path))
        self._reset()
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.showwarning = self._on_warning
            self._run(_CountingLines(text.splitlines(True)))

    def _run(self, lines: _CountingLines) -> None:
        """Parse `lines` (the kickstart or an included file) to the end, recording and recovering from errors."""
        self._lines = lines
        while True:
            try:
                if self._state != STATE_COMMANDS and lines.lineno:
                    # Resume inside the section where the last error happened.
                    KickstartParser._readSection(self, lines, lines.lineno)
                self._stateMachine(lines)
                return
            except Exception as exc:
                if not self._recover(exc):
                    return

    def _recover(self, exc: Exception) -> bool:
        """Record an error pykickstart treats as fatal; return whether parsing can go on."""
        lines = self._lines
        word = _first_word(lines.current)
        in_section = self._state != STATE_COMMANDS
        if lines.exhausted:
            if in_section:
                self._add(
                    f"section {self._state} (line {self._header_line}) does not end with %end",
                    self._header_line,
                )
            else:
                self._add(_error_message(exc), lines.lineno)
            return False
        if in_section and isinstance(exc, KickstartParseError) and self._validState(word):
            self._add(
                f"section {self._state} (line {self._header_line}) does not end with %end "
                f"before {word} on line {lines.lineno}",
                self._header_line,
            )
            lines.put(lines.current)
            self._close_unterminated_section()
            return True
        if not in_section and word == "%end":
            self._add("%end without an open section", lines.lineno)
            return True
        self._add(_error_message(exc), lines.lineno)
        if not in_section and word.startswith("%") and word not in ("%include", "%ksappend"):
            # A section header that could not be read (unknown name, bad quoting): skip its body,
            # or every line of it would be reported again as an unknown command.
            return self._skip_to_end()
        if word == "%end":
            self._state = STATE_COMMANDS
        return True

    def _close_unterminated_section(self) -> None:
        self._section_complete = False
        try:
            self._finalize(self._sections[self._state])
        except Exception as exc:
            self._add(_error_message(exc), self._header_line)
        finally:
            self._section_complete = True
            self._state = STATE_COMMANDS

    def _skip_to_end(self) -> bool:
        while True:
            line = self._lines.next()
            if line == "":
                return False
            if _first_word(line) == "%end":
                return True


def parse_kickstart(
    text: str,
    source: str,
    *,
    version: int = RHEL7,
    path: Path | None = None,
    includes: IncludeReader | None = None,
) -> ParsedKickstart:
    """Parse `text` as a kickstart for `version` (a pykickstart version: RHEL7, RHEL8, RHEL9 ...); every problem
    becomes a Finding at `source`:line. `path` is the file `text` was read from; `includes` reads local %include
    files (without it, %include lines are recorded and nothing is read)."""
    handler = handler_for(version, frozenset(line.split(None, 1)[0] for line in text.splitlines() if line.strip()))
    parser = _CollectingParser(handler, source, includes)
    parser.parse(text, path)
    return ParsedKickstart(
        handler=handler,
        scripts=tuple(parser.scripts),
        findings=tuple(parser.findings),
        version=version,
        commands=tuple(parser.commands),
        includes=tuple(parser.includes),
        files=tuple(parser.files),
        attempted=frozenset(parser.attempted),
    )
