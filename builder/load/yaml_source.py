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
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from builder.errors import BadInput, Finding, Location
from builder.vocabulary import KeyPath, format_key

MAX_FILE_BYTES = 1 << 20
"""Profiles are small; a bigger file is a mistake (or an attack on the parser)."""
MAX_ALIAS_EXPANSION = 100_000
"""How many values aliases may add to a document, beyond the nodes written out (billion-laughs guard)."""
MAX_NESTING = 64
"""How deep mappings and lists may nest; real profiles use fewer than ten levels."""

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

class ProfileYamlLoader(yaml.SafeLoader):
    """SafeLoader reading YAML 1.1 types, except sexagesimal numbers, timestamps and the ``=`` value key."""

    # Own table, filled below; an empty class attribute stops PyYAML copying SafeLoader's resolvers into it.
    yaml_implicit_resolvers: dict[Any, Any] = {}  # noqa: RUF012 - PyYAML keeps this table on the class

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._nesting = 0

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        # PyYAML composes recursively: refuse deep nesting here, at its line, before Python's stack runs out.
        self._nesting += 1
        try:
            if self._nesting > MAX_NESTING:
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                problem = f"nested more than {MAX_NESTING} levels deep"
                raise yaml.composer.ComposerError(None, None, problem, mark)
            return super().compose_node(parent, index)
        finally:
            self._nesting -= 1


ProfileYamlLoader.add_implicit_resolver(
    _BOOL,
    re.compile(r"^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$"),
    list("yYnNtTfFoO"),
)
ProfileYamlLoader.add_implicit_resolver(
    _FLOAT,
    re.compile(
        r"^(?:[-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+][0-9]+)?"
        r"|[-+]?\.[0-9_]*[0-9][0-9_]*(?:[eE][-+][0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)"
        r"|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)
ProfileYamlLoader.add_implicit_resolver(
    _INT,
    re.compile(
        r"^(?:[-+]?0b[0-1_]*[0-1][0-1_]*"
        r"|[-+]?0[0-7_]+"
        r"|[-+]?(?:0|[1-9][0-9_]*)"
        r"|[-+]?0x[0-9a-fA-F_]*[0-9a-fA-F][0-9a-fA-F_]*)$"
    ),
    list("-+0123456789"),
)
ProfileYamlLoader.add_implicit_resolver(_MERGE, re.compile(r"^(?:<<)$"), ["<"])
ProfileYamlLoader.add_implicit_resolver(_NULL, re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""])


@dataclass
class YamlDocument:
    """One parsed YAML text: its data (None when it could not be read at all) and what was wrong with it."""

    data: Any
    locations: dict[KeyPath, Location] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)


def read_text_file(path: Path, display: str) -> str:
    """The UTF-8 text of a profile file; BadInput naming the file for anything that is not one."""

    def refuse(message: str) -> BadInput:
        finding = Finding(check=CHECK, message=message, location=Location(display))
        return BadInput(f"{display}: {message}", [finding])

    try:
        info = path.stat()
        if stat.S_ISDIR(info.st_mode):
            raise refuse("is a directory, not a profile file")
        # A FIFO or a device would block or never end: only regular files are read.
        if not stat.S_ISREG(info.st_mode):
            raise refuse("is not a regular file")
        if info.st_size > MAX_FILE_BYTES:
            raise refuse(f"is {info.st_size} bytes; profiles are limited to {MAX_FILE_BYTES} bytes")
        with path.open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError as exc:
        raise refuse("no such file") from exc
    except PermissionError as exc:
        raise refuse("cannot read it: permission denied") from exc
    except OSError as exc:
        raise refuse(f"cannot read it: {exc.strerror or exc}") from exc
    if len(raw) > MAX_FILE_BYTES:
        raise refuse(f"is larger than {MAX_FILE_BYTES} bytes; profiles are limited to that")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        message = f"is not UTF-8 text (byte 0x{raw[exc.start]:02x} at line {line})"
        raise refuse(message) from exc


def parse_yaml_text(text: str, display: str, *, require_mapping: bool = True) -> YamlDocument:
    """Parse one YAML document, collecting every problem found instead of stopping at the first one.

    `display` names the source in locations. With `require_mapping` the top level must be a mapping.
    """
    try:
        loader = ProfileYamlLoader(text)
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
            empty = Finding(CHECK, "is empty; a profile is a YAML mapping", Location(display))
            return YamlDocument(None, findings=[empty])
        return YamlDocument(None)
    if require_mapping and not isinstance(root, MappingNode):
        message = f"the top level must be a mapping (key: value lines), not {_node_kind(root)}"
        return YamlDocument(None, findings=[Finding(CHECK, message, _node_location(root, display))])

    size_problem = _check_size(root, display)
    if size_problem is not None:
        return YamlDocument(None, findings=[size_problem])
    builder = _ValueBuilder(loader, display)
    data = builder.build(root, ())
    in_file_order = sorted(_unique(builder.findings), key=_line_of)
    return YamlDocument(data, builder.locations, in_file_order)


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
    problem = exc.problem or exc.context or "invalid YAML"
    message = f"YAML error: {problem}" + (f" ({'; '.join(details)})" if details else "")
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
    return "!!" + tag[len(_TAG_PREFIX) :] if tag.startswith(_TAG_PREFIX) else tag


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


def _check_size(root: Node, display: str) -> Finding | None:
    """Refuse recursive aliases, too-deep nesting and alias bombs before any value is built.

    Aliases share composed nodes, so composing is cheap; building values expands every alias. The
    expanded size of each node is computed once (memoised over the node graph), so a billion-laughs
    document is measured in microseconds instead of being expanded.
    """
    expanded: dict[int, int] = {}
    height: dict[int, int] = {}
    in_progress: set[int] = set()

    class _Refused(Exception):
        def __init__(self, finding: Finding) -> None:
            super().__init__(finding.message)
            self.finding = finding

    def children(node: Node) -> list[Node]:
        if isinstance(node, MappingNode):
            return [part for pair in node.value for part in pair]
        if isinstance(node, SequenceNode):
            return list(node.value)
        return []

    def measure(node: Node) -> None:
        ident = id(node)
        if ident in expanded:
            return
        if ident in in_progress:
            message = "an alias refers to the value that contains it (recursive alias)"
            raise _Refused(Finding(CHECK, message, _node_location(node, display)))
        in_progress.add(ident)
        total, deepest = 1, 0
        for child in children(node):
            measure(child)
            total += expanded[id(child)]
            deepest = max(deepest, height[id(child)])
        in_progress.discard(ident)
        expanded[ident] = total
        height[ident] = deepest + 1
        if height[ident] > MAX_NESTING:
            message = f"nested more than {MAX_NESTING} levels deep"
            raise _Refused(Finding(CHECK, message, _node_location(node, display)))

    try:
        measure(root)
    except _Refused as refused:
        return refused.finding
    extra = expanded[id(root)] - len(expanded)
    if extra > MAX_ALIAS_EXPANSION:
        message = f"aliases expand this document by {extra} values (the limit is {MAX_ALIAS_EXPANSION})"
        return Finding(CHECK, message, _node_location(root, display))
    return None


_Entry = tuple[ScalarNode, Node]


class _ValueBuilder:
    """Builds plain values from checked nodes, recording locations and collecting problems."""

    def __init__(self, loader: ProfileYamlLoader, display: str) -> None:
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
                shown = json.dumps(key_node.value, ensure_ascii=False)
                read_as = _tag_name(key_node.tag)
                message = (
                    f"mapping keys must be strings; {key_node.value} is read as {read_as} (quote it: {shown})"
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
            self._problem(node, path, f"{node.value!r} is not a valid {_tag_name(tag)}")
            return str(node.value)
