"""Install tokens and reports in a fleet tree's state: issued at render, kept (determinism), rotated by
`fleet reinstall`, kept out of the manifest, in 0600 files; `ksbuild fleet status`."""

from __future__ import annotations

import json
import re
import shutil
import stat
from pathlib import Path

import pytest

from builder.errors import BadInput
from builder.fleet import state, tree
from builder.fleet.render import FleetOutcome
from builder.fleet.render import render_fleet as _render_fleet
from builder.vocabulary import Roots
from tests.helpers import fleet_kickstart, fleet_token, report_install, run_cli

DATA = Path(__file__).parent / "data" / "fleet"
HOSTS = ("kvm01.lab.local", "kvm02.lab.local", "kvm03.lab.local")


@pytest.fixture
def lab(tmp_path: Path) -> Path:
    shutil.copytree(DATA / "profiles", tmp_path / "profiles")
    shutil.copy(DATA / "lab.yaml", tmp_path / "lab.yaml")
    return tmp_path / "lab.yaml"


def render_fleet(inventory: Path, out: Path) -> FleetOutcome:
    """`ksbuild fleet render` as run in the inventory's folder."""
    return _render_fleet(inventory, out, roots=Roots.under(inventory.parent))


def files_of(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {
        path.relative_to(folder).as_posix(): (path.read_bytes(), stat.S_IMODE(path.stat().st_mode))
        for path in sorted(folder.rglob("*")) if path.is_file() and path.name != ".state.lock"
    }


def test_every_host_gets_its_own_random_token_in_a_0600_state_file(lab: Path) -> None:
    out = lab.parent / "out"
    render_fleet(lab, out)
    tokens = [fleet_token(out, host) for host in HOSTS]
    assert len(set(tokens)) == 3
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{32}", token) for token in tokens)
    assert stat.S_IMODE((out / "state.json").stat().st_mode) == 0o600
    # Everything else that holds a token is 0600 too, except the entries TFTP and HTTP must serve.
    for host, token in zip(HOSTS, tokens, strict=True):
        holders = {path for path, (data, _) in files_of(out).items() if token.encode() in data}
        assert {path for path in holders if files_of(out)[path][1] != 0o600} == {
            path for path in holders if path.startswith(("tftp/", "http/ipxe/"))}
        assert f"http/ks/{host}/{token}.cfg" in holders
    manifest = (out / "manifest.json").read_text()
    assert not any(token in manifest for token in tokens)


def render_again_from(lab: Path, out: Path, state_json: bytes | None) -> dict[str, tuple[bytes, int]]:
    """Render into an emptied `out` that holds only `state_json` (as state.json, mode 0644 as a copy by hand
    would leave it) and return the tree's files."""
    shutil.rmtree(out)
    out.mkdir()
    if state_json is not None:
        (out / "state.json").write_bytes(state_json)
    render_fleet(lab, out)
    return files_of(out)


def test_the_same_inputs_and_the_same_state_render_a_byte_identical_tree(lab: Path) -> None:
    out = lab.parent / "out"
    render_fleet(lab, out)
    first = files_of(out)
    assert render_again_from(lab, out, first["state.json"][0]) == first
    # Without the state, new tokens: the token is state, not something the inputs decide.
    render_again_from(lab, out, None)
    assert not any(token_of(first, host) in (out / "state.json").read_text() for host in HOSTS)


def token_of(files: dict[str, tuple[bytes, int]], host: str) -> str:
    token: str = json.loads(files["state.json"][0])["hosts"][host]["token"]
    return token


def test_reinstall_rotates_the_token_and_gives_what_a_render_with_the_new_token_gives(lab: Path) -> None:
    out = lab.parent / "out"
    render_fleet(lab, out)
    old = fleet_token(out, "kvm02.lab.local")
    old_kickstart = fleet_kickstart(out, "kvm02.lab.local")
    report_install(out, "kvm02.lab.local")
    assert "LOCALBOOT 0" in (out / "tftp/pxelinux.cfg/01-52-54-00-aa-00-02").read_text()

    changed = tree.reinstall(out, "kvm02.lab.local")
    new = fleet_token(out, "kvm02.lab.local")
    assert new != old
    assert not old_kickstart.exists()
    assert f"/callback/kvm02.lab.local/{new}\n" in fleet_kickstart(out, "kvm02.lab.local").read_text()
    assert sorted(changed) == ["http/ipxe/52-54-00-aa-00-02.ipxe", "http/ipxe/52-54-00-aa-01-02.ipxe",
                               "tftp/pxelinux.cfg/01-52-54-00-aa-00-02", "tftp/pxelinux.cfg/01-52-54-00-aa-01-02"]
    for path in changed:
        text = (out / path).read_text()
        assert f"inst.ks=http://192.168.80.1:8080/ks/kvm02.lab.local/{new}.cfg" in text and old not in text
    assert state.read(out)["kvm02.lab.local"] == state.HostState(token=new)
    # The next render has nothing to do, and a render from scratch with the same state writes the same tree.
    assert render_fleet(lab, out).up_to_date
    reinstalled = files_of(out)
    assert render_again_from(lab, out, reinstalled["state.json"][0]) == reinstalled


def test_a_lost_state_file_means_new_tokens_and_no_kickstart_left_under_an_old_one(lab: Path) -> None:
    out = lab.parent / "out"
    render_fleet(lab, out)
    old = {host: fleet_kickstart(out, host) for host in HOSTS}
    (out / "state.json").unlink()
    outcome = render_fleet(lab, out)
    assert outcome.rendered == HOSTS
    for host in HOSTS:
        assert not old[host].exists()
        assert [p.name for p in (out / "http/ks" / host).iterdir()] == [fleet_kickstart(out, host).name]


def test_a_state_file_that_is_not_ours_is_refused_with_its_path(lab: Path) -> None:
    out = lab.parent / "out"
    render_fleet(lab, out)
    data = json.loads((out / "state.json").read_text())
    data["hosts"]["kvm01.lab.local"]["token"] = "../../etc/passwd"
    (out / "state.json").write_text(json.dumps(data))
    with pytest.raises(BadInput, match=r"state\.json: hosts\.kvm01\.lab\.local\.token: String should match"):
        render_fleet(lab, out)


def test_a_state_file_from_before_tokens_keeps_its_installed_hosts(lab: Path) -> None:
    out = lab.parent / "out"
    render_fleet(lab, out)
    report_install(out, "kvm01.lab.local")
    (out / "state.json").write_text(json.dumps({"hosts": {
        "kvm01.lab.local": {"status": "installed", "at": "2024-05-01T10:00:00Z", "by": "callback from 10.0.0.1"}}}))
    render_fleet(lab, out)
    states = state.read(out)
    assert states["kvm01.lab.local"].status == "installed"
    assert states["kvm01.lab.local"].reported_at == "2024-05-01T10:00:00Z"
    assert "LOCALBOOT 0" in (out / "tftp/pxelinux.cfg/01-52-54-00-aa-00-01").read_text()
    assert states["kvm02.lab.local"].status == "pending"


def test_a_report_is_accepted_once_and_only_with_the_hosts_token(lab: Path) -> None:
    out = lab.parent / "out"
    render_fleet(lab, out)
    token = fleet_token(out, "kvm01.lab.local")
    other = fleet_token(out, "kvm02.lab.local")
    assert state.record_report(out, "kvm01.lab.local", other, "installed", "10.0.0.9") == "wrong token"
    assert state.record_report(out, "kvm09.lab.local", token, "installed", "10.0.0.9") == "no such host"
    assert state.record_report(out, "kvm01.lab.local", token, "failed", "10.0.0.9") is None
    assert state.record_report(out, "kvm01.lab.local", token, "installed", "10.0.0.9") == "already reported (failed)"
    failed = state.read(out)["kvm01.lab.local"]
    assert (failed.status, failed.reported_from) == ("failed", "10.0.0.9")
    # A failed install keeps its install entries: the disk holds no good system to boot.
    assert "inst.ks=" in (out / "tftp/pxelinux.cfg/01-52-54-00-aa-00-01").read_text()


def test_fleet_status_prints_a_table_and_json(lab: Path) -> None:
    out = lab.parent / "out"
    render_fleet(lab, out)
    report_install(out, "kvm01.lab.local")
    report_install(out, "kvm03.lab.local", "failed")
    table = run_cli("fleet", "status", "out", cwd=lab.parent)
    assert table.returncode == 0, table.stderr
    rows = [line.split() for line in table.stdout.splitlines()]
    assert rows[0] == ["HOST", "MAC", "STATE", "LAST", "REPORT", "FROM"]
    reported_at = state.read(out)["kvm01.lab.local"].reported_at
    assert rows[1] == ["kvm01.lab.local", "52:54:00:aa:00:01", "installed", reported_at, "192.0.2.1"]
    assert rows[2] == ["kvm02.lab.local", "52:54:00:aa:00:02,52:54:00:aa:01:02", "pending", "-", "-"]
    assert rows[3][:3] == ["kvm03.lab.local", "52:54:00:aa:00:03", "failed"]
    as_json = run_cli("fleet", "status", "out", "--format", "json", cwd=lab.parent)
    listed = json.loads(as_json.stdout)
    assert [(row["host"], row["state"]) for row in listed] == [
        ("kvm01.lab.local", "installed"), ("kvm02.lab.local", "pending"), ("kvm03.lab.local", "failed")]
    assert listed[0]["reported_from"] == "192.0.2.1" and "token" not in as_json.stdout
    missing = run_cli("fleet", "status", "nothere", cwd=lab.parent)
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
