"""Profile → kickstart, the whole rendering flow as library calls: load, model, checks, render, validate.

The CLI, the fleet renderer and the boot test all go through `build_profile`; only `emit` writes files.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from builder.checks.semantic import check_profile, templates_dir_of
from builder.errors import BadInput, Finding
from builder.load.profile_loader import LoadedProfile, load_profile
from builder.model.build import PathKey, build_profile, format_key
from builder.model.profile import Profile
from builder.paths import shipped_profiles_dir
from builder.render.kickstart import RenderedKickstart, render_kickstart
from builder.render.verify_plan import verify_plan
from builder.validate.kickstart import ScriptSection
from builder.validate.pipeline import KickstartReport, validate_kickstart_text, validate_many

# The profile key behind each kickstart command, so a pykickstart error points into the profile too.
_COMMAND_KEYS: dict[str, PathKey] = {
    "url": ("install", "source"),
    "cdrom": ("install", "source"),
    "repo": ("install", "repos"),
    "lang": ("system", "lang"),
    "keyboard": ("system", "keyboard"),
    "timezone": ("system", "timezone"),
    "network": ("network",),
    "rootpw": ("users", "root"),
    "user": ("users", "accounts"),
    "sshkey": ("users",),
    "selinux": ("system", "selinux"),
    "firewall": ("system", "firewall"),
    "services": ("system", "services"),
    "ignoredisk": ("storage", "disks"),
    "clearpart": ("storage", "clear"),
    "part": ("storage", "partitions"),
    "autopart": ("storage", "layout"),
    "raid": ("storage", "raids"),
    "volgroup": ("storage", "volume_groups"),
    "logvol": ("storage", "volume_groups"),
    "reqpart": ("storage", "firmware"),
    "zerombr": ("storage", "clear"),
    "bootloader": ("storage", "disks"),
    "reboot": ("install", "finish"),
    "poweroff": ("install", "finish"),
}
_PROFILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_SCRIPT_NAME = re.compile(r"^# ksbuild (pre|post) script: (\S+)$", re.MULTILINE)


def default_search_dirs() -> tuple[Path, ...]:
    """Bare profile names are looked up in ./profiles first, then in the profiles shipped with ksbuild."""
    return (Path("profiles"), shipped_profiles_dir())


@dataclass(frozen=True)
class BuildResult:
    loaded: LoadedProfile
    profile: Profile
    kickstart: RenderedKickstart
    findings: tuple[Finding, ...] = field(default=())

    @property
    def name(self) -> str:
        return self.loaded.name

    @property
    def errors(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == "error")

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass(frozen=True)
class Prepared:
    """A profile rendered but not yet validated (validation batches many of these)."""

    loaded: LoadedProfile
    profile: Profile
    kickstart: RenderedKickstart
    semantic: tuple[Finding, ...]


def prepare(
    ref: str | Path,
    *,
    overrides: Sequence[str] = (),
    templates: Sequence[Path] = (),
    search_dirs: Sequence[Path] | None = None,
    adjust: Callable[[Profile], Profile] | None = None,
    verify: bool = False,
) -> Prepared:
    """Load, model, check and render one profile. Raises BadInput when it cannot be read or has the wrong shape.

    `adjust` rewrites the checked profile before rendering (a boot test points the install source at its media);
    `verify` adds the boot-test verification unit to the kickstart."""
    loaded = load_profile(ref, overrides=overrides, search_dirs=default_search_dirs() if search_dirs is None
                          else search_dirs)
    if not _PROFILE_NAME.fullmatch(loaded.name):
        # The name becomes a folder under output/ and a word in the kickstart: keep it plain.
        raise BadInput(f"{loaded.path}: profile file names may only use letters, digits, '.', '_' and '-'")
    profile = build_profile(loaded.data, loaded.locate)
    semantic = check_profile(profile, loaded.locate)
    if adjust is not None:
        profile = adjust(profile)
    overrides_dirs = list(templates)
    profile_templates = templates_dir_of(profile, loaded.locate)
    if profile_templates is not None and profile_templates.is_dir():
        overrides_dirs.append(profile_templates)
    for folder in overrides_dirs:
        if not folder.is_dir():
            raise BadInput(f"{folder}: template folder does not exist")
    plan = verify_plan(profile, loaded.name) if verify else None
    kickstart = render_kickstart(profile, loaded.name, overrides_dirs, verify=plan)
    return Prepared(loaded, profile, kickstart, tuple(semantic))


def rendered_source(loaded: LoadedProfile) -> str:
    return f"{loaded.name}/ks.cfg"


def finish(prepared: Prepared, report: KickstartReport) -> BuildResult:
    located = [_locate_in_profile(f, prepared, report) for f in report.findings]
    return BuildResult(prepared.loaded, prepared.profile, prepared.kickstart, (*prepared.semantic, *located))


def build_many(preps: Sequence[Prepared], *, shell: bool = True) -> list[BuildResult]:
    """Validate many rendered profiles in one batch (one shellcheck process, deduplicated scripts)."""
    items = [(rendered_source(p.loaded), p.kickstart.text) for p in preps]
    if shell:
        reports = validate_many(items)
    else:
        reports = [validate_kickstart_text(text, source, shell=False) for source, text in items]
    return [finish(p, r) for p, r in zip(preps, reports, strict=True)]


def build(
    ref: str | Path,
    *,
    overrides: Sequence[str] = (),
    templates: Sequence[Path] = (),
    search_dirs: Sequence[Path] | None = None,
    shell: bool = True,
    adjust: Callable[[Profile], Profile] | None = None,
) -> BuildResult:
    prepared = prepare(ref, overrides=overrides, templates=templates, search_dirs=search_dirs, adjust=adjust)
    return build_many([prepared], shell=shell)[0]


def _locate_in_profile(finding: Finding, prepared: Prepared, report: KickstartReport) -> Finding:
    """Point a finding on a rendered line back at the profile key that produced that line, where one did."""
    line = finding.rendered_line
    if line is None:
        return finding
    lines = prepared.kickstart.text.splitlines()
    path = _profile_key_for_line(lines, line, prepared.profile, report.parsed.scripts)
    if path is None:
        return finding
    loc = prepared.loaded.locate(path)
    return Finding(finding.check, finding.message, loc, format_key(path), finding.severity, rendered_line=line)


def _profile_key_for_line(
    lines: list[str], line: int, profile: Profile, scripts: Sequence[ScriptSection]
) -> PathKey | None:
    for script in scripts:
        end = script.body_first_line + len(script.body.splitlines())
        if script.header_line <= line <= end:
            match = _SCRIPT_NAME.search(script.body)
            if match is None:
                return None
            phase, name = match.groups()
            own = profile.scripts.pre if phase == "pre" else profile.scripts.post
            for index, user_script in enumerate(own):
                if user_script.name == name:
                    return ("scripts", phase, index, "body")
            return None
    if 1 <= line <= len(lines):
        words = lines[line - 1].split()
        if words:
            return _COMMAND_KEYS.get(words[0])
    return None
