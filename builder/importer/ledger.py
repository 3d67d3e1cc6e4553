"""What an import builds and what it says about every line: the profile data with the kickstart line behind each
value (`Draft`), and the account of each line: mapped to keys, passed through, or not carried (`Ledger`), which
becomes the report.

Lines are counted once each: a kickstart command line, a %packages entry, a non-blank, non-comment script line.
A line whose value went to a key is mapped even when an option of it was not carried (the option is listed apart).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from builder.errors import Finding, Location
from builder.vocabulary import KeyPath, format_key

Outcome = Literal["mapped", "passed", "dropped"]


@dataclass(frozen=True)
class Span:
    """Lines `first`..`last` of one file."""

    file: str
    first: int
    last: int | None = None

    @classmethod
    def at(cls, location: Location) -> Span:
        return cls(location.file, location.line or 0)

    @property
    def location(self) -> Location:
        return Location(self.file, self.first)

    def __str__(self) -> str:
        if not self.first:
            return self.file  # not one line: the kickstart as a whole
        if self.last is not None and self.last != self.first:
            return f"{self.file}:{self.first}-{self.last}"
        return f"{self.file}:{self.first}"


@dataclass(frozen=True)
class Entry:
    """One item of the report: what happened to `text` (at `span`), where it went and why."""

    outcome: Outcome
    span: Span
    text: str
    keys: tuple[str, ...] = ()
    reason: str = ""
    lines: int = 1
    # Notes only: whether what the note says changes the installed host (False: only how it is written).
    effect: bool = True

    def format(self) -> str:
        where = f" -> {', '.join(self.keys)}" if self.keys else ""
        why = f": {self.reason}" if self.reason else ""
        return f"{self.span}: `{self.text}`{where}{why}"

    def to_json(self) -> dict[str, object]:
        return {"outcome": self.outcome, "file": self.span.file, "line": self.span.first,
                "last_line": self.span.last, "text": self.text, "keys": list(self.keys), "reason": self.reason,
                "lines": self.lines}


@dataclass(frozen=True)
class ImportReport:
    source: str
    entries: tuple[Entry, ...]
    notes: tuple[Entry, ...] = ()

    def of(self, outcome: Outcome) -> tuple[Entry, ...]:
        return tuple(entry for entry in self.entries if entry.outcome == outcome)

    def count(self, outcome: Outcome) -> int:
        return sum(entry.lines for entry in self.of(outcome))

    def summary(self) -> str:
        """`mapped 41 lines, passed through 6`, and what was not carried."""
        text = f"mapped {self.count('mapped')} lines, passed through {self.count('passed')}"
        dropped = self.of("dropped")
        if dropped:
            text += f", not carried {len(dropped)}"
        return text

    def format(self) -> list[str]:
        """The report as lines: the summary, each pass-through, what was not carried, then notes."""
        lines = [f"{self.source}: {self.summary()}" + (":" if self.of("passed") or self.of("dropped") else "")]
        for title, entries in (("passed through", self.of("passed")), ("not carried", self.of("dropped")),
                               ("notes", self.notes)):
            if entries:
                lines.append(f"  {title}:")
                lines += [f"    {entry.format()}" for entry in entries]
        return lines

    def to_json(self) -> dict[str, object]:
        return {"source": self.source, "mapped": self.count("mapped"), "passed_through": self.count("passed"),
                "entries": [entry.to_json() for entry in self.entries],
                "notes": [entry.to_json() for entry in self.notes]}


class Draft:
    """Profile data under construction, with the kickstart location behind each value."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}
        self.origins: dict[KeyPath, Location] = {}

    def _parent(self, path: KeyPath) -> Any:
        node: Any = self.data
        for part in path[:-1]:
            node = node[part] if isinstance(part, int) else node.setdefault(part, {})
        return node

    def set(self, path: KeyPath, value: Any, origin: Location | None = None) -> None:
        self._parent(path)[path[-1]] = value
        if origin is not None:
            self.origins[path] = origin

    def append(self, path: KeyPath, value: Any, origin: Location | None = None) -> int:
        """Append `value` to the list at `path`; its index."""
        parent = self._parent(path)
        items = parent.setdefault(path[-1], [])
        items.append(value)
        if origin is not None:
            self.origins[(*path, len(items) - 1)] = origin
        return len(items) - 1

    def get(self, path: KeyPath, default: Any = None) -> Any:
        node: Any = self.data
        for part in path:
            try:
                node = node[part]
            except (KeyError, IndexError, TypeError):
                return default
        return node

    def has(self, path: KeyPath) -> bool:
        sentinel = object()
        return self.get(path, sentinel) is not sentinel


@dataclass
class Ledger:
    """What happened to each line, and the values an import refuses to carry (errors)."""

    entries: list[Entry] = field(default_factory=list)
    notes: list[Entry] = field(default_factory=list)
    problems: list[Finding] = field(default_factory=list)

    def mapped(self, span: Span | Location, text: str, keys: Iterable[KeyPath], lines: int = 1) -> None:
        self.entries.append(Entry("mapped", _span(span), text, tuple(format_key(k) for k in keys), lines=lines))

    def passed(self, span: Span | Location, text: str, key: KeyPath, reason: str, lines: int = 1) -> None:
        self.entries.append(Entry("passed", _span(span), text, (format_key(key),), reason, lines))

    def dropped(self, span: Span | Location, text: str, reason: str, lines: int = 0) -> None:
        """Something not carried: a whole line (`lines` 1, or a section's count), or a part of a mapped one (0)."""
        self.entries.append(Entry("dropped", _span(span), text, (), reason, lines=lines))

    def note(self, span: Span | Location, text: str, reason: str, keys: Iterable[KeyPath] = (), *,
             effect: bool = True) -> None:
        self.notes.append(Entry("mapped", _span(span), text, tuple(format_key(k) for k in keys), reason, 0, effect))

    def refuse(self, location: Location, key: KeyPath | None, message: str) -> None:
        self.problems.append(Finding("import", message, location, format_key(key) if key else None))

    def report(self, source: str) -> ImportReport:
        order = sorted(self.entries, key=lambda e: (e.span.file != source, e.span.file, e.span.first))
        return ImportReport(source, tuple(order), tuple(self.notes))


def _span(value: Span | Location) -> Span:
    return value if isinstance(value, Span) else Span.at(value)
