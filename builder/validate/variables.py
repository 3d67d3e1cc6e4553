"""Variables a script gets from outside its own body, so shellcheck's "referenced but not assigned" (SC2154) is
reported only for variables nothing sets.

- A file the script sources (`. /tmp/net-vars`, `source /tmp/net-vars`) that a script of the same kickstart writes
  with a here-document, `echo` or `printf`: the names assigned there (`name=...`, `export name=...`) are set.
- A sourced file ksbuild cannot read (downloaded, written in a loop, a path with a variable): SC2154 is not reported
  for that script at all, and a note (KS405) says why.
- anaconda's environment: $ANA_INSTALL_PATH (the target's root during %post --nochroot). shellcheck already takes
  ALL-CAPS names for environment variables; the list is for the record.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass

from builder.errors import Finding, Location
from builder.rules import rule_finding
from builder.validate.includes import HEREDOC_START
from builder.validate.sections import ScriptSection

ANACONDA_ENVIRONMENT = frozenset({"ANA_INSTALL_PATH"})
UNSET_CODE = "SC2154"
_SOURCE = re.compile(r"(?:^|[;&|({]\s*|\b(?:then|do|else)\s+)(?:\.|source)\s+(?P<path>\"[^\"]*\"|'[^']*'|[^\s;&|)]+)")
_ASSIGNMENT = re.compile(r"^\s*(?:export\s+|declare\s+(?:-\w+\s+)*|readonly\s+)?(?P<name>[A-Za-z_]\w*)\+?=")


@dataclass(frozen=True)
class Sourced:
    """What the files one script sources set: names, or None when one of them cannot be read."""

    script: ScriptSection
    names: frozenset[str] | None
    unreadable: tuple[tuple[int, str], ...] = ()   # (kickstart line, path) of each file that cannot be read


def _sourced_paths(script: ScriptSection) -> list[tuple[int, str]]:
    found = []
    for offset, line in enumerate(script.body.splitlines()):
        if line.lstrip().startswith("#"):
            continue
        for match in _SOURCE.finditer(line):
            found.append((script.body_first_line + offset, match["path"].strip("\"'")))
    return found


def _assigned_in_writes(path: str, body: str) -> frozenset[str] | None:
    """Names a body assigns in what it writes to `path`; None when a write to it is of a kind ksbuild cannot read.
    An empty set when the body does not write `path` at all."""
    lines = body.splitlines()
    names: set[str] = set()
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if path not in line or line.lstrip().startswith("#") or not re.search(r">>?\s*['\"]?" + re.escape(path), line):
            continue
        heredoc = HEREDOC_START.search(line)
        if heredoc is not None:
            end = heredoc["single"] or heredoc["double"] or heredoc["bare"]
            while index < len(lines) and lines[index].strip() != end:
                match = _ASSIGNMENT.match(lines[index])
                if match:
                    names.add(match["name"])
                index += 1
            continue
        try:
            words = shlex.split(line.split(">", 1)[0])
        except ValueError:
            return None
        if not words or words[0] not in ("echo", "printf"):
            return None
        for word in words[1:]:
            match = _ASSIGNMENT.match(word)
            if match:
                names.add(match["name"])
    return frozenset(names)


def sourced(scripts: Sequence[ScriptSection]) -> list[Sourced]:
    """For each script that sources files, what they set."""
    found = []
    for script in scripts:
        paths = _sourced_paths(script)
        if not paths:
            continue
        names: set[str] = set()
        unreadable = []
        for line, path in paths:
            written = [_assigned_in_writes(path, other.body) for other in scripts]
            readable = [w for w in written if w is not None]
            if "$" in path or any(w is None for w in written) or not any(readable):
                unreadable.append((line, path))
            else:
                for assigned in readable:
                    names |= assigned
        found.append(Sourced(script, None if unreadable else frozenset(names), tuple(unreadable)))
    return found


def _within(finding: Finding, script: ScriptSection) -> bool:
    location = finding.location
    if location is None or location.line is None or location.file != script.source:
        return False
    return script.body_first_line <= location.line <= script.body_first_line + script.body.count("\n")


def _unset_name(finding: Finding) -> str | None:
    if not finding.message.startswith(f"{UNSET_CODE}: "):
        return None
    return finding.message.removeprefix(f"{UNSET_CODE}: ").split(" ", 1)[0]


def filter_unset(findings: Sequence[Finding], scripts: Sequence[ScriptSection]) -> list[Finding]:
    """`findings` without SC2154 for variables that sourced files or anaconda set, plus a KS405 note for each
    sourced file that cannot be read (SC2154 is then not reported for that script)."""
    scopes = sourced(scripts)
    kept = []
    for finding in findings:
        name = _unset_name(finding)
        if name is None:
            kept.append(finding)
            continue
        if name in ANACONDA_ENVIRONMENT:
            continue
        scope = next((s for s in scopes if _within(finding, s.script)), None)
        if scope is not None and (scope.names is None or name in scope.names):
            continue
        kept.append(finding)
    for scope in scopes:
        for line, path in scope.unreadable:
            message = (f"the script sources {path}, which ksbuild cannot read (no script of this kickstart writes it "
                       f"with a here-document, echo or printf): variables it may set are not reported unset "
                       f"({UNSET_CODE})")
            kept.append(rule_finding("shellcheck", "KS405", Location(scope.script.source, line), message))
    return kept
