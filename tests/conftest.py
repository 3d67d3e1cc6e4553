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
