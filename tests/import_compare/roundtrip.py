"""The round trip as one call: the static comparison of a kickstart with the one rendered from its import
(commands, disks, packages, scripts), plus the files both left after their %post ran, when the caller ran them.

    compare_kickstarts(original, rendered, imported) -> RoundTrip
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from builder.contract import RESERVED_SCRIPT_NAMES, SCRIPT_HEADER
from builder.importer.run import Imported
from builder.validate.kickstart import ParsedKickstart
from builder.validate.sections import ScriptSection
from tests.import_compare.compare import (
    Difference,
    Explainer,
    Reason,
    compare_lists,
    compare_network_lines,
    compare_packages,
    compare_single,
    form,
)
from tests.import_compare.compare_files import Sides, Tree, compare_trees
from tests.import_compare.compare_storage import NAMES as STORAGE_NAMES
from tests.import_compare.compare_storage import compare_storage

# What each of ksbuild's own sections carries, for the scripts only the rendered kickstart has.
_OWN_SECTIONS = {
    "hardware-virt": "virtualization.require_hardware: ksbuild's %pre CPU check",
    "repos": "install.repos: the .repo files (compared as files)",
    "selinux": "system.selinux: /etc/selinux/config (compared as a file)",
    "nested-virt": "virtualization.nested: /etc/modprobe.d/kvm-nested.conf (compared as a file)",
    "network": "network: the ifcfg files (compared as files)",
    "libvirt-network": "virtualization.default_network: remove (compared as files)",
    "storage-pool": "storage.pool",
    "complete": "ksbuild's success marker (/etc/ksbuild/installed and the console line)",
}


@dataclass(frozen=True)
class RoundTrip:
    differences: tuple[Difference, ...]

    @property
    def unexplained(self) -> tuple[Difference, ...]:
        return tuple(d for d in self.differences if not d.explained)

    @property
    def explained(self) -> bool:
        """Nothing differs that the report or ksbuild's conventions do not explain."""
        return not self.unexplained

    @property
    def equivalent(self) -> bool:
        """Explained, and only in form: the installed host is the same."""
        return self.explained and not any(d.effect for d in self.differences)

    def format(self) -> list[str]:
        return [difference.format() for difference in self.differences]


def _rendered_scripts(rendered: ParsedKickstart) -> dict[tuple[str, str], ScriptSection]:
    found = {}
    for script in rendered.scripts:
        match = SCRIPT_HEADER.search(script.body)
        if match is not None:
            found[(match["phase"], match["name"])] = script
    return found


def _kept(imported: Imported) -> dict[int, tuple[str, dict[str, Any]]]:
    """Header line of each original script kept in the profile -> (phase, its profile entry)."""
    kept: dict[int, tuple[str, dict[str, Any]]] = {}
    for entry in imported.report.of("passed"):
        match = re.fullmatch(r"scripts\.(pre|post)\[(\d+)\]", entry.keys[0]) if entry.keys else None
        if match is not None and entry.span.file == imported.report.source:
            item = imported.data["scripts"][match[1]][int(match[2])]
            kept[entry.span.first] = (match[1], item)
    return kept


def compare_scripts(original: ParsedKickstart, rendered: ParsedKickstart, imported: Imported) -> list[Difference]:
    differences = []
    theirs = _rendered_scripts(rendered)
    kept = _kept(imported)
    used: set[tuple[str, str]] = set()
    for script in original.scripts:
        subject = f"%{script.kind} (line {script.header_line})"
        if script.header_line not in kept:
            dropped = next((e for e in imported.report.of("dropped") if e.span.first == script.header_line), None)
            mapped = [e for e in imported.report.of("mapped") if script.header_line <= e.span.first and
                      e.span.first <= script.body_first_line + len(script.body.splitlines())]
            reason = Reason(dropped.reason) if dropped else (
                form("every statement became a key: " + ", ".join(sorted({k for e in mapped for k in e.keys}))
                     + (" (compared as files)" if script.kind == "post" else "")) if mapped else None)
            differences.append(Difference("script", subject, "present", "(became keys)" if mapped else "(none)",
                                          reason))
            continue
        phase, item = kept[script.header_line]
        mine = theirs.get((phase, item["name"]))
        used.add((phase, item["name"]))
        if mine is None:
            differences.append(Difference("script", subject, "present", "(none)", None))
            continue
        if mine.interpreter != script.interpreter or mine.error_on_fail != script.error_on_fail or \
                mine.in_chroot != script.in_chroot:
            differences.append(Difference("script", f"{subject} options",
                                          f"{script.interpreter} erroronfail={script.error_on_fail}",
                                          f"{mine.interpreter} erroronfail={mine.error_on_fail}", None))
        body = item["body"]
        if not mine.body.rstrip("\n").endswith(body.rstrip("\n")):
            differences.append(Difference("script", f"{subject} body", "kept body", "not found in the rendered "
                                          "section", None))
        if body != script.body:
            differences.append(Difference("script", f"{subject} statements", "all", "the rest",
                                          form("the statements that became keys are compared as files")
                                          if script.kind == "post" and script.in_chroot else None))
        if script.log != mine.log:
            differences.append(Difference("script", f"{subject} --log", str(script.log), str(mine.log),
                                          form("ksbuild logs each section to its own file")))
        if mine.interpreter.endswith(("/bash", "/sh")):
            differences.append(Difference("script", f"{subject} wrapper", "as written", "wrapped",
                                          _wrapper_reason(script)))
    for phase, name in sorted(theirs):
        if (phase, name) in used:
            continue
        what = _OWN_SECTIONS.get(name) if name in RESERVED_SCRIPT_NAMES else None
        differences.append(Difference("script", f"%{phase} {name}", "(none)", "present",
                                      form(what) if what else None))
    return differences


_STRICT = re.compile(r"^set -[a-zA-Z]*e[a-zA-Z]*u[a-zA-Z]*( -o pipefail| -o errexit)*|^set -[a-zA-Z]*u[a-zA-Z]*e")


def _wrapper_reason(script: ScriptSection) -> Reason:
    """ksbuild's wrapper only changes the form of a script that already stops at the first error and unset
    variable; of any other it changes what a failure does."""
    first = next((line.strip() for line in script.body.splitlines() if line.strip() and
                  not line.strip().startswith("#")), "")
    text = ("ksbuild's section header, set -Eeuo pipefail (bash) or set -eu (sh), and its failure report on the "
            "console")
    # pipefail matters only for a script with a pipe.
    if _STRICT.match(first) and (script.interpreter.endswith("/sh") or "pipefail" in first or
                                 "|" not in script.body.replace("||", "")):
        return form(text)
    return Reason(text + "; the original did not stop at a failing command or an unset variable")


def compare_kickstarts(original: ParsedKickstart, rendered: ParsedKickstart, imported: Imported, *,
                       trees: tuple[Tree, Tree] | None = None) -> RoundTrip:
    """Every difference between `original` and `rendered` (rendered from `imported`); with `trees` (the files
    each kickstart's %post left in the same starting root), the files too."""
    explain = Explainer(imported.report)
    differences = [
        *compare_single(original, rendered, explain),
        *compare_lists(original, rendered, explain, STORAGE_NAMES),
        *compare_storage(original, rendered, explain),
        *compare_packages(original, rendered, imported.report),
        *compare_network_lines(original, rendered, explain),
        *compare_scripts(original, rendered, imported),
    ]
    if trees is not None:
        differences += compare_trees(trees[0], trees[1], Sides(original, rendered, imported.report))
    return RoundTrip(tuple(differences))
