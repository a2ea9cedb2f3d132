"""Known secret values, scrubbed from every text reconciler prints or stores.

The configuration registers each secret it substitutes (credentials, a DSN); every sink that
writes text a vendor, a file or a contributor could have put a secret into (error messages,
the state's ledger, plans, reports) passes it through :func:`scrub` first. This is defence in
depth: secrets are kept out of those texts by design, and this catches a path nobody foresaw
(a vendor that echoes the token in a 401 body, say).
"""

from __future__ import annotations

import re
import threading

MASK = "***"
#: Shorter values would mask ordinary words ("a", "yes") wherever they occur; a real
#: credential is longer.
MIN_LENGTH = 4

_lock = threading.Lock()
_secrets: set[str] = set()
_pattern: re.Pattern[str] | None = None


def register_secret(value: str | None) -> None:
    """Remember ``value`` as a secret: from now on :func:`scrub` masks it."""
    global _pattern
    if not value or len(value) < MIN_LENGTH:
        return
    with _lock:
        if value in _secrets:
            return
        _secrets.add(value)
        # Longest first, so a secret that contains another is masked whole.
        ordered = sorted(_secrets, key=len, reverse=True)
        _pattern = re.compile("|".join(re.escape(s) for s in ordered))


def scrub(text: str) -> str:
    """``text`` with every registered secret value replaced by ``***``."""
    pattern = _pattern
    if pattern is None or not text:
        return text
    return pattern.sub(MASK, text)


def forget_secrets() -> None:
    """Forget every registered secret (tests, and a process that loads another config)."""
    global _pattern
    with _lock:
        _secrets.clear()
        _pattern = None


__all__ = ["MASK", "MIN_LENGTH", "forget_secrets", "register_secret", "scrub"]
