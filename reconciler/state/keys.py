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

import re
import secrets

from reconciler.engine.keyed import field_hash, field_hash_sql, key_of, key_sql
from reconciler.errors import StateError
from reconciler.state.blobs import Blobs

__all__ = ["SALT", "field_hash", "field_hash_sql", "key_of", "key_sql", "state_salt"]

SALT = "salt"


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
