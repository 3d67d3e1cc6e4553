"""Check kickstart script bodies with `bash -n` and shellcheck, reporting kickstart line numbers.

Speed: a batch of kickstarts is checked with ONE shellcheck process; identical bodies (the same %post
in 200 rendered profiles) are checked once, and results are kept for the life of the process.

Choices:
- Only shell interpreters are checked: basename `sh` or `bash` (default /bin/sh). Others are skipped.
- `/bin/sh` bodies are checked by shellcheck as bash (`shell=bash`): /bin/sh is bash on every EL release
  anaconda runs them on (CentOS 7, EL8, EL9), so POSIX-portability warnings (SC3xxx: `[[ ]]`, `source`,
  arrays) would be about a shell that never runs them. `bash -n` (with `--posix` for sh, the mode bash
  enters as /bin/sh) is the syntax check for both.
- shellcheck runs with `--norc` and without $SHELLCHECK_OPTS (same result on every machine), at
  severity warning and above: info and style notes (SC2086 unquoted variable is "info") are left out.
  No code is excluded. A body may silence a line with a `# shellcheck disable=SCxxxx` comment.
- The dialect is set per file with a `# shellcheck shell=` line put before the body, so one process
  can check sh and bash bodies together. `#!` lines in a body are blanked in the checked copy: anaconda
  runs the body with --interpreter, so they are comments, and one would override the dialect line.
- The lines inside a quoted here-document (`<<'EOF'`, `<<"EOF"`, `<<\\EOF`, at the end of a line) are
  data the shell never expands, and shellcheck does not look into them either; they are blanked in the
  checked copy (line numbers kept; lines naming the end word kept for shellcheck's end-token hints),
  so bodies that differ only in such data (ifcfg files, repo files) are checked once. `bash -n` always
  reads the body as written.
- shellcheck's "warning" becomes rule KS403 (a warning), its "error" KS402 (an error); `bash -n` syntax errors are
  KS401 (builder.rules). Each message starts with the SC code, so `--ignore SC2154` can drop one code.
- `start_checks` runs the checks in the background on the scripts a quick scan finds (builder.validate.sections),
  while pykickstart is imported and parses: the results land in the cache the parsed scripts then read.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from builder.errors import CommandFailed, Finding, Location
from builder.fsutil import sha256_bytes
from builder.proc import find_tool, finish, start
from builder.rules import rule_finding
from builder.validate.sections import ScriptSection

_DIALECTS = {"sh": "sh", "bash": "bash"}
# What shellcheck is told each dialect is: /bin/sh is bash on EL (see the module docstring).
_SHELLCHECK_SHELL = {"sh": "bash", "bash": "bash"}
# Results already known in this process: bash -n by sha256 of dialect and body, shellcheck by sha256
# of the checked copy (which names the dialect).
_CACHE_LIMIT = 4096
_bash_cache: dict[str, tuple[_Issue, ...]] = {}
_shellcheck_cache: dict[str, tuple[_Issue, ...]] = {}
# Keeps each shellcheck command line far below ARG_MAX.
_FILES_PER_SHELLCHECK = 5000
# bash -n processes at a time, beside shellcheck.
_RUNNING = max(2, os.cpu_count() or 1)
_BASH_LINE = re.compile(r"^(?P<file>[^:]+): line (?P<line>\d+): (?P<message>.*)$")
_QUOTED_HEREDOC = re.compile(
    r"""<<(?P<tabs>-?)[ \t]*(?:'(?P<single>[^']+)'|"(?P<double>[^"]+)"|\\(?P<escaped>\w+))[ \t]*$"""
)


@dataclass(frozen=True)
class _Issue:
    """A problem in a script body, at a line of the body (1-based)."""

    check: str
    line: int
    rule: str
    message: str


@dataclass(frozen=True)
class _Body:
    dialect: str
    text: str
    checked_copy: str
    bash_key: str
    shellcheck_key: str


def shell_dialect(interpreter: str) -> str | None:
    """`sh` or `bash` for a shell interpreter path such as /usr/bin/bash; None for anything else."""
    name = PurePosixPath(interpreter.strip() or "/bin/sh").name
    return _DIALECTS.get(name)


def _blank_quoted_heredocs(lines: list[str]) -> list[str]:
    """`lines` with the data lines of quoted here-documents emptied; anything unclear is left as it is."""
    blanked = list(lines)
    index = 0
    while index < len(lines):
        line = lines[index]
        match = _QUOTED_HEREDOC.search(line)
        # A `<<'EOF'` that may sit in a comment is not trusted.
        if match is None or "#" in line[: match.start()]:
            index += 1
            continue
        word = match["single"] or match["double"] or match["escaped"]
        end = next(
            (
                later
                for later in range(index + 1, len(lines))
                if (lines[later].lstrip("\t") if match["tabs"] else lines[later]) == word
            ),
            None,
        )
        if end is None:
            index += 1  # unterminated: shellcheck reports it, with its hints
            continue
        for inside in range(index + 1, end):
            if word not in lines[inside]:
                blanked[inside] = ""
        index = end + 1
    return blanked


def _body_of(script: ScriptSection) -> _Body | None:
    dialect = shell_dialect(script.interpreter)
    if dialect is None:
        return None
    lines = ["#" if line.startswith("#!") else line for line in script.body.split("\n")]
    # Quoted here-document data is never parsed by bash either: with it blanked, the script of 200 hosts that
    # differ only in file contents (ifcfg addresses, host names) is one body to check, for both tools.
    syntax_copy = "\n".join(_blank_quoted_heredocs(lines))
    checked_copy = f"# shellcheck shell={_SHELLCHECK_SHELL[dialect]}\n" + syntax_copy
    return _Body(
        dialect=dialect,
        text=syntax_copy,
        checked_copy=checked_copy,
        bash_key=sha256_bytes(f"{dialect}\0{syntax_copy}".encode()),
        shellcheck_key=sha256_bytes(checked_copy.encode()),
    )


def _start_shellcheck(files: dict[str, str], folder: Path) -> subprocess.Popen[str]:
    env = {key: value for key, value in os.environ.items() if key != "SHELLCHECK_OPTS"}
    argv = [find_tool("shellcheck"), "--norc", "--format=json1", "--severity=warning", *files]
    return start(argv, env=env, cwd=folder)


def _shellcheck_issues(result: subprocess.CompletedProcess[str], files: dict[str, str]) -> list[tuple[str, _Issue]]:
    """(body key, issue) from one shellcheck run on `files` (file name -> body key)."""
    # 0: nothing found, 1: something found; anything else is shellcheck failing.
    if result.returncode not in (0, 1):
        raise CommandFailed(f"shellcheck exited with {result.returncode}: {result.stderr.strip()}")
    try:
        comments = json.loads(result.stdout)["comments"]
    except (ValueError, KeyError) as exc:
        raise CommandFailed(f"shellcheck printed no json1 report: {exc}") from exc
    found = []
    for comment in comments:
        issue = _Issue(
            check="shellcheck",
            # The first line of the checked copy is the dialect line.
            line=max(int(comment["line"]) - 1, 1),
            rule="KS402" if comment["level"] == "error" else "KS403",
            message=f"SC{comment['code']}: {comment['message']}",
        )
        found.append((files[comment["file"]], issue))
    return found


def _start_bash_syntax(body: _Body, folder: Path, name: str) -> subprocess.Popen[str]:
    argv = ["bash", "--posix", "-n", name] if body.dialect == "sh" else ["bash", "-n", name]
    # A non-interactive bash reads $BASH_ENV (and $ENV in posix mode) first: not the user's startup files here.
    env = {key: value for key, value in os.environ.items() if key not in ("BASH_ENV", "ENV")}
    return start(argv, cwd=folder, env=env)


def _bash_issues(result: subprocess.CompletedProcess[str], body: _Body, name: str) -> list[_Issue]:
    if result.returncode == 0:
        return []
    by_line: dict[int, list[str]] = {}
    for text in result.stderr.splitlines():
        match = _BASH_LINE.match(text)
        if match and match["file"] == name:
            by_line.setdefault(int(match["line"]), []).append(match["message"].strip())
    if not by_line:
        return [_Issue("bash", 1, "KS401", f"bash -n: {result.stderr.strip() or 'syntax error'}")]
    # bash reports an unterminated construct at the line after the last: the %end line.
    last = body.text.count("\n") + 1
    return [
        _Issue("bash", min(line, last), "KS401", "bash -n: " + " — ".join(messages))
        for line, messages in sorted(by_line.items())
    ]


def _check_bodies(
    for_bash: Sequence[_Body], for_shellcheck: Sequence[_Body]
) -> tuple[dict[str, tuple[_Issue, ...]], dict[str, tuple[_Issue, ...]]]:
    """bash -n results by bash key and shellcheck results by shellcheck key, for the bodies given.

    shellcheck (one process per 5000 files) and the bash -n runs (one per body) run side by side, at most
    `_RUNNING` processes at a time."""
    with tempfile.TemporaryDirectory(prefix="ksbuild-shell-") as tmp:
        folder = Path(tmp)
        checked_copies: dict[str, str] = {}
        for index, body in enumerate(for_shellcheck):
            (folder / f"{index}.sh").write_text(body.checked_copy, encoding="utf-8")
            checked_copies[f"{index}.sh"] = body.shellcheck_key
        for index, body in enumerate(for_bash):
            (folder / f"{index}.body").write_text(body.text, encoding="utf-8")
        names = list(checked_copies)
        chunks = [{name: checked_copies[name] for name in names[first:first + _FILES_PER_SHELLCHECK]}
                  for first in range(0, len(names), _FILES_PER_SHELLCHECK)]
        shellcheck_runs = [(_start_shellcheck(chunk, folder), chunk) for chunk in chunks]
        bash_found: dict[str, tuple[_Issue, ...]] = {}
        waiting = list(enumerate(for_bash))
        running: list[tuple[subprocess.Popen[str], _Body, str]] = []
        while waiting or running:
            while waiting and len(running) < _RUNNING:
                index, body = waiting.pop(0)
                running.append((_start_bash_syntax(body, folder, f"{index}.body"), body, f"{index}.body"))
            process, body, name = running.pop(0)
            bash_found[body.bash_key] = tuple(_bash_issues(finish(process), body, name))
        shellcheck_found: dict[str, list[_Issue]] = {body.shellcheck_key: [] for body in for_shellcheck}
        for process, chunk in shellcheck_runs:
            for key, issue in _shellcheck_issues(finish(process), chunk):
                shellcheck_found[key].append(issue)
    return bash_found, {key: tuple(issues) for key, issues in shellcheck_found.items()}


def _remember(cache: dict[str, tuple[_Issue, ...]], results: dict[str, tuple[_Issue, ...]]) -> None:
    cache.update(results)
    while len(cache) > _CACHE_LIMIT:
        del cache[next(iter(cache))]


def _findings(script: ScriptSection, issues: Iterable[_Issue], source: str) -> list[Finding]:
    findings = []
    for issue in issues:
        ks_line = script.body_first_line + issue.line - 1
        # A script from an included file is at that file's lines.
        location = Location(script.source or source, ks_line)
        findings.append(rule_finding(issue.check, issue.rule, location, issue.message))
    return findings


def check_scripts_each(batches: Sequence[tuple[str, Sequence[ScriptSection]]]) -> list[list[Finding]]:
    """Findings for each (source, scripts) batch, in order, with one shellcheck run for all of them."""
    shell_scripts = [
        [(script, body) for script in scripts if (body := _body_of(script)) is not None] for _, scripts in batches
    ]
    bodies = [body for scripts in shell_scripts for _, body in scripts]
    known_bash = {body.bash_key: _bash_cache[body.bash_key] for body in bodies if body.bash_key in _bash_cache}
    known_shellcheck = {
        body.shellcheck_key: _shellcheck_cache[body.shellcheck_key]
        for body in bodies
        if body.shellcheck_key in _shellcheck_cache
    }
    for_bash = list({body.bash_key: body for body in bodies if body.bash_key not in known_bash}.values())
    for_shellcheck = list(
        {body.shellcheck_key: body for body in bodies if body.shellcheck_key not in known_shellcheck}.values()
    )
    if for_bash or for_shellcheck:
        fresh_bash, fresh_shellcheck = _check_bodies(for_bash, for_shellcheck)
        _remember(_bash_cache, fresh_bash)
        _remember(_shellcheck_cache, fresh_shellcheck)
        known_bash.update(fresh_bash)
        known_shellcheck.update(fresh_shellcheck)

    report: list[list[Finding]] = []
    for (source, _scripts), scripts in zip(batches, shell_scripts, strict=True):
        findings = [
            finding
            for script, body in scripts
            for finding in _findings(
                script, (*known_bash[body.bash_key], *known_shellcheck[body.shellcheck_key]), source
            )
        ]
        findings.sort(key=lambda f: (f.rendered_line or 0, f.check, f.message))
        report.append(findings)
    return report


def check_scripts_batch(batches: Sequence[tuple[str, Sequence[ScriptSection]]]) -> dict[str, list[Finding]]:
    """Findings per source for the shell scripts of many kickstarts, with one shellcheck run for all.

    Batches that share a source name share one list of findings.
    """
    report: dict[str, list[Finding]] = {}
    for (source, _scripts), findings in zip(batches, check_scripts_each(batches), strict=True):
        report.setdefault(source, []).extend(findings)
    return report


def check_scripts(scripts: Sequence[ScriptSection], source: str) -> list[Finding]:
    """Findings for the shell scripts of one kickstart (`source` names it in each Finding)."""
    return check_scripts_batch([(source, scripts)])[source]


class PendingChecks:
    """Shell checks running in a background thread (which mostly waits for shellcheck and bash)."""

    def __init__(self, scripts: Sequence[ScriptSection]) -> None:
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(scripts,), name="ksbuild-shell", daemon=True)
        self._thread.start()

    def _run(self, scripts: Sequence[ScriptSection]) -> None:
        try:
            check_scripts_each([("", scripts)])
        except BaseException as exc:  # handed to the caller by wait()
            self._error = exc

    def wait(self) -> None:
        """Wait until done; the errors of the checks (shellcheck missing ...) are raised here."""
        self._thread.join()
        if self._error is not None:
            raise self._error


def start_checks(scripts: Sequence[ScriptSection]) -> PendingChecks:
    """Check these scripts in the background; their results fill the cache `check_scripts_each` reads.

    Wait for them before checking other scripts, so that one body is never checked twice at once.
    """
    return PendingChecks(scripts)
