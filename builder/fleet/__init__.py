"""Fleet provisioning: an inventory of hosts → a checked kickstart per host, PXE entries, a DHCP snippet.

Flow (each step one module): inventory (YAML with line marks, per-host merged profiles) → checks (every core
check per host, plus fleet-wide conflicts) → render (incremental, parallel, through the core pipeline) → pxe
(boot entries, install-once switching, dnsmasq snippet) → serve (HTTP for kickstarts, install callbacks).
"""

from builder.fleet.inventory import FleetHost, Inventory, load_inventory

__all__ = ["FleetHost", "Inventory", "load_inventory"]
