"""What every command group shares: common options, printing findings, and the roots of the current directory
(the only place ksbuild reads it)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import click

from builder.errors import Finding
from builder.paths import shipped_profiles_dir, user_cache_dir
from builder.vocabulary import Roots

FORMAT_OPTION = click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text",
                             show_default=True, help="Findings as text or as JSON for machines.")
SET_OPTION = click.option("--set", "overrides", multiple=True, metavar="KEY.PATH=VALUE",
                          help="Override one profile value (YAML syntax), e.g. --set system.selinux=permissive.")
TEMPLATES_OPTION = click.option("--templates", "templates", multiple=True,
                                type=click.Path(file_okay=False, path_type=Path),
                                help="Folder of template overrides (same names as kickstart_templates/).")

OUTPUT_ROOT = Path("output")


def here(output_root: Path = OUTPUT_ROOT) -> Roots:
    """The roots of the current directory: ./profiles (then the shipped profiles), ./output, and file names in
    messages relative to it; the user's cache folder."""
    return Roots((Path("profiles"), shipped_profiles_dir()), output_root, Path.cwd(), user_cache_dir())


def print_findings(findings: Sequence[Finding], *, err: bool = True) -> None:
    for finding in findings:
        click.echo(finding.format(), err=err)
