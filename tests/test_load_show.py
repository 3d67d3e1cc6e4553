"""`render_provenance`: the merged profile as YAML with the origin of every value."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import yaml

from builder.load import render_provenance
from tests.helpers import Workdir

DATA = Path(__file__).parent / "data" / "load"

EXPECTED_SHOW = """\
system:
  hostname: kvm01.lab.local  # show/kvm.yaml:3
  selinux: disabled          # show/base.yaml:3
  mac: "52:54:00:12:34:56"   # show/kvm.yaml:4
  enabled: "yes"             # show/kvm.yaml:5
network:
  bridges:
    - name: br0              # show/base.yaml:6
      stp: true              # --set network.bridges[0].stp=true
      ports:
        - eth0               # show/base.yaml:8
        - eth1               # show/base.yaml:8
packages:
  - vim                      # show/kvm.yaml:7
  - "0644"                   # show/kvm.yaml:8
"""


def test_show_annotates_every_value_with_its_origin() -> None:
    profile = Workdir(DATA).load("show/kvm.yaml", overrides=["network.bridges[0].stp=true"])
    rendered = render_provenance(profile)
    assert rendered == EXPECTED_SHOW
    assert render_provenance(profile) == rendered  # deterministic
    assert yaml.safe_load(rendered) == profile.data


def test_paths_outside_the_current_folder_are_absolute(tmp_path: Path) -> None:
    profile_dir = tmp_path / "profiles"
    profile_dir.mkdir()
    (profile_dir / "p.yaml").write_text("a: 1\n", encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shown_from_elsewhere = render_provenance(Workdir(elsewhere).load(profile_dir / "p.yaml"))
    assert shown_from_elsewhere == f"a: 1  # {profile_dir / 'p.yaml'}:1\n"
    assert render_provenance(Workdir(tmp_path).load(profile_dir / "p.yaml")) == "a: 1  # profiles/p.yaml:1\n"


def test_an_empty_profile_shows_an_empty_mapping(tmp_path: Path) -> None:
    work = Workdir(tmp_path)
    work.path("p.yaml").write_text("a: null\n", encoding="utf-8")
    assert render_provenance(work.load("p.yaml")) == "{}\n"


def test_empty_collections_and_nested_lists(tmp_path: Path) -> None:
    work = Workdir(tmp_path)
    work.path("p.yaml").write_text("a: {}\nb: []\nc:\n  - [x, [y]]\n  - - {k: v}\n  - []\n", encoding="utf-8")
    assert render_provenance(work.load("p.yaml")) == (
        "a: {}       # p.yaml:1\n"
        "b: []       # p.yaml:2\n"
        "c:\n"
        "  - - x     # p.yaml:4\n"
        "    - - y   # p.yaml:4\n"
        "  - - k: v  # p.yaml:5\n"
        "  - []      # p.yaml:6\n"
    )


TRICKY_STRINGS = [
    "",
    " leading space",
    "trailing space ",
    "a: b",
    "key:",
    "#hash",
    "a #comment",
    "yes",
    "Off",
    "null",
    "~",
    "1.0",
    "1e5",
    "0x1F",
    "0644",
    "1_000",
    ".inf",
    "2024-01-01",
    "1:20",
    "52:54:00:12:34:56",
    "multi\nline",
    "tab\there",
    'quote"s',
    "back\\slash",
    "it's",
    "café",
    "emoji 😀",
    "\x85next line",
    "\u2028separator",
    "\ufeffbom",
    "\x00nul",
    "\ud800 lone surrogate",
    "- dash",
    "-",
    "---",
    "...",
    "[x]",
    "{x}",
    "*alias",
    "&anchor",
    "!tag",
    "%directive",
    "@at",
    "`tick",
    "<<",
    "=",
    "?",
    "? q",
    "|",
    ">",
    "a, b",
    "plain-ok_1.2/3@x",
]


def test_tricky_strings_read_back_as_themselves(tmp_path: Path) -> None:
    work = Workdir(tmp_path)
    data: dict[str, Any] = {
        "values": TRICKY_STRINGS,
        "keys": {text: index for index, text in enumerate(TRICKY_STRINGS)},
        "numbers": [0, -7, 2**70, 1.5, -0.0, 1e20, 1.5e-7, 1e300, float("inf"), float("-inf")],
        "flags": [True, False, None],
    }
    # Written with a double-quoting dumper so the file itself is not the thing under test.
    work.path("p.yaml").write_text(yaml.safe_dump(data, default_style='"', allow_unicode=False), encoding="utf-8")
    profile = work.load("p.yaml")
    assert profile.data == data
    rendered = render_provenance(profile)
    assert yaml.safe_load(rendered) == data
    work.path("shown.yaml").write_text(rendered, encoding="utf-8")
    assert work.load("shown.yaml").data == data
    # Readable where YAML allows: plain words stay unquoted.
    assert "  - plain-ok_1.2/3@x " in rendered


def test_nan_reads_back_as_nan(tmp_path: Path) -> None:
    work = Workdir(tmp_path)
    work.path("p.yaml").write_text("x: .nan\n", encoding="utf-8")
    rendered = render_provenance(work.load("p.yaml"))
    assert rendered == "x: .nan  # p.yaml:1\n"
    assert math.isnan(yaml.safe_load(rendered)["x"])
