"""Records: frozen, slotted value classes that cost little to define.

``@record(frozen=True, slots=True)`` behaves like ``@dataclass(frozen=True, slots=True)``
for plain classes — fields from the class annotations in order, defaults, an
``__init__`` taking them positionally or by keyword, ``__post_init__``, ``__repr__``,
``__eq__`` and ``__hash__`` over the fields, ``__match_args__``, frozen attributes
(:class:`dataclasses.FrozenInstanceError`) — and pickles by its field values.
``dataclasses.fields``, ``is_dataclass``, ``replace`` and ``asdict`` work on it: the
dataclass description is made the first time something asks for it.

Why: :func:`dataclasses.dataclass` compiles six methods and inspects the signature of
every class it decorates (about 0.5 ms each); a cold ``policy.load()`` defines some
fifty such classes. A record compiles nothing: its ``__init__`` is a code template of its
shape (compiled once per number of fields) with the field names put in, and the other
methods are shared closures over the field names.

Modules import it for the type checker as the dataclass it mirrors::

    if TYPE_CHECKING:
        from dataclasses import dataclass as record
    else:
        from policy.support.records import record

Not supported (use a dataclass): inheritance between records, ``field(...)``,
``ClassVar`` fields, mutable or unfrozen records.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import cache
from operator import attrgetter
from types import CodeType, FunctionType
from typing import Any, TypeVar

__all__ = ["record"]

_C = TypeVar("_C", bound=type)
_set = object.__setattr__


def record(*, frozen: bool = True, slots: bool = True) -> Callable[[_C], _C]:
    """The class decorator; only ``frozen=True, slots=True`` is offered."""
    if not (frozen and slots):
        raise TypeError("a record is frozen and slotted; use a dataclass otherwise")
    return _build


def _build(cls: _C) -> _C:
    if cls.__bases__ != (object,):
        raise TypeError(f"record {cls.__name__}: records do not inherit")
    body = dict(cls.__dict__)
    annotations = dict(body.get("__annotations__", {}))
    names = tuple(annotations)
    if "self" in names:
        raise TypeError(f"record {cls.__name__}: a field may not be called 'self'")
    defaults: dict[str, object] = {}
    for name in names:
        if name in body:
            value = body.pop(name)
            if type(value).__name__ == "Field":
                raise TypeError(f"record {cls.__name__}.{name}: field() needs a dataclass")
            defaults[name] = value
        elif defaults:
            raise TypeError(f"record {cls.__name__}: non-default field {name!r} after a default")
    body.pop("__dict__", None)
    body.pop("__weakref__", None)
    values = _getter(names)
    body.update(
        __slots__=names,
        __match_args__=names,
        __init__=_init(cls.__qualname__, annotations, defaults, "__post_init__" in body),
        __repr__=_repr(names),
        __eq__=_eq(values),
        __hash__=lambda self: hash(values(self)),
        __setattr__=_frozen,
        __delattr__=_frozen,
        __reduce__=lambda self: (self.__class__, values(self)),
        __dataclass_fields__=_Described(annotations, defaults),
    )
    built: _C = type(cls)(cls.__name__, cls.__bases__, body)
    return built


class _Described:
    """``__dataclass_fields__`` (and ``__dataclass_params__``), made on first use from a
    dataclass with the same fields, then stored on the class in place of this."""

    def __init__(self, annotations: dict[str, Any], defaults: dict[str, object]) -> None:
        self.annotations, self.defaults = annotations, defaults

    def __get__(self, instance: object, owner: type) -> Any:
        from dataclasses import dataclass

        twin: type = dataclass(frozen=True)(
            type(owner.__name__, (), {"__annotations__": self.annotations, **self.defaults})
        )
        for name in ("__dataclass_fields__", "__dataclass_params__"):
            setattr(owner, name, getattr(twin, name))
        return getattr(owner, "__dataclass_fields__")  # noqa: B009 - set just above


def _getter(names: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
    """The fields' values as a tuple (``attrgetter`` returns a bare value for one name)."""
    if len(names) > 1:
        return attrgetter(*names)
    if names:
        one = attrgetter(names[0])
        return lambda self: (one(self),)
    return lambda self: ()


def _init(
    qualname: str, annotations: dict[str, Any], defaults: dict[str, object], post_init: bool
) -> Callable[..., None]:
    """The record's ``__init__``: the compiled template of its shape with the field names
    put in (parameter names and attribute constants), so no source is compiled per class."""
    names = tuple(annotations)
    template = _template(len(names), post_init)
    fields = {f"_f{i}": name for i, name in enumerate(names)}
    code = template.replace(
        co_name="__init__",
        co_varnames=("self", *names, *template.co_varnames[len(names) + 1 :]),
        co_consts=tuple(fields.get(c, c) if type(c) is str else c for c in template.co_consts),
    )
    if sys.version_info >= (3, 11):
        code = code.replace(co_qualname=f"{qualname}.__init__")
    init = FunctionType(code, _INIT_GLOBALS, "__init__", tuple(defaults.values()) or None)
    init.__qualname__ = f"{qualname}.__init__"
    init.__annotations__ = {**annotations, "return": None}
    return init


_INIT_GLOBALS: dict[str, Any] = {"_set": _set}


@cache
def _template(arity: int, post_init: bool) -> CodeType:
    """``def __init__(self, _f0, _f1, …)`` setting each field; compiled once per shape."""
    params = "".join(f", _f{i}" for i in range(arity))
    lines = [f"    _set(self, '_f{i}', _f{i})" for i in range(arity)]
    if post_init:
        lines.append("    self.__post_init__()")
    scope: dict[str, Any] = {}
    exec(f"def __init__(self{params}):\n" + ("\n".join(lines) or "    pass"), scope)
    code: CodeType = scope["__init__"].__code__
    return code


def _repr(names: tuple[str, ...]) -> Callable[[Any], str]:
    def __repr__(self: Any) -> str:
        inner = ", ".join(f"{n}={getattr(self, n)!r}" for n in names)
        return f"{self.__class__.__qualname__}({inner})"

    return __repr__


def _eq(values: Callable[[Any], tuple[Any, ...]]) -> Callable[[Any, object], Any]:
    def __eq__(self: Any, other: object) -> Any:
        if other.__class__ is self.__class__:
            return values(self) == values(other)
        return NotImplemented

    return __eq__


def _frozen(self: Any, name: str, *args: object) -> None:
    from dataclasses import FrozenInstanceError  # (dataclasses is not needed until then)

    raise FrozenInstanceError(f"cannot assign to field {name!r}")
