"""The Debian files the test installer is made of: kernel, kernel modules, busybox, a few binaries, and
the UEFI boot loaders (shim, GRUB images).

Everything comes from packages installed on the build machine (linux-image-amd64, busybox-static, bash,
e2fsprogs, extlinux, syslinux-common, fdisk, grub-efi-amd64-bin, shim-unsigned); nothing is downloaded.
"""

from __future__ import annotations

import gzip
import lzma
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from builder.errors import CommandFailed, ToolMissing
from builder.proc import find_tool, run

BOOT_DIR = Path("/boot")
MODULES_ROOT = Path("/lib/modules")
# syslinux-common ships the MBR boot code that chains to the active partition's extlinux.
MBR_CANDIDATES = (Path("/usr/lib/syslinux/mbr/mbr.bin"), Path("/usr/lib/EXTLINUX/mbr.bin"))

# Drivers for the devices libvirt and qemu give a guest (virtio disk/NIC/serial, IDE/SATA/SCSI cdrom),
# the filesystems the installer writes and reads, and what a hypervisor's network setup needs: the installed test
# system brings up bridges, bonds and VLANs with the kernel's own bridge, bonding and 8021q modules.
INSTALLER_MODULES = (
    "virtio_pci", "virtio_blk", "virtio_net", "virtio_console", "ext4", "crc32c_generic",
    "isofs", "sr_mod", "cdrom", "bridge", "8021q", "bonding", "vfat", "nls_cp437", "nls_ascii",
)  # fmt: skip
INSTALLER_OPTIONAL_MODULES = (
    "virtio_scsi", "virtio_rng", "virtio_balloon", "sd_mod", "ata_piix", "ata_generic", "ahci",
    "nls_utf8", "tun", "veth", "dummy", "macvtap", "e1000", "8139cp", "8139too",
    "kvm", "kvm_intel", "kvm_amd", "af_packet", "stp", "llc",
)  # fmt: skip

# What the installed system's initramfs needs to mount its root partition.
ROOT_DISK_MODULES = ("virtio_pci", "virtio_blk", "ext4", "crc32c_generic")
ROOT_DISK_OPTIONAL_MODULES = ("virtio_scsi", "ata_piix", "ahci", "sd_mod")

_COMPRESSED_SUFFIXES = (".ko.xz", ".ko.zst", ".ko.gz")

# UEFI boot loaders: Debian's GRUB modules (grub-efi-amd64-bin) and its unsigned shim (shim-unsigned), which
# loads grubx64.efi from its own folder (disk) or its own TFTP folder (network), as CentOS 7's shim does.
GRUB_EFI_DIR = Path("/usr/lib/grub/x86_64-efi")
SHIM = Path("/usr/lib/shim/shimx64.efi")
# What a GRUB image needs for ksbuild's entries and the test system's grub.cfg, built in (as CentOS 7's
# grubx64.efi has its modules built in): network boot, both Linux loaders, chainloading another EFI loader,
# finding it on a GPT disk's FAT partition, and the ext4 root.
GRUB_EFI_MODULES = (
    "normal", "configfile", "echo", "test", "serial", "terminal", "minicmd", "efinet", "net", "tftp",
    "linux", "linuxefi", "chain", "search", "search_fs_file", "search_fs_uuid", "part_gpt", "part_msdos",
    "fat", "ext2",
)  # fmt: skip


def efi_boot_inputs() -> tuple[Path, Path]:
    """Debian's GRUB module folder and shim, or ToolMissing naming the package."""
    if not (GRUB_EFI_DIR / "kernel.img").is_file():
        raise ToolMissing(f"{GRUB_EFI_DIR} not found; install Debian's grub-efi-amd64-bin")
    if not SHIM.is_file():
        raise ToolMissing(f"{SHIM} not found; install Debian's shim-unsigned")
    return GRUB_EFI_DIR, SHIM


def grub_efi_image(prefix: str, modules: Sequence[str] = GRUB_EFI_MODULES, early_config: str | None = None) -> bytes:
    """A GRUB EFI image from Debian's modules, with `modules` built in and `prefix` as its prefix.

    An empty prefix makes GRUB take the folder it was loaded from (its TFTP boot file's folder on a network
    boot), as CentOS 7's GRUB does with $fw_path. `early_config` is embedded and runs before normal mode.
    """
    grub_dir, _ = efi_boot_inputs()
    with tempfile.TemporaryDirectory(prefix="ksbuild-grub-") as folder:
        image = Path(folder) / "grubx64.efi"
        embedded: list[str] = []
        if early_config is not None:
            (Path(folder) / "early.cfg").write_text(early_config)
            embedded = ["-c", str(Path(folder) / "early.cfg")]
        run([find_tool("grub-mkimage"), "-O", "x86_64-efi", "-d", str(grub_dir), "-p", prefix, "-o", str(image),
             *embedded, *modules])
        return image.read_bytes()


@dataclass(frozen=True)
class HostInputs:
    kernel: Path
    kernel_version: str
    modules_dir: Path
    busybox: Path
    busybox_version: str
    mbr: Path


@dataclass
class ModuleTree:
    """A subset of /lib/modules/<version>, uncompressed, with matching modules.dep and modules.alias."""

    files: dict[str, bytes] = field(default_factory=dict)  # path relative to /lib/modules/<version>


def _version_key(version: str) -> list[tuple[int, str]]:
    return [(int(part), "") if part.isdigit() else (-1, part) for part in re.split(r"[.-]", version)]


def find_host_inputs() -> HostInputs:
    """The newest installed kernel that has its modules, the static busybox and the MBR code."""
    versions = [
        path.name.removeprefix("vmlinuz-")
        for path in BOOT_DIR.glob("vmlinuz-*")
        if (MODULES_ROOT / path.name.removeprefix("vmlinuz-") / "modules.dep").is_file()
    ]
    if not versions:
        raise ToolMissing(
            "no /boot/vmlinuz-* with matching /lib/modules/*/modules.dep; install Debian's linux-image-amd64"
        )
    version = max(versions, key=_version_key)
    busybox = Path(find_tool("busybox")).resolve()
    banner = run([str(busybox)], check=False).stdout.splitlines()
    busybox_version = banner[0].strip() if banner else "unknown busybox"
    mbr = next((candidate for candidate in MBR_CANDIDATES if candidate.is_file()), None)
    if mbr is None:
        raise ToolMissing("syslinux mbr.bin not found; install Debian's syslinux-common")
    return HostInputs(
        kernel=BOOT_DIR / f"vmlinuz-{version}",
        kernel_version=version,
        modules_dir=MODULES_ROOT / version,
        busybox=busybox,
        busybox_version=busybox_version,
        mbr=mbr,
    )


def shared_libraries(binary: Path) -> list[Path]:
    """The shared objects `binary` loads (the dynamic loader included), as ldd resolves them."""
    result = run(["ldd", str(binary)], check=False)
    if "not a dynamic executable" in result.stdout + result.stderr:
        return []
    if result.returncode != 0:
        raise CommandFailed(f"ldd {binary}: {result.stderr.strip()}")
    libraries: list[Path] = []
    for line in result.stdout.splitlines():
        match = re.search(r"(/\S+) \(0x", line)
        if match:
            libraries.append(Path(match.group(1)))
    return libraries


def _module_name(relative: str) -> str:
    base = relative.rsplit("/", 1)[-1]
    for suffix in (*_COMPRESSED_SUFFIXES, ".ko"):
        if base.endswith(suffix):
            base = base[: -len(suffix)]
            break
    return base.replace("-", "_")


def _uncompressed_name(relative: str) -> str:
    for suffix in _COMPRESSED_SUFFIXES:
        if relative.endswith(suffix):
            return relative[: -len(suffix)] + ".ko"
    return relative


def _read_module(path: Path) -> bytes:
    """Module bytes, uncompressed: busybox modprobe loads plain .ko files only."""
    name = path.name
    if name.endswith(".ko.xz"):
        return lzma.decompress(path.read_bytes())
    if name.endswith(".ko.gz"):
        return gzip.decompress(path.read_bytes())
    if name.endswith(".ko.zst"):
        with tempfile.TemporaryDirectory() as scratch:
            target = Path(scratch) / "module.ko"
            run(["zstd", "-q", "-d", "-f", str(path), "-o", str(target)])
            return target.read_bytes()
    return path.read_bytes()


def select_modules(modules_dir: Path, required: Sequence[str], optional: Sequence[str]) -> ModuleTree:
    """Copy the wanted modules and everything they depend on, per the kernel's own modules.dep.

    A required module must exist as a module or be built in; an optional one is taken when it exists.
    """
    depends: dict[str, list[str]] = {}
    path_of: dict[str, str] = {}
    for line in (modules_dir / "modules.dep").read_text().splitlines():
        if ":" not in line:
            continue
        module, _, deps = line.partition(":")
        name = _module_name(module)
        path_of[name] = module
        depends[name] = deps.split()
    builtin_file = modules_dir / "modules.builtin"
    builtin_text = builtin_file.read_text() if builtin_file.is_file() else ""
    builtin = {_module_name(line) for line in builtin_text.split()}

    missing = [name for name in required if name not in path_of and name not in builtin]
    if missing:
        raise ToolMissing(f"kernel {modules_dir.name} lacks modules {', '.join(missing)}")

    chosen: set[str] = set()
    pending = [name for name in (*required, *optional) if name in path_of]
    while pending:
        name = pending.pop()
        if name in chosen:
            continue
        chosen.add(name)
        pending.extend(_module_name(dep) for dep in depends[name])

    tree = ModuleTree()
    dep_lines = []
    for name in sorted(chosen):
        relative = path_of[name]
        tree.files[_uncompressed_name(relative)] = _read_module(modules_dir / relative)
        deps = " ".join(_uncompressed_name(dep) for dep in depends[name])
        dep_lines.append(f"{_uncompressed_name(relative)}:{' ' + deps if deps else ''}")
    tree.files["modules.dep"] = ("\n".join(dep_lines) + "\n").encode()
    alias_file = modules_dir / "modules.alias"
    if alias_file.is_file():
        aliases = [
            line
            for line in alias_file.read_text().splitlines()
            if line.startswith("alias ") and line.split()[-1].replace("-", "_") in chosen
        ]
        tree.files["modules.alias"] = ("\n".join(aliases) + "\n").encode()
    tree.files["modules.builtin"] = builtin_text.encode()
    return tree
