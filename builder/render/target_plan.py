"""What a profile becomes on its target, where the answer is more than a template condition: the install tree
(BaseOS `url` plus the AppStream `repo` on EL8/EL9), the %packages options as the target spells them.

The facts come from builder.targets; this module only applies them to a profile.
"""

from __future__ import annotations

from dataclasses import dataclass

from builder import targets
from builder.model.profile import Profile


def target_of(profile: Profile) -> targets.Target:
    return targets.target(profile.target)


@dataclass(frozen=True)
class InstallTree:
    """Where the installer takes packages from: `url` (or the boot media when None), and on EL8/EL9 the AppStream
    tree when it is known (None: a tree root whose .treeinfo anaconda reads for it, or CentOS 7)."""

    url: str | None
    appstream: str | None = None


def install_tree(profile: Profile) -> InstallTree:
    """The install tree of the profile on its target: its own url (or cdrom), else its alias's public mirror."""
    source = profile.install.source
    target = target_of(profile)
    url = source.url
    appstream = source.appstream
    if not source.kinds:
        tree = targets.alias(profile.target).tree
        if tree is not None:
            url, appstream = tree.baseos, appstream or tree.appstream
    if not target.appstream or url is None:
        return InstallTree(url)
    return InstallTree(url, appstream or targets.appstream_beside(url))


def packages_options(profile: Profile) -> str:
    """The %packages header options, spelled as the target's pykickstart handler wants them ("" for none)."""
    target = target_of(profile)
    packages = profile.packages
    options = []
    if not packages.weak_dependencies and target.exclude_weakdeps_option is not None:
        options.append(target.exclude_weakdeps_option)
    if packages.languages:
        options.append(f"{target.inst_langs_option}={','.join(packages.languages)}")
    return "".join(f" {option}" for option in options)


def network_scripts_instead(profile: Profile) -> bool:
    """EL8 with NetworkManager off: the deprecated network-scripts package and its network service bring the
    devices up (RHEL 8 still ships them as an option; EL9 has none, which builder.checks.targets refuses)."""
    return target_of(profile).network_scripts == "optional" and "NetworkManager" in profile.system.services.disabled


def packages_install(profile: Profile) -> tuple[str, ...]:
    """The %packages names: the profile's, and what the target needs for what the profile asks."""
    names = list(profile.packages.install)
    if network_scripts_instead(profile) and "network-scripts" not in names:
        names.append("network-scripts")
    return tuple(names)


def _libvirt_units(profile: Profile, names: tuple[str, ...]) -> list[str]:
    """`libvirtd` as the target runs it: itself, or the modular daemons and their sockets."""
    if target_of(profile).libvirt_daemons == "monolithic":
        return list(names)
    units: list[str] = []
    for name in names:
        units += targets.LIBVIRT_MODULAR_UNITS if name == targets.LIBVIRT_MONOLITHIC else [name]
    return list(dict.fromkeys(units))


def services_enabled(profile: Profile) -> tuple[str, ...]:
    names = _libvirt_units(profile, profile.system.services.enabled)
    if network_scripts_instead(profile) and "network" not in names:
        names.append("network")
    return tuple(names)


def services_disabled(profile: Profile) -> tuple[str, ...]:
    return tuple(_libvirt_units(profile, profile.system.services.disabled))


def nested_options(profile: Profile) -> tuple[tuple[str, int], ...]:
    """The `options <module> nested=<n>` lines that change what the target's kernel does by itself: nested=1 where
    the default is off and the profile wants nesting, nested=0 where it is on and the profile does not."""
    wanted = profile.virtualization.nested
    defaults = target_of(profile).nested_default
    return tuple((module, int(wanted)) for module in nested_modules(profile) if defaults.get(module) != wanted)


def nested_modules(profile: Profile) -> tuple[str, ...]:
    return {"auto": ("kvm_intel", "kvm_amd"), "intel": ("kvm_intel",), "amd": ("kvm_amd",)}[profile.virtualization.cpu]
