"""The inventory: which hosts to install, from which profile, with which per-host values.

```yaml
description: Lab hypervisors
pxe:
  server: http://192.168.80.1:8080        # where the hosts reach `ksbuild serve` (kickstarts, callbacks)
  repo: http://192.168.80.1/centos7/os/x86_64   # inst.repo= (default: the profile's install.source.url)
  kernel: centos7/vmlinuz                 # TFTP paths of the installer kernel and initrd
  initrd: centos7/initrd.img
  kernel_args: ["console=ttyS0,115200n8"]   # quoted: a flow list splits at commas
dhcp: {subnet: 192.168.80.0/24, gateway: 192.168.80.1, tftp_server: 192.168.80.1}
defaults: {profile: kvm-hypervisor, firmware: bios}
groups:
  rack1: {values: {system: {timezone: UTC}}}
hosts:
  - hostname: kvm01.lab.local
    group: rack1
    macs: ["52:54:00:aa:00:01"]
    boot_interface: enp2s0f0
    set:                                  # block style: a flow mapping {..} cannot hold [ ] in a key
      network.bridges[0].ipv4.address: 192.168.80.41/24
```

A host's profile is built in this order, each step laid over the result so far by the profile merge rule
(mappings merge, lists replace, null removes): the profile with its `extends` chain; then for `defaults`, the
host's group and the host itself, first `values` (shaped like a profile) and then `set` (key paths as `--set`
takes them, to change one list item such as one bridge's address). Last, `system.hostname` becomes the
host's `hostname`, and `network.install_device` its `boot_interface` when one is given. `profile` and
`firmware` come from the most specific level that names them. Every value keeps the file:line it came from,
so a problem in a host's profile is reported at the inventory line (or profile line) that caused it.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from pydantic import ValidationError

from builder.errors import BadInput, Finding, Location, cut, shown
from builder.fleet.inventory_model import (
    DEFAULT_FIRMWARE,
    Firmware,
    HostEntry,
    InventoryModel,
    Level,
)
from builder.fsutil import real_path
from builder.load.merge import Layer, merge_layers, strip_nulls
from builder.load.overrides import KeyPathError, apply_values, parse_key_path
from builder.load.profile_loader import LoadedProfile, load_profile
from builder.load.when_target import has_overlays, merge_chain, target_of
from builder.load.yaml_source import INVENTORY_LIMITS, parse_yaml_text, read_text_file
from builder.vocabulary import DEFAULT_ROOTS, KeyPath, Locate, Roots, format_key, locate_in, schema_findings

CHECK = "inventory"
_PROFILE_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class FleetHost:
    """One host: its boot facts and its merged profile data, each value located."""

    index: int
    hostname: str
    macs: tuple[str, ...]
    firmware: Firmware
    boot_interface: str | None
    profile: LoadedProfile  # the profile it is built from (name, path, sources)
    data: dict[str, Any]
    locations: dict[KeyPath, Location]
    entry: Location  # the host's entry in the inventory

    @property
    def sources(self) -> tuple[Path, ...]:
        return self.profile.sources

    def locate(self, path: KeyPath) -> Location:
        return locate_in(self.locations, path, self.entry)

    def merged(self) -> LoadedProfile:
        """The host's merged profile, as the pipeline takes a loaded one: named after the profile it is built
        from, each value located, the host's entry where a value has no line of its own."""
        profile = self.profile
        return LoadedProfile(profile.name, profile.path, self.data, self.locations, profile.sources, self.entry)


@dataclass(frozen=True)
class HostSource:
    """What one host's merged profile is built from, resolved when the inventory is read; `build_host` makes
    the host from it. Picklable and small (the profile is shared), so a fleet render builds hosts in its
    worker processes, a batch at a time, instead of holding 10,000 merged profiles at once."""

    index: int
    entry: HostEntry
    # Each level that applies (defaults, the host's group, the host): its key path, its settings, and the
    # locations inside its `values` and its `set`, relative to them.
    levels: tuple[tuple[KeyPath, Level, Mapping[KeyPath, Location], Mapping[KeyPath, Location]], ...]
    profile: LoadedProfile
    firmware: Firmware
    at: Location  # the host's entry
    hostname_at: Location
    boot_interface_at: Location

    @property
    def hostname(self) -> str:
        return self.entry.hostname


@dataclass(frozen=True)
class Inventory:
    path: Path
    model: InventoryModel
    host_sources: tuple[HostSource, ...]
    locations: Mapping[KeyPath, Location]
    display: str  # the inventory file as messages show it
    root: Location | None = None  # where its top-level mapping starts: findings about the whole file go there
    # Hosts that have no source (an unknown group, no profile, a profile that cannot be loaded): reported with
    # the problems found when the others are built, so one run says everything.
    problems: tuple[Finding, ...] = ()

    @property
    def sources(self) -> tuple[Path, ...]:
        """Every input file: the inventory and each profile file its hosts are built from."""
        files = [self.path] + [path for source in self.host_sources for path in source.profile.sources]
        return tuple(dict.fromkeys(files))

    @functools.cached_property
    def hosts(self) -> tuple[FleetHost, ...]:
        """Every host built (`build_host`); BadInput listing every host that cannot be (a `set` entry that
        cannot be applied, say), each at its line."""
        hosts, findings = [], list(self.problems)
        for source in self.host_sources:
            try:
                hosts.append(build_host(source))
            except BadInput as exc:
                findings.extend(exc.findings)
        if findings:
            raise BadInput(f"{len(findings)} problem(s) in inventory {self.display}", findings)
        return tuple(hosts)

    @property
    def templates_dir(self) -> Path | None:
        if self.model.templates is None:
            return None
        return real_path(self.path.parent / self.model.templates)

    def locate(self, path: KeyPath) -> Location:
        return locate_in(self.locations, path, self.root or Location(self.display))


def for_host(finding: Finding, hostname: str) -> Finding:
    """`finding` with the host named in its message, so a fleet report says which host each problem is on."""
    return replace(finding, message=f"host {hostname}: {finding.message}")


def inventory_schema() -> dict[str, Any]:
    schema = InventoryModel.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "ksbuild fleet inventory"
    return schema


def load_inventory(path: Path, *, roots: Roots = DEFAULT_ROOTS) -> Inventory:
    """Read the inventory, load the profiles it names (bare profile names are looked up in `roots.profile_dirs`,
    as `ksbuild render` looks them up) and resolve what each host is built from.

    Raises BadInput for a file that cannot be read as an inventory (YAML, schema), each problem at its
    file:line. Problems of single hosts (profiles that cannot be loaded, unknown groups) are in `problems`,
    and `hosts` raises them together with those found building the hosts (`set` keys that cannot be applied).
    The merged profiles are not modelled or checked here: that is `builder.fleet.checks`.
    """
    display = roots.display(path)
    text = read_text_file(path, display, INVENTORY_LIMITS)
    document = parse_yaml_text(text, display, limits=INVENTORY_LIMITS)
    if document.data is None or document.findings:
        raise BadInput(f"cannot read inventory {display}", document.findings)
    locations: dict[KeyPath, Location] = document.locations
    root = document.root or Location(display)

    def locate(at: KeyPath) -> Location:
        return locate_in(locations, at, root)

    try:
        model = InventoryModel.model_validate(document.data)
    except ValidationError as exc:
        schema = schema_findings(exc, InventoryModel, locate, CHECK)
        raise BadInput(f"{len(schema)} schema error(s) in inventory {display}", schema) from None

    findings: list[Finding] = []
    profiles = _load_profiles(model, path.parent, roots, locate, findings)
    level_locations = _LevelLocations(locations)
    sources = []
    for index, entry in enumerate(model.hosts):
        source = _host_source(index, entry, model=model, profiles=profiles, level_locations=level_locations,
                              locate=locate, findings=findings)
        if source is not None:
            sources.append(source)
    return Inventory(path, model, tuple(sources), MappingProxyType(locations), display, root, tuple(findings))


# -- profiles ---------------------------------------------------------------------------------------------


def _profile_ref(ref: str, inventory_dir: Path) -> str | Path:
    if "/" in ref or ref.endswith(_PROFILE_SUFFIXES):
        return inventory_dir / ref
    return ref


def _load_profiles(
    model: InventoryModel, inventory_dir: Path, roots: Roots, locate: Locate, findings: list[Finding],
) -> dict[str, LoadedProfile | None]:
    """Each profile the inventory names, loaded once (None when it cannot be loaded; findings say why)."""
    named: dict[str, KeyPath] = {}
    if model.defaults.profile is not None:
        named.setdefault(model.defaults.profile, ("defaults", "profile"))
    for name, group in model.groups.items():
        if group.profile is not None:
            named.setdefault(group.profile, ("groups", name, "profile"))
    for index, host in enumerate(model.hosts):
        if host.profile is not None:
            named.setdefault(host.profile, ("hosts", index, "profile"))
    loaded: dict[str, LoadedProfile | None] = {}
    for ref, where in named.items():
        try:
            loaded[ref] = load_profile(_profile_ref(ref, inventory_dir), roots=roots)
        except BadInput as exc:
            loaded[ref] = None
            found = exc.findings or (Finding(CHECK, exc.message),)
            # A profile that is not found is the inventory's problem; one that is broken, the profile's.
            for finding in found:
                location, message = finding.location, finding.message
                if location is None or location.line is None:
                    # The profile file itself cannot be found or read: said where the inventory names it.
                    message = f"{location.file}: {message}" if location is not None else message
                    location = locate(where)
                key = finding.key or format_key(where)
                findings.append(Finding(finding.check, message, location, key, finding.severity))
    return loaded


# -- merging ----------------------------------------------------------------------------------------------


class _LevelLocations:
    """The locations inside each level's `values` and `set`, relative to them, indexed in one pass."""

    def __init__(self, locations: Mapping[KeyPath, Location]) -> None:
        self._by_prefix: dict[KeyPath, dict[KeyPath, Location]] = {}
        for path, location in locations.items():
            prefix = self._prefix_of(path)
            if prefix is not None:
                self._by_prefix.setdefault(prefix, {})[path[len(prefix):]] = location

    @staticmethod
    def _prefix_of(path: KeyPath) -> KeyPath | None:
        if len(path) > 2 and path[0] == "defaults" and path[1] in ("values", "set"):
            return path[:2]
        if len(path) > 3 and path[0] in ("groups", "hosts") and path[2] in ("values", "set"):
            return path[:3]
        return None

    def values(self, level: KeyPath) -> dict[KeyPath, Location]:
        return self._by_prefix.get((*level, "values"), {})

    def sets(self, level: KeyPath) -> dict[KeyPath, Location]:
        return self._by_prefix.get((*level, "set"), {})


def _apply_sets(
    layer: Layer,
    sets: Mapping[str, Any],
    level: KeyPath,
    where: Mapping[KeyPath, Location],
    findings: list[Finding],
) -> Layer:
    """`layer` with the level's `set` entries applied, each located at its line in the inventory."""
    items = []
    for key, value in sets.items():
        at = where.get((key,))
        try:
            path = _set_key_path(key)
        except KeyPathError as exc:
            findings.append(Finding(CHECK, f"set {cut(key)}: {exc} (key paths are written as --set takes them)",
                                    at, format_key((*level, "set", key))))
            continue
        items.append((key, path, strip_nulls(value), at))
    for key, path, value, at in items:
        try:
            layer = apply_values(layer, [(path, value, at or Location(format_key((*level, "set", key))))])
        except BadInput as exc:
            findings.extend(Finding(CHECK, f"set {cut(key)}: {f.message}", at, format_key((*level, "set", key)))
                            for f in exc.findings)
    return layer


@functools.lru_cache(maxsize=4096)
def _set_key_path(key: str) -> KeyPath:
    """A `set` key read as --set reads it (most are repeated for every host: read once)."""
    path, end = parse_key_path(key)
    if end != len(key):
        raise KeyPathError(f"unexpected {shown(key[end:])} at character {end + 1}")
    if path[0] == "extends":
        raise KeyPathError("extends cannot be set: it is read before any value is set")
    return path


def _put(
    data: dict[str, Any],
    locations: dict[KeyPath, Location],
    path: tuple[str, str],
    value: str,
    location: Location,
) -> None:
    section = data.setdefault(path[0], {})
    if not isinstance(section, dict):
        return  # the profile schema check reports the wrong type
    section[path[1]] = value
    locations[path] = location


def _host_source(
    index: int,
    entry: HostEntry,
    *,
    model: InventoryModel,
    profiles: Mapping[str, LoadedProfile | None],
    level_locations: _LevelLocations,
    locate: Locate,
    findings: list[Finding],
) -> HostSource | None:
    here: KeyPath = ("hosts", index)
    levels: list[tuple[KeyPath, Level]] = [(("defaults",), model.defaults)]
    if entry.group is not None:
        group = model.groups.get(entry.group)
        if group is None:
            close = difflib.get_close_matches(entry.group, sorted(model.groups), n=1, cutoff=0.6)
            known = ", ".join(sorted(model.groups)) or "none"
            hint = f"; did you mean {close[0]!r}?" if close else f" (groups: {known})"
            message = f"host {entry.hostname}: no group named {shown(entry.group)}{hint}"
            findings.append(Finding(CHECK, message, locate((*here, "group")), format_key((*here, "group"))))
            return None
        levels.append((("groups", entry.group), group))
    levels.append((here, entry))

    profile_ref = next((level.profile for _, level in reversed(levels) if level.profile is not None), None)
    if profile_ref is None:
        message = f"host {entry.hostname}: no profile; set profile: in defaults, in its group or on the host"
        findings.append(Finding(CHECK, message, locate(here), format_key(here)))
        return None
    profile = profiles.get(profile_ref)
    if profile is None:
        return None  # why is reported once, where the profile is named
    firmware = next((level.firmware for _, level in reversed(levels) if level.firmware is not None),
                    DEFAULT_FIRMWARE)
    return HostSource(
        index=index, entry=entry,
        levels=tuple((path, level, level_locations.values(path), level_locations.sets(path))
                     for path, level in levels),
        profile=profile, firmware=firmware, at=locate(here), hostname_at=locate((*here, "hostname")),
        boot_interface_at=locate((*here, "boot_interface")),
    )


def build_host(source: HostSource) -> FleetHost:
    """The host's merged profile data, each value located; BadInput (naming the host) when a `set` entry
    cannot be applied or the hostname is set elsewhere."""
    entry, profile = source.entry, source.profile
    findings: list[Finding] = []

    def merge_levels(base: Layer) -> Layer:
        # merge_layers returns fresh containers: the one copy made here is the host's own, so the `set`
        # entries and the hostname below may change it in place without touching the shared profile data.
        _, defaults, defaults_values, _ = source.levels[0]
        merged = merge_layers(base, Layer(defaults.values, defaults_values))
        for position, (path, level, values_at, sets_at) in enumerate(source.levels):
            if level.values and position > 0:
                merged = merge_layers(merged, Layer(level.values, values_at))
            merged = _apply_sets(merged, level.set_values, path, sets_at, findings)
        return merged

    merged = merge_levels(Layer(profile.data, profile.locations))
    host_target = target_of(merged.data)
    if not findings and has_overlays(profile.chain) and host_target != target_of(profile.data):
        # The host's target is not its profile's: the profile's when_target entries for the host's target apply.
        merged = merge_levels(merge_chain(profile.chain, host_target))
    if not findings:
        _check_hostname_not_set_elsewhere(merged, entry, profile, findings)
    if findings:
        named = [for_host(finding, entry.hostname) for finding in findings]
        raise BadInput(f"host {entry.hostname}: {len(named)} problem(s)", named)
    data, locations = merged.data, dict(merged.locations)
    _put(data, locations, ("system", "hostname"), entry.hostname, source.hostname_at)
    if entry.boot_interface is not None:
        _put(data, locations, ("network", "install_device"), entry.boot_interface, source.boot_interface_at)
    return FleetHost(
        index=source.index,
        hostname=entry.hostname,
        macs=entry.macs,
        firmware=source.firmware,
        boot_interface=entry.boot_interface,
        profile=profile,
        data=data,
        locations=locations,
        entry=source.at,
    )


def _check_hostname_not_set_elsewhere(
    layer: Layer, entry: HostEntry, profile: LoadedProfile, findings: list[Finding]
) -> None:
    # The profile's own hostname is expected (and replaced); one set in the inventory's values would be
    # silently lost, so it is refused.
    location = layer.locations.get(("system", "hostname"))
    system = layer.data.get("system")
    value = system.get("hostname") if isinstance(system, dict) else None
    from_profile = location == profile.locations.get(("system", "hostname"))
    if location is None or value in (None, entry.hostname) or from_profile:
        return
    message = (f"system.hostname is set to {shown(value)} here, but each host's hostname comes from its "
               "hostname: key")
    findings.append(Finding(CHECK, message, location, "system.hostname"))
