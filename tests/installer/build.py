"""Build the test install tree: a CentOS-7-shaped tree whose installer is the ksbuild test installer.

The tree has what ksbuild reads from CentOS media (`.treeinfo`, images/pxeboot/vmlinuz and initrd.img)
and an ISO9660 image of itself with CentOS's volume id, so the same ksbuild code path boots it as a
real CentOS ISO or tree. The kernel is the build machine's Debian kernel; the initrd holds the
installer (shell scripts in initrd/), busybox, bash, mkfs.ext4, extlinux and the files of the test
system it installs (target/, target-initramfs/). See README.md.

Builds are cached in `cache_dir/<key>/`, the key hashing the installer's own files and the identity
of every host file it copies, so a second call returns at once and a changed script or kernel builds
anew. Build with `python -m tests.installer.build CACHE_DIR`.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from builder.fsutil import sha256_file
from builder.proc import find_tool, run
from tests.installer.hostfiles import (
    INSTALLER_MODULES,
    INSTALLER_OPTIONAL_MODULES,
    ROOT_DISK_MODULES,
    ROOT_DISK_OPTIONAL_MODULES,
    HostInputs,
    ModuleTree,
    efi_boot_inputs,
    find_host_inputs,
    grub_efi_image,
    select_modules,
    shared_libraries,
)
from tests.installer.newc import NewcArchive

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Persona:
    """Which installer the test installer stands in for, and the tree it comes with: anaconda 21.48 with a CentOS 7
    tree, 33.16 with an EL8 tree, 34.25 with an EL9 tree (Rocky's names). The installer's wording and the
    installed system follow it (initrd/lib/persona.sh)."""

    release: str
    family: str
    volume_id: str

    @property
    def iso_name(self) -> str:
        return f"{self.family.split()[0]}-{self.release}-x86_64-ksbuild-test.iso"


PERSONAS = {
    "7": Persona("7", "CentOS", "CentOS 7 x86_64"),
    "8": Persona("8", "Rocky Linux", "Rocky-8-x86_64-dvd"),
    "9": Persona("9", "Rocky Linux", "Rocky-9-x86_64-dvd"),
}
VOLUME_ID = PERSONAS["7"].volume_id
ISO_NAME = PERSONAS["7"].iso_name
KERNEL_PATH = "images/pxeboot/vmlinuz"
INITRD_PATH = "images/pxeboot/initrd.img"
# Fixed, so the same inputs give the same .treeinfo and ISO bytes.
TREE_EPOCH = 1_600_000_000
PAYLOAD_DIR = "usr/share/ksbuild-installer"
# Files of this directory that are not inputs of the build.
_NOT_INPUTS = ("README.md", "test_installer.py")


@dataclass(frozen=True)
class TestInstallTree:
    """A built test install tree and the ISO image of it."""

    __test__ = False  # a data class, not a pytest test class

    root: Path
    iso: Path
    kernel: Path
    initrd: Path


def _tree_at(directory: Path, persona: Persona = PERSONAS["7"]) -> TestInstallTree:
    root = directory / "tree"
    return TestInstallTree(root=root, iso=directory / persona.iso_name, kernel=root / KERNEL_PATH,
                           initrd=root / INITRD_PATH)


def _own_inputs() -> list[Path]:
    return sorted(
        path
        for path in HERE.rglob("*")
        if path.is_file()
        and "__pycache__" not in path.parts
        and path.name not in _NOT_INPUTS
        and not path.name.startswith(".")
    )


def _host_binaries() -> dict[str, Path]:
    """Binaries the installer runs, by the path they take in the initrd."""
    return {
        "usr/bin/bash": Path(find_tool("bash")),
        "usr/sbin/mkfs.ext4": Path(find_tool("mkfs.ext4")),
        "usr/bin/extlinux": Path(find_tool("extlinux")),
        "usr/sbin/sfdisk": Path(find_tool("sfdisk")),
    }


def _input_key(host: HostInputs, binaries: dict[str, Path], libraries: list[Path], persona: Persona) -> str:
    digest = hashlib.sha256()
    digest.update(f"persona\0{persona}\0".encode())
    for path in _own_inputs():
        digest.update(f"{path.relative_to(HERE)}\0{sha256_file(path)}\0".encode())
    digest.update(f"{host.kernel_version}\0{host.busybox_version}\0".encode())
    grub_dir, shim = efi_boot_inputs()
    host_files = [host.kernel, host.busybox, host.mbr, host.modules_dir / "modules.dep", *binaries.values(),
                  grub_dir / "kernel.img", grub_dir / "moddep.lst", Path(find_tool("grub-mkimage")), shim]
    for path in sorted({*host_files, *libraries}):
        info = path.stat()
        digest.update(f"{path}\0{info.st_size}\0{info.st_mtime_ns}\0".encode())
    return digest.hexdigest()[:20]


def _archive_path(host_path: Path) -> str:
    """Where a host file goes in a merged-/usr image (/lib/x.so and /usr/lib/x.so are the same file)."""
    text = str(host_path)
    for prefix in ("/bin/", "/sbin/", "/lib/", "/lib64/"):
        if text.startswith(prefix):
            return "usr/" + text[1:]
    return text.lstrip("/")


def _base_image(host: HostInputs, modules: ModuleTree) -> NewcArchive:
    """Directories, busybox with its applets, device nodes and kernel modules, as both images have them."""
    archive = NewcArchive()
    for directory in ("usr/bin", "usr/sbin", "usr/lib", "usr/lib64", "dev", "proc", "sys", "run", "etc", "root"):
        archive.add_dir(directory)
    archive.add_dir("tmp", 0o1777)
    for name in ("bin", "sbin", "lib", "lib64"):
        archive.add_symlink(name, f"usr/{name}")
    archive.add_host_file("usr/bin/busybox", host.busybox, 0o755)
    for applet in run([str(host.busybox), "--list-full"]).stdout.split():
        path = applet if applet.startswith("usr/") else f"usr/{applet}"
        if "/" in applet and path not in archive:
            archive.add_symlink(path, "/usr/bin/busybox")
    # The kernel opens /dev/console for init before anything can mount devtmpfs.
    archive.add_char_device("dev/console", 5, 1)
    archive.add_char_device("dev/null", 1, 3, 0o666)
    for relative, data in modules.files.items():
        archive.add_file(f"usr/lib/modules/{host.kernel_version}/{relative}", data)
    return archive


def _add_tree(archive: NewcArchive, source: Path, destination: str) -> None:
    """Copy a directory of this repository into the image, keeping only the executable bit of each file."""
    for path in sorted(source.rglob("*")):
        if path.is_file():
            mode = 0o755 if path.stat().st_mode & stat.S_IXUSR else 0o644
            if path.relative_to(source).as_posix() == "etc/shadow":
                mode = 0o000
            archive.add_file(f"{destination}/{path.relative_to(source).as_posix()}", path.read_bytes(), mode)


def _target_initramfs(host: HostInputs) -> bytes:
    modules = select_modules(host.modules_dir, ROOT_DISK_MODULES, ROOT_DISK_OPTIONAL_MODULES)
    archive = _base_image(host, modules)
    archive.add_dir("sysroot")
    archive.add_file("init", (HERE / "target-initramfs" / "init").read_bytes(), 0o755)
    return archive.to_bytes()


def _installer_initrd(host: HostInputs, binaries: dict[str, Path], persona: Persona) -> bytes:
    modules = select_modules(host.modules_dir, INSTALLER_MODULES, INSTALLER_OPTIONAL_MODULES)
    archive = _base_image(host, modules)
    payload_files = ["/usr/bin/busybox", f"/usr/lib/modules/{host.kernel_version}"]
    for path, source in binaries.items():
        archive.add_host_file(path, source, 0o755)
        for library in shared_libraries(source):
            archive.add_host_file(_archive_path(library), library)
            if path == "usr/bin/bash":
                payload_files.append("/" + _archive_path(library))
    payload_files.append("/usr/bin/bash")
    archive.add_symlink("usr/bin/sh", "bash")
    mke2fs_conf = Path("/etc/mke2fs.conf")
    if mke2fs_conf.is_file():
        archive.add_host_file("etc/mke2fs.conf", mke2fs_conf, 0o644)
    archive.add_file("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n")
    archive.add_file("etc/group", b"root:x:0:\n")
    archive.add_dir("mnt/sysimage")

    initrd = HERE / "initrd"
    archive.add_file("init", (initrd / "init").read_bytes(), 0o755)
    _add_tree(archive, initrd / "lib", "usr/lib/ksbuild-installer")
    archive.add_file("usr/lib/ksbuild-installer/persona", f"{persona.release}\n".encode())
    udhcpc_script = (initrd / "udhcpc.script").read_bytes()
    archive.add_file("usr/share/udhcpc/default.script", udhcpc_script, 0o755)

    archive.add_file(f"{PAYLOAD_DIR}/kernel-version", f"{host.kernel_version}\n".encode())
    archive.add_file(f"{PAYLOAD_DIR}/initramfs.img", _target_initramfs(host))
    archive.add_host_file(f"{PAYLOAD_DIR}/mbr.bin", host.mbr, 0o644)
    # UEFI installs: shim and a GRUB image whose prefix is CentOS 7's, /EFI/centos (payload.sh).
    _, shim = efi_boot_inputs()
    archive.add_host_file(f"{PAYLOAD_DIR}/efi/shimx64.efi", shim, 0o644)
    archive.add_file(f"{PAYLOAD_DIR}/efi/grubx64.efi", grub_efi_image("/EFI/centos"), 0o644)
    archive.add_file(
        f"{PAYLOAD_DIR}/libvirt-default-network.xml", (initrd / "libvirt-default-network.xml").read_bytes()
    )
    archive.add_file(f"{PAYLOAD_DIR}/payload.list", "".join(f"{path}\n" for path in sorted(payload_files)).encode())
    _add_tree(archive, HERE / "target", f"{PAYLOAD_DIR}/target")
    archive.add_file(f"{PAYLOAD_DIR}/target/usr/share/udhcpc/default.script", udhcpc_script, 0o755)
    return archive.to_bytes()


def _treeinfo(kernel: Path, initrd: Path, persona: Persona) -> str:
    name = f"{persona.family.split()[0]}-{persona.release}"
    return (
        f"# ksbuild test install tree: a stand-in for {persona.family} {persona.release} media "
        "(tests/installer/README.md)\n"
        "[general]\n"
        f"name = {name}\n"
        f"family = {persona.family}\n"
        f"timestamp = {TREE_EPOCH}\n"
        "variant = \n"
        f"version = {persona.release}\n"
        "packagedir = \n"
        "arch = x86_64\n"
        "\n"
        "[images-x86_64]\n"
        f"kernel = {KERNEL_PATH}\n"
        f"initrd = {INITRD_PATH}\n"
        "\n"
        "[checksums]\n"
        f"{KERNEL_PATH} = sha256:{sha256_file(kernel)}\n"
        f"{INITRD_PATH} = sha256:{sha256_file(initrd)}\n"
    )


def _write_tree(directory: Path, host: HostInputs, binaries: dict[str, Path], persona: Persona) -> None:
    tree = _tree_at(directory, persona)
    tree.kernel.parent.mkdir(parents=True)
    shutil.copyfile(host.kernel, tree.kernel)
    tree.initrd.write_bytes(_installer_initrd(host, binaries, persona))
    (tree.root / ".treeinfo").write_text(_treeinfo(tree.kernel, tree.initrd, persona))
    for path in [tree.root, *tree.root.rglob("*")]:
        os.utime(path, (TREE_EPOCH, TREE_EPOCH))
    # xorriso takes every timestamp it writes from SOURCE_DATE_EPOCH, so the ISO is reproducible too.
    environment = {**os.environ, "SOURCE_DATE_EPOCH": str(TREE_EPOCH)}
    run(
        ["xorriso", "-as", "mkisofs", "-quiet", "-V", persona.volume_id, "-r", "-J", "-o", str(tree.iso),
         str(tree.root)],
        env=environment,
    )


def build_test_tree(cache_dir: Path, release: str = "7") -> TestInstallTree:
    """The test install tree for this machine's kernel and busybox, built once into `cache_dir`; `release` picks
    the persona: "7" (CentOS 7, anaconda 21.48), "8" (EL8, anaconda 33) or "9" (EL9, anaconda 34)."""
    persona = PERSONAS[release]
    host = find_host_inputs()
    binaries = _host_binaries()
    libraries = [library for binary in binaries.values() for library in shared_libraries(binary)]
    directory = cache_dir / _input_key(host, binaries, libraries, persona)
    tree = _tree_at(directory, persona)
    if tree.iso.is_file() and (tree.root / ".treeinfo").is_file():
        return tree
    cache_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=cache_dir))
    try:
        _write_tree(staging, host, binaries, persona)
        # mkdtemp makes 0700; libvirt's qemu user must be able to read the kernel, initrd and ISO.
        staging.chmod(0o755)
        try:
            staging.rename(directory)
        except OSError:
            # A concurrent build finished first; its result is the same.
            if not tree.iso.is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return tree


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) not in (1, 2) or args[0].startswith("-") or (len(args) == 2 and args[1] not in PERSONAS):
        print("usage: python -m tests.installer.build CACHE_DIR [7|8|9]", file=sys.stderr)
        return 2
    print(build_test_tree(Path(args[0]), *args[1:]).root)
    return 0


if __name__ == "__main__":
    sys.exit(main())
