"""Known secret values, scrubbed from every text reconciler prints or stores.

The configuration registers each secret it substitutes (credentials, a DSN); every sink that
writes text a vendor, a file or a contributor could have put a secret into (error messages,
the state's ledger, plans, reports) passes it through :func:`scrub` first. This is defence in
depth: secrets are kept out of those texts by design, and this catches a path nobody foresaw
(a vendor that echoes the token in a 401 body, say).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from typing import Any

MASK = "***"
#: Shorter values would mask ordinary words ("a", "yes") wherever they occur; a real
#: credential is longer.
MIN_LENGTH = 4

_lock = threading.Lock()
_secrets: set[str] = set()
_pattern: re.Pattern[str] | None = None
#: Every form a secret is written in: as it is, and as a JSON writer puts it inside a string
#: (quotes, backslashes and control characters escaped; non-ASCII raw or as \uXXXX). Looked
#: for with ``in``, several times faster than a regular expression over a large document.
_forms: tuple[str, ...] = ()


def register_secret(value: str | None) -> None:
    """Remember ``value`` as a secret: from now on :func:`scrub` masks it."""
    global _pattern, _forms
    if not value or len(value) < MIN_LENGTH:
        return
    with _lock:
        if value in _secrets:
            return
        _secrets.add(value)
        _pattern = _alternation(_secrets)
        _forms = tuple(sorted({form for s in _secrets for form in (s, *_json_forms(s))}))


def _alternation(values: set[str]) -> re.Pattern[str]:
    # Longest first, so a secret that contains another is masked whole.
    ordered = sorted(values, key=len, reverse=True)
    return re.compile("|".join(re.escape(s) for s in ordered))


def _json_forms(value: str) -> set[str]:
    return {json.dumps(value, ensure_ascii=as_ascii)[1:-1] for as_ascii in (False, True)}


def scrub(text: str) -> str:
    """``text`` with every registered secret value replaced by ``***``."""
    pattern = _pattern
    if pattern is None or not text:
        return text
    return pattern.sub(MASK, text)


def scrub_data(value: Any) -> Any:
    """A JSON-like value (dicts, lists, tuples, strings, scalars) with every string in it
    scrubbed, dictionary keys included; ``value`` itself when no secret is registered."""
    if _pattern is None:
        return value
    return _scrub_data(value)


def _scrub_data(value: Any) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {_scrub_data(k): _scrub_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub_data(item) for item in value]
    return value


def holds_secret(text: str) -> bool:
    """True when ``text`` holds a registered secret as it is, or as JSON escapes it."""
    return any(form in text for form in _forms)


def scrub_json(text: str, dump: Callable[[Any], str]) -> str:
    """Serialised JSON ``text`` with every secret scrubbed from its strings.

    Masking the serialised text itself could break it (a secret of digits inside a number, a
    secret spanning a quote), so a text that holds one is decoded, scrubbed string by string
    and serialised again with ``dump``; the common text, which holds none, is returned as it
    is after one search."""
    if not holds_secret(text):
        return text
    return dump(scrub_data(json.loads(text)))


def scrub_json_lines(text: str, dump: Callable[[Any], str]) -> str:
    """JSON Lines ``text`` (one document a line) scrubbed as :func:`scrub_json` does, line by
    line; ``dump`` writes one document without its line ending."""
    if not holds_secret(text):
        return text
    # split("\n"), not splitlines(): JSON leaves U+2028 and other line breaks raw in strings.
    return "\n".join(scrub_json(line, dump) if line.strip() else line for line in text.split("\n"))


def forget_secrets() -> None:
    """Forget every registered secret (tests, and a process that loads another config)."""
    global _pattern, _forms
    with _lock:
        _secrets.clear()
        _pattern = None
        _forms = ()


__all__ = [
    "MASK",
    "MIN_LENGTH",
    "forget_secrets",
    "holds_secret",
    "register_secret",
    "scrub",
    "scrub_data",
    "scrub_json",
    "scrub_json_lines",
]
