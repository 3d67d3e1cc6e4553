#!/usr/bin/env python3
"""Benchmark: the same install through `ksbuild boot-test --no-verify` and through `virt-install`.

    .venv/bin/python bench/boot_test.py [--location ISO] [--runs 1]

Both install the very kickstart ksbuild rendered for the run, from the same ISO, under TCG with 1 GiB and 2 vCPUs;
both wait for the installer to finish. Prints wall time and the peak memory of each orchestrator process
(ksbuild or virt-install; the qemu process belongs to libvirtd and is the same for both) and the ratios.
ksbuild does more in that time: it watches both logs, judges the verdict and cleans up everything.
Goal: ksbuild's wall time within 10% of virt-install's.

Without --location it builds the test installer's ISO (tests/installer), the stand-in for anaconda.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PROFILE = REPO / "profiles/golden-image.yaml"
# Run a command and report its wall time and the peak RSS of it and its children, in a fresh process.
MEASURE = (
    "import resource, subprocess, sys, time, json; t = time.perf_counter(); "
    "rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode; "
    "print(json.dumps({'rc': rc, 'seconds': time.perf_counter() - t, "
    "'peak_kib': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))"
)


def measure(argv: list[str], cwd: Path) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", MEASURE, *argv], cwd=cwd, capture_output=True, text=True,
                         check=True).stdout
    return json.loads(out)


def ksbuild_run(iso: Path, work: Path) -> tuple[dict[str, float], Path]:
    result = measure([sys.executable, "-m", "builder", "boot-test", str(PROFILE), "--location", str(iso),
                      "--no-verify", "--memory", "1024", "--vcpus", "2", "--accel", "tcg", "--no-keep-disk"], work)
    kickstarts = sorted(work.glob("output/golden-image/runs/*/ks.cfg"))
    if result["rc"] != 0 or not kickstarts:
        sys.exit(f"ksbuild boot-test failed (exit {result['rc']}); see {work}/output")
    return result, kickstarts[-1]


def virt_install_run(iso: Path, kickstart: Path, work: Path) -> dict[str, float]:
    name = f"bench-virtinstall-{uuid.uuid4().hex[:8]}"
    console = work / f"{name}.log"
    argv = [
        "virt-install", "--connect", "qemu:///system", "--name", name, "--memory", "1024", "--vcpus", "2",
        "--virt-type", "qemu", "--cpu", "qemu64,+svm", "--location", str(iso), "--initrd-inject", str(kickstart),
        # The same boot arguments ksbuild gives; virt-install adds inst.repo only for media osinfo recognises.
        "--extra-args",
        "inst.ks=file:/ks.cfg inst.repo=cdrom inst.text inst.cmdline console=tty0 console=ttyS0,115200n8",
        "--disk", "size=20,format=qcow2,cache=unsafe", "--network", "user", "--graphics", "none",
        "--serial", f"file,path={console}", "--osinfo", "detect=on,require=off", "--noautoconsole",
        "--wait", "-1", "--noreboot", "--transient",
    ]
    try:
        return measure(argv, work)
    finally:
        subprocess.run(["virsh", "-c", "qemu:///system", "destroy", name], capture_output=True, check=False)
        table = subprocess.run(["virsh", "-c", "qemu:///system", "vol-list", "default"],
                               capture_output=True, text=True, check=False).stdout.splitlines()
        for volume in (line.split()[0] for line in table[2:] if line.strip()):
            if volume.startswith(name):
                subprocess.run(["virsh", "-c", "qemu:///system", "vol-delete", volume, "--pool", "default"],
                               capture_output=True, check=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--location", type=Path, help="install ISO (default: the test installer's ISO)")
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    if shutil.which("virt-install") is None:
        sys.exit("virt-install is not installed (Debian package virtinst)")
    iso = args.location
    if iso is None:
        sys.path.insert(0, str(REPO))
        from tests.installer.build import build_test_tree

        iso = build_test_tree(REPO / "tests/.cache/installer").iso
    ours, theirs = [], []
    with tempfile.TemporaryDirectory(prefix="ksbuild-bench-") as tmp:
        work = Path(tmp)
        for _ in range(args.runs):
            result, kickstart = ksbuild_run(iso, work)
            ours.append(result)
            time.sleep(2)
            theirs.append(virt_install_run(iso, kickstart, work))
    ks_time = statistics.median(r["seconds"] for r in ours)
    vi_time = statistics.median(r["seconds"] for r in theirs)
    ks_mem = max(r["peak_kib"] for r in ours) / 1024
    vi_mem = max(r["peak_kib"] for r in theirs) / 1024
    print(f"install from {iso.name}, TCG, {args.runs} run(s), median wall time")
    print(f"ksbuild boot-test --no-verify: {ks_time:6.1f} s, peak RSS {ks_mem:6.1f} MiB "
          "(watching logs, verdict, cleanup)")
    print(f"virt-install --wait:           {vi_time:6.1f} s, peak RSS {vi_mem:6.1f} MiB "
          f"(exit {int(theirs[-1]['rc'])})")
    print(f"ratio ksbuild/virt-install: time {ks_time / vi_time:.2f} (goal <= 1.10), memory {ks_mem / vi_mem:.2f}")


if __name__ == "__main__":
    main()
