"""``ccpolicy ledger``: the persistent credits ledger (init, fund, balance, authorize, charge,
history, pools, notify, recover) on SQLite or PostgreSQL, and its online-charging sessions
(begin, update, end, sessions, expire)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from policy.commands.common import (
    CALLS_HELP,
    RULES_HELP,
    add_session_options,
    bind_tenant,
    load_chosen,
)
from policy.support.errors import (
    EXIT_BAD_INPUT,
    EXIT_OK,
    MissingExtraError,
    UsageError,
)

if TYPE_CHECKING:
    from policy.ledger import Grant, Ledger
    from policy.ledger.delivery import Channel

NAME = "ledger"
DEFAULT_DB = "sqlite:///ccpolicy.db"
_EXITS = "Exit 0 done, 1 bad input or refused, 2 usage, 3 the 'ledger' extra is missing."
ACTIONS = (
    "init",
    "fund",
    "balance",
    "authorize",
    "charge",
    "history",
    "pools",
    "notify",
    "recover",
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
        "notifications in a database (SQLite by default, PostgreSQL for many nodes). " + _EXITS,
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
    common.add_argument("--rules", metavar="DIR", help=RULES_HELP)
    common.add_argument("--rates", metavar="R.csv", help="rate card (default: the rules' card)")
    common.add_argument("--format", choices=("json", "text"), default="json")
    common.add_argument(
        "--payment-timeout",
        type=float,
        metavar="SECONDS",
        default=float(os.environ.get("CCPOLICY_PAYMENT_TIMEOUT", "30")),
        help="how long the payment provider may take to answer; no answer leaves the "
        "purchase pending for `ledger recover` (default: $CCPOLICY_PAYMENT_TIMEOUT, else 30)",
    )
    actions = led.add_subparsers(dest="action", metavar="ACTION", required=True)
    init = actions.add_parser(
        "init",
        parents=[common],
        help="create/migrate the ledger and add the tenant",
        description="Create the ledger's tables (or migrate them to this version) and add "
        "the tenant with its balance and pool usage. Running it again changes nothing. " + _EXITS,
    )
    init.add_argument("--allow-foreign-billing", metavar="REASON", help="record an override")
    init.add_argument("--month", metavar="YYYY-MM", help="month of the tenant's usage")
    fund = actions.add_parser(
        "fund",
        parents=[common],
        help="one-time purchase of credits",
        description="Buy AMOUNT of credits through the payment provider: a lot that "
        "expires 12 months later. Refused (nothing written) for a non-positive amount or a "
        "tenant without credits. " + _EXITS,
    )
    fund.add_argument("amount", metavar="AMOUNT", help="e.g. 50.00")
    fund.add_argument("--id", metavar="PURCHASE_ID", help="makes a retried purchase safe")
    fund.add_argument("--allow-foreign-billing", metavar="REASON", help="record an override")
    actions.add_parser(
        "balance",
        parents=[common],
        help="balance and open lots",
        description="The credits balance and the open funding lots (remaining, expiry). " + _EXITS,
    )
    for name, text, what in (
        (
            "authorize",
            "how long may each call last",
            "Decide each call before it starts (no duration) against the ledger's live "
            "state and print its max_duration; nothing is charged.",
        ),
        (
            "charge",
            "charge calls",
            "Charge each finished call (with duration) once: pools, balance, recharges and "
            "notifications are written in one transaction per call; a call id charged "
            "before returns its first decision and changes nothing. Every call is checked "
            "before any is charged.",
        ),
    ):
        sub = actions.add_parser(name, parents=[common], help=text, description=what + " " + _EXITS)
        sub.add_argument("--calls", required=True, metavar="CALLS", help=CALLS_HELP)
    session = argparse.ArgumentParser(add_help=False, parents=[common])
    add_session_options(session)
    begin = actions.add_parser(
        "begin", parents=[session], help="open a session per call (no duration): a grant each"
    )
    begin.add_argument("--calls", required=True, metavar="CALLS", help=CALLS_HELP)
    for name, text in (
        ("update", "report seconds used so far: a further grant"),
        ("end", "the call ended: release the hold and charge it"),
    ):
        sub = actions.add_parser(name, parents=[session], help=text)
        sub.add_argument("call_id", metavar="CALL_ID", help="the session id (the call id)")
        sub.add_argument("used", metavar="USED", help="seconds since answer (whole, ≥ 0)")
    actions.add_parser("sessions", parents=[session], help="open sessions and what they hold")
    actions.add_parser("expire", parents=[session], help="settle sessions the switch abandoned")
    hist = actions.add_parser(
        "history",
        parents=[common],
        help="balance changes and causes",
        description="Every change of the balance (funding, recharge, charge, expiry) with "
        "its cause, oldest first. " + _EXITS,
    )
    hist.add_argument("--limit", type=int, metavar="N", help="the last N only")
    pools = actions.add_parser(
        "pools",
        parents=[common],
        help="pool sizes and usage",
        description="The tenant's minute pools for a month: size, minutes used and left. " + _EXITS,
    )
    pools.add_argument("--month", metavar="YYYY-MM", help="default: the current month")
    recover = actions.add_parser(
        "recover",
        parents=[common],
        help="resolve pending purchases by asking the provider again",
        description="Resolve the purchases a crash (or a provider that did not answer in "
        "time) left pending between the payment provider's answer and the ledger's commit: "
        "ask the provider again with the same idempotency key and credit what it took, "
        "once. " + _EXITS,
    )
    recover.add_argument(
        "--older-than",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="only purchases pending at least this long (default 0: all)",
    )
    notify = actions.add_parser(
        "notify",
        parents=[common],
        help="deliver pending events",
        description="Deliver the pending notifications (e-mail to the roles' holders, "
        "webhooks), retrying failed ones later; --dead lists those given up on, --revive "
        "re-queues them. Exit 0 delivered (or nothing to do), "
        "1 a delivery failed or bad input, 2 usage, 3 the 'ledger' extra is missing.",
    )
    for choice in actions._choices_actions:  # every action's --help says what it does
        parser = actions.choices[choice.dest]
        if not parser.description:
            parser.description = f"{str(choice.help)[:1].upper()}{str(choice.help)[1:]}. {_EXITS}"
    notify.add_argument("--dry-run", action="store_true", help="list, send nothing")
    notify.add_argument(
        "--dead",
        action="store_true",
        help="list the deliveries given up on (after the last retry), send nothing",
    )
    notify.add_argument(
        "--revive",
        action="store_true",
        help="re-queue the dead deliveries (due now, attempts counted from 0)",
    )
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

    tenant = Tenant.from_file(args.tenant)
    engine = load_chosen(args.rules, rates=args.rates)
    bind_tenant(engine, tenant, args.rules)
    try:
        from policy.ledger import Ledger
    except ImportError as exc:
        raise MissingExtraError("the ledger", "ledger", exc.name or "SQLAlchemy") from None

    if not args.payment_timeout > 0:
        raise UsageError(f"--payment-timeout must be positive, not {args.payment_timeout}")
    settings: dict[str, Any] = {"payment_timeout": args.payment_timeout}
    if args.action in SESSION_ACTIONS:
        settings.update(quota=args.quota, grace=args.grace)
    with Ledger(args.db, engine=engine, tenant=tenant, **settings) as ledger:
        action = args.action
        if action == "init":
            return _init(ledger, args)
        if action == "fund":
            report = ledger.fund(
                args.amount, purchase_id=args.id, allow_foreign_billing=args.allow_foreign_billing
            )
            record = report.to_dict()
            _emit(args, record, _balance_text(record))
            return EXIT_OK
        if action == "balance":
            record = ledger.balance().to_dict()
            _emit(args, record, _balance_text(record))
            _warn_dead(record["dead_deliveries"])
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
        if action == "recover":
            resolved = ledger.recover(older_than=args.older_than)
            _lines(args, resolved, _recovered_text)
            if args.format == "text" and not resolved:
                sys.stdout.write("no pending purchases\n")
            return EXIT_OK
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
    from policy.data.call import Call
    from policy.ledger import LedgerError
    from policy.rating.cdr import open_calls

    tenant = ledger.tenant
    assert tenant is not None

    def check(call: Call) -> None:  # every call checked before anything is charged
        ledger.engine.check_call(call, tenant)
        if args.action == "charge" and call.duration is None:
            raise LedgerError(
                f"call '{call.id}' has no duration: only finished calls are charged",
                location=call.where,
                path=call.field_path("duration"),
            )

    with open_calls(args.calls) as source:
        return _submit(ledger, args, source.checked(check))


def _submit(ledger: Ledger, args: argparse.Namespace, calls: Iterable[Any]) -> int:
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
    from policy.data.call import Call
    from policy.rating.cdr import open_calls

    tenant = ledger.tenant
    assert tenant is not None

    def check(call: Call) -> None:  # every call checked before any session is opened
        ledger.engine.check_call(call, tenant)
        if call.duration is not None:
            raise LedgerError(
                f"call '{call.id}' has a duration: a session begins before the call connects",
                location=call.where,
                path=call.field_path("duration"),
                code="bad-session",
            )

    with open_calls(args.calls) as source:
        for call in source.checked(check):
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

    if args.dead:
        _lines(args, ledger.dead_letters(), _dead_text)
        return EXIT_OK
    if args.revive:
        revived = ledger.revive()
        _emit(args, {"revived": revived}, f"{revived} dead deliveries re-queued")
        return EXIT_OK

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
            from policy.ledger.delivery import safe_url

            raise UsageError(f"--webhook wants an http(s) URL, not '{safe_url(url)}'")
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
    if not args.dry_run:
        _warn_dead(len(ledger.dead_letters()))
    return EXIT_BAD_INPUT if report.failed else EXIT_OK


def _warn_dead(count: int) -> None:
    if count:
        sys.stderr.write(
            f"warning: {count} notification deliveries are dead (every retry failed); list "
            "them with `ccpolicy ledger notify --dead`, re-queue with `--revive`\n"
        )


def _dead_text(row: dict[str, Any]) -> str:
    return (
        f"dead: {row['event']} (call {row['call']}) → {row['channel']} {row['recipient']} "
        f"after {row['attempts']} attempts: {row['error']}"
    )


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


def _same_places(record: dict[str, Any]) -> None:
    """Lot amounts with the balance's decimal places (a purchase of ``25`` shows ``25.00``)."""
    balance = record.get("balance")
    if balance is None:
        return
    places = len(balance.partition(".")[2])
    exponent = Decimal(1).scaleb(-places)
    for lot in record.get("lots", ()):
        for key in ("amount", "remaining"):
            value = Decimal(lot[key])
            if value == value.quantize(exponent):
                lot[key] = str(value.quantize(exponent))


def _balance_text(record: dict[str, Any]) -> str:
    _same_places(record)
    if record["balance"] is None:
        return f"{record['tenant']}: credits not set up"
    lines = [f"{record['tenant']}: balance {record['balance']} {record['currency']}"]
    if record["recharge_failing"]:
        lines[0] += " (auto-recharge failing)"
    if record.get("dead_deliveries"):
        lines[0] += f" ({record['dead_deliveries']} dead deliveries)"
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


def _recovered_text(row: dict[str, Any]) -> str:
    why = f" ({row['reason']})" if row["reason"] else ""
    return f"{row['kind']} {row['ref']}: {row['amount']} {row['status']}{why}"


def _pool_text(row: dict[str, Any]) -> str:
    return (
        f"{row['month']} {row['pool']}: {row['used']} of {row['size']} min used, {row['left']} left"
    )
