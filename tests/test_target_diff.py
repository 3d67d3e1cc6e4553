"""`ksbuild diff PROFILE --target A --target B`: the kickstart's changes between two targets, section by section,
each with its reason; no password hash or secret in the output."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from builder.target_diff import split_kickstart
from tests.helpers import MINIMAL, SHIPPED_PROFILES, run_cli, write

HYPERVISOR = SHIPPED_PROFILES / "kvm-hypervisor.yaml"
HASH = "$6$k5bu1ldLab2026xx$"  # the start of the shipped profile's root hash


def _line_of(path: Path, text: str, after: str) -> int:
    """The 1-based line of the first line holding `text` after the first line holding `after`."""
    lines = path.read_text().splitlines()
    start = next(n for n, line in enumerate(lines) if after in line)
    return next(n for n, line in enumerate(lines[start:], start=start) if text in line) + 1


def test_centos7_to_el9_of_the_shipped_profile(tmp_path: Path) -> None:
    done = run_cli("diff", str(HYPERVISOR), "--target", "centos7", "--target", "el9", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.startswith("ksbuild diff kvm-hypervisor: centos7 -> el9\n== commands ==\n- install\n    why: ")
    assert "removed on EL9" in out.split("- install\n", 1)[1].splitlines()[0]
    # The install tree: the el9 entry of when_target, at its line, and the AppStream repository.
    el9_url = _line_of(HYPERVISOR, "url:", "  el9:")
    assert f"el9: {HYPERVISOR}:{el9_url})" in out
    assert "+ repo --name=AppStream --baseurl=http://192.168.80.1/el9/AppStream/x86_64/os/\n" in out
    # --allow-ssh, and the reason is the sshd default, not the profile (ssh_password is the same for both).
    allow = out.split("+ rootpw --iscrypted '<hash>' --allow-ssh\n", 1)[1].split("\n- ", 1)[0]
    assert "PermitRootLogin prohibit-password" in allow and "ssh_password" not in allow
    packages = out.split("== %packages ==\n", 1)[1].split("\n== ", 1)[0]
    assert packages.startswith("- bridge-utils\n")
    assert "bridge-utils (brctl) is not in EL8/EL9's repositories" in packages
    assert "--exclude-weakdeps" not in packages  # the profile uses no %packages option: no such reason
    # NM_CONTROLLED=no goes with NetworkManager off, which the profile keeps for CentOS 7 only.
    # ifcfg files give way to NetworkManager keyfiles, shown whole; NetworkManager off stays CentOS 7's.
    network = out.split("== %post network ==\n", 1)[1].split("\n== ", 1)[0]
    assert "- file /etc/sysconfig/network-scripts/ifcfg-br0 (0644)\n" in network
    assert "+ file /etc/NetworkManager/system-connections/br0.nmconnection (0600)\n    +[connection]\n" in network
    assert "    +stp=true\n    +forward-delay=2\n" in network
    assert "EL9's NetworkManager stores connections as keyfiles" in network
    assert "system.services.disabled per target" in network
    # EL9 nests KVM guests by default: no modprobe file, the whole section goes, with the kernel fact as reason.
    nested = out.split("== %post nested-virt == (removed)\n", 1)[1].split("\n== ", 1)[0].splitlines()
    assert nested[0].startswith("- %post --interpreter=/bin/bash") and len(nested) == 3
    assert nested[1] == "- file /etc/modprobe.d/kvm-nested.conf (0644)" and "Linux 4.20" in nested[2]
    services = out.split("+ services --enabled=virtqemud.service,virtqemud.socket,", 1)[1].split("\n- ", 1)[0]
    assert "one daemon per driver" in services
    assert out.rstrip().splitlines()[-1].startswith("== unchanged: %pre hardware-virt, %post selinux")
    assert HASH not in out and "$6$" not in out


def test_json_shape(tmp_path: Path) -> None:
    done = run_cli("diff", str(HYPERVISOR), "--target", "el8", "--target", "rocky9", "--format", "json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert (data["a"], data["b"], data["profile"]) == ("el8", "rocky9", "kvm-hypervisor")
    commands = next(s for s in data["sections"] if s["section"] == "commands")
    assert commands["status"] == "changed"
    rootpw = next(c for c in commands["changes"] if c["part"] == "rootpw")
    assert rootpw["added"] == ["rootpw --iscrypted '<hash>' --allow-ssh"] and rootpw["why"]
    assert "$6$" not in done.stdout


def test_same_target_twice_is_empty(tmp_path: Path) -> None:
    done = run_cli("diff", str(HYPERVISOR), "--target", "el9", "--target", "alma9", cwd=tmp_path)
    assert done.returncode == 0
    assert done.stdout.splitlines()[1].startswith("== unchanged: commands, %packages")


def test_a_target_the_profile_cannot_render_for(tmp_path: Path) -> None:
    profile = write(tmp_path / "host.yaml", MINIMAL)  # NetworkManager off: an error on EL9
    done = run_cli("diff", str(profile), "--target", "centos7", "--target", "el9", cwd=tmp_path)
    assert done.returncode == 1
    assert "system.services.disabled[0]: EL9 has no network-scripts" in done.stderr
    assert "the el9 kickstart does not render: " in done.stderr
    assert done.stdout == ""


def test_usage_errors(tmp_path: Path) -> None:
    once = run_cli("diff", str(HYPERVISOR), "--target", "el9", cwd=tmp_path)
    assert once.returncode == 2 and "give --target twice" in once.stderr
    unknown = run_cli("diff", str(HYPERVISOR), "--target", "el9", "--target", "rocky10", cwd=tmp_path)
    assert unknown.returncode == 2 and "'rocky10' is not a target ksbuild knows" in unknown.stderr


def test_split_reads_files_written_with_here_documents() -> None:
    text = (
        "text\n# a comment\nreboot\n%packages --exclude-weakdeps\n@core\n%end\n"
        "%post --interpreter=/bin/bash --log=/root/x.log\n# ksbuild post script: network\nset -e\n"
        "cat > /etc/a <<'KSBUILD_EOF'\nA=1\nKSBUILD_EOF\nchmod 0600 /etc/a\necho done\n%end\n"
    )
    commands, packages, network = split_kickstart(text)
    assert commands.lines == ["text", "reboot"]
    assert packages.name == "%packages" and packages.lines == ["%packages --exclude-weakdeps", "@core"]
    assert network.name == "%post network"
    assert network.lines == ["%post --interpreter=/bin/bash --log=/root/x.log", "set -e", "echo done"]
    assert network.files == {"/etc/a": ("0600", ("A=1",))}


def test_a_secret_file_replaced_during_the_diff_stays_masked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each kickstart holds the passphrase read when it was rendered; if the file changes meanwhile (rotated,
    edited), the diff masks the values the kickstarts hold, not whatever the file says afterwards."""
    import builder.pipeline
    from builder.pipeline import BuildRequest
    from builder.target_diff import diff_targets

    luks = write(tmp_path / "secrets/luks", "passphrase-one\n")
    profile = write(tmp_path / "host.yaml", f"extends: {HYPERVISOR}\nstorage:\n  layout: custom\n  partitions:\n"
                    "    - {mount: /boot, size: 1024}\n"
                    "    - {mount: /, size: 10240, grow: true, encrypted: true, passphrase_file: secrets/luks}\n")
    render = builder.pipeline.render_kickstart
    renders = iter(["passphrase-two\n", "passphrase-three\n"])

    def render_then_rotate(*args: Any, **kwargs: Any) -> Any:
        rendered = render(*args, **kwargs)
        luks.write_text(next(renders))  # someone replaces the file after this kickstart was rendered
        return rendered

    monkeypatch.setattr(builder.pipeline, "render_kickstart", render_then_rotate)
    diff = diff_targets(BuildRequest(profile), "centos7", "el9")
    shown = diff.format() + json.dumps(diff.to_json())
    assert "passphrase-" not in shown
