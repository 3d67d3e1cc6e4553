#!/usr/bin/env python3
"""Benchmark `ksbuild validate` against its peer, `ksvalidator -v RHEL7`, in the same run.

    .venv/bin/python bench/validate.py [--n 200] [--runs 10]

1. Single file: one `ksbuild validate FILE.cfg` process against one `ksvalidator -v RHEL7 FILE.cfg` process on a
   hand-written hypervisor kickstart (bench/hand-written.cfg) that both read completely; `--runs` runs each,
   median, whole process. ksbuild does more (storage, secrets, shellcheck and bash -n of 5 scripts, policy);
   goal: no slower than ksvalidator.
2. Batch: render + validate N profiles in ONE `ksbuild validate` process, against one ksvalidator process per
   rendered kickstart (its normal use). Goal: >= 15x at N=200 on 2 cores.
3. `ksbuild --help` start-up, and whether rendering/validating imports libvirt (it must not).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
KSBUILD = [sys.executable, "-m", "builder"]
# The console script a user runs (what ksvalidator is too), for the whole-process single-file comparison.
KSBUILD_SCRIPT = [shutil.which("ksbuild") or str(Path(sys.executable).parent / "ksbuild")]


def make_profiles(folder: Path, count: int) -> list[Path]:
    """N hypervisors that differ in host name and address, all extending the shipped kvm-hypervisor profile."""
    shutil.copy(REPO / "profiles/base.yaml", folder / "base.yaml")
    shutil.copy(REPO / "profiles/kvm-hypervisor.yaml", folder / "kvm-hypervisor.yaml")
    paths = []
    for n in range(count):
        path = folder / f"host{n:04d}.yaml"
        path.write_text(
            "extends: kvm-hypervisor\n"
            f"system: {{hostname: kvm{n:04d}.lab.local}}\n"
            "network:\n  bridges:\n    - name: br0\n      stp: true\n"
            f"      ipv4: {{address: 10.{n // 250}.{n % 250}.10/16, gateway: 10.{n // 250}.0.1}}\n"
        )
        paths.append(path)
    return paths


def timed(argv: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(argv, cwd=cwd, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def children_cpu() -> float:
    """CPU seconds (user + system) of the finished programs this one waited for, theirs included."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def single_file(ksvalidator: str, runs: int) -> None:
    kickstart = REPO / "bench" / "hand-written.cfg"
    for argv in ([*KSBUILD_SCRIPT, "validate", str(kickstart)], [ksvalidator, "-v", "RHEL7", str(kickstart)]):
        check = subprocess.run(argv, capture_output=True, text=True, check=False)
        if check.returncode != 0:
            sys.exit(f"{argv[0]} does not accept {kickstart}:\n{check.stdout}{check.stderr}")
    # Interleaved, so that a change in the machine's load hits both alike.
    ours_runs, peer_runs = [], []
    for _ in range(runs):
        ours_runs.append(timed([*KSBUILD_SCRIPT, "validate", str(kickstart)], REPO))
        peer_runs.append(timed([ksvalidator, "-v", "RHEL7", str(kickstart)], REPO))
    ours, peer = statistics.median(ours_runs), statistics.median(peer_runs)
    print(f"single file ({kickstart.name}), median of {runs} whole-process runs each:")
    print(f"  ksbuild validate FILE.cfg      {ours * 1000:.0f} ms")
    print(f"  ksvalidator -v RHEL7 FILE.cfg  {peer * 1000:.0f} ms")
    print(f"  ratio: ksbuild takes {ours / peer:.2f}x ksvalidator's time (goal <= 1.00)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=200, help="number of profiles (default 200; 0: single file only)")
    parser.add_argument("--runs", type=int, default=10, help="runs of each single-file command (default 10)")
    args = parser.parse_args()
    ksvalidator = shutil.which("ksvalidator") or str(Path(sys.executable).parent / "ksvalidator")
    # pip compiles a wheel's modules to bytecode when it installs them; an editable install under
    # PYTHONDONTWRITEBYTECODE=1 never does, and would pay ~40 ms of compiling in every run.
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "builder")], check=True)
    single_file(ksvalidator, args.runs)
    if args.n <= 0:
        return

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        profiles = make_profiles(folder, args.n)
        check = subprocess.run([*KSBUILD, "validate", *map(str, profiles)], cwd=folder, capture_output=True,
                               text=True, check=False)
        if check.returncode != 0:
            sys.exit(f"ksbuild validate failed:\n{check.stdout[-2000:]}{check.stderr[-2000:]}")
        cpu_before = children_cpu()
        ksbuild_time = timed([*KSBUILD, "validate", *map(str, profiles)], folder)
        ksbuild_cpu = children_cpu() - cpu_before

        # The peer needs the kickstarts on disk: render them first (not timed).
        for profile in profiles:
            subprocess.run([*KSBUILD, "render", str(profile)], cwd=folder, check=True, capture_output=True)
        kickstarts = sorted(folder.glob("output/*/ks.cfg"))
        assert len(kickstarts) == args.n
        start, cpu_before = time.perf_counter(), children_cpu()
        for kickstart in kickstarts:
            subprocess.run([ksvalidator, "-v", "RHEL7", str(kickstart)], check=False, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        peer_time, peer_cpu = time.perf_counter() - start, children_cpu() - cpu_before

    help_times = [timed([*KSBUILD_SCRIPT, "--help"], REPO) for _ in range(args.runs)]
    imports = subprocess.run(
        [sys.executable, "-c", "import sys, builder.cli.main as m, builder.commands, builder.pipeline; "
         "print('libvirt' in sys.modules)"], capture_output=True, text=True, check=True, cwd=REPO).stdout.strip()

    print(f"profiles: {args.n}")
    print(f"ksbuild validate (render + schema + checks + pykickstart + shellcheck + policy), 1 process: "
          f"{ksbuild_time:.2f} s")
    print(f"ksvalidator -v RHEL7, 1 process per kickstart (pykickstart only):                        "
          f"{peer_time:.2f} s")
    print(f"ratio: ksbuild is {peer_time / ksbuild_time:.1f}x faster (goal >= 15x at N=200)")
    print(f"cpu (user + system, programs run included): ksbuild {ksbuild_cpu:.2f} s, ksvalidator {peer_cpu:.2f} s, "
          f"ratio {peer_cpu / ksbuild_cpu:.1f}x; load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print(f"ksbuild --help start-up: median {statistics.median(help_times) * 1000:.0f} ms over {args.runs} runs")
    print(f"libvirt imported by render/validate code: {imports}")


if __name__ == "__main__":
    main()
