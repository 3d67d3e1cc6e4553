"""The round trip as a test helper: import a kickstart, render the profile, and compare the two kickstarts,
including what their %post scripts leave when both run in the sandbox (tests/sandbox.py) from the same start.

The start is a CentOS-shaped root with the files %post scripts edit (builder.importer.system_files) and, for each
kickstart, the ifcfg files anaconda writes for its own `network` lines (builder.importer.ifcfg), as anaconda
would have left them before %post.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from builder.importer import Imported, import_kickstart
from builder.importer.ifcfg import IFCFG_DIR, anaconda_ifcfg, render_ifcfg
from builder.importer.roundtrip import RoundTrip, compare_kickstarts
from builder.importer.scripts import SHELLS
from builder.importer.system_files import SYSTEM_FILES
from builder.importer.yaml_out import ordered
from builder.validate.kickstart import ParsedKickstart, parse_kickstart
from tests.sandbox import ScriptRun, console, make_root, run_post_scripts

# Sandbox content that is the same in both roots and no script of a kickstart writes.
_STATIC = ("bin/", "sbin/", "usr/", "lib/", "lib64/", "dev/", "proc/", "etc/ld.so")


@dataclass(frozen=True)
class Trip:
    imported: Imported
    profile: Path
    rendered_text: str
    result: RoundTrip
    runs: tuple[list[ScriptRun], list[ScriptRun]]


def _root(path: Path, parsed: ParsedKickstart) -> Path:
    root = make_root(path)
    for file, text in SYSTEM_FILES.items():
        target = root / file.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    (root / "etc/sysconfig").mkdir(parents=True, exist_ok=True)
    (root / "etc/sysconfig/selinux").symlink_to("../selinux/config")
    for device, entries in anaconda_ifcfg([c.data for c in parsed.lines("network")]).items():
        (root / IFCFG_DIR.lstrip("/") / f"ifcfg-{device}").write_text(render_ifcfg(entries))
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


def round_trip(kickstart: Path, work: Path, *, rootpw_hash: str | None = None) -> Trip:
    """Import `kickstart`, write and render the profile, run both kickstarts' %post, compare everything."""
    import yaml

    from builder.importer import profile_text
    from builder.model.profile import Profile
    from builder.pipeline import build

    text = kickstart.read_text()
    imported = import_kickstart(text, str(kickstart), path=kickstart, rootpw_hash=rootpw_hash)
    profile = work / f"{kickstart.stem}.yaml"
    written = profile_text(imported, text)
    profile.write_text(written.text)
    assert yaml.safe_load(written.text) == ordered(imported.data, Profile)
    result = build(profile, shell=False)
    assert result.ok, [f.format() for f in result.errors]
    original = parse_kickstart(text, str(kickstart), path=kickstart)
    rendered = parse_kickstart(result.kickstart.text, "rendered.cfg")
    root_a = _root(work / "original", original)
    root_b = _root(work / "rendered", rendered)
    runs = (_run(root_a, original), _run(root_b, rendered))
    for side in runs:
        failed = [run for run in side if run.returncode != 0]
        assert not failed, [(run.name, run.log) for run in failed]
    compared = compare_kickstarts(original, rendered, imported, trees=(tree(root_a), tree(root_b)))
    return Trip(imported, profile, result.kickstart.text, compared, runs)
