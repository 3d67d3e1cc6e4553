"""Install-time discovery in a profile: storage (`storage.layout: include`) or the installer's network
(`network.install: include`) decided by a %pre that writes a kickstart fragment, read with `%include` once %pre
has run.

The kickstart linter judges the rendered `%include` lines like any kickstart's (KS110: a note naming the %pre that
writes the file and the checks it stands in for; KS111: no %pre names the file), and the pipeline reports those at
storage.include / network.include. What only the profile can say is here.
"""

from __future__ import annotations

from collections.abc import Iterator

from builder.errors import Severity
from builder.model.profile import Profile
from builder.vocabulary import KeyPath

Problem = tuple[KeyPath, str, Severity]


def include_problems(profile: Profile) -> Iterator[Problem]:
    storage, network = profile.storage, profile.network
    if storage.layout == "include" and storage.pool is not None and storage.pool.volume_group is not None:
        yield (("storage", "pool", "volume_group"),
               f"the include must create volume group {storage.pool.volume_group}; ksbuild cannot check it", "info")
    if network.install == "include" and network.install_device is not None:
        yield (("network", "install_device"),
               "install_device is not used with install: include (the include writes the network line)", "warning")
