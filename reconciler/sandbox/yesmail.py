"""Emulated Yesmail API (stub, being built)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.sandbox.core import Vendor


class YesmailVendor(Vendor):
    name = "yesmail"

    def init_schema(self) -> None:
        pass

    def dump(self) -> dict[str, Any]:
        return {"lists": {}}

    def seed(self, data: Mapping[str, Any]) -> None:
        pass
