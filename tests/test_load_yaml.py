"""Reading one profile file: values, types, line marks, and every way a file can be refused."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from builder.errors import EXIT_BAD_INPUT, BadInput, Location
from builder.load import MAX_FILE_BYTES
from builder.load.yaml_source import parse_yaml_text
from tests.helpers import Workdir

DATA = Path(__file__).parent / "data" / "load"


@pytest.fixture
def in_tmp(tmp_path: Path) -> Workdir:
    """An empty working folder, so messages name files as `name.yaml`."""
    return Workdir(tmp_path)


def problems(work: Workdir, ref: str | Path) -> list[str]:
    with pytest.raises(BadInput) as caught:
        work.load(ref)
    assert caught.value.exit_code == EXIT_BAD_INPUT
    assert all(f.check == "load" for f in caught.value.findings)
    return [f.format() for f in caught.value.findings]


def test_values_and_their_lines(in_tmp: Workdir) -> None:
    in_tmp.write(
        "p.yaml",
        "system:\n"  # 1
        "  hostname: kvm01.lab.local\n"  # 2
        "  selinux:\n"  # 3
        "    disabled\n"  # 4
        "network:\n"  # 5
        "  bridges:\n"  # 6
        "    - name: br0\n"  # 7
        "      ports: [eth0,\n"  # 8
        "              eth1]\n"  # 9
        "  notes: |\n"  # 10
        "    first\n"  # 11
        "    second\n",  # 12
    )
    profile = in_tmp.load("p.yaml")
    assert profile.name == "p"
    assert profile.path == in_tmp.folder / "p.yaml"
    assert profile.sources == (in_tmp.folder / "p.yaml",)
    assert profile.data == {
        "system": {"hostname": "kvm01.lab.local", "selinux": "disabled"},
        "network": {"bridges": [{"name": "br0", "ports": ["eth0", "eth1"]}], "notes": "first\nsecond\n"},
    }
    expected_lines = {
        ("system",): 1,
        ("system", "hostname"): 2,
        ("system", "selinux"): 4,  # the value sits on its own line
        ("network",): 5,
        ("network", "bridges"): 6,
        ("network", "bridges", 0): 7,
        ("network", "bridges", 0, "name"): 7,
        ("network", "bridges", 0, "ports"): 8,
        ("network", "bridges", 0, "ports", 0): 8,
        ("network", "bridges", 0, "ports", 1): 9,
        ("network", "notes"): 10,
    }
    assert {path: loc.line for path, loc in profile.locations.items()} == expected_lines
    assert {loc.file for loc in profile.locations.values()} == {"p.yaml"}


def test_locate_falls_back_to_the_nearest_ancestor_then_the_top_mapping(in_tmp: Workdir) -> None:
    in_tmp.write("p.yaml", "# notes\na: 1\nsystem:\n  hostname: x\n")
    profile = in_tmp.load("p.yaml")
    assert profile.locate(("system", "hostname")) == Location("p.yaml", 4)
    assert profile.locate(("system", "missing", 0)) == Location("p.yaml", 3)
    assert profile.locate(("storage",)) == Location("p.yaml", 2)  # the top mapping: its first key
    assert profile.locate(()) == Location("p.yaml", 2)


def test_scalar_types_follow_the_safe_loader_except_macs_times_and_dates(in_tmp: Workdir) -> None:
    in_tmp.write(
        "p.yaml",
        "flag_yes: yes\nflag_off: off\nmode: 0644\nhex: 0x1F\ncount: 1_000\nratio: 1.5\n"
        "quoted: '5'\nmac: 52:54:00:12:34:56\nclock: 12:30\nday: 2024-01-01\ntilde: ~\n"
        "big: 123456789012345678901234567890\nequals: =\n",
    )
    assert in_tmp.load("p.yaml").data == {
        "flag_yes": True,
        "flag_off": False,
        "mode": 0o644,
        "hex": 31,
        "count": 1000,
        "ratio": 1.5,
        "quoted": "5",
        "mac": "52:54:00:12:34:56",
        "clock": "12:30",
        "day": "2024-01-01",
        "big": 123456789012345678901234567890,
        "equals": "=",
    }


def test_a_utf8_byte_order_mark_is_accepted(in_tmp: Workdir) -> None:
    in_tmp.path("p.yaml").write_bytes(b"\xef\xbb\xbfsystem:\n  hostname: caf\xc3\xa9\n")
    assert in_tmp.load("p.yaml").data == {"system": {"hostname": "café"}}


def test_every_duplicate_key_is_reported_at_its_second_occurrence() -> None:
    assert problems(Workdir(DATA), "duplicates.yaml") == [
        "duplicates.yaml:4: system.hostname: duplicate key (first at line 2)",
        "duplicates.yaml:7: network: duplicate key (first at line 5)",
    ]


def test_keys_must_be_strings(in_tmp: Workdir) -> None:
    in_tmp.write("p.yaml", "system:\n  1: one\n  true: yes\n  ~: nothing\n  [a, b]: list\n  ok: fine\n")
    assert problems(in_tmp, "p.yaml") == [
        'p.yaml:2: system: mapping keys must be strings; 1 is read as !!int (quote it: "1")',
        'p.yaml:3: system: mapping keys must be strings; true is read as !!bool (quote it: "true")',
        'p.yaml:4: system: mapping keys must be strings; ~ is read as !!null (quote it: "~")',
        "p.yaml:5: system: mapping keys must be strings, not a list",
    ]


def test_quoted_keys_that_look_like_numbers_are_strings(in_tmp: Workdir) -> None:
    in_tmp.write("p.yaml", "sysctl:\n  '1': one\n  \"net.ipv4.ip_forward\": 1\n")
    assert in_tmp.load("p.yaml").data == {"sysctl": {"1": "one", "net.ipv4.ip_forward": 1}}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "system:\n  hostname: a\n   bad: b\n",
            "p.yaml:3: YAML error: mapping values are not allowed here (column 7)",
        ),
        (
            "a: [1, 2\nb: 3\n",
            "p.yaml:2: YAML error: expected ',' or ']', but got ':' "
            "(column 2; while parsing a flow sequence at line 1)",
        ),
        (
            "a: 'unclosed\n",
            "p.yaml:2: YAML error: found unexpected end of stream "
            "(column 1; while scanning a quoted scalar at line 1)",
        ),
        ("a: *nowhere\n", "p.yaml:1: YAML error: found undefined alias 'nowhere' (column 4)"),
        (
            "a: 1\n---\nb: 2\n",
            "p.yaml:2: YAML error: but found another document "
            "(column 1; expected a single document in the stream at line 1)",
        ),
        ("a: b\x07c\n", "p.yaml:1: YAML error: character U+0007 is not allowed (column 5)"),
    ],
)
def test_syntax_errors_give_line_and_column(in_tmp: Workdir, text: str, expected: str) -> None:
    in_tmp.write("p.yaml", text)
    assert problems(in_tmp, "p.yaml") == [expected]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "p.yaml:1: is empty; a profile is a YAML mapping"),
        ("# only a comment\n", "p.yaml:1: is empty; a profile is a YAML mapping"),
        ("\n\n- a\n- b\n", "p.yaml:3: the top level must be a mapping (key: value lines), not a list"),
        ("just text\n", "p.yaml:1: the top level must be a mapping (key: value lines), not a single value"),
    ],
)
def test_the_top_level_must_be_a_mapping(in_tmp: Workdir, text: str, expected: str) -> None:
    in_tmp.write("p.yaml", text)
    assert problems(in_tmp, "p.yaml") == [expected]


def test_unsafe_and_unknown_tags_are_refused_not_run(in_tmp: Workdir) -> None:
    marker = in_tmp.folder / "ran"
    in_tmp.write(
        "p.yaml",
        f"a: !!python/object/apply:os.system ['touch {marker}']\n"
        "b: !!binary aGVsbG8=\n"
        "c: !!set {x, y}\n"
        "d: !custom value\n"
        "e: !!timestamp 2024-01-01\n"
        "f: !!int twelve\n"
        "g: !!str 12\n",
    )
    assert problems(in_tmp, "p.yaml") == [
        "p.yaml:1: a: unsupported YAML tag !!python/object/apply:os.system on a list",
        "p.yaml:2: b: unsupported YAML tag !!binary",
        "p.yaml:3: c: unsupported YAML tag !!set on a mapping",
        "p.yaml:4: d: unsupported YAML tag !custom",
        "p.yaml:5: e: unsupported YAML tag !!timestamp",
        "p.yaml:6: f: 'twelve' is not a valid !!int",
    ]
    assert not marker.exists()


def test_anchors_aliases_and_merge_keys(in_tmp: Workdir) -> None:
    in_tmp.write(
        "p.yaml",
        "defaults: &bridge\n"  # 1
        "  stp: false\n"  # 2
        "  delay: 0\n"  # 3
        "extra: &extra\n"  # 4
        "  delay: 5\n"  # 5
        "  mtu: 9000\n"  # 6
        "bridges:\n"  # 7
        "  - <<: [*bridge, *extra]\n"  # 8
        "    name: br0\n"  # 9
        "    stp: true\n"  # 10
        "  - *bridge\n",  # 11
    )
    profile = in_tmp.load("p.yaml")
    assert profile.data["bridges"] == [
        {"stp": True, "delay": 0, "mtu": 9000, "name": "br0"},
        {"stp": False, "delay": 0},
    ]
    lines = {path: loc.line for path, loc in profile.locations.items() if path[0] == "bridges"}
    assert lines[("bridges", 0, "stp")] == 10  # the explicit key wins
    assert lines[("bridges", 0, "delay")] == 3  # the first merge source wins
    assert lines[("bridges", 0, "mtu")] == 6
    assert lines[("bridges", 1, "stp")] == 2
    # Each alias is its own value: changing one does not change the other.
    profile.data["bridges"][1]["stp"] = "changed"
    assert profile.data["defaults"]["stp"] is False


def test_a_problem_inside_an_anchor_is_reported_once(in_tmp: Workdir) -> None:
    in_tmp.write("p.yaml", "base: &b\n  x: 1\n  x: 2\nuse: [*b, *b]\nagain: *b\n")
    assert problems(in_tmp, "p.yaml") == ["p.yaml:3: base.x: duplicate key (first at line 2)"]


def test_bad_merge_keys(in_tmp: Workdir) -> None:
    in_tmp.write("p.yaml", "base: &b {x: 1}\na:\n  <<: 5\nb:\n  <<: *b\n  <<: *b\n")
    assert problems(in_tmp, "p.yaml") == [
        "p.yaml:3: a: a merge key '<<' takes a mapping or a list of mappings",
        "p.yaml:6: b: duplicate merge key '<<' (first at line 5)",
    ]


def test_an_alias_bomb_is_refused_without_expanding_it() -> None:
    # Expanding it would take hours and all the memory: the finding at the first alias over the limit shows the
    # load stopped there.
    found = problems(Workdir(DATA), "alias_bomb.yaml")
    # Line 6 holds the first alias whose values cross the limit: 10 + 100 + ... + 10,000 + 11,111 x 9 > 100,000.
    assert found == [
        "alias_bomb.yaml:6: aliases expand this document by more than 100,000 values, the limit for profiles "
        "(this alias adds 11,111) (column 29)"
    ]


def test_aliases_are_counted_in_bytes_not_only_in_values(in_tmp: Workdir) -> None:
    # 104 KB as written: one 100 KB string and 1,000 aliases of it would expand to 100 MB.
    lines = ["description: x", f"big: &b '{'a' * 100_000}'", "list:"] + ["  - *b"] * 1000
    in_tmp.write("p.yaml", "\n".join(lines) + "\n")
    found = problems(in_tmp, "p.yaml")
    # 100,001 bytes each (the string and its value): the 11th alias, on line 14, crosses 1 MiB.
    assert found == [
        "p.yaml:14: aliases expand this document by more than 1,048,576 bytes, the limit for profiles "
        "(this alias adds 100,001) (column 5)"
    ]


def test_aliases_within_the_limits_are_read(in_tmp: Workdir) -> None:
    lines = ["description: x", f"big: &b '{'a' * 1000}'", "list:"] + ["  - *b"] * 1000
    in_tmp.write("p.yaml", "\n".join(lines) + "\n")
    assert in_tmp.load("p.yaml").data["list"] == ["a" * 1000] * 1000


def test_a_recursive_alias_is_refused(in_tmp: Workdir) -> None:
    in_tmp.write("p.yaml", "a: 1\nloop: &x\n  self: *x\n")
    assert problems(in_tmp, "p.yaml") == [
        "p.yaml:3: an alias refers to the value that contains it (recursive alias) (column 9)"
    ]


def test_deep_nesting_is_refused(in_tmp: Workdir) -> None:
    in_tmp.write("flow.yaml", "a: " + "[" * 70 + "]" * 70 + "\n")
    assert problems(in_tmp, "flow.yaml") == ["flow.yaml:1: nested more than 64 levels deep (column 67)"]
    in_tmp.write("block.yaml", "".join(f"{'  ' * level}k{level}:\n" for level in range(100)))
    assert problems(in_tmp, "block.yaml") == ["block.yaml:64: nested more than 64 levels deep (column 127)"]
    # Deeper than Python's own stack allows for PyYAML's recursive composer.
    in_tmp.write("deeper.yaml", "a: " + "[" * 5000 + "]" * 5000 + "\n")
    assert problems(in_tmp, "deeper.yaml") == ["deeper.yaml:1: nested more than 64 levels deep (column 67)"]


def test_aliases_cannot_nest_deeper_than_the_limit(in_tmp: Workdir) -> None:
    # Each alias level adds depth that the composer never sees: 10 levels x 10 aliases. l6's alias of l5 sits
    # 12 levels deep and l5 is 61 deep.
    lines = ["l0: &l0 [[[[[[[[[[x]]]]]]]]]]"] + [
        f"l{i}: &l{i} [[[[[[[[[[*l{i - 1}]]]]]]]]]]" for i in range(1, 8)
    ]
    in_tmp.write("p.yaml", "\n".join(lines) + "\n")
    assert problems(in_tmp, "p.yaml") == [
        "p.yaml:7: nested more than 64 levels deep (through this alias) (column 19)"
    ]


def test_a_missing_file(in_tmp: Workdir) -> None:
    assert problems(in_tmp, "nope.yaml") == ["nope.yaml: no such file"]
    assert problems(in_tmp, Path("sub/nope")) == ["sub/nope: no such file"]


def test_a_directory(in_tmp: Workdir) -> None:
    in_tmp.path("dir.yaml").mkdir()
    assert problems(in_tmp, "dir.yaml") == ["dir.yaml: is a directory, not a profile file"]


def test_a_fifo_is_not_read(in_tmp: Workdir) -> None:
    os.mkfifo(in_tmp.path("pipe.yaml"))
    assert problems(in_tmp, "pipe.yaml") == ["pipe.yaml: is not a regular file"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_an_unreadable_file(in_tmp: Workdir) -> None:
    in_tmp.write("p.yaml", "a: 1\n").chmod(0)
    assert problems(in_tmp, "p.yaml") == ["p.yaml: cannot read it: permission denied"]


def test_non_utf8_names_the_byte_and_line(in_tmp: Workdir) -> None:
    in_tmp.path("p.yaml").write_bytes(b"a: 1\nb: caf\xe9\n")
    assert problems(in_tmp, "p.yaml") == ["p.yaml:2: is not UTF-8 text (byte 0xe9)"]


def test_a_file_over_the_size_limit(in_tmp: Workdir) -> None:
    in_tmp.write("big.yaml", "a: " + "x" * MAX_FILE_BYTES + "\n")
    assert problems(in_tmp, "big.yaml") == [
        f"big.yaml: is {MAX_FILE_BYTES + 4} bytes; profiles are limited to 1048576 bytes"
    ]


def test_a_file_outside_the_current_folder_is_named_by_absolute_path(tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    path = tmp_path / "p.yaml"
    path.write_text("a: [\n", encoding="utf-8")
    found = problems(Workdir(tmp_path / "elsewhere"), path)
    assert found == [
        f"{path}:2: YAML error: expected the node content, but found '<stream end>' "
        "(column 1; while parsing a flow node)"
    ]


YAML_FILES = sorted([*Path(__file__).parent.parent.joinpath("profiles").glob("*.yaml"),
                     *Path(__file__).parent.joinpath("data").rglob("*.yaml")])


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: str(p.relative_to(p.parents[2])))
def test_libyaml_and_the_pure_python_parser_read_the_same(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # libyaml reads documents (a 10,000-host inventory in a second, not ten); the pure-Python parser words the
    # errors users see. Both must give the same values, lines and findings.
    text = path.read_text(encoding="utf-8-sig")
    fast = parse_yaml_text(text, path.name)
    monkeypatch.setattr(yaml, "__with_libyaml__", False)
    slow = parse_yaml_text(text, path.name)
    assert (fast.data, fast.locations, fast.findings, fast.root) == (slow.data, slow.locations, slow.findings,
                                                                      slow.root)


def test_profiles_load_with_a_pyyaml_built_without_libyaml() -> None:
    """Some distributions' PyYAML lacks the C extension: profiles must still load, with the pure-Python parser."""
    import subprocess
    import sys

    from tests.helpers import REPO

    code = (
        "import sys\n"
        "sys.modules['yaml._yaml'] = None  # what `import yaml._yaml` finds without libyaml: an ImportError\n"
        "import yaml\n"
        "assert not yaml.__with_libyaml__\n"
        "from builder.load.yaml_source import parse_yaml_text\n"
        "document = parse_yaml_text('system:\\n  hostname: kvm01\\n  ports: [22, 80]\\n', 'p.yaml')\n"
        "print(document.findings, document.data)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False, cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[] {'system': {'hostname': 'kvm01', 'ports': [22, 80]}}"
