"""Watch a boot-test VM through the files its console and installer log are captured to.

The loop reads what the files gained, feeds the judge, reports progress, and ends on the first of: a failure
verdict (the caller then destroys the VM), the domain stopping (after one last read), no new bytes in either
file for `idle_timeout`, `timeout`, or the caller asking to stop. It knows nothing of libvirt: the domain's
state comes from a callable, and so do the clock and sleep, so tests drive it with files and a fake clock.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, Literal, Protocol

from builder.boot.verdict import BootProgress, LogLine, Source, Verdict
from builder.errors import BadInput

DomainState = Literal["running", "stopped-clean", "stopped-crash", "gone"]


class Judge(Protocol):
    """What the loop needs from a judge: verdict.InstallJudge and report.VerifyJudge both are one."""

    def feed(self, line: LogLine) -> Verdict | None: ...

    @property
    def progress(self) -> BootProgress: ...

    @property
    def saw_power_off(self) -> bool: ...

    def stopped(self, *, clean: bool) -> Verdict: ...

    def idle(self, seconds: float) -> Verdict: ...

    def timed_out(self, seconds: float) -> Verdict: ...

    def interrupted(self) -> Verdict: ...


class LogTail:
    """Reads what a growing file gained since the last call, as whole lines.

    A partial last line is held back until its newline arrives (or `final`); bytes that are not UTF-8 become
    U+FFFD; a file that does not exist yet reads as empty. The file stays open between calls, like `tail -F`:
    when the path comes to name a new file (virtlogd rotates logs past 2 MiB; libvirt recreates them), the
    rest of the old file is read first, then the new one from its start; one truncated in place is reread.
    """

    def __init__(self, path: Path, source: Source) -> None:
        self.path = path
        self.source: Source = source
        self.bytes_read = 0  # grows whenever the file did: the watcher's sign of life
        self._handle: BinaryIO | None = None
        self._inode: int | None = None
        self._partial = b""

    def read_new(self, now: float, *, final: bool = False) -> list[LogLine]:
        """New complete lines, stamped `now`; with `final`, also the partial line the file ends with."""
        data = self._read_growth()
        self.bytes_read += len(data)
        chunks = (self._partial + data).split(b"\n")
        self._partial = chunks.pop()
        if final and self._partial:
            chunks.append(self._partial)
            self._partial = b""
        return [LogLine(self.source, self._decode(chunk), now) for chunk in chunks]

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def _read_growth(self) -> bytes:
        try:
            data = self._handle.read() if self._handle is not None else b""
            try:
                status = os.stat(self.path)
            except FileNotFoundError:
                return data
            if self._handle is None or status.st_ino != self._inode:
                self.close()
                self._handle = self.path.open("rb")
                self._inode = os.fstat(self._handle.fileno()).st_ino
                return data + self._handle.read()
            if status.st_size < self._handle.tell():
                self._handle.seek(0)
                self._partial = b""
                return self._handle.read()
            return data
        except FileNotFoundError:
            return b""  # replaced between stat and open: the next call opens the new file
        except OSError as exc:
            raise BadInput(f"{self.path}: cannot read the VM's log: {exc.strerror}") from exc

    @staticmethod
    def _decode(chunk: bytes) -> str:
        return chunk.decode("utf-8", errors="replace").removesuffix("\r")


def watch_install(
    *,
    console: Path,
    installer: Path | None = None,
    domain_state: Callable[[], DomainState],
    judge: Judge,
    timeout: float,
    idle_timeout: float,
    on_progress: Callable[[BootProgress, float], None] | None = None,
    on_line: Callable[[LogLine], None] | None = None,
    poll_interval: float = 0.5,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    stop_requested: Callable[[], bool] = lambda: False,
) -> Verdict:
    """Watch a boot until the judge has a verdict; works for any Judge (install or verification boot).
    The verification boot has no installer log: `installer` stays None and only the console is read.

    A "gone" domain (a transient domain vanishes when it stops) counts as a clean stop only if the console
    showed a power-off or reboot; otherwise as a crash. `on_progress(progress, elapsed)` runs when the judge's
    progress changed since the last report (at most once per poll); `on_line` sees every line as read.
    """
    tails = [LogTail(console, "console")]
    if installer is not None:
        tails.append(LogTail(installer, "installer"))
    start = clock()
    last_growth = start
    reported: BootProgress | None = None
    try:
        while True:
            # The state is sampled before reading: a stop seen here comes after everything the read returns.
            state = domain_state()
            now = clock()
            elapsed = now - start
            before = sum(tail.bytes_read for tail in tails)
            for tail in tails:
                for line in tail.read_new(elapsed, final=state != "running"):
                    if on_line is not None:
                        on_line(line)
                    verdict = judge.feed(line)
                    if verdict is not None:
                        return verdict
            if sum(tail.bytes_read for tail in tails) != before:
                last_growth = now
            progress = judge.progress
            if on_progress is not None and progress != reported:
                on_progress(progress, elapsed)
                reported = progress
            if state != "running":
                clean = state == "stopped-clean" or (state == "gone" and judge.saw_power_off)
                return judge.stopped(clean=clean)
            if stop_requested():
                return judge.interrupted()
            if elapsed >= timeout:
                return judge.timed_out(timeout)
            if now - last_growth >= idle_timeout:
                return judge.idle(idle_timeout)
            sleep(poll_interval)
    finally:
        for tail in tails:
            tail.close()
