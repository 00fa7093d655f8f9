"""Data files — YAML, JSON, JSON Lines — read safely into plain Python, with line numbers.

``load_document("tenant.yaml", schema="tenant")`` returns a :class:`Document` whose
``.data`` holds only dicts, lists, strings, ints, floats, bools and None (YAML
timestamps stay strings; money is a quoted decimal string, enforced by the schemas) and
whose ``.line_of(path)`` names the line where a field is written, so that every
problem can be reported as ``tenant.yaml:14: users[2].licenses[0]: message``.

- YAML is composed with LibYAML (``CSafeLoader``) when present and built here from the
  node tree: duplicate keys are errors, aliases may not expand past
  :data:`MAX_ALIAS_EXPANSION` nodes, only the safe scalar types exist.
- JSON goes through :mod:`json` (fast); line numbers are recovered by a light scanner
  only when something needs them. JSON Lines holds one JSON value per non-blank line.
- Schemas are the draft 2020-12 JSON Schemas of ``schemas/``; ``$ref`` by ``$id``
  resolves offline. An ``integer`` is a Python ``int``, never ``1.0``.
"""

from __future__ import annotations

import difflib
import functools
import json
import os
import re
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator, validators  # type: ignore[import-untyped]
from referencing import Registry
from referencing.jsonschema import DRAFT202012
from yaml.composer import ComposerError
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from policy.errors import Finding, InputError, Location, SchemaError
from policy.resources import schemas_dir

try:
    from yaml import CSafeLoader as _YamlLoader
except ImportError:  # pragma: no cover - PyYAML built without LibYAML
    from yaml import SafeLoader as _YamlLoader  # type: ignore[assignment]

__all__ = [
    "MAX_ALIAS_EXPANSION",
    "MAX_DEPTH",
    "Document",
    "FieldPath",
    "load_document",
    "load_schema",
    "parse_document",
    "render_path",
    "schema_names",
    "validate",
]

FieldPath = tuple[str | int, ...]

#: Nodes that YAML aliases may add beyond those written in the file.
MAX_ALIAS_EXPANSION = 100_000
#: Nesting depth of YAML collections (no real data file comes close).
MAX_DEPTH = 100
_MAX_SOURCE_LINE = 200

# ---------------------------------------------------------------------------- paths

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def render_path(path: Sequence[str | int]) -> str:
    """``("users", 2, "licenses", 0)`` → ``users[2].licenses[0]``; ``()`` → ``(root)``."""
    out: list[str] = []
    for part in path:
        if isinstance(part, int) and not isinstance(part, bool):
            out.append(f"[{part}]")
        elif not isinstance(part, str):
            out.append(f"[{part!r}]")
        elif _IDENT.fullmatch(part):
            out.append(f".{part}" if out else part)
        else:
            out.append(f"[{json.dumps(part, ensure_ascii=False)}]")
    return "".join(out) or "(root)"


# ---------------------------------------------------------------------------- Document


class _Index:
    """Line numbers and source spellings of a document, built on first use."""

    __slots__ = ("_build", "_lines", "_raw", "_source", "_text")

    def __init__(
        self,
        text: str,
        build: Callable[[], tuple[dict[FieldPath, int], dict[FieldPath, str]]],
    ) -> None:
        self._text = text
        self._build = build
        self._lines: dict[FieldPath, int] | None = None
        self._raw: dict[FieldPath, str] = {}
        self._source: list[str] | None = None

    def _tables(self) -> dict[FieldPath, int]:
        if self._lines is None:
            self._lines, self._raw = self._build()
        return self._lines

    def line(self, path: FieldPath) -> int:
        lines = self._tables()
        for end in range(len(path), 0, -1):
            found = lines.get(path[:end])
            if found is not None:
                return found
        return lines.get((), 1)

    def raw(self, path: FieldPath) -> str | None:
        self._tables()
        return self._raw.get(path)

    def source_line(self, line: int) -> str | None:
        if self._source is None:
            self._source = self._text.split("\n")
        if 1 <= line <= len(self._source):
            return self._source[line - 1].rstrip("\r")
        return None


class _JsonlIndex(_Index):
    """JSON Lines: each record's line is known up front; spellings scanned per record."""

    __slots__ = ("_records",)

    def __init__(self, text: str, record_lines: list[int]) -> None:
        lines: dict[FieldPath, int] = {(): record_lines[0] if record_lines else 1}
        lines.update(((i,), n) for i, n in enumerate(record_lines))
        super().__init__(text, lambda: (lines, {}))
        self._records = record_lines

    def raw(self, path: FieldPath) -> str | None:
        if not path or not isinstance(path[0], int) or not 0 <= path[0] < len(self._records):
            return None
        line = self._records[path[0]]
        text = self.source_line(line) or ""
        _, raw = _scan_json(text, line, prefix=(path[0],))
        return raw.get(path)


class Document:
    """A parsed data file: ``.data`` (plain Python), ``.filename``, ``.format`` and lines."""

    __slots__ = ("_index", "data", "filename", "format")

    data: Any
    filename: str
    format: str
    _index: _Index

    def __init__(self, data: Any, filename: str, format: str, index: _Index) -> None:
        object.__setattr__(self, "data", data)
        object.__setattr__(self, "filename", filename)
        object.__setattr__(self, "format", format)  # "yaml" | "json" | "jsonl"
        object.__setattr__(self, "_index", index)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Document is immutable: cannot set {name!r}")

    def __repr__(self) -> str:
        return f"Document({self.filename!r}, format={self.format!r})"

    def line_of(self, path: Sequence[str | int]) -> int:
        """The 1-based line where ``path`` (or its nearest existing parent) is written.

        A mapping entry is placed on the line of its key, a list item on the line where
        the item starts; ``()`` is the document itself.
        """
        return self._index.line(tuple(path))

    def scalar_text(self, path: Sequence[str | int]) -> str | None:
        """How a non-string scalar at ``path`` is spelled in the file (``50.00``, ``NO``)."""
        return self._index.raw(tuple(path))

    def source_line(self, line: int) -> str | None:
        """The text of a 1-based line of the file (without its newline)."""
        return self._index.source_line(line)

    def validate(self, schema: str) -> list[Finding]:
        """Every way the data breaks ``schema``, as located findings sorted by line."""
        return validate(
            self.data,
            schema,
            filename=self.filename,
            line_of=self.line_of,
            scalar_text=self.scalar_text,
            source_line=self.source_line,
        )


# ---------------------------------------------------------------------------- entry points


def load_document(path: str | os.PathLike[str], schema: str | None = None) -> Document:
    """Read a YAML (default), ``.json`` or ``.jsonl``/``.ndjson`` file.

    Raises :class:`InputError` when the file cannot be read or parsed and, when
    ``schema`` names one of :func:`schema_names`, :class:`SchemaError` carrying every
    violation (``.findings``) when the data breaks it.
    """
    filename = os.fspath(path)
    if os.path.isdir(filename):
        raise InputError("is a directory, not a file", location=Location(filename))
    try:
        with open(filename, "rb") as handle:
            raw = handle.read()
    except FileNotFoundError:
        raise InputError("file not found", location=Location(filename)) from None
    except PermissionError:
        raise InputError(
            "cannot read file: permission denied", location=Location(filename)
        ) from None
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise InputError(f"cannot read file: {reason}", location=Location(filename)) from None
    return parse_document(raw, filename, schema)


def parse_document(text: str | bytes, filename: str, schema: str | None = None) -> Document:
    """Parse ``text`` as the file ``filename`` would be (its suffix picks the format)."""
    text = (
        _decode(text, filename) if isinstance(text, bytes | bytearray) else _check(text, filename)
    )
    lower = filename.lower()
    if lower.endswith((".jsonl", ".ndjson")):
        document = _parse_jsonl(text, filename)
    elif not text or text.isspace():
        raise InputError("file is empty", location=Location(filename))
    elif lower.endswith(".json"):
        document = _parse_json(text, filename)
    else:
        document = _parse_yaml(text, filename)
    if schema is not None:
        findings = document.validate(schema)
        if findings:
            raise SchemaError.from_finding(findings[0], findings=tuple(findings))
    return document


# ---------------------------------------------------------------------------- text


def _where(data: bytes, offset: int) -> tuple[int, int]:
    start = data.rfind(b"\n", 0, offset) + 1
    column = len(data[start:offset].decode("utf-8", errors="replace")) + 1
    return data.count(b"\n", 0, offset) + 1, column


def _decode(data: bytes | bytearray, filename: str) -> str:
    data = bytes(data)
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InputError(
            "file is UTF-16 encoded; save it as UTF-8", location=Location(filename, 1, 1)
        )
    nul = data.find(b"\x00")
    if nul >= 0:
        line, column = _where(data, nul)
        raise InputError(
            "binary file (contains a NUL byte); expected UTF-8 text",
            location=Location(filename, line, column),
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, column = _where(data, exc.start)
        raise InputError(
            f"not valid UTF-8 text (byte 0x{data[exc.start]:02x})",
            location=Location(filename, line, column),
        ) from None
    return text[1:] if text.startswith("\ufeff") else text


def _check(text: str, filename: str) -> str:
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise InputError(
            "binary data (contains a NUL character)", location=Location(filename, line)
        )
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            line = text.count("\n", 0, exc.start) + 1
            raise InputError(
                "text contains an unpaired surrogate character",
                location=Location(filename, line),
            ) from None
    return text[1:] if text.startswith("\ufeff") else text


# ---------------------------------------------------------------------------- JSON


class _DuplicateKeyError(Exception):
    pass


class _ConstantError(Exception):
    pass


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise _DuplicateKeyError
    return result


def _constant(name: str) -> Any:
    raise _ConstantError(name)


def _json_loads(text: str, filename: str, line: int = 1, prefix: FieldPath = ()) -> Any:
    """``json.loads`` with duplicate keys and NaN/Infinity refused, errors located.

    ``line`` is where ``text`` starts in the file; ``prefix`` the path of its value
    (a JSON Lines record: ``(index,)``).
    """
    try:
        return json.loads(text, object_pairs_hook=_pairs, parse_constant=_constant)
    except _DuplicateKeyError:
        _, _, duplicates = _scan_json_full(text, line, prefix)
        path, at, first = duplicates[0]
        raise SchemaError(
            f"duplicate key {path[-1]!r} (first written at line {first})",
            location=Location(filename, at, 0),
            path=render_path(path),
            code="duplicate-key",
        ) from None
    except _ConstantError as exc:
        found = (m for m in _JSON_TOKEN.finditer(text) if m.group() == str(exc))
        offset = next(found).start()
        raise InputError(
            f"invalid JSON: {exc} is not a number JSON allows",
            location=Location(
                filename,
                text.count("\n", 0, offset) + line,
                offset - text.rfind("\n", 0, offset),
            ),
        ) from None
    except json.JSONDecodeError as exc:
        message = f"invalid JSON: {exc.msg}"
        if exc.msg == "Extra data" and not prefix:
            message += " (one JSON value per file; name the file .jsonl for JSON Lines)"
        raise InputError(
            message, location=Location(filename, exc.lineno + line - 1, exc.colno)
        ) from None
    except RecursionError:
        raise InputError(
            "invalid JSON: nested too deeply", location=Location(filename, line)
        ) from None
    except ValueError as exc:  # e.g. an integer longer than Python converts
        raise InputError(f"invalid JSON: {exc}", location=Location(filename, line)) from None


def _parse_json(text: str, filename: str) -> Document:
    data = _json_loads(text, filename)
    return Document(data, filename, "json", _Index(text, lambda: _scan_json(text, 1)))


def _parse_jsonl(text: str, filename: str) -> Document:
    data: list[Any] = []
    record_lines: list[int] = []
    for number, line in enumerate(text.split("\n"), 1):
        if not line.strip(" \t\r"):
            continue
        data.append(_json_loads(line, filename, number, (len(data),)))
        record_lines.append(number)
    return Document(data, filename, "jsonl", _JsonlIndex(text, record_lines))


_JSON_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[{}\[\]]|[^\s{}\[\]:,"]+')


def _scan_json(
    text: str, line: int, prefix: FieldPath = ()
) -> tuple[dict[FieldPath, int], dict[FieldPath, str]]:
    lines, raw, _ = _scan_json_full(text, line, prefix)
    return lines, raw


def _scan_json_full(
    text: str, line: int, prefix: FieldPath = ()
) -> tuple[dict[FieldPath, int], dict[FieldPath, str], list[tuple[FieldPath, int, int]]]:
    """Lines of every value (object members: their key's line) of valid JSON ``text``.

    Also the source spelling of non-string scalars, and duplicate keys as
    ``(path, line, first line)``. Colons and commas are skipped: in an object, keys
    and values alternate; in an array, every value starts the next index.
    """
    lines: dict[FieldPath, int] = {}
    raw: dict[FieldPath, str] = {}
    duplicates: list[tuple[FieldPath, int, int]] = []
    # frames: [is_object, path, next index (array) or current key (object), expecting a key]
    stack: list[list[Any]] = []
    position = 0
    for match in _JSON_TOKEN.finditer(text):
        start = match.start()
        line += text.count("\n", position, start)
        position = start
        token = match.group()
        head = token[0]
        if head == "}" or head == "]":
            stack.pop()
            continue
        if stack:
            frame = stack[-1]
            if frame[0]:
                if frame[3]:  # a key
                    key = json.loads(token) if "\\" in token else token[1:-1]
                    frame[2], frame[3] = key, False
                    path = (*frame[1], key)
                    if path in lines:
                        duplicates.append((path, line, lines[path]))
                    else:
                        lines[path] = line
                    continue
                path = (*frame[1], frame[2])
                frame[3] = True
            else:
                path = (*frame[1], frame[2])
                frame[2] += 1
                lines[path] = line
        else:
            path = prefix
            lines[path] = line
        if head == "{":
            stack.append([True, path, None, True])
        elif head == "[":
            stack.append([False, path, 0, False])
        elif head != '"':
            raw[path] = token
    return lines, raw, duplicates


# ---------------------------------------------------------------------------- YAML

_YAML = "tag:yaml.org,2002:"
_STR, _INT, _FLOAT, _BOOL, _NULL = (_YAML + t for t in ("str", "int", "float", "bool", "null"))
_MAP, _SEQ, _MERGE = _YAML + "map", _YAML + "seq", _YAML + "merge"
_AS_TEXT = frozenset({_YAML + "timestamp", _YAML + "value", _MERGE})
_SAFE = SafeConstructor()
_SCALARS: dict[str, Callable[[ScalarNode], Any]] = {
    _INT: _SAFE.construct_yaml_int,
    _FLOAT: _SAFE.construct_yaml_float,
    _BOOL: _SAFE.construct_yaml_bool,
    _NULL: lambda node: None,
}


def _parse_yaml(text: str, filename: str) -> Document:
    stripped = text.lstrip()
    if stripped[:1] in ("{", "[") and stripped.rstrip()[-1:] in ("}", "]"):
        try:  # JSON is YAML, and json reads it a hundred times faster
            data = json.loads(text, object_pairs_hook=_pairs, parse_constant=_constant)
        except (ValueError, RecursionError, _DuplicateKeyError, _ConstantError):
            pass  # not JSON after all (or a JSON problem): let YAML judge and report
        else:
            return Document(data, filename, "json", _Index(text, lambda: _scan_json(text, 1)))
    loader = _YamlLoader(text)
    try:
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        raise InputError(_yaml_message(exc, text), location=_mark(filename, exc)) from None
    except yaml.YAMLError as exc:  # ReaderError: a character YAML refuses
        raise InputError(_reader_message(exc), location=_offset(filename, text, exc)) from None
    finally:
        loader.dispose()
    if root is None:
        raise InputError("file is empty (no YAML document)", location=Location(filename))
    builder = _YamlBuilder(filename)
    try:
        data = builder.build(root, (), 0)
    except RecursionError:
        raise InputError("YAML nested too deeply", location=Location(filename)) from None
    lines, raw = builder.lines, builder.raw
    return Document(data, filename, "yaml", _Index(text, lambda: (lines, raw)))


def _yaml_message(exc: yaml.MarkedYAMLError, text: str) -> str:
    if isinstance(exc, ComposerError) and "single document" in (exc.context or ""):
        return "invalid YAML: more than one document ('---') in the file; expected one"
    mark = exc.problem_mark
    if mark is not None and (exc.problem or "").startswith("found character that cannot"):
        lines = text.split("\n")
        found = lines[mark.line][mark.column : mark.column + 1] if mark.line < len(lines) else ""
        message = f"invalid YAML: found character {found!r} that cannot start any token"
        if found == "\t":
            message += " (indent YAML with spaces, not tabs)"
        return message
    message = f"invalid YAML: {exc.problem or exc.context or 'cannot parse'}"
    if exc.context and exc.problem:
        mark, problem = exc.context_mark, exc.problem_mark
        if mark is not None and (problem is None or mark.line != problem.line):
            message += f" ({exc.context} at line {mark.line + 1})"
        else:
            message += f" ({exc.context})"
    return message


def _mark(filename: str, exc: yaml.MarkedYAMLError) -> Location:
    mark = exc.problem_mark or exc.context_mark
    if mark is None:
        return Location(filename)
    return Location(filename, mark.line + 1, mark.column + 1)


def _reader_message(exc: yaml.YAMLError) -> str:
    reason = getattr(exc, "reason", None)
    character = getattr(exc, "character", None)
    if reason and isinstance(character, int):
        return f"invalid YAML: character #x{character:04x} is not allowed ({reason})"
    return f"invalid YAML: {reason or exc}"


def _offset(filename: str, text: str, exc: yaml.YAMLError) -> Location:
    position = getattr(exc, "position", None)
    if not isinstance(position, int):
        return Location(filename)
    line, column = _where(text.encode("utf-8"), position)
    return Location(filename, line, column)


def _tag(tag: str) -> str:
    return "!!" + tag[len(_YAML) :] if tag.startswith(_YAML) else tag


class _YamlBuilder:
    """Plain Python from a composed YAML node graph, recording each path's line."""

    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.lines: dict[FieldPath, int] = {}
        self.raw: dict[FieldPath, str] = {}
        self.built = 0
        self.seen: set[int] = set()
        self.active: set[int] = set()
        self.site: int | None = None  # line of the alias being expanded

    def fail(self, message: str, node: Node) -> InputError:
        mark = node.start_mark
        return InputError(message, location=Location(self.filename, mark.line + 1, mark.column + 1))

    def build(self, node: Node, path: FieldPath, depth: int) -> Any:
        if not path:
            self.lines[()] = node.start_mark.line + 1
        self.built += 1
        if id(node) not in self.seen:
            self.seen.add(id(node))
        elif self.site is None:  # an alias starts expanding: remember where it is used
            parent = next(path[:n] for n in range(len(path) - 1, -1, -1) if path[:n] in self.lines)
            self.site = self.lines[parent]
            try:
                return self.node(node, path, depth)
            finally:
                self.site = None
        return self.node(node, path, depth)

    def node(self, node: Node, path: FieldPath, depth: int) -> Any:
        if self.built - len(self.seen) > MAX_ALIAS_EXPANSION:
            raise InputError(
                f"YAML aliases expand too far (more than {MAX_ALIAS_EXPANSION:,} extra nodes)",
                location=Location(self.filename, self.site or node.start_mark.line + 1, 0),
            )
        if isinstance(node, ScalarNode):
            return self.scalar(node, path)
        if depth >= MAX_DEPTH:
            raise self.fail(f"YAML nested too deeply (more than {MAX_DEPTH} levels)", node)
        if id(node) in self.active:
            raise self.fail("recursive YAML alias (a collection contains itself)", node)
        self.active.add(id(node))
        result: Any
        if isinstance(node, SequenceNode) and node.tag == _SEQ:
            result = []
            for index, item in enumerate(node.value):
                item_path = (*path, index)
                self.lines[item_path] = item.start_mark.line + 1
                result.append(self.build(item, item_path, depth + 1))
        elif isinstance(node, MappingNode) and node.tag == _MAP:
            result = {}
            for key, key_node, value in self.entries(node, path):
                entry_path = (*path, key)
                self.lines[entry_path] = key_node.start_mark.line + 1
                result[key] = self.build(value, entry_path, depth + 1)
        else:
            raise self.fail(f"unsupported YAML tag {_tag(node.tag)!r}", node)
        self.active.discard(id(node))
        return result

    def scalar(self, node: ScalarNode, path: FieldPath) -> Any:
        tag = node.tag
        if tag == _STR or tag in _AS_TEXT:
            return node.value  # timestamps stay text: the schemas say what a date is
        construct = _SCALARS.get(tag)
        if construct is None:
            raise self.fail(f"unsupported YAML tag {_tag(tag)!r}", node)
        try:
            value = construct(node)
        except (ValueError, KeyError, IndexError, TypeError, OverflowError):
            raise self.fail(f"invalid {_tag(tag)} value {node.value!r}", node) from None
        self.raw[path] = node.value
        return value

    def key(self, node: Node, path: FieldPath) -> str:
        if not isinstance(node, ScalarNode):
            raise SchemaError(
                "a mapping key must be a plain scalar, not a list or mapping",
                location=Location(self.filename, node.start_mark.line + 1, 0),
                path=render_path(path),
            )
        return str(node.value)

    def entries(self, node: MappingNode, path: FieldPath) -> list[tuple[str, Node, Node]]:
        """Keys (as written), key nodes and values of a mapping, merge keys applied."""
        explicit: dict[str, tuple[Node, Node]] = {}
        merged: dict[str, tuple[Node, Node]] = {}
        for key_node, value in node.value:
            if isinstance(key_node, ScalarNode) and key_node.tag == _MERGE:
                for key, source_key, source_value in self.merged(value, path):
                    merged.setdefault(key, (source_key, source_value))
                continue
            key = self.key(key_node, path)
            if key in explicit:
                first = explicit[key][0].start_mark.line + 1
                raise SchemaError(
                    f"duplicate key {key!r} (first written at line {first})",
                    location=Location(self.filename, key_node.start_mark.line + 1, 0),
                    path=render_path((*path, key)),
                    code="duplicate-key",
                )
            explicit[key] = (key_node, value)
        result = [(key, k, v) for key, (k, v) in explicit.items()]
        result.extend((key, k, v) for key, (k, v) in merged.items() if key not in explicit)
        return result

    def merged(self, value: Node, path: FieldPath) -> Iterator[tuple[str, Node, Node]]:
        sources = value.value if isinstance(value, SequenceNode) else [value]
        for source in sources:
            if not isinstance(source, MappingNode):
                raise self.fail("a merge key '<<' takes a mapping or a list of mappings", source)
            if id(source) in self.active:
                raise self.fail("recursive YAML alias (a mapping merges itself)", source)
            self.active.add(id(source))
            yield from self.entries(source, path)
            self.active.discard(id(source))


# ---------------------------------------------------------------------------- schemas


def _is_int(checker: object, instance: object) -> bool:
    return isinstance(instance, int) and not isinstance(instance, bool)


_Validator = validators.extend(
    Draft202012Validator,
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_int),
)


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
def _registry() -> Registry[Any]:
    resources = []
    for name in _schema_files():
        try:
            schema = _bare(name)
        except (OSError, ValueError):
            continue  # a broken neighbour must not break the others
        if isinstance(schema, dict) and isinstance(schema.get("$id"), str):
            resources.append((schema["$id"], DRAFT202012.create_resource(schema)))
    registry: Registry[Any] = Registry().with_resources(resources)
    return registry


@functools.cache
def _validator(name: str) -> Any:
    return _Validator(_bare(name), registry=_registry())


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


class _Unsupported(Exception):
    pass


class _FastCompiler:
    def __init__(self, registry: Registry[Any]) -> None:
        self.registry = registry
        self.active: set[int] = set()

    def resolve(self, ref: str, root: Any) -> tuple[Any, Any]:
        uri, _, fragment = ref.partition("#")
        document = self.registry.contents(uri) if uri else root
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
        return _FastCompiler(_registry()).compile(schema, schema)
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

    ``line_of`` places a field path (see :meth:`Document.line_of`); ``scalar_text``
    and ``source_line`` let messages quote the file as written.
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


def _suggest(word: str, options: list[str]) -> list[str]:
    """The option ``word`` was probably meant to be (case-blind), if any."""
    by_lower = {option.lower(): option for option in options}
    close = difflib.get_close_matches(word.lower(), list(by_lower), n=1, cutoff=0.75)
    return [by_lower[c] for c in close]


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
            return f"the string {value!r}"
        return "a list" if isinstance(value, list) else "a mapping"

    def __call__(self, error: Any) -> Iterator[tuple[FieldPath, str]]:
        path: FieldPath = tuple(error.absolute_path)
        kind, schema, value = error.validator, error.schema, error.instance
        if "propertyNames" in error.absolute_schema_path:
            hint = schema.get("patternErrorMessage") if isinstance(schema, dict) else None
            yield (*path, str(value)), f"invalid key {value!r}: {hint or error.message}"
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
                yield path, f'must be a decimal string such as "50.00" (got {value!r})'
            elif hint := schema.get("patternErrorMessage"):
                yield path, f"{hint} (got {value!r})"
            else:
                yield path, error.message
        elif kind == "enum":
            allowed = list(error.validator_value)
            message = f"{value!r} is not one of {allowed!r}"
            if isinstance(value, str):
                close = _suggest(value, [str(a) for a in allowed])
                if close:
                    message += f" (did you mean {close[0]!r}?)"
            yield path, message
        elif kind == "minimum":
            yield path, f"must be at least {error.validator_value} (got {value!r})"
        elif kind == "minLength" and error.validator_value == 1:
            yield path, "must not be empty"
        else:
            yield path, error.message

    def unknown_fields(
        self, path: FieldPath, schema: Any, value: dict[str, Any]
    ) -> Iterator[tuple[FieldPath, str]]:
        known = list(schema.get("properties", {}))
        patterns = list(schema.get("patternProperties", {}))
        for key in value:
            if key in known or any(re.search(p, str(key)) for p in patterns):
                continue
            message = f"unknown field {key!r}"
            close = _suggest(str(key), known)
            if close:
                message += f" (did you mean {close[0]!r}?)"
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
