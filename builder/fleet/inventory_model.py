"""The inventory's schema: the strict models of an inventory file and the validators of every value that lands in a
PXE entry or the dnsmasq snippet (builder.fleet.inventory loads the file into them and builds each host)."""

from __future__ import annotations

from ipaddress import IPv4Network
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field

from builder import targets
from builder.errors import shown
from builder.model.types import Bool, HostName, Identifier, InterfaceName, IPv4, Line, MacAddress, Model, Url

Firmware = Literal["bios", "uefi"]
DEFAULT_FIRMWARE: Firmware = "bios"


def _safe_word(value: str) -> str:
    # Kernel arguments and TFTP paths go unquoted into pxelinux, GRUB and iPXE scripts: plain characters only.
    allowed = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.,:/=+@%-")
    if not value or not set(value) <= allowed:
        raise ValueError(f"{shown(value)} may only hold letters, digits and _ . , : / = + @ % -")
    return value


def _kernel_arg(value: str) -> str:
    _safe_word(value)
    name = value.split("=", 1)[0]
    if not (name[:1].isalpha() or name[:1] == "_"):
        raise ValueError(
            f"{shown(value)} is not NAME or NAME=VALUE; note that a YAML flow list [a,b] splits at every comma: "
            'quote an argument that holds one, e.g. ["console=ttyS0,115200n8"]'
        )
    return value


def _tftp_path(value: str) -> str:
    _safe_word(value)
    parts = value.split("/")
    if value.startswith("/") or any(part in ("", ".", "..") for part in parts):
        raise ValueError(f"{shown(value)} must be a relative path inside the TFTP root, without . or .. parts")
    return value


def _network(value: object) -> object:
    if isinstance(value, str):
        try:
            return IPv4Network(value)
        except ValueError:
            raise ValueError(f"{shown(value)} is not an IPv4 network such as 192.168.80.0/24") from None
    return value


_BOOT_URL_CHARACTERS = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._~:/%+=@,-"
)


def boot_url_problem(value: str) -> str | None:
    """Why `value` cannot go into a kernel command line of a GRUB, pxelinux or iPXE entry as one word, or None.

    The entries hold it unquoted: GRUB splits commands at ; & | < > and braces, and expands $; iPXE expands $
    and chains at || and &&; pxelinux and the kernel split at spaces; `?` and `*` are wildcards where GRUB has
    them. So only letters, digits and . _ ~ : / % + = @ , - are taken (percent-encode anything else)."""
    refused = sorted(set(value) - _BOOT_URL_CHARACTERS)
    if not refused:
        return None
    shown_chars = " ".join("space" if char == " " else repr(char) for char in refused[:8])
    return (f"{shown(value)} goes into the GRUB, pxelinux and iPXE entries, which would read {shown_chars} as "
            "syntax: use letters, digits and . _ ~ : / % + = @ , - only (percent-encode the rest)")


def _boot_url(value: str) -> str:
    problem = boot_url_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


def _http_url(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise ValueError(f"{shown(value)}: hosts fetch kickstarts over HTTP; give an http:// or https:// URL")
    return value.rstrip("/")


def _unicast_mac(value: str) -> str:
    # A NIC's own address is unicast: PXE firmware never sends from these, and a DHCP or boot entry for one
    # would match no machine (or, for a broadcast or multicast address, confuse the server).
    if value == "00:00:00:00:00:00":
        raise ValueError(f"{value} is the all-zero address, not a NIC's")
    if value == "ff:ff:ff:ff:ff:ff":
        raise ValueError(f"{value} is the broadcast address, not a NIC's")
    if int(value[:2], 16) & 1:
        raise ValueError(f"{value} is a multicast address (the first octet is odd), not a NIC's")
    return value


HostMac = Annotated[MacAddress, AfterValidator(_unicast_mac)]
KernelArg = Annotated[Line, AfterValidator(_kernel_arg)]
TftpPath = Annotated[Line, AfterValidator(_tftp_path)]
Subnet = Annotated[IPv4Network, BeforeValidator(_network)]
ServerUrl = Annotated[Url, AfterValidator(_http_url), AfterValidator(_boot_url)]
BootUrl = Annotated[Url, AfterValidator(_boot_url)]


class TargetImages(Model):
    """The installer that boots the hosts of one target (an EL9 kernel installs EL9), in the TFTP root."""

    kernel: TftpPath = Field(description="Installer kernel of the target, e.g. el9/vmlinuz.")
    initrd: TftpPath = Field(description="Installer initrd of the target, e.g. el9/initrd.img.")
    repo: BootUrl | None = Field(None, description="inst.repo= for the target's hosts (default: pxe.repo, else each "
                             "profile's install tree).")


def _known_targets(images: dict[str, TargetImages]) -> dict[str, TargetImages]:
    for name in images:
        try:
            targets.alias(name)
        except targets.UnknownTarget as exc:
            raise ValueError(str(exc)) from None
    return images


class PxeSettings(Model):
    """How hosts boot the installer and where they fetch their kickstart."""

    server: ServerUrl = Field(
        description="Base URL of `ksbuild serve` as hosts reach it: kickstarts are <server>/ks/<host>.cfg."
    )
    repo: BootUrl | None = Field(None, description="inst.repo= (default: the profile's install.source.url).")
    kernel: TftpPath = Field("images/pxeboot/vmlinuz", description="Installer kernel, in the TFTP root.")
    initrd: TftpPath = Field("images/pxeboot/initrd.img", description="Installer initrd, in the TFTP root.")
    kernel_args: tuple[KernelArg, ...] = Field((), description="More kernel arguments, e.g. console=ttyS0.")
    images: Annotated[dict[str, TargetImages], AfterValidator(_known_targets)] = Field(
        default_factory=dict, description="The installer per target (a target name or alias): {el9: {kernel: "
        "el9/vmlinuz, initrd: el9/initrd.img}}; hosts of a target without one boot kernel and initrd."
    )
    serial: Bool = Field(False, description="Boot loaders also use the first serial port (115200 baud).")
    callback: Bool = Field(
        True,
        description="Kickstarts report success to `ksbuild serve`, which then switches the host's PXE "
        "entries to local boot (install once).",
    )


    def images_for(self, target: str) -> TargetImages | None:
        """The installer of a host of `target` (a name or alias): its own entry, else its target's, else none (the
        host boots `kernel` and `initrd`)."""
        return self.images.get(target) or self.images.get(targets.alias(target).target)


class Dhcp(Model):
    """The provisioning network, for the dnsmasq snippet and the address checks."""

    subnet: Subnet | None = Field(None, description="Network every host's install address must lie in.")
    gateway: IPv4 | None = Field(None, description="Router handed out by DHCP; no host may use this address.")
    range: tuple[IPv4, IPv4] | None = Field(
        None, description="Dynamic addresses for unknown machines (start, end); without it only inventory "
        "hosts get an address."
    )
    tftp_server: IPv4 | None = Field(None, description="TFTP server (next-server) for the boot files.")


class Level(Model):
    """What defaults, a group and a host may each set; the more specific level wins."""

    profile: Line | None = Field(
        None, description="Profile name (found as `ksbuild render` finds it) or a path from the inventory."
    )
    firmware: Firmware | None = Field(None, description="bios (pxelinux) or uefi (GRUB2).")
    values: dict[str, Any] = Field(default_factory=dict, description="Profile values, shaped as a profile.")
    set_values: dict[str, Any] = Field(
        default_factory=dict, alias="set", description="Single profile values by key path, as --set takes."
    )


class Defaults(Level):
    pass


class Group(Level):
    pass


class HostEntry(Level):
    hostname: HostName = Field(description="The host's name: system.hostname and its kickstart's file name.")
    group: Identifier | None = Field(None, description="A name from groups:.")
    # At most 32: dnsmasq reads a configuration line in 1,024-byte pieces, and a host's MACs share one line.
    macs: tuple[HostMac, ...] = Field(min_length=1, max_length=32,
                                      description="The host's NICs, the boot NIC first.")
    boot_interface: InterfaceName | None = Field(
        None, description="Kernel name of the boot NIC; becomes network.install_device."
    )


class InventoryModel(Model):
    """A fleet of hosts installed from profiles over PXE."""

    description: Line = ""
    templates: Line | None = Field(None, description="Folder of template overrides, from the inventory.")
    pxe: PxeSettings
    dhcp: Dhcp = Dhcp()
    defaults: Defaults = Defaults()
    groups: dict[Identifier, Group] = Field(default_factory=dict)
    hosts: tuple[HostEntry, ...] = Field(min_length=1)
