"""``check`` at scale: the analysis computed set-wise agrees with the situation-by-situation
walk exactly (counts, gaps in order, who shadows whom), and a repeated finding is reported
once with its count. (Speed is measured in benchmarks/bench_check.py, not asserted.)"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from policy.cli import main
from policy.engine.compile import CompiledPolicy
from policy.pipeline import load_policy
from policy.tools.analysis import Analysis, analysis_findings, analyze, walk

# Every kind of atom, negations, alternatives, state, a caller zone, service numbers; a
# planted gap (inbound meeting calls), shadowed scenarios with two possible shadowers.
POLICY = """\
zone near "Near" = US CA MX
zone far "Far" = GB DE FR
licence teams_phone "Teams Phone"
licence audio_conferencing "Audio Conferencing"
credits licence communications_credits "Communications Credits"
plan calling_plan "Calling Plan" {
    pool domestic: 100 minutes per user
}
conferencing pool zone_a "Zone A": 60 minutes per audio_conferencing licence
role billing_admin "Billing"
denial blocked "Blocked."
notify recharge_succeeded, recharge_failed, balance_zero to billing_admin

scenario emergency "Emergency is free":
    when outbound and to is emergency
    then free

scenario service "Calls to our own numbers":
    when inbound and to is service_number and caller in near
    then free

scenario toll "Toll-free from afar":
    when to is toll_free and not caller shares calling code
    deny blocked

scenario inbound_users "Inbound to users":
    when inbound and (from user or from auto_attendant or from call_queue)
    then free

scenario meetings "Meetings":
    when outbound and from meeting and user has audio_conferencing
        and destination in far
    then pool zone_a, spill over to credits of organizer

scenario near_mobile "Near mobiles":
    when outbound and from user and destination in near and to is mobile
        and pool domestic has minutes left
    then pool domestic, spill over to credits of user

scenario planned "Planned users":
    when outbound and from user and user's plan is calling_plan and destination is domestic
    then pool domestic, spill over to credits of user

scenario paying "Paying users":
    when outbound and (from user or from meeting) and credits are set up
        and balance is positive and not user has no communications_credits
    then credits of user

scenario shadowed_a "Shadowed":
    when outbound and from user and destination in far and user has communications_credits
        and credits are set up and balance is positive
    then free

scenario rest "Everything else outbound":
    when outbound
    deny blocked

scenario shadowed_b "Shadowed too":
    when outbound and from call_queue
    then credits of tenant
"""


def _walked(policy: CompiledPolicy, max_gaps: int = 1000) -> Analysis:
    """The reference: every situation through every scenario, one at a time."""
    first: Counter[int] = Counter()
    matched: Counter[int] = Counter()
    shadow: dict[int, Counter[int]] = {}
    gaps = []
    count = 0
    for situation, decider, also in walk(policy):
        count += 1
        if decider is None:
            if len(gaps) < max_gaps:
                gaps.append(situation)
            continue
        first[decider] += 1
        matched[decider] += 1
        for later in also:
            matched[later] += 1
            shadow.setdefault(later, Counter())[decider] += 1
    return Analysis(count, gaps, first, shadow, matched)


def test_setwise_analysis_equals_the_walk(tmp_path: Path) -> None:
    (tmp_path / "policy.ccp").write_text(POLICY, encoding="utf-8")
    policy = load_policy(tmp_path)
    expected = _walked(policy)
    got = analyze(policy)
    assert got.situations == expected.situations > 10_000
    assert got.first_match == expected.first_match
    assert got.matched == expected.matched
    assert [g.describe() for g in got.gaps] == [g.describe() for g in expected.gaps]
    assert len(got.gaps) == len(expected.gaps) > 7
    few = analyze(policy, max_gaps=7)
    assert [g.describe() for g in few.gaps] == [g.describe() for g in expected.gaps[:7]]
    unreachable = [s.index for s in got.unreachable(policy)]
    assert {policy.scenarios[i].name for i in unreachable} == {"shadowed_a", "shadowed_b"}
    for index in unreachable:
        # the same counts, met in the same order (ties go to the first decider seen)
        assert list(got.shadowed_by[index].items()) == list(expected.shadowed_by[index].items())
    assert analysis_findings(policy, got) == analysis_findings(policy, expected)


def _check(capsys: pytest.CaptureFixture[str], folder: Path) -> str:
    main(["check", str(folder)])
    out, err = capsys.readouterr()
    return out + err


BASE = """\
licence teams_phone "Teams Phone"
credits licence communications_credits "Communications Credits"
scenario outbound_calls "All":
    when outbound and destination in listed
    then credits of tenant
scenario others "Others":
    when outbound or inbound
    then free
"""


@pytest.mark.parametrize(
    ("members", "message", "column"),
    [
        ("US CA US", "'US' is listed twice", 25),
        ("US " * 1000 + "CA", "'US' is listed 1,000 times", 22),
        ("CA " + "GB US " * 500, "'GB' is listed 500 times", 28),
    ],
)
def test_a_repeated_zone_entry_is_one_finding_with_its_count(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], members: str, message: str, column: int
) -> None:
    (tmp_path / "policy.ccp").write_text(f'zone listed "L" = {members}\n' + BASE, "utf-8")
    text = _check(capsys, tmp_path)
    assert text.count("is listed") == (2 if "GB" in message else 1)
    assert f"policy.ccp:1:{column}: warning: {message}" in text


def test_an_unknown_code_listed_many_times_is_one_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "policy.ccp").write_text('zone listed "L" = US ' + "QQ " * 300 + "\n" + BASE)
    text = _check(capsys, tmp_path)
    assert text.count("unknown country code 'QQ'") == 1
    assert "'QQ' is listed 300 times" in text


def test_an_or_of_thousands_of_terms_is_checked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    terms = " or ".join(
        f"to is {('mobile', 'fixed_line', 'toll_free')[i % 3]}" for i in range(3000)
    )
    policy = 'zone listed "L" = US\n' + BASE.replace("destination in listed", f"({terms})")
    (tmp_path / "policy.ccp").write_text(policy, encoding="utf-8")
    text = _check(capsys, tmp_path)
    assert "0 errors" in text
    assert "zone 'listed' is never used" in text
