"""Find a profile, follow its ``extends`` chain, merge it and apply ``--set`` overrides.

``extends`` takes one string (a list of bases is not supported: one chain is easy to follow):

- ``extends: base`` names ``base.yaml`` in the folder of the file that says it, then in each search folder;
- ``extends: ../common/base.yaml`` (any value ending in ``.yaml``/``.yml``, or holding a ``/``) is a path
  relative to the folder of the file that says it (``.yaml`` is added when there is no such suffix).

Chains may be any length; a file that comes back is a cycle, reported with the whole chain.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from builder.errors import BadInput, Finding, Location, cut, shown
from builder.fsutil import NO_SUCH_FILE, path_problem, real_path
from builder.load.merge import Layer
from builder.load.overrides import apply_overrides, parse_override
from builder.load.when_target import ChainLink, has_overlays, merge_chain, split_overlays, target_of
from builder.load.yaml_source import CHECK, YamlDocument, parse_yaml_text, read_text_file
from builder.vocabulary import DEFAULT_ROOTS, KeyPath, Roots, locate_in

PROFILE_SUFFIXES = (".yaml", ".yml")
EXTENDS_KEY = "extends"


@dataclass(frozen=True)
class LoadedProfile:
    """A profile after ``extends`` and ``--set``: plain data and where each value came from."""

    name: str
    path: Path
    data: dict[str, Any]
    locations: Mapping[KeyPath, Location]
    sources: tuple[Path, ...]
    # Where a value without a location of its own is reported: the top file's mapping (the first key's line).
    origin: Location
    # The files of the chain (top first) with their `when_target` overlays, for callers that lay more values
    # over the profile that may change its target (a fleet host's): builder.load.when_target.merge_chain.
    chain: tuple[ChainLink, ...] = ()

    def locate(self, path: KeyPath) -> Location:
        """Where the value at `path` came from, or its nearest located ancestor, or `origin`."""
        return locate_in(self.locations, path, self.origin)


def load_profile(ref: str | Path, *, overrides: Sequence[str] = (), roots: Roots = DEFAULT_ROOTS) -> LoadedProfile:
    """Load the profile `ref`: a file path, or a bare name looked up as ``<dir>/<name>.yaml``.

    Bare names are looked up in `roots.profile_dirs`, in order; `overrides` are ``--set`` texts, applied in order;
    file names in messages are shown relative to `roots.workdir`.

    Raises BadInput with one finding per problem found, each located ``file:line: key``.
    """
    top = _find_top(ref, roots)
    findings: list[Finding] = []
    layers, sources, root = _read_chain(top, roots, findings)
    # Check the --set syntax now too, so one run reports the profile's and the options' problems together.
    for text in overrides:
        try:
            parse_override(text)
        except BadInput as exc:
            findings.extend(exc.findings)
    if findings:
        count = len(findings)
        raise BadInput(f"cannot load profile {roots.display(top)}: {count} problem(s)", findings)

    merged = apply_overrides(merge_chain(layers, None), overrides)
    if has_overlays(layers):
        # The overlays of the target the chain and --set end up with, each laid over its own file.
        merged = apply_overrides(merge_chain(layers, target_of(merged.data)), overrides)
    return LoadedProfile(
        name=top.stem,
        path=top,
        data=merged.data,
        locations=dict(merged.locations),
        sources=tuple(reversed(sources)),
        origin=root or Location(roots.display(top)),
        chain=tuple(layers),
    )


def _absolute(path: Path) -> Path:
    # normpath, not resolve(): keep the names the user wrote (symlinks included) for messages.
    return Path(os.path.normpath(path.absolute()))


def _is_path_ref(ref: str) -> bool:
    return "/" in ref or os.sep in ref or ref.endswith(PROFILE_SUFFIXES)


def _find_top(ref: str | Path, roots: Roots) -> Path:
    if isinstance(ref, Path) or _is_path_ref(ref):
        return _absolute(Path(ref))
    if not ref or ref.startswith("."):
        finding = Finding(CHECK, f"{shown(ref)} is not a profile name or a path to a .yaml file")
        raise BadInput(finding.message, [finding])
    tried = [_absolute(Path(folder) / f"{ref}.yaml") for folder in roots.profile_dirs]
    for candidate in tried:
        problem = path_problem(candidate)
        if problem is None:
            return candidate
        if problem != NO_SUCH_FILE:
            finding = Finding(CHECK, problem, Location(roots.display(candidate)))
            raise BadInput(problem, [finding])
    where = "looked for " + ", ".join(roots.display(c) for c in tried) if tried else "no profile folders given"
    finding = Finding(CHECK, f"no profile named {shown(ref)} ({where})")
    raise BadInput(finding.message, [finding])


def _extends_candidates(value: str, folder: Path, search_dirs: Sequence[Path]) -> list[Path]:
    relative = value if value.endswith(PROFILE_SUFFIXES) else f"{value}.yaml"
    candidates = [_absolute(folder / relative)]
    if not _is_path_ref(value):
        candidates += [_absolute(Path(d) / relative) for d in search_dirs]
    return list(dict.fromkeys(candidates))


_PARSED: dict[tuple[str, str], YamlDocument] = {}
_PARSED_LIMIT = 256


def _parse_cached(text: str, display: str) -> YamlDocument:
    """parse_yaml_text, remembered per text: a fleet of profiles extending one base parses the base once.
    Callers get a deep copy, so nothing they do reaches the cache."""
    key = (display, text)
    document = _PARSED.get(key)
    if document is None:
        document = parse_yaml_text(text, display)
        if len(_PARSED) >= _PARSED_LIMIT:
            _PARSED.pop(next(iter(_PARSED)))
        _PARSED[key] = document
    return copy.deepcopy(document)


def _read_chain(
    top: Path, roots: Roots, findings: list[Finding]
) -> tuple[list[ChainLink], list[Path], Location | None]:
    """Read `top` and the files it extends, top first, and where `top`'s mapping starts; problems go to
    `findings`."""
    root: Location | None = None
    layers: list[ChainLink] = []
    sources: list[Path] = []
    chain: list[tuple[Path, str]] = []  # (real path, display name) of each file read
    current: Path | None = top
    while current is not None:
        display = roots.display(current)
        chain.append((real_path(current), display))
        try:
            text = read_text_file(current, display)
        except BadInput as exc:
            findings.extend(exc.findings)
            break
        document = _parse_cached(text, display)
        findings.extend(document.findings)
        if document.data is None:
            break
        sources.append(current)
        if root is None:
            root = document.root
        data: dict[str, Any] = dict(document.data)
        extends = data.pop(EXTENDS_KEY, None)
        locations = {p: loc for p, loc in document.locations.items() if p[:1] != (EXTENDS_KEY,)}
        layers.append(split_overlays(Layer(data, locations), display, findings))
        if extends is None:
            break
        where = document.locations.get((EXTENDS_KEY,), Location(display))
        current = _follow_extends(
            extends, current, where, roots=roots, chain=chain, findings=findings
        )
    return layers, sources, root


def _follow_extends(
    extends: Any,
    current: Path,
    where: Location,
    *,
    roots: Roots,
    chain: list[tuple[Path, str]],
    findings: list[Finding],
) -> Path | None:
    """The file `extends` names, or None after recording why it cannot be followed."""

    def problem(message: str) -> None:
        findings.append(Finding(CHECK, message, where, EXTENDS_KEY))

    if isinstance(extends, list):
        problem("takes one profile name or path; a list of profiles is not supported")
        return None
    if not isinstance(extends, str) or not extends.strip():
        problem("must be a profile name (base) or a relative path (../common/base.yaml)")
        return None
    candidates = _extends_candidates(extends, current.parent, roots.profile_dirs)
    target = None
    for candidate in candidates:
        unreadable = path_problem(candidate)
        if unreadable is None:
            target = candidate
            break
        if unreadable != NO_SUCH_FILE:
            # A symlink loop or a name too long: said here, at the line that names the file.
            problem(f"profile {shown(extends)}: {cut(roots.display(candidate))} {unreadable}")
            return None
    if target is None:
        looked = ", ".join(cut(roots.display(c), 200) for c in candidates)
        problem(f"profile {shown(extends)} not found (looked for {looked})")
        return None
    real = real_path(target)
    if any(real == seen for seen, _ in chain):
        names = [name for _, name in chain] + [roots.display(target)]
        problem("cycle: " + " -> ".join(names))
        return None
    return target
