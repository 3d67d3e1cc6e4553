"""``--set key.path=value``: change one value of the merged profile from the command line.

The key is written as ``format_key`` prints it: ``network.bridges[0].stp``, ``sysctl["net.ipv4.ip_forward"]``.
The value is YAML read by the same safe loader as profiles: ``false`` is a boolean, ``[1.1.1.1]`` a list,
``'5'`` a string, and an empty value or ``null`` removes the key (the merge rule's "null means not set").
Missing mappings on the way are created. A list index must name an existing item, or be the list's
length to append one (so ``packages.install[3]=foo`` on a three-item list adds a fourth).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Sequence
from typing import Any

from builder.errors import BadInput, Finding, Location, cut
from builder.load.merge import Layer, drop_locations, strip_nulls
from builder.load.yaml_source import CHECK, MAX_NESTING, parse_yaml_text
from builder.vocabulary import KeyPath, format_key

_NAME = re.compile(r"[A-Za-z0-9_-]+")
_INDEX = re.compile(r"\[([0-9]+)\]")


class KeyPathError(ValueError):
    """A key path that cannot be read; the message says where and why."""


def parse_key_path(text: str) -> tuple[KeyPath, int]:
    """Read a key path from the start of `text`: the path and the offset just after it.

    Inverse of ``format_key``: ``parse_key_path(format_key(p))[0] == p`` for every non-empty path.
    """
    path: list[str | int] = []
    position = 0
    decoder = json.JSONDecoder()
    while position < len(text):
        char = text[position]
        if char == "." and path:
            name = _NAME.match(text, position + 1)
            if name is None:
                raise KeyPathError(f"expected a key name after '.' at character {position + 2}")
            path.append(name.group())
            position = name.end()
        elif text.startswith('["', position):
            try:
                key, end = decoder.raw_decode(text, position + 1)
            except json.JSONDecodeError as exc:
                raise KeyPathError(f"bad quoted key at character {position + 2}: {exc.msg}") from exc
            if not text.startswith("]", end):
                raise KeyPathError(f"expected ']' after the quoted key at character {end + 1}")
            path.append(key)
            position = end + 1
        elif char == "[":
            index = _INDEX.match(text, position)
            if index is None or not path:
                raise KeyPathError(f"expected a key or [index] at character {position + 1}")
            path.append(int(index.group(1)))
            position = index.end()
        elif not path and (name := _NAME.match(text, position)) is not None:
            path.append(name.group())
            position = name.end()
        else:
            break
    if not path:
        raise KeyPathError("expected a key path such as system.selinux")
    if len(path) > MAX_NESTING:
        raise KeyPathError(f"the key path is longer than {MAX_NESTING} parts")
    return tuple(path), position


_SECRET_WORDS = re.compile(r"pass(word|phrase)?|secret|hash|token|rootpw|sshpw", re.IGNORECASE)
HIDDEN_VALUE = "(secret, not shown)"


def recorded_override(text: str) -> str:
    """A ``--set`` text as a manifest records it: a value that may be a secret (the key, or a key inside the
    value, names a password, hash, passphrase, secret or token: a plaintext typed by mistake included) is
    replaced by "(secret, not shown)", so the record says a secret was set, not what it is."""
    if not _SECRET_WORDS.search(text):
        return text
    try:
        _, end = parse_key_path(text)
    except KeyPathError:
        end = text.find("=") if "=" in text else len(text)
    key = text[:end].rstrip(" ")
    return f"{key}={HIDDEN_VALUE}" if "=" in text[end:] else key


def shown_override(text: str) -> str:
    """A ``--set`` text as messages and ``show`` repeat it: as recorded, and cut when long."""
    return cut(recorded_override(text), 200)


def override_location(text: str) -> Location:
    """Where a ``--set`` value comes from, as messages and ``show`` name it (a secret's value not shown)."""
    return Location(f"--set {shown_override(text)}")


def parse_override(text: str, origin: Location | None = None) -> tuple[KeyPath, Any]:
    """``"network.bridges[0].stp=false"`` → ``(("network", "bridges", 0, "stp"), False)``.

    Raises BadInput (located at `origin`, by default ``--set TEXT``) unless the text is KEY=VALUE with a
    readable key and YAML value.
    """
    origin = origin or override_location(text)

    def refuse(message: str, key: str | None = None) -> BadInput:
        finding = Finding(CHECK, message, origin, key)
        return BadInput(finding.format(), [finding])

    try:
        path, end = parse_key_path(text)
    except KeyPathError as exc:
        raise refuse(f"{exc} (the form is KEY=VALUE, e.g. system.selinux=permissive)") from exc
    if path[0] == "extends":
        raise refuse("cannot be changed with --set: it is read before any --set applies", "extends")
    rest = text[end:].lstrip(" ")
    if not rest.startswith("="):
        raise refuse("expected '=' after the key (the form is KEY=VALUE, e.g. system.selinux=permissive)")
    document = parse_yaml_text(rest[1:], origin.file, require_mapping=False)
    if document.findings:
        problem = document.findings[0].message.removeprefix("YAML error: ")
        raise refuse(f"the value is not valid YAML: {problem}", format_key(path))
    return path, strip_nulls(document.data)


def apply_overrides(layer: Layer, overrides: Sequence[str]) -> Layer:
    """`layer` with each ``--set`` text applied in order; BadInput listing every override that cannot be
    applied. `layer.data` is changed in place."""
    findings: list[Finding] = []
    items: list[tuple[KeyPath, Any, Location]] = []
    for text in overrides:
        try:
            path, value = parse_override(text)
            items.append((path, value, override_location(text)))
        except BadInput as exc:
            findings.extend(exc.findings)
    try:
        result = apply_values(layer, items)
    except BadInput as exc:
        findings.extend(exc.findings)
    if findings:
        raise BadInput(f"{len(findings)} bad --set option(s)", findings)
    return result


def apply_values(layer: Layer, items: Sequence[tuple[KeyPath, Any, Location]]) -> Layer:
    """`layer` with each (key path, value, where it was given) set in order, as ``--set`` sets it (null removes);
    BadInput listing every one that cannot be applied. `layer.data` is changed in place; values are copied, so
    one value given for many hosts is not shared between them."""
    data = layer.data
    locations = dict(layer.locations)
    findings: list[Finding] = []
    for path, value, origin in items:
        try:
            _apply(data, locations, path, copy.deepcopy(value), origin)
        except BadInput as exc:
            findings.extend(exc.findings)
    if findings:
        raise BadInput(f"{len(findings)} bad --set option(s)", findings)
    return Layer(data, locations)


def _apply(
    data: dict[str, Any], locations: dict[KeyPath, Location], path: KeyPath, value: Any, origin: Location
) -> None:
    """Set `path` to `value` in place (null removes); BadInput if the path runs through something else."""

    def refuse(message: str, at: KeyPath) -> BadInput:
        finding = Finding(CHECK, message, origin, format_key(at) or None)
        return BadInput(finding.format(), [finding])

    container: Any = data
    for depth, part in enumerate(path):
        here = path[: depth + 1]
        last = depth == len(path) - 1
        if isinstance(container, dict):
            if isinstance(part, int):
                raise refuse(f"is a mapping, not a list: use .key instead of [{part}]", path[:depth])
            if last:
                drop_locations(container.get(part), here, locations)
                if value is None:
                    container.pop(part, None)
                    return
                container[part] = value
                _record(value, here, origin, locations)
                return
            if part not in container:
                if value is None:
                    return  # nothing there to remove
                container[part] = [] if isinstance(path[depth + 1], int) else {}
                locations[here] = origin
            container = container[part]
        elif isinstance(container, list):
            if isinstance(part, str):
                raise refuse(f"is a list, not a mapping: use [index] instead of .{part}", path[:depth])
            if part > len(container):
                size = len(container)
                message = f"index {part} is out of range: the list has {size} item(s); [{size}] appends one"
                raise refuse(message, path[:depth])
            if last:
                if value is None:
                    raise refuse("a list item cannot be removed with null; set the whole list instead", here)
                if part < len(container):
                    drop_locations(container[part], here, locations)
                    container[part] = value
                else:
                    container.append(value)
                _record(value, here, origin, locations)
                return
            if part == len(container):
                if value is None:
                    return  # nothing there to remove
                container.append([] if isinstance(path[depth + 1], int) else {})
                locations[here] = origin
            container = container[part]
        else:
            kind = "null" if container is None else type(container).__name__
            raise refuse(f"is a {kind} value, not a mapping or a list", path[:depth])


def _record(value: Any, path: KeyPath, origin: Location, locations: dict[KeyPath, Location]) -> None:
    locations[path] = origin
    if isinstance(value, dict):
        for key, item in value.items():
            _record(item, (*path, key), origin, locations)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _record(item, (*path, index), origin, locations)
