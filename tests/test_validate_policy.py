"""ksbuild's unattended-install policy (KS5xx) and secret rules (KS3xx) on kickstarts parsed by the real pykickstart,
as a rendered kickstart gets them (every finding an error)."""

from __future__ import annotations

from pathlib import Path

import pytest

from builder.errors import Finding
from builder.validate.kickstart import parse_kickstart
from builder.validate.pipeline import validate_kickstart_file, validate_kickstart_text

KICKSTARTS = Path(__file__).parent / "data" / "kickstarts"
# `openssl passwd -6 -salt ksbuildTestSalt1 'correct horse battery staple'`
HASH = "$6$ksbuildTestSalt1$xlFXy0yCuaZSrpNhMSl5/suELx4eTPeO1fRWilewXSfQ0ENTyO4sMuJ4LmL5FpaR7pVmkHsbL9phTa6w2RWsW/"
BASE = {
    "mode": "text",
    "source": 'url --url="http://127.0.0.1:8080/centos/7/os/x86_64"',
    "rootpw": f"rootpw --iscrypted {HASH}",
    "ending": "reboot",
    "storage": "autopart",
}


def policy(*extra: str, **replace: str) -> list[Finding]:
    """Policy findings for a kickstart made of the BASE lines (some replaced; "" drops one) and `extra`."""
    lines = [line for line in {**BASE, **replace}.values() if line]
    text = "\n".join([*lines, *extra]) + "\n"
    assert parse_kickstart(text, "p.ks").findings == ()
    return list(validate_kickstart_text(text, "p.ks", shell=False, mode="rendered").findings)


def lines_of(findings: list[Finding]) -> list[int | None]:
    return [f.location.line if f.location else None for f in findings]


def test_the_base_kickstart_passes() -> None:
    assert policy() == []


def test_fixtures_are_reported_at_the_offending_line() -> None:
    expected: dict[str, list[tuple[str, int | None]]] = {
        "bad-plaintext-rootpw.ks": [("KS301", 6), ("KS302", 10)],
        "bad-no-reboot.ks": [("KS501", None)],
        "bad-erroronfail-no-set-e.ks": [("KS404", 14)],
        "bad-url-and-cdrom.ks": [("KS505", 10)],
    }
    for name, found in expected.items():
        report = validate_kickstart_file(KICKSTARTS / name, mode="rendered")
        assert [(f.rule, f.location.line if f.location else None) for f in report.findings] == found, name
        assert not report.ok
        # Written by hand, only the plaintext passwords break the install (or leak): the rest are warnings.
        hand = validate_kickstart_file(KICKSTARTS / name)
        assert hand.ok is (name != "bad-plaintext-rootpw.ks"), name


def test_plaintext_passwords_are_errors_and_never_repeated() -> None:
    report = validate_kickstart_file(KICKSTARTS / "bad-plaintext-rootpw.ks")
    assert ["plaintext" in f.message for f in report.findings] == [True, True]
    assert all("Secret123" not in f.format() for f in report.findings)


@pytest.mark.parametrize("ending", ["reboot", "poweroff", "shutdown", "reboot --eject"])
def test_endings_that_finish_an_unattended_install(ending: str) -> None:
    assert policy(ending=ending) == []


def test_halt_and_no_ending_are_errors() -> None:
    assert lines_of(policy(ending="halt")) == [4]
    assert policy(ending="halt")[0].rule == "KS501"
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
    assert lines_of(policy("user --name=ops --password=hunter2")) == [6]


def test_installation_source_rules() -> None:
    for source in ("cdrom", "nfs --server=192.0.2.5 --dir=/centos", "liveimg --url=http://127.0.0.1/img"):
        assert policy(source=source) == []
    assert lines_of(policy(source="")) == [None]
    [both] = policy("cdrom")  # url on line 2, cdrom on line 6
    assert lines_of([both]) == [6]
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
    ["true\nset -e", "set -u\ntrue", "set +e\ntrue", "set -o pipefail\ntrue", "echo set -e\ntrue"],
)
def test_erroronfail_scripts_without_set_e_first_are_errors(body: str) -> None:
    [finding] = erroronfail(body)
    assert lines_of([finding]) == [6]  # the %post header
    assert "set -e" in finding.message


def test_set_e_is_not_asked_of_non_shell_scripts_or_scripts_without_erroronfail() -> None:
    assert erroronfail("import sys\nsys.exit(0)", "/usr/bin/python") == []
    assert policy("%post", "true", "%end") == []
