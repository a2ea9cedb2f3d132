"""Keyed hashes of addresses and field values, in Python and in DuckDB's SQL, equal to each
other (``reconciler/state/keys.py`` keeps the key: one secret per state, hex only)."""

from __future__ import annotations

import hashlib

#: Hex digits kept of an address's and a field value's SHA-256: 128 and 64 bits.
KEY_DIGITS = 32
FIELD_DIGITS = 16


def key_of(email: str, salt: str) -> str:
    """An address's key; equal to :func:`key_sql` on the same normalised address."""
    return hashlib.sha256((salt + email).encode("utf-8")).hexdigest()[:KEY_DIGITS]


def field_hash(value: str, salt: str) -> str:
    return hashlib.sha256((salt + "\x1f" + value).encode("utf-8")).hexdigest()[:FIELD_DIGITS]


def _hex(salt: str) -> str:
    if not salt or salt.strip("0123456789abcdef"):  # it is written into SQL
        raise ValueError("a key must be lower-case hex")
    return salt


def key_sql(expr: str, salt: str) -> str:
    salt = _hex(salt)
    return f"substr(sha256('{salt}' || {expr}), 1, {KEY_DIGITS})"


def field_hash_sql(expr: str, salt: str) -> str:
    salt = _hex(salt)
    return f"substr(sha256('{salt}' || chr(31) || {expr}), 1, {FIELD_DIGITS})"
