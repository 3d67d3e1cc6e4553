"""Finding and caching the installer kernel and initrd of an ISO, a local tree or an HTTP URL.

These are file-handling tests: the "kernel" and "initrd" are a few bytes each.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pycdlib
import pytest

from builder.boot.media import resolve_media
from builder.errors import BadInput

KERNEL = b"fake-kernel\x00\x01" * 7
INITRD = b"fake-initrd\x7f" * 11


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def make_tree(root: Path, *, treeinfo: bool = True, checksums: bool = True, kernel: bytes = KERNEL,
              initrd: bytes = INITRD, kernel_path: str = "images/pxeboot/vmlinuz") -> Path:
    """A CentOS-7-shaped install tree: .treeinfo, the pxeboot kernel and initrd."""
    (root / kernel_path).parent.mkdir(parents=True, exist_ok=True)
    (root / "images/pxeboot").mkdir(parents=True, exist_ok=True)
    (root / kernel_path).write_bytes(kernel)
    (root / "images/pxeboot/initrd.img").write_bytes(initrd)
    if treeinfo:
        text = (
            "[general]\nfamily = CentOS\nversion = 7\narch = x86_64\n\n"
            "[stage2]\nmainimage = LiveOS/squashfs.img\n\n"
            f"[images-x86_64]\nkernel = {kernel_path}\ninitrd = images/pxeboot/initrd.img\n\n"
        )
        if checksums:
            text += (
                f"[checksums]\n{kernel_path} = sha256:{_sha256(kernel)}\n"
                f"images/pxeboot/initrd.img = sha256:{_sha256(initrd)}\n"
            )
        (root / ".treeinfo").write_text(text)
    return root


def _iso9660_name(name: str, is_dir: bool) -> str:
    """Level-3 ISO 9660 names, as a mastering tool without Rock Ridge writes them."""
    mangled = "".join(c if c.isalnum() else "_" for c in name.upper()) if is_dir else name.upper()
    if is_dir:
        return mangled
    stem, dot, ext = mangled.rpartition(".")
    stem = stem if dot else ext
    ext = ext if dot else ""
    stem = "".join(c if c.isalnum() else "_" for c in stem) or "_"
    return f"{stem}.{ext};1"


def make_iso_pycdlib(tree: Path, iso: Path, *, rock_ridge: bool = True, joliet: bool = True) -> Path:
    """An ISO of `tree` with Rock Ridge and Joliet names (as CentOS ISOs have), or fewer name facets."""
    image = pycdlib.PyCdlib()
    image.new(interchange_level=3, rock_ridge="1.09" if rock_ridge else None, joliet=3 if joliet else None)
    for dirpath, dirnames, filenames in sorted(os.walk(tree)):
        rel = Path(dirpath).relative_to(tree)
        iso_dir = "/" + "/".join(_iso9660_name(p, True) for p in rel.parts) if rel.parts else ""
        for dirname in sorted(dirnames):
            names = {"iso_path": f"{iso_dir}/{_iso9660_name(dirname, True)}"}
            if rock_ridge:
                names["rr_name"] = dirname
            if joliet:
                names["joliet_path"] = "/" + str(rel / dirname)
            image.add_directory(**names)
        for filename in sorted(filenames):
            data = (Path(dirpath) / filename).read_bytes()
            names = {"iso_path": f"{iso_dir}/{_iso9660_name(filename, False)}"}
            if rock_ridge:
                names["rr_name"] = filename
            if joliet:
                names["joliet_path"] = "/" + str(rel / filename)
            image.add_fp(io.BytesIO(data), len(data), **names)
    image.write(str(iso))
    image.close()
    return iso


@dataclass
class Served:
    url: str
    root: Path
    requests: list[tuple[str, int]] = field(default_factory=list)

    def count(self, path: str, status: int | None = None) -> int:
        return sum(1 for p, s in self.requests if p == path and (status is None or s == status))


@pytest.fixture
def served_tree(tmp_path: Path) -> Iterator[Served]:
    """An HTTP server on 127.0.0.1 serving a tree, recording (path, status) of every request."""
    root = tmp_path / "www"
    root.mkdir()
    served = Served("", root)

    class Handler(SimpleHTTPRequestHandler):
        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            served.requests.append((self.path, int(code)))

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    served.url = f"http://127.0.0.1:{server.server_address[1]}/centos7/"
    yield served
    server.shutdown()
    server.server_close()


# ---------------------------------------------------------------------------------------------- tree


def test_tree_uses_the_files_treeinfo_names(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "tree", kernel_path="isolinux/vmlinuz")
    media = resolve_media(str(tree), tmp_path / "cache")
    assert media.kind == "tree"
    assert media.kernel.read_bytes() == KERNEL
    assert media.kernel.samefile(tree / "isolinux/vmlinuz")
    assert media.initrd.read_bytes() == INITRD
    assert media.tree == tree.resolve()
    assert media.iso is None


def test_tree_without_treeinfo_falls_back_to_pxeboot(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "tree", treeinfo=False)
    messages: list[str] = []
    media = resolve_media(str(tree), tmp_path / "cache", messages.append)
    assert media.kernel.read_bytes() == KERNEL
    assert media.initrd.read_bytes() == INITRD
    assert any("no .treeinfo" in m for m in messages)


def test_tree_with_a_corrupt_kernel_is_rejected(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "tree")
    (tree / "images/pxeboot/vmlinuz").write_bytes(b"truncated")
    with pytest.raises(BadInput, match="images/pxeboot/vmlinuz: sha256 checksum mismatch"):
        resolve_media(str(tree), tmp_path / "cache")


def test_tree_missing_the_initrd_names_it(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "tree")
    (tree / "images/pxeboot/initrd.img").unlink()
    with pytest.raises(BadInput, match=r"install tree has no images/pxeboot/initrd\.img"):
        resolve_media(str(tree), tmp_path / "cache")


def test_missing_location_and_unsupported_scheme_are_bad_input(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="no such ISO file or install tree"):
        resolve_media(str(tmp_path / "nope.iso"), tmp_path / "cache")
    with pytest.raises(BadInput, match="unsupported install source"):
        resolve_media("nfs://server/centos7", tmp_path / "cache")


def test_a_file_that_is_not_an_iso_is_rejected(tmp_path: Path) -> None:
    bogus = tmp_path / "centos.iso"
    bogus.write_bytes(b"\0" * 40000)
    with pytest.raises(BadInput, match="not an ISO 9660 image"):
        resolve_media(str(bogus), tmp_path / "cache")


# ----------------------------------------------------------------------------------------------- ISO


def test_rock_ridge_iso_is_read_and_cached(tmp_path: Path) -> None:
    iso = make_iso_pycdlib(make_tree(tmp_path / "tree"), tmp_path / "centos.iso")
    cache = tmp_path / "cache"
    media = resolve_media(str(iso), cache)
    assert (media.kind, media.repo, media.iso) == ("iso", "cdrom", iso.resolve())
    assert media.kernel.read_bytes() == KERNEL
    assert media.initrd.read_bytes() == INITRD
    assert cache in media.kernel.parents
    inodes = (media.kernel.stat().st_ino, media.initrd.stat().st_ino)
    again = resolve_media(str(iso), cache)
    assert (again.kernel, again.initrd) == (media.kernel, media.initrd)
    # Not extracted again: the cached files were not rewritten (atomic writes would give new inodes).
    assert (again.kernel.stat().st_ino, again.initrd.stat().st_ino) == inodes


def test_rebuilt_iso_at_the_same_path_is_extracted_again(tmp_path: Path) -> None:
    iso = make_iso_pycdlib(make_tree(tmp_path / "tree"), tmp_path / "centos.iso")
    first = resolve_media(str(iso), tmp_path / "cache")
    assert first.kernel.read_bytes() == KERNEL
    new_kernel = b"a newer kernel" * 5
    make_iso_pycdlib(make_tree(tmp_path / "tree2", kernel=new_kernel), iso)
    assert resolve_media(str(iso), tmp_path / "cache").kernel.read_bytes() == new_kernel


@pytest.mark.parametrize(("rock_ridge", "joliet"), [(False, True), (False, False)], ids=["joliet", "iso9660"])
def test_isos_without_rock_ridge_are_read(tmp_path: Path, rock_ridge: bool, joliet: bool) -> None:
    tree = make_tree(tmp_path / "tree")
    iso = make_iso_pycdlib(tree, tmp_path / "plain.iso", rock_ridge=rock_ridge, joliet=joliet)
    media = resolve_media(str(iso), tmp_path / "cache")
    assert media.kernel.read_bytes() == KERNEL
    assert media.initrd.read_bytes() == INITRD


def test_iso_without_treeinfo_falls_back(tmp_path: Path) -> None:
    iso = make_iso_pycdlib(make_tree(tmp_path / "tree", treeinfo=False), tmp_path / "centos.iso")
    media = resolve_media(str(iso), tmp_path / "cache")
    assert media.kernel.read_bytes() == KERNEL


def test_iso_with_a_corrupt_initrd_is_rejected(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "tree")
    (tree / "images/pxeboot/initrd.img").write_bytes(b"bit rot")
    iso = make_iso_pycdlib(tree, tmp_path / "centos.iso")
    with pytest.raises(BadInput, match=r"initrd\.img: sha256 checksum mismatch"):
        resolve_media(str(iso), tmp_path / "cache")


@pytest.mark.skipif(shutil.which("xorriso") is None, reason="xorriso is not installed")
def test_xorriso_iso_is_read(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "tree")
    iso = tmp_path / "xorriso.iso"
    mkisofs = ["xorriso", "-as", "mkisofs", "-quiet", "-R", "-J", "-V", "CentOS 7 x86_64"]
    subprocess.run([*mkisofs, "-o", str(iso), str(tree)], check=True, capture_output=True)
    media = resolve_media(str(iso), tmp_path / "cache")
    assert media.kernel.read_bytes() == KERNEL
    assert media.initrd.read_bytes() == INITRD


# ----------------------------------------------------------------------------------------------- URL


def test_url_downloads_once_when_treeinfo_has_checksums(tmp_path: Path, served_tree: Served) -> None:
    make_tree(served_tree.root / "centos7")
    cache = tmp_path / "cache"
    media = resolve_media(served_tree.url, cache)
    assert (media.kind, media.repo) == ("url", served_tree.url)
    assert media.kernel.read_bytes() == KERNEL
    assert media.initrd.read_bytes() == INITRD
    again = resolve_media(served_tree.url, cache)
    assert again.kernel.read_bytes() == KERNEL
    assert served_tree.count("/centos7/images/pxeboot/vmlinuz") == 1
    assert served_tree.count("/centos7/images/pxeboot/initrd.img") == 1
    assert served_tree.count("/centos7/.treeinfo") == 2


def test_url_download_with_a_checksum_mismatch_is_rejected_and_not_cached(
    tmp_path: Path, served_tree: Served
) -> None:
    tree = make_tree(served_tree.root / "centos7")
    good_kernel = (tree / "images/pxeboot/vmlinuz").read_bytes()
    (tree / "images/pxeboot/vmlinuz").write_bytes(b"tampered in transit")
    with pytest.raises(BadInput, match=r"vmlinuz: sha256 checksum mismatch"):
        resolve_media(served_tree.url, tmp_path / "cache")
    (tree / "images/pxeboot/vmlinuz").write_bytes(good_kernel)
    assert resolve_media(served_tree.url, tmp_path / "cache").kernel.read_bytes() == KERNEL
    assert served_tree.count("/centos7/images/pxeboot/vmlinuz") == 2


def test_url_without_checksums_revalidates_with_last_modified(tmp_path: Path, served_tree: Served) -> None:
    tree = make_tree(served_tree.root / "centos7", checksums=False)
    cache = tmp_path / "cache"
    resolve_media(served_tree.url, cache)
    media = resolve_media(served_tree.url, cache)
    assert media.kernel.read_bytes() == KERNEL
    assert served_tree.count("/centos7/images/pxeboot/vmlinuz", 200) == 1
    assert served_tree.count("/centos7/images/pxeboot/vmlinuz", 304) == 1
    # A changed file on the server (newer mtime) is downloaded again.
    kernel = tree / "images/pxeboot/vmlinuz"
    kernel.write_bytes(b"updated kernel")
    stat = kernel.stat()
    os.utime(kernel, (stat.st_atime + 10, stat.st_mtime + 10))
    assert resolve_media(served_tree.url, cache).kernel.read_bytes() == b"updated kernel"


def test_url_without_treeinfo_falls_back(tmp_path: Path, served_tree: Served) -> None:
    make_tree(served_tree.root / "centos7", treeinfo=False)
    media = resolve_media(served_tree.url, tmp_path / "cache")
    assert media.kernel.read_bytes() == KERNEL
    assert served_tree.count("/centos7/.treeinfo", 404) == 1


def test_url_missing_the_kernel_names_it(tmp_path: Path, served_tree: Served) -> None:
    tree = make_tree(served_tree.root / "centos7")
    (tree / "images/pxeboot/vmlinuz").unlink()
    with pytest.raises(BadInput, match=r"/centos7/images/pxeboot/vmlinuz: not found"):
        resolve_media(served_tree.url, tmp_path / "cache")


def test_unreachable_url_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="cannot download"):
        resolve_media("http://127.0.0.1:9/centos7/", tmp_path / "cache")


def test_treeinfo_release_and_a_target_that_does_not_match(tmp_path: Path) -> None:
    """The media's release comes from its .treeinfo; a boot test of an EL9 profile on CentOS 7 media is refused
    before any VM starts (that anaconda would stop on the kickstart's first EL9-only line)."""
    from builder.boot.media import check_release

    tree = tmp_path / "tree"
    (tree / "images/pxeboot").mkdir(parents=True)
    (tree / "images/pxeboot/vmlinuz").write_bytes(b"k")
    (tree / "images/pxeboot/initrd.img").write_bytes(b"i")
    (tree / ".treeinfo").write_text("[general]\nfamily = CentOS\nversion = 7\n")
    media = resolve_media(str(tree), tmp_path / "cache")
    assert (media.release, media.family) == ("7", "CentOS")
    check_release(media, "centos7", str(tree), "the profile's target")
    with pytest.raises(BadInput, match=r"the media is CentOS 7 \(its \.treeinfo\), but the profile's target is "
                                       r"rocky9 \(EL9\)"):
        check_release(media, "rocky9", str(tree), "the profile's target")
    (tree / ".treeinfo").write_text("[release]\nname = Rocky Linux\nversion = 9.4\n")
    assert resolve_media(str(tree), tmp_path / "cache").release == "9"
