"""Command line: parse arguments, call library functions, print. Every user error becomes a message and an exit code
here and only here (2 bad input or usage, 1 a check failed, 130 interrupted)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import click

from builder import __version__
from builder.cli.options import FORMAT_OPTION, SET_OPTION, TEMPLATES_OPTION, here, print_findings
from builder.errors import EXIT_BAD_INPUT, EXIT_INTERRUPTED, BadInput, ChecksFailed, KsbuildError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ksbuild")
def cli() -> None:
    """ksbuild: CentOS 7 KVM hypervisor kickstarts from YAML profiles."""


@cli.command()
@click.argument("profile")
@SET_OPTION
@TEMPLATES_OPTION
@click.option("-o", "--output", "output_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Output folder (default: output/<profile>/).")
@FORMAT_OPTION
def render(profile: str, overrides: tuple[str, ...], templates: tuple[Path, ...], output_dir: Path | None,
           output_format: str) -> None:
    """Render PROFILE to ks.cfg + manifest.json after every check passed."""
    from builder.commands import render_profile
    from builder.pipeline import BuildRequest

    outcome = render_profile(BuildRequest(profile, overrides, templates, roots=here()), output_dir=output_dir)
    if output_format == "json":
        click.echo(json.dumps(outcome.to_json(), indent=2, sort_keys=True))
    else:
        print_findings(outcome.findings)
        click.echo(f"wrote {outcome.files.kickstart} and {outcome.files.manifest}")


@cli.command()
@click.argument("paths", nargs=-1, required=True)
@SET_OPTION
@TEMPLATES_OPTION
@click.option("--select", "select", multiple=True, metavar="RULES",
              help="Only these rules (ids or prefixes, comma-separated: KS1,KS301; ALL).")
@click.option("--extend-select", "extend_select", multiple=True, metavar="RULES",
              help="Add rules to those selected (configuration or --select).")
@click.option("--ignore", "ignore", multiple=True, metavar="RULES",
              help="Skip these rules (ids or prefixes; shellcheck codes such as SC2154 too).")
@click.option("--strict", is_flag=True, help="Warnings are errors (exit 1).")
@click.option("--no-shellcheck", is_flag=True, help="Skip shellcheck and bash -n on the scripts.")
@click.option("--target", "target", metavar="TARGET", default=None,
              help="Kickstart syntax of this target (centos7, el8, el9 or an alias such as rocky9); default: the "
              "file's #version= line, else centos7. For profiles the same as --set target=TARGET.")
@click.option("--format", "output_format", type=click.Choice(["text", "json", "sarif"]), default="text",
              show_default=True, help="Findings as text, JSON, or SARIF 2.1.0 (GitHub code scanning).")
def validate(paths: tuple[str, ...], overrides: tuple[str, ...], templates: tuple[Path, ...], select: tuple[str, ...],
             extend_select: tuple[str, ...], ignore: tuple[str, ...], strict: bool, no_shellcheck: bool,
             target: str | None, output_format: str) -> None:
    """Check profiles (YAML) or kickstart files: schema, semantics, pykickstart, storage, secrets, shellcheck,
    policy. Exit 1 when a finding is an error."""
    from builder.commands import validate_paths
    from builder.validate.config import RuleLayer, check_selectors, split_selectors

    layer = RuleLayer(
        select=check_selectors(split_selectors(select), "--select") if select else None,
        extend_select=check_selectors(split_selectors(extend_select), "--extend-select"),
        ignore=check_selectors(split_selectors(ignore), "--ignore"),
    )
    if target is not None:
        from builder.targets import UnknownTarget, alias

        try:
            alias(target)
        except UnknownTarget as exc:
            raise BadInput(f"--target: {exc}") from None
    outcome = validate_paths(paths, overrides=overrides, templates=templates, roots=here(), shell=not no_shellcheck,
                             rules=layer, strict=strict, target=target)
    if output_format == "json":
        click.echo(json.dumps(outcome.to_json(), indent=2, sort_keys=True))
    elif output_format == "sarif":
        from builder.validate.sarif import sarif_log

        findings = [finding for item in outcome.items for finding in item.findings]
        click.echo(json.dumps(sarif_log(findings, __version__), indent=2, sort_keys=True))
    else:
        for item in outcome.items:
            print_findings(item.findings, err=False)
            click.echo(f"{item.source}: {item.summary()}")
    outcome.raise_for_status()


@cli.command()
@click.argument("profile")
@click.option("--target", "target_names", multiple=True, metavar="TARGET", required=True,
              help="A target (centos7, el8, el9 or an alias such as rocky9); give it twice: from, to.")
@SET_OPTION
@TEMPLATES_OPTION
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text", show_default=True)
def diff(profile: str, target_names: tuple[str, ...], overrides: tuple[str, ...], templates: tuple[Path, ...],
         output_format: str) -> None:
    """What changes in PROFILE's kickstart between two targets, section by section, with the reasons."""
    from builder.pipeline import BuildRequest
    from builder.target_diff import diff_targets

    if len(target_names) != 2:
        raise BadInput(f"give --target twice (from, to), e.g. --target centos7 --target el9; got {len(target_names)}")
    outcome = diff_targets(BuildRequest(profile, overrides, templates, roots=here()), *target_names)
    if output_format == "json":
        click.echo(json.dumps(outcome.to_json(), indent=2, sort_keys=True))
    else:
        click.echo(outcome.format(), nl=False)


@cli.command()
@click.argument("rule_ids", nargs=-1, metavar="[RULE]...")
def rules(rule_ids: tuple[str, ...]) -> None:
    """List the validation rules, or explain RULE (an id such as KS301, or a prefix such as KS3)."""
    from builder.rules import CATALOGUE, FAMILIES, matching

    if not rule_ids:
        family = ""
        for rule in CATALOGUE:
            if rule.id[:3] != family:
                family = rule.id[:3]
                click.echo(f"{family}xx  {FAMILIES[family]}")
            severities = rule.kickstart if rule.kickstart == rule.rendered else f"{rule.kickstart}/{rule.rendered}"
            click.echo(f"  {rule.id}  {rule.name:<30} {severities:<15} {rule.why}")
        click.echo("severity: hand-written kickstart/rendered from a profile; `ksbuild rules KS101` explains one")
        return
    for wanted in rule_ids:
        found = matching(wanted)
        if not found:
            raise BadInput(f"{wanted}: no such rule (`ksbuild rules` lists them)")
        for rule in found:
            click.echo(f"{rule.id} {rule.name}\n")
            click.echo(f"Severity: {rule.kickstart} in a hand-written kickstart, {rule.rendered} in one rendered "
                       "from a profile (--strict: warnings are errors).\n")
            click.echo(f"{rule.why}\n\n{rule.explanation}\n\nExample:\n")
            click.echo("\n".join(f"    {line}" for line in rule.example.splitlines()))
            click.echo(f"\nFix: {rule.fix}\n")


@cli.command()
@click.argument("profile")
@SET_OPTION
@click.option("--format", "output_format", type=click.Choice(["yaml", "json"]), default="yaml", show_default=True)
def show(profile: str, overrides: tuple[str, ...], output_format: str) -> None:
    """Print the merged PROFILE, each value with the file:line it came from."""
    from builder.commands import show_profile

    click.echo(show_profile(profile, overrides=overrides, roots=here(), as_json=output_format == "json"), nl=False)


@cli.command(name="list")
@click.option("--dir", "dirs", multiple=True, type=click.Path(file_okay=False, path_type=Path),
              help="Also list profiles in this folder.")
def list_profiles(dirs: tuple[Path, ...]) -> None:
    """List shipped and local profiles with their descriptions."""
    from builder.commands import list_available

    for entry in list_available(here(), dirs):
        click.echo(f"{entry.name:<24} {entry.origin:<8} {entry.description}")


@cli.command(name="import")
@click.argument("kickstart", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", "output", default=None, metavar="PROFILE.yaml",
              help="The profile to write (default: <kickstart name>.yaml here; '-' prints it).")
@click.option("--extends", "extends", default=None, metavar="PROFILE",
              help="Write only what differs from this profile (a name or a path), with `extends:` naming it.")
@click.option("--rootpw-hash", "rootpw_hash", default=None, metavar="HASH",
              help="crypt(3) hash for root (`openssl passwd -6`), instead of the kickstart's rootpw.")
@click.option("--nic-name", "nic_names", multiple=True, metavar="MAC=NAME",
              help="The kernel name of a NIC the kickstart names by MAC (`network --device=<MAC>`, as Foreman "
                   "writes), so that its address becomes that interface's; repeatable.")
@click.option("--force", is_flag=True, help="Replace the profile if it exists.")
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="The report as text or JSON.")
def import_command(kickstart: Path, output: str | None, extends: str | None, rootpw_hash: str | None,
                   nic_names: tuple[str, ...], force: bool, output_format: str) -> None:
    """Turn an existing KICKSTART into a profile: every command mapped to profile keys, what a %post does with
    ifcfg files, repos, SELinux, nested virtualization and services turned into keys, the rest kept as written
    (kickstart.extra_commands, scripts). Prints what was mapped, passed through and not carried, line by line.
    Plaintext passwords are refused (give --rootpw-hash)."""
    from builder.commands import default_import_path, import_kickstart_file

    target = None if output == "-" else Path(output) if output else default_import_path(kickstart)
    outcome = import_kickstart_file(kickstart, output=target, roots=here(), extends=extends, rootpw_hash=rootpw_hash,
                                    nic_names=nic_names, force=force)
    to_stdout = target is None
    if output_format == "json":
        click.echo(json.dumps(outcome.to_json(), indent=2, sort_keys=True), err=to_stdout)
    else:
        for line in outcome.report.format():
            click.echo(line, err=to_stdout)
        print_findings(outcome.findings)
    if to_stdout:
        click.echo(outcome.text, nl=False)
    elif output_format == "text":
        click.echo(f"wrote {target}")


@cli.command()
def schema() -> None:
    """Print the profile JSON Schema (for editors: yaml-language-server, VS Code)."""
    from builder.commands import profile_schema

    click.echo(json.dumps(profile_schema(), indent=2, sort_keys=True))


def _register_optional_commands() -> None:
    # Boot and fleet commands live in their own modules; they import libvirt only when they run.
    from builder.cli import boot_commands, fleet_commands

    boot_commands.register(cli)
    fleet_commands.register(cli)


def main(argv: Sequence[str] | None = None) -> None:
    # Nothing ksbuild or the tools it runs (qemu-img, libvirt downloads) create is writable by group or others,
    # whatever umask the user has (under `umask 000` folders were 0777). Our own files get explicit modes too.
    os.umask(os.umask(0) | 0o022)
    args = list(argv) if argv is not None else sys.argv[1:]
    if not args or args[0] not in cli.commands:
        # A core command (validate, render ...) does not need the boot and fleet commands registered.
        _register_optional_commands()
    try:
        status = cli.main(args=args, prog_name="ksbuild", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except click.ClickException as exc:
        exc.show()
        sys.exit(EXIT_BAD_INPUT)
    except KsbuildError as exc:
        _report(exc)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except SystemExit:
        raise
    except OSError as exc:
        # A file or device problem the library did not anticipate: still a message, never a traceback.
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    sys.exit(status if isinstance(status, int) else 0)


def _report(exc: KsbuildError) -> None:
    print_findings(exc.findings)
    if any(finding.message == exc.message for finding in exc.findings):
        return  # the finding already said it, with its location
    label = "failed" if isinstance(exc, ChecksFailed) else "error"
    click.echo(f"{label}: {exc.message}", err=True)
