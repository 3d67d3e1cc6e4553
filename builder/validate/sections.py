"""Script sections of a kickstart: the parsed form every shell check reads, and a quick scan that finds them
without pykickstart.

The scan lets the shell checks start before pykickstart is even imported (its import and handler cost more than
shellcheck on a typical file). It is only a head start: the scripts pykickstart parses are the truth, and any that
the scan got differently are checked again (builder.validate.pipeline).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

SCRIPT_KINDS = {"%pre": "pre", "%post": "post", "%traceback": "traceback", "%pre-install": "pre-install",
                "%onerror": "onerror"}
_OPTIONS = ("--interpreter", "--erroronfail", "--log", "--logfile", "--nochroot")
# A line without any other character has no quote, escape or comment: split at whitespace, it gives shlex's words.
_NOT_PLAIN = re.compile(r"[^A-Za-z0-9%=/._:,@+ \t\r\n-]")


@dataclass(frozen=True)
class ScriptSection:
    """One %pre/%post/%traceback/%onerror body as parsed, in `source` (the kickstart or a file it includes)."""

    kind: str
    interpreter: str
    body: str
    header_line: int
    body_first_line: int
    error_on_fail: bool
    in_chroot: bool
    log: str | None
    source: str = ""


def _option(word: str) -> tuple[str, str | None] | None:
    """The full option name a header word means (argparse accepts unique prefixes) and its `=value`, if any."""
    name, _, value = word.partition("=")
    matches = [option for option in _OPTIONS if option.startswith(name)] if name.startswith("--") else []
    if name in _OPTIONS:
        matches = [name]
    if len(matches) != 1:
        return None
    return matches[0], (value if "=" in word else None)


def _header(words: list[str]) -> tuple[str, bool, bool, str | None] | None:
    """(interpreter, erroronfail, in chroot, log) of a script header; None when the scan cannot be sure."""
    # Only %post runs in the installed system by default.
    interpreter, error_on_fail, in_chroot, log = "/bin/sh", False, words[0] == "%post", None
    index = 1
    while index < len(words):
        parsed = _option(words[index])
        if parsed is None:
            return None
        name, value = parsed
        if name in ("--interpreter", "--log", "--logfile") and value is None:
            index += 1
            if index >= len(words):
                return None
            value = words[index]
        if name == "--interpreter":
            interpreter = value or ""
        elif name in ("--log", "--logfile"):
            log = value
        elif name == "--erroronfail":
            error_on_fail = True
        else:
            in_chroot = False
        index += 1
    return interpreter, error_on_fail, in_chroot, log


def header_words(line: str) -> list[str]:
    """The words of a header line as pykickstart splits it (shlex, comments dropped)."""
    if not _NOT_PLAIN.search(line):
        return line.split()  # nothing shlex would treat specially: the same words, without its per-character cost
    return shlex.split(line, comments=True)


def scan_scripts(text: str, source: str) -> tuple[ScriptSection, ...]:
    """The script sections of a kickstart as a quick line scan sees them (no pykickstart, no %include)."""
    found: list[ScriptSection] = []
    lines = text.splitlines(True)
    index = 0
    while index < len(lines):
        words = lines[index].split()
        index += 1
        if not words or not words[0].startswith("%") or words[0] in ("%end", "%include", "%ksappend"):
            continue
        header_line = index
        end = next((n for n in range(index, len(lines)) if lines[n].split()[:1] == ["%end"]), None)
        if end is None:
            break
        body = "".join(lines[index:end])
        index = end + 1
        kind = SCRIPT_KINDS.get(words[0])
        if kind is None or not body.strip():
            continue  # %packages, %addon, %anaconda ...; pykickstart drops empty scripts
        try:
            header = _header(header_words(lines[header_line - 1]))
        except ValueError:
            continue
        if header is None:
            continue
        interpreter, error_on_fail, in_chroot, log = header
        found.append(ScriptSection(kind, interpreter, body, header_line, header_line + 1, error_on_fail,
                                   in_chroot, log, source))
    return tuple(found)
