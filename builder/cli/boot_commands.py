"""Commands that boot VMs (filled in by the boot-test work); kept apart so render/validate never import libvirt."""

from __future__ import annotations

import click


def register(group: click.Group) -> None:
    """Attach the boot commands to the top-level group."""
