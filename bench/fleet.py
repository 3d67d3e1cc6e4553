#!/usr/bin/env python3
"""Benchmark: `ksbuild fleet render` on a generated N-host inventory (default 1,000), against the peers.

    .venv/bin/python bench/fleet.py [--hosts 1000] [--sample 12] [--jobs N]

Measured, each as the `ksbuild` command a user runs (a separate process, start-up included):

1. full render + validate (pykickstart, shellcheck, policy) of every host into an empty tree (goal: < 20 s
   on 2 cores);
2. the same command again with nothing changed (goal: < 2 s);
3. one host's address changed in the inventory.

Peers, for the same hosts: one `ksbuild render` process per host, and one `ksvalidator -v RHEL7` process per
rendered kickstart. Running them for all N hosts would take many minutes, so a sample of `--sample` hosts is
timed and the total is extrapolated (the output says so).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
KSBUILD = [sys.executable, "-m", "builder"]
GOAL_FULL_S = 20.0
GOAL_NO_CHANGE_S = 2.0


def host_address(n: int) -> str:
    return f"10.20.{n // 200}.{n % 200 + 10}/16"


def write_inventory(path: Path, hosts: int, *, changed: int | None = None) -> None:
    """N hypervisors from the shipped kvm-hypervisor profile, each with its own name, MAC and br0 address."""
    lines = [
        "description: generated benchmark fleet",
        "pxe:",
        "  server: http://10.20.0.1:8080",
        '  kernel_args: ["console=ttyS0,115200n8"]',
        "dhcp: {subnet: 10.20.0.0/16, gateway: 10.20.0.1, tftp_server: 10.20.0.1}",
        "defaults:",
        "  profile: kvm-hypervisor",
        "  set:",
        "    network.bridges[0].ipv4.gateway: 10.20.0.1",
        "hosts:",
    ]
    for n in range(hosts):
        address = host_address(n) if n != changed else f"10.20.250.{n % 200 + 10}/16"
        lines += [
            f"  - hostname: kvm{n:04d}.lab.local",
            f"    macs: ['52:54:00:{n >> 16 & 0xff:02x}:{n >> 8 & 0xff:02x}:{n & 0xff:02x}']",
            "    boot_interface: enp2s0f0",
            "    set:",
            f"      network.bridges[0].ipv4.address: {address}",
        ]
    path.write_text("\n".join(lines) + "\n")


def timed(argv: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    result = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return elapsed


def sample_indexes(hosts: int, sample: int) -> list[int]:
    step = max(1, hosts // sample)
    return list(range(0, hosts, step))[:sample]


def per_host_render(work: Path, hosts: int, sample: int) -> tuple[float, int]:
    """Mean seconds of one `ksbuild render` process per host (same host data, via --set), on a sample."""
    times = []
    for n in sample_indexes(hosts, sample):
        argv = [*KSBUILD, "render", "kvm-hypervisor", "-o", str(work / "peer" / f"kvm{n:04d}"),
                "--set", f"system.hostname=kvm{n:04d}.lab.local",
                "--set", "network.install_device=enp2s0f0",
                "--set", f"network.bridges[0].ipv4.address={host_address(n)}",
                "--set", "network.bridges[0].ipv4.gateway=10.20.0.1"]
        times.append(timed(argv, work))
    return statistics.mean(times), len(times)


def kickstart_of(tree: Path, hostname: str) -> Path:
    """http/ks/<hostname>/<token>.cfg: the one kickstart in the host's folder."""
    (path,) = (tree / "http/ks" / hostname).glob("*.cfg")
    return path


def per_file_ksvalidator(work: Path, tree: Path, hosts: int, sample: int) -> tuple[float, int] | None:
    ksvalidator = shutil.which("ksvalidator") or str(Path(sys.executable).parent / "ksvalidator")
    if not Path(ksvalidator).exists():
        return None
    times = []
    for n in sample_indexes(hosts, sample):
        times.append(timed([ksvalidator, "-v", "RHEL7", str(kickstart_of(tree, f"kvm{n:04d}.lab.local"))], work))
    return statistics.mean(times), len(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--sample", type=int, default=12, help="hosts timed for each per-host peer")
    parser.add_argument("--jobs", type=int, default=None)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="ksbuild-bench-fleet-") as tmp:
        work = Path(tmp)
        (work / "profiles").mkdir()
        inventory = work / "lab.yaml"
        write_inventory(inventory, args.hosts)
        tree = work / "out"
        render = [*KSBUILD, "fleet", "render", str(inventory), "-o", str(tree)]
        if args.jobs is not None:
            render += ["--jobs", str(args.jobs)]
        env_cores = os.cpu_count() or 1

        full = timed(render, work)
        ks_files = sorted((tree / "http/ks").glob("*/*.cfg"))
        if len(ks_files) != args.hosts:
            sys.exit(f"expected {args.hosts} kickstarts, found {len(ks_files)}")
        no_change = timed(render, work)
        changed_host = args.hosts // 2
        write_inventory(inventory, args.hosts, changed=changed_host)
        one_change = timed(render, work)
        text = kickstart_of(tree, f"kvm{changed_host:04d}.lab.local").read_text()
        if "10.20.250." not in text:
            sys.exit("the changed host's kickstart was not rewritten")

        render_mean, render_n = per_host_render(work, args.hosts, args.sample)
        validator = per_file_ksvalidator(work, tree, args.hosts, args.sample)

    print(f"fleet of {args.hosts} hosts, {env_cores} core(s), jobs={args.jobs or env_cores}")
    print(f"  full render + validate     {full:8.2f} s   (goal < {GOAL_FULL_S:.0f} s: "
          f"{'met' if full < GOAL_FULL_S else 'NOT met'})")
    print(f"  no-change re-render        {no_change:8.2f} s   (goal < {GOAL_NO_CHANGE_S:.0f} s: "
          f"{'met' if no_change < GOAL_NO_CHANGE_S else 'NOT met'})")
    print(f"  one host changed           {one_change:8.2f} s")
    peer_render = render_mean * args.hosts
    print(f"peers (timed on a sample of {render_n} hosts, extrapolated to {args.hosts}; running all would take "
          "too long):")
    print(f"  `ksbuild render` per host  {render_mean:8.2f} s each -> ~{peer_render:8.0f} s "
          f"({peer_render / full:.0f}x the fleet render)")
    if validator is not None:
        validator_mean, validator_n = validator
        peer_validate = validator_mean * args.hosts
        print(f"  `ksvalidator` per file     {validator_mean:8.2f} s each -> ~{peer_validate:8.0f} s "
              f"({peer_validate / full:.0f}x the fleet render, which also renders and runs shellcheck; "
              f"sample of {validator_n})")
    else:
        print("  `ksvalidator` not found (pip install pykickstart provides it)")


if __name__ == "__main__":
    main()
