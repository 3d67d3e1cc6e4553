"""Atomic writes, which every output goes through: a reader sees the old file or the new one, never half."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from builder.fsutil import atomic_copy, atomic_output, atomic_write


class _Interrupted(Exception):
    pass


def test_a_write_that_fails_midway_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "ks.cfg"
    target.write_bytes(b"old\n")
    with pytest.raises(_Interrupted), atomic_output(target, 0o600) as handle:
        handle.write(b"half of the new")
        raise _Interrupted
    assert target.read_bytes() == b"old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ks.cfg"]


@pytest.mark.parametrize("durable", [True, False])
def test_the_file_gets_its_mode_and_contents(tmp_path: Path, durable: bool) -> None:
    target = tmp_path / "deep/folder/ks.cfg"
    atomic_write(target, b"rootpw --iscrypted $6$x\n", 0o600, durable=durable)
    assert target.read_bytes() == b"rootpw --iscrypted $6$x\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_a_copy_replaces_the_target_whole(tmp_path: Path) -> None:
    source = tmp_path / "initrd.img"
    source.write_bytes(bytes(range(256)) * 10_000)
    target = tmp_path / "tftp/images/initrd.img"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"stale")
    atomic_copy(target, source, durable=False)
    assert target.read_bytes() == source.read_bytes()
    assert stat.S_IMODE(target.stat().st_mode) == 0o644


def test_a_copy_of_a_missing_file_writes_nothing(tmp_path: Path) -> None:
    target = tmp_path / "out/vmlinuz"
    with pytest.raises(FileNotFoundError):
        atomic_copy(target, tmp_path / "missing")
    assert not target.parent.exists() or list(target.parent.iterdir()) == []
