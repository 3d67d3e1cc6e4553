"""The targets ksbuild installs, and every fact that differs between them, each with its source.

This module is the one place that knows how CentOS 7, EL8 and EL9 differ. Everything else reads a `Target`
(checks, templates, the validator, `ksbuild diff`) and branches on its facts, never on its name. Each field of
`Target` has a `FactNote` in `NOTES`: a one-line reason (what `ksbuild diff` prints next to a change) and where
the fact comes from. [M] measured here (docs/measure/), [S] read from source, [D] documentation, [N] not
determined (then what ksbuild does is the safe side, and the note says so). docs/targets.md has the details.

Names people type are aliases of the three targets (`rocky9` is `el9`); an alias may bring the public mirror
layout of its distribution, used when a profile gives no install source.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from builder.errors import shown

TargetName = Literal["centos7", "el8", "el9"]


@dataclass(frozen=True)
class Target:
    """What ksbuild relies on for one target. Values are the target's own; see NOTES for why and where from."""

    name: TargetName
    release: int
    label: str
    # -- kickstart syntax (pykickstart 3.78 handlers, docs/measure/pykickstart_targets.out) ------------------
    pykickstart_version: str
    install_command: bool
    timesource_command: bool
    rootpw_allow_ssh: bool
    exclude_weakdeps_option: str | None
    inst_langs_option: str
    auth_command: str
    # -- installed system -------------------------------------------------------------------------------------
    root_ssh_password_default: bool
    appstream: bool
    # package -> why the target's repositories do not have it
    missing_packages: Mapping[str, str] = field(default_factory=dict)
    network_scripts: Literal["installed", "optional", "absent"] = "installed"
    network_files: Literal["ifcfg", "keyfile"] = "ifcfg"
    # -- installer boot ---------------------------------------------------------------------------------------
    # What anaconda does with its boot options written without the inst. prefix (ANACONDA_BOOT_OPTIONS).
    unprefixed_boot_options: Literal["accepted", "deprecated", "ignored"] = "accepted"
    # -- virtualization ---------------------------------------------------------------------------------------
    # "monolithic": libvirtd.service; "modular": the per-driver daemons (LIBVIRT_MODULAR_UNITS).
    libvirt_daemons: Literal["monolithic", "modular"] = "monolithic"
    # Whether the target's kernel nests KVM guests without a modprobe option, per module.
    nested_default: Mapping[str, bool] = field(default_factory=lambda: {"kvm_intel": False, "kvm_amd": False})

    @property
    def fact_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(self) if f.name not in _IDENTITY)


_IDENTITY = frozenset({"name", "release", "label"})


@dataclass(frozen=True)
class FactNote:
    """Why a fact differs between targets (one line, for `ksbuild diff` and messages), where it is known from, and
    which parts of the kickstart it shapes (`command:<name>`, `%packages`, `%post <name>`)."""

    reason: str
    source: str
    shapes: tuple[str, ...] = ()
    # Words of the kickstart that show the fact at work (an option, a package): `ksbuild diff` gives the reason for
    # a changed line only when the line has one of them (a fact's mapping keys count too). None: any change of
    # the part it shapes.
    words: tuple[str, ...] | None = None


_BRIDGE_UTILS = ("not in EL8/EL9's BaseOS or AppStream: RHEL 8 and 9 make bridges with NetworkManager only, "
                 "and brctl is gone")

TARGETS: Mapping[TargetName, Target] = {
    "centos7": Target(
        name="centos7", release=7, label="CentOS 7",
        pykickstart_version="RHEL7", install_command=True, timesource_command=False, rootpw_allow_ssh=False,
        exclude_weakdeps_option=None, inst_langs_option="--instLangs", auth_command="authconfig",
        root_ssh_password_default=True, appstream=False,
    ),
    "el8": Target(
        name="el8", release=8, label="EL8",
        pykickstart_version="RHEL8", install_command=False, timesource_command=False, rootpw_allow_ssh=False,
        exclude_weakdeps_option="--excludeWeakdeps", inst_langs_option="--instLangs", auth_command="authselect",
        root_ssh_password_default=True, appstream=True,
        missing_packages={"bridge-utils": _BRIDGE_UTILS}, network_scripts="optional",
        unprefixed_boot_options="deprecated",
    ),
    "el9": Target(
        name="el9", release=9, label="EL9",
        pykickstart_version="RHEL9", install_command=False, timesource_command=True, rootpw_allow_ssh=True,
        exclude_weakdeps_option="--exclude-weakdeps", inst_langs_option="--inst-langs", auth_command="authselect",
        root_ssh_password_default=False, appstream=True,
        missing_packages={"bridge-utils": _BRIDGE_UTILS}, network_scripts="absent", network_files="keyfile",
        libvirt_daemons="modular", nested_default={"kvm_intel": True, "kvm_amd": True},
        unprefixed_boot_options="ignored",
    ),
}

# What `services.enabled: [libvirtd]` enables on a target with modular daemons: each driver's daemon with its
# sockets (libvirt.spec builds them as the default where rhel >= 9 [S]). The .service of the QEMU, network and
# storage daemons too, because a socket-activated daemon starts only when a client connects, and autostart VMs,
# networks (virbr0) and pools come up when their daemon starts [D: libvirt.org/daemons.html]; virtproxyd for
# clients of libvirtd's old socket path (qemu+ssh://, older virsh).
LIBVIRT_MODULAR_UNITS = (
    "virtqemud.service", "virtqemud.socket", "virtqemud-ro.socket", "virtqemud-admin.socket",
    "virtnetworkd.service", "virtnetworkd.socket", "virtnetworkd-ro.socket",
    "virtstoraged.service", "virtstoraged.socket", "virtstoraged-ro.socket",
    "virtnodedevd.socket", "virtsecretd.socket", "virtnwfilterd.socket", "virtinterfaced.socket",
    "virtproxyd.socket", "virtproxyd-ro.socket",
)
LIBVIRT_MONOLITHIC = "libvirtd"

# anaconda's boot options that older releases also took without the `inst.` prefix (ks=, repo=, text ...):
# deprecated in Fedora 33 (EL8's anaconda 33 warns), ignored from Fedora 34 on (EL9's anaconda 34)
# [D: fedoraproject.org/wiki/Changes/Ignore_Anaconda_kernel_boot_parameters_without_inst_prefix]. Options that
# are also the kernel's or dracut's own (ip=, selinux=, loglevel=, rescue) are not listed.
ANACONDA_BOOT_OPTIONS = frozenset({
    "ks", "kssendmac", "kssendsn", "ksstrict", "repo", "stage2", "method", "proxy", "noverifyssl", "updates", "dd",
    "driverdisk", "text", "graphical", "cmdline", "vnc", "vncpassword", "vncconnect", "sshd", "resolution", "lang",
    "keymap", "nosave", "kexec", "syslog", "virtiolog", "nompath", "multilib", "xdriver", "usefbx", "geoloc",
    "nokill", "noshell", "ksdevice",
})

_PK = "pykickstart 3.78 handlers [M: docs/measure/pykickstart_targets.out]"
NOTES: Mapping[str, FactNote] = {
    "pykickstart_version": FactNote(
        "each target's kickstart is validated with its own pykickstart handler (RHEL7, RHEL8, RHEL9)",
        "pykickstart version.py; anaconda 21.48 / 33.16 / 34.25 parse with those [S: docs/targets.md §1]"),
    "install_command": FactNote(
        "`install` is deprecated on EL8 (ignored, a warning) and removed on EL9 (an error)", _PK,
        ("command:install",), ("install",)),
    "timesource_command": FactNote(
        "EL9 deprecates `timezone --ntpservers` for one `timesource --ntp-server` per server", _PK,
        ("command:timezone", "command:timesource"), ("--ntpservers", "timesource")),
    "rootpw_allow_ssh": FactNote(
        "only EL9's `rootpw` has --allow-ssh (F37_RootPw)", _PK, ("command:rootpw",), ("--allow-ssh",)),
    "exclude_weakdeps_option": FactNote(
        "%packages spells it --excludeWeakdeps on EL8 and --exclude-weakdeps on EL9; EL7's yum installs no weak "
        "dependencies", _PK, ("%packages",), ("--excludeWeakdeps", "--exclude-weakdeps")),
    "inst_langs_option": FactNote(
        "%packages spells it --instLangs on CentOS 7 and EL8, --inst-langs on EL9", _PK, ("%packages",),
        ("--instLangs", "--inst-langs")),
    "auth_command": FactNote(
        "authconfig is deprecated on EL8/EL9 (authselect); ksbuild writes neither: the installer's defaults are "
        "shadow passwords and SHA-512 on every target",
        _PK + "; RHEL 9 kickstart reference B.1.1 [D]"),
    "root_ssh_password_default": FactNote(
        "EL9's sshd refuses root password logins (PermitRootLogin prohibit-password); CentOS 7 and EL8 allow them",
        "anaconda docs/commonbugs.rst, pykickstart F37_RootPw help [S: docs/targets.md §7]", ("command:rootpw",),
        ("--allow-ssh",)),
    "appstream": FactNote(
        "EL8/EL9 split the tree into BaseOS (`url`) and AppStream (`repo --name=AppStream`)",
        "RHEL 8 'Considerations in adopting' [D]; anaconda replaces a treeinfo repo by the kickstart's of the same "
        "name or URL (payload.py _add_repo, _load_treeinfo_repositories) [S]", ("command:url", "command:repo"),
        ("BaseOS", "AppStream")),
    "missing_packages": FactNote(
        "bridge-utils (brctl) is not in EL8/EL9's repositories; NetworkManager makes the bridges",
        "RHEL 8/9 networking guides configure bridges with nmcli only [D]; no package list was read [N]",
        ("%packages",), ()),
    "network_scripts": FactNote(
        "EL8 ships ifup/ifdown that call NetworkManager (network-scripts is an optional package); EL9 has no "
        "network-scripts, so NetworkManager is the only thing that brings devices up",
        "RHEL 8 'Considerations in adopting', networking [D]; RHEL 9 keyfile blog [D: docs/targets.md §3]",
        ("command:services",), ("NetworkManager", "network", "network-scripts")),
    "unprefixed_boot_options": FactNote(
        "anaconda's boot options without inst. (ks=, repo=, text) are deprecated on EL8 and ignored on EL9",
        "Fedora 33/34 change 'Ignore Anaconda kernel boot parameters without inst. prefix'; anaconda "
        "docs/boot-options.rst [D][S]"),
    "libvirt_daemons": FactNote(
        "EL9's libvirt runs one daemon per driver (virtqemud, virtnetworkd, virtstoraged ...), socket-activated, "
        "instead of libvirtd; ksbuild enables them where a profile enables libvirtd",
        "libvirt.spec with_modular_daemons for rhel >= 9 [S]; libvirt.org/daemons.html [D]",
        ("command:services",), ("libvirtd", "virtqemud")),
    "nested_default": FactNote(
        "kvm_intel nests by default from Linux 4.20 (EL9's 5.14), kvm_amd upstream long before; CentOS 7 (3.10) "
        "and EL8 (4.18) need options ... nested=1: ksbuild writes the modprobe file only where it changes the "
        "default",
        "Linux commit 1e58e5e59148 and Documentation/virt/kvm/running-nested-guests.rst [S]; RHEL 8 virtualization "
        "guide [D]; RHEL kernels' own defaults not read [N]: the verification boot reads "
        "/sys/module/kvm_*/parameters/nested", ("%post nested-virt",)),
    "network_files": FactNote(
        "EL9's NetworkManager stores connections as keyfiles (/etc/NetworkManager/system-connections/*.nmconnection, "
        "0600); CentOS 7 and EL8 read ifcfg files (on EL8 through NetworkManager's ifcfg-rh plugin)",
        "RHEL 9 keyfile blog and nm-settings-keyfile(5) [D]; NetworkManager keyfile plugin [S]; "
        "docs/measure/nm_keyfiles.out [M]", ("%post network", "command:network")),
}


# The kickstart repo that names the AppStream tree on EL8/EL9 (the name RHEL's .treeinfo gives the variant).
APPSTREAM_REPO = "AppStream"


@dataclass(frozen=True)
class TreeLayout:
    """A public mirror's BaseOS and AppStream trees for an alias, used when a profile gives no install source."""

    baseos: str
    appstream: str


@dataclass(frozen=True)
class Alias:
    name: str
    target: TargetName
    distribution: str
    tree: TreeLayout | None = None


# A tree URL whose path names the BaseOS variant: .../BaseOS/x86_64/os/ (Rocky, Alma, CentOS Stream, a copy of a
# RHEL DVD). Its AppStream tree is the same path with that one segment changed, as their .treeinfo files say.
_BASEOS_SEGMENT = re.compile(r"(?<=/)BaseOS(?=/|$)")


def appstream_beside(url: str) -> str | None:
    """The AppStream tree beside a BaseOS tree URL; None when the URL names no BaseOS folder."""
    return _BASEOS_SEGMENT.sub("AppStream", url, count=1) if _BASEOS_SEGMENT.search(url) else None


def _mirror(root: str) -> TreeLayout:
    return TreeLayout(f"{root}/BaseOS/x86_64/os/", f"{root}/AppStream/x86_64/os/")


# Public mirror layouts: the distributions' own download hosts (not fetched here; docs/targets.md §6). RHEL has no
# public tree: its DVD (or a copy of it) is the source.
ALIASES: Mapping[str, Alias] = {
    alias.name: alias
    for alias in (
        Alias("centos7", "centos7", "CentOS Linux 7"),
        Alias("el8", "el8", "Enterprise Linux 8"),
        Alias("el9", "el9", "Enterprise Linux 9"),
        Alias("rocky8", "el8", "Rocky Linux 8", _mirror("https://dl.rockylinux.org/pub/rocky/8")),
        Alias("rocky9", "el9", "Rocky Linux 9", _mirror("https://dl.rockylinux.org/pub/rocky/9")),
        Alias("alma8", "el8", "AlmaLinux 8", _mirror("https://repo.almalinux.org/almalinux/8")),
        Alias("alma9", "el9", "AlmaLinux 9", _mirror("https://repo.almalinux.org/almalinux/9")),
        Alias("rhel8", "el8", "Red Hat Enterprise Linux 8"),
        Alias("rhel9", "el9", "Red Hat Enterprise Linux 9"),
        Alias("centos-stream9", "el9", "CentOS Stream 9", _mirror("https://mirror.stream.centos.org/9-stream")),
    )
}
DEFAULT_TARGET: TargetName = "centos7"


class UnknownTarget(ValueError):
    pass


def alias(name: str) -> Alias:
    """The alias (or canonical name) `name`; UnknownTarget with a "did you mean" when there is none."""
    found = ALIASES.get(name)
    if found is not None:
        return found
    close = difflib.get_close_matches(name.lower(), list(ALIASES), n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise UnknownTarget(f"{shown(name)} is not a target ksbuild knows ({', '.join(ALIASES)}){hint}")


def target(name: str) -> Target:
    """The target behind a canonical name or an alias."""
    return TARGETS[alias(name).target]


def by_pykickstart_version(version: str) -> Target | None:
    """The target whose kickstarts pykickstart parses as `version` (RHEL8 ...), as `#version=RHEL8` says."""
    return next((t for t in TARGETS.values() if t.pykickstart_version == version.upper()), None)


@dataclass(frozen=True)
class FactChange:
    fact: str
    a: object
    b: object
    note: FactNote

    def shows_in(self, lines: Iterable[str]) -> bool:
        """Whether these kickstart lines show the fact at work (its words, or the keys of a mapping fact)."""
        if self.note.words is None:
            return True
        words = set(self.note.words)
        for value in (self.a, self.b):
            if isinstance(value, Mapping):
                words.update(str(key) for key in value)
        return any(word in line.split() or any(word in part for part in line.split()) for line in lines
                   for word in words)


def differences(a: Target, b: Target) -> tuple[FactChange, ...]:
    """The facts whose values differ between two targets, in field order."""
    return tuple(
        FactChange(name, getattr(a, name), getattr(b, name), NOTES[name])
        for name in a.fact_names
        if getattr(a, name) != getattr(b, name)
    )
