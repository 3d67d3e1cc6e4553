"""A fleet tree's install state (``state.json``, 0600): per host its install token and what it reported.

- ``token``: random, issued at the host's first render and kept, so the same inputs and the same state
  render a byte-identical tree; ``ksbuild fleet reinstall`` issues a new one. The kickstart URL and the
  callback URL carry it as a path segment (``[A-Za-z0-9_-]``: nothing GRUB, pxelinux, iPXE, dnsmasq or a
  shell would read specially). Like Foreman's build token it proves nothing about the machine on its own
  (anyone on the PXE network can read the entries over TFTP), so it works for one install only: once the
  host has reported, its token opens nothing.
- ``status``: ``pending`` until the host reports; ``installed`` (its PXE entries now boot the local disk,
  Cobbler's pxe_just_once) or ``failed`` (the entries stay as they are: the disk holds no good system).
- ``reported_at``/``reported_from``: when and from which address the report came.

Writers (`ksbuild serve`, `fleet reinstall`, `fleet render`) change it under one lock, with the entries they
switch, so the state and the served files never disagree.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError

from builder.errors import BadInput
from builder.fleet import pxe
from builder.fsutil import atomic_write, locked_folder

STATE_NAME = "state.json"
STATE_MODE = 0o600
_LOCK_NAME = ".state.lock"
TOKEN_PATTERN = r"^[A-Za-z0-9_-]{32,128}$"  # noqa: S105 (a pattern, not a password)
_TOKEN = re.compile(TOKEN_PATTERN)
# 24 random bytes: 192 bits, 32 URL-safe characters.
_TOKEN_BYTES = 24

Status = Literal["pending", "installed", "failed"]
ReportStatus = Literal["installed", "failed"]
Token = Annotated[str, StringConstraints(pattern=TOKEN_PATTERN)]


class HostState(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    token: Token
    status: Status = "pending"
    reported_at: str | None = None
    reported_from: str | None = None


def new_token() -> str:
    return secrets.token_urlsafe(_TOKEN_BYTES)


def is_token(text: str) -> bool:
    return _TOKEN.fullmatch(text) is not None


def same_token(given: str, expected: str) -> bool:
    """Constant-time comparison: the time a wrong guess takes says nothing about the right token."""
    return hmac.compare_digest(given.encode(), expected.encode())


def lock(tree_dir: Path) -> contextlib.AbstractContextManager[None]:
    """Serialises state changes and entry switches between `ksbuild serve`, `fleet reinstall` and renders."""
    return locked_folder(tree_dir, _LOCK_NAME)


def read(tree_dir: Path) -> dict[str, HostState]:
    """hostname → state; empty when the tree has none yet. BadInput when state.json is not ours."""
    return _read(tree_dir)[0]


def _read(tree_dir: Path) -> tuple[dict[str, HostState], bool]:
    """The states, and whether an entry from before tokens was given one (the caller must write it)."""
    path = tree_dir / STATE_NAME
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}, False
    except (OSError, ValueError) as exc:
        raise BadInput(f"{path}: cannot read the install state: {exc}") from exc
    hosts = data.get("hosts") if isinstance(data, dict) else None
    if not isinstance(hosts, dict):
        raise BadInput(f"{path}: not an install state (no \"hosts\" mapping)")
    states, migrated = {}, False
    for name, stored in hosts.items():
        entry = stored
        if isinstance(stored, dict) and "token" not in stored and set(stored) <= {"status", "at", "by"}:
            # Written before tokens existed: {"status": "installed", "at": ..., "by": ...}.
            entry = {"token": new_token(), "status": stored.get("status", "pending"), "reported_at": stored.get("at")}
            migrated = True
        try:
            states[str(name)] = HostState.model_validate(entry)
        except ValidationError as exc:
            problem = exc.errors()[0]
            where = ".".join(str(part) for part in problem["loc"])
            raise BadInput(f"{path}: hosts.{name}.{where}: {problem['msg']}; run `ksbuild fleet reinstall "
                           f"{name}` or remove the host's entry") from None
    return states, migrated


def write(tree_dir: Path, states: Mapping[str, HostState]) -> None:
    hosts = {name: states[name].model_dump() for name in sorted(states)}
    text = json.dumps({"hosts": hosts}, indent=2, sort_keys=True) + "\n"
    atomic_write(tree_dir / STATE_NAME, text.encode(), STATE_MODE)


def is_private(tree_dir: Path) -> bool:
    """state.json is there and readable by its owner only."""
    try:
        return (tree_dir / STATE_NAME).stat().st_mode & 0o777 == STATE_MODE
    except FileNotFoundError:
        return False


def tokens_for(tree_dir: Path, hostnames: list[str]) -> dict[str, str]:
    """Each host's token: the one in the tree's state, or a new one (the render that uses it stores it)."""
    states, migrated = _read(tree_dir)
    if migrated:
        with lock(tree_dir):
            states, migrated = _read(tree_dir)
            if migrated:
                write(tree_dir, states)
    return {name: states[name].token if name in states else new_token() for name in hostnames}


def with_tokens(states: Mapping[str, HostState], tokens: Mapping[str, str]) -> dict[str, HostState]:
    """The states after a render with `tokens`: a host's status stays as long as its token does."""
    updated = dict(states)
    for name, token in tokens.items():
        current = states.get(name)
        if current is None or current.token != token:
            updated[name] = HostState(token=token)
    return updated


def variant_for(states: Mapping[str, HostState], hostname: str) -> pxe.Variant:
    current = states.get(hostname)
    return pxe.LOCAL if current is not None and current.status == "installed" else pxe.INSTALL


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def record_report(tree_dir: Path, hostname: str, token: str, status: ReportStatus, address: str) -> str | None:
    """Record a host's install report; its token stops working. An installed host's entries switch to
    local boot, a failed one's stay. Returns why the report was refused, or None when it was recorded."""
    with lock(tree_dir):
        states = read(tree_dir)
        current = states.get(hostname)
        # A render writes the state with the manifest, under this lock, and forgets the hosts it removes: a
        # host in the state is in the manifest (no need to parse it, megabytes for a large fleet).
        if current is None:
            return "no such host"
        if not same_token(token, current.token):
            return "wrong token"
        if current.status != "pending":
            return f"already reported ({current.status})"
        if status == "installed":
            entries = pxe.read_entries(tree_dir, hostname)
            pxe.serve_variant(tree_dir, entries, pxe.LOCAL, pxe.TreeWriter(tree_dir, durable_each=True))
        states[hostname] = current.model_copy(
            update={"status": status, "reported_at": now(), "reported_from": address})
        write(tree_dir, states)
    return None



@dataclass(frozen=True)
class HostStatus:
    """One row of `ksbuild fleet status`."""

    hostname: str
    macs: tuple[str, ...]
    status: Status
    reported_at: str | None
    reported_from: str | None

    def to_json(self) -> dict[str, object]:
        return {"host": self.hostname, "macs": list(self.macs), "state": self.status,
                "reported_at": self.reported_at, "reported_from": self.reported_from}


def fleet_status(tree_dir: Path) -> list[HostStatus]:
    """Every host of the tree's manifest with its install state, by hostname."""
    states = read(tree_dir)
    rows = []
    for name, record in sorted(pxe.manifest_hosts(tree_dir).items()):
        boot = record.get("boot")
        macs = tuple(str(mac) for mac in boot.get("macs", [])) if isinstance(boot, dict) else ()
        current = states.get(name)
        if current is None:
            rows.append(HostStatus(name, macs, "pending", None, None))
        else:
            rows.append(HostStatus(name, macs, current.status, current.reported_at, current.reported_from))
    return rows
