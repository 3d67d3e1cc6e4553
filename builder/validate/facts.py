"""What a parsed kickstart says beyond pykickstart's handler, for the linter's rules and for `ksbuild import`.

- `includes`: each %include with what decides it: a local file read in place, a file a %pre writes at install
  time (with that %pre and the commands it may write), a URL, or nothing found.
- `may_provide`: which install-time files could hold a command the kickstart itself lacks, so that a rule about
  a missing command can leave it to them and say so.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from builder.validate.includes import Include, commands_written, writers
from builder.validate.kickstart import ParsedKickstart
from builder.validate.sections import ScriptSection

# Commands a storage layout is made of: a file that may provide one of them may complete the layout.
STORAGE_COMMANDS = ("autopart", "part", "partition", "raid", "volgroup", "logvol", "reqpart", "clearpart",
                    "ignoredisk", "zerombr", "bootloader")


@dataclass(frozen=True)
class ResolvedInclude:
    include: Include
    writers: tuple[ScriptSection, ...] = ()
    # The commands the install-time file may hold; None: any (a write ksbuild cannot read).
    commands: frozenset[str] | None = None

    @property
    def install_time(self) -> bool:
        return self.include.kind in ("install-time", "url")

    def may_hold(self, names: Iterable[str]) -> bool:
        if not self.install_time:
            return False
        return self.commands is None or any(name in self.commands for name in names)

    def decided_by(self) -> str:
        """Who decides the file's content, for messages: the %pre scripts that write it, or the URL's server."""
        if self.include.kind == "url":
            return "the server it is fetched from at install time"
        places = ", ".join(f"line {script.header_line}" if script.source == self.include.location.file
                           else f"{script.source}:{script.header_line}" for script in self.writers)
        return f"the %pre at {places}"


def includes(parsed: ParsedKickstart) -> list[ResolvedInclude]:
    """Every %include of the kickstart (and of the local files it includes), in file order."""
    resolved = []
    for include in parsed.includes:
        if include.kind != "not-found" or not include.target.startswith("/"):
            resolved.append(ResolvedInclude(include))
            continue
        found = tuple(writers(include.target, parsed.scripts))
        if not found:
            resolved.append(ResolvedInclude(include))
            continue
        written: set[str] = set()
        anything = False
        for script in found:
            commands = commands_written(include.target, script.body)
            if commands is None:
                anything = True
            else:
                written |= commands
        kind_changed = Include(include.location, include.target, "install-time")
        resolved.append(ResolvedInclude(kind_changed, found, None if anything else frozenset(written)))
    return resolved


def may_provide(resolved: Iterable[ResolvedInclude], names: Iterable[str]) -> list[ResolvedInclude]:
    """The install-time includes that may hold one of these commands."""
    wanted = tuple(names)
    return [item for item in resolved if item.may_hold(wanted)]
