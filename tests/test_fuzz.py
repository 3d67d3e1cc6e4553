"""Fuzzing the inputs a user gives: mutated copies of the shipped profiles, the test profiles and the test
inventory go through `ksbuild validate`, `show` and `fleet check`, as the CLI runs them (in this process, for
speed: `main()` with its exit code and output captured).

Whatever the input, ksbuild must answer with exit code 0, 1 or 2, never a traceback; every finding must name
a file and a line; and the output must stay small (an input cannot make ksbuild print megabytes). Bounded and
seeded: the same cases every run, a few seconds each at most.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import re
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

import pytest

from builder.cli.main import main
from tests.helpers import MINIMAL, REPO

DATA = Path(__file__).parent / "data"
# The shipped profiles and examples (valid: mutations reach the model, checks, templates and validators) and the
# loader's test files (broken on purpose: mutations start from the YAML reader's corners).
SHIPPED = sorted((REPO / "profiles").rglob("*.yaml"))
SEEDS = sorted([*SHIPPED, *SHIPPED, *SHIPPED, *(DATA / "load").rglob("*.yaml")])
INVENTORY = DATA / "fleet" / "lab.yaml"
PROFILE_CASES = 120
INVENTORY_CASES = 24
OUTPUT_LIMIT = 256 * 1024  # bytes of stdout + stderr for one command
SECONDS_LIMIT = 20

# Values a user (or an attacker) might put where another value was: long ones, deep ones, aliases, tags,
# control characters, path tricks, numbers at the edges, YAML's own surprises.
NASTY = [
    "'" + "a" * 100_000 + "'", "[" * 80 + "]" * 80, "*nowhere", "&x [*x]", "!!python/object:os.system", "~",
    "''", "'\\t\\x00'", "\"\\x1b]2;PWNED\\x07\"", "0x_", "1e999", "-1", "99999999999999999999999", "yes", "0644",
    "2024-01-01", "52:54:00:12:34:56", "../../../../etc/passwd", "'/dev/zero'", "{a: 1, a: 2}", "[1, [2, [3]]]",
    "\"$(reboot)\"", "'`id`'", "'a;reboot'", "'}{'", "'\u202e\u0000'", "'" + "x" * 300 + "'", "ff:ff:ff:ff:ff:ff",
    "'http://h/os;reboot'", "'a,b'", "<<: *nowhere", "!!binary aGVsbG8=", "'%post\\n%end'",
    # and plain ones that pass the schema somewhere, so cases reach the checks, the templates and the validators
    "true", "false", "0", "1", "4096", "permissive", "UTC", "en_US.UTF-8", "br0", "eth9", "192.0.2.7/24",
    "192.0.2.1", "[]", "{}", "'x y'", "kvm99.example.com", "http://192.0.2.1/os", "[vim, 'a b']",
]


_INLINE_VALUE = re.compile(r"\s*(- )?[A-Za-z0-9_.-]+: +[^\s#{]")  # `key: value` on one line, not a flow mapping


def mutate(text: str, rng: random.Random) -> str:
    """One or two random edits of a YAML text, most of them keeping it YAML (a value replaced by a nasty one,
    a line dropped or doubled), some not (lines swapped or re-indented, bytes inserted, the end cut off)."""
    lines = text.splitlines()
    for _ in range(rng.randint(1, 2)):
        if not lines:
            lines = ["a: 1"]
        at = rng.randrange(len(lines))
        edit = rng.choices(range(7), weights=(16, 2, 2, 1, 1, 1, 1))[0]
        valued = [n for n, line in enumerate(lines) if _INLINE_VALUE.match(line)]
        if edit == 0 and valued:
            at = rng.choice(valued)
            key = lines[at].split(":", 1)[0]
            lines[at] = f"{key}: {rng.choice(NASTY)}"
        elif edit == 1:
            del lines[at]
        elif edit == 2:
            lines.insert(at, lines[at])
        elif edit == 3:
            other = rng.randrange(len(lines))
            lines[at], lines[other] = lines[other], lines[at]
        elif edit == 4:
            lines[at] = " " * rng.choice((1, 2, 3, 4, 8)) + lines[at]
        elif edit == 5:
            position = rng.randrange(len(lines[at]) + 1)
            junk = "".join(rng.choice("{}[]:,-&*!|>'\"#%@` \t\\") for _ in range(rng.randint(1, 4)))
            lines[at] = lines[at][:position] + junk + lines[at][position:]
        else:
            lines = lines[: rng.randrange(len(lines) + 1)]
    return "\n".join(lines) + "\n"


@contextlib.contextmanager
def deadline(seconds: int) -> Iterator[None]:
    def expired(signum: int, frame: FrameType | None) -> None:
        # pytest.fail, not TimeoutError: that is an OSError, which ksbuild's main answers as bad input (exit 2),
        # and the run would pass as a refusal.
        pytest.fail(f"took longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def run(args: list[str], cwd: Path) -> tuple[int, str]:
    """`ksbuild ARGS` in `cwd` as a user runs it: the exit code and everything it printed. An exception that
    escapes main() (a traceback for the user) fails the test, and so does a run longer than SECONDS_LIMIT."""
    out, err = io.StringIO(), io.StringIO()
    before = Path.cwd()
    os.chdir(cwd)
    try:
        with deadline(SECONDS_LIMIT), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main(args)
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 2
            else:
                code = 0
    finally:
        os.chdir(before)
    return code, out.getvalue() + err.getvalue()


def check_run(args: list[str], cwd: Path, case: str) -> str:
    code, output = run(args, cwd)
    assert code in (0, 1, 2), f"{case}: exit {code}\n{output[-2000:]}"
    assert "Traceback" not in output, f"{case}:\n{output[-4000:]}"
    assert len(output.encode()) <= OUTPUT_LIMIT, f"{case}: {len(output.encode())} bytes of output"
    return output


def check_findings(report: object, case: str) -> None:
    findings = [f for item in report.get("inputs", [report]) for f in item.get("findings", [])] \
        if isinstance(report, dict) else []
    for finding in findings:
        assert finding["file"] and finding["line"], f"{case}: a finding without a file and line: {finding}"


def cases(count: int, seeds: list[Path], salt: int) -> list[tuple[str, Path, int]]:
    rng = random.Random(salt)
    return [(f"{seed.name}#{n}", seed, rng.randrange(2**32)) for n, seed in
            enumerate(rng.choice(seeds) for _ in range(count))]


@pytest.mark.parametrize(("case", "seed", "number"), cases(PROFILE_CASES, SEEDS, 9))
def test_a_mutated_profile_gets_an_answer_never_a_traceback(tmp_path: Path, case: str, seed: Path,
                                                           number: int) -> None:
    rng = random.Random(number)
    # The seed's folder copied as it is (its bases, for `extends`), the fuzzed file beside the seed.
    top = REPO / "profiles" if seed.is_relative_to(REPO / "profiles") else DATA / "load"
    shutil.copytree(top, tmp_path / top.name)
    fuzzed = (tmp_path / top.name / seed.relative_to(top)).with_name("fuzzed.yaml")
    fuzzed.write_text(mutate(seed.read_text(encoding="utf-8-sig"), rng), encoding="utf-8")
    name = str(fuzzed.relative_to(tmp_path))
    report = check_run(["validate", name, "--no-shellcheck", "--format", "json"], tmp_path, case)
    check_findings(json.loads(report[: report.rindex("}") + 1]), case)
    check_run(["show", name], tmp_path, case)


@pytest.mark.parametrize(("case", "seed", "number"), cases(INVENTORY_CASES, [INVENTORY], 11))
def test_a_mutated_inventory_gets_an_answer_never_a_traceback(tmp_path: Path, case: str, seed: Path,
                                                             number: int) -> None:
    rng = random.Random(number)
    shutil.copytree(DATA / "fleet" / "profiles", tmp_path / "profiles")
    (tmp_path / "lab.yaml").write_text(mutate(seed.read_text(), rng), encoding="utf-8")
    report = check_run(["fleet", "check", "lab.yaml", "--jobs", "1", "--format", "json"], tmp_path, case)
    if report.lstrip().startswith("{"):
        check_findings(json.loads(report[: report.rindex("}") + 1]), case)


def test_a_finding_about_the_whole_kickstart_is_located_in_the_profile(tmp_path: Path) -> None:
    # Found by this fuzzer with another seed: a profile whose partitioning comes from an %include that no %pre
    # writes gave "no partitioning" (KS506) for the whole kickstart, with no line. It belongs to storage.
    profile = tmp_path / "lab.yaml"
    profile.write_text(MINIMAL + "storage:\n  layout: include\n")
    output = check_run(["validate", "lab.yaml", "--no-shellcheck", "--format", "json"], tmp_path, "include")
    report = json.loads(output[: output.rindex("}") + 1])
    (item,) = report["inputs"]
    check_findings(report, "include")
    no_storage = [f for f in item["findings"] if f["rule"] == "KS506"]
    assert [(f["file"], f["line"], f["key"]) for f in no_storage] == [("lab.yaml", MINIMAL.count("\n") + 1, "storage")]
