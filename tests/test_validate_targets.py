"""Kickstart files validated with the syntax of their target: `--target`, a `#version=` line, else CentOS 7's.
Expected messages are pykickstart's, as measured in docs/measure/pykickstart_targets.out."""

from __future__ import annotations

from pathlib import Path

import pytest

from builder.validate.pipeline import validate_kickstart_text
from tests.helpers import ROOT_HASH, run_cli, write

BODY = f"""\
text
url --url=http://m/BaseOS/x86_64/os/
rootpw --iscrypted '{ROOT_HASH}'
autopart
reboot
"""


def pykickstart_findings(text: str, target: str | None = None) -> list[tuple[int | None, str, str, str]]:
    report = validate_kickstart_text(text, "ks.cfg", shell=False, target=target)
    return [(f.location.line if f.location else None, f.rule or "", f.severity, f.message)
            for f in report.findings if f.check == "pykickstart"]


def test_install_is_removed_on_el9_deprecated_on_el8_fine_on_centos7() -> None:
    text = "install\n" + BODY
    assert pykickstart_findings(text, "el9") == [(1, "KS101", "error", "install has been removed.")]
    [(line, rule, severity, message)] = pykickstart_findings(text, "rocky8")
    assert (line, rule, severity) == (1, "KS103", "warning")
    assert message.startswith("Ignoring deprecated command on line 1:  The install command has been deprecated")
    assert pykickstart_findings(text, "centos7") == []
    assert pykickstart_findings(text) == []  # no #version= line: CentOS 7


def test_timesource_and_allow_ssh_exist_on_el9_only() -> None:
    text = BODY.replace("reboot\n", "reboot\ntimesource --ntp-server=ntp1.lab\n").replace(
        "rootpw --iscrypted", "rootpw --allow-ssh --iscrypted")
    assert pykickstart_findings(text, "el9") == []
    assert pykickstart_findings(text, "el8") == [
        (3, "KS101", "error", "Unexpected arguments to rootpw command: ['--allow-ssh']"),
        (6, "KS101", "error", "Unknown command: timesource"),
    ]


@pytest.mark.parametrize(("header", "target", "problem"), [
    ("%packages --excludeWeakdeps", "el8", None),
    ("%packages --exclude-weakdeps", "el8", "unrecognized arguments: --exclude-weakdeps"),
    ("%packages --exclude-weakdeps", "el9", None),
    ("%packages --excludeWeakdeps", "el9", "replace this option with its preferred alias --exclude-weakdeps"),
    ("%packages --nobase", "el8", "unrecognized arguments: --nobase"),
])
def test_packages_options_per_version(header: str, target: str, problem: str | None) -> None:
    found = pykickstart_findings(BODY + f"{header}\n@core\n%end\n", target)
    if problem is None:
        assert found == []
    else:
        assert len(found) == 1 and problem in found[0][3], found


def test_the_version_line_picks_the_handler() -> None:
    text = "#version=RHEL9\ninstall\n" + BODY
    assert pykickstart_findings(text) == [(2, "KS101", "error", "install has been removed.")]
    # --target wins over the line.
    assert pykickstart_findings(text, "centos7") == []


def test_an_unknown_version_line_is_a_note_and_centos7_syntax() -> None:
    found = pykickstart_findings("#version=DEVEL\ntimesource --ntp-server=x\n" + BODY)
    assert found == [
        (1, "KS107", "info", "#version=DEVEL is not a syntax ksbuild validates against (RHEL7, RHEL8, RHEL9): "
         "checked as CentOS 7 (RHEL7)"),
        (2, "KS101", "error", "Unknown command: timesource"),
    ]


def test_a_version_line_after_the_first_command_is_not_read() -> None:
    assert pykickstart_findings("text\n#version=RHEL9\ninstall\n" + BODY.replace("text\n", "")) == []


def test_cli_target_option(tmp_path: Path) -> None:
    path = write(tmp_path / "ks.cfg", "install\n" + BODY)
    done = run_cli("validate", "--no-shellcheck", "--target", "rhel9", str(path), cwd=tmp_path)
    assert done.returncode == 1
    assert f"{path}:1: KS101 error: install has been removed." in done.stdout
    assert run_cli("validate", "--no-shellcheck", str(path), cwd=tmp_path).returncode == 0
    bad = run_cli("validate", "--target", "el10", str(path), cwd=tmp_path)
    assert bad.returncode == 2
    assert "--target: 'el10' is not a target ksbuild knows" in bad.stderr
