"""Where a boot test installs from: the install source as the guest reaches it, and the installer's command line.

The kickstart itself is the profile's boot-test variant (builder.pipeline.BootTestVariant)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from builder.boot.media import InstallMedia
from builder.boot.tree_server import USER_NETWORK_HOST
from builder.model.profile import InstallSource


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


def installer_cmdline(repo: str, extra_args: Sequence[str] = ()) -> str:
    """anaconda's boot arguments; the serial console comes last so it is /dev/console, which the logs reach."""
    return " ".join(
        ["inst.ks=file:/ks.cfg", f"inst.repo={repo}", "inst.text", "inst.cmdline", *extra_args,
         "console=tty0", "console=ttyS0,115200n8"]
    )
