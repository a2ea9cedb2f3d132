"""A list's ``export:`` files, opened as the vendor its ``format:`` names writes them (the
layout and status words come from the provider classes, through the registry)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from reconciler.config.schema import ExportConfig
from reconciler.exports.files import CsvExportSnapshot, JsonExportSnapshot, open_export
from reconciler.registry import export_formats


def open_configured_export(
    export: ExportConfig, resolve: Any, managed_fields: Sequence[str]
) -> CsvExportSnapshot | JsonExportSnapshot:
    """Open the export files a list's ``export:`` names, read as its format's vendor writes them."""
    layout, words = export_formats()[export.format]
    return open_export(export, resolve, managed_fields, layout, words)
