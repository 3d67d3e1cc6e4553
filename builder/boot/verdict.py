"""Decide how a boot-test install ended, from the lines its console and installer log printed.

Pure logic: lines go in (with the time they were read), a verdict comes out. A verdict rests on evidence,
never on the VM merely stopping: a failed EL7 install powers off exactly like a good one (facts.md). Success
needs the kickstart's success marker, a clean stop and no failure evidence; the first failure evidence wins.

Failure evidence: a ksbuild script's ``script-failed`` marker (complete at the first console line after its
``KSBUILD-LOG:`` lines); anaconda 21.48's fatal dialogs (pyanaconda/errors.py) with the details printed up to
"The installer will now terminate."; a Python traceback through its exception line (in the installer log only
at CRITICAL, the level of anaconda's crash handler: lower levels are handled exceptions); ``Kernel panic - not
syncing``; the OOM killer; a kernel oops through ``---[ end trace``; payload errors in anaconda 21.48's words
(spoke statuses, the missing-package question, "The following error occurred while installing"), yum's and
dnf's download/missing-package errors; dracut failing to start the installer.

A ``Call Trace:`` alone is NOT a failure: WARN_ON, hung-task and soft-lockup reports print one too, and TCG's
slow emulation produces those on installs that succeed. Only an oops ("BUG: unable to handle kernel", "kernel
BUG at", "Oops: 0000 [#1]", "general protection fault") is. Never evidence: a line that merely says "error",
a package being installed (``Installing python-traceback2``), ``KSBUILD-LOG:`` lines, and installer-log lines
tagged ``program`` (output of commands anaconda ran, whose exit status is what counts).
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Literal

from builder.contract import FAILURE_LINE, PREFIX, SCRIPT_LOG_PREFIX, SUCCESS_LINE

Source = Literal["console", "installer"]

DEFAULT_TAIL_LINES = 40
# How many lines of details, traceback or oops are kept as evidence before the evidence counts as complete.
_MAX_COLLECTED = 200

_ANSI_ESCAPE = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_KERNEL_STAMP = re.compile(r"^\[\s*\d+\.\d+\]\s?")
# anaconda's rsyslog template ("HH:MM:SS,mmm LEVEL program: message") or RFC 5424 / RFC 3164 forwarding.
_SYSLOG_LINE = re.compile(
    r"^(?:<\d{1,3}>)?"
    r"(?:(?P<time>\d\d:\d\d:\d\d(?:[,.]\d+)?)\s+(?P<level>[A-Z]+)\s+"
    r"|\d{4}-\d\d-\d\dT\S+\s+\S+\s+"
    r"|[A-Z][a-z]{2}\s+\d+\s+\d\d:\d\d:\d\d\s+\S+\s+)"
    r"(?P<program>[^\s:\[]+)(?:\[\d+\])?:\s?(?P<message>.*)$"
)
# The anaconda TUI stamps some console messages with the time ("12:01:02 Running pre-installation scripts").
_CLOCK_PREFIX = re.compile(r"^\d\d:\d\d:\d\d\s+")


_POWER_OFF = re.compile(
    r"\breboot: (?:Power down|Restarting system|System halted)\b"
    r"|^(?:Power down|Restarting system|System halted|Powering off|Rebooting)\.?$"
)


def clean_text(text: str) -> str:
    """A log line without ANSI escapes, carriage returns or other control characters (tabs stay)."""
    if "\x1b" in text:
        text = _ANSI_ESCAPE.sub("", text)
    return _CONTROL.sub("", text).rstrip()


@dataclass(frozen=True)
class LogLine:
    source: Source
    text: str
    at: float  # seconds since the run started


@dataclass(frozen=True)
class BootProgress:
    """Where a boot is, as its console shows it: the installer's stage, the package count, the last line."""

    stage: str | None
    package: tuple[int, int] | None
    package_name: str | None
    last_line: str | None


@dataclass(frozen=True)
class Verdict:
    ok: bool
    cause: str
    kind: str
    evidence: tuple[str, ...]
    failing_script: str | None
    script_output: tuple[str, ...]
    last_lines: tuple[str, ...]


@dataclass(frozen=True)
class LineView:
    """One cleaned line and what it is: where it came from, which program wrote it, its message part."""

    source: Source
    text: str
    message: str
    program: str | None  # syslog program in the installer log ("anaconda", "program", "kernel", …)
    level: str | None  # syslog level in the installer log ("INFO", "CRITICAL", …)
    kernel: bool  # a kernel printk line

    @property
    def from_script(self) -> bool:
        """Output of a kickstart script or a command anaconda ran, ksbuild's own lines (markers, script logs,
        the verification report) included: never matched by the generic failure rules."""
        return self.program == "program" or self.message.startswith(PREFIX)


def view_line(line: LogLine) -> LineView:
    text = clean_text(line.text)
    if line.source == "installer":
        parsed = _SYSLOG_LINE.match(text)
        if parsed is not None:
            program = parsed["program"]
            kernel = program == "kernel"
            return LineView(line.source, text, parsed["message"], program, parsed["level"], kernel)
        return LineView(line.source, text, text, None, None, False)
    stamp = _KERNEL_STAMP.match(text)
    if stamp is not None:
        return LineView(line.source, text, text[stamp.end() :], None, None, True)
    return LineView(line.source, text, text, None, None, False)


def is_power_off(view: LineView) -> bool:
    """The guest said it is powering off or rebooting (seen on the console)."""
    return view.source == "console" and _POWER_OFF.search(view.message) is not None


@dataclass(frozen=True)
class EvidenceRule:
    pattern: re.Pattern[str]
    kind: str
    cause: str  # str.format'ed with the pattern's named groups
    # "line": the line is all the evidence; "details": anaconda prints more after it, up to a farewell.
    mode: Literal["line", "details"] = "line"
    details_are_script_output: bool = False


def evidence_rule(pattern: str, kind: str, cause: str, mode: Literal["line", "details"] = "line") -> EvidenceRule:
    return EvidenceRule(re.compile(pattern), kind, cause, mode)


KERNEL_RULES: tuple[EvidenceRule, ...] = (
    evidence_rule(r"Kernel panic - not syncing(?::\s*(?P<reason>.*))?", "kernel-panic", "kernel panic"),
    evidence_rule(r"\bOut of memory: Kill(?:ed)? process\b|\boom-kill:", "oom", "the kernel ran out of memory (OOM)"),
)
_OOPS_START = re.compile(
    r"\bBUG: unable to handle kernel\b|\bkernel BUG at\b|\bOops: [0-9a-f]{4} \[#\d+\]"
    r"|\bgeneral protection fault: "
)
_OOPS_END = re.compile(r"---\[ end trace [0-9a-f]+ \]---")
_OOPS_MAX_LINES = 40
_NAMED_GROUP = re.compile(r"\(\?P<\w+>")
_TRACEBACK_START = "Traceback (most recent call last):"
_CRASH_NOTICE = re.compile(r"An unknown error has occurr?ed")
# anaconda's farewell after a fatal dialog in cmdline mode; the TUI's prompt when it waits instead.
_FATAL_FAREWELL = re.compile(r"The install(?:er|ation) will now terminate\.?|Press enter to exit\.?")

# What a line did to the evidence still arriving: belongs to it, completed it, or is none of its business.
_Outcome = Literal["consumed", "done", "other"]


@dataclass
class _Pending:
    """Failure evidence that is still arriving (the lines after a failure marker, a traceback, an oops)."""

    mode: Literal["line", "script-log", "details", "traceback", "oops"]
    kind: str
    cause: str
    source: Source
    evidence: list[str]
    output: list[str] = field(default_factory=list)
    failing_script: str | None = None
    details_are_script_output: bool = False
    traceback_header_seen: bool = False


def _seconds(value: float) -> str:
    return f"{value:.0f}" if value == int(value) or value >= 10 else f"{value:.1f}"


class EvidenceJudge:
    """The judging both boots share: the log tail, kernel failures, evidence arriving over several lines, and
    the verdicts for idle, timeout and interruption. Subclasses add their own rules and their idea of success.

    The first failure evidence wins. While multi-line evidence is still arriving, lines from the other log are
    ignored (the test installer mirrors its console into the installer log); new evidence completes it.
    """

    # Rules for console lines and for installer-log lines that neither the kernel nor a script wrote.
    extra_rules: tuple[EvidenceRule, ...] = ()
    # Every failure pattern of the class in one regex: most lines match none, and one search rules them out.
    _any_failure: re.Pattern[str] = re.compile("(?!)")

    def __init_subclass__(cls) -> None:
        super().__init_subclass__()
        patterns = [rule.pattern for rule in (*KERNEL_RULES, *cls.extra_rules)]
        patterns += [_OOPS_START, _CRASH_NOTICE, re.compile(re.escape(_TRACEBACK_START))]
        # Named groups would clash in one pattern; the prefilter only needs to know whether anything matched.
        cls._any_failure = re.compile("|".join(_NAMED_GROUP.sub("(?:", p.pattern) for p in patterns))

    def __init__(self, *, tail_lines: int = DEFAULT_TAIL_LINES) -> None:
        self._tail: deque[str] = deque(maxlen=tail_lines)
        self._pending: _Pending | None = None
        self._failure: Verdict | None = None
        self._power_off_line: str | None = None

    def feed(self, line: LogLine) -> Verdict | None:
        """Take one line; return a failure verdict the moment its evidence is complete (once), else None."""
        view = view_line(line)
        self._tail.append(f"{view.source:<9}| {view.text}")
        if is_power_off(view):
            self._power_off_line = view.text
        self._observe(view)
        if self._failure is not None:
            return None
        if self._pending is not None:
            outcome = self._continue_pending(view)
            if outcome != "other":
                return self._failure
        self._judge_line(view)
        return self._failure

    @property
    def saw_power_off(self) -> bool:
        return self._power_off_line is not None

    def _observe(self, view: LineView) -> None:
        """Every line passes here first, failure or not (progress tracking)."""

    def _judge_line(self, view: LineView) -> None:
        """Look for failure evidence in a line; subclasses extend this with their own markers."""
        if view.from_script or self._any_failure.search(view.message) is None:
            return
        if view.kernel or view.source == "console":
            for rule in KERNEL_RULES:
                found = rule.pattern.search(view.message)
                if found is not None:
                    self._fail(rule.kind, _rule_cause(rule, found), view)
                    return
            if _OOPS_START.search(view.message):
                self._begin(_Pending("oops", "call-trace", f"kernel oops: {view.message}", view.source, [view.text]))
                return
        # Rules below also read printk-stamped lines: dracut and systemd write to the console through kmsg.
        if not view.kernel and self._traceback_starts(view):
            return
        for rule in self.extra_rules:
            found = rule.pattern.search(view.message)
            if found is None:
                continue
            cause = _rule_cause(rule, found)
            if rule.mode == "line":
                self._fail(rule.kind, cause, view)
            else:
                pending = _Pending("details", rule.kind, cause, view.source, [view.text])
                pending.details_are_script_output = rule.details_are_script_output
                self._begin(pending)
            return

    def _traceback_starts(self, view: LineView) -> bool:
        if view.source == "installer" and view.level != "CRITICAL":
            return False  # anaconda logs handled exceptions below CRITICAL, its crash handler at CRITICAL
        start = view.message.find(_TRACEBACK_START)
        if start >= 0 and "#012" in view.message:
            # rsyslog escapes the newlines of a multi-line message as "#012": the whole traceback is one line.
            parts = [part.strip() for part in view.message[start:].split("#012") if part.strip()]
            self._fail("traceback", f"Python traceback: {parts[-1]}", view)
            return True
        if start >= 0:
            pending = _Pending("traceback", "traceback", "Python traceback", view.source, [view.text])
            pending.traceback_header_seen = True
            self._begin(pending)
            return True
        if _CRASH_NOTICE.search(view.message):
            # anaconda's crash notice; the traceback after it (if the console shows one) names the exception.
            self._begin(_Pending("traceback", "traceback", "the installer crashed", view.source, [view.text]))
            return True
        return False

    def _continue_pending(self, view: LineView) -> _Outcome:
        pending = self._pending
        assert pending is not None
        if view.source != pending.source:
            return "consumed"
        if pending.mode == "oops":
            if not view.kernel:
                # Oops lines are printk lines: other console output means the report is over.
                ends = view.source == "console" and view.message.strip()
                return self._complete_pending() if ends else "consumed"
            pending.evidence.append(view.text)
            if _OOPS_END.search(view.message) or len(pending.evidence) >= _OOPS_MAX_LINES:
                return self._complete_pending()
            return "consumed"
        if view.kernel:
            return "other"  # printk lines interleave with everything: they neither belong to nor end evidence
        if pending.mode == "traceback":
            return self._continue_traceback(pending, view)
        if pending.mode == "details":
            if _FATAL_FAREWELL.search(view.message):
                pending.evidence.append(view.text)
                return self._complete_pending()
            if view.message.strip(" =\t"):  # the TUI frames dialogs with rows of "="
                kept = pending.output if pending.details_are_script_output else pending.evidence
                kept.append(view.message)
            if len(pending.output) + len(pending.evidence) >= _MAX_COLLECTED:
                return self._complete_pending()
            return "consumed"
        return self._continue_other(pending, view)

    def _continue_traceback(self, pending: _Pending, view: LineView) -> _Outcome:
        message = view.message
        if (view.source == "installer" and view.level != "CRITICAL") or not message.strip():
            return "consumed"
        if _TRACEBACK_START in message:
            pending.traceback_header_seen = True
            pending.evidence.append(view.text)
            return "consumed"
        if not pending.traceback_header_seen:
            if _CRASH_NOTICE.search(message):
                return "consumed"
            pending.evidence.append(view.text)  # a crash notice, then something other than a traceback
            return self._complete_pending()
        if message[:1].isspace():
            if len(pending.evidence) < _MAX_COLLECTED:
                pending.evidence.append(view.text)
            return "consumed"
        pending.evidence.append(view.text)
        pending.cause = f"Python traceback: {message.strip()}"
        return self._complete_pending()

    def _continue_other(self, pending: _Pending, view: LineView) -> _Outcome:
        """Pending modes that subclasses define (InstallJudge: "script-log")."""
        return self._complete_pending()

    def _begin(self, pending: _Pending) -> None:
        if self._pending is not None:
            self._complete_pending()  # the earlier evidence wins
        else:
            self._pending = pending

    def _complete_pending(self) -> _Outcome:
        pending = self._pending
        assert pending is not None
        self._pending = None
        self._decide(pending)
        return "done"

    def _fail(self, kind: str, cause: str, view: LineView) -> None:
        """Evidence complete in one line; evidence still arriving from before wins over it."""
        if self._pending is not None:
            self._complete_pending()
        else:
            self._decide(_Pending("line", kind, cause, view.source, [view.text]))

    def _decide(self, evidence: _Pending) -> None:
        self._failure = Verdict(
            ok=False,
            cause=evidence.cause,
            kind=evidence.kind,
            evidence=tuple(evidence.evidence),
            failing_script=evidence.failing_script,
            script_output=tuple(evidence.output),
            last_lines=tuple(self._tail),
        )

    def _settled_failure(self) -> Verdict | None:
        """The failure to report now that no more lines will come (completing evidence still arriving)."""
        if self._failure is None and self._pending is not None:
            self._complete_pending()
        return replace(self._failure, last_lines=tuple(self._tail)) if self._failure else None

    def _verdict(self, ok: bool, kind: str, cause: str, evidence: tuple[str, ...] = ()) -> Verdict:
        return Verdict(ok, cause, kind, evidence, None, (), tuple(self._tail))

    def _waiting_for(self) -> str:
        """What a subclass was still waiting for, for idle and timeout causes ("" when nothing special)."""
        return ""

    def stopped(self, *, clean: bool) -> Verdict:
        """The domain stopped: clean = it shut down or rebooted (not a crash)."""
        return self._settled_failure() or self._stopped_without_failure(clean)

    def _stopped_without_failure(self, clean: bool) -> Verdict:
        raise NotImplementedError

    def idle(self, seconds: float) -> Verdict:
        cause = f"no log output for {_seconds(seconds)} s (idle timeout)" + self._waiting_for()
        return self._settled_failure() or self._verdict(False, "idle-timeout", cause)

    def timed_out(self, seconds: float) -> Verdict:
        cause = f"timed out after {_seconds(seconds)} s" + self._waiting_for()
        return self._settled_failure() or self._verdict(False, "timeout", cause)

    def interrupted(self) -> Verdict:
        """The user stopped the run. Failure evidence already seen is still the better answer to "why"."""
        return self._settled_failure() or self._verdict(False, "interrupted", "interrupted before the boot finished")


def _rule_cause(rule: EvidenceRule, found: re.Match[str]) -> str:
    groups = {key: (value or "").strip() for key, value in found.groupdict().items()}
    cause = rule.cause.format(**groups)
    if groups.get("reason"):
        cause += f": {groups['reason']}"
    return cause


_PRE_STAGE = "Running pre-installation scripts"
_POST_STAGE = "Running post-installation scripts"
_CREATING_FORMAT = re.compile(r"^Creating \S+ on /dev/\S+$")
_PACKAGE = re.compile(r"^Installing (?P<name>\S+) \((?P<done>\d+)/(?P<total>\d+)\)$")
_ANACONDA_FATAL_SCRIPT = re.compile(r"There was an error running the kickstart script at line (?P<line>\d+)")
_FATAL, _REPO = "anaconda-fatal", "repo-error"

# fmt: off
# anaconda's progress messages in text mode (pyanaconda/install.py, packaging, the TUI hubs); and the task queues
# of anaconda 31-34 (EL8, EL9: pyanaconda/installation.py, the dnf payload; docs/targets.md §2).
_STAGES = frozenset({
    "Starting installer, one moment...", "Starting automated install", "Checking software selection",
    "Generating updated storage configuration", "Checking storage configuration...",
    "Setting up the installation environment", _PRE_STAGE, "Starting package installation process",
    "Preparing transaction from installation source", "Installing boot loader",
    "Performing post-installation setup tasks", "Configuring installed system",
    "Writing network configuration", "Creating users", "Configuring addons", "Generating initramfs",
    _POST_STAGE,
    "Configuring storage", "Running pre-installation tasks", "Installing.", "Downloading packages",
    "Storing configuration files and kickstarts",
})

INSTALL_RULES: tuple[EvidenceRule, ...] = (
    EvidenceRule(_ANACONDA_FATAL_SCRIPT, _FATAL,
                 "anaconda aborted the install: the kickstart script at ks.cfg line {line} failed",
                 "details", True),
    evidence_rule(r"The following error was found while parsing the kickstart configuration file"
                  r"|An error occurred during reading the kickstart file",
                  _FATAL, "anaconda could not read the kickstart", "details"),
    evidence_rule(r"The following errors occurred with your partitioning",
                  _FATAL, "anaconda could not apply the partitioning", "details"),
    evidence_rule(r"no valid devices were found on which to create new file systems",
                  _FATAL, "anaconda found no disk to install to"),
    evidence_rule(r"The installation was stopped due to what seems to be a problem with your hardware",
                  _FATAL, "anaconda stopped on a hardware error", "details"),
    evidence_rule(r"Can't have a question in command line mode!",
                  _FATAL, "anaconda needed an answer the kickstart does not give (cmdline mode)"),
    # anaconda 33/34's exception handler in cmdline mode (pyanaconda/exception.py): the first sentence is certain,
    # the framing after it was not pinned per branch, so the details run to the farewell or the collection limit.
    evidence_rule(r"The installation was stopped due to an error which occurred while running in non-interactive"
                  r" cmdline mode",
                  _FATAL, "anaconda needed an answer the kickstart does not give (cmdline mode)", "details"),
    evidence_rule(r"Running in cmdline mode, no interactive debugging allowed",
                  _FATAL, "the installer crashed (an unhandled error in cmdline mode)", "details"),
    evidence_rule(r"Error\s+setting\s+up\s+base\s+repository",
                  _REPO, "anaconda could not set up the base repository (install source unreachable?)"),
    evidence_rule(r"Error\s+setting\s+up\s+software\s+source",
                  _REPO, "anaconda could not set up a software source"),
    evidence_rule(r"Error\s+checking\s+software\s+selection",
                  _REPO, "anaconda could not resolve the package selection"),
    evidence_rule(r"You have specified that the (?P<what>package|group) '(?P<name>[^']*)' should be"
                  r" installed\.\s+This (?:package|group) does not exist",
                  _REPO, "{what} '{name}' is not in the repositories"),
    evidence_rule(r"The following software marked for installation has errors",
                  _REPO, "the package selection has dependency errors", "details"),
    evidence_rule(r"There was an error installing the (?P<package>\S+) package",
                  _REPO, "package {package} failed to install", "details"),
    evidence_rule(r"The following error occurred while installing\.",
                  _REPO, "package installation failed", "details"),
    evidence_rule(r"(?i:Error downloading packages)", _REPO, "packages could not be downloaded"),
    evidence_rule(r"Some packages could not be found", _REPO, "some packages could not be found"),
    evidence_rule(r"Warning: Could not boot\.?|dracut-initqueue timeout|Warning: /dev/root does not exist",
                  _REPO, "dracut could not start the installer (install source or stage2 unreachable?)"),
)
# fmt: on


class InstallJudge(EvidenceJudge):
    """Judges the install boot. Feed it lines as they arrive; ask it for a verdict when the boot ends."""

    extra_rules = INSTALL_RULES

    def __init__(self, *, tail_lines: int = DEFAULT_TAIL_LINES, profile: str | None = None) -> None:
        super().__init__(tail_lines=tail_lines)
        self._profile = profile
        self._success_line: str | None = None
        self._success_profile: str | None = None
        self._stage: str | None = None
        self._package: tuple[int, int] | None = None
        self._package_name: str | None = None
        self._last_line: str | None = None

    @property
    def progress(self) -> BootProgress:
        return BootProgress(self._stage, self._package, self._package_name, self._last_line)

    def _observe(self, view: LineView) -> None:
        if view.source == "console" and not view.kernel and view.message.strip():
            self._last_line = view.message.strip()
            self._track_progress(view.message)

    def _judge_line(self, view: LineView) -> None:
        if view.source == "console" and not view.kernel and self._markers(view):
            return
        super()._judge_line(view)

    def _markers(self, view: LineView) -> bool:
        """The kickstart's own markers; True when the line was one."""
        if view.message.startswith(SCRIPT_LOG_PREFIX):
            return True  # without a failure marker before it (garbled?): not evidence either way
        failed = FAILURE_LINE.search(view.message)
        if failed is not None:
            name, rc, line = failed["name"], failed["rc"], failed["line"]
            where = f", line {line}" if line else ""
            cause = f"{self._script_phase()} script '{name}' failed (exit {rc}{where})"
            pending = _Pending("script-log", "script-failed", cause, view.source, [view.text])
            pending.failing_script = name
            self._begin(pending)
            return True
        succeeded = SUCCESS_LINE.search(view.message)
        if succeeded is not None:
            self._success_line = view.text
            self._success_profile = succeeded["profile"]
            return True
        return False

    def _continue_other(self, pending: _Pending, view: LineView) -> _Outcome:
        # mode "script-log": the failed script's own log lines, until the first line that is not one.
        marker = view.message.find(SCRIPT_LOG_PREFIX)
        if marker >= 0:
            if len(pending.output) < _MAX_COLLECTED:
                pending.output.append(view.message[marker + len(SCRIPT_LOG_PREFIX) :].removeprefix(" "))
            return "consumed"
        if not view.message.strip():
            return "consumed"  # anaconda's fatal text, which completes the evidence, follows a blank line
        if _ANACONDA_FATAL_SCRIPT.search(view.message):
            pending.evidence.append(view.text)
        return self._complete_pending()

    def _script_phase(self) -> str:
        if self._stage == _PRE_STAGE:
            return "%pre"
        if self._stage == _POST_STAGE:
            return "%post"
        return "kickstart"

    def _track_progress(self, message: str) -> None:
        text = _CLOCK_PREFIX.sub("", message.strip())
        package = _PACKAGE.match(text)
        if package is not None:
            self._package = (int(package["done"]), int(package["total"]))
            self._package_name = package["name"]
            return
        stage = text.rstrip(". ") if text.startswith("Starting automated install") else text
        if stage in _STAGES or _CREATING_FORMAT.match(stage):
            self._stage = stage

    def _waiting_for(self) -> str:
        if self._success_line is not None:
            return " after the success marker (the VM did not stop)"
        return ""

    def _stopped_without_failure(self, clean: bool) -> Verdict:
        if self._success_line is None:
            if not clean:
                return self._verdict(False, "crashed", "the VM crashed before the success marker")
            return self._verdict(False, "no-marker", "the VM stopped without the success marker")
        if self._profile is not None and self._success_profile != self._profile:
            return self._verdict(
                False,
                "no-marker",
                f"the success marker names profile '{self._success_profile}', expected '{self._profile}'",
                (self._success_line,),
            )
        if not clean:
            cause = "the VM crashed after the success marker"
            return self._verdict(False, "crashed", cause, (self._success_line,))
        evidence = (self._success_line,) + ((self._power_off_line,) if self._power_off_line else ())
        return self._verdict(True, "complete", "install complete", evidence)
