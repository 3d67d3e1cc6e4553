"""``ksbuild show``: the merged profile as YAML, each value annotated with the file and line it came from.

The output is valid YAML that reads back (with PyYAML's safe loader or ksbuild's) as the same data:
strings that would read as something else (``yes``, ``0644``, ``52:54:00:12:34:56``, ``""``) are quoted.
"""

from __future__ import annotations

import math
import re
from typing import Any

import yaml

from builder.errors import Location
from builder.load.profile_loader import LoadedProfile
from builder.load.yaml_source import ProfileYamlLoader
from builder.vocabulary import KeyPath

_INDENT = "  "
_COMMENT_COLUMN_LIMIT = 60
# Plain (unquoted) style is used only for strings made of these characters; anything else is quoted.
_PLAIN_CANDIDATE = re.compile(r"[\w./@%+~-][\w./@%+~:, -]*")
_SHORT_ESCAPES = {"\0": "\\0", "\t": "\\t", "\n": "\\n", "\r": "\\r", '"': '\\"', "\\": "\\\\"}

_Line = tuple[str, str | None]  # text, origin comment


def render_provenance(profile: LoadedProfile) -> str:
    """The profile's merged data as YAML with ``# file:line`` after each scalar and each list item."""
    if not profile.data:
        return "{}\n"
    lines = _mapping_lines(profile, profile.data, ())
    commented = [len(text) for text, origin in lines if origin is not None]
    column = min(max(commented, default=0), _COMMENT_COLUMN_LIMIT) + 2
    out: list[str] = []
    for text, origin in lines:
        if origin is None:
            out.append(text)
        else:
            out.append(f"{text.ljust(column - 2)}  # {origin}")
    return "\n".join(out) + "\n"


def format_scalar(value: Any) -> str:
    """`value` written so that YAML reads it back as the same value and type."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _format_float(value)
    text = str(value)
    return text if _plain_is_safe(text) else _double_quoted(text)


def _format_float(value: float) -> str:
    if math.isnan(value):
        return ".nan"
    if math.isinf(value):
        return ".inf" if value > 0 else "-.inf"
    text = repr(value).lower()
    # YAML 1.1 floats need a dot and a signed exponent: 1e+20 would read back as a string.
    if "." not in text:
        mantissa, _, exponent = text.partition("e")
        text = f"{mantissa}.0" + (f"e{exponent}" if exponent else "")
    if "e" in text and text.split("e")[1][0] not in "+-":
        mantissa, exponent = text.split("e")
        text = f"{mantissa}e+{exponent}"
    return text


def _plain_is_safe(text: str) -> bool:
    if not _PLAIN_CANDIDATE.fullmatch(text) or text != text.strip() or text.endswith(":") or ": " in text:
        return False
    # The reader decides: a plain scalar is safe only if both loaders read it back as this very string.
    for loader in (yaml.SafeLoader, ProfileYamlLoader):
        try:
            if yaml.load(text, Loader=loader) != text:  # type: ignore[arg-type]  # noqa: S506 - both are safe loaders
                return False
        except (yaml.YAMLError, ValueError):
            return False
    return True


def _double_quoted(text: str) -> str:
    parts: list[str] = []
    for char in text:
        if char in _SHORT_ESCAPES:
            parts.append(_SHORT_ESCAPES[char])
        elif char.isprintable():
            parts.append(char)
        elif ord(char) <= 0xFF:
            parts.append(f"\\x{ord(char):02x}")
        elif ord(char) <= 0xFFFF:
            parts.append(f"\\u{ord(char):04x}")
        else:
            parts.append(f"\\U{ord(char):08x}")
    return '"' + "".join(parts) + '"'


def _origin(profile: LoadedProfile, path: KeyPath) -> str:
    return _shown(profile.locate(path))


def _shown(location: Location) -> str:
    # A comment ends at the line's end: keep odd file names on one line.
    file = location.file.replace("\n", "\\n").replace("\r", "\\r")
    return f"{file}:{location.line}" if location.line is not None else file


def _mapping_lines(profile: LoadedProfile, mapping: dict[str, Any], path: KeyPath) -> list[_Line]:
    lines: list[_Line] = []
    for key, value in mapping.items():
        child = (*path, key)
        label = format_scalar(key) + ":"
        if isinstance(value, dict | list) and value:
            lines.append((label, None))
            lines.extend((_INDENT + text, origin) for text, origin in _value_lines(profile, value, child))
        else:
            lines.append((f"{label} {_inline(value)}", _origin(profile, child)))
    return lines


def _sequence_lines(profile: LoadedProfile, items: list[Any], path: KeyPath) -> list[_Line]:
    lines: list[_Line] = []
    for index, item in enumerate(items):
        child = (*path, index)
        if isinstance(item, dict | list) and item:
            nested = _value_lines(profile, item, child)
            first_text, first_origin = nested[0]
            lines.append(("- " + first_text, first_origin or _origin(profile, child)))
            lines.extend((_INDENT + text, origin) for text, origin in nested[1:])
        else:
            lines.append((f"- {_inline(item)}", _origin(profile, child)))
    return lines


def _value_lines(profile: LoadedProfile, value: dict[str, Any] | list[Any], path: KeyPath) -> list[_Line]:
    if isinstance(value, dict):
        return _mapping_lines(profile, value, path)
    return _sequence_lines(profile, value, path)


def _inline(value: Any) -> str:
    if isinstance(value, dict):
        return "{}"
    if isinstance(value, list):
        return "[]"
    return format_scalar(value)
