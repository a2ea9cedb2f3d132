"""How large an input may be: each limit keeps a cost that grows with the input bounded, with a
clear error naming the limit and how to raise it.

The limits are set in the environment, by whoever runs reconciler (the CI job's owner), not in
the configuration, which a pull request's author writes: a hostile contributor must not be able
to lift the limit that stops their input.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from reconciler.errors import ConfigError, Problem


@dataclass(frozen=True)
class Limits:
    #: One YAML file of the configuration. ruamel.yaml parses about 0.3 MB/s, so this bounds
    #: a validate at about 15 s; bulk data belongs in CSV sources, which DuckDB reads.
    yaml_bytes: int = 4 << 20
    #: One line of a YAML file: ruamel.yaml's cost per line grows faster than the line (a
    #: 1 MB comment took a minute to parse); lines of this length cost about a microsecond a
    #: byte.
    yaml_line: int = 16 << 10
    #: One field value (a managed field), in characters: no vendor keeps more in one field,
    #: and every renderer's cost is bounded by it.
    field_chars: int = 4096


#: Peak memory each DuckDB connection (the engine's, and the one reading a plan's Parquet
#: files) may use before spilling to disk: the process stays under ~1 GiB RSS with the default
#: even for 10M-row lists (tests/benchmarks/bench_plan.py). Set by whoever runs reconciler.
DUCKDB_MEMORY = os.environ.get("RECONCILER_DUCKDB_MEMORY", "720MB")

#: Environment variable -> Limits attribute.
VARIABLES = {
    "RECONCILER_MAX_YAML_BYTES": "yaml_bytes",
    "RECONCILER_MAX_YAML_LINE": "yaml_line",
    "RECONCILER_MAX_FIELD_LENGTH": "field_chars",
}


def current() -> Limits:
    """The limits in force: the defaults, or what the environment sets."""
    values: dict[str, int] = {}
    for variable, attribute in VARIABLES.items():
        raw = os.environ.get(variable)
        if raw is None or raw == "":
            continue
        if not (raw.isascii() and raw.isdigit() and int(raw) > 0):
            raise ConfigError(
                Problem(
                    f"environment variable {variable} must be a whole number greater than 0, "
                    f"not {raw[:40]!r}"
                )
            )
        values[attribute] = int(raw)
    return Limits(**values)


def variable_of(attribute: str) -> str:
    return next(v for v, a in VARIABLES.items() if a == attribute)


__all__ = ["VARIABLES", "Limits", "current", "variable_of"]
