"""What every mapper of an import shares: the parsed kickstart, the draft profile, the ledger, and the helpers that
read a command line's options and pass a line through unchanged."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import TypeAdapter, ValidationError

from builder.checks.semantic import SECRET_OPTIONS
from builder.importer.ledger import Draft, Ledger
from builder.validate.kickstart import CommandLine, ParsedKickstart
from builder.vocabulary import KeyPath

EXTRA_COMMANDS: KeyPath = ("kickstart", "extra_commands")


@dataclass
class ImportContext:
    parsed: ParsedKickstart
    source: str
    draft: Draft = field(default_factory=Draft)
    ledger: Ledger = field(default_factory=Ledger)
    rootpw_hash: str | None = None
    # The %pre that is ksbuild's own CPU check (virtualization.require_hardware), if any.
    hardware_script: int | None = None
    # The kickstart has %addon com_redhat_kdump (it sets crashkernel= itself).
    kdump: bool = False
    # MAC (lower case) -> kernel name, from `ksbuild import --nic-name`: for `network --device=<MAC>` lines, whose
    # NIC anaconda finds at install time but whose ifcfg file the profile names.
    nic_names: dict[str, str] = field(default_factory=dict)

    def pass_through(self, command: CommandLine, reason: str) -> None:
        """Keep the command line as written in kickstart.extra_commands (callers refuse lines with secrets)."""
        index = self.draft.append(EXTRA_COMMANDS, as_written(command), command.location)
        self.ledger.passed(command.location, line_text(command), (*EXTRA_COMMANDS, index), reason)

    def unhandled(self, command: CommandLine, handled: set[str], reasons: dict[str, str] | None = None) -> None:
        """Report each option given on `command` whose destination is not in `handled` as not carried."""
        for option, dest in given_options(command):
            if dest in handled:
                continue
            reason = (reasons or {}).get(dest) or f"no profile key for {command.name} {option}"
            self.ledger.dropped(command.location, f"{command.name} {option}", reason)


def as_written(command: CommandLine) -> str:
    """The command as written, without a trailing comment or surrounding space."""
    text = command.text.strip()
    words_end = _comment_start(text)
    return text[:words_end].rstrip() if words_end is not None else text


def line_text(command: CommandLine) -> str:
    """The command for the report: its words, with every password, passphrase or hash value shown as ***."""
    words = []
    hide_next = False
    for word in command.args:
        if hide_next:
            words.append("***")
            hide_next = False
            continue
        name, equals, value = word.partition("=")
        if name in SECRET_OPTIONS:
            words.append(f"{name}=***" if equals else name)
            hide_next = not equals
        elif command.name in ("rootpw", "sshpw") and not word.startswith("--") and word != command.name:
            words.append("***")
        elif name == "--proxy" and "@" in value:
            words.append(f"--proxy=***@{value.rsplit('@', 1)[1]}")
        else:
            words.append(word if _plain(word) else repr(word))
    return " ".join(words)


def _plain(word: str) -> bool:
    return bool(word) and not any(ch.isspace() or ch in "'\"#" for ch in word)


def _comment_start(text: str) -> int | None:
    """Where an unquoted `#` after whitespace starts a comment, as shlex (and so anaconda) reads the line."""
    quote = ""
    index = 0
    while index < len(text):
        char = text[index]
        if char == "\\" and quote != "'":
            index += 2  # escapes the next character, outside quotes and inside double quotes
            continue
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "#" and (index == 0 or text[index - 1].isspace()):
            return index
        index += 1
    return None


def given_options(command: CommandLine) -> list[tuple[str, str]]:
    """(option as its full name, destination) of every option written on the line, in order."""
    found: list[tuple[str, str]] = []
    for word in command.args[1:]:
        if not word.startswith("--"):
            continue
        action = command.option(word.split("=", 1)[0])
        if action is not None and action.dest != "help":
            found.append((action.option_strings[0], action.dest))
    return found


def refused_url(value: str, kind: Any) -> str | None:
    """The profile model's reason for refusing `value` as a URL of `kind` (Url, UrlOrFile), or None."""
    try:
        TypeAdapter(kind).validate_python(value)
    except ValidationError as exc:
        return str(exc.errors()[0]["msg"]).removeprefix("Value error, ")
    return None
