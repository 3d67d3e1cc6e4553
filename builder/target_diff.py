"""`ksbuild diff PROFILE --target A --target B`: what changes in the kickstart between two targets, section by
section, each change with its reason.

Both kickstarts are built through the pipeline (checks and validation included: a target the profile cannot be
rendered for stops the diff with its findings). Each is split by structure, not text: the command lines, %packages,
each %pre/%post by its ksbuild name (user scripts too), each %addon; inside a script, every file it writes with a
here-document is compared by path. A change's reasons are the catalogue's facts (builder.targets) that differ
between the targets and shape that part of the kickstart, and the profile values that differ (a `when_target`
entry), with the line that set them. Password hashes and secrets are never printed.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from builder import targets
from builder.contract import SCRIPT_HEADER
from builder.errors import BadInput, ChecksFailed
from builder.pipeline import BuildRequest, BuildResult, run
from builder.render.quoting import HEREDOC_END
from builder.vocabulary import TEMPLATE_COMMANDS, KeyPath, format_key

_HEREDOC = re.compile(rf"^cat > (?P<path>\S+) <<'{HEREDOC_END}'$")
_CHMOD = re.compile(r"^chmod (?P<mode>[0-7]{3,4}) (?P<path>\S+)$")
_CRYPT = re.compile(r"\$(1|5|6|y|2[abxy]?)\$[^\s'\"]+")
_SECTION = re.compile(r"^%(?P<kind>pre-install|pre|post|packages|addon|onerror|traceback|anaconda)\b")

# The profile keys behind each ksbuild section (beyond its command lines, which vocabulary.TEMPLATE_COMMANDS maps).
SECTION_KEYS: dict[str, tuple[KeyPath, ...]] = {
    "%packages": (("packages",),),
    "%post repos": (("install", "repos"),),
    "%post selinux": (("system", "selinux"),),
    "%post nested-virt": (("virtualization",),),
    "%post network": (("network",), ("system", "services", "disabled")),
    "%post libvirt-network": (("virtualization", "default_network"),),
    "%post storage-pool": (("storage", "pool"),),
}

Status = Literal["changed", "added", "removed"]


@dataclass(frozen=True)
class FileChange:
    path: str
    status: Status
    mode_a: str | None = None
    mode_b: str | None = None
    diff: tuple[str, ...] = ()  # unified diff of the contents when both sides write it; an added file's lines


@dataclass(frozen=True)
class Change:
    """Lines of one part (a command keyword, %packages, a script) removed and added, and why."""

    part: str
    removed: tuple[str, ...] = ()
    added: tuple[str, ...] = ()
    files: tuple[FileChange, ...] = ()
    why: tuple[str, ...] = ()


@dataclass(frozen=True)
class SectionDiff:
    section: str
    status: Status
    changes: tuple[Change, ...]


@dataclass(frozen=True)
class TargetDiff:
    profile: str
    a: str
    b: str
    sections: tuple[SectionDiff, ...]
    unchanged: tuple[str, ...]

    def to_json(self) -> dict[str, object]:
        return {
            "profile": self.profile, "a": self.a, "b": self.b, "unchanged": list(self.unchanged),
            "sections": [
                {"section": s.section, "status": s.status, "changes": [
                    {"part": c.part, "removed": list(c.removed), "added": list(c.added), "why": list(c.why),
                     "files": [{"path": f.path, "status": f.status, "mode_a": f.mode_a, "mode_b": f.mode_b,
                                "diff": list(f.diff)} for f in c.files]}
                    for c in s.changes]}
                for s in self.sections
            ],
        }

    def format(self) -> str:
        lines = [f"ksbuild diff {self.profile}: {self.a} -> {self.b}"]
        for section in self.sections:
            lines.append(f"== {section.section} =={'' if section.status == 'changed' else f' ({section.status})'}")
            for change in section.changes:
                lines += [f"- {text}" for text in change.removed] + [f"+ {text}" for text in change.added]
                for file in change.files:
                    lines += _file_lines(file)
                lines += [f"    why: {reason}" for reason in change.why]
        if self.unchanged:
            lines.append("== unchanged: " + ", ".join(self.unchanged))
        return "\n".join(lines) + "\n"


def _file_lines(file: FileChange) -> list[str]:
    mode = f" ({file.mode_b or file.mode_a})" if file.mode_a == file.mode_b or file.status != "changed" else \
        f" (mode {file.mode_a} -> {file.mode_b})"
    sign = {"added": "+ file", "removed": "- file", "changed": "~ file"}[file.status]
    return [f"{sign} {file.path}{mode}", *(f"    {line}" for line in file.diff)]


# -- splitting a kickstart --------------------------------------------------------------------------------------


@dataclass
class _Section:
    name: str
    lines: list[str] = field(default_factory=list)
    files: dict[str, tuple[str | None, tuple[str, ...]]] = field(default_factory=dict)


def split_kickstart(text: str) -> list[_Section]:
    """The kickstart's parts in order: "commands" (command lines), "%packages", and each script or addon by name;
    in a script, the files it writes with a here-document apart from its other lines. Comments are dropped."""
    commands = _Section("commands")
    sections = [commands]
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        match = _SECTION.match(line)
        if match is None:
            if line.strip() and not line.lstrip().startswith("#"):
                commands.lines.append(line)
            continue
        end = next((n for n in range(index, len(lines)) if lines[n].strip() == "%end"), len(lines))
        body = lines[index:end]
        index = end + 1
        sections.append(_script_section(match["kind"], line, body, len(sections)))
    return sections


def _script_section(kind: str, header: str, body: list[str], number: int) -> _Section:
    if kind == "packages":
        return _Section("%packages", [header, *(line for line in body if line.strip())])
    if kind == "addon":
        return _Section(f"%addon {header.split()[1] if len(header.split()) > 1 else number}", [header, *body])
    named = SCRIPT_HEADER.search("\n".join(body))
    section = _Section(f"%{kind} {named['name']}" if named else f"%{kind} #{number}", [header])
    index = 0
    while index < len(body):
        line = body[index]
        index += 1
        heredoc = _HEREDOC.match(line)
        if heredoc is None:
            if line.strip() and not line.lstrip().startswith("#"):
                section.lines.append(line)
            continue
        end = next((n for n in range(index, len(body)) if body[n] == HEREDOC_END), len(body))
        content = tuple(body[index:end])
        index = end + 1
        chmod = _CHMOD.match(body[index]) if index < len(body) else None
        mode = None
        if chmod is not None and chmod["path"] == heredoc["path"]:
            mode, index = chmod["mode"], index + 1
        section.files[heredoc["path"]] = (mode, content)
    return section


# -- comparing --------------------------------------------------------------------------------------------------


def _masked(text: str, secrets: Sequence[str]) -> str:
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, "<secret>")
    return _CRYPT.sub("<hash>", text)


def _value(data: Any, path: KeyPath) -> Any:
    for part in path:
        if isinstance(data, dict) and isinstance(part, str):
            data = data.get(part)
        elif isinstance(data, list) and isinstance(part, int) and part < len(data):
            data = data[part]
        else:
            return None
    return data


class _Reasons:
    def __init__(self, a: BuildResult, b: BuildResult) -> None:
        self.a, self.b = a, b
        self.facts = targets.differences(targets.target(a.profile.target), targets.target(b.profile.target))

    def for_part(self, shape: str, keys: Sequence[KeyPath], lines: Sequence[str]) -> tuple[str, ...]:
        """The facts that shape this part and show in its changed `lines`, then the profile values behind it that
        differ between the two (each with where it was set for each target)."""
        why = [f"{c.note.reason} [{c.note.source}]" for c in self.facts if shape in c.note.shapes
               and c.shows_in(lines)]
        a, b = self.a.profile.target, self.b.profile.target
        for key in keys:
            if _value(self.a.loaded.data, key) != _value(self.b.loaded.data, key):
                why.append(f"the profile sets {format_key(key)} per target ({a}: {self.a.loaded.locate(key)}; "
                           f"{b}: {self.b.loaded.locate(key)})")
        return tuple(why) or ("no fact in the catalogue names this part: a template difference",)


def _line_diff(a: Sequence[str], b: Sequence[str]) -> tuple[list[str], list[str]]:
    removed: list[str] = []
    added: list[str] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if tag in ("delete", "replace"):
            removed += a[i1:i2]
        if tag in ("insert", "replace"):
            added += b[j1:j2]
    return removed, added


def _keyword(line: str) -> str:
    return line.split(maxsplit=1)[0] if line.strip() else line


def _command_changes(a: _Section, b: _Section, reasons: _Reasons) -> Iterator[Change]:
    removed, added = _line_diff(a.lines, b.lines)
    for keyword in dict.fromkeys(_keyword(line) for line in (*removed, *added)):
        key = TEMPLATE_COMMANDS.get(keyword)
        gone = tuple(x for x in removed if _keyword(x) == keyword)
        new = tuple(x for x in added if _keyword(x) == keyword)
        yield Change(keyword, gone, new, why=reasons.for_part(f"command:{keyword}", (key,) if key else (),
                                                               (*gone, *new)))


def _files(a: _Section, b: _Section) -> tuple[FileChange, ...]:
    changes = []
    for path in dict.fromkeys([*a.files, *b.files]):
        if path not in b.files:
            changes.append(FileChange(path, "removed", mode_a=a.files[path][0]))
        elif path not in a.files:
            changes.append(FileChange(path, "added", mode_b=b.files[path][0],
                                      diff=tuple(f"+{line}" for line in b.files[path][1])))
        elif a.files[path] != b.files[path]:
            (mode_a, text_a), (mode_b, text_b) = a.files[path], b.files[path]
            diff = tuple(difflib.unified_diff(text_a, text_b, lineterm="", n=1))[2:]
            changes.append(FileChange(path, "changed", mode_a, mode_b, diff))
    return tuple(changes)


def compare_kickstarts(a: BuildResult, b: BuildResult, secrets: Sequence[str] = ()) -> TargetDiff:
    """The section-by-section difference of two rendered kickstarts of one profile."""
    side_a = {s.name: s for s in split_kickstart(_masked(a.kickstart.text, secrets))}
    side_b = {s.name: s for s in split_kickstart(_masked(b.kickstart.text, secrets))}
    reasons = _Reasons(a, b)
    sections: list[SectionDiff] = []
    unchanged: list[str] = []
    for name in dict.fromkeys([*side_a, *side_b]):
        keys = SECTION_KEYS.get(name, (("scripts",),) if name.startswith(("%pre ", "%post ")) else ())
        empty = _Section(name)
        one, other = side_a.get(name, empty), side_b.get(name, empty)
        if name == "commands":
            changes = tuple(_command_changes(one, other, reasons))
        else:
            if name not in side_a or name not in side_b:
                # A whole section in or out: its header and its files say it; its body is ksbuild's preamble.
                one, other = _Section(name, one.lines[:1], one.files), _Section(name, other.lines[:1], other.files)
            removed, added = _line_diff(one.lines, other.lines)
            files = _files(one, other)
            shown = [*removed, *added, *(line for f in files for line in (f.path, *f.diff))]
            changes = (Change(name, tuple(removed), tuple(added), files, reasons.for_part(name, keys, shown)),) \
                if removed or added or files else ()
        if not changes:
            unchanged.append(name)
            continue
        status: Status = "removed" if name not in side_b else "added" if name not in side_a else "changed"
        sections.append(SectionDiff(name, status, changes))
    return TargetDiff(a.name, a.profile.target, b.profile.target, tuple(sections), tuple(unchanged))


def diff_targets(request: BuildRequest, a: str, b: str) -> TargetDiff:
    """Build `request`'s profile for targets `a` and `b` (names or aliases) and compare the kickstarts. Raises
    ChecksFailed, with the findings, when either does not render without errors."""
    for name in (a, b):
        try:
            targets.alias(name)
        except targets.UnknownTarget as exc:
            raise BadInput(f"--target: {exc}") from None
    results = []
    for name in (a, b):
        built = run(BuildRequest(request.source, (*request.overrides, f"target={name}"), request.templates,
                                 request.variant, request.roots))
        if not built.ok:
            raise ChecksFailed(f"the {name} kickstart does not render: {len(built.errors)} error(s)", built.findings)
        results.append(built)
    # The values each kickstart was rendered with: reading the files again could give others (a file replaced
    # meanwhile) and leave the rendered ones unmasked.
    secrets = [value for result in results for value in result.secrets.values.values() if value]
    return compare_kickstarts(results[0], results[1], secrets)
