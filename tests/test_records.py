"""policy.support.records: a record behaves as the frozen, slotted dataclass it replaces."""

from __future__ import annotations

import copy
import dataclasses
import inspect
import pickle
from dataclasses import FrozenInstanceError, dataclass, field

import pytest

from policy.support.records import record


@record(frozen=True, slots=True)
class Point:
    """A point."""

    x: int
    y: int = 0
    label: str | None = None


@record(frozen=True, slots=True)
class Checked:
    value: int

    def __post_init__(self) -> None:
        if self.value < 0:
            raise ValueError("negative")


@record(frozen=True, slots=True)
class Empty:
    pass


@dataclass(frozen=True, slots=True)
class Twin:
    x: int
    y: int = 0
    label: str | None = None


def test_construction_defaults_and_keywords() -> None:
    assert Point(1) == Point(1, 0, None) == Point(x=1, label=None)
    assert Point(1, 2).y == 2
    with pytest.raises(TypeError, match=r"missing 1 required positional argument: 'x'"):
        Point()  # type: ignore[call-arg]
    with pytest.raises(TypeError, match=r"takes from 2 to 4 positional arguments but 5"):
        Point(1, 2, "a", 4)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match=r"unexpected keyword argument 'z'"):
        Point(1, z=3)  # type: ignore[call-arg]


def test_repr_eq_hash_as_a_dataclass() -> None:
    assert repr(Point(1, 2, "a")) == repr(Twin(1, 2, "a")).replace("Twin", "Point")
    assert Point(1, 2) != Point(2, 1)
    assert Point(1) != Twin(1)  # another class is never equal
    assert hash(Point(1, 2)) == hash(Point(1, 2))
    assert len({Point(1), Point(1), Point(2)}) == 2
    assert Empty() == Empty() and repr(Empty()) == "Empty()"
    assert Point.__doc__ == "A point."


def test_frozen_and_slotted() -> None:
    p = Point(1)
    with pytest.raises(FrozenInstanceError, match=r"cannot assign to field 'x'"):
        p.x = 2  # type: ignore[misc]
    with pytest.raises(FrozenInstanceError, match=r"field 'x'"):
        del p.x  # type: ignore[misc]
    assert not hasattr(p, "__dict__")
    assert Point.__slots__ == ("x", "y", "label")
    assert Point.__match_args__ == ("x", "y", "label")


def test_init_has_the_fields_signature() -> None:
    expected = "(x: 'int', y: 'int' = 0, label: 'str | None' = None) -> None"
    assert str(inspect.signature(Point.__init__)).replace("self, ", "") == expected
    assert Point.__init__.__qualname__ == "Point.__init__"
    with pytest.raises(TypeError, match="missing 1 required positional argument: 'x'"):
        Point()  # type: ignore[call-arg]


def test_post_init_runs() -> None:
    assert Checked(1).value == 1
    with pytest.raises(ValueError, match="negative"):
        Checked(-1)


def test_pickle_and_copy_keep_the_value() -> None:
    p = Point(1, 2, "a")
    assert pickle.loads(pickle.dumps(p)) == p
    assert copy.copy(p) == p and copy.deepcopy(p) == p
    with pytest.raises(ValueError, match=r"^negative$"):
        # the pickled 1 turned into -1: unpickling builds through __init__, so it is checked
        pickle.loads(pickle.dumps(Checked(1)).replace(b"K\x01", b"J\xff\xff\xff\xff"))


def test_pattern_matching() -> None:
    match Point(1, 2):
        case Point(a, b):
            assert (a, b) == (1, 2)
        case _:
            pytest.fail("no match")


def test_dataclasses_introspection_works() -> None:
    p = Point(1, 2)
    assert dataclasses.is_dataclass(p) and dataclasses.is_dataclass(Point)
    assert [f.name for f in dataclasses.fields(p)] == ["x", "y", "label"]
    assert dataclasses.fields(Point)[1].default == 0
    assert dataclasses.replace(p, label="b") == Point(1, 2, "b")
    assert dataclasses.asdict(p) == {"x": 1, "y": 2, "label": None}


def test_what_a_record_does_not_do() -> None:
    with pytest.raises(TypeError, match=r"a record is frozen and slotted"):
        record(frozen=False, slots=True)
    with pytest.raises(TypeError, match=r"record Child: records do not inherit"):

        @record(frozen=True, slots=True)
        class Child(Point):  # type: ignore[misc]
            z: int = 0

    with pytest.raises(TypeError, match=r"record Factory\.items: field\(\) needs a dataclass"):

        @record(frozen=True, slots=True)
        class Factory:
            items: list[int] = field(default_factory=list)

    with pytest.raises(TypeError, match=r"record Selfish: a field may not be called 'self'"):

        @record(frozen=True, slots=True)
        class Selfish:
            self: int

    with pytest.raises(TypeError, match=r"record Order: non-default field 'b' after a default"):

        @record(frozen=True, slots=True)
        class Order:
            a: int = 0
            b: int  # type: ignore[misc]
