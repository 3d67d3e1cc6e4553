"""Read one YAML file safely into plain data, remembering the line every key and value came from.

PyYAML's SafeLoader composes the document into nodes (which carry marks); the values are then built
from the nodes here, so that each one keeps its line and so that what PyYAML accepts silently
(duplicate keys) or dangerously (alias bombs, recursive aliases) is refused with a located message.

Scalars follow YAML 1.1 as PyYAML's safe loader reads them (``yes``/``no`` are booleans, ``0644`` is
octal), with two exceptions that protect values a hypervisor profile holds: sexagesimal numbers
(``52:54:00:12:34:56`` would otherwise be the integer 196706148396) and timestamps (``2024-01-01``
would be a ``date``) stay strings, as YAML 1.2 reads them.
"""

from __future__ import annotations

import json
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import yaml
from yaml.events import AliasEvent, CollectionStartEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from builder.errors import BadInput, Finding, Location, cut, shown
from builder.fsutil import path_problem
from builder.vocabulary import KeyPath, format_key

MAX_NESTING = 64
"""How deep mappings and lists may nest; real profiles use fewer than ten levels."""


@dataclass(frozen=True)
class YamlLimits:
    """How big one kind of YAML file may be, as written and with its aliases expanded.

    Aliases share composed nodes, so composing is cheap; building values expands every alias. What aliases
    add is counted in bytes (a scalar's UTF-8 length plus one for every value) and in values, as each alias
    is read: one 100 KB string used by 1,000 aliases is refused at the alias that crosses the limit, before
    anything is expanded."""

    what: str  # the files' kind, plural, as messages name it
    file_bytes: int
    alias_bytes: int
    alias_values: int


PROFILE_LIMITS = YamlLimits("profiles", file_bytes=1 << 20, alias_bytes=1 << 20, alias_values=100_000)
"""Profiles are small; a bigger file is a mistake (or an attack on the parser)."""
INVENTORY_LIMITS = YamlLimits("inventories", file_bytes=16 << 20, alias_bytes=16 << 20, alias_values=1_000_000)
"""A fleet inventory lists every host: 10,000 hosts written as the README shows take about 1.6 MB."""
MAX_FILE_BYTES = PROFILE_LIMITS.file_bytes

CHECK = "load"

_TAG_PREFIX = "tag:yaml.org,2002:"
_STR = _TAG_PREFIX + "str"
_INT = _TAG_PREFIX + "int"
_FLOAT = _TAG_PREFIX + "float"
_BOOL = _TAG_PREFIX + "bool"
_NULL = _TAG_PREFIX + "null"
_MAP = _TAG_PREFIX + "map"
_SEQ = _TAG_PREFIX + "seq"
_MERGE = _TAG_PREFIX + "merge"


class _Refused(yaml.MarkedYAMLError):
    """Valid YAML that goes beyond what ksbuild reads (nesting, recursive aliases, alias expansion)."""


@dataclass(frozen=True)
class _Size:
    """What a composed node expands to: bytes (scalars' UTF-8 length plus one per value), values, depth."""

    bytes: int
    values: int
    height: int


class _ProfileResolver(yaml.resolver.BaseResolver):
    """YAML 1.1 types as SafeLoader reads them, except sexagesimal numbers, timestamps and the ``=`` value key."""

    # Own table, filled below; an empty class attribute stops PyYAML copying SafeLoader's resolvers into it.
    yaml_implicit_resolvers: dict[Any, Any] = {}  # noqa: RUF012 - PyYAML keeps this table on the class


class _BoundedComposer(yaml.composer.Composer):
    """PyYAML's composer, refusing deep nesting, recursive aliases and what aliases add beyond `limits`, each at
    its line. It reads events from either parser: PyYAML's own (pure Python) or libyaml's."""

    def __init__(self, limits: YamlLimits) -> None:
        super().__init__()
        self._limits = limits
        self._nesting = 0
        self._open_anchors: set[str] = set()  # anchors of collections still being composed
        self._sizes: dict[int, _Size] = {}
        self._alias_bytes = 0
        self._alias_values = 0

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        # PyYAML composes recursively: refuse deep nesting here, at its line, before Python's stack runs out.
        self._nesting += 1
        try:
            event = self.peek_event()  # type: ignore[attr-defined]  # the parser part of the loader
            if self._nesting > MAX_NESTING:
                self._refuse(f"nested more than {MAX_NESTING} levels deep", event.start_mark)
            if isinstance(event, AliasEvent):
                self._count_alias(event)
                return super().compose_node(parent, index)
            anchor = event.anchor if isinstance(event, CollectionStartEvent) else None
            if anchor is not None:
                self._open_anchors.add(anchor)
            try:
                return super().compose_node(parent, index)
            finally:
                if anchor is not None:
                    self._open_anchors.discard(anchor)
        finally:
            self._nesting -= 1

    def _refuse(self, problem: str, mark: Any) -> NoReturn:
        raise _Refused(None, None, problem, mark)

    def _count_alias(self, event: AliasEvent) -> None:
        """Account for what this alias expands to, or refuse it at its line."""
        node = self.anchors.get(event.anchor)
        if node is None:
            return  # PyYAML reports the undefined alias
        if event.anchor in self._open_anchors:
            self._refuse("an alias refers to the value that contains it (recursive alias)", event.start_mark)
        size = self._size(node)
        if self._nesting - 1 + size.height > MAX_NESTING:
            self._refuse(f"nested more than {MAX_NESTING} levels deep (through this alias)", event.start_mark)
        self._alias_bytes += size.bytes
        self._alias_values += size.values
        limits = self._limits
        if self._alias_bytes > limits.alias_bytes:
            self._refuse(f"aliases expand this document by more than {limits.alias_bytes:,} bytes, the limit for "
                         f"{limits.what} (this alias adds {size.bytes:,})", event.start_mark)
        if self._alias_values > limits.alias_values:
            self._refuse(f"aliases expand this document by more than {limits.alias_values:,} values, the limit "
                         f"for {limits.what} (this alias adds {size.values:,})", event.start_mark)

    def _size(self, node: Node) -> _Size:
        # Memoised over the node graph: a value shared by many aliases is measured once. Every node measured
        # here is complete and at most MAX_NESTING deep, so the recursion is bounded.
        known = self._sizes.get(id(node))
        if known is not None:
            return known
        if isinstance(node, ScalarNode):
            size = _Size(len(str(node.value).encode()) + 1, 1, 1)
        else:
            children = [part for pair in node.value for part in pair] if isinstance(node, MappingNode) else node.value
            parts = [self._size(child) for child in children]
            size = _Size(1 + sum(p.bytes for p in parts), 1 + sum(p.values for p in parts),
                         1 + max((p.height for p in parts), default=0))
        self._sizes[id(node)] = size
        return size


class ProfileYamlLoader(
    _BoundedComposer, yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser, yaml.constructor.SafeConstructor,
    _ProfileResolver,
):
    """The pure-Python loader: its error messages are the ones users see (libyaml words them differently)."""

    def __init__(self, stream: str, limits: YamlLimits = PROFILE_LIMITS) -> None:
        yaml.reader.Reader.__init__(self, stream)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)
        _BoundedComposer.__init__(self, limits)
        yaml.constructor.SafeConstructor.__init__(self)
        _ProfileResolver.__init__(self)


_FastLoader: type[_FastProfileYamlLoader] | None
try:
    from yaml._yaml import CParser
except ImportError:  # PyYAML without libyaml: the pure-Python loader reads everything, only slower
    _FastLoader = None
else:
    class _FastProfileYamlLoader(_BoundedComposer, CParser, yaml.constructor.SafeConstructor, _ProfileResolver):
        """libyaml's scanner and parser (a 10,000-host inventory reads in a second instead of ten) under the same
        composer, so the same limits apply at the same lines. A document it refuses is read again by
        ProfileYamlLoader for the message."""

        def __init__(self, stream: str, limits: YamlLimits = PROFILE_LIMITS) -> None:
            CParser.__init__(self, stream)
            _BoundedComposer.__init__(self, limits)
            yaml.constructor.SafeConstructor.__init__(self)
            _ProfileResolver.__init__(self)

    _FastLoader = _FastProfileYamlLoader


_ProfileResolver.add_implicit_resolver(
    _BOOL,
    re.compile(r"^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$"),
    list("yYnNtTfFoO"),
)
_ProfileResolver.add_implicit_resolver(
    _FLOAT,
    re.compile(
        r"^(?:[-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+][0-9]+)?"
        r"|[-+]?\.[0-9_]*[0-9][0-9_]*(?:[eE][-+][0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)"
        r"|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)
_ProfileResolver.add_implicit_resolver(
    _INT,
    re.compile(
        r"^(?:[-+]?0b[0-1_]*[0-1][0-1_]*"
        r"|[-+]?0[0-7_]+"
        r"|[-+]?(?:0|[1-9][0-9_]*)"
        r"|[-+]?0x[0-9a-fA-F_]*[0-9a-fA-F][0-9a-fA-F_]*)$"
    ),
    list("-+0123456789"),
)
_ProfileResolver.add_implicit_resolver(_MERGE, re.compile(r"^(?:<<)$"), ["<"])
_ProfileResolver.add_implicit_resolver(_NULL, re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""])


@dataclass
class YamlDocument:
    """One parsed YAML text: its data (None when it could not be read at all) and what was wrong with it."""

    data: Any
    locations: dict[KeyPath, Location] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    # Where the top-level mapping starts (its first key): a finding about the whole document, such as a
    # required key it lacks, is reported there.
    root: Location | None = None


def read_text_file(path: Path, display: str, limits: YamlLimits = PROFILE_LIMITS) -> str:
    """The UTF-8 text of a profile (or inventory) file; BadInput naming the file for anything that is not one."""

    def refuse(message: str, line: int | None = None) -> BadInput:
        finding = Finding(check=CHECK, message=message, location=Location(display, line))
        return BadInput(f"{display}: {message}", [finding])

    try:
        info = path.stat()
        if stat.S_ISDIR(info.st_mode):
            raise refuse("is a directory, not a profile file")
        # A FIFO or a device would block or never end: only regular files are read.
        if not stat.S_ISREG(info.st_mode):
            raise refuse("is not a regular file")
        if info.st_size > limits.file_bytes:
            raise refuse(f"is {info.st_size} bytes; {limits.what} are limited to {limits.file_bytes} bytes")
        with path.open("rb") as handle:
            raw = handle.read(limits.file_bytes + 1)
    except FileNotFoundError as exc:
        raise refuse("no such file") from exc
    except PermissionError as exc:
        raise refuse("cannot read it: permission denied") from exc
    except OSError as exc:
        raise refuse(path_problem(path) or f"cannot read it: {exc.strerror or exc}") from exc
    if len(raw) > limits.file_bytes:
        raise refuse(f"is larger than {limits.file_bytes} bytes; {limits.what} are limited to that")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise refuse(f"is not UTF-8 text (byte 0x{raw[exc.start]:02x})", line) from exc


def parse_yaml_text(
    text: str, display: str, *, require_mapping: bool = True, limits: YamlLimits = PROFILE_LIMITS
) -> YamlDocument:
    """Parse one YAML document, collecting every problem found instead of stopping at the first one.

    `display` names the source in locations. With `require_mapping` the top level must be a mapping.
    """
    loader: ProfileYamlLoader | _FastProfileYamlLoader
    try:
        loader = (_FastLoader or ProfileYamlLoader)(text, limits)
        root = loader.get_single_node()
    except _Refused as exc:
        return YamlDocument(None, findings=[_syntax_finding(exc, display)])
    except yaml.YAMLError:
        try:
            loader = ProfileYamlLoader(text, limits)
        except yaml.reader.ReaderError as exc:
            return YamlDocument(None, findings=[_reader_finding(text, exc.position, display)])
        try:
            root = loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            return YamlDocument(None, findings=[_syntax_finding(exc, display)])
        except yaml.YAMLError as exc:
            return YamlDocument(None, findings=[Finding(CHECK, f"YAML error: {exc}", Location(display))])
    finally:
        loader.dispose()

    if root is None:
        if require_mapping:
            empty = Finding(CHECK, "is empty; a profile is a YAML mapping", Location(display, 1))
            return YamlDocument(None, findings=[empty])
        return YamlDocument(None)
    if require_mapping and not isinstance(root, MappingNode):
        message = f"the top level must be a mapping (key: value lines), not {_node_kind(root)}"
        return YamlDocument(None, findings=[Finding(CHECK, message, _node_location(root, display))])

    builder = _ValueBuilder(loader, display)
    data = builder.build(root, ())
    in_file_order = sorted(_unique(builder.findings), key=_line_of)
    return YamlDocument(data, builder.locations, in_file_order, _node_location(root, display))


def _reader_finding(text: str, offset: int, display: str) -> Finding:
    offset = min(max(offset, 0), len(text) - 1)
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    message = f"YAML error: character U+{ord(text[offset]):04X} is not allowed (column {column})"
    return Finding(CHECK, message, Location(display, line))


def _syntax_finding(exc: yaml.MarkedYAMLError, display: str) -> Finding:
    mark = exc.problem_mark or exc.context_mark
    details = [f"column {mark.column + 1}"] if mark is not None else []
    if exc.problem and exc.context:
        context = exc.context
        if exc.context_mark is not None and mark is not None and exc.context_mark.line != mark.line:
            context += f" at line {exc.context_mark.line + 1}"
        details.append(context)
    # PyYAML quotes the offending anchor, tag or token: cut, like every value a message quotes.
    problem = cut(exc.problem or exc.context or "invalid YAML", 200)
    label = "" if isinstance(exc, _Refused) else "YAML error: "
    message = f"{label}{problem}" + (f" ({cut('; '.join(details), 200)})" if details else "")
    return Finding(CHECK, message, Location(display, mark.line + 1 if mark is not None else None))


def _line_of(finding: Finding) -> int:
    return finding.location.line or 0 if finding.location else 0


def _node_location(node: Node, display: str) -> Location:
    return Location(display, node.start_mark.line + 1)


def _node_kind(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    return "a single value"


def _tag_name(tag: str) -> str:
    return cut("!!" + tag[len(_TAG_PREFIX) :] if tag.startswith(_TAG_PREFIX) else tag)


def _unique(findings: list[Finding]) -> list[Finding]:
    """Keep one finding per place and problem: a node reached through aliases is checked once per alias.

    Values are built in document order, so the one kept names the path where the anchor is defined.
    """
    seen: set[tuple[Location | None, str]] = set()
    kept: list[Finding] = []
    for finding in findings:
        ident = (finding.location, finding.message)
        if ident not in seen:
            seen.add(ident)
            kept.append(finding)
    return kept


_Entry = tuple[ScalarNode, Node]


class _ValueBuilder:
    """Builds plain values from checked nodes, recording locations and collecting problems."""

    def __init__(self, loader: yaml.constructor.SafeConstructor, display: str) -> None:
        self._loader = loader
        self._display = display
        self.locations: dict[KeyPath, Location] = {}
        self.findings: list[Finding] = []

    def _problem(self, node: Node, path: KeyPath, message: str) -> None:
        key = format_key(path) or None
        self.findings.append(Finding(CHECK, message, _node_location(node, self._display), key))

    def build(self, node: Node, path: KeyPath) -> Any:
        if isinstance(node, MappingNode):
            if node.tag != _MAP:
                self._problem(node, path, f"unsupported YAML tag {_tag_name(node.tag)} on a mapping")
            result: dict[str, Any] = {}
            for key, (key_node, value_node) in self._entries(node, path, report=True).items():
                child_path = (*path, key)
                result[key] = self.build(value_node, child_path)
                self.locations[child_path] = self._entry_location(key_node, value_node)
            return result
        if isinstance(node, SequenceNode):
            if node.tag != _SEQ:
                self._problem(node, path, f"unsupported YAML tag {_tag_name(node.tag)} on a list")
            items: list[Any] = []
            for index, item_node in enumerate(node.value):
                item_path = (*path, index)
                items.append(self.build(item_node, item_path))
                self.locations[item_path] = _node_location(item_node, self._display)
            return items
        assert isinstance(node, ScalarNode)
        return self._scalar(node, path)

    def _entry_location(self, key_node: ScalarNode, value_node: Node) -> Location:
        # A scalar written on its own line (`key:` then the value below) is located at the value;
        # collections and empty values at their key, the line a reader looks for.
        if isinstance(value_node, ScalarNode) and value_node.value != "":
            return _node_location(value_node, self._display)
        return _node_location(key_node, self._display)

    def _entries(self, node: MappingNode, path: KeyPath, *, report: bool) -> dict[str, _Entry]:
        """The mapping's entries by key, `<<` merge keys applied (explicit keys win, then earlier sources)."""
        explicit: dict[str, _Entry] = {}
        merge_sources: list[MappingNode] = []
        merge_seen: ScalarNode | None = None
        for key_node, value_node in node.value:
            if isinstance(key_node, ScalarNode) and key_node.tag == _MERGE:
                if merge_seen is not None:
                    if report:
                        first = merge_seen.start_mark.line + 1
                        self._problem(key_node, path, f"duplicate merge key '<<' (first at line {first})")
                    continue
                merge_seen = key_node
                merge_sources.extend(self._merge_sources(value_node, path, report=report))
                continue
            key = self._key(key_node, path, report=report)
            if key is None:
                continue
            if key in explicit:
                if report:
                    first = explicit[key][0].start_mark.line + 1
                    self._problem(key_node, (*path, key), f"duplicate key (first at line {first})")
                continue
            assert isinstance(key_node, ScalarNode)
            explicit[key] = (key_node, value_node)
        if not merge_sources:
            return explicit
        merged: dict[str, _Entry] = {}
        for source in merge_sources:
            for key, entry in self._entries(source, path, report=False).items():
                merged.setdefault(key, entry)
        merged.update(explicit)
        return merged

    def _merge_sources(self, value_node: Node, path: KeyPath, *, report: bool) -> list[MappingNode]:
        if isinstance(value_node, MappingNode):
            return [value_node]
        if isinstance(value_node, SequenceNode) and all(isinstance(n, MappingNode) for n in value_node.value):
            return list(value_node.value)
        if report:
            self._problem(value_node, path, "a merge key '<<' takes a mapping or a list of mappings")
        return []

    def _key(self, key_node: Node, path: KeyPath, *, report: bool) -> str | None:
        if isinstance(key_node, ScalarNode) and key_node.tag == _STR:
            return str(key_node.value)
        if report:
            if isinstance(key_node, ScalarNode):
                quoted = cut(json.dumps(key_node.value, ensure_ascii=False))
                read_as = _tag_name(key_node.tag)
                message = (
                    f"mapping keys must be strings; {cut(key_node.value)} is read as {read_as} (quote it: {quoted})"
                )
            else:
                message = f"mapping keys must be strings, not {_node_kind(key_node)}"
            self._problem(key_node, path, message)
        return None

    def _scalar(self, node: ScalarNode, path: KeyPath) -> Any:
        tag = node.tag
        if tag == _STR:
            return str(node.value)
        if tag == _NULL:
            return None
        constructors: Mapping[str, Any] = {
            _BOOL: self._loader.construct_yaml_bool,
            _INT: self._loader.construct_yaml_int,
            _FLOAT: self._loader.construct_yaml_float,
        }
        construct = constructors.get(tag)
        if construct is None:
            self._problem(node, path, f"unsupported YAML tag {_tag_name(tag)}")
            return str(node.value)
        try:
            return construct(node)
        # Explicitly tagged scalars (`!!int x`, `!!bool maybe`) and over-long numbers fail in the constructor.
        except (ValueError, KeyError, IndexError, OverflowError):
            self._problem(node, path, f"{shown(node.value)} is not a valid {_tag_name(tag)}")
            return str(node.value)
