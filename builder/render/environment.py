"""The one Jinja environment factory: strict undefined, no autoescape (kickstart is not HTML), quoting filters."""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import jinja2

from builder.contract import template_globals
from builder.paths import templates_dir
from builder.render.compiled import compiled_templates
from builder.render.quoting import (
    HEREDOC_END,
    config_comment,
    dnsmasq_value,
    heredoc_body,
    ifcfg_value,
    kickstart_quote,
    shell_quote,
)

MAIN_TEMPLATE = "ks.cfg.j2"


def template_search_path(overrides: Sequence[Path] = ()) -> tuple[Path, ...]:
    """Override folders first, the shipped templates last: a user replaces one snippet without copying the set."""
    return (*overrides, templates_dir())


@lru_cache(maxsize=16)
def make_environment(search_path: tuple[Path, ...], cache: Path | None = None) -> jinja2.Environment:
    """The environment for templates found along `search_path`; compiled templates are kept under the cache folder
    `cache` between runs (builder.render.compiled; None: compiled in every process)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(p) for p in search_path]),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # noqa: S701 - the output is a kickstart; values are quoted by the filters below
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["ksq"] = kickstart_quote
    env.filters["shq"] = shell_quote
    env.filters["ifcfg_value"] = ifcfg_value
    env.filters["heredoc"] = heredoc_body
    env.filters["dnsmasq"] = dnsmasq_value
    env.filters["comment"] = config_comment
    env.globals["HEREDOC_END"] = HEREDOC_END
    env.globals.update(template_globals())
    env.bytecode_cache = compiled_templates(cache, env)
    return env


def effective_templates(search_path: Sequence[Path]) -> dict[str, Path]:
    """Every template name and the file that serves it (the first folder in the search path wins)."""
    chosen: dict[str, Path] = {}
    for folder in search_path:
        # os.walk and strings: a fleet render asks this once per host, and Path.rglob is three times slower.
        names = []
        for parent, _, files in os.walk(folder):
            relative = os.path.relpath(parent, folder)
            names += [name if relative == "." else f"{relative}/{name}" for name in files if name.endswith(".j2")]
        for name in sorted(names):
            chosen.setdefault(name.replace(os.sep, "/"), folder / name)
    return dict(sorted(chosen.items()))
