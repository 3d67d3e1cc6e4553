"""The install contract end to end: a rendered kickstart's own scripts run (in the sandbox root of tests/sandbox.py)
and what they print is read back by the parsers the boot test uses. Both sides take the contract from
builder/contract.py; this proves they agree on the bytes, without a VM."""

from __future__ import annotations

from pathlib import Path

from builder.boot.report import VerifyJudge, parse_report
from builder.boot.verdict import InstallJudge, LogLine, Verdict
from builder.contract import VERIFY_SCRIPT
from builder.model.profile import InstallSource
from builder.pipeline import BootTestVariant, build
from builder.validate.kickstart import parse_kickstart
from tests.helpers import SHIPPED_PROFILES
from tests.sandbox import console, make_root, run_in_root, run_post_scripts, run_profile_posts

HYPERVISOR = SHIPPED_PROFILES / "kvm-hypervisor.yaml"


def judged(judge: InstallJudge | VerifyJudge, lines: list[str]) -> Verdict:
    """The verdict on a boot whose console showed `lines`, then stopped cleanly."""
    for line in [*lines, "reboot: Power down"]:
        verdict = judge.feed(LogLine("console", line, 0.0))
        if verdict is not None:
            return verdict
    return judge.stopped(clean=True)


def test_the_success_marker_a_kickstart_prints_is_the_one_the_install_judge_reads(tmp_path: Path) -> None:
    lines, runs = run_profile_posts(HYPERVISOR, make_root(tmp_path / "root", nic="enp2s0f0"))
    assert runs and {run.returncode for run in runs} == {0}, lines
    verdict = judged(InstallJudge(profile="kvm-hypervisor"), lines)
    assert verdict.ok and verdict.kind == "complete", verdict
    assert judged(InstallJudge(profile="another-profile"), lines).kind == "no-marker"


def test_a_failing_section_prints_what_the_install_judge_explains(tmp_path: Path) -> None:
    broken = 'scripts.post=[{name: agent, body: "echo fetching the agent\\necho no route >&2\\nexit 7"}]'
    lines, runs = run_profile_posts(HYPERVISOR, make_root(tmp_path / "root", nic="enp2s0f0"), (broken,))
    assert runs[-1].name == "agent" and runs[-1].returncode == 7
    verdict = judged(InstallJudge(profile="kvm-hypervisor"), lines)
    assert verdict.kind == "script-failed"
    assert verdict.failing_script == "agent"
    assert "'agent' failed (exit 7" in verdict.cause
    assert verdict.script_output == ("fetching the agent", "no route")


def test_the_verification_report_the_unit_prints_is_the_one_the_parser_reads(tmp_path: Path) -> None:
    result = build(HYPERVISOR, variant=BootTestVariant(InstallSource(cdrom=True)), shell=False)
    assert result.ok, result.errors
    root = make_root(tmp_path / "root", nic="enp2s0f0")
    parsed = parse_kickstart(result.kickstart.text, "ks.cfg")
    with console(root) as install_lines:
        runs = run_post_scripts(root, parsed.scripts)
    assert {run.returncode for run in runs} == {0}, install_lines
    # The installed system's first boot: the unit runs the script the kickstart wrote.
    with console(root) as lines:
        run_in_root(root, "/bin/bash", VERIFY_SCRIPT)
    report = parse_report(lines)
    assert report.complete and report.profile == "kvm-hypervisor", lines
    names = {check.name for check in report.checks}
    assert {"hostname", "selinux", "bridge:br0", "ifcfg:br0", "ifcfg:enp2s0f0", "installed-marker"} <= names
    statuses = {check.name: check.status for check in report.checks}
    # What the %post wrote is what the verification expects: the files match, the marker is there.
    assert statuses["ifcfg:br0"] == statuses["ifcfg:enp2s0f0"] == statuses["installed-marker"] == "pass"
    assert judged(VerifyJudge(profile="kvm-hypervisor"), lines).ok
