"""Boot tests on the real libvirtd with qemu (TCG here): the whole ksbuild boot-test path, installing with the
test installer from tests/installer (a stand-in for anaconda; see its README). Marker `boot`."""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import signal
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from builder.boot.golden import build_golden_image
from builder.boot.run import BootOptions, BootTestResult, boot_test, verify_disk
from builder.pipeline import BuildRequest
from builder.vocabulary import Roots
from tests.helpers import REPO, SHIPPED_PROFILES
from tests.installer.build import TestInstallTree, build_test_tree

pytestmark = pytest.mark.boot
pytest.importorskip("libvirt")


@pytest.fixture(scope="module")
def tree() -> TestInstallTree:
    return build_test_tree(REPO / "tests/.cache/installer")


def options(tmp_path: Path, location: str | Path, **changes: object) -> BootOptions:
    defaults: dict[str, object] = {
        "location": str(location), "memory_mib": 1024, "timeout": 300.0, "idle_timeout": 90.0,
        "cache_dir": tmp_path / "cache",
    }
    defaults.update(changes)
    return BootOptions(**defaults)  # type: ignore[arg-type]


def request(tmp_path: Path, profile: Path, overrides: tuple[str, ...] = ()) -> BuildRequest:
    """The profile as `ksbuild boot-test` run in tmp_path builds it: runs under tmp_path/output/."""
    return BuildRequest(profile, overrides, roots=Roots.under(tmp_path))


def checks(result: BootTestResult) -> dict[str, str]:
    assert result.report is not None
    return {c.name: c.status for c in result.report.checks}


def details(result: BootTestResult) -> dict[str, str]:
    assert result.report is not None
    return {c.name: c.detail for c in result.report.checks}


def not_passed(result: BootTestResult) -> dict[str, str]:
    """The checks that did not pass, with their details: what an assertion shows when one fails (the whole report
    is cut short in pytest's output)."""
    assert result.report is not None
    return {c.name: f"{c.status}: {c.detail}" for c in result.report.checks if c.status != "pass"}


def test_hypervisor_from_iso_installs_and_verifies(booted: str, tree: TestInstallTree, tmp_path: Path) -> None:
    result = boot_test(request(tmp_path, SHIPPED_PROFILES / "kvm-hypervisor.yaml"), options(tmp_path, tree.iso))
    assert result.ok, (result.cause, result.phases[-1].verdict.last_lines)
    assert [p.name for p in result.phases] == ["install", "verify"]
    assert result.phases[0].verdict.kind == "complete"
    status = checks(result)
    # What the lab guide asks of the host, checked on the booted system.
    for name in ("bridge:br0", "bridge-stp:br0", "ifcfg:br0", "ifcfg:enp2s0f0", "nested-config", "selinux",
                 "firewalld", "service:libvirtd", "service:NetworkManager", "package:qemu-kvm*",
                 "package:bridge-utils", "libvirt-default-network", "hostname", "installed-marker"):
        assert status[name] == "pass", (name, not_passed(result))
    # The VM has the profile's NIC, named by the boot test's udev rule (by MAC), and the report
    # shows the kernel's view of the network: the bridge's port, its STP delay, the address and the route.
    for name in ("nic:enp2s0f0", "bridge-port:br0:enp2s0f0", "bridge-delay:br0", "address:br0", "default-route"):
        assert status[name] == "pass", (name, not_passed(result))
    assert not [c for c in result.report.checks if c.status == "skip"]  # type: ignore[union-attr]
    detail = details(result)
    assert detail["bridge:br0"] == "ports: enp2s0f0"
    assert detail["bridge-delay:br0"] == "forward_delay 2 s"
    assert detail["address:br0"] == "192.168.80.40/24 on br0"
    assert detail["default-route"] == "via 192.168.80.1 dev br0"
    run_dir = result.run_dir
    for name in ("console.log", "installer.log", "verify-console.log", "install-domain.xml", "ks.cfg"):
        assert (run_dir / name).is_file(), name
    assert (run_dir / "ks.cfg").stat().st_mode & 0o777 == 0o600
    assert not list(run_dir.glob("*.qcow2")), "a passing run keeps no disk"
    assert not list(run_dir.glob("initrd*")), "the initrd copy with the kickstart is temporary"
    assert json.loads((run_dir / "result.json").read_text())["ok"] is True


def test_failing_post_is_detected_and_explained(booted: str, tree: TestInstallTree, tmp_path: Path) -> None:
    result = boot_test(
        request(tmp_path, SHIPPED_PROFILES / "golden-image.yaml",
                ('scripts.post=[{name: broken, body: "echo fetching the agent\\nexit 3"}]',)),
        options(tmp_path, tree.root, verify=False),
    )
    assert not result.ok
    verdict = result.phases[0].verdict
    assert verdict.kind == "script-failed"
    assert verdict.failing_script == "broken"
    assert "fetching the agent" in verdict.script_output
    assert "'broken' failed (exit 3" in result.cause
    # Caught from the log during anaconda's 180 s pause: the VM was stopped before the installer's exit handler
    # ran its finish action (which it logs).
    assert "finish action:" not in (result.run_dir / "installer.log").read_text(errors="replace")
    kept = result.kept_disk
    assert kept is not None and kept.is_file() and kept.parent == result.run_dir


def test_a_hang_is_caught_by_the_idle_timeout(booted: str, tree: TestInstallTree, tmp_path: Path) -> None:
    result = boot_test(
        request(tmp_path, SHIPPED_PROFILES / "golden-image.yaml",
                ('scripts.post=[{name: stuck, body: "sleep 3600"}]',)),
        options(tmp_path, tree.iso, verify=False, idle_timeout=20.0, keep_disk=False),
    )
    assert not result.ok
    assert result.phases[0].verdict.kind == "idle-timeout"
    assert result.kept_disk is None


@pytest.fixture
def http_tree(tree: TestInstallTree) -> Iterator[str]:
    """The test tree on an HTTP server on 127.0.0.1, like a lab mirror."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tree.root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_http_location(booted: str, http_tree: str, tmp_path: Path) -> None:
    result = boot_test(request(tmp_path, SHIPPED_PROFILES / "golden-image.yaml"),
                       options(tmp_path, http_tree, verify=False))
    assert result.ok, (result.cause, result.phases[0].verdict.last_lines)
    kickstart = (result.run_dir / "ks.cfg").read_text()
    # The guest reaches the host's loopback through qemu's user network.
    assert "url --url=http://10.0.2.2:" in kickstart


def _partition_offset(raw: Path) -> int:
    entry = raw.read_bytes()[446:462]
    return struct.unpack("<I", entry[8:12])[0] * 512


def test_golden_image_is_exported_sealed_and_boots(booted: str, tree: TestInstallTree, tmp_path: Path) -> None:
    result = build_golden_image(request(tmp_path, SHIPPED_PROFILES / "golden-image.yaml"), options(tmp_path, tree.iso))
    assert result.ok, result.cause
    image = tmp_path / "output/golden-image/golden-image.qcow2"
    assert result.image is not None and result.image.path == image
    manifest = json.loads((tmp_path / "output/golden-image/manifest.json").read_text())
    digest = subprocess.run(["sha256sum", str(image)], capture_output=True, text=True, check=True).stdout.split()[0]
    assert manifest["image"]["sha256"] == digest
    assert manifest["image"]["file_size"] == image.stat().st_size
    info = json.loads(subprocess.run(["qemu-img", "info", "--output=json", str(image)], capture_output=True,
                                     text=True, check=True).stdout)
    assert info["format"] == "qcow2" and manifest["image"]["virtual_size"] == info["virtual-size"]
    # The manifest pairs the image with the kickstart the VM installed (the boot-test variant, from the ISO)
    # and the profile it came from.
    installed = f"runs/{result.run_id}/ks.cfg"
    assert manifest["image"]["kickstart"] == installed
    installed_text = (tmp_path / "output/golden-image" / installed).read_bytes()
    assert manifest["outputs"] == {installed: {"sha256": hashlib.sha256(installed_text).hexdigest(), "mode": "0600"}}
    assert b"\ncdrom\n" in installed_text and b"ksbuild-verify.service" in installed_text
    assert [Path(i["path"]).name for i in manifest["inputs"]] == ["base.yaml", "golden-image.yaml"]

    # Sealed: no machine identity left, and the verification unit removed itself.
    raw = tmp_path / "image.raw"
    subprocess.run(["qemu-img", "convert", "-O", "raw", str(image), str(raw)], check=True)
    spec = f"{raw}?offset={_partition_offset(raw)}"

    def cat(path: str) -> str:
        return subprocess.run(["debugfs", "-R", f"cat {path}", spec], capture_output=True, text=True,
                              check=False).stdout

    assert cat("/etc/machine-id") == ""
    assert "ksbuild-verify" not in subprocess.run(["debugfs", "-R", "ls /etc/systemd/system", spec],
                                                   capture_output=True, text=True, check=False).stdout
    assert cat("/etc/ksbuild/installed").startswith("profile=golden-image")

    # And it boots on its own.
    console = tmp_path / "console.log"
    subprocess.run(
        ["qemu-system-x86_64", "-accel", "tcg", "-m", "512", "-nographic", "-no-reboot", "-snapshot",
         "-drive", f"file={image},if=virtio,format=qcow2", "-serial", f"file:{console}", "-monitor", "none",
         "-display", "none"],
        check=False, timeout=240, capture_output=True,
    )
    text = console.read_text(errors="replace")
    assert "multi-user.target reached" in text
    assert "KSBUILD-VERIFY-BEGIN" not in text


def test_verify_an_installed_disk(booted: str, tree: TestInstallTree, tmp_path: Path) -> None:
    """A disk kept after a failed verification keeps its unit: `ksbuild verify` checks it again."""
    failed = boot_test(
        request(tmp_path, SHIPPED_PROFILES / "kvm-hypervisor.yaml",
                ("system.hostname=expected.lab.local",
                 'scripts.post=[{name: rename, body: "echo other.lab.local > /etc/hostname"}]')),
        options(tmp_path, tree.iso),
    )
    assert not failed.ok
    assert checks(failed)["hostname"] == "fail"
    assert failed.kept_disk is not None
    same_profile = request(tmp_path, SHIPPED_PROFILES / "kvm-hypervisor.yaml", ("system.hostname=expected.lab.local",))
    again = verify_disk(same_profile, failed.kept_disk, options(tmp_path, failed.kept_disk))
    assert again.report is not None and again.report.complete
    assert checks(again)["hostname"] == "fail"
    assert checks(again)["bridge:br0"] == "pass"


def _run_phase(output_root: Path, profile: str) -> str | None:
    """The phase the run reports in runs/<id>/status.json (None before the run has written one)."""
    for status in output_root.glob(f"{profile}/runs/*/status.json"):
        return str(json.loads(status.read_text())["phase"])
    return None


def test_sigint_mid_install_cleans_up_and_exits_130(booted: str, tree: TestInstallTree, tmp_path: Path) -> None:
    # Started like a shell's background job: SIGINT ignored (inherited) unless ksbuild installs its own handler.
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "builder", "boot-test", str(SHIPPED_PROFILES / "golden-image.yaml"),
             "--location", str(tree.iso), "--memory", "1024", "--idle-timeout", "120"],
            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
    finally:
        signal.signal(signal.SIGINT, previous)
    assert process.stdout is not None
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.extend(process.stdout or ()), daemon=True)
    reader.start()
    # Interrupt once the run says its install VM is running (the phase it reports, not a console line).
    deadline = time.monotonic() + 300
    while _run_phase(tmp_path / "output", "golden-image") != "install":
        assert process.poll() is None, "ksbuild ended before its install VM started:\n" + "".join(output)
        assert time.monotonic() < deadline, "no install phase reported:\n" + "".join(output)
        time.sleep(0.1)
    process.send_signal(signal.SIGINT)
    process.wait(timeout=120)
    reader.join(timeout=10)
    text = "".join(output)
    assert process.returncode == 130, text
    assert "interrupted" in text
    assert _run_phase(tmp_path / "output", "golden-image") == "finished"
    (result,) = (tmp_path / "output/golden-image/runs").glob("*/result.json")
    assert json.loads(result.read_text())["phases"][0]["kind"] == "interrupted"
    leftovers = subprocess.run(["virsh", "-c", booted, "list", "--all", "--name"], capture_output=True, text=True,
                               check=True).stdout
    assert "ksbuild-golden-image" not in leftovers


def test_bond_vlan_bridge_host_is_set_up_as_rendered(booted: str, tree: TestInstallTree, tmp_path: Path) -> None:
    """Issue 5's stacked bond -> VLAN -> bridge on the host's two NICs: the %post runs for real, the network
    service brings the files up with the kernel's bonding, 8021q and bridge modules, and the report reads the
    kernel's state."""
    result = boot_test(request(tmp_path, REPO / "profiles/examples/lacp-vlan-bridge.yaml"), options(tmp_path, tree.iso))
    status = checks(result)
    for name in ("nic:ens1f0", "nic:ens1f1", "bond:bond0", "bond-slaves:bond0", "vlan:bond0.10", "vlan:bond0.30",
                 "bridge:br-vm", "bridge-stp:br-vm", "bridge-delay:br-vm", "bridge-port:br-vm:bond0.30",
                 "address:bond0.10", "default-route", "ifcfg:bond0", "ifcfg:bond0.30", "ifcfg:br-vm"):
        assert status.get(name) == "pass", (name, not_passed(result))
    assert result.ok, result.cause
    detail = details(result)
    assert detail["bond:bond0"] == "mode 802.3ad, miimon 100"
    assert detail["bond-slaves:bond0"] == "slaves ens1f0 up, ens1f1 up"
    assert detail["bridge:br-vm"] == "ports: bond0.30"
    assert detail["bridge-delay:br-vm"] == "forward_delay 0 s"
    assert detail["address:bond0.10"] == "192.168.80.43/24 on bond0.10"
    assert detail["default-route"] == "via 192.168.80.1 dev bond0.10"
    assert not [c for c in result.report.checks if c.status == "skip"]  # type: ignore[union-attr]


def test_dhcp_through_an_stp_bridge_crosses_the_bridge(booted: str, tree: TestInstallTree, tmp_path: Path) -> None:
    """br0 asks for its address by DHCP: the request leaves through the port enp2s0f0 once STP lets it forward
    (ifup-eth waits twice the delay), and qemu's user network answers. Frames really cross the bridge."""
    result = boot_test(request(tmp_path, SHIPPED_PROFILES / "kvm-hypervisor.yaml",
                               ("network.bridges[0].ipv4={dhcp: true}",)), options(tmp_path, tree.iso))
    assert result.ok, (result.cause, result.report)
    detail = details(result)
    assert detail["address:br0"].endswith(" on br0 (DHCP)")
    assert detail["default-route"] == "via 10.0.2.2 dev br0 (DHCP)"
    assert detail["bridge-port:br0:enp2s0f0"] == "port of br0 (forwarding)"


def test_stp_bridge_with_a_delay_the_kernel_will_not_take_fails_with_its_cause(
    booted: str, tree: TestInstallTree, tmp_path: Path
) -> None:
    """The model refuses stp: true with delay 0, so the kickstart asks for it the way hand-written ones do: a
    %post that edits ifcfg-br0. The kernel raises the delay to its STP minimum and the report names why."""
    edit = "sed -i s/^DELAY=.*/DELAY=0/ /etc/sysconfig/network-scripts/ifcfg-br0"
    result = boot_test(request(tmp_path, SHIPPED_PROFILES / "kvm-hypervisor.yaml",
                               (f'scripts.post=[{{name: stp-delay-zero, body: "{edit}"}}]',)),
                       options(tmp_path, tree.iso, keep_disk=False))
    assert not result.ok
    assert [p.verdict.ok for p in result.phases] == [True, True], result.cause
    assert checks(result)["bridge-delay:br0"] == "fail"
    assert details(result)["bridge-delay:br0"] == (
        "forward_delay 2 s; ifcfg-br0 asks DELAY=0 with STP on, which the kernel does not take: it keeps an STP "
        "bridge's forward delay within 2-30 s"
    )
    assert result.cause.startswith("verification failed: bridge-delay:br0")


def test_pxe_discovery_host_boots_with_its_arguments_keymap_and_repos(
    booted: str, tree: TestInstallTree, tmp_path: Path
) -> None:
    """Issue 11's keys on the booted system: the %pre-written disk include read after %pre ran, the kernel
    arguments and kdump's crashkernel= on /proc/cmdline, the keymap and X layouts, the repo files."""
    result = boot_test(request(tmp_path, REPO / "profiles/examples/pxe-discovery.yaml"), options(tmp_path, tree.iso))
    status = checks(result)
    for name in ("cmdline:intel_iommu=on", "cmdline:iommu=pt", "cmdline:console=ttyS0,115200n8",
                 "cmdline:transparent_hugepage=never", "cmdline:crashkernel=auto", "keymap", "x-keyboard",
                 "repo:local", "repo:EPEL-7", "repo-absent:installer-extras", "kdump-service"):
        assert status.get(name) == "pass", (name, not_passed(result))
    assert result.ok, result.cause
    console = (result.run_dir / "installer.log").read_text()
    assert "disks: vda; layout written to /tmp/part-include" in console


REMOTE_URI = "qemu+tcp://127.0.0.2/system"


@pytest.fixture
def remote_uri(booted: str) -> str:
    """libvirtd reached over TCP on a loopback address: the remote code path (ISO, kernel, initrd and logs
    travel through the storage API) without leaving this machine. scripts/start-libvirt opens that listener
    only on CI machines (KSBUILD_REMOTE_TEST=1), as it is unauthenticated."""
    probe = subprocess.run(["virsh", "-c", REMOTE_URI, "version"], capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        pytest.skip(f"libvirtd does not listen on {REMOTE_URI} (KSBUILD_REMOTE_TEST=1 scripts/start-libvirt)")
    return REMOTE_URI


def test_remote_host_build(remote_uri: str, tree: TestInstallTree, tmp_path: Path) -> None:
    result = build_golden_image(request(tmp_path, SHIPPED_PROFILES / "golden-image.yaml"),
                                options(tmp_path, tree.iso, connect=remote_uri))
    assert result.ok, result.cause
    # The logs were followed live from volumes on the "remote" host, and the disk came back for export.
    assert "KSBUILD-STATUS: install-complete" in (result.run_dir / "console.log").read_text(errors="replace")
    assert "KSBUILD-VERIFY-END" in (result.run_dir / "verify-console.log").read_text(errors="replace")
    assert result.image is not None and result.image.path.is_file()


def test_session_uri(booted: str, tree: TestInstallTree, tmp_path: Path) -> None:
    """qemu:///session: a per-user libvirt, its own default pool and daemon."""
    result = boot_test(request(tmp_path, SHIPPED_PROFILES / "golden-image.yaml"),
                       options(tmp_path, tree.iso, connect="qemu:///session", verify=False))
    assert result.ok, result.cause
    leftovers = subprocess.run(["virsh", "-c", "qemu:///session", "list", "--all", "--name"], capture_output=True,
                               text=True, check=True).stdout
    assert "ksbuild-" not in leftovers


def test_parallel_runs_do_not_collide(booted: str, tree: TestInstallTree, tmp_path: Path) -> None:
    """Two boot tests of the same profile at once, as two ksbuild processes: separate VMs, volumes and runs."""
    argv = [sys.executable, "-m", "builder", "boot-test", str(SHIPPED_PROFILES / "golden-image.yaml"),
            "--location", str(tree.iso), "--memory", "768", "--no-verify", "--format", "json"]
    processes = [subprocess.Popen(argv, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(2)]
    outputs = [p.communicate(timeout=400) for p in processes]
    results = [json.loads(out) for out, _ in outputs]
    assert [p.returncode for p in processes] == [0, 0], [err[-2000:] for _, err in outputs]
    assert results[0]["run_id"] != results[1]["run_id"]
    assert all(r["ok"] for r in results)


# -- targets: the test installer's EL8 and EL9 personas (anaconda 33/34 wording, the installed system's release) --


@pytest.fixture(scope="module")
def el8_tree() -> TestInstallTree:
    return build_test_tree(REPO / "tests/.cache/installer", "8")


@pytest.fixture(scope="module")
def el9_tree() -> TestInstallTree:
    return build_test_tree(REPO / "tests/.cache/installer", "9")


def test_el9_hypervisor_installs_with_keyfiles_and_networkmanager_brings_them_up(
    booted: str, el9_tree: TestInstallTree, tmp_path: Path
) -> None:
    """The shipped profile with `--set target=el9`, from an EL9 tree: NetworkManager keyfiles in %post, the
    modular libvirt daemons, no nested modprobe file; the verification boot reads NetworkManager's view."""
    result = boot_test(request(tmp_path, SHIPPED_PROFILES / "kvm-hypervisor.yaml", ("target=el9",)),
                       options(tmp_path, el9_tree.root))
    assert result.ok, (result.cause, result.phases[-1].verdict.last_lines, result.report)
    status = checks(result)
    for name in ("keyfile:br0", "keyfile:enp2s0f0", "nm:br0", "nm:enp2s0f0", "nm-profiles", "bridge:br0",
                 "bridge-stp:br0", "bridge-delay:br0", "bridge-port:br0:enp2s0f0", "address:br0", "default-route",
                 "nested-param", "service:virtqemud.service", "service:virtqemud.socket",
                 "service:virtnetworkd.service", "libvirt-default-network", "installed-marker"):
        assert status.get(name) == "pass", (name, not_passed(result))
    assert "nested-config" not in status and "ifcfg:br0" not in status
    detail = details(result)
    assert detail["keyfile:br0"] == "as rendered, mode 600"
    assert detail["nm:br0"] == "connected with br0"
    assert detail["address:br0"] == "192.168.80.40/24 on br0"
    console = (result.run_dir / "console.log").read_text(errors="replace")
    assert "anaconda 34.25 for Rocky Linux 9 started" in console
    assert "Installing qemu-kvm*.x86_64 (1/3)" in console and "Storing configuration files and kickstarts" in console


def test_el8_hypervisor_installs_with_networkmanagers_ifcfg_files(
    booted: str, el8_tree: TestInstallTree, tmp_path: Path
) -> None:
    result = boot_test(request(tmp_path, SHIPPED_PROFILES / "kvm-hypervisor.yaml", ("target=el8",)),
                       options(tmp_path, el8_tree.iso))
    assert result.ok, (result.cause, result.phases[-1].verdict.last_lines, result.report)
    status = checks(result)
    for name in ("ifcfg:br0", "ifcfg:enp2s0f0", "bridge:br0", "bridge-delay:br0", "address:br0", "default-route",
                 "nested-config", "service:libvirtd", "installed-marker"):
        assert status.get(name) == "pass", (name, not_passed(result))
    # NetworkManager applies the files (the profile leaves it on for EL8): no network-scripts, no nm: checks.
    assert "service:network" not in status and "nm:br0" not in status
    console = (result.run_dir / "console.log").read_text(errors="replace")
    assert "anaconda 33.16 for Rocky Linux 8 started" in console


def test_el9_failing_post_is_caught_from_the_marker(booted: str, el9_tree: TestInstallTree, tmp_path: Path) -> None:
    """The verdict does not lean on anaconda 34's framing after a script error (not determined): ksbuild's own
    failure marker and anaconda's first line, both certain, are enough."""
    result = boot_test(
        request(tmp_path, SHIPPED_PROFILES / "base.yaml",
                ("target=rocky9", 'scripts.post=[{name: broken, body: "echo no agent here\\nexit 4"}]')),
        options(tmp_path, el9_tree.root, verify=False, keep_disk=False),
    )
    assert not result.ok
    verdict = result.phases[0].verdict
    assert verdict.kind == "script-failed" and verdict.failing_script == "broken"
    assert "no agent here" in verdict.script_output
