"""Bad apples for the bond, VLAN and storage fields: hostile strings in every new string field are rejected at
their key, or rendered inert.

As in test_bad_apples.py, inert is proven: the kickstart is re-parsed with pykickstart (same sections, same
commands), and the %post scripts run for real in a throwaway root where a payload that escaped would create
/pwned.
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
from tests.helpers import MINIMAL, write
from tests.sandbox import console, make_root, run_post_scripts
from tests.test_bad_apples import PAYLOADS, _key, _set, _shape

BASE: dict[str, Any] = yaml.safe_load(MINIMAL)
BASE["network"] = {
    "nameservers": ["114.114.114.114"],
    "interfaces": [{"name": "eno1", "mac": "52:54:00:00:00:01"}],
    "bonds": [{"name": "bond0", "members": ["eno1", "eno2"], "mode": "active-backup",
               "options": {"miimon": 100, "primary": "eno1"}}],
    "vlans": [
        {"id": 10, "parent": "bond0", "ipv4": {"address": "192.168.80.40/24", "gateway": "192.168.80.1"}},
        {"id": 30, "parent": "bond0", "name": "vlan30", "bridge": "br-vm"},
    ],
    "bridges": [{"name": "br-vm", "stp": False}],
    "install_device": "eno1",
}
BASE["storage"] = {
    "disks": ["sda", "sdb"],
    "disk_sizes": {"sda": 100000},
    "firmware": "bios",
    "layout": "custom",
    "partitions": [{"mount": "/home", "size": 1024, "disk": "sdb", "fsoptions": "nodev"}],
    "raids": [
        {"name": "md0", "level": 1, "disks": ["sda", "sdb"], "size": 1024, "mount": "/boot", "fsoptions": "noatime"},
        {"name": "md1", "level": 1, "disks": ["sda", "sdb"], "size": 20480, "volume_group": "vg_sys"},
    ],
    "volume_groups": [{"name": "vg_sys", "logical_volumes": [
        {"name": "root", "mount": "/", "size": 8192, "fsoptions": "defaults"},
        {"name": "pool00", "thin_pool": True, "size": 4096},
        {"name": "data", "mount": "/srv", "thin": "pool00", "size": 1024},
    ]}],
    "pool": {"name": "vmstore", "path": "/var/lib/libvirt/images"},
}

FIELDS: list[tuple[str | int, ...]] = [
    ("network", "bonds", 0, "name"),
    ("network", "bonds", 0, "members", 0),
    ("network", "bonds", 0, "mode"),
    ("network", "bonds", 0, "bridge"),
    ("network", "bonds", 0, "options", "primary"),
    ("network", "bonds", 0, "options", "lacp_rate"),
    ("network", "bonds", 0, "options", "xmit_hash_policy"),
    ("network", "vlans", 0, "parent"),
    ("network", "vlans", 1, "name"),
    ("network", "vlans", 1, "bridge"),
    ("network", "interfaces", 0, "bridge"),
    ("network", "bridges", 0, "name"),
    ("network", "install_device"),
    ("storage", "firmware"),
    ("storage", "layout"),
    ("storage", "partitions", 0, "mount"),
    ("storage", "partitions", 0, "disk"),
    ("storage", "partitions", 0, "fstype"),
    ("storage", "partitions", 0, "fsoptions"),
    ("storage", "partitions", 0, "volume_group"),
    ("storage", "raids", 0, "name"),
    ("storage", "raids", 0, "disks", 1),
    ("storage", "raids", 0, "mount"),
    ("storage", "raids", 0, "fsoptions"),
    ("storage", "raids", 1, "volume_group"),
    ("storage", "volume_groups", 0, "name"),
    ("storage", "volume_groups", 0, "logical_volumes", 0, "name"),
    ("storage", "volume_groups", 0, "logical_volumes", 0, "mount"),
    ("storage", "volume_groups", 0, "logical_volumes", 0, "fsoptions"),
    ("storage", "volume_groups", 0, "logical_volumes", 2, "thin"),
    ("storage", "pool", "name"),
    ("storage", "pool", "path"),
    ("storage", "pool", "volume_group"),
]


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("baseline")
    result = build(write(folder / "host.yaml", yaml.safe_dump(BASE)), shell=False)
    assert [f.format() for f in result.findings] == []
    return result.kickstart.text


def _judge(tmp_path: Path, data: dict[str, Any], parent: str, baseline: str) -> None:
    profile = write(tmp_path / "host.yaml", yaml.safe_dump(data))
    try:
        result = build(profile, shell=False)
    except BadInput as exc:
        keys = [f.key or "" for f in exc.findings]
        assert any(k.startswith(parent) for k in keys), (keys, exc.message)
        assert all(f.location is not None and f.location.line is not None for f in exc.findings)
        return
    if result.errors:
        # Accepted by the schema but refused by a check: still located at a key.
        assert all(f.key for f in result.errors if f.check == "semantic")
        assert any(f.check == "semantic" for f in result.errors)
        return
    text = result.kickstart.text
    parsed = parse_kickstart(text, "ks.cfg")
    assert [f.format() for f in parsed.findings if f.severity == "error"] == []
    assert _shape(text) == _shape(baseline), "a value added a command or section"
    root = make_root(tmp_path / "root", nic="eno1")
    with console(root):
        runs = run_post_scripts(root, parsed.scripts)
    assert all(r.returncode == 0 for r in runs), [r.log for r in runs if r.returncode]
    assert not (root / "pwned").exists()


@pytest.mark.parametrize("payload", PAYLOADS, ids=range(len(PAYLOADS)))
@pytest.mark.parametrize("path", FIELDS, ids=_key)
def test_rejected_or_inert(tmp_path: Path, baseline: str, path: tuple[str | int, ...], payload: str) -> None:
    parent = _key(path[:-1]) if isinstance(path[-1], int) else _key(path)
    _judge(tmp_path, _set(BASE, path, payload), parent, baseline)


@pytest.mark.parametrize("payload", PAYLOADS, ids=range(len(PAYLOADS)))
def test_disk_size_keys(tmp_path: Path, baseline: str, payload: str) -> None:
    data = copy.deepcopy(BASE)
    data["storage"]["disk_sizes"] = {payload: 100000}
    _judge(tmp_path, data, "storage.disk_sizes", baseline)
