"""A boot test, start to end: media → kickstart → inject → install VM → watch → verdict → verify VM → export.

Everything it creates on the libvirt host is removed on every way out (success, failure, timeout, Ctrl-C,
SIGTERM); transient domains started with auto-destroy go even when ksbuild itself dies. What a person needs to
understand a failure stays in output/<profile>/runs/<run-id>/.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import secrets
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from builder.boot.domain import Accel, DomainSpec, DomainType, NetworkSpec, parse_network_option
from builder.boot.export import ExportedImage, export_image
from builder.boot.inject import inject_files
from builder.boot.libvirt_conn import RunResources, download_volume, is_remote, open_connection, pick_domain_type
from builder.boot.log_mirror import mirrored
from builder.boot.media import InstallMedia, check_release, default_cache_dir, resolve_media
from builder.boot.plan import install_target, installer_cmdline
from builder.boot.report import VerifyJudge, VerifyReport, downgrade_for_tcg
from builder.boot.tree_server import serve_tree
from builder.boot.verdict import BootProgress, InstallJudge, Verdict
from builder.boot.watch import DomainState, Judge, watch_install
from builder.errors import BadInput, ChecksFailed, Interrupted
from builder.fsutil import atomic_write, make_dirs
from builder.pipeline import BootTestVariant, BuildRequest, BuildResult, model, run, vm_disk_names
from builder.render.verify_plan import NicExpectation, verification_nics

RunPhase = Literal["preparing", "install", "verify", "export", "finished"]


@dataclass(frozen=True)
class BootOptions:
    """How to boot; where the run's files go is the request's `roots.output` (output/<profile>/runs/<id>/)."""

    location: str
    connect: str = "qemu:///system"
    network: str = "user"
    accel: Accel = "auto"
    memory_mib: int = 2048
    vcpus: int = 2
    disk_gib: float = 20.0
    timeout: float = 3600.0
    idle_timeout: float = 600.0
    verify: bool = True
    keep_disk: bool = True
    pool: str = "default"
    extra_args: tuple[str, ...] = ()
    cache_dir: Path = field(default_factory=default_cache_dir)


@dataclass(frozen=True)
class PhaseResult:
    name: str
    seconds: float
    verdict: Verdict


@dataclass(frozen=True)
class BootTestResult:
    profile: str
    run_id: str
    run_dir: Path
    domain_type: DomainType
    warnings: tuple[str, ...]
    phases: tuple[PhaseResult, ...]
    report: VerifyReport | None
    kept_disk: Path | None = None
    image: ExportedImage | None = None
    # The kickstart the VM installed (the boot-test variant of the profile), as built; None for `verify`.
    installed: BuildResult | None = field(default=None, compare=False)

    @property
    def ok(self) -> bool:
        return all(p.verdict.ok for p in self.phases) and (self.report is None or self.report.ok)

    @property
    def cause(self) -> str:
        for phase in self.phases:
            if not phase.verdict.ok:
                return f"{phase.name}: {phase.verdict.cause}"
        if self.report is not None and not self.report.ok:
            failed = [c.name for c in self.report.checks if c.status == "fail"]
            return "verification failed: " + (", ".join(failed) if failed else "incomplete report")
        return "passed"

    def to_json(self) -> dict[str, object]:
        return {
            "profile": self.profile, "run_id": self.run_id, "run_dir": str(self.run_dir), "ok": self.ok,
            "cause": self.cause, "domain_type": self.domain_type, "warnings": list(self.warnings),
            "phases": [
                {"name": p.name, "seconds": round(p.seconds, 1), "ok": p.verdict.ok, "kind": p.verdict.kind,
                 "cause": p.verdict.cause, "failing_script": p.verdict.failing_script,
                 "script_output": list(p.verdict.script_output), "last_lines": list(p.verdict.last_lines)}
                for p in self.phases
            ],
            "checks": [{"name": c.name, "status": c.status, "detail": c.detail}
                       for c in (self.report.checks if self.report else ())],
            "kept_disk": str(self.kept_disk) if self.kept_disk else None,
            "image": self.image.to_json() if self.image else None,
        }


class BootEvents:
    """What a boot test tells the person watching; the CLI subclasses it to print."""

    def message(self, text: str) -> None:
        """A one-off line: a step started, a warning."""

    def progress(self, phase: str, elapsed: float, progress: BootProgress) -> None:
        """The installer's current step changed."""


def new_run_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(2)


@contextmanager
def interruptible() -> Iterator[threading.Event]:
    """SIGINT and SIGTERM set an event instead of raising mid-cleanup. Handlers are installed explicitly:
    a process started in the background inherits SIGINT as ignored."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    for sig in previous:
        signal.signal(sig, lambda _signum, _frame: stop.set())
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _domain_state(conn: Any, uuid: str) -> DomainState:
    import libvirt

    try:
        domain = conn.lookupByUUIDString(uuid)
        state, reason = domain.state()
    except libvirt.libvirtError:
        return "gone"
    if state == libvirt.VIR_DOMAIN_SHUTOFF:
        return "stopped-clean" if reason == libvirt.VIR_DOMAIN_SHUTOFF_SHUTDOWN else "stopped-crash"
    if state == libvirt.VIR_DOMAIN_CRASHED:
        return "stopped-crash"
    return "running"


def prepare_boot_kickstart(
    request: BuildRequest,
    media: InstallMedia,
    tree_port: int | None,
    *,
    verify: bool = True,
    user_network: bool = False,
) -> tuple[BuildResult, str]:
    """The kickstart this boot test installs (the request's profile as its boot-test variant), fully validated,
    and the inst.repo value for it."""
    target = install_target(media, tree_port, user_network=user_network)
    result = run(dataclasses.replace(request, variant=BootTestVariant(target.source, verify)))
    if not result.ok:
        raise ChecksFailed(f"{result.name}: the kickstart for the boot test does not pass its checks", result.errors)
    return result, target.repo


def boot_test(
    request: BuildRequest,
    options: BootOptions,
    *,
    events: BootEvents | None = None,
    export: bool = False,
) -> BootTestResult:
    """Install the request's profile in a VM, judge the install from its logs, boot the result and verify it."""
    events = events or BootEvents()
    network = parse_network_option(options.network)
    media = resolve_media(options.location, options.cache_dir, progress=events.message)
    if media.kind == "tree" and (network is None or network.kind != "user"):
        raise BadInput(f"{options.location}: a local tree is served on 127.0.0.1 and reachable only with "
                       "--network user; or give its http:// URL")
    if media.kind == "tree" and is_remote(options.connect):
        raise BadInput(f"{options.location}: a local tree cannot be served to a remote libvirt host; "
                       "give an ISO or an http:// URL")
    run_id = new_run_id()
    with ExitStack() as stack:
        tree_port = stack.enter_context(serve_tree(media.tree)) if media.kind == "tree" and media.tree else None
        result, repo = prepare_boot_kickstart(request, media, tree_port, verify=options.verify,
                                              user_network=network is not None and network.kind == "user"
                                              and not is_remote(options.connect))
        check_release(media, result.profile.target, options.location, "the profile's target",
                      ", or --set target= to match")
        output = request.roots.output_dir(result.name)
        run_dir = (output / "runs" / run_id).resolve()
        make_dirs(run_dir)
        atomic_write(run_dir / "ks.cfg", result.kickstart.text.encode(), 0o600)
        write_status(run_dir, run_id, result.name, "preparing")
        events.message(f"run {run_id}: diagnostics in {run_dir}")
        stop = stack.enter_context(interruptible())
        conn = open_connection(options.connect)
        stack.callback(conn.close)
        domain_type, warning = pick_domain_type(conn, options.accel)
        warnings = (warning,) if warning else ()
        if warning:
            events.message(f"warning: {warning}")
        resources = stack.enter_context(
            RunResources(conn, run_id=run_id, profile=result.name, run_dir=run_dir, pool=options.pool,
                         progress=events.message)
        )
        session = _Session(options, events, resources, conn, domain_type, network, run_id, result.name, stop,
                           verification_nics(result.profile))
        phases, report = session.run(media, repo, result.kickstart.text, len(result.profile.storage.disks))
        outcome = BootTestResult(result.name, run_id, run_dir, domain_type, warnings, tuple(phases), report)
        kept = None
        if not outcome.ok and options.keep_disk and resources.disk_volume() is not None:
            kept = resources.keep_disk(run_dir)
        image = None
        if export and outcome.ok:
            write_status(run_dir, run_id, result.name, "export")
            events.message("exporting the golden image (qemu-img convert -c)")
            image = _export(resources, output / f"{result.name}.qcow2")
        outcome = BootTestResult(result.name, run_id, run_dir, domain_type, warnings, tuple(phases), report,
                                 kept, image, result)
        atomic_write(run_dir / "result.json", _json_bytes(outcome.to_json()))
        write_status(run_dir, run_id, result.name, "finished")
        if stop.is_set():
            raise Interrupted(f"interrupted; VM and volumes removed; logs in {run_dir}")
    return outcome


def verify_disk(
    request: BuildRequest,
    disk: Path,
    options: BootOptions,
    *,
    events: BootEvents | None = None,
) -> BootTestResult:
    """Boot a disk installed by an earlier boot test (with --no-verify, or one kept after a failure) and run its
    verification unit. The disk is copied into the pool first: the original is never changed."""
    events = events or BootEvents()
    if not disk.is_file():
        raise BadInput(f"{disk}: no such disk image")
    modelled = model(request)  # the profile must load; its verification unit is on the disk already
    name = modelled.name
    run_id = new_run_id()
    run_dir = (request.roots.output_dir(name) / "runs" / run_id).resolve()
    with ExitStack() as stack:
        stop = stack.enter_context(interruptible())
        conn = open_connection(options.connect)
        stack.callback(conn.close)
        domain_type, warning = pick_domain_type(conn, options.accel)
        resources = stack.enter_context(RunResources(conn, run_id=run_id, profile=name,
                                                     run_dir=run_dir, pool=options.pool, progress=events.message))
        resources.adopt_disk(disk)
        network = parse_network_option(options.network)
        session = _Session(options, events, resources, conn, domain_type, network, run_id, name, stop,
                           verification_nics(modelled.profile))
        phase, report = session.verify()
        outcome = BootTestResult(name, run_id, run_dir, domain_type,
                                 (warning,) if warning else (), (phase,), report)
        atomic_write(run_dir / "result.json", _json_bytes(outcome.to_json()))
        write_status(run_dir, run_id, name, "finished")
        if stop.is_set():
            raise Interrupted(f"interrupted; VM and volumes removed; logs in {run_dir}")
    return outcome


def _export(resources: RunResources, dest: Path) -> ExportedImage:
    """Export the run's disk; from a remote host it is downloaded through the storage API first."""
    volume = resources.disk_volume()
    if not resources.remote:
        return export_image(Path(volume.path()), dest)
    local = resources.run_dir / "disk-download.qcow2"
    try:
        download_volume(resources.conn, volume, local)
        return export_image(local, dest)
    finally:
        local.unlink(missing_ok=True)


def _json_bytes(data: dict[str, object]) -> bytes:
    return (json.dumps(data, indent=2, sort_keys=True) + "\n").encode()


STATUS_NAME = "status.json"


def write_status(run_dir: Path, run_id: str, profile: str, phase: RunPhase, vm: str | None = None) -> None:
    """Where the run is now, in runs/<id>/status.json, replaced atomically at each step: what a person (or a
    script) in another terminal reads to see whether an install VM is running, the verification boot, the
    export, or whether the run has finished (result.json then holds the outcome)."""
    status: dict[str, object] = {"run_id": run_id, "profile": profile, "phase": phase, "vm": vm, "pid": os.getpid()}
    atomic_write(run_dir / STATUS_NAME, _json_bytes(status))


@dataclass
class _Session:
    options: BootOptions
    events: BootEvents
    resources: RunResources
    conn: Any
    domain_type: DomainType
    network: NetworkSpec | None
    run_id: str
    profile: str
    stop: threading.Event
    # The NICs the profile names: the verification VM gets exactly these, named by the kickstart's udev rules
    # (contract.TEST_NIC_RULES).
    host_nics: tuple[NicExpectation, ...] = ()

    def run(self, media: InstallMedia, repo: str, kickstart: str, disk_count: int
            ) -> tuple[list[PhaseResult], VerifyReport | None]:
        phases = [self.install(media, repo, kickstart, disk_count)]
        if not phases[0].verdict.ok or not self.options.verify or self.stop.is_set():
            return phases, None
        verify_phase, report = self.verify()
        phases.append(verify_phase)
        return phases, report

    def _spec(self, phase: str, **fields: Any) -> DomainSpec:
        fields.setdefault("network", self.network)
        return DomainSpec(
            name=f"ksbuild-{self.profile}-{self.run_id}-{phase}", run_id=self.run_id, profile=self.profile,
            domain_type=self.domain_type, memory_mib=self.options.memory_mib, vcpus=self.options.vcpus,
            guest_virt=self.domain_type == "qemu", **fields,
        )

    def install(self, media: InstallMedia, repo: str, kickstart: str, disk_count: int) -> PhaseResult:
        run_dir = self.resources.run_dir
        initrd = run_dir / "initrd-with-ks.img"
        inject_files(media.initrd, initrd, {"ks.cfg": kickstart.encode()}, mode=0o600)
        try:
            kernel_path = self.resources.stage_file(media.kernel, "vmlinuz")
            initrd_path = self.resources.stage_file(initrd, "initrd.img")
        finally:
            initrd.unlink(missing_ok=True)  # it holds the kickstart's password hashes
        disk = self.resources.create_disk(self.options.disk_gib)
        extra = tuple(self.resources.create_extra_disk(n, self.options.disk_gib)
                      for n in range(1, len(vm_disk_names(disk_count))))
        spec = self._spec(
            "install", disk_path=disk, extra_disk_paths=extra, kernel=kernel_path, initrd=initrd_path,
            cmdline=installer_cmdline(repo, self.options.extra_args),
            cdrom=self.resources.stage_iso(media.iso) if media.iso else None,
            console_log=self.resources.log_path("console"), installer_log=self.resources.log_path("installer"),
            on_reboot="destroy",
        )
        return self._phase("install", spec, InstallJudge(profile=self.profile), installer=run_dir / "installer.log")

    def verify(self) -> tuple[PhaseResult, VerifyReport]:
        volume = self.resources.disk_volume()
        # The host's own NICs, and only those: user-mode links, so no address the profile gives them leaves this
        # machine (qemu answers ARP and DHCP for 10.0.2.0/24 alone and forwards only connections the guest opens).
        nics = tuple(NetworkSpec("user", None, nic.mac) for nic in self.host_nics)
        if nics:
            names = ", ".join(f"{nic.name} ({nic.mac})" for nic in self.host_nics)
            self.events.message(f"verify: the VM gets the profile's NICs on user-mode links: {names}")
        spec = self._spec("verify", disk_path=str(volume.path()), kernel=None, initrd=None, cmdline=None,
                          cdrom=None, console_log=self.resources.log_path("verify-console"), installer_log=None,
                          on_reboot="destroy", network=None if nics else self.network, nics=nics)
        judge = VerifyJudge(profile=self.profile)
        phase = self._phase("verify", spec, judge, installer=None)
        report = judge.report
        if self.domain_type == "qemu":
            report = downgrade_for_tcg(report)
        return phase, report

    def _phase(self, name: RunPhase, spec: DomainSpec, judge: Judge, installer: Path | None) -> PhaseResult:
        atomic_write(self.resources.run_dir / f"{name}-domain.xml", spec.to_xml().encode())
        self.events.message(f"{name}: starting VM {spec.name} ({spec.domain_type})")
        started = time.monotonic()
        domain = self.resources.start(spec)
        write_status(self.resources.run_dir, self.run_id, self.profile, name, spec.name)
        uuid = domain.UUIDString()
        console_role = "console" if name == "install" else "verify-console"
        roles = [console_role] + (["installer"] if installer is not None else [])
        # On a remote host the logs are volumes there: mirror them into the local files the watcher reads.
        remote_logs = {self.resources.run_dir / f"{role}.log": self.resources.remote_log_volume(role)
                       for role in roles if self.resources.remote_log_volume(role) is not None}
        with mirrored(self.conn, remote_logs) if remote_logs else contextlib.nullcontext():
            verdict = self._watch(name, console_role, uuid, judge, installer)
        self.resources.destroy(spec.name)  # an early failure verdict leaves the VM running: stop it now
        seconds = time.monotonic() - started
        self.events.message(f"{name}: {'ok' if verdict.ok else 'FAILED'} after {seconds:.0f} s: {verdict.cause}")
        return PhaseResult(name, seconds, verdict)

    def _watch(self, name: str, console_role: str, uuid: str, judge: Judge, installer: Path | None) -> Verdict:
        return watch_install(
            console=self.resources.run_dir / f"{console_role}.log",
            domain_state=lambda: _domain_state(self.conn, uuid), judge=judge,
            timeout=self.options.timeout, idle_timeout=self.options.idle_timeout,
            on_progress=lambda progress, elapsed: self.events.progress(name, elapsed, progress),
            stop_requested=self.stop.is_set, installer=installer,
        )

