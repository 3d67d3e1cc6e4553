"""The words every stage shares: key paths into profile data and how they are shown, where a value came from,
schema errors as findings, progress messages, and the folders library code works against.

load, model, checks, render, fleet and emit import these from here (not from the YAML reader), so each concept
has one name and one implementation.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar, Union, get_args, get_origin

from builder.errors import Finding, Location
from builder.paths import shipped_profiles_dir

if TYPE_CHECKING:
    from pydantic import BaseModel, ValidationError

KeyPath = tuple[str | int, ...]
"""A key path into profile (or inventory) data: mapping keys are strings, list indexes are ints."""

Locate = Callable[[KeyPath], Location]
"""Where the value at a key path came from (file:line)."""

Progress = Callable[[str], None]
"""Receives one-line progress messages for the person watching (the CLI prints them)."""

# Every kickstart command ksbuild's templates write, with the profile key it comes from (() for the commands
# always written the same way). A pykickstart finding on a rendered line points back at that key, and
# `kickstart.extra_commands` may not repeat one of these (the kickstart would hold the setting twice).
TEMPLATE_COMMANDS: dict[str, KeyPath] = {
    "install": (),
    "text": (),
    "cmdline": (),
    "graphical": (),
    "skipx": (),
    "firstboot": (),
    "url": ("install", "source"),
    "cdrom": ("install", "source"),
    "nfs": ("install", "source"),
    "harddrive": ("install", "source"),
    "liveimg": ("install", "source", "liveimg"),
    "repo": ("install", "repos"),
    "lang": ("system", "lang"),
    "keyboard": ("system", "keyboard"),
    "timezone": ("system", "timezone"),
    "timesource": ("system", "ntp_servers"),
    "network": ("network",),
    "rootpw": ("users", "root"),
    "user": ("users", "accounts"),
    "sshkey": ("users",),
    "selinux": ("system", "selinux"),
    "firewall": ("system", "firewall"),
    "services": ("system", "services"),
    "ignoredisk": ("storage", "disks"),
    "clearpart": ("storage", "clear"),
    "part": ("storage", "partitions"),
    "partition": ("storage", "partitions"),
    "autopart": ("storage", "layout"),
    "raid": ("storage", "raids"),
    "volgroup": ("storage", "volume_groups"),
    "logvol": ("storage", "volume_groups"),
    "reqpart": ("storage", "firmware"),
    "zerombr": ("storage", "clear"),
    "bootloader": ("storage", "bootloader"),
    "reboot": ("install", "finish"),
    "poweroff": ("install", "finish"),
    "shutdown": ("install", "finish"),
    "halt": ("install", "finish"),
}

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def format_key(path: KeyPath) -> str:
    """The dotted form users see and type: ``network.bridges[0].ipv4.address``.

    A key that is not a plain word (it holds a dot, a space, a bracket...) is written
    ``["net.ipv4.ip_forward"]`` with JSON string escapes, so every path has exactly one spelling
    and ``--set`` can name it.
    """
    parts: list[str] = []
    for element in path:
        if isinstance(element, int):
            parts.append(f"[{element}]")
        elif _BARE_KEY.fullmatch(element):
            parts.append(f".{element}" if parts else element)
        else:
            parts.append(f"[{json.dumps(element, ensure_ascii=False)}]")
    return "".join(parts)


_Fallback = TypeVar("_Fallback", bound=Location | None)


def locate_in(locations: Mapping[KeyPath, Location], path: KeyPath, fallback: _Fallback) -> Location | _Fallback:
    """Where the value at `path` came from: its own location, else its nearest located ancestor's, else
    `fallback` (the file, or the entry, the data came from; None when the caller needs to know)."""
    for length in range(len(path), 0, -1):
        found = locations.get(tuple(path[:length]))
        if found is not None:
            return found
    return fallback


def display_path(path: Path, base: Path | None) -> str:
    """A file name as messages and manifests show it: relative to `base` when under it, else absolute."""
    absolute = Path(os.path.normpath(Path(path).absolute()))
    if base is not None:
        try:
            return str(absolute.relative_to(Path(os.path.normpath(base.absolute()))))
        except ValueError:
            pass
    return str(absolute)


@dataclass(frozen=True)
class Roots:
    """The folders library code works against. Only the CLI derives them from the current directory.

    `profile_dirs`: where bare profile names (`kvm-hypervisor`, `extends: base`) are looked up, in order.
    `output`: where `output/<profile>/` goes. `workdir`: paths in messages and manifests are shown relative
    to it, and a relative `templates:` given with `--set` starts there (None: absolute paths). `cache`: where
    ksbuild keeps what it may compute again, compiled templates (None: nothing is kept between runs)."""

    profile_dirs: tuple[Path, ...] = (shipped_profiles_dir(),)
    output: Path | None = None
    workdir: Path | None = None
    cache: Path | None = None

    @classmethod
    def under(cls, folder: Path) -> Roots:
        """The roots of a project folder: its profiles/ (then the shipped ones) and its output/."""
        return cls((folder / "profiles", shipped_profiles_dir()), folder / "output", folder)

    def display(self, path: Path) -> str:
        return display_path(path, self.workdir)

    def output_dir(self, name: str) -> Path:
        if self.output is None:
            raise ValueError("no output root given")
        return self.output / name


DEFAULT_ROOTS = Roots()
"""The shipped profiles only, no output root, absolute paths in messages: for library callers and tests."""


# -- schema errors ------------------------------------------------------------------------------------------


def schema_findings(
    exc: ValidationError,
    model: type[BaseModel],
    locate: Locate,
    check: str,
    unknown_key_messages: Mapping[str, str] | None = None,
) -> list[Finding]:
    """pydantic's errors as located findings: unknown keys with a "did you mean", missing keys said plainly.
    `unknown_key_messages` replaces the message for particular unknown keys (a plaintext password key)."""
    findings = []
    errors = exc.errors(include_url=False, include_input=False)
    # pydantic also says a list whose only items were refused is "too short": the items' errors say why.
    failed_items = {tuple(e["loc"][:-1]) for e in errors if e["loc"] and isinstance(e["loc"][-1], int)}
    for error in errors:
        if error["type"] == "too_short" and tuple(error["loc"]) in failed_items:
            continue
        path: KeyPath = tuple(part for part in error["loc"] if isinstance(part, str | int))
        message = str(error["msg"]).removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            special = (unknown_key_messages or {}).get(str(path[-1]))
            message = special if special is not None else _unknown_key_message(model, path)
        elif error["type"] == "missing":
            # Said at the mapping that lacks the key (the document's first key for a top-level one).
            message = "required key is missing"
            findings.append(Finding(check, message, locate(path[:-1]), format_key(path)))
            continue
        findings.append(Finding(check, message, locate(path), format_key(path)))
    return findings


def _unknown_key_message(model: type[BaseModel], path: KeyPath) -> str:
    allowed = fields_at(model, path[:-1])
    close = difflib.get_close_matches(str(path[-1]).lower(), sorted(allowed), n=1, cutoff=0.6)
    if close:
        return f"unknown key; did you mean {close[0]!r}?"
    return f"unknown key (allowed here: {', '.join(sorted(allowed))})" if allowed else "unknown key"


def fields_at(model: type[BaseModel], path: KeyPath) -> set[str]:
    """The keys (aliases where set) of the model found at `path`, following nested models, tuples, lists,
    optionals and mappings of models (a mapping is entered by any key)."""
    current: Any = model
    for part in path:
        found = None
        if not isinstance(part, int):
            found = next((field.annotation for candidate in models_in(current)
                          for name, field in candidate.model_fields.items() if part in (name, field.alias)), None)
            if found is None:
                found = next((get_args(a)[1] for a in _annotations(current) if get_origin(a) is dict), None)
        if found is None:
            if isinstance(part, int):
                continue
            return set()
        current = found
    return {field.alias or name for candidate in models_in(current) for name, field in candidate.model_fields.items()}


def _annotations(annotation: Any) -> list[Any]:
    origin = get_origin(annotation)
    if origin is Annotated:
        return _annotations(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        return [a for arg in get_args(annotation) for a in _annotations(arg)]
    return [annotation]


def models_in(annotation: Any) -> list[type[BaseModel]]:
    from pydantic import BaseModel

    found: list[type[BaseModel]] = []
    for candidate in _annotations(annotation):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            found.append(candidate)
        elif get_origin(candidate) in (tuple, list):
            found.extend(m for arg in get_args(candidate) if arg is not Ellipsis for m in models_in(arg))
    return found
