"""Benchmark number classification: µs per E.164 number, seen and unseen.

Run: ``python benchmarks/bench_numbers.py [--numbers 50000] [--runs 5]`` (prints figures;
asserts nothing).

"unseen" numbers are distinct random ones from the batch benchmark's destination
prefixes (``bench_rate.PREFIXES``), classified after ``_classify_e164.cache_clear()``
with their calling codes' tables already compiled; "cache hit" classifies them again;
"libphonenumber" is the reference path (``parse``, ``is_possible_number``,
``region_code_for_number``, type) on the same numbers; "first use" compiles one calling
code's tables. Medians come from timing each call, means from the whole batch's CPU time;
each figure is the median of ``--runs`` runs (the machine is shared: figures drift).
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import time
from collections.abc import Callable, Sequence

from bench_rate import PREFIXES

import policy.data.numbers
from policy.data.numbers import BadNumber, NumberInfo, classify


def numbers(count: int, seed: int) -> list[str]:
    """``count`` distinct numbers: a prefix of PREFIXES and random subscriber digits."""
    rng = random.Random(seed)
    out: dict[str, None] = {}
    while len(out) < count:
        prefix, digits = rng.choice(PREFIXES)
        out[prefix + "".join(rng.choice("0123456789") for _ in range(digits))] = None
    return list(out)


def per_call(fn: Callable[[str], object], texts: Sequence[str]) -> list[float]:
    """µs of each call (the clock's own cost subtracted)."""
    clock = time.perf_counter_ns
    overhead = min(-clock() + clock() for _ in range(1000))
    out = []
    for text in texts:
        t0 = clock()
        try:  # noqa: SIM105 (contextlib.suppress costs more than some calls timed)
            fn(text)
        except BadNumber:
            pass
        out.append((clock() - t0 - overhead) / 1000)
    return out


def batch_mean(fn: Callable[[str], object], texts: Sequence[str]) -> float:
    """CPU µs per call over the whole batch (no clock inside the loop; CPU time, as the
    wall clock also counts the time other work on the machine holds the core)."""
    t0 = time.process_time()
    for text in texts:
        try:  # noqa: SIM105 (contextlib.suppress costs more than some calls timed)
            fn(text)
        except BadNumber:
            pass
    return (time.process_time() - t0) * 1e6 / len(texts)


def _classify_us(text: str) -> NumberInfo:
    return classify(text, "US")


def measure_numbers(count: int = 50_000, runs: int = 5) -> dict[str, float]:
    clear = policy.data.numbers._classify_e164.cache_clear
    reference = policy.data.numbers._classify_with_phonenumbers
    for text in numbers(2_000, seed=-1):  # compile the prefixes' calling codes
        _classify_us(text)
    samples: dict[str, list[float]] = {}

    def keep(name: str, value: float) -> None:
        samples.setdefault(name, []).append(value)

    for run in range(runs):
        texts = numbers(count, seed=run)
        clear()
        keep("unseen_median", statistics.median(per_call(_classify_us, texts)))
        clear()
        keep("unseen_mean", batch_mean(_classify_us, texts))
        keep("hit_median", statistics.median(per_call(_classify_us, texts)))
        keep("hit_mean", batch_mean(_classify_us, texts))
        some = texts[: max(1, count // 5)]  # the reference is slow; a fifth is plenty
        keep("reference_median", statistics.median(per_call(reference, some)))
        keep("reference_mean", batch_mean(reference, some))
    figures = {name: statistics.median(values) for name, values in samples.items()}
    figures["first_use_ms"] = first_use_ms()
    return figures


def first_use_ms() -> float:
    """ms to compile the tables of calling code 1 (25 regions, the largest), cold."""
    policy.data.numbers._tables.pop("1", None)
    re.purge()
    t0 = time.perf_counter()
    policy.data.numbers._compile("1")
    return (time.perf_counter() - t0) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--numbers", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    f = measure_numbers(args.numbers, args.runs)
    print(
        f"{args.numbers:,} distinct numbers, {len(PREFIXES)} prefixes; median of {args.runs} runs"
    )

    def row(label: str, name: str, note: str = "") -> None:
        median, mean = f[f"{name}_median"], f[f"{name}_mean"]
        print(f"{label:<30}: median {median:6.2f} µs, mean {mean:6.2f} µs{note}")

    row("classify, unseen number", "unseen")
    row("classify, cache hit", "hit")
    ratio = f["reference_mean"] / f["unseen_mean"]
    row("libphonenumber path, unseen", "reference", f"  ({ratio:.1f}x the mean above)")
    print(f"{'first use of +1 (its tables)':<30}: {f['first_use_ms']:.1f} ms")


if __name__ == "__main__":
    main()
