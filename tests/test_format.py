"""policy.language.format and ``ccpolicy fmt``: comments, the command's modes and exit codes, the
bundled rules, and properties over generated policies (formatting is idempotent and never changes
the parsed tree). Golden layouts (messy in, canonical out): fixtures in tests/language/format/."""

from __future__ import annotations

import argparse
import io
import os
import re
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import policy.language.parser
from policy.commands import COMMANDS
from policy.commands import fmt as fmt_command
from policy.language import ast
from policy.language.format import WIDTH, format_module, format_text, quote
from policy.language.parser import parse, parse_with_comments
from policy.support.errors import PolicySyntaxError
from policy.support.resources import rules_dir

RULES = rules_dir()
NOWHERE = ast.Span("<generated>", 0, 0)


def strip_spans(node: Any) -> Any:
    """``node`` with every span replaced by one placeholder: trees equal modulo positions."""
    if isinstance(node, ast.Span):
        return NOWHERE
    if isinstance(node, tuple):
        return tuple(strip_spans(item) for item in node)
    if is_dataclass(node) and not isinstance(node, type):
        return type(node)(**{f.name: strip_spans(getattr(node, f.name)) for f in fields(node)})
    return node


def tree(text: str) -> Any:
    return strip_spans(parse(text, "t.ccp").statements)


def fmt(text: str) -> str:
    return format_text(text, "t.ccp")


def test_strip_spans_ignores_places_but_not_content() -> None:
    assert tree("zone a = US\n") == tree("\n\n   zone   a =\n US")
    assert tree("zone a = US\n") != tree("zone a = CA\n")
    assert tree("zone a = US\n") != tree("zone b = US\n")


# ---- golden layouts: messy in, canonical out ----------------------------------------------

# The golden layouts (messy in, canonical out) are fixtures in tests/language/format/.


def test_lines_stay_within_width_where_a_break_is_allowed() -> None:
    text = 'scenario s "S": when ' + " and ".join(f"from context_{i}" for i in range(30))
    out = fmt(text + " then free\n")
    assert len(out.splitlines()) > 4
    assert max(len(line) for line in out.splitlines()) <= WIDTH


# ---- comments ----------------------------------------------------------------------------

# Comments in every position: tests/language/format/comment*.ccp and trailing_comments_joined.ccp.


def test_parse_with_comments_reports_places() -> None:
    module, layout = parse_with_comments("zone z = US # t\n  # own\nrole r\n", "t.ccp")
    assert [(c.text, c.line, c.column, c.own_line) for c in layout.comments] == [
        ("# t", 1, 13, False),
        ("# own", 2, 3, True),
    ]
    assert layout.ends == ((1, 12), (3, 7))
    assert strip_spans(module.statements) == tree("zone z = US\nrole r\n")


def test_syntax_error_is_located() -> None:
    with pytest.raises(PolicySyntaxError) as info:
        format_text("zone z = US\nrole\n", "bad.ccp")
    assert str(info.value.findings[0].location) == "bad.ccp:2:5"


# ---- the bundled rules --------------------------------------------------------------------

# The hand-wrapped lists of rules/catalog.ccp, and the same lists filled to 100 columns.
CATALOG_ZONE_A = (
    "    AU AT BE BR BG CA CN HR CZ DK EE FI FR DE GR HK HU IN IE IT JP LU MY MX NL\n"
    "    NZ NO PL PT PR RO RU SG SK SI ZA KR ES SE CH TW TH GB US\n"
)
CANONICAL_ZONE_A = (
    "    AU AT BE BR BG CA CN HR CZ DK EE FI FR DE GR HK HU IN IE IT JP LU MY MX NL NZ NO PL PT"
    " PR RO RU\n    SG SK SI ZA KR ES SE CH TW TH GB US\n"
)
CATALOG_ROLES = """\
    to billing_admin, company_admin, global_admin, user_account_admin, user_admin,
       helpdesk_admin, service_support_admin, device_admin, cloud_device_admin,
       azure_ad_joined_device_local_admin, application_admin, license_admin,
       authentication_admin, privileged_authentication_admin, lync_service_admin,
       skype_for_business_admin, teams_admin, teams_communications_admin,
       teams_communications_support_engineer, teams_communications_support_specialist
"""
CANONICAL_ROLES = """\
    to billing_admin, company_admin, global_admin, user_account_admin, user_admin, helpdesk_admin,
       service_support_admin, device_admin, cloud_device_admin, azure_ad_joined_device_local_admin,
       application_admin, license_admin, authentication_admin, privileged_authentication_admin,
       lync_service_admin, skype_for_business_admin, teams_admin, teams_communications_admin,
       teams_communications_support_engineer, teams_communications_support_specialist
"""


def test_bundled_scenarios_are_a_fixed_point() -> None:
    text = (RULES / "scenarios.ccp").read_text(encoding="utf-8")
    assert fmt(text) == text


def test_bundled_rules_are_canonical() -> None:
    for path in sorted(RULES.glob("*.ccp")):
        text = path.read_text(encoding="utf-8")
        assert fmt(text) == text, path.name


def test_the_documented_layout_is_canonical() -> None:
    doc = Path(__file__).resolve().parent.parent / "docs" / "formatting.md"
    if not doc.is_file():
        pytest.skip("docs/ is not part of this installation")
    example = re.findall(r"```\n(# A statement.*?)```", doc.read_text(encoding="utf-8"), re.S)
    assert len(example) == 1
    assert fmt(example[0]) == example[0]


# ---- the command ----------------------------------------------------------------------------


def run_fmt(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="ccpolicy")
    fmt_command.register(parser.add_subparsers(dest="command"))
    return fmt_command.run(parser.parse_args(["fmt", *argv]))


MESSY = "zone  z = US\nrole   r\n"
CLEAN = "zone z = US\nrole r\n"


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.ccp").write_text(MESSY, encoding="utf-8")
    (tmp_path / "b.ccp").write_text(CLEAN, encoding="utf-8")
    (tmp_path / "notes.txt").write_text("zone   not policy\n", encoding="utf-8")
    return tmp_path


def test_fmt_is_a_registered_command() -> None:
    assert "fmt" in COMMANDS


def test_default_prints_the_formatted_file(files: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_fmt("a.ccp") == 0
    assert capsys.readouterr().out == CLEAN
    assert (files / "a.ccp").read_text(encoding="utf-8") == MESSY


def test_default_prints_several_files_with_headers(
    files: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_fmt() == 0  # default: the *.ccp files of the current directory, by name
    assert capsys.readouterr().out == f"# ==> a.ccp <==\n{CLEAN}# ==> b.ccp <==\n{CLEAN}"


def test_default_reads_stdin_for_dash(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(MESSY))
    assert run_fmt("-") == 0
    assert capsys.readouterr().out == CLEAN


def test_check_lists_files_that_would_change(
    files: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_fmt("--check") == 1  # default: the *.ccp files of the current directory
    out = capsys.readouterr().out
    assert out == "would reformat a.ccp\n1 file would be reformatted, 1 already formatted\n"
    assert run_fmt("--check", "b.ccp") == 0
    assert "0 files would be reformatted" in capsys.readouterr().out
    assert (files / "a.ccp").read_text(encoding="utf-8") == MESSY


def test_diff_prints_a_unified_diff(files: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_fmt("--diff", ".") == 1
    out = capsys.readouterr().out
    assert out.splitlines() == [
        "--- a.ccp",
        "+++ a.ccp (formatted)",
        "@@ -1,2 +1,2 @@",
        "-zone  z = US",
        "-role   r",
        "+zone z = US",
        "+role r",
    ]
    assert run_fmt("--diff", "b.ccp") == 0
    assert capsys.readouterr().out == ""


def test_write_rewrites_only_changed_files(files: Path, capsys: pytest.CaptureFixture[str]) -> None:
    os.utime(files / "b.ccp", (1_000_000, 1_000_000))
    (files / "a.ccp").chmod(0o640)
    assert run_fmt("--write", str(files)) == 0
    assert (files / "a.ccp").read_text(encoding="utf-8") == CLEAN
    assert (files / "a.ccp").stat().st_mode & 0o777 == 0o640
    assert (files / "b.ccp").stat().st_mtime == 1_000_000
    assert sorted(p.name for p in files.iterdir()) == ["a.ccp", "b.ccp", "notes.txt"]
    assert "reformatted a.ccp" in capsys.readouterr().out
    assert run_fmt("--check", str(files)) == 0


def test_write_is_atomic(
    files: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def fail(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    assert run_fmt("--write", "a.ccp") == 1
    assert capsys.readouterr().err == "a.ccp: error: cannot write: disk full\n"
    assert (files / "a.ccp").read_text(encoding="utf-8") == MESSY
    assert sorted(p.name for p in files.iterdir()) == ["a.ccp", "b.ccp", "notes.txt"]


def test_syntax_error_writes_nothing(files: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (files / "c.ccp").write_text("zone y = GB\nzone z = us\n", encoding="utf-8")
    assert run_fmt("--write") == 1
    err = capsys.readouterr().err
    assert err.startswith("c.ccp:2:10: error: unexpected 'us'")
    assert (files / "a.ccp").read_text(encoding="utf-8") == MESSY
    assert run_fmt("--check", "c.ccp") == 1
    assert "c.ccp:2:10" in capsys.readouterr().err


def test_missing_file_and_empty_directory(files: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_fmt("--check", "nope.ccp") == 1
    assert "nope.ccp: error: file not found" in capsys.readouterr().err
    (files / "empty").mkdir()
    assert run_fmt("empty") == 1
    assert "empty holds no .ccp files" in capsys.readouterr().err


def test_write_refuses_stdin(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_fmt("--write", "-") == 2
    assert "--write" in capsys.readouterr().err


def test_modes_are_exclusive(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        run_fmt("--check", "--write")
    assert info.value.code == 2


# ---- properties over generated policies --------------------------------------------------------

GRAMMAR = (
    Path(policy.language.parser.__file__).with_name("grammar.lark").read_text(encoding="utf-8")
)
KEYWORDS = frozenset(re.findall(r'"([a-z][a-z\'-]*)"', GRAMMAR))

names = st.from_regex(r"[a-z][a-z0-9_]{0,14}", fullmatch=True).filter(lambda n: n not in KEYWORDS)
name_nodes = names.map(lambda n: ast.Name(n, NOWHERE))
countries = st.from_regex(r"[A-Z]{2}", fullmatch=True).map(lambda c: ast.Name(c, NOWHERE))
sentences = st.text(st.sampled_from([*'ab "\\#q%é', "\t", "\u2603", "\U0001f600"]), max_size=16)
titles = st.none() | sentences
subjects = st.sampled_from(["user", "organizer"])
payers = st.sampled_from(["user", "organizer", "tenant"])
percents = st.lists(st.integers(0, 150), max_size=3).map(tuple)


def _node(cls: type, *args: Any) -> Any:
    return st.builds(cls, *args, span=st.just(NOWHERE))


regions = _node(ast.Region, name_nodes, st.just(())) | _node(
    ast.Region, st.just(None), st.lists(countries, min_size=1, max_size=4).map(tuple)
)
atoms = st.one_of(
    _node(ast.IsDirection, st.sampled_from(["inbound", "outbound"])),
    _node(ast.FromContext, name_nodes),
    _node(ast.ToIs, name_nodes),
    _node(ast.DestinationIs, name_nodes),
    _node(ast.DestinationIn, regions),
    _node(ast.CallerIn, regions),
    _node(ast.CallerSharesCode),
    _node(ast.HasLicence, subjects, name_nodes),
    _node(ast.HasCallingPlan, subjects),
    _node(ast.PlanIs, subjects, name_nodes),
    _node(ast.CreditsSetUp),
    _node(ast.BalancePositive),
    _node(ast.PoolHasMinutes, name_nodes),
)
conditions = st.recursive(
    atoms,
    lambda inner: st.one_of(
        _node(ast.AllOf, st.lists(inner, min_size=2, max_size=3).map(tuple)),
        _node(ast.AnyOf, st.lists(inner, min_size=2, max_size=3).map(tuple)),
        _node(ast.Not, inner),
    ),
    max_leaves=7,
)
outcomes = st.one_of(
    _node(ast.PayFree),
    _node(ast.PayIncluded, st.sampled_from(["conferencing", "plan"])),
    _node(ast.PayPool, name_nodes, st.none() | payers),
    _node(ast.PayCredits, payers),
    _node(ast.PayDeny, name_nodes),
)
allowances = st.one_of(
    _node(ast.Allowance, st.integers(0, 5000), name_nodes, st.just(False)),
    _node(ast.Allowance, st.integers(0, 5000), st.none(), st.just(False)),
    _node(ast.Allowance, st.integers(0, 5000), st.none(), st.just(True)),
)


def _tuples(elements: st.SearchStrategy[Any], low: int, high: int) -> st.SearchStrategy[Any]:
    return st.lists(elements, min_size=low, max_size=high).map(tuple)


statements = st.one_of(
    _node(ast.Zone, name_nodes, titles, _tuples(countries, 1, 45)),
    _node(
        ast.Area,
        name_nodes,
        titles,
        _tuples(countries, 1, 12),
        _tuples(_node(ast.Pooling, _tuples(countries, 1, 3), countries), 0, 2),
    ),
    _node(ast.Licence, name_nodes, titles, st.booleans()),
    _node(ast.Role, name_nodes, titles),
    _node(ast.Denial, name_nodes, sentences),
    _node(
        ast.Plan,
        name_nodes,
        titles,
        _tuples(
            _node(ast.PlanPool, name_nodes, _tuples(allowances, 1, 4), percents, st.booleans()),
            0,
            3,
        ),
    ),
    _node(ast.SharedPool, name_nodes, titles, st.integers(0, 999), name_nodes, percents),
    _node(
        ast.Scenario,
        name_nodes,
        sentences,
        conditions,
        _tuples(_node(ast.Guard, name_nodes, conditions, st.booleans()), 0, 2),
        outcomes,
    ),
    _node(ast.Notify, _tuples(name_nodes, 1, 4), _tuples(name_nodes, 1, 25)),
)
modules = st.lists(statements, max_size=6).map(tuple)


# A second, deliberately sloppy printer: every token separated by random white space and
# comments, redundant parentheses, alternative spellings. Independent of policy.language.format.


def _quote(text: str) -> str:
    return '"' + "".join("\\" + c if c in '"\\' else c for c in text) + '"'


def _sloppy_condition(cond: ast.Condition, draw: Any) -> list[str]:
    tokens: list[str]
    if isinstance(cond, ast.AllOf | ast.AnyOf):
        word = "and" if isinstance(cond, ast.AllOf) else "or"
        tokens = []
        for index, item in enumerate(cond.items):
            part = _sloppy_condition(item, draw)
            if isinstance(item, ast.AllOf | ast.AnyOf):
                part = ["(", *part, ")"]
            tokens += ([word] if index else []) + part
    elif isinstance(cond, ast.Not) and isinstance(cond.item, ast.ToIs) and draw(st.booleans()):
        tokens = ["to", "is", "not", cond.item.number_class.value]
    elif (
        isinstance(cond, ast.Not) and isinstance(cond.item, ast.HasLicence) and draw(st.booleans())
    ):
        tokens = [cond.item.subject, "has", "no", cond.item.licence.value]
    elif isinstance(cond, ast.Not):
        part = _sloppy_condition(cond.item, draw)
        if isinstance(cond.item, ast.AllOf | ast.AnyOf) or draw(st.booleans()):
            part = ["(", *part, ")"]
        tokens = ["not", *part]
    else:
        tokens = _atom_tokens(cond)
    return ["(", *tokens, ")"] if draw(st.integers(0, 5)) == 0 else tokens


def _region_tokens(region: ast.Region) -> list[str]:
    return [region.name.value] if region.name else [c.value for c in region.countries]


def _atom_tokens(cond: ast.Condition) -> list[str]:
    match cond:
        case ast.IsDirection():
            return [cond.direction]
        case ast.FromContext():
            return ["from", cond.context.value]
        case ast.ToIs():
            return ["to", "is", cond.number_class.value]
        case ast.DestinationIs():
            return ["destination", "is", cond.what.value]
        case ast.DestinationIn():
            return ["destination", "in", *_region_tokens(cond.region)]
        case ast.CallerIn():
            return ["caller", "in", *_region_tokens(cond.region)]
        case ast.CallerSharesCode():
            return ["caller", "shares", "calling", "code"]
        case ast.HasLicence():
            return [cond.subject, "has", cond.licence.value]
        case ast.HasCallingPlan():
            return [cond.subject, "has", "calling", "plan"]
        case ast.PlanIs():
            return [cond.subject + "'s", "plan", "is", cond.plan.value]
        case ast.CreditsSetUp():
            return ["credits", "are", "set", "up"]
        case ast.BalancePositive():
            return ["balance", "is", "positive"]
        case ast.PoolHasMinutes():
            return ["pool", cond.pool.value, "has", "minutes", "left"]
    raise AssertionError(cond)


def _outcome_tokens(outcome: ast.Outcome) -> list[str]:
    match outcome:
        case ast.PayFree():
            return ["then", "free"]
        case ast.PayIncluded():
            return ["then", outcome.paid_by]
        case ast.PayPool():
            spill = [",", "spill", "over", "to", "credits", "of", outcome.spill]
            return ["then", "pool", outcome.pool.value, *(spill if outcome.spill else [])]
        case ast.PayCredits():
            return ["then", "credits", "of", outcome.payer]
        case ast.PayDeny():
            return ["deny", outcome.denial.value]
    raise AssertionError(outcome)


def _sloppy_statement(stmt: ast.Statement, draw: Any) -> list[str]:
    def title(value: str | None) -> list[str]:
        return [] if value is None else [_quote(value)]

    def listed(items: tuple[ast.Name, ...]) -> list[str]:
        out: list[str] = []
        for index, item in enumerate(items):
            out += ([","] if index else []) + [item.value]
        return out

    licence = draw(st.sampled_from(["licence", "license"]))
    match stmt:
        case ast.Zone():
            return [
                "zone",
                stmt.name.value,
                *title(stmt.title),
                "=",
                *(c.value for c in stmt.countries),
            ]
        case ast.Area():
            tokens = ["domestic", "area", stmt.name.value, *title(stmt.title), "="]
            tokens += [c.value for c in stmt.countries]
            for group in stmt.pooling:
                tokens += [",", *(c.value for c in group.countries), "pooled", "with"]
                tokens.append(group.target.value)
            return tokens
        case ast.Licence():
            credits = ["credits"] if stmt.credits else []
            return [*credits, licence, stmt.name.value, *title(stmt.title)]
        case ast.Role():
            return ["role", stmt.name.value, *title(stmt.title)]
        case ast.Denial():
            return ["denial", stmt.name.value, _quote(stmt.sentence)]
        case ast.Plan():
            tokens = ["plan", stmt.name.value, *title(stmt.title), "{"]
            for pool in stmt.pools:
                parts = [_sloppy_allowance(a, draw) for a in pool.allowances]
                if pool.warn:  # options may come in any order after the first allowance
                    parts.append(["warn", "at", *listed(tuple(_pct(p) for p in pool.warn))])
                if pool.per_user:
                    parts.insert(draw(st.integers(1, len(parts))), ["not", "pooled"])
                tokens += ["pool", pool.name.value, ":"]
                for index, part in enumerate(parts):
                    tokens += ([","] if index else []) + part
            return [*tokens, "}"]
        case ast.SharedPool():
            tokens = ["conferencing", "pool", stmt.name.value, *title(stmt.title), ":"]
            tokens += [str(stmt.minutes), "minutes", "per", stmt.licence.value, licence]
            options = [["warn", "at", *listed(tuple(_pct(p) for p in stmt.warn))]] * bool(stmt.warn)
            if draw(st.booleans()):
                options.insert(draw(st.integers(0, len(options))), ["tenant-wide"])
            return tokens + [token for option in options for token in [",", *option]]
        case ast.Scenario():
            tokens = ["scenario", stmt.name.value, _quote(stmt.sentence), ":", "when"]
            tokens += _sloppy_condition(stmt.condition, draw)
            for guard in stmt.guards:
                tokens += ["deny", guard.denial.value, "unless" if guard.unless else "if"]
                tokens += _sloppy_condition(guard.condition, draw)
            return tokens + _outcome_tokens(stmt.outcome)
        case ast.Notify():
            return ["notify", *listed(stmt.events), "to", *listed(stmt.roles)]
    raise AssertionError(stmt)


def _pct(value: int) -> ast.Name:
    return ast.Name(f"{value}%", NOWHERE)


def _sloppy_allowance(allowance: ast.Allowance, draw: Any) -> list[str]:
    tokens = [str(allowance.minutes)]
    if not allowance.elsewhere or draw(st.booleans()):
        tokens += ["minutes", "per", "user"]
    if allowance.region is not None:
        tokens += ["in", allowance.region.value]
    return tokens + (["elsewhere"] if allowance.elsewhere else [])


SEPARATORS = [" ", " ", " ", "  ", "\t", "\n", "\n    ", "\n\n", "\r\n"]
SEPARATORS += [" #{}\n", " #{}\r\n", "\n#{}\n", "\n\n #{}\n\n", "\n\n\n#{}\n\n\n"]


def sloppy_text(statements: tuple[ast.Statement, ...], draw: Any) -> tuple[str, int]:
    """The statements as messy but valid text, and how many comments it holds."""
    tokens = [token for stmt in statements for token in _sloppy_statement(stmt, draw)]
    out: list[str] = []
    comments = 0
    for token in tokens:
        separator = draw(st.sampled_from(SEPARATORS))
        if "{}" in separator:
            separator = separator.format(f" note {comments}")
            comments += 1
        out += [token, separator]
    return "".join(out), comments


PROPERTY = settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _well_formed(text: str) -> None:
    lines = text.split("\n")
    assert text == "" or (text.endswith("\n") and not text.endswith("\n\n"))
    assert not text.startswith("\n")
    assert all(line == line.rstrip() for line in lines), "trailing white space"
    assert "\n\n\n" not in text, "at most one blank line"


@PROPERTY
@given(modules)
def test_printing_a_tree_parses_back_to_it(statements: tuple[ast.Statement, ...]) -> None:
    text = format_module(ast.Module("<generated>", statements, ()))
    _well_formed(text)
    assert strip_spans(parse(text).statements) == statements
    assert fmt(text) == text


@PROPERTY
@given(modules, st.data())
def test_formatting_is_idempotent_and_keeps_meaning_and_comments(
    statements: tuple[ast.Statement, ...], data: st.DataObject
) -> None:
    messy, comments = sloppy_text(statements, data.draw)
    assert tree(messy) == statements  # the sloppy printer is right
    once = fmt(messy)
    _well_formed(once)
    assert fmt(once) == once
    assert tree(once) == statements
    _, layout = parse_with_comments(once)
    found = [int(n) for c in layout.comments for n in re.findall(r"note (\d+)", c.text)]
    assert sorted(found) == list(range(comments))


@PROPERTY
@given(sentences, titles)
def test_quoted_strings_read_back_unchanged(sentence: str, title: str | None) -> None:
    role = ast.Role(ast.Name("r", NOWHERE), title, NOWHERE)
    denial = ast.Denial(ast.Name("d", NOWHERE), sentence, NOWHERE)
    text = f"denial d {quote(sentence)}\n" + format_module(ast.Module("<generated>", (role,), ()))
    assert tree(text) == (denial, role)
