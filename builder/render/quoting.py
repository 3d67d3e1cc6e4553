"""Quoting for the languages a value can land in: kickstart lines, shell, ifcfg files, NetworkManager keyfiles,
dnsmasq configuration.

pykickstart (and so anaconda) splits each command line with `shlex.split(line, comments=True)`, so
`shlex.quote` is its exact inverse: a quoted value comes back unchanged and cannot start a comment or a new
option. Newlines cannot be quoted away in a line-based format, so they are refused outright.
"""

from __future__ import annotations

import re
import shlex

from builder.errors import BadInput, cut, shown

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_IFCFG_BARE = re.compile(r"[A-Za-z0-9_.:/@%+,=-]*")
_IFCFG_QUOTABLE = re.compile(r"[A-Za-z0-9_.:/@%+,= -]*")
# A keyfile is a GLib key file: `\` starts an escape, a leading space is dropped, `;` separates list items, `#` and
# `[` at a line start begin a comment or a group. Values ksbuild writes never need any of these.
_KEYFILE_VALUE = re.compile(r"[A-Za-z0-9_.:/@%+,=-]*")
HEREDOC_END = "KSBUILD_EOF"


def _single_line(value: object) -> str:
    text = str(value)
    if _CONTROL.search(text):
        raise BadInput(f"value {shown(text)} contains a newline or control character and cannot be rendered")
    return text


def kickstart_quote(value: object) -> str:
    """A kickstart command argument that pykickstart reads back as exactly `value`."""
    return shlex.quote(_single_line(value))


def shell_quote(value: object) -> str:
    """A shell word that bash reads back as exactly `value`, with no expansion."""
    return shlex.quote(_single_line(value))


def ifcfg_value(value: object) -> str:
    """A value for an ifcfg file, which initscripts sources as shell and NetworkManager parses."""
    text = _single_line(value)
    if _IFCFG_BARE.fullmatch(text):
        return text
    if _IFCFG_QUOTABLE.fullmatch(text):
        return f'"{text}"'
    raise BadInput(f"ifcfg value {shown(text)} contains characters that cannot be written safely")


def keyfile_value(value: object) -> str:
    """A value (or one item of a `;` list) for a NetworkManager keyfile, which NetworkManager reads as a GLib key
    file: only characters that need no escape there."""
    text = _single_line(value)
    if not _KEYFILE_VALUE.fullmatch(text):
        raise BadInput(f"keyfile value {shown(text)} contains characters that cannot be written safely")
    return text


def heredoc_body(text: str) -> str:
    """Text for a quoted here-document (`<<'KSBUILD_EOF'`): nothing in it is expanded; the end word cannot occur."""
    if any(line == HEREDOC_END for line in text.splitlines()):
        raise BadInput(f"a line of generated file content equals the here-document end word {HEREDOC_END}")
    return text if text.endswith("\n") else text + "\n"


# dnsmasq reads its configuration with fgets() into a 1,024-byte buffer: a longer line goes on as a new line.
DNSMASQ_LINE_BYTES = 1024


def dnsmasq_value(value: object) -> str:
    """A value for a dnsmasq configuration line that dnsmasq reads back as exactly `value`: double-quoted, so a
    comma or # in it is not syntax (option.c hides them inside quotes), with \\ and \" escaped. A control
    character is refused, and so is a value that would not fit in the line dnsmasq reads at once."""
    text = _single_line(value)
    quoted = '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if len(quoted.encode()) > DNSMASQ_LINE_BYTES - 100:
        raise BadInput(f"{shown(text)} is too long for a dnsmasq configuration line ({DNSMASQ_LINE_BYTES} bytes)")
    return quoted


def config_comment(value: object) -> str:
    """Text for a `#` comment line of a generated file: one line (control characters become ?), and short."""
    return cut(_CONTROL.sub("?", str(value)), 200)
