"""A list's current state at the vendor as the engine consumes it.

Whatever it comes from (an export file in the repository, or a provider reading the vendor
live), current state reaches the engine as a :class:`CurrentSnapshot`: SQL yielding
``email, status, f0..fN`` rows in reconciler's vocabulary, plus a fingerprint. This is the seam
that lets a provider plug in without touching the diff.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from reconciler.plan.model import CurrentStateRef

#: reconciler's own status words, which every vendor's mapping accepts as themselves.
OWN_WORDS: dict[str, str] = {
    word: word for word in ("active", "unsubscribed", "bounced", "complaint")
}


def status_sql(expr: str, words: Mapping[str, str]) -> str:
    """SQL mapping a vendor status word (``words``: the provider class's ``status_words``,
    commonest first) onto reconciler's vocabulary (NULL when unknown)."""
    ordered = {**words, **{w: o for w, o in OWN_WORDS.items() if w not in words}}
    whens = " ".join(f"WHEN {_quote(word)} THEN {_quote(ours)}" for word, ours in ordered.items())
    # Exports spell their statuses in lower case: the exact word is looked up first, and only
    # the rest is trimmed and lower-cased (which would cost as much as reading the file). A
    # CASE on the value tries its words in order, most rows matching the first; an IN list of
    # every word cost more than reading the column.
    return f"(CASE {expr} {whens} ELSE (CASE lower(trim({expr})) {whens} END) END)"


def _quote(word: str) -> str:
    return "'" + word.replace("'", "''") + "'"


class CurrentSnapshot(Protocol):
    def prepare(self, con: Any) -> None: ...

    def sql(self, *, positions: bool = False) -> str:
        """``(SELECT ord, src_file, email, raw_status, status, f0.. fN)`` over the snapshot;
        ``ord`` (the row number, for messages) only when ``positions`` is asked for."""
        ...

    def origin(self, src_file: int, ordinal: int) -> str: ...

    def ref(self, rows: int) -> CurrentStateRef: ...


@runtime_checkable
class LineCountable(Protocol):
    def rows_by_lines(self) -> int | None:
        """The rows, counted from the files' lines without parsing them, where that count is
        exact (every row one line, no blank lines); else None."""
        ...


@dataclass
class FileFingerprint:
    """sha256 of files, computed in a background thread while the engine reads them
    (hashlib releases the GIL on large buffers, so this costs little wall time)."""

    paths: Sequence[Path]
    _digest: str = ""
    _thread: threading.Thread | None = field(default=None, repr=False)

    def start(self) -> FileFingerprint:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        digest = hashlib.sha256()
        for path in self.paths:
            with path.open("rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 22), b""):
                    digest.update(chunk)
        self._digest = digest.hexdigest()

    def hexdigest(self) -> str:
        if self._thread is None:
            self._run()
        else:
            self._thread.join()
        return self._digest


def now_utc() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@dataclass
class UnknownSnapshot:
    """The current state of a list whose vendor has no documented way to read membership and
    for which no export file is configured: taken as empty, and said so in the plan. Every
    declared member is then planned as an add, which such vendors apply idempotently."""

    reason: str
    field_count: int = 0

    def prepare(self, con: Any) -> None:
        return None

    def sql(self, *, positions: bool = False) -> str:
        fields = "".join(f", NULL::VARCHAR AS f{i}" for i in range(self.field_count))
        return (
            "(SELECT NULL::UBIGINT AS ord, 0 AS src_file, NULL::VARCHAR AS email, "
            f"NULL::VARCHAR AS raw_status, NULL::VARCHAR AS status{fields} WHERE false)"
        )

    def origin(self, src_file: int, ordinal: int) -> str:
        return self.reason

    def ref(self, rows: int) -> CurrentStateRef:
        return CurrentStateRef(
            "unknown", self.reason, 0, hashlib.sha256(b"").hexdigest(), now_utc()
        )
