"""The fleet commands as a user runs them: output, exit codes (0 ok, 1 checks failed, 2 bad input), JSON."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.helpers import fleet_kickstart, fleet_token, report_install, run_cli

DATA = Path(__file__).parent / "data" / "fleet"


@pytest.fixture
def work(tmp_path: Path) -> Path:
    shutil.copytree(DATA / "profiles", tmp_path / "profiles")
    shutil.copy(DATA / "lab.yaml", tmp_path / "lab.yaml")
    return tmp_path


def test_render_writes_the_tree_under_output_and_then_has_nothing_to_do(work: Path) -> None:
    first = run_cli("fleet", "render", "lab.yaml", cwd=work)
    assert first.returncode == 0, first.stderr
    assert first.stdout == "output/lab: 3 host(s): 3 rendered, 0 unchanged\n"
    assert "note: tftp/centos7/vmlinuz is missing" in first.stderr
    assert fleet_kickstart(work / "output/lab", "kvm01.lab.local").is_file()
    again = run_cli("fleet", "render", "lab.yaml", cwd=work)
    assert (again.returncode, again.stdout) == (0, "output/lab: 3 host(s), all up to date\n")


def test_render_reports_conflicts_with_their_inventory_line_and_exits_1(work: Path) -> None:
    lab = work / "lab.yaml"
    lab.write_text(lab.read_text().replace('"52:54:00:aa:00:03"', '"52:54:00:aa:00:01"'))
    result = run_cli("fleet", "render", "lab.yaml", cwd=work)
    assert result.returncode == 1
    assert ("lab.yaml:33: hosts[2].macs[0]: host kvm03.lab.local: MAC 52:54:00:aa:00:01 is already host "
            "kvm01.lab.local's (lab.yaml:23)") in result.stderr
    assert "failed: 1 error(s); nothing written" in result.stderr
    assert not (work / "output").exists()


def test_an_unreadable_inventory_exits_2(work: Path) -> None:
    (work / "lab.yaml").write_text("pxe: [\n")
    result = run_cli("fleet", "check", "lab.yaml", cwd=work)
    assert result.returncode == 2
    assert "lab.yaml:" in result.stderr and "YAML error" in result.stderr


def test_check_reports_ok_and_json_reports_findings(work: Path) -> None:
    ok = run_cli("fleet", "check", "lab.yaml", cwd=work)
    assert (ok.returncode, ok.stdout) == (0, "lab.yaml: 3 host(s) ok\n")
    lab = work / "lab.yaml"
    lab.write_text(lab.read_text().replace("192.168.80.43/24", "192.168.80.42/24"))
    failed = run_cli("fleet", "check", "lab.yaml", "--format", "json", cwd=work)
    assert failed.returncode == 1
    report = json.loads(failed.stdout)
    assert report["ok"] is False
    (finding,) = report["findings"]
    assert finding == {
        "check": "fleet", "severity": "error", "file": "lab.yaml", "line": 35,
        "key": "network.bridges[0].ipv4.address", "rendered_line": None, "rule": None,
        "message": "host kvm03.lab.local: bridge address 192.168.80.42 of br0 is already br0's on host "
                   "kvm02.lab.local (lab.yaml:30)",
    }


def test_reinstall_finds_the_tree_that_has_the_host(work: Path) -> None:
    assert run_cli("fleet", "render", "lab.yaml", cwd=work).returncode == 0
    report_install(work / "output/lab", "kvm01.lab.local")
    result = run_cli("fleet", "reinstall", "kvm01.lab.local", cwd=work)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("kvm01.lab.local: installs at its next network boot with a new token (")
    token = fleet_token(work / "output/lab", "kvm01.lab.local")
    assert f"inst.ks=http://192.168.80.1:8080/ks/kvm01.lab.local/{token}.cfg" in (
        work / "output/lab/tftp/pxelinux.cfg/01-52-54-00-aa-00-01").read_text()
    unknown = run_cli("fleet", "reinstall", "kvm09.lab.local", cwd=work)
    assert unknown.returncode == 2
    assert "kvm09.lab.local: no fleet tree under output/ has it; name the tree with --output" in unknown.stderr


def test_schema_prints_the_inventory_json_schema(work: Path) -> None:
    result = run_cli("fleet", "schema", cwd=work)
    assert result.returncode == 0
    schema = json.loads(result.stdout)
    assert schema["title"] == "ksbuild fleet inventory"
    assert "hosts" in schema["properties"]


def test_boot_files_from_an_iso_share_the_boot_tests_media_cache(work: Path) -> None:
    from builder.boot.media import default_cache_dir, resolve_media
    from tests.test_boot_media import make_iso_pycdlib, make_tree

    iso = make_iso_pycdlib(make_tree(work / "tree"), work / "centos.iso")
    cache_home = work / "cache"
    rendered = run_cli("fleet", "render", "lab.yaml", "-o", "out", "--boot-files", str(iso), cwd=work,
                       env={"XDG_CACHE_HOME": str(cache_home)})
    assert rendered.returncode == 0, rendered.stderr
    assert "extracting the installer kernel and initrd" in rendered.stderr
    said: list[str] = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(cache_home))
        media = resolve_media(str(iso), default_cache_dir(), progress=said.append)
    # The boot test finds the kernel and initrd the fleet render extracted: nothing is extracted twice.
    assert said == []
    assert media.kernel.read_bytes() == (work / "out/tftp/centos7/vmlinuz").read_bytes()


def test_boot_files_for_a_target_must_be_that_targets_release(work: Path) -> None:
    tree = work / "tree"  # CentOS 7 media given for EL9's images
    (tree / "images/pxeboot").mkdir(parents=True)
    (tree / "images/pxeboot/vmlinuz").write_bytes(b"k")
    (tree / "images/pxeboot/initrd.img").write_bytes(b"i")
    (tree / ".treeinfo").write_text("[general]\nfamily = CentOS\nversion = 7\n")
    result = run_cli("fleet", "render", "lab.yaml", "-o", "out", "--boot-files", f"el9={tree}", cwd=work)
    assert result.returncode == 2
    assert f"--boot-files el9={tree}: the media is CentOS 7 (its .treeinfo)" in result.stderr
    assert "EL9" in result.stderr and "Traceback" not in result.stderr
    assert not (work / "out").exists()
