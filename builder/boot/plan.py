"""What a boot test installs: the profile's kickstart pointed at the test media, and the installer's command line."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from builder.boot.media import InstallMedia
from builder.boot.tree_server import USER_NETWORK_HOST
from builder.model.profile import InstallSource, Profile


def test_disk_names(count: int) -> tuple[str, ...]:
    """The boot-test VM's virtio disks, one per disk the profile names (RAID profiles need several)."""
    return tuple(f"vd{chr(ord('a') + n)}" for n in range(count))


@dataclass(frozen=True)
class InstallTarget:
    """Where the guest finds the install tree: inst.repo= and the kickstart's own source."""

    repo: str
    source: InstallSource


def guest_url(url: str, user_network: bool) -> str:
    """A URL as the guest must write it: on qemu's user-mode network the host's loopback is 10.0.2.2."""
    parts = urlsplit(url)
    if not user_network or parts.hostname not in {"127.0.0.1", "localhost", "::1"}:
        return url
    netloc = USER_NETWORK_HOST + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def install_target(media: InstallMedia, tree_port: int | None, *, user_network: bool = False) -> InstallTarget:
    if media.kind == "iso":
        return InstallTarget("cdrom", InstallSource(cdrom=True))
    if media.kind == "tree":
        if tree_port is None:
            raise ValueError("a local tree must be served over HTTP first")
        url = f"http://{USER_NETWORK_HOST}:{tree_port}/"
        return InstallTarget(url, InstallSource(url=url))
    url = guest_url(media.repo, user_network)
    return InstallTarget(url, InstallSource(url=url))


def for_boot_test(profile: Profile, target: InstallTarget) -> Profile:
    """The profile as the test VM installs it: from the test media, onto the VM's disks (the profile's disk names,
    by-id paths included, become vda, vdb, ... in order). Nothing else changes."""
    mapping = dict(zip(profile.storage.disks, test_disk_names(len(profile.storage.disks)), strict=True))
    data = profile.model_dump(mode="python")
    data["storage"] = _rename(data["storage"], mapping)
    data["install"]["source"] = target.source.model_dump(mode="python")
    return Profile.model_validate(data)


def _rename(value: Any, mapping: dict[str, str]) -> Any:
    if isinstance(value, str):
        return mapping.get(value, value)
    if isinstance(value, dict):
        return {_rename(k, mapping): _rename(v, mapping) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_rename(item, mapping) for item in value]
    return value


def installer_cmdline(repo: str, extra_args: Sequence[str] = ()) -> str:
    """anaconda's boot arguments; the serial console comes last so it is /dev/console, which the logs reach."""
    return " ".join(
        ["inst.ks=file:/ks.cfg", f"inst.repo={repo}", "inst.text", "inst.cmdline", *extra_args,
         "console=tty0", "console=ttyS0,115200n8"]
    )
