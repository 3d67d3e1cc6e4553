"""Where ksbuild's own data lives, in a source checkout and in an installed wheel."""

from __future__ import annotations

import os
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent
_SOURCE_ROOT = _PACKAGE_DIR.parent


def _data_dir(name: str) -> Path:
    in_checkout = _SOURCE_ROOT / name
    if in_checkout.is_dir():
        return in_checkout
    return _PACKAGE_DIR / "_data" / name


def templates_dir() -> Path:
    """The shipped kickstart templates."""
    return _data_dir("kickstart_templates")


def shipped_profiles_dir() -> Path:
    """The profiles that ship with ksbuild."""
    return _data_dir("profiles")


def user_cache_dir() -> Path | None:
    """ksbuild's folder in the user's cache: $XDG_CACHE_HOME/ksbuild, else ~/.cache/ksbuild; None without a home."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    if os.path.isabs(base):
        return Path(base) / "ksbuild"
    try:
        return Path.home() / ".cache" / "ksbuild"
    except RuntimeError:  # no $HOME and no password entry
        return None
