"""`when_target`: per-target values of a profile file, laid over that file's own values for the target the whole
chain (and --set) ends up with."""

from __future__ import annotations

from pathlib import Path

import pytest

from builder.errors import BadInput
from builder.load.profile_loader import LoadedProfile, load_profile
from builder.vocabulary import Roots
from tests.helpers import write

BASE = """\
target: centos7
install:
  source: {url: "http://mirror/centos7/os/x86_64"}
system:
  services: {disabled: [NetworkManager, firewalld]}
when_target:
  el9:
    install:
      source: {url: "http://mirror/el9/BaseOS/x86_64/os/"}
    system:
      services: {disabled: [firewalld]}
  rocky9:
    install:
      source: {url: "http://mirror/rocky9/BaseOS/x86_64/os/"}
"""


def load(path: Path, *overrides: str) -> LoadedProfile:
    return load_profile(path, overrides=overrides, roots=Roots((), workdir=path.parent))


def problems(path: Path, *overrides: str) -> list[str]:
    with pytest.raises(BadInput) as caught:
        load(path, *overrides)
    return [f.format() for f in caught.value.findings]


def test_no_overlay_for_the_target_changes_nothing(tmp_path: Path) -> None:
    profile = load(write(tmp_path / "base.yaml", BASE))
    assert profile.data["install"]["source"]["url"] == "http://mirror/centos7/os/x86_64"
    assert profile.data["system"]["services"]["disabled"] == ["NetworkManager", "firewalld"]
    assert "when_target" not in profile.data


def test_the_target_from_set_picks_the_overlay_and_its_lines(tmp_path: Path) -> None:
    profile = load(write(tmp_path / "base.yaml", BASE), "target=el9")
    assert profile.data["target"] == "el9"
    assert profile.data["install"]["source"]["url"] == "http://mirror/el9/BaseOS/x86_64/os/"
    assert profile.data["system"]["services"]["disabled"] == ["firewalld"]  # lists replace, as in extends
    assert str(profile.locate(("install", "source", "url"))) == "base.yaml:9"
    assert str(profile.locate(("system", "services", "disabled"))) == "base.yaml:11"
    # Values the overlay does not name keep their own place.
    assert str(profile.locate(("target",))) == "--set target=el9"


def test_an_alias_overlay_is_laid_after_its_targets(tmp_path: Path) -> None:
    profile = load(write(tmp_path / "base.yaml", BASE), "target=rocky9")
    assert profile.data["install"]["source"]["url"] == "http://mirror/rocky9/BaseOS/x86_64/os/"
    assert profile.data["system"]["services"]["disabled"] == ["firewalld"]  # from el9: rocky9 is an el9
    alma = load(write(tmp_path / "base.yaml", BASE), "target=alma9")
    assert alma.data["install"]["source"]["url"] == "http://mirror/el9/BaseOS/x86_64/os/"


def test_a_child_value_beats_its_bases_overlay(tmp_path: Path) -> None:
    write(tmp_path / "base.yaml", BASE)
    child = write(tmp_path / "child.yaml", """\
        extends: base
        target: el9
        install:
          source: {url: "http://other/el9/BaseOS/x86_64/os/"}
        """)
    profile = load(child)
    assert profile.data["install"]["source"]["url"] == "http://other/el9/BaseOS/x86_64/os/"
    assert str(profile.locate(("install", "source", "url"))) == "child.yaml:4"
    # ... while what the child does not say still comes from the base's el9 overlay.
    assert profile.data["system"]["services"]["disabled"] == ["firewalld"]


def test_a_childs_overlay_beats_its_own_values_and_set_beats_all(tmp_path: Path) -> None:
    write(tmp_path / "base.yaml", BASE)
    child = write(tmp_path / "child.yaml", """\
        extends: base
        system:
          hostname: a.lab
        when_target:
          el9:
            system: {hostname: b.lab}
        """)
    assert load(child, "target=el9").data["system"]["hostname"] == "b.lab"
    assert load(child).data["system"]["hostname"] == "a.lab"
    assert load(child, "target=el9", "system.hostname=c.lab").data["system"]["hostname"] == "c.lab"


def test_bad_overlays_are_located(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.yaml", """\
        target: el9
        when_target:
          rocky-9:
            system: {hostname: a.lab}
          el8:
            target: el9
          el9: [not, a, mapping]
        """)
    assert problems(path) == [
        "bad.yaml:3: when_target.rocky-9: 'rocky-9' is not a target ksbuild knows (centos7, el8, el9, rocky8, "
        "rocky9, alma8, alma9, rhel8, rhel9, centos-stream9); did you mean 'rocky9'?",
        "bad.yaml:6: when_target.el8.target: cannot be set under when_target (the target picks the overlay); set "
        "target at the top of the file",
        "bad.yaml:7: when_target.el9: must be a mapping of profile values, e.g. {install: {source: {url: ...}}}",
    ]


def test_when_target_must_be_a_mapping(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.yaml", "when_target: el9\n")
    assert problems(path) == [
        "bad.yaml:1: when_target: must map target names to profile values, e.g. when_target: {el9: {...}}"
    ]


def test_the_shipped_profile_moves_by_one_key() -> None:
    from tests.helpers import SHIPPED_PROFILES

    path = SHIPPED_PROFILES / "kvm-hypervisor.yaml"
    roots = Roots((SHIPPED_PROFILES,), workdir=SHIPPED_PROFILES)
    centos = load_profile(path, roots=roots).data
    el9 = load_profile(path, overrides=("target=el9",), roots=roots).data
    assert centos["system"]["services"]["disabled"] == ["NetworkManager", "firewalld"]
    assert "bridge-utils" in centos["packages"]["install"]
    assert el9["system"]["services"]["disabled"] == ["firewalld"]
    assert "bridge-utils" not in el9["packages"]["install"]
    assert el9["install"]["source"]["url"].endswith("/el9/BaseOS/x86_64/os/")
