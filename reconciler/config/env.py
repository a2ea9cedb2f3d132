"""``${env:NAME}``: where the configuration takes a value from the environment, and where not.

The environment of a CI run holds the vendors' credentials, and a pull request writes the
configuration: a reference anywhere would let it put ``${env:ONGAGE_PASSWORD}`` into a field
value that the plan prints and the vendor receives. So references are substituted only in the
settings that take secrets or connection details (:data:`SUBSTITUTED`), every value substituted
is registered with :func:`reconciler.redact.register_secret` for the output sinks to scrub, and
a reference anywhere else is an error. ``$${env:NAME}`` is a literal ``${env:NAME}``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from reconciler.config.locations import KeyPath
from reconciler.redact import register_secret

#: Key paths whose string values may hold ``${env:NAME}``; ``*`` stands for any one key.
SUBSTITUTED: tuple[tuple[str, ...], ...] = (
    ("providers", "*", "credentials", "*"),
    ("providers", "*", "base_url"),
    ("providers", "*", "staging", "bucket"),
    ("providers", "*", "staging", "endpoint_url"),
    ("warehouses", "*", "dsn"),
)
WHERE_SUBSTITUTED = (
    "providers.NAME.credentials.*, providers.NAME.base_url, "
    "providers.NAME.staging.bucket / endpoint_url and warehouses.NAME.dsn"
)

# ``$${env:`` (escaped), ``${env:NAME}`` (a reference) or ``${env:`` not followed by a name and
# a closing brace (malformed: never taken for a literal, or a typo would ship as text).
_TOKEN_RE = re.compile(r"\$(\$?)\{env:(?:([A-Za-z_][A-Za-z0-9_]*)\})?")


def substituted_here(path: KeyPath) -> bool:
    return any(
        len(pattern) == len(path)
        and all(p == "*" or p == part for p, part in zip(pattern, path, strict=True))
        for pattern in SUBSTITUTED
    )


def has_reference(value: str) -> bool:
    """``value`` holds ``${env:`` that is not escaped."""
    return any(not m.group(1) for m in _TOKEN_RE.finditer(value))


@dataclass(frozen=True)
class Substitution:
    value: str
    problems: tuple[str, ...] = ()
    #: Variables left unset where ``substitute`` was told they may be (read as empty).
    unset: tuple[str, ...] = ()


def is_credential(path: KeyPath) -> bool:
    """``providers.NAME.credentials.KEY``: a secret that only talking to the vendor needs."""
    return len(path) == 4 and path[0] == "providers" and path[2] == "credentials"


def substitute(value: str, env: Mapping[str, str], *, may_be_unset: bool = False) -> Substitution:
    """``value`` with each reference replaced by its variable (registered as a secret) and
    each escape by a literal; problems say which references could not be replaced. With
    ``may_be_unset``, an unset variable is read as empty and named in ``unset`` instead."""
    problems: list[str] = []
    unset: list[str] = []

    def replace(match: re.Match[str]) -> str:
        escaped, name = match.group(1), match.group(2)
        if escaped:
            return match.group(0)[1:]
        if name is None:
            problems.append(
                "unterminated or malformed ${env:…} reference: write ${env:NAME} (letters, "
                "digits and _, closed by '}'), or $${env:…} for a literal"
            )
            return match.group(0)
        if name not in env and may_be_unset:
            unset.append(name)
            return ""
        if name not in env:
            problems.append(
                f"environment variable {name} is not set (referenced as ${{env:{name}}})"
            )
            return ""
        register_secret(env[name])
        return env[name]

    return Substitution(_TOKEN_RE.sub(replace, value), tuple(problems), tuple(unset))


def unescape(value: str) -> str:
    """``value`` outside the substituted settings, which holds no reference: escapes only."""
    return _TOKEN_RE.sub(lambda m: m.group(0)[1:], value) if "${env:" in value else value


def refused() -> str:
    """The message for a reference outside :data:`SUBSTITUTED`."""
    return (
        f"${{env:…}} is only substituted in {WHERE_SUBSTITUTED}; here it would put an "
        "environment variable into a value that plans and messages show or vendors receive "
        "(write $${env:…} for a literal)"
    )
