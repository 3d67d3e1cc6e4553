"""PXE artifacts of a fleet, and the install-once switch between a host's "install" and "local" boot entries.

Tree layout (one folder, ready to copy to a TFTP and an HTTP server):

- ``http/ks/<hostname>/<token>.cfg``: kickstarts (0600), named by the host's install token (see
  builder/fleet/state.py); ``http/ipxe/boot.ipxe`` and ``http/ipxe/<mac>.ipxe``
- ``tftp/pxelinux.cfg/01-<mac>`` (BIOS hosts), ``tftp/grub2/grub.cfg-01-<mac>`` (UEFI hosts), and the
  defaults ``tftp/pxelinux.cfg/default`` and ``tftp/grub2/grub.cfg`` that boot the local disk: an unknown machine
  is never installed. MACs are written lowercase with dashes, as pxelinux, GRUB and iPXE (``${mac:hexhyp}``)
  look them up.
- UEFI: DHCP hands out ``grub2/shimx64.efi``. Shim fetches ``grubx64.efi`` from the folder it was loaded from,
  and GRUB (CentOS 7's, whose $fw_path is that folder; Debian's, built without a prefix path, which takes the
  boot file's folder) reads ``grub.cfg-01-<mac>``, else ``grub.cfg``, from there too: the loaders and every GRUB
  entry share one folder, ``tftp/grub2/``. ksbuild writes the entries; the loaders are the user's. Each host's
  entry is also written as ``grub.cfg-01-<mac with colons>`` (GRUB's ``$net_default_mac``), which ``grub.cfg``
  opens first: a GRUB that reads ``grub.cfg`` before, or instead of, the per-MAC names still gets the host's
  own entry (GRUB has no way to put dashes into the MAC without the regexp module).
- ``boot/<hostname>.json`` (0600: the install entries hold the token): both versions (install, local) of
  each of the host's entries; the one the install-once state picks is copied to the entry's served path.
  Not served.
- ``dnsmasq.conf``, ``manifest.json`` (written by the renderer; no tokens), ``state.json`` (0600, tokens and
  reports, builder/fleet/state.py), ``serve.log`` (0600).

Every kernel command line is ``inst.ks=<server>/ks/<host>/<token>.cfg inst.repo=<repo> ip=dhcp BOOTIF=01-<mac>``
plus the inventory's ``kernel_args``: BOOTIF names the boot NIC by its MAC (what pxelinux's IPAPPEND 2 adds,
written out so GRUB and iPXE entries say the same), so dracut configures that NIC and no other.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from pathlib import Path
from typing import Any, Literal

import jinja2

from builder.errors import BadInput, shown
from builder.fleet.inventory_model import Firmware, InventoryModel, PxeSettings
from builder.fsutil import Contained, atomic_copy, atomic_write

Variant = Literal["install", "local"]
INSTALL: Variant = "install"
LOCAL: Variant = "local"
KICKSTART_MODE = 0o600
BOOT_FILE_MODE = 0o600
MANIFEST_NAME = "manifest.json"
SERVE_LOG_NAME = "serve.log"
BOOT_DIR = "boot"
PXELINUX_DEFAULT = "tftp/pxelinux.cfg/default"
# The UEFI loaders' folder (relative to tftp/): shim, GRUB and GRUB's entries, see the module docstring.
GRUB_DIR = "grub2"
UEFI_BOOT_FILE = f"{GRUB_DIR}/shimx64.efi"
UEFI_LOADERS = (UEFI_BOOT_FILE, f"{GRUB_DIR}/grubx64.efi")
GRUB_DEFAULT = f"tftp/{GRUB_DIR}/grub.cfg"
IPXE_BOOT = "http/ipxe/boot.ipxe"
DNSMASQ_CONF = "dnsmasq.conf"
# Debian's pxelinux and syslinux-common; pxelinux.0 (syslinux 6) loads ldlinux.c32 from its own folder.
SYSLINUX_FILES = {
    "pxelinux.0": Path("/usr/lib/PXELINUX"),
    "ldlinux.c32": Path("/usr/lib/syslinux/modules/bios"),
}


def mac_dashes(mac: str) -> str:
    return mac.lower().replace(":", "-")


def kickstart_path(hostname: str, token: str) -> str:
    return f"http/{kickstart_url_path(hostname, token)}"


def kickstart_url_path(hostname: str, token: str) -> str:
    return f"ks/{hostname}/{token}.cfg"


def kickstart_url(server: str, hostname: str, token: str) -> str:
    return f"{server}/{kickstart_url_path(hostname, token)}"


def callback_url(server: str, hostname: str, token: str) -> str:
    return f"{server}/callback/{hostname}/{token}"


@dataclass(frozen=True)
class BootRecord:
    """What a host's boot entries are made from."""

    hostname: str
    macs: tuple[str, ...]
    firmware: Firmware
    repo: str
    address: IPv4Interface | None  # what DHCP hands out; None when the install network has no fixed one
    gateway: IPv4Address | None
    token: str  # the host's install token (state, not input): in the kickstart URL, never in to_json()
    kernel: str = "images/pxeboot/vmlinuz"  # the installer of the host's target, in tftp/ (pxe.images)
    initrd: str = "images/pxeboot/initrd.img"

    def entries_of(self, mac: str) -> dict[str, str]:
        """Served path → template kind of the entries for one MAC (the firmware's loader, and iPXE)."""
        dashed = mac_dashes(mac)
        if self.firmware == "bios":
            return {f"tftp/pxelinux.cfg/01-{dashed}": "pxelinux", f"http/ipxe/{dashed}.ipxe": "ipxe"}
        return {
            f"tftp/{GRUB_DIR}/grub.cfg-01-{dashed}": "grub",
            f"tftp/{GRUB_DIR}/grub.cfg-01-{mac.lower()}": "grub",
            f"http/ipxe/{dashed}.ipxe": "ipxe",
        }

    def entry_paths(self) -> tuple[str, ...]:
        """The served paths of the host's entries: a set per MAC, whichever NIC the firmware boots from."""
        return tuple(path for mac in self.macs for path in self.entries_of(mac))

    def to_json(self) -> dict[str, object]:
        return {
            "macs": list(self.macs),
            "firmware": self.firmware,
            "repo": self.repo,
            "address": str(self.address) if self.address is not None else None,
            "gateway": str(self.gateway) if self.gateway is not None else None,
            "kernel": self.kernel,
            "initrd": self.initrd,
        }


def kernel_args(record: BootRecord, pxe: PxeSettings) -> str:
    # The boot MAC is the first one: the NIC named boot_interface in the inventory.
    args = [
        f"inst.ks={kickstart_url(pxe.server, record.hostname, record.token)}",
        f"inst.repo={record.repo}",
        "ip=dhcp",
        f"BOOTIF=01-{mac_dashes(record.macs[0])}",
        *pxe.kernel_args,
    ]
    return " ".join(args)


def boot_file(hostname: str) -> str:
    return f"{BOOT_DIR}/{hostname}.json"


def encode_entries(entries: Mapping[str, Mapping[Variant, bytes]]) -> bytes:
    text = {path: {variant: data.decode() for variant, data in versions.items()} for path, versions in entries.items()}
    return (json.dumps({"entries": text}, indent=1, sort_keys=True) + "\n").encode()


class TreePaths(Contained):
    """Paths read back from the tree's own files (manifest.json, boot/<host>.json): each must stay inside the tree,
    so an edited file cannot make a render delete, or a callback write, anything elsewhere."""

    def join(self, relpath: object, source: Path) -> Path:
        """`tree / relpath`; BadInput naming `source` (the file it was read from) when it would leave the tree."""
        return self.root / self.verify(relpath, source)

    def verify(self, relpath: object, source: Path, *, links: bool = True) -> str:
        try:
            return self.check(relpath) if links else self.check_plain(relpath)
        except ValueError as exc:
            raise BadInput(f"{source}: {exc}; every path there stays inside the tree (was the file edited?): "
                           "render into an empty folder") from None


def read_entries(tree: Path, hostname: str) -> dict[str, dict[Variant, bytes]]:
    paths = TreePaths(tree)
    source = paths.join(boot_file(hostname), tree / MANIFEST_NAME)
    try:
        data = json.loads(source.read_text())
        entries = {
            path: {INSTALL: versions[INSTALL].encode(), LOCAL: versions[LOCAL].encode()}
            for path, versions in data["entries"].items()
        }
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise BadInput(f"{source}: cannot read the boot entries; render again ({exc})") from exc
    for path in entries:
        paths.join(path, source)
    return entries


def check_manifest_paths(tree: Path, manifest: Mapping[str, Any]) -> None:
    """BadInput unless every path the manifest names (hosts' files and entries, shared files) is inside the tree
    and shaped as ksbuild writes it."""
    paths = TreePaths(tree)
    source = tree / MANIFEST_NAME
    try:
        for hostname, entry in manifest["hosts"].items():
            paths.verify(boot_file(hostname), source)
            # One folder per host: its links are looked at where its files are read or deleted, not here.
            paths.verify(kickstart_path(hostname, "token"), source, links=False)
            for path in entry["entries"]:
                paths.verify(path, source)
        for path in manifest["files"]:
            paths.verify(path, source)
    except (KeyError, TypeError, AttributeError) as exc:
        raise BadInput(f"{source}: not a manifest this ksbuild wrote ({shown(str(exc))}); render into an empty "
                       "folder") from None


def host_entries(
    env: jinja2.Environment, record: BootRecord, pxe: PxeSettings
) -> dict[str, dict[Variant, bytes]]:
    """Both versions (install, local) of each of the host's boot entries, by served path."""
    args = kernel_args(record, pxe)
    entries: dict[str, dict[Variant, bytes]] = {}
    for mac in record.macs:
        context = {"host": record, "mac": mac, "pxe": pxe, "kernel_args": args}
        for path, kind in record.entries_of(mac).items():
            entries[path] = {
                INSTALL: _render(env, f"pxe/{kind}-install.j2", context),
                LOCAL: _render(env, f"pxe/{kind}-local.j2", context),
            }
    return entries


@dataclass(frozen=True)
class DhcpHost:
    macs: tuple[str, ...]
    address: IPv4Address | None
    name: str


def shared_files(
    env: jinja2.Environment, inventory: InventoryModel, inventory_name: str, records: Sequence[BootRecord],
    tftp_root: Path,
) -> dict[str, bytes]:
    """The defaults (local boot for unknown machines), the iPXE entry script and the dnsmasq snippet."""
    pxe, dhcp = inventory.pxe, inventory.dhcp
    default_context = {"host": None, "mac": None, "pxe": pxe}
    subnet = dhcp.subnet or _common_subnet(records)
    gateways = {r.gateway for r in records if r.gateway is not None}
    gateway = dhcp.gateway or (gateways.pop() if len(gateways) == 1 else None)
    hosts = [
        # dnsmasq takes a domain part only when it matches its own `domain=`: hand out the short name.
        DhcpHost(record.macs, record.address.ip if record.address else None, record.hostname.split(".")[0])
        for record in sorted(records, key=lambda r: r.hostname)
    ]
    dnsmasq_context = {
        "inventory": inventory_name, "tftp_root": tftp_root, "subnet": subnet, "gateway": gateway,
        "dhcp": dhcp, "pxe": pxe, "hosts": hosts, "uefi_boot_file": UEFI_BOOT_FILE,
        "grub_dir": GRUB_DIR,
    }
    return {
        PXELINUX_DEFAULT: _render(env, "pxe/pxelinux-local.j2", default_context),
        GRUB_DEFAULT: _render(env, "pxe/grub-local.j2", default_context),
        IPXE_BOOT: _render(env, "pxe/ipxe-boot.j2", {}),
        DNSMASQ_CONF: _render(env, "pxe/dnsmasq.conf.j2", dnsmasq_context),
    }


def _common_subnet(records: Sequence[BootRecord]) -> IPv4Network | None:
    # Without dhcp.subnet, the hosts' own network is used when they all share one.
    networks = {r.address.network for r in records if r.address is not None}
    return networks.pop() if len(networks) == 1 else None


def _render(env: jinja2.Environment, name: str, context: Mapping[str, Any]) -> bytes:
    try:
        return env.get_template(name).render(context).encode()
    except jinja2.TemplateError as exc:
        raise BadInput(f"{name}: template error: {exc}") from None


def syslinux_sources(syslinux_dir: Path | None) -> dict[str, Path]:
    """pxelinux.0 and ldlinux.c32 to copy into tftp/: from `syslinux_dir` when given, else Debian's paths.

    Empty when the Debian packages are not installed and no folder was given (BadInput if a given folder
    lacks a file).
    """
    found: dict[str, Path] = {}
    for name, debian_dir in SYSLINUX_FILES.items():
        source = (syslinux_dir if syslinux_dir is not None else debian_dir) / name
        if source.is_file():
            found[f"tftp/{name}"] = source
        elif syslinux_dir is not None:
            raise BadInput(f"{syslinux_dir}: no {name} there (Debian: pxelinux and syslinux-common)")
    return found if len(found) == len(SYSLINUX_FILES) else {}


# -- install once: the served version of each entry ------------------------------------------------------


class TreeWriter:
    """Writes files into a tree atomically (a reader never sees half a file).

    For a batch (a fleet render writes thousands of files), durability comes from one sync() in `finish`
    instead of an fsync per file, which made a 1,000-host render ten seconds slower here.
    """

    def __init__(self, root: Path, *, durable_each: bool = False) -> None:
        self.root = root
        self._durable_each = durable_each
        self._paths = TreePaths(root)

    def write(self, relpath: str, data: bytes, mode: int = 0o644) -> None:
        atomic_write(self._paths.join(relpath, self.root), data, mode, durable=self._durable_each)

    def copy(self, relpath: str, source: Path) -> None:
        atomic_copy(self._paths.join(relpath, self.root), source, durable=self._durable_each)

    def finish(self) -> None:
        if not self._durable_each:
            os.sync()


def serve_variant(
    tree: Path, entries: Mapping[str, Mapping[Variant, bytes]], variant: Variant, writer: TreeWriter
) -> list[str]:
    """Make each entry's served file the `variant` version; return the paths that changed."""
    changed = []
    for path, versions in entries.items():
        try:
            current: bytes | None = (tree / path).read_bytes()
        except FileNotFoundError:
            current = None
        if current != versions[variant]:
            writer.write(path, versions[variant])
            changed.append(path)
    return changed


def manifest_hosts(tree: Path) -> dict[str, Any]:
    """The manifest's host records by hostname."""
    try:
        manifest = json.loads((tree / MANIFEST_NAME).read_text())
    except FileNotFoundError:
        raise BadInput(f"{tree}: no {MANIFEST_NAME}; run `ksbuild fleet render` first") from None
    except (OSError, ValueError) as exc:
        raise BadInput(f"{tree / MANIFEST_NAME}: cannot read: {exc}") from exc
    hosts = manifest.get("hosts") if isinstance(manifest, dict) else None
    if not isinstance(hosts, dict):
        raise BadInput(f"{tree / MANIFEST_NAME}: no hosts; render again")
    records = {str(name): record for name, record in hosts.items() if isinstance(record, dict)}
    check_manifest_paths(tree, {"hosts": records, "files": {}})
    return records


def manifest_host(tree: Path, hostname: str) -> dict[str, Any] | None:
    """The manifest's record of `hostname` (None when the tree has no such host)."""
    record: dict[str, Any] | None = manifest_hosts(tree).get(hostname)
    return record
