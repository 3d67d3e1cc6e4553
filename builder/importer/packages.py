"""%packages → `packages:`. pykickstart keeps no line numbers for package entries, so the section is read here
from the files the parser read, each entry at its own line.

Decisions: `@^env` is the environment, `@group` a group, `-name` an exclusion, anything else a package name or
glob. Header options (--nobase, --ignoremissing, --excludedocs ...), group options (--optional, --nodefaults) and
excluded groups (`-@group`) have no key and are reported as not carried. A name the profile's package rules
refuse (a leading `*`) is reported, not carried: a profile would not load with it. With no `@core` in the
section the profile lists no groups (anaconda installs core anyway).
"""

from __future__ import annotations

import shlex

from pydantic import TypeAdapter, ValidationError

from builder.errors import Location
from builder.importer.context import ImportContext
from builder.model.types import GroupName, PackageName
from builder.vocabulary import KeyPath

_PACKAGE = TypeAdapter(PackageName)
_GROUP = TypeAdapter(GroupName)


def _valid(adapter: TypeAdapter[str], value: str) -> str | None:
    """None when valid, else the model's message."""
    try:
        adapter.validate_python(value)
    except ValidationError as exc:
        return str(exc.errors()[0]["msg"]).removeprefix("Value error, ")
    return None


def _sections(text: str) -> list[tuple[int, str, list[tuple[int, str]]]]:
    """(header line, header text, [(line, entry)]) of each %packages section."""
    found = []
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        words = lines[index].split()
        index += 1
        if words[:1] != ["%packages"]:
            continue
        header = (index, lines[index - 1].strip())
        body: list[tuple[int, str]] = []
        while index < len(lines) and lines[index].split()[:1] != ["%end"]:
            entry = lines[index].strip()
            if entry and not entry.startswith("#"):
                body.append((index + 1, entry))
            index += 1
        index += 1
        found.append((header[0], header[1], body))
    return found


def map_packages(ctx: ImportContext) -> None:
    groups: list[str] = []
    install: list[str] = []
    exclude: list[str] = []
    environment: str | None = None
    any_section = False
    origin: Location | None = None
    for file, text in ctx.parsed.files:
        for header_line, header, body in _sections(text):
            any_section = True
            origin = origin or Location(file, header_line)
            for word in shlex.split(header, comments=True)[1:]:
                ctx.ledger.dropped(Location(file, header_line), f"%packages {word}",
                                   f"no profile key for %packages {word.split('=', 1)[0]}")
            for line, entry in body:
                location = Location(file, line)
                words = entry.split()
                name = words[0]
                key: KeyPath
                if name.startswith("@^"):
                    environment = name[2:]
                    key = ("packages", "environment")
                    problem = _valid(_GROUP, environment)
                elif name.startswith("-@"):
                    ctx.ledger.dropped(location, entry, "no profile key for excluding a group", lines=1)
                    continue
                elif name.startswith("@"):
                    problem = _valid(_GROUP, name[1:])
                    if problem is None:
                        groups.append(name[1:])
                    key = ("packages", "groups", len(groups) - 1)
                elif name.startswith("-"):
                    problem = _valid(_PACKAGE, name[1:])
                    if problem is None:
                        exclude.append(name[1:])
                    key = ("packages", "exclude", len(exclude) - 1)
                else:
                    problem = _valid(_PACKAGE, name)
                    if problem is None:
                        install.append(name)
                    key = ("packages", "install", len(install) - 1)
                if problem is not None:
                    ctx.ledger.dropped(location, entry, f"the profile refuses it: {problem}", lines=1)
                    continue
                ctx.draft.origins[key] = location
                ctx.ledger.mapped(location, entry, [key])
                if len(words) > 1:
                    ctx.ledger.dropped(location, " ".join(words[1:]), "no profile key for group options")
    if not any_section:
        return
    assert origin is not None
    ctx.draft.set(("packages", "groups"), groups, origin)
    if environment is not None:
        ctx.draft.set(("packages", "environment"), environment, origin)
    if install:
        ctx.draft.set(("packages", "install"), install, origin)
    if exclude:
        ctx.draft.set(("packages", "exclude"), exclude, origin)
