"""How a profile's values combine with the profile it `extends`.

Merge rule, applied from the base outwards (base, then each profile that extends it, then ``--set``):

- mappings merge deeply: a key the child does not mention keeps the base's value;
- lists replace wholesale: the child's list is the result, the base's items are gone;
- scalars replace, and so does any value whose type differs from the base's;
- ``null`` means "not set": a key whose value is null is removed from the result (in a child it removes
  what the base set; in a list item's mapping it is simply left out). A list item itself can be null.

The location of every value in the result is the location of the value that won, so a replaced list
keeps no trace of the base's items, and a merged mapping is located where the child wrote it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from builder.errors import Location
from builder.vocabulary import KeyPath


@dataclass(frozen=True)
class Layer:
    """Profile data with the location of each value (and each mapping key) in it."""

    data: dict[str, Any]
    locations: Mapping[KeyPath, Location]


def strip_nulls(value: Any) -> Any:
    """`value` without null mapping entries, at every depth (list items stay, null or not)."""
    if isinstance(value, dict):
        return {key: strip_nulls(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [strip_nulls(item) for item in value]
    return value


def copy_locations(
    value: Any, path: KeyPath, source: Mapping[KeyPath, Location], target: dict[KeyPath, Location]
) -> None:
    """Copy the locations of `value` (at `path`) and everything inside it from `source` into `target`."""
    if path in source:
        target[path] = source[path]
    if isinstance(value, dict):
        for key, item in value.items():
            copy_locations(item, (*path, key), source, target)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            copy_locations(item, (*path, index), source, target)


def drop_locations(value: Any, path: KeyPath, target: dict[KeyPath, Location]) -> None:
    """Forget the locations of `value` (at `path`) and everything inside it."""
    target.pop(path, None)
    if isinstance(value, dict):
        for key, item in value.items():
            drop_locations(item, (*path, key), target)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            drop_locations(item, (*path, index), target)


def merge_layers(base: Layer, child: Layer) -> Layer:
    """`child` laid over `base` by the merge rule in this module's docstring; neither input is changed."""
    locations: dict[KeyPath, Location] = {}

    def merge_mapping(base_map: dict[str, Any], child_map: dict[str, Any], path: KeyPath) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, base_value in base_map.items():
            if key not in child_map and base_value is not None:
                result[key] = strip_nulls(base_value)
                copy_locations(result[key], (*path, key), base.locations, locations)
        for key, child_value in child_map.items():
            key_path = (*path, key)
            base_value = base_map.get(key)
            if child_value is None:
                continue
            if isinstance(child_value, dict) and isinstance(base_value, dict):
                result[key] = merge_mapping(base_value, child_value, key_path)
                origin = child.locations.get(key_path) or base.locations.get(key_path)
                if origin is not None:
                    locations[key_path] = origin
            else:
                result[key] = strip_nulls(child_value)
                copy_locations(result[key], key_path, child.locations, locations)
        # Keys in the base's order, then the child's new keys in the child's order.
        ordered = {key: result[key] for key in base_map if key in result}
        ordered.update((key, result[key]) for key in child_map if key in result and key not in ordered)
        return ordered

    return Layer(merge_mapping(base.data, child.data, ()), locations)
