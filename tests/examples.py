"""The example profiles (profiles/examples): their golden renders and their %post scripts run in the sandbox."""

from __future__ import annotations

from pathlib import Path

from builder.pipeline import build
from tests.helpers import SHIPPED_PROFILES
from tests.sandbox import run_profile_posts

EXAMPLES = SHIPPED_PROFILES / "examples"
GOLDEN = Path(__file__).parent / "golden" / "kickstarts" / "examples"


def check_golden(name: str, regen: bool) -> str:
    result = build(EXAMPLES / f"{name}.yaml")
    assert [f.format() for f in result.findings] == []
    golden = GOLDEN / f"{name}.ks.cfg"
    if regen:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(result.kickstart.text)
    assert result.kickstart.text == golden.read_text(), f"render of {name} changed; review and run pytest --regen"
    return result.kickstart.text


def install_example(name: str, root: Path) -> None:
    """Run the example's %post scripts in the sandbox `root`; every one must succeed and the last line be the
    success marker."""
    lines, runs = run_profile_posts(EXAMPLES / f"{name}.yaml", root)
    assert [r.returncode for r in runs] == [0] * len(runs), [r.log for r in runs]
    assert lines[-1] == f"KSBUILD-STATUS: install-complete profile={name}"
