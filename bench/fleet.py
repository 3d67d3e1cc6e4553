#!/usr/bin/env python3
"""Benchmark: `ksbuild fleet render` on a generated N-host inventory (default 10,000), against the peers.

    .venv/bin/python bench/fleet.py [--hosts 10000] [--style readme|compact] [--sample 12] [--jobs N] [--no-peers]

Measured, each as the `ksbuild` command a user runs (a separate process, start-up included), with the peak RSS
of its whole process tree (the command and its workers and shellcheck processes, summed, sampled every 20 ms):

1. full render + validate (pykickstart, shellcheck, policy) of every host into an empty tree (goal for 10,000
   hosts: < 60 s on 2 cores, peak < 400 MiB);
2. the same command again with nothing changed (goal: < 2 s);
3. one host's address changed in the inventory.

The inventory is written as the README shows one (`--style readme`: block style, a MAC list, `boot_interface`
and `set` per host, about 1.6 MB for 10,000 hosts), or one flow mapping per host (`--style compact`).

Peers, for the same hosts: one `ksbuild render` process per host, and one `ksvalidator -v RHEL7` process per
rendered kickstart. Running them for all N hosts would take hours, so a sample of `--sample` hosts is timed and
the total is extrapolated (the output says so).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
KSBUILD = [sys.executable, "-m", "builder"]
GOAL_FULL_S = 60.0
GOAL_PEAK_MIB = 400.0
GOAL_NO_CHANGE_S = 2.0
_PAGE = os.sysconf("SC_PAGE_SIZE")


def host_address(n: int) -> str:
    return f"10.20.{n // 200}.{n % 200 + 10}/16"


def hostname(n: int) -> str:
    return f"kvm{n:05d}.lab.local"


def mac(n: int) -> str:
    return f"52:54:00:{n >> 16 & 0xff:02x}:{n >> 8 & 0xff:02x}:{n & 0xff:02x}"


def write_inventory(path: Path, hosts: int, *, style: str = "readme", changed: int | None = None) -> None:
    """N hypervisors from the shipped kvm-hypervisor profile, each with its own name, MAC and br0 address."""
    lines = [
        "description: generated benchmark fleet",
        "pxe:",
        "  server: http://10.20.0.1:8080",
        '  kernel_args: ["console=ttyS0,115200n8"]',
        "dhcp:",
        "  subnet: 10.20.0.0/16",
        "  gateway: 10.20.0.1",
        "  tftp_server: 10.20.0.1",
        "defaults:",
        "  profile: kvm-hypervisor",
        "  firmware: bios",
        "  set:",
        "    network.bridges[0].ipv4.gateway: 10.20.0.1",
        "hosts:",
    ]
    for n in range(hosts):
        address = host_address(n) if n != changed else f"10.20.250.{n % 200 + 10}/16"
        if style == "compact":
            lines.append(f"  - {{hostname: {hostname(n)}, macs: ['{mac(n)}'], boot_interface: enp2s0f0, "
                         f'set: {{"network.bridges[0].ipv4.address": {address}}}}}')
        else:
            lines += [
                f"  - hostname: {hostname(n)}",
                f'    macs: ["{mac(n)}"]',
                "    boot_interface: enp2s0f0",
                "    set:",
                f"      network.bridges[0].ipv4.address: {address}",
            ]
    path.write_text("\n".join(lines) + "\n")


def _tree_rss(root: int) -> int:
    """Bytes resident in `root` and all its descendants now (RSS summed: shared pages count once per process)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        pid = int(entry.name)
        children.setdefault(int(fields[1]), []).append(pid)
        rss[pid] = int(fields[21]) * _PAGE
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo.extend(children.get(pid, ()))
    return total


@dataclass(frozen=True)
class Run:
    seconds: float
    peak_mib: float


def timed(argv: list[str], cwd: Path) -> Run:
    start = time.perf_counter()
    process = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_rss(process.pid))
            done.wait(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, stderr = process.communicate()
    elapsed = time.perf_counter() - start
    done.set()
    sampler.join()
    if process.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed ({process.returncode}):\n{stderr[-3000:]}")
    return Run(elapsed, peak / 2**20)


def sample_indexes(hosts: int, sample: int) -> list[int]:
    step = max(1, hosts // sample)
    return list(range(0, hosts, step))[:sample]


def per_host_render(work: Path, hosts: int, sample: int) -> tuple[float, int]:
    """Mean seconds of one `ksbuild render` process per host (same host data, via --set), on a sample."""
    times = []
    for n in sample_indexes(hosts, sample):
        argv = [*KSBUILD, "render", "kvm-hypervisor", "-o", str(work / "peer" / hostname(n)),
                "--set", f"system.hostname={hostname(n)}",
                "--set", "network.install_device=enp2s0f0",
                "--set", f"network.bridges[0].ipv4.address={host_address(n)}",
                "--set", "network.bridges[0].ipv4.gateway=10.20.0.1"]
        times.append(timed(argv, work).seconds)
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
        times.append(timed([ksvalidator, "-v", "RHEL7", str(kickstart_of(tree, hostname(n)))], work).seconds)
    return statistics.mean(times), len(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, default=10_000)
    parser.add_argument("--style", choices=("readme", "compact"), default="readme")
    parser.add_argument("--sample", type=int, default=12, help="hosts timed for each per-host peer")
    parser.add_argument("--jobs", type=int, default=None)
    parser.add_argument("--no-peers", action="store_true", help="time the fleet render only")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="ksbuild-bench-fleet-") as tmp:
        work = Path(tmp)
        (work / "profiles").mkdir()
        inventory = work / "lab.yaml"
        write_inventory(inventory, args.hosts, style=args.style)
        size = inventory.stat().st_size
        tree = work / "out"
        render = [*KSBUILD, "fleet", "render", str(inventory), "-o", str(tree)]
        if args.jobs is not None:
            render += ["--jobs", str(args.jobs)]
        env_cores = os.cpu_count() or 1
        load_before = os.getloadavg()[0]

        full = timed(render, work)
        ks_files = sorted((tree / "http/ks").glob("*/*.cfg"))
        if len(ks_files) != args.hosts:
            sys.exit(f"expected {args.hosts} kickstarts, found {len(ks_files)}")
        no_change = timed(render, work)
        changed_host = args.hosts // 2
        write_inventory(inventory, args.hosts, style=args.style, changed=changed_host)
        one_change = timed(render, work)
        text = kickstart_of(tree, hostname(changed_host)).read_text()
        if "10.20.250." not in text:
            sys.exit("the changed host's kickstart was not rewritten")
        load_after = os.getloadavg()[0]

        if not args.no_peers:
            render_mean, render_n = per_host_render(work, args.hosts, args.sample)
            validator = per_file_ksvalidator(work, tree, args.hosts, args.sample)

    print(f"fleet of {args.hosts} hosts ({args.style} inventory, {size / 1e6:.2f} MB), {env_cores} core(s), "
          f"jobs={args.jobs or env_cores}, load average {load_before:.1f} before, {load_after:.1f} after")
    print(f"  full render + validate     {full.seconds:8.2f} s   peak {full.peak_mib:6.0f} MiB   "
          f"(goal < {GOAL_FULL_S:.0f} s and < {GOAL_PEAK_MIB:.0f} MiB: "
          f"{'met' if full.seconds < GOAL_FULL_S and full.peak_mib < GOAL_PEAK_MIB else 'NOT met'})")
    print(f"  no-change re-render        {no_change.seconds:8.2f} s   peak {no_change.peak_mib:6.0f} MiB   "
          f"(goal < {GOAL_NO_CHANGE_S:.0f} s: {'met' if no_change.seconds < GOAL_NO_CHANGE_S else 'NOT met'})")
    print(f"  one host changed           {one_change.seconds:8.2f} s   peak {one_change.peak_mib:6.0f} MiB")
    if args.no_peers:
        return
    peer_render = render_mean * args.hosts
    print(f"peers (timed on a sample of {render_n} hosts, extrapolated to {args.hosts}; running all would take "
          "too long):")
    print(f"  `ksbuild render` per host  {render_mean:8.2f} s each -> ~{peer_render:8.0f} s "
          f"({peer_render / full.seconds:.0f}x the fleet render)")
    if validator is not None:
        validator_mean, validator_n = validator
        peer_validate = validator_mean * args.hosts
        print(f"  `ksvalidator` per file     {validator_mean:8.2f} s each -> ~{peer_validate:8.0f} s "
              f"({peer_validate / full.seconds:.0f}x the fleet render, which also renders and runs shellcheck; "
              f"sample of {validator_n})")
    else:
        print("  `ksvalidator` not found (pip install pykickstart provides it)")


if __name__ == "__main__":
    main()
