"""``ccpolicy rate``: golden usage report, XLSX read back, bad rows, repeats, big files."""

from __future__ import annotations

import csv
import gc
import io
import json
import random
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest

import policy
from policy.cli import main
from policy.data.call import Call, new_call
from policy.rating.batch import SeenIds, rate
from policy.rating.cdr import BadRow, RowError, call_from_fields, read_calls
from policy.rating.usage_report import COLUMNS, HEADER, RowBuilder, format_csv_cells
from policy.support.errors import Location

DATA = Path(__file__).parent / "data" / "rate"
TENANT = DATA / "tenant.yaml"
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _rate(tmp_path: Path, calls: Path, out_name: str, *extra: str) -> tuple[int, Path]:
    out = tmp_path / out_name
    code = main(["rate", "--tenant", str(TENANT), "--calls", str(calls), "--out", str(out), *extra])
    return code, out


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".part"))


def test_csv_matches_the_golden_report_byte_for_byte(tmp_path: Path, capsys) -> None:
    code, out = _rate(tmp_path, DATA / "calls.csv", "usage.csv")
    assert code == 0
    assert out.read_bytes() == (DATA / "expected.csv").read_bytes()
    summary = capsys.readouterr().out
    assert "read 20 rows: rated 20 (14 permitted, 6 refused), rejected 0, repeated ids 1" in summary


def test_header_is_the_documented_usage_report_then_ccpolicy_columns(tmp_path: Path) -> None:
    _, out = _rate(tmp_path, DATA / "calls.csv", "usage.csv")
    with out.open(newline="", encoding="utf-8") as handle:
        header = next(csv.reader(handle))
    assert header[:20] == [
        "UsageId", "Call ID", "Conference ID", "User Location", "AAD ObjectId", "UPN",
        "User Display Name", "Caller ID", "Call Type", "Number Type", "Domestic/International",
        "Destination Dialed", "Destination Number", "Start Time", "End Time",
        "Duration Seconds", "Connection Fee", "Charge", "Currency", "Capability",
    ]  # fmt: skip
    assert header[20:25] == ["permitted", "paid_by", "pool", "denial", "balance_after"]
    assert tuple(header) == HEADER and len(COLUMNS) == 20


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_capabilities_and_call_types(tmp_path: Path) -> None:
    _, out = _rate(tmp_path, DATA / "calls.csv", "usage.csv")
    rows = {r["Call ID"]: r for r in _rows(out)}
    assert rows["c01"]["Capability"] == "FREECALL"  # emergency
    assert rows["c02"]["Capability"] == "MCOPSTN1"  # domestic plan pool
    assert rows["c04"]["Capability"] == "MCOPSTNPP"  # credits
    assert rows["c05"]["Capability"] == "MCOPSTN2"  # domestic + international plan
    assert rows["c09"]["Capability"] == "MCOMEETADD"  # conferencing pool
    assert rows["c10"]["Capability"] == "MCOMEETADD_DIALOUT_US"  # the add-on
    assert rows["c08"]["Capability"] == ""  # refused: used nothing
    assert rows["c07"]["Call Type"] == "ucap_in" and rows["c09"]["Call Type"] == "conf_out"
    assert rows["c15"]["Call Type"] == "user_in"
    assert rows["c04"]["Domestic/International"] == "International"
    assert rows["c01"]["User Display Name"] == "Alice Anders"
    assert rows["c04"]["Start Time"] == "2026-11-02T14:20:00Z"
    assert rows["c04"]["End Time"] == "2026-11-02T14:27:00Z"
    assert rows["c18"]["Duration Seconds"] == "" and rows["c18"]["End Time"] == ""


def test_a_repeated_id_re_emits_the_first_row_and_changes_nothing(tmp_path: Path) -> None:
    _, out = _rate(tmp_path, DATA / "calls.csv", "usage.csv")
    lines = out.read_bytes().split(b"\r\n")
    c04 = [line for line in lines if line.split(b",")[1:2] == [b"c04"]]
    assert len(c04) == 2 and c04[0] == c04[1]
    rows = _rows(out)
    # c19 is charged from the balance c16 left: the repeat debited nothing
    assert rows[-1]["Call ID"] == "c19"
    assert Decimal(rows[-1]["balance_after"]) == Decimal(rows[-4]["balance_after"]) - Decimal(
        rows[-1]["Charge"]
    )


def test_jsonl_output_is_exactly_evals_decisions(tmp_path: Path, capsys) -> None:
    calls = EXAMPLES / "calls.yaml"
    code, out = _rate(tmp_path, calls, "decisions.jsonl")
    assert code == 0
    capsys.readouterr()
    assert main(["eval", "--tenant", str(TENANT), "--calls", str(calls)]) == 0
    assert out.read_text(encoding="utf-8") == capsys.readouterr().out


def test_yaml_jsonl_and_csv_inputs_rate_alike(tmp_path: Path) -> None:
    calls = _rows(DATA / "calls.csv")
    jsonl = tmp_path / "calls.jsonl"
    with jsonl.open("w", encoding="utf-8") as handle:
        for c in calls:
            record = {k: v for k, v in c.items() if v}
            if "duration" in record:
                record["duration"] = int(record["duration"])
            handle.write(json.dumps(record) + "\n")
    _, from_csv = _rate(tmp_path, DATA / "calls.csv", "a.csv")
    _, from_jsonl = _rate(tmp_path, jsonl, "b.csv")
    assert from_csv.read_bytes() == from_jsonl.read_bytes()
    _, from_yaml = _rate(tmp_path, EXAMPLES / "calls.yaml", "c.csv")
    assert _rows(from_yaml) == _rows(from_csv)[:18]  # calls.csv = calls.yaml + 2 rows


def test_xlsx_reads_back_with_types(tmp_path: Path) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    code, out = _rate(tmp_path, DATA / "calls.csv", "usage.xlsx")
    assert code == 0
    book = openpyxl.load_workbook(out)
    assert book.sheetnames == ["Usage", "Summary"]
    sheet = book["Usage"]
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == f"A1:AB{20 + 1}"
    header = [c.value for c in sheet[1]]
    assert tuple(header) == HEADER
    rows = {row[1]: row for row in sheet.iter_rows(min_row=2, values_only=True)}
    c04 = dict(zip(HEADER, rows["c04"], strict=True))
    assert c04["Start Time"] == datetime(2026, 11, 2, 14, 20)
    assert isinstance(c04["Duration Seconds"], int) and c04["Duration Seconds"] == 420
    assert Decimal(str(c04["Charge"])) == Decimal("0.17")
    assert Decimal(str(c04["balance_after"])) == Decimal("49.75")
    assert c04["permitted"] is True and c04["Capability"] == "MCOPSTNPP"
    charge_cell = sheet.cell(row=5, column=HEADER.index("Charge") + 1)
    assert "USD" in charge_cell.number_format
    summary = {row[0]: row[1] for row in book["Summary"].iter_rows(min_row=2, values_only=True)}
    assert summary["Rows read"] == 20 and summary["Repeated call ids"] == 1
    assert Decimal(str(summary["Total charge"])) == Decimal("0.50")


def test_usage_report_csv_is_re_rated(tmp_path: Path) -> None:
    code, out = _rate(tmp_path, DATA / "usage_report.csv", "rerated.csv")
    assert code == 0
    rows = {r["Call ID"]: r for r in _rows(out)}
    assert set(rows) == {"r1", "r2", "r3", "r4", "r5", "r6"}
    assert rows["r1"]["Destination Number"] == "+12125551234"  # the missing + restored
    assert rows["r1"]["Start Time"] == "2026-11-02T14:05:00Z"  # no offset: UTC
    assert rows["r1"]["paid_by"] == "plan"
    assert rows["r2"]["paid_by"] == "credits" and rows["r2"]["Charge"] == "0.17"
    assert rows["r4"]["Call Type"] == "user_in" and rows["r4"]["paid_by"] == "free"
    assert rows["r5"]["Call Type"] == "conf_out" and rows["r5"]["paid_by"] == "conferencing"
    assert rows["r6"]["Call Type"] == "user_out"  # a transfer is an outbound user leg
    assert rows["r3"]["Caller ID"] == ""  # masked caller ids are dropped


def test_bad_row_stops_the_run_and_writes_nothing(tmp_path: Path, capsys) -> None:
    code, out = _rate(tmp_path, DATA / "bad_calls.csv", "usage.csv")
    assert code == 1
    assert not out.exists() and _leftovers(tmp_path) == []
    err = capsys.readouterr().err
    assert "bad_calls.csv:3: row 2: duration: '-5' must be a whole number of seconds" in err
    assert "Traceback" not in err


def test_skip_bad_sends_rows_to_the_rejects_file(tmp_path: Path, capsys) -> None:
    rejects = tmp_path / "rejects.csv"
    code, out = _rate(
        tmp_path,
        DATA / "bad_calls.csv",
        "usage.csv",
        "--skip-bad",
        "--rejects",
        str(rejects),
        "--format",
        "json",
    )
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["read"] == 8 and summary["rejected"] == 5
    assert summary["rated"] == 3 and summary["refused"] == 1  # b6: unknown_user is a denial
    assert summary["read"] == summary["permitted"] + summary["refused"] + summary["rejected"]
    bad = _rows(rejects)
    assert [(r["row"], r["field"]) for r in bad] == [
        ("2", "duration"),
        ("3", "start"),
        ("4", "to"),
        ("5", "to"),
        ("7", "duration"),
    ]
    assert "not a possible phone number" in bad[2]["reason"]
    assert bad[0]["record"].startswith("b2,outbound")
    assert [r["Call ID"] for r in _rows(out)] == ["b1", "b6", "b8"]
    assert _leftovers(tmp_path) == []


def test_interrupted_run_leaves_no_output(tmp_path: Path, engine: policy.Engine) -> None:
    calls = tmp_path / "calls.csv"
    with calls.open("w", encoding="utf-8") as handle:
        handle.write("id,direction,user,to,start,duration\n")
        for i in range(3000):
            handle.write(f"x{i},outbound,alice@contoso.com,+12125551234,2026-11-02T09:00:00Z,60\n")
    tenant = policy.Tenant.from_file(TENANT)

    def interrupt(rows: int, fraction: float | None) -> None:
        raise KeyboardInterrupt

    out = tmp_path / "usage.csv"
    before = gc.get_threshold()
    with pytest.raises(KeyboardInterrupt):
        rate(engine, tenant, calls, out, tick=interrupt)
    assert not out.exists() and _leftovers(tmp_path) == []
    assert gc.get_threshold() == before  # the run's collector setting is undone


def test_a_run_collects_garbage_less_often_and_restores_the_setting(
    tmp_path: Path, engine: policy.Engine
) -> None:
    calls = tmp_path / "calls.csv"
    calls.write_text(
        "id,direction,user,to,start,duration\n"
        "a1,outbound,alice@contoso.com,+12125551234,2026-11-02T09:00:00Z,60\n",
        encoding="utf-8",
    )
    seen: list[tuple[int, int, int]] = []
    before = gc.get_threshold()
    rate(
        engine,
        policy.Tenant.from_file(TENANT),
        calls,
        tmp_path / "usage.csv",
        tick=lambda rows, fraction: seen.append(gc.get_threshold()),
    )
    assert seen and seen[0][0] >= 100_000 > before[0]  # during the run (the final tick)
    assert gc.get_threshold() == before


def test_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["rate", "--tenant", str(TENANT), "--calls", str(DATA / "calls.csv")])
    assert exc.value.code == 2
    code, _ = _rate(tmp_path, DATA / "calls.csv", "usage.txt")
    assert code == 2


def test_seen_ids_finds_every_id_after_growing() -> None:
    seen = SeenIds(capacity=8)
    for i in range(5000):
        seen.add(f"id{i}", i)
    assert len(seen) == 5000
    assert all(i in list(seen.get(f"id{i}")) for i in range(0, 5000, 7))
    assert list(seen.get("absent")) == []


def test_a_generated_100k_file_adds_up(tmp_path: Path, capsys) -> None:
    rng = random.Random(3)
    users = ["alice@contoso.com", "bruno@contoso.com", "chen@contoso.com", "dana@contoso.com"]
    prefixes = ["+1212555", "+1416555", "+4420718", "+3314268", "+4930123"]
    calls = tmp_path / "big.csv"
    n = 100_000
    with calls.open("w", encoding="utf-8") as handle:
        handle.write("id,direction,context,user,to,start,duration\n")
        for i in range(n):
            to = rng.choice(prefixes) + f"{rng.randrange(500):04d}"
            day, sec = divmod(i * 25, 86_400)
            start = f"2026-11-{day + 1:02d}T{sec // 3600:02d}:{sec // 60 % 60:02d}:{sec % 60:02d}Z"
            user = rng.choice(users)
            handle.write(f"g{i},outbound,user,{user},{to},{start},{rng.randrange(0, 900)}\n")
    code, out = _rate(tmp_path, calls, "big_out.csv", "--format", "json")
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["read"] == n and summary["rejected"] == 0 and summary["repeated_ids"] == 0
    assert summary["permitted"] + summary["refused"] == n
    total = Decimal(0)
    count = permitted = 0
    with out.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            count += 1
            total += Decimal(row["Charge"])
            permitted += row["permitted"] == "true"
            if row["permitted"] == "false":
                assert row["Charge"] == "0.00" and row["Capability"] == ""
    assert count == n and permitted == summary["permitted"]
    assert total == Decimal(summary["charge"]["amount"]) and total > 0


# ---------------------------------------------------------------- the fast paths agree


def _tricky_tenant() -> policy.Tenant:
    data = {
        "tenant": 'Fabrikam, "Inc"',
        "country": "US",
        "currency": "USD",
        "credits": {
            "balance": "20.00",
            "funding": "auto_recharge",
            "recharge_below": "5.00",
            "recharge_amount": "50.00",
        },
        "admins": [{"email": "ann@fabrikam.com", "roles": ["billing_admin"]}],
        "users": [
            {
                "upn": "zoe@fabrikam.com",
                "display_name": 'Zoë "Z" Müller, Jr.',
                "object_id": "id,with\ncomma",
                "usage_location": "US",
                "licenses": ["teams_phone", "domestic_calling_plan", "audio_conferencing",
                             "communications_credits"],
            },
            {
                "upn": "li@fabrikam.com",
                "display_name": "李 雷",
                "usage_location": "GB",
                "licenses": ["teams_phone", "pay_as_you_go_calling_plan",
                             "communications_credits"],
            },
        ],
        "service_numbers": [
            {"number": "+18005550100", "type": "toll_free", "used_by": "auto_attendant"}
        ],
    }  # fmt: skip
    return policy.Tenant.from_dict(data)


def _tricky_calls() -> list[Call]:
    def at(text: str) -> datetime:
        return datetime.fromisoformat(text)

    z = "2026-11-02T23:58:30Z"
    return [
        Call("a,1", "outbound", "+12125551234", at(z), "user", "zoe@fabrikam.com", None, 200),
        Call('b"2', "outbound", "+442079460000", at(z), "user", "Zoe@Fabrikam.com", None, 61),
        Call("c\n3", "outbound", "+12125551234", at("2026-11-02T09:00:00.250000-05:00"),
             "user", "li@fabrikam.com", None, 59),
        Call("ü4", "outbound", "911", at(z), "user", "li@fabrikam.com", None, 30),
        Call("e5", "outbound", "+33142680000", at(z), "meeting", "zoe@fabrikam.com", None, 90),
        Call("f6", "inbound", "+18005550100", at(z), "auto_attendant", None, "+12065550100", 45),
        Call("g7", "outbound", "+12125551234", at(z), "call_queue", None, None, 10),
        Call("h8", "outbound", "+12125551234", at(z), "user", "nobody@fabrikam.com", None, 10),
        Call("i9", "outbound", "+442079460000", at("2026-12-31T23:59:59+01:00"), "user",
             "li@fabrikam.com", None, None),
        Call("j10", "inbound", "+12125550199", at(z), "user", "zoe@fabrikam.com",
             "+4930123456", 7200),
        Call("k11", "outbound", "+442079460000", at(z), "user", "li@fabrikam.com", None, 900),
    ]  # fmt: skip


def test_csv_lines_are_exactly_what_the_csv_module_writes(engine: policy.Engine) -> None:
    tenant = _tricky_tenant()
    builder = RowBuilder(engine, tenant)
    state = engine.bind(tenant).initial.copy()
    decided = [(call, engine.decide(call, tenant, state)) for call in _tricky_calls()]
    assert {d.paid_by for _, d in decided} >= {"credits", "plan", "free", "none"}
    for _ in range(2):  # caches cold, then warm
        for call, decision in decided:
            expected = io.StringIO()
            csv.writer(expected).writerow(format_csv_cells(builder.row(call, decision)))
            assert builder.csv_line(call, decision) == expected.getvalue(), call.id


def test_csv_lines_from_the_engines_observation_are_the_same(engine: policy.Engine) -> None:
    # The fast path of ``rate``: numbers as the engine classified them, their report
    # columns cached by the number's class (type, country, direction, region, origin).
    tenant = _tricky_tenant()
    builder = RowBuilder(engine, tenant)
    state = engine.bind(tenant).initial.copy()
    calls = _tricky_calls()
    calls += [c.replace(id=c.id + "-in", direction="inbound") for c in calls]
    calls += [c.replace(id=c.id + "-li", user="li@fabrikam.com") for c in calls]
    decided = [(call, *engine.decide_observed(call, tenant, state)) for call in calls]
    for _ in range(2):  # caches cold, then warm
        for call, decision, seen in decided:
            expected = io.StringIO()
            csv.writer(expected).writerow(format_csv_cells(builder.row(call, decision)))
            assert builder.csv_line(call, decision, seen) == expected.getvalue(), call.id
            assert builder.csv_line(call, decision) == expected.getvalue(), call.id


def test_new_call_builds_the_same_call_as_the_constructor() -> None:
    where = Location("calls.csv", 7)
    for text in ("2026-11-02T09:00:00Z", "2026-11-30T23:30:00-05:00", "2027-01-01T00:10:00+01:00"):
        start = datetime.fromisoformat(text)
        fields = (
            "c1",
            "outbound",
            "+12125551234",
            start,
            "user",
            "a@b.com",
            None,
            60,
            where,
            "row 3",
        )
        made = new_call(*fields)
        assert type(made) is Call
        assert made == Call(*fields) and made.month == Call(*fields).month


class _Colliding(str):
    """A call id whose hash collides with every other one's."""

    def __hash__(self) -> int:
        return 42


@pytest.mark.parametrize("seed", range(5))
def test_seen_ids_agree_with_a_dict_across_growth(seed: int) -> None:
    # SeenIds yields every value stored under the same hash as the id (the caller
    # confirms the id): a dict of id → values, read by hash, is the model.
    rng = random.Random(seed)
    seen = SeenIds(capacity=4)
    model: dict[str, list[int]] = {}
    for value in range(1500):
        key = f"id{rng.randrange(1000)}"
        if rng.random() < 0.01:
            key = _Colliding(key)
        if rng.random() < 0.7:
            seen.add(key, value)
            model.setdefault(key, []).append(value)
        expected = sorted(v for k, vs in model.items() if hash(k) == hash(key) for v in vs)
        assert sorted(seen.get(key)) == expected
    assert len(seen) == sum(len(v) for v in model.values())


def test_repeats_re_emit_non_ascii_rows_exactly_across_write_batches(
    tmp_path: Path, engine: policy.Engine
) -> None:
    tenant = _tricky_tenant()
    calls = tmp_path / "calls.csv"
    with calls.open("w", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["id", "direction", "user", "to", "start", "duration"])
        for i in range(1500):
            call_id = f"ü,{i}" if i % 3 else f'"{i}"'
            if i % 250 == 249:
                call_id = f"ü,{i - 200}"  # repeats an earlier, already flushed row
            user = ("zoe@fabrikam.com", "li@fabrikam.com")[i % 2]
            start = f"2026-11-02T{i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d}Z"
            out.writerow([call_id, "outbound", user, f"+1212555{i:04d}", start, i % 97])
    usage = tmp_path / "usage.csv"
    summary = rate(engine, tenant, calls, usage)
    assert summary.read == 1500 and summary.repeated_ids == 4  # ü,549 and ü,1299 are new
    with usage.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))[1:]
    assert len(rows) == 1500
    first: dict[str, list[str]] = {}
    for row in rows:
        assert first.setdefault(row[1], row) == row  # a repeat is its first row, cell for cell
    assert rows[0][6] == 'Zoë "Z" Müller, Jr.' and rows[1][6] == "李 雷"
    raw = [line for line in usage.read_bytes().split(b"\r\n") if b'"\xc3\xbc,49"' in line]
    assert len(raw) == 2 and raw[0] == raw[1]  # the repeat's bytes are the first row's


def test_fast_and_exact_csv_readers_agree(tmp_path: Path) -> None:
    rows = [
        ["r1", "outbound", "+12125551234", "2026-11-02T09:00:00Z", "a@contoso.com", "60"],
        ["r2", "outbound", "+12125551234", "2026-11-02T09:00:00Z", "a@contoso.com", " 7"],
        ["r3", "outbound", "911", "2026-11-02T09:00:00-05:00", "", "007"],
        ["r4", "outbound", "+12125551234", "2026-11-02T09:00:00.5+00:00", "A@contoso.com", ""],
        ["", "outbound", "+12125551234", "2026-11-02T09:00:00Z", "a@contoso.com", "1"],
        ["r6", "sideways", "+12125551234", "2026-11-02T09:00:00Z", "a@contoso.com", "1"],
        ["r7", "outbound", "12-34", "2026-11-02T09:00:00Z", "a@contoso.com", "1"],
        ["r8", "outbound", "+12125551234", "2026-11-02T09:00:00", "a@contoso.com", "1"],
        ["r9", "outbound", "+12125551234", "2 Nov 2026", "a@contoso.com", "1"],
        ["r10", "outbound", "+12125551234", "2026-11-02T09:00:00Z", "not a upn", "1"],
        ["r11", "outbound", "+12125551234", "2026-11-02T09:00:00Z", "a@contoso.com", "-5"],
        ["r12", "outbound", "+12125551234", "2026-11-02T09:00:00Z", "a@contoso.com", "1.5"],
        ["r13", "outbound", "+12125551234", "2026-11-02T09:00:00Z", "a@contoso.com", "٣"],
        ["r14", "outbound", "", "2026-11-02T09:00:00Z", "a@contoso.com", "1"],
        ["r15", "outbound", "+12125551234", "", "a@contoso.com", "1"],
        ["r16", "outbound", "+１２125551234", "2026-11-02T09:00:00Z", "a@contoso.com", "1"],
        ["r17", "outbound", "+12125551234", "2026-11-02T09:00:00Z"],
    ]
    header = ["id", "direction", "to", "start", "user", "duration"]
    path = tmp_path / "calls.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for row in rows:
            writer.writerow(row)
            writer.writerow([])  # blank lines are skipped, and counted as lines
    stream = read_calls(path)
    got = list(stream)
    source = stream.source
    expected: list[Call | BadRow] = []
    for number, cells in enumerate(rows, 1):
        line = 2 * number
        if len(cells) != len(header):
            expected.append(
                BadRow(number, line, "(row)", "has 4 cells, the header has 6", ",".join(cells))
            )
            continue
        try:
            data = dict(zip(header, cells, strict=True))
            expected.append(call_from_fields(data, where=Location(source, line), row=number))
        except RowError as exc:
            expected.append(BadRow(number, line, exc.field, exc.reason, ",".join(cells)))
    assert got == expected
    assert [type(item).__name__ for item in got[:4]] == ["Call"] * 4
    second, third = got[1], got[2]
    assert isinstance(second, Call) and second.duration == 7
    assert isinstance(third, Call) and third.context == "user"


def test_progress_ticks_report_the_share_of_the_file_read(
    tmp_path: Path, engine: policy.Engine
) -> None:
    calls = tmp_path / "calls.csv"
    with calls.open("w", encoding="utf-8") as handle:
        handle.write("id,direction,user,to,start,duration\n")
        for i in range(5000):
            handle.write(f"x{i},outbound,alice@contoso.com,+12125551234,2026-11-02T09:00:00Z,6\n")
    ticks: list[tuple[int, float | None]] = []
    rate(engine, policy.Tenant.from_file(TENANT), calls, tmp_path / "o.csv",
         tick=lambda n, f: ticks.append((n, f)))  # fmt: skip
    assert [n for n, _ in ticks] == [1024, 2048, 3072, 4096, 5000]
    fractions = [f for _, f in ticks if f is not None]
    assert len(fractions) == len(ticks) and all(0 < f <= 1 for f in fractions)
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
