"""The configuration language as pydantic models: what a config *means*, not how it is read.

``reconciler.config.loader`` reads YAML (one file or a directory of ``*.yaml``), keeps line
numbers, substitutes ``${env:NAME}`` secrets and validates into :class:`Config`. Every model
forbids unknown keys so that a typo is an error, never silently ignored.
"""

from __future__ import annotations

import codecs
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    BeforeValidator,
    Discriminator,
    Field,
    SecretStr,
    Tag,
    field_validator,
    model_validator,
)

from reconciler.config.base import Model, Name
from reconciler.config.text import quoted
from reconciler.config.warehouse import SqlOptIns, SqlSource, SqlSuppressions, Warehouse
from reconciler.model import DropAction, DropScope, ListMode, SuppressionReason
from reconciler.registry import vendor_names

# The ``type:`` names, from the provider registry (which imports no provider for this): a
# Literal, so that the JSON schema lists them for editors.
if TYPE_CHECKING:
    VendorName = str
else:
    VendorName = Literal[vendor_names()]

#: ``base_url: sandbox`` runs the built-in vendor emulator in-process for the command's duration.
SANDBOX_URL = "sandbox"

# The base of every model (unknown keys are errors) and the pattern of names, shared with the
# warehouse sources' models.
_Model = Model


class Credentials(_Model):
    """Vendor credentials. Values are normally ``${env:NAME}`` references; they are held as
    ``SecretStr`` so they never appear in a repr, a log, a plan or the state."""

    username: SecretStr | None = None
    password: SecretStr | None = None
    api_key: SecretStr | None = None
    account_code: SecretStr | None = None


class StagingConfig(_Model):
    """Where batch files are published for vendors that pull a file by URL (Ongage, Yesmail)."""

    backend: Literal["http", "directory", "s3"] = "http"
    # http: a short-lived server apply starts for exactly this run's files.
    host: str = "127.0.0.1"
    port: int = 0
    public_url: str | None = None
    # directory: files written under ``path`` and published by the user's web server at base_url.
    path: str | None = None
    base_url: str | None = None
    # s3: upload, then a pre-signed GET URL.
    bucket: str | None = None
    prefix: str = "reconciler/"
    region: str | None = None
    endpoint_url: str | None = None
    url_expiry_seconds: int = Field(default=3600, ge=60, le=7 * 24 * 3600)


class ProviderConfig(_Model):
    type: VendorName
    base_url: str | None = None
    credentials: Credentials = Credentials()
    # Vendor-specific knobs (batch_size, max_imports_in_flight, error_threshold, ...); each
    # provider validates its own options.
    options: dict[str, str | int | float | bool] = Field(default_factory=dict)
    staging: StagingConfig | None = None


Delimiter = Literal["auto", ",", ";", "|", "\t", "tab"]


class CsvSource(_Model):
    """Rows from CSV files: a path or glob (relative to the config file that names it)."""

    csv: str
    delimiter: Delimiter = "auto"
    encoding: str = "utf-8"
    # field name -> column name in the file; ``email`` is required (defaults to a column named
    # "email", case-insensitively).
    columns: dict[str, str] = Field(default_factory=dict)
    header: bool = True

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        # Checked here, so that the error points at the YAML key rather than at each file.
        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(
                f"unknown encoding {value!r}: give a Python codec name such as utf-8, latin-1 "
                "or cp1252"
            ) from None
        return value


class InlineMember(_Model):
    email: str
    fields: dict[str, str | None] = Field(default_factory=dict)


class InlineMembers(_Model):
    inline: list[InlineMember]


def _source_kind(value: Any) -> str | None:
    """A source is told apart by its key: ``csv:`` (files), ``sql:`` (a warehouse) or
    ``inline:`` (YAML rows)."""
    if isinstance(value, dict):
        for kind in ("csv", "sql", "inline"):
            if kind in value:
                return kind
        return None
    if isinstance(value, SqlSource):
        return "sql"
    return "csv" if isinstance(value, CsvSource) else "inline"


SOURCE_KIND = Discriminator(_source_kind)

MemberSource = Annotated[
    Annotated[CsvSource, Tag("csv")]
    | Annotated[SqlSource, Tag("sql")]
    | Annotated[InlineMembers, Tag("inline")],
    SOURCE_KIND,
]


class InlineSuppression(_Model):
    email: str
    reason: SuppressionReason


class InlineSuppressions(_Model):
    inline: list[InlineSuppression]


class CsvSuppressions(CsvSource):
    # When the file has no reason column, every row gets this reason.
    reason: SuppressionReason | None = None


SuppressionSource = Annotated[
    Annotated[CsvSuppressions, Tag("csv")]
    | Annotated[SqlSuppressions, Tag("sql")]
    | Annotated[InlineSuppressions, Tag("inline")],
    SOURCE_KIND,
]


class InlineOptIn(_Model):
    email: str
    # What proves the contact asked to be re-subscribed (ticket, form submission ID, ...).
    consent: str = Field(min_length=1)
    lists: list[Name] | None = None  # None: every list that declares the address


class InlineOptIns(_Model):
    inline: list[InlineOptIn]


class CsvOptIns(CsvSource):
    pass


OptInSource = Annotated[
    Annotated[CsvOptIns, Tag("csv")]
    | Annotated[SqlOptIns, Tag("sql")]
    | Annotated[InlineOptIns, Tag("inline")],
    SOURCE_KIND,
]


def _export_format_enum(schema: dict[str, Any]) -> None:
    # At schema-generation time, when the providers can be imported: editors list the names.
    from reconciler.registry import export_formats

    schema["enum"] = list(export_formats())


class ExportConfig(_Model):
    """Read a list's current vendor state from export files instead of the live API."""

    # One of the provider classes' export formats (``specs/vendors/README.md``), checked when
    # the file is read: the names live with the providers, which this module does not import.
    format: str = Field(min_length=1, max_length=64, json_schema_extra=_export_format_enum)
    # One file whose rows carry a status column (or are all active), ...
    path: str | None = None
    # ... or one status-filtered export per status (Ongage exports are filtered by status).
    by_status: dict[Literal["active", "unsubscribed", "bounced", "complaint"], str] | None = None
    delimiter: Delimiter = "auto"
    # listmonk lists are identified by numeric ID inside a subscriber export.
    list_id: VendorId | None = None

    @field_validator("format")
    @classmethod
    def _known_format(cls, value: str) -> str:
        # Imported here: the providers import this module.
        from reconciler.registry import export_formats

        known = export_formats()
        if value not in known:
            *first, last = (repr(name) for name in known)
            raise ValueError(f"expected {', '.join(first)} or {last}, got {quoted(value)}")
        return value

    @model_validator(mode="after")
    def _one_shape(self) -> ExportConfig:
        if (self.path is None) == (self.by_status is None):
            raise ValueError("give exactly one of 'path' or 'by_status'")
        return self


def _id_text(value: Any) -> Any:
    """Vendors' list IDs are often numbers; YAML reads ``list_id: 1001`` as an int."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


VendorId = Annotated[str, BeforeValidator(_id_text), Field(min_length=1)]


Percent = Annotated[float, Field(ge=0)]
Count = Annotated[int, Field(ge=0)]


class GuardSettings(_Model):
    """Safety guard limits (``specs/safety.md``). Top-level ``guards:`` sets the defaults;
    ``lists.NAME.guards:`` overrides them key by key; ``null`` turns a limit off.

    Percentages are of the list's members active at the vendor before the change. A plan
    over a limit is still shown, then refused until the guard's ``--allow-…`` flag is given."""

    max_drop_percent: Percent | None = 30
    max_drop_count: Count | None = None
    max_add_percent: Percent | None = 100
    max_add_count: Count | None = None
    max_update_percent: Percent | None = 50
    max_update_count: Count | None = None
    max_suppression_percent: Percent | None = None
    max_suppression_count: Count | None = 1000
    max_export_shrink_percent: Percent | None = 20
    allow_empty_export: bool = False
    allow_export_mismatch: bool = False


class ListConfig(_Model):
    provider: Name
    list_id: VendorId
    mode: ListMode = ListMode.AUTHORITATIVE
    drop_action: DropAction = DropAction.REMOVE
    # owned: drop only the members reconciler added (specs/plan-semantics.md, "Ownership").
    drop_scope: DropScope = DropScope.ALL
    managed_fields: list[str] = Field(default_factory=list)
    # Plan despite invalid rows, reporting each skipped row; validate still fails on them.
    skip_invalid: bool = False
    members: list[MemberSource] = Field(default_factory=list)
    suppressions: list[SuppressionSource] = Field(default_factory=list)
    export: ExportConfig | None = None
    # Vendor-specific per-list knobs (e.g. Ongage import_type: suppression).
    options: dict[str, str | int | float | bool] = Field(default_factory=dict)
    # Only the keys given here override the top-level ``guards:``.
    guards: GuardSettings = GuardSettings()

    @model_validator(mode="after")
    def _scope_needs_drops(self) -> ListConfig:
        if self.drop_scope is DropScope.OWNED and self.mode is not ListMode.AUTHORITATIVE:
            raise ValueError(
                "drop_scope: owned applies to authoritative lists only (an additive list "
                "drops nobody)"
            )
        return self


class SandboxConfig(_Model):
    """The embedded sandbox that providers with ``base_url: sandbox`` talk to."""

    # Seed data (YAML or JSON, top-level keys = vendor names) loaded when the data dir is new.
    seed: str | None = None
    # Where the sandbox keeps its state between commands (relative to the config file).
    data: str = ".sandbox"
    # How many status reads a vendor job needs per lifecycle step (slow jobs for testing).
    polls_per_step: int = Field(default=1, ge=1, le=1000)


class LocalStateConfig(_Model):
    """The state as a file on this machine (relative to the configuration file)."""

    backend: Literal["local"] = "local"
    path: str = Field(default=".reconciler/state.json", min_length=1)


class S3StateConfig(_Model):
    """The state as an S3 object, locked with a conditional write next to it; credentials come
    from the usual AWS sources (environment, shared files, SSO, web identity, instance role)."""

    backend: Literal["s3"]
    bucket: str = Field(min_length=1)
    # Required: two configurations sharing a bucket must not share a state by default.
    key: str = Field(min_length=1, pattern=r"^[^/]")
    region: str | None = None
    # For S3-compatible stores (MinIO, Ceph, R2, ...).
    endpoint_url: str | None = None
    profile: str | None = None


def _state_backend(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("backend", "local"))
    return str(getattr(value, "backend", "local"))


StateConfig = Annotated[
    Annotated[LocalStateConfig, Tag("local")] | Annotated[S3StateConfig, Tag("s3")],
    Discriminator(
        _state_backend,
        custom_error_type="state_backend",
        custom_error_message="expected backend 'local' or 's3'",
    ),
]


class WritebackConfig(_Model):
    """Where ``reconciler suppressions pull`` writes the unsubscribes, bounces and complaints
    seen at the vendors. Once it exists the file is read as one more suppression source."""

    path: str  # relative to the file that names it


class SuppressionsPolicy(_Model):
    # A suppression pulled from one list (``writeback``) applies to every list at every vendor
    # instead of only to the list it was seen on.
    propagate_vendor_suppressions: bool = False


class Config(_Model):
    version: Literal[1] = 1
    providers: dict[Name, ProviderConfig] = Field(default_factory=dict)
    # Databases that ``sql:`` sources read from.
    warehouses: dict[Name, Warehouse] = Field(default_factory=dict)
    lists: dict[Name, ListConfig] = Field(default_factory=dict)
    suppressions: list[SuppressionSource] = Field(default_factory=list)
    resubscribe: list[OptInSource] = Field(default_factory=list)
    state: StateConfig = LocalStateConfig()
    sandbox: SandboxConfig = SandboxConfig()
    guards: GuardSettings = GuardSettings()
    writeback: WritebackConfig | None = None
    suppressions_policy: SuppressionsPolicy = SuppressionsPolicy()
