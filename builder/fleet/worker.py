"""What a fleet render does for each host, a batch at a time, in a worker process: build the host's merged
profile, model and check it (builder.pipeline and builder.fleet.checks), plan it (the digest that decides whether
it is rendered again), render its kickstart and boot entries, validate the kickstarts and check the GRUB entries
with grub-script-check (builder.fleet.syntax).

The parent keeps of each host only its `HostOutcome`: findings, the `HostFacts` the fleet-wide checks need, its
plan, and its rendered files compressed. So no process holds 10,000 merged profiles, models or kickstarts at once.

Validation is by kind of kickstart. The validators (pykickstart's RHEL7 handler, shellcheck, bash -n and the
rules of builder.validate) read a host's name, its install token, its MAC addresses and its static IPv4 addresses
as opaque words: none checks what such a word says (pykickstart does not check `--hostname` or `--ip` values, and
none of the rules compares them). Two kickstarts that differ only in those words therefore get the same findings.
Each kickstart's kind is its text with those words of its own host replaced by fixed stand-ins of the same
shape; the first kickstart of a kind is validated as it is, and when it has no finding at all, every other of
its kind has none either. A kind whose first kickstart has any finding is validated host by host, so every
message is the host's own. One worker validates each kind once per render. GRUB entries are checked the same way.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from builder.errors import BadInput, Finding
from builder.fleet import pxe, syntax, tree
from builder.fleet.checks import FleetScope, HostFacts, ModelledHost, host_facts, model_host, static_addresses
from builder.fleet.inventory import HostSource, build_host, for_host
from builder.fsutil import sha256_file
from builder.pipeline import BuildRequest, FleetHostVariant, Prepared, prepare, template_dirs, validate
from builder.render.environment import effective_templates, make_environment, template_search_path
from builder.render.target_plan import install_tree
from builder.vocabulary import Roots

HostEntries = dict[str, dict[pxe.Variant, bytes]]


@dataclass(frozen=True)
class FleetJob:
    """What every host of one render shares (picklable and small: it goes with every batch)."""

    scope: FleetScope
    fleet_template_dirs: tuple[Path, ...]  # --templates, then the inventory's templates:
    roots: Roots
    out_dir: Path | None  # the tree rendered into; None for `fleet check` (nothing compared, no files kept)
    versions: tuple[str, str]  # ksbuild, pykickstart
    grub_check: bool  # grub-script-check is installed: GRUB entries are checked with it


@dataclass(frozen=True)
class HostTask:
    source: HostSource
    token: str
    previous: Mapping[str, Any] | None  # the host's record in the tree's last manifest


@dataclass(frozen=True)
class HostPlan:
    """What a host's outputs are made from, and the digest that decides whether they are made again."""

    record: pxe.BootRecord
    profile_name: str
    template_dirs: tuple[Path, ...]  # for the kickstart: --templates, the inventory's, the profile's
    digest: str


@dataclass(frozen=True)
class HostOutcome:
    index: int
    hostname: str
    findings: tuple[Finding, ...]  # each naming the host
    unreadable: bool = False  # its merged profile could not be built or modelled: bad input
    facts: HostFacts | None = None
    plan: HostPlan | None = None
    files: bytes | None = None  # when rendered (and kept): its kickstart and entries, compressed

    @property
    def rendered(self) -> bool:
        return self.files is not None

    def kickstart_and_entries(self) -> tuple[str, HostEntries]:
        assert self.files is not None
        text, entries = pickle.loads(zlib.decompress(self.files))  # noqa: S301 - made by this render
        return text, entries


@dataclass
class _Rendered:
    task: HostTask
    modelled: ModelledHost
    plan: HostPlan
    facts: HostFacts
    prepared: Prepared | None
    entries: HostEntries
    findings: tuple[Finding, ...]  # the host's own so far, render problems included


_TEMPLATE_DIGESTS: dict[tuple[Path, ...], dict[str, str]] = {}
_KIND_IS_CLEAN: dict[str, bool] = {}  # this process's validated kinds of kickstart: no finding at all?
_GRUB_KIND_IS_CLEAN: dict[str, bool] = {}  # and its kinds of GRUB entry checked: grub-script-check passed?
_KINDS_KEPT = 10_000


def run_batch(job: FleetJob, tasks: Sequence[HostTask]) -> list[HostOutcome]:
    """Every host of the batch built, modelled, checked, planned, and (when its outputs are not intact)
    rendered and validated; outcomes in the order of `tasks`."""
    outcomes: dict[int, HostOutcome] = {}
    rendered: list[_Rendered] = []
    for task in tasks:
        source = task.source
        try:
            host = build_host(source)
            modelled = model_host(host, job.scope, job.roots)
        except BadInput as exc:
            outcomes[source.index] = HostOutcome(source.index, source.hostname, exc.findings, unreadable=True)
            continue
        plan = _plan(job, modelled, task.token)
        facts = host_facts(host, modelled.profile)
        if job.out_dir is not None and tree.host_intact(job.out_dir, host.hostname, task.previous, plan.digest,
                                                        task.token):
            outcomes[source.index] = HostOutcome(source.index, host.hostname, modelled.findings, facts=facts,
                                                 plan=plan)
            continue
        rendered.append(_render(job, task, modelled, plan, facts))
    kickstart_findings = _validate_by_kind([r for r in rendered if r.prepared is not None])
    for one in rendered:
        index, hostname = one.task.source.index, one.modelled.hostname
        own = (*one.findings, *kickstart_findings.get(index, ()))
        files = None
        if job.out_dir is not None and one.prepared is not None:
            files = zlib.compress(pickle.dumps((one.prepared.kickstart.text, one.entries)), 1)
        outcomes[index] = HostOutcome(index, hostname, own, facts=one.facts, plan=one.plan, files=files)
    return [outcomes[task.source.index] for task in tasks]


def _plan(job: FleetJob, modelled: ModelledHost, token: str) -> HostPlan:
    host, settings = modelled.host, job.scope.pxe
    dirs = template_dirs(modelled.modelled, job.fleet_template_dirs, job.roots)
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
    # The token is not part of the digest: the host's kickstart path carries it (tree.host_intact), so
    # `fleet reinstall` can rotate it without the inventory.
    digest_input = {
        "data": host.data,
        "profile": host.profile.name,
        "templates": _template_digests(template_search_path(dirs)),
        "boot": record.to_json(),
        "entry_paths": record.entry_paths(),  # where the entries go: a new tree layout renders them again
        "pxe": settings.model_dump(mode="json"),
        "versions": list(job.versions),
    }
    digest = hashlib.sha256(json.dumps(digest_input, sort_keys=True, default=str).encode()).hexdigest()
    return HostPlan(record, host.profile.name, dirs, digest)


def _template_digests(search_path: tuple[Path, ...]) -> dict[str, str]:
    # Template files are hashed once per search path per process (hosts of one profile share one).
    if search_path not in _TEMPLATE_DIGESTS:
        chosen = effective_templates(search_path)
        _TEMPLATE_DIGESTS[search_path] = {name: sha256_file(path) for name, path in chosen.items()}
    return _TEMPLATE_DIGESTS[search_path]


def _render(job: FleetJob, task: HostTask, modelled: ModelledHost, plan: HostPlan, facts: HostFacts) -> _Rendered:
    callback = pxe.callback_url(job.scope.pxe.server, modelled.hostname, task.token) if job.scope.pxe.callback else None
    request = BuildRequest(modelled.modelled.loaded, templates=job.fleet_template_dirs,
                           variant=FleetHostVariant(callback), roots=job.roots)
    try:
        prepared = prepare(modelled.modelled, request)
        env = make_environment(template_search_path(job.fleet_template_dirs))
        entries = pxe.host_entries(env, plan.record, job.scope.pxe)
    except BadInput as exc:
        found = exc.findings or (Finding("render", exc.message),)
        named = tuple(for_host(f, modelled.hostname) for f in found)
        return _Rendered(task, modelled, plan, facts, None, {}, (*modelled.findings, *named))
    rendered = _Rendered(task, modelled, plan, facts, prepared, entries, modelled.findings)
    if job.grub_check:
        grub = tuple(for_host(f, modelled.hostname) for f in _grub_by_kind(rendered))
        rendered.findings = (*rendered.findings, *grub)
    return rendered


def _grub_by_kind(one: _Rendered) -> list[Finding]:
    """grub-script-check on the host's GRUB entries, once per kind of entry (as kickstarts are validated): an
    entry of a kind already checked clean is not checked again, any other is."""
    record = one.plan.record
    kinds = {path: kind for mac in record.macs for path, kind in record.entries_of(mac).items()}
    words = _host_words(one)
    findings = []
    for path, versions in one.entries.items():
        if kinds.get(path) != "grub":
            continue
        for version, content in sorted(versions.items()):
            kind = hashlib.sha256(_stand_ins(content.decode(), words).encode()).hexdigest()
            if _GRUB_KIND_IS_CLEAN.get(kind):
                continue
            problems = syntax.grub_problems([(path, version, content)])
            if len(_GRUB_KIND_IS_CLEAN) > _KINDS_KEPT:
                _GRUB_KIND_IS_CLEAN.clear()
            _GRUB_KIND_IS_CLEAN[kind] = not problems
            findings.extend(problems)
    return findings


def _validate_by_kind(rendered: Sequence[_Rendered]) -> dict[int, tuple[Finding, ...]]:
    """Each rendered host's kickstart findings, by host index: one validation per kind of kickstart when the
    kind validates clean (see the module's docstring), host by host otherwise."""
    kinds = {id(one): _kind(one) for one in rendered}
    first_of_kind: dict[str, _Rendered] = {}
    for one in rendered:
        if kinds[id(one)] not in _KIND_IS_CLEAN:
            first_of_kind.setdefault(kinds[id(one)], one)
    found = _validate(list(first_of_kind.values()))
    if len(_KIND_IS_CLEAN) > _KINDS_KEPT:
        _KIND_IS_CLEAN.clear()
    for kind, one in first_of_kind.items():
        _KIND_IS_CLEAN[kind] = not found[one.task.source.index]
    rest = [one for one in rendered if one.task.source.index not in found and not _KIND_IS_CLEAN[kinds[id(one)]]]
    found.update(_validate(rest))
    return found


def _validate(rendered: Sequence[_Rendered]) -> dict[int, tuple[Finding, ...]]:
    if not rendered:
        return {}
    preps = [one.prepared for one in rendered if one.prepared is not None]
    results = validate(preps, sources=[f"ks/{one.modelled.hostname}.cfg" for one in rendered])
    found = {}
    for one, result in zip(rendered, results, strict=True):
        # The host's semantic findings were reported when it was modelled: only the kickstart's here.
        own = result.findings[len(one.modelled.modelled.semantic):]
        found[one.task.source.index] = tuple(for_host(f, one.modelled.hostname) for f in own)
    return found


def _host_words(one: _Rendered) -> dict[str, str]:
    """The host's own words in its files (name, token, MACs, static addresses), each with its stand-in."""
    record = one.plan.record
    words: dict[str, str] = {record.hostname: "host.invalid", record.hostname.split(".")[0]: "host",
                             record.token: "token"}
    for position, mac in enumerate(record.macs):
        stand_in = f"02:00:00:00:00:{position:02x}"
        words[mac] = words[mac.upper()] = stand_in
        words[pxe.mac_dashes(mac)] = stand_in.replace(":", "-")
    addresses = sorted({str(address.ip) for _, _, address, _ in static_addresses(one.modelled.profile)})
    for position, address in enumerate(addresses):
        words[address] = f"198.51.100.{position + 1}"
    words.pop("", None)
    return words


def _stand_ins(text: str, words: Mapping[str, str]) -> str:
    # Longest first, wherever they occur: a word's stand-in has its shape (a name for a name, digits and dots
    # for an address), so even a match inside a longer word leaves a word the validators read the same way.
    for word in sorted(words, key=len, reverse=True):
        text = text.replace(word, words[word])
    return text


def _kind(one: _Rendered) -> str:
    """The kickstart's text with its host's name, token, MACs and static addresses replaced by stand-ins of
    the same shape, hashed: kickstarts of one kind differ only in those words."""
    assert one.prepared is not None
    return hashlib.sha256(_stand_ins(one.prepared.kickstart.text, _host_words(one)).encode()).hexdigest()
