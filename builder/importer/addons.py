"""%addon sections → `addons:`: anaconda's kdump addon becomes `addons.kdump`, any other addon `addons.extra`
with its header options and body as written. pykickstart keeps no line numbers for them, so the sections are read
here from the files the parser read.
"""

from __future__ import annotations

import shlex

from builder.errors import Location
from builder.importer.context import ImportContext
from builder.vocabulary import KeyPath

KDUMP = "com_redhat_kdump"


def _sections(text: str) -> list[tuple[int, int, list[str], str]]:
    """(header line, end line, header words, body) of each %addon section."""
    found = []
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        header = lines[index]
        index += 1
        if header.split()[:1] != ["%addon"]:
            continue
        start = index
        while index < len(lines) and lines[index].split()[:1] != ["%end"]:
            index += 1
        try:
            words = shlex.split(header, comments=True)
        except ValueError:
            words = header.split()
        found.append((start, index + 1, words[1:], "".join(f"{line}\n" for line in lines[start:index])))
        index += 1
    return found


def map_addons(ctx: ImportContext) -> None:
    for file, text in ctx.parsed.files:
        for header_line, _end, words, body in _sections(text):
            location = Location(file, header_line)
            if not words:
                ctx.ledger.dropped(location, "%addon", "an %addon without a name", lines=1)
                continue
            name, args = words[0], words[1:]
            if name == KDUMP:
                _kdump(ctx, location, args, body)
                continue
            entry: dict[str, object] = {"name": name}
            if args:
                entry["args"] = args
            if body.strip():
                entry["body"] = body
            index = ctx.draft.append(("addons", "extra"), entry, location)
            counted = 1 + sum(1 for line in body.splitlines() if line.strip() and not line.strip().startswith("#"))
            ctx.ledger.mapped(location, f"%addon {name}", [("addons", "extra", index)], lines=counted)


def _kdump(ctx: ImportContext, location: Location, args: list[str], body: str) -> None:
    kdump: dict[str, object] = {}
    keys: list[KeyPath] = [("addons", "kdump")]
    for arg in args:
        name, _, value = arg.partition("=")
        if name == "--enable":
            kdump["enabled"] = True
        elif name == "--disable":
            kdump["enabled"] = False
        elif name == "--reserve-mb" and value:
            reserve = value.rstrip("M")
            kdump["reserve_mb"] = int(reserve) if reserve.isascii() and reserve.isdigit() else reserve
        else:
            ctx.ledger.dropped(location, f"%addon {KDUMP} {arg}", f"no profile key for the kdump addon's {name}")
    if body.strip():
        ctx.ledger.dropped(location, f"%addon {KDUMP} body", "the kdump addon takes no body lines here")
    # The addon's header defaults to --enable (kdump-anaconda-addon, ks/kdump.py).
    kdump.setdefault("enabled", True)
    if "reserve_mb" not in kdump:
        ctx.ledger.note(location, f"%addon {KDUMP}", "no --reserve-mb: ksbuild writes --reserve-mb=auto (the "
                        "addon's own default depends on its version)", [("addons", "kdump", "reserve_mb")])
    ctx.draft.set(("addons", "kdump"), kdump, location)
    ctx.kdump = bool(kdump["enabled"])
    ctx.ledger.mapped(location, f"%addon {KDUMP} {' '.join(args)}".strip(), keys)
