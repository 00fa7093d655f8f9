"""JSON Schema validation of plain data, with findings a person can act on.

``validate(data, "tenant", filename=..., line_of=...)`` returns every way ``data``
breaks ``schemas/tenant.schema.json`` as :class:`~policy.support.errors.Finding` objects sorted
by line, each with a message written for the person who edits the file (``missing
required field 'currency'``, ``unknown field 'balence' (did you mean 'balance'?)``).

- Schemas are the draft 2020-12 JSON Schemas of ``schemas/``; ``$ref`` by ``$id``
  resolves offline. An ``integer`` is a Python ``int``, never ``1.0``.
- Most data is valid, so each schema is first compiled into a fast yes/no check.
  ``jsonschema`` (and ``referencing``) are imported only when data fails that check
  or a schema has no fast path: start-up and valid data never pay for them.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from policy.support.errors import FieldPath, Finding, Location, render_path
from policy.support.resources import schemas_dir
from policy.support.suggest import in_parentheses

if TYPE_CHECKING:
    from referencing import Registry


__all__ = ["load_schema", "schema_names", "validate"]

_MAX_SOURCE_LINE = 200

# ---------------------------------------------------------------------------- schemas


def _schema_name(name: str) -> str:
    return name.removesuffix(".json").removesuffix(".schema")


@functools.cache
def _schema_files() -> dict[str, Path]:
    folder = schemas_dir()
    return {_schema_name(p.name): p for p in sorted(folder.glob("*.json"))}


def schema_names() -> list[str]:
    """The schemas available, by name: ``["call", "calls", "decision", "tenant", …]``."""
    return sorted(_schema_files())


@functools.cache
def _schema(name: str) -> dict[str, Any]:
    files = _schema_files()
    key = _schema_name(name)
    if key not in files:
        known = ", ".join(sorted(files)) or "none"
        raise ValueError(f"unknown schema {name!r} (known: {known})")
    with open(files[key], encoding="utf-8") as handle:
        schema: dict[str, Any] = json.load(handle)
    return schema


def load_schema(name: str) -> dict[str, Any]:
    """The JSON Schema called ``name`` (``"tenant"`` or ``"tenant.schema.json"``), a copy."""
    result: dict[str, Any] = json.loads(json.dumps(_schema(name)))
    return result


@functools.cache
def _bare(name: str) -> dict[str, Any]:
    """The schema without ``$schema``.

    jsonschema picks the validator class of a ``$ref``'d resource from its ``$schema``,
    which would swap our strict ``integer`` for the stock one behind every ``$ref``
    into another file. Without it, the class we chose applies throughout.
    """
    return {key: value for key, value in _schema(name).items() if key != "$schema"}


@functools.cache
def _resources() -> dict[str, dict[str, Any]]:
    """Every readable schema by its ``$id`` (without ``$schema``): the targets of ``$ref``."""
    resources: dict[str, dict[str, Any]] = {}
    for name in _schema_files():
        try:
            schema = _bare(name)
        except (OSError, ValueError):
            continue  # a broken neighbour must not break the others
        if isinstance(schema, dict) and isinstance(schema.get("$id"), str):
            resources[schema["$id"]] = schema
    return resources


# jsonschema and referencing cost ~50 ms to import, and only data that fails its fast
# check (or a schema without one) needs them: everything below imports them on first use.


@functools.cache
def _registry() -> Registry[Any]:
    from referencing import Registry
    from referencing.jsonschema import DRAFT202012

    registry: Registry[Any] = Registry().with_resources(
        (uri, DRAFT202012.create_resource(schema)) for uri, schema in _resources().items()
    )
    return registry


def _is_int(checker: object, instance: object) -> bool:
    return isinstance(instance, int) and not isinstance(instance, bool)


@functools.cache
def _validator_class() -> Any:
    from jsonschema import Draft202012Validator, validators  # type: ignore[import-untyped]

    return validators.extend(
        Draft202012Validator,
        type_checker=Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_int),
    )


@functools.cache
def _validator(name: str) -> Any:
    return _validator_class()(_bare(name), registry=_registry())


# A fast yes/no check compiled from the schema: most data is valid, and jsonschema's
# error machinery costs ~60 µs per call record. Only a keyword subset is compiled; a
# schema using anything else has no fast path. Any "no" is re-checked by jsonschema,
# which alone produces the messages, so the fast path can only ever save time.

_Check = Callable[[Any], bool]
_ANNOTATIONS = frozenset(
    {
        "$schema", "$id", "$defs", "$comment", "title", "description", "default",
        "examples", "format", "patternErrorMessage", "errorMessage", "deprecated",
        "markdownDescription", "readOnly", "writeOnly",
    }
)  # fmt: skip
_PYTHON_TYPES: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
}


#: Bad input is quoted up to this many characters: a message never echoes a whole file.
SHOWN_CHARS = 60


def _shown(value: object) -> str:
    """``repr(value)``, cut to :data:`SHOWN_CHARS` (``…`` marks the cut)."""
    text = repr(value)
    return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 1] + "…"


def _cut(message: str, limit: int = 200) -> str:
    """A library's message (which may quote the value) cut to ``limit`` characters."""
    return message if len(message) <= limit else message[: limit - 1] + "…"


class _Unsupported(Exception):
    pass


class _FastCompiler:
    def __init__(self, resources: dict[str, dict[str, Any]]) -> None:
        self.resources = resources  # by $id
        self.active: set[int] = set()

    def resolve(self, ref: str, root: Any) -> tuple[Any, Any]:
        uri, _, fragment = ref.partition("#")
        document = self.resources[uri] if uri else root
        target = document
        for part in [p for p in fragment.split("/") if p]:
            part = part.replace("~1", "/").replace("~0", "~")
            target = target[int(part)] if isinstance(target, list) else target[part]
        return target, document

    def compile(self, schema: Any, root: Any) -> _Check:
        if schema is True or schema == {}:
            return lambda v: True
        if schema is False:
            return lambda v: False
        if not isinstance(schema, dict) or id(schema) in self.active:
            raise _Unsupported
        self.active.add(id(schema))
        try:
            compiled = [self.keyword(k, schema, root) for k in schema if k not in _ANNOTATIONS]
        finally:
            self.active.discard(id(schema))
        checks = [c for c in compiled if c is not None]
        if len(checks) == 1:
            return checks[0]

        def all_of(value: Any) -> bool:
            for check in checks:  # noqa: SIM110 - a plain loop is faster than all(genexpr)
                if not check(value):
                    return False
            return True

        return all_of

    def keyword(self, key: str, schema: dict[str, Any], root: Any) -> _Check | None:
        arg = schema[key]
        if key == "type":
            tests = [_PYTHON_TYPES[t] for t in ([arg] if isinstance(arg, str) else arg)]
            return tests[0] if len(tests) == 1 else lambda v: any(t(v) for t in tests)
        if key in ("enum", "const"):
            allowed = frozenset(arg if key == "enum" else [arg])
            if not all(isinstance(a, str) for a in allowed):
                raise _Unsupported  # JSON equality of numbers and bools differs from Python's
            return lambda v: isinstance(v, str) and v in allowed
        if key == "pattern":
            search = re.compile(arg).search
            return lambda v: not isinstance(v, str) or search(v) is not None
        if key in ("minimum", "maximum", "minLength", "maxLength", "minItems", "maxItems"):
            return self.bound(key, arg)
        if key == "required":
            names = tuple(arg)
            return lambda v: not isinstance(v, dict) or all(n in v for n in names)
        if key == "properties":
            props = {name: self.compile(sub, root) for name, sub in arg.items()}
            return lambda v: (
                not isinstance(v, dict) or all(check(v[n]) for n, check in props.items() if n in v)
            )
        if key == "additionalProperties":
            return self.additional(schema, root)
        if key == "propertyNames":
            names_ok = self.compile(arg, root)
            return lambda v: not isinstance(v, dict) or all(names_ok(k) for k in v)
        if key == "items":
            item_ok = self.compile(arg, root)
            return lambda v: not isinstance(v, list) or all(item_ok(x) for x in v)
        if key == "$ref":
            target, document = self.resolve(arg, root)
            return self.compile(target, document)
        if key == "if":
            cond = self.compile(arg, root)
            then = self.compile(schema.get("then", True), root)
            other = self.compile(schema.get("else", True), root)
            return lambda v: then(v) if cond(v) else other(v)
        if key in ("then", "else"):
            return None  # compiled with "if"
        raise _Unsupported

    @staticmethod
    def bound(key: str, arg: Any) -> _Check:
        if key in ("minimum", "maximum"):
            low = key == "minimum"
            return lambda v: (
                not (isinstance(v, int | float) and not isinstance(v, bool))
                or (v >= arg if low else v <= arg)
            )
        kind = list if key.endswith("Items") else str
        low = key.startswith("min")
        return lambda v: not isinstance(v, kind) or (len(v) >= arg if low else len(v) <= arg)

    def additional(self, schema: dict[str, Any], root: Any) -> _Check:
        known = frozenset(schema.get("properties", {}))
        patterns = [re.compile(p).search for p in schema.get("patternProperties", {})]
        if patterns:
            raise _Unsupported  # patternProperties itself is not compiled
        extra = self.compile(schema["additionalProperties"], root)
        return lambda v: (
            not isinstance(v, dict) or all(extra(x) for k, x in v.items() if k not in known)
        )


@functools.cache
def _fast_check(name: str) -> _Check | None:
    try:
        schema = _bare(name)
        return _FastCompiler(_resources()).compile(schema, schema)
    except (_Unsupported, KeyError, IndexError, TypeError, re.error, LookupError):
        return None


def validate(
    data: Any,
    schema: str,
    *,
    filename: str = "<data>",
    line_of: Callable[[FieldPath], int] | None = None,
    scalar_text: Callable[[FieldPath], str | None] | None = None,
    source_line: Callable[[int], str | None] | None = None,
) -> list[Finding]:
    """Every way ``data`` breaks the schema ``schema``, one finding each, sorted by line.

    ``line_of`` places a field path (see :meth:`policy.data.documents.Document.line_of`);
    ``scalar_text`` and ``source_line`` let messages quote the file as written.
    """
    fast = _fast_check(schema)
    if fast is not None and fast(data):
        return []

    validator = _validator(schema)
    explain = _Explainer(validator.schema, scalar_text)
    found: dict[tuple[str, str], Finding] = {}
    for error in validator.iter_errors(data):
        for path, message in explain(error):
            rendered = render_path(path)
            if (rendered, message) in found:
                continue
            line = line_of(path) if line_of is not None else 0
            text = source_line(line) if source_line is not None and line else None
            found[rendered, message] = Finding(
                "error",
                message,
                location=Location(filename, line, 0),
                path=rendered,
                source_line=text if text is not None and len(text) <= _MAX_SOURCE_LINE else None,
                code="schema",
            )
    return sorted(
        found.values(),
        key=lambda f: (f.location.line if f.location else 0, f.path or "", f.message),
    )


# ---------------------------------------------------------------------------- messages

_TYPE_NAMES = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "object": "a mapping",
    "array": "a list",
    "null": "null",
}


@functools.cache
def _is_decimal_pattern(pattern: str) -> bool:
    try:
        regex = re.compile(pattern)
    except re.error:
        return False
    accepts = all(regex.search(s) for s in ("50.00", "12", "-0.72"))
    return accepts and not any(regex.search(s) for s in ("abc", "1e5", "", "12 EUR"))


def _is_money(schema: Any) -> bool:
    return (
        isinstance(schema, dict)
        and isinstance(schema.get("pattern"), str)
        and _is_decimal_pattern(schema["pattern"])
    )


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class _Explainer:
    """Turns one jsonschema ValidationError into ``(path, friendly message)`` pairs."""

    def __init__(self, root: Any, scalar_text: Callable[[FieldPath], str | None] | None) -> None:
        self.root = root
        self.scalar_text = scalar_text

    def spelled(self, path: FieldPath, value: object) -> str:
        raw = self.scalar_text(path) if self.scalar_text is not None else None
        return raw if raw is not None else json.dumps(value)

    def describe(self, path: FieldPath, value: object) -> str:
        if value is None:
            return "an empty value (null)"
        if isinstance(value, bool):
            return f"the boolean {self.spelled(path, value)}"
        if _is_number(value):
            return f"the number {self.spelled(path, value)}"
        if isinstance(value, str):
            return f"the string {_shown(value)}"
        return "a list" if isinstance(value, list) else "a mapping"

    def __call__(self, error: Any) -> Iterator[tuple[FieldPath, str]]:
        path: FieldPath = tuple(error.absolute_path)
        kind, schema, value = error.validator, error.schema, error.instance
        if "propertyNames" in error.absolute_schema_path:
            hint = schema.get("patternErrorMessage") if isinstance(schema, dict) else None
            yield (*path, str(value)), f"invalid key {_shown(value)}: {hint or _cut(error.message)}"
        elif kind == "additionalProperties" and isinstance(value, dict):
            yield from self.unknown_fields(path, schema, value)
        elif kind == "required" and isinstance(value, dict):
            condition = self.condition(error)
            for name in error.validator_value:
                if name not in value:
                    yield path, f"missing required field {name!r}{condition}"
        elif kind == "type":
            yield path, self.type_message(path, schema, value, error.validator_value)
        elif kind == "pattern" and isinstance(value, str):
            if _is_money(schema):
                yield path, f'must be a decimal string such as "50.00" (got {_shown(value)})'
            elif hint := schema.get("patternErrorMessage"):
                yield path, f"{hint} (got {_shown(value)})"
            else:
                yield path, _cut(error.message)
        elif kind == "enum":
            allowed = list(error.validator_value)
            message = f"{_shown(value)} is not one of {allowed!r}"
            if isinstance(value, str):
                message += in_parentheses(value, [str(a) for a in allowed])
            yield path, message
        elif kind == "minimum":
            yield path, f"must be at least {error.validator_value} (got {_shown(value)})"
        elif kind == "minLength" and error.validator_value == 1:
            yield path, "must not be empty"
        else:
            yield path, _cut(error.message)

    def unknown_fields(
        self, path: FieldPath, schema: Any, value: dict[str, Any]
    ) -> Iterator[tuple[FieldPath, str]]:
        known = list(schema.get("properties", {}))
        patterns = list(schema.get("patternProperties", {}))
        for key in value:
            if key in known or any(re.search(p, str(key)) for p in patterns):
                continue
            message = f"unknown field {key!r}"
            hint = in_parentheses(str(key), known)
            if hint:
                message += hint
            elif known:
                message += f" (expected one of: {', '.join(known)})"
            yield (*path, key), message

    def type_message(self, path: FieldPath, schema: Any, value: object, expected: Any) -> str:
        wanted = [expected] if isinstance(expected, str) else list(expected)
        if _is_money(schema):
            if _is_number(value):
                spelled = self.spelled(path, value)
                example = spelled if re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", spelled) else "50.00"
                return f'must be a decimal string such as "{example}" (quote it)'
            return f'must be a decimal string such as "50.00", not {self.describe(path, value)}'
        names = " or ".join(_TYPE_NAMES.get(t, t) for t in wanted)
        message = f"expected {names}, got {self.describe(path, value)}"
        if "string" in wanted and (isinstance(value, bool) or _is_number(value)):
            message += f' (quote it: "{self.spelled(path, value)}")'
        return message

    def condition(self, error: Any) -> str:
        """`` (required when funding is 'auto_recharge')`` for a ``then`` branch."""
        schema_path = list(error.absolute_schema_path)
        if "then" not in schema_path or "$ref" in schema_path:
            return ""
        node = self.root
        for part in schema_path[: len(schema_path) - 1 - schema_path[::-1].index("then")]:
            try:
                node = node[part]
            except (KeyError, IndexError, TypeError):
                return ""
        condition = node.get("if", {}) if isinstance(node, dict) else {}
        terms = [
            f"{name} is {rule['const']!r}"
            for name, rule in condition.get("properties", {}).items()
            if isinstance(rule, dict) and "const" in rule
        ]
        return f" (required when {' and '.join(terms)})" if terms else ""
