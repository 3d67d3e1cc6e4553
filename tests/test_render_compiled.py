"""Compiled templates kept between runs (builder.render.compiled): the same kickstart with or without them, compiled
again whenever what the code depends on changes, and only in a folder no one else may write."""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import jinja2
import pytest
from jinja2.bccache import bc_magic

from builder.paths import templates_dir, user_cache_dir
from builder.pipeline import build
from builder.render import compiled
from builder.render.compiled import compiled_templates, private_folder
from builder.render.environment import make_environment
from builder.vocabulary import Roots
from tests.helpers import SHIPPED_PROFILES, run_cli

GOLDEN = Path(__file__).parent / "golden" / "kickstarts"
PROFILES = sorted(p.stem for p in SHIPPED_PROFILES.glob("*.yaml"))


@pytest.fixture(autouse=True)
def _fresh_environments() -> Iterator[None]:
    """Each render builds its environment anew, as a new process does (make_environment keeps them per process)."""
    make_environment.cache_clear()
    yield
    make_environment.cache_clear()


def _no_compiling(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a template was compiled although its compiled code was kept")

    monkeypatch.setattr(jinja2.Environment, "compile", refuse)


def _entries(cache: Path) -> list[Path]:
    return sorted((cache / "templates").glob("*.jinja-code"))


@pytest.mark.parametrize("name", PROFILES)
def test_a_render_from_kept_code_is_the_reviewed_kickstart(name: str, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    roots = Roots(cache=tmp_path / "cache")
    first = build(SHIPPED_PROFILES / f"{name}.yaml", roots=roots)
    assert _entries(tmp_path / "cache")
    make_environment.cache_clear()
    _no_compiling(monkeypatch)
    again = build(SHIPPED_PROFILES / f"{name}.yaml", roots=roots)
    golden = (GOLDEN / f"{name}.ks.cfg").read_text()
    assert first.kickstart.text == golden
    assert again.kickstart.text == golden
    assert again.findings == first.findings == ()


def test_entries_are_private_and_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    build(SHIPPED_PROFILES / "kvm-hypervisor.yaml", roots=Roots(cache=cache), shell=False)
    assert (cache / "templates").stat().st_mode & 0o777 == 0o700
    assert {entry.stat().st_mode & 0o777 for entry in _entries(cache)} == {0o600}
    monkeypatch.setattr(compiled, "MAX_ENTRIES", 3)
    make_environment.cache_clear()
    build(SHIPPED_PROFILES / "kvm-hypervisor.yaml", roots=Roots(cache=tmp_path / "other"), shell=False)
    assert len(_entries(tmp_path / "other")) == 3


def test_an_edited_template_is_compiled_again(tmp_path: Path) -> None:
    overrides = tmp_path / "overrides"
    (overrides / "snippets").mkdir(parents=True)
    snippet = overrides / "snippets" / "post-extra.j2"
    snippet.write_text((templates_dir() / "snippets" / "post-extra.j2").read_text() + "# first edition\n")
    roots = Roots(cache=tmp_path / "cache")
    profile = SHIPPED_PROFILES / "kvm-hypervisor.yaml"
    assert "# first edition" in build(profile, templates=[overrides], roots=roots, shell=False).kickstart.text
    snippet.write_text(snippet.read_text().replace("# first edition", "# second edition"))
    make_environment.cache_clear()
    text = build(profile, templates=[overrides], roots=roots, shell=False).kickstart.text
    assert "# second edition" in text and "# first edition" not in text


def _filter_module(folder: Path, body: str) -> ModuleType:
    """A module `ksbuild_test_filters` defining `shout`, loaded from `folder` (a new module object each time)."""
    path = folder / "ksbuild_test_filters.py"
    path.write_text(f"def shout(value):\n    return {body}\n")
    spec = importlib.util.spec_from_file_location("ksbuild_test_filters", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _render_with(folder: Path, cache: Path, shout: Callable[[str], str]) -> str:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(folder)), autoescape=False)
    env.filters["shout"] = shout
    env.bytecode_cache = compiled_templates(cache, env)
    return env.get_template("t.j2").render()


def test_a_changed_filter_is_not_served_from_code_compiled_with_the_old_one(tmp_path: Path) -> None:
    # jinja2 runs a filter on constant arguments while compiling and writes the result into the code: code kept
    # from before the filter changed would still print the old result.
    (tmp_path / "t.j2").write_text('{{ "hello" | shout }}\n')
    try:
        old = _filter_module(tmp_path, "value.upper()")
        assert _render_with(tmp_path, tmp_path / "cache", old.shout) == "HELLO"
        new = _filter_module(tmp_path, "value.upper() + '!'")
        assert _render_with(tmp_path, tmp_path / "cache", new.shout) == "HELLO!"
    finally:
        sys.modules.pop("ksbuild_test_filters", None)


def test_a_damaged_entry_is_compiled_again(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    profile = SHIPPED_PROFILES / "kvm-hypervisor.yaml"
    expected = build(profile, roots=Roots(cache=cache), shell=False).kickstart.text
    damages = [
        lambda data: data[: len(data) // 2],  # torn
        lambda data: b"\0" * 64,  # zeroed
        lambda data: bc_magic + b"\xff" + data[len(bc_magic) + 1:],  # the source checksum unreadable
    ]
    for number, entry in enumerate(_entries(cache)):
        entry.write_bytes(damages[number % len(damages)](entry.read_bytes()))
    make_environment.cache_clear()
    assert build(profile, roots=Roots(cache=cache), shell=False).kickstart.text == expected
    make_environment.cache_clear()
    assert build(profile, roots=Roots(cache=Path("/nonexistent/ksbuild-cache")), shell=False).kickstart.text \
        == expected  # a folder that cannot be made: compiled in the process, no error


def test_a_folder_others_may_write_is_not_used(tmp_path: Path) -> None:
    shared = tmp_path / "shared" / "templates"
    shared.mkdir(parents=True)
    shared.chmod(0o777)
    assert private_folder(shared) is None
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    (tmp_path / "link").symlink_to(real, target_is_directory=True)
    assert private_folder(tmp_path / "link") is None
    assert private_folder(real) == real
    # Nothing is read from or written to the shared folder: every run compiles.
    planted = shared / "planted.jinja-code"
    planted.write_bytes(b"not code")
    build(SHIPPED_PROFILES / "kvm-hypervisor.yaml", roots=Roots(cache=tmp_path / "shared"), shell=False)
    assert sorted(os.listdir(shared)) == ["planted.jinja-code"]


def test_a_folder_of_another_owner_is_not_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "theirs"
    folder.mkdir(mode=0o700)
    monkeypatch.setattr(os, "getuid", lambda: folder.stat().st_uid + 1)
    assert private_folder(folder) is None


def test_the_boot_test_kickstart_from_kept_code_is_the_same(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from builder.render.kickstart import render_kickstart
    from builder.render.verify_plan import verify_plan

    profile = build(SHIPPED_PROFILES / "kvm-hypervisor.yaml", shell=False).profile
    plan = verify_plan(profile, "kvm-hypervisor")
    compiled_here = render_kickstart(profile, "kvm-hypervisor", verify=plan).text
    render_kickstart(profile, "kvm-hypervisor", verify=plan, cache=tmp_path)
    make_environment.cache_clear()
    _no_compiling(monkeypatch)
    assert render_kickstart(profile, "kvm-hypervisor", verify=plan, cache=tmp_path).text == compiled_here


def test_the_cli_keeps_compiled_templates_in_the_users_cache_folder(tmp_path: Path) -> None:
    xdg = tmp_path / "xdg"
    for _ in range(2):
        done = run_cli("render", str(SHIPPED_PROFILES / "kvm-hypervisor.yaml"), "-o", str(tmp_path / "out"),
                       cwd=tmp_path, env={"XDG_CACHE_HOME": str(xdg)})
        assert done.returncode == 0, done.stderr
        assert (tmp_path / "out" / "ks.cfg").read_text() == (GOLDEN / "kvm-hypervisor.ks.cfg").read_text()
    assert _entries(xdg / "ksbuild")
    assert (xdg / "ksbuild" / "templates").stat().st_mode & 0o777 == 0o700


@pytest.mark.parametrize(("xdg", "expected"), [
    ("/srv/cache", Path("/srv/cache/ksbuild")),
    ("", Path("/home/ops/.cache/ksbuild")),
    ("relative/cache", Path("/home/ops/.cache/ksbuild")),  # the XDG spec: a relative path is ignored
])
def test_the_users_cache_folder(monkeypatch: pytest.MonkeyPatch, xdg: str, expected: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", xdg)
    monkeypatch.setenv("HOME", "/home/ops")
    assert user_cache_dir() == expected
