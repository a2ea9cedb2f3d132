"""Text that comes from a contributor (YAML values, CSV cells and headers): which characters a
value may hold, and how much of it a message may quote.

A value is refused when it holds a character that prints as nothing or rewrites what is shown
around it: C0 controls other than tab and line breaks (quoted CSV fields may span lines), DEL
and C1 controls, the byte order mark and zero-width space, invisible operators, and the
bidirectional embeddings, overrides and isolates (which make a plan line read differently from
what it holds). Zero-width joiners and the left-to-right / right-to-left marks stay allowed:
Persian, Indic scripts and emoji need them. The ranges are written once and give both the
Python check and the DuckDB (RE2) pattern, so that the two can never disagree.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

#: (first, last, what it is) for every refused range of code points.
FORBIDDEN_RANGES: tuple[tuple[int, int, str], ...] = (
    (0x00, 0x08, "a control character"),
    (0x0B, 0x0C, "a control character"),
    (0x0E, 0x1F, "a control character"),
    (0x7F, 0x9F, "a control character"),
    (0x200B, 0x200B, "an invisible format character"),
    (0x202A, 0x202E, "a bidirectional control"),
    (0x2060, 0x2064, "an invisible format character"),
    (0x2066, 0x2069, "a bidirectional control"),
    (0x206A, 0x206F, "an invisible format character"),
    (0xFEFF, 0xFEFF, "a byte order mark"),
    (0xFFF9, 0xFFFB, "an invisible format character"),
)

#: The most a message quotes of one value, and the most values it lists.
MAX_QUOTED_CHARS = 40
MAX_QUOTED_NAMES = 5


def _class(escape: str) -> str:
    parts = []
    for first, last, _ in FORBIDDEN_RANGES:
        parts.append(escape % first if first == last else f"{escape % first}-{escape % last}")
    return "[" + "".join(parts) + "]"


_FORBIDDEN_RE = re.compile(_class(r"\U%08x"))
#: RE2 (DuckDB) pattern matching any forbidden character; plain ASCII, safe in a SQL literal.
SQL_FORBIDDEN_PATTERN = _class(r"\x{%x}")


def forbidden_character(value: str) -> str | None:
    """What is wrong with ``value`` in the user's words (the first forbidden character, where
    it is), or None when it holds none."""
    match = _FORBIDDEN_RE.search(value)
    if match is None:
        return None
    code = ord(match.group())
    what = next(kind for first, last, kind in FORBIDDEN_RANGES if first <= code <= last)
    return f"holds U+{code:04X} ({what}) at character {match.start() + 1}"


def refusal(value: str) -> str | None:
    """The full message for a value holding a forbidden character, or None."""
    found = forbidden_character(value)
    if found is None:
        return None
    return f"{found}; control and invisible format characters are refused in values: remove it"


def sql_has_forbidden(column: str) -> str:
    """DuckDB boolean expression: ``column`` holds a forbidden character (false when NULL)."""
    return f"coalesce(regexp_matches({column}, '{SQL_FORBIDDEN_PATTERN}'), false)"


def excerpt(value: str, limit: int = MAX_QUOTED_CHARS) -> str:
    """``value`` as a message may quote it: cut at ``limit`` characters (marked with "…"),
    non-printable characters escaped as ``repr`` escapes them."""
    cut = value[:limit]
    text = cut if cut.isprintable() else repr(cut)[1:-1]
    return text + ("…" if len(value) > limit else "")


def quoted(value: str, limit: int = MAX_QUOTED_CHARS) -> str:
    """``repr(value)`` of at most ``limit`` characters (marked with "…" when cut)."""
    return repr(value[:limit]) + ("…" if len(value) > limit else "")


def names(values: Sequence[str], most: int = MAX_QUOTED_NAMES) -> str:
    """Values (such as a file's header) listed in a message: the first ``most``, each an
    :func:`excerpt`, and how many more there are."""
    shown = ", ".join(excerpt(v) for v in values[:most])
    rest = len(values) - most
    return f"{shown}, … and {rest} more" if rest > 0 else shown
