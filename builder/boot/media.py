"""Find the installer kernel and initrd of a CentOS install source: an ISO, a local tree or an HTTP(S) URL.

The lookup follows anaconda's and virt-install's: `.treeinfo` names the files in `[images-x86_64]`
(`kernel`, `initrd`); without a `.treeinfo`, the files sit at images/pxeboot/vmlinuz and initrd.img.

Cache layout under `cache_dir` (every file is written atomically, so a present file is a whole file):

- ``blobs/<algo>/<hex>``: content-addressed by the checksum `.treeinfo` lists in `[checksums]`, whatever
  the source; a URL whose `.treeinfo` lists checksums is never downloaded twice.
- ``iso/<identity>/``: files extracted from an ISO. The identity is a sha256 over the ISO's resolved
  path, size, mtime (ns) and its primary volume descriptor (the 2 KiB sector at 32 KiB, which holds the
  volume id and creation time). Reading it costs one sector, so a 1 GB ISO is never hashed whole; the
  descriptor protects against an ISO rebuilt at the same path within the mtime's resolution.
- ``url/<sha256(url)>/``: downloads that `.treeinfo` gives no checksum for, with the ETag and
  Last-Modified the server sent; the next run asks with If-None-Match/If-Modified-Since and keeps the
  cached copy on 304 Not Modified.
"""

from __future__ import annotations

import configparser
import hashlib
import http.client
import io
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from email.message import Message
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from builder.errors import BadInput
from builder.fsutil import atomic_write, sha256_bytes
from builder.paths import user_cache_dir
from builder.vocabulary import Progress

MediaKind = Literal["iso", "tree", "url"]

TREEINFO = ".treeinfo"
ARCH = "x86_64"
FALLBACK_KERNEL = "images/pxeboot/vmlinuz"
FALLBACK_INITRD = "images/pxeboot/initrd.img"
HTTP_TIMEOUT_S = 30.0
_ISO_PVD_OFFSET = 16 * 2048
_ISO_PVD_SIZE = 2048
_MAX_TREEINFO_BYTES = 1 << 20


@dataclass(frozen=True)
class InstallMedia:
    """Where an install comes from, and local files of its installer kernel and initrd."""

    kind: MediaKind
    location: str  # as given by the user
    kernel: Path  # local copy (cache) of the install kernel; for a tree, the tree's own file
    initrd: Path  # local copy (cache) of the install initrd; for a tree, the tree's own file
    # inst.repo= value: "cdrom" for an ISO, the URL for a URL. For a tree, the tree's file:// URI as a
    # placeholder: the guest cannot read it, so the caller serves `tree` over HTTP and replaces it
    # (dataclasses.replace(media, repo=served_url)).
    repo: str
    iso: Path | None  # the ISO to attach read-only as cdrom
    tree: Path | None  # local tree dir (served over HTTP by the caller when kind == "tree")
    # The release the media's .treeinfo names ([general] or [release] version, its major number: "7", "9"), and
    # its family; None without a .treeinfo that says.
    release: str | None = None
    family: str | None = None


@dataclass(frozen=True)
class _TreeInfo:
    kernel: str
    initrd: str
    checksums: dict[str, tuple[str, str]]  # relative path -> (algorithm, lowercase hex digest)
    release: str | None = None
    family: str | None = None


def _say(progress: Progress | None, message: str) -> None:
    if progress is not None:
        progress(message)


def _parse_treeinfo(text: str, where: str) -> _TreeInfo:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(text, source=where)
    except configparser.Error as exc:
        raise BadInput(f"{where}: .treeinfo is not readable: {exc}") from exc
    section = f"images-{ARCH}"
    if parser.has_section(section):
        kernel = parser.get(section, "kernel", fallback=None)
        initrd = parser.get(section, "initrd", fallback=None)
        if not kernel or not initrd:
            raise BadInput(f"{where}: .treeinfo section [{section}] lacks a kernel or initrd entry")
    else:
        kernel, initrd = FALLBACK_KERNEL, FALLBACK_INITRD
    checksums: dict[str, tuple[str, str]] = {}
    if parser.has_section("checksums"):
        for name, value in parser.items("checksums"):
            algorithm, _, digest = value.strip().partition(":")
            if digest and algorithm.lower() in hashlib.algorithms_available:
                checksums[_normalise_relpath(name)] = (algorithm.lower(), digest.strip().lower())
    # productmd's .treeinfo has [release] name/version; the older layout (EL7, and EL8/EL9's for compatibility)
    # [general] family/version.
    version = parser.get("release", "version", fallback=None) or parser.get("general", "version", fallback=None)
    family = parser.get("release", "name", fallback=None) or parser.get("general", "family", fallback=None)
    release = version.strip().split(".")[0] if version and version.strip() else None
    return _TreeInfo(_normalise_relpath(kernel), _normalise_relpath(initrd), checksums, release,
                     family.strip() if family else None)


def _normalise_relpath(path: str) -> str:
    return str(PurePosixPath(path.strip().lstrip("/")))


def _digest(algorithm: str, data: bytes) -> str:
    return hashlib.new(algorithm, data).hexdigest()


def _check_digest(data: bytes, expected: tuple[str, str] | None, what: str) -> None:
    if expected is None:
        return
    algorithm, hexdigest = expected
    actual = _digest(algorithm, data)
    if actual != hexdigest:
        raise BadInput(f"{what}: {algorithm} checksum mismatch: .treeinfo says {hexdigest}, got {actual}")


def _blob_path(cache_dir: Path, checksum: tuple[str, str]) -> Path:
    algorithm, hexdigest = checksum
    if not re.fullmatch(r"[0-9a-f]+", hexdigest):
        raise BadInput(f".treeinfo checksum {algorithm}:{hexdigest} is not a hex digest")
    return cache_dir / "blobs" / algorithm / hexdigest


def _cached_blob(cache_dir: Path, checksum: tuple[str, str] | None) -> Path | None:
    """The cached file with `checksum`, if one was stored before (stored files were verified)."""
    if checksum is None:
        return None
    path = _blob_path(cache_dir, checksum)
    return path if path.is_file() else None


# ---------------------------------------------------------------------------------------------- tree


def _resolve_tree(location: str, tree: Path, progress: Progress | None) -> InstallMedia:
    treeinfo_path = tree / TREEINFO
    if treeinfo_path.is_file():
        info = _parse_treeinfo(treeinfo_path.read_text(encoding="utf-8", errors="replace"), location)
    else:
        _say(progress, f"{location}: no .treeinfo, using {FALLBACK_KERNEL} and {FALLBACK_INITRD}")
        info = _TreeInfo(FALLBACK_KERNEL, FALLBACK_INITRD, {})
    found: list[Path] = []
    for relpath in (info.kernel, info.initrd):
        path = tree / relpath
        if not path.is_file():
            raise BadInput(f"{location}: install tree has no {relpath}")
        _check_digest(path.read_bytes(), info.checksums.get(relpath), f"{location}: {relpath}")
        found.append(path)
    resolved = tree.resolve()
    return InstallMedia("tree", location, found[0], found[1], resolved.as_uri(), None, resolved, info.release,
                        info.family)


# ----------------------------------------------------------------------------------------------- ISO


def _iso_identity(iso: Path) -> str:
    stat = iso.stat()
    with iso.open("rb") as handle:
        handle.seek(_ISO_PVD_OFFSET)
        descriptor = handle.read(_ISO_PVD_SIZE)
    if descriptor[1:6] != b"CD001":
        raise BadInput(f"{iso}: not an ISO 9660 image (no CD001 volume descriptor at 32 KiB)")
    key = f"{iso.resolve()}\0{stat.st_size}\0{stat.st_mtime_ns}\0".encode() + descriptor
    return sha256_bytes(key)


def _plain_iso_name(name: str) -> str:
    """ISO 9660 level-1 names are upper case, end in ';1', and map '.' and '-' to '_': compare loosely."""
    base = name.split(";", 1)[0].rstrip(".")
    return re.sub(r"[^0-9a-z]", "_", base.lower())


class _IsoReader:
    """Reads files from an ISO by their Rock Ridge, Joliet or plain ISO 9660 names."""

    def __init__(self, iso: Path) -> None:
        import pycdlib  # only ISO sources need it; keeps `import builder.boot.media` light
        from pycdlib.pycdlibexception import PyCdlibException

        self._error: type[Exception] = PyCdlibException
        self._iso: Any = pycdlib.PyCdlib()
        try:
            self._iso.open(str(iso))
        except (PyCdlibException, OSError) as exc:
            raise BadInput(f"{iso}: cannot read the ISO: {exc}") from exc
        # Rock Ridge and Joliet keep the real names; plain ISO 9660 names need the loose lookup.
        self._facet = ""
        if self._iso.has_rock_ridge():
            self._facet = "rr_path"
        elif self._iso.has_joliet():
            self._facet = "joliet_path"

    def close(self) -> None:
        self._iso.close()

    def read(self, relpath: str) -> bytes | None:
        """The file's bytes, or None when the ISO has no such file."""
        if self._facet:
            return self._get(**{self._facet: "/" + relpath})
        iso_path = self._find_plain("/" + relpath)
        return None if iso_path is None else self._get(iso_path=iso_path)

    def _get(self, **path: str) -> bytes | None:
        out = io.BytesIO()
        try:
            self._iso.get_file_from_iso_fp(out, **path)
        except self._error:
            return None
        return out.getvalue()

    def _find_plain(self, wanted: str) -> str | None:
        current = "/"
        for part in PurePosixPath(wanted).parts[1:]:
            try:
                children = list(self._iso.list_children(iso_path=current))
            except self._error:
                return None
            match = None
            for child in children:
                if child is None or child.is_dot() or child.is_dotdot():
                    continue
                name = child.file_identifier().decode("ascii", "replace")
                if _plain_iso_name(name) == _plain_iso_name(part):
                    match = name
                    break
            if match is None:
                return None
            current = current.rstrip("/") + "/" + match
        return current


def _resolve_iso(location: str, iso: Path, cache_dir: Path, progress: Progress | None) -> InstallMedia:
    identity = _iso_identity(iso)
    entry = cache_dir / "iso" / identity
    manifest = entry / "manifest.json"
    if manifest.is_file():
        names = json.loads(manifest.read_text(encoding="utf-8"))
        kernel, initrd = entry / names["kernel"], entry / names["initrd"]
        if kernel.is_file() and initrd.is_file() and "release" in names:
            return InstallMedia("iso", location, kernel, initrd, "cdrom", iso.resolve(), None, names["release"],
                                names.get("family"))

    _say(progress, f"{location}: extracting the installer kernel and initrd")
    reader = _IsoReader(iso)
    try:
        treeinfo_bytes = reader.read(TREEINFO)
        if treeinfo_bytes is None:
            _say(progress, f"{location}: no .treeinfo, using {FALLBACK_KERNEL} and {FALLBACK_INITRD}")
            info = _TreeInfo(FALLBACK_KERNEL, FALLBACK_INITRD, {})
        else:
            info = _parse_treeinfo(treeinfo_bytes.decode("utf-8", "replace"), location)
        stored: dict[str, str] = {}
        for role, relpath in (("kernel", info.kernel), ("initrd", info.initrd)):
            data = reader.read(relpath)
            if data is None:
                raise BadInput(f"{location}: the ISO has no {relpath}")
            _check_digest(data, info.checksums.get(relpath), f"{location}: {relpath}")
            # The role prefix keeps kernel and initrd apart even if both have the same base name.
            name = f"{role}-{PurePosixPath(relpath).name}"
            atomic_write(entry / name, data)
            stored[role] = name
    finally:
        reader.close()
    files = dict(stored)
    atomic_write(manifest, json.dumps({**stored, "release": info.release, "family": info.family},
                                      sort_keys=True).encode())
    return InstallMedia("iso", location, entry / files["kernel"], entry / files["initrd"], "cdrom",
                        iso.resolve(), None, info.release, info.family)


# ----------------------------------------------------------------------------------------------- URL


def _http_get(url: str, headers: dict[str, str]) -> tuple[int, bytes, Message]:
    """GET `url`: (status, body, headers). 304 and 404 come back as statuses; other failures raise."""
    request = urllib.request.Request(url, headers=headers)  # noqa: S310  # the scheme is checked by the caller
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S) as response:  # noqa: S310
            return response.status, response.read(), response.headers
    except urllib.error.HTTPError as exc:
        if exc.code in (304, 404):
            return exc.code, b"", exc.headers
        raise BadInput(f"{url}: HTTP {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", exc)
        raise BadInput(f"{url}: cannot download: {reason}") from exc


def _download_by_checksum(
    url: str, checksum: tuple[str, str], cache_dir: Path, progress: Progress | None
) -> Path:
    cached = _cached_blob(cache_dir, checksum)
    if cached is not None:
        return cached
    _say(progress, f"downloading {url}")
    status, data, _ = _http_get(url, {})
    if status != 200:
        raise BadInput(f"{url}: not found (HTTP {status})")
    _check_digest(data, checksum, url)
    path = _blob_path(cache_dir, checksum)
    atomic_write(path, data)
    return path


def _download_by_url(url: str, cache_dir: Path, progress: Progress | None) -> Path:
    entry = cache_dir / "url" / sha256_bytes(url.encode())
    data_path, meta_path = entry / "data", entry / "meta.json"
    validators: dict[str, str] = {}
    if data_path.is_file() and meta_path.is_file():
        validators = json.loads(meta_path.read_text(encoding="utf-8"))
    headers = {}
    if validators.get("etag"):
        headers["If-None-Match"] = validators["etag"]
    if validators.get("last_modified"):
        headers["If-Modified-Since"] = validators["last_modified"]
    if not headers:
        _say(progress, f"downloading {url}")
    status, data, response_headers = _http_get(url, headers)
    if status == 304 and headers:
        return data_path
    if status != 200:
        raise BadInput(f"{url}: not found (HTTP {status})")
    atomic_write(data_path, data)
    meta = {"url": url, "etag": response_headers.get("ETag") or "",
            "last_modified": response_headers.get("Last-Modified") or ""}
    atomic_write(meta_path, json.dumps(meta, sort_keys=True).encode())
    return data_path


def _resolve_url(location: str, cache_dir: Path, progress: Progress | None) -> InstallMedia:
    base = location if location.endswith("/") else location + "/"
    treeinfo_url = urllib.parse.urljoin(base, TREEINFO)
    status, body, _ = _http_get(treeinfo_url, {})
    if status == 200:
        if len(body) > _MAX_TREEINFO_BYTES:
            raise BadInput(f"{treeinfo_url}: too large for a .treeinfo ({len(body)} bytes)")
        info = _parse_treeinfo(body.decode("utf-8", "replace"), location)
    else:
        _say(progress, f"{location}: no .treeinfo, using {FALLBACK_KERNEL} and {FALLBACK_INITRD}")
        info = _TreeInfo(FALLBACK_KERNEL, FALLBACK_INITRD, {})
    paths: list[Path] = []
    for relpath in (info.kernel, info.initrd):
        url = urllib.parse.urljoin(base, urllib.parse.quote(relpath))
        checksum = info.checksums.get(relpath)
        if checksum is not None:
            paths.append(_download_by_checksum(url, checksum, cache_dir, progress))
        else:
            paths.append(_download_by_url(url, cache_dir, progress))
    return InstallMedia("url", location, paths[0], paths[1], location, None, None, info.release, info.family)


# ---------------------------------------------------------------------------------------------- entry


def default_cache_dir() -> Path:
    """Downloaded and extracted install media: `media/` in ksbuild's folder of the user's cache (one cache for
    the boot test and `fleet render --boot-files`)."""
    folder = user_cache_dir()
    if folder is None:
        raise BadInput("no home folder for the install media cache: set XDG_CACHE_HOME")
    return folder / "media"


def check_release(media: InstallMedia, target_name: str, where: str, wanted_by: str, hint: str = "") -> None:
    """An installer installs its own release: media whose .treeinfo names another release than `target_name`
    cannot install it (an EL9 kickstart on CentOS 7's anaconda fails on its first EL9-only line). BadInput
    naming `where` (the location as given) and `wanted_by` (who wants the target: "the profile's target")."""
    from builder import targets

    target = targets.target(target_name)
    if media.release is not None and media.release != str(target.release):
        family = f"{media.family} " if media.family else ""
        raise BadInput(f"{where}: the media is {family}{media.release} (its .treeinfo), but {wanted_by} is "
                       f"{target_name} ({target.label}); give {target.label} media{hint}")


def resolve_media(location: str, cache_dir: Path, progress: Progress | None = None) -> InstallMedia:
    """Find the installer kernel and initrd for `location` (ISO file, tree directory or http(s) URL).

    Raises BadInput naming the location and what is missing or wrong.
    """
    scheme = urllib.parse.urlsplit(location).scheme.lower()
    if scheme in ("http", "https"):
        return _resolve_url(location, cache_dir, progress)
    if "://" in location:
        raise BadInput(f"{location}: unsupported install source; give an ISO, a directory or an http(s) URL")
    path = Path(location).expanduser()
    if path.is_dir():
        return _resolve_tree(location, path, progress)
    if path.is_file():
        try:
            return _resolve_iso(location, path, cache_dir, progress)
        except OSError as exc:
            raise BadInput(f"{location}: cannot read: {exc.strerror}") from exc
    raise BadInput(f"{location}: no such ISO file or install tree directory")

