"""``when_target``: values a profile file gives only for some targets.

```yaml
target: centos7
install: {source: {url: "http://mirror.lab/centos7/os/x86_64"}}
when_target:
  el9:
    install: {source: {url: "http://mirror.lab/el9/BaseOS/x86_64/os/"}}
```

Each file of an ``extends`` chain may have one. An overlay belongs to its file: it is laid over that file's own
values (by the merge rule) before the next file of the chain is, so a child's explicit value still beats its
base's overlay, and ``--set`` beats everything. The target that picks the overlays is the one the whole chain and
``--set`` end up with; an overlay may therefore not set ``target`` (nor ``extends``). Keys are target names or
aliases; for ``rocky9`` the ``el9`` overlay applies first, then a ``rocky9`` one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from builder import targets
from builder.errors import Finding, Location
from builder.load.merge import Layer, merge_layers
from builder.load.yaml_source import CHECK
from builder.vocabulary import KeyPath, format_key

WHEN_TARGET_KEY = "when_target"
_NOT_IN_OVERLAY = ("target", "extends", WHEN_TARGET_KEY)


@dataclass(frozen=True)
class ChainLink:
    """One file of an ``extends`` chain: its own values and its overlays by target name."""

    layer: Layer
    overlays: Mapping[str, Layer] = field(default_factory=dict)


def split_overlays(layer: Layer, display: str, findings: list[Finding]) -> ChainLink:
    """`layer` without its ``when_target``, and that key's overlays; problems go to `findings`."""
    data = dict(layer.data)
    raw = data.pop(WHEN_TARGET_KEY, None)
    own = {p: loc for p, loc in layer.locations.items() if p[:1] != (WHEN_TARGET_KEY,)}
    if raw is None:
        return ChainLink(Layer(data, own))
    where = layer.locations.get((WHEN_TARGET_KEY,), Location(display))

    def problem(path: KeyPath, message: str) -> None:
        findings.append(Finding(CHECK, message, layer.locations.get(path, where), format_key(path)))

    if not isinstance(raw, dict):
        problem((WHEN_TARGET_KEY,), "must map target names to profile values, e.g. when_target: {el9: {...}}")
        return ChainLink(Layer(data, own))
    overlays: dict[str, Layer] = {}
    for name, values in raw.items():
        path: KeyPath = (WHEN_TARGET_KEY, name)
        try:
            targets.alias(str(name))
        except targets.UnknownTarget as exc:
            problem(path, str(exc))
            continue
        if not isinstance(values, dict):
            problem(path, "must be a mapping of profile values, e.g. {install: {source: {url: ...}}}")
            continue
        refused = [key for key in _NOT_IN_OVERLAY if key in values]
        for key in refused:
            problem((*path, key), f"cannot be set under when_target (the target picks the overlay); set {key} "
                    "at the top of the file")
        if refused:
            continue
        prefix = len(path)
        locations = {p[prefix:]: loc for p, loc in layer.locations.items() if p[:prefix] == path and len(p) > prefix}
        overlays[str(name)] = Layer(values, locations)
    return ChainLink(Layer(data, own), overlays)


def overlay_names(name: str) -> tuple[str, ...]:
    """The overlay keys that apply to target `name`, in the order they are laid: canonical, then the alias."""
    try:
        canonical = targets.alias(name).target
    except targets.UnknownTarget:
        return ()
    return (canonical,) if canonical == name else (canonical, name)


def merge_chain(links: Sequence[ChainLink], target_name: str | None) -> Layer:
    """The chain merged from its base (the last link) to its top, each file followed by its overlays for
    `target_name` (none when it is None)."""
    names = overlay_names(target_name) if target_name is not None else ()
    merged = Layer({}, {})
    for link in reversed(links):
        merged = merge_layers(merged, link.layer)
        for name in names:
            overlay = link.overlays.get(name)
            if overlay is not None:
                merged = merge_layers(merged, overlay)
    return merged


def has_overlays(links: Sequence[ChainLink]) -> bool:
    return any(link.overlays for link in links)


def target_of(data: Mapping[str, Any]) -> str:
    """The target the merged data names (the default when it names none); not checked here."""
    value = data.get("target", targets.DEFAULT_TARGET)
    return value if isinstance(value, str) else targets.DEFAULT_TARGET
