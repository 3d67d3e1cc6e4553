"""Checks of a profile against its target's facts (builder.targets): what the target lacks, refuses or does
differently. Each problem is a key path (located at file:line by the caller), a message and a severity.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from builder import targets
from builder.errors import Severity
from builder.model.network import Device, Network
from builder.model.profile import Profile
from builder.vocabulary import KeyPath

Problem = tuple[KeyPath, str, Severity]


def target_problems(profile: Profile) -> Iterator[Problem]:
    target = targets.target(profile.target)
    yield from _source(profile, target)
    yield from _network_manager(profile, target)
    yield from _packages(profile, target)
    yield from _root_ssh(profile, target)


def default_tree_hint(profile: Profile) -> str | None:
    """For a profile without an install source: None when its alias brings a public mirror (that is the source),
    else what to add to the "no install source" message ("" when there is nothing to add)."""
    alias = targets.alias(profile.target)
    if alias.tree is not None:
        return None
    with_trees = ", ".join(a.name for a in targets.ALIASES.values() if a.tree and a.target == alias.target)
    return f"; {profile.target} has no public tree; {with_trees} use their distribution's mirror" if with_trees else ""


def _source(profile: Profile, target: targets.Target) -> Iterator[Problem]:
    source = profile.install.source
    if (target.appstream and source.url is not None and source.appstream is None
            and targets.appstream_beside(source.url) is None):
        yield (("install", "source", "url"),
               f"names no BaseOS folder, so ksbuild writes no AppStream repo: on {target.label} anaconda then reads "
               "AppStream from the tree's .treeinfo (a DVD-layout tree root); if this is a BaseOS repository, set "
               "install.source.appstream", "info")
    if source.appstream is not None and not target.appstream:
        yield (("install", "source", "appstream"),
               f"{target.label} has no AppStream repository (one tree holds everything); remove appstream", "error")
    if target.appstream and source.appstream is not None and source.url is None and source.kinds:
        yield (("install", "source", "appstream"),
               "goes with url: (a BaseOS tree); a DVD's AppStream comes from its .treeinfo, and liveimg installs no "
               "packages: remove appstream", "error")
    if target.appstream:
        for index, repo in enumerate(profile.install.repos):
            if repo.name == targets.APPSTREAM_REPO:
                yield (("install", "repos", index, "name"),
                       f"{repo.name} is the repository ksbuild adds for the install tree on {target.label}; set "
                       "install.source.appstream to change its URL, or name this repo otherwise", "error")


def _network_manager(profile: Profile, target: targets.Target) -> Iterator[Problem]:
    net = profile.network
    devices = net.interfaces or net.bonds or net.vlans or net.bridges
    disabled = "NetworkManager" in profile.system.services.disabled
    if target.network_scripts == "installed" and devices and not disabled:
        # CentOS 7: the network service applies ksbuild's ifcfg files; NetworkManager would apply them as well.
        yield (("system", "services", "disabled"),
               "NetworkManager stays on while ksbuild writes ifcfg files; add NetworkManager to "
               "services.disabled so the network service alone manages them", "warning")
    if target.network_scripts == "optional" and devices and disabled:
        yield (("system", "services", "disabled"),
               f"{target.label} with NetworkManager off runs the deprecated network-scripts: ksbuild adds the "
               "network-scripts package and enables network.service; leave NetworkManager on to have it manage "
               "ksbuild's ifcfg files, as RHEL 8 intends", "warning")
    if target.network_files == "keyfile":
        for path in _devices_with_extra_ifcfg(net):
            yield ((*path, "extra_ifcfg"),
                   f"{target.label}'s NetworkManager reads keyfiles, not ifcfg files: extra_ifcfg has no meaning "
                   "there; remove it", "error")
    if target.network_scripts != "absent":
        return
    for index, name in enumerate(profile.system.services.disabled):
        if name in ("NetworkManager", "NetworkManager.service"):
            yield (("system", "services", "disabled", index),
                   f"{target.label} has no network-scripts: NetworkManager is the only thing that brings the host's "
                   "devices up (ksbuild writes its connection files); remove NetworkManager here", "error")


def _packages(profile: Profile, target: targets.Target) -> Iterator[Problem]:
    for index, name in enumerate(profile.packages.install):
        why = target.missing_packages.get(name)
        if why is not None:
            yield (("packages", "install", index),
                   f"{name} is {why}; anaconda stops on a package it cannot find: remove it (ksbuild's bridges "
                   f"need no brctl), or list it under when_target: {{centos7: ...}}", "error")


def _root_ssh(profile: Profile, target: targets.Target) -> Iterator[Problem]:
    root = profile.users.root
    if root.ssh_password and (root.password_hash is None or root.lock):
        yield (("users", "root", "ssh_password"),
               "root has no usable password (lock: true or no password_hash) to log in with", "error")
        return
    if (not target.root_ssh_password_default and root.password_hash is not None and not root.lock
            and not root.ssh_keys and not root.ssh_password):
        yield (("users", "root"),
               f"{target.label}'s sshd refuses root password logins (PermitRootLogin prohibit-password) and root has "
               "no SSH key: root can log in on the console only; set ssh_password: true (rootpw --allow-ssh) or "
               "add ssh_keys", "warning")


def _devices_with_extra_ifcfg(net: Network) -> Iterator[KeyPath]:
    groups: tuple[tuple[str, Sequence[Device]], ...] = (
        ("interfaces", net.interfaces), ("bonds", net.bonds), ("vlans", net.vlans), ("bridges", net.bridges))
    for kind, devices in groups:
        for index, device in enumerate(devices):
            if device.extra_ifcfg:
                yield ("network", kind, index)
