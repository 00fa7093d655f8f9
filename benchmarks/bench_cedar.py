"""ccpolicy vs Cedar (``cedarpy``): the same permit question for the same calls.

Run:  python benchmarks/bench_cedar.py [--calls N]      (needs ``pip install cedarpy``)

The bundled rules' permit/deny decision, hand-translated into a schema-less Cedar policy
set (:data:`SCENARIOS` below, one Cedar condition per bundled scenario, in the same order).
Cedar has no "first matching rule decides": a scenario's rule is a ``forbid`` guarded by
``unless { <any earlier scenario's condition> }``, the permitting scenarios are plain
``permit``\\ s, and no match is Cedar's default deny — which together give ccpolicy's
first-match semantics. The user is a Cedar entity (licences, calling plan, credits licence
as attributes); the call is the request context (direction, context kind, destination
country, number type, domestic/international/non-geographic, the zones the destination is
in, caller shares calling code, service number), filled from the facts ccpolicy derives.

Not modelled — Cedar has no arithmetic over a live balance, pools or a rate card: money
(pool minutes, balance, auto-recharge, ``no_rate``). Calls that ccpolicy denies for a money
reason are counted apart and left out of the agreement rate; the tenant is funded so that
such denials are rare. Times are per decision with the inputs already built (Cedar gets a
ready request dict with pre-parsed ``PolicySet``/``Entities`` handles, its fastest use;
ccpolicy gets a ``Call`` and classifies the number itself, from its cache when warm).
Prints figures; asserts nothing. ``benchmarks/run.py`` calls :func:`measure_cedar`.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from datetime import datetime, timedelta, timezone
from typing import Any

from bench_engine import tenant_data

import policy
from policy.data.call import Call

MONEY_DENIALS = frozenset({"no_rate", "balance_exhausted", "credits_not_set_up", "pool_exhausted"})

OUT = 'context.direction == "outbound"'
MEETING = f'{OUT} && context.kind == "meeting"'
USER = f'{OUT} && context.kind == "user"'
PREMIUM = '(context.number_type == "premium_rate" || context.number_type == "shared_cost")'
INTERNATIONAL = 'context.destination_kind != "domestic"'

# (bundled scenario, what its outcome means for permission, Cedar condition of its "when").
# "permit": free / included / pool (pools start with minutes; spill-over is money);
# "deny": a deny outcome; "credits": paid from the balance by the user or organizer, who
# must hold the credits licence (credits of tenant needs none: "permit").
SCENARIOS: list[tuple[str, str, str]] = [
    ("emergency", "permit", f"{OUT} && context.emergency"),
    ("other_short_code", "deny", f"{OUT} && context.short_code"),
    (
        "international_freephone",
        "deny",
        'context.number_type == "toll_free" && context.destination_kind == "non_geographic"',
    ),
    (
        "premium_rate_blocked",
        "deny",
        f'{OUT} && context.number_type == "premium_rate"'
        ' && context.destination_zones.contains("premium_rate_unsupported")',
    ),
    (
        "foreign_toll_free",
        "deny",
        'context.number_type == "toll_free" && !context.caller_shares_code',
    ),
    (
        "toll_free_service",
        "permit",
        'context.direction == "inbound" && context.number_type == "toll_free"',
    ),
    ("inbound_call", "permit", 'context.direction == "inbound"'),
    (
        "voice_app_transfer",
        "permit",
        f'{OUT} && (context.kind == "auto_attendant" || context.kind == "call_queue")',
    ),
    (
        "conferencing_licence_required",
        "deny",
        f'{MEETING} && !principal.licences.contains("audio_conferencing")',
    ),
    ("conference_premium", "credits", f"{MEETING} && {PREMIUM}"),
    (
        "conference_us_ca_add_on",
        "permit",
        f'{MEETING} && principal.licences.contains("audio_conferencing_us_ca_dial_out")'
        ' && context.destination_zones.contains("us_and_canada")',
    ),
    ("conference_zone_a", "permit", f'{MEETING} && context.destination_zones.contains("zone_a")'),
    ("conference_elsewhere", "credits", MEETING),
    ("no_calling_plan", "deny", f"{USER} && !principal.has_calling_plan"),
    ("premium_rate", "credits", f"{USER} && {PREMIUM}"),
    ("pay_as_you_go", "credits", f'{USER} && principal.plan == "pay_as_you_go_calling_plan"'),
    ("domestic_call", "permit", f'{USER} && context.destination_kind == "domestic"'),
    (
        "international_on_international_plan",
        "permit",
        f'{USER} && {INTERNATIONAL} && principal.plan == "domestic_international_calling_plan"',
    ),
    ("international_on_domestic_plan", "credits", f"{USER} && {INTERNATIONAL}"),
]


def cedar_policies() -> str:
    """The Cedar policy set: first-match order via ``unless`` on the forbids."""
    head = '(principal, action == Action::"call", resource)'
    out: list[str] = []
    earlier: list[str] = []
    for name, kind, cond in SCENARIOS:
        unless = f"\nunless {{ {' || '.join(f'({c})' for c in earlier)} }}" if earlier else ""
        if kind == "permit":
            out.append(f'@id("{name}")\npermit{head}\nwhen {{ {cond} }};')
        elif kind == "deny":
            out.append(f'@id("{name}")\nforbid{head}\nwhen {{ {cond} }}{unless};')
        else:  # credits of user/organizer: permitted only with the credits licence
            out.append(f'@id("{name}")\npermit{head}\nwhen {{ {cond} }};')
            out.append(
                f'@id("{name}_needs_credits_licence")\nforbid{head}\n'
                f"when {{ {cond} && !principal.credits_licence }}{unless};"
            )
        earlier.append(cond)
    return "\n\n".join(out) + "\n"


# ---- the workload: varied licences, every scenario reached ----------------------------------

PLANS = [
    "domestic_international_calling_plan",
    "domestic_calling_plan",
    "domestic_calling_plan_240",
    "domestic_calling_plan_120",
    "pay_as_you_go_calling_plan",
    None,
]
LOCATIONS = ["US", "CA", "GB", "DE", "PR", "FR", "JP"]
DESTINATIONS = [
    "+12125551234", "+14165550123", "+17875550100", "+442071838750", "+447700900123",
    "+33142685300", "+33612345678", "+4930123456", "+390612345678", "+81312345678",
    "+61212345678", "+5511987654321", "+971501234567", "+2348012345678",
    "+19005550100", "+449061234567", "+33890123456", "+18005550100", "+448001234567",
    "+80012345678", "911", "112", "999", "611",
]  # fmt: skip
CALLERS = ["+12065550199", "+442071838751", "+14165550124", "+33142685301"]


def tenant_dict(users: int = 120) -> dict[str, Any]:
    rng = random.Random(11)
    out = []
    for i in range(users):
        licences = ["teams_phone"]
        plan = PLANS[i % len(PLANS)]
        if plan:
            licences.append(plan)
        if rng.random() < 0.8:
            licences.append("audio_conferencing")
        if rng.random() < 0.3:
            licences.append("audio_conferencing_us_ca_dial_out")
        if rng.random() < 0.85:
            licences.append("communications_credits")
        out.append(
            {"upn": f"u{i}@contoso.com", "usage_location": LOCATIONS[i % 7], "licenses": licences}
        )
    data = tenant_data(out)
    data["service_numbers"] = [
        {"number": "+18005550100", "type": "toll_free", "used_by": "auto_attendant"}
    ]
    return data


def workload(n: int, seed: int = 5) -> tuple[dict[str, Any], list[Call]]:
    rng = random.Random(seed)
    data = tenant_dict()
    upns = [u["upn"] for u in data["users"]]
    start = datetime(2026, 11, 2, 9, 0, tzinfo=timezone(timedelta(hours=-5)))
    calls = []
    for i in range(n):
        r = rng.random()
        when = start + timedelta(seconds=i)
        duration = rng.randrange(1, 1800)
        to = rng.choice(DESTINATIONS)
        if r < 0.55:
            call = Call(f"c{i}", "outbound", to, when, "user", rng.choice(upns), None, duration)
        elif r < 0.75:
            to = to if to[0] == "+" else "+12125551234"
            call = Call(f"c{i}", "outbound", to, when, "meeting", rng.choice(upns), None, duration)
        elif r < 0.85:
            context = rng.choice(["auto_attendant", "call_queue"])
            call = Call(f"c{i}", "outbound", to, when, context, None, None, duration)
        else:
            to = rng.choice(["+18005550100", "+12065550100", "+448001234567"])
            caller = rng.choice(CALLERS)
            call = Call(f"c{i}", "inbound", to, when, "auto_attendant", None, caller, duration)
        calls.append(call)
    return data, calls


def entities(engine: policy.Engine, data: dict[str, Any]) -> list[dict[str, Any]]:
    credits_licence = engine.policy.credits_licence
    out = []
    for user in data["users"]:
        licences = user["licenses"]
        plan = engine.policy.calling_plan(licences)
        out.append(
            {
                "uid": {"__entity": {"type": "User", "id": user["upn"].lower()}},
                "attrs": {
                    "licences": licences,
                    "plan": plan or "",
                    "has_calling_plan": plan is not None,
                    "credits_licence": credits_licence in licences,
                    "usage_location": user["usage_location"],
                },
                "parents": [],
            }
        )
    out.append(  # voice apps and inbound calls: the tenant itself, with no licences
        {
            "uid": {"__entity": {"type": "Tenant", "id": data["tenant"]}},
            "attrs": {
                "licences": [],
                "plan": "",
                "has_calling_plan": False,
                "credits_licence": False,
                "usage_location": data["country"],
            },
            "parents": [],
        }
    )
    return out


def request(engine: policy.Engine, t: policy.Tenant, call: Call) -> dict[str, Any]:
    """The Cedar request for ``call``: the facts ccpolicy derives, as Cedar context."""
    facts, _ = engine.situation(call, t)
    number = facts.number
    zones = sorted(
        name
        for name, decl in engine.policy.catalog.regions.items()
        if number.country in {c.value for c in decl.countries}
    )
    principal = f'User::"{call.user.lower()}"' if call.user else f'Tenant::"{t.name}"'
    return {
        "principal": principal,
        "action": 'Action::"call"',
        "resource": f'Tenant::"{t.name}"',
        "context": {
            "direction": facts.direction,
            "kind": facts.context,
            "destination_country": number.country,
            "number_type": number.number_type,
            "emergency": number.emergency,
            "short_code": number.short_code and not number.emergency,
            "destination_kind": facts.dest_kind,
            "destination_zones": zones,
            "caller_shares_code": facts.shares_code,
            "service_number": facts.service_number,
        },
    }


def measure_cedar(n: int = 5000, *, batch: int = 100, text_calls: int = 500) -> dict[str, Any]:
    """Decide ``n`` calls with ccpolicy (warm) and with cedarpy; times in µs per call."""
    import cedarpy

    engine = policy.load()
    data, calls = workload(n)
    t = policy.Tenant.from_dict(data)
    engine.bind(t)
    policies_text = cedar_policies()
    entity_list = entities(engine, data)
    policy_set = cedarpy.PolicySet.from_str(policies_text)
    entity_set = cedarpy.Entities.from_json_str(json.dumps(entity_list))
    requests = [request(engine, t, c) for c in calls]

    clock = time.perf_counter_ns
    evaluate = engine.evaluate
    decisions = [evaluate(c, t) for c in calls]  # warm the caches
    ccp: list[float] = []
    for call in calls:
        t0 = clock()
        evaluate(call, t)
        ccp.append((clock() - t0) / 1000)

    authorize = cedarpy.is_authorized
    for req in requests[:200]:
        authorize(req, policy_set, entity_set)
    ced: list[float] = []
    allowed: list[bool] = []
    for req in requests:
        t0 = clock()
        result = authorize(req, policy_set, entity_set)
        ced.append((clock() - t0) / 1000)
        allowed.append(result.allowed)

    batched: list[float] = []
    for i in range(0, len(requests) - batch + 1, batch):
        chunk = requests[i : i + batch]
        t0 = clock()
        results = cedarpy.is_authorized_batch(chunk, policy_set, entity_set)
        batched.append((clock() - t0) / 1000 / len(chunk))
        for j, res in enumerate(results):
            if res.allowed != allowed[i + j]:
                raise RuntimeError("cedarpy batch and single answers differ")

    text: list[float] = []  # the naive use: policy text and entity list parsed on every call
    for req in requests[:text_calls]:
        t0 = clock()
        authorize(req, policies_text, entity_list)
        text.append((clock() - t0) / 1000)

    money = agree = 0
    disagreements: dict[str, int] = {}
    for decision, ok in zip(decisions, allowed, strict=True):
        if decision.denial in MONEY_DENIALS:
            money += 1
            continue
        if decision.permitted == ok:
            agree += 1
        else:
            key = f"{decision.scenario}/{decision.denial or 'permitted'} vs cedar {ok}"
            disagreements[key] = disagreements.get(key, 0) + 1
    compared = len(calls) - money
    return {
        "calls": len(calls),
        "ccpolicy": ccp,
        "cedar": ced,
        "cedar_batch": batched,
        "cedar_text": text,
        "batch": batch,
        "compared": compared,
        "agree": agree,
        "money_excluded": money,
        "permitted": sum(d.permitted for d in decisions),
        "scenarios_reached": len({d.scenario for d in decisions}),
        "disagreements": disagreements,
        "policies": policies_text,
    }


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--print-policies", action="store_true", help="print the Cedar text")
    args = parser.parse_args()
    r = measure_cedar(args.calls)
    if args.print_policies:
        print(r["policies"])
    for label, key in (
        ("ccpolicy evaluate, warm", "ccpolicy"),
        ("cedarpy is_authorized, parsed handles", "cedar"),
        (f"cedarpy is_authorized_batch, {r['batch']} per call", "cedar_batch"),
        ("cedarpy is_authorized, policy text per call", "cedar_text"),
    ):
        values = r[key]
        print(
            f"{label:<45}: median {statistics.median(values):7.1f} µs · "
            f"p99 {pct(values, 0.99):7.1f} µs  ({len(values)} samples)"
        )
    ratio = statistics.median(r["cedar"]) / statistics.median(r["ccpolicy"])
    print(f"cedarpy per call ÷ ccpolicy per call: {ratio:.1f}×")
    print(
        f"agreement on permitted: {r['agree']}/{r['compared']} "
        f"({100 * r['agree'] / max(r['compared'], 1):.2f}%); {r['money_excluded']} calls "
        f"denied for money reasons left out; {r['permitted']} of {r['calls']} permitted; "
        f"{r['scenarios_reached']} scenarios reached"
    )
    for key, count in sorted(r["disagreements"].items()):
        print(f"  disagree: {key}: {count}")


if __name__ == "__main__":
    main()
