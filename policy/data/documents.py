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
- Checking against a schema is :mod:`policy.data.validation`'s job; its :func:`validate`,
  :func:`schema_names` and :func:`load_schema` are re-exported here.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from policy.data.validation import load_schema, schema_names, validate
from policy.support.errors import FieldPath, Finding, InputError, Location, SchemaError, render_path
from policy.support.files import decode_text, line_and_column, read_bytes

try:
    from yaml import CSafeLoader as _YamlLoader
except ImportError:  # pragma: no cover - PyYAML built without LibYAML
    from yaml import SafeLoader as _YamlLoader  # type: ignore[assignment]

__all__ = [
    "MAX_ALIAS_EXPANSION",
    "MAX_DEPTH",
    "MAX_DOCUMENT_BYTES",
    "Document",
    "FieldPath",
    "load_document",
    "load_schema",
    "parse_document",
    "schema_names",
    "validate",
]

#: Nodes that YAML aliases may add beyond those written in the file.
MAX_ALIAS_EXPANSION = 100_000
#: Nesting depth of YAML collections (no real data file comes close).
MAX_DEPTH = 100
#: Largest YAML or JSON document read: they are parsed whole (many times their size in
#: memory); larger files are refused before parsing. JSON Lines is read line by line. The
#: calls reader (``policy.rating.cdr.MAX_WHOLE_CALLS_BYTES``) holds whole calls files to
#: this same limit.
MAX_DOCUMENT_BYTES = 64 * 1024 * 1024
#: A ``\uD800``–``\uDFFF`` escape: the only way a lone surrogate gets into parsed text.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")

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
    whole = not filename.lower().endswith((".jsonl", ".ndjson"))
    limit = MAX_DOCUMENT_BYTES if whole else None
    try:
        raw = read_bytes(filename, filename, limit=limit)
    except InputError as exc:
        if limit is None or not exc.message.startswith("larger than"):
            raise
        raise InputError(
            f"larger than {limit:,} bytes, the limit for a YAML or JSON file",
            location=exc.finding.location,
            hint="YAML and JSON files are read whole; write a large calls file as JSON Lines "
            "(.jsonl, one call per line)",
            code="too_large",
        ) from None
    return parse_document(raw, filename, schema)


def parse_document(text: str | bytes, filename: str, schema: str | None = None) -> Document:
    """Parse ``text`` as the file ``filename`` would be (its suffix picks the format)."""
    text = (
        decode_text(bytes(text), filename)
        if isinstance(text, bytes | bytearray)
        else _check(text, filename)
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


LONE_SURROGATE = (
    "text holds a lone UTF-16 surrogate (a \\uD800-\\uDFFF escape not part of a pair), "
    "which is not a character"
)


def has_lone_surrogate(text: str) -> bool:
    """Whether ``text`` holds a lone UTF-16 surrogate (JSON's ``"\\ud800"``): text that can
    be neither printed nor stored. ASCII text is passed over at C speed."""
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _surrogate_at(value: Any, path: FieldPath) -> FieldPath | None:
    """The path of the first string (or key) holding a lone UTF-16 surrogate."""
    if isinstance(value, str):
        return path if has_lone_surrogate(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            if has_lone_surrogate(key):
                return (*path, key)
            found = _surrogate_at(item, (*path, key))
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _surrogate_at(item, (*path, index))
            if found is not None:
                return found
    return None


def _refuse_surrogates(data: Any, text: str, filename: str, line: int, prefix: FieldPath) -> None:
    """A ``\\uD800``-style escape that is not half of a pair spells no character: such
    text can be neither printed nor stored, so it is bad input, located at its field."""
    where = _surrogate_at(data, prefix)
    if where is None:  # every escape was half of a valid pair
        return
    lines, _ = _scan_json(text, line, prefix)
    raise InputError(
        LONE_SURROGATE,
        location=Location(filename, lines.get(where, line)),
        # a key may hold the surrogate itself: shown as its escape, so the message prints
        path=render_path(where).encode("utf-8", "backslashreplace").decode("utf-8") or None,
        code="encoding",
    )


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
            raise InputError(LONE_SURROGATE, location=Location(filename, line)) from None
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
        data = json.loads(text, object_pairs_hook=_pairs, parse_constant=_constant)
        if _SURROGATE_ESCAPE.search(text):
            _refuse_surrogates(data, text, filename, line, prefix)
        return data
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
    line, column = line_and_column(text.encode("utf-8"), position)
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
