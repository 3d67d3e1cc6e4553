"""Install-time discovery: storage (`storage.layout: include`) or the installer's network (`network.install:
include`) decided by a %pre that writes a kickstart fragment, read with `%include` once %pre has run.

What ksbuild can know statically is said as such: the checks that need the layout or the install device are
skipped (an info finding says so), and the include must be written by one of the profile's own %pre scripts —
checked by the script naming the file, which is what a reader of the profile can see too. Whether the fragment
the script writes is a valid kickstart is proven by running the script (tests/sandbox.py, the boot test).
"""

from __future__ import annotations

from collections.abc import Iterator

from builder.errors import Severity
from builder.model.profile import Profile
from builder.vocabulary import KeyPath

Problem = tuple[KeyPath, str, Severity]


def include_problems(profile: Profile) -> Iterator[Problem]:
    storage, network = profile.storage, profile.network
    if storage.layout == "include":
        yield (("storage", "layout"),
               f"storage is decided at install time by %include {storage.include}: the disk, mount, size, RAID "
               "and LVM checks are skipped (ksbuild cannot see the layout)", "info")
        yield from _written_by_pre(profile, storage.include, ("storage", "include"))
        if storage.pool is not None and storage.pool.volume_group is not None:
            yield (("storage", "pool", "volume_group"),
                   f"the include must create volume group {storage.pool.volume_group}; ksbuild cannot check it",
                   "info")
    if network.install == "include":
        yield (("network", "install"),
               f"the installer's network is decided at install time by %include {network.include}: the checks "
               "of the install device are skipped", "info")
        if network.include != storage.include or storage.layout != "include":
            yield from _written_by_pre(profile, network.include, ("network", "include"))
        if network.install_device is not None:
            yield (("network", "install_device"),
                   "install_device is not used with install: include (the include writes the network line)",
                   "warning")


def _written_by_pre(profile: Profile, path: str, key: KeyPath) -> Iterator[Problem]:
    if any(path in script.body for script in profile.scripts.pre):
        return
    yield (key, f"no scripts.pre entry names {path}: anaconda stops with 'Unable to open input kickstart file' "
           "when the %include file does not exist; add the %pre that writes it", "error")
