"""Validate kickstarts: pykickstart parse, shell checks of the scripts, ksbuild policy; one report each."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from builder.errors import BadInput, Finding
from builder.validate.kickstart import ParsedKickstart, parse_kickstart
from builder.validate.policy import check_policy
from builder.validate.shell import check_scripts_each


@dataclass(frozen=True)
class KickstartReport:
    source: str
    parsed: ParsedKickstart
    # All findings (pykickstart, shellcheck, bash, policy), sorted by kickstart line; whole-file ones first.
    findings: tuple[Finding, ...]

    @property
    def ok(self) -> bool:
        """No error-severity finding (warnings allowed)."""
        return not any(finding.severity == "error" for finding in self.findings)


def _line_order(finding: Finding) -> int:
    line = finding.location.line if finding.location is not None else None
    return line or 0


def _report(source: str, parsed: ParsedKickstart, shell_findings: Sequence[Finding]) -> KickstartReport:
    every = [*parsed.findings, *shell_findings, *check_policy(parsed, source)]
    # A stable sort keeps the checks' own order for findings on the same line.
    return KickstartReport(source=source, parsed=parsed, findings=tuple(sorted(every, key=_line_order)))


def validate_kickstart_text(text: str, source: str, *, shell: bool = True) -> KickstartReport:
    """Validate one kickstart; `source` names it in findings. `shell=False` skips bash -n and shellcheck."""
    parsed = parse_kickstart(text, source)
    shell_findings = check_scripts_each([(source, parsed.scripts)])[0] if shell else []
    return _report(source, parsed, shell_findings)


def validate_kickstart_file(path: Path) -> KickstartReport:
    """Validate a kickstart file; BadInput if it cannot be read or is not UTF-8."""
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise BadInput(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise BadInput(f"{path}: not UTF-8 text (byte {exc.start}): {exc.reason}") from exc
    return validate_kickstart_text(text, str(path))


def validate_many(items: Sequence[tuple[str, str]]) -> list[KickstartReport]:
    """Validate many (source, text) kickstarts, checking all their scripts with one shellcheck run."""
    parsed = [(source, parse_kickstart(text, source)) for source, text in items]
    shell_findings = check_scripts_each([(source, one.scripts) for source, one in parsed])
    return [_report(source, one, found) for (source, one), found in zip(parsed, shell_findings, strict=True)]
