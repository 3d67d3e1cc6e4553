"""`%include` as the linter understands it: local files read in place (bounded), files a %pre writes at install time.

Decisions:
- A relative path is a file next to the including file; it is read and parsed in place, so its findings are at its
  own lines, when it resolves (symlinks too) inside `root`: the kickstart's folder unless the configuration gives
  `include-root`. At most `max_depth` includes deep and `max_bytes` per file; a file that includes itself is not
  read again.
- An absolute path is on the installer's file system, never read from this machine. When a %pre script's body
  names the path, that %pre writes it at install time (the common /tmp/part-include pattern); otherwise it is
  reported as not found. A URL is fetched by anaconda and never by ksbuild.
- What an install-time file may provide: the kickstart commands a %pre writes there with `echo`/`printf` or a
  here-document, when every write to the path is one of those; otherwise any command.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from builder.errors import Location
from builder.fsutil import NO_SUCH_FILE, path_problem, real_path
from builder.validate.sections import ScriptSection

MAX_DEPTH = 8
MAX_BYTES = 4 * 1024 * 1024
IncludeKind = Literal["local", "install-time", "url", "not-found", "not-read"]
# A here-document's start and its end word, as the scripts' write readers (here and variables.py) take it.
HEREDOC_START = re.compile(r"<<-?\s*(?:'(?P<single>[^']+)'|\"(?P<double>[^\"]+)\"|\\?(?P<bare>\w+))")


@dataclass(frozen=True)
class IncludeLimits:
    """Where local includes may come from and how much of them is read."""

    root: Path | None = None      # None: the folder of the kickstart being validated
    max_depth: int = MAX_DEPTH
    max_bytes: int = MAX_BYTES


@dataclass(frozen=True)
class Include:
    """One %include line: what it names and what the linter made of it."""

    location: Location
    target: str
    kind: IncludeKind
    path: Path | None = None      # the local file read (kind "local")
    reason: str = ""              # why it was not read (kind "not-read")


@dataclass(frozen=True)
class LocalFile:
    path: Path
    text: str
    source: str                   # how findings name it: the path as the user would write it


@dataclass
class IncludeReader:
    """Resolves %include targets for one kickstart and reads the local ones, within `limits`."""

    kickstart: Path | None
    limits: IncludeLimits = field(default_factory=IncludeLimits)

    def root(self) -> Path | None:
        # real_path, not Path.resolve: resolve raises RuntimeError on a symbolic link loop.
        if self.limits.root is not None:
            return real_path(self.limits.root)
        return real_path(self.kickstart).parent if self.kickstart is not None else None

    def read(self, target: str, location: Location, including: Sequence[Path]) -> tuple[Include, LocalFile | None]:
        """What `%include target` at `location` is, and the file to parse in place when it is a local one.

        `including` is the chain of local files being read (the kickstart first), for the depth limit and loops.
        """
        if "://" in target:
            return Include(location, target, "url"), None
        if target.startswith("/"):
            # Classified once every %pre is known (builder.validate.facts.includes).
            return Include(location, target, "not-found"), None
        root = self.root()
        if root is None or not including:
            return Include(location, target, "not-read", reason="no folder to look in (the kickstart came from "
                           "standard input or a profile)"), None
        candidate = real_path(including[-1].parent / target)
        if not candidate.is_relative_to(root):
            where = "the kickstart's folder" if self.limits.root is None else f"include-root ({root})"
            return Include(location, target, "not-read", reason=f"it is outside {where}; set include-root in "
                           "[tool.ksbuild] to allow it"), None
        if candidate in including:
            return Include(location, target, "not-read", reason="it includes itself (a loop)"), None
        if len(including) > self.limits.max_depth:
            return Include(location, target, "not-read",
                           reason=f"it is more than {self.limits.max_depth} includes deep"), None
        problem = path_problem(candidate)
        if problem is not None and problem != NO_SUCH_FILE:
            return Include(location, target, "not-read", reason=f"it {problem}"), None
        if problem is not None or not candidate.is_file():
            return Include(location, target, "not-found"), None
        return self._read_file(candidate, target, location)

    def _read_file(self, path: Path, target: str, location: Location) -> tuple[Include, LocalFile | None]:
        try:
            with path.open("rb") as handle:
                data = handle.read(self.limits.max_bytes + 1)
        except OSError as exc:
            return Include(location, target, "not-read", reason=f"cannot read it: {exc.strerror or exc}"), None
        if len(data) > self.limits.max_bytes:
            return Include(location, target, "not-read",
                           reason=f"it is larger than {self.limits.max_bytes // 1024} KiB"), None
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            return Include(location, target, "not-read", reason=f"it is not UTF-8 (byte {exc.start})"), None
        source = _display(path, self.kickstart)
        return Include(location, target, "local", path=path), LocalFile(path, text, source)


def _display(path: Path, kickstart: Path | None) -> str:
    """The included file's name in findings: relative to the kickstart's folder as the user named it."""
    if kickstart is None:
        return str(path)
    # Both paths are absolute: relpath does not look at the current directory.
    return os.path.normpath(kickstart.parent / os.path.relpath(path, real_path(kickstart).parent))


def writers(target: str, scripts: Iterable[ScriptSection]) -> list[ScriptSection]:
    """The %pre scripts whose body names `target`: they write it at install time."""
    return [script for script in scripts if script.kind == "pre" and target in script.body]


def commands_written(target: str, body: str) -> frozenset[str] | None:
    """First words of the lines a script writes to `target` with echo/printf or a here-document; None when some
    write is of another kind (a loop, a download, a copy) or starts with a variable, so anything may be there."""
    lines = body.splitlines()
    words: set[str] = set()
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if target not in line or line.lstrip().startswith("#"):
            continue
        heredoc = HEREDOC_START.search(line)
        if heredoc is not None:
            end = heredoc["single"] or heredoc["double"] or heredoc["bare"]
            while index < len(lines) and lines[index].strip() != end:
                first = _first_word(lines[index])
                if first is None:
                    return None
                if first:
                    words.add(first)
                index += 1
            continue
        first = _echoed_first_word(line, target)
        if first is None:
            return None
        words.add(first)
    return frozenset(words)


def _first_word(line: str) -> str | None:
    """"" for a blank or comment line, None when the line starts with an expansion."""
    stripped = line.strip()
    if not stripped or stripped.startswith("#"):
        return ""
    return None if stripped.startswith(("$", "`")) else stripped.split()[0]


def _echoed_first_word(line: str, target: str) -> str | None:
    """The first word of what `echo ... > target` or `printf ... > target` writes; None for any other write."""
    command = line.split(">", 1)[0] if ">" in line else ""
    try:
        words = shlex.split(command)
    except ValueError:
        return None
    if not words or words[0] not in ("echo", "printf") or target not in line.split(">", 1)[1]:
        return None
    values = [word for word in words[1:] if not (words[0] == "echo" and word in ("-e", "-n", "-en", "-ne"))]
    if not values:
        return None
    first = _first_word(values[0])
    return first or None
