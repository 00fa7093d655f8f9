"""Every ccpolicy benchmark in one command, as one table with the issue's targets.

Run:  python benchmarks/run.py [--quick] [--only SECTION ...]

Each section runs in a subprocess of its own (``run.py --section NAME``), so its peak
memory (max RSS, of the section process or of the processes it starts) is its own.
Prints figures and whether each target is met; asserts nothing. See BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

SECTIONS = [
    "evaluate",
    "cedar",
    "numbers",
    "load",
    "growth",
    "ratecard",
    "batch",
    "ledger",
    "cli",
]
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"

Row = dict[str, Any]


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


def row(
    figure: str,
    median: str,
    p99: str = "",
    target: str = "",
    met: bool | None = None,
    note: str = "",
) -> Row:
    return {
        "figure": figure,
        "median": median,
        "p99": p99,
        "target": target,
        "met": met,
        "note": note,
    }


def us(value: float) -> str:
    return f"{value:,.1f} µs" if value < 100 else f"{value:,.0f} µs"


# ---- sections (each runs in its own process) -------------------------------------------


def section_evaluate(quick: bool) -> list[Row]:
    import bench_engine

    n = 5000 if quick else 20000
    times = bench_engine.measure_evaluate(n)
    warm, cold, auth = times["warm"], times["cold"], times["authorize"]
    wm, wp = statistics.median(warm), pct(warm, 0.99)
    return [
        row(
            f"evaluate, warm caches ({n:,} calls)",
            us(wm),
            us(wp),
            "≤ 5 µs / ≤ 25 µs",
            wm <= 5 and wp <= 25,
        ),
        row(
            f"evaluate, cold caches, fresh engine ({n:,} calls)",
            us(statistics.median(cold)),
            us(pct(cold, 0.99)),
            note="numbers classified, routes built on first sight",
        ),
        row(
            "authorize (no duration: max_duration), warm",
            us(statistics.median(auth)),
            us(pct(auth, 0.99)),
        ),
    ]


def section_cedar(quick: bool) -> list[Row]:
    try:
        import bench_cedar
        import cedarpy  # noqa: F401
    except ImportError:
        return [row("cedarpy comparison", "skipped", note="pip install cedarpy (extra: bench)")]
    r = bench_cedar.measure_cedar(2000 if quick else 10000)
    ccp, ced = statistics.median(r["ccpolicy"]), statistics.median(r["cedar"])
    ratio = ced / ccp
    agree = 100 * r["agree"] / max(r["compared"], 1)
    return [
        row(
            f"ccpolicy evaluate, warm, Cedar workload ({r['calls']:,} calls)",
            us(ccp),
            us(pct(r["ccpolicy"], 0.99)),
        ),
        row("cedarpy is_authorized, one request per call", us(ced), us(pct(r["cedar"], 0.99))),
        row(
            f"cedarpy is_authorized_batch, {r['batch']} per call (per request)",
            us(statistics.median(r["cedar_batch"])),
            us(pct(r["cedar_batch"], 0.99)),
        ),
        row(
            "cedarpy, policy text + entity list parsed per call",
            us(statistics.median(r["cedar_text"])),
            us(pct(r["cedar_text"], 0.99)),
            note=f"{len(r['cedar_text'])} calls",
        ),
        row("cedarpy per call ÷ ccpolicy per call", f"{ratio:.1f}×", "", "≥ 30×", ratio >= 30),
        row(
            "cedarpy batched ÷ ccpolicy per call",
            f"{statistics.median(r['cedar_batch']) / ccp:.1f}×",
        ),
        row(
            "Cedar translation agrees on permitted",
            f"{agree:.2f}%",
            note=f"{r['agree']}/{r['compared']} calls, {r['money_excluded']} money denials left "
            f"out, {r['scenarios_reached']}/19 scenarios reached",
        ),
    ]


def _cold_samples(code: str, runs: int) -> list[dict[str, float]]:
    """Time ``code`` in ``runs`` fresh processes, after one untimed run that leaves things
    as an installed package has them: bytecode compiled (even where the environment sets
    PYTHONDONTWRITEBYTECODE) and ccpolicy's cache filled by a first load."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True)
    out = []
    for _ in range(runs):
        text = subprocess.check_output([sys.executable, "-c", code], text=True)
        out.append(json.loads(text.strip().splitlines()[-1]))
    return out


COLD_LOAD = """
import json, time
t0 = time.perf_counter()
import policy
t1 = time.perf_counter()
policy.load({path})
t2 = time.perf_counter()
print(json.dumps({{"import": (t1 - t0) * 1000, "load": (t2 - t1) * 1000}}))
"""


def section_load(quick: bool) -> list[Row]:
    rows = []
    samples = _cold_samples(COLD_LOAD.format(path=""), 7)
    imp = statistics.median(s["import"] for s in samples)
    load = statistics.median(s["load"] for s in samples)
    total = statistics.median(s["import"] + s["load"] for s in samples)
    rows.append(
        row(
            "bundled rules, cold process: import policy + load()",
            f"{total:.1f} ms",
            target="≤ 50 ms",
            met=total <= 50,
            note="median of 7 processes",
        )
    )
    rows.append(row("  of which `import policy`", f"{imp:.1f} ms"))
    rows.append(row("  of which `policy.load()`", f"{load:.1f} ms"))
    with tempfile.TemporaryDirectory() as tmp:
        folder = generated_policy(Path(tmp), 5000)
        runs = 3 if quick else 5
        samples = _cold_samples(COLD_LOAD.format(path=repr(str(folder))), runs)
        big = statistics.median(s["load"] for s in samples)
        rows.append(
            row(
                "5,000-scenario policy: policy.load() (after import)",
                f"{big / 1000:.2f} s",
                target="≤ 1 s",
                met=big <= 1000,
                note=f"median of {runs} processes",
            )
        )
    return rows


def section_growth(quick: bool) -> list[Row]:
    import bench_engine

    import policy

    sizes = [10, 100, 1000, 5000]
    t = bench_engine.tenant()
    batch = bench_engine.calls(2000 if quick else 5000, random.Random(7), distinct=5000)
    engines: dict[int, policy.Engine] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            engines[n] = policy.load(generated_policy(Path(tmp) / str(n), n))
            engines[n].bind(t)
    for call in batch:  # numbers are classified once per process: not part of any pass
        engines[sizes[0]].with_rates(engines[sizes[0]].ratecard).evaluate(call, t)
    passes = 3 if quick else 5
    first: dict[int, list[float]] = {n: [] for n in sizes}
    routed: dict[int, int] = {}
    for _ in range(passes):  # routes cold: every new situation is routed through the rules
        for n in sizes:
            cold = engines[n].with_rates(engines[n].ratecard)  # same policy, no routes yet
            cold.bind(t)
            t0 = time.perf_counter()
            for call in batch:
                cold.evaluate(call, t)
            first[n].append((time.perf_counter() - t0) / len(batch) * 1e6)
            routed[n] = len(cold._routes)
    for call in batch:  # the engines timed warm have every route
        for n in sizes:
            engines[n].evaluate(call, t)
    medians: dict[int, list[float]] = {n: [] for n in sizes}
    p99s: dict[int, list[float]] = {n: [] for n in sizes}
    for _ in range(passes):  # interleaved passes, so drift hits every size alike
        for n in sizes:
            times = bench_engine.timings(engines[n], t, batch)
            medians[n].append(statistics.median(times))
            p99s[n].append(pct(times, 0.99))
    rows = []
    for label, per_size, p99 in (("warm", medians, p99s), ("first pass", first, None)):
        base = statistics.median(per_size[10])
        for n in sizes:
            m = statistics.median(per_size[n])
            change = (m - base) / base * 100
            target = "" if n == 10 else "±20% of 10" if p99 else "≤2× 10"
            met = None if n == 10 else abs(change) <= 20 if p99 else m <= 2 * base
            rows.append(
                row(
                    f"decision, {label}, {n:,} generated + 19 bundled scenarios",
                    us(m),
                    us(statistics.median(p99[n])) if p99 else "",
                    target,
                    met,
                    f"{change:+.0f}% vs 10"
                    + (
                        ""
                        if p99
                        else f"; routes cold ({routed[n]:,} situations routed in "
                        f"{len(batch):,} calls), median of {passes} passes"
                    ),
                )
            )
    return rows


def section_numbers(quick: bool) -> list[Row]:
    import bench_numbers

    n = 20_000 if quick else 50_000
    f = bench_numbers.measure_numbers(n, 3 if quick else 5)
    return [
        row(
            f"classify a number never seen ({n:,} distinct E.164 numbers)",
            us(f["unseen_median"]),
            note=f"mean {f['unseen_mean']:.2f} µs; its calling code's tables compiled",
        ),
        row("classify a number seen before (cache hit)", us(f["hit_median"])),
        row(
            "the same through libphonenumber (parse, possible, region, type)",
            us(f["reference_median"]),
            note=f"{f['reference_mean'] / f['unseen_mean']:.1f}× the mean above",
        ),
        row("first use of +1: compiling its tables (25 regions)", f"{f['first_use_ms']:.1f} ms"),
    ]


def section_ratecard(quick: bool) -> list[Row]:
    import bench_rating

    f = bench_rating.measure_ratecard(5000 if quick else 20000)
    return [
        row(
            f"60k-prefix card: tariff lookup, unseen numbers ({f['prefixes']:,} prefixes)",
            us(f["lookup_unseen"]),
            target="≤ 2 µs",
            met=f["lookup_unseen"] <= 2,
            note=f"card built in {f['build_s']:.2f} s",
        ),
        row("60k-prefix card: price, unseen numbers", us(f["price_unseen"])),
        row("60k-prefix card: price, cache hit", us(f["cache_hit"])),
        row("60k-prefix card: price, all caches cold", us(f["price_cold"])),
        row("baseline: bare longest-prefix dict probes", us(f["baseline"])),
    ]


def section_batch(quick: bool) -> list[Row]:
    import bench_rate

    n = 20_000 if quick else 200_000
    r = bench_rate.measure_batch(n)
    ratio = r["rate_s"] / r["floor_s"]
    return [
        row(
            f"batch rating, {n:,} calls (CSV in, usage CSV out)",
            f"{n / r['rate_s']:,.0f} calls/s",
            note=f"{r['distinct']:,} distinct destinations; 1M: bench_rate.py --calls 1000000",
        ),
        row("csv-module floor (read + write the same rows)", f"{n / r['floor_s']:,.0f} rows/s"),
        row("batch rating ÷ floor", f"{ratio:.1f}×", target="≤ 3×", met=ratio <= 3),
        row(
            "minimal pipeline, no engine ÷ floor",
            f"{r['minimal_s'] / r['floor_s']:.1f}×",
            note="parse time and duration, one dict probe, a hashed id, a 27-column line",
        ),
        row(
            "batch rating, peak RSS of the process",
            f"{r['rss_peak_mb']:,.0f} MB",
            target="≤ 150 MB",
            met=r["rss_peak_mb"] <= 150,
            note=f"{r['rss_before_mb']:,.0f} MB before rating",
        ),
    ]


def section_ledger(quick: bool) -> list[Row]:
    import bench_ledger

    n = 100 if quick else 300
    url = os.environ.get("CCPOLICY_TEST_POSTGRES", DEFAULT_POSTGRES)
    f = bench_ledger.measure_ledger(n, url)
    rows = []
    for backend in ("sqlite", "postgresql"):
        for writers in (1, 8):
            value = f.get(f"{backend}_{writers}")
            if isinstance(value, float):
                rows.append(
                    row(
                        f"ledger charges/s, {backend}, {writers} writer(s)",
                        f"{value:,.0f} /s",
                        note=f"{n} charges per writer",
                    )
                )
    if "postgresql_skipped" in f:
        rows.append(
            row("ledger charges/s, postgresql", "skipped", note=str(f["postgresql_skipped"]))
        )
    return rows


def section_cli(quick: bool) -> list[Row]:
    script = Path(sys.executable).parent / "ccpolicy"
    found = shutil.which("ccpolicy")
    argv = [str(script)] if script.exists() else [found] if found else None
    if argv is None:
        argv = [sys.executable, "-m", "policy"]
    subprocess.run([*argv, "--help"], check=True, capture_output=True)  # warm the disk cache
    samples = []
    for _ in range(7):
        t0 = time.perf_counter()
        subprocess.run([*argv, "--help"], check=True, capture_output=True)
        samples.append((time.perf_counter() - t0) * 1000)
    m = statistics.median(samples)
    return [
        row(
            "`ccpolicy --help` wall time",
            f"{m:.0f} ms",
            target="≤ 150 ms",
            met=m <= 150,
            note="median of 7 processes",
        )
    ]


RUNNERS: dict[str, Callable[[bool], list[Row]]] = {
    "evaluate": section_evaluate,
    "cedar": section_cedar,
    "load": section_load,
    "growth": section_growth,
    "ratecard": section_ratecard,
    "batch": section_batch,
    "numbers": section_numbers,
    "ledger": section_ledger,
    "cli": section_cli,
}
USES_CHILDREN = {"load", "ledger", "cli"}  # their figures are other processes' memory


# ---- a generated policy of N scenarios ----------------------------------------------------

OTHER_COUNTRIES = (  # noqa: SIM905
    "AR CL CO PE VE EC BO UY PY CR PA GT HN SV NI DO JM TT BS BB KE TZ UG GH CI SN MA TN DZ EG "
    "ET ZM ZW MZ NA BW IL JO LB SA QA KW BH OM PK BD LK NP VN PH ID KH MM MN KZ UZ GE AM AZ TR "
    "UA BY LT LV IS MT CY AL RS BA ME MK MD FJ PG WS TO"
).split()
CONTEXTS = ["user", "meeting", "auto_attendant", "call_queue"]
CLASSES = ["mobile", "fixed_line", "premium_rate", "toll_free", "shared_cost", "voip"]
PLAN_NAMES = [
    "domestic_calling_plan",
    "domestic_international_calling_plan",
    "pay_as_you_go_calling_plan",
    "domestic_calling_plan_120",
]


def generated_policy(folder: Path, n: int, seed: int = 20261125) -> Path:
    """The bundled catalog, ``n`` generated scenarios (their own licences, zones and
    denials; realistic, varied conditions) placed before the bundled scenarios. Each has
    one selective part that the benchmark calls never meet (a site licence nobody holds,
    a country or zone nobody calls), so the bundled scenarios still decide those calls."""
    from policy.support.resources import rules_dir

    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    bundled = Path(rules_dir())
    shutil.copy(bundled / "catalog.ccp", folder / "a_catalog.ccp")
    shutil.copy(bundled / "scenarios.ccp", folder / "z_scenarios.ccp")
    shutil.copy(bundled / "rates.csv", folder / "rates.csv")
    if (bundled / "rates.yaml").exists():
        shutil.copy(bundled / "rates.yaml", folder / "rates.yaml")
    licences = max(10, n // 50)
    zones = max(5, n // 100)
    denials = max(5, n // 200)
    lines = ["# Generated for benchmarks/run.py: site licences, zones, denials, scenarios.", ""]
    lines += [f'licence site_licence_{i} "Site licence {i}"' for i in range(licences)]
    for i in range(zones):
        members = " ".join(rng.sample(OTHER_COUNTRIES, rng.randint(2, 8)))
        lines.append(f'zone site_zone_{i} "Site zone {i}" = {members}')
    lines += [f'denial site_denial_{i} "Refused by site rule {i}."' for i in range(denials)]
    lines.append("")
    for i in range(n):
        user_context = rng.random() < 0.6
        context = "user" if user_context else rng.choice(CONTEXTS[1:])
        parts = ["outbound", f"from {context}"]
        selective = rng.random()
        if selective < 0.4 and context in ("user", "meeting"):
            parts.append(f"user has site_licence_{rng.randrange(licences)}")
        elif selective < 0.7:
            parts.append(f"destination in site_zone_{rng.randrange(zones)}")
        elif selective < 0.85:
            parts.append("destination in " + " ".join(rng.sample(OTHER_COUNTRIES, 3)))
        else:
            parts.append(f"caller in site_zone_{rng.randrange(zones)}")
        for _ in range(rng.randint(0, 2)):
            extra = rng.random()
            if extra < 0.35:
                a, b = rng.sample(CLASSES, 2)
                parts.append(f"(to is {a} or to is {b})" if rng.random() < 0.5 else f"to is {a}")
            elif extra < 0.55:
                parts.append(f"destination is {rng.choice(['domestic', 'international'])}")
            elif extra < 0.75 and context == "user":
                parts.append(f"user's plan is {rng.choice(PLAN_NAMES)}")
            elif extra < 0.85:
                parts.append("not caller shares calling code")
            elif context in ("user", "meeting"):
                parts.append("user has audio_conferencing")
        payer = "user" if context == "user" else "organizer" if context == "meeting" else "tenant"
        outcome = rng.random()
        if outcome < 0.3:
            then = f"deny site_denial_{rng.randrange(denials)}"
        elif outcome < 0.6:
            then = f"then credits of {payer}"
        elif outcome < 0.75 and context == "user":
            then = "then pool domestic, spill over to credits of user"
        elif outcome < 0.85:
            then = "then free"
        else:
            then = "then credits of tenant"
        guard = ""
        if rng.random() < 0.2 and context in ("user", "meeting"):
            guard = f"\n    deny site_denial_{rng.randrange(denials)} unless user has teams_phone"
        lines.append(
            f'scenario site_rule_{i} "Site rule {i}":\n    when {" and ".join(parts)}'
            f"{guard}\n    {then}\n"
        )
    (folder / "m_generated.ccp").write_text("\n".join(lines), encoding="utf-8")
    return folder


# ---- the orchestrator ----------------------------------------------------------------------


def run_section(name: str, quick: bool) -> None:
    """In the section's own process: run it, print its rows and memory as JSON."""
    rows = RUNNERS[name](quick)
    who = resource.RUSAGE_CHILDREN if name in USES_CHILDREN else resource.RUSAGE_SELF
    peak = resource.getrusage(who).ru_maxrss / 1024
    print(json.dumps({"rows": rows, "peak_mb": peak}))


def machine() -> list[str]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        from importlib.metadata import version

        import cedarpy  # noqa: F401

        cedar = f"cedarpy {version('cedarpy')}"
    except Exception:
        cedar = "cedarpy not installed"
    return [
        f"machine: {platform.platform()} · {cpu} · {os.cpu_count()} cores",
        f"python: {platform.python_implementation()} {platform.python_version()} · {cedar}",
    ]


def table(rows: list[Row]) -> str:
    head = ["figure", "median", "p99", "peak memory", "target", "met?"]
    body = []
    for r in rows:
        met = "" if r["met"] is None else "met" if r["met"] else "MISSED"
        body.append([r["figure"], r["median"], r["p99"], r.get("memory", ""), r["target"], met])
    widths = [max(len(str(x[i])) for x in [head, *body]) for i in range(len(head))]
    lines = ["| " + " | ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)) + " |"]
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for b in body:
        cells = (str(c).ljust(w) for c, w in zip(b, widths, strict=True))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller workloads (~1 minute)")
    parser.add_argument("--only", nargs="+", choices=SECTIONS, help="run only these sections")
    parser.add_argument("--section", choices=SECTIONS, help=argparse.SUPPRESS)
    parser.add_argument("--json", metavar="FILE", help="also write the rows as JSON here")
    args = parser.parse_args()
    if args.section:
        run_section(args.section, args.quick)
        return 0
    for line in machine():
        print(line)
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    began = time.perf_counter()
    rows: list[Row] = []
    notes: list[str] = []
    for name in args.only or SECTIONS:
        t0 = time.perf_counter()
        cmd = [sys.executable, str(Path(__file__).resolve()), "--section", name]
        done = subprocess.run(
            [*cmd, *(["--quick"] if args.quick else [])], capture_output=True, text=True
        )
        if done.returncode != 0:
            tail = (done.stderr.strip().splitlines() or ["?"])[-1]
            rows.append(row(f"[{name}]", "FAILED", note=tail))
            notes.append(f"{name}: {done.stderr.strip()[-2000:]}")
            print(f"  {name}: failed ({tail})", file=sys.stderr)
            continue
        result = json.loads(done.stdout.strip().splitlines()[-1])
        who = "children" if name in USES_CHILDREN else "process"
        for r in result["rows"]:
            r["memory"] = f"{result['peak_mb']:,.0f} MB ({who})"
            rows.append(r)
        print(f"  {name}: {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    print(f"load average after:  {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"{'quick' if args.quick else 'full'} run, {time.perf_counter() - began:.0f} s\n")
    print(table(rows))
    for r in rows:
        if r["note"]:
            print(f"- {r['figure'].strip()}: {r['note']}")
    met = [r for r in rows if r["met"] is not None]
    print(f"\ntargets met: {sum(r['met'] for r in met)} of {len(met)}")
    print("peak memory: max RSS of the section's process (or of the processes it started)")
    for note in notes:
        print(f"\n{note}", file=sys.stderr)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
