"""Output files: where they go, their modes, determinism, atomicity, and the manifest a user audits."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from builder.commands import RenderOutcome, render_profile
from builder.emit.output import build_manifest, emit_kickstart
from builder.errors import ChecksFailed
from builder.pipeline import BuildRequest
from builder.vocabulary import Roots
from tests.helpers import MINIMAL, SHIPPED_PROFILES, write


@pytest.fixture
def in_tmp(tmp_path: Path) -> Path:
    return tmp_path


def render(in_tmp: Path, profile: Path, output_dir: Path | None = None) -> RenderOutcome:
    """`ksbuild render PROFILE` as run in `in_tmp`: output under in_tmp/output/."""
    return render_profile(BuildRequest(profile, roots=Roots.under(in_tmp)), output_dir=output_dir)


def test_render_writes_kickstart_0600_and_manifest(in_tmp: Path) -> None:
    outcome = render(in_tmp, SHIPPED_PROFILES / "kvm-hypervisor.yaml")
    kickstart = in_tmp / "output/kvm-hypervisor/ks.cfg"
    assert outcome.files.kickstart == kickstart
    assert stat.S_IMODE(kickstart.stat().st_mode) == 0o600
    manifest = json.loads((in_tmp / "output/kvm-hypervisor/manifest.json").read_text())
    assert manifest["outputs"]["ks.cfg"]["sha256"] == hashlib.sha256(kickstart.read_bytes()).hexdigest()
    inputs = {Path(i["path"]).name: i["sha256"] for i in manifest["inputs"]}
    for name in ("base.yaml", "kvm-hypervisor.yaml"):
        assert inputs[name] == hashlib.sha256((SHIPPED_PROFILES / name).read_bytes()).hexdigest()
    templates = {t["name"] for t in manifest["templates"]}
    assert {"ks.cfg.j2", "macros.j2", "snippets/post-network.j2"} <= templates
    assert manifest["pykickstart_version"] == "3.78"
    assert "ksbuild-lab" not in kickstart.read_text()  # the plaintext never appears; only its hash


def test_rerender_is_byte_identical(in_tmp: Path) -> None:
    render(in_tmp, SHIPPED_PROFILES / "kvm-hypervisor.yaml")
    first = {p.name: p.read_bytes() for p in (in_tmp / "output/kvm-hypervisor").iterdir()}
    render(in_tmp, SHIPPED_PROFILES / "kvm-hypervisor.yaml")
    second = {p.name: p.read_bytes() for p in (in_tmp / "output/kvm-hypervisor").iterdir()}
    assert first == second
    assert sorted(first) == [".lock", "ks.cfg", "manifest.json"]  # no temporary files left behind


def test_failed_render_leaves_previous_output_untouched(in_tmp: Path) -> None:
    profile = write(in_tmp / "lab.yaml", MINIMAL)
    render(in_tmp, profile)
    before = {p.name: p.read_bytes() for p in (in_tmp / "output/lab").iterdir()}
    write(profile, MINIMAL.replace("bridge: br0}", "bridge: br7}"))
    with pytest.raises(ChecksFailed) as caught:
        render(in_tmp, profile)
    assert "nothing written" in caught.value.message
    after = {p.name: p.read_bytes() for p in (in_tmp / "output/lab").iterdir()}
    assert after == before


def test_output_option(in_tmp: Path) -> None:
    outcome = render(in_tmp, write(in_tmp / "lab.yaml", MINIMAL), output_dir=in_tmp / "elsewhere")
    assert outcome.files.kickstart == in_tmp / "elsewhere/ks.cfg"
    assert not (in_tmp / "output").exists()


def _emit(out: Path, text: str) -> None:
    emit_kickstart(out, text, build_manifest("lab", text, [], {}, workdir=None))


def test_concurrent_renders_into_one_folder_leave_a_matching_pair(in_tmp: Path) -> None:
    # Rounds of 20 renders at once into one folder, each with its own kickstart (as with different --set values),
    # in 20 processes: whichever wins, the manifest records the sha256 of the ks.cfg beside it. Without the lock
    # most rounds end with a mismatched pair here.
    with multiprocessing.get_context("fork").Pool(20) as pool:
        for round_ in range(8):
            out = in_tmp / f"output/lab{round_}"
            texts = [f"# render {round_}.{n}\n" + "x" * 20_000 for n in range(20)]
            pool.starmap(_emit, [(out, text) for text in texts], chunksize=1)
            manifest = json.loads((out / "manifest.json").read_text())
            kickstart = (out / "ks.cfg").read_bytes()
            assert manifest["outputs"]["ks.cfg"]["sha256"] == hashlib.sha256(kickstart).hexdigest()
            assert sorted(p.name for p in out.iterdir()) == [".lock", "ks.cfg", "manifest.json"]  # no temporaries


def test_whoever_can_open_the_output_folder_cannot_stall_a_render(in_tmp: Path) -> None:
    import fcntl

    write(in_tmp / "profiles/lab.yaml", MINIMAL)
    out = in_tmp / "output/lab"
    out.mkdir(parents=True)
    # The folder is 0755: any local user can open it and flock it. The render's lock is not theirs to take.
    fd = os.open(out, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        result = subprocess.run([sys.executable, "-m", "builder", "render", "profiles/lab.yaml"], cwd=in_tmp,
                                capture_output=True, text=True, check=False, timeout=60)
    finally:
        os.close(fd)
    assert result.returncode == 0, result.stderr
    assert (out / "ks.cfg").is_file()


def test_under_umask_000_nothing_is_writable_by_others(in_tmp: Path) -> None:
    write(in_tmp / "profiles/lab.yaml", MINIMAL)
    result = subprocess.run([sys.executable, "-m", "builder", "render", "profiles/lab.yaml", "-o", "out/deep/lab"],
                            cwd=in_tmp, capture_output=True, text=True, check=False, preexec_fn=lambda: os.umask(0))
    assert result.returncode == 0, result.stderr
    modes = {str(p.relative_to(in_tmp)): stat.S_IMODE(p.stat().st_mode) for p in (in_tmp / "out").rglob("*")}
    assert modes == {"out/deep": 0o755, "out/deep/lab": 0o755, "out/deep/lab/ks.cfg": 0o600,
                     "out/deep/lab/manifest.json": 0o644, "out/deep/lab/.lock": 0o600}
    assert stat.S_IMODE((in_tmp / "out").stat().st_mode) == 0o755


def test_folders_made_for_a_file_get_0755_whatever_the_umask(in_tmp: Path) -> None:
    old = os.umask(0)
    try:
        emit_kickstart(in_tmp / "a/b/c", "text\n", {"profile": "lab"})
    finally:
        os.umask(old)
    for folder in ("a", "a/b", "a/b/c"):
        assert stat.S_IMODE((in_tmp / folder).stat().st_mode) == 0o755
    assert stat.S_IMODE((in_tmp / "a/b/c/ks.cfg").stat().st_mode) == 0o600
