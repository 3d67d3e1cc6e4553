"""Commands that boot VMs. libvirt is imported only when one of them runs, never for render/validate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from builder.cli.options import OUTPUT_ROOT, here
from builder.errors import ChecksFailed

if TYPE_CHECKING:
    from builder.boot.run import BootOptions, BootTestResult
    from builder.boot.verdict import BootProgress
    from builder.pipeline import BuildRequest


def _boot_options(func: Any) -> Any:
    options = [
        click.option("--connect", default="qemu:///system", show_default=True, help="libvirt URI."),
        click.option("--network", default="user", show_default=True,
                     help="The VM's network: user, none, network=NAME or bridge=BR (virt-install style)."),
        click.option("--accel", type=click.Choice(["auto", "kvm", "tcg"]), default="auto", show_default=True,
                     help="auto uses KVM only when the host CPU really offers vmx/svm."),
        click.option("--memory", "memory_mib", type=int, default=2048, show_default=True, help="MiB of RAM."),
        click.option("--vcpus", type=int, default=2, show_default=True),
        click.option("--disk-size", "disk_gib", type=float, default=20.0, show_default=True, help="GiB per disk."),
        click.option("--timeout", type=float, default=3600.0, show_default=True, help="Seconds for a phase."),
        click.option("--idle-timeout", type=float, default=600.0, show_default=True,
                     help="Fail when the logs stay silent this many seconds."),
        click.option("--pool", default="default", show_default=True, help="libvirt storage pool for volumes."),
        click.option("--no-keep-disk", is_flag=True, help="Do not keep the disk of a failed run."),
        click.option("--extra-args", multiple=True, help="More installer boot arguments."),
        click.option("--output", "output_root", type=click.Path(file_okay=False, path_type=Path),
                     default=OUTPUT_ROOT, show_default=True),
        click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text"),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _options(location: str, verify: bool, **kw: Any) -> BootOptions:
    from builder.boot.run import BootOptions

    return BootOptions(
        location=location, connect=kw["connect"], network=kw["network"], accel=kw["accel"],
        memory_mib=kw["memory_mib"], vcpus=kw["vcpus"], disk_gib=kw["disk_gib"], timeout=kw["timeout"],
        idle_timeout=kw["idle_timeout"], verify=verify, keep_disk=not kw["no_keep_disk"], pool=kw["pool"],
        extra_args=tuple(kw["extra_args"]),
    )


def _request(profile: str, overrides: tuple[str, ...], templates: tuple[Path, ...], **kw: Any) -> BuildRequest:
    from builder.pipeline import BuildRequest

    return BuildRequest(profile, overrides, templates, roots=here(kw["output_root"]))


def _printer(quiet: bool) -> Any:
    from builder.boot.run import BootEvents

    class TerminalEvents(BootEvents):
        last_step = ""

        def message(self, text: str) -> None:
            if not quiet:
                click.echo(text, err=True)

        def progress(self, phase: str, elapsed: float, progress: BootProgress) -> None:
            if quiet:
                return
            step = progress.stage or "booting"
            if progress.package is not None:
                done, total = progress.package
                step = f"installing packages {done}/{total} ({progress.package_name})"
            if f"{phase} {step}" == self.last_step:
                return
            self.last_step = f"{phase} {step}"
            minutes, seconds = divmod(int(elapsed), 60)
            click.echo(f"[{phase} {minutes:02d}:{seconds:02d}] {step}", err=True)

    return TerminalEvents()


def _finish(result: BootTestResult, output_format: str) -> None:
    from builder.boot.report import format_table

    if output_format == "json":
        click.echo(json.dumps(result.to_json(), indent=2, sort_keys=True))
    else:
        click.echo(f"verdict: {'PASS' if result.ok else 'FAIL'}: {result.cause}")
        for phase in result.phases:
            click.echo(f"  {phase.name:<8} {phase.seconds:6.0f} s  {'ok' if phase.verdict.ok else 'FAILED'}")
        failed = [p.verdict for p in result.phases if not p.verdict.ok]
        for verdict in failed:
            if verdict.failing_script:
                click.echo(f"failing script: {verdict.failing_script}")
            if verdict.script_output:
                click.echo("its output:")
                click.echo("\n".join(f"  {line}" for line in verdict.script_output))
            click.echo("last log lines:")
            click.echo("\n".join(f"  {line}" for line in verdict.last_lines))
        if result.report is not None:
            click.echo(format_table(result.report))
        if result.kept_disk:
            click.echo(f"disk kept: {result.kept_disk}")
        if result.image:
            click.echo(f"image: {result.image.path} ({result.image.file_size} bytes, sha256 {result.image.sha256})")
        click.echo(f"diagnostics: {result.run_dir}")
    if not result.ok:
        raise ChecksFailed(f"boot test failed: {result.cause}")


def register(group: click.Group) -> None:
    @group.command(name="boot-test")
    @click.argument("profile")
    @click.option("--location", required=True, help="Install ISO, local install tree, or http(s) tree URL.")
    @click.option("--no-verify", is_flag=True, help="Install only; skip the verification boot.")
    @click.option("--set", "overrides", multiple=True, metavar="KEY.PATH=VALUE")
    @click.option("--templates", multiple=True, type=click.Path(file_okay=False, path_type=Path))
    @_boot_options
    def boot_test_command(profile: str, location: str, no_verify: bool, overrides: tuple[str, ...],
                          templates: tuple[Path, ...], **kw: Any) -> None:
        """Install PROFILE in a VM under libvirt, judge the install from its logs, boot it and verify it."""
        from builder.boot.run import boot_test

        result = boot_test(_request(profile, overrides, templates, **kw), _options(location, not no_verify, **kw),
                           events=_printer(kw["output_format"] == "json"))
        _finish(result, kw["output_format"])

    @group.command(name="build")
    @click.argument("profile")
    @click.option("--location", required=True, help="Install ISO, local install tree, or http(s) tree URL.")
    @click.option("--set", "overrides", multiple=True, metavar="KEY.PATH=VALUE")
    @click.option("--templates", multiple=True, type=click.Path(file_okay=False, path_type=Path))
    @_boot_options
    def build_command(profile: str, location: str, overrides: tuple[str, ...], templates: tuple[Path, ...],
                      **kw: Any) -> None:
        """Boot-test PROFILE and export the installed disk as output/<profile>/<profile>.qcow2."""
        from builder.boot.golden import build_golden_image

        result = build_golden_image(_request(profile, overrides, templates, **kw), _options(location, True, **kw),
                                    events=_printer(kw["output_format"] == "json"))
        _finish(result, kw["output_format"])

    @group.command(name="verify")
    @click.argument("profile")
    @click.option("--disk", required=True, type=click.Path(dir_okay=False, path_type=Path),
                  help="A qcow2 disk installed by `ksbuild boot-test --no-verify` (or kept after a failure).")
    @click.option("--set", "overrides", multiple=True, metavar="KEY.PATH=VALUE")
    @_boot_options
    def verify_command(profile: str, disk: Path, overrides: tuple[str, ...], **kw: Any) -> None:
        """Boot an installed disk and run the verification the profile implies (the disk is copied first)."""
        from builder.boot.run import verify_disk

        result = verify_disk(_request(profile, overrides, (), **kw), disk, _options(str(disk), True, **kw),
                             events=_printer(kw["output_format"] == "json"))
        _finish(result, kw["output_format"])

    @group.command(name="clean")
    @click.option("--connect", default="qemu:///system", show_default=True, help="libvirt URI.")
    @click.option("--dry-run", is_flag=True, help="Only list what would be removed.")
    def clean_command(connect: str, dry_run: bool) -> None:
        """Remove VMs and volumes left by ksbuild runs whose process is gone; nothing else is touched."""
        from builder.boot.libvirt_conn import clean_stale, open_connection

        conn = open_connection(connect)
        try:
            removed = clean_stale(conn, dry_run=dry_run)
        finally:
            conn.close()
        verb = "would remove" if dry_run else "removed"
        for name in removed:
            click.echo(f"{verb} {name}")
        click.echo(f"{len(removed)} stale item(s) {verb}")
