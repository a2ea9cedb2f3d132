"""The configuration of warehouses and ``sql:`` sources (``specs/warehouse.md``): the
databases that members, suppressions and opt-ins are read from, and the queries."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, SecretStr, model_validator

from reconciler.config.base import Model, Name
from reconciler.model import SuppressionReason

#: A table or view, optionally schema-qualified; unquoted, as PostgreSQL folds it (the pattern
#: also keeps it from being anything but a name when it is put into the query).
TableName = Annotated[
    str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*){0,2}$")
]


class Warehouse(Model):
    """A database that ``sql:`` sources read rows from (``specs/warehouse.md``). The DSN is
    normally ``${env:NAME}``; held as ``SecretStr``, it never appears in a repr or message."""

    type: Literal["postgresql"] = "postgresql"
    dsn: SecretStr


class SqlSource(Model):
    """Rows from a query, a table or a view of the warehouse named by ``sql``."""

    sql: Name
    query: str | None = Field(default=None, min_length=1)
    table: TableName | None = None
    # The column that names a row in messages and reasons (there is no file:line in a query).
    key: str = Field(min_length=1)
    # field name -> column name, as for CSV; ``email`` defaults to a column named "email".
    columns: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_relation(self) -> SqlSource:
        if (self.query is None) == (self.table is None):
            raise ValueError("give exactly one of 'query' or 'table'")
        return self


class SqlSuppressions(SqlSource):
    # When the query has no reason column, every row gets this reason.
    reason: SuppressionReason | None = None


class SqlOptIns(SqlSource):
    pass
