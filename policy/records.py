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
fifty such classes. A record compiles only its ``__init__``, on first construction; the
other methods are shared closures over the field names.

Modules import it for the type checker as the dataclass it mirrors::

    if TYPE_CHECKING:
        from dataclasses import dataclass as record
    else:
        from .records import record

Not supported (use a dataclass): inheritance between records, ``field(...)``,
``ClassVar`` fields, mutable or unfrozen records.
"""

from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter
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
        __repr__=_repr(names),
        __eq__=_eq(values),
        __hash__=lambda self: hash(values(self)),
        __setattr__=_frozen,
        __delattr__=_frozen,
        __reduce__=lambda self: (self.__class__, values(self)),
        __dataclass_fields__=_Described(annotations, defaults),
    )
    built: _C = type(cls)(cls.__name__, cls.__bases__, body)
    built.__init__ = _first_init(built, names, defaults, "__post_init__" in body)  # type: ignore[misc]
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


def _first_init(
    cls: type, names: tuple[str, ...], defaults: dict[str, object], post_init: bool
) -> Callable[..., None]:
    """A stand-in ``__init__`` that compiles the real one and puts it in its place: a
    record that is never constructed in a process costs no compilation."""

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        init = _init(cls.__qualname__, names, defaults, post_init)
        cls.__init__ = init  # type: ignore[misc]
        init(self, *args, **kwargs)

    __init__.__qualname__ = f"{cls.__qualname__}.__init__"
    return __init__


def _init(
    qualname: str, names: tuple[str, ...], defaults: dict[str, object], post_init: bool
) -> Callable[..., None]:
    params = ", ".join(f"{n}=_d_{n}" if n in defaults else n for n in names)
    lines = [f"    _set(self, {n!r}, {n})" for n in names]
    if post_init:
        lines.append("    self.__post_init__()")
    source = f"def __init__(self, {params}) -> None:\n" + ("\n".join(lines) or "    pass")
    scope: dict[str, Any] = {"_set": _set, **{f"_d_{n}": v for n, v in defaults.items()}}
    exec(source, scope)  # the text is built from field names only
    init: Callable[..., None] = scope["__init__"]
    init.__qualname__ = f"{qualname}.__init__"
    return init


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
