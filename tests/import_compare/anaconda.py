"""What anaconda 21 itself leaves on the installed system before %post runs, for the kickstart commands whose
effect the import reads back from %post edits: the ifcfg file of each `network` line, the `selinux` mode in
/etc/selinux/config, and the .repo file of each `repo --install` (pyanaconda/packaging/yumpayload.py
`_writeYumRepo`: id, name=id, enabled, baseurl, proxy, cost, includepkgs, exclude; no gpgcheck line).

The round trip starts both kickstarts' %post from these files, each from its own commands.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit, urlunsplit

from builder.importer.ifcfg import IFCFG_DIR, anaconda_ifcfg, render_ifcfg
from builder.importer.system_files import SELINUX_CONFIG, SELINUX_CONFIG_PATH, SYSTEM_FILES
from builder.validate.kickstart import ParsedKickstart

_SELINUX_MODES = {0: "disabled", 1: "enforcing", 2: "permissive"}


def _repo_file(data: object) -> str:
    lines = [f"[{data.name}]", f"name={data.name}", "enabled=1", f"baseurl={data.baseurl}"]  # type: ignore[attr-defined]
    proxy = getattr(data, "proxy", "")
    if proxy:
        parts = urlsplit(proxy)
        lines.append(f"proxy={urlunsplit(parts._replace(netloc=parts.netloc.rsplit('@', 1)[-1]))}")
        if parts.username:
            lines.append(f"proxy_username={parts.username}")
    if getattr(data, "cost", None):
        lines.append(f"cost={data.cost}")  # type: ignore[attr-defined]
    if getattr(data, "includepkgs", None):
        lines.append(f"includepkgs={','.join(data.includepkgs)}")  # type: ignore[attr-defined]
    if getattr(data, "excludepkgs", None):
        lines.append(f"exclude={','.join(data.excludepkgs)}")  # type: ignore[attr-defined]
    return "".join(f"{line}\n" for line in lines)


def installed_files(parsed: ParsedKickstart, nic_names: Mapping[str, str] | None = None) -> dict[str, str]:
    """Path -> content of the files a CentOS 7 host has when %post starts, after anaconda applied `parsed`
    (`nic_names`: the kernel names of NICs its `network` lines name by MAC)."""
    files = dict(SYSTEM_FILES)
    mode = _SELINUX_MODES.get(parsed.handler.selinux.selinux)
    if mode is not None:
        files[SELINUX_CONFIG_PATH] = SELINUX_CONFIG.replace("SELINUX=enforcing", f"SELINUX={mode}")
    for device, entries in anaconda_ifcfg([c.data for c in parsed.lines("network")], nic_names).items():
        files[f"{IFCFG_DIR}/ifcfg-{device}"] = render_ifcfg(entries)
    for command in parsed.lines("repo"):
        if command.data.install and command.data.baseurl:
            files[f"/etc/yum.repos.d/{command.data.name}.repo"] = _repo_file(command.data)
    return files
