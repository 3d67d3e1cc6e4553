"""Which rules run and how strictly, the way ruff and shellcheck users expect.

- `select`, `extend-select` and `ignore` take rule ids or prefixes (`KS2` is the storage family, `ALL` every rule),
  from a configuration file and then from the command line. Within one of those, the longest matching prefix
  decides (`ignore = ["KS4"]` with `select = ["KS401"]` keeps KS401), and an ignore wins a tie; `select` starts
  from nothing, `extend-select` and `ignore` change what the previous layer left. shellcheck codes (`SC2154`) in
  `ignore` drop those shellcheck findings.
- The configuration is the nearest `.ksbuild.toml` (top-level keys) or `pyproject.toml` with a `[tool.ksbuild]`
  table, looking upward from the linted file's folder; a `.ksbuild.toml` wins over a `pyproject.toml` in the same
  folder. Keys: select, extend-select, ignore, strict, include-root (relative to the configuration file).
- Inline: `# ksbuild: ignore[KS101,KS4]` at the end of a kickstart line or of a script line silences those rules
  on that line (`# ksbuild: ignore` alone: every rule); `# ksbuild: ignore-file[KS503]` anywhere in a file silences
  them in the whole file, findings without a line included.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from builder.errors import BadInput, Finding, shown
from builder.fsutil import NO_SUCH_FILE, path_problem, real_path
from builder.rules import CATALOGUE, matching

CONFIG_FILES = (".ksbuild.toml", "pyproject.toml")
KEYS = ("select", "extend-select", "ignore", "strict", "include-root")
_SHELLCHECK_CODE = re.compile(r"^SC\d{4}$")
_INLINE = re.compile(r"#\s*ksbuild:\s*(?P<kind>ignore-file|ignore)\b(?:\[(?P<codes>[^\]]*)\])?", re.IGNORECASE)


@dataclass(frozen=True)
class RuleLayer:
    """One source of select/ignore (a configuration file, the command line)."""

    select: tuple[str, ...] | None = None
    extend_select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()


@dataclass(frozen=True)
class Settings:
    """Everything that changes what `ksbuild validate` reports on a kickstart."""

    layers: tuple[RuleLayer, ...] = ()
    strict: bool = False
    include_root: Path | None = None
    config: Path | None = None         # the configuration file these came from, if any
    _enabled: dict[str, bool] = field(default_factory=dict, compare=False, repr=False)

    def enabled(self, rule_id: str) -> bool:
        if rule_id not in self._enabled:
            self._enabled[rule_id] = _enabled(rule_id, self.layers)
        return self._enabled[rule_id]

    @property
    def ignored_codes(self) -> frozenset[str]:
        """shellcheck codes to drop (SC2154 ...)."""
        return frozenset(code.upper() for layer in self.layers for code in layer.ignore
                         if _SHELLCHECK_CODE.match(code.upper()))

    def with_command_line(self, layer: RuleLayer, *, strict: bool = False) -> Settings:
        return Settings((*self.layers, layer), self.strict or strict, self.include_root, self.config)


def _matches(rule_id: str, prefix: str) -> int | None:
    """How specific a prefix is for this rule (its length; 0 for ALL), or None when it does not match."""
    wanted = prefix.strip().upper()
    if wanted == "ALL":
        return 0
    return len(wanted) if rule_id.startswith(wanted) else None


def _best(rule_id: str, prefixes: Iterable[str]) -> int | None:
    lengths = [length for prefix in prefixes if (length := _matches(rule_id, prefix)) is not None]
    return max(lengths) if lengths else None


def _enabled(rule_id: str, layers: Sequence[RuleLayer]) -> bool:
    enabled = True
    for layer in layers:
        selected = _best(rule_id, (*(layer.select or ()), *layer.extend_select))
        ignored = _best(rule_id, layer.ignore)
        if selected is not None and ignored is not None:
            enabled = selected > ignored
        elif selected is not None:
            enabled = True
        elif ignored is not None or layer.select is not None:
            enabled = False
    return enabled


def check_selectors(selectors: Iterable[str], where: str) -> tuple[str, ...]:
    """The selectors, upper-cased; BadInput naming `where` for one that matches no rule and is no SC code."""
    checked = []
    for selector in selectors:
        wanted = selector.strip().upper()
        if not wanted:
            continue
        if wanted != "ALL" and not _SHELLCHECK_CODE.match(wanted) and not matching(wanted):
            families = ", ".join(sorted({rule.id[:3] for rule in CATALOGUE}))
            raise BadInput(f"{where}: {shown(selector)} matches no rule (rule ids start with {families}; "
                           "`ksbuild rules` lists them)")
        checked.append(wanted)
    return tuple(checked)


def split_selectors(values: Iterable[str]) -> list[str]:
    """`--select KS1,KS2 --select KS3` → [KS1, KS2, KS3]."""
    return [part for value in values for part in value.split(",") if part.strip()]


# -- configuration files ------------------------------------------------------------------------------------------

_found: dict[Path, Settings] = {}


def _table(path: Path) -> dict[str, object] | None:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"{path}: cannot read: {exc}") from exc
    if path.name == "pyproject.toml" and "ksbuild" not in text:
        return None  # most pyproject.toml files say nothing to ksbuild: not worth parsing
    import tomllib  # only when there is a configuration to read

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise BadInput(f"{path}: not valid TOML: {exc}") from exc
    if path.name == "pyproject.toml":
        tool = data.get("tool")
        table = tool.get("ksbuild") if isinstance(tool, dict) else None
        return table if isinstance(table, dict) else None
    return data


def _strings(value: object, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise BadInput(f"{where}: expected a list of rule ids or prefixes, e.g. [\"KS5\", \"KS403\"]")
    return check_selectors(value, where)


def _settings(path: Path, table: dict[str, object]) -> Settings:
    where = f"{path}: [tool.ksbuild]" if path.name == "pyproject.toml" else str(path)
    unknown = sorted(set(table) - set(KEYS))
    if unknown:
        raise BadInput(f"{where}: unknown key {shown(unknown[0])} (known: {', '.join(KEYS)})")
    select = _strings(table["select"], f"{where}: select") if "select" in table else None
    strict = table.get("strict", False)
    if not isinstance(strict, bool):
        raise BadInput(f"{where}: strict: expected true or false")
    root = table.get("include-root")
    if root is not None and not isinstance(root, str):
        raise BadInput(f"{where}: include-root: expected a folder path")
    layer = RuleLayer(
        select=select,
        extend_select=_strings(table.get("extend-select", []), f"{where}: extend-select"),
        ignore=_strings(table.get("ignore", []), f"{where}: ignore"),
    )
    include_root = None
    if root is not None:
        # real_path, not Path.resolve, which raises RuntimeError on a symbolic link loop.
        include_root = real_path(path.parent / root)
        problem = path_problem(include_root)
        if problem is not None and problem != NO_SUCH_FILE:
            raise BadInput(f"{where}: include-root: {shown(root)} {problem}")
    return Settings((layer,), strict, include_root, path)


def settings_for(kickstart: Path) -> Settings:
    """The settings of the nearest configuration file above `kickstart`, or the defaults."""
    folder = real_path(kickstart).parent
    visited = []
    settings = Settings()
    for candidate in (folder, *folder.parents):
        if candidate in _found:
            settings = _found[candidate]
            break
        visited.append(candidate)
        table = None
        for name in CONFIG_FILES:
            path = candidate / name
            if path.is_file():
                table = _table(path)
                if table is not None:
                    settings = _settings(path, table)
                    break
        if table is not None:
            break
    for folder_seen in visited:
        _found[folder_seen] = settings
    return settings


# -- inline directives --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Directives:
    """The `# ksbuild: ignore[...]` comments of one file: per line, and for the whole file."""

    lines: dict[int, tuple[str, ...]]       # () means every rule
    whole_file: tuple[str, ...] | None      # None: no ignore-file directive; () every rule

    def silences(self, finding: Finding, codes: Sequence[str]) -> bool:
        line = finding.location.line if finding.location is not None else None
        for prefixes in (self.whole_file, self.lines.get(line) if line is not None else None):
            if prefixes is None:
                continue
            if not prefixes or any(code.startswith(prefix) for prefix in prefixes for code in codes):
                return True
        return False


def directives(text: str) -> Directives:
    lines: dict[int, tuple[str, ...]] = {}
    whole_file: list[str] | None = None
    if "ksbuild:" not in text:
        return Directives(lines, None)
    for number, line in enumerate(text.splitlines(), start=1):
        for match in _INLINE.finditer(line):
            codes = tuple(code.strip().upper() for code in (match["codes"] or "").split(",") if code.strip())
            if match["kind"].lower() == "ignore-file":
                whole_file = [*(whole_file or []), *codes] if codes and whole_file != [] else []
            else:
                lines[number] = (*lines.get(number, ()), *codes) if codes and lines.get(number) != () else ()
    return Directives(lines, tuple(whole_file) if whole_file is not None else None)
