"""The kickstart's scripts, statement by statement: which statements the recognisers turned into keys
(`consume`), and what is kept, as written, in `scripts.pre`/`scripts.post`.

Decisions:
- Only chroot %post scripts run by a shell (/bin/sh, /bin/bash) are read statement by statement; %pre, --nochroot
  and other interpreters are kept whole. %traceback, %onerror and %pre-install have no key and are not carried.
- A statement is consumed only when what it does is certain (builder.importer.shell) and nothing kept touches the
  same file: ksbuild's own sections run before the kept scripts, so a kept statement that later edits, moves or
  deletes a file must still find what the original script left there.
- `cd DIR` is followed for relative paths; it is consumed when nothing kept after it needs it. Once every
  statement that did something is consumed, what is left that only logs or sets shell options is consumed too.
- A kept script keeps its interpreter, --erroronfail and --nochroot; its name comes from its --log file
  (`/root/ks-post-network.log` -> `ks-post-network`) or its line (`post-47`).
"""

from __future__ import annotations

import fnmatch
import posixpath
import re
from dataclasses import dataclass, field
from typing import Any

from builder.contract import RESERVED_SCRIPT_NAMES
from builder.errors import Location
from builder.importer.context import ImportContext
from builder.importer.ledger import Span
from builder.importer.shell import Statement, Write, file_write, is_literal, split_statements, words_of
from builder.validate.sections import ScriptSection
from builder.vocabulary import KeyPath

SHELLS = ("/bin/sh", "/bin/bash", "/usr/bin/sh", "/usr/bin/bash")
# Statements read one by one in a kickstart, at most: a script past this is kept whole. Deciding whether a file's
# writes can become keys compares every write with the statements that could touch it (bounded work).
MAX_STATEMENTS = 2000
# The words of a statement that can name a file (what `touched_by_others` looks up), and what makes a name at run
# time or matches many (an expansion, a glob).
_TOKEN = re.compile(r"[\w.+-]+")
_PATTERNED = re.compile(r"[$`*?]")
_TRIVIAL = {"set", "exit", "true", ":", "sync", "logger", "echo", "printf"}
_NAME = re.compile(r"[^a-z0-9_-]+")


@dataclass(eq=False)
class ReadScript:
    """One script of the kickstart with its statements and what became of each."""

    index: int
    script: ScriptSection
    statements: list[Statement]
    cwd: list[str | None]
    readable: bool  # read statement by statement (chroot shell %post)
    consumed: dict[int, list[KeyPath]] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.lines = self.script.body.splitlines()

    def location(self, statement: Statement) -> Span:
        first = self.script.body_first_line + statement.first
        return Span(self.script.source, first, self.script.body_first_line + statement.last)

    def lines_of(self, statement: Statement) -> list[str]:
        return self.lines[statement.first:statement.last + 1]

    def text_of(self, statement: Statement) -> str:
        return "\n".join(self.lines_of(statement)) + ("\n" + statement.heredoc if statement.heredoc else "")


@dataclass(frozen=True)
class StatementRef:
    read: ReadScript
    position: int

    @property
    def statement(self) -> Statement:
        return self.read.statements[self.position]

    @property
    def span(self) -> Span:
        return self.read.location(self.statement)

    @property
    def location(self) -> Location:
        return self.span.location


class Scripts:
    """Every script of the kickstart, for the recognisers to consume statements from."""

    def __init__(self, ctx: ImportContext) -> None:
        self.ctx = ctx
        self.read: list[ReadScript] = []
        budget = MAX_STATEMENTS
        for index, script in enumerate(ctx.parsed.scripts):
            readable = script.kind == "post" and script.in_chroot and script.interpreter in SHELLS
            statements = split_statements(script.body) if readable else []
            if len(statements) > budget:
                readable, statements = False, []
                ctx.ledger.note(Span(script.source, script.header_line), f"%{script.kind}",
                                f"more than {MAX_STATEMENTS} statements to read in this kickstart: this script is "
                                "kept as written", effect=False)
            budget -= len(statements)
            cwd: list[str | None] = []
            current: str | None = "/"
            for statement in statements:
                cwd.append(current)
                words = words_of(statement.command) if not statement.compound else None
                if words and words[0] == "cd":
                    target = words[1] if len(words) == 2 and is_literal(statement.command) else None
                    current = posixpath.normpath(posixpath.join(current, target)) if target and current else None
            self.read.append(ReadScript(index, script, statements, cwd, readable))
        self._index()

    def _index(self) -> None:
        """Which statements name which file names, and which could name any (expansions, globs), once."""
        self.naming: dict[str, set[tuple[int, int]]] = {}
        self.patterned: list[tuple[tuple[int, int], str]] = []
        self.writes_cache: list[tuple[StatementRef, Write]] | None = None
        for read in self.read:
            texts = ([(position, read.text_of(s)) for position, s in enumerate(read.statements)] if read.readable
                     else [(-1, read.script.body)])
            for position, text in texts:
                owner = (read.index, position)
                for token in set(_TOKEN.findall(text)):
                    self.naming.setdefault(token, set()).add(owner)
                if _PATTERNED.search(text):
                    self.patterned.append((owner, text))

    # -- what the recognisers read ---------------------------------------------------------------------------

    def statements(self) -> list[StatementRef]:
        """Every statement of the readable scripts, in the order anaconda runs them."""
        return [StatementRef(read, n) for read in self.read if read.readable for n in range(len(read.statements))]

    def writes(self) -> list[tuple[StatementRef, Write]]:
        if self.writes_cache is None:
            found = []
            for ref in self.statements():
                write = file_write(ref.statement, ref.read.cwd[ref.position])
                if write is not None:
                    found.append((ref, write))
            self.writes_cache = found
        return self.writes_cache

    def touched_by_others(self, path: str, mine: set[tuple[int, int]]) -> bool:
        """Whether a statement other than `mine` (script index, position) mentions the file: it could read, edit,
        move or remove it, so the file's writes must stay with it."""
        base = posixpath.basename(path)
        # The name as a path component: `config` in /etc/selinux/config, not in /etc/sysconfig (an index lookup).
        if self.naming.get(base, set()) - mine:
            return True
        # A name made at run time that could be this one: `ifcfg-$nic`, `/etc/yum.repos.d/${name}.repo`, or a glob.
        prefixes = [posixpath.dirname(path) + "/"] + [base[:n + 1] for n, ch in enumerate(base) if ch in "-._"]
        dynamic = re.compile("|".join(rf"(?<![\w.-]){re.escape(p)}[\"']?[$`*?]" for p in prefixes))
        for owner, text in self.patterned:
            if owner in mine:
                continue
            globs = re.findall(r"[^\s'\"<>;|&]*[*?][^\s'\"<>;|&]*", text)
            if dynamic.search(text) or any(fnmatch.fnmatch(base, posixpath.basename(word)) for word in globs):
                return True
        return False

    def consume(self, ref: StatementRef, keys: list[KeyPath]) -> None:
        """The statement became these keys: it leaves the script."""
        ref.read.consumed[ref.position] = keys

    # -- what is left ----------------------------------------------------------------------------------------

    def finish(self) -> None:
        """Consume what is left over (cd, shell options, log lines), report each statement, and keep the rest."""
        names: set[str] = set()
        for read in self.read:
            script = read.script
            if script.kind not in ("pre", "post"):
                self.ctx.ledger.dropped(Span(script.source, script.header_line), f"%{script.kind}",
                                        f"no profile key for %{script.kind} scripts",
                                        lines=_counted(script.body.splitlines()))
                continue
            if read.index == self.ctx.hardware_script:
                end = script.body_first_line + len(script.body.splitlines())
                self.ctx.ledger.mapped(Span(script.source, script.header_line, end), "%pre (CPU check: vmx/svm)",
                                       [("virtualization", "require_hardware")],
                                       lines=_counted(script.body.splitlines()))
                continue
            if read.readable:
                self._tidy(read)
                for position, statement in enumerate(read.statements):
                    if position in read.consumed:
                        self.ctx.ledger.mapped(read.location(statement), read.lines_of(statement)[0].strip(),
                                               read.consumed[position], lines=_counted(read.lines_of(statement)))
            body = self._kept_body(read)
            if not body.strip() or all(line.strip().startswith("#") or not line.strip()
                                       for line in body.splitlines()):
                continue
            self._keep(read, body, names)

    def _tidy(self, read: ReadScript) -> None:
        kept = [n for n in range(len(read.statements)) if n not in read.consumed]
        for position in kept:
            words = words_of(read.statements[position].command) or [""]
            if words[0] == "cd" and not any(n > position and n not in read.consumed and
                                            (words_of(read.statements[n].command) or [""])[0] != "cd" for n in kept):
                read.consumed[position] = []
        kept = [n for n in range(len(read.statements)) if n not in read.consumed]
        trivial = all(_trivial(read.statements[n]) for n in kept)
        if kept and trivial and read.consumed:
            for position in kept:
                read.consumed[position] = []

    def _kept_body(self, read: ReadScript) -> str:
        lines = read.script.body.splitlines()
        dropped: set[int] = set()
        for position in read.consumed:
            statement = read.statements[position]
            dropped.update(statement.line_range)
            dropped.update(statement.comments)
        kept = [line for number, line in enumerate(lines) if number not in dropped]
        # Blank lines the removed statements leave behind: one at most in a row, none at the ends.
        tidy: list[str] = []
        for line in kept:
            if not line.strip() and (not tidy or not tidy[-1].strip()):
                continue
            tidy.append(line)
        while tidy and not tidy[-1].strip():
            tidy.pop()
        return "".join(f"{line}\n" for line in tidy)

    def _keep(self, read: ReadScript, body: str, names: set[str]) -> None:
        script = read.script
        name = _script_name(script, names)
        names.add(name)
        entry: dict[str, Any] = {"name": name}
        if script.interpreter != "/bin/bash":
            entry["interpreter"] = script.interpreter
        entry["erroronfail"] = script.error_on_fail
        if script.kind == "post" and not script.in_chroot:
            entry["nochroot"] = True
        entry["body"] = body
        origin = Location(script.source, script.header_line)
        index = self.ctx.draft.append(("scripts", script.kind), entry, origin)
        key = ("scripts", script.kind, index)
        counted = _counted(body.splitlines())
        first = next((line.strip() for line in body.splitlines() if line.strip() and
                      not line.strip().startswith("#")), "")
        end = script.body_first_line + len(script.body.splitlines())
        why = "kept as written" if not read.readable else "kept as written: no profile key for what it does"
        if read.readable and read.consumed:
            why = "the rest of this script, kept as written: no profile key for what it does"
        if script.interpreter in SHELLS and not script.body.lstrip().startswith(("set -e", "set -eu", "set -Eeu")):
            strict = "set -Eeuo pipefail" if entry.get("interpreter", "/bin/bash").endswith("bash") else "set -eu"
            why += f"; ksbuild runs it with {strict}: a failing command or unset variable now stops it"
        self.ctx.ledger.passed(Span(script.source, script.header_line, end), f"%{script.kind} ({first})", key, why,
                               lines=counted)


def _counted(lines: list[str]) -> int:
    return sum(1 for line in lines if line.strip() and not line.strip().startswith("#"))


def _trivial(statement: Statement) -> bool:
    if statement.compound:
        return False
    words = words_of(statement.command)
    if not words:
        return False
    if words[0] == "exit" and words[1:] not in ([], ["0"]):
        return False
    return words[0] in _TRIVIAL and not any(w in (">", ">>") for w in words)


def _script_name(script: ScriptSection, taken: set[str]) -> str:
    base = ""
    if script.log:
        stem = posixpath.basename(script.log).rsplit(".", 1)[0].lower()
        base = _NAME.sub("-", stem).strip("-_")[:60]
    if not base or not base[0].isalnum():
        base = f"{script.kind}-{script.header_line}"
    if base in RESERVED_SCRIPT_NAMES:
        base = f"imported-{base}"
    name = base
    number = 2
    while name in taken:
        name = f"{base}-{number}"
        number += 1
    return name
