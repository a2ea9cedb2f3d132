"""reconciler: Terraform-like declarative sync for e-mail marketing audiences."""

from __future__ import annotations

__version__ = "0.1.0"
