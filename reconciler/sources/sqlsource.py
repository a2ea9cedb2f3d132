"""``sql:`` sources: rows of a PostgreSQL query, table or view, as a row source of the engine.

Opening one (while the sources are collected) connects and reads the query's columns only, so
that an unreachable database, bad SQL, a missing column or a wrong type is a problem at the
source's place in the YAML before anything is read or sent. Its rows are streamed into a
DuckDB table by :meth:`SqlRowSource.prepare`, with every value cast to text by PostgreSQL, and
from there the engine treats them as it treats a CSV file's: same normalisation, validation
and conflict rules. A query has no ``file:line``: a row is named by the source's place in the
YAML and its ``key`` column, e.g. ``config/lists.yaml:9 (crm customer_id=42)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from reconciler.config.loader import LoadedConfig
from reconciler.config.text import SQL_FORBIDDEN_PATTERN, names, quoted
from reconciler.config.warehouse import SqlSource
from reconciler.errors import Problem, SourceError
from reconciler.model import SuppressionReason
from reconciler.sources.csvfile import sql_ident, sql_str
from reconciler.sources.sqlread import TEXT_TYPES, WarehouseError, connect, describe, load

#: Aliases whose column must be text: a number or a date is no address, reason or consent.
TEXT_ONLY = ("email", "reason", "consent")


#: A key is shown in plans, reports and pull-request comments: this many characters at most,
#: control and invisible characters as '?' (the warehouse's values are not the reviewer's).
MAX_KEY_CHARS = 64


def shown_key_sql(column: str) -> str:
    """SQL (DuckDB): a key value as reasons show it."""
    cleaned = f"regexp_replace({column}, '{SQL_FORBIDDEN_PATTERN}', '?', 'g')"
    return f"coalesce(left({cleaned}, {MAX_KEY_CHARS}), 'NULL')"


def pg_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass
class SqlRowSource:
    src_id: int
    display: str  # the source's place in the YAML: file:line
    label: str  # the table, or the warehouse of a query
    key_column: str
    warehouse: str
    dsn: str = field(repr=False)
    select: str = field(repr=False)  # sql_key, <aliases...> from the relation, all text
    aliases: tuple[str, ...] = ()
    fixed_reason: SuppressionReason | None = None  # suppressions: one reason for every row
    _cursor: Any = field(default=None, repr=False, compare=False)
    #: Every row is a record: one without an address is invalid, not a blank line to skip.
    rows_are_records: bool = field(default=True, init=False)

    @property
    def table(self) -> str:
        return f"sql_src_{self.src_id}"

    def prepare(self, con: Any) -> None:
        """Read the rows into this connection once: preparing again (the baseline after a
        plan) must see the rows the plan saw, not a warehouse that changed since."""
        if con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", [self.table]
        ).fetchall()[0][0]:
            return
        try:
            with connect(self.dsn) as conn:
                load(con, self.table, conn, self.select, self.dsn)
        except WarehouseError as exc:
            raise SourceError(self.problem(str(exc))) from None
        self._cursor = con.cursor()

    def problem(self, message: str) -> Problem:
        return Problem(f"warehouse {quoted(self.warehouse)}: {message}", file=self.display)

    def sql(self) -> str:
        cols = ", ".join(sql_ident(a) for a in self.aliases)
        return f"(SELECT sql_ord AS ord, {self.src_id}::INTEGER AS src, {cols} FROM {self.table})"

    def _prefix(self) -> str:
        return f"{self.display} ({self.label} {self.key_column}="

    def locate(self, ordinal: int) -> tuple[str, int | None]:
        if self._cursor is None:
            return self.display, None
        found = self._cursor.execute(
            f"SELECT {shown_key_sql('sql_key')} FROM {self.table} WHERE sql_ord = ?", [ordinal]
        ).fetchall()
        return f"{self._prefix()}{found[0][0] if found else 'NULL'})", None

    def origin_sql(self, alias: str = "") -> str:
        """SQL for a row's reason in the engine's bulk paths (a million adds are not looked
        up one by one); the table's own columns are named so that ``ord`` is the outer row's."""
        return (
            f"(SELECT {sql_str(self._prefix())} || {shown_key_sql('s.sql_key')} || ')' "
            f"FROM {self.table} s WHERE s.sql_ord = {alias}ord)"
        )


def open_sql_source(
    loaded: LoadedConfig,
    spec: SqlSource,
    wanted: Mapping[str, str],
    src_id: int,
    display: tuple[str, int | None],
    fixed_reason: SuppressionReason | None = None,
) -> SqlRowSource | None:
    """Connect, read the columns of ``spec``'s relation and check them; ``wanted`` maps alias
    -> field name (as for CSV: a field is required when it is ``email`` or named in
    ``columns``). Raise SourceError naming the source's place in the YAML. None when the
    warehouse's DSN names an unset variable: only ``validate`` loads such a configuration, and
    it notes the variable instead of reading the source."""
    file, line = display
    problems: list[Problem] = []
    dsn_path = ("warehouses", spec.sql, "dsn")
    if any(unset.key_path == dsn_path for unset in loaded.unset_variables):
        return None

    def fail(message: str) -> SourceError:
        return SourceError(
            Problem(f"warehouse {quoted(spec.sql)}: {message}", file=file, line=line)
        )

    warehouse = loaded.config.warehouses.get(spec.sql)
    if warehouse is None:
        defined = names(sorted(loaded.config.warehouses)) or "(none)"
        raise fail(f"no such warehouse (defined under 'warehouses:': {defined})")
    dsn = warehouse.dsn.get_secret_value()
    relation = spec.query.strip().rstrip(";") if spec.query else f"SELECT * FROM {spec.table}"
    try:
        with connect(dsn) as conn:
            types = describe(conn, relation, dsn)
    except WarehouseError as exc:
        raise fail(str(exc)) from None
    folded = {name.casefold(): name for name in types}

    def column(wanted_name: str) -> str | None:
        return wanted_name if wanted_name in types else folded.get(wanted_name.casefold())

    selected = []
    key = column(spec.key)
    if key is None:
        problems.append(
            Problem(
                f"warehouse {quoted(spec.sql)}: no key column {quoted(spec.key)}"
                f" (columns: {names(list(types))})",
                file=file,
                line=line,
            )
        )
    for alias, field_name in wanted.items():
        column_name = spec.columns.get(field_name, field_name)
        found = column(column_name)
        # As for CSV, plus a suppression's reason when no 'reason:' is given for every row.
        required = field_name in ("email", "reason") or field_name in spec.columns
        if found is None:
            if required:
                problems.append(
                    Problem(
                        f"warehouse {quoted(spec.sql)}: no column {quoted(column_name)} for "
                        f"{quoted(field_name)} (columns: {names(list(types))})",
                        file=file,
                        line=line,
                    )
                )
            selected.append(f"NULL::text AS {pg_ident(alias)}")
            continue
        if alias in TEXT_ONLY and types[found] not in TEXT_TYPES:
            problems.append(
                Problem(
                    f"warehouse {quoted(spec.sql)}: column {quoted(found)} for "
                    f"{quoted(field_name)} is {types[found]}, expected text",
                    file=file,
                    line=line,
                )
            )
        selected.append(f"q.{pg_ident(found)}::text AS {pg_ident(alias)}")
    if problems:
        raise SourceError(problems)
    assert key is not None
    select = (
        f"SELECT q.{pg_ident(key)}::text AS sql_key, {', '.join(selected)} FROM ({relation}) AS q"
    )
    label = spec.table or spec.sql
    return SqlRowSource(
        src_id,
        f"{file}:{line}" if line else file,
        label,
        key,
        spec.sql,
        dsn,
        select,
        tuple(wanted),
        fixed_reason,
    )
