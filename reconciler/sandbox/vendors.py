"""The registry of emulated vendors."""

from __future__ import annotations

from reconciler.sandbox.core import Vendor
from reconciler.sandbox.listmonk import ListmonkVendor
from reconciler.sandbox.omnigage import OmnigageVendor
from reconciler.sandbox.ongage import OngageVendor
from reconciler.sandbox.yesmail import YesmailVendor

VENDOR_CLASSES: list[type[Vendor]] = [OngageVendor, ListmonkVendor, YesmailVendor, OmnigageVendor]
