"""The rows of one list's plan, grouped by kind (in ``KIND_ORDER``), each group in address order.

A first sync or a mass update plans a row for every member: ten million rows held as Python
objects took gigabytes. So the rows are a :class:`Changes` collection with two stores behind one
interface: :class:`InMemoryChanges` (a small plan, or one a test builds by hand) and
``ColumnarChanges`` (:mod:`reconciler.plan.columnar`: one Parquet file per kind, written by the
engine and read back a chunk at a time). Consumers ask for counts, a kind's rows as a stream,
or its first few rows; none of them needs every row in memory at once.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from itertools import chain, islice
from operator import itemgetter
from types import MappingProxyType
from typing import NamedTuple

from reconciler.model import KIND_ORDER, ChangeKind

FieldValues = Mapping[str, str | None]


#: The empty field values that rows without fields share (read-only).
NO_VALUES: FieldValues = MappingProxyType({})


class ListChange(NamedTuple):
    """One row of a plan: what happens to one address on one list, and why.

    ``fields`` holds the desired values of managed fields (for add, resubscribe and update);
    ``previous`` the vendor's current values of the fields an update changes.
    ``reason`` says what caused the change: the source ``file:line`` that declared it, the
    suppression entry, or the vendor status (e.g. ``vendor status: unsubscribed``).

    A named tuple rather than a dataclass: plans hold millions of these, and a tuple is made
    several times faster and smaller.
    """

    kind: ChangeKind
    email: str
    reason: str
    fields: FieldValues = NO_VALUES
    previous: FieldValues = NO_VALUES


#: Rows fetched from a columnar store at a time: big enough to amortise the call, small
#: enough that a stream never holds much.
CHUNK_ROWS = 1 << 14

_EMAIL = itemgetter(1)

#: Plans with at most this many rows are held in memory (about 20 MB of Python objects at
#: this size); larger ones go to Parquet files. Read when a store is made (tests change it).
IN_MEMORY_ROWS = 50_000


class Changes(ABC):
    """A list's planned rows. Equal to another collection (or a tuple) holding the same rows
    in the same order; indexable for the small plans of tests and examples."""

    @property
    @abstractmethod
    def counts(self) -> Mapping[ChangeKind, int]:
        """Rows per kind, every kind of ``KIND_ORDER`` present."""

    @abstractmethod
    def of_kind(self, kind: ChangeKind) -> Iterator[ListChange]:
        """The rows of ``kind`` in address order, as a stream."""

    @abstractmethod
    def without(self, emails: Mapping[ChangeKind, Collection[str]]) -> Changes:
        """These rows less those of each kind whose address is in ``emails[kind]``."""

    def columns(
        self, kind: ChangeKind, names: Sequence[str], size: int
    ) -> Iterator[tuple[list[str], list[list[str | None]]]]:
        """The rows of ``kind`` in address order, ``size`` at a time, as columns: their
        addresses and, for each of ``names``, its desired value (None: not set). Batch files
        are written from these, with no row object in between."""
        rows = self.of_kind(kind)
        while chunk := list(islice(rows, size)):
            yield [c.email for c in chunk], [[c.fields.get(n) for c in chunk] for n in names]

    def head(self, kind: ChangeKind, n: int | None) -> list[ListChange]:
        """The first ``n`` rows of ``kind`` (all of them for ``None``)."""
        return list(self.of_kind(kind) if n is None else islice(self.of_kind(kind), n))

    def __iter__(self) -> Iterator[ListChange]:
        return chain.from_iterable(self.of_kind(kind) for kind in KIND_ORDER if self.counts[kind])

    def __len__(self) -> int:
        return sum(self.counts.values())

    def __bool__(self) -> bool:
        return any(self.counts.values())

    def __getitem__(self, index: int) -> ListChange:
        if not 0 <= index < len(self):
            raise IndexError(index)
        return next(islice(iter(self), index, None))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Changes | tuple | list):
            return NotImplemented
        if len(self) != len(other):
            return False
        return all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        counts = ", ".join(f"{k.value}={n}" for k, n in self.counts.items() if n)
        return f"{type(self).__name__}({counts})"


class InMemoryChanges(Changes):
    """Rows held as Python objects."""

    def __init__(self, groups: Mapping[ChangeKind, Sequence[ListChange]]) -> None:
        # Sorted here so that every store streams a kind in address order (the engine's
        # groups already are: sorting a sorted run is one linear pass).
        self._groups = {
            kind: tuple(sorted(groups.get(kind, ()), key=_EMAIL)) for kind in KIND_ORDER
        }
        self._counts = {kind: len(rows) for kind, rows in self._groups.items()}

    @classmethod
    def of(cls, rows: Iterable[ListChange]) -> InMemoryChanges:
        """Rows in any order, grouped by kind, each kind in address order."""
        groups: dict[ChangeKind, list[ListChange]] = {kind: [] for kind in KIND_ORDER}
        for row in rows:
            groups[row.kind].append(row)
        return cls(groups)

    @property
    def counts(self) -> Mapping[ChangeKind, int]:
        return self._counts

    def of_kind(self, kind: ChangeKind) -> Iterator[ListChange]:
        return iter(self._groups[kind])

    def head(self, kind: ChangeKind, n: int | None) -> list[ListChange]:
        rows = self._groups[kind]
        return list(rows if n is None else rows[:n])

    def __iter__(self) -> Iterator[ListChange]:
        return chain.from_iterable(self._groups.values())

    def without(self, emails: Mapping[ChangeKind, Collection[str]]) -> Changes:
        if not any(emails.values()):
            return self
        return InMemoryChanges(
            {
                kind: [c for c in rows if c.email not in gone]
                if (gone := emails.get(kind))
                else rows
                for kind, rows in self._groups.items()
            }
        )
