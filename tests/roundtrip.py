"""The round trip as a test helper: import a kickstart, render the profile, and compare the two kickstarts,
including what their %post scripts leave when both run in the sandbox (tests/sandbox.py) from the same start.

The start is a CentOS-shaped root with the files %post scripts edit (builder.importer.system_files) and, for each
kickstart, the ifcfg files anaconda writes for its own `network` lines (builder.importer.ifcfg), as anaconda
would have left them before %post.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from builder.importer import Imported, import_kickstart
from builder.importer.scripts import SHELLS
from builder.importer.yaml_out import ordered
from builder.validate.kickstart import ParsedKickstart, parse_kickstart
from tests.import_compare.anaconda import installed_files
from tests.import_compare.compare import Difference, form
from tests.import_compare.roundtrip import RoundTrip, compare_kickstarts
from tests.sandbox import STANDIN, ScriptRun, _copy_with_libs, console, make_root, run_post_scripts

# Tools the corpus's scripts call that the sandbox does not have (tests/sandbox.py has systemctl, yum, virsh ...).
STANDINS = ("chkconfig", "imgbase", "setenforce")
# Sandbox content that is the same in both roots and no script of a kickstart writes.
_STATIC = ("bin/", "sbin/", "usr/", "lib/", "lib64/", "dev/", "proc/", "etc/ld.so")


class ProfileInvalid(Exception):
    """The imported profile does not render cleanly (`ksbuild import` refuses to write it then)."""


@dataclass(frozen=True)
class Trip:
    imported: Imported
    profile: Path
    rendered_text: str
    result: RoundTrip
    runs: tuple[list[ScriptRun], list[ScriptRun]]


def _root(path: Path, parsed: ParsedKickstart, nic_names: Mapping[str, str] | None = None) -> Path:
    root = make_root(path)
    # CentOS's sed (GNU: --follow-symlinks), /etc/sysctl.d, and recording stand-ins for more CentOS tools.
    (root / "bin/sed").unlink()
    _copy_with_libs(Path("/bin/sed"), root)
    for name in STANDINS:
        standin = root / "usr/sbin" / name
        standin.write_text(STANDIN.format(name=name))
        standin.chmod(0o755)
    (root / "etc/sysctl.d").mkdir(parents=True, exist_ok=True)
    (root / "etc/sysconfig/selinux").symlink_to("../selinux/config")
    for file, text in installed_files(parsed, nic_names).items():
        target = root / file.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    return root


def tree(root: Path) -> dict[str, tuple[int, bytes]]:
    """Every regular file a kickstart's scripts could have written, with its mode and content."""
    found = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        if path.is_symlink() or not path.is_file() or relative.startswith(_STATIC) or "/tmp/ks-script-" in \
                f"/{relative}":
            continue
        found[f"/{relative}"] = (path.stat().st_mode & 0o7777, path.read_bytes())
    return found


def _run(root: Path, parsed: ParsedKickstart) -> list[ScriptRun]:
    # The sandbox has shells only; other interpreters' scripts are compared as text (they are kept as written).
    shells = tuple(s for s in parsed.scripts if s.interpreter in SHELLS)
    with console(root):
        return run_post_scripts(root, shells)


def round_trip(kickstart: Path, work: Path, *, rootpw_hash: str | None = None,
               nic_names: Mapping[str, str] | None = None) -> Trip:
    """Import `kickstart`, write and render the profile, run both kickstarts' %post, compare everything."""
    import yaml

    from builder.importer import profile_text
    from builder.model.profile import Profile
    from builder.pipeline import build

    text = kickstart.read_text()
    imported = import_kickstart(text, str(kickstart), path=kickstart, rootpw_hash=rootpw_hash, nic_names=nic_names)
    profile = work / f"{kickstart.stem}.yaml"
    written = profile_text(imported, text)
    profile.write_text(written.text)
    assert yaml.safe_load(written.text) == ordered(imported.data, Profile)
    result = build(profile, shell=False)
    if not result.ok:
        raise ProfileInvalid([f.format() for f in result.errors])
    original = parse_kickstart(text, str(kickstart), path=kickstart)
    rendered = parse_kickstart(result.kickstart.text, "rendered.cfg")
    # The NIC a `--device=<MAC>` line names has, on the installed host, the name the user gave the import.
    root_a = _root(work / "original", original, nic_names)
    root_b = _root(work / "rendered", rendered, nic_names)
    runs = (_run(root_a, original), _run(root_b, rendered))
    compared = compare_kickstarts(original, rendered, imported, trees=(tree(root_a), tree(root_b)))
    failures = tuple([_failure(run.log) for run in side if run.returncode != 0] for side in runs)
    if any(failures):
        # A script that fails in the sandbox (a tool CentOS has and busybox lacks) must fail alike on both sides.
        same = failures[0] == failures[1]
        compared = RoundTrip((*compared.differences, Difference(
            "sandbox", "failing scripts", "; ".join(failures[0]) or "(none)", "; ".join(failures[1]) or "(none)",
            form("the same script fails the same way in the sandbox on both sides") if same else None)))
    return Trip(imported, profile, result.kickstart.text, compared, runs)


def _failure(log: str) -> str:
    """A failed script's own output, without ksbuild's wrapper lines, the script's file name or its line numbers
    (the wrapper adds lines above the body)."""
    lines = [re.sub(r"^/tmp/ks-script-\d+: line \d+: ", "", line) for line in log.splitlines()]
    return " / ".join(line for line in lines if line.strip() and "KSBUILD" not in line)[:300]
