"""Render a fleet: a checked kickstart and boot entries per host, the shared PXE files, a manifest.

Incremental: the manifest records the sha256 of every input (inventory, profile files, templates), of every
output, and per host a digest of everything its outputs are made from (merged profile data, templates, boot
settings, ksbuild and pykickstart versions). When no input changed and every output is intact, nothing is
read beyond those files; otherwise only hosts whose digest changed (or whose files were touched) are
rendered again. Nothing is written unless every host passes every check.

Every host goes through the one pipeline (builder.pipeline): its merged profile is modelled and checked here,
then rendered as a `FleetHostVariant` and validated in worker processes (pykickstart keeps its version state in
class attributes, so threads could not share it), a batch per task: one shellcheck run per batch, and scripts
that differ from host to host only in here-document data (the ifcfg files, the callback URL) checked once for
the whole fleet.
"""

from __future__ import annotations

import functools
import hashlib
import json
import multiprocessing
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from importlib.metadata import version
from pathlib import Path
from typing import Any

from builder import __version__
from builder.errors import BadInput, ChecksFailed, Finding
from builder.fleet import pxe, state, tree
from builder.fleet.checks import FleetModel, ModelledHost, model_fleet
from builder.fleet.inventory import Inventory, PxeSettings, for_host, load_inventory
from builder.fsutil import atomic_write, is_dir, sha256_file
from builder.pipeline import BuildRequest, FleetHostVariant, Modelled, template_dirs
from builder.render.environment import effective_templates, make_environment, template_search_path
from builder.render.target_plan import install_tree
from builder.vocabulary import DEFAULT_ROOTS, Progress, Roots

_HOSTS_PER_TASK = 50
# A worker pool costs ~0.1 s to start: below this many hosts one process is faster.
_MIN_HOSTS_FOR_POOL = 8
_CHECK_TOKEN = "0" * 32  # a placeholder: `fleet check` writes nothing, so it issues no tokens


@dataclass(frozen=True)
class HostPlan:
    """One host's inputs for rendering, with the digest that decides whether it is rendered again."""

    modelled: ModelledHost
    record: pxe.BootRecord
    template_dirs: tuple[Path, ...]  # for the kickstart: --templates, the inventory's, the profile's
    callback_url: str | None
    digest: str

    @property
    def hostname(self) -> str:
        return self.modelled.hostname


@dataclass(frozen=True)
class RenderedHost:
    hostname: str
    text: str | None  # None when the templates could not be rendered (findings say why)
    entries: dict[str, dict[pxe.Variant, bytes]]
    findings: tuple[Finding, ...]


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
    inventory = load_inventory(inventory_path, roots=roots)
    fleet = _checked_model(inventory, roots)
    # Checked with placeholder tokens: a check writes nothing, so it issues none.
    placeholders = {host.hostname: _CHECK_TOKEN for host in fleet.hosts}
    plans = _plans(fleet.hosts, inventory, templates, roots, placeholders)
    rendered = render_hosts(plans, inventory, templates, jobs=jobs, roots=roots, progress=progress)
    findings = (*fleet.findings, *(f for host in rendered for f in host.findings))
    _raise_on_errors(findings)
    return FleetOutcome(None, tuple(p.hostname for p in plans), findings=findings)


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

    inventory = load_inventory(inventory_path, roots=roots)
    fleet = _checked_model(inventory, roots)
    tokens = state.tokens_for(out_dir, [host.hostname for host in fleet.hosts])
    plans = _plans(fleet.hosts, inventory, templates, roots, tokens)
    old: dict[str, Any] = previous["hosts"] if previous is not None else {}
    stale = [p for p in plans
             if not tree.host_intact(out_dir, p.hostname, old.get(p.hostname), p.digest, p.record.token)]
    if progress is not None:
        progress(f"{len(plans)} host(s): {len(stale)} to render, {len(plans) - len(stale)} unchanged")
    rendered = render_hosts(stale, inventory, templates, jobs=jobs, roots=roots, progress=progress)
    findings = (*fleet.findings, *(f for host in rendered for f in host.findings))
    _raise_on_errors(findings)

    copied = _copied_files(inventory, syslinux, boot_files, settings, target_boot_files)
    with state.lock(out_dir):
        removed = _write_tree(out_dir, inventory, templates, plans, rendered, previous, copied, settings,
                              roots.workdir)
    return FleetOutcome(out_dir, tuple(p.hostname for p in plans), tuple(h.hostname for h in rendered),
                        tuple(removed), findings, notes=tuple(_notes(out_dir, plans, inventory.model.pxe)))


def _write_tree(
    out_dir: Path,
    inventory: Inventory,
    templates: Sequence[Path],
    plans: Sequence[HostPlan],
    rendered: Sequence[RenderedHost],
    previous: Mapping[str, Any] | None,
    copied: Mapping[str, tuple[Path, str]],
    settings: Mapping[str, Any],
    workdir: Path | None,
) -> list[str]:
    """Write everything (caller holds the state lock); the manifest last, once the rest is on disk."""
    writer = pxe.TreeWriter(out_dir)
    before = state.read(out_dir)
    states = state.with_tokens(before, {plan.hostname: plan.record.token for plan in plans})
    if states != before or not state.is_private(out_dir):
        state.write(out_dir, states)
    fresh = {host.hostname: host for host in rendered}
    old: Mapping[str, Any] = previous["hosts"] if previous is not None else {}
    hosts: dict[str, Any] = {}
    for plan in plans:
        variant = state.variant_for(states, plan.hostname)
        host = fresh.get(plan.hostname)
        if host is not None:
            written = tree.write_host(writer, plan.hostname, plan.record.token, host.text or "", host.entries)
            hosts[plan.hostname] = {"input_sha256": plan.digest, "profile": plan.modelled.host.profile.name,
                                    "boot": plan.record.to_json(), **written}
            pxe.serve_variant(out_dir, host.entries, variant, writer)
        else:
            hosts[plan.hostname] = old[plan.hostname]
            if not tree.served_as_recorded(out_dir, old[plan.hostname], variant):
                pxe.serve_variant(out_dir, pxe.read_entries(out_dir, plan.hostname), variant, writer)
    env = make_environment(template_search_path(_fleet_template_dirs(inventory, templates)))
    shared = pxe.shared_files(env, inventory.model, inventory.display, [p.record for p in plans],
                              (out_dir / "tftp").resolve())
    files = tree.write_shared(writer, shared, copied, previous)
    removed = tree.remove_stale(out_dir, previous, hosts, files, states)
    writer.finish()
    template_dirs = {folder for plan in plans for folder in template_search_path(plan.template_dirs)}
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


def _notes(out_dir: Path, plans: Sequence[HostPlan], settings: PxeSettings) -> list[str]:
    notes = []
    firmwares = {p.record.firmware for p in plans}
    if "bios" in firmwares and not (out_dir / "tftp/pxelinux.0").is_file():
        notes.append("no pxelinux.0 copied (install Debian's pxelinux and syslinux-common, or give "
                     "--syslinux-dir): put pxelinux.0 and ldlinux.c32 into tftp/ yourself")
    if "uefi" in firmwares and not all((out_dir / "tftp" / path).is_file() for path in pxe.UEFI_LOADERS):
        notes.append(f"UEFI hosts load tftp/{pxe.UEFI_BOOT_FILE}, which loads tftp/{pxe.GRUB_DIR}/grubx64.efi: "
                     "copy shimx64.efi and grubx64.efi from CentOS 7's shim-x64 and grub2-efi-x64 packages")
    for path in dict.fromkeys(p for plan in plans for p in (plan.record.kernel, plan.record.initrd)):
        if not (out_dir / "tftp" / path).is_file():
            notes.append(f"tftp/{path} is missing: copy the installer's file there, or give --boot-files")
    return notes


# -- planning ---------------------------------------------------------------------------------------------


@functools.cache
def _versions() -> tree.Versions:
    return tree.Versions(ksbuild=__version__, pykickstart=version("pykickstart"))


def _checked_model(inventory: Inventory, roots: Roots) -> FleetModel:
    fleet = model_fleet(inventory, roots)
    if fleet.unreadable:
        raise BadInput(f"{len(fleet.errors)} error(s) in the hosts' profiles; nothing written", fleet.findings)
    return fleet


def _raise_on_errors(findings: Sequence[Finding]) -> None:
    errors = [f for f in findings if f.severity == "error"]
    if errors:
        raise ChecksFailed(f"{len(errors)} error(s); nothing written", findings)


def _fleet_template_dirs(inventory: Inventory, templates: Sequence[Path]) -> tuple[Path, ...]:
    folder = inventory.templates_dir
    if folder is not None and not is_dir(folder):
        raise BadInput(f"{inventory.display}: templates: folder {folder} does not exist")
    return (*templates, *((folder,) if folder is not None else ()))


def _plan(
    modelled: ModelledHost, inventory: Inventory, templates: Sequence[Path], roots: Roots, token: str,
    digests: dict[tuple[Path, ...], dict[str, str]],
) -> HostPlan:
    host, settings = modelled.host, inventory.model.pxe
    dirs = template_dirs(modelled.modelled, _fleet_template_dirs(inventory, templates), roots)
    images = settings.images_for(modelled.profile.target)
    record = pxe.BootRecord(
        hostname=host.hostname,
        macs=host.macs,
        firmware=host.firmware,
        repo=(images.repo if images is not None else None) or settings.repo or install_tree(modelled.profile).url
        or "",
        address=modelled.install_address,
        gateway=modelled.install_gateway,
        token=token,
        kernel=images.kernel if images is not None else settings.kernel,
        initrd=images.initrd if images is not None else settings.initrd,
    )
    callback = pxe.callback_url(settings.server, host.hostname, token) if settings.callback else None
    versions = _versions()
    # The token is not part of the digest: the host's kickstart path carries it (tree.host_intact), so
    # `fleet reinstall` can rotate it without the inventory.
    digest_input = {
        "data": host.data,
        "profile": host.profile.name,
        "templates": _template_digests(template_search_path(dirs), digests),
        "boot": record.to_json(),
        "entry_paths": record.entry_paths(),  # where the entries go: a new tree layout renders them again
        "pxe": settings.model_dump(mode="json"),
        "versions": [versions.ksbuild, versions.pykickstart],
    }
    digest = hashlib.sha256(json.dumps(digest_input, sort_keys=True, default=str).encode()).hexdigest()
    return HostPlan(modelled, record, dirs, callback, digest)


def _plans(
    hosts: Sequence[ModelledHost], inventory: Inventory, templates: Sequence[Path], roots: Roots,
    tokens: Mapping[str, str],
) -> list[HostPlan]:
    # Template files are hashed once per search path per run (hosts of one profile share one).
    digests: dict[tuple[Path, ...], dict[str, str]] = {}
    return [_plan(modelled, inventory, templates, roots, tokens[modelled.hostname], digests) for modelled in hosts]


def _template_digests(search_path: tuple[Path, ...], cache: dict[tuple[Path, ...], dict[str, str]]) -> dict[str, str]:
    if search_path not in cache:
        chosen = effective_templates(search_path)
        cache[search_path] = {name: sha256_file(path) for name, path in chosen.items()}
    return cache[search_path]


# -- render + validate, in worker processes ---------------------------------------------------------------


@dataclass(frozen=True)
class _Job:
    """One host's work for a worker process: its modelled profile and how to render it (picklable)."""

    hostname: str
    request: BuildRequest
    modelled: Modelled
    record: pxe.BootRecord
    pxe_settings: PxeSettings
    pxe_template_dirs: tuple[Path, ...]


def render_hosts(
    plans: Sequence[HostPlan], inventory: Inventory, templates: Sequence[Path], *, jobs: int | None = None,
    roots: Roots = DEFAULT_ROOTS, progress: Progress | None = None,
) -> list[RenderedHost]:
    """Render (kickstart and boot entries) and validate (pykickstart, shell, policy) each host.

    In worker processes when there are enough hosts; results come back in the order of `plans`.
    """
    # Imported before the pool forks, so every worker starts with pykickstart loaded.
    import builder.validate.pipeline  # noqa: F401

    fleet_dirs = _fleet_template_dirs(inventory, templates)
    work = [
        _Job(p.hostname, BuildRequest(p.modelled.modelled.loaded, templates=fleet_dirs,
                                      variant=FleetHostVariant(p.callback_url), roots=roots),
             p.modelled.modelled, p.record, inventory.model.pxe, fleet_dirs)
        for p in plans
    ]
    workers = max(1, jobs if jobs is not None else (os.cpu_count() or 1))
    if workers == 1 or len(work) < _MIN_HOSTS_FOR_POOL:
        return _render_batch(work)
    size = max(1, min(_HOSTS_PER_TASK, -(-len(work) // (workers * 2))))
    batches = [work[start:start + size] for start in range(0, len(work), size)]
    results: list[RenderedHost] = []
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork")) as pool:
        for batch in pool.map(_render_batch, batches):
            results.extend(batch)
            if progress is not None:
                progress(f"rendered and validated {len(results)}/{len(work)}")
    return results


def _render_batch(batch: Sequence[_Job]) -> list[RenderedHost]:
    from builder.pipeline import Prepared, prepare, validate

    prepared: list[tuple[_Job, Prepared]] = []
    results: dict[str, RenderedHost] = {}
    for job in batch:
        try:
            rendered = prepare(job.modelled, job.request)
            env = make_environment(template_search_path(job.pxe_template_dirs))
            entries = pxe.host_entries(env, job.record, job.pxe_settings)
        except BadInput as exc:
            findings = exc.findings or (Finding("render", exc.message),)
            named = tuple(for_host(f, job.hostname) for f in findings)
            results[job.hostname] = RenderedHost(job.hostname, None, {}, named)
            continue
        prepared.append((job, rendered))
        results[job.hostname] = RenderedHost(job.hostname, rendered.kickstart.text, entries, ())
    checked = validate([prep for _, prep in prepared], sources=[f"ks/{job.hostname}.cfg" for job, _ in prepared])
    for (job, _), result in zip(prepared, checked, strict=True):
        # The host's semantic findings were reported when the fleet was modelled: only the kickstart's here.
        own = result.findings[len(job.modelled.semantic):]
        named = tuple(for_host(f, job.hostname) for f in own)
        results[job.hostname] = replace(results[job.hostname], findings=named)
    return [results[job.hostname] for job in batch]
