"""The verification boot's report: parse it from the console, adjust it for TCG, show it, judge the boot.

The installed system prints, then powers off::

    KSBUILD-VERIFY-BEGIN profile=<name>
    KSBUILD-CHECK|<check-name>|<pass|fail|skip>|<detail, free text, may be empty>
    KSBUILD-VERIFY-END count=<number of CHECK lines>

A serial console mixes other output into this: kernel printk lines (even in the middle of a report line,
which then continues on the next line), CR-LF line ends, ANSI colours from systemd. The parser drops the
noise, rejoins split lines, and uses END's count to tell a complete report from one that lost lines.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace

from builder.boot.verdict import (
    DEFAULT_TAIL_LINES,
    BootProgress,
    EvidenceJudge,
    LineView,
    Verdict,
    clean_text,
    evidence_rule,
)
from builder.contract import (
    PREFIX,
    REPORT_BEGIN,
    REPORT_BEGIN_LINE,
    REPORT_CHECK,
    REPORT_END,
    REPORT_END_LINE,
    REPORT_STATUSES,
    ReportStatus,
)

# The report's grammar is the install contract's (builder/contract.py).
BEGIN, CHECK, END = REPORT_BEGIN, REPORT_CHECK, REPORT_END
_BEGIN_LINE, _END_LINE = REPORT_BEGIN_LINE, REPORT_END_LINE
# A kernel printk line ("[   12.345678] …") starting anywhere, e.g. in the middle of a report line.
_PRINTK = re.compile(r"\[\s*\d+\.\d{6}\]")

# Checks that need hardware virtualization in the guest, which TCG does not emulate.
TCG_UNAVAILABLE_CHECKS = frozenset({"cpu-virt", "kvm-module", "nested-param"})
TCG_NOTE = "(no hardware virtualization under TCG)"
# Console lines kept from the report's first line on: the report and whatever printk mixes into it.
_MAX_REPORT_LINES = 5000


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: ReportStatus
    detail: str


@dataclass(frozen=True)
class VerifyReport:
    profile: str | None
    checks: tuple[CheckResult, ...]
    complete: bool  # END seen and its count matches the CHECK lines received
    expected_count: int | None = None  # END's count, when END was seen
    ended: bool = False  # END was seen

    @property
    def ok(self) -> bool:
        return self.complete and all(check.status != "fail" for check in self.checks)


def _report_lines(lines: Iterable[str]) -> Iterable[str]:
    """Clean lines with printk noise removed and report lines that noise split rejoined."""
    held = ""  # a report line cut short, waiting for its continuation
    for raw in lines:
        text = clean_text(raw)
        noise = _PRINTK.search(text)
        if noise is not None and noise.start() > 0:
            # A report line interrupted by printk continues on the next line; printk itself ends this one.
            before = text[: noise.start()]
            if held or before.startswith(PREFIX):
                held += before
            continue
        if noise is not None:
            continue  # a whole printk line
        if held:
            if text.startswith(PREFIX):
                yield held
            else:
                text = held + text
            held = ""
        if text.startswith(CHECK) and text.count("|") < 3:
            held = text  # a CHECK line broken before its last field: the rest comes next
            continue
        yield text
    if held:
        yield held


def _check(text: str) -> CheckResult:
    fields = text.split("|", 3)
    if len(fields) < 4:
        return CheckResult(fields[1].strip() if len(fields) > 1 else "?", "fail", f"unreadable check line {text!r}")
    _, name, result, detail = fields
    written = result.strip().lower()
    status = next((known for known in REPORT_STATUSES if known == written), None)
    if status is None:
        # A garbled result must not pass: report it, as a failure.
        return CheckResult(name.strip(), "fail", f"unreadable result {result.strip()!r}: {detail.strip()}".strip())
    return CheckResult(name.strip(), status, detail.strip())


def parse_report(lines: Iterable[str]) -> VerifyReport:
    """The last report in `lines` (console output, noise allowed); an empty, incomplete one if none."""
    profile: str | None = None
    checks: list[CheckResult] = []
    expected: int | None = None
    ended = False
    for text in _report_lines(lines):
        begin = _BEGIN_LINE.match(text)
        if begin is not None:
            profile, checks, expected, ended = begin["profile"], [], None, False
        elif text.startswith(CHECK) and not ended:
            checks.append(_check(text))
        elif text.startswith(END):
            end = _END_LINE.match(text)
            ended = True
            expected = int(end["count"]) if end is not None and end["count"] else None
    complete = ended and expected == len(checks)
    return VerifyReport(profile, tuple(checks), complete, expected, ended)


def downgrade_for_tcg(report: VerifyReport) -> VerifyReport:
    """Under TCG the guest has no VMX/SVM: its hardware-virtualization checks cannot pass, so a failure there
    is information, not a defect of the kickstart. Other checks, and passes, stay as they are."""
    checks = tuple(
        replace(check, status="info", detail=f"{check.detail} {TCG_NOTE}".strip())
        if check.name in TCG_UNAVAILABLE_CHECKS and check.status == "fail"
        else check
        for check in report.checks
    )
    return replace(report, checks=checks)


def format_table(report: VerifyReport) -> str:
    """An aligned text table (check, result, detail) and a summary line; deterministic for equal reports."""
    rows = [("CHECK", "RESULT", "DETAIL")] + [(c.name, c.status, c.detail) for c in report.checks]
    name_width = max(len(row[0]) for row in rows)
    status_width = max(len(row[1]) for row in rows)
    lines = [f"{name:<{name_width}}  {status:<{status_width}}  {detail}".rstrip() for name, status, detail in rows]
    counts = {status: sum(c.status == status for c in report.checks) for status in REPORT_STATUSES}
    noun = "check" if len(report.checks) == 1 else "checks"
    summary = f"{len(report.checks)} {noun}: " + ", ".join(f"{n} {status}" for status, n in counts.items() if n)
    if not report.checks:
        summary = "no checks received"
    if not report.complete:
        if not report.ended:
            why = "no end line"
        elif report.expected_count is None:
            why = "the end line has no count"
        else:
            why = f"the end line says {report.expected_count}"
        summary += f" (report incomplete: {why})"
    return "\n".join([*lines, summary]) + "\n"


class VerifyJudge(EvidenceJudge):
    """Judges the verification boot (the installed system's first boot). Its verdict is ok when the complete
    report arrived and the VM then stopped cleanly, with no kernel failure and no emergency shell on the way.
    Whether the checks passed is the report's business (`report`, after `downgrade_for_tcg` if under TCG)."""

    extra_rules = (
        evidence_rule(
            r"Warning: Could not boot\.?|dracut-initqueue timeout|Warning: /dev/root does not exist"
            r"|Entering emergency mode|Welcome to emergency mode",
            "boot-failed",
            "the installed system did not boot (dracut or systemd emergency mode)",
        ),
    )

    def __init__(self, *, tail_lines: int = DEFAULT_TAIL_LINES, profile: str | None = None) -> None:
        super().__init__(tail_lines=tail_lines)
        self._profile = profile
        self._report_text: list[str] = []
        self._begun = False
        self._last_line: str | None = None

    @property
    def report(self) -> VerifyReport:
        return parse_report(self._report_text)

    @property
    def _ended(self) -> bool:
        return self._begun and self.report.ended

    @property
    def progress(self) -> BootProgress:
        if not self._begun:
            stage = "Booting the installed system"
        elif not self._ended:
            stage = "Running verification checks"
        else:
            stage = "Verification report received"
        return BootProgress(stage, None, None, self._last_line)

    def _observe(self, view: LineView) -> None:
        if view.source != "console":
            return
        if view.message.strip() and not view.kernel:
            self._last_line = view.message.strip()
        if BEGIN in view.text:
            self._begun = True
            self._report_text = []
        if self._begun and len(self._report_text) < _MAX_REPORT_LINES:
            self._report_text.append(view.text)

    def _stopped_without_failure(self, clean: bool) -> Verdict:
        report = self.report
        if not self._ended:
            if self._begun:
                cause = "the VM stopped before the verification report ended"
            else:
                cause = "the VM stopped without printing a verification report"
            return self._verdict(False, "no-marker" if clean else "crashed", cause)
        if not report.complete:
            if report.expected_count is None:
                received = f"{len(report.checks)} checks, no count"
            else:
                received = f"{len(report.checks)} of {report.expected_count} checks"
            return self._verdict(False, "no-marker", f"the verification report is incomplete ({received})")
        if self._profile is not None and report.profile != self._profile:
            cause = f"the verification report names profile '{report.profile}', expected '{self._profile}'"
            return self._verdict(False, "no-marker", cause)
        if not clean:
            return self._verdict(False, "crashed", "the VM crashed after the verification report")
        return self._verdict(True, "complete", f"verification report received ({len(report.checks)} checks)")

    def _waiting_for(self) -> str:
        if self._ended:
            return " after the verification report (the VM did not power off)"
        return " during the verification checks" if self._begun else " before the verification report began"
