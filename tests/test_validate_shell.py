"""Shell checks of script bodies with the real shellcheck and bash, mapped to kickstart lines."""

from __future__ import annotations

import os
import stat
import uuid
from collections.abc import Iterable
from pathlib import Path

import pytest

from builder.errors import Finding
from builder.proc import find_tool
from builder.validate.kickstart import ScriptSection, parse_kickstart
from builder.validate.pipeline import validate_kickstart_text, validate_many
from builder.validate.shell import check_scripts, check_scripts_batch, shell_dialect

KICKSTARTS = Path(__file__).parent / "data" / "kickstarts"


def where(findings: Iterable[Finding]) -> list[tuple[str, int | None]]:
    return [(f.check, f.location.line if f.location else None) for f in findings]


def script(body: str, interpreter: str = "/bin/bash", first_line: int = 10) -> ScriptSection:
    # A fresh comment keeps each test's body out of the in-process result cache of earlier tests.
    return ScriptSection(
        kind="post",
        interpreter=interpreter,
        body=body + f"# {uuid.uuid4()}\n",
        header_line=first_line - 1,
        body_first_line=first_line,
        error_on_fail=False,
        in_chroot=True,
        log=None,
    )


def test_syntax_error_is_reported_by_bash_and_shellcheck_at_kickstart_lines() -> None:
    text = (KICKSTARTS / "bad-post-syntax.ks").read_text()
    parsed = parse_kickstart(text, "syntax.ks")
    findings = check_scripts(parsed.scripts, "syntax.ks")
    # Line 16 opens `$(` without closing it; bash notices only at the end of the body, the %end line.
    assert where(findings) == [("shellcheck", 16), ("bash", 18), ("shellcheck", 18)]
    assert findings[0].message.startswith("SC1073: ")
    assert "unexpected EOF while looking for matching `)'" in findings[1].message
    assert all(f.severity == "error" for f in findings)
    assert [f.rendered_line for f in findings] == [16, 18, 18]
    assert text.splitlines()[17] == "%end"


def test_shellcheck_warning_is_mapped_to_the_kickstart_line_and_does_not_fail() -> None:
    report = validate_kickstart_text((KICKSTARTS / "warn-post-shellcheck.ks").read_text(), "warn.ks")
    assert where(report.findings) == [("shellcheck", 17)]
    [finding] = report.findings
    assert finding.severity == "warning"
    assert finding.message == "SC2046: Quote this to prevent word splitting."
    assert report.ok


def test_only_shell_interpreters_are_checked() -> None:
    broken = "echo $(\n"
    assert where(check_scripts([script(broken, "/usr/bin/python")], "py.ks")) == []
    assert where(check_scripts([script(broken, "/usr/bin/bash")], "b.ks"))
    assert [shell_dialect(i) for i in ("/bin/sh", "/bin/bash", "/usr/bin/bash", "", "/usr/bin/python3")] == [
        "sh",
        "bash",
        "bash",
        "sh",
        None,
    ]


def test_sh_bodies_are_checked_as_the_bash_that_runs_them_on_el() -> None:
    # /bin/sh is bash on CentOS 7, EL8 and EL9: a bash-ism under the default interpreter is not a finding...
    bashism = '#!/bin/bash\nif [[ -n "$HOME" ]]; then source /etc/profile; fi\n'
    assert check_scripts([script(bashism, "/bin/sh")], "sh.ks") == []
    # ...while a real defect still is, at its kickstart line, whatever the interpreter.
    defect = 'if [[ -n "$HOME" ]]; then echo home; fi\nrm -rf "$TARGET_DIR"/*\n'
    for interpreter in ("/bin/sh", "/bin/bash"):
        found = check_scripts([script(defect, interpreter)], "defect.ks")
        assert [f.message.split(":")[0] for f in found] == ["SC2115"], interpreter


def test_a_shellcheck_directive_in_the_body_silences_that_line() -> None:
    body = "# shellcheck disable=SC2046\nchmod 0644 $(ls /etc/yum.repos.d/*.repo)\n"
    assert check_scripts([script(body)], "quiet.ks") == []
    assert where(check_scripts([script(body.split("\n", 1)[1])], "loud.ks")) == [("shellcheck", 10)]


def test_batch_returns_findings_per_source() -> None:
    good = script("echo fine\n")
    bad = script("echo $(\n", first_line=30)
    result = check_scripts_batch([("a.ks", [good]), ("b.ks", [good, bad])])
    assert where(result["a.ks"]) == []
    assert {check for check, _ in where(result["b.ks"])} == {"bash", "shellcheck"}
    assert all(f.location is not None and f.location.file == "b.ks" for f in result["b.ks"])


def _counting_wrapper(folder: Path, tool: str, log: Path) -> None:
    real = find_tool(tool)
    wrapper = folder / tool
    wrapper.write_text(f'#!/bin/sh\necho "$*" >> "{log}"\nexec "{real}" "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)


def _runs(log: Path) -> int:
    return len(log.read_text().splitlines()) if log.exists() else 0


def test_a_batch_runs_shellcheck_once_and_bash_once_per_distinct_body(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shellcheck_log, bash_log = tmp_path / "shellcheck.log", tmp_path / "bash.log"
    _counting_wrapper(tmp_path, "shellcheck", shellcheck_log)
    _counting_wrapper(tmp_path, "bash", bash_log)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")

    def fresh_copy() -> str:
        # A new comment after the checked line: a body never seen (and cached) in this process.
        head, tail = (KICKSTARTS / "warn-post-shellcheck.ks").read_text().rsplit("%end\n", 1)
        return f"{head}# run {uuid.uuid4()}\n%end\n{tail}"

    batch_text = fresh_copy()
    reports = validate_many([(f"ks{i}.cfg", batch_text) for i in range(50)])
    assert _runs(shellcheck_log) == 1
    assert _runs(bash_log) == 1
    assert [where(r.findings) for r in reports] == [[("shellcheck", 17)]] * 50
    assert [str(r.findings[0].location) for r in reports] == [f"ks{i}.cfg:17" for i in range(50)]

    single = validate_kickstart_text(fresh_copy(), "ks0.cfg")
    assert _runs(shellcheck_log) == 2
    assert single.findings == reports[0].findings

    # The same bodies again: answered from this process's results, no new processes.
    validate_many([(f"again{i}.cfg", batch_text) for i in range(50)])
    assert (_runs(shellcheck_log), _runs(bash_log)) == (2, 2)


def test_bodies_differing_only_in_quoted_heredoc_data_are_shellchecked_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "shellcheck.log"
    _counting_wrapper(tmp_path, "shellcheck", log)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    marker = uuid.uuid4()

    def ifcfg(address: str) -> ScriptSection:
        body = f"# {marker}\ncat > /etc/sysconfig/network-scripts/ifcfg-br0 <<'EOF'\nIPADDR={address}\nEOF\nrm $(ls)\n"
        return ScriptSection("post", "/bin/bash", body, 9, 10, False, True, None)

    result = check_scripts_batch([("a.ks", [ifcfg("192.0.2.1")]), ("b.ks", [ifcfg("192.0.2.2")])])
    [arguments] = log.read_text().splitlines()
    assert [word for word in arguments.split() if word.endswith(".sh")] == ["0.sh"]
    assert where(result["a.ks"]) == where(result["b.ks"]) == [("shellcheck", 14)]


def test_heredoc_data_is_checked_only_where_the_shell_expands_it() -> None:
    unquoted = "cat > /etc/motd <<EOF\nWelcome to $site_name\nEOF\n"
    quoted = unquoted.replace("<<EOF", "<<'EOF'")
    assert [f.message.split(":")[0] for f in check_scripts([script(unquoted)], "u.ks")] == ["SC2154"]
    assert check_scripts([script(quoted)], "q.ks") == []
    # shellcheck's hint about a misplaced end word inside the data survives.
    misplaced = "cat > /etc/motd <<'EOF'\nWelcome\n  EOF\nEOF\n"
    [hint] = check_scripts([script(misplaced)], "m.ks")
    assert (hint.message.split(":")[0], where([hint])) == ("SC1039", [("shellcheck", 12)])


def test_shell_false_runs_no_shell_checks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "shellcheck.log"
    _counting_wrapper(tmp_path, "shellcheck", log)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    text = (KICKSTARTS / "bad-post-syntax.ks").read_text().replace("%end\n", f"# {uuid.uuid4()}\n%end\n")
    report = validate_kickstart_text(text, "noshell.ks", shell=False)
    assert report.findings == ()
    assert _runs(log) == 0
