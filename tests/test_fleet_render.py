"""Fleet render: one validated kickstart per host (real pykickstart, real shellcheck), incremental re-renders,
nothing written on an error, the install-once state kept across renders."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from builder.errors import BadInput, ChecksFailed
from builder.fleet import state, tree
from builder.fleet.render import FleetOutcome, check_fleet_inventory, render_fleet
from builder.validate.kickstart import parse_kickstart
from builder.vocabulary import Roots
from tests.helpers import fleet_kickstart, fleet_token, report_install, run_cli

DATA = Path(__file__).parent / "data" / "fleet"
HOSTS = ("kvm01.lab.local", "kvm02.lab.local", "kvm03.lab.local")


@pytest.fixture
def lab(tmp_path: Path) -> Path:
    """A copy of the example inventory and its profiles in a working folder (see `render`)."""
    shutil.copytree(DATA / "profiles", tmp_path / "profiles")
    shutil.copy(DATA / "lab.yaml", tmp_path / "lab.yaml")
    return tmp_path / "lab.yaml"


def render(inventory: Path, out: Path, **options: Any) -> FleetOutcome:
    """`ksbuild fleet render` as run in the inventory's folder: profiles/ there, paths shown relative to it."""
    return render_fleet(inventory, out, roots=Roots.under(inventory.parent), **options)


def check(inventory: Path, **options: Any) -> FleetOutcome:
    return check_fleet_inventory(inventory, roots=Roots.under(inventory.parent), **options)


def snapshot(tree: Path) -> dict[str, tuple[bytes, int, int]]:
    """Every file of the tree: content, mode and inode+mtime (to see what was rewritten)."""
    files = {}
    for path in sorted(tree.rglob("*")):
        if path.is_file() and path.name != ".state.lock":
            info = path.stat()
            files[path.relative_to(tree).as_posix()] = (path.read_bytes(), stat.S_IMODE(info.st_mode),
                                                       info.st_mtime_ns ^ info.st_ino)
    return files


def contents(files: dict[str, tuple[bytes, int, int]]) -> dict[str, tuple[bytes, int]]:
    return {path: (data, mode) for path, (data, mode, _) in files.items()}


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_every_host_gets_a_validated_kickstart_with_its_own_name_and_address(lab: Path) -> None:
    out = lab.parent / "out"
    outcome = render(lab, out)
    assert outcome.rendered == HOSTS
    assert outcome.findings == ()
    for number, hostname in enumerate(HOSTS, start=1):
        ks = fleet_kickstart(out, hostname)
        assert stat.S_IMODE(ks.stat().st_mode) == 0o600
        text = ks.read_text()
        parsed = parse_kickstart(text, ks.name)  # real pykickstart, RHEL7 handler
        assert parsed.findings == ()
        network = parsed.handler.network.network[0]
        assert (network.hostname, network.ip, network.device) == (hostname, f"192.168.80.4{number}", "enp2s0f0")
        assert f"IPADDR=192.168.80.4{number}\n" in text
        # The install-success callback to `ksbuild serve`, with the host's token, as here-document data.
        token = fleet_token(out, hostname)
        assert f"http://192.168.80.1:8080/callback/{hostname}/{token}\nKSBUILD_EOF\n" in text
    kvm03 = fleet_kickstart(out, "kvm03.lab.local").read_text()
    assert "\ntimezone Asia/Shanghai " in kvm03 and "\nselinux --permissive\n" in kvm03


def test_the_manifest_records_inputs_and_outputs_by_sha256(lab: Path) -> None:
    out = lab.parent / "out"
    render(lab, out)
    manifest = json.loads((out / "manifest.json").read_text())

    inputs = {item["path"] for item in manifest["inputs"]}
    assert {"lab.yaml", "profiles/hv.yaml"} <= inputs
    assert any(path.endswith("kickstart_templates/pxe/pxelinux-install.j2") for path in inputs)
    for hostname in HOSTS:
        entry = manifest["hosts"][hostname]
        ks = fleet_kickstart(out, hostname)
        assert entry["kickstart"]["sha256"] == hashlib.sha256(ks.read_bytes()).hexdigest()
        for path, versions in entry["entries"].items():
            assert hashlib.sha256((out / path).read_bytes()).hexdigest() == versions["install"]
    assert manifest["files"]["dnsmasq.conf"] == hashlib.sha256((out / "dnsmasq.conf").read_bytes()).hexdigest()


def test_a_render_from_scratch_is_byte_identical(lab: Path) -> None:
    out = lab.parent / "out"
    render(lab, out)
    first = contents(snapshot(out))
    saved = (out / "state.json").read_bytes()  # the tokens: state, not input
    shutil.rmtree(out)
    out.mkdir()
    (out / "state.json").write_bytes(saved)
    render(lab, out)
    assert contents(snapshot(out)) == first


def test_nothing_is_read_or_written_when_nothing_changed(lab: Path) -> None:
    out = lab.parent / "out"
    render(lab, out)
    before = snapshot(out)
    outcome = render(lab, out)
    assert outcome.up_to_date
    assert outcome.rendered == ()
    assert snapshot(out) == before


def test_a_changed_host_is_the_only_one_rendered_again(lab: Path) -> None:
    out = lab.parent / "out"
    render(lab, out)
    before = snapshot(out)
    edit(lab, "192.168.80.42/24", "192.168.80.52/24")
    outcome = render(lab, out)
    assert outcome.rendered == ("kvm02.lab.local",)
    after = snapshot(out)
    changed = {path for path in after if after[path] != before.get(path)}
    assert changed == {
        fleet_kickstart(out, "kvm02.lab.local").relative_to(out).as_posix(),
        "boot/kvm02.lab.local.json",
        "dnsmasq.conf",  # the host's DHCP address
        "manifest.json",
    }
    assert "dhcp-host=52:54:00:aa:00:02,52:54:00:aa:01:02,192.168.80.52,kvm02\n" in (out / "dnsmasq.conf").read_text()


def test_a_changed_profile_renders_every_host_that_uses_it(lab: Path) -> None:
    out = lab.parent / "out"
    render(lab, out)
    edit(lab.parent / "profiles/hv.yaml", "install: [qemu-kvm, libvirt]", "install: [qemu-kvm, libvirt, tmux]")
    outcome = render(lab, out)
    assert outcome.rendered == HOSTS
    assert "\ntmux\n" in fleet_kickstart(out, "kvm01.lab.local").read_text()


def test_a_new_template_override_is_noticed(lab: Path) -> None:
    out = lab.parent / "out"
    overrides = lab.parent / "templates"
    overrides.mkdir()
    render(lab, out, templates=[overrides])
    assert render(lab, out, templates=[overrides]).up_to_date
    snippet = overrides / "snippets/post-extra.j2"
    snippet.parent.mkdir()
    snippet.write_text('{% import "macros.j2" as m with context %}\n\n'
                       '{% call m.section("post", "site") %}\necho site > /etc/site\n{% endcall %}\n')
    # A new process, as a user runs it: Jinja's template cache in this one still holds the shipped snippet.
    result = run_cli("fleet", "render", "lab.yaml", "-o", "out", "--templates", "templates", cwd=lab.parent)
    assert result.returncode == 0, result.stderr
    assert "3 rendered, 0 unchanged" in result.stdout
    assert "# ksbuild post script: site\n" in fleet_kickstart(out, "kvm01.lab.local").read_text()


def test_a_tampered_output_is_rendered_again(lab: Path) -> None:
    out = lab.parent / "out"
    render(lab, out)
    ks = fleet_kickstart(out, "kvm01.lab.local")
    original = ks.read_bytes()
    ks.write_bytes(original + b"# edited by hand\n")
    outcome = render(lab, out)
    assert outcome.rendered == ("kvm01.lab.local",)
    assert ks.read_bytes() == original


def test_a_host_that_leaves_the_inventory_takes_its_files_and_state_along(lab: Path) -> None:
    out = lab.parent / "out"
    render(lab, out)
    report_install(out, "kvm03.lab.local")
    text = lab.read_text()
    lab.write_text(text[: text.index("  - hostname: kvm03.lab.local")])
    outcome = render(lab, out)
    assert outcome.removed == ("kvm03.lab.local",)
    left = set(snapshot(out))
    assert not any("kvm03" in path or "aa-00-03" in path for path in left)
    assert "kvm03" not in (out / "dnsmasq.conf").read_text()
    assert sorted(state.read(out)) == ["kvm01.lab.local", "kvm02.lab.local"]


def test_a_mac_that_changes_leaves_no_entry_behind(lab: Path) -> None:
    out = lab.parent / "out"
    render(lab, out)
    assert (out / "tftp/pxelinux.cfg/01-52-54-00-aa-01-02").is_file()
    edit(lab, '"52:54:00:aa:01:02"', '"52:54:00:aa:02:02"')
    render(lab, out)
    assert not (out / "tftp/pxelinux.cfg/01-52-54-00-aa-01-02").exists()
    assert not (out / "http/ipxe/52-54-00-aa-01-02.ipxe").exists()
    assert (out / "tftp/pxelinux.cfg/01-52-54-00-aa-02-02").is_file()


def test_an_error_in_one_host_leaves_the_previous_tree_untouched(lab: Path) -> None:
    out = lab.parent / "out"
    render(lab, out)
    before = snapshot(out)
    edit(lab, "192.168.80.43/24", "192.168.80.41/24")
    edit(lab, "192.168.80.42/24", "192.168.80.52/24")
    with pytest.raises(ChecksFailed) as caught:
        render(lab, out)
    assert "nothing written" in caught.value.message
    assert any("host kvm03.lab.local: bridge address 192.168.80.41" in f.message for f in caught.value.findings)
    assert snapshot(out) == before


def test_a_kickstart_problem_found_by_pykickstart_or_shellcheck_fails_the_render(lab: Path) -> None:
    out = lab.parent / "out"
    edit(lab, "      system.selinux: permissive\n", "      system.selinux: permissive\n"
         "    values:\n      scripts:\n        post:\n          - {name: broken, body: 'if true; then echo'}\n")
    with pytest.raises(ChecksFailed) as caught:
        render(lab, out)
    messages = [f.format() for f in caught.value.findings]
    assert any(m.startswith("lab.yaml:") and "host kvm03.lab.local: bash -n:" in m for m in messages), messages
    assert not out.exists() or not (out / "manifest.json").exists()


def test_an_installed_host_stays_on_local_boot_when_it_is_rendered_again(lab: Path) -> None:
    out = lab.parent / "out"
    render(lab, out)
    entry = out / "tftp/pxelinux.cfg/01-52-54-00-aa-00-01"
    install_text = entry.read_text()
    report_install(out, "kvm01.lab.local")
    local_text = entry.read_text()
    assert "LOCALBOOT 0" in local_text and "inst.ks=" not in local_text
    assert render(lab, out).up_to_date
    edit(lab, "192.168.80.41/24", "192.168.80.51/24")
    assert render(lab, out).rendered == ("kvm01.lab.local",)
    assert entry.read_text() == local_text
    old_token = fleet_token(out, "kvm01.lab.local")
    tree.reinstall(out, "kvm01.lab.local")
    # The address is not part of the boot entry (DHCP hands it out): the install version is as before,
    # but for the new token.
    new_token = fleet_token(out, "kvm01.lab.local")
    assert new_token != old_token
    assert entry.read_text() == install_text.replace(old_token, new_token)
    assert f"inst.ks=http://192.168.80.1:8080/ks/kvm01.lab.local/{new_token}.cfg" in entry.read_text()


def test_a_served_entry_set_wrong_by_hand_is_put_back(lab: Path) -> None:
    out = lab.parent / "out"
    render(lab, out)
    entry = out / "http/ipxe/52-54-00-aa-00-01.ipxe"
    wanted = entry.read_bytes()
    entry.write_text("#!ipxe\nexit\n")
    outcome = render(lab, out)
    assert not outcome.up_to_date and outcome.rendered == ()
    assert entry.read_bytes() == wanted


def test_parallel_workers_render_exactly_what_one_process_renders(tmp_path: Path) -> None:
    shutil.copytree(DATA / "profiles", tmp_path / "profiles")
    hosts = "".join(
        f"  - hostname: kvm{n:02d}.lab.local\n    macs: [\"52:54:00:bb:00:{n:02x}\"]\n"
        f"    set:\n      network.bridges[0].ipv4.address: 192.168.80.{100 + n}/24\n"
        for n in range(12)
    )
    inventory = tmp_path / "lab.yaml"
    inventory.write_text('pxe: {server: "http://192.168.80.1:8080"}\ndefaults: {profile: profiles/hv.yaml}\n'
                         f"hosts:\n{hosts}")
    render(inventory, tmp_path / "one", jobs=1)
    (tmp_path / "two").mkdir()
    shutil.copy(tmp_path / "one/state.json", tmp_path / "two/state.json")  # the tokens are state, not input
    render(inventory, tmp_path / "two", jobs=2)
    one, two = snapshot(tmp_path / "one"), snapshot(tmp_path / "two")
    ks = [path for path in one if path.startswith("http/ks/")]
    assert len(ks) == 12
    assert {p: one[p][0] for p in ks} == {p: two[p][0] for p in ks}


def test_check_validates_without_writing_and_reports_every_host(lab: Path) -> None:
    outcome = check(lab)
    assert outcome.hosts == HOSTS
    assert not (lab.parent / "output").exists()
    edit(lab, "192.168.80.42/24", "192.168.80.1/24")
    with pytest.raises(ChecksFailed) as caught:
        check(lab)
    gateway_line = profile_gateway_line(lab)
    assert [f.format() for f in caught.value.findings if f.severity == "error"] == [
        # The host's own findings first (its profile, its install network), then those between hosts.
        f"profiles/hv.yaml:{gateway_line}: network.bridges[0].ipv4.gateway: host kvm02.lab.local: gateway "
        "192.168.80.1 is the host's own address",
        "lab.yaml:30: network.bridges[0].ipv4.address: host kvm02.lab.local: install address 192.168.80.1 is the "
        "DHCP gateway",
        "lab.yaml:30: network.bridges[0].ipv4.address: host kvm02.lab.local: address 192.168.80.1 of br0 is the "
        f"gateway of host kvm01.lab.local (profiles/hv.yaml:{gateway_line})",
    ]


def profile_gateway_line(lab: Path) -> int:
    lines = (lab.parent / "profiles/hv.yaml").read_text().splitlines()
    return next(n for n, line in enumerate(lines, start=1) if "gateway: 192.168.80.1" in line)


def test_unreadable_host_data_is_bad_input(lab: Path) -> None:
    edit(lab, "      system.selinux: permissive\n", "      system.selinux: maybe\n")
    with pytest.raises(BadInput):
        render(lab, lab.parent / "out")


def test_boot_files_and_pxelinux_are_copied_in(lab: Path) -> None:
    source = lab.parent / "media"
    source.mkdir()
    (source / "vmlinuz").write_bytes(b"kernel")
    (source / "initrd.img").write_bytes(b"initrd")
    syslinux = lab.parent / "syslinux"
    syslinux.mkdir()
    (syslinux / "pxelinux.0").write_bytes(b"pxelinux")
    (syslinux / "ldlinux.c32").write_bytes(b"ldlinux")
    out = lab.parent / "out"
    outcome = render(lab, out, syslinux_dir=syslinux, boot_files=(source / "vmlinuz", source / "initrd.img"))
    assert (out / "tftp/centos7/vmlinuz").read_bytes() == b"kernel"
    assert (out / "tftp/centos7/initrd.img").read_bytes() == b"initrd"
    assert (out / "tftp/pxelinux.0").read_bytes() == b"pxelinux"
    assert (out / "tftp/ldlinux.c32").read_bytes() == b"ldlinux"
    assert outcome.notes == (
        "UEFI hosts load tftp/grub2/shimx64.efi, which loads tftp/grub2/grubx64.efi: copy shimx64.efi and "
        "grubx64.efi from CentOS 7's shim-x64 and grub2-efi-x64 packages",)
    # Rendering again without the options keeps what was copied.
    render(lab, out, syslinux_dir=syslinux)
    assert (out / "tftp/centos7/vmlinuz").read_bytes() == b"kernel"
    os.remove(syslinux / "ldlinux.c32")
    with pytest.raises(BadInput, match=r"no ldlinux\.c32 there"):
        render(lab, out, syslinux_dir=syslinux)


def test_a_broken_template_override_fails_each_host_with_its_name(lab: Path) -> None:
    overrides = lab.parent / "templates"
    (overrides / "snippets").mkdir(parents=True)
    (overrides / "snippets/post-extra.j2").write_text("{% if %}\n")
    with pytest.raises(ChecksFailed) as caught:
        render(lab, lab.parent / "out", templates=[overrides])
    messages = [f.message for f in caught.value.findings]
    assert len(messages) == 3
    for hostname, message in zip(HOSTS, messages, strict=True):
        assert message.startswith(f"host {hostname}: ")
        assert "snippets/post-extra.j2:1: template syntax error" in message
    assert not (lab.parent / "out").exists()


def test_each_file_of_the_tree_has_its_mode_whatever_the_umask(lab: Path) -> None:
    # As the README's table says; `fleet render` run under `umask 000`.
    result = subprocess.run([sys.executable, "-m", "builder", "fleet", "render", "lab.yaml", "-o", "out/lab"],
                            cwd=lab.parent, capture_output=True, text=True, check=False, preexec_fn=lambda: os.umask(0))
    assert result.returncode == 0, result.stderr
    tree = lab.parent / "out/lab"
    modes = {p.relative_to(tree).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in tree.rglob("*")}
    modes[".."] = stat.S_IMODE(tree.parent.stat().st_mode)
    folders = {path for path in modes if path == ".." or (tree / path).is_dir()}
    assert {modes[path] for path in folders} == {0o755}
    expected = {"http/ks/": 0o600, "boot/": 0o600, ".state.lock": 0o600, "state.json": 0o600}
    for path, mode in modes.items():
        if path not in folders:
            want = next((m for prefix, m in expected.items() if path.startswith(prefix)), 0o644)
            assert mode == want, path
    assert {"manifest.json", "dnsmasq.conf", "boot/kvm01.lab.local.json", "state.json"} <= set(modes)
    assert modes["http/ks/kvm01.lab.local"] == 0o755  # the host's kickstart folder: its kickstart in it is 0600


@pytest.mark.parametrize("tamper", ["entry", "file", "hostname", "symlink", "kickstart folder"])
def test_paths_in_the_tree_s_manifest_stay_inside_the_tree(lab: Path, tamper: str) -> None:
    out = lab.parent / "out"
    render(lab, out)
    victim = lab.parent / "victim"
    victim.write_text("not ksbuild's\n")
    manifest_path = out / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    host = manifest["hosts"]["kvm01.lab.local"]
    if tamper == "entry":
        host["entries"]["../../victim"] = host["entries"].popitem()[1]
    elif tamper == "file":
        manifest["files"]["tftp/../../victim"] = "0" * 64
    elif tamper == "hostname":
        manifest["hosts"]["../../victim"] = manifest["hosts"].pop("kvm01.lab.local")
    elif tamper == "symlink":
        (out / "tftp/pxelinux.cfg").rename(out / "tftp/pxelinux.cfg.moved")
        (out / "tftp/pxelinux.cfg").symlink_to(lab.parent)  # the entries' folder now leads out of the tree
    else:
        # The kickstart folder of kvm03, which leaves the inventory below: its *.cfg would be deleted.
        shutil.rmtree(out / "http/ks/kvm03.lab.local")
        (lab.parent / "elsewhere").mkdir()
        (lab.parent / "elsewhere/keep.cfg").write_text("not ksbuild's\n")
        (out / "http/ks/kvm03.lab.local").symlink_to(lab.parent / "elsewhere")
    manifest_path.write_text(json.dumps(manifest))
    edit(lab, "192.168.80.41/24", "192.168.80.51/24")  # something to render: the old files would be replaced
    edit(lab, "  - hostname: kvm03.lab.local", "  - hostname: kvm09.lab.local")  # a host leaves: its files go
    with pytest.raises(BadInput) as caught:
        render(lab, out)
    assert "stays inside the tree" in caught.value.message or "leads out" in caught.value.message
    assert victim.read_text() == "not ksbuild's\n"
    if tamper == "kickstart folder":
        assert (lab.parent / "elsewhere/keep.cfg").read_text() == "not ksbuild's\n"
    else:
        assert sorted(p.name for p in lab.parent.iterdir()) == ["lab.yaml", "out", "profiles", "victim"]


def test_paths_in_a_host_s_boot_entries_stay_inside_the_tree(lab: Path) -> None:
    out = lab.parent / "out"
    render(lab, out)
    boot = out / "boot/kvm01.lab.local.json"
    data = json.loads(boot.read_text())
    data["entries"]["../../victim"] = data["entries"].popitem()[1]
    boot.write_text(json.dumps(data))
    for switch in (lambda: report_install(out, "kvm01.lab.local"), lambda: tree.reinstall(out, "kvm01.lab.local")):
        with pytest.raises(BadInput, match="stays inside the tree"):
            switch()
    assert not (lab.parent / "victim").exists() and not (lab.parent.parent / "victim").exists()


def many_hosts(tmp_path: Path, count: int, extra: Callable[[int], str] = lambda n: "") -> Path:
    """`count` hosts of one profile, each with its name, MAC and address (and `extra(n)` lines of its own)."""
    shutil.copytree(DATA / "profiles", tmp_path / "profiles")
    hosts = "".join(
        f"  - hostname: kvm{n:02d}.lab.local\n    macs: [\"52:54:00:bb:00:{n:02x}\"]\n"
        f"    set:\n      network.bridges[0].ipv4.address: 192.168.80.{100 + n}/24\n{extra(n)}"
        for n in range(count)
    )
    inventory = tmp_path / "lab.yaml"
    inventory.write_text('pxe: {server: "http://192.168.80.1:8080"}\ndefaults: {profile: profiles/hv.yaml}\n'
                         f"hosts:\n{hosts}")
    return inventory


def test_a_host_whose_kickstart_differs_from_the_others_is_validated_on_its_own(tmp_path: Path) -> None:
    # Eleven kickstarts of one kind (they differ in name, MAC, address and token only) and one with a script of
    # its own that bash refuses: its problem is found, the others have none.
    def broken(n: int) -> str:
        return "      scripts.post[0]: {name: own, body: 'if true; then echo'}\n" if n == 7 else ""

    inventory = many_hosts(tmp_path, 12, broken)
    with pytest.raises(ChecksFailed) as caught:
        render(inventory, tmp_path / "out", jobs=2)
    errors = [f.format() for f in caught.value.findings if f.severity == "error"]
    prefix = f"lab.yaml:{line_of(inventory, 'if true; then echo')}: scripts.post[0].body: "
    # Each keeps its rule id (KS401 bash -n, KS402 shellcheck) and names the host.
    assert errors and all(error.startswith(prefix) and " error: host kvm07.lab.local: " in error
                          for error in errors), errors
    assert any(error.startswith(f"{prefix}KS401 error: host kvm07.lab.local: bash -n: syntax error")
               for error in errors), errors


def test_each_host_of_a_kind_with_a_problem_is_told_its_own(tmp_path: Path) -> None:
    # The same broken script in every host, each set at the host's own line: every host gets the finding, each
    # at its own line (a kind with any finding is validated host by host).
    inventory = many_hosts(tmp_path, 10, lambda n: "      scripts.post[0]: {name: own, body: 'if true; then echo'}\n")
    with pytest.raises(ChecksFailed) as caught:
        render(inventory, tmp_path / "out", jobs=2)
    said = {(f.message.split(":")[0], f.location.line if f.location else None)
            for f in caught.value.findings if "bash -n: syntax error" in f.message}
    assert said == {(f"host kvm{n:02d}.lab.local", line_of(inventory, "if true; then echo", n + 1)) for n in range(10)}


def line_of(path: Path, needle: str, occurrence: int = 1) -> int:
    lines = [n for n, line in enumerate(path.read_text().splitlines(), start=1) if needle in line]
    return lines[occurrence - 1]


def test_a_check_works_from_its_roots_not_the_current_directory(
    lab: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A library caller whose current directory is gone: everything a check needs is in the roots it is given.
    gone = tmp_path / "gone"
    gone.mkdir()
    monkeypatch.chdir(gone)
    gone.rmdir()
    outcome = check(lab)
    assert outcome.hosts == HOSTS
    assert not (tmp_path / "output").exists()  # a check writes nothing
