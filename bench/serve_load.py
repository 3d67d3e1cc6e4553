#!/usr/bin/env python3
"""Benchmark: `ksbuild serve` under load on loopback: concurrent kickstart fetches while idle slow clients
hold connections, against the peer http.server (what `ksbuild serve` was built on before).

    .venv/bin/python bench/serve_load.py [--fetches 1000] [--idle 1000] [--hosts 10] [--no-peer]

1. A fleet of `--hosts` hosts is rendered; `ksbuild serve` runs as a user runs it (its own process).
2. `--idle` clients connect and send half a request (a request line and one header), then nothing.
3. While they hang on, `--fetches` clients fetch kickstarts at once (each host's own token URL), every one
   on its own connection. Every fetch must be answered with the whole kickstart; the latency of each (from
   connect to the last byte) gives p50/p95/p99.
4. The idle clients are then watched until the server cuts them off (its --client-timeout).

Loopback only (127.0.0.1), bounded: each fetch gives up after `FETCH_TIMEOUT_S`, the whole run after
`RUN_TIMEOUT_S` per server. The peer serves the same http/ folder with http.server's ThreadingHTTPServer
(listen backlog 5, no timeouts), in a process of its own with the same open-files limit.
"""

from __future__ import annotations

import argparse
import asyncio
import json
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
sys.path.insert(0, str(REPO))

from builder.fleet.serve import raise_open_files_limit  # noqa: E402

FETCH_TIMEOUT_S = 30.0
RUN_TIMEOUT_S = 120.0
CLIENT_TIMEOUT_S = 10.0
PEER = """
import functools, http.server, sys
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[1])
handler.func.log_message = lambda *args: None
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
server.daemon_threads = True
print(f"serving on http://127.0.0.1:{server.server_address[1]};", flush=True)
server.serve_forever()
"""


@dataclass
class Result:
    name: str
    answered: int
    failed: dict[str, int]
    latencies: list[float]
    wall_s: float
    idle_held: int
    idle_cut: int
    idle_cut_after_s: float | None

    def line(self) -> str:
        q = statistics.quantiles(self.latencies, n=100) if len(self.latencies) >= 2 else [float("nan")] * 99
        failed = ", ".join(f"{count} {kind}" for kind, count in sorted(self.failed.items())) or "none"
        cut = (f"{self.idle_cut}/{self.idle_held} cut off (last after {self.idle_cut_after_s:.1f} s)"
               if self.idle_cut_after_s is not None else f"0/{self.idle_held} cut off")
        return (f"{self.name:<24} answered {self.answered}/{self.answered + sum(self.failed.values())} "
                f"(failed: {failed}); p50 {q[49] * 1000:.0f} ms, p95 {q[94] * 1000:.0f} ms, "
                f"p99 {q[98] * 1000:.0f} ms; wall {self.wall_s:.1f} s; idle clients: {cut}")

    def p99(self) -> float:
        return statistics.quantiles(self.latencies, n=100)[98] if len(self.latencies) >= 2 else float("inf")


def write_fleet(work: Path, hosts: int) -> Path:
    shutil.copytree(REPO / "tests/data/fleet/profiles", work / "profiles")
    lines = ["pxe: {server: 'http://127.0.0.1:8080'}", "defaults: {profile: profiles/hv.yaml}", "hosts:"]
    for n in range(hosts):
        lines += [f"  - hostname: kvm{n:03d}.lab.local", f"    macs: ['52:54:00:cc:00:{n:02x}']", "    set:",
                  f"      network.bridges[0].ipv4.address: 192.168.80.{100 + n}/24"]
    (work / "lab.yaml").write_text("\n".join(lines) + "\n")
    subprocess.run([sys.executable, "-m", "builder", "fleet", "render", "lab.yaml", "-o", "out"], cwd=work,
                   check=True, capture_output=True)
    return work / "out"


def kickstart_paths(tree: Path) -> list[tuple[str, int]]:
    """(URL path, size) of every host's kickstart, with its token."""
    states = json.loads((tree / "state.json").read_text())["hosts"]
    paths = []
    for host, entry in sorted(states.items()):
        url_path = f"/ks/{host}/{entry['token']}.cfg"
        paths.append((url_path, (tree / "http" / url_path.lstrip("/")).stat().st_size))
    return paths


async def fetch(port: int, path: str, size: int) -> float | str:
    start = time.monotonic()
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), FETCH_TIMEOUT_S)
        writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        await writer.drain()
        data = await asyncio.wait_for(reader.read(), FETCH_TIMEOUT_S)
        writer.close()
    except TimeoutError:
        return "timed out"
    except OSError as exc:
        return type(exc).__name__
    head, _, body = data.partition(b"\r\n\r\n")
    if head.split(b" ", 2)[1:2] != [b"200"] or len(body) != size:
        return "wrong reply"
    return time.monotonic() - start


async def idle_client(port: int, path: str, opened: list[int], cut: list[float], start: float) -> None:
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return
    opened.append(1)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n".encode())  # and never the blank line
    try:
        await writer.drain()
        await reader.read()  # returns when the server closes the connection
        cut.append(time.monotonic() - start)
    except OSError:
        cut.append(time.monotonic() - start)
    finally:
        writer.close()


async def load(name: str, port: int, paths: list[tuple[str, int]], fetches: int, idle: int,
               watch_idle_s: float) -> Result:
    opened: list[int] = []
    cut: list[float] = []
    idle_start = time.monotonic()
    idlers = [asyncio.create_task(idle_client(port, paths[n % len(paths)][0], opened, cut, idle_start))
              for n in range(idle)]
    await asyncio.sleep(1.0)  # let them connect and send their half request
    start = time.monotonic()
    outcomes = await asyncio.gather(*(fetch(port, *paths[n % len(paths)]) for n in range(fetches)))
    wall = time.monotonic() - start
    # The idle clients: does the server cut them off by itself?
    await asyncio.wait(idlers, timeout=max(1.0, watch_idle_s - (time.monotonic() - idle_start)))
    for task in idlers:
        task.cancel()
    await asyncio.gather(*idlers, return_exceptions=True)
    latencies = [o for o in outcomes if isinstance(o, float)]
    failed: dict[str, int] = {}
    for outcome in outcomes:
        if isinstance(outcome, str):
            failed[outcome] = failed.get(outcome, 0) + 1
    return Result(name, len(latencies), failed, latencies, wall, len(opened), len(cut), max(cut) if cut else None)


def run_against(name: str, argv: list[str], paths: list[tuple[str, int]], args: argparse.Namespace) -> Result:
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        port = int(first.split(" on ", 1)[1].split(";", 1)[0].rsplit(":", 1)[1])
        # Read its console as a terminal would, so a full pipe plays no part in the numbers.
        threading.Thread(target=process.stdout.read, daemon=True).start()
        return asyncio.run(asyncio.wait_for(
            load(name, port, paths, args.fetches, args.idle, CLIENT_TIMEOUT_S + 5.0), RUN_TIMEOUT_S))
    finally:
        process.terminate()
        try:
            process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fetches", type=int, default=1000)
    parser.add_argument("--idle", type=int, default=1000)
    parser.add_argument("--hosts", type=int, default=10)
    parser.add_argument("--no-peer", action="store_true", help="skip the http.server peer")
    args = parser.parse_args()
    if not 1 <= args.fetches <= 5000 or not 0 <= args.idle <= 5000 or not 1 <= args.hosts <= 200:
        parser.error("bounded: --fetches 1..5000, --idle 0..5000, --hosts 1..200")
    open_files = raise_open_files_limit()  # this client holds fetches + idle connections itself
    print(f"open files allowed: {open_files}; {args.fetches} fetches, {args.idle} idle clients, {args.hosts} hosts",
          flush=True)
    with tempfile.TemporaryDirectory(prefix="ksbuild-serve-bench-") as folder:
        tree = write_fleet(Path(folder), args.hosts)
        paths = kickstart_paths(tree)
        ours = run_against("ksbuild serve (tornado)", [sys.executable, "-m", "builder", "serve", str(tree),
                                                       "--port", "0"], paths, args)
        print(ours.line(), flush=True)
        results = [ours]
        if not args.no_peer:
            peer = run_against("peer: http.server", [sys.executable, "-c", PEER, str(tree / "http")], paths, args)
            print(peer.line(), flush=True)
            results.append(peer)
            print(f"p99 peer / ksbuild serve: {peer.p99() / ours.p99():.1f}x; answered "
                  f"{ours.answered} vs {peer.answered}")
    return 0 if ours.answered == args.fetches else 1


if __name__ == "__main__":
    sys.exit(main())
