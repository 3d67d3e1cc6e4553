"""ksbuild's rules for an unattended, secret-free CentOS 7 install, checked on a parsed kickstart.

pykickstart accepts these kickstarts; anaconda would then stop and wait, install from the wrong place,
or ship a plaintext password. Decisions:
- The install must end with `reboot`, `poweroff` or `shutdown` (the same as poweroff). `halt`, and no
  command at all (halt is the default), leave the machine waiting for a key press: an unattended
  install, and a boot test, never finishes.
- `text` or `cmdline`: `graphical`, the default, waits for a person when anything is missing.
- `rootpw` must be `--iscrypted` (or `--lock` alone); `user --password` must be `--iscrypted`. A crypted
  value must look like crypt(3) output; MD5 ($1$) and SHA-256 ($5$) are allowed with a warning.
- Every `--erroronfail` shell script starts with `set -e` (or -eu, -euo pipefail, -o errexit ...)
  before any other command: otherwise a failing command in the middle is ignored and
  --erroronfail only sees the exit status of the last command.
- Exactly one install source kind (`url`, `cdrom`, `nfs`, `harddrive`, `liveimg`); pykickstart lets
  `url` and `cdrom` stand together and anaconda then uses only one of them.
"""

from __future__ import annotations

import re
import shlex
from typing import Any

from pykickstart.constants import DISPLAY_MODE_GRAPHICAL, KS_REBOOT, KS_SHUTDOWN

from builder.errors import Finding, Location, Severity
from builder.validate.kickstart import ParsedKickstart, ScriptSection
from builder.validate.shell import shell_dialect

CHECK = "policy"
SOURCE_COMMANDS = ("url", "cdrom", "nfs", "harddrive", "liveimg")
_CRYPT_HASH = re.compile(r"^\$(?P<id>[156])\$(rounds=\d+\$)?[./0-9A-Za-z]{1,16}\$[./0-9A-Za-z]+$")
_WEAK_CRYPT = {"1": "MD5", "5": "SHA-256"}


def _finding(source: str, line: int | None, message: str, severity: Severity = "error") -> Finding:
    return Finding(
        check=CHECK,
        message=message,
        location=Location(source, line),
        severity=severity,
        rendered_line=line,
    )


def _line(command: Any) -> int | None:
    lineno = getattr(command, "lineno", 0)
    return int(lineno) if lineno else None


def _check_ending(handler: Any, source: str) -> list[Finding]:
    ending = handler.commands["reboot"]
    if ending.action in (KS_REBOOT, KS_SHUTDOWN):
        return []
    if ending.seen:
        return [
            _finding(
                source,
                _line(ending),
                "halt waits for a key press after the install: use reboot or poweroff",
            )
        ]
    return [
        _finding(
            source,
            None,
            "no reboot or poweroff: anaconda then halts and waits for a key press, "
            "so an unattended install never finishes",
        )
    ]


def _check_display_mode(handler: Any, source: str) -> list[Finding]:
    mode = handler.commands["text"]
    if mode.seen and mode.displayMode != DISPLAY_MODE_GRAPHICAL:
        return []
    if mode.seen:
        return [_finding(source, _line(mode), "graphical install: use text or cmdline for an unattended install")]
    return [_finding(source, None, "no text or cmdline: anaconda starts the graphical installer")]


def _check_crypted(value: str, what: str, source: str, line: int | None) -> list[Finding]:
    match = _CRYPT_HASH.match(value)
    if match is None:
        return [
            _finding(
                source,
                line,
                f"{what} --iscrypted value is not a crypt(3) hash ($6$salt$hash): nobody could log in",
            )
        ]
    weak = _WEAK_CRYPT.get(match["id"])
    if weak:
        return [_finding(source, line, f"{what} hash is {weak}; use SHA-512 ($6$)", "warning")]
    return []


def _check_passwords(handler: Any, source: str) -> list[Finding]:
    findings: list[Finding] = []
    rootpw = handler.commands["rootpw"]
    if not rootpw.seen:
        findings.append(_finding(source, None, "no rootpw: anaconda stops and asks for a root password"))
    elif rootpw.password and not rootpw.isCrypted:
        findings.append(
            _finding(
                source,
                _line(rootpw),
                "rootpw is in plaintext: give a crypted hash with --iscrypted (no plaintext passwords)",
            )
        )
    elif rootpw.password:
        findings.extend(_check_crypted(rootpw.password, "rootpw", source, _line(rootpw)))
    for user in handler.commands["user"].userList:
        if user.password and not user.isCrypted:
            findings.append(
                _finding(
                    source,
                    _line(user),
                    f"user {user.name}: --password is in plaintext: use --iscrypted with a crypted hash",
                )
            )
        elif user.password:
            findings.extend(_check_crypted(user.password, f"user {user.name}", source, _line(user)))
    return findings


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


def _check_erroronfail(scripts: tuple[ScriptSection, ...], source: str) -> list[Finding]:
    return [
        _finding(
            source,
            script.header_line,
            f"%{script.kind} --erroronfail does not start with `set -e` (or `set -euo pipefail`): "
            "a failing command before the last one would go unnoticed",
        )
        for script in scripts
        if script.error_on_fail and shell_dialect(script.interpreter) and not _starts_with_set_e(script.body)
    ]


def _check_source(handler: Any, source: str) -> list[Finding]:
    seen = sorted(
        ((_line(handler.commands[name]) or 0, name) for name in SOURCE_COMMANDS if handler.commands[name].seen),
    )
    if not seen:
        return [_finding(source, None, "no installation source: add url, cdrom, nfs, harddrive or liveimg")]
    first_line, first = seen[0]
    return [
        _finding(
            source,
            line or None,
            f"{name} and {first} (line {first_line}) are both installation sources: anaconda uses only one",
        )
        for line, name in seen[1:]
    ]


def check_policy(parsed: ParsedKickstart, source: str) -> list[Finding]:
    """ksbuild's policy findings for a parsed kickstart, each at the line of the command at fault."""
    handler = parsed.handler
    return [
        *_check_display_mode(handler, source),
        *_check_source(handler, source),
        *_check_passwords(handler, source),
        *_check_erroronfail(parsed.scripts, source),
        *_check_ending(handler, source),
    ]
