"""Render a fleet: a checked kickstart and boot entries per host, the shared PXE files, a manifest.

Incremental: the manifest records the sha256 of every input (inventory, profile files, templates), of every
output, and per host a digest of everything its outputs are made from (merged profile data, templates, boot
settings, ksbuild and pykickstart versions). When no input changed and every output is intact, nothing is
read beyond those files; otherwise only hosts whose digest changed (or whose files were touched) are
rendered again. Nothing is written unless every host passes every check.

Every host goes through the one pipeline (builder.pipeline) in worker processes (builder.fleet.worker: pykickstart
keeps its version state in class attributes, so threads could not share it), a batch per task: its merged
profile built, modelled, checked, rendered as a `FleetHostVariant` and validated. The workers are started
before the inventory is read, so they do not inherit it, and a batch is sent only when a worker is ready for
it: of each host the parent keeps its outcome (findings, the facts the fleet-wide checks need, its plan, its
files compressed), never its merged profile or model. The fleet-wide checks run here, on those facts.
"""

from __future__ import annotations

import functools
import multiprocessing
import os
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

from builder import __version__
from builder.errors import BadInput, ChecksFailed, Finding
from builder.fleet import pxe, state, syntax, tree
from builder.fleet.checks import FleetScope, fleet_checks
from builder.fleet.inventory import Inventory, load_inventory
from builder.fleet.inventory_model import PxeSettings
from builder.fleet.worker import FleetJob, HostOutcome, HostTask, run_batch
from builder.fsutil import atomic_write, is_dir, sha256_file
from builder.render.environment import make_environment, template_search_path
from builder.vocabulary import DEFAULT_ROOTS, Progress, Roots

_HOSTS_PER_TASK = 50
# A worker pool costs ~0.1 s to start: below this many hosts one process is faster.
_MIN_HOSTS_FOR_POOL = 8
_CHECK_TOKEN = "0" * 32  # a placeholder: `fleet check` writes nothing, so it issues no tokens


@dataclass(frozen=True)
class FleetOutcome:
    """What a render or a check did: findings of every host, which hosts were (re)rendered."""

    out_dir: Path | None
    hosts: tuple[str, ...]
    rendered: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    findings: tuple[Finding, ...] = ()
    up_to_date: bool = False  # nothing changed: no input was parsed, no file written
    notes: tuple[str, ...] = field(default=())

    def to_json(self) -> dict[str, object]:
        return {
            "output": str(self.out_dir) if self.out_dir is not None else None,
            "hosts": len(self.hosts),
            "rendered": list(self.rendered),
            "removed": list(self.removed),
            "up_to_date": self.up_to_date,
            "notes": list(self.notes),
            "findings": [f.to_json() for f in self.findings],
        }


# -- entry points -----------------------------------------------------------------------------------------


def check_fleet_inventory(
    inventory_path: Path, *, templates: Sequence[Path] = (), jobs: int | None = None, roots: Roots = DEFAULT_ROOTS,
    progress: Progress | None = None,
) -> FleetOutcome:
    """Every check `ksbuild validate` runs, on every host, plus the fleet-wide ones; writes nothing.

    Raises BadInput (the inventory or a host's profile cannot be read or modelled) or ChecksFailed.
    """
    with _Workers(jobs) as workers:
        inventory = load_inventory(inventory_path, roots=roots)
        # Checked with placeholder tokens: a check writes nothing, so it issues none.
        tokens = {source.hostname: _CHECK_TOKEN for source in inventory.host_sources}
        outcomes = workers.run(_job(inventory, templates, roots, None), _tasks(inventory, tokens, None), progress)
    findings = _checked(inventory, outcomes)
    _, notes = _shared_files(inventory, templates, outcomes, _planned_tftp_root(inventory, roots))
    return FleetOutcome(None, tuple(o.hostname for o in outcomes), findings=findings, notes=tuple(notes))


def render_fleet(
    inventory_path: Path,
    out_dir: Path,
    *,
    templates: Sequence[Path] = (),
    syslinux_dir: Path | None = None,
    boot_files: tuple[Path, Path] | None = None,
    jobs: int | None = None,
    roots: Roots = DEFAULT_ROOTS,
    progress: Progress | None = None,
    target_boot_files: Mapping[str, tuple[Path, Path]] | None = None,
) -> FleetOutcome:
    """Render the fleet into `out_dir`, rendering again only what changed; nothing is written on an error.

    `boot_files` are the installer's kernel and initrd, copied to the inventory's pxe.kernel and pxe.initrd
    in tftp/; `target_boot_files` the same per target, copied to that target's pxe.images entry. pxelinux.0 and
    ldlinux.c32 come from `syslinux_dir` or Debian's pxelinux and syslinux-common.
    """
    target_boot_files = dict(sorted((target_boot_files or {}).items()))
    syslinux = pxe.syslinux_sources(syslinux_dir)
    settings: dict[str, Any] = {
        "templates": [str(p.resolve()) for p in templates],
        "syslinux": {path: sha256_file(source) for path, source in sorted(syslinux.items())},
        "boot_files": [sha256_file(p) for p in boot_files] if boot_files is not None else None,
        **({"target_boot_files": {name: [sha256_file(p) for p in files] for name, files in target_boot_files.items()}}
           if target_boot_files else {}),
    }
    versions = _versions()
    previous = tree.read_manifest(out_dir)
    if previous is not None and tree.up_to_date(previous, versions, settings, out_dir, roots.workdir):
        return FleetOutcome(out_dir, tuple(previous["hosts"]), up_to_date=True)

    with _Workers(jobs) as workers:
        inventory = load_inventory(inventory_path, roots=roots)
        tokens = state.tokens_for(out_dir, [source.hostname for source in inventory.host_sources])
        old: Mapping[str, Any] = previous["hosts"] if previous is not None else {}
        outcomes = workers.run(_job(inventory, templates, roots, out_dir), _tasks(inventory, tokens, old),
                               progress)
    findings = _checked(inventory, outcomes)
    shared, notes = _shared_files(inventory, templates, outcomes, (out_dir / "tftp").resolve())
    copied = _copied_files(inventory, syslinux, boot_files, settings, target_boot_files)
    with state.lock(out_dir):
        removed = _write_tree(out_dir, outcomes, shared, previous, copied, settings, inventory, roots.workdir)
    records = [o.plan.record for o in outcomes if o.plan is not None]
    notes += _notes(out_dir, records, inventory.model.pxe)
    return FleetOutcome(out_dir, tuple(o.hostname for o in outcomes), tuple(o.hostname for o in outcomes
                                                                              if o.rendered),
                        tuple(removed), findings, notes=tuple(notes))


def _planned_tftp_root(inventory: Inventory, roots: Roots) -> Path:
    """A check has no tree: the dnsmasq snippet's tftp-root is where `ksbuild fleet render` with these roots
    puts it (<output>/<inventory name>/tftp; with no output root, the inventory's folder's output/)."""
    output = roots.output if roots.output is not None else inventory.path.parent / "output"
    if not output.is_absolute() and roots.workdir is not None:
        output = roots.workdir / output
    return output / inventory.path.stem / "tftp"


def _job(inventory: Inventory, templates: Sequence[Path], roots: Roots, out_dir: Path | None) -> FleetJob:
    versions = _versions()
    return FleetJob(FleetScope.of(inventory), _fleet_template_dirs(inventory, templates),
                    roots, out_dir, (versions.ksbuild, versions.pykickstart), syntax.available(syntax.GRUB_CHECKER))


def _shared_files(
    inventory: Inventory, templates: Sequence[Path], outcomes: Sequence[HostOutcome], tftp_root: Path
) -> tuple[dict[str, bytes], list[str]]:
    """The shared files (default entries, iPXE script, dnsmasq snippet), checked by the real checkers before
    anything is written (ChecksFailed when one refuses them), and notes for the checkers that are missing."""
    env = make_environment(template_search_path(_fleet_template_dirs(inventory, templates)))
    records = [o.plan.record for o in outcomes if o.plan is not None]
    shared = pxe.shared_files(env, inventory.model, inventory.display, records, tftp_root)
    notes = syntax.missing_checkers(grub=True, dnsmasq=True)
    findings = []
    if syntax.available(syntax.GRUB_CHECKER):
        findings += syntax.grub_problems([(pxe.GRUB_DEFAULT, "default", shared[pxe.GRUB_DEFAULT])])
    if syntax.available(syntax.DNSMASQ):
        findings += syntax.dnsmasq_problems(shared[pxe.DNSMASQ_CONF], pxe.DNSMASQ_CONF)
    if findings:
        raise ChecksFailed(f"{len(findings)} error(s) in the shared boot files; nothing written", findings)
    return shared, notes


def _tasks(inventory: Inventory, tokens: Mapping[str, str], old: Mapping[str, Any] | None) -> list[HostTask]:
    return [HostTask(source, tokens[source.hostname], (old or {}).get(source.hostname))
            for source in inventory.host_sources]


def _checked(inventory: Inventory, outcomes: Sequence[HostOutcome]) -> tuple[Finding, ...]:
    """Every host's findings and the fleet-wide ones; BadInput when a host could not be built or modelled (or
    the inventory names one that cannot be), ChecksFailed when any check found an error."""
    facts = [o.facts for o in outcomes if o.facts is not None]
    findings = (*inventory.problems, *(f for o in outcomes for f in o.findings), *fleet_checks(inventory, facts))
    if inventory.problems or any(o.unreadable for o in outcomes):
        errors = [f for f in findings if f.severity == "error"]
        raise BadInput(f"{len(errors)} error(s) in the inventory or the hosts' profiles; nothing written", findings)
    errors = [f for f in findings if f.severity == "error"]
    if errors:
        raise ChecksFailed(f"{len(errors)} error(s); nothing written", findings)
    return findings


class _Workers:
    """The worker processes of one render, started (forked) before the inventory is read, so they do not
    inherit it. Batches go out as workers take them: of each host the parent keeps only its outcome."""

    def __init__(self, jobs: int | None) -> None:
        self._count = max(1, jobs if jobs is not None else (os.cpu_count() or 1))
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> _Workers:
        if self._count > 1:
            # Imported before the pool forks, so every worker starts with pykickstart loaded.
            import builder.validate.pipeline  # noqa: F401

            self._pool = ProcessPoolExecutor(max_workers=self._count, mp_context=multiprocessing.get_context("fork"))
            # A fork-context pool starts all its workers at the first task: start them now, while this process
            # holds nothing the workers need not have.
            self._pool.submit(int).result()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)

    def run(self, job: FleetJob, tasks: Sequence[HostTask], progress: Progress | None) -> list[HostOutcome]:
        """Each task's outcome, in order: in the workers when there are enough hosts, in this process otherwise."""
        if self._pool is None or len(tasks) < _MIN_HOSTS_FOR_POOL:
            return run_batch(job, tasks)
        size = max(1, min(_HOSTS_PER_TASK, -(-len(tasks) // (self._count * 2))))
        batches = (tasks[start:start + size] for start in range(0, len(tasks), size))
        outcomes: list[HostOutcome] = []
        for done in self._in_turn(job, batches):
            outcomes.extend(done)
            if progress is not None:
                progress(f"built, rendered and validated {len(outcomes)}/{len(tasks)} host(s)")
        return outcomes

    def _in_turn(self, job: FleetJob, batches: Iterator[Sequence[HostTask]]) -> Iterator[list[HostOutcome]]:
        # At most two batches per worker in flight: the tasks (each with its host's source) are pickled as they
        # go, not all at once.
        assert self._pool is not None
        pending: deque[Future[list[HostOutcome]]] = deque()
        for batch in batches:
            pending.append(self._pool.submit(run_batch, job, batch))
            if len(pending) >= self._count * 2:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def _write_tree(
    out_dir: Path,
    outcomes: Sequence[HostOutcome],
    shared: Mapping[str, bytes],
    previous: Mapping[str, Any] | None,
    copied: Mapping[str, tuple[Path, str]],
    settings: Mapping[str, Any],
    inventory: Inventory,
    workdir: Path | None,
) -> list[str]:
    """Write everything (caller holds the state lock); the manifest last, once the rest is on disk."""
    writer = pxe.TreeWriter(out_dir)
    plans = [(o, o.plan) for o in outcomes if o.plan is not None]
    before = state.read(out_dir)
    states = state.with_tokens(before, {o.hostname: plan.record.token for o, plan in plans})
    if states != before or not state.is_private(out_dir):
        state.write(out_dir, states)
    old: Mapping[str, Any] = previous["hosts"] if previous is not None else {}
    hosts: dict[str, Any] = {}
    for outcome, plan in plans:
        hostname = outcome.hostname
        variant = state.variant_for(states, hostname)
        if outcome.rendered:
            text, entries = outcome.kickstart_and_entries()
            written = tree.write_host(writer, hostname, plan.record.token, text, entries)
            hosts[hostname] = {"input_sha256": plan.digest, "profile": plan.profile_name,
                               "boot": plan.record.to_json(), **written}
            pxe.serve_variant(out_dir, entries, variant, writer)
        else:
            hosts[hostname] = old[hostname]
            if not tree.served_as_recorded(out_dir, old[hostname], variant):
                pxe.serve_variant(out_dir, pxe.read_entries(out_dir, hostname), variant, writer)
    files = tree.write_shared(writer, shared, copied, previous)
    removed = tree.remove_stale(out_dir, previous, hosts, files, states)
    writer.finish()
    template_dirs = {folder for _, plan in plans for folder in template_search_path(plan.template_dirs)}
    manifest = tree.manifest(inventory=inventory.display, versions=_versions(), settings=settings,
                             sources=inventory.sources, template_dirs=sorted(template_dirs), hosts=hosts,
                             files=files, workdir=workdir)
    atomic_write(out_dir / pxe.MANIFEST_NAME, tree.manifest_bytes(manifest), 0o644)
    return removed


def _copied_files(
    inventory: Inventory, syslinux: Mapping[str, Path], boot_files: tuple[Path, Path] | None,
    settings: Mapping[str, Any], target_boot_files: Mapping[str, tuple[Path, Path]],
) -> dict[str, tuple[Path, str]]:
    """Tree path → (source, sha256) of the files copied in: pxelinux, and the installer kernel and initrd."""
    copied = {path: (source, settings["syslinux"][path]) for path, source in syslinux.items()}
    if boot_files is not None:
        tftp_paths = (inventory.model.pxe.kernel, inventory.model.pxe.initrd)
        for tftp_path, source, digest in zip(tftp_paths, boot_files, settings["boot_files"], strict=True):
            copied[f"tftp/{tftp_path}"] = (source, digest)
    for name, files in target_boot_files.items():
        images = inventory.model.pxe.images_for(name)
        if images is None:
            raise BadInput(f"--boot-files {name}=...: the inventory has no pxe.images entry for {name} (where its "
                           "kernel and initrd go)")
        for tftp_path, source, digest in zip((images.kernel, images.initrd), files,
                                             settings["target_boot_files"][name], strict=True):
            copied[f"tftp/{tftp_path}"] = (source, digest)
    return copied


def _notes(out_dir: Path, records: Sequence[pxe.BootRecord], settings: PxeSettings) -> list[str]:
    notes = []
    firmwares = {record.firmware for record in records}
    if "bios" in firmwares and not (out_dir / "tftp/pxelinux.0").is_file():
        notes.append("no pxelinux.0 copied (install Debian's pxelinux and syslinux-common, or give "
                     "--syslinux-dir): put pxelinux.0 and ldlinux.c32 into tftp/ yourself")
    if "uefi" in firmwares and not all((out_dir / "tftp" / path).is_file() for path in pxe.UEFI_LOADERS):
        notes.append(f"UEFI hosts load tftp/{pxe.UEFI_BOOT_FILE}, which loads tftp/{pxe.GRUB_DIR}/grubx64.efi: "
                     "copy shimx64.efi and grubx64.efi from CentOS 7's shim-x64 and grub2-efi-x64 packages")
    for path in dict.fromkeys(p for record in records for p in (record.kernel, record.initrd)):
        if not (out_dir / "tftp" / path).is_file():
            notes.append(f"tftp/{path} is missing: copy the installer's file there, or give --boot-files")
    return notes


# -- planning ---------------------------------------------------------------------------------------------


@functools.cache
def _versions() -> tree.Versions:
    return tree.Versions(ksbuild=__version__, pykickstart=version("pykickstart"))


def _fleet_template_dirs(inventory: Inventory, templates: Sequence[Path]) -> tuple[Path, ...]:
    folder = inventory.templates_dir
    if folder is not None and not is_dir(folder):
        raise BadInput(f"{inventory.display}: templates: folder {folder} does not exist")
    return (*templates, *((folder,) if folder is not None else ()))
