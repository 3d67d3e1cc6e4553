"""Shared pytest options and fixtures."""

from __future__ import annotations

import subprocess
import time

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--regen", action="store_true", default=False, help="rewrite golden files instead of comparing"
    )


@pytest.fixture
def regen(request: pytest.FixtureRequest) -> bool:
    """True when golden files should be rewritten (pytest --regen)."""
    return bool(request.config.getoption("--regen"))


@pytest.fixture(scope="session")
def libvirtd_running() -> str:
    """The URI of a reachable qemu:///system; starts virtlogd and libvirtd as daemons if they are not running.

    virtlogd is needed too: with libvirt's default stdio_handler it writes the VM's file-backed serial
    console and channels. The daemons are left running for later sessions.
    """
    uri = "qemu:///system"
    for daemon in ("virtlogd", "libvirtd"):
        if subprocess.run(["pgrep", "-x", daemon], check=False, capture_output=True).returncode != 0:
            subprocess.run([daemon, "-d"], check=True, capture_output=True, timeout=30)
    deadline = time.monotonic() + 20
    while True:
        probe = subprocess.run(
            ["virsh", "-c", uri, "version"], check=False, capture_output=True, text=True, timeout=30
        )
        if probe.returncode == 0:
            return uri
        if time.monotonic() > deadline:
            pytest.fail(f"libvirtd did not answer on {uri}: {probe.stderr.strip()}")
        time.sleep(0.2)


def _ksbuild_leftovers(uri: str) -> list[str]:
    """Domains and volumes of ksbuild runs still on the libvirt host."""
    found: list[str] = []
    domains = subprocess.run(["virsh", "-c", uri, "list", "--all", "--name"], capture_output=True, text=True,
                             check=False).stdout.split()
    found += [f"domain {name}" for name in domains if name.startswith("ksbuild-")]
    pools = subprocess.run(["virsh", "-c", uri, "pool-list", "--name"], capture_output=True, text=True,
                           check=False).stdout.split()
    for pool in pools:
        table = subprocess.run(["virsh", "-c", uri, "vol-list", pool], capture_output=True, text=True,
                               check=False).stdout.splitlines()
        # virsh here has no --name for vol-list: the name is the first column after the header rule.
        volumes = [line.split()[0] for line in table[2:] if line.strip()]
        found += [f"volume {pool}/{name}" for name in volumes if name.startswith("ksbuild_")]
    return found


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """After a run that booted VMs, nothing of ksbuild's may be left on the libvirt host."""
    if not getattr(session.config, "_ksbuild_booted", False):
        return
    leftovers = _ksbuild_leftovers("qemu:///system")
    if leftovers:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line("ksbuild left these behind on qemu:///system: " + ", ".join(leftovers), red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture
def booted(libvirtd_running: str, request: pytest.FixtureRequest) -> str:
    """Marks the session as one that started VMs (checked for leftovers at the end); the libvirt URI."""
    request.config._ksbuild_booted = True  # type: ignore[attr-defined]
    return libvirtd_running
