"""E-mail address normalisation and validation.

The *match form* of an address is ``address.strip(" ")``, lower-cased when it is ASCII: two
addresses are the same contact when their match forms are equal. Only ASCII is case-folded
because Unicode case mapping folds some non-ASCII letters into ASCII ones (``İ`` → ``i``, the
Kelvin sign ``K`` → ``k``): ``İvan@example.com`` would become another person's
``ivan@example.com``. A non-ASCII address keeps its letters, and is invalid. The *send form*
is the match form too (lower case), because Yesmail rejects upper-case addresses and no vendor
we support treats the local part as case-sensitive. The same rules are expressed in SQL
(``SQL_NORMALISE``/``SQL_VALID``) so that the DuckDB engine and this module can never disagree;
a property test checks they agree, on Unicode case-mapping traps too.
"""

from __future__ import annotations

import re

# Pragmatic RFC 5321 subset: dot-atom local part, a domain of at least two labels with a TLD of
# letters. Quoted local parts and IP-literal domains are rejected: no ESP accepts them in bulk.
_LOCAL = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
EMAIL_PATTERN = rf"{_LOCAL}@(?:{_LABEL}\.)+[A-Za-z]{{2,63}}"
_EMAIL_RE = re.compile(EMAIL_PATTERN)
MAX_LENGTH = 254
MAX_LOCAL_LENGTH = 64  # RFC 5321, 4.5.3.1.1


def normalise(address: str) -> str:
    """Return the match (and send) form of ``address``: spaces trimmed, lower-cased.

    Only spaces are trimmed: any other white space (a tab, a non-breaking space) left around an
    address makes it invalid, so it is reported with its line instead of being guessed at."""
    value = address.strip(" ")
    return value.lower() if value.isascii() else value


def invalid_reason(address: str) -> str | None:
    """Why ``address`` (already normalised or not) is not a valid e-mail address, or None."""
    value = normalise(address)
    if not value:
        return "empty e-mail address"
    if len(value) > MAX_LENGTH:
        return f"e-mail address longer than {MAX_LENGTH} characters"
    if value.find("@") > MAX_LOCAL_LENGTH:
        return f"e-mail address whose local part is longer than {MAX_LOCAL_LENGTH} characters"
    if not value.isascii():
        char = next(c for c in value if not c.isascii())
        return (
            f"invalid e-mail address {value!r}: U+{ord(char):04X} is not an ASCII character "
            "(addresses are matched and sent as ASCII)"
        )
    if _EMAIL_RE.fullmatch(value) is None:
        return f"invalid e-mail address {value!r}"
    return None


def is_valid(address: str) -> bool:
    return invalid_reason(address) is None


def SQL_TRIM_SPACES(column: str) -> str:
    """DuckDB expression: ``column.strip(" ")``. DuckDB's ``trim`` also strips other white
    space (a non-breaking space) and costs as much as reading the file; most values have no
    space to trim, so they skip it."""
    return (
        f"(CASE WHEN starts_with({column}, ' ') OR ends_with({column}, ' ') "
        f"THEN trim({column}, ' ') ELSE {column} END)"
    )


def SQL_NORMALISE(column: str) -> str:
    """DuckDB expression computing the match form of ``column`` (same as :func:`normalise`).
    A string is ASCII when its bytes and its characters are as many: a test of two stored
    lengths, where a regular expression would cost as much as reading the file."""
    trimmed = SQL_TRIM_SPACES(column)
    return (
        f"(CASE WHEN strlen({column}) = length({column}) THEN lower({trimmed}) ELSE {trimmed} END)"
    )


def SQL_VALID(column: str) -> str:
    """DuckDB boolean expression: ``column`` (a match form) is a valid address."""
    pattern = EMAIL_PATTERN.replace("'", "''")
    return (
        f"(length({column}) <= {MAX_LENGTH} AND strpos({column}, '@') <= {MAX_LOCAL_LENGTH + 1} "
        f"AND regexp_full_match({column}, '{pattern}'))"
    )


def mask(address: str) -> str:
    """Redacted form for PR comments and logs: ``j***@example.com``."""
    local, at, domain = address.partition("@")
    if not at:
        return "***"
    return f"{local[:1]}***@{domain}"
