"""Bad apples: hostile strings in every string field are rejected at their key, or rendered inert.

Inert is proven, not assumed: the kickstart is re-parsed with pykickstart (same sections, same commands, the value
read back unchanged where it lands in a command), and the %post scripts run for real in a throwaway root where a
payload that escaped would create /pwned.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from builder.errors import BadInput
from builder.pipeline import build
from builder.validate.kickstart import parse_kickstart
from tests.helpers import MINIMAL, SSH_KEY, write
from tests.sandbox import console, make_root, run_post_scripts

PAYLOADS = [
    "x\nrootpw --plaintext owned",
    "x\n%end\n%post\ntouch /pwned\n%end",
    "%post",
    "a'b",
    'a"b',
    "$(touch /pwned)",
    "`touch /pwned`",
    "a;touch /pwned",
    "a#b",
    "--bootproto=dhcp",
    "a b",
]

BASE: dict[str, Any] = yaml.safe_load(MINIMAL)
BASE["install"]["repos"] = [{"name": "local", "baseurl": "http://192.168.80.1/local", "gpgcheck": False}]
BASE["system"]["ntp_servers"] = ["ntp.lab.local"]
BASE["system"]["firewall"] = {"enabled": True, "services": ["ssh"], "ports": ["16509/tcp"]}
BASE["users"]["root"]["ssh_keys"] = [SSH_KEY]
BASE["users"]["accounts"] = [{"name": "ops", "gecos": "Ops Team", "groups": ["wheel"], "ssh_keys": [SSH_KEY]}]
BASE["packages"] = {"groups": ["core"], "install": ["qemu-kvm"], "exclude": ["iwl*"], "environment": "minimal"}
BASE["storage"] = {"disks": ["sda"]}  # bootloader added below
BASE["scripts"] = {"post": [{"name": "motd", "body": "echo hi > /etc/motd"}]}
BASE["network"]["interfaces"][0]["extra_ifcfg"] = {"ETHTOOL_OPTS": "-K enp2s0f0 gro off"}
BASE["network"]["install_device"] = "enp2s0f0"
BASE["install"]["repos"][0].update({
    "gpgkey": "file:///etc/pki/rpm-gpg/RPM-GPG-KEY-local", "proxy": "http://proxy.lab.local:3128",
    "proxy_username": "yum", "includepkgs": ["qemu-kvm*"], "excludepkgs": ["kernel*"],
})
BASE["system"]["keyboard"] = {"vckeymap": "de", "xlayouts": ["de", "us"], "switch": ["grp:alt_shift_toggle"]}
BASE["storage"]["bootloader"] = {"append": ["intel_iommu=on"]}
BASE["addons"] = {"kdump": {}, "extra": [{"name": "org_fedora_oscap", "args": ["--enable"], "body": "profile = x\n"}]}

FIELDS: list[tuple[str | int, ...]] = [
    ("description",),
    ("install", "source", "url"),
    ("install", "repos", 0, "name"),
    ("install", "repos", 0, "baseurl"),
    ("system", "hostname"),
    ("system", "timezone"),
    ("system", "ntp_servers", 0),
    ("system", "lang"),
    ("system", "keyboard"),
    ("system", "firewall", "services", 0),
    ("system", "firewall", "ports", 0),
    ("system", "services", "enabled", 0),
    ("users", "root", "ssh_keys", 0),
    ("users", "accounts", 0, "name"),
    ("users", "accounts", 0, "gecos"),
    ("users", "accounts", 0, "groups", 0),
    ("storage", "disks", 0),
    ("packages", "environment"),
    ("packages", "groups", 0),
    ("packages", "install", 0),
    ("packages", "exclude", 0),
    ("network", "interfaces", 0, "name"),
    ("network", "interfaces", 0, "mac"),
    ("network", "interfaces", 0, "extra_ifcfg", "ETHTOOL_OPTS"),
    ("network", "bridges", 0, "name"),
    ("scripts", "post", 0, "name"),
    ("scripts", "post", 0, "interpreter"),
    ("network", "install_device"),
    ("install", "repos", 0, "gpgkey"),
    ("install", "repos", 0, "proxy"),
    ("install", "repos", 0, "proxy_username"),
    ("install", "repos", 0, "includepkgs", 0),
    ("install", "repos", 0, "excludepkgs", 0),
    ("system", "keyboard", "vckeymap"),
    ("system", "keyboard", "xlayouts", 0),
    ("system", "keyboard", "switch", 0),
    ("storage", "bootloader", "append", 0),
    ("addons", "extra", 0, "name"),
    ("addons", "extra", 0, "args", 0),
]


def _set(data: dict[str, Any], path: tuple[str | int, ...], value: str) -> dict[str, Any]:
    copied = copy.deepcopy(data)
    target: Any = copied
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return copied


def _shape(text: str) -> list[str]:
    """Section headers and command names: what an escaped value would add to."""
    words = []
    for line in text.splitlines():
        if line.startswith("%") or (line and not line.startswith((" ", "#")) and line.split()[0].isalpha()):
            words.append(line.split()[0])
    return words


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("baseline")
    result = build(write(folder / "lab.yaml", yaml.safe_dump(BASE)), shell=False)
    assert result.ok, [f.format() for f in result.errors]
    return result.kickstart.text


def _key(path: tuple[str | int, ...]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


@pytest.mark.parametrize("payload", PAYLOADS, ids=range(len(PAYLOADS)))
@pytest.mark.parametrize("path", FIELDS, ids=_key)
def test_rejected_or_inert(tmp_path: Path, baseline: str, path: tuple[str | int, ...], payload: str) -> None:
    profile = write(tmp_path / "lab.yaml", yaml.safe_dump(_set(BASE, path, payload)))
    try:
        result = build(profile, shell=False)
    except BadInput as exc:
        keys = [f.key or "" for f in exc.findings]
        parent = _key(path[:-1]) if isinstance(path[-1], int) or path[-2:-1] == ("extra_ifcfg",) else _key(path)
        assert any(k.startswith(parent) for k in keys), (keys, exc.message)
        assert all(f.location is not None and f.location.line is not None for f in exc.findings)
        return
    if result.errors:
        # Accepted by the schema but refused by a semantic check: still located at a key.
        assert all(f.key for f in result.errors)
        return
    text = result.kickstart.text
    parsed = parse_kickstart(text, "ks.cfg")
    assert [f.format() for f in parsed.findings if f.severity == "error"] == []
    assert _shape(text) == _shape(baseline), "a value added a command or section"
    if path == ("users", "accounts", 0, "gecos"):
        assert parsed.handler.user.userList[0].gecos == payload
    root = make_root(tmp_path / "root", nic="enp2s0f0")
    with console(root):
        runs = run_post_scripts(root, parsed.scripts)
    assert all(r.returncode == 0 for r in runs), [r.log for r in runs if r.returncode]
    assert not (root / "pwned").exists()


@pytest.mark.parametrize("header", ["%end", "%post", "%packages", "  %end", "%pre --nochroot"])
def test_script_body_cannot_open_or_close_sections(tmp_path: Path, header: str) -> None:
    data = _set(BASE, ("scripts", "post", 0, "body"), f"echo one\n{header}\necho two\n")
    with pytest.raises(BadInput) as caught:
        build(write(tmp_path / "lab.yaml", yaml.safe_dump(data)), shell=False)
    (finding,) = caught.value.findings
    assert finding.key == "scripts.post[0].body"
    assert "body line 2 starts with '%'" in finding.message
