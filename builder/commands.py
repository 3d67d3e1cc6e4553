"""The library functions behind each CLI command: typed inputs, typed results, no printing."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from builder.emit.output import EmittedFiles, build_manifest, emit_kickstart
from builder.errors import BadInput, ChecksFailed, Finding, Location
from builder.paths import shipped_profiles_dir
from builder.pipeline import BuildRequest, BuildResult, Prepared, model, prepare, run, validate
from builder.vocabulary import Roots

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

    @property
    def errors(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == "error")

    @property
    def ok(self) -> bool:
        return not self.errors and not self.unreadable


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
                {"source": i.source, "kind": i.kind, "ok": i.ok, "findings": [f.to_json() for f in i.findings]}
                for i in self.items
            ],
        }


def is_profile_ref(ref: str) -> bool:
    path = Path(ref)
    return path.suffix in PROFILE_SUFFIXES or (path.suffix == "" and not path.exists())


def validate_paths(
    refs: Sequence[str],
    *,
    overrides: Sequence[str] = (),
    templates: Sequence[Path] = (),
    roots: Roots,
    shell: bool = True,
) -> ValidateOutcome:
    from builder.validate.pipeline import validate_kickstart_file

    items: dict[int, ValidatedItem] = {}
    prepared: list[Prepared] = []
    prepared_index = []
    for index, ref in enumerate(refs):
        if is_profile_ref(ref):
            try:
                request = BuildRequest(ref, tuple(overrides), tuple(templates), roots=roots)
                prepared.append(prepare(model(request), request))
                prepared_index.append(index)
            except BadInput as exc:
                findings = exc.findings or (Finding("load", exc.message, Location(ref)),)
                items[index] = ValidatedItem(ref, "profile", tuple(findings), unreadable=True)
        else:
            try:
                report = validate_kickstart_file(Path(ref))
                items[index] = ValidatedItem(ref, "kickstart", report.findings)
            except BadInput as exc:
                findings = exc.findings or (Finding("load", exc.message, Location(ref)),)
                items[index] = ValidatedItem(ref, "kickstart", tuple(findings), unreadable=True)
    for index, result in zip(prepared_index, validate(prepared, shell=shell), strict=True):
        items[index] = ValidatedItem(refs[index], "profile", result.findings)
    return ValidateOutcome(tuple(items[i] for i in range(len(refs))))


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
    from builder.model.profile import Profile

    schema = Profile.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "ksbuild profile"
    return schema
