"""``ccpolicy ledger``: the persistent credits ledger (init, fund, balance, authorize, charge,
history, pools, notify) on SQLite or PostgreSQL, and its online-charging sessions (begin,
update, end, sessions, expire)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import TYPE_CHECKING, Any

from policy.support.errors import EXIT_BAD_INPUT, EXIT_OK, PolicyError, UsageError

if TYPE_CHECKING:
    from policy.ledger import Grant, Ledger
    from policy.ledger.delivery import Channel

NAME = "ledger"
DEFAULT_DB = "sqlite:///ccpolicy.db"
ACTIONS = (
    "init",
    "fund",
    "balance",
    "authorize",
    "charge",
    "history",
    "pools",
    "notify",
    "begin",
    "update",
    "end",
    "sessions",
    "expire",
)


def register(commands: Any) -> None:
    led = commands.add_parser(
        NAME,
        help="the persistent credits ledger",
        description="Keep the credits balance, funding lots, pool usage, charges and "
        "notifications in a database (SQLite by default, PostgreSQL for many nodes). "
        "Exit 0 done, 1 bad input or refused, 2 usage.",
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--db",
        metavar="URL",
        default=os.environ.get("CCPOLICY_DB", DEFAULT_DB),
        help="sqlite:///path or postgresql://user@host:port/db "
        f"(default: $CCPOLICY_DB, else {DEFAULT_DB})",
    )
    common.add_argument("--tenant", required=True, metavar="T.yaml", help="the tenant file")
    common.add_argument("--rules", metavar="DIR", help="policy directory (default: bundled)")
    common.add_argument("--rates", metavar="R.csv", help="rate card (default: the rules' card)")
    common.add_argument("--format", choices=("json", "text"), default="json")
    actions = led.add_subparsers(dest="action", metavar="ACTION", required=True)
    init = actions.add_parser(
        "init", parents=[common], help="create/migrate the ledger and add the tenant"
    )
    init.add_argument("--allow-foreign-billing", metavar="REASON", help="record an override")
    init.add_argument("--month", metavar="YYYY-MM", help="month of the tenant's usage")
    fund = actions.add_parser("fund", parents=[common], help="one-time purchase of credits")
    fund.add_argument("amount", metavar="AMOUNT", help="e.g. 50.00")
    fund.add_argument("--id", metavar="PURCHASE_ID", help="makes a retried purchase safe")
    fund.add_argument("--allow-foreign-billing", metavar="REASON", help="record an override")
    actions.add_parser("balance", parents=[common], help="balance and open lots")
    for name, text in (("authorize", "how long may each call last"), ("charge", "charge calls")):
        sub = actions.add_parser(name, parents=[common], help=text)
        sub.add_argument("--calls", required=True, metavar="C.yaml", help="calls (YAML/JSON/JSONL)")
    session = argparse.ArgumentParser(add_help=False, parents=[common])
    session.add_argument(
        "--quota",
        type=int,
        metavar="SECONDS",
        default=_env_int("CCPOLICY_SESSION_QUOTA", 300),
        help="seconds per grant (default: $CCPOLICY_SESSION_QUOTA, else 300)",
    )
    session.add_argument(
        "--grace",
        type=int,
        metavar="SECONDS",
        default=_env_int("CCPOLICY_SESSION_GRACE", None),
        help="an unreported session is settled this long after its grant ran out "
        "(default: $CCPOLICY_SESSION_GRACE, else the quota)",
    )
    begin = actions.add_parser(
        "begin", parents=[session], help="open a session per call (no duration): a grant each"
    )
    begin.add_argument("--calls", required=True, metavar="C.yaml", help="calls (YAML/JSON/JSONL)")
    for name, text in (
        ("update", "report seconds used so far: a further grant"),
        ("end", "the call ended: release the hold and charge it"),
    ):
        sub = actions.add_parser(name, parents=[session], help=text)
        sub.add_argument("call_id", metavar="CALL_ID", help="the session id (the call id)")
        sub.add_argument("used", metavar="USED", help="seconds since answer (whole, ≥ 0)")
    actions.add_parser("sessions", parents=[session], help="open sessions and what they hold")
    actions.add_parser("expire", parents=[session], help="settle sessions the switch abandoned")
    hist = actions.add_parser("history", parents=[common], help="balance changes and causes")
    hist.add_argument("--limit", type=int, metavar="N", help="the last N only")
    pools = actions.add_parser("pools", parents=[common], help="pool sizes and usage")
    pools.add_argument("--month", metavar="YYYY-MM", help="default: the current month")
    notify = actions.add_parser("notify", parents=[common], help="deliver pending events")
    notify.add_argument("--dry-run", action="store_true", help="list, send nothing")
    notify.add_argument(
        "--smtp",
        metavar="HOST[:PORT]",
        default=os.environ.get("CCPOLICY_SMTP"),
        help="SMTP server (default: $CCPOLICY_SMTP)",
    )
    notify.add_argument(
        "--smtp-from",
        metavar="ADDR",
        default=os.environ.get("CCPOLICY_SMTP_FROM", "ccpolicy@localhost"),
    )
    notify.add_argument("--smtp-starttls", action="store_true")
    notify.add_argument(
        "--webhook",
        metavar="URL",
        action="append",
        default=[u for u in os.environ.get("CCPOLICY_WEBHOOK", "").split() if u],
        help="POST events here (repeatable; default: $CCPOLICY_WEBHOOK)",
    )
    notify.add_argument(
        "--retry-after",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="a failed delivery is due again after this, doubling (default 30)",
    )


def run(args: argparse.Namespace) -> int:
    from policy.data.tenant import Tenant
    from policy.pipeline import load

    tenant = Tenant.from_file(args.tenant)
    engine = load(args.rules, rates=args.rates)
    engine.bind(tenant)
    try:
        from policy.ledger import Ledger
    except ImportError as exc:
        raise PolicyError(
            f"the ledger needs SQLAlchemy and psycopg ({exc.name} is missing)",
            hint="pip install 'ccpolicy[ledger]'",
        ) from None

    settings: dict[str, Any] = {}
    if args.action in SESSION_ACTIONS:
        settings = {"quota": args.quota, "grace": args.grace}
    with Ledger(args.db, engine=engine, tenant=tenant, **settings) as ledger:
        action = args.action
        if action == "init":
            return _init(ledger, args)
        if action == "fund":
            report = ledger.fund(
                args.amount, purchase_id=args.id, allow_foreign_billing=args.allow_foreign_billing
            )
            _emit(args, report.to_dict(), _balance_text(report.to_dict()))
            return EXIT_OK
        if action == "balance":
            record = ledger.balance().to_dict()
            _emit(args, record, _balance_text(record))
            return EXIT_OK
        if action in ("authorize", "charge"):
            return _calls(ledger, args)
        if action == "history":
            rows = ledger.history(args.limit)
            _lines(args, rows, _history_text)
            return EXIT_OK
        if action == "pools":
            rows = ledger.pools(args.month)
            _lines(args, rows, _pool_text)
            return EXIT_OK
        if action == "notify":
            return _notify(ledger, args)
        if action in SESSION_ACTIONS:
            return _sessions(ledger, args)
    raise UsageError(f"unknown ledger action '{action}' (one of {', '.join(ACTIONS)})")


def _init(ledger: Ledger, args: argparse.Namespace) -> int:
    record = ledger.init(allow_foreign_billing=args.allow_foreign_billing, month=args.month)
    verb = "added" if record["created"] else "already present"
    migrations = ", ".join(map(str, record["migrations"])) or "none"
    text = (
        f"tenant {record['tenant']} {verb} in {record['database']} "
        f"(schema version {record['schema_version']}; migrations applied: {migrations})"
    )
    _emit(args, record, text)
    return EXIT_OK


def _calls(ledger: Ledger, args: argparse.Namespace) -> int:
    from policy.data.call import calls_from_document
    from policy.data.documents import load_document
    from policy.ledger import LedgerError

    document = load_document(args.calls, schema="calls")
    calls = list(calls_from_document(document))
    tenant = ledger.tenant
    assert tenant is not None
    for call in calls:  # every call checked before anything is charged
        ledger.engine.check_call(call, tenant)
        if args.action == "charge" and call.duration is None:
            raise LedgerError(
                f"call '{call.id}' has no duration: only finished calls are charged",
                location=call.where,
                path=call.field_path("duration"),
            )
    out = sys.stdout
    for call in calls:
        if args.action == "authorize":
            decision, replayed = ledger.authorize(call), False
        else:
            decision, replayed = ledger.submit(call)
        if args.format == "text":
            line = decision.to_text()
            if replayed:
                line = line.replace("\n", " (already charged: nothing changed)\n", 1)
            out.write(line + "\n")
        else:
            out.write(json.dumps(decision.to_dict(), ensure_ascii=False) + "\n")
        out.flush()
    return EXIT_OK


SESSION_ACTIONS = ("begin", "update", "end", "sessions", "expire")


def _env_int(name: str, default: int | None) -> int | None:
    text = os.environ.get(name)
    if not text:
        return default
    if not text.strip().isdigit():
        raise UsageError(f"${name} must be a whole number of seconds, not '{text}'")
    return int(text)


def _sessions(ledger: Ledger, args: argparse.Namespace) -> int:
    """begin / update / end / sessions / expire: JSON Lines (grants, decisions, sessions)."""
    from policy.ledger import LedgerError

    out = sys.stdout
    if args.action == "sessions":
        _lines(args, ledger.sessions(), _session_text)
        return EXIT_OK
    if args.action == "expire":
        for decision in ledger.expire():
            _decision_line(args, decision.to_dict(), decision.to_text())
        return EXIT_OK
    if args.action in ("update", "end"):
        text = args.used.strip()
        if not text.isdigit():
            raise LedgerError(
                f"USED must be a whole number of seconds ≥ 0, not '{args.used}'",
                path="used",
                code="bad-session",
            )
        if args.action == "update":
            grant = ledger.update(args.call_id, int(text))
            _decision_line(args, grant.to_dict(), _grant_text(grant))
        else:
            decision = ledger.end(args.call_id, int(text))
            _decision_line(args, decision.to_dict(), decision.to_text())
        return EXIT_OK
    from policy.data.call import calls_from_document
    from policy.data.documents import load_document

    document = load_document(args.calls, schema="calls")
    calls = list(calls_from_document(document))
    tenant = ledger.tenant
    assert tenant is not None
    for call in calls:  # every call checked before any session is opened
        ledger.engine.check_call(call, tenant)
        if call.duration is not None:
            raise LedgerError(
                f"call '{call.id}' has a duration: a session begins before the call connects",
                location=call.where,
                path=call.field_path("duration"),
                code="bad-session",
            )
    for call in calls:
        grant = ledger.begin(call)
        _decision_line(args, grant.to_dict(), _grant_text(grant))
        out.flush()
    return EXIT_OK


def _decision_line(args: argparse.Namespace, record: dict[str, Any], text: str) -> None:
    if args.format == "json":
        sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(text + "\n")


def _grant_text(grant: Grant) -> str:
    g = grant.grant_dict()
    if not grant.permitted:
        return grant.decision.to_text()
    seconds = "unlimited" if g["seconds"] is None else f"{g['seconds']} s"
    final = ", final: end the call when it runs out" if g["final"] else ""
    return f"{grant.decision.to_text()}\n  grant: {seconds} until {g['valid_until']}{final}"


def _session_text(row: dict[str, Any]) -> str:
    granted = "unlimited" if row["granted"] is None else f"{row['granted']} s"
    held = f"{row['held']['amount']} {row['held']['currency']}"
    pool = f" + {row['minutes']} min of {row['pool']}" if row["pool"] else ""
    overdue = " OVERDUE" if row["overdue"] else ""
    return (
        f"{row['call']}: age {row['age']} s, granted {granted}, used {row['used']} s, "
        f"holds {held}{pool}, valid until {row['valid_until']}{overdue}"
    )


def _notify(ledger: Ledger, args: argparse.Namespace) -> int:
    from policy.ledger import LedgerError, RetryPolicy, SmtpChannel, WebhookChannel

    channels: list[Channel] = []
    if args.smtp:
        host, _, port = args.smtp.rpartition(":") if ":" in args.smtp else (args.smtp, "", "25")
        if not port.isdigit() or not host:
            raise UsageError(f"--smtp wants HOST or HOST:PORT, not '{args.smtp}'")
        channels.append(
            SmtpChannel(
                host,
                int(port),
                sender=args.smtp_from,
                starttls=args.smtp_starttls,
                username=os.environ.get("CCPOLICY_SMTP_USER"),
                password=os.environ.get("CCPOLICY_SMTP_PASSWORD"),
            )
        )
    for url in args.webhook:
        if not url.startswith(("http://", "https://")):
            raise UsageError(f"--webhook wants an http(s) URL, not '{url}'")
        channels.append(WebhookChannel(url))
    if not channels:
        if not args.dry_run:
            raise LedgerError(
                "no delivery channel configured",
                hint="give --smtp HOST:PORT and/or --webhook URL "
                "(or set CCPOLICY_SMTP / CCPOLICY_WEBHOOK)",
                code="no-channel",
            )
        channels.append(SmtpChannel("(not configured)"))
    report = ledger.notify(
        channels, dry_run=args.dry_run, retry=RetryPolicy(retry_after=args.retry_after)
    )
    record = report.to_dict()
    if args.format == "json":
        sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
    else:
        for key in ("pending", "sent", "failed"):
            for row in record[key]:
                extra = f" ({row['error']})" if "error" in row else ""
                sys.stdout.write(
                    f"{key}: {row['event']} (call {row['call']}) → {row['channel']} "
                    f"{row['recipient']}{extra}\n"
                )
        summary = (
            f"{len(record['pending'])} would be sent"
            if args.dry_run
            else f"{len(record['sent'])} sent, {len(record['failed'])} failed"
        )
        sys.stdout.write(summary + "\n")
    return EXIT_BAD_INPUT if report.failed else EXIT_OK


def _emit(args: argparse.Namespace, record: dict[str, Any], text: str) -> None:
    if args.format == "json":
        sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(text + "\n")


def _lines(args: argparse.Namespace, rows: list[dict[str, Any]], render: Any) -> None:
    for row in rows:
        if args.format == "json":
            sys.stdout.write(json.dumps(row, ensure_ascii=False) + "\n")
        else:
            sys.stdout.write(render(row) + "\n")


def _balance_text(record: dict[str, Any]) -> str:
    if record["balance"] is None:
        return f"{record['tenant']}: credits not set up"
    lines = [f"{record['tenant']}: balance {record['balance']} {record['currency']}"]
    if record["recharge_failing"]:
        lines[0] += " (auto-recharge failing)"
    for lot in record["lots"]:
        lines.append(
            f"  lot {lot['id']} {lot['source']}: {lot['remaining']} of {lot['amount']}, "
            f"expires {lot['expires_at'][:10]}"
        )
    return "\n".join(lines)


def _history_text(row: dict[str, Any]) -> str:
    cause = f" call {row['call']}" if row["call"] else ""
    note = f" — {row['note']}" if row["note"] else ""
    when, kind, amount = row["at"][:19], row["kind"], row["amount"]
    return f"{when} {kind:<9} {amount:>10} → {row['balance_after']}{cause}{note}"


def _pool_text(row: dict[str, Any]) -> str:
    return (
        f"{row['month']} {row['pool']}: {row['used']} of {row['size']} min used, {row['left']} left"
    )
