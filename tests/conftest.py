"""Shared pytest options and fixtures."""

from __future__ import annotations

import hashlib
import re
import socket
import subprocess
import time

import pytest

from builder.boot.domain import RunOwner


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


_VOLUME_OWNER = re.compile(r"^ksbuild_(?P<host>[0-9a-f]{8})-(?P<pid>\d+)-(?P<start>\d+)_")


_SESSION = RunOwner.current()


def _ours_or_abandoned(owner: RunOwner) -> bool:
    """Left behind by this test session: owned by this process, or by one that is gone and started after it
    (a ksbuild CLI the tests started). Runs of other ksbuild processes still going on this machine are theirs,
    and the crashed runs of earlier sessions are not this session's to answer for (`ksbuild clean` removes them)."""
    if owner.host != socket.gethostname():
        return False
    if owner.pid == _SESSION.pid and owner.started in (0, _SESSION.started):
        return True
    return owner.is_gone() and owner.started >= _SESSION.started


def _ksbuild_leftovers(uri: str) -> list[str]:
    """Domains and volumes of ksbuild runs this session left on the libvirt host."""
    import libvirt

    from builder.boot.domain import DOMAIN_NAME_PREFIX, KSBUILD_XMLNS, parse_run_metadata

    found: list[str] = []
    # Volume names carry their owner's host as the first 8 hex digits of its name's sha256 (libvirt_conn).
    this_host = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]
    conn = libvirt.open(uri)
    try:
        for domain in conn.listAllDomains(0):
            if not domain.name().startswith(DOMAIN_NAME_PREFIX):
                continue
            try:
                tag = parse_run_metadata(domain.metadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, KSBUILD_XMLNS, 0))
            except libvirt.libvirtError:
                continue  # gone meanwhile, or not a ksbuild run
            if tag is not None and tag.owner is not None and _ours_or_abandoned(tag.owner):
                found.append(f"domain {domain.name()}")
        for pool in conn.listAllStoragePools(libvirt.VIR_CONNECT_LIST_STORAGE_POOLS_ACTIVE):
            try:
                volumes = [volume.name() for volume in pool.listAllVolumes(0)]
            except libvirt.libvirtError:
                continue  # a pool another test removed meanwhile
            for name in volumes:
                match = _VOLUME_OWNER.match(name)
                if match is None or match["host"] != this_host:
                    continue
                if _ours_or_abandoned(RunOwner(socket.gethostname(), int(match["pid"]), int(match["start"]))):
                    found.append(f"volume {pool.name()}/{name}")
    finally:
        conn.close()
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
