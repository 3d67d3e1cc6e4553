#!/usr/bin/env python3
"""Benchmark one `ksbuild render` of the shipped profile against `ksvalidator -v RHEL7` on the kickstart it writes.

    .venv/bin/python bench/render.py [--runs 15] [--baseline DIR]

Whole processes, as a user runs them from the repository root: `ksbuild render profiles/kvm-hypervisor.yaml`
(load, schema, semantic checks, render, pykickstart with warnings as errors, shellcheck and bash -n on every
script, policy, atomic 0600 write and manifest; `-o` points into a temporary folder, the work is the same) and
`ksvalidator -v RHEL7 ks.cfg` (pykickstart only). The runs alternate, so a change in the machine's load hits
both alike; each line gives the median wall time and the median CPU time (user + system, the process and the
programs it waits for: shellcheck, bash), which a loaded machine disturbs much less. Goal: render under 0.35 s,
when ksvalidator takes about 0.17 s (issue 10), i.e. about 2x ksvalidator's wall time.

ksbuild keeps compiled templates in its cache folder ($XDG_CACHE_HOME/ksbuild, else ~/.cache/ksbuild): the
benchmark gives it a fresh one, renders once to fill it ("warm", what every render after the first one sees),
and also times renders that start with an empty cache ("cold", a first render).

`--baseline DIR` also times another ksbuild source tree (e.g. `git archive main | tar -x -C DIR`), run with the
same interpreter and DIR first on PYTHONPATH, alternating with this one: before and after in the same minutes.
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
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PROFILE = "profiles/kvm-hypervisor.yaml"
GOAL_S = 0.35
KSVALIDATOR_AT_GOAL_S = 0.17


@dataclass
class Series:
    label: str
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    def line(self) -> str:
        return (f"  {self.label:<44} wall {statistics.median(self.wall) * 1000:5.0f} ms   "
                f"cpu {statistics.median(self.cpu) * 1000:5.0f} ms")


def timed(series: Series, argv: list[str], env: Mapping[str, str]) -> None:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=REPO, env=dict(env), check=False, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stderr}")
    series.wall.append(wall)
    series.cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)


def load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15, help="runs of each command (default 15)")
    parser.add_argument("--baseline", type=Path, help="another ksbuild source tree to time alongside")
    args = parser.parse_args()
    python = sys.executable
    ksbuild = shutil.which("ksbuild") or str(Path(python).parent / "ksbuild")
    ksvalidator = shutil.which("ksvalidator") or str(Path(python).parent / "ksvalidator")
    # pip compiles a wheel's modules to bytecode when it installs them; an editable install may never have.
    for tree in (REPO, *([args.baseline] if args.baseline else [])):
        subprocess.run([python, "-m", "compileall", "-q", str(tree / "builder")], check=True)

    with tempfile.TemporaryDirectory(prefix="ksbuild-bench-") as tmp:
        folder = Path(tmp)
        env = {**os.environ, "XDG_CACHE_HOME": str(folder / "cache")}
        kickstart = folder / "out" / "ks.cfg"
        render = [ksbuild, "render", PROFILE, "-o", str(folder / "out")]
        peer = [ksvalidator, "-v", "RHEL7", str(kickstart)]
        ours, cold, validator = Series("ksbuild render (warm template cache)"), \
            Series("ksbuild render (empty template cache)"), Series("ksvalidator -v RHEL7 ks.cfg")
        baseline = Series(f"baseline {args.baseline} render") if args.baseline else None
        baseline_env = {**env, "PYTHONPATH": str(args.baseline)} if args.baseline else env

        scratch = Series("warm-up")
        timed(scratch, render, env)  # fills the cache; the kickstart exists for the peer
        timed(scratch, peer, env)
        if baseline is not None:
            timed(scratch, render, baseline_env)
        print(f"load average before: {load()}")
        for run in range(args.runs):
            timed(ours, render, env)
            timed(validator, peer, env)
            if baseline is not None:
                timed(baseline, render, baseline_env)
            if run % 3 == 0:
                # A first render: nothing compiled yet.
                timed(cold, render, {**env, "XDG_CACHE_HOME": str(folder / f"cold{run}")})
        print(f"load average after:  {load()}")

    print(f"ksbuild render {PROFILE} against ksvalidator on the kickstart it wrote; median of {args.runs} runs "
          f"each ({len(cold.wall)} with an empty cache), whole process:")
    for series in (ours, cold, validator, *([baseline] if baseline else [])):
        print(series.line())
    peer_wall = statistics.median(validator.wall)
    ratio = statistics.median(ours.wall) / peer_wall
    print(f"  ratio: render takes {ratio:.2f}x ksvalidator's wall time "
          f"(goal: {GOAL_S} s where ksvalidator takes {KSVALIDATOR_AT_GOAL_S} s, i.e. <= "
          f"{GOAL_S / KSVALIDATOR_AT_GOAL_S:.2f}x)")
    print(f"  cpu ratio: {statistics.median(ours.cpu) / statistics.median(validator.cpu):.2f}x")
    if baseline is not None:
        print(f"  baseline ratio: {statistics.median(baseline.wall) / peer_wall:.2f}x wall, "
              f"{statistics.median(baseline.cpu) / statistics.median(validator.cpu):.2f}x cpu")


if __name__ == "__main__":
    main()
