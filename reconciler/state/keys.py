"""Keyed hashes for the applied membership of lists whose vendor can be read.

Such a list is read afresh for every plan, so the state needs no address of it: a member is
kept under a keyed hash of its normalised address, and each managed field as a keyed hash of
its value, which is enough to tell *whether* something changed and on which side (three-way
drift, ownership), never *what* it was. The key is one secret per state, kept beside it in
the same backend (``salt``, private like the rest): the files alone (a CI artifact, a copy)
name nobody, and two states' hashes of one address differ. Whoever can read the state's
backend can test a guessed address against them: that is pseudonymisation, not anonymity,
and is documented as such in ``specs/state.md``."""

from __future__ import annotations

import hashlib
import re
import secrets

from reconciler.errors import StateError
from reconciler.state.blobs import Blobs

SALT = "salt"
#: Hex digits kept of an address's and a field value's SHA-256: 128 and 64 bits.
KEY_DIGITS = 32
FIELD_DIGITS = 16


def state_salt(blobs: Blobs, *, create: bool = False) -> str | None:
    """The state's secret, made (under the state's lock, by the caller) when ``create``."""
    data = blobs.get(SALT)
    if data is not None:
        salt = data.decode("ascii", "replace").strip()
        if not re.fullmatch(r"[0-9a-f]{64}", salt):  # it is written into SQL: hex only
            raise StateError(f"the state's key {blobs.location}/{SALT} is damaged")
        return salt
    if not create:
        return None
    salt = secrets.token_hex(32)
    blobs.put(SALT, salt.encode("ascii"))
    return salt


def key_of(email: str, salt: str) -> str:
    """An address's key; equal to :func:`key_sql` on the same normalised address."""
    return hashlib.sha256((salt + email).encode("utf-8")).hexdigest()[:KEY_DIGITS]


def field_hash(value: str, salt: str) -> str:
    return hashlib.sha256((salt + "\x1f" + value).encode("utf-8")).hexdigest()[:FIELD_DIGITS]


def key_sql(expr: str, salt: str) -> str:
    return f"substr(sha256('{salt}' || {expr}), 1, {KEY_DIGITS})"


def field_hash_sql(expr: str, salt: str) -> str:
    return f"substr(sha256('{salt}' || chr(31) || {expr}), 1, {FIELD_DIGITS})"
