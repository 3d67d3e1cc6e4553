"""The watch loop and the log tail, driven by real files that grow while it runs.

No VM: `FakeBoot` plays the VM's part (it appends to the console and installer files on a schedule and answers
the domain-state question) and owns the fake clock; one test uses a real writer thread and the real clock.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from builder.boot.report import VerifyJudge
from builder.boot.verdict import BootProgress, InstallJudge, LogLine, Verdict
from builder.boot.watch import DomainState, LogTail, watch_install
from builder.errors import BadInput

LOGS = Path(__file__).parent / "data" / "logs"


class FakeBoot:
    """A stand-in for the VM: scheduled appends to its log files, a domain state, and the clock they share."""

    def __init__(self, tmp_path: Path, *, stops_at: float | None = None, end_state: DomainState = "stopped-clean"):
        self.console = tmp_path / "console.log"
        self.installer = tmp_path / "installer.log"
        self.now = 0.0
        self.stops_at = stops_at
        self.end_state = end_state
        self.writes: list[tuple[float, Path, bytes]] = []

    def write(self, at: float, path: Path, data: bytes) -> None:
        self.writes.append((at, path, data))
        self.writes.sort(key=lambda write: write[0])
        self._apply()

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self._apply()

    def state(self) -> DomainState:
        return self.end_state if self.stops_at is not None and self.now >= self.stops_at else "running"

    @property
    def last_write(self) -> float:
        return self.writes[-1][0] if self.writes else 0.0

    def _apply(self) -> None:
        while self.writes and self.writes[0][0] <= self.now:
            _, path, data = self.writes.pop(0)
            with path.open("ab") as handle:
                handle.write(data)


def schedule(boot: FakeBoot, path: Path, text: bytes, *, lines_per_second: int, start: float = 0.0) -> float:
    """Append `text` to `path` a few lines per second of fake time; returns when the last line is written."""
    chunks = text.splitlines(keepends=True)
    at = start
    for first in range(0, len(chunks), lines_per_second):
        boot.write(at, path, b"".join(chunks[first : first + lines_per_second]))
        at += 1.0
    return at - 1.0


def watch(
    boot: FakeBoot,
    *,
    timeout: float = 10_000.0,
    idle_timeout: float = 300.0,
    on_progress: Callable[[BootProgress, float], None] | None = None,
    on_line: Callable[[LogLine], None] | None = None,
    stop_requested: Callable[[], bool] = lambda: False,
) -> Verdict:
    return watch_install(
        console=boot.console,
        installer=boot.installer,
        domain_state=boot.state,
        judge=InstallJudge(),
        timeout=timeout,
        idle_timeout=idle_timeout,
        on_progress=on_progress,
        on_line=on_line,
        clock=boot.clock,
        sleep=boot.sleep,
        stop_requested=stop_requested,
    )


# -- LogTail ---------------------------------------------------------------------------------------


def texts(tail: LogTail, *, final: bool = False) -> list[str]:
    return [line.text for line in tail.read_new(1.0, final=final)]


def test_a_log_that_does_not_exist_yet_reads_as_empty_until_it_does(tmp_path: Path) -> None:
    tail = LogTail(tmp_path / "console.log", "console")
    assert texts(tail) == []
    data = b"Starting installer, one moment...\r\n"
    (tmp_path / "console.log").write_bytes(data)
    assert texts(tail) == ["Starting installer, one moment..."]
    assert tail.bytes_read == len(data)


def test_a_partial_line_waits_for_its_newline_or_the_final_read(tmp_path: Path) -> None:
    path = tmp_path / "console.log"
    tail = LogTail(path, "console")
    path.write_bytes(b"Installing bash (3/")
    assert texts(tail) == []
    with path.open("ab") as handle:
        handle.write(b"10)\nSetting up the installation environment\n.")
    assert texts(tail) == ["Installing bash (3/10)", "Setting up the installation environment"]
    assert texts(tail, final=True) == ["."]
    assert tail.bytes_read == path.stat().st_size


def test_bad_utf8_is_replaced_and_a_character_split_across_reads_is_not(tmp_path: Path) -> None:
    path = tmp_path / "console.log"
    tail = LogTail(path, "console")
    path.write_bytes(b"caf\xc3")
    assert texts(tail) == []
    with path.open("ab") as handle:
        handle.write(b"\xa9\nbad \xff byte\n")
    assert texts(tail) == ["café", "bad \ufffd byte"]


def test_a_rotated_log_is_finished_before_the_new_one_is_read(tmp_path: Path) -> None:
    path = tmp_path / "installer.log"
    tail = LogTail(path, "installer")
    path.write_bytes(b"one\n")
    assert texts(tail) == ["one"]
    with path.open("ab") as handle:
        handle.write(b"two\nthr")  # written before virtlogd rotates, not yet read
    path.rename(tmp_path / "installer.log.0")
    path.write_bytes(b"ee\nfour\n")
    assert texts(tail) == ["two", "three", "four"]


def test_a_log_truncated_in_place_is_read_from_its_start(tmp_path: Path) -> None:
    path = tmp_path / "console.log"
    tail = LogTail(path, "console")
    path.write_bytes(b"first boot\nmore\n")
    assert texts(tail) == ["first boot", "more"]
    with path.open("r+b") as handle:
        handle.truncate(0)
        handle.write(b"second\n")
    assert texts(tail) == ["second"]


def test_an_unreadable_log_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "console.log").mkdir()
    with pytest.raises(BadInput, match="cannot read the VM's log"):
        LogTail(tmp_path / "console.log", "console").read_new(0.0)


# -- the loop --------------------------------------------------------------------------------------


def test_a_good_install_ends_with_its_clean_stop(tmp_path: Path) -> None:
    boot = FakeBoot(tmp_path)
    console_done = schedule(boot, boot.console, (LOGS / "install-ok.console.log").read_bytes(), lines_per_second=7)
    schedule(boot, boot.installer, (LOGS / "install-ok.installer.log").read_bytes(), lines_per_second=2)
    boot.stops_at = console_done + 2
    reports: list[tuple[BootProgress, float]] = []
    seen: list[LogLine] = []
    verdict = watch(boot, on_progress=lambda p, at: reports.append((p, at)), on_line=seen.append)
    assert verdict.ok
    assert boot.now == pytest.approx(boot.stops_at, abs=0.5)
    console_lines = len((LOGS / "install-ok.console.log").read_bytes().splitlines())
    installer_lines = len((LOGS / "install-ok.installer.log").read_bytes().splitlines())
    assert len([line for line in seen if line.source == "console"]) == console_lines
    assert len([line for line in seen if line.source == "installer"]) == installer_lines
    # BootProgress is reported as it changes, with the time it was seen: packages count up, stages move on.
    counts = [p.package[0] for p, _ in reports if p.package is not None]
    assert counts == sorted(counts) and counts[-1] == 144 and len(set(counts)) > 10
    assert [at for _, at in reports] == sorted(at for _, at in reports)
    assert reports[-1][0].stage == "Running post-installation scripts"
    assert all(a != b for a, b in itertools.pairwise(reports))


def test_a_failure_returns_while_the_vm_still_runs(tmp_path: Path) -> None:
    boot = FakeBoot(tmp_path)  # never stops: anaconda would sleep 180 s, then power off like a good install
    schedule(boot, boot.console, (LOGS / "post-failed.console.log").read_bytes(), lines_per_second=5)
    verdict = watch(boot)
    assert verdict.kind == "script-failed"
    # Returned at anaconda's fatal text: the power-off that would look like success was not even written yet.
    assert "The installer will now terminate." not in boot.console.read_text()
    assert "Power down." not in boot.console.read_text()


@pytest.mark.parametrize(("power_off", "kind"), [(True, "complete"), (False, "crashed")])
def test_a_vanished_domain_counts_as_clean_only_after_a_power_off_line(
    tmp_path: Path, power_off: bool, kind: str
) -> None:
    boot = FakeBoot(tmp_path, stops_at=5.0, end_state="gone")
    ending = b"Powering off.\r\n[ 1893.561322] reboot: Power down" if power_off else b"[  OK  ] Started Anaconda."
    # The last line has no newline: only the final read, after the stop was seen, returns it.
    boot.write(4.9, boot.console, b"KSBUILD-STATUS: install-complete profile=hv-lab\r\n" + ending)
    verdict = watch(boot)
    assert verdict.kind == kind


def test_a_crashed_domain_is_not_a_success_even_with_the_marker(tmp_path: Path) -> None:
    boot = FakeBoot(tmp_path, stops_at=3.0, end_state="stopped-crash")
    boot.write(1.0, boot.console, b"KSBUILD-STATUS: install-complete profile=hv-lab\r\nPowering off.\r\n")
    verdict = watch(boot)
    assert verdict.kind == "crashed"


def test_idle_means_no_new_bytes_in_either_log(tmp_path: Path) -> None:
    boot = FakeBoot(tmp_path)
    boot.write(0.0, boot.console, b"Installing bash (3/10)\n")
    for second in range(10, 101, 10):
        boot.write(float(second), boot.installer, b".")  # anaconda's progress pips: bytes without a newline
    verdict = watch(boot, idle_timeout=30.0)
    assert verdict.kind == "idle-timeout"
    assert verdict.cause == "no log output for 30 s (idle timeout)"
    assert boot.now == pytest.approx(130.0, abs=0.6)


def test_the_overall_timeout(tmp_path: Path) -> None:
    boot = FakeBoot(tmp_path)
    for second in range(200):
        boot.write(float(second), boot.console, f"Installing package-{second} ({second}/200)\n".encode())
    verdict = watch(boot, timeout=50.0, idle_timeout=30.0)
    assert verdict.kind == "timeout"
    assert boot.now == pytest.approx(50.0, abs=0.6)


def test_a_stop_request_interrupts(tmp_path: Path) -> None:
    boot = FakeBoot(tmp_path)
    boot.write(0.0, boot.console, b"Starting installer, one moment...\n")
    verdict = watch(boot, stop_requested=lambda: boot.now >= 5.0)
    assert verdict.kind == "interrupted"
    assert boot.now == pytest.approx(5.0, abs=0.6)


def test_the_verification_boot_uses_the_same_loop(tmp_path: Path) -> None:
    boot = FakeBoot(tmp_path)
    boot.stops_at = schedule(boot, boot.console, (LOGS / "verify.console.log").read_bytes(), lines_per_second=4) + 1
    judge = VerifyJudge(profile="hv-lab")
    stages: list[str | None] = []
    verdict = watch_install(
        console=boot.console,
        domain_state=boot.state,
        judge=judge,
        timeout=600.0,
        idle_timeout=120.0,
        on_progress=lambda progress, _: stages.append(progress.stage),
        clock=boot.clock,
        sleep=boot.sleep,
    )
    assert verdict.ok
    assert judge.report.complete
    assert len(judge.report.checks) == 15
    assert stages[0] == "Booting the installed system"
    assert stages[-1] == "Verification report received"


def test_watching_files_a_real_writer_is_appending_to(tmp_path: Path) -> None:
    console, installer = tmp_path / "console.log", tmp_path / "installer.log"
    done = threading.Event()
    lines = (LOGS / "install-ok.console.log").read_bytes().splitlines(keepends=True)

    def write_like_a_vm() -> None:
        with console.open("ab") as out, installer.open("ab") as log:
            for n, line in enumerate(lines):
                # Write lines in pieces, as a serial port does, so reads often end mid-line.
                out.write(line[:7])
                out.flush()
                out.write(line[7:])
                out.flush()
                if n % 25 == 0:
                    log.write(b"12:00:00,000 INFO anaconda: still here\n")
                    log.flush()
                    time.sleep(0.002)
        done.set()

    writer = threading.Thread(target=write_like_a_vm)
    writer.start()
    try:
        seen: list[LogLine] = []
        verdict = watch_install(
            console=console,
            installer=installer,
            domain_state=lambda: "stopped-clean" if done.is_set() else "running",
            judge=InstallJudge(),
            timeout=30.0,
            idle_timeout=10.0,
            on_line=seen.append,
            poll_interval=0.01,
        )
    finally:
        writer.join()
    assert verdict.ok, verdict.cause
    assert [line.text for line in seen if line.source == "console"] == [
        line.decode().removesuffix("\r\n") for line in lines
    ]
    assert os.path.getsize(console) == sum(len(line) for line in lines)
