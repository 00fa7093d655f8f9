"""policy.data.documents: safe YAML/JSON/JSON Lines loading, line numbers, schema findings."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from policy.data import documents, validation
from policy.data.documents import (
    Document,
    load_document,
    load_schema,
    parse_document,
    render_path,
    schema_names,
    validate,
)
from policy.support import files
from policy.support.errors import InputError, PolicyError, SchemaError
from policy.support.resources import rules_dir, schemas_dir

TENANT = """\
tenant: contoso
country: US                 # organisation's geography (ISO 3166-1 alpha-2)
billing_country: US
currency: USD
credits:                    # absent: Communications Credits not set up
  balance: "50.00"          # decimal string
  funding: auto_recharge    # one_time | auto_recharge
  recharge_below: "10.00"   # auto_recharge: trigger
  recharge_amount: "50.00"  # auto_recharge: amount bought
  payment: ok               # ok | expired_card | declined: outcome of recharge attempts
admins:
  - {email: ann@contoso.com, roles: [billing_admin, teams_admin]}
users:
  - upn: alice@contoso.com
    usage_location: US
    licenses: [teams_phone, domestic_calling_plan, audio_conferencing, communications_credits]
service_numbers:
  - {number: "+18005550100", type: toll_free, used_by: auto_attendant}
usage:                      # minutes already used this month, by pool
  "domestic_calling_plan:US:domestic": 2990
"""

CALL = {
    "id": "c1",
    "direction": "outbound",
    "context": "user",
    "user": "alice@contoso.com",
    "from": "+14255550123",
    "to": "+442071234567",
    "start": "2026-11-02T09:00:00-05:00",
    "duration": 120,
}


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def schema_error(path: Path, schema: str) -> SchemaError:
    with pytest.raises(SchemaError) as info:
        load_document(path, schema=schema)
    return info.value


def only(error: SchemaError, field: str) -> str:
    """The single headline of ``error``'s findings about ``field``."""
    lines = [f.headline() for f in error.findings if f.path == field]
    assert len(lines) == 1, [f.headline() for f in error.findings]
    return lines[0]


# ------------------------------------------------------------------ files that cannot be read


def test_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(InputError) as info:
        load_document(missing)
    assert str(info.value) == f"{missing}: error: file not found"


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        load_document(tmp_path)
    assert str(info.value) == f"{tmp_path}: error: is a directory, not a file"


def test_unreadable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "t.yaml", "a: 1\n")

    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(files, "open", refuse, raising=False)
    with pytest.raises(InputError) as info:
        load_document(path)
    assert info.value.message == "cannot read file: permission denied"
    assert info.value.finding.location is not None
    assert info.value.finding.location.file == str(path)


def test_binary_file_names_the_nul_byte(tmp_path: Path) -> None:
    path = write(tmp_path, "t.yaml", b"a: 1\nb: x\x00y\n")
    with pytest.raises(InputError) as info:
        load_document(path)
    assert (
        str(info.value)
        == f"{path}:2:5: error: binary file (contains a NUL byte); expected UTF-8 text"
    )


def test_invalid_utf8(tmp_path: Path) -> None:
    path = write(tmp_path, "t.yaml", b"a: 1\nname: caf\xe9 ok\n")
    with pytest.raises(InputError) as info:
        load_document(path)
    assert str(info.value) == f"{path}:2:10: error: not valid UTF-8 text (byte 0xe9)"


def test_utf16_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, "t.yaml", "a: 1\n".encode("utf-16"))
    with pytest.raises(InputError, match="UTF-16"):
        load_document(path)


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    assert load_document(write(tmp_path, "t.json", b'\xef\xbb\xbf{"a": 1}')).data == {"a": 1}
    assert load_document(write(tmp_path, "t.yaml", b"\xef\xbb\xbfa: 1\n")).data == {"a": 1}


@pytest.mark.parametrize("name", ["t.yaml", "t.json"])
@pytest.mark.parametrize("text", ["", "  \n\n\t\n"])
def test_empty_file(tmp_path: Path, name: str, text: str) -> None:
    path = write(tmp_path, name, text)
    with pytest.raises(InputError) as info:
        load_document(path, schema="tenant")
    assert str(info.value) == f"{path}: error: file is empty"


def test_yaml_with_only_comments_is_empty(tmp_path: Path) -> None:
    path = write(tmp_path, "t.yaml", "# nothing here\n# at all\n")
    with pytest.raises(InputError, match=r"file is empty \(no YAML document\)"):
        load_document(path)


def test_empty_json_lines_is_an_empty_list(tmp_path: Path) -> None:
    document = load_document(write(tmp_path, "c.jsonl", "\n\n"), schema="calls")
    assert document.data == []


# ------------------------------------------------------------------ malformed syntax


def test_malformed_yaml_names_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, "t.yaml", "tenant: contoso\nusers:\n  - upn: a@b.c\n   bad: [1, 2\n")
    with pytest.raises(InputError) as info:
        load_document(path)
    text = str(info.value)
    assert text.startswith(f"{path}:4:"), text
    assert "invalid YAML" in text
    assert info.value.finding.location is not None
    assert info.value.finding.location.column > 0


def test_yaml_tab_indentation(tmp_path: Path) -> None:
    path = write(tmp_path, "t.yaml", "a:\n\tb: 1\n")
    with pytest.raises(InputError) as info:
        load_document(path)
    assert str(info.value) == (
        f"{path}:2:1: error: invalid YAML: found character '\\t' that cannot start any token "
        "(indent YAML with spaces, not tabs)"
    )


def test_several_yaml_documents(tmp_path: Path) -> None:
    path = write(tmp_path, "t.yaml", "a: 1\n---\nb: 2\n")
    with pytest.raises(InputError) as info:
        load_document(path)
    assert str(info.value) == (
        f"{path}:2:1: error: invalid YAML: more than one document ('---') in the file; expected one"
    )


def test_yaml_control_character(tmp_path: Path) -> None:
    path = write(tmp_path, "t.yaml", "a: 1\nb: x\x07\n")
    with pytest.raises(InputError) as info:
        load_document(path)
    assert str(info.value).startswith(f"{path}:2:5: error: invalid YAML: character #x0007")


def test_malformed_json_names_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, "c.json", '[\n  {"id": "a"},\n  {"id": "b" "to": "1"}\n]\n')
    with pytest.raises(InputError) as info:
        load_document(path)
    assert str(info.value) == f"{path}:3:14: error: invalid JSON: Expecting ',' delimiter"


def test_json_extra_data_suggests_json_lines(tmp_path: Path) -> None:
    path = write(tmp_path, "c.json", '{"id": "a"}\n{"id": "b"}\n')
    with pytest.raises(InputError, match=r"^.*c\.json:2:1: .*name the file \.jsonl"):
        load_document(path)


def test_json_nan_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "c.json", '{\n  "name": "NaN",\n  "x": NaN\n}')
    with pytest.raises(InputError) as info:
        load_document(path)
    assert str(info.value) == f"{path}:3:8: error: invalid JSON: NaN is not a number JSON allows"


def test_malformed_json_lines_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "c.jsonl", '{"id": "a"}\n\n{"id": "b",}\n')
    with pytest.raises(InputError) as info:
        load_document(path)
    assert str(info.value).startswith(f"{path}:3:12: error: invalid JSON:")


def test_deep_yaml_nesting_refused() -> None:
    with pytest.raises(InputError, match="nested too deeply"):
        parse_document("a:\n" + "".join("  " * i + "- \n" for i in range(1, 150)), "t.yaml")
    with pytest.raises(InputError, match="invalid YAML"):
        parse_document("[" * 5000 + "]" * 5000 + "\nx: {", "t.yaml")


def test_deep_json_nesting_refused() -> None:
    with pytest.raises(InputError, match="nested too deeply"):
        parse_document("[" * 200_000 + "]" * 200_000, "t.json")


def test_unsupported_yaml_tags() -> None:
    with pytest.raises(InputError) as info:
        parse_document("a: 1\nb: !!python/object:os.system {}\n", "t.yaml")
    assert str(info.value) == "t.yaml:2:4: error: unsupported YAML tag '!!python/object:os.system'"
    with pytest.raises(InputError, match="unsupported YAML tag '!!binary'"):
        parse_document("a: !!binary aGVsbG8=\n", "t.yaml")
    with pytest.raises(InputError, match=r"t\.yaml:1:4: error: invalid !!int value 'abc'"):
        parse_document("a: !!int abc\n", "t.yaml")


# ------------------------------------------------------------------ duplicate keys


def test_duplicate_yaml_key(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "t.yaml",
        "tenant: contoso\nusers:\n  - upn: a@b.c\n    licenses: []\n    upn: x@b.c\n",
    )
    with pytest.raises(SchemaError) as info:
        load_document(path)
    assert (
        str(info.value) == f"{path}:5: users[0].upn: duplicate key 'upn' (first written at line 3)"
    )


def test_duplicate_json_key(tmp_path: Path) -> None:
    path = write(tmp_path, "t.json", '{\n  "a": {\n    "b": 1,\n    "c": 2,\n    "b": 3\n  }\n}\n')
    with pytest.raises(SchemaError) as info:
        load_document(path)
    assert str(info.value) == f"{path}:5: a.b: duplicate key 'b' (first written at line 3)"


def test_duplicate_json_lines_key(tmp_path: Path) -> None:
    path = write(tmp_path, "c.jsonl", '{"id": "a"}\n{"id": "b", "to": "1", "id": "c"}\n')
    with pytest.raises(SchemaError) as info:
        load_document(path)
    assert str(info.value) == f"{path}:2: [1].id: duplicate key 'id' (first written at line 2)"


def test_duplicate_keys_in_json_shaped_yaml(tmp_path: Path) -> None:
    path = write(tmp_path, "t.yaml", '{"a": 1,\n "a": 2}\n')
    with pytest.raises(SchemaError, match=r":2: a: duplicate key 'a' \(first written at line 1\)"):
        load_document(path)


# ------------------------------------------------------------------ aliases


def test_billion_laughs_refused(tmp_path: Path) -> None:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, 10):
        refs = ", ".join([f"*a{level - 1}"] * 9)
        lines.append(f"a{level}: &a{level} [{refs}]")
    path = write(tmp_path, "bomb.yaml", "\n".join(lines) + "\n")
    started = time.perf_counter()
    with pytest.raises(InputError) as info:
        load_document(path)
    assert time.perf_counter() - started < 5
    assert "YAML aliases expand too far" in info.value.message
    assert info.value.finding.location is not None
    assert info.value.finding.location.file == str(path)


def test_simple_aliases_and_merge_keys() -> None:
    text = (
        "defaults: &std\n"
        "  usage_location: US\n"
        "  licenses: &lic [teams_phone]\n"
        "users:\n"
        "  - upn: a@b.c\n"
        "    <<: *std\n"
        "  - <<: *std\n"
        "    upn: b@b.c\n"
        "    usage_location: CA\n"
        "  - {upn: c@b.c, licenses: *lic}\n"
    )
    document = parse_document(text, "t.yaml")
    users = document.data["users"]
    assert users[0] == {"upn": "a@b.c", "usage_location": "US", "licenses": ["teams_phone"]}
    assert users[1] == {"upn": "b@b.c", "usage_location": "CA", "licenses": ["teams_phone"]}
    assert users[2]["licenses"] == ["teams_phone"]
    users[2]["licenses"].append("x")  # aliases are copies, not shared objects
    assert users[0]["licenses"] == ["teams_phone"]
    assert document.line_of(("users", 0, "usage_location")) == 2  # written in the anchor
    assert document.line_of(("users", 1, "usage_location")) == 9


def test_alias_budget_counts_only_repeated_nodes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(documents, "MAX_ALIAS_EXPANSION", 1000)
    plain = "".join(f"- [{i}, {i}]\n" for i in range(1000))  # 3000 nodes, no aliases
    assert len(parse_document(plain, "big.yaml").data) == 1000
    items = ", ".join(str(i) for i in range(99))
    fits = f"a: &a [{items}]\nb: [{', '.join(['*a'] * 10)}]\n"  # 10 x 100 repeated = 1000
    assert len(parse_document(fits, "ok.yaml").data["b"]) == 10
    with pytest.raises(InputError, match=r"^ok\.yaml:2: error: YAML aliases expand too far"):
        parse_document(fits.replace("*a]", "*a, *a]"), "ok.yaml")


def test_recursive_alias_refused() -> None:
    with pytest.raises(InputError, match="recursive YAML alias"):
        parse_document("a: &a [1, *a]\n", "t.yaml")
    with pytest.raises(InputError, match="recursive YAML alias"):
        parse_document("a: &a {b: 1, <<: *a}\n", "t.yaml")


# ------------------------------------------------------------------ scalars


def test_yaml_scalars_are_plain_and_timestamps_stay_strings() -> None:
    text = (
        "start: 2026-11-02T09:00:00-05:00\n"
        "day: 2026-11-02\n"
        "n: 42\n"
        "x: 1.5\n"
        "yes_: yes\n"
        "none: ~\n"
        "quoted: '007'\n"
        "on: 1\n"
    )
    data = parse_document(text, "t.yaml").data
    assert data == {
        "start": "2026-11-02T09:00:00-05:00",
        "day": "2026-11-02",
        "n": 42,
        "x": 1.5,
        "yes_": True,
        "none": None,
        "quoted": "007",
        "on": 1,  # keys are the text written: 'on' is not turned into True
    }
    assert type(data["n"]) is int


def test_json_and_yaml_calls_keep_start_as_string(tmp_path: Path) -> None:
    call = dict(CALL)
    for name, text in [
        ("c.yaml", yaml.safe_dump([call]).replace("'2026-11-02T09:00:00-05:00'", call["start"])),
        ("c.json", json.dumps([call])),
        ("c.jsonl", json.dumps(call) + "\n"),
    ]:
        assert call["start"] in text
        document = load_document(write(tmp_path, name, text), schema="calls")
        assert document.data[0]["start"] == "2026-11-02T09:00:00-05:00", name


# ------------------------------------------------------------------ the tenant schema


def test_spec_example_tenant_is_valid(tmp_path: Path) -> None:
    document = load_document(write(tmp_path, "tenant.yaml", TENANT), schema="tenant")
    assert document.data["credits"]["balance"] == "50.00"
    assert document.data["usage"] == {"domestic_calling_plan:US:domestic": 2990}
    assert document.format == "yaml"


def test_unquoted_balance_is_rejected_with_a_hint(tmp_path: Path) -> None:
    path = write(tmp_path, "tenant.yaml", TENANT.replace('balance: "50.00"', "balance: 50.00"))
    error = schema_error(path, "tenant")
    assert str(error) == (
        f'{path}:6: credits.balance: must be a decimal string such as "50.00" (quote it)'
    )
    assert error.finding.source_line is not None
    assert "balance: 50.00" in error.finding.source_line


def test_money_in_json_must_be_a_string(tmp_path: Path) -> None:
    data = yaml.safe_load(TENANT)
    data["credits"]["recharge_amount"] = 25
    path = write(tmp_path, "tenant.json", json.dumps(data, indent=2))
    error = schema_error(path, "tenant")
    assert only(error, "credits.recharge_amount").endswith(
        'credits.recharge_amount: must be a decimal string such as "25" (quote it)'
    )
    assert error.finding.location is not None
    assert error.finding.location.line == 10


def test_bad_decimal_string(tmp_path: Path) -> None:
    path = write(tmp_path, "tenant.yaml", TENANT.replace('"10.00"', '"10,00"'))
    assert only(schema_error(path, "tenant"), "credits.recharge_below") == (
        f"""{path}:8: credits.recharge_below: must be a decimal string such as "50.00" """
        "(got '10,00')"
    )


def test_typo_gets_did_you_mean(tmp_path: Path) -> None:
    path = write(tmp_path, "tenant.yaml", TENANT.replace("    licenses:", "    licences:"))
    assert only(schema_error(path, "tenant"), "users[0].licences") == (
        f"{path}:16: users[0].licences: unknown field 'licences' (did you mean 'licenses'?)"
    )


def test_unknown_field_without_close_match_lists_fields(tmp_path: Path) -> None:
    path = write(tmp_path, "tenant.yaml", TENANT + "colour: blue\n")
    message = only(schema_error(path, "tenant"), "colour")
    assert message.startswith(f"{path}:21: colour: unknown field 'colour' (expected one of: ")
    assert "billing_country" in message


def test_missing_required_field_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, "tenant.yaml", TENANT.replace("currency: USD\n", ""))
    assert (
        str(schema_error(path, "tenant")) == f"{path}:1: (root): missing required field 'currency'"
    )


def test_auto_recharge_requires_its_amounts(tmp_path: Path) -> None:
    path = write(tmp_path, "tenant.yaml", TENANT.replace('  recharge_below: "10.00"', "  #"))
    assert str(schema_error(path, "tenant")) == (
        f"{path}:5: credits: missing required field 'recharge_below' "
        "(required when funding is 'auto_recharge')"
    )
    one_time = TENANT.replace("auto_recharge    #", "one_time    #").replace(
        '  recharge_below: "10.00"', "  #"
    )
    assert load_document(write(tmp_path, "ok.yaml", one_time), schema="tenant").data


def test_enum_message_and_suggestion(tmp_path: Path) -> None:
    path = write(tmp_path, "tenant.yaml", TENANT.replace("payment: ok", "payment: declind"))
    assert only(schema_error(path, "tenant"), "credits.payment") == (
        f"{path}:10: credits.payment: 'declind' is not one of "
        "['ok', 'expired_card', 'declined'] (did you mean 'declined'?)"
    )


def test_yaml_booleans_and_numbers_where_strings_belong(tmp_path: Path) -> None:
    text = TENANT.replace("usage_location: US", "usage_location: NO").replace(
        '"+18005550100"', "+18005550100"
    )
    error = schema_error(write(tmp_path, "tenant.yaml", text), "tenant")
    assert only(error, "users[0].usage_location").endswith(
        """users[0].usage_location: expected a string, got the boolean NO (quote it: "NO")"""
    )
    assert only(error, "service_numbers[0].number").endswith(
        "service_numbers[0].number: expected a string, got the number +18005550100 "
        """(quote it: "+18005550100")"""
    )


def test_pool_keys_and_minutes(tmp_path: Path) -> None:
    text = TENANT + '  "not a pool": 3\n  "audio_conferencing:zone_a": -1\n'
    path = write(tmp_path, "tenant.yaml", text)
    error = schema_error(path, "tenant")
    assert only(error, 'usage["not a pool"]') == (
        f"""{path}:21: usage["not a pool"]: invalid key 'not a pool': """
        'must be a pool key such as "domestic_calling_plan:US:domestic"'
    )
    assert only(error, 'usage["audio_conferencing:zone_a"]').endswith("must be at least 0 (got -1)")


def test_all_findings_are_collected_and_sorted(tmp_path: Path) -> None:
    text = (
        TENANT.replace("currency: USD", "currency: usd")
        .replace("teams_phone,", "Teams_Phone,")
        .replace("used_by: auto_attendant", "used_by: robot")
    )
    error = schema_error(write(tmp_path, "tenant.yaml", text), "tenant")
    assert [(f.location.line if f.location else 0, f.path) for f in error.findings] == [
        (4, "currency"),
        (16, "users[0].licenses[0]"),
        (18, "service_numbers[0].used_by"),
    ]
    assert all(f.code == "schema" and f.severity == "error" for f in error.findings)
    assert error.finding == error.findings[0]


def test_root_of_the_wrong_kind(tmp_path: Path) -> None:
    path = write(tmp_path, "tenant.yaml", "- a\n- b\n")
    assert str(schema_error(path, "tenant")) == f"{path}:1: (root): expected a mapping, got a list"


# ------------------------------------------------------------------ calls


def test_call_duration_must_be_a_whole_non_negative_number(tmp_path: Path) -> None:
    text = (
        "- {id: a, direction: outbound, to: '911', start: 2026-11-02T09:00:00Z, duration: -5}\n"
        "- {id: b, direction: outbound, to: '911', start: 2026-11-02T09:00:00Z, duration: 1.5}\n"
        "- {id: c, direction: outbound, to: '911', start: 2026-11-02T09:00:00Z, duration: 30}\n"
    )
    path = write(tmp_path, "calls.yaml", text)
    error = schema_error(path, "calls")
    assert [f.headline() for f in error.findings] == [
        f"{path}:1: [0].duration: must be at least 0 (got -5)",
        f"{path}:2: [1].duration: expected an integer, got the number 1.5",
    ]


def test_json_integral_float_is_not_an_integer(tmp_path: Path) -> None:
    path = write(tmp_path, "c.jsonl", json.dumps({**CALL, "duration": 1.0}) + "\n")
    assert str(schema_error(path, "calls")) == (
        f"{path}:1: [0].duration: expected an integer, got the number 1.0"
    )


def test_json_line_numbers(tmp_path: Path) -> None:
    calls = [dict(CALL, id=f"c{i}") for i in range(3)]
    calls[2]["to"] = "555-0100"
    calls[1]["direction"] = "sideways"
    path = write(tmp_path, "calls.json", json.dumps(calls, indent=2))
    lines = path.read_text().splitlines()
    direction = lines.index('    "direction": "sideways",') + 1
    to = lines.index('    "to": "555-0100",') + 1
    assert (direction, to) == (14, 28)
    error = schema_error(path, "calls")
    assert [f.headline() for f in error.findings] == [
        f"{path}:{direction}: [1].direction: 'sideways' is not one of ['outbound', 'inbound']",
        f"{path}:{to}: [2].to: must be an E.164 "
        """number such as "+442071234567" or a short code such as "911" (got '555-0100')""",
    ]
    document = load_document(path)
    assert document.format == "json"
    assert document.line_of((1,)) == 12
    assert document.line_of((1, "id")) == 13
    assert document.line_of((1, "no_such_field", 3)) == 12
    assert document.line_of(()) == 1


def test_json_lines_line_numbers(tmp_path: Path) -> None:
    good = json.dumps(CALL)
    bad = json.dumps({**CALL, "id": "x", "start": "2026-11-02 09:00"})
    path = write(tmp_path, "calls.jsonl", f"{good}\n\n{good}\n  \n{bad}\n")
    error = schema_error(path, "calls")
    assert str(error) == (
        f"{path}:5: [2].start: must be an ISO-8601 date-time with a UTC offset, such as "
        '"2026-11-02T09:00:00-05:00" or "2026-11-02T14:00:00Z" (got \'2026-11-02 09:00\')'
    )
    document = load_document(path)
    assert [document.line_of((i, "to")) for i in range(3)] == [1, 3, 5]
    assert document.source_line(5) == bad


def test_json_lines_number_spelling(tmp_path: Path) -> None:
    path = write(tmp_path, "c.jsonl", '{"id": "a", "duration": 1.50}\n')
    document = load_document(path)
    assert document.scalar_text((0, "duration")) == "1.50"
    assert document.scalar_text((0, "id")) is None


def test_call_fields(tmp_path: Path) -> None:
    call = {**CALL, "context": "fax", "user": "alice", "from": "4255550123", "note": "x"}
    del call["id"]
    path = write(tmp_path, "c.json", json.dumps([call], indent=1))
    error = schema_error(path, "calls")
    messages = {f.path: f.message for f in error.findings}
    assert messages == {
        "[0]": "missing required field 'id'",
        "[0].context": "'fax' is not one of ['user', 'meeting', 'auto_attendant', 'call_queue']",
        "[0].user": "must be a user principal name such as alice@contoso.com (got 'alice')",
        "[0].from": """must be an E.164 number such as "+14255550123" (got '4255550123')""",
        "[0].note": "unknown field 'note' (expected one of: id, direction, context, user, from, "
        "to, start, duration)",
    }


def test_short_codes_and_start_formats() -> None:
    ok = [
        {**CALL, "to": "911"},
        {**CALL, "to": "*21#"},
        {**CALL, "start": "2026-11-02T14:00:00Z"},
        {**CALL, "start": "2026-11-02T14:00Z"},
        {**CALL, "start": "2026-11-02T14:00:00.250+05:30"},
    ]
    assert validate(ok, "calls") == []
    bad = [
        {**CALL, "to": "123456789"},
        {**CALL, "start": "2026-11-02T09:00:00"},
        {**CALL, "start": "2026-13-02T09:00:00Z"},
        {**CALL, "start": "2026-11-02"},
    ]
    assert [f.path for f in validate(bad, "calls")] == [
        "[0].to",
        "[1].start",
        "[2].start",
        "[3].start",
    ]


def test_yaml_file_holding_json_uses_the_fast_path(tmp_path: Path) -> None:
    path = write(tmp_path, "calls.yaml", json.dumps([CALL, {**CALL, "duration": -1}], indent=2))
    error = schema_error(path, "calls")
    assert str(error) == f"{path}:20: [1].duration: must be at least 0 (got -1)"
    assert load_document(write(tmp_path, "ok.yaml", json.dumps([CALL]))).format == "json"
    assert parse_document("[a, b]", "flow.yaml").data == ["a", "b"]


def test_ten_thousand_calls_validate_quickly(tmp_path: Path) -> None:
    lines = "".join(json.dumps({**CALL, "id": f"c{i}"}) + "\n" for i in range(10_000))
    path = write(tmp_path, "calls.jsonl", lines)
    started = time.perf_counter()
    document = load_document(path, schema="calls")
    assert time.perf_counter() - started < 1.0
    assert len(document.data) == 10_000
    bad = lines.replace('"id": "c9999"', '"id": ""')
    started = time.perf_counter()
    with pytest.raises(SchemaError) as info:
        load_document(write(tmp_path, "bad.jsonl", bad), schema="calls")
    assert time.perf_counter() - started < 3.0
    assert str(info.value).endswith(":10000: [9999].id: must not be empty")


# ------------------------------------------------------------------ validate() and friends


def test_validate_without_a_document() -> None:
    findings = validate({"id": "x"}, "call", filename="<call>")
    assert findings[0].headline() == "<call>: (root): missing required field 'direction'"
    assert [(f.path, f.message) for f in findings] == [
        ("(root)", "missing required field 'direction'"),
        ("(root)", "missing required field 'start'"),
        ("(root)", "missing required field 'to'"),
    ]
    assert all(f.location is not None and f.location.file == "<call>" for f in findings)


def test_validate_uses_line_of() -> None:
    findings = validate(
        {"id": "x", "direction": "up", "to": "1", "start": "2026-11-02T09:00:00Z"},
        "call",
        filename="c.yaml",
        line_of=lambda path: 40 + len(path),
    )
    assert [f.headline() for f in findings] == [
        "c.yaml:41: direction: 'up' is not one of ['outbound', 'inbound']"
    ]


def test_unknown_schema_name() -> None:
    with pytest.raises(ValueError, match="unknown schema 'tenantt'"):
        validate({}, "tenantt")


def test_decision_schema_accepts_a_decision() -> None:
    decision: dict[str, Any] = {
        "call": "c1",
        "permitted": True,
        "scenario": "credits_call",
        "paid_by": "credits",
        "pool": None,
        "denial": None,
        "reason": "Paid from Communications Credits.",
        "billable_seconds": 120,
        "cost": {"amount": "0.72", "currency": "USD"},
        "max_duration": 4000,
        "balance_after": "49.28",
        "events": [{"type": "recharge_succeeded", "amount": "50.00"}],
        "notify": [{"event": "recharge_succeeded", "roles": ["billing_admin"], "recipients": []}],
        "trace": [{"rule": "credits_call", "file": "rules/teams.ccp", "line": 12, "matched": True}],
    }
    assert validate(decision, "decision") == []
    decision["paid_by"] = "cash"
    decision["cost"] = {"amount": 0.72, "currency": "USD"}
    decision["events"][0]["type"] = "party"
    assert [f.path for f in validate(decision, "decision")] == [
        "cost.amount",
        "events[0].type",
        "paid_by",
    ]


def test_render_path() -> None:
    assert render_path(()) == "(root)"
    assert render_path(("users", 2, "licenses", 0)) == "users[2].licenses[0]"
    assert render_path((3, "to")) == "[3].to"
    assert render_path(("usage", "a:b")) == 'usage["a:b"]'


def test_document_is_immutable_and_finds_nearest_parent() -> None:
    document = parse_document("a:\n  b:\n    - x\n    - y\n", "t.yaml")
    assert isinstance(document, Document)
    assert document.line_of(("a", "b", 1)) == 4
    assert document.line_of(("a", "b", 7, "z")) == 2
    assert document.line_of(("nope",)) == 1
    with pytest.raises(AttributeError):
        document.data = {}  # type: ignore[misc]
    assert document.filename == "t.yaml"


def test_parse_document_accepts_bytes_and_str() -> None:
    assert parse_document(b"a: 1\n", "t.yaml").data == {"a": 1}
    assert parse_document("a: 1\n", "t.yaml").data == {"a": 1}
    with pytest.raises(InputError, match="surrogate"):
        parse_document("a: \ud800\n", "t.yaml")


# ------------------------------------------------------------------ the schema files


def test_resources_locate_the_bundled_folders() -> None:
    assert (schemas_dir() / "tenant.schema.json").is_file()
    assert rules_dir().name == "rules"
    assert {"call", "calls", "decision", "tenant"} <= set(schema_names())


@pytest.mark.parametrize("path", sorted(schemas_dir().glob("*.json")), ids=lambda p: p.name)
def test_schema_file_is_valid_draft_2020_12(path: Path) -> None:
    schema = json.loads(path.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == f"https://ccpolicy.dev/schemas/{path.name}"
    assert schema["title"].strip()
    assert schema["description"].strip()


def _properties(schema: Any, where: str = "") -> list[tuple[str, Any]]:
    found: list[tuple[str, Any]] = []
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key == "properties":
                found += [(f"{where}.{name}", sub) for name, sub in value.items()]
            found += _properties(value, f"{where}/{key}")
    elif isinstance(schema, list):
        for index, value in enumerate(schema):
            found += _properties(value, f"{where}[{index}]")
    return found


@pytest.mark.parametrize("name", ["tenant", "call", "calls", "decision"])
def test_every_property_is_described(name: str) -> None:
    properties = _properties(load_schema(name))
    assert properties or name == "calls"
    missing = [where for where, sub in properties if not sub.get("description")]
    assert missing == []


def test_load_schema_returns_a_copy() -> None:
    load_schema("tenant")["title"] = "changed"
    assert load_schema("tenant.schema.json")["title"] == "ccpolicy tenant"


# ------------------------------------------------------------------ properties


YAML_ALPHABET = st.sampled_from(list("-:[]{},&*!|>'\"#%@`?~.\\\t\n abcxyz0129<=+eE_/"))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    text=st.one_of(st.text(), st.text(alphabet=YAML_ALPHABET, max_size=80)),
    name=st.sampled_from(["x.yaml", "x.json", "x.jsonl", "x"]),
)
def test_arbitrary_text_never_escapes(text: str, name: str) -> None:
    try:
        document = parse_document(text, name)
    except PolicyError as error:
        assert error.findings and error.findings[0].location is not None
    else:
        assert document.line_of(()) >= 1


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=60), schema=st.sampled_from([None, "tenant", "calls"]))
def test_arbitrary_bytes_never_escape(data: bytes, schema: str | None) -> None:
    try:
        parse_document(data, "x.yaml", schema)
    except PolicyError as error:
        assert error.finding.message


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**12), 10**12) | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None)
@given(value=JSON_VALUES)
def test_round_trip_and_lines_in_range(value: Any) -> None:
    for name, text in [("v.yaml", yaml.safe_dump(value)), ("v.json", json.dumps(value, indent=1))]:
        document = parse_document(text, name)
        assert document.data == value, name
        total = text.count("\n") + 1
        stack: list[tuple[tuple[str | int, ...], Any]] = [((), value)]
        while stack:
            path, node = stack.pop()
            assert 1 <= document.line_of(path) <= total
            if isinstance(node, dict):
                stack += [((*path, k), v) for k, v in node.items()]
            elif isinstance(node, list):
                stack += [((*path, i), v) for i, v in enumerate(node)]


CALL_MUTATIONS = st.fixed_dictionaries(
    {},
    optional={
        "id": st.one_of(st.text(max_size=3), st.integers(), st.none()),
        "direction": st.sampled_from(["outbound", "inbound", "up", 1]),
        "context": st.sampled_from(["user", "meeting", "fax", True]),
        "to": st.one_of(st.from_regex(r"\A\+?[0-9*#]{0,17}\Z"), st.integers()),
        "start": st.sampled_from(["2026-11-02T09:00:00Z", "2026-11-02", 5]),
        "duration": st.one_of(st.integers(-3, 3), st.floats(-2, 2), st.booleans(), st.text()),
        "extra": st.just(1),
    },
)


@settings(max_examples=300, deadline=None)
@given(changes=CALL_MUTATIONS, drop=st.sets(st.sampled_from(sorted(CALL))))
def test_fast_check_agrees_with_jsonschema(changes: dict[str, Any], drop: set[str]) -> None:
    call = {k: v for k, v in {**CALL, **changes}.items() if k not in drop}
    for name, data in [("call", call), ("calls", [CALL, call])]:
        fast = validation._fast_check(name)
        assert fast is not None
        assert fast(data) == validation._validator(name).is_valid(data)
        assert (validate(data, name) == []) == fast(data)


def test_every_bundled_schema_has_a_fast_path() -> None:
    assert [
        n for n in ("call", "calls", "decision", "tenant") if not validation._fast_check(n)
    ] == []


def test_valid_data_never_imports_jsonschema() -> None:
    """Start-up and valid data stay on the fast path; only bad data pays for jsonschema."""
    script = f"""
import sys
from policy.data.documents import parse_document, validate
heavy = ("jsonschema", "referencing", "jsonschema_specifications")
def loaded():
    return sorted({{m.split(".")[0] for m in sys.modules}} & set(heavy))
parse_document({json.dumps(json.dumps([CALL, CALL]))}, "c.json", schema="calls")
assert loaded() == [], loaded()
assert validate({{**{CALL!r}, "duration": -1}}, "call")
assert loaded() == sorted(heavy), loaded()
"""
    subprocess.run([sys.executable, "-c", script], check=True)


def test_no_source_line_for_huge_lines() -> None:
    text = json.dumps([{**CALL, "duration": -1}] + [CALL] * 5)
    (finding,) = validate_document(parse_document(text, "c.json"))
    assert finding.source_line is None
    assert re.fullmatch(
        r"c\.json:1: \[0\]\.duration: must be at least 0 \(got -1\)", finding.headline()
    )


def validate_document(document: Document) -> list[Any]:
    return document.validate("calls")
