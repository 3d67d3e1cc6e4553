"""initrd injection (virt-install --initrd-inject), checked with the real cpio tool."""

from __future__ import annotations

import gzip
import subprocess
from pathlib import Path

import pytest

from builder.boot.inject import inject_files
from builder.errors import BadInput

KICKSTART = b"#version=RHEL7\ntext\nreboot\n"
FILES = {"ks.cfg": KICKSTART, "etc/ksbuild/extra.conf": b"answer=42\n"}


def appended_archive_offset(initrd_size: int) -> int:
    """Where an archive appended to an initrd of `initrd_size` bytes starts: the kernel reads concatenated
    newc archives at 4-byte boundaries, so the initrd is padded to the next multiple of 4."""
    return initrd_size + (-initrd_size % 4)


def _cpio(args: list[str], archive: bytes, cwd: Path | None = None) -> str:
    result = subprocess.run(["cpio", *args], input=archive, capture_output=True, cwd=cwd, check=True)
    return result.stdout.decode()


def _tiny_initramfs(tmp_path: Path) -> Path:
    """A gzipped newc initramfs made by GNU cpio, whose length is not a multiple of 4 (as compressed
    initrds often are), so the alignment padding is exercised."""
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "init").write_text("#!/bin/sh\necho original init\n")
    path = tmp_path / "tiny-initrd.img"
    for padding in range(64):
        (root / "etc" / "os-release").write_text("NAME=tiny" + "x" * padding + "\n")
        names = subprocess.run(["find", "."], cwd=root, capture_output=True, text=True, check=True).stdout
        archive = subprocess.run(
            ["cpio", "-o", "-H", "newc", "--quiet"], input=names.encode(), cwd=root, capture_output=True,
            check=True,
        ).stdout
        compressed = gzip.compress(archive, mtime=0)
        if len(compressed) % 4:
            path.write_bytes(compressed)
            return path
    raise AssertionError("no unaligned gzip length found")


@pytest.fixture
def initrd(tmp_path: Path) -> Path:
    return _tiny_initramfs(tmp_path)


def test_appended_archive_lists_exactly_the_injected_files(initrd: Path, tmp_path: Path) -> None:
    out = tmp_path / "initrd-ks.img"
    inject_files(initrd, out, FILES)
    appended = out.read_bytes()[appended_archive_offset(initrd.stat().st_size):]
    listed = _cpio(["-t", "--quiet"], appended).split()
    assert sorted(listed) == ["etc", "etc/ksbuild", "etc/ksbuild/extra.conf", "ks.cfg"]


def test_appended_archive_extracts_the_contents_and_mode(initrd: Path, tmp_path: Path) -> None:
    out = tmp_path / "initrd-ks.img"
    inject_files(initrd, out, FILES, mode=0o600)
    appended = out.read_bytes()[appended_archive_offset(initrd.stat().st_size):]
    dest = tmp_path / "extracted"
    dest.mkdir()
    _cpio(["-i", "-d", "--quiet"], appended, cwd=dest)
    assert (dest / "ks.cfg").read_bytes() == KICKSTART
    assert (dest / "etc/ksbuild/extra.conf").read_bytes() == b"answer=42\n"
    assert (dest / "ks.cfg").stat().st_mode & 0o777 == 0o600
    listing = _cpio(["-t", "-v", "--quiet"], appended)
    # Owner root and mtime 0: nothing from the machine that built the archive leaks into it.
    assert all(" root     root " in line and "1970" in line for line in listing.splitlines())


def test_original_initrd_is_an_unchanged_prefix_padded_to_four_bytes(initrd: Path, tmp_path: Path) -> None:
    out = tmp_path / "initrd-ks.img"
    inject_files(initrd, out, {"ks.cfg": KICKSTART})
    original, result = initrd.read_bytes(), out.read_bytes()
    assert result.startswith(original)
    offset = appended_archive_offset(len(original))
    assert offset % 4 == 0
    assert result[len(original):offset] == b"\0" * (offset - len(original))
    assert result[offset:offset + 6] == b"070701"


def test_output_is_byte_identical_on_repeat(initrd: Path, tmp_path: Path) -> None:
    first, second = tmp_path / "a.img", tmp_path / "b.img"
    inject_files(initrd, first, FILES)
    inject_files(initrd, second, dict(reversed(list(FILES.items()))))
    assert first.read_bytes() == second.read_bytes()


def test_paths_that_escape_the_initrd_are_refused(initrd: Path, tmp_path: Path) -> None:
    with pytest.raises(BadInput, match=r"\.\./etc/passwd"):
        inject_files(initrd, tmp_path / "out.img", {"../etc/passwd": b"x"})


def test_injecting_into_the_source_itself_is_refused(initrd: Path) -> None:
    with pytest.raises(BadInput, match="source initrd itself"):
        inject_files(initrd, initrd, {"ks.cfg": KICKSTART})
    assert b"ks.cfg" not in initrd.read_bytes()


def _debian_initrd() -> Path | None:
    found = sorted(Path("/boot").glob("initrd.img-*"))
    return found[-1] if found else None


def test_real_debian_initramfs_followed_by_our_archive(tmp_path: Path) -> None:
    base = _debian_initrd() or _tiny_initramfs(tmp_path)
    out = tmp_path / "initrd-ks.img"
    inject_files(base, out, {"ks.cfg": KICKSTART})
    original, result = base.read_bytes(), out.read_bytes()
    assert result[: len(original)] == original
    offset = appended_archive_offset(len(original))
    assert set(result[len(original):offset]) <= {0}
    assert _cpio(["-t", "--quiet"], result[offset:]).split() == ["ks.cfg"]
    # initramfs-tools' lsinitramfs cannot read archives appended after a compressed one (its zstd/xz
    # test rejects the trailing data). The kernel, the reader that matters, unpacks a gzipped initramfs
    # of odd length followed by our archive in test_boot_domain.py's qemu:///system boot test.
