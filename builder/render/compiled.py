"""Compiled templates kept between runs: a jinja2 bytecode cache in the user's cache folder.

Compiling the kickstart templates (parse, generate Python, compile it) is a third of a `ksbuild render`; loading
the compiled code is a few milliseconds. An entry is the Python code jinja2 generated for one template file, so
what it may depend on is all in its key and checksum:
- the key: the template's name and file, and the environment's fingerprint: jinja2's version, every option that
  changes the generated code, and each filter and test by name, calling convention and the source of the module
  that defines it (jinja2 calls a filter at compile time when its arguments are constants, and writes the result
  into the code);
- the checksum (checked on every load, as jinja2's `Bucket` does): the sha256 of the template's source, so an
  edited template is compiled again and its entry replaced. jinja2 adds its bytecode version and Python's.
The output is the same with or without the cache.

The entries are marshalled code that jinja2 runs: whoever may write the folder may run code as the user. The
folder is used only when it is a real folder owned by the user that no one else may write (made 0700), as jinja2
does for the folder it picks itself; otherwise every run compiles. Entries are written atomically (a concurrent
run reads a whole entry or none), 0600, and at most `MAX_ENTRIES` are kept (the least recently written go). An
entry that cannot be read or written is a miss, never an error: the cache only saves time.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jinja2
from jinja2.bccache import Bucket, BytecodeCache
from jinja2.utils import _PassArg

from builder.fsutil import atomic_write

MAX_ENTRIES = 1000
_SUFFIX = ".jinja-code"
# Environment options that change the code jinja2 generates.
_CODE_OPTIONS = (
    "block_start_string", "block_end_string", "variable_start_string", "variable_end_string",
    "comment_start_string", "comment_end_string", "line_statement_prefix", "line_comment_prefix", "trim_blocks",
    "lstrip_blocks", "newline_sequence", "keep_trailing_newline", "optimized", "is_async", "autoescape",
)


def _callable_identity(function: Callable[..., Any]) -> str:
    """A filter or test as the generated code may depend on it: where it is defined, how jinja2 calls it, and the
    source of its module (a filter's result on constant arguments is written into the code)."""
    module_name = getattr(function, "__module__", None) or ""
    file = getattr(sys.modules.get(module_name), "__file__", None)
    source = ""
    if file is not None and module_name.split(".")[0] != "jinja2":  # jinja2's own: its version says
        with contextlib.suppress(OSError):
            source = hashlib.sha256(Path(file).read_bytes()).hexdigest()
    name = getattr(function, "__qualname__", type(function).__qualname__)
    return f"{module_name}.{name}:{_PassArg.from_obj(function)}:{source}"


def fingerprint(env: jinja2.Environment) -> str:
    """What, besides a template's source, name and file, the code jinja2 generates for it depends on."""
    parts = [f"jinja2 {jinja2.__version__}"]
    parts += [f"{option}={getattr(env, option)!r}" for option in _CODE_OPTIONS]
    parts += [f"extension {name}" for name in sorted(env.extensions)]
    parts += [f"finalize {_callable_identity(env.finalize)}" if env.finalize is not None else "finalize None"]
    for kind, callables in (("filter", env.filters), ("test", env.tests)):
        parts += [f"{kind} {name} {_callable_identity(value)}" for name, value in sorted(callables.items())]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


class CompiledTemplates(BytecodeCache):
    """jinja2's bytecode cache, in `folder`, for environments with the fingerprint `environment_fingerprint`."""

    def __init__(self, folder: Path, environment_fingerprint: str) -> None:
        self.folder = folder
        self.environment_fingerprint = environment_fingerprint

    def get_cache_key(self, name: str, filename: str | None = None) -> str:
        return hashlib.sha256(f"{self.environment_fingerprint}\0{name}\0{filename}".encode()).hexdigest()

    def get_source_checksum(self, source: str) -> str:
        return hashlib.sha256(source.encode()).hexdigest()

    def _path(self, bucket: Bucket) -> Path:
        return self.folder / f"{bucket.key}{_SUFFIX}"

    def load_bytecode(self, bucket: Bucket) -> None:
        try:
            data = self._path(bucket).read_bytes()
        except OSError:
            return
        try:
            bucket.bytecode_from_string(data)  # compares the magic and the source checksum first
        except Exception:  # a damaged entry: compile again and replace it
            bucket.reset()

    def dump_bytecode(self, bucket: Bucket) -> None:
        with contextlib.suppress(OSError):
            # Not fsynced: an entry torn by a crash fails its magic or checksum and is compiled again.
            atomic_write(self._path(bucket), bucket.bytecode_to_string(), 0o600, durable=False)
            self._trim()

    def _trim(self) -> None:
        entries = []
        for entry in os.scandir(self.folder):
            if entry.name.endswith(_SUFFIX):
                with contextlib.suppress(OSError):
                    entries.append((entry.stat().st_mtime_ns, entry.path))
        for _, path in sorted(entries)[: max(0, len(entries) - MAX_ENTRIES)]:
            with contextlib.suppress(OSError):
                os.unlink(path)


def private_folder(folder: Path) -> Path | None:
    """`folder`, made 0700 if new, when it is a folder (not a link) owned by this user that no one else may
    write; None otherwise, or when it cannot be made."""
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = folder.lstat()
    except OSError:
        return None
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o022:
        return None
    return folder


def compiled_templates(cache: Path | None, env: jinja2.Environment) -> CompiledTemplates | None:
    """The bytecode cache for `env` under the cache folder `cache` (None: no cache, every run compiles)."""
    if cache is None:
        return None
    folder = private_folder(cache / "templates")
    return CompiledTemplates(folder, fingerprint(env)) if folder is not None else None
