"""Benchmark rate-card lookups: a generated card of 60,000 prefixes, µs per call.

Run: ``python benchmarks/bench_rating.py`` (prints medians; asserts nothing).
``benchmarks/run.py`` calls :func:`measure_ratecard`.

"cache hit" is a number priced before (the per-number route cache); "unseen" numbers pay
the longest-prefix dict probes (routes per prefix already built); "cold" also builds the
routes. The bare-probe baseline is the performance targets' "longest-prefix match by dict probes"
row measured on the same machine, for scale (absolute figures drift between runs).
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable
from datetime import datetime, timezone
from decimal import Decimal

from policy.pricing.ratecard import RateCard, Rounding

PREFIXES = 60_000
START = datetime(2026, 11, 25, 17, 58, tzinfo=timezone.utc)


def build_rows(rng: random.Random) -> tuple[list[dict[str, str]], list[str]]:
    """60,000 distinct prefixes (country code + 2..5 digits), each fixed and mobile, 2 tiers."""
    codes = ["1", "7", "20", "27", "33", "34", "39", "44", "49", "52", "55", "61", "81", "86",
             "91", "234", "351", "353", "358", "420", "852", "886", "971", "972"]  # fmt: skip
    prefixes: set[str] = set()
    while len(prefixes) < PREFIXES:
        code = rng.choice(codes)
        prefixes.add(code + "".join(rng.choice("0123456789") for _ in range(rng.randint(2, 5))))
    rows = []
    for prefix in sorted(prefixes):
        for number_type, rate in (("fixed_line", "0.0240"), ("mobile", "0.0600")):
            for start, inc in (("0", "60"), ("60", "1")):
                rows.append({
                    "prefix": prefix, "destination": "generated", "number_type": number_type,
                    "origin": "", "connect_fee": "0.01" if start == "0" else "", "rate": rate,
                    "rate_unit": "60", "increment": inc, "from_second": start,
                })  # fmt: skip
    rows.append({"prefix": "", "destination": "rest", "number_type": "", "origin": "",
                 "connect_fee": "0.10", "rate": "1.00", "rate_unit": "60", "increment": "60",
                 "from_second": "0"})  # fmt: skip
    # One prefix with a peak window, to time the split path too.
    rows.append({"prefix": "999", "destination": "peak", "number_type": "mobile", "origin": "",
                 "connect_fee": "0", "rate": "0.12", "rate_unit": "60", "increment": "1",
                 "from_second": "0", "days": "mon-fri", "time_from": "08:00",
                 "time_to": "18:00"})  # fmt: skip
    return rows, sorted(prefixes)


def median_us(fn: Callable[[], object], calls: int, repeats: int = 9) -> float:
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter_ns()
        fn()
        samples.append((time.perf_counter_ns() - t0) / calls / 1000)
    return statistics.median(samples)


def measure_ratecard(count: int = 20_000) -> dict[str, float]:
    """Build the 60k-prefix card and time lookups; µs per call (medians of 9 passes)."""
    rng = random.Random(20261125)
    rows, prefixes = build_rows(rng)
    t0 = time.perf_counter()
    card = RateCard.from_rows(rows, rounding=Rounding("half_up", 2))
    card.tariff_at(prefixes[0], "mobile", None, START)  # the first lookup builds the index
    build_s = time.perf_counter() - t0
    numbers = [p + "".join(rng.choice("0123456789") for _ in range(12 - len(p))) for p in prefixes]
    rng.shuffle(numbers)
    unseen = numbers[:count]
    hot = numbers[:1000]
    price = card.price

    def clear_route_cache() -> None:
        cache = getattr(card, "_cache", None)
        if cache is not None:
            cache.clear()

    def repeated() -> None:
        for digits in hot:
            price(digits, "mobile", None, START, 125)

    def distinct() -> None:
        clear_route_cache()  # every number unseen: prefix probes + per-prefix route cache
        for digits in unseen:
            price(digits, "mobile", None, START, 125)

    def lookup() -> None:
        clear_route_cache()  # the longest-prefix lookup alone, for unseen numbers
        for digits in unseen:
            card.tariff_at(digits, "mobile", None, START)

    plain = {p: p for p in prefixes}
    lengths = sorted({len(p) for p in prefixes}, reverse=True)

    def baseline() -> None:  # the targets' "longest-prefix match by dict probes" row
        for digits in unseen:
            for n in lengths:
                if digits[:n] in plain:
                    break

    def cold() -> None:
        clear_route_cache()
        for entry in getattr(card, "_by_prefix", {}).values():  # no routes built either
            entry.routes.clear()
            entry.last_route = None
        for digits in unseen:
            price(digits, "mobile", None, START, 125)

    def windowed() -> None:
        for _ in range(1000):
            price("999123456789", "mobile", None, START, 300)

    def budget() -> None:
        for digits in hot:
            card.max_duration(digits, "mobile", None, START, Decimal("5.00"))

    return {
        "rows": len(rows),
        "prefixes": len(prefixes),
        "build_s": build_s,
        "cache_hit": median_us(repeated, len(hot)),
        "price_unseen": median_us(distinct, len(unseen)),
        "lookup_unseen": median_us(lookup, len(unseen)),
        "baseline": median_us(baseline, len(unseen)),
        "price_cold": median_us(cold, len(unseen)),
        "windowed": median_us(windowed, 1000),
        "max_duration": median_us(budget, len(hot)),
    }


def main() -> None:
    f = measure_ratecard()
    print(f"card: {f['rows']} rows, {f['prefixes']} prefixes, built in {f['build_s']:.2f} s")
    print(f"price, same 1,000 numbers again (cache hit)   : {f['cache_hit']:6.2f} µs")
    print(f"price, 20,000 unseen numbers (prefix lookup)  : {f['price_unseen']:6.2f} µs")
    print(f"tariff lookup alone, 20,000 unseen numbers    : {f['lookup_unseen']:6.2f} µs")
    print(f"baseline: bare dict probes, same numbers      : {f['baseline']:6.2f} µs")
    print(f"price, 20,000 numbers, all caches cold        : {f['price_cold']:6.2f} µs")
    print(f"price, call split by a peak/off-peak edge     : {f['windowed']:6.2f} µs")
    print(f"max_duration, $5.00 budget                    : {f['max_duration']:6.2f} µs")


if __name__ == "__main__":
    main()
