"""The baseline of a list whose vendor can be read: its declared members that a plan leaves
as they are (in sync at the vendor), as journal rows of the keyed form
(``reconciler/state/applied.py``). Apply records it beside the jobs' own rows, so that the
state knows what reconciler last saw applied for every member, sent or not: without it, a
member who was in sync when reconciler ran and then unsubscribed at the vendor could not be
told from one reconciler never saw (three-way drift, ``reconciler/drift/provenance.py``).

Written by DuckDB straight from the member sources (one pass, hashed as read): no address
passes through Python but those of the plan's changes, which are left out."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from reconciler.engine.keyed import field_hash_sql, key_sql
from reconciler.engine.members import members_sql, ok_sql
from reconciler.sources.desired import ListSources


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def write_baseline(
    con: Any,
    entry: ListSources,
    changed: Iterable[str],
    salt: str,
    target: Path,
    *,
    adopt: bool = False,
) -> int:
    """Write ``target`` (Parquet: ``n, key, action, fields``) for the list's valid declared
    members but the ``changed`` addresses (normalised); the rows written. With ``adopt``, as
    added by reconciler (its own, for ``drop_scope: owned``)."""
    for source in entry.members:
        source.prepare(con)
    aliases = entry.field_aliases
    values = [f"nullif(trim(m.{alias}), '')" for alias in aliases]
    pairs = ", ".join(
        f"{_lit(name)}, {field_hash_sql(value, salt)}"
        for name, value in zip(entry.config.managed_fields, values, strict=True)
    )
    # Merged over '{}', an empty value (no opinion) is no key at all. An address declared by
    # several rows gives several baseline rows: the merge keeps the latest of each field.
    fields = f"json_merge_patch('{{}}', json_object({pairs}))" if pairs else "NULL::JSON"
    con.execute(
        "CREATE OR REPLACE TEMP TABLE baseline_changed AS SELECT unnest(?::VARCHAR[]) AS e",
        [sorted(set(changed))],
    )
    members = members_sql(entry, positions=False)
    query = (
        # No row numbers (which would read on one core): rows of one address are alike.
        f"SELECT 0::UBIGINT AS n, {key_sql('m.e', salt)} AS key, "
        f"'{'add' if adopt else 'update'}' AS action, {fields} AS fields FROM {members} m "
        f"WHERE {ok_sql(entry, 'm.e', 'm.')} AND m.e NOT IN (SELECT e FROM baseline_changed)"
    )
    con.execute(f"COPY ({query}) TO {_lit(str(target))} (FORMAT parquet)")
    con.execute("DROP TABLE baseline_changed")
    (rows,) = con.execute(f"SELECT count(*) FROM read_parquet({_lit(str(target))})").fetchone()
    return int(rows)
