"""The vendors reconciler speaks to: one line per provider class, each class describing itself.

Everything else about a vendor (its ``type:`` name, default API address, what its documented
API can do, whether it can read a list, its status words and export file formats) is an
attribute of its provider class; the config schema, the runtime, the planner's capability gaps
and the matrix in ``specs/vendors/README.md`` (kept equal by a test) derive from them. This
module imports no provider until one is asked for: providers pull in httpx, which validating
a configuration or planning from export files does not need.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from reconciler.exports.files import ExportLayout
    from reconciler.providers.base import Provider

#: Each provider class, as ``module:Class``; one module per vendor, named as its ``type:``.
#: Adding a vendor starts here (the checklist is in ``specs/vendors/README.md``).
PROVIDER_CLASSES: tuple[str, ...] = (
    "reconciler.providers.ongage:OngageProvider",
    "reconciler.providers.listmonk:ListmonkProvider",
    "reconciler.providers.yesmail:YesmailProvider",
    "reconciler.providers.omnigage:OmnigageProvider",
)
#: ``type:`` name → the provider class (the class says the same name: ``provider_class``).
PROVIDERS: dict[str, str] = {
    path.partition(":")[0].rpartition(".")[2]: path for path in PROVIDER_CLASSES
}


def vendor_names() -> tuple[str, ...]:
    return tuple(PROVIDERS)


@cache
def provider_class(vendor: str) -> type[Provider]:
    """The provider class of ``vendor`` (a ``type:`` name), imported on first use."""
    module_name, _, class_name = PROVIDERS[vendor].partition(":")
    cls: type[Provider] = getattr(importlib.import_module(module_name), class_name)
    if cls.vendor != vendor:
        raise TypeError(f"{PROVIDERS[vendor]} describes itself as {cls.vendor!r}, not {vendor!r}")
    return cls


def provider_classes() -> tuple[type[Provider], ...]:
    return tuple(provider_class(name) for name in PROVIDERS)


def export_formats() -> Mapping[str, tuple[ExportLayout, Mapping[str, str]]]:
    """Every ``export: format:`` name → its file layout and the status words of the vendor
    that writes it."""
    return {
        name: (layout, cls.status_words)
        for cls in provider_classes()
        for name, layout in cls.export_formats.items()
    }


__all__ = [
    "PROVIDERS",
    "PROVIDER_CLASSES",
    "export_formats",
    "provider_class",
    "provider_classes",
    "vendor_names",
]
