"""Check kickstart script bodies with `bash -n` and shellcheck, reporting kickstart line numbers.

Speed: a batch of kickstarts is checked with ONE shellcheck process; identical bodies (the same %post
in 200 rendered profiles) are checked once, and results are kept for the life of the process.

Choices:
- Only shell interpreters are checked: basename `sh` or `bash` (default /bin/sh). Others are skipped.
- `/bin/sh` bodies are checked as POSIX sh (shellcheck `shell=sh`), although /bin/sh is bash on
  CentOS 7: a body that needs bash features should say `--interpreter=/bin/bash`. `bash -n` (with
  `--posix` for sh) is the syntax check for both, as bash is what runs them on CentOS 7.
- shellcheck runs with `--norc` and without $SHELLCHECK_OPTS (same result on every machine), at
  severity warning and above: info and style notes (SC2086 unquoted variable is "info") are left out.
  No code is excluded. A body may silence a line with a `# shellcheck disable=SCxxxx` comment.
- The dialect is set per file with a `# shellcheck shell=` line put before the body, so one process
  can check sh and bash bodies together. `#!` lines in a body are blanked in the checked copy: anaconda
  runs the body with --interpreter, so they are comments, and one would override the dialect line.
- shellcheck's "warning" becomes a Finding of severity warning, its "error" an error; `bash -n`
  syntax errors are errors.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from builder.errors import CommandFailed, Finding, Location, Severity
from builder.fsutil import sha256_bytes
from builder.proc import find_tool, run
from builder.validate.kickstart import ScriptSection

_DIALECTS = {"sh": "sh", "bash": "bash"}
# Results of bodies already checked in this process, by sha256 of dialect and body.
_CACHE_LIMIT = 4096
_cache: dict[str, tuple[_Issue, ...]] = {}
# Keeps each shellcheck command line far below ARG_MAX.
_FILES_PER_SHELLCHECK = 5000
_BASH_LINE = re.compile(r"^(?P<file>[^:]+): line (?P<line>\d+): (?P<message>.*)$")


@dataclass(frozen=True)
class _Issue:
    """A problem in a script body, at a line of the body (1-based)."""

    check: str
    line: int
    severity: Severity
    message: str


@dataclass(frozen=True)
class _Body:
    key: str
    dialect: str
    text: str


def shell_dialect(interpreter: str) -> str | None:
    """`sh` or `bash` for a shell interpreter path such as /usr/bin/bash; None for anything else."""
    name = PurePosixPath(interpreter.strip() or "/bin/sh").name
    return _DIALECTS.get(name)


def _body_of(script: ScriptSection) -> _Body | None:
    dialect = shell_dialect(script.interpreter)
    if dialect is None:
        return None
    key = sha256_bytes(f"{dialect}\0{script.body}".encode())
    return _Body(key=key, dialect=dialect, text=script.body)


def _shellcheck_copy(body: _Body) -> str:
    lines = ["#" if line.startswith("#!") else line for line in body.text.split("\n")]
    return f"# shellcheck shell={body.dialect}\n" + "\n".join(lines)


def _run_shellcheck(files: dict[str, str], folder: Path) -> list[tuple[str, _Issue]]:
    """(body key, issue) for the files in `folder` (file name -> body key), with one shellcheck run."""
    env = {key: value for key, value in os.environ.items() if key != "SHELLCHECK_OPTS"}
    argv = [find_tool("shellcheck"), "--norc", "--format=json1", "--severity=warning", *files]
    result = run(argv, check=False, env=env, cwd=folder)
    # 0: nothing found, 1: something found; anything else is shellcheck failing.
    if result.returncode not in (0, 1):
        raise CommandFailed(f"shellcheck exited with {result.returncode}: {result.stderr.strip()}")
    try:
        comments = json.loads(result.stdout)["comments"]
    except (ValueError, KeyError) as exc:
        raise CommandFailed(f"shellcheck printed no json1 report: {exc}") from exc
    found = []
    for comment in comments:
        severity: Severity = "error" if comment["level"] == "error" else "warning"
        issue = _Issue(
            check="shellcheck",
            # The first line of the checked copy is the dialect line.
            line=max(int(comment["line"]) - 1, 1),
            severity=severity,
            message=f"SC{comment['code']}: {comment['message']}",
        )
        found.append((files[comment["file"]], issue))
    return found


def _run_bash_syntax(body: _Body, folder: Path, name: str) -> list[_Issue]:
    argv = ["bash", "--posix", "-n", name] if body.dialect == "sh" else ["bash", "-n", name]
    # A non-interactive bash reads $BASH_ENV (and $ENV in posix mode) first: not the user's startup files here.
    env = {key: value for key, value in os.environ.items() if key not in ("BASH_ENV", "ENV")}
    result = run(argv, check=False, cwd=folder, env=env)
    if result.returncode == 0:
        return []
    by_line: dict[int, list[str]] = {}
    for text in result.stderr.splitlines():
        match = _BASH_LINE.match(text)
        if match and match["file"] == name:
            by_line.setdefault(int(match["line"]), []).append(match["message"].strip())
    if not by_line:
        return [_Issue("bash", 1, "error", f"bash -n: {result.stderr.strip() or 'syntax error'}")]
    # bash reports an unterminated construct at the line after the last: the %end line.
    last = body.text.count("\n") + 1
    return [
        _Issue("bash", min(line, last), "error", "bash -n: " + " — ".join(messages))
        for line, messages in sorted(by_line.items())
    ]


def _check_bodies(bodies: Sequence[_Body]) -> dict[str, tuple[_Issue, ...]]:
    with tempfile.TemporaryDirectory(prefix="ksbuild-shell-") as tmp:
        folder = Path(tmp)
        checked_copies: dict[str, str] = {}
        for index, body in enumerate(bodies):
            (folder / f"{index}.body").write_text(body.text, encoding="utf-8")
            (folder / f"{index}.sh").write_text(_shellcheck_copy(body), encoding="utf-8")
            checked_copies[f"{index}.sh"] = body.key
        names = list(checked_copies)
        # shellcheck keeps one core busy; the bash -n runs (one per body) share the others.
        with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 1)) as pool:
            shellcheck_runs = [
                pool.submit(_run_shellcheck, {name: checked_copies[name] for name in chunk}, folder)
                for chunk in (
                    names[start : start + _FILES_PER_SHELLCHECK]
                    for start in range(0, len(names), _FILES_PER_SHELLCHECK)
                )
            ]
            bash_runs = {
                body.key: pool.submit(_run_bash_syntax, body, folder, f"{index}.body")
                for index, body in enumerate(bodies)
            }
            found = {key: future.result() for key, future in bash_runs.items()}
            for shellcheck_run in shellcheck_runs:
                for key, issue in shellcheck_run.result():
                    found[key].append(issue)
    return {key: tuple(issues) for key, issues in found.items()}


def _remember(results: dict[str, tuple[_Issue, ...]]) -> None:
    _cache.update(results)
    while len(_cache) > _CACHE_LIMIT:
        del _cache[next(iter(_cache))]


def _findings(script: ScriptSection, issues: Iterable[_Issue], source: str) -> list[Finding]:
    findings = []
    for issue in issues:
        ks_line = script.body_first_line + issue.line - 1
        findings.append(
            Finding(
                check=issue.check,
                message=issue.message,
                location=Location(source, ks_line),
                severity=issue.severity,
                rendered_line=ks_line,
            )
        )
    return findings


def check_scripts_each(batches: Sequence[tuple[str, Sequence[ScriptSection]]]) -> list[list[Finding]]:
    """Findings for each (source, scripts) batch, in order, with one shellcheck run for all of them."""
    shell_scripts = [
        [(script, body) for script in scripts if (body := _body_of(script)) is not None] for _, scripts in batches
    ]
    wanted = {body.key: body for scripts in shell_scripts for _, body in scripts}
    known = {key: _cache[key] for key in wanted if key in _cache}
    unchecked = [body for key, body in wanted.items() if key not in known]
    if unchecked:
        fresh = _check_bodies(unchecked)
        _remember(fresh)
        known.update(fresh)

    report: list[list[Finding]] = []
    for (source, _scripts), scripts in zip(batches, shell_scripts, strict=True):
        findings = [finding for script, body in scripts for finding in _findings(script, known[body.key], source)]
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
