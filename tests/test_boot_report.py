"""The verification report: read out of a noisy serial console, adjusted for TCG, tabled, judged."""

from __future__ import annotations

from pathlib import Path

import pytest

from builder.boot.report import (
    CheckResult,
    VerifyJudge,
    VerifyReport,
    downgrade_for_tcg,
    format_table,
    parse_report,
)
from builder.boot.verdict import LogLine, Verdict

LOGS = Path(__file__).parent / "data" / "logs"


def console(name: str) -> list[str]:
    # Split at LF only: LogTail would drop each line's CR, this keeps it to show the parser copes anyway.
    return (LOGS / name).read_bytes().decode("utf-8").split("\n")


def report_of(*lines: str) -> VerifyReport:
    return parse_report(lines)


def test_the_report_is_read_out_of_a_noisy_console() -> None:
    report = parse_report(console("verify.console.log"))
    assert report.profile == "hv-lab"
    assert report.complete
    assert [check.name for check in report.checks] == [
        "cpu-virt",
        "kvm-module",
        "nested-param",
        "nested-config",
        "bridge:br0",
        "bridge-stp:br0",
        "bridge-port:br0:enp2s0f0",
        "ifcfg:br0",
        "selinux",
        "firewalld",
        "service:libvirtd",
        "package:qemu-kvm*",
        "libvirt-default-network",
        "hostname",
        "installed-marker",
    ]
    by_name = {check.name: check for check in report.checks}
    # A printk line landed in the middle of this one; the rest of it came on the next line.
    assert by_name["selinux"] == CheckResult("selinux", "pass", "Enforcing (targeted)")
    # The detail is the rest of the line, "|" included.
    assert by_name["ifcfg:br0"].detail == "TYPE=Bridge|BOOTPROTO=none|ONBOOT=yes"
    assert by_name["libvirt-default-network"].status == "skip"
    assert not any("\r" in check.detail or "\x1b" in check.detail for check in report.checks)
    assert not report.ok  # three hardware-virtualization checks fail under TCG


def test_under_tcg_only_the_hardware_virtualization_failures_become_info() -> None:
    report = report_of(
        "KSBUILD-VERIFY-BEGIN profile=hv",
        "KSBUILD-CHECK|cpu-virt|fail|no vmx or svm flag",
        "KSBUILD-CHECK|kvm-module|pass|kvm_intel loaded",
        "KSBUILD-CHECK|nested-param|fail|",
        "KSBUILD-CHECK|nested-config|fail|no /etc/modprobe.d/kvm-nested.conf",
        "KSBUILD-CHECK|selinux|fail|Permissive",
        "KSBUILD-VERIFY-END count=5",
    )
    downgraded = downgrade_for_tcg(report)
    assert [(check.name, check.status) for check in downgraded.checks] == [
        ("cpu-virt", "info"),
        ("kvm-module", "pass"),
        ("nested-param", "info"),
        ("nested-config", "fail"),  # a config file the kickstart writes: TCG is no excuse
        ("selinux", "fail"),
    ]
    assert downgraded.checks[0].detail == "no vmx or svm flag (no hardware virtualization under TCG)"
    assert downgraded.checks[2].detail == "(no hardware virtualization under TCG)"
    assert not downgraded.ok
    assert downgrade_for_tcg(parse_report(console("verify.console.log"))).ok


@pytest.mark.parametrize(
    ("lines", "complete", "ok"),
    [
        (
            ["KSBUILD-VERIFY-BEGIN profile=hv", "KSBUILD-CHECK|a|pass|", "KSBUILD-VERIFY-END count=1"],
            True,
            True,
        ),
        # The end line says two checks ran; one line was lost on the way.
        (
            ["KSBUILD-VERIFY-BEGIN profile=hv", "KSBUILD-CHECK|a|pass|", "KSBUILD-VERIFY-END count=2"],
            False,
            False,
        ),
        # No end line: the VM stopped (or the console broke) mid-report.
        (["KSBUILD-VERIFY-BEGIN profile=hv", "KSBUILD-CHECK|a|pass|"], False, False),
        (["KSBUILD-VERIFY-BEGIN profile=hv", "KSBUILD-CHECK|a|pass|", "KSBUILD-VERIFY-END"], False, False),
        ([], False, False),
    ],
)
def test_a_report_is_complete_only_when_the_end_line_counts_every_check(
    lines: list[str], complete: bool, ok: bool
) -> None:
    report = parse_report(lines)
    assert report.complete is complete
    assert report.ok is ok


def test_the_last_report_counts_and_lines_after_its_end_do_not() -> None:
    report = report_of(
        "KSBUILD-VERIFY-BEGIN profile=first",
        "KSBUILD-CHECK|a|fail|from a boot that was restarted",
        "KSBUILD-VERIFY-BEGIN profile=second",
        "KSBUILD-CHECK|a|pass|",
        "KSBUILD-VERIFY-END count=1",
        "KSBUILD-CHECK|stray|fail|printed after the end",
    )
    assert report.profile == "second"
    assert report.checks == (CheckResult("a", "pass", ""),)
    assert report.ok


def test_a_garbled_result_is_a_failure_not_a_pass() -> None:
    report = report_of(
        "KSBUILD-VERIFY-BEGIN profile=hv",
        "KSBUILD-CHECK|firewalld|p@ss|active",
        "KSBUILD-VERIFY-END count=1",
    )
    assert report.checks[0].status == "fail"
    assert "unreadable result 'p@ss'" in report.checks[0].detail
    assert not report.ok


def test_a_check_line_broken_before_its_last_field_is_rejoined() -> None:
    report = report_of(
        "\x1b[0mKSBUILD-VERIFY-BEGIN profile=hv\r",
        "KSBUILD-CHECK|hostname|pa",
        "ss|hv01.lab.example\r",
        "KSBUILD-CHECK|selinux|pass|Enf[   24.118734] random: crng init done",
        "orcing",
        "KSBUILD-VERIFY-END count=2\r",
    )
    assert report.checks == (
        CheckResult("hostname", "pass", "hv01.lab.example"),
        CheckResult("selinux", "pass", "Enforcing"),
    )
    assert report.complete


def test_the_table_is_aligned_and_summarised() -> None:
    report = downgrade_for_tcg(parse_report(console("verify.console.log")))
    table = format_table(report).splitlines()
    header, rows, summary = table[0], table[1:-1], table[-1]
    assert header.split() == ["CHECK", "RESULT", "DETAIL"]
    result_column = header.index("RESULT")
    detail_column = header.index("DETAIL")
    assert len(rows) == 15
    for row, check in zip(rows, report.checks, strict=True):
        assert row.startswith(check.name)
        assert row[result_column:].startswith(check.status)
        assert row[detail_column:] == check.detail
    assert summary == "15 checks: 11 pass, 1 skip, 3 info"
    assert format_table(report) == format_table(downgrade_for_tcg(parse_report(console("verify.console.log"))))


def test_the_table_says_when_the_report_is_incomplete() -> None:
    text = format_table(report_of("KSBUILD-VERIFY-BEGIN", "KSBUILD-CHECK|a|fail|x", "KSBUILD-VERIFY-END count=3"))
    assert text.splitlines()[-1] == "1 check: 1 fail (report incomplete: the end line says 3)"
    assert format_table(parse_report([])).splitlines()[-1] == "no checks received (report incomplete: no end line)"
    text = format_table(report_of("KSBUILD-CHECK|a|pass|", "KSBUILD-CHECK|b|pass|", "KSBUILD-VERIFY-END"))
    assert text.splitlines()[-1] == "2 checks: 2 pass (report incomplete: the end line has no count)"


# -- the verification boot's judge -----------------------------------------------------------------


def judge_boot(lines: list[str], judge: VerifyJudge | None = None) -> tuple[Verdict | None, VerifyJudge]:
    judge = judge or VerifyJudge()
    for n, text in enumerate(lines):
        verdict = judge.feed(LogLine("console", text, float(n)))
        if verdict is not None:
            return verdict, judge
    return None, judge


def test_a_complete_report_and_a_clean_stop_is_a_good_verification_boot() -> None:
    early, judge = judge_boot(console("verify.console.log"), VerifyJudge(profile="hv-lab"))
    assert early is None
    verdict = judge.stopped(clean=True)
    assert verdict.ok
    assert verdict.cause == "verification report received (15 checks)"
    assert judge.report.complete
    # The verdict is about the boot; whether the checks passed is the report's business.
    assert not judge.report.ok


def test_a_verification_boot_that_stops_mid_report_is_not_good() -> None:
    lines = console("verify.console.log")
    cut = next(n for n, text in enumerate(lines) if text.startswith("KSBUILD-CHECK|firewalld"))
    _, judge = judge_boot(lines[:cut])
    verdict = judge.stopped(clean=True)
    assert not verdict.ok
    assert verdict.cause == "the VM stopped before the verification report ended"


def test_a_report_that_lost_lines_is_not_a_good_verification_boot() -> None:
    lines = [text for text in console("verify.console.log") if "|hostname|" not in text]
    _, judge = judge_boot(lines)
    verdict = judge.stopped(clean=True)
    assert not verdict.ok
    assert verdict.cause == "the verification report is incomplete (14 of 15 checks)"


def test_no_report_at_all() -> None:
    _, judge = judge_boot(["[    0.000000] Linux version 3.10.0-1160.el7.x86_64", "[   31.882010] reboot: Power down"])
    assert judge.stopped(clean=True).cause == "the VM stopped without printing a verification report"
    assert "before the verification report began" in judge.idle(120).cause


def test_the_report_must_name_the_expected_profile() -> None:
    _, judge = judge_boot(console("verify.console.log"), VerifyJudge(profile="other"))
    assert not judge.stopped(clean=True).ok


def test_a_crash_after_the_report_is_not_a_good_boot() -> None:
    _, judge = judge_boot(console("verify.console.log"))
    assert judge.stopped(clean=False).kind == "crashed"


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("Entering emergency mode. Exit the shell to continue.", "boot-failed"),
        ("[    9.400118] dracut-initqueue[241]: Warning: /dev/root does not exist", "boot-failed"),
        (
            "[    3.106001] Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)",
            "kernel-panic",
        ),
    ],
)
def test_an_installed_system_that_does_not_boot_fails_at_once(text: str, kind: str) -> None:
    verdict, _ = judge_boot(["[    0.000000] Linux version 3.10.0-1160.el7.x86_64", text])
    assert verdict is not None
    assert verdict.kind == kind


def test_a_report_detail_mentioning_failure_words_is_not_boot_failure() -> None:
    lines = [
        "KSBUILD-VERIFY-BEGIN profile=hv",
        "KSBUILD-CHECK|service:libvirtd|fail|Kernel panic - not syncing; Entering emergency mode",
        "KSBUILD-VERIFY-END count=1",
        "[   31.882010] reboot: Power down",
    ]
    early, judge = judge_boot(lines)
    assert early is None
    assert judge.stopped(clean=True).ok
    assert not judge.report.ok


def test_idle_after_the_report_says_the_vm_did_not_power_off() -> None:
    _, judge = judge_boot(console("verify.console.log")[:-3])
    assert (
        judge.idle(120).cause == "no log output for 120 s (idle timeout) after the verification report "
        "(the VM did not power off)"
    )
