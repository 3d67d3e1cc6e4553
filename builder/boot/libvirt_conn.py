"""Libvirt plumbing for boot tests: connection and event loop, accelerator choice, run resources, cleanup.

libvirt-python is imported lazily, inside functions: rendering kickstarts must work without it.

Volumes that ksbuild creates are named ``ksbuild_<host8>-<pid>-<start>_<run-id>-<role>``: the owner (a hash
of the host name, the pid and the process start time) is part of the name because a volume has no
metadata, and after a crash the transient domain that named its volumes is gone while they remain.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import shutil
import socket
import threading
import urllib.parse
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape as xml_escape

from builder.boot.domain import (
    DOMAIN_NAME_PREFIX,
    KSBUILD_XMLNS,
    Accel,
    DomainSpec,
    DomainType,
    RunOwner,
    choose_domain_type,
    local_cpu_flags,
    parse_run_metadata,
)
from builder.errors import BadInput, CommandFailed, ToolMissing
from builder.fsutil import make_dirs, sha256_bytes
from builder.vocabulary import Progress

if TYPE_CHECKING:
    import libvirt


KSBUILD_POOL = "ksbuild"
SYSTEM_POOL_DIR = "/var/lib/libvirt/images/ksbuild"
_VOLUME_RE = re.compile(r"^ksbuild_(?P<host>[0-9a-f]{8})-(?P<pid>\d+)-(?P<start>\d+)_(?P<rest>.+)$")
_STREAM_BLOCK = 1 << 20

_event_loop_lock = threading.Lock()
_event_loop_started = False


def _libvirt() -> Any:
    try:
        import libvirt  # lazy: only the VM commands need libvirt-python
    except ImportError as exc:
        hint = "install it with: pip install 'ksbuild[libvirt]'"
        raise ToolMissing(f"libvirt-python is not installed; {hint}") from exc
    return libvirt


def _error_text(exc: BaseException) -> str:
    message = getattr(exc, "get_error_message", None)
    return str((message() if callable(message) else None) or exc)


def _error_code(exc: BaseException) -> int | None:
    code = getattr(exc, "get_error_code", None)
    return code() if callable(code) else None


def _ensure_event_loop(lv: Any) -> None:
    """Register libvirt's default event loop and run it in a daemon thread, once per process.

    It must be registered before a connection opens, or that connection gets no lifecycle events and
    no keepalive; and it must keep running, or a remote daemon drops the idle connection (which would
    auto-destroy our domains).
    """
    global _event_loop_started  # noqa: PLW0603  # one event loop per process, by libvirt's design
    with _event_loop_lock:
        if _event_loop_started:
            return
        # libvirt prints every error to stderr unless a handler is set; errors still raise libvirtError.
        lv.registerErrorHandler(lambda _ctx, _err: None, None)
        lv.virEventRegisterDefaultImpl()

        def run_forever() -> None:
            while True:
                lv.virEventRunDefaultImpl()

        threading.Thread(target=run_forever, name="libvirt-events", daemon=True).start()
        _event_loop_started = True


def open_connection(uri: str) -> libvirt.virConnect:
    """Open a read-write libvirt connection (the event loop is registered first)."""
    lv = _libvirt()
    _ensure_event_loop(lv)
    try:
        return lv.open(uri)
    except lv.libvirtError as exc:
        reason = _error_text(exc)
        raise BadInput(f"cannot connect to libvirt at {uri}: {reason} (is libvirtd running?)") from exc


def is_remote(uri: str) -> bool:
    """Whether files on this machine are not files on the libvirt host (a URI with another host name)."""
    host = urllib.parse.urlsplit(uri).hostname
    return bool(host) and host not in ("localhost", "127.0.0.1", "::1", socket.gethostname())


# --------------------------------------------------------------------------------------- accelerator


def pick_domain_type(conn: libvirt.virConnect, accel: Accel) -> tuple[DomainType, str | None]:
    """(domain type, warning): "auto" picks kvm only when the CPU has vmx/svm and libvirt offers kvm.

    CPU flags come from /proc/cpuinfo for a local host, else from the host CPU in the capabilities.
    """
    capabilities = conn.getCapabilities()
    if is_remote(conn.getURI()):
        cpu = ET.fromstring(capabilities).find("host/cpu")  # noqa: S314  # libvirt's own XML
        flags = {f.get("name", "") for f in cpu.findall("feature")} if cpu is not None else set()
    else:
        flags = local_cpu_flags()
    return choose_domain_type(capabilities, flags, accel)


# -------------------------------------------------------------------------------------------- owners


def _host_hash(host: str) -> str:
    return sha256_bytes(host.encode())[:8]


def volume_name(owner: RunOwner, run_id: str, role: str) -> str:
    return f"ksbuild_{_host_hash(owner.host)}-{owner.pid}-{owner.started}_{run_id}-{role}"


def _volume_is_stale(name: str) -> bool:
    match = _VOLUME_RE.match(name)
    if match is None or match["host"] != _host_hash(socket.gethostname()):
        return False
    return RunOwner(socket.gethostname(), int(match["pid"]), int(match["start"])).is_gone()


# ------------------------------------------------------------------------------------- storage pools


def _default_pool_dir(conn: libvirt.virConnect) -> str:
    if urllib.parse.urlsplit(conn.getURI()).path.rstrip("/") == "/session" and not is_remote(conn.getURI()):
        data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local/share")
        return str(Path(data_home) / "libvirt/images/ksbuild")
    return SYSTEM_POOL_DIR


def ensure_pool(conn: libvirt.virConnect, name: str = "default", progress: Progress | None = None) -> Any:
    """The active storage pool `name`. When `name` is "default" and the host has no such pool, the
    "ksbuild" pool instead, created as a transient dir pool at /var/lib/libvirt/images/ksbuild (the
    libvirt-images dir of the user for qemu:///session) if needed: it leaves no pool definition behind."""
    lv = _libvirt()
    for candidate in (name, KSBUILD_POOL) if name == "default" else (name,):
        try:
            pool = conn.storagePoolLookupByName(candidate)
        except lv.libvirtError:
            continue
        if not pool.isActive():
            pool.create(0)
        return pool
    if name != "default":
        raise BadInput(f"libvirt storage pool {name!r} does not exist")
    path = _default_pool_dir(conn)
    if progress is not None:
        progress(f"no 'default' storage pool: creating pool {KSBUILD_POOL!r} at {path}")
    xml = (f"<pool type='dir'><name>{KSBUILD_POOL}</name><target><path>{xml_escape(path)}</path>"
           "<permissions><mode>0711</mode></permissions></target></pool>")
    try:
        try:
            return conn.storagePoolCreateXML(xml, lv.VIR_STORAGE_POOL_CREATE_WITH_BUILD)
        except lv.libvirtError as exc:
            # Drivers that cannot build pools (test:///default) reject the flag; the directory may exist.
            if _error_code(exc) not in (lv.VIR_ERR_INVALID_ARG, lv.VIR_ERR_NO_SUPPORT):
                raise
            return conn.storagePoolCreateXML(xml, 0)
    except lv.libvirtError as exc:
        with contextlib.suppress(lv.libvirtError):
            return conn.storagePoolLookupByName(KSBUILD_POOL)  # another run created it meanwhile
        reason = _error_text(exc)
        raise CommandFailed(f"cannot create storage pool {KSBUILD_POOL!r} at {path}: {reason}") from exc


def _volume_xml(name: str, capacity: int, fmt: str) -> str:
    volume = ET.Element("volume")
    ET.SubElement(volume, "name").text = name
    ET.SubElement(volume, "capacity", {"unit": "bytes"}).text = str(capacity)
    ET.SubElement(volume, "allocation", {"unit": "bytes"}).text = "0"
    target = ET.SubElement(volume, "target")
    ET.SubElement(target, "format", {"type": fmt})
    return ET.tostring(volume, encoding="unicode")


def upload_file(conn: libvirt.virConnect, volume: Any, local: Path) -> None:
    """Copy a local file into a volume through libvirt's storage API (works for remote hosts)."""
    stream = conn.newStream(0)
    try:
        with local.open("rb") as handle:
            volume.upload(stream, 0, local.stat().st_size, 0)
            stream.sendAll(lambda _stream, nbytes, fh: fh.read(min(nbytes, _STREAM_BLOCK)), handle)
        stream.finish()
    except BaseException:
        with contextlib.suppress(Exception):
            stream.abort()
        raise


def download_volume(conn: libvirt.virConnect, volume: Any, dest: Path) -> None:
    """Copy a volume's bytes into a local file through libvirt's storage API."""
    make_dirs(dest.parent)
    tmp = dest.with_name(f".{dest.name}.part")
    stream = conn.newStream(0)
    try:
        with tmp.open("wb") as handle:
            volume.download(stream, 0, 0, 0)
            stream.recvAll(lambda _stream, data, fh: fh.write(data), handle)
        stream.finish()
        tmp.replace(dest)
    except BaseException:
        with contextlib.suppress(Exception):
            stream.abort()
        tmp.unlink(missing_ok=True)
        raise


# -------------------------------------------------------------------------------------- run resources


class RunResources:
    """Everything one boot test creates on the libvirt host; all of it is removed again on exit.

    Use as a context manager. Exiting for any reason (success, exception, KeyboardInterrupt) destroys
    the domains started through it and deletes its volumes; with `keep_disk_in`, the disk is first
    copied there as ``<run-id>.qcow2``.

    Kernel and initrd are always uploaded into the pool through the storage API, even for a local host:
    libvirt chowns the files a VM uses, and qemu (running as libvirt-qemu on qemu:///system) must be able
    to reach every parent directory, which the pool directory guarantees and a user's cache does not.
    A local ISO is used in place (too big to copy per run); a remote one is uploaded.
    Log files of a local host go to `run_dir`; on a remote host they are volumes, downloaded into
    `run_dir` on exit.
    """

    def __init__(
        self,
        conn: libvirt.virConnect,
        *,
        run_id: str,
        profile: str,
        run_dir: Path,
        pool: str = "default",
        keep_disk_in: Path | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.conn = conn
        self.run_id = run_id
        self.profile = profile
        self.run_dir = run_dir
        self.remote = is_remote(conn.getURI())
        self.owner = RunOwner.current()
        self.kept_disk: Path | None = None
        self._pool_name = pool
        self._pool: Any = None
        self._keep_disk_in = keep_disk_in
        self._progress = progress
        self._volumes: list[Any] = []
        self._disk: Any = None
        self._remote_logs: dict[str, Any] = {}
        self._domains: dict[str, str] = {}  # name -> UUID

    def __enter__(self) -> RunResources:
        self._pool = ensure_pool(self.conn, self._pool_name, self._progress)
        make_dirs(self.run_dir)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        failures = self._cleanup()
        if not failures:
            return
        message = "cleaning up the boot test failed:\n" + "\n".join(failures)
        if exc is None:
            raise CommandFailed(message)
        exc.add_note(message)  # the original error stays the one reported

    @property
    def pool(self) -> Any:
        """The storage pool (virStoragePool) holding this run's volumes; set on entering."""
        return self._pool

    def _say(self, message: str) -> None:
        if self._progress is not None:
            self._progress(message)

    def _create_volume(self, role: str, capacity: int, fmt: str) -> Any:
        lv = _libvirt()
        name = volume_name(self.owner, self.run_id, role)
        try:
            volume = self._pool.createXML(_volume_xml(name, capacity, fmt), 0)
        except lv.libvirtError as exc:
            raise CommandFailed(f"cannot create volume {name}: {_error_text(exc)}") from exc
        self._volumes.append(volume)
        return volume

    def create_disk(self, size_gib: float) -> str:
        """A new, empty qcow2 volume for the install; its path on the libvirt host."""
        self._disk = self._create_volume("disk.qcow2", int(size_gib * (1 << 30)), "qcow2")
        return str(self._disk.path())

    def remote_log_volume(self, role: str) -> Any:
        """The volume behind log `role` on a remote host (see log_path); None on a local host."""
        return self._remote_logs.get(role)

    def create_extra_disk(self, index: int, size_gib: float) -> str:
        """Another empty qcow2 volume (vdb, vdc, ... for profiles that span disks); its host path."""
        volume = self._create_volume(f"disk{index}.qcow2", int(size_gib * (1 << 30)), "qcow2")
        return str(volume.path())

    def adopt_disk(self, local: Path) -> str:
        """Upload an existing qcow2 image as this run's disk (the original stays untouched); its host path."""
        self._disk = self._create_volume("disk.qcow2", local.stat().st_size, "raw")
        self._say(f"uploading {local.name} to the libvirt pool")
        upload_file(self.conn, self._disk, local)
        return str(self._disk.path())

    def stage_file(self, local: Path, role: str) -> str:
        """Upload a local file (kernel, initrd) as a raw volume; its path on the libvirt host."""
        volume = self._create_volume(role, local.stat().st_size, "raw")
        self._say(f"uploading {local.name} to the libvirt pool")
        try:
            upload_file(self.conn, volume, local)
        except _libvirt().libvirtError as exc:
            reason = _error_text(exc)
            raise CommandFailed(f"cannot upload {local} to volume {volume.name()}: {reason}") from exc
        return str(volume.path())

    def stage_iso(self, iso: Path) -> str:
        """The ISO's path on the libvirt host: in place for a local host, uploaded for a remote one."""
        return self.stage_file(iso, "install.iso") if self.remote else str(iso.resolve())

    def log_path(self, role: str) -> str:
        """Where the VM writes log `role` (e.g. "console"), as a path on the libvirt host."""
        if not self.remote:
            return str(self.run_dir / f"{role}.log")
        volume = self._create_volume(f"{role}.log", 0, "raw")
        self._remote_logs[role] = volume
        return str(volume.path())

    def start(self, spec: DomainSpec) -> Any:
        """Start `spec` as a transient domain that libvirt destroys if this connection dies."""
        lv = _libvirt()
        xml = dataclasses.replace(spec, owner=self.owner).to_xml()
        try:
            try:
                domain = self.conn.createXML(xml, lv.VIR_DOMAIN_START_AUTODESTROY)
            except lv.libvirtError as exc:
                # Drivers without auto-destroy (e.g. test:///default) reject the flag as an invalid argument.
                if _error_code(exc) not in (lv.VIR_ERR_INVALID_ARG, lv.VIR_ERR_NO_SUPPORT):
                    raise
                domain = self.conn.createXML(xml, 0)
        except lv.libvirtError as exc:
            raise CommandFailed(f"cannot start VM {spec.name}: {_error_text(exc)}") from exc
        # Remembered by UUID: cleanup must never hit another domain that happens to have the same name.
        self._domains[spec.name] = domain.UUIDString()
        return domain

    def destroy(self, name: str) -> None:
        """Stop a domain started through this object, if it still runs (transient ones then vanish)."""
        lv = _libvirt()
        uuid = self._domains.get(name)
        if uuid is None:
            raise BadInput(f"VM {name} was not started by this run")
        try:
            domain = self.conn.lookupByUUIDString(uuid)
        except lv.libvirtError:
            return
        _destroy_and_undefine(lv, domain)

    def _cleanup(self) -> list[str]:
        failures: list[str] = []

        def attempt(what: str, action: Callable[..., object], *args: Any) -> None:
            try:
                action(*args)
            except Exception as exc:
                failures.append(f"{what}: {_error_text(exc)}")

        for name in reversed(self._domains.keys()):
            attempt(f"destroy {name}", self.destroy, name)
        if self._keep_disk_in is not None and self._disk is not None:
            attempt("keep the disk", self.keep_disk)
        for role, volume in self._remote_logs.items():
            attempt(f"fetch {role}.log", download_volume, self.conn, volume, self.run_dir / f"{role}.log")
        for volume in reversed(self._volumes):
            attempt(f"delete volume {volume.name()}", volume.delete, 0)
        self._volumes.clear()
        return failures

    def keep_disk(self, folder: Path | None = None) -> Path:
        """Copy the run's disk to `folder` (default: keep_disk_in) as <run-id>.qcow2, before cleanup deletes it."""
        folder = folder if folder is not None else self._keep_disk_in
        if folder is None or self._disk is None:
            raise BadInput("no disk to keep, or nowhere to keep it")
        if self.kept_disk is not None:
            return self.kept_disk
        dest = folder / f"{self.run_id}.qcow2"
        make_dirs(dest.parent)
        source = Path(self._disk.path())
        if not self.remote and os.access(source, os.R_OK):
            shutil.copyfile(source, dest)
        else:
            download_volume(self.conn, self._disk, dest)
        self.kept_disk = dest
        self._say(f"kept the disk as {dest}")
        return dest

    def disk_volume(self) -> Any:
        """The run's disk volume (virStorageVol), once create_disk or adopt_disk made it."""
        return self._disk


# ------------------------------------------------------------------------------------------ cleanup


def _destroy_and_undefine(lv: Any, domain: Any) -> None:
    # Each step may race with the domain stopping (a transient one then vanishes): that is success.
    with contextlib.suppress(lv.libvirtError):
        if domain.isActive():
            domain.destroy()
    with contextlib.suppress(lv.libvirtError):
        if domain.isPersistent():
            domain.undefine()


def _domain_run_tag(domain: Any) -> Any:
    lv = _libvirt()
    try:
        element = domain.metadata(lv.VIR_DOMAIN_METADATA_ELEMENT, KSBUILD_XMLNS, 0)
    except lv.libvirtError:
        return None
    return parse_run_metadata(element)


def _disk_sources(domain: Any) -> set[str]:
    root = ET.fromstring(domain.XMLDesc(0))  # noqa: S314  # libvirt's own XML
    paths = {source.get("file", "") for source in root.findall("devices/disk/source")}
    for tag in ("kernel", "initrd"):
        paths.add(root.findtext(f"os/{tag}") or "")
    return paths - {""}


def clean_stale(conn: libvirt.virConnect, *, dry_run: bool = False) -> list[str]:
    """Remove what crashed or killed ksbuild runs left behind: domains named ksbuild-* whose ksbuild
    metadata names an owner process on this host that no longer exists, and volumes named after such
    owners that no remaining domain uses. Returns what was (or, with dry_run, would be) removed."""
    lv = _libvirt()
    removed: list[str] = []
    in_use: set[str] = set()
    for domain in conn.listAllDomains(0):
        tag = _domain_run_tag(domain)
        owner = tag.owner if tag is not None else None
        stale = domain.name().startswith(DOMAIN_NAME_PREFIX) and owner is not None and owner.is_gone()
        if not stale:
            with contextlib.suppress(lv.libvirtError):
                in_use |= _disk_sources(domain)
            continue
        removed.append(f"domain {domain.name()}")
        if not dry_run:
            _destroy_and_undefine(lv, domain)
    for pool in conn.listAllStoragePools(lv.VIR_CONNECT_LIST_STORAGE_POOLS_ACTIVE):
        with contextlib.suppress(lv.libvirtError):
            pool.refresh(0)
        for volume in pool.listAllVolumes(0):
            if not _volume_is_stale(volume.name()) or volume.path() in in_use:
                continue
            removed.append(f"volume {volume.path()}")
            if not dry_run:
                with contextlib.suppress(lv.libvirtError):
                    volume.delete(0)
    return removed
