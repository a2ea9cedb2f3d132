"""Plain adds built in bulk: their field values, shared between rows that carry the same."""

from __future__ import annotations

import pytest

from reconciler.engine.merge import SharedValues, plain_adds
from reconciler.model import ChangeKind
from reconciler.plan.model import ListChange
from reconciler.sources.desired import DesiredSources


def _adds(
    rows: list[tuple[str | None, ...]], managed: list[str], limit: int = 1 << 16
) -> list[ListChange]:
    shared = SharedValues(managed, limit=limit)
    return plain_adds(
        DesiredSources({}, [], [], {}, {}),
        [(f"a{i}@example.com", f"m.csv:{i + 2}", *row) for i, row in enumerate(rows)],
        managed,
        True,
        shared,
    )


def test_values_are_stripped_and_an_empty_one_is_no_opinion() -> None:
    adds = _adds([(" Ann ",), ("",), (None,), ("   ",), ("Bob",)], ["first_name"])
    assert [dict(a.fields) for a in adds] == [
        {"first_name": "Ann"},
        {},
        {},
        {},
        {"first_name": "Bob"},
    ]
    assert {a.kind for a in adds} == {ChangeKind.ADD}
    assert [a.reason for a in adds] == [f"m.csv:{i}" for i in range(2, 7)]
    assert all(a.previous == {} for a in adds)


def test_rows_with_the_same_values_share_one_read_only_mapping() -> None:
    adds = _adds(
        [("Ann", "FR"), ("Ann", "FR"), ("Ann", "DE"), ("", "FR")], ["first_name", "country"]
    )
    assert [dict(a.fields) for a in adds] == [
        {"first_name": "Ann", "country": "FR"},
        {"first_name": "Ann", "country": "FR"},
        {"first_name": "Ann", "country": "DE"},
        {"country": "FR"},
    ]
    assert adds[0].fields is adds[1].fields
    assert adds[0].fields is not adds[2].fields
    with pytest.raises(TypeError):
        adds[0].fields["first_name"] = "Eve"  # type: ignore[index]


def test_values_stay_right_when_the_cache_starts_afresh() -> None:
    names = [f"N{i % 5}" for i in range(23)]
    adds = _adds([(n,) for n in names], ["first_name"], limit=3)
    assert [a.fields["first_name"] for a in adds] == names
