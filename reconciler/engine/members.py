"""A list's member rows in DuckDB: read once as 64-bit keys over every row, read again for the
few rows that need their real values.

Millions of raw addresses would not fit the memory budget, and numbering rows (for ``file:line``)
keeps a read on one core. So the first read keeps keys only and runs on every core; the second
reads only the rows whose key is asked for, numbered, with large one-row-per-line files numbered
in parts side by side (see :meth:`reconciler.sources.csvfile.CsvFile.relation`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler import limits
from reconciler.address import SQL_NORMALISE, SQL_VALID
from reconciler.config.text import sql_has_forbidden
from reconciler.engine.duck import cores, field_hash_sql, hash2_sql, hash_sql, keep_join_sides
from reconciler.engine.merge import merge_declared
from reconciler.errors import Problem
from reconciler.sources.desired import CsvRowSource, DesiredSources, ListSources


def members_sql(
    entry: ListSources,
    *,
    positions: bool = True,
    rows: Mapping[int, int] | None = None,
    raw_keys: str | None = None,
    reread: bool = False,
) -> str:
    """Every member row of a list: ``src, ord, email (raw), f0..fN, e`` (``e`` the address's
    match form). Without ``positions``, ``ord`` is NULL and the files are read on every core;
    with ``rows`` (rows per source, as the first read counted them), large files are numbered
    in parts side by side. A ``reread`` drops blank rows, and with ``raw_keys`` keeps only the
    rows whose raw address hashes to a key in that table (column ``rh``), before any work on
    the others; the first read keeps every row DuckDB read, blank ones too."""
    aliases = entry.field_aliases
    parts = []
    for source in entry.members:
        cols = "".join(f", {a}" for a in aliases)
        if isinstance(source, CsvRowSource):
            sql = source.sql(
                positions=positions,
                parts=cores() if rows is not None else 1,
                rows=(rows or {}).get(source.src_id),
            )
        else:
            sql = source.sql()
        parts.append(f"SELECT src, ord, email{cols} FROM {sql}")
    if not parts:
        cols = "".join(f", NULL::VARCHAR AS {a}" for a in aliases)
        parts.append(
            "SELECT NULL::INTEGER AS src, NULL::UBIGINT AS ord, NULL::VARCHAR AS email"
            f"{cols} WHERE false"
        )
    union = " UNION ALL ".join(parts)
    if not reread:
        # Every row DuckDB read, blank ones included: a blank row's address is invalid, which
        # makes it hot, and the re-read drops it (filtering ten million rows here costs more).
        return f"(SELECT *, {SQL_NORMALISE('email')} AS e FROM ({union}))"
    if raw_keys is not None:
        union = f"SELECT u.* FROM ({union}) u SEMI JOIN {raw_keys} r ON hash(u.email) = r.rh"
    # A row with no value at all is a blank line, not a member (DuckDB yields one for a blank
    # line in a one-column file); a row with fields but no address is reported as invalid.
    # The fields are looked at only where the address may be blank.
    # (Written on ``email``, not ``e``: DuckDB would compute ``e`` twice, once for the filter.)
    blank_fields = "".join(f" AND nullif(trim({a}), '') IS NULL" for a in aliases)
    # A query's rows are records, never blank lines: one without an address is reported.
    records = [str(s.src_id) for s in entry.members if getattr(s, "rows_are_records", False)]
    kept = f" OR src IN ({', '.join(records)})" if records else ""
    return (
        f"(SELECT *, {SQL_NORMALISE('email')} AS e FROM ({union}) "
        "WHERE (email <> '' AND NOT starts_with(email, ' ')) "
        f"OR NOT (nullif(trim(email, ' '), '') IS NULL{blank_fields}){kept})"
    )


def ok_sql(entry: ListSources, e: str, prefix: str = "") -> str:
    """SQL: a member row is usable: its address (match form ``e``) is valid and no field value
    holds a control or invisible character (:mod:`reconciler.config.text`) or is longer than
    the field limit (:mod:`reconciler.limits`). A row that is not
    is hot, re-read and reported with its line, like an invalid address."""
    most = limits.current().field_chars
    fields = "".join(
        f" AND NOT {sql_has_forbidden(prefix + a)}"
        f" AND coalesce(length({prefix + a}) <= {most}, true)"
        for a in entry.field_aliases
    )
    return f"(coalesce({SQL_VALID(e)}, false){fields})"


def load_members(con: Any, entry: ListSources, special: str | None = None) -> dict[int, int]:
    """Table ``des``: every member row as 64-bit keys (``src, h, h2, fh0.., ok, rh, sp``), read
    on every core; ``rh`` hashes the raw address (a re-read finds its rows by it without
    normalising every address again); ``sp`` marks addresses in table ``special`` (suppressed
    or opted in). Returns the rows read per source."""
    fh = "".join(f", {field_hash_sql(a)} AS fh{i}" for i, a in enumerate(entry.field_aliases))
    sp = f"h IN (SELECT h FROM {special})" if special else "false"
    con.execute(
        f"CREATE OR REPLACE TABLE des AS SELECT *, {sp} AS sp FROM ("
        f"SELECT src, {hash_sql('e')} AS h, {hash2_sql('e')} AS h2{fh}, "
        f"{ok_sql(entry, 'e')} AS ok, hash(email) AS rh "
        f"FROM {members_sql(entry, positions=False)})"
    )
    counts: list[tuple[int, int]] = con.execute(
        "SELECT src, count(*) FROM des GROUP BY src"
    ).fetchall()
    return dict(counts)


def raw_members(
    entry: ListSources, keys: str, rows: Mapping[int, int], *, raw_keys: bool = True
) -> str:
    """SQL: the member rows whose address key is in table ``keys`` (column ``h``), numbered,
    with their values: ``src, ord, email, f0.., e, h, ok``. Run it under
    :func:`reconciler.engine.duck.keep_join_sides`, so that the keys are the hash tables. With
    ``raw_keys``, table ``raw_keys`` (see :func:`prepare_raw_keys`) must exist: it skips the
    other rows before their addresses are normalised, which pays when they are most rows."""
    return (
        f"(SELECT m.*, {ok_sql(entry, 'm.e', 'm.')} AS ok FROM ("
        f"SELECT *, {hash_sql('e')} AS h FROM "
        f"{members_sql(entry, rows=rows, raw_keys='raw_keys' if raw_keys else None, reread=True)}"
        f") m SEMI JOIN {keys} k ON m.h = k.h)"
    )


def prepare_raw_keys(con: Any, keys: str) -> None:
    """Table ``raw_keys``: the raw addresses' hashes of the member rows whose key is in table
    ``keys``, for :func:`raw_members`."""
    con.execute(
        "CREATE OR REPLACE TABLE raw_keys AS SELECT DISTINCT rh FROM des "
        f"WHERE h IN (SELECT h FROM {keys})"
    )


def member_problems(
    con: Any, desired: DesiredSources, entry: ListSources, rows: Mapping[int, int]
) -> tuple[list[Problem], list[Problem]]:
    """After :func:`load_members`: (invalid addresses, conflicting field values), checked over
    every row without any vendor state (what ``validate`` reports)."""
    aliases = entry.field_aliases
    conflicting = " OR ".join(f"count(DISTINCT fh{i}) > 1" for i in range(len(aliases)))
    # Conflicts are looked for among repeated addresses only: a distinct count per address
    # over every row would cost more than reading the file.
    suspect = (
        " UNION SELECT h FROM des WHERE ok AND h IN "
        "(SELECT h FROM des WHERE ok GROUP BY h HAVING count(*) > 1) "
        f"GROUP BY h HAVING {conflicting}"
        if aliases
        else ""
    )
    con.execute(f"CREATE OR REPLACE TEMP TABLE suspect AS SELECT h FROM des WHERE NOT ok{suspect}")
    if not con.execute("SELECT count(*) FROM suspect").fetchone()[0]:
        return [], []  # nothing to locate: the files need not be read again
    field_cols = "".join(f", {a}" for a in aliases)
    prepare_raw_keys(con, "suspect")
    with keep_join_sides(con):
        found = con.execute(
            f"SELECT src, ord, email, e, ok{field_cols} FROM {raw_members(entry, 'suspect', rows)}"
        ).fetchall()
    conflicts: list[Problem] = []
    _, invalid = merge_declared(desired, found, entry.config.managed_fields, conflicts)
    return invalid, conflicts
