"""The library functions behind each CLI command: typed inputs, typed results, no printing."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from builder.errors import BadInput, ChecksFailed, Finding, Location, shown
from builder.fsutil import NO_SUCH_FILE, path_problem
from builder.paths import shipped_profiles_dir
from builder.vocabulary import Roots

if TYPE_CHECKING:
    # Validating a kickstart file must not import the profile model, pydantic or the pipeline: those are
    # imported where a profile is read.
    from builder.emit.output import EmittedFiles
    from builder.importer.ledger import ImportReport
    from builder.pipeline import BuildRequest, BuildResult
    from builder.rules import Mode
    from builder.validate.config import RuleLayer, Settings

PROFILE_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class RenderOutcome:
    result: BuildResult
    files: EmittedFiles

    @property
    def findings(self) -> tuple[Finding, ...]:
        return self.result.findings

    def to_json(self) -> dict[str, object]:
        return {
            "profile": self.result.name,
            "kickstart": str(self.files.kickstart),
            "manifest": str(self.files.manifest),
            "findings": [f.to_json() for f in self.findings],
        }


def render_profile(request: BuildRequest, *, output_dir: Path | None = None) -> RenderOutcome:
    """Build, check and write ks.cfg + manifest.json into `output_dir` (default: <roots.output>/<profile>/);
    on any error nothing is written."""
    from builder.emit.output import build_manifest, emit_kickstart
    from builder.pipeline import run

    result = run(request)
    if not result.ok:
        raise ChecksFailed(f"{len(result.errors)} error(s); nothing written", result.findings)
    out = output_dir if output_dir is not None else request.roots.output_dir(result.name)
    manifest = build_manifest(result.name, result.kickstart.text, result.loaded.sources, result.kickstart.templates,
                              request.overrides, workdir=request.roots.workdir)
    return RenderOutcome(result, emit_kickstart(out, result.kickstart.text, manifest))


@dataclass(frozen=True)
class ValidatedItem:
    source: str
    kind: str                    # "profile" | "kickstart"
    findings: tuple[Finding, ...]
    unreadable: bool = False     # the input could not be read or modelled (exit 2 rather than 1)
    mode: str = "rendered"       # the severities applied: "kickstart" (hand-written) or "rendered"

    @property
    def errors(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == "error")

    @property
    def ok(self) -> bool:
        return not self.errors and not self.unreadable

    def summary(self) -> str:
        """`ok`, or the counts of errors, warnings and notes."""
        counts = [(sum(1 for f in self.findings if f.severity == severity), label)
                  for severity, label in (("error", "error(s)"), ("warning", "warning(s)"), ("info", "note(s)"))]
        said = ", ".join(f"{count} {label}" for count, label in counts if count)
        if self.ok:
            return f"ok ({said})" if said else "ok"
        return said or "error"


@dataclass(frozen=True)
class ValidateOutcome:
    items: tuple[ValidatedItem, ...]

    @property
    def ok(self) -> bool:
        return all(item.ok for item in self.items)

    def raise_for_status(self) -> None:
        failed = [item for item in self.items if not item.ok]
        if not failed:
            return
        message = f"{len(failed)} of {len(self.items)} input(s) failed validation"
        if any(item.unreadable for item in failed):
            raise BadInput(message)
        raise ChecksFailed(message)

    def to_json(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "inputs": [
                {"source": i.source, "kind": i.kind, "mode": i.mode, "ok": i.ok,
                 "findings": [f.to_json() for f in i.findings]}
                for i in self.items
            ],
        }


def is_profile_ref(ref: str) -> bool:
    path = Path(ref)
    return path.suffix in PROFILE_SUFFIXES or (path.suffix == "" and path_problem(path) == NO_SUCH_FILE)


def _unreadable(ref: str, kind: str, exc: BadInput) -> ValidatedItem:
    findings = exc.findings or (Finding("load", exc.message, Location(ref)),)
    # Schema findings already have their place; each becomes KS001 (the input cannot be read as a profile).
    return ValidatedItem(ref, kind, tuple(replace(f, rule=f.rule or "KS001") for f in findings), unreadable=True)


def validate_paths(
    refs: Sequence[str],
    *,
    overrides: Sequence[str] = (),
    templates: Sequence[Path] = (),
    roots: Roots,
    shell: bool = True,
    rules: RuleLayer | None = None,
    strict: bool = False,
    mode: Mode | None = None,
    target: str | None = None,
) -> ValidateOutcome:
    """Validate profiles and kickstart files. Kickstarts get the settings of their nearest configuration file, then
    `rules` (the command line's select/ignore) and `strict`; `mode` None detects rendered kickstarts. `target`: the
    kickstarts' syntax (None: each file's #version= line, else centos7); for profiles, `--set target=`."""
    from builder.validate.config import RuleLayer, Settings, settings_for
    from builder.validate.pipeline import validate_kickstart_file

    layer = rules or RuleLayer()
    items: dict[int, ValidatedItem] = {}
    profiles = []
    for index, ref in enumerate(refs):
        if is_profile_ref(ref):
            profiles.append((index, ref))
            continue
        try:
            settings = settings_for(Path(ref)).with_command_line(layer, strict=strict)
            report = validate_kickstart_file(Path(ref), settings=settings, shell=shell, mode=mode, target=target)
            items[index] = ValidatedItem(ref, "kickstart", report.findings, mode=report.mode)
        except BadInput as exc:
            items[index] = _unreadable(ref, "kickstart", exc)
    if profiles:
        sets = (*overrides, f"target={target}") if target is not None else tuple(overrides)
        items.update(_validate_profiles(profiles, sets, templates, roots, shell, Settings((layer,), strict)))
    return ValidateOutcome(tuple(items[i] for i in range(len(refs))))


def _validate_profiles(
    profiles: Sequence[tuple[int, str]], overrides: Sequence[str], templates: Sequence[Path], roots: Roots,
    shell: bool, settings: Settings,
) -> dict[int, ValidatedItem]:
    from builder.pipeline import BuildRequest, Prepared, model, prepare, validate

    items: dict[int, ValidatedItem] = {}
    prepared: list[Prepared] = []
    prepared_refs: list[tuple[int, str]] = []
    for index, ref in profiles:
        try:
            request = BuildRequest(ref, tuple(overrides), tuple(templates), roots=roots)
            prepared.append(prepare(model(request), request))
            prepared_refs.append((index, ref))
        except BadInput as exc:
            items[index] = _unreadable(ref, "profile", exc)
    for (index, ref), result in zip(prepared_refs, validate(prepared, shell=shell), strict=True):
        # Profile checks outside the rule catalogue are KS002; the command line's select/ignore apply to all.
        findings = [replace(f, rule=f.rule or "KS002") for f in result.findings]
        kept = tuple(f for f in findings if settings.enabled(f.rule or "KS002"))
        if settings.strict:
            kept = tuple(replace(f, severity="error") if f.severity == "warning" else f for f in kept)
        items[index] = ValidatedItem(ref, "profile", kept)
    return items


def show_profile(ref: str, *, overrides: Sequence[str] = (), roots: Roots, as_json: bool = False) -> str:
    from builder.load.profile_loader import load_profile
    from builder.load.show import render_provenance

    loaded = load_profile(ref, overrides=overrides, roots=roots)
    if as_json:
        return json.dumps(loaded.data, indent=2, sort_keys=True, default=str) + "\n"
    return render_provenance(loaded)


@dataclass(frozen=True)
class ProfileEntry:
    name: str
    origin: str          # "local" | "shipped" | a folder
    path: Path
    description: str


def list_available(roots: Roots, extra_dirs: Sequence[Path] = ()) -> list[ProfileEntry]:
    """The profiles in `extra_dirs`, then in `roots.profile_dirs` (labelled local, or shipped)."""
    from builder.load.profile_loader import load_profile

    shipped = shipped_profiles_dir().resolve()
    folders: list[tuple[Path, str]] = [(d, str(d)) for d in extra_dirs]
    folders += [(folder, "local") for folder in roots.profile_dirs if folder.resolve() != shipped]
    folders += [(shipped, "shipped")]
    seen: set[Path] = set()
    entries = []
    for folder, origin in folders:
        if not folder.is_dir() or folder.resolve() in seen:
            continue
        seen.add(folder.resolve())
        label = "shipped" if folder.resolve() == shipped else origin
        for file in sorted(folder.glob("*.y*ml")):
            try:
                description = str(load_profile(file, roots=roots).data.get("description", ""))
            except BadInput as exc:
                description = f"(cannot load: {exc.message})"
            entries.append(ProfileEntry(file.stem, label, file, description))
    return entries


def profile_schema() -> dict[str, Any]:
    from builder.load.when_target import WHEN_TARGET_KEY
    from builder.model.profile import Profile
    from builder.targets import ALIASES

    schema = Profile.model_json_schema()
    # Read by the loader, not the model: per-target values, each profile-shaped (builder.load.when_target).
    schema["properties"][WHEN_TARGET_KEY] = {
        "type": "object",
        "description": "Values for some targets only, laid over this file's own: {el9: {install: {...}}}.",
        "propertyNames": {"enum": sorted(ALIASES)},
        "additionalProperties": {"type": "object"},
    }
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "ksbuild profile"
    return schema


# -- import ---------------------------------------------------------------------------------------------------

# A NIC's kernel name (IFNAMSIZ 16 with its NUL); no ':' (an alias, and what makes anaconda read a MAC).
_NIC_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}")


@dataclass(frozen=True)
class ImportOutcome:
    kickstart: Path
    output: Path | None   # None: written to standard output
    text: str
    report: ImportReport
    findings: tuple[Finding, ...] = ()  # warnings of the imported profile's validation

    def to_json(self) -> dict[str, object]:
        return {"kickstart": str(self.kickstart), "profile": str(self.output) if self.output else None,
                **self.report.to_json(), "findings": [f.to_json() for f in self.findings]}


def default_import_path(kickstart: Path) -> Path:
    """<kickstart name>.yaml in the current folder: ks/kvm01.cfg -> kvm01.yaml."""
    return Path(f"{kickstart.stem}.yaml")


def import_kickstart_file(kickstart: Path, *, output: Path | None, roots: Roots, extends: str | None = None,
                          rootpw_hash: str | None = None, nic_names: Sequence[str] = (),
                          force: bool = False) -> ImportOutcome:
    """Import `kickstart` into a profile written to `output` (None: only returned, for standard output).
    Nothing is written when anything fails; an existing file is replaced only with `force`."""
    from builder.fsutil import atomic_create, atomic_write
    from builder.importer import import_kickstart, profile_text
    from builder.load.yaml_source import MAX_FILE_BYTES
    from builder.model.types import is_crypt_hash
    from builder.pipeline import PROFILE_NAME
    from builder.validate.pipeline import read_kickstart

    # What `import` writes is a profile file `render` can read back: its name rules, its size limit.
    if output is not None and not PROFILE_NAME.fullmatch(output.stem):
        raise BadInput(f"{output}: a profile file name may only use letters, digits, '.', '_' and '-' (render "
                       "names its output folder after it)")
    if output is not None and output.suffix not in PROFILE_SUFFIXES:
        raise BadInput(f"{output}: a profile file ends in .yaml or .yml")
    if rootpw_hash is not None and not is_crypt_hash(rootpw_hash):
        raise BadInput("--rootpw-hash is not a crypt(3) hash ($6$salt$hash); make one with `openssl passwd -6`")
    names = _nic_names(nic_names)
    text = read_kickstart(kickstart)
    source = roots.display(kickstart)
    imported = import_kickstart(text, source, path=kickstart, rootpw_hash=rootpw_hash, nic_names=names)
    findings = _validate_imported(imported, output.stem if output is not None else "imported", kickstart, roots)
    base = None
    written_extends = None
    if extends is not None:
        base, written_extends = _import_base(extends, output, roots)
    result = profile_text(imported, text, extends=written_extends, base=base)
    data = result.text.encode()
    if len(data) > MAX_FILE_BYTES:
        raise BadInput(f"{source}: the profile would be {len(data)} bytes; profiles are limited to "
                       f"{MAX_FILE_BYTES} (move large scripts to files the kickstart fetches)")
    if output is not None:
        # Readable by its owner only, as the kickstarts rendered from it: a password hash can be anywhere in it
        # (users:, a passed-through `user --iscrypted` or `sshpw` line, a script).
        if force:
            atomic_write(output, data, 0o600)
        elif not atomic_create(output, data, 0o600):
            raise BadInput(f"{roots.display(output)} exists; nothing written (--force replaces it)")
    return ImportOutcome(kickstart, output, result.text, result.report, findings)


def _nic_names(values: Sequence[str]) -> dict[str, str]:
    """`--nic-name MAC=NAME` values as {mac: name}; BadInput for anything else."""
    from builder.model.types import mac_address

    names: dict[str, str] = {}
    for value in values:
        mac, equals, name = value.partition("=")
        try:
            mac = mac_address(mac.strip())
        except ValueError:
            mac = ""
        if not equals or not mac or not _NIC_NAME.fullmatch(name):
            raise BadInput(f"--nic-name {shown(value)}: give a MAC and the NIC's kernel name, such as "
                           "--nic-name 52:54:00:12:34:56=eno1")
        if mac in names and names[mac] != name:
            raise BadInput(f"--nic-name: {mac} is named twice ({names[mac]}, {name})")
        if name in names.values() and names.get(mac) != name:
            raise BadInput(f"--nic-name: {name} is given to two MACs")
        names[mac] = name
    return names


def _validate_imported(imported: Any, name: str, kickstart: Path, roots: Roots) -> tuple[Finding, ...]:
    """Render and validate the imported profile as `render` would, each finding at the kickstart line behind its
    key; errors fail the import. A secret the profile reads at render time from an environment variable (a LUKS
    passphrase, a proxy password) is a placeholder here: the import never needs it, and the rendered kickstart is
    only validated, never written; the report's notes say which variable to set."""
    from builder.load.profile_loader import LoadedProfile
    from builder.pipeline import BuildRequest, model, prepare, validate
    from builder.render.secrets import secret_refs

    loaded = LoadedProfile(name, kickstart, imported.data, imported.origins, (kickstart,),
                           Location(imported.report.source))
    request = BuildRequest(loaded, roots=roots)
    modelled = model(request)
    placeholders = {ref.env: "ksbuild-import-placeholder" for ref in secret_refs(modelled.profile) if ref.env}
    result = validate([prepare(modelled, request, environ=placeholders)])[0]
    if not result.ok:
        raise ChecksFailed(f"{imported.report.source}: the imported profile does not validate; nothing written",
                           result.findings)
    return result.findings


def _import_base(ref: str, output: Path | None, roots: Roots) -> tuple[Any, str]:
    """The base profile, modelled, and how the child names it: a bare name as given, a path relative to the
    folder the child is written to."""
    import os

    from builder.load.profile_loader import load_profile
    from builder.model.build import build_profile

    loaded = load_profile(ref, roots=roots)
    base = build_profile(loaded.data, loaded.locate)
    if "/" not in ref and not ref.endswith(PROFILE_SUFFIXES):
        return base, ref
    folder = (output.parent if output is not None else Path()).absolute()
    return base, os.path.relpath(loaded.path, folder)
