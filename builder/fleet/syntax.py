"""The real syntax checkers, run on the boot files a fleet render is about to write: `grub-script-check`
(Debian's grub-common) on every GRUB entry, `dnsmasq --test` on the dnsmasq snippet, in a configuration of its
own that includes it (--test reads a whole configuration, not a snippet).

pxelinux and iPXE have no checker: their entries are valid by construction. Every value in them is validated
where the user gives it (a boot URL at pxe.server, pxe.repo or install.source.url, a TFTP path, a kernel
argument), and the rest (hostnames, MACs, install tokens) are plain words by their own rules.

A checker that is not installed is said in a note, and the render goes on without it.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Sequence
from pathlib import Path

from builder.errors import Finding, Location, ToolMissing
from builder.proc import find_tool, run

CHECK = "pxe"
GRUB_CHECKER = "grub-script-check"
DNSMASQ = "dnsmasq"
_GRUB_LINE = re.compile(r"Syntax error at line (\d+)")
_DNSMASQ_ERROR = re.compile(r"dnsmasq: (?P<message>.*?) at line (?P<line>\d+) of (?P<file>\S+)")
_TIMEOUT_S = 60


def available(tool: str) -> bool:
    try:
        find_tool(tool)
    except ToolMissing:
        return False
    return True


def missing_checkers(*, grub: bool, dnsmasq: bool) -> list[str]:
    """Notes for the checkers that cannot run here."""
    notes = []
    if grub and not available(GRUB_CHECKER):
        notes.append(f"{GRUB_CHECKER} not found (Debian's grub-common): the GRUB entries were not syntax-checked")
    if dnsmasq and not available(DNSMASQ):
        notes.append(f"{DNSMASQ} not found (Debian's dnsmasq-base): dnsmasq.conf was not checked with dnsmasq --test")
    return notes


def grub_problems(files: Sequence[tuple[str, str, bytes]]) -> list[Finding]:
    """A finding for each GRUB file (tree path, which version of it, content) that grub-script-check refuses, at
    the line it names."""
    findings = []
    with tempfile.TemporaryDirectory(prefix="ksbuild-grub-") as tmp:
        for number, (path, version, content) in enumerate(files):
            script = Path(tmp) / f"{number}.cfg"
            script.write_bytes(content)
            result = run([GRUB_CHECKER, str(script)], check=False, timeout=_TIMEOUT_S)
            if result.returncode != 0:
                found = _GRUB_LINE.search(result.stderr + result.stdout)
                line = int(found.group(1)) if found else 1
                message = f"grub-script-check: syntax error in the {version} entry (GRUB would not run it as written)"
                findings.append(Finding(CHECK, message, Location(path, line)))
    return findings


def dnsmasq_problems(snippet: bytes, path: str) -> list[Finding]:
    """A finding when `dnsmasq --test` refuses the snippet (written to the tree at `path`), at the line it names."""
    with tempfile.TemporaryDirectory(prefix="ksbuild-dnsmasq-") as tmp:
        included = Path(tmp) / "snippet.conf"
        included.write_bytes(snippet)
        # port=0: no DNS, so --test needs nothing of this machine beyond the snippet's own options.
        whole = Path(tmp) / "dnsmasq.conf"
        whole.write_text(f"port=0\nconf-file={included}\n")
        result = run([DNSMASQ, "--test", "-C", str(whole)], check=False, timeout=_TIMEOUT_S)
    if result.returncode == 0:
        return []
    said = (result.stderr + result.stdout).strip()
    found = _DNSMASQ_ERROR.search(said)
    line = int(found["line"]) if found and found["file"] == str(included) else 1
    message = found["message"] if found else (said.splitlines() or ["refused"])[-1]
    return [Finding(CHECK, f"dnsmasq --test: {message}", Location(path, line))]
