"""Parse: ``.ccp`` text → :class:`policy.language.ast.Module`.

The grammar (``grammar.lark``) is loaded once with Lark's LALR parser. This is the
only module that knows grammar rule names; everything downstream sees the AST.
Syntax errors become :class:`~policy.support.errors.PolicySyntaxError` with the place,
the source line, a caret and a hint.
"""

from __future__ import annotations

import io
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from lark import Lark, Token, Transformer, Tree, v_args
from lark.exceptions import (
    UnexpectedCharacters,
    UnexpectedEOF,
    UnexpectedInput,
    UnexpectedToken,
    VisitError,
)

from policy.language import ast
from policy.support import cache as disk
from policy.support.cache import code_stamp
from policy.support.errors import Location, PolicySyntaxError

__all__ = ["Comment", "Layout", "parse", "parse_with_comments"]

_GRAMMAR = Path(__file__).with_name("grammar.lark")

# Terminal names → words a policy author recognises.
_WORDS = {
    "NAME": "a name",
    "COUNTRY": "a country code such as US",
    "STRING": 'a "quoted sentence"',
    "INT": "a number",
    "PERCENT": "a percentage such as 80%",
    "COLON": "':'",
    "COMMA": "','",
    "EQUAL": "'='",
    "LBRACE": "'{'",
    "RBRACE": "'}'",
    "LPAR": "'('",
    "RPAR": "')'",
    "SUBJECT": "'user' or 'organizer'",
    "SUBJECT_PLAN": '"user\'s" or "organizer\'s"',
    "PAYER": "'user', 'organizer' or 'tenant'",
    "_LICENCE": "'licence'",
    "CREDITS": "'credits'",
    "NOT": "'not'",
    "NO": "'no'",
    "$END": "the end of the file",
}

_STATEMENT_WORDS = (
    "zone, domestic area, licence, credits licence, role, denial, plan, "
    "conferencing pool, scenario, notify or capability"
)


_OPTIONS: dict[str, Any] = {
    "parser": "lalr",
    "propagate_positions": True,
    "maybe_placeholders": False,
}


@cache
def _parser() -> Lark:
    # Comments are %ignore'd by the grammar; the callback hands them to the formatter's
    # sink when one is set (parse_with_comments) and costs nothing otherwise.
    # Building the LALR tables takes ~45 ms; they are kept in ccpolicy's sealed cache
    # (never in Lark's own cache, which unpickles whatever file it finds in the temp dir).
    grammar = _GRAMMAR.read_text(encoding="utf-8")
    key = (grammar, repr(sorted(_OPTIONS.items())), code_stamp(("language/grammar.lark",)))
    tables = disk.lookup("lark", key)
    if isinstance(tables, bytes):
        try:
            return Lark.load(io.BytesIO(tables))  # sealed by this user: safe to unpickle
        except Exception:  # from another build of lark: make them again
            pass
    parser = Lark(grammar, lexer_callbacks={"COMMENT": _collect_comment}, **_OPTIONS)
    buffer = io.BytesIO()
    parser.save(buffer)
    disk.store("lark", key, buffer.getvalue())
    return parser


def _word(terminal: str) -> str:
    if terminal in _WORDS:
        return _WORDS[terminal]
    if terminal.startswith("__ANON") or terminal.isupper():
        # Lark names keyword terminals after their text, e.g. WHEN, THEN, TENANT_WIDE.
        return "'" + terminal.lower().replace("_", "-" if terminal == "TENANT_WIDE" else " ") + "'"
    return terminal


def _expected(exc: UnexpectedToken | UnexpectedEOF | UnexpectedCharacters) -> list[str]:
    names = set(getattr(exc, "expected", ()) or ()) | set(getattr(exc, "allowed", ()) or ())
    words = sorted({_word(n) for n in names if n not in {"WS", "COMMENT"}})
    return words


def _hint_for(raw: str, expected: list[str]) -> str | None:
    """A hint from the text the parser stopped at (as written, not quoted)."""
    if raw.startswith("'"):
        return 'strings use double quotes: "like this"'
    if (
        len(raw) == 2
        and raw.isalpha()
        and raw.islower()
        and "a country code such as US" in expected
    ):
        return f"country codes are upper case: {raw.upper()}"
    if len(raw) > 1 and raw.isupper() and "a name" in expected:
        return "names are lower_snake_case; country codes are upper case"
    if len(expected) > 12:
        return f"a statement starts with one of: {_STATEMENT_WORDS}"
    return None


#: Terminals that can start a condition: expected together, a condition is missing.
_CONDITION_STARTS = frozenset(("INBOUND", "OUTBOUND", "DESTINATION", "CALLER", "LPAR", "NOT"))


def _syntax_error(exc: UnexpectedInput, file: str, lines: list[str]) -> PolicySyntaxError:
    line = getattr(exc, "line", 0) or 0
    column = getattr(exc, "column", 0) or 0
    raw = ""
    if isinstance(exc, UnexpectedToken) and exc.token.type == "$END":
        line, column = len(lines), len(lines[-1]) + 1 if lines else 1
        found = "the end of the file"
    elif isinstance(exc, UnexpectedToken):
        raw = str(exc.token)
        found = repr(raw)
    elif isinstance(exc, UnexpectedCharacters):
        raw = exc.char
        found = repr(raw)
    else:
        found = "the end of the file"
    expected = _expected(exc)  # type: ignore[arg-type]
    wanted = set(getattr(exc, "expected", ()) or ())
    if wanted >= _CONDITION_STARTS and isinstance(exc, UnexpectedToken):
        # `when inbound and then free`: the parser wants a condition, not a statement
        history = getattr(exc, "token_history", None) or ()
        after = f" after '{history[-1]}'" if history else ""
        return PolicySyntaxError(
            f"a condition is missing{after} (found {found})",
            location=Location(file, line, column),
            source_line=lines[line - 1] if 0 < line <= len(lines) else None,
            hint="a condition such as: outbound, from user, destination is international, "
            "user has calling plan, not (…)",
        )
    if expected and len(expected) <= 12:
        message = f"unexpected {found}; expected {', '.join(expected)}"
    else:
        message = f"unexpected {found}"
    source = lines[line - 1] if 0 < line <= len(lines) else None
    return PolicySyntaxError(
        message,
        location=Location(file, line, column),
        source_line=source,
        hint=_hint_for(raw, expected),
    )


class _Misplaced(Exception):
    """A construct the grammar accepts but the language does not (raised while building)."""


#: The largest number a policy may write (minutes, percentages): nine digits.
MAX_NUMBER = 999_999_999


class _TooLarge(Exception):
    """A number token with more digits than any policy needs (raised while building)."""

    def __init__(self, token: Token) -> None:
        super().__init__(
            f"number {str(token)[:12]}… is too large (at most {MAX_NUMBER:,})"
            if len(token) > 12
            else f"number {token} is too large (at most {MAX_NUMBER:,})"
        )
        self.token = token


def _number(token: Token, strip: str = "") -> int:
    """The integer a number token spells (``strip``: a trailing unit such as ``%``);
    refused before conversion when longer than :data:`MAX_NUMBER` (Python refuses to
    convert more than 4,300 digits, and no pool holds a billion minutes)."""
    digits = str(token).removesuffix(strip)
    if len(digits.lstrip("0")) > len(str(MAX_NUMBER)):
        raise _TooLarge(token)
    return int(digits)


class _Builder(Transformer[Token, Any]):
    """Lark tree → AST. One method per grammar rule."""

    def __init__(self, file: str) -> None:
        super().__init__()
        self.file = file

    # -- helpers
    def _span(self, meta: Any) -> ast.Span:
        return ast.Span(self.file, getattr(meta, "line", 0), getattr(meta, "column", 0))

    def _name(self, token: Token) -> ast.Name:
        return ast.Name(str(token), ast.Span(self.file, token.line or 0, token.column or 0))

    @staticmethod
    def _string(token: Token) -> str:
        body = str(token)[1:-1]
        return body.replace('\\"', '"').replace("\\\\", "\\")

    def _title(self, items: list[Any]) -> str | None:
        for item in items:
            if isinstance(item, tuple) and item and item[0] == "title":
                return str(item[1])
        return None

    # -- statements
    def start(self, items: list[Any]) -> list[Any]:
        return items

    @v_args(inline=True)
    def title(self, token: Token) -> tuple[str, str]:
        return ("title", self._string(token))

    def countries(self, items: list[Token]) -> tuple[ast.Name, ...]:
        return tuple(self._name(t) for t in items)

    @v_args(meta=True)
    def zone(self, meta: Any, items: list[Any]) -> ast.Zone:
        return ast.Zone(self._name(items[0]), self._title(items), items[-1], self._span(meta))

    @v_args(meta=True)
    def pooling(self, meta: Any, items: list[Any]) -> ast.Pooling:
        return ast.Pooling(items[0], self._name(items[1]), self._span(meta))

    @v_args(meta=True)
    def area(self, meta: Any, items: list[Any]) -> ast.Area:
        pooling = tuple(i for i in items if isinstance(i, ast.Pooling))
        countries = next(
            i for i in items[1:] if isinstance(i, tuple) and i and isinstance(i[0], ast.Name)
        )
        return ast.Area(
            self._name(items[0]), self._title(items), countries, pooling, self._span(meta)
        )

    @v_args(meta=True)
    def licence(self, meta: Any, items: list[Any]) -> ast.Licence:
        credits = isinstance(items[0], Token) and items[0].type == "CREDITS"
        name_token = items[1] if credits else items[0]
        return ast.Licence(self._name(name_token), self._title(items), credits, self._span(meta))

    @v_args(meta=True)
    def role(self, meta: Any, items: list[Any]) -> ast.Role:
        return ast.Role(self._name(items[0]), self._title(items), self._span(meta))

    @v_args(meta=True)
    def denial(self, meta: Any, items: list[Any]) -> ast.Denial:
        return ast.Denial(self._name(items[0]), self._string(items[1]), self._span(meta))

    @v_args(meta=True)
    def plan(self, meta: Any, items: list[Any]) -> ast.Plan:
        pools = tuple(i for i in items if isinstance(i, ast.PlanPool))
        return ast.Plan(self._name(items[0]), self._title(items), pools, self._span(meta))

    @v_args(meta=True)
    def allowance_in(self, meta: Any, items: list[Token]) -> ast.Allowance:
        region = self._name(items[1]) if len(items) > 1 else None
        return ast.Allowance(_number(items[0]), region, False, self._span(meta))

    @v_args(meta=True)
    def allowance_elsewhere(self, meta: Any, items: list[Token]) -> ast.Allowance:
        return ast.Allowance(_number(items[0]), None, True, self._span(meta))

    def warn_at(self, items: list[Token]) -> tuple[str, int]:
        return ("warn", _number(items[0], "%"))

    def warn_more(self, items: list[Token]) -> tuple[str, int]:
        return ("warn_more", _number(items[0], "%"))

    def not_pooled(self, items: list[Any]) -> tuple[str, bool]:
        return ("per_user", True)

    def tenant_wide(self, items: list[Any]) -> tuple[str, bool]:
        return ("tenant_wide", True)

    @staticmethod
    def _options(items: list[Any]) -> dict[str, Any]:
        """Pool options by name; "warn at 80%, 100%" arrives as a warn item and a warn_more
        item per further percentage, which must follow it."""
        options: dict[str, Any] = {}
        warn: list[int] = []
        last = None
        for item in items:
            if not (isinstance(item, tuple) and item and isinstance(item[0], str)):
                last = None
                continue
            name, value = item
            if name == "warn":
                warn.append(value)
            elif name == "warn_more":
                if last not in ("warn", "warn_more"):
                    raise _Misplaced(f"'{value}%' must follow 'warn at'")
                warn.append(value)
            else:
                options[name] = value
            last = name
        options["warn"] = tuple(warn)
        return options

    @v_args(meta=True)
    def plan_pool(self, meta: Any, items: list[Any]) -> ast.PlanPool:
        options = self._options(items)
        allowances = tuple(i for i in items if isinstance(i, ast.Allowance))
        return ast.PlanPool(
            self._name(items[0]),
            allowances,
            options.get("warn", ()),
            bool(options.get("per_user", False)),
            self._span(meta),
        )

    @v_args(meta=True)
    def shared_pool(self, meta: Any, items: list[Any]) -> ast.SharedPool:
        options = self._options(items)
        rest = [i for i in items[1:] if isinstance(i, Token)]
        return ast.SharedPool(
            self._name(items[0]),
            self._title(items),
            _number(rest[0]),
            self._name(rest[1]),
            options.get("warn", ()),
            self._span(meta),
        )

    @v_args(meta=True)
    def scenario(self, meta: Any, items: list[Any]) -> ast.Scenario:
        name, sentence, condition, *rest = items
        guards = tuple(i for i in rest if isinstance(i, ast.Guard))
        return ast.Scenario(
            self._name(name), self._string(sentence), condition, guards, rest[-1], self._span(meta)
        )

    @v_args(meta=True)
    def deny_unless(self, meta: Any, items: list[Any]) -> ast.Guard:
        return ast.Guard(self._name(items[0]), items[1], True, self._span(meta))

    @v_args(meta=True)
    def deny_if(self, meta: Any, items: list[Any]) -> ast.Guard:
        return ast.Guard(self._name(items[0]), items[1], False, self._span(meta))

    @v_args(meta=True)
    def pay_free(self, meta: Any, items: list[Any]) -> ast.PayFree:
        return ast.PayFree(self._span(meta))

    @v_args(meta=True)
    def pay_conferencing(self, meta: Any, items: list[Any]) -> ast.PayIncluded:
        return ast.PayIncluded("conferencing", self._span(meta))

    @v_args(meta=True)
    def pay_plan(self, meta: Any, items: list[Any]) -> ast.PayIncluded:
        return ast.PayIncluded("plan", self._span(meta))

    @v_args(meta=True)
    def pay_pool(self, meta: Any, items: list[Any]) -> ast.PayPool:
        spill = str(items[1]) if len(items) > 1 else None
        return ast.PayPool(self._name(items[0]), spill, self._span(meta))

    @v_args(inline=True)
    def spill(self, payer: Token) -> Token:
        return payer

    @v_args(meta=True)
    def pay_credits(self, meta: Any, items: list[Token]) -> ast.PayCredits:
        return ast.PayCredits(str(items[0]), self._span(meta))

    @v_args(meta=True)
    def pay_deny(self, meta: Any, items: list[Token]) -> ast.PayDeny:
        return ast.PayDeny(self._name(items[0]), self._span(meta))

    def events(self, items: list[Token]) -> tuple[str, tuple[ast.Name, ...]]:
        return ("events", tuple(self._name(t) for t in items))

    def roles(self, items: list[Token]) -> tuple[str, tuple[ast.Name, ...]]:
        return ("roles", tuple(self._name(t) for t in items))

    @v_args(meta=True)
    def capability(self, meta: Any, items: list[Any]) -> ast.Capability:
        targets = tuple(self._name(t) for t in items[1:])
        return ast.Capability(self._string(items[0]), targets, self._span(meta))

    @v_args(meta=True)
    def notify(self, meta: Any, items: list[Any]) -> ast.Notify:
        parts = dict(items)
        return ast.Notify(parts["events"], parts["roles"], self._span(meta))

    # -- conditions
    @v_args(meta=True)
    def or_cond(self, meta: Any, items: list[Any]) -> ast.AnyOf:
        return ast.AnyOf(tuple(items), self._span(meta))

    @v_args(meta=True)
    def and_cond(self, meta: Any, items: list[Any]) -> ast.AllOf:
        return ast.AllOf(tuple(items), self._span(meta))

    @v_args(meta=True)
    def negation(self, meta: Any, items: list[Any]) -> ast.Not:
        return ast.Not(items[0], self._span(meta))

    def _negate(self, items: list[Any], node: ast.Condition, meta: Any) -> ast.Condition:
        negated = sum(1 for i in items if isinstance(i, Token) and i.type in {"NOT", "NO"}) % 2
        return ast.Not(node, self._span(meta)) if negated else node

    @staticmethod
    def _names(items: list[Any]) -> list[Token]:
        return [i for i in items if isinstance(i, Token) and i.type == "NAME"]

    @v_args(meta=True)
    def is_inbound(self, meta: Any, items: list[Any]) -> ast.IsDirection:
        return ast.IsDirection("inbound", self._span(meta))

    @v_args(meta=True)
    def is_outbound(self, meta: Any, items: list[Any]) -> ast.IsDirection:
        return ast.IsDirection("outbound", self._span(meta))

    @v_args(meta=True)
    def from_context(self, meta: Any, items: list[Token]) -> ast.FromContext:
        return ast.FromContext(self._name(items[0]), self._span(meta))

    @v_args(meta=True)
    def to_is(self, meta: Any, items: list[Any]) -> ast.Condition:
        node = ast.ToIs(self._name(self._names(items)[0]), self._span(meta))
        return self._negate(items, node, meta)

    @v_args(meta=True)
    def destination_is(self, meta: Any, items: list[Any]) -> ast.Condition:
        node = ast.DestinationIs(self._name(self._names(items)[0]), self._span(meta))
        return self._negate(items, node, meta)

    @v_args(meta=True)
    def destination_in(self, meta: Any, items: list[Any]) -> ast.Condition:
        region = next(i for i in items if isinstance(i, ast.Region))
        return self._negate(items, ast.DestinationIn(region, self._span(meta)), meta)

    @v_args(meta=True)
    def caller_in(self, meta: Any, items: list[Any]) -> ast.Condition:
        region = next(i for i in items if isinstance(i, ast.Region))
        return self._negate(items, ast.CallerIn(region, self._span(meta)), meta)

    @v_args(meta=True)
    def caller_shares_code(self, meta: Any, items: list[Any]) -> ast.CallerSharesCode:
        return ast.CallerSharesCode(self._span(meta))

    @v_args(meta=True)
    def has_licence(self, meta: Any, items: list[Any]) -> ast.Condition:
        node = ast.HasLicence(str(items[0]), self._name(self._names(items)[0]), self._span(meta))
        return self._negate(items, node, meta)

    @v_args(meta=True)
    def has_calling_plan(self, meta: Any, items: list[Any]) -> ast.Condition:
        return self._negate(items, ast.HasCallingPlan(str(items[0]), self._span(meta)), meta)

    @v_args(meta=True)
    def plan_is(self, meta: Any, items: list[Any]) -> ast.Condition:
        subject = str(items[0]).removesuffix("'s")
        node = ast.PlanIs(subject, self._name(self._names(items)[0]), self._span(meta))
        return self._negate(items, node, meta)

    @v_args(meta=True)
    def credits_set_up(self, meta: Any, items: list[Any]) -> ast.Condition:
        return self._negate(items, ast.CreditsSetUp(self._span(meta)), meta)

    @v_args(meta=True)
    def balance_positive(self, meta: Any, items: list[Any]) -> ast.Condition:
        return self._negate(items, ast.BalancePositive(self._span(meta)), meta)

    @v_args(meta=True)
    def pool_has_minutes(self, meta: Any, items: list[Any]) -> ast.Condition:
        node = ast.PoolHasMinutes(self._name(self._names(items)[0]), self._span(meta))
        return self._negate(items, node, meta)

    @v_args(meta=True)
    def region_name(self, meta: Any, items: list[Token]) -> ast.Region:
        return ast.Region(self._name(items[0]), (), self._span(meta))

    @v_args(meta=True)
    def region_list(self, meta: Any, items: list[Token]) -> ast.Region:
        return ast.Region(None, tuple(self._name(t) for t in items), self._span(meta))


def source_lines(text: str) -> list[str]:
    """The text's lines as Lark counts them (at ``\\n`` only; a form feed or U+2028 in a
    comment does not start a line), without line-end characters."""
    lines = [line.rstrip("\r") for line in text.split("\n")]
    if lines and lines[-1] == "":  # the text ends with a newline: no line after it
        lines.pop()
    return lines


def _build(tree: Tree[Token], file: str, lines: list[str]) -> ast.Module:
    try:
        statements = _Builder(file).transform(tree)
    except RecursionError:
        raise PolicySyntaxError(
            "the policy nests too deeply to read",
            location=Location(file, 1, 1),
            hint="split deeply nested conditions into several scenarios",
        ) from None
    except VisitError as exc:
        if isinstance(exc.orig_exc, _Misplaced):
            meta = getattr(exc.obj, "meta", None)
            line, column = getattr(meta, "line", 0), getattr(meta, "column", 0)
            raise PolicySyntaxError(
                str(exc.orig_exc),
                location=Location(file, line, column),
                source_line=lines[line - 1] if 0 < line <= len(lines) else None,
            ) from None
        if isinstance(exc.orig_exc, _TooLarge):
            token = exc.orig_exc.token
            line, column = token.line or 0, token.column or 0
            raise PolicySyntaxError(
                str(exc.orig_exc),
                location=Location(file, line, column),
                source_line=lines[line - 1] if 0 < line <= len(lines) else None,
                hint="write minutes and percentages as plain numbers of at most nine digits",
            ) from None
        if isinstance(exc.orig_exc, RecursionError):
            raise PolicySyntaxError(
                "the policy nests too deeply to read", location=Location(file, 1, 1)
            ) from None
        raise
    return ast.Module(file, tuple(statements), tuple(lines))


def parse(text: str, file: str = "<policy>") -> ast.Module:
    """Parse one file's text into a Module; raise PolicySyntaxError on bad syntax."""
    lines = source_lines(text)
    try:
        tree = _parser().parse(text)
    except UnexpectedInput as exc:
        raise _syntax_error(exc, file, lines) from None
    return _build(tree, file, lines)


# ---- comments, for the formatter ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Comment:
    """A ``# comment`` (ignored by the grammar), as written, with its place."""

    text: str  # from "#" to the end of the line, trailing whitespace removed
    line: int
    column: int
    own_line: bool  # nothing but whitespace before it on its line


@dataclass(frozen=True, slots=True)
class Layout:
    """What the AST leaves out but a formatter must keep: comments and statement ends."""

    comments: tuple[Comment, ...]
    ends: tuple[tuple[int, int], ...]  # per statement: (line, column) just after its last token


_COMMENT_SINK: ContextVar[list[Token] | None] = ContextVar("_COMMENT_SINK", default=None)


def _collect_comment(token: Token) -> Token:
    sink = _COMMENT_SINK.get()
    if sink is not None:
        sink.append(token)
    return token


def parse_with_comments(text: str, file: str = "<policy>") -> tuple[ast.Module, Layout]:
    """Like :func:`parse`, plus the comments and where each statement ends."""
    lines = source_lines(text)
    tokens: list[Token] = []
    reset = _COMMENT_SINK.set(tokens)
    try:
        tree = _parser().parse(text)
    except UnexpectedInput as exc:
        raise _syntax_error(exc, file, lines) from None
    finally:
        _COMMENT_SINK.reset(reset)
    comments = tuple(
        Comment(
            str(t).rstrip(),
            t.line or 0,
            t.column or 0,
            not lines[(t.line or 1) - 1][: (t.column or 1) - 1].strip(),
        )
        for t in tokens
    )
    ends = tuple((c.meta.end_line, c.meta.end_column) for c in tree.children if isinstance(c, Tree))
    return _build(tree, file, lines), Layout(comments, ends)
