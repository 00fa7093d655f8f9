"""Format: one canonical layout for ``.ccp`` files, comments kept.

Statements are printed from the AST (:mod:`policy.language.ast`); the comments and statement
ends collected by :func:`policy.language.parser.parse_with_comments` are put back where they
were. The source text is never re-printed. The canonical style (docs/formatting.md):

- 4-space indentation, lines wrapped at 100 columns where a break is allowed (country,
  event and role lists, conditions before ``and``/``or``, plan pool allowances);
  names, sentences and atoms of conditions are never split.
- One blank line between statements, except runs of one-line declarations (zone,
  domestic area, licence, role, denial), which keep the grouping they were written in.
  Blank lines around comments are kept, at most one.
- Scenarios: the header line, then ``when``/``deny``/``then`` lines indented by 4;
  conditions with the fewest parentheses that keep the tree, negations in their
  natural form (``to is not X``, ``user has no X``).
- Strings are re-quoted (``"`` and ``\\`` escaped); ``licence`` is spelled with a c.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any

from policy.language import ast
from policy.language.parser import Comment, Layout, parse_with_comments

__all__ = ["INDENT", "WIDTH", "condition_text", "format_module", "format_text", "quote"]

WIDTH = 100
INDENT = 4

Pos = tuple[int, int]
Chunk = tuple[str, list[Pos]]  # a piece of text that is never split, and its tokens' places
Piece = tuple[str, list[Pos], int]  # a chunk of a condition and its depth of parentheses


@dataclass(slots=True)
class _Line:
    """One output line of a statement, with the source places of the tokens on it."""

    indent: int
    text: str
    marks: list[Pos]
    comment: str | None = None  # a trailing comment
    before: list[str] = field(default_factory=list)  # full-line comments above it
    comment_indent: int | None = None  # indentation of those comments (default: indent)

    @property
    def anchor(self) -> int | None:
        return min(line for line, _ in self.marks) if self.marks else None

    def render(self) -> Iterator[str]:
        pad = " " * (self.indent if self.comment_indent is None else self.comment_indent)
        for text in self.before:
            yield pad + text
        text = " " * self.indent + self.text
        yield f"{text}  {self.comment}" if self.comment else text


def quote(text: str) -> str:
    """A STRING token whose value is ``text``."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _marks(node: Any) -> list[Pos]:
    """Source places of every node under ``node`` (spans of nodes and names)."""
    found: list[Pos] = []
    if isinstance(node, tuple):
        for item in node:
            found.extend(_marks(item))
    elif is_dataclass(node) and not isinstance(node, ast.Span):
        for f in fields(node):
            value = getattr(node, f.name)
            if isinstance(value, ast.Span):
                found.append((value.line, value.column))
            else:
                found.extend(_marks(value))
    return found


def _fill(first: str, chunks: Sequence[Chunk], indent: int, hang: int) -> list[_Line]:
    """Greedy fill: ``first``, then the chunks separated by spaces; a chunk starts a new
    line (``hang`` columns in) only when it would pass WIDTH and its line has one already."""
    lines = [_Line(indent, first, [])]
    placed = False
    for text, marks in chunks:
        line = lines[-1]
        sep = " " if line.text and not line.text.endswith(" ") else ""
        if placed and line.indent + len(line.text) + len(sep) + len(text) > WIDTH:
            lines.append(_Line(hang, text, list(marks)))
        else:
            line.text += sep + text
            line.marks.extend(marks)
        placed = True
    return lines


def _fits(lines: list[_Line]) -> bool:
    return len(lines) == 1 and lines[0].indent + len(lines[0].text) <= WIDTH


def _commas(items: Sequence[tuple[str, list[Pos]]], last: str = "") -> list[Chunk]:
    """``a, b, c`` as chunks ``a,`` ``b,`` ``c`` (+ ``last`` on the final one)."""
    n = len(items)
    return [(t + ("," if i < n - 1 else last), m) for i, (t, m) in enumerate(items)]


def _name(name: ast.Name) -> Chunk:
    return name.value, [(name.span.line, name.span.column)]


def _titled(keyword: str, name: ast.Name, title: str | None) -> str:
    return f"{keyword} {name.value}" + ("" if title is None else f" {quote(title)}")


# ---- conditions -----------------------------------------------------------------------

_NEGATABLE = (
    ast.ToIs,
    ast.DestinationIs,
    ast.DestinationIn,
    ast.CallerIn,
    ast.HasLicence,
    ast.HasCallingPlan,
    ast.PlanIs,
    ast.CreditsSetUp,
    ast.BalancePositive,
    ast.PoolHasMinutes,
)


def _region(region: ast.Region) -> str:
    if region.name is not None:
        return region.name.value
    return " ".join(c.value for c in region.countries)


def _atom(cond: ast.Condition, negated: bool = False) -> str:
    no, not_ = ("no ", "not ") if negated else ("", "")
    match cond:
        case ast.IsDirection(direction=direction):
            return direction
        case ast.FromContext(context=context):
            return f"from {context.value}"
        case ast.ToIs(number_class=what):
            return f"to is {not_}{what.value}"
        case ast.DestinationIs(what=what):
            return f"destination is {not_}{what.value}"
        case ast.DestinationIn(region=region):
            return f"destination {not_}in {_region(region)}"
        case ast.CallerIn(region=region):
            return f"caller {not_}in {_region(region)}"
        case ast.CallerSharesCode():
            return "caller shares calling code"
        case ast.HasLicence(subject=subject, licence=licence):
            return f"{subject} has {no}{licence.value}"
        case ast.HasCallingPlan(subject=subject):
            return f"{subject} has {no}calling plan"
        case ast.PlanIs(subject=subject, plan=plan):
            return f"{subject}'s plan is {not_}{plan.value}"
        case ast.CreditsSetUp():
            return f"credits are {not_}set up"
        case ast.BalancePositive():
            return f"balance is {not_}positive"
        case ast.PoolHasMinutes(pool=pool):
            return f"pool {pool.value} has {no}minutes left"
    raise TypeError(f"not a condition atom: {cond!r}")


def condition_text(cond: ast.Condition) -> str:
    """A condition on one line, with the fewest parentheses that keep its tree."""
    return " ".join(text for text, _, _ in _condition_chunks(cond))


def _condition_chunks(cond: ast.Condition) -> list[Piece]:
    """The condition cut before each ``and``/``or``, where a line may break; each piece
    has the depth of parentheses at its break."""
    if isinstance(cond, ast.AnyOf | ast.AllOf):
        word = "or " if isinstance(cond, ast.AnyOf) else "and "
        pieces: list[Piece] = []
        for index, item in enumerate(cond.items):
            pieces.extend(_operand(item, cond, word if index else ""))
        return pieces
    if isinstance(cond, ast.Not) and not isinstance(cond.item, _NEGATABLE):
        return _operand(cond.item, cond, "not ")
    if isinstance(cond, ast.Not):
        return [(_atom(cond.item, negated=True), _marks(cond), 0)]
    return [(_atom(cond), _marks(cond), 0)]


def _operand(item: ast.Condition, parent: ast.Condition, prefix: str) -> list[Piece]:
    """``item`` inside ``parent``, in parentheses only where the tree needs them: an
    ``and``/``or`` inside ``and`` or ``not``, an ``or`` inside ``or``."""
    pieces = _condition_chunks(item)
    compound = isinstance(item, ast.AllOf | ast.AnyOf)
    if compound and not (isinstance(parent, ast.AnyOf) and isinstance(item, ast.AllOf)):
        prefix += "("
        pieces = [pieces[0]] + [(text, marks, depth + 1) for text, marks, depth in pieces[1:]]
        text, marks, depth = pieces[-1]
        pieces[-1] = (text + ")", marks, depth)
    text, marks, depth = pieces[0]
    pieces[0] = (prefix + text, marks, depth)
    return pieces


def _up_to(pieces: list[Piece], depth: int) -> list[Chunk]:
    """Join the pieces whose break is deeper than ``depth`` to the piece before them."""
    chunks: list[Chunk] = []
    for text, marks, level in pieces:
        if chunks and level > depth:
            chunks[-1] = (f"{chunks[-1][0]} {text}", chunks[-1][1] + marks)
        else:
            chunks.append((text, list(marks)))
    return chunks


# ---- statements ------------------------------------------------------------------------


def _countries(names: Sequence[ast.Name]) -> list[Chunk]:
    return [_name(n) for n in names]


def _zone_or_area(head: str, node: ast.Zone | ast.Area) -> list[_Line]:
    pooling = node.pooling if isinstance(node, ast.Area) else ()
    tail = "," if pooling else ""
    countries = _countries(node.countries)
    countries[-1] = (countries[-1][0] + tail, countries[-1][1])
    lines = _fill(head + " =", countries, 0, INDENT)
    if not _fits(lines):
        lines = [_Line(0, head + " =", []), *_fill("", countries, INDENT, INDENT)]
    for i, group in enumerate(pooling):
        last = "" if i == len(pooling) - 1 else ","
        chunks = [*_countries(group.countries), ("pooled", []), ("with", [])]
        chunks.append((group.target.value + last, _marks(group.target)))
        lines.extend(_fill("", chunks, INDENT, INDENT))
    lines[0].marks.insert(0, (node.span.line, node.span.column))
    return lines


def _warn(warn: tuple[int, ...]) -> list[Chunk]:
    if not warn:
        return []
    return [("warn", []), ("at", []), *_commas([(f"{p}%", []) for p in warn])]


def _allowance(a: ast.Allowance) -> tuple[str, list[Pos]]:
    if a.elsewhere:
        text = f"{a.minutes} elsewhere"
    else:
        text = f"{a.minutes} minutes per user" + (f" in {a.region.value}" if a.region else "")
    return text, _marks(a)


def _plan(plan: ast.Plan, end: Pos | None) -> list[_Line]:
    head = _titled("plan", plan.name, plan.title)
    first = _Line(0, head + " {", [(plan.span.line, plan.span.column)])
    if not plan.pools:
        first.text += " }"
        return [first]
    labels = [f"pool {p.name.value}:" for p in plan.pools]
    width = max(len(label) for label in labels)
    lines = [first]
    for label, pool in zip(labels, plan.pools, strict=True):
        items = [_allowance(a) for a in pool.allowances]
        if pool.per_user:
            items.append(("not pooled", []))
        chunks = _commas(items, "," if pool.warn else "") + _warn(pool.warn)
        start = label.ljust(width) + " "
        body = _fill(start, chunks, INDENT, INDENT + len(start))
        body[0].marks.insert(0, (pool.span.line, pool.span.column))
        lines.extend(body)
    close = _Line(0, "}", [] if end is None else [(end[0], end[1] - 1)], comment_indent=INDENT)
    return [*lines, close]


def _shared_pool(pool: ast.SharedPool) -> list[_Line]:
    head = _titled("conferencing pool", pool.name, pool.title) + ":"
    items: list[tuple[str, list[Pos]]] = [
        (f"{pool.minutes} minutes per {pool.licence.value} licence", _marks(pool.licence)),
        ("tenant-wide", []),
    ]
    chunks = _commas(items, "," if pool.warn else "") + _warn(pool.warn)
    lines = _fill(head, chunks, 0, 2 * INDENT)
    if not _fits(lines):
        lines = [_Line(0, head, []), *_fill("", chunks, INDENT, 2 * INDENT)]
    lines[0].marks.insert(0, (pool.span.line, pool.span.column))
    return lines


def _clause(keyword: str, cond: ast.Condition, marks: list[Pos]) -> list[_Line]:
    """``when COND`` / ``deny CODE unless COND``, broken before the outermost ``and``/``or``
    that make it fit, continuation lines aligned with the condition."""
    pieces = _condition_chunks(cond)
    for depth in range(max(level for _, _, level in pieces) + 1):
        lines = _fill(keyword + " ", _up_to(pieces, depth), INDENT, INDENT + len(keyword) + 1)
        if all(line.indent + len(line.text) <= WIDTH for line in lines):
            break
    lines[0].marks[:0] = marks
    return lines


def _outcome(outcome: ast.Outcome) -> str:
    match outcome:
        case ast.PayFree():
            return "then free"
        case ast.PayIncluded(paid_by=paid_by):
            return f"then {paid_by}"
        case ast.PayPool(pool=pool, spill=spill):
            tail = f", spill over to credits of {spill}" if spill else ""
            return f"then pool {pool.value}{tail}"
        case ast.PayCredits(payer=payer):
            return f"then credits of {payer}"
        case ast.PayDeny(denial=denial):
            return f"deny {denial.value}"
    raise TypeError(f"not an outcome: {outcome!r}")


def _scenario(scenario: ast.Scenario) -> list[_Line]:
    head = f"scenario {scenario.name.value} {quote(scenario.sentence)}:"
    lines = [_Line(0, head, [(scenario.span.line, scenario.span.column)])]
    lines.extend(_clause("when", scenario.condition, []))
    for guard in scenario.guards:
        keyword = f"deny {guard.denial.value} {'unless' if guard.unless else 'if'}"
        lines.extend(_clause(keyword, guard.condition, _marks(guard.denial)))
    lines.append(_Line(INDENT, _outcome(scenario.outcome), _marks(scenario.outcome)))
    return lines


def _notify(notify: ast.Notify) -> list[_Line]:
    events = _commas([_name(n) for n in notify.events])
    roles = _commas([_name(n) for n in notify.roles])
    lines = _fill("notify", [*events, ("to", []), *roles], 0, len("notify "))
    if not _fits(lines):
        lines = _fill("notify", events, 0, len("notify "))
        lines.extend(_fill("to", roles, INDENT, INDENT + len("to ")))
    lines[0].marks.insert(0, (notify.span.line, notify.span.column))
    return lines


def _capability(stmt: ast.Capability) -> list[_Line]:
    head = f"capability {quote(stmt.code)} for"
    lines = _fill(head, _commas([_name(n) for n in stmt.targets]), 0, INDENT)
    lines[0].marks.insert(0, (stmt.span.line, stmt.span.column))
    return lines


def render_statement(stmt: ast.Statement, end: Pos | None = None) -> list[_Line]:
    """The canonical lines of one statement (without comments)."""
    mark = [(stmt.span.line, stmt.span.column)]
    match stmt:
        case ast.Zone():
            return _zone_or_area(_titled("zone", stmt.name, stmt.title), stmt)
        case ast.Area():
            return _zone_or_area(_titled("domestic area", stmt.name, stmt.title), stmt)
        case ast.Licence():
            keyword = "credits licence" if stmt.credits else "licence"
            return [_Line(0, _titled(keyword, stmt.name, stmt.title), mark + _marks(stmt.name))]
        case ast.Role():
            return [_Line(0, _titled("role", stmt.name, stmt.title), mark + _marks(stmt.name))]
        case ast.Denial():
            text = f"denial {stmt.name.value} {quote(stmt.sentence)}"
            return [_Line(0, text, mark + _marks(stmt.name))]
        case ast.Plan():
            return _plan(stmt, end)
        case ast.SharedPool():
            return _shared_pool(stmt)
        case ast.Scenario():
            return _scenario(stmt)
        case ast.Notify():
            return _notify(stmt)
        case ast.Capability():
            return _capability(stmt)
    raise TypeError(f"not a statement: {stmt!r}")


# ---- files: statements, blank lines and comments ------------------------------------------

_GROUPABLE = (ast.Zone, ast.Area, ast.Licence, ast.Role, ast.Denial, ast.Capability)


@dataclass(slots=True)
class _Item:
    """A statement (with its lines) or a comment on a line of its own between statements."""

    first: int  # source lines
    last: int
    lines: list[_Line] = field(default_factory=list)
    groupable: bool = False
    comment: str | None = None
    orphans: list[str] = field(default_factory=list)  # comments we could not place inside


def _attach(item: _Item, comment: Comment) -> None:
    """A trailing comment goes on the line of the last token written before it."""
    where = (comment.line, comment.column)
    best: tuple[Pos, int] = ((0, 0), 0)
    for index, line in enumerate(item.lines):
        for mark in line.marks:
            if best[0] <= mark < where:
                best = (mark, index)
    line = item.lines[best[1]]
    line.comment = comment.text if line.comment is None else f"{line.comment}  {comment.text}"


def _place(item: _Item, comment: Comment) -> None:
    """A full-line comment inside a statement goes above the first line written after it."""
    for line in item.lines[1:]:
        anchor = line.anchor
        if anchor is not None and anchor > comment.line:
            line.before.append(comment.text)
            return
    item.orphans.append(comment.text)


def _items(module: ast.Module, layout: Layout) -> list[_Item]:
    statements = module.statements
    ends: Sequence[Pos | None] = layout.ends if len(layout.ends) == len(statements) else ()
    if not ends:
        ends = [None] * len(statements)
    blocks = [
        _Item(s.span.line, (e or (s.span.line, 0))[0], render_statement(s, e))
        for s, e in zip(statements, ends, strict=True)
    ]
    for block, stmt in zip(blocks, statements, strict=True):
        block.groupable = isinstance(stmt, _GROUPABLE) and len(block.lines) == 1
    starts = [(s.span.line, s.span.column) for s in statements]
    between: list[list[_Item]] = [[] for _ in range(len(statements) + 1)]
    for comment in layout.comments:
        where = (comment.line, comment.column)
        index = bisect_right(starts, where) - 1
        end = ends[index] if index >= 0 else None
        if not comment.own_line and index >= 0:
            _attach(blocks[index], comment)
        elif end is not None and where < end:
            _place(blocks[index], comment)
        else:
            between[index + 1].append(_Item(comment.line, comment.line, comment=comment.text))
    items: list[_Item] = []
    for index, block in enumerate(blocks):
        items.extend(between[index])
        items.append(block)
    items.extend(between[-1])
    return items


def _blank_lines(items: list[_Item], index: int) -> int:
    """Blank lines before ``items[index]``: as written (at most one) around comments and
    between one-line declarations, else exactly one."""
    prev, item = items[index - 1], items[index]
    written = 1 if item.first - prev.last > 1 else 0
    if prev.comment is not None:
        return written
    following = next((i for i in items[index:] if i.comment is None), None)
    grouped = prev.groupable and (following is None or following.groupable)
    return written if grouped else 1


def format_module(module: ast.Module, layout: Layout | None = None) -> str:
    """The canonical text of a parsed module (with its comments, given their layout)."""
    items = _items(module, layout or Layout((), ()))
    out: list[str] = []
    for index, item in enumerate(items):
        if index and _blank_lines(items, index):
            out.append("")
        if item.comment is not None:
            out.append(item.comment)
            continue
        out.extend(item.orphans)
        for line in item.lines:
            out.extend(line.render())
    return "".join(line + "\n" for line in out)


def format_text(text: str, file: str = "<policy>") -> str:
    """Format ``.ccp`` source; raises :class:`~policy.support.errors.PolicySyntaxError`."""
    module, layout = parse_with_comments(text, file)
    return format_module(module, layout)
