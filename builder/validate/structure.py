"""What pykickstart accepts although anaconda then ignores part of it, and %include files that cannot be checked.

- A single-valued option repeated on one line (`network --nameserver=a --nameserver=b`): argparse keeps the last
  value, and so does anaconda. Options that collect values (append actions) and flags are not counted; the same
  value twice is harmless and not reported. Abbreviations count as the option they abbreviate (`--nameserv`).
- A command that holds one setting given on two lines (`rootpw` twice, `reboot` then `poweroff`): the last wins.
- %include files that were not found or not read (builder.validate.includes has the limits).
"""

from __future__ import annotations

import argparse

from pykickstart.options import ExtendAction, ExtendConstAction

from builder.errors import Finding
from builder.rules import rule_finding
from builder.validate.facts import ResolvedInclude
from builder.validate.kickstart import CommandLine, ParsedKickstart

CHECK = "structure"
# pykickstart's own ExtendAction collects too: `firewall --service=ssh --service=nfs` opens both.
_COLLECTING = (argparse._AppendAction, argparse._AppendConstAction, argparse._ExtendAction, argparse._CountAction,
               ExtendAction, ExtendConstAction)


def _repeated_options(command: CommandLine) -> list[Finding]:
    values: dict[str, list[str]] = {}
    names: dict[str, str] = {}
    words = command.args[1:]
    for index, word in enumerate(words):
        if not word.startswith("--"):
            continue
        name, equals, value = word.partition("=")
        action = command.option(name)
        if action is None or action.nargs == 0 or isinstance(action, _COLLECTING):
            continue
        if not equals:
            value = words[index + 1] if index + 1 < len(words) else ""
        values.setdefault(action.dest, []).append(value)
        names.setdefault(action.dest, action.option_strings[0])
    return [
        rule_finding(CHECK, "KS105", command.location,
                     f"{names[dest]} is given {len(given)} times on this line; anaconda keeps only the last value")
        for dest, given in values.items()
        if len(given) > 1 and len(set(given)) > 1
    ]


def _repeated_commands(parsed: ParsedKickstart) -> list[Finding]:
    first: dict[int, CommandLine] = {}
    found = []
    for command in parsed.commands:
        if not command.single:
            continue
        earlier = first.setdefault(id(command.command), command)
        if earlier is command:
            continue
        where = (f"line {earlier.location.line}" if earlier.location.file == command.location.file
                 else str(earlier.location))
        what = command.name if earlier.name == command.name else f"{command.name} (like {earlier.name})"
        found.append(rule_finding(CHECK, "KS106", command.location,
                                  f"{what} is given again: anaconda uses only this line, not the one at {where}"))
    return found


def _includes(resolved: list[ResolvedInclude]) -> list[Finding]:
    found = []
    for item in resolved:
        include = item.include
        if include.kind == "not-found":
            if include.target.startswith("/"):
                message = (f"%include {include.target}: no %pre script names this path, and ksbuild cannot see the "
                           "installer's file system; anaconda stops when it does not exist")
            else:
                message = f"%include {include.target}: no such file next to the kickstart; anaconda stops there"
            found.append(rule_finding(CHECK, "KS111", include.location, message))
        elif include.kind == "not-read":
            found.append(rule_finding(CHECK, "KS112", include.location, f"%include {include.target} was not read, "
                                      f"so it is not checked: {include.reason}"))
    return found


def check_structure(parsed: ParsedKickstart, resolved: list[ResolvedInclude]) -> list[Finding]:
    """Repeated options and commands, and includes that could not be checked."""
    findings = [finding for command in parsed.commands for finding in _repeated_options(command)]
    return [*findings, *_repeated_commands(parsed), *_includes(resolved)]
