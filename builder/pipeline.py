"""The one orchestrator: profile → kickstart as library calls (load, model, checks, variant, render, validate).

The CLI (render, validate), the fleet (render, check) and the boot test (boot-test, build, verify) all go through
here with a typed `BuildRequest`, and get a typed `BuildResult`; only `emit` (and the fleet tree) write files.
The stages are exposed too, because the fleet models every host before any is rendered (fleet-wide checks
need them all) and renders and validates in worker processes, in batches:

    model(request) -> Modelled          load, schema, semantic checks
    prepare(modelled, request) -> Prepared   the variant's changes, templates, render
    validate(prepared) -> [BuildResult]      pykickstart, shellcheck, bash -n, policy: one batch
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from builder.checks.semantic import check_profile, templates_dir_of
from builder.contract import SCRIPT_HEADER
from builder.errors import BadInput, Finding
from builder.fsutil import is_dir
from builder.load.profile_loader import LoadedProfile, load_profile
from builder.model.build import build_profile
from builder.model.layout import partition_name, split_partition
from builder.model.profile import InstallSource, Profile
from builder.render.kickstart import RenderedKickstart, render_kickstart
from builder.render.secrets import NO_SECRETS, Secrets, resolve_secrets
from builder.vocabulary import DEFAULT_ROOTS, TEMPLATE_COMMANDS, KeyPath, Roots, format_key

if TYPE_CHECKING:
    from builder.validate.kickstart import ScriptSection
    from builder.validate.pipeline import KickstartReport

# A profile file's name (its stem): it names the output folder and is a word in the kickstart.
PROFILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


# -- the request ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlainVariant:
    """The kickstart as the profile says: `ksbuild render` and `validate`."""


@dataclass(frozen=True)
class BootTestVariant:
    """The kickstart a boot-test VM installs: from the test media, onto the VM's disks (vda, vdb, ...), with the
    verification unit when `verify`."""

    source: InstallSource
    verify: bool = True


@dataclass(frozen=True)
class FleetHostVariant:
    """A fleet host's kickstart: reports the finished install to `callback_url` (install once) when given."""

    callback_url: str | None = None


Variant = PlainVariant | BootTestVariant | FleetHostVariant
PLAIN = PlainVariant()


@dataclass(frozen=True)
class BuildRequest:
    """What to build. `source` is a profile name or file (loaded with `overrides`), or a profile already loaded
    and located (a fleet host's merged profile). `templates` are override folders, before the profile's own."""

    source: str | Path | LoadedProfile
    overrides: tuple[str, ...] = ()
    templates: tuple[Path, ...] = ()
    variant: Variant = PLAIN
    roots: Roots = DEFAULT_ROOTS


# -- the stages' results --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Modelled:
    """A profile loaded, modelled and checked (semantic findings; errors among them do not stop rendering, so
    one run reports them together with the kickstart's)."""

    loaded: LoadedProfile
    profile: Profile
    semantic: tuple[Finding, ...]

    @property
    def name(self) -> str:
        return self.loaded.name


@dataclass(frozen=True)
class Prepared:
    """A profile rendered (for its variant) but not yet validated: validation batches many of these."""

    modelled: Modelled
    profile: Profile  # as rendered: the variant's profile
    kickstart: RenderedKickstart
    secrets: Secrets = field(default=NO_SECRETS, compare=False)  # read for this rendering (the kickstart holds them)


@dataclass(frozen=True)
class BuildResult:
    loaded: LoadedProfile
    profile: Profile  # as rendered: the variant's profile
    kickstart: RenderedKickstart
    findings: tuple[Finding, ...] = field(default=())
    # The secrets the kickstart was rendered with, for whatever must mask them (their values stay out of repr).
    secrets: Secrets = field(default=NO_SECRETS, compare=False)

    @property
    def name(self) -> str:
        return self.loaded.name

    @property
    def errors(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == "error")

    @property
    def ok(self) -> bool:
        return not self.errors


# -- the stages -----------------------------------------------------------------------------------------------


def model(request: BuildRequest) -> Modelled:
    """Load (unless already loaded), model and check. Raises BadInput when the profile cannot be read or does not
    have the right shape."""
    source = request.source
    if isinstance(source, LoadedProfile):
        loaded = source
    else:
        loaded = load_profile(source, overrides=request.overrides, roots=request.roots)
    if not PROFILE_NAME.fullmatch(loaded.name):
        # The name becomes a folder under output/ and a word in the kickstart: keep it plain.
        raise BadInput(f"{loaded.path}: profile file names may only use letters, digits, '.', '_' and '-'")
    profile = build_profile(loaded.data, loaded.locate)
    return Modelled(loaded, profile, tuple(check_profile(profile, loaded.locate, request.roots.workdir)))


def template_dirs(modelled: Modelled, templates: Sequence[Path], roots: Roots) -> tuple[Path, ...]:
    """The template override folders for this profile: `templates`, then the profile's own `templates:`."""
    own = templates_dir_of(modelled.profile, modelled.loaded.locate, roots.workdir)
    return (*templates, *((own,) if own is not None and is_dir(own) else ()))


def prepare(modelled: Modelled, request: BuildRequest, environ: Mapping[str, str] | None = None) -> Prepared:
    """The variant's profile rendered, its secrets read from `environ` (default: the process's environment).
    Raises BadInput for a missing template folder, a broken template or a secret that cannot be read."""
    for folder in request.templates:
        if not is_dir(folder):
            raise BadInput(f"{folder}: template folder does not exist")
    variant = request.variant
    profile = modelled.profile
    if isinstance(variant, BootTestVariant):
        profile = for_boot_test(profile, variant.source)
    plan = None
    if isinstance(variant, BootTestVariant) and variant.verify:
        from builder.render.verify_plan import verify_plan  # what a boot test checks: not needed otherwise

        plan = verify_plan(profile, modelled.name)
    callback = variant.callback_url if isinstance(variant, FleetHostVariant) else None
    dirs = template_dirs(modelled, request.templates, request.roots)
    secrets = resolve_secrets(profile, modelled.loaded.locate, environ, workdir=request.roots.workdir)
    kickstart = render_kickstart(profile, modelled.name, dirs, verify=plan, callback_url=callback, secrets=secrets,
                                 cache=request.roots.cache)
    return Prepared(modelled, profile, kickstart, secrets)


def validate(preps: Sequence[Prepared], *, sources: Sequence[str] | None = None,
             shell: bool = True) -> list[BuildResult]:
    """Validate rendered profiles in one batch (one shellcheck process, deduplicated scripts); findings on
    kickstart lines point back at the profile keys behind them. `sources` name the kickstarts in findings."""
    # Imported here: pykickstart is slow to import, and an unchanged fleet is answered without it.
    from builder.validate.config import RuleLayer, Settings
    from builder.validate.pipeline import validate_kickstart_text, validate_many

    # Rendered: every policy rule is an error. The profile's own checks ran the storage rules (KS2xx) on the
    # layout it describes: the rendered kickstart's storage findings would say the same again.
    settings = Settings((RuleLayer(ignore=("KS2",)),))
    names = sources if sources is not None else [f"{p.modelled.name}/ks.cfg" for p in preps]
    items = list(zip(names, (p.kickstart.text for p in preps), strict=True))
    # Each kickstart with its profile's target's syntax (pykickstart handler).
    target_names = [p.profile.target for p in preps]
    if shell:
        reports = validate_many(items, mode="rendered", settings=settings, target_names=target_names)
    else:
        reports = [validate_kickstart_text(text, source, shell=False, mode="rendered", settings=settings,
                                           target=name)
                   for (source, text), name in zip(items, target_names, strict=True)]
    return [_result(p, r) for p, r in zip(preps, reports, strict=True)]


def build(source: str | Path | LoadedProfile, *, overrides: Sequence[str] = (), templates: Sequence[Path] = (),
          variant: Variant = PLAIN, roots: Roots = DEFAULT_ROOTS, shell: bool = True) -> BuildResult:
    """Every stage for one profile: `run(BuildRequest(...))`."""
    return run(BuildRequest(source, tuple(overrides), tuple(templates), variant, roots), shell=shell)


def run(request: BuildRequest, *, shell: bool = True) -> BuildResult:
    return validate([prepare(model(request), request)], shell=shell)[0]


# -- the boot-test variant ------------------------------------------------------------------------------------


def vm_disk_names(count: int) -> tuple[str, ...]:
    """The boot-test VM's virtio disks, one per disk the profile names (RAID profiles need several)."""
    return tuple(f"vd{chr(ord('a') + n)}" for n in range(count))


def for_boot_test(profile: Profile, source: InstallSource) -> Profile:
    """The profile as the test VM installs it: from `source`, onto the VM's disks (the profile's disk names, by-id
    paths included, become vda, vdb, ... in order, wherever storage names a disk). Nothing else changes."""
    storage = profile.storage
    renamed = dict(zip(storage.disks, vm_disk_names(len(storage.disks)), strict=True))

    def disk(name: str) -> str:
        return renamed.get(name, name)

    vm_storage = storage.model_copy(update={
        "disks": tuple(disk(d) for d in storage.disks),
        "disk_sizes": {disk(d): size for d, size in storage.disk_sizes.items()},
        "partitions": tuple(p.model_copy(update={"disk": disk(p.disk)}) if p.disk is not None else p
                            for p in storage.partitions),
        "raids": tuple(r.model_copy(update={"disks": tuple(disk(d) for d in r.disks)}) for r in storage.raids),
        "clear_drives": tuple(disk(d) for d in storage.clear_drives),
        "clear_list": tuple(_on_vm_disk(p, renamed) for p in storage.clear_list),
    })
    install = profile.install.model_copy(update={"source": source})
    return profile.model_copy(update={"storage": vm_storage, "install": install})


def _on_vm_disk(partition: str, renamed: dict[str, str]) -> str:
    """sda3 -> vda3 when sda became vda (clearpart --list names partitions by their disk)."""
    split = split_partition(partition)
    if split is None or split[0] not in renamed:
        return partition
    disk, number = split
    return partition_name(renamed[disk], number)


# -- findings back to the profile -----------------------------------------------------------------------------


def _result(prepared: Prepared, report: KickstartReport) -> BuildResult:
    located = [_locate_in_profile(f, prepared, report) for f in report.findings]
    modelled = prepared.modelled
    return BuildResult(modelled.loaded, prepared.profile, prepared.kickstart, (*modelled.semantic, *located),
                       prepared.secrets)


# What a finding about the whole kickstart (no line of it: something is missing) is about in a profile.
_RULE_KEYS: dict[str, KeyPath] = {
    "KS501": ("install", "finish"),
    "KS502": ("install",),
    "KS503": ("users", "root"),
    "KS504": ("install", "source"),
    "KS505": ("install", "source"),
    "KS506": ("storage",),
}


def _locate_in_profile(finding: Finding, prepared: Prepared, report: KickstartReport) -> Finding:
    """Point a finding on a rendered line back at the profile key that produced that line, where one did; one
    about the whole kickstart at the key it is about, or the profile's first line."""
    line = finding.rendered_line
    if line is None:
        if finding.location is not None and finding.location.line is not None:
            return finding
        path = _RULE_KEYS.get(finding.rule or "")
        loaded = prepared.modelled.loaded
        return replace(finding, location=loaded.locate(path) if path else loaded.origin,
                       key=format_key(path) if path else finding.key)
    lines = prepared.kickstart.text.splitlines()
    path = _profile_key_for_line(lines, line, prepared.profile, report.parsed.scripts)
    if path is None:
        return finding
    return replace(finding, location=prepared.modelled.loaded.locate(path), key=format_key(path))


def _profile_key_for_line(
    lines: list[str], line: int, profile: Profile, scripts: Sequence[ScriptSection]
) -> KeyPath | None:
    for script in scripts:
        end = script.body_first_line + len(script.body.splitlines())
        if script.header_line <= line <= end:
            match = SCRIPT_HEADER.search(script.body)
            if match is None:
                return None
            phase, name = match["phase"], match["name"]
            own = profile.scripts.pre if phase == "pre" else profile.scripts.post
            for index, user_script in enumerate(own):
                if user_script.name == name:
                    return ("scripts", phase, index, "body")
            return None
    if 1 <= line <= len(lines):
        text = lines[line - 1].strip()
        for index, extra in enumerate(profile.kickstart.extra_commands):
            if text == extra.strip():
                return ("kickstart", "extra_commands", index)
        words = text.split()
        if words[:1] == ["%include"] and len(words) > 1:
            return _include_key(profile, words[1])
        if words:
            return TEMPLATE_COMMANDS.get(words[0]) or None
    return None


def _include_key(profile: Profile, path: str) -> KeyPath | None:
    """The key that put `%include path` in the kickstart: storage.include or network.include."""
    if profile.storage.layout == "include" and profile.storage.include == path:
        return ("storage", "include")
    if profile.network.install == "include" and profile.network.include == path:
        return ("network", "include")
    return None
