"""Fleet commands: `ksbuild fleet render|check|status|reinstall|schema` and `ksbuild serve`.

The library work is imported only when a command runs, so `ksbuild --help` stays fast.
"""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path
from typing import Any

import click

from builder.cli.options import FORMAT_OPTION, OUTPUT_ROOT, TEMPLATES_OPTION, here, print_findings
from builder.errors import BadInput

JOBS_OPTION = click.option("--jobs", type=click.IntRange(min=1), default=None,
                           help="Worker processes for rendering and validating (default: one per core).")


def register(group: click.Group) -> None:
    """Attach `fleet` and `serve` to the top-level group."""
    group.add_command(fleet)
    group.add_command(serve)


def _progress(text: str) -> None:
    click.echo(text, err=True)


@click.group()
def fleet() -> None:
    """Many hosts from one inventory: per-host kickstarts, PXE entries, a dnsmasq snippet."""


@fleet.command("render")
@click.argument("inventory", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", "output_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Output tree (default: output/<inventory name>/).")
@TEMPLATES_OPTION
@click.option("--syslinux-dir", type=click.Path(file_okay=False, exists=True, path_type=Path), default=None,
              help="Folder with pxelinux.0 and ldlinux.c32 (default: Debian's pxelinux and syslinux-common).")
@click.option("--boot-files", "boot_locations", metavar="[TARGET=]LOCATION", multiple=True,
              help="Install ISO, tree or URL: copy its installer kernel and initrd to pxe.kernel and pxe.initrd; "
              "TARGET=LOCATION (el9=/srv/rocky9/) to pxe.images.TARGET. Repeat for each target.")
@JOBS_OPTION
@FORMAT_OPTION
def render(inventory: Path, output_dir: Path | None, templates: tuple[Path, ...], syslinux_dir: Path | None,
           boot_locations: tuple[str, ...], jobs: int | None, output_format: str) -> None:
    """Render every host of INVENTORY (only what changed) into one TFTP + HTTP tree."""
    from builder.fleet.render import render_fleet

    out = output_dir if output_dir is not None else OUTPUT_ROOT / inventory.stem
    plain, per_target = _split_boot_locations(boot_locations)
    boot_files = _boot_files(plain) if plain is not None else None
    target_boot_files = {name: _boot_files(location, name) for name, location in per_target.items()}
    outcome = render_fleet(inventory, out, templates=templates, syslinux_dir=syslinux_dir, boot_files=boot_files,
                           jobs=jobs, roots=here(), progress=_progress, target_boot_files=target_boot_files)
    if output_format == "json":
        click.echo(json.dumps(outcome.to_json(), indent=2, sort_keys=True))
        return
    print_findings(outcome.findings)
    for note in outcome.notes:
        click.echo(f"note: {note}", err=True)
    if outcome.up_to_date:
        click.echo(f"{out}: {len(outcome.hosts)} host(s), all up to date")
        return
    unchanged = len(outcome.hosts) - len(outcome.rendered)
    removed = f", {len(outcome.removed)} removed" if outcome.removed else ""
    click.echo(f"{out}: {len(outcome.hosts)} host(s): {len(outcome.rendered)} rendered, {unchanged} unchanged"
               f"{removed}")


def _split_boot_locations(values: tuple[str, ...]) -> tuple[str | None, dict[str, str]]:
    """--boot-files values: at most one plain LOCATION, and TARGET=LOCATION once per target."""
    from builder.targets import ALIASES

    plain: list[str] = []
    per_target: dict[str, str] = {}
    for value in values:
        name, sep, location = value.partition("=")
        if sep and name in ALIASES:
            if name in per_target:
                raise BadInput(f"--boot-files {name}=... is given twice")
            per_target[name] = location
        else:
            plain.append(value)
    if len(plain) > 1:
        raise BadInput("--boot-files: one LOCATION for pxe.kernel/pxe.initrd; give the others as TARGET=LOCATION")
    return (plain[0] if plain else None), per_target


def _boot_files(location: str, target_name: str | None = None) -> tuple[Path, Path]:
    from builder.boot.media import check_release, default_cache_dir, resolve_media

    media = resolve_media(location, default_cache_dir(), progress=_progress)
    if target_name is not None:
        check_release(media, target_name, f"--boot-files {target_name}={location}", "the target")
    return media.kernel, media.initrd


@fleet.command("check")
@click.argument("inventory", type=click.Path(dir_okay=False, path_type=Path))
@TEMPLATES_OPTION
@JOBS_OPTION
@FORMAT_OPTION
def check(inventory: Path, templates: tuple[Path, ...], jobs: int | None, output_format: str) -> None:
    """Check every host of INVENTORY as `validate` does, plus conflicts between hosts; writes nothing."""
    from builder.errors import KsbuildError
    from builder.fleet.render import check_fleet_inventory

    if output_format != "json":
        outcome = check_fleet_inventory(inventory, templates=templates, jobs=jobs, roots=here(), progress=_progress)
        print_findings(outcome.findings, err=False)
        for note in outcome.notes:
            click.echo(f"note: {note}", err=True)
        click.echo(f"{inventory}: {len(outcome.hosts)} host(s) ok")
        return
    try:
        outcome = check_fleet_inventory(inventory, templates=templates, jobs=jobs, roots=here())
    except KsbuildError as exc:
        report = {"ok": False, "message": exc.message, "findings": [f.to_json() for f in exc.findings]}
        click.echo(json.dumps(report, indent=2, sort_keys=True))
        raise click.exceptions.Exit(exc.exit_code) from None
    click.echo(json.dumps({"ok": True, **outcome.to_json()}, indent=2, sort_keys=True))


@fleet.command("reinstall")
@click.argument("host")
@click.option("-o", "--output", "tree", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="The fleet tree (default: the one under output/ that has HOST).")
def reinstall(host: str, tree: Path | None) -> None:
    """Switch HOST's PXE entries back to install, with a new install token: it installs again at its next
    network boot, and the old kickstart and callback URLs stop working."""
    from builder.fleet.tree import reinstall as switch_to_install

    folder = tree if tree is not None else _tree_with(host)
    changed = switch_to_install(folder, host)
    click.echo(f"{host}: installs at its next network boot with a new token ({', '.join(changed)} rewritten)")


@fleet.command("status")
@click.argument("tree", type=click.Path(file_okay=False, exists=True, path_type=Path))
@FORMAT_OPTION
def status(tree: Path, output_format: str) -> None:
    """Each host of TREE: its MACs, pending/installed/failed, and its last report (when, from where)."""
    from builder.fleet.state import fleet_status

    rows = fleet_status(tree)
    if output_format == "json":
        click.echo(json.dumps([row.to_json() for row in rows], indent=2, sort_keys=True))
        return
    table = [("HOST", "MAC", "STATE", "LAST REPORT", "FROM")] + [
        (row.hostname, ",".join(row.macs), row.status, row.reported_at or "-", row.reported_from or "-")
        for row in rows
    ]
    widths = [max(len(line[column]) for line in table) for column in range(len(table[0]))]
    for line in table:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())


def _tree_with(host: str) -> Path:
    found = []
    for manifest in sorted(OUTPUT_ROOT.glob("*/manifest.json")):
        try:
            data: Any = json.loads(manifest.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and isinstance(data.get("hosts"), dict) and host in data["hosts"]:
            found.append(manifest.parent)
    if len(found) != 1:
        where = "no fleet tree under output/ has it" if not found else f"several trees have it: {found}"
        raise BadInput(f"{host}: {where}; name the tree with --output")
    return found[0]


@fleet.command("schema")
def schema() -> None:
    """Print the inventory JSON Schema (for editors)."""
    from builder.fleet.inventory import inventory_schema

    click.echo(json.dumps(inventory_schema(), indent=2, sort_keys=True))


@click.command()
@click.argument("tree", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--address", default="127.0.0.1", show_default=True,
              help="Address to listen on: the provisioning server's address on the hosts' network.")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True,
              help="TCP port (0: any free port).")
@click.option("--require-host-ip", is_flag=True,
              help="Answer a host's kickstart, iPXE script and report only from the IP address the inventory "
                   "gives it (the one dnsmasq hands out).")
@click.option("--trusted-proxy", "trusted_proxies", metavar="ADDRESS", multiple=True,
              help="A reverse proxy whose X-Forwarded-For / X-Real-IP names the client (repeatable).")
@click.option("--client-timeout", type=click.FloatRange(min=0.1, max=600), default=10.0, show_default=True,
              metavar="SECONDS", help="Time a client has to send its request headers, and again its body; "
                                      "idle connections are closed after it.")
def serve(tree: Path, address: str, port: int, require_host_ip: bool, trusted_proxies: tuple[str, ...],
          client_timeout: float) -> None:
    """Serve TREE's kickstarts and iPXE scripts over HTTP, each kickstart to its own host for one install;
    record the hosts' reports (installed: PXE entries switch to local boot; failed: they stay)."""
    from builder.fleet.serve import FleetServer, raise_open_files_limit

    open_files = raise_open_files_limit()
    if open_files < 4096:
        click.echo(f"note: at most {open_files} files may be open (hard limit): about {open_files - 50} "
                   "clients at once", err=True)
    server = FleetServer(tree, address=address, port=port, log=click.echo, require_host_ip=require_host_ip,
                         trusted_proxies=trusted_proxies, client_timeout=client_timeout)
    stop = threading.Event()
    # Set explicitly: a process started in the background inherits SIGINT as ignored.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    server.start()
    click.echo(f"serving {tree / 'http'} on {server.url}; reports at {server.url}/callback/<hostname>/<token>")
    try:
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
    click.echo("stopped")
