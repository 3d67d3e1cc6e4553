"""`extends`: the merge rule, chains, cycles, missing bases, and where each merged value came from."""

from __future__ import annotations

from pathlib import Path

import pytest

from builder.errors import BadInput, Location
from builder.load import Layer, LoadedProfile, load_profile, merge_layers
from builder.vocabulary import Roots

DATA = Path(__file__).parent / "data" / "load"


def load(ref: str, folder: Path = DATA, dirs: tuple[str, ...] = (), overrides: tuple[str, ...] = ()) -> LoadedProfile:
    """`ref` loaded as the CLI in `folder` would: a path relative to it, or a bare name looked up in `dirs` (folders
    of `folder`); messages name files relative to `folder`."""
    target: str | Path = folder / ref if "/" in ref or ref.endswith(".yaml") else ref
    roots = Roots(tuple(folder / d for d in dirs), workdir=folder)
    return load_profile(target, overrides=overrides, roots=roots)


def problems(ref: str, folder: Path = DATA, dirs: tuple[str, ...] = (), overrides: tuple[str, ...] = ()) -> list[str]:
    with pytest.raises(BadInput) as caught:
        load(ref, folder, dirs, overrides)
    return [f.format() for f in caught.value.findings]


def test_three_level_chain_merges_by_the_rule() -> None:
    profile = load("chain/top.yaml")
    assert profile.data == {
        # Deep merge: top sets hostname, middle sets selinux, timezone removed by null in top.
        "system": {"hostname": "kvm01.lab.local", "selinux": "permissive"},
        "network": {
            "nameservers": ["198.51.100.1"],  # the list is replaced wholesale, not merged item by item
            "bridges": [{"name": "br0", "stp": True}],  # kept from base: nobody mentioned it
        },
        "packages": {"install": ["vim", "tmux", "lvm2"]},
        # virtualization removed by null in middle; storage added by top, after the base's keys
        "storage": {"volume_group": "vg_kvm"},
    }
    assert list(profile.data) == ["system", "network", "packages", "storage"]
    assert "extends" not in profile.data
    assert profile.sources == tuple(DATA / "chain" / f"{n}.yaml" for n in ("base", "middle", "top"))
    assert profile.name == "top"


def test_locations_follow_the_value_that_won() -> None:
    profile = load("chain/top.yaml")
    where = {path: str(loc) for path, loc in profile.locations.items()}
    assert where == {
        ("system",): "chain/top.yaml:3",
        ("system", "hostname"): "chain/top.yaml:4",
        ("system", "selinux"): "chain/middle.yaml:3",
        ("network",): "chain/middle.yaml:4",
        ("network", "nameservers"): "chain/middle.yaml:5",
        ("network", "nameservers", 0): "chain/middle.yaml:5",
        ("network", "bridges"): "chain/base.yaml:10",
        ("network", "bridges", 0): "chain/base.yaml:11",
        ("network", "bridges", 0, "name"): "chain/base.yaml:11",
        ("network", "bridges", 0, "stp"): "chain/base.yaml:12",
        ("packages",): "chain/base.yaml:13",
        ("packages", "install"): "chain/base.yaml:14",
        ("packages", "install", 0): "chain/base.yaml:14",
        ("packages", "install", 1): "chain/base.yaml:14",
        ("packages", "install", 2): "chain/base.yaml:14",
        ("storage",): "chain/top.yaml:6",
        ("storage", "volume_group"): "chain/top.yaml:7",
    }
    # The base had two nameservers; the replaced list's second item leaves no location behind.
    assert profile.locate(("network", "nameservers", 1)) == Location("chain/middle.yaml", 5)


def test_merge_rule_type_changes_and_nulls_inside_lists() -> None:
    base = Layer(
        {"a": {"x": 1}, "b": 2, "c": [{"k": None, "v": 1}, None], "d": None},
        {("a",): Location("base", 1), ("a", "x"): Location("base", 2), ("b",): Location("base", 3)},
    )
    child = Layer(
        {"a": 5, "b": {"y": None, "z": 3}}, {("a",): Location("child", 1), ("b", "z"): Location("child", 3)}
    )
    merged = merge_layers(base, child)
    # A scalar replaces a mapping and a mapping a scalar; null entries vanish at every depth;
    # null list items stay.
    assert merged.data == {"a": 5, "b": {"z": 3}, "c": [{"v": 1}, None]}
    assert merged.locations == {("a",): Location("child", 1), ("b", "z"): Location("child", 3)}
    assert base.data["a"] == {"x": 1}  # inputs are left alone


def test_extends_by_relative_path() -> None:
    profile = load("site/kvm.yaml")
    assert profile.data == {"system": {"hostname": "site.lab.local", "selinux": "enforcing"}}
    assert profile.sources == (DATA / "common" / "base.yaml", DATA / "site" / "kvm.yaml")
    assert profile.locate(("system", "selinux")) == Location("common/base.yaml", 3)


def test_a_cycle_lists_the_chain_at_the_extends_that_closes_it() -> None:
    assert problems("cycle/a.yaml") == [
        "cycle/b.yaml:3: extends: cycle: cycle/a.yaml -> cycle/b.yaml -> cycle/a.yaml"
    ]


def test_a_profile_extending_itself(tmp_path: Path) -> None:
    (tmp_path / "self.yaml").write_text("a: 1\nextends: self\n", encoding="utf-8")
    assert problems("self.yaml", tmp_path) == ["self.yaml:2: extends: cycle: self.yaml -> self.yaml"]


def test_a_missing_base_is_reported_at_the_extends_line() -> None:
    assert problems("missing/child.yaml") == [
        "missing/child.yaml:4: extends: profile 'no-such-base' not found "
        "(looked for missing/no-such-base.yaml)"
    ]


def test_a_name_falls_back_to_the_search_folders() -> None:
    profile = load("user/mine.yaml", dirs=("shipped",))
    assert profile.data == {"system": {"hostname": "mine.lab.local", "selinux": "enforcing"}}
    assert problems("user/mine.yaml") == [
        "user/mine.yaml:1: extends: profile 'kvm-hypervisor' not found (looked for user/kvm-hypervisor.yaml)"
    ]


def test_a_bare_name_is_looked_up_in_the_search_folders_in_order() -> None:
    assert load("kvm", dirs=("chain", "site")).path == DATA / "site" / "kvm.yaml"
    assert load("base", dirs=("chain", "common")).path == DATA / "chain" / "base.yaml"
    assert problems("nothing", dirs=("chain", "site")) == [
        "no profile named 'nothing' (looked for chain/nothing.yaml, site/nothing.yaml)"
    ]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("[base, other]", "takes one profile name or path; a list of profiles is not supported"),
        ("5", "must be a profile name (base) or a relative path (../common/base.yaml)"),
        ("{name: base}", "must be a profile name (base) or a relative path (../common/base.yaml)"),
        ("''", "must be a profile name (base) or a relative path (../common/base.yaml)"),
    ],
)
def test_extends_takes_one_string(
    tmp_path: Path, value: str, message: str
) -> None:
    (tmp_path / "p.yaml").write_text(f"a: 1\n\nextends: {value}\n", encoding="utf-8")
    assert problems("p.yaml", tmp_path) == [f"p.yaml:3: extends: {message}"]


def test_extends_null_means_no_base(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text("extends: null\na: 1\n", encoding="utf-8")
    assert load("p.yaml", tmp_path).data == {"a": 1}


def test_problems_in_every_file_of_the_chain_are_reported_together(
    tmp_path: Path
) -> None:
    (tmp_path / "base.yaml").write_text("a: 1\na: 2\n", encoding="utf-8")
    (tmp_path / "top.yaml").write_text("extends: base\nb: 1\nb: 2\n", encoding="utf-8")
    assert problems("top.yaml", tmp_path, overrides=("c",)) == [
        "top.yaml:3: b: duplicate key (first at line 2)",
        "base.yaml:2: a: duplicate key (first at line 1)",
        "--set c: expected '=' after the key (the form is KEY=VALUE, e.g. system.selinux=permissive)",
    ]


def test_a_broken_base_is_named(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_bytes(b"a: \xff\n")
    (tmp_path / "top.yaml").write_text("extends: base.yaml\n", encoding="utf-8")
    assert problems("top.yaml", tmp_path) == ["base.yaml:1: is not UTF-8 text (byte 0xff)"]


def test_a_symlink_loop_as_the_profile_or_its_base_is_said_plainly(tmp_path: Path) -> None:
    (tmp_path / "loop1.yaml").symlink_to("loop2.yaml")
    (tmp_path / "loop2.yaml").symlink_to("loop1.yaml")
    (tmp_path / "child.yaml").write_text("system: {selinux: permissive}\nextends: loop1\n")
    assert problems("loop1.yaml", tmp_path) == ["loop1.yaml: is a symbolic link loop"]
    assert problems("child.yaml", tmp_path) == [
        "child.yaml:2: extends: profile 'loop1': loop1.yaml is a symbolic link loop"
    ]
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "looped.yaml").symlink_to("looped.yaml")
    assert problems("looped", tmp_path, dirs=("profiles",)) == ["profiles/looped.yaml: is a symbolic link loop"]


def test_an_extends_too_long_for_a_file_name_is_a_finding_at_its_line(tmp_path: Path) -> None:
    (tmp_path / "child.yaml").write_text("system: {selinux: permissive}\nextends: " + "x" * 300 + "\n")
    assert problems("child.yaml", tmp_path) == [
        f"child.yaml:2: extends: profile '{'x' * 60}…' (300 characters): {'x' * 60}… (305 characters) its name is "
        "too long for the file system"
    ]
