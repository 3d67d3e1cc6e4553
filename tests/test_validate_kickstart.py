"""Parsing kickstarts with real pykickstart: every error reported with its line, never an exception."""

from __future__ import annotations

import shlex
from collections.abc import Iterable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pykickstart.commands.sshkey import F22_SshKey, F22_SshKeyData
from pykickstart.constants import KS_REBOOT
from pykickstart.parser import KickstartParser
from pykickstart.version import RHEL7, makeVersion, returnClassForVersion

import builder.validate.kickstart
from builder.errors import BadInput, Finding
from builder.validate.kickstart import parse_kickstart, rhel7_handler
from builder.validate.pipeline import validate_kickstart_file, validate_kickstart_text, validate_many
from builder.validate.sections import header_words

KICKSTARTS = Path(__file__).parent / "data" / "kickstarts"
GOOD = KICKSTARTS / "good-hypervisor.ks"


def where(findings: Iterable[Finding]) -> list[tuple[str, int | None]]:
    return [(f.check, f.location.line if f.location else None) for f in findings]


def test_good_hypervisor_kickstart_has_no_findings() -> None:
    report = validate_kickstart_file(GOOD)
    assert report.findings == ()
    assert report.ok


def test_scripts_are_returned_with_their_kickstart_lines_and_options() -> None:
    lines = GOOD.read_text().splitlines()
    parsed = parse_kickstart(GOOD.read_text(), "good.ks")
    headers = [number for number, line in enumerate(lines, start=1) if line.startswith(("%pre", "%post"))]
    assert [s.header_line for s in parsed.scripts] == headers
    assert [s.kind for s in parsed.scripts] == ["pre", "post", "post", "post", "post"]
    assert [s.interpreter for s in parsed.scripts] == [
        "/bin/bash",
        "/bin/bash",
        "/bin/sh",
        "/usr/bin/python",
        "/bin/bash",
    ]
    assert [s.error_on_fail for s in parsed.scripts] == [False, True, False, False, True]
    assert [s.in_chroot for s in parsed.scripts] == [False, True, False, True, True]
    assert parsed.scripts[1].log == "/root/ks-post-libvirt.log"
    assert parsed.scripts[4].log is None
    for script in parsed.scripts:
        # The body's first line is the kickstart line the script says it is.
        assert script.body.splitlines()[0] == lines[script.body_first_line - 1]
        assert lines[script.body_first_line - 1 + len(script.body.splitlines())] == "%end"


def test_sshkey_is_accepted_although_upstream_rhel7_lacks_it() -> None:
    text = GOOD.read_text()
    parsed = parse_kickstart(text, "good.ks")
    [key] = parsed.handler.sshkey.sshUserList
    assert key.username == "root"
    assert key.key.startswith("ssh-ed25519 AAAA")

    upstream = makeVersion(RHEL7)
    with pytest.raises(Exception, match="Unknown command: sshkey"):
        KickstartParser(upstream, followIncludes=False).readKickstartFromString(text)


def test_network_bridge_options_reach_the_handler() -> None:
    parsed = parse_kickstart(GOOD.read_text(), "good.ks")
    bridge = parsed.handler.network.network[0]
    assert (bridge.device, bridge.bridgeslaves, bridge.bridgeopts) == (
        "br0",
        "eth0",
        "stp=no,forward_delay=0",
    )


def test_each_parse_starts_from_a_clean_handler() -> None:
    parse_kickstart("user --name=ops\nrootpw --iscrypted x\n", "a.ks")
    second = parse_kickstart("text\n", "b.ks")
    assert second.handler.user.userList == []
    assert not second.handler.rootpw.seen
    assert rhel7_handler() is not rhel7_handler()


@pytest.mark.parametrize("parses", [1, 3])
def test_the_fast_handlers_parse_like_a_freshly_built_one(parses: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first handler of a process has only the commands the file uses (and those the checks read); later
    ones are copies of a prototype. Both read every command, section and script as a full handler does."""
    # As in a new process: no handler made yet, so the first parse takes the partial-handler path.
    monkeypatch.setattr(builder.validate.kickstart, "_handlers_made", set())
    text = GOOD.read_text() + "firewall --disabled\n"
    fresh = returnClassForVersion(RHEL7)(
        commandUpdates={"sshkey": F22_SshKey}, dataUpdates={"SshKeyData": F22_SshKeyData}
    )
    KickstartParser(fresh, followIncludes=False).readKickstartFromString(text)
    for _ in range(parses):
        ours = parse_kickstart(text, "good.ks").handler
    used = [name for name, command in fresh.commands.items() if command is not None and command.seen]
    assert len(used) > 20
    assert [str(ours.commands[name]) for name in used] == [str(fresh.commands[name]) for name in used]
    assert str(ours.packages) == str(fresh.packages)
    assert [str(script) for script in ours.scripts] == [str(script) for script in fresh.scripts]


@pytest.mark.parametrize(
    ("name", "expected", "words"),
    [
        ("bad-unknown-command.ks", [("pykickstart", 11)], "Unknown command: firewal"),
        ("bad-option.ks", [("pykickstart", 10)], "--bridge-slaves"),
        ("bad-two-errors.ks", [("pykickstart", 10), ("pykickstart", 12)], "--strict"),
        ("bad-missing-end.ks", [("pykickstart", 14)], "does not end with %end"),
        ("bad-unclosed-quote.ks", [("pykickstart", 10)], "quote"),
    ],
)
def test_bad_kickstart_is_reported_at_its_line(name: str, expected: list[tuple[str, int]], words: str) -> None:
    report = validate_kickstart_file(KICKSTARTS / name)
    assert where(report.findings) == expected
    assert words in report.findings[0].message
    assert all(f.severity == "error" for f in report.findings)
    assert [f.rendered_line for f in report.findings] == [line for _, line in expected]
    assert not report.ok


def test_two_errors_report_both_messages() -> None:
    report = validate_kickstart_file(KICKSTARTS / "bad-two-errors.ks")
    assert [f.message for f in report.findings] == [
        "unrecognized arguments: --strict",
        "Unknown command: frobnicate",
    ]


def test_parsing_goes_on_after_an_unclosed_quote() -> None:
    parsed = parse_kickstart((KICKSTARTS / "bad-unclosed-quote.ks").read_text(), "q.ks")
    assert parsed.handler.reboot.action == KS_REBOOT  # the line after the bad one was read
    assert parsed.handler.packages.groupList[0].name == "core"


def test_unquoted_hash_cuts_a_value_short_and_is_reported_without_the_secret() -> None:
    report = validate_kickstart_file(KICKSTARTS / "bad-rootpw-hash-comment.ks")
    # What pykickstart (and so anaconda) does with `rootpw --plaintext pa#ss`: the password is "pa".
    assert report.parsed.handler.rootpw.password == "pa"
    assert where(report.findings) == [("pykickstart", 6), ("secrets", 6)]
    assert "unquoted '#'" in report.findings[0].message
    assert all("pa#ss" not in f.message and "ss" not in f.message.split() for f in report.findings)


def test_a_comment_after_a_value_is_not_reported() -> None:
    parsed = parse_kickstart('network --hostname=hv01.example.com # the name\nrootpw --plaintext "pa#ss"\n', "c.ks")
    assert parsed.findings == ()
    assert parsed.handler.rootpw.password == "pa#ss"


def test_errors_that_stop_pykickstart_are_all_collected() -> None:
    text = "\n".join(
        [
            "text",  # 1
            "%bogus --x",  # 2  unknown section: its body is skipped
            "nonsense in an unknown section",  # 3
            "%end",  # 4
            "%packages",  # 5
            "@core --nodefaults --optional",  # 6  a %packages error
            "%end",  # 7
            "%pre",  # 8  no %end before the next section
            "echo one",  # 9
            "%post",  # 10
            "echo two",  # 11
            "%end",  # 12
            "frobnicate",  # 13
            "%post --log=/root/x.log",  # 14 no %end before the end of the file
            "echo three",  # 15
        ]
    )
    parsed = parse_kickstart(text, "many.ks")
    assert where(parsed.findings) == [("pykickstart", n) for n in (2, 6, 8, 13, 14)]
    assert "%bogus" in parsed.findings[0].message
    assert "--nodefaults and --optional" in parsed.findings[1].message
    assert "line 10" in parsed.findings[2].message
    # Only the complete, well-formed script is handed on to the shell checks.
    assert [(s.header_line, s.body) for s in parsed.scripts] == [(10, "echo two\n")]


def test_a_stray_end_is_reported_and_what_follows_is_still_read() -> None:
    parsed = parse_kickstart("text\n%end\nfrobnicate\n%post\necho hi\n%end\n", "stray.ks")
    assert where(parsed.findings) == [("pykickstart", 2), ("pykickstart", 3)]
    assert "without an open section" in parsed.findings[0].message
    assert [s.header_line for s in parsed.scripts] == [4]


def test_a_script_with_a_bad_header_is_reported_and_not_shell_checked() -> None:
    parsed = parse_kickstart("%post --interpeter=/usr/bin/python\nprint('hi')\n%end\n", "h.ks")
    assert where(parsed.findings) == [("pykickstart", 1)]
    assert parsed.scripts == ()


def test_pykickstart_parse_warnings_are_errors_like_ksvalidator_only_when_rendered() -> None:
    text = "user --name=ops\nuser --name=ops\n"
    parsed = parse_kickstart(text, "dup.ks")
    assert where(parsed.findings) == [("pykickstart", 2)]
    assert "already been defined" in parsed.findings[0].message
    assert parsed.findings[0].rule == "KS102"
    severities = {mode: [f.severity for f in validate_kickstart_text(text, "dup.ks", shell=False, mode=mode).findings
                         if f.rule == "KS102"] for mode in ("kickstart", "rendered")}
    assert severities == {"kickstart": ["warning"], "rendered": ["error"]}


def test_a_deprecated_command_is_a_warning_at_its_line() -> None:
    parsed = parse_kickstart("text\nupgrade\n", "old.ks")
    assert where(parsed.findings) == [("pykickstart", 2)]
    assert parsed.findings[0].severity == "warning"
    assert "upgrade command has been deprecated" in parsed.findings[0].message


_KICKSTART_LINES = st.sampled_from(
    [
        "text",
        "reboot",
        "%post",
        "%pre --erroronfail",
        "%packages",
        "%end",
        "%include",
        "%bogus",
        '"',
        "'",
        "#",
        "a#b",
        "-",
        "@",
        "@core --optional --nodefaults",
        "network --bootproto=",
        "rootpw",
        "echo $(",
        "",
        "%certificate --filename=x",
        "%traceback",
        "%ksappend",
    ]
)


@settings(max_examples=150, deadline=None)
@given(st.lists(_KICKSTART_LINES, max_size=12))
def test_any_input_gives_findings_never_an_exception(lines: list[str]) -> None:
    parsed = parse_kickstart("\n".join(lines), "fuzz.ks")
    for finding in parsed.findings:
        assert finding.location is not None
        assert finding.location.line is None or 1 <= finding.location.line <= max(len(lines), 1)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="%post-=/ab \t'\"\\#:.,@+\x0b\xa0\r\n", max_size=40))
def test_the_quick_scan_reads_a_script_header_as_pykickstart_splits_it(header: str) -> None:
    # The scan that starts the shell checks early takes words apart as pykickstart does (shlex, comments dropped).
    try:
        expected: list[str] | type[ValueError] = shlex.split(header, comments=True)
    except ValueError:
        expected = ValueError
    try:
        words: list[str] | type[ValueError] = header_words(header)
    except ValueError:
        words = ValueError
    assert words == expected


def test_validate_file_rejects_unreadable_and_non_utf8_files(tmp_path: Path) -> None:
    latin1 = tmp_path / "latin1.ks"
    latin1.write_bytes("# caf\xe9\ntext\n".encode("latin-1"))
    with pytest.raises(BadInput, match="not UTF-8"):
        validate_kickstart_file(latin1)
    with pytest.raises(BadInput, match="cannot read"):
        validate_kickstart_file(tmp_path / "missing.ks")


def test_findings_are_sorted_by_line_across_checks() -> None:
    text = (KICKSTARTS / "bad-plaintext-rootpw.ks").read_text() + "frobnicate\n"
    report = validate_kickstart_text(text, "s.ks", shell=False)
    assert where(report.findings) == [("secrets", 6), ("secrets", 10), ("pykickstart", 15)]


def test_validate_many_keeps_reports_apart_even_with_the_same_source_name() -> None:
    good = GOOD.read_text()
    bad = (KICKSTARTS / "bad-post-syntax.ks").read_text()
    reports = validate_many([("same.ks", good), ("same.ks", bad), ("other.ks", good)])
    assert [r.ok for r in reports] == [True, False, True]
    assert where(reports[1].findings) == [("shellcheck", 16), ("bash", 18), ("shellcheck", 18)]
