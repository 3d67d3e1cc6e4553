"""Following logs on a remote libvirt host: growing volumes mirrored into local files through the storage API.
Run against the local qemu:///system, whose storage API is the same one a remote host answers."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from builder.boot.log_mirror import VolumeMirror, mirrored

pytestmark = pytest.mark.boot
libvirt = pytest.importorskip("libvirt")


@pytest.fixture
def log_volume(booted: str, tmp_path: Path) -> Iterator[tuple[Any, Any]]:
    """A log volume in a pool of the test's own: a transient dir pool under tmp_path, uniquely named, gone
    when destroyed (a freshly installed libvirtd has no `default` pool)."""
    conn = libvirt.open(booted)
    folder = tmp_path / "pool"
    folder.mkdir()
    pool_name = f"ksbuild_test-mirror-{uuid.uuid4().hex[:8]}"
    pool = conn.storagePoolCreateXML(
        f"<pool type='dir'><name>{pool_name}</name><target><path>{folder}</path></target></pool>", 0
    )
    name = f"ksbuild_test-mirror-{uuid.uuid4().hex[:8]}.log"
    try:
        volume = pool.createXML(
            f"<volume><name>{name}</name><capacity>0</capacity><target><format type='raw'/></target></volume>", 0
        )
        try:
            yield conn, volume
        finally:
            volume.delete(0)
    finally:
        pool.destroy()
        conn.close()


def _append(path: str, data: bytes) -> None:
    # What the VM's log writer (virtlogd) does on the libvirt host.
    with open(path, "ab") as handle:
        handle.write(data)


def test_each_sync_appends_only_what_the_volume_gained(log_volume: tuple[Any, Any], tmp_path: Path) -> None:
    conn, volume = log_volume
    local = tmp_path / "console.log"
    mirror = VolumeMirror(conn, volume, local)
    assert mirror.sync() == 0 and local.read_bytes() == b""
    _append(volume.path(), b"Starting installer, one moment...\n")
    assert mirror.sync() == 34
    _append(volume.path(), b"Installing qemu-kvm (1/4)\npartial")
    mirror.sync()
    assert local.read_bytes() == b"Starting installer, one moment...\nInstalling qemu-kvm (1/4)\npartial"
    assert mirror.sync() == 0


def test_mirrored_follows_in_the_background_and_syncs_at_the_end(log_volume: tuple[Any, Any],
                                                                  tmp_path: Path) -> None:
    conn, volume = log_volume
    local = tmp_path / "installer.log"
    with mirrored(conn, {local: volume}, interval=0.05):
        _append(volume.path(), b"line one\n")
        _append(volume.path(), b"line two\n")
    assert local.read_bytes() == b"line one\nline two\n"
