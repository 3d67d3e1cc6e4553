"""User-facing errors and findings.

Library code raises these; only the CLI turns them into messages and exit codes
(2 bad input or usage, 1 a check failed, 130 interrupted).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130

Severity = Literal["error", "warning", "info"]

SHOWN_CHARACTERS = 60
"""How much of a user's value a message quotes; the rest is counted, not printed (a 100 KB value, or one
reached through 1,000 aliases, must not turn into megabytes of error text)."""


def cut(text: str, limit: int = SHOWN_CHARACTERS) -> str:
    """`text` as a message shows it unquoted (a key path, a file name): cut after `limit` characters, with the
    full length said."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text):,} characters)"


def shown(value: object, limit: int = SHOWN_CHARACTERS) -> str:
    """A value the user wrote, as every message quotes it: ``'abc'``, or for a long one ``'aaaa…' (100,000
    characters)``. Strings are quoted as Python's repr quotes them; other values are shown by their repr."""
    text = value if isinstance(value, str) else repr(value)
    if len(text) <= limit:
        return repr(value)
    head = repr(text[:limit]) if isinstance(value, str) else text[:limit]
    if isinstance(value, str):
        head = head[:-1] + "…" + head[-1]
    else:
        head += "…"
    return f"{head} ({len(text):,} characters)"


@dataclass(frozen=True, order=True)
class Location:
    """A place in an input file (1-based line), or a pseudo-file such as ``--set``."""

    file: str
    line: int | None = None

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" if self.line is not None else self.file


@dataclass(frozen=True)
class Finding:
    """One problem found by a check, with where it came from."""

    check: str
    message: str
    location: Location | None = None
    key: str | None = None
    severity: Severity = "error"
    # Where the problem shows in generated text (e.g. ks.cfg line), when that differs from `location`.
    rendered_line: int | None = None
    # The id of the rule in builder.rules (KS101 ...); None for findings outside the rule catalogue.
    rule: str | None = None

    def format(self) -> str:
        parts = []
        if self.location is not None:
            parts.append(str(self.location))
        if self.key:
            parts.append(cut(self.key))
        prefix = ": ".join(parts)
        if self.rule is not None:
            label = f"{self.rule} {self.severity}: "  # ruff's order: the id first, then what it is
        else:
            label = "" if self.severity == "error" else f"{self.severity}: "
        text = f"{label}{self.message}"
        if self.rendered_line is not None and (self.location is None or self.location.line != self.rendered_line):
            text += f" (ks.cfg line {self.rendered_line})"
        return f"{prefix}: {text}" if prefix else text

    def to_json(self) -> dict[str, object]:
        return {
            "check": self.check,
            "severity": self.severity,
            "file": self.location.file if self.location else None,
            "line": self.location.line if self.location else None,
            "key": self.key,
            "message": self.message,
            "rendered_line": self.rendered_line,
            "rule": self.rule,
        }


class KsbuildError(Exception):
    """Base of every error a user can cause or fix; never shown as a traceback."""

    exit_code = EXIT_BAD_INPUT

    def __init__(self, message: str, findings: Sequence[Finding] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.findings: tuple[Finding, ...] = tuple(findings)


class BadInput(KsbuildError):
    """The input cannot be read or does not have the required shape."""

    exit_code = EXIT_BAD_INPUT


class ChecksFailed(KsbuildError):
    """The input was read, but one or more checks found errors."""

    exit_code = EXIT_CHECK_FAILED


class ToolMissing(KsbuildError):
    """An external program ksbuild drives is not installed."""

    exit_code = EXIT_BAD_INPUT


class Interrupted(KsbuildError):
    """The user pressed Ctrl-C or the process got SIGTERM; everything was cleaned up."""

    exit_code = EXIT_INTERRUPTED


class CommandFailed(KsbuildError):
    """An external program ran and failed."""

    exit_code = EXIT_CHECK_FAILED
