"""The target catalogue (builder.targets): names people type, the facts, and where each fact comes from."""

from __future__ import annotations

import dataclasses

import pytest

from builder import targets


@pytest.mark.parametrize(("name", "canonical"), [
    ("centos7", "centos7"), ("el8", "el8"), ("el9", "el9"), ("rocky8", "el8"), ("rocky9", "el9"),
    ("alma8", "el8"), ("alma9", "el9"), ("rhel8", "el8"), ("rhel9", "el9"), ("centos-stream9", "el9"),
])
def test_every_name_people_type_is_a_target(name: str, canonical: str) -> None:
    assert targets.target(name).name == canonical


def test_unknown_names_get_a_suggestion() -> None:
    with pytest.raises(targets.UnknownTarget, match="did you mean 'rocky9'"):
        targets.alias("rocky-9")
    with pytest.raises(targets.UnknownTarget, match="'ubuntu22' is not a target"):
        targets.alias("ubuntu22")


def test_every_fact_has_a_reason_and_a_source() -> None:
    facts = set(targets.TARGETS["el9"].fact_names)
    assert facts == set(targets.NOTES), "each Target field needs exactly one FactNote"
    for name, note in targets.NOTES.items():
        assert note.reason and note.source, name


def test_the_handlers_are_the_measured_ones() -> None:
    # docs/measure/pykickstart_targets.out: install ok/deprecated/removed; timesource only RHEL9; --allow-ssh RHEL9.
    table = {name: (t.pykickstart_version, t.install_command, t.timesource_command, t.rootpw_allow_ssh)
             for name, t in targets.TARGETS.items()}
    assert table == {"centos7": ("RHEL7", True, False, False), "el8": ("RHEL8", False, False, False),
                     "el9": ("RHEL9", False, True, True)}


def test_public_mirror_layouts() -> None:
    rocky9 = targets.alias("rocky9").tree
    assert rocky9 is not None
    assert rocky9.baseos == "https://dl.rockylinux.org/pub/rocky/9/BaseOS/x86_64/os/"
    assert rocky9.appstream == "https://dl.rockylinux.org/pub/rocky/9/AppStream/x86_64/os/"
    stream = targets.alias("centos-stream9").tree
    assert stream is not None and stream.baseos == "https://mirror.stream.centos.org/9-stream/BaseOS/x86_64/os/"
    # RHEL has no public tree, and the canonical names stand for any distribution of the release.
    assert [a.name for a in targets.ALIASES.values() if a.tree is None] == ["centos7", "el8", "el9", "rhel8", "rhel9"]


@pytest.mark.parametrize(("url", "appstream"), [
    ("http://m/rocky/9/BaseOS/x86_64/os/", "http://m/rocky/9/AppStream/x86_64/os/"),
    ("http://m/el8/BaseOS/x86_64/os", "http://m/el8/AppStream/x86_64/os"),
    ("http://m/dvd/BaseOS", "http://m/dvd/AppStream"),
    ("http://m/BaseOSx/x86_64/os/", None),   # a folder that only starts like it
    ("http://m/centos7/os/x86_64", None),
])
def test_appstream_beside_baseos(url: str, appstream: str | None) -> None:
    assert targets.appstream_beside(url) == appstream


def test_differences_name_the_facts_with_their_reasons() -> None:
    changes = targets.differences(targets.TARGETS["centos7"], targets.TARGETS["el9"])
    names = [change.fact for change in changes]
    assert "install_command" in names and "timesource_command" in names
    assert "release" not in names and "name" not in names
    install = next(c for c in changes if c.fact == "install_command")
    assert (install.a, install.b) == (True, False)
    assert "removed on EL9" in install.note.reason
    assert targets.differences(targets.TARGETS["el9"], targets.TARGETS["el9"]) == ()


def test_targets_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        targets.TARGETS["el9"].install_command = True  # type: ignore[misc]
