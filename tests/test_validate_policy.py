"""ksbuild's unattended-install policy on kickstarts parsed by the real pykickstart."""

from __future__ import annotations

from pathlib import Path

import pytest

from builder.errors import Finding
from builder.validate.kickstart import parse_kickstart
from builder.validate.pipeline import validate_kickstart_file
from builder.validate.policy import check_policy

KICKSTARTS = Path(__file__).parent / "data" / "kickstarts"
# `openssl passwd -6 -salt ksbuildTestSalt1 'correct horse battery staple'`
HASH = "$6$ksbuildTestSalt1$xlFXy0yCuaZSrpNhMSl5/suELx4eTPeO1fRWilewXSfQ0ENTyO4sMuJ4LmL5FpaR7pVmkHsbL9phTa6w2RWsW/"
BASE = {
    "mode": "text",
    "source": 'url --url="http://127.0.0.1:8080/centos/7/os/x86_64"',
    "rootpw": f"rootpw --iscrypted {HASH}",
    "ending": "reboot",
}


def policy(*extra: str, **replace: str) -> list[Finding]:
    """Policy findings for a kickstart made of the BASE lines (some replaced; "" drops one) and `extra`."""
    lines = [line for line in {**BASE, **replace}.values() if line]
    text = "\n".join([*lines, *extra]) + "\n"
    parsed = parse_kickstart(text, "p.ks")
    assert parsed.findings == (), parsed.findings
    return check_policy(parsed, "p.ks")


def lines_of(findings: list[Finding]) -> list[int | None]:
    return [f.location.line if f.location else None for f in findings]


def test_the_base_kickstart_passes() -> None:
    assert policy() == []


def test_fixtures_are_reported_at_the_offending_line() -> None:
    expected: dict[str, list[int | None]] = {
        "bad-plaintext-rootpw.ks": [6, 10],
        "bad-no-reboot.ks": [None],
        "bad-erroronfail-no-set-e.ks": [14],
        "bad-url-and-cdrom.ks": [10],
    }
    for name, lines in expected.items():
        report = validate_kickstart_file(KICKSTARTS / name)
        assert [f.check for f in report.findings] == ["policy"] * len(lines), name
        assert lines_of(list(report.findings)) == lines, name
        assert not report.ok


def test_plaintext_passwords_are_errors_and_never_repeated() -> None:
    report = validate_kickstart_file(KICKSTARTS / "bad-plaintext-rootpw.ks")
    assert ["plaintext" in f.message for f in report.findings] == [True, True]
    assert all("Secret123" not in f.format() for f in report.findings)


@pytest.mark.parametrize("ending", ["reboot", "poweroff", "shutdown", "reboot --eject"])
def test_endings_that_finish_an_unattended_install(ending: str) -> None:
    assert policy(ending=ending) == []


def test_halt_and_no_ending_are_errors() -> None:
    assert lines_of(policy(ending="halt")) == [4]
    [missing] = policy(ending="")
    assert missing.location is not None and missing.location.line is None
    assert "reboot or poweroff" in missing.message


@pytest.mark.parametrize("mode", ["text", "cmdline"])
def test_text_modes_pass(mode: str) -> None:
    assert policy(mode=mode) == []


def test_graphical_or_no_display_mode_is_an_error() -> None:
    assert lines_of(policy(mode="graphical")) == [1]
    assert lines_of(policy(mode="")) == [None]


def test_rootpw_rules() -> None:
    assert policy(rootpw="rootpw --lock") == []
    assert policy(rootpw=f"rootpw --iscrypted --lock {HASH}") == []
    assert lines_of(policy(rootpw="")) == [None]
    assert lines_of(policy(rootpw="rootpw --plaintext hunter2")) == [3]
    assert lines_of(policy(rootpw="rootpw hunter2")) == [3]
    [not_a_hash] = policy(rootpw="rootpw --iscrypted hunter2")
    assert "not a crypt(3) hash" in not_a_hash.message
    [md5] = policy(rootpw="rootpw --iscrypted $1$saltsalt$ZliGyAN3DciDHEkDboonh/")
    assert (md5.severity, lines_of([md5])) == ("warning", [3])


def test_user_passwords_must_be_crypted() -> None:
    assert policy("user --name=ops --groups=wheel") == []
    assert policy(f"user --name=ops --iscrypted --password={HASH}") == []
    assert lines_of(policy("user --name=ops --password=hunter2")) == [5]


def test_installation_source_rules() -> None:
    for source in ("cdrom", "nfs --server=192.0.2.5 --dir=/centos", "liveimg --url=http://127.0.0.1/img"):
        assert policy(source=source) == []
    assert lines_of(policy(source="")) == [None]
    [both] = policy("cdrom")  # url on line 2, cdrom on line 5
    assert lines_of([both]) == [5]
    assert "url (line 2)" in both.message


def erroronfail(body: str, interpreter: str = "/bin/bash") -> list[Finding]:
    return policy(f"%post --erroronfail --interpreter={interpreter}", body, "%end")


@pytest.mark.parametrize(
    "body",
    [
        "set -e\ntrue",
        "set -euo pipefail\ntrue",
        "set -eu\ntrue",
        "set -o errexit\ntrue",
        "# comment first\n\nset -xe\ntrue",
        "#!/bin/bash\nset -x\nset -e\ntrue",
    ],
)
def test_erroronfail_scripts_starting_with_set_e_pass(body: str) -> None:
    assert erroronfail(body) == []


@pytest.mark.parametrize(
    "body",
    ["true\nset -e", "set -u\ntrue", "set +e\ntrue", "set -o pipefail\ntrue", "echo set -e"],
)
def test_erroronfail_scripts_without_set_e_first_are_errors(body: str) -> None:
    [finding] = erroronfail(body)
    assert lines_of([finding]) == [5]  # the %post header
    assert "set -e" in finding.message


def test_set_e_is_not_asked_of_non_shell_scripts_or_scripts_without_erroronfail() -> None:
    assert erroronfail("import sys\nsys.exit(0)", "/usr/bin/python") == []
    assert policy("%post", "true", "%end") == []
