"""A profile against its target's facts: what the target lacks or refuses, each at the profile line at fault."""

from __future__ import annotations

from pathlib import Path

from builder.pipeline import build
from tests.helpers import MINIMAL, ROOT_HASH, SSH_KEY, at, write


def semantic(tmp_path: Path, text: str) -> list[str]:
    result = build(write(tmp_path / "host.yaml", text), shell=False)
    return [f.format() for f in result.findings if f.check == "semantic"]


def test_networkmanager_off_is_an_error_on_el9(tmp_path: Path) -> None:
    found = semantic(tmp_path, "target: rocky9\n" + MINIMAL)
    assert at(tmp_path, 6, "system.services.disabled[0]") + (
        "EL9 has no network-scripts: NetworkManager is the only thing that brings the host's devices up (ksbuild "
        "writes its connection files); remove NetworkManager here") in found


def test_networkmanager_on_is_fine_on_el9_and_a_warning_on_centos7(tmp_path: Path) -> None:
    text = MINIMAL.replace("disabled: [NetworkManager]", "disabled: []")
    el9 = text.replace("centos7/os/x86_64", "el9/BaseOS/x86_64/os/").replace(
        f'password_hash: "{ROOT_HASH}"', f'password_hash: "{ROOT_HASH}", ssh_password: true')
    assert semantic(tmp_path, "target: el9\n" + el9) == []
    assert semantic(tmp_path, "target: centos7\n" + text) == [
        at(tmp_path, 6, "system.services.disabled") + "warning: NetworkManager stays on while ksbuild writes ifcfg "
        "files; add NetworkManager to services.disabled so the network service alone manages them"]


def test_bridge_utils_is_an_error_on_el8(tmp_path: Path) -> None:
    text = "target: el8\n" + MINIMAL.replace("disabled: [NetworkManager]", "disabled: []") + \
        "packages: {install: [qemu-kvm, bridge-utils]}\n"
    found = semantic(tmp_path, text.replace("centos7/os/x86_64", "el8/BaseOS/x86_64/os/"))
    assert found == [at(tmp_path, 16, "packages.install[1]") + (
        "bridge-utils is not in EL8/EL9's BaseOS or AppStream: RHEL 8 and 9 make bridges with NetworkManager only, "
        "and brctl is gone; anaconda stops on a package it cannot find: remove it (ksbuild's bridges need no "
        "brctl), or list it under when_target: {centos7: ...}")]


def test_a_target_without_a_public_tree_needs_a_source(tmp_path: Path) -> None:
    found = semantic(tmp_path, f"""\
        target: rhel9
        system: {{hostname: kvm01.lab.local}}
        users: {{root: {{password_hash: "{ROOT_HASH}", ssh_password: true}}}}
        """)
    assert found == [f"{tmp_path / 'host.yaml'}:1: install.source: no install source: give url:, cdrom: true or "
                     "liveimg: {url: ...}; rhel9 has no public tree; rocky9, alma9, centos-stream9 use their "
                     "distribution's mirror"]


def test_appstream_where_there_is_none(tmp_path: Path) -> None:
    text = MINIMAL.replace('{url: "http://192.168.80.1/centos7/os/x86_64"}',
                           '{url: "http://m/centos7/os/x86_64", appstream: "http://m/x/"}')
    assert semantic(tmp_path, text) == [
        at(tmp_path, 2, "install.source.appstream") + "CentOS 7 has no AppStream repository (one tree holds "
        "everything); remove appstream"]


def test_a_repo_named_appstream_collides_on_el9(tmp_path: Path) -> None:
    text = "target: el9\n" + MINIMAL.replace("disabled: [NetworkManager]", "disabled: []").replace(
        "centos7/os/x86_64", "el9/BaseOS/x86_64/os/").replace(
        "install:\n", "install:\n  repos: [{name: AppStream, baseurl: 'http://m/a/', gpgcheck: false}]\n", 1).replace(
        f'password_hash: "{ROOT_HASH}"', f'password_hash: "{ROOT_HASH}", ssh_password: true')
    assert semantic(tmp_path, text) == [
        at(tmp_path, 3, "install.repos[0].name") + "AppStream is the repository ksbuild adds for the install tree "
        "on EL9; set install.source.appstream to change its URL, or name this repo otherwise"]


def test_root_password_over_ssh_on_el9(tmp_path: Path) -> None:
    base = MINIMAL.replace("disabled: [NetworkManager]", "disabled: []").replace(
        "centos7/os/x86_64", "el9/BaseOS/x86_64/os/")
    warned = semantic(tmp_path, "target: el9\n" + base)
    assert warned == [at(tmp_path, 8, "users.root") + (
        "warning: EL9's sshd refuses root password logins (PermitRootLogin prohibit-password) and root has no SSH "
        "key: root can log in on the console only; set ssh_password: true (rootpw --allow-ssh) or add ssh_keys")]
    asked = base.replace(f'password_hash: "{ROOT_HASH}"', f'password_hash: "{ROOT_HASH}", ssh_password: true')
    assert semantic(tmp_path, "target: el9\n" + asked) == []
    keyed = base.replace(f'password_hash: "{ROOT_HASH}"', f'password_hash: "{ROOT_HASH}", ssh_keys: ["{SSH_KEY}"]')
    assert semantic(tmp_path, "target: el9\n" + keyed) == []
    # CentOS 7 and EL8 allow it anyway: nothing to say.
    assert semantic(tmp_path, "target: el8\n" + base.replace("/el9/", "/el8/")) == []


def test_ssh_password_needs_a_password(tmp_path: Path) -> None:
    text = MINIMAL.replace(f'password_hash: "{ROOT_HASH}"', "lock: true, ssh_password: true")
    assert at(tmp_path, 7, "users.root.ssh_password") + (
        "root has no usable password (lock: true or no password_hash) to log in with") in semantic(tmp_path, text)


def test_extra_ifcfg_means_nothing_to_el9(tmp_path: Path) -> None:
    text = MINIMAL.replace("disabled: [NetworkManager]", "disabled: []").replace(
        "centos7/os/x86_64", "el9/BaseOS/x86_64/os/").replace(
        "{name: enp2s0f0, bridge: br0}", "{name: enp2s0f0, bridge: br0, extra_ifcfg: {ETHTOOL_OPTS: '-K x gro off'}}"
    ).replace(f'password_hash: "{ROOT_HASH}"', f'password_hash: "{ROOT_HASH}", ssh_password: true')
    assert semantic(tmp_path, "target: el9\n" + text) == [
        at(tmp_path, 12, "network.interfaces[0].extra_ifcfg") + "EL9's NetworkManager reads keyfiles, not ifcfg files: "
        "extra_ifcfg has no meaning there; remove it"]
