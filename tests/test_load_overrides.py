"""`--set key.path=value`: parsing, applying after the merge, and located refusals."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from builder.errors import BadInput, Location
from builder.load import format_key, parse_override
from tests.helpers import Workdir

PROFILE = (
    "system:\n"  # 1
    "  hostname: kvm01.lab.local\n"  # 2
    "  selinux: enforcing\n"  # 3
    "network:\n"  # 4
    "  nameservers: [192.0.2.53]\n"  # 5
    "  bridges:\n"  # 6
    "    - name: br0\n"  # 7
    "      stp: true\n"  # 8
    "packages:\n"  # 9
    "  install: [vim, tmux]\n"  # 10
)


@pytest.fixture
def work(tmp_path: Path) -> Workdir:
    return Workdir(tmp_path)


@pytest.fixture
def profile_file(work: Workdir) -> Path:
    return work.write("p.yaml", PROFILE)


def refusals(work: Workdir, *overrides: str) -> list[str]:
    return work.problems("p.yaml", overrides)


@pytest.mark.parametrize(
    ("text", "path", "value"),
    [
        ("system.selinux=permissive", ("system", "selinux"), "permissive"),
        ("virtualization.nested=false", ("virtualization", "nested"), False),
        ("network.nameservers=[1.1.1.1, 9.9.9.9]", ("network", "nameservers"), ["1.1.1.1", "9.9.9.9"]),
        ("network.bridges[0].stp=no", ("network", "bridges", 0, "stp"), False),
        ("packages.install[2]=foo", ("packages", "install", 2), "foo"),
        ("disk.size_gb=40", ("disk", "size_gb"), 40),
        ("disk.ratio=0.5", ("disk", "ratio"), 0.5),
        ("system.hostname='123'", ("system", "hostname"), "123"),
        ("system.rootpw=pa#ss word", ("system", "rootpw"), "pa#ss word"),
        ("system.note=a=b", ("system", "note"), "a=b"),
        ("system.mac=52:54:00:aa:bb:cc", ("system", "mac"), "52:54:00:aa:bb:cc"),
        ("bridge={name: br1, stp: null}", ("bridge",), {"name": "br1"}),
        ("system.timezone=", ("system", "timezone"), None),
        ("system.timezone=null", ("system", "timezone"), None),
        ("system.hostname =x", ("system", "hostname"), "x"),
        ('sysctl["net.ipv4.ip_forward"]=1', ("sysctl", "net.ipv4.ip_forward"), 1),
        ('["odd key"][0]=x', ("odd key", 0), "x"),
    ],
)
def test_parse_override(text: str, path: tuple[str | int, ...], value: Any) -> None:
    assert parse_override(text) == (path, value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "system.selinux",
            "--set system.selinux: expected '=' after the key (the form is KEY=VALUE, "
            "e.g. system.selinux=permissive)",
        ),
        (
            "=permissive",
            "--set =permissive: expected a key path such as system.selinux (the form is KEY=VALUE, "
            "e.g. system.selinux=permissive)",
        ),
        (
            "system..selinux=x",
            "--set system..selinux=x: expected a key name after '.' at character 8 "
            "(the form is KEY=VALUE, e.g. system.selinux=permissive)",
        ),
        (
            "a[x]=1",
            "--set a[x]=1: expected a key or [index] at character 2 (the form is KEY=VALUE, "
            "e.g. system.selinux=permissive)",
        ),
        (
            "[0]=1",
            "--set [0]=1: expected a key or [index] at character 1 (the form is KEY=VALUE, "
            "e.g. system.selinux=permissive)",
        ),
        (
            'a["unclosed=1',
            '--set a["unclosed=1: bad quoted key at character 3: Unterminated string starting at '
            "(the form is KEY=VALUE, e.g. system.selinux=permissive)",
        ),
        (
            "a.b=[1, 2",
            "--set a.b=[1, 2: a.b: the value is not valid YAML: expected ',' or ']', but got "
            "'<stream end>' (column 6; while parsing a flow sequence)",
        ),
        (
            "a=!!python/name:os.system",
            "--set a=!!python/name:os.system: a: the value is not valid YAML: "
            "unsupported YAML tag !!python/name:os.system",
        ),
        (
            "extends=other",
            "--set extends=other: extends: cannot be changed with --set: it is read before any --set applies",
        ),
    ],
)
def test_bad_override_syntax(text: str, message: str) -> None:
    with pytest.raises(BadInput) as caught:
        parse_override(text)
    assert [f.format() for f in caught.value.findings] == [message]
    assert caught.value.findings[0].location == Location(f"--set {text}")


def test_overrides_apply_after_the_merge_in_order(work: Workdir, profile_file: Path) -> None:
    profile = work.load(
        profile_file,
        overrides=[
            "system.selinux=permissive",
            "network.nameservers=[1.1.1.1]",
            "virtualization.nested=false",
            "packages.install[2]=foo",
            "packages.install[0]=emacs",
            "system.selinux=disabled",  # later wins
            "network.bridges[1]={name: br1}",
            "network.bridges[1].stp=false",
        ],
    )
    assert profile.data == {
        "system": {"hostname": "kvm01.lab.local", "selinux": "disabled"},
        "network": {
            "nameservers": ["1.1.1.1"],
            "bridges": [{"name": "br0", "stp": True}, {"name": "br1", "stp": False}],
        },
        "packages": {"install": ["emacs", "tmux", "foo"]},
        "virtualization": {"nested": False},
    }
    assert profile.locate(("system", "selinux")) == Location("--set system.selinux=disabled")
    assert profile.locate(("system", "hostname")) == Location("p.yaml", 2)
    assert profile.locate(("network", "nameservers", 0)) == Location("--set network.nameservers=[1.1.1.1]")
    assert profile.locate(("virtualization",)) == Location("--set virtualization.nested=false")
    assert profile.locate(("packages", "install", 0)) == Location("--set packages.install[0]=emacs")
    assert profile.locate(("packages", "install", 1)) == Location("p.yaml", 10)
    assert profile.locate(("network", "bridges", 1, "name")) == Location(
        "--set network.bridges[1]={name: br1}"
    )


def test_null_removes_a_key_and_its_locations(work: Workdir, profile_file: Path) -> None:
    profile = work.load(
        profile_file, overrides=["network.bridges=", "system.selinux=null", "absent.key=null"]
    )
    assert profile.data == {
        "system": {"hostname": "kvm01.lab.local"},
        "network": {"nameservers": ["192.0.2.53"]},
        "packages": {"install": ["vim", "tmux"]},
    }
    assert not [path for path in profile.locations if path[:2] == ("network", "bridges")]
    # Nothing left behind means the parent is located instead.
    assert profile.locate(("network", "bridges", 0)) == Location("p.yaml", 4)


def test_replacing_a_list_forgets_its_old_items(work: Workdir, profile_file: Path) -> None:
    profile = work.load(profile_file, overrides=["packages.install=[nano]"])
    assert profile.locate(("packages", "install", 1)) == Location("--set packages.install=[nano]")
    assert ("packages", "install", 1) not in profile.locations


def test_every_inapplicable_override_is_reported(work: Workdir, profile_file: Path) -> None:
    assert refusals(work,
        "packages.install[5]=x",
        "system.hostname.short=kvm01",
        "network.bridges.name=br0",
        "system[0]=x",
        "network.bridges[0]=null",
        "packages.install[3].name=x",
        "fine.key=1",
    ) == [
        "--set packages.install[5]=x: packages.install: index 5 is out of range: the list has 2 item(s); "
        "[2] appends one",
        "--set system.hostname.short=kvm01: system.hostname: is a str value, not a mapping or a list",
        "--set network.bridges.name=br0: network.bridges: is a list, not a mapping: "
        "use [index] instead of .name",
        "--set system[0]=x: system: is a mapping, not a list: use .key instead of [0]",
        "--set network.bridges[0]=null: network.bridges[0]: a list item cannot be removed with null; "
        "set the whole list instead",
        "--set packages.install[3].name=x: packages.install: index 3 is out of range: "
        "the list has 2 item(s); [2] appends one",
    ]


def test_override_errors_come_with_the_profile_errors(work: Workdir) -> None:
    work.write("p.yaml", "a: 1\na: 2\n")
    assert refusals(work, "a.b", "c=[") == [
        "p.yaml:2: a: duplicate key (first at line 1)",
        "--set a.b: expected '=' after the key (the form is KEY=VALUE, e.g. system.selinux=permissive)",
        "--set c=[: c: the value is not valid YAML: expected the node content, but found '<stream end>' "
        "(column 2; while parsing a flow node)",
    ]


@pytest.mark.parametrize(
    ("path", "text"),
    [
        (("network", "bridges", 0, "ipv4", "address"), "network.bridges[0].ipv4.address"),
        (("sysctl", "net.ipv4.ip_forward"), 'sysctl["net.ipv4.ip_forward"]'),
        (("a b", 'q"', ""), '["a b"]["q\\""][""]'),
        (("list", 0, 1), "list[0][1]"),
        ((), ""),
    ],
)
def test_format_key(path: tuple[str | int, ...], text: str) -> None:
    assert format_key(path) == text
    if path:
        assert parse_override(f"{text}=1") == (path, 1)
