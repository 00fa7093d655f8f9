"""Bad input that used to end in a traceback: a lone surrogate in JSON text, a number too
long to convert in a policy, a data file too large to parse. Each is a located error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import policy.data.documents
from policy.cli import main
from policy.data.documents import MAX_DOCUMENT_BYTES, load_document, parse_document
from policy.language.parser import MAX_NUMBER, parse
from policy.support.errors import InputError, PolicySyntaxError
from policy.support.resources import rules_dir

CALL = {
    "id": "PLACEHOLDER",
    "direction": "outbound",
    "context": "user",
    "user": "alice@contoso.com",
    "to": "+442071838750",
    "start": "2026-11-02T09:00:00-05:00",
    "duration": 60,
}
TENANT = Path(__file__).parent.parent / "examples" / "tenant.yaml"


def call_text(call_id: str) -> str:
    return json.dumps(CALL).replace("PLACEHOLDER", call_id)


@pytest.mark.parametrize(
    ("name", "text", "where"),
    [
        (
            "calls.json",
            f"[{call_text('ok')},\n {call_text(chr(92) + 'ud800')}]",
            "calls.json:2: [1].id",
        ),
        (
            "calls.jsonl",
            f"{call_text('a')}\n\n{call_text('x' + chr(92) + 'udc00y')}\n",
            "calls.jsonl:3: row 2: id",  # JSON Lines are streamed: located by row
        ),
        ("calls.json", call_text(chr(92) + "uDBFF"), "calls.json:1: id"),
    ],
)
def test_eval_refuses_lone_surrogates_with_a_located_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, text: str, where: str
) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    code = main(["eval", "--tenant", str(TENANT), "--calls", str(path)])
    out, err = capsys.readouterr()
    assert code == 1 and out == ""
    assert f"{where}: text holds a lone UTF-16 surrogate" in err
    assert "Traceback" not in err


def test_surrogate_pairs_and_escaped_backslashes_are_text() -> None:
    pair = parse_document(call_text("\\ud83d\\ude00"), "c.json").data
    assert pair["id"] == "\U0001f600"
    literal = parse_document(call_text("\\\\ud800"), "c.json").data
    assert literal["id"] == "\\ud800"
    with pytest.raises(InputError) as info:
        parse_document('{"a": {"b\\udfff": 1}}', "k.json")
    assert info.value.finding.path == 'a["b\\udfff"]'  # the escape, printable
    info.value.render().encode("utf-8")


def test_a_huge_pool_size_is_a_located_syntax_error() -> None:
    digits = "9" * 5000
    text = f'plan p "P" {{\n    pool domestic: {digits} minutes per user\n}}\n'
    with pytest.raises(PolicySyntaxError) as info:
        parse(text, "big.ccp")
    finding = info.value.finding
    assert finding.location is not None
    assert (finding.location.line, finding.location.column) == (2, 20)
    assert f"is too large (at most {MAX_NUMBER:,})" in finding.message
    assert len(finding.message) < 100  # the number is not echoed in full
    # nine digits still parse; ten are refused, leading zeros do not count
    parse('plan p "P" {\n    pool d: 000999999999 minutes per user\n}\n', "ok.ccp")
    with pytest.raises(PolicySyntaxError):
        parse('plan p "P" {\n    pool d: 1000000000 minutes per user\n}\n', "ten.ccp")


def test_check_of_a_huge_pool_size_exits_1_without_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for source in Path(rules_dir()).glob("*.ccp"):
        (tmp_path / source.name).write_text(source.read_text(encoding="utf-8"), "utf-8")
    (tmp_path / "zz.ccp").write_text(
        f'conferencing pool big "Big": {"1" * 4400} minutes per audio_conferencing licence\n',
        encoding="utf-8",
    )
    code = main(["check", str(tmp_path)])
    out, err = capsys.readouterr()
    assert code == 1
    assert "zz.ccp:1:30: error: number 111111111111… is too large" in out + err
    assert "Traceback" not in out + err


def test_documents_above_the_size_limit_are_refused_before_parsing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert MAX_DOCUMENT_BYTES == 64 * 1024 * 1024  # documented in README
    monkeypatch.setattr(policy.data.documents, "MAX_DOCUMENT_BYTES", 1000)
    big = tmp_path / "calls.yaml"
    big.write_text("- " + "x" * 2000 + "\n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_document(big)
    assert "larger than 1,000 bytes, the limit for a YAML or JSON file" in info.value.message
    code = main(["check", str(big)])
    out, err = capsys.readouterr()
    assert code == 1
    assert f"{big}: error: larger than 1,000 bytes" in out + err
    assert "JSON Lines" in out + err
    # JSON Lines is read line by line: not held to the whole-document limit
    lines = tmp_path / "calls.jsonl"
    lines.write_text((call_text("a") + "\n") * 10, encoding="utf-8")
    assert len(load_document(lines).data) == 10
