"""The imported profile as YAML: keys in the model's order, each value commented with the kickstart line it came
from, scripts as literal blocks; and, with `--extends`, only what differs from the base.

Deterministic: the same data and origins give the same bytes. The text is read back (yaml.safe_load) and must
equal the data, so a quoting mistake can never change a value silently.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from builder.errors import KsbuildError, Location
from builder.vocabulary import KeyPath, locate_in, models_in

_INDENT = "  "


# Keys that say which item of a list this is: written first, whatever the model's order.
_IDENTITY = ("name", "id", "parent", "mount", "volume_group")


def ordered(data: Any, model: Any, *, item: bool = False) -> Any:
    """`data` with mapping keys in the order of the model's fields (others first, in their own order); list items
    start with the keys that identify them."""
    if isinstance(data, list):
        return [ordered(entry, model, item=True) for entry in data]
    if not isinstance(data, dict):
        return data
    models = models_in(model) if model is not None else []
    fields = models[0].model_fields if models else {}
    first = [key for key in data if key not in fields]
    if item:
        first += [key for key in _IDENTITY if key in data and key in fields]
    keys = first + [key for key in fields if key in data and key not in first]
    return {key: ordered(data[key], fields[key].annotation if key in fields else None) for key in keys}


def _scalar(value: Any) -> str:
    """A scalar as it reads after `key: ` in block style (quoted only where YAML needs it)."""
    text: str = yaml.safe_dump({"k": value}, default_flow_style=False, width=1 << 30, allow_unicode=True)
    body = text.removeprefix("k: ").removesuffix("\n")
    if "\n" in body:
        # A string YAML would fold over lines: one double-quoted line instead.
        text = yaml.safe_dump({"k": value}, default_style='"', width=1 << 30, allow_unicode=True)
        body = text.removeprefix('"k": ').removesuffix("\n")
    return body


def _literal_ok(text: str) -> bool:
    return "\n" in text and all(ch in "\t\n" or (ch.isprintable() and ch not in "\x85\u2028\u2029") for ch in text)


def _block(text: str, indent: str) -> list[str]:
    """A literal block scalar (`|`), with chomping and indentation indicators where the text needs them."""
    stripped = text.rstrip("\n")
    trailing = len(text) - len(stripped)
    chomp = "-" if trailing == 0 else "" if trailing == 1 else "+"
    lines = stripped.split("\n") if chomp != "+" else text.split("\n")[:-1]
    first = next((line for line in lines if line.strip()), "")
    needs_indicator = first.startswith(" ") or (lines and not lines[0].strip())
    header = f"|{'2' if needs_indicator else ''}{chomp}"
    body = [f"{indent}{_INDENT}{line}" if line else "" for line in lines]
    return [header, *body]


class _Writer:
    def __init__(self, origins: Mapping[KeyPath, Location], source: str) -> None:
        self.origins = origins
        self.source = source
        self.out: list[str] = []

    def comment(self, path: KeyPath, parent: KeyPath) -> str:
        origin = self.origins.get(path)
        # Said once where it changes: not again on a value from the same line as the key above it.
        if origin is None or origin == locate_in(self.origins, parent, None):
            return ""
        where = f"line {origin.line}" if origin.file == self.source else str(origin)
        return f"  # {where}"

    def value_lines(self, prefix: str, value: Any, path: KeyPath, parent: KeyPath, indent: str) -> None:
        """`prefix` is `key:` or `-`; the value follows on the same line or below."""
        note = self.comment(path, parent)
        if isinstance(value, dict) and value:
            self.out.append(f"{indent}{prefix}{note}")
            self.mapping(value, path, indent + _INDENT)
        elif isinstance(value, list) and value:
            self.out.append(f"{indent}{prefix}{note}")
            self.sequence(value, path, indent + _INDENT)
        elif isinstance(value, str) and _literal_ok(value):
            block = _block(value, indent)
            self.out.append(f"{indent}{prefix} {block[0]}{note}")
            self.out.extend(block[1:])
        else:
            self.out.append(f"{indent}{prefix} {_scalar(value)}{note}")

    def mapping(self, data: dict[str, Any], path: KeyPath, indent: str) -> None:
        for key, value in data.items():
            self.value_lines(f"{_scalar(key)}:", value, (*path, key), path, indent)

    def sequence(self, items: list[Any], path: KeyPath, indent: str) -> None:
        for index, item in enumerate(items):
            item_path = (*path, index)
            if isinstance(item, dict) and item:
                # `- key: value` for the first key, the others below it.
                start = len(self.out)
                self.mapping(item, item_path, indent + _INDENT)
                first = self.out[start]
                note = self.comment(item_path, path)
                self.out[start] = f"{indent}- {first.lstrip()}"
                if note and "  # " not in first:
                    self.out[start] += note
            else:
                self.value_lines("-", item, item_path, path, indent)


def to_yaml(data: dict[str, Any], origins: Mapping[KeyPath, Location], source: str, header: list[str]) -> str:
    """The profile text: `header` as comment lines, then the data with line comments."""
    writer = _Writer(origins, source)
    writer.mapping(data, (), "")
    text = "".join(f"# {line}\n" if line else "#\n" for line in header) + "\n".join(writer.out) + "\n"
    if yaml.safe_load(text) != data:
        raise KsbuildError("internal error: the imported profile does not read back as written; please report it")
    return text


def differences(mine: Any, base: Any, friendly: Any) -> Any:
    """What a child profile must say so that merging it over `base` gives `mine` (both full model dumps):
    mappings merge, so only differing keys; lists and scalars replace; a value the base has and `mine` lacks is
    null. Values come from `friendly` (the import's own data) where it has them, so they read as imported."""
    if isinstance(mine, dict) and isinstance(base, dict):
        out: dict[str, Any] = {}
        for key, value in mine.items():
            if key in base and base[key] == value:
                continue
            sub_friendly = friendly.get(key) if isinstance(friendly, dict) else None
            if value is None:
                out[key] = None
            elif isinstance(value, dict) and isinstance(base.get(key), dict):
                if isinstance(sub_friendly, dict) or sub_friendly is None:
                    out[key] = differences(value, base[key], sub_friendly)
                else:
                    out[key] = sub_friendly
            else:
                out[key] = sub_friendly if sub_friendly is not None else value
        return out
    return friendly if friendly is not None else mine
