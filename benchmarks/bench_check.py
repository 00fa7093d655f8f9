"""Benchmark ``ccpolicy check`` on large policies: seconds per run, and growth.

Run: ``python benchmarks/bench_check.py [--sizes 1000 2000 5000] [--timeout 300]
[--profile WORKLOAD]`` (prints figures; asserts nothing).

Workloads (each written to a temporary directory, checked by a fresh ``ccpolicy check``
process so that nothing is cached between them; the cache directory is a fresh one too):

- ``scenarios-N``: ``run.generated_policy`` — the bundled catalogue, N generated
  scenarios (their own licences, zones and denials) and the bundled scenarios after them;
- ``or-4000``: the bundled rules plus one scenario whose condition is an ``or`` of 4,000
  terms (``destination in CC``, ``to is CLASS``, ``user has LICENCE`` in turn);
- ``zone-us-100000``: the bundled rules plus a zone listing ``US`` 100,000 times.

The figure is the wall time of the process (interpreter start-up included, ~0.3 s), and
the size of what it printed. ``--profile NAME`` runs one workload in this process under
cProfile and prints the 25 most expensive functions (cumulative).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import math
import os
import pstats
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import redirect_stdout
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from run import CLASSES, OTHER_COUNTRIES, generated_policy  # noqa: E402

from policy.support.resources import rules_dir  # noqa: E402


def bundled_plus(folder: Path, extra: str) -> Path:
    """The bundled rules with ``extra`` appended as a file of its own (read last)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("catalog.ccp", "scenarios.ccp", "rates.csv", "rates.yaml"):
        source = Path(rules_dir()) / name
        if source.exists():
            (folder / name).write_bytes(source.read_bytes())
    (folder / "zz_extra.ccp").write_text(extra, encoding="utf-8")
    return folder


def big_or(folder: Path, terms: int = 4000) -> Path:
    licences = ["teams_phone", "audio_conferencing", "domestic_calling_plan"]
    parts = []
    for i in range(terms):
        kind = i % 3
        if kind == 0:
            parts.append(f"destination in {OTHER_COUNTRIES[i % len(OTHER_COUNTRIES)]}")
        elif kind == 1:
            parts.append(f"to is {CLASSES[i % len(CLASSES)]}")
        else:
            parts.append(f"user has {licences[i % len(licences)]}")
    body = "\n        or ".join(parts)
    extra = (
        'scenario huge_or "A scenario with a very long condition":\n'
        f"    when outbound and from user and (\n        {body})\n"
        "    then credits of user\n"
    )
    return bundled_plus(folder, extra)


def repeated_zone(folder: Path, times: int = 100_000) -> Path:
    members = " ".join(["US"] * times)
    return bundled_plus(folder, f'zone repeated "Repeated" = {members}\n')


WORKLOADS: dict[str, Callable[[Path], Path]] = {
    "or-4000": big_or,
    "zone-us-100000": repeated_zone,
}


def workload(name: str, folder: Path) -> Path:
    if name.startswith("scenarios-"):
        return generated_policy(folder, int(name.split("-", 1)[1]))
    return WORKLOADS[name](folder)


def timed_check(folder: Path, timeout: float) -> tuple[float | None, int, int]:
    """(seconds or None on timeout, exit code, bytes printed) of one ``check`` process."""
    env = dict(os.environ)
    with tempfile.TemporaryDirectory() as cache:
        env["CCPOLICY_CACHE_DIR"] = cache
        began = time.perf_counter()
        try:
            done = subprocess.run(
                [sys.executable, "-m", "policy", "check", str(folder)],
                env=env,
                capture_output=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return None, -1, 0
        elapsed = time.perf_counter() - began
    return elapsed, done.returncode, len(done.stdout) + len(done.stderr)


def profile(name: str) -> None:
    from policy.cli import main

    with tempfile.TemporaryDirectory() as tmp:
        folder = workload(name, Path(tmp) / name)
        profiler = cProfile.Profile()
        sink = io.StringIO()
        with redirect_stdout(sink):
            profiler.enable()
            code = main(["check", str(folder)])
            profiler.disable()
        print(f"{name}: exit {code}, {len(sink.getvalue()):,} bytes printed")
        stats = pstats.Stats(profiler).sort_stats("cumulative")
        stats.print_stats(25)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[1000, 2000, 5000])
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--only", nargs="*", help="workload names (default: all)")
    parser.add_argument("--profile", metavar="WORKLOAD", help="profile one workload")
    args = parser.parse_args()
    if args.profile:
        profile(args.profile)
        return
    names = [f"scenarios-{n}" for n in args.sizes] + list(WORKLOADS)
    if args.only:
        names = [n for n in names if n in args.only]
    print(f"{'workload':<18} {'seconds':>9} {'exit':>5} {'printed':>12}  growth")
    first: tuple[int, float] | None = None
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            folder = workload(name, Path(tmp) / name)
            seconds, code, printed = timed_check(folder, args.timeout)
            shown = f"{seconds:9.2f}" if seconds is not None else f">{args.timeout:8.0f}"
            growth = ""
            if name.startswith("scenarios-") and seconds is not None:
                n = int(name.split("-", 1)[1])
                if first is None:
                    first = (n, seconds)
                else:
                    # time ratio against the n·log n ratio from the smallest size
                    n0, s0 = first
                    ideal = (n * math.log(n)) / (n0 * math.log(n0))
                    growth = f"×{seconds / s0:.2f} (n·log n: ×{ideal:.2f})"
            print(f"{name:<18} {shown} {code:>5} {printed:>12,}  {growth}", flush=True)


if __name__ == "__main__":
    main()
