"""Output conventions shared by every command: findings to stderr, colour only on a
terminal and never with NO_COLOR, ASCII stand-ins on a stream that is not Unicode."""

from __future__ import annotations

import codecs
import io
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from policy.support.errors import Finding, UsageError

if TYPE_CHECKING:
    from policy.data.tenant import Tenant
    from policy.engine.evaluate import Engine

__all__ = [
    "BUNDLED",
    "CALLS_HELP",
    "RULES_HELP",
    "add_call_options",
    "ascii_fallback",
    "bind_tenant",
    "choose_policy",
    "is_bundled",
    "load_chosen",
    "paint",
    "paths_to_verify",
    "print_findings",
    "use_color",
]

#: What a character the stream cannot encode is written as (else ``?``).
ASCII_STAND_INS = {
    "→": "->",
    "←": "<-",
    "⇔": "<=>",
    "✔": "ok",
    "✗": "x",
    "✘": "x",
    "·": "-",
    "—": "--",
    "–": "-",
    "−": "-",
    "…": "...",
    "×": "x",
    "≥": ">=",
    "≤": "<=",
    "≠": "!=",
    "≈": "~",
    "µ": "u",
    "█": "#",
    "‘": "'",
    "’": "'",
    "“": '"',
    "”": '"',
}
_HANDLER = "ccpolicy-ascii"


def _stand_in(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeEncodeError):
        raise error
    bad = error.object[error.start : error.end]
    return "".join(ASCII_STAND_INS.get(c, "?") for c in bad), error.end


codecs.register_error(_HANDLER, _stand_in)


def ascii_fallback(stream: TextIO) -> None:
    """Let ``stream`` write any text: characters its encoding lacks (``→ ✔ ✗ ·`` on a
    cp1252 or ASCII stream) become ASCII stand-ins instead of a ``UnicodeEncodeError``."""
    encoding = getattr(stream, "encoding", None) or "ascii"
    try:
        codecs.lookup(encoding)
        "→✔✗·—…".encode(encoding)
    except (LookupError, UnicodeEncodeError):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors=_HANDLER)


def use_color(stream: TextIO) -> bool:
    return stream.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


def paint(text: str, code: str, stream: TextIO) -> str:
    return f"\033[{code}m{text}\033[0m" if use_color(stream) else text


def print_findings(findings: Sequence[Finding], stream: TextIO) -> None:
    for finding in findings:
        text = finding.render()
        if finding.is_error:
            text = text.replace(": error: ", ": " + paint("error", "31;1", stream) + ": ", 1)
        else:
            text = text.replace(": warning: ", ": " + paint("warning", "33;1", stream) + ": ", 1)
        stream.write(text + "\n")


RULES_HELP = (
    "policy directory; 'bundled' for the bundled rules (default: the current directory "
    "when it holds .ccp files, else the bundled rules — the command says which)"
)

#: How every command describes its calls file (one reader: ``policy.rating.cdr.open_calls``).
CALLS_HELP = (
    "calls: YAML, JSON, JSON Lines or CSV (call fields or a PSTN usage report), told by the "
    "extension, else by the content; - reads standard input"
)


#: The name that selects the bundled rules wherever a policy path is expected.
BUNDLED = "bundled"


def is_bundled(given: str | os.PathLike[str] | None) -> bool:
    """``bundled`` names the bundled rules (unless a directory of that name is here)."""
    return given is not None and os.fspath(given) == BUNDLED and not os.path.isdir(BUNDLED)


def here_has_policy() -> bool:
    return any(Path(".").glob("*.ccp"))


def choose_policy(given: str | None) -> tuple[str | None, str | None]:
    """Which policy a command uses — one rule for every command:

    1. the one named (``--rules DIR``, a PATH); ``bundled`` names the bundled rules;
    2. else the current directory when it holds ``.ccp`` files;
    3. else the bundled rules.

    Returns what to load (None: the bundled rules) and, when the current directory's
    policy was taken without being named, a note saying so (printed on stderr). The
    bundled fallback is the documented default and says nothing here: each decision's
    trace names ``rules/…`` and a tenant the bundled rules do not know is refused with a
    hint that ``--rules`` is probably missing."""
    if is_bundled(given):
        return None, None
    if given is not None:
        return given, None
    if here_has_policy():
        return ".", "policy: the .ccp files in the current directory (no --rules given)"
    return None, None


def load_chosen(given: str | None, rates: str | None = None) -> Engine:
    """:func:`choose_policy`, its note on stderr, then ``load``."""
    from policy.pipeline import load

    path, note = choose_policy(given)
    if note is not None:
        sys.stderr.write(f"note: {note}\n")
    return load(path, rates=rates)


def paths_to_verify(paths: Sequence[str], command: str, bundled: str) -> list[str]:
    """What ``check``, ``test`` and ``analyze`` verify — the same rule, except that the
    bundled rules are never checked by default (a CI job that forgot its path must not
    pass on the bundled rules): the PATHs named (``bundled`` → ``bundled``, the bundled
    rules' path for this command); none: the current directory when it holds ``.ccp``
    files (a note on stderr says so); else a usage error naming both ways out."""
    if paths:
        return [bundled if is_bundled(p) else p for p in paths]
    if here_has_policy():
        sys.stderr.write("note: policy: the .ccp files in the current directory (no PATH given)\n")
        return ["."]
    raise UsageError(
        f"nothing to {command}: no PATH given and no .ccp files in the current directory",
        hint=f"name your policy (ccpolicy {command} my_rules/), or `ccpolicy {command} "
        f"{BUNDLED}` for the bundled rules",
    )


def bind_tenant(engine: Engine, tenant: Tenant, given: str | None) -> None:
    """``engine.bind(tenant)``; when the bundled rules were used only because no policy
    was named, a refusal says so in one finding: the tenant's names are likely another
    policy's, and ``--rules`` is probably missing."""
    from policy.support.errors import PolicyError

    try:
        engine.bind(tenant)
    except PolicyError as exc:
        if given is not None or choose_policy(None)[0] is not None:
            raise
        if any(f.hint for f in exc.findings):  # "did you mean": a typo, not another policy
            raise
        first = exc.findings[0]
        message = first.message
        if len(exc.findings) > 1 and all(f.code == first.code for f in exc.findings):
            names = sorted({f.message.split("'")[1] for f in exc.findings if "'" in f.message})
            shown = ", ".join(names[:4]) + (", …" if len(names) > 4 else "")
            message = (
                f"{len(exc.findings)} names of this tenant are unknown to the bundled "
                f"rules ({shown})"
            )
        exc.findings = (
            Finding(
                first.severity,
                message,
                location=first.location,
                path=first.path,
                source_line=first.source_line,
                hint="no --rules was given, so the bundled rules were used: is --rules missing?",
                code=first.code,
                related=first.related,
            ),
        )
        raise


def add_call_options(parser: Any, *, calls_metavar: str, calls_help: str) -> None:
    """The options every call-deciding command shares: tenant, calls, rules, rates."""
    parser.add_argument("--tenant", required=True, metavar="T.yaml")
    parser.add_argument("--calls", required=True, metavar=calls_metavar, help=calls_help)
    parser.add_argument("--rules", metavar="DIR", help=RULES_HELP)
    parser.add_argument(
        "--rates",
        metavar="R.csv",
        help="rate card (default: rates.csv beside the rules, else the bundled card)",
    )


SESSION_QUOTA = 300  # seconds per session grant when neither flag nor environment says


def env_seconds(name: str, default: int | None) -> int | None:
    """A whole number of seconds from the environment variable ``name`` (unset or empty:
    ``default``); anything else is a usage error naming the variable."""
    text = os.environ.get(name)
    if not text:
        return default
    if not text.strip().isdigit():
        raise UsageError(f"${name} must be a whole number of seconds, not '{text}'")
    return int(text)


def add_session_options(parser: Any) -> None:
    """``--quota`` and ``--grace`` for session grants (``ledger begin…`` and ``serve``)."""
    parser.add_argument(
        "--quota",
        type=int,
        metavar="SECONDS",
        default=env_seconds("CCPOLICY_SESSION_QUOTA", SESSION_QUOTA),
        help=f"seconds per session grant (default: $CCPOLICY_SESSION_QUOTA, else {SESSION_QUOTA})",
    )
    parser.add_argument(
        "--grace",
        type=int,
        metavar="SECONDS",
        default=env_seconds("CCPOLICY_SESSION_GRACE", None),
        help="an unreported session is settled this long after its grant ran out "
        "(default: $CCPOLICY_SESSION_GRACE, else the quota)",
    )
